/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <sqlite3.h>
#include <string.h>
#include <sys/stat.h>

#include "store.h"

static char *tmpdir(void) {
        g_autoptr(GError) e = NULL;
        char *d = g_dir_make_tmp("migrated-store-XXXXXX", &e);
        g_assert_no_error(e);
        return d;
}

static MigMigration *sample(const char *id) {
        MigMigration *m = mig_migration_new();
        m->id = g_strdup(id);
        m->domain_name = g_strdup("vm1");
        m->domain_uuid = g_strdup("c7a5fdbd-cdaf-9455-926a-d65c16db1809");
        m->kind = g_strdup("cold");
        m->role = g_strdup("source");
        m->source = g_strdup("hosta");
        m->destination = g_strdup("hostb");
        mig_set_string(&m->status, "pre-migrating");
        m->created_usec = m->updated_usec = 1000;
        return m;
}

static void test_roundtrip(void) {
        g_autofree char *dir = tmpdir();
        g_autofree char *path = g_build_filename(dir, "db.sqlite", NULL);
        g_autoptr(GError) e = NULL;
        {
                g_autoptr(MigStore) s = NULL;
                g_assert_cmpint(mig_store_open(path, &s, &e), ==, 0);
                g_autoptr(MigMigration) m = sample("0123456789abcdef0123456789abcdef");
                g_assert_cmpint(mig_store_insert_migration(s, m, "requested", &e), ==, 0);
                mig_set_string(&m->status, "migrating");
                mig_set_string(&m->task_state, "resize_migrating");
                m->bytes_processed = 42;
                m->progress = 12.5;
                mig_set_string(&m->domain_xml, "<domain/>");
                mig_set_string(&m->disks_json, "[{\"path\":\"/x\"}]");
                m->was_running = true;
                m->claim_memory = 1 << 30;
                m->claim_vcpus = 2;
                m->updated_usec = 2000;
                mig_set_string(&m->destination, "hostc"); /* the scheduler chose after the insert */
                m->old_memory = 128 << 20;
                m->new_memory = 256 << 20;
                m->old_vcpus = 1;
                m->new_vcpus = 2;
                g_assert_cmpint(mig_store_update_migration(s, m, "copying disks", &e), ==, 0);
                g_assert_cmpint(mig_store_set_host_state(s, "hosta", false, "maintenance", &e), ==, 0);
        }
        /* Reopened, as after a restart: everything committed is there. */
        g_autoptr(MigStore) s = NULL;
        g_assert_cmpint(mig_store_open(path, &s, &e), ==, 0);
        g_autoptr(GPtrArray) list = NULL;
        g_assert_cmpint(mig_store_load_migrations(s, &list, &e), ==, 0);
        g_assert_cmpuint(list->len, ==, 1);
        MigMigration *m = list->pdata[0];
        g_assert_cmpstr(m->status, ==, "migrating");
        g_assert_cmpstr(m->task_state, ==, "resize_migrating");
        g_assert_cmpuint(m->bytes_processed, ==, 42);
        g_assert_cmpfloat(m->progress, ==, 12.5);
        g_assert_cmpstr(m->domain_xml, ==, "<domain/>");
        g_assert_cmpstr(m->disks_json, ==, "[{\"path\":\"/x\"}]");
        g_assert_true(m->was_running);
        g_assert_cmpuint(m->claim_memory, ==, 1 << 30);
        g_assert_cmpuint(m->claim_vcpus, ==, 2);
        g_assert_cmpstr(m->destination, ==, "hostc");
        g_assert_cmpuint(m->old_memory, ==, 128 << 20);
        g_assert_cmpuint(m->new_memory, ==, 256 << 20);
        g_assert_cmpuint(m->old_vcpus, ==, 1);
        g_assert_cmpuint(m->new_vcpus, ==, 2);
        g_autoptr(GPtrArray) events = NULL;
        g_assert_cmpint(mig_store_load_events(s, m->id, &events, &e), ==, 0);
        g_assert_cmpuint(events->len, ==, 2);
        g_assert_cmpstr(((MigEvent *) events->pdata[0])->status, ==, "pre-migrating");
        g_assert_cmpstr(((MigEvent *) events->pdata[1])->message, ==, "copying disks");
        bool enabled = true;
        g_autofree char *reason = NULL;
        g_assert_cmpint(mig_store_get_host_state(s, "hosta", &enabled, &reason, &e), ==, 0);
        g_assert_false(enabled);
        g_assert_cmpstr(reason, ==, "maintenance");
        g_autofree char *other_reason = NULL;
        g_assert_cmpint(mig_store_get_host_state(s, "hostz", &enabled, &other_reason, &e), ==, 0);
        g_assert_true(enabled);
}

