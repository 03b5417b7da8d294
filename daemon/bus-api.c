/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "bus-api.h"

#include "macro.h"

int bus_api_register(Manager *m) {
        int r = sd_bus_add_object_vtable(m->bus, NULL, MIG_BUS_PATH, MIG_IFACE_MANAGER, bus_manager_vtable,
                                         m);
        if (r < 0)
                return r;
        r = sd_bus_add_object_vtable(m->bus, NULL, MIG_BUS_PATH, MIG_IFACE_PEER, bus_peer_vtable, m);
        if (r < 0)
                return r;
        r = bus_migration_register(m);
        if (r < 0)
                return r;
        return sd_bus_add_object_manager(m->bus, NULL, MIG_BUS_PATH);
}
