/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "polkit.h"

#include <errno.h>
#include <string.h>

#include "errors.h"
#include "macro.h"

typedef enum { QUERY_PENDING, QUERY_ALLOWED, QUERY_DENIED, QUERY_CHALLENGE, QUERY_FAILED } QueryState;

typedef struct Query {
        MigPolkit *owner;
        sd_bus_message *request;
        sd_bus_slot *slot;
        char *action;
        char *caller; /* the unique bus name it is counted under */
        QueryState state;
        char *failure; /* why polkit could not answer */
} Query;

struct MigPolkit {
        GHashTable *queries; /* sd_bus_message* request → Query* */
        GHashTable *callers; /* unique bus name → number of its queries (GUINT_TO_POINTER) */
        unsigned max_per_caller, max_total;
};

static void uncount(MigPolkit *p, const char *caller) {
        unsigned n = GPOINTER_TO_UINT(g_hash_table_lookup(p->callers, caller));
        if (n <= 1)
                g_hash_table_remove(p->callers, caller);
        else
                g_hash_table_insert(p->callers, g_strdup(caller), GUINT_TO_POINTER(n - 1));
}

static void query_free(gpointer data) {
        Query *q = data;
        if (q->caller)
                uncount(q->owner, q->caller);
        g_free(q->caller);
        sd_bus_slot_unref(q->slot);
        sd_bus_message_unref(q->request);
        g_free(q->action);
        g_free(q->failure);
        g_free(q);
}

MigPolkit *mig_polkit_new(void) {
        MigPolkit *p = g_new0(MigPolkit, 1);
        p->queries = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, query_free);
        p->callers = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        p->max_per_caller = MIG_POLKIT_MAX_PER_CALLER;
        p->max_total = MIG_POLKIT_MAX_TOTAL;
        return p;
}

void mig_polkit_free(MigPolkit *p) {
        if (!p)
                return;
        g_hash_table_unref(p->queries);
        g_hash_table_unref(p->callers);
        g_free(p);
}

unsigned mig_polkit_pending(const MigPolkit *p) {
        return g_hash_table_size(p->queries);
}

unsigned mig_polkit_pending_for(const MigPolkit *p, const char *caller) {
        return caller ? GPOINTER_TO_UINT(g_hash_table_lookup(p->callers, caller)) : 0;
}

void mig_polkit_set_limits(MigPolkit *p, unsigned per_caller, unsigned total) {
        p->max_per_caller = per_caller;
        p->max_total = total;
}

/* Refuses a new query beyond the caps, with the sentence for the caller. */
static int check_limits(MigPolkit *p, sd_bus_message *m, const char *action, sd_bus_error *error) {
        const char *caller = sd_bus_message_get_sender(m);
        unsigned mine = mig_polkit_pending_for(p, caller), all = mig_polkit_pending(p);
        if (mine >= p->max_per_caller)
                return sd_bus_error_setf(error, MIG_POLKIT_ERROR_LIMITS,
                                         "Too many authorization checks of this caller (%s) are waiting for "
                                         "polkit: %u, at most %u; answer or cancel the authentication "
                                         "requests it made, then ask again (action %s).",
                                         caller ? caller : "?", mine, p->max_per_caller, action);
        if (all >= p->max_total)
                return sd_bus_error_setf(error, MIG_POLKIT_ERROR_LIMITS,
                                         "Too many authorization checks are waiting for polkit: %u of all "
                                         "callers, at most %u; try again in a moment (action %s).",
                                         all, p->max_total, action);
        return 0;
}

static bool sender_is_root(sd_bus_message *m) {
        g_autoptr(sd_bus_creds) creds = NULL;
        uid_t uid;
        if (sd_bus_query_sender_creds(m, SD_BUS_CREDS_EUID, &creds) < 0)
                return false;
        return sd_bus_creds_get_euid(creds, &uid) >= 0 && uid == 0;
}

/* Whether the caller is still connected: a request whose sender left is dropped. */
static bool sender_still_here(sd_bus_message *m) {
        g_autoptr(sd_bus_creds) creds = NULL;
        return sd_bus_get_name_creds(sd_bus_message_get_bus(m), sd_bus_message_get_sender(m),
                                     SD_BUS_CREDS_UNIQUE_NAME, &creds) >= 0;
}

static void read_answer(Query *q, sd_bus_message *reply) {
        const sd_bus_error *e = sd_bus_message_get_error(reply);
        if (e) {
                q->state = QUERY_FAILED;
                q->failure = g_strdup(e->message ? e->message : e->name);
                return;
        }
        /* CheckAuthorization answers (bba{ss}): is_authorized, is_challenge, details. */
        int authorized, challenge;
        if (sd_bus_message_enter_container(reply, 'r', "bba{ss}") < 0 ||
            sd_bus_message_read(reply, "bb", &authorized, &challenge) < 0) {
                q->state = QUERY_FAILED;
                q->failure = g_strdup("polkit sent an answer that could not be read");
                return;
        }
        q->state = authorized ? QUERY_ALLOWED : challenge ? QUERY_CHALLENGE : QUERY_DENIED;
}

