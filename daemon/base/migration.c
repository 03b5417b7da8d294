/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "migration.h"

#include <string.h>
#include <time.h>

#include "id.h"

MigMigration *mig_migration_new(void) {
        MigMigration *m = g_new0(MigMigration, 1);
        m->status = g_strdup("");
        m->task_state = g_strdup("");
        m->error_name = g_strdup("");
        m->error_message = g_strdup("");
        m->domain_xml = g_strdup("");
        m->disks_json = g_strdup("[]");
        m->convergence = g_strdup("");
        m->step = g_strdup("");
        m->source_view = g_strdup("");
        m->dest_view = g_strdup("");
        m->group_name = g_strdup("");
        m->group_policy = g_strdup("");
        return m;
}

MigMigration *mig_migration_new_source(const char *kind, const char *name, const char *uuid,
                                       const char *source, const char *destination, const char *status) {
        MigMigration *m = mig_migration_new();
        m->id = mig_id_new();
        m->domain_name = g_strdup(name);
        m->domain_uuid = g_strdup(uuid);
        m->kind = g_strdup(kind);
        m->role = g_strdup("source");
        m->source = g_strdup(source);
        m->destination = g_strdup(destination);
        mig_set_string(&m->status, status);
        m->created_usec = m->updated_usec = mig_now_usec();
        return m;
}

void mig_migration_free(MigMigration *m) {
        if (!m)
                return;
        g_free(m->id);
        g_free(m->domain_name);
        g_free(m->domain_uuid);
        g_free(m->kind);
        g_free(m->role);
        g_free(m->source);
        g_free(m->destination);
        g_free(m->status);
        g_free(m->task_state);
        g_free(m->error_name);
        g_free(m->error_message);
        g_free(m->domain_xml);
        g_free(m->disks_json);
        g_free(m->source_view);
        g_free(m->dest_view);
        g_free(m->group_name);
        g_free(m->group_policy);
        g_free(m->convergence);
        g_free(m->step);
        g_free(m->unconfigured_noted);
        g_free(m);
}

void mig_event_free(MigEvent *e) {
        if (!e)
                return;
        g_free(e->status);
        g_free(e->message);
        g_free(e);
}

bool mig_set_string(char **field, const char *value) {
        if (g_strcmp0(*field, value) == 0)
                return false;
        g_free(*field);
        *field = g_strdup(value ? value : "");
        return true;
}

uint64_t mig_now_usec(void) {
        return (uint64_t) g_get_real_time();
}

uint64_t mig_boottime_usec(void) {
        struct timespec ts;
        if (clock_gettime(CLOCK_BOOTTIME, &ts) < 0)
                return (uint64_t) g_get_monotonic_time();
        return (uint64_t) ts.tv_sec * 1000000ULL + (uint64_t) ts.tv_nsec / 1000ULL;
}
