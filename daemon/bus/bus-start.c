/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The daemon on the bus: the connection, every object published, the bus name, and the exit
 * when idle. The top of the bus layer: it registers the objects; they use only bus-api.c's
 * helpers below them. */

#include <errno.h>
#include <string.h>

#include "bus-api.h"
#include "evacuation.h"
#include "macro.h"

static int bus_api_register(Manager *m) {
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
        if (r >= 0)
                r = bus_evacuation_register(m);
        if (r < 0)
                return r;
        return sd_bus_add_object_manager(m->bus, NULL, MIG_BUS_PATH);
}

/* --- connection, name, idle exit --- */

static int count_message(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        m->messages++;
        return 0;
}

static bool manager_idle(Manager *m) {
        return m->messages == m->messages_seen && mig_worker_pending(m->worker) == 0 &&
               mig_polkit_pending(m->polkit) == 0 && manager_inflight_count(m) == 0 && !evacuation_busy(m);
}

static int on_exit_grace(sd_event_source *s, uint64_t usec, void *userdata) {
        return sd_event_exit(sd_event_source_get_event(s), 0);
}

static int on_idle_check(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;
        if (!manager_idle(m)) {
                m->messages_seen = m->messages;
                int r = sd_event_source_set_time_relative(s, m->idle_usec);
                return r < 0 ? r : sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
        }
        g_message("Idle, exiting; D-Bus activation starts migrated again when it is needed.");
        /* Give up the name first, then answer what is already queued for us. */
        (void) sd_bus_release_name(m->bus, MIG_BUS_NAME);
        return sd_event_add_time_relative(m->event, NULL, CLOCK_MONOTONIC, 250 * USEC_PER_MSEC, 0,
                                          on_exit_grace, m);
}

static int connect_bus(Manager *m, bool user_bus) {
        int r = user_bus ? sd_bus_open_user(&m->bus) : sd_bus_open_system(&m->bus);
        if (r < 0)
                return r;
        r = sd_bus_attach_event(m->bus, m->event, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0)
                return r;
        return sd_bus_add_filter(m->bus, NULL, count_message, m);
}

int bus_start(Manager *m, bool user_bus) {
        int r = connect_bus(m, user_bus);
        if (r < 0) {
                g_printerr("Cannot connect to the %s bus: %s\n", user_bus ? "user" : "system", strerror(-r));
                return r;
        }
        r = bus_api_register(m);
        if (r < 0) {
                g_printerr("Cannot publish the bus objects: %s\n", strerror(-r));
                return r;
        }
        r = sd_bus_request_name(m->bus, MIG_BUS_NAME, 0);
        if (r < 0) {
                g_printerr("Cannot own %s: %s\n", MIG_BUS_NAME, strerror(-r));
                return r;
        }
        if (m->idle_usec > 0)
                r = sd_event_add_time_relative(m->event, &m->idle_timer, CLOCK_MONOTONIC, m->idle_usec, 0,
                                               on_idle_check, m);
        return r;
}

/* --- answers --- */