static int on_answer(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        Query *q = userdata;
        q->slot = sd_bus_slot_unref(q->slot);
        read_answer(q, reply);
        if (!sender_still_here(q->request)) {
                g_hash_table_remove(q->owner->queries, q->request);
                return 0;
        }
        /* Run the handler again with the same message; it finds the answer. */
        int r = sd_bus_enqueue_for_read(sd_bus_message_get_bus(q->request), q->request);
        if (r < 0)
                g_hash_table_remove(q->owner->queries, q->request);
        return 0;
}

/* The subject, the action and its details (key, value pairs: empty values are left out). */
static int append_query(sd_bus_message *call, sd_bus_message *m, const char *action,
                        const char *const *details, bool interactive) {
        int r = sd_bus_message_append(call, "(sa{sv})s", "system-bus-name", 1, "name", "s",
                                      sd_bus_message_get_sender(m), action);
        if (r < 0 || (r = sd_bus_message_open_container(call, 'a', "{ss}")) < 0)
                return r;
        for (size_t i = 0; details && details[i] && details[i + 1] && r >= 0; i += 2)
                if (*details[i + 1])
                        r = sd_bus_message_append(call, "{ss}", details[i], details[i + 1]);
        if (r < 0 || (r = sd_bus_message_close_container(call)) < 0)
                return r;
        return sd_bus_message_append(call, "us", (uint32_t) (interactive ? 1 : 0), "");
}

static int ask_polkit(MigPolkit *p, sd_bus_message *m, const char *action, const char *const *details,
                      bool interactive) {
        g_autoptr(sd_bus_message) call = NULL;
        sd_bus *bus = sd_bus_message_get_bus(m);
        int r = sd_bus_message_new_method_call(bus, &call, "org.freedesktop.PolicyKit1",
                                               "/org/freedesktop/PolicyKit1/Authority",
                                               "org.freedesktop.PolicyKit1.Authority", "CheckAuthorization");
        if (r < 0)
                return r;
        r = append_query(call, m, action, details, interactive);
        if (r < 0)
                return r;
        Query *q = g_new0(Query, 1);
        q->owner = p;
        q->request = sd_bus_message_ref(m);
        q->action = g_strdup(action);
        /* Interactive authentication can take as long as a person needs. */
        r = sd_bus_call_async(bus, &q->slot, call, on_answer, q, interactive ? 600 * USEC_PER_SEC : 0);
        if (r < 0) {
                query_free(q);
                return r;
        }
        g_hash_table_insert(p->queries, m, q);
        const char *caller = sd_bus_message_get_sender(m);
        if (caller) {
                q->caller = g_strdup(caller);
                g_hash_table_insert(p->callers, g_strdup(caller),
                                    GUINT_TO_POINTER(mig_polkit_pending_for(p, caller) + 1));
        }
        return 0;
}

static const char *action_description(const char *action) {
        static const char *const table[][2] = {
                {"org.example.migrate1.migrate",
                 "to migrate, confirm, revert, abort or force-complete migrations"},
                {"org.example.migrate1.evacuate", "to evacuate a node"},
                {"org.example.migrate1.manage-hosts", "to enable or disable nodes"},
                {"org.example.migrate1.manage-groups", "to change server groups"},
        };
        for (size_t i = 0; i < G_N_ELEMENTS(table); i++)
                if (strcmp(table[i][0], action) == 0)
                        return table[i][1];
        return "this action";
}

static int finish(MigPolkit *p, Query *q, sd_bus_message *m, sd_bus_error *error) {
        QueryState state = q->state;
        g_autofree char *failure = g_strdup(q->failure);
        g_autofree char *action = g_strdup(q->action);
        g_hash_table_remove(p->queries, m);
        switch (state) {
        case QUERY_ALLOWED:
                return 1;
        case QUERY_CHALLENGE:
                return sd_bus_error_setf(
                        error, "org.freedesktop.DBus.Error.InteractiveAuthorizationRequired",
                        "Authentication is required for %s; call again interactively.", action);
        case QUERY_FAILED:
                return sd_bus_error_setf(error, MIG_ERROR_ACCESS_DENIED,
                                         "Cannot check authorization for %s, so it is denied: %s", action,
                                         failure);
        default:
                return sd_bus_error_setf(error, MIG_ERROR_ACCESS_DENIED,
                                         "polkit does not allow this caller %s (action %s).",
                                         action_description(action), action);
        }
}

int mig_polkit_check(MigPolkit *p, sd_bus_message *m, const char *action, const char *const *details,
                     bool interactive, sd_bus_error *error) {
        Query *q = g_hash_table_lookup(p->queries, m);
        if (q && q->state != QUERY_PENDING)
                return finish(p, q, m, error);
        if (q) /* dispatched again before polkit answered: should not happen */
                return 0;
        if (sender_is_root(m))
                return 1;
        int r = check_limits(p, m, action, error);
        if (r < 0)
                return r;
        r = ask_polkit(p, m, action, details, interactive);
        if (r < 0)
                return sd_bus_error_setf(error, MIG_ERROR_ACCESS_DENIED,
                                         "Cannot ask polkit about %s, so it is denied: %s", action,
                                         strerror(-r));
        return 0;
}
