/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* migratectl's side of the bus: the connection (local or over SSH), the polkit agent, and
 * method calls whose failures are printed with the daemon's sentence and turned into the
 * documented exit status. */

#include <json-glib/json-glib.h>
#include <systemd/sd-bus.h>

#include "macro.h"
#include "migratectl.h"

#define MIG_TIMEOUT_LONG_USEC (10 * 60 * USEC_PER_SEC)

typedef enum MigCallFlags {
        MIG_CALL_READ = 0,
        /* A state-changing call: starts the polkit agent when asking is allowed and waits up to
         * MIG_TIMEOUT_LONG_USEC (an authentication dialog or the scheduler asking every peer
         * takes longer than sd-bus' default 25 s). */
        MIG_CALL_AUTH = 1 << 0,
} MigCallFlags;

/* The connection, opened on first use: -H gives sd_bus_open_system_remote(), otherwise the
 * system bus. Interactive authorization is allowed unless --no-ask-password. Borrowed. */
int mig_bus_get(MigCtl *ctl, sd_bus **ret);

/* A method call message on the daemon's object (path NULL: the Manager object). */
int mig_message_new(MigCtl *ctl, const char *path, const char *interface, const char *method,
                    sd_bus_message **ret);
/* Sends m and waits for the reply. On failure prints the error (see log_bus_error()) and
 * returns negative errno. */
int mig_call_message(MigCtl *ctl, MigCallFlags flags, sd_bus_message *m, sd_bus_message **ret_reply);
/* The same, but quiet: the error is returned in ret_error for the caller to judge. */
int mig_call_message_try(MigCtl *ctl, MigCallFlags flags, sd_bus_message *m, sd_bus_error *ret_error,
                         sd_bus_message **ret_reply);

/* Prints the failure of a _try call like the printing variants do. An unset error means the
 * failure happened before the call and was printed already. Returns r. */
int mig_log_call_error(MigCtl *ctl, const char *method, const sd_bus_error *error, int r);

/* Manager.method(types...) in one go, printing failures. */
int mig_call_manager(MigCtl *ctl, MigCallFlags flags, const char *method, sd_bus_message **ret_reply,
                     const char *types, ...);
/* Manager.method(types...), quiet: the error is returned for the caller to judge (unset when
 * the failure came before the call: no connection; that one is printed already). */
int mig_call_manager_try(MigCtl *ctl, MigCallFlags flags, sd_bus_error *ret_error, const char *method,
                         sd_bus_message **ret_reply, const char *types, ...);

/* Sends m and converts the whole reply's first value with mig_json_from_message(). */
int mig_call_to_json(MigCtl *ctl, MigCallFlags flags, sd_bus_message *m, const char *const *struct_fields,
                     JsonNode **ret);
/* Manager.method() without arguments, answering aa{sv}: the JSON array of objects. */
int mig_call_list(MigCtl *ctl, const char *method, JsonNode **ret);

/* Properties.GetAll(interface) of path, as a JSON object keyed by property name. */
int mig_get_all_properties(MigCtl *ctl, const char *path, const char *interface, JsonObject **ret);

/* The tail of a migration object path (its ID), or the path itself when it is not ours. */
char *mig_migration_id_from_path(const char *path);

/* pkttyagent for interactive polkit authentication (local bus, stdin a tty, not root). */
int mig_polkit_agent_open(MigCtl *ctl);
void mig_polkit_agent_close(void);
