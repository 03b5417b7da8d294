/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "macro.h"

/* GError domain of the store; the code is the positive errno. */
#define STORE_ERROR g_quark_from_static_string("migrated-store")

struct MigStore {
        sqlite3 *db;
        char *path;
};

/* Schema versions, applied in order; user_version says how many ran. Never edit
 * a shipped step: add a new one. */
static const char *const schema_steps[MIG_STORE_SCHEMA_VERSION] = {
        "CREATE TABLE migrations ("
        "  id TEXT PRIMARY KEY, domain_name TEXT NOT NULL, domain_uuid TEXT NOT NULL,"
        "  kind TEXT NOT NULL, role TEXT NOT NULL, source TEXT NOT NULL, destination TEXT NOT NULL,"
        "  status TEXT NOT NULL, task_state TEXT NOT NULL DEFAULT '',"
        "  error_name TEXT NOT NULL DEFAULT '', error_message TEXT NOT NULL DEFAULT '',"
        "  bytes_processed INTEGER NOT NULL DEFAULT 0, bytes_remaining INTEGER NOT NULL DEFAULT 0,"
        "  bytes_total INTEGER NOT NULL DEFAULT 0, progress REAL NOT NULL DEFAULT 0,"
        "  created_usec INTEGER NOT NULL, updated_usec INTEGER NOT NULL,"
        "  finished_usec INTEGER NOT NULL DEFAULT 0);"
        "CREATE INDEX migrations_domain ON migrations(domain_uuid);"
        "CREATE TABLE events ("
        "  seq INTEGER PRIMARY KEY AUTOINCREMENT, migration_id TEXT NOT NULL,"
        "  time_usec INTEGER NOT NULL, status TEXT NOT NULL, message TEXT NOT NULL DEFAULT '');"
        "CREATE INDEX events_migration ON events(migration_id);"
        "CREATE TABLE hosts ("
        "  node TEXT PRIMARY KEY, enabled INTEGER NOT NULL, reason TEXT NOT NULL DEFAULT '',"
        "  updated_usec INTEGER NOT NULL);",
        /* 2: what the cold engine needs to resume or roll back */
        "ALTER TABLE migrations ADD COLUMN domain_xml TEXT NOT NULL DEFAULT '';"
        "ALTER TABLE migrations ADD COLUMN was_running INTEGER NOT NULL DEFAULT 0;"
        "ALTER TABLE migrations ADD COLUMN disks TEXT NOT NULL DEFAULT '[]';"
        "ALTER TABLE migrations ADD COLUMN claim_memory INTEGER NOT NULL DEFAULT 0;"
        "ALTER TABLE migrations ADD COLUMN claim_vcpus INTEGER NOT NULL DEFAULT 0;",
        /* 3: live migrations */
        "ALTER TABLE migrations ADD COLUMN downtime_msec INTEGER NOT NULL DEFAULT 0;",
        /* 4: domain events (the hook, libvirt's lifecycle events, the daemon's own findings) */
        "CREATE TABLE domain_events ("
        "  seq INTEGER PRIMARY KEY AUTOINCREMENT, event_id TEXT NOT NULL UNIQUE,"
        "  time_usec INTEGER NOT NULL, domain_name TEXT NOT NULL, domain_uuid TEXT NOT NULL,"
        "  origin TEXT NOT NULL, operation TEXT NOT NULL, sub_operation TEXT NOT NULL,"
        "  extra TEXT NOT NULL, message TEXT NOT NULL);"
        "CREATE INDEX domain_events_uuid ON domain_events(domain_uuid);"
        "CREATE INDEX domain_events_name ON domain_events(domain_name);",
        /* 5: who this node is (configured name, libvirt host UUID) */
        "CREATE TABLE identity (key TEXT PRIMARY KEY, value TEXT NOT NULL);",
        /* 6: the reconciliation table: how each node last reported the domain */
        "ALTER TABLE migrations ADD COLUMN source_view TEXT NOT NULL DEFAULT '';"
        "ALTER TABLE migrations ADD COLUMN dest_view TEXT NOT NULL DEFAULT '';",
        /* 7: the server group the domain was in when it moved (the destination's claim checks it) */
        "ALTER TABLE migrations ADD COLUMN group_name TEXT NOT NULL DEFAULT '';"
        "ALTER TABLE migrations ADD COLUMN group_policy TEXT NOT NULL DEFAULT '';",
        /* 8: evacuations and restores, one document each */
        "CREATE TABLE evacuations (id TEXT PRIMARY KEY, node TEXT NOT NULL, created_usec INTEGER NOT NULL,"
        " document TEXT NOT NULL);",
        /* 9: a resize's old and new size */
        "ALTER TABLE migrations ADD COLUMN old_memory INTEGER NOT NULL DEFAULT 0;"
        "ALTER TABLE migrations ADD COLUMN new_memory INTEGER NOT NULL DEFAULT 0;"
        "ALTER TABLE migrations ADD COLUMN old_vcpus INTEGER NOT NULL DEFAULT 0;"
        "ALTER TABLE migrations ADD COLUMN new_vcpus INTEGER NOT NULL DEFAULT 0;",
        /* 10: the rates the first memory passes of live migrations reached, per destination */
        "CREATE TABLE links (seq INTEGER PRIMARY KEY AUTOINCREMENT, peer TEXT NOT NULL,"
        " bytes_per_sec INTEGER NOT NULL, measured_usec INTEGER NOT NULL);"
        "CREATE INDEX links_peer ON links(peer, seq);",
};