static void test_update_unknown(void) {
        g_autofree char *dir = tmpdir();
        g_autofree char *path = g_build_filename(dir, "db.sqlite", NULL);
        g_autoptr(GError) e = NULL;
        g_autoptr(MigStore) s = NULL;
        g_assert_cmpint(mig_store_open(path, &s, &e), ==, 0);
        g_autoptr(MigMigration) m = sample("ffffffffffffffffffffffffffffffff");
        g_assert_cmpint(mig_store_update_migration(s, m, "x", &e), ==, -ENOENT);
        g_assert_nonnull(e);
        /* The failed transaction left no event behind. */
        g_autoptr(GPtrArray) events = NULL;
        g_clear_error(&e);
        g_assert_cmpint(mig_store_load_events(s, m->id, &events, &e), ==, 0);
        g_assert_cmpuint(events->len, ==, 0);
}

static void test_newer_schema_refused(void) {
        g_autofree char *dir = tmpdir();
        g_autofree char *path = g_build_filename(dir, "db.sqlite", NULL);
        g_autoptr(GError) e = NULL;
        {
                g_autoptr(MigStore) s = NULL;
                g_assert_cmpint(mig_store_open(path, &s, &e), ==, 0);
        }
        sqlite3 *db;
        g_assert_cmpint(sqlite3_open(path, &db), ==, SQLITE_OK);
        g_assert_cmpint(sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL), ==, SQLITE_OK);
        sqlite3_close(db);
        g_autoptr(MigStore) s = NULL;
        g_assert_cmpint(mig_store_open(path, &s, &e), <, 0);
        g_assert_nonnull(strstr(e->message, "newer"));
}

static unsigned file_mode(const char *dir, const char *name) {
        g_autofree char *p = g_build_filename(dir, name, NULL);
        GStatBuf st;
        g_assert_cmpint(g_stat(p, &st), ==, 0);
        return st.st_mode & 07777;
}

/* The database holds domain XML: 0600 with its -wal and -shm, whatever the umask
 * (dbus-daemon's, where no systemd runs), and an older install's 0644 tightened. */
static void test_private_mode(void) {
        g_autofree char *dir = tmpdir();
        g_autofree char *path = g_build_filename(dir, "db.sqlite", NULL);
        g_autoptr(GError) e = NULL;
        mode_t old_umask = umask(0);
        {
                g_autoptr(MigStore) s = NULL;
                g_assert_cmpint(mig_store_open(path, &s, &e), ==, 0);
                g_autoptr(MigMigration) m = sample("00000000000000000000000000000001");
                g_assert_cmpint(mig_store_insert_migration(s, m, "requested", &e), ==, 0);
                /* Open, in WAL mode: sqlite made the -wal and -shm with the database's mode. */
                g_assert_cmpuint(file_mode(dir, "db.sqlite"), ==, 0600);
                g_assert_cmpuint(file_mode(dir, "db.sqlite-wal"), ==, 0600);
                g_assert_cmpuint(file_mode(dir, "db.sqlite-shm"), ==, 0600);
        }
        /* An older install: all three 0644. */
        g_autofree char *old = g_build_filename(dir, "old.sqlite", NULL);
        umask(022);
        sqlite3 *db;
        g_assert_cmpint(sqlite3_open(old, &db), ==, SQLITE_OK);
        g_assert_cmpint(sqlite3_exec(db, "CREATE TABLE t (x)", NULL, NULL, NULL), ==, SQLITE_OK);
        sqlite3_close(db);
        const char *const suffixes[] = {"-wal", "-shm"};
        for (size_t i = 0; i < G_N_ELEMENTS(suffixes); i++) {
                g_autofree char *p = g_strconcat(old, suffixes[i], NULL);
                g_assert_true(g_file_set_contents(p, "", 0, NULL)); /* empty: sqlite starts them over */
                g_assert_cmpint(g_chmod(p, 0644), ==, 0);
        }
        g_assert_cmpuint(file_mode(dir, "old.sqlite"), ==, 0644);
        {
                g_autoptr(MigStore) s = NULL;
                g_assert_cmpint(mig_store_open(old, &s, &e), ==, 0);
                g_assert_cmpuint(file_mode(dir, "old.sqlite"), ==, 0600);
                g_assert_cmpuint(file_mode(dir, "old.sqlite-wal"), ==, 0600);
                g_assert_cmpuint(file_mode(dir, "old.sqlite-shm"), ==, 0600);
                g_autoptr(GPtrArray) list = NULL;
                g_assert_cmpint(mig_store_load_migrations(s, &list, &e), ==, 0);
                g_assert_cmpuint(list->len, ==, 0);
        }
        umask(old_umask);
}

