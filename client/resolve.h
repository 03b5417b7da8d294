/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Checking and resolving what operators name on the command line, for the verbs and watch. */

#include <systemd/sd-bus.h>

#include "migratectl.h"

/* Shared argument checks (common/validate.h), printing and returning -EINVAL (exit 8). */
int mig_check_domain(const char *domain);
int mig_check_node(const char *node);
/* ID | domain name | domain UUID (show, watch). */
int mig_check_migration_ref(const char *ref);

/* GetMigration(ref) → object path; an unambiguous prefix of a migration ID (as the tables
 * show it) is resolved through ListMigrations when the daemon does not know ref as such.
 * Quiet: failures are returned in ret_error (see mig_call_manager_try()). */
int mig_resolve_migration(MigCtl *ctl, const char *ref, sd_bus_error *ret_error, char **ret_path);