static int store_fail(MigStore *s, int rc, GError **error, const char *what) {
        int r = (rc == SQLITE_FULL) ? -ENOSPC : -EIO;
        g_set_error(error, STORE_ERROR, -r, "%s in %s: %s%s", what, s->path, sqlite3_errmsg(s->db),
                    r == -ENOSPC ? " (the disk is full)" : "");
        return r;
}

static int exec_sql(MigStore *s, const char *sql, GError **error) {
        int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
        return rc == SQLITE_OK ? 0 : store_fail(s, rc, error, "Could not write the state database");
}

static int prepare(MigStore *s, const char *sql, sqlite3_stmt **ret, GError **error) {
        int rc = sqlite3_prepare_v2(s->db, sql, -1, ret, NULL);
        return rc == SQLITE_OK ? 0 : store_fail(s, rc, error, "Could not prepare a query");
}

static int user_version(MigStore *s, int *ret, GError **error) {
        g_autoptr(sqlite3_stmt) st = NULL;
        int r = prepare(s, "PRAGMA user_version", &st, error);
        if (r < 0)
                return r;
        if (sqlite3_step(st) != SQLITE_ROW)
                return store_fail(s, SQLITE_ERROR, error, "Could not read the schema version");
        *ret = sqlite3_column_int(st, 0);
        return 0;
}

static int migrate_schema(MigStore *s, GError **error) {
        int version, r = user_version(s, &version, error);
        if (r < 0)
                return r;
        if (version > MIG_STORE_SCHEMA_VERSION) {
                g_set_error(error, STORE_ERROR, EPROTO,
                            "%s has schema version %d, newer than this migrated knows (%d)", s->path,
                            version, MIG_STORE_SCHEMA_VERSION);
                return -EPROTO;
        }
        for (int v = version; v < MIG_STORE_SCHEMA_VERSION; v++) {
                g_autofree char *sql = g_strdup_printf(
                        "BEGIN IMMEDIATE; %s PRAGMA user_version = %d; COMMIT;", schema_steps[v], v + 1);
                r = exec_sql(s, sql, error);
                if (r < 0) {
                        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
                        return r;
                }
        }
        return 0;
}

static int private_fail(const char *path, int e, GError **error) {
        g_set_error(error, STORE_ERROR, e, "Could not make %s private (mode 0600): %s", path, g_strerror(e));
        return -e;
}

/* The database holds domain XML, which can carry secrets: it is 0600 whatever
 * umask started us (dbus-daemon activates us with its own where no systemd
 * runs), and an older install's 0644 database, -wal and -shm are tightened
 * before sqlite opens them. sqlite gives the -wal and -shm files it creates the
 * mode of the database, so they are 0600 from then on. Paths, not file
 * descriptors, for files that exist: closing a descriptor of an open database
 * would drop this process's POSIX locks on it. */
