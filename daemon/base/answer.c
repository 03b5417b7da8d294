/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "answer.h"

struct MigAnswers {
        GArray *items; /* MigAnswer */
};

void mig_answer(MigAnswer *a, const MigResult *result, const sd_bus_error *error) {
        MigAnswer taken = *a;
        *a = (MigAnswer){0};
        if (!taken.fn)
                return;
        taken.fn(taken.userdata, result, error && error->name ? error : NULL);
        if (taken.free)
                taken.free(taken.userdata);
}

void mig_answer_clear(MigAnswer *a) {
        MigAnswer taken = *a;
        *a = (MigAnswer){0};
        if (taken.fn && taken.free)
                taken.free(taken.userdata);
}

static void clear_item(void *p) {
        mig_answer_clear(p);
}

MigAnswers *mig_answers_new(void) {
        MigAnswers *l = g_new0(MigAnswers, 1);
        l->items = g_array_new(FALSE, TRUE, sizeof(MigAnswer));
        g_array_set_clear_func(l->items, clear_item);
        return l;
}

void mig_answers_free(MigAnswers *l) {
        if (!l)
                return;
        g_array_unref(l->items);
        g_free(l);
}

void mig_answers_add(MigAnswers *l, MigAnswer a) {
        g_array_append_val(l->items, a);
}

void mig_answers_send(MigAnswers *l, const sd_bus_error *error) {
        for (guint i = 0; i < l->items->len; i++)
                mig_answer(&g_array_index(l->items, MigAnswer, i), NULL, error);
        g_array_set_size(l->items, 0);
}
