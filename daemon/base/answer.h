/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The answer to whoever asked for a step: the engines finish a step with plain values
 * (MigResult) or a named error, and never see who asked or how. The bus layer makes a
 * MigAnswer for each call it hands over, and turns the result into the reply that call
 * expects (machined's pattern: the logic calls one narrow function back). */

#include <glib.h>
#include <stdbool.h>
#include <systemd/sd-bus.h>

/* What a step hands back; each call reads the fields it expects. */
typedef struct MigResult {
        const char *migration_id;              /* Migrate: the record made */
        char *const *strv;                     /* Prepare: each disk's path here; Verify: checksums */
        const bool *shared;                    /* Prepare: per disk of strv, shared with the source */
        uint64_t downtime_msec, duration_msec; /* live Finish: libvirt's figures */
} MigResult;

typedef void (*MigAnswerFn)(void *userdata, const MigResult *result, const sd_bus_error *error);

typedef struct MigAnswer {
        MigAnswerFn fn;
        void *userdata;
        GDestroyNotify free; /* of userdata, after fn or when dropped unanswered */
} MigAnswer;

/* Answers once (error set: a failure; else result, which may be NULL for "done") and clears a;
 * a cleared or empty answer does nothing. */
void mig_answer(MigAnswer *a, const MigResult *result, const sd_bus_error *error);
/* Drops a without answering (the caller got an error returned instead, or the daemon exits). */
void mig_answer_clear(MigAnswer *a);

/* Several askers answered together when a step ends (the Migrate call and the Abort calls
 * that wait for the same migration, say). */
typedef struct MigAnswers MigAnswers;
MigAnswers *mig_answers_new(void);
void mig_answers_free(MigAnswers *l);
/* Takes a. */
void mig_answers_add(MigAnswers *l, MigAnswer a);
/* Answers every one (error, or done) and empties the list. */
void mig_answers_send(MigAnswers *l, const sd_bus_error *error);