static int make_private(const char *path, GError **error) {
        int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY, 0600);
        if (fd >= 0) {
                int r = fchmod(fd, 0600) < 0 ? errno : 0; /* 0600 & ~umask is not enough */
                close(fd);
                if (r)
                        return private_fail(path, r, error);
        } else if (errno != EEXIST)
                return private_fail(path, errno, error);
        static const char *const suffixes[] = {"", "-wal", "-shm"};
        for (size_t i = 0; i < G_N_ELEMENTS(suffixes); i++) {
                g_autofree char *p = g_strconcat(path, suffixes[i], NULL);
                struct stat st;
                if (stat(p, &st) < 0) {
                        if (errno == ENOENT && i > 0)
                                continue;
                        return private_fail(p, errno, error);
                }
                if (!S_ISREG(st.st_mode))
                        return private_fail(p, EINVAL, error);
                if ((st.st_mode & 07777) != 0600 && chmod(p, 0600) < 0)
                        return private_fail(p, errno, error);
        }
        return 0;
}

int mig_store_open(const char *path, MigStore **ret, GError **error) {
        g_autoptr(MigStore) s = g_new0(MigStore, 1);
        s->path = g_strdup(path);
        int r = make_private(path, error);
        if (r < 0)
                return r;
        int rc = sqlite3_open_v2(path, &s->db,
                                 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
        if (rc != SQLITE_OK)
                return store_fail(s, rc, error, "Could not open the state database");
        sqlite3_busy_timeout(s->db, 5000);
        r = exec_sql(s, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;", error);
        if (r < 0)
                return r;
        r = migrate_schema(s, error);
        if (r < 0)
                return r;
        *ret = g_steal_pointer(&s);
        return 0;
}

void mig_store_close(MigStore *s) {
        if (!s)
                return;
        sqlite3_close(s->db);
        g_free(s->path);
        g_free(s);
}

static int step_done(MigStore *s, sqlite3_stmt *st, GError **error) {
        int rc = sqlite3_step(st);
        return rc == SQLITE_DONE ? 0 : store_fail(s, rc, error, "Could not write the state database");
}

static int insert_event(MigStore *s, const MigMigration *m, const char *message, GError **error) {
        g_autoptr(sqlite3_stmt) st = NULL;
        int r = prepare(s, "INSERT INTO events (migration_id, time_usec, status, message) VALUES (?,?,?,?)",
                        &st, error);
        if (r < 0)
                return r;
        sqlite3_bind_text(st, 1, m->id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, (sqlite3_int64) m->updated_usec);
        sqlite3_bind_text(st, 3, m->status, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, message, -1, SQLITE_STATIC);
        return step_done(s, st, error);
}

/* Runs fn inside one IMMEDIATE transaction: all of it is on disk, or none. */
static int in_transaction(MigStore *s, int (*fn)(MigStore *, const MigMigration *, const char *, GError **),
                          const MigMigration *m, const char *message, GError **error) {
        int r = exec_sql(s, "BEGIN IMMEDIATE", error);
        if (r < 0)
                return r;
        r = fn(s, m, message, error);
        if (r >= 0 && message)
                r = insert_event(s, m, message, error);
        if (r >= 0)
                r = exec_sql(s, "COMMIT", error);
        if (r < 0)
                sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        return r;
}

static void bind_mutable(sqlite3_stmt *st, const MigMigration *m, int first) {
        sqlite3_bind_text(st, first + 0, m->status, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, first + 1, m->task_state, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, first + 2, m->error_name, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, first + 3, m->error_message, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, first + 4, (sqlite3_int64) m->bytes_processed);
        sqlite3_bind_int64(st, first + 5, (sqlite3_int64) m->bytes_remaining);
        sqlite3_bind_int64(st, first + 6, (sqlite3_int64) m->bytes_total);
        sqlite3_bind_double(st, first + 7, m->progress);
        sqlite3_bind_int64(st, first + 8, (sqlite3_int64) m->updated_usec);
        sqlite3_bind_int64(st, first + 9, (sqlite3_int64) m->finished_usec);
        sqlite3_bind_text(st, first + 10, m->domain_xml, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, first + 11, m->was_running);
        sqlite3_bind_text(st, first + 12, m->disks_json, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, first + 13, (sqlite3_int64) m->claim_memory);
        sqlite3_bind_int(st, first + 14, (int) m->claim_vcpus);
        sqlite3_bind_int64(st, first + 15, (sqlite3_int64) m->downtime_msec);
        sqlite3_bind_text(st, first + 16, m->source_view, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, first + 17, m->dest_view, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, first + 18, m->group_name, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, first + 19, m->group_policy, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, first + 20, m->destination, -1, SQLITE_STATIC); /* the scheduler's choice */
        sqlite3_bind_int64(st, first + 21, (sqlite3_int64) m->old_memory);
        sqlite3_bind_int64(st, first + 22, (sqlite3_int64) m->new_memory);
        sqlite3_bind_int(st, first + 23, (int) m->old_vcpus);
        sqlite3_bind_int(st, first + 24, (int) m->new_vcpus);
}
#define MUTABLE_COLUMNS 25

static int do_insert(MigStore *s, const MigMigration *m, const char *message, GError **error) {
        g_autoptr(sqlite3_stmt) st = NULL;
        int r = prepare(
                s,
                "INSERT INTO migrations (status, task_state, error_name, error_message, bytes_processed,"
                " bytes_remaining, bytes_total, progress, updated_usec, finished_usec, domain_xml,"
                " was_running, disks, claim_memory, claim_vcpus, downtime_msec, source_view, dest_view,"
                " group_name, group_policy, destination, old_memory, new_memory, old_vcpus, new_vcpus,"
                " id, domain_name, domain_uuid, kind, role, source, created_usec) VALUES "
                "(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                &st, error);
        if (r < 0)
                return r;
        bind_mutable(st, m, 1);
        const char *fixed[] = {m->id, m->domain_name, m->domain_uuid, m->kind, m->role, m->source};
        for (int i = 0; i < (int) G_N_ELEMENTS(fixed); i++)
                sqlite3_bind_text(st, MUTABLE_COLUMNS + 1 + i, fixed[i], -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, MUTABLE_COLUMNS + 7, (sqlite3_int64) m->created_usec);
        return step_done(s, st, error);
}

static int do_update(MigStore *s, const MigMigration *m, const char *message, GError **error) {
        g_autoptr(sqlite3_stmt) st = NULL;
        int r = prepare(s,
                        "UPDATE migrations SET status=?, task_state=?, error_name=?, error_message=?,"
                        " bytes_processed=?, bytes_remaining=?, bytes_total=?, progress=?, updated_usec=?,"
                        " finished_usec=?, domain_xml=?, was_running=?, disks=?, claim_memory=?,"
                        " claim_vcpus=?, downtime_msec=?, source_view=?, dest_view=?, group_name=?,"
                        " group_policy=?, destination=?, old_memory=?, new_memory=?, old_vcpus=?,"
                        " new_vcpus=? WHERE id=?",
                        &st, error);
        if (r < 0)
                return r;
        bind_mutable(st, m, 1);
        sqlite3_bind_text(st, MUTABLE_COLUMNS + 1, m->id, -1, SQLITE_STATIC);
        r = step_done(s, st, error);
        if (r == 0 && sqlite3_changes(s->db) != 1) {
                g_set_error(error, STORE_ERROR, ENOENT, "Migration %s is not in %s", m->id, s->path);
                return -ENOENT;
        }
        return r;
}

int mig_store_insert_migration(MigStore *s, const MigMigration *m, const char *message, GError **error) {
        return in_transaction(s, do_insert, m, message ? message : "", error);
}

int mig_store_update_migration(MigStore *s, const MigMigration *m, const char *message, GError **error) {
        return in_transaction(s, do_update, m, message, error);
}

static char *column_strdup(sqlite3_stmt *st, int col) {
        const unsigned char *t = sqlite3_column_text(st, col);
        return g_strdup(t ? (const char *) t : "");
}

static MigMigration *row_to_migration(sqlite3_stmt *st) {
        MigMigration *m = mig_migration_new();
        char **strings[] = {&m->id,         &m->domain_name, &m->domain_uuid,  &m->kind,
                            &m->role,       &m->source,      &m->destination,  &m->status,
                            &m->task_state, &m->error_name,  &m->error_message};
        for (int i = 0; i < (int) G_N_ELEMENTS(strings); i++) {
                g_free(*strings[i]);
                *strings[i] = column_strdup(st, i);
        }
        m->bytes_processed = (uint64_t) sqlite3_column_int64(st, 11);
        m->bytes_remaining = (uint64_t) sqlite3_column_int64(st, 12);
        m->bytes_total = (uint64_t) sqlite3_column_int64(st, 13);
        m->progress = sqlite3_column_double(st, 14);
        m->created_usec = (uint64_t) sqlite3_column_int64(st, 15);
        m->updated_usec = (uint64_t) sqlite3_column_int64(st, 16);
        m->finished_usec = (uint64_t) sqlite3_column_int64(st, 17);
        g_free(m->domain_xml);
        m->domain_xml = column_strdup(st, 18);
        m->was_running = sqlite3_column_int(st, 19) != 0;
        g_free(m->disks_json);
        m->disks_json = column_strdup(st, 20);
        m->claim_memory = (uint64_t) sqlite3_column_int64(st, 21);
        m->claim_vcpus = (unsigned) sqlite3_column_int(st, 22);
        m->downtime_msec = (uint64_t) sqlite3_column_int64(st, 23);
        g_free(m->source_view);
        m->source_view = column_strdup(st, 24);
        g_free(m->dest_view);
        m->dest_view = column_strdup(st, 25);
        g_free(m->group_name);
        m->group_name = column_strdup(st, 26);
        g_free(m->group_policy);
        m->group_policy = column_strdup(st, 27);
        m->old_memory = (uint64_t) sqlite3_column_int64(st, 28);
        m->new_memory = (uint64_t) sqlite3_column_int64(st, 29);
        m->old_vcpus = (unsigned) sqlite3_column_int(st, 30);
        m->new_vcpus = (unsigned) sqlite3_column_int(st, 31);
        return m;
}

/* "?,?,...": one placeholder per status. */
static char *placeholders(unsigned n) {
        GString *s = g_string_new(NULL);
        for (unsigned i = 0; i < n; i++)
                g_string_append(s, i ? ",?" : "?");
        return g_string_free(s, FALSE);
}

static int select_prunable(MigStore *s, const char *const *final, uint64_t cutoff_usec, unsigned keep,
                           GPtrArray *ids, GError **error) {
        unsigned n = g_strv_length((char **) final);
        g_autofree char *in = placeholders(n);
        g_autofree char *sql = g_strdup_printf(
                "SELECT id FROM migrations WHERE status IN (%s) AND (finished_usec < ? OR id NOT IN "
                "(SELECT id FROM migrations WHERE status IN (%s) ORDER BY finished_usec DESC, id LIMIT ?))",
                in, in);
        g_autoptr(sqlite3_stmt) st = NULL;
        int r = prepare(s, sql, &st, error);
        if (r < 0)
                return r;
        for (unsigned i = 0; i < n; i++) {
                sqlite3_bind_text(st, (int) i + 1, final[i], -1, SQLITE_STATIC);
                sqlite3_bind_text(st, (int) (n + 2 + i), final[i], -1, SQLITE_STATIC);
        }
        sqlite3_bind_int64(st, (int) n + 1, (sqlite3_int64) cutoff_usec);
        sqlite3_bind_int64(st, (int) (2 * n + 2), keep ? (sqlite3_int64) keep : -1);
        int rc;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW)
                g_ptr_array_add(ids, g_strdup((const char *) sqlite3_column_text(st, 0)));
        return rc == SQLITE_DONE ? 0 : store_fail(s, rc, error, "Could not read old migrations");
}

static int delete_migration(MigStore *s, sqlite3_stmt *events, sqlite3_stmt *migration, const char *id,
                            GError **error) {
        sqlite3_stmt *steps[] = {events, migration};
        for (int k = 0; k < 2; k++) {
                sqlite3_reset(steps[k]);
                sqlite3_bind_text(steps[k], 1, id, -1, SQLITE_STATIC);
                int rc = sqlite3_step(steps[k]);
                if (rc != SQLITE_DONE)
                        return store_fail(s, rc, error, "Could not remove an old migration");
        }
        return 0;
}

int mig_store_prune_migrations(MigStore *s, const char *const *final, uint64_t cutoff_usec, unsigned keep,
                               GPtrArray **ret, GError **error) {
        g_autoptr(GPtrArray) ids = g_ptr_array_new_with_free_func(g_free);
        int r = select_prunable(s, final, cutoff_usec, keep, ids, error);
        if (r < 0 || ids->len == 0) {
                if (r >= 0)
                        *ret = g_steal_pointer(&ids);
                return r;
        }
        g_autoptr(sqlite3_stmt) ev = NULL, mg = NULL;
        if ((r = prepare(s, "DELETE FROM events WHERE migration_id=?", &ev, error)) < 0 ||
            (r = prepare(s, "DELETE FROM migrations WHERE id=?", &mg, error)) < 0 ||
            (r = exec_sql(s, "BEGIN IMMEDIATE", error)) < 0)
                return r;
        for (guint i = 0; r >= 0 && i < ids->len; i++)
                r = delete_migration(s, ev, mg, ids->pdata[i], error);
        if (r >= 0)
                r = exec_sql(s, "COMMIT", error);
        if (r < 0) {
                (void) sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
                return r;
        }
        *ret = g_steal_pointer(&ids);
        return 0;
}

int mig_store_load_migrations(MigStore *s, GPtrArray **ret, GError **error) {
        g_autoptr(sqlite3_stmt) st = NULL;
        int r = prepare(
                s,
                "SELECT id, domain_name, domain_uuid, kind, role, source, destination, status,"
                " task_state, error_name, error_message, bytes_processed, bytes_remaining, bytes_total,"
                " progress, created_usec, updated_usec, finished_usec, domain_xml, was_running, disks,"
                " claim_memory, claim_vcpus, downtime_msec, source_view, dest_view, group_name, "
                "group_policy,"
                " old_memory, new_memory, old_vcpus, new_vcpus FROM migrations"
                " ORDER BY created_usec, id",
                &st, error);
        if (r < 0)
                return r;
        g_autoptr(GPtrArray) list = g_ptr_array_new_with_free_func((GDestroyNotify) mig_migration_free);
        int rc;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW)
                g_ptr_array_add(list, row_to_migration(st));
        if (rc != SQLITE_DONE)
                return store_fail(s, rc, error, "Could not read migrations");
        *ret = g_steal_pointer(&list);
        return 0;
}

int mig_store_load_events(MigStore *s, const char *migration_id, GPtrArray **ret, GError **error) {
        g_autoptr(sqlite3_stmt) st = NULL;
        int r = prepare(s, "SELECT time_usec, status, message FROM events WHERE migration_id=? ORDER BY seq",
                        &st, error);
        if (r < 0)
                return r;
        sqlite3_bind_text(st, 1, migration_id, -1, SQLITE_STATIC);
        g_autoptr(GPtrArray) list = g_ptr_array_new_with_free_func((GDestroyNotify) mig_event_free);
        int rc;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                MigEvent *e = g_new0(MigEvent, 1);
                e->time_usec = (uint64_t) sqlite3_column_int64(st, 0);
                e->status = column_strdup(st, 1);
                e->message = column_strdup(st, 2);
                g_ptr_array_add(list, e);
        }
        if (rc != SQLITE_DONE)
                return store_fail(s, rc, error, "Could not read events");
        *ret = g_steal_pointer(&list);
        return 0;
}

