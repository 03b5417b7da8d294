/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "attempts.h"

#include "macro.h"

void mig_attempts_init(MigAttempts *a, Manager *m, const MigAttemptOps *ops, void *job) {
        *a = (MigAttempts){.m = m, .ops = ops, .job = job};
}

void mig_attempts_clear(MigAttempts *a) {
        mig_plan_free(a->plan);
        a->plan = NULL;
}

static void try_destination(MigAttempts *a, const char *why) {
        g_auto(sd_bus_error) e = SD_BUS_ERROR_NULL;
        if (a->ops->cancelled(a->job))
                return a->ops->fail(a->job, NULL);
        if (mig_plan_choose(a->m, a->ops->mig(a->job), a->plan, a->attempt, why, &e) < 0)
                return a->ops->fail(a->job, &e);
        a->ops->send_prepare(a->job);
}

static void on_planned(Manager *m, MigPlan *plan, void *userdata) {
        MigAttempts *a = userdata;
        mig_plan_free(a->plan);
        a->plan = plan;
        a->attempt = 0;
        try_destination(a, NULL);
}

void mig_attempts_start(MigAttempts *a, const MigPlaceRequest *req) {
        mig_plan_make(a->m, req, on_planned, a);
}

bool mig_attempts_give_way(MigAttempts *a, const sd_bus_error *error) {
        g_autofree char *why = NULL;
        if (a->ops->cancelled(a->job) ||
            !mig_plan_give_way(a->m, a->plan, &a->attempt, a->ops->mig(a->job), error, a->ops->abort_method,
                               a->ops->abort_status, &why))
                return false;
        try_destination(a, why);
        return true;
}
