/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "bus-api.h"
#include "domain-events.h"
#include "errors.h"

#include "macro.h"

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