int mig_store_get_host_state(MigStore *s, const char *node, bool *enabled, char **reason, GError **error) {
        g_autoptr(sqlite3_stmt) st = NULL;
        int r = prepare(s, "SELECT enabled, reason FROM hosts WHERE node=?", &st, error);
        if (r < 0)
                return r;
        sqlite3_bind_text(st, 1, node, -1, SQLITE_STATIC);
        int rc = sqlite3_step(st);
        if (rc != SQLITE_ROW && rc != SQLITE_DONE)
                return store_fail(s, rc, error, "Could not read the host state");
        *enabled = rc == SQLITE_DONE || sqlite3_column_int(st, 0) != 0;
        *reason = rc == SQLITE_ROW ? column_strdup(st, 1) : g_strdup("");
        return 0;
}

int mig_store_set_host_state(MigStore *s, const char *node, bool enabled, const char *reason,
                             GError **error) {
        g_autoptr(sqlite3_stmt) st = NULL;
        int r = prepare(
                s, "INSERT OR REPLACE INTO hosts (node, enabled, reason, updated_usec) VALUES (?,?,?,?)",
                &st, error);
        if (r < 0)
                return r;
        sqlite3_bind_text(st, 1, node, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 2, enabled);
        sqlite3_bind_text(st, 3, reason ? reason : "", -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, (sqlite3_int64) mig_now_usec());
        return step_done(s, st, error);
}