/* The history is bounded: ended migrations past the age or beyond the count go, with their
 * events; those in flight stay whatever their age. */
/* A peer's link is the slowest of its last MIG_STORE_LINKS_KEPT measurements. */
static void test_links(void) {
        g_autofree char *dir = tmpdir();
        g_autofree char *path = g_build_filename(dir, "db.sqlite", NULL);
        g_autoptr(GError) e = NULL;
        g_autoptr(MigStore) s = NULL;
        g_assert_cmpint(mig_store_open(path, &s, &e), ==, 0);
        uint64_t rate = 1;
        g_assert_cmpint(mig_store_get_link(s, "hostb", &rate, &e), ==, 0);
        g_assert_cmpuint(rate, ==, 0); /* never measured */
        const uint64_t rates[] = {300, 55, 300};
        for (size_t i = 0; i < G_N_ELEMENTS(rates); i++)
                g_assert_cmpint(mig_store_set_link(s, "hostb", rates[i], i, &e), ==, 0);
        g_assert_cmpint(mig_store_set_link(s, "hostc", 10, 0, &e), ==, 0);
        g_assert_cmpint(mig_store_get_link(s, "hostb", &rate, &e), ==, 0);
        g_assert_cmpuint(rate, ==, 55);
        for (int i = 0; i < MIG_STORE_LINKS_KEPT - 1; i++)
                g_assert_cmpint(mig_store_set_link(s, "hostb", 300, 10 + i, &e), ==, 0);
        g_assert_cmpint(mig_store_get_link(s, "hostb", &rate, &e), ==, 0);
        g_assert_cmpuint(rate, ==, 300); /* the slow one is 5 measurements old: gone */
        g_assert_cmpint(mig_store_get_link(s, "hostc", &rate, &e), ==, 0);
        g_assert_cmpuint(rate, ==, 10);
}

static void test_prune(void) {
        static const char *const final[] = {"confirmed", "reverted", "error", "cancelled",
                                            "completed", "failed",   NULL};
        g_autofree char *dir = tmpdir();
        g_autofree char *path = g_build_filename(dir, "db.sqlite", NULL);
        g_autoptr(GError) e = NULL;
        g_autoptr(MigStore) s = NULL;
        g_assert_cmpint(mig_store_open(path, &s, &e), ==, 0);
        /* ids ...00 to ...04 ended at 100..500; ...05 in flight, very old */
        for (int i = 0; i < 6; i++) {
                g_autofree char *id = g_strdup_printf("0123456789abcdef01234567890000%02d", i);
                g_autoptr(MigMigration) m = sample(id);
                mig_set_string(&m->status, i < 5 ? "confirmed" : "migrating");
                m->finished_usec = i < 5 ? (uint64_t) (i + 1) * 100 : 0;
                g_assert_cmpint(mig_store_insert_migration(s, m, "requested", &e), ==, 0);
        }
        g_autoptr(GPtrArray) gone = NULL;
        /* by age: ended before 250 */
        g_assert_cmpint(mig_store_prune_migrations(s, final, 250, 0, &gone, &e), ==, 0);
        g_assert_cmpuint(gone->len, ==, 2);
        g_clear_pointer(&gone, g_ptr_array_unref);
        /* by count: the newest 2 ended ones stay */
        g_assert_cmpint(mig_store_prune_migrations(s, final, 0, 2, &gone, &e), ==, 0);
        g_assert_cmpuint(gone->len, ==, 1);
        g_assert_cmpstr(gone->pdata[0], ==, "0123456789abcdef0123456789000002");
        g_autoptr(GPtrArray) left = NULL;
        g_assert_cmpint(mig_store_load_migrations(s, &left, &e), ==, 0);
        g_assert_cmpuint(left->len, ==, 3);
        g_autoptr(GPtrArray) events = NULL;
        g_assert_cmpint(mig_store_load_events(s, "0123456789abcdef0123456789000000", &events, &e), ==, 0);
        g_assert_cmpuint(events->len, ==, 0); /* its events went with it */
        g_clear_pointer(&events, g_ptr_array_unref);
        g_assert_cmpint(mig_store_load_events(s, "0123456789abcdef0123456789000005", &events, &e), ==, 0);
        g_assert_cmpuint(events->len, ==, 1); /* in flight: kept */
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/store/roundtrip", test_roundtrip);
        g_test_add_func("/store/update-unknown", test_update_unknown);
        g_test_add_func("/store/newer-schema-refused", test_newer_schema_refused);
        g_test_add_func("/store/private-mode", test_private_mode);
        g_test_add_func("/store/prune", test_prune);
        g_test_add_func("/store/links", test_links);
        return g_test_run();
}
