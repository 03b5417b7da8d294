/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "bus-api.h"

#include <errno.h>
#include <string.h>

#include "events.h"
#include "errors.h"
#include "macro.h"
#include "validate.h"

int bus_api_register(Manager *m) {
        int r = sd_bus_add_object_vtable(m->bus, NULL, MIG_BUS_PATH, MIG_IFACE_MANAGER, bus_manager_vtable,
                                         m);
        if (r < 0)
                return r;
        r = sd_bus_add_object_vtable(m->bus, NULL, MIG_BUS_PATH, MIG_IFACE_PEER, bus_peer_vtable, m);
        if (r >= 0)
                r = sd_bus_add_object_vtable(m->bus, NULL, MIG_BUS_PATH, MIG_IFACE_HOOK, bus_hook_vtable, m);
        if (r < 0)
                return r;
        r = bus_migration_register(m);
        if (r < 0)
                return r;
        return sd_bus_add_object_manager(m->bus, NULL, MIG_BUS_PATH);
}

int bus_require_root(sd_bus_message *msg, sd_bus_error *error, const char *why) {
        g_autoptr(sd_bus_creds) creds = NULL;
        uid_t uid = (uid_t) -1;
        int r = sd_bus_query_sender_creds(msg, SD_BUS_CREDS_EUID, &creds);
        if (r >= 0)
                r = sd_bus_creds_get_euid(creds, &uid);
        if (r < 0 || uid != 0)
                return sd_bus_error_set(error, MIG_ERROR_ACCESS_DENIED, why);
        return 0;
}

int bus_read_uuid(sd_bus_message *msg, const char **uuid, sd_bus_error *error) {
        int r = sd_bus_message_read(msg, "s", uuid);
        if (r < 0)
                return r;
        if (!mig_uuid_valid(*uuid))
                return sd_bus_error_set(error, MIG_ERROR_INVALID_ARGUMENT,
                                        "Invalid domain UUID: expected 36 characters like "
                                        "6695eb01-f6a4-8304-79aa-97f2502e193f.");
        return 0;
}

void bus_send_or_fail(sd_bus_message *request, sd_bus_message *reply, int r) {
        if (r >= 0)
                r = sd_bus_send(NULL, reply, NULL);
        if (r < 0)
                (void) sd_bus_reply_method_errorf(request, MIG_ERROR_INTERNAL,
                                                  "Could not build the reply: %s", strerror(-r));
}