/* --- evacuations --- */

int mig_store_save_evacuation(MigStore *s, const char *id, const char *node, uint64_t created_usec,
                              const char *document, GError **error) {
        g_autoptr(sqlite3_stmt) st = NULL;
        int r = prepare(
                s, "INSERT OR REPLACE INTO evacuations (id, node, created_usec, document) VALUES (?,?,?,?)",
                &st, error);
        if (r < 0)
                return r;
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, node, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, (sqlite3_int64) created_usec);
        sqlite3_bind_text(st, 4, document, -1, SQLITE_STATIC);
        return step_done(s, st, error);
}

int mig_store_load_evacuations(MigStore *s, GPtrArray **ret, GError **error) {
        g_autoptr(sqlite3_stmt) st = NULL;
        int r = prepare(s, "SELECT document FROM evacuations ORDER BY created_usec", &st, error);
        if (r < 0)
                return r;
        g_autoptr(GPtrArray) list = g_ptr_array_new_with_free_func(g_free);
        int rc;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW)
                g_ptr_array_add(list, column_strdup(st, 0));
        if (rc != SQLITE_DONE)
                return store_fail(s, rc, error, "Could not read the evacuations");
        *ret = g_steal_pointer(&list);
        return 0;
}

/* --- domain events --- */

static int insert_domain_event(MigStore *s, sqlite3_stmt *st, const MigHookEvent *e, const char *origin,
                               unsigned *added, GError **error) {
        sqlite3_reset(st);
        sqlite3_bind_text(st, 1, e->id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, (sqlite3_int64) e->time_usec);
        sqlite3_bind_text(st, 3, e->domain, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, e->uuid, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 5, origin, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 6, e->operation, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 7, e->sub_operation, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 8, e->extra, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 9, e->message, -1, SQLITE_STATIC);
        int r = step_done(s, st, error);
        if (r == 0)
                *added += (unsigned) sqlite3_changes(s->db);
        return r;
}

