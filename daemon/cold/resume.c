/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Cold migration after a restart: every unfinished source migration goes on from the status
 * it committed. Before the copy was verified (pre-migrating, migrating) the source's
 * domain and disks are intact: roll back. Verified (post-migrating): finish it. Waiting in
 * VERIFY_RESIZE (finished): arm the automatic confirm again. Confirming or reverting: do it
 * again (both are idempotent on each node). */

#include <string.h>

#include "cold-job.h"
#include "errors.h"

static void resume_one(Manager *m, MigMigration *mig) {
        const char *st = mig->status;
        if (strcmp(st, "finished") == 0)
                return cold_arm_auto_confirm(m, mig);
        if (strcmp(st, "confirming") == 0)
                return cold_confirm_begin(m, mig, (MigAnswer){0}, false, "confirm resumed after a restart");
        if (strcmp(st, "reverting") == 0)
                return cold_revert_begin(m, mig, (MigAnswer){0}, "revert resumed after a restart");
        ColdJob *j = cold_job_for_record(m, mig, (MigAnswer){0});
        if (strcmp(st, "post-migrating") == 0)
                return cold_send_finish(j); /* the copy was verified: finish it */
        cold_rollback(j, MIG_ERROR_INTERNAL,
                      strcmp(st, "pre-migrating") == 0
                              ? "migrated restarted before the copy began; the domain was not touched"
                              : "migrated restarted during the copy; rolled back");
}

void cold_resume_all(Manager *m) {
        g_autoptr(GPtrArray) todo = g_ptr_array_new();
        GHashTableIter it;
        MigMigration *mig;
        g_hash_table_iter_init(&it, m->migrations);
        while (g_hash_table_iter_next(&it, NULL, (gpointer *) &mig))
                if ((strcmp(mig->kind, "cold") == 0 || strcmp(mig->kind, "resize") == 0) &&
                    strcmp(mig->role, "source") == 0 && !mig_status_is_final(mig->status))
                        g_ptr_array_add(todo, mig);
        for (guint i = 0; i < todo->len; i++) {
                mig = todo->pdata[i];
                if (strcmp(mig->kind, "resize") == 0)
                        cold_resize_resume(m, mig);
                else
                        resume_one(m, mig);
        }
}
