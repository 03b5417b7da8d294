/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The verbs. Each gets argv[0] = the verb's name and argv[1..argc-1] = its positional
 * arguments (counts checked by the dispatcher, options already parsed into ctl->opt),
 * validates them locally, calls the daemon and prints. Returns 0 or negative errno after
 * printing why (the exit status is recorded by log.h). */

#include <systemd/sd-bus.h>

#include "migratectl.h"

/* verbs-migration.c */
int verb_migrate(MigCtl *ctl, int argc, char **argv);
int verb_plan(MigCtl *ctl, int argc, char **argv);
int verb_domain_action(MigCtl *ctl, int argc, char **argv); /* confirm revert abort force-complete */
int verb_migrations(MigCtl *ctl, int argc, char **argv);
int verb_show(MigCtl *ctl, int argc, char **argv);

/* verbs-evacuation.c */
int verb_evacuate(MigCtl *ctl, int argc, char **argv);
int verb_evacuations(MigCtl *ctl, int argc, char **argv);
int verb_restore(MigCtl *ctl, int argc, char **argv);
int verb_evacuation_control(MigCtl *ctl, int argc, char **argv); /* evacuation-pause|resume|cancel */
/* Follows the latest evacuation of node until it ends: 0 when it completed with every domain
 * moved; otherwise records the failure's exit status. */
int mig_watch_evacuation(MigCtl *ctl, const char *node);

/* verbs-cluster.c */
int verb_hosts(MigCtl *ctl, int argc, char **argv);
int verb_host_disable(MigCtl *ctl, int argc, char **argv);
int verb_host_enable(MigCtl *ctl, int argc, char **argv);
int verb_domains(MigCtl *ctl, int argc, char **argv);
int verb_groups(MigCtl *ctl, int argc, char **argv);
int verb_group_set(MigCtl *ctl, int argc, char **argv);
int verb_group_clear(MigCtl *ctl, int argc, char **argv);

/* watch.c */
int verb_watch(MigCtl *ctl, int argc, char **argv);
/* Follows the migration object at path until its Status ends the watch (final, or waiting
 * for an operator: mig_status_ends_watch()). Returns 0 when it ended well (finished, completed,
 * confirmed: mig_status_is_success()); otherwise records the failure's exit status. */
int mig_watch_migration(MigCtl *ctl, const char *path);