static int add_domain_events(MigStore *s, GPtrArray *events, const char *origin, unsigned *added,
                             GError **error) {
        g_autoptr(sqlite3_stmt) st = NULL;
        int r = prepare(s,
                        "INSERT OR IGNORE INTO domain_events (event_id, time_usec, domain_name, domain_uuid,"
                        " origin, operation, sub_operation, extra, message) VALUES (?,?,?,?,?,?,?,?,?)",
                        &st, error);
        for (guint i = 0; r >= 0 && i < events->len; i++)
                r = insert_domain_event(s, st, events->pdata[i], origin, added, error);
        if (r >= 0) /* keep the newest ones only */
                r = exec_sql(s,
                             "DELETE FROM domain_events WHERE seq <= (SELECT MAX(seq) FROM domain_events) "
                             "- " G_STRINGIFY(MIG_STORE_DOMAIN_EVENTS_KEPT),
                             error);
        return r;
}

int mig_store_add_domain_events(MigStore *s, GPtrArray *events, const char *origin, unsigned *added,
                                GError **error) {
        *added = 0;
        int r = exec_sql(s, "BEGIN IMMEDIATE", error);
        if (r < 0)
                return r;
        r = add_domain_events(s, events, origin, added, error);
        if (r >= 0)
                r = exec_sql(s, "COMMIT", error);
        if (r < 0) {
                sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
                *added = 0;
        }
        return r;
}

