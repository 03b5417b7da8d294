/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "status.h"

#include <string.h>

enum {
        FINAL = 1 << 0,
        SUCCESS = 1 << 1,
        WAITS_FOR_OPERATOR = 1 << 2,
};

/* Both indexed by MigStatus. */
const char *const mig_status_names[_MIG_STATUS_MAX + 1] = {
        [MIG_STATUS_PRE_MIGRATING] = "pre-migrating",
        [MIG_STATUS_MIGRATING] = "migrating",
        [MIG_STATUS_POST_MIGRATING] = "post-migrating",
        [MIG_STATUS_FINISHED] = "finished",
        [MIG_STATUS_CONFIRMING] = "confirming",
        [MIG_STATUS_CONFIRMED] = "confirmed",
        [MIG_STATUS_REVERTING] = "reverting",
        [MIG_STATUS_REVERTED] = "reverted",
        [MIG_STATUS_ERROR] = "error",
        [MIG_STATUS_CANCELLED] = "cancelled",
        [MIG_STATUS_QUEUED] = "queued",
        [MIG_STATUS_PREPARING] = "preparing",
        [MIG_STATUS_RUNNING] = "running",
        [MIG_STATUS_COMPLETED] = "completed",
        [MIG_STATUS_FAILED] = "failed",
        [_MIG_STATUS_MAX] = NULL,
};

static const unsigned status_flags[_MIG_STATUS_MAX] = {
        [MIG_STATUS_FINISHED] = SUCCESS | WAITS_FOR_OPERATOR,
        [MIG_STATUS_CONFIRMED] = FINAL | SUCCESS,
        [MIG_STATUS_REVERTED] = FINAL,
        [MIG_STATUS_ERROR] = FINAL,
        [MIG_STATUS_CANCELLED] = FINAL,
        [MIG_STATUS_COMPLETED] = FINAL | SUCCESS,
        [MIG_STATUS_FAILED] = FINAL,
        /* the rest: in flight */
};

MigStatus mig_status_from_string(const char *s) {
        if (!s)
                return MIG_STATUS_INVALID;
        for (int i = 0; i < _MIG_STATUS_MAX; i++)
                if (strcmp(mig_status_names[i], s) == 0)
                        return (MigStatus) i;
        return MIG_STATUS_INVALID;
}

const char *mig_status_to_string(MigStatus status) {
        if (status < 0 || status >= _MIG_STATUS_MAX)
                return NULL;
        return mig_status_names[status];
}

static unsigned flags_of(const char *status) {
        MigStatus s = mig_status_from_string(status);
        return s == MIG_STATUS_INVALID ? 0 : status_flags[s];
}

bool mig_status_is_final(const char *status) {
        return flags_of(status) & FINAL;
}

bool mig_status_is_known(const char *status) {
        return mig_status_from_string(status) != MIG_STATUS_INVALID;
}

bool mig_status_waits_for_operator(const char *status) {
        return flags_of(status) & WAITS_FOR_OPERATOR;
}

bool mig_status_ends_watch(const char *status) {
        return flags_of(status) & (FINAL | WAITS_FOR_OPERATOR);
}

bool mig_status_is_success(const char *status) {
        return flags_of(status) & SUCCESS;
}

const char *const mig_evacuation_status_names[] = {"planning",  "running",   "paused", "cancelling",
                                                   "cancelled", "completed", "failed", NULL};
const char *const mig_evacuation_item_status_names[] = {"queued", "migrating", "done",
                                                        "failed", "not-moved", NULL};

static bool in_list(const char *const *list, const char *s) {
        for (; s && *list; list++)
                if (strcmp(*list, s) == 0)
                        return true;
        return false;
}

bool mig_evacuation_status_is_final(const char *status) {
        static const char *const final[] = {"cancelled", "completed", "failed", NULL};
        return in_list(final, status);
}

bool mig_evacuation_status_is_known(const char *status) {
        return in_list(mig_evacuation_status_names, status);
}
