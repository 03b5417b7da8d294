/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Cleanup definitions for every library object we hold: use g_autoptr(T) and
 * g_autofree everywhere. Each destructor accepts NULL. */

#include <glib.h>
#include <libvirt/libvirt.h>
#include <sqlite3.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

G_DEFINE_AUTOPTR_CLEANUP_FUNC(sd_bus, sd_bus_flush_close_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(sd_bus_message, sd_bus_message_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(sd_bus_slot, sd_bus_slot_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(sd_bus_creds, sd_bus_creds_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(sd_event, sd_event_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(sd_event_source, sd_event_source_unref)
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(sd_bus_error, sd_bus_error_free)

static inline void mig_vir_conn_close(virConnectPtr c) {
        if (c)
                virConnectClose(c);
}
static inline void mig_vir_domain_free(virDomainPtr d) {
        if (d)
                virDomainFree(d);
}
static inline void mig_sqlite_finalize(sqlite3_stmt *s) {
        sqlite3_finalize(s); /* accepts NULL */
}
static inline void mig_sqlite_close(sqlite3 *db) {
        sqlite3_close(db); /* accepts NULL */
}
typedef struct _virConnect MigVirConnect;
typedef struct _virDomain MigVirDomain;
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MigVirConnect, mig_vir_conn_close)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MigVirDomain, mig_vir_domain_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(sqlite3_stmt, mig_sqlite_finalize)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(sqlite3, mig_sqlite_close)

#define USEC_PER_SEC ((uint64_t) 1000000ULL)
#define USEC_PER_MSEC ((uint64_t) 1000ULL)

#define MIG_BUS_NAME "org.example.Migrate1"
#define MIG_BUS_PATH "/org/example/Migrate1"
#define MIG_MIGRATION_PREFIX "/org/example/Migrate1/migration"
#define MIG_IFACE_MANAGER "org.example.Migrate1.Manager"
#define MIG_IFACE_MIGRATION "org.example.Migrate1.Migration"
#define MIG_IFACE_PEER "org.example.Migrate1.Peer"
#define MIG_IFACE_EVACUATION "org.example.Migrate1.Evacuation"
#define MIG_IFACE_HOOK "org.example.Migrate1.Hook"