static MigDomainEvent *row_to_domain_event(sqlite3_stmt *st) {
        MigDomainEvent *e = g_new0(MigDomainEvent, 1);
        e->time_usec = (uint64_t) sqlite3_column_int64(st, 0);
        e->origin = column_strdup(st, 1);
        e->operation = column_strdup(st, 2);
        e->sub_operation = column_strdup(st, 3);
        e->message = column_strdup(st, 4);
        return e;
}

int mig_store_load_domain_events(MigStore *s, const char *name, const char *uuid, unsigned limit,
                                 GPtrArray **ret, GError **error) {
        g_autoptr(sqlite3_stmt) st = NULL;
        int r = prepare(s,
                        "SELECT * FROM (SELECT time_usec, origin, operation, sub_operation, message, seq"
                        " FROM domain_events WHERE domain_uuid=? OR (domain_uuid='' AND domain_name=?)"
                        " ORDER BY time_usec DESC, seq DESC LIMIT ?) ORDER BY time_usec, seq",
                        &st, error);
        if (r < 0)
                return r;
        sqlite3_bind_text(st, 1, uuid, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 3, (int) limit);
        g_autoptr(GPtrArray) list = g_ptr_array_new_with_free_func((GDestroyNotify) mig_domain_event_free);
        int rc;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW)
                g_ptr_array_add(list, row_to_domain_event(st));
        if (rc != SQLITE_DONE)
                return store_fail(s, rc, error, "Could not read domain events");
        *ret = g_steal_pointer(&list);
        return 0;
}

