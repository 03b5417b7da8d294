/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The bouncer: which polkit action each state-changing method of the Manager needs, in one
 * table (bolt's pattern). A method that is not listed is refused: deny by default. The
 * read-only methods (lists, properties, Describe*) never come here. Root is allowed
 * without asking (base/polkit.c). */

#include <string.h>

#include "audit.h"
#include "bus-api.h"
#include "errors.h"
#include "macro.h"

#define ACTION_MIGRATE "org.example.migrate1.migrate"
#define ACTION_EVACUATE "org.example.migrate1.evacuate"
#define ACTION_HOSTS "org.example.migrate1.manage-hosts"
#define ACTION_GROUPS "org.example.migrate1.manage-groups"

static const struct {
        const char *method;
        const char *action;
} rules[] = {
        {"Migrate", ACTION_MIGRATE},
        {"Confirm", ACTION_MIGRATE},
        {"Revert", ACTION_MIGRATE},
        {"Abort", ACTION_MIGRATE},
        {"ForceComplete", ACTION_MIGRATE},
        {"Evacuate", ACTION_EVACUATE},
        {"ControlEvacuation", ACTION_EVACUATE},
        {"Restore", ACTION_EVACUATE},
        {"DisableHost", ACTION_HOSTS},
        {"EnableHost", ACTION_HOSTS},
        {"SetGroup", ACTION_GROUPS},
        {"ClearGroup", ACTION_GROUPS},
};

static const char *action_of(sd_bus_message *msg) {
        const char *member = sd_bus_message_get_member(msg);
        if (member && g_strcmp0(sd_bus_message_get_interface(msg), MIG_IFACE_EVACUATION) == 0)
                return ACTION_EVACUATE; /* Pause, Resume, Cancel */
        if (!member || g_strcmp0(sd_bus_message_get_interface(msg), MIG_IFACE_MANAGER) != 0)
                return NULL;
        for (size_t i = 0; i < G_N_ELEMENTS(rules); i++)
                if (strcmp(rules[i].method, member) == 0)
                        return rules[i].action;
        return NULL;
}

/* The journal entry of an authorized call, with the caller's credentials from the bus. */
static void audit(sd_bus_message *msg, const char *action, const char *domain, const char *node) {
        g_autoptr(sd_bus_creds) creds = NULL;
        uid_t uid = (uid_t) -1;
        pid_t pid = 0;
        if (sd_bus_query_sender_creds(msg, SD_BUS_CREDS_EUID | SD_BUS_CREDS_PID, &creds) >= 0) {
                (void) sd_bus_creds_get_euid(creds, &uid);
                (void) sd_bus_creds_get_pid(creds, &pid);
        }
        mig_audit_call(sd_bus_message_get_member(msg), action, uid, pid, domain, node);
}

int bus_authorize(Manager *m, sd_bus_message *msg, const char *domain, const char *node, const char *kind,
                  bool interactive, sd_bus_error *error) {
        const char *action = action_of(msg);
        if (!action)
                return sd_bus_error_setf(
                        error, MIG_ERROR_ACCESS_DENIED, "%s is not a method anyone may call.",
                        sd_bus_message_get_member(msg) ? sd_bus_message_get_member(msg) : "?");
        /* For rules per domain, node or kind of migration (README: an example rule). */
        const char *const details[] = {"domain", domain ? domain : "", "node", node ? node : "",
                                       "kind",   kind ? kind : "",     NULL};
        int r = mig_polkit_check(m->polkit, msg, action, details, interactive, error);
        if (r > 0)
                audit(msg, action, domain ? domain : "", node ? node : "");
        return r;
}
