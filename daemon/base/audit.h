/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The audit trail: every state change of a migration (on each node that records it) and
 * every authorized admin call, one structured journal entry each with a fixed MESSAGE_ID
 * per kind, so that `journalctl MESSAGE_ID=…` or `journalctl MIGRATION_ID=…` finds them.
 * Where no journal runs (the bench: dbus-daemon starts the daemon without systemd) the
 * same fields go to stderr as one line "AUDIT key=value ...". */

#include <stdint.h>
#include <sys/types.h>

#include "migration.h"

/* journalctl MESSAGE_ID=a8affc6270cd47a383adefda2d59f5a2: a migration's status changed. */
#define MIG_AUDIT_TRANSITION "a8affc6270cd47a383adefda2d59f5a2"
/* journalctl MESSAGE_ID=ad4a914839d546c5a0965c96eae10e15: an admin call was authorized. */
#define MIG_AUDIT_CALL "ad4a914839d546c5a0965c96eae10e15"

/* mig went from status `from` to its status now (message: why, may be NULL). */
void mig_audit_transition(const MigMigration *mig, const char *node, const char *from, const char *message);

/* An authorized call of method (polkit action) by uid/pid; domain and node are its
 * subject ("" when it has none). */
void mig_audit_call(const char *method, const char *action, uid_t uid, pid_t pid, const char *domain,
                    const char *node);