void mig_domain_event_free(MigDomainEvent *e) {
        if (!e)
                return;
        g_free(e->origin);
        g_free(e->operation);
        g_free(e->sub_operation);
        g_free(e->message);
        g_free(e);
}

/* --- identity --- */

int mig_store_get_identity(MigStore *s, const char *key, char **value, GError **error) {
        g_autoptr(sqlite3_stmt) st = NULL;
        int r = prepare(s, "SELECT value FROM identity WHERE key=?", &st, error);
        if (r < 0)
                return r;
        sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
        int rc = sqlite3_step(st);
        if (rc != SQLITE_ROW && rc != SQLITE_DONE)
                return store_fail(s, rc, error, "Could not read the node's identity");
        *value = rc == SQLITE_ROW ? column_strdup(st, 0) : NULL;
        return 0;
}

int mig_store_set_identity(MigStore *s, const char *key, const char *value, GError **error) {
        g_autoptr(sqlite3_stmt) st = NULL;
        int r = prepare(s, "INSERT OR REPLACE INTO identity (key, value) VALUES (?,?)", &st, error);
        if (r < 0)
                return r;
        sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
        return step_done(s, st, error);
}

/* --- links --- */

int mig_store_get_link(MigStore *s, const char *peer, uint64_t *bytes_per_sec, GError **error) {
        g_autoptr(sqlite3_stmt) st = NULL;
        int r = prepare(s,
                        "SELECT MIN(bytes_per_sec) FROM (SELECT bytes_per_sec FROM links WHERE peer=?"
                        " ORDER BY seq DESC LIMIT " G_STRINGIFY(MIG_STORE_LINKS_KEPT) ")",
                        &st, error);
        if (r < 0)
                return r;
        sqlite3_bind_text(st, 1, peer, -1, SQLITE_STATIC);
        int rc = sqlite3_step(st);
        if (rc != SQLITE_ROW && rc != SQLITE_DONE)
                return store_fail(s, rc, error, "Could not read the link's rate");
        *bytes_per_sec = rc == SQLITE_ROW ? (uint64_t) sqlite3_column_int64(st, 0) : 0; /* NULL: 0 */
        return 0;
}

int mig_store_set_link(MigStore *s, const char *peer, uint64_t bytes_per_sec, uint64_t now_usec,
                       GError **error) {
        g_autoptr(sqlite3_stmt) st = NULL;
        int r = prepare(s, "INSERT INTO links (peer, bytes_per_sec, measured_usec) VALUES (?,?,?)", &st,
                        error);
        if (r < 0)
                return r;
        sqlite3_bind_text(st, 1, peer, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, (sqlite3_int64) bytes_per_sec);
        sqlite3_bind_int64(st, 3, (sqlite3_int64) now_usec);
        r = step_done(s, st, error);
        g_autoptr(sqlite3_stmt) old = NULL;
        if (r >= 0)
                r = prepare(
                        s,
                        "DELETE FROM links WHERE peer=?1 AND seq NOT IN (SELECT seq FROM links WHERE peer=?1"
                        " ORDER BY seq DESC LIMIT " G_STRINGIFY(MIG_STORE_LINKS_KEPT) ")",
                        &old, error);
        if (r < 0)
                return r;
        sqlite3_bind_text(old, 1, peer, -1, SQLITE_STATIC);
        return step_done(s, old, error);
}
