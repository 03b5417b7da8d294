/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "manager.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "audit.h"
#include "errors.h"
#include "macro.h"

#define STEP_THREADS 4 /* the worker's lanes: steps, reads (long jobs get a thread each) */
#define READ_THREADS 2

typedef struct ManagerWatcher {
        ManagerWatch fn;
        void *userdata;
} ManagerWatcher;

static int load_migrations(Manager *m) {
        g_autoptr(GPtrArray) list = NULL;
        g_autoptr(GError) e = NULL;
        int r = mig_store_load_migrations(m->store, &list, &e);
        if (r < 0) {
                g_printerr("%s\n", e->message);
                return r;
        }
        for (guint i = 0; i < list->len; i++) {
                MigMigration *mig = g_ptr_array_steal_index(list, i--);
                if (!mig_status_is_final(mig->status))
                        g_message("Migration %s of %s is unfinished (%s); it stays in flight.", mig->id,
                                  mig->domain_name, mig->status);
                mig->touched_boottime = mig_boottime_usec(); /* a lease restarts with the daemon */
                g_hash_table_replace(m->migrations, mig->id, mig);
        }
        return 0;
}

#define PRUNE_INTERVAL_USEC (3600 * USEC_PER_SEC)

static void notify(Manager *m, const MigMigration *mig, MigChange change);

/* Removes the ended migrations past HistoryDays and HistoryMax from the store and, once
 * loaded, from memory (the watchers hear of each first). */
static int prune(Manager *m) {
        g_autoptr(GPtrArray) final = g_ptr_array_new();
        for (const char *const *s = mig_status_names; *s; s++)
                if (mig_status_is_final(*s))
                        g_ptr_array_add(final, (char *) *s);
        g_ptr_array_add(final, NULL);
        uint64_t age = (uint64_t) m->config->history_days * 24 * 3600 * USEC_PER_SEC, now = mig_now_usec();
        uint64_t cutoff = age && now > age ? now - age : 0;
        g_autoptr(GPtrArray) ids = NULL;
        g_autoptr(GError) e = NULL;
        int r = mig_store_prune_migrations(m->store, (const char *const *) final->pdata, cutoff,
                                           m->config->history_max, &ids, &e);
        if (r < 0) {
                g_warning("Cannot prune the history of ended migrations: %s", e->message);
                return r;
        }
        for (guint i = 0; i < ids->len; i++) {
                MigMigration *mig = manager_find_migration(m, ids->pdata[i]);
                if (!mig)
                        continue;
                notify(m, mig, MIG_CHANGE_REMOVED);
                g_hash_table_remove(m->migrations, ids->pdata[i]);
        }
        if (ids->len > 0)
                g_message("Pruned %u ended migration(s) past HistoryDays=%u or HistoryMax=%u.", ids->len,
                          m->config->history_days, m->config->history_max);
        return 0;
}

static int on_prune_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        (void) prune(userdata);
        int r = sd_event_source_set_time_relative(s, PRUNE_INTERVAL_USEC);
        return r < 0 ? r : sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
}

int manager_start_pruning(Manager *m) {
        return sd_event_add_time_relative(m->event, &m->prune_timer, CLOCK_MONOTONIC, PRUNE_INTERVAL_USEC, 0,
                                          on_prune_timer, m);
}

static int open_store(Manager *m, const char *state_dir) {
        g_autoptr(GError) e = NULL;
        if (g_mkdir_with_parents(state_dir, 0700) < 0) {
                g_printerr("Cannot create %s: %s\n", state_dir, g_strerror(errno));
                return -errno;
        }
        g_autofree char *path = g_build_filename(state_dir, "migrated.sqlite", NULL);
        int r = mig_store_open(path, &m->store, &e);
        if (r < 0)
                g_printerr("%s\n", e->message);
        return r;
}

int manager_new(const ManagerOptions *o, Manager **ret) {
        g_autoptr(Manager) m = g_new0(Manager, 1);
        g_autoptr(GError) e = NULL;
        m->config = mig_config_load(o->config_path, &e);
        if (!m->config) {
                g_printerr("Refusing to start: %s\n", e->message);
                return -EINVAL;
        }
        m->migrations =
                g_hash_table_new_full(g_str_hash, g_str_equal, NULL, (GDestroyNotify) mig_migration_free);
        m->conflicts = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
        m->watches = g_array_new(FALSE, FALSE, sizeof(ManagerWatcher));
        m->lease_kinds = g_ptr_array_new();
        /* --idle-timeout wins; otherwise the config's IdleTimeout. */
        m->idle_usec = o->idle_usec != UINT64_MAX ? o->idle_usec : m->config->idle_timeout * USEC_PER_SEC;
        int r = sd_event_default(&m->event);
        if (r < 0)
                return r;
        m->state_dir = g_strdup(o->state_dir);
        r = open_store(m, o->state_dir);
        if (r < 0)
                return r;
        (void) prune(m); /* before the load: only what is kept comes into memory */
        r = load_migrations(m);
        if (r < 0)
                return r;
        r = mig_worker_new(m->event, STEP_THREADS, READ_THREADS, &m->worker);
        if (r < 0)
                return r;
        m->virt = mig_virt_new(m->config->libvirt_uri);
        m->polkit = mig_polkit_new();
        m->peers = mig_peers_new(m->event, m->config);
        *ret = g_steal_pointer(&m);
        return 0;
}

void manager_free(Manager *m) {
        if (!m)
                return;
        /* Threads first: they may still hold libvirt connections (libvirt's event thread is
         * stopped by main.c before). */
        mig_worker_free(m->worker);
        g_clear_pointer(&m->cold_jobs, g_hash_table_unref);
        g_clear_pointer(&m->cold_confirm_timers, g_hash_table_unref);
        g_clear_pointer(&m->live_jobs, g_hash_table_unref);
        g_clear_pointer(&m->evacuations, g_hash_table_unref);
        g_clear_pointer(&m->evac_watches, g_ptr_array_unref);
        g_clear_pointer(&m->evac_kinds, g_ptr_array_unref);
        g_clear_pointer(&m->mirrors, g_hash_table_unref);
        mig_polkit_free(m->polkit);
        mig_peers_free(m->peers);
        sd_event_source_disable_unref(m->idle_timer);
        sd_event_source_disable_unref(m->prune_timer);
        sd_event_source_disable_unref(m->spool_watch);
        sd_event_source_disable_unref(m->conflict_timer);
        if (m->conflicts)
                g_hash_table_unref(m->conflicts);
        sd_bus_flush_close_unref(m->bus);
        mig_virt_free(m->virt);
        mig_store_close(m->store);
        if (m->migrations)
                g_hash_table_unref(m->migrations);
        mig_config_free(m->config);
        g_free(m->state_dir);
        g_free(m->host_uuid);
        if (m->watches)
                g_array_unref(m->watches);
        if (m->lease_kinds)
                g_ptr_array_unref(m->lease_kinds);
        sd_event_unref(m->event);
        g_free(m);
}

const char *manager_node(const Manager *m) {
        return m->config->node_name;
}

int manager_run(Manager *m) {
        (void) sd_event_add_signal(m->event, NULL, SIGTERM | SD_EVENT_SIGNAL_PROCMASK, NULL, NULL);
        (void) sd_event_add_signal(m->event, NULL, SIGINT | SD_EVENT_SIGNAL_PROCMASK, NULL, NULL);
        g_message("Node %s ready on the bus as %s.", manager_node(m), MIG_BUS_NAME);
        return sd_event_loop(m->event);
}

void manager_watch(Manager *m, ManagerWatch fn, void *userdata) {
        ManagerWatcher w = {fn, userdata};
        g_array_append_val(m->watches, w);
}

void manager_watch_events(Manager *m, ManagerEventWatch fn) {
        m->event_watch = fn;
}

static void notify(Manager *m, const MigMigration *mig, MigChange change) {
        for (guint i = 0; i < m->watches->len; i++) {
                const ManagerWatcher *w = &g_array_index(m->watches, ManagerWatcher, i);
                w->fn(m, mig, change, w->userdata);
        }
}

static void notify_event(Manager *m, const MigMigration *mig, const char *message) {
        if (m->event_watch && message)
                m->event_watch(m, mig, message);
}

void manager_publish(Manager *m, const MigMigration *mig) {
        notify(m, mig, MIG_CHANGE_CHANGED);
}

MigMigration *manager_find_migration(Manager *m, const char *id) {
        return id ? g_hash_table_lookup(m->migrations, id) : NULL;
}

static bool migration_of(const MigMigration *mig, const char *domain) {
        return strcmp(mig->domain_name, domain) == 0 || g_ascii_strcasecmp(mig->domain_uuid, domain) == 0;
}

MigMigration *manager_find_inflight(Manager *m, const char *domain) {
        GHashTableIter it;
        MigMigration *mig;
        g_hash_table_iter_init(&it, m->migrations);
        while (g_hash_table_iter_next(&it, NULL, (gpointer *) &mig))
                if (!mig_status_is_final(mig->status) && migration_of(mig, domain))
                        return mig;
        return NULL;
}

MigMigration *manager_find_latest(Manager *m, const char *domain) {
        GHashTableIter it;
        MigMigration *mig, *best = NULL;
        g_hash_table_iter_init(&it, m->migrations);
        while (g_hash_table_iter_next(&it, NULL, (gpointer *) &mig))
                if (migration_of(mig, domain) && (!best || mig->created_usec > best->created_usec))
                        best = mig;
        return best;
}

unsigned manager_inflight_count(Manager *m) {
        GHashTableIter it;
        MigMigration *mig;
        unsigned n = 0;
        g_hash_table_iter_init(&it, m->migrations);
        while (g_hash_table_iter_next(&it, NULL, (gpointer *) &mig))
                n += !mig_status_is_final(mig->status);
        return n;
}

unsigned manager_count(Manager *m, const char *kind, const char *role, const char *const *statuses) {
        GHashTableIter it;
        MigMigration *mig;
        unsigned n = 0;
        g_hash_table_iter_init(&it, m->migrations);
        while (g_hash_table_iter_next(&it, NULL, (gpointer *) &mig))
                n += strcmp(mig->kind, kind) == 0 && strcmp(mig->role, role) == 0 &&
                     g_strv_contains(statuses, mig->status);
        return n;
}

int manager_store_error(sd_bus_error *error, int r, const GError *e) {
        return sd_bus_error_set(error, r == -ENOSPC ? MIG_ERROR_NO_SPACE : MIG_ERROR_STORE,
                                e ? e->message : "The state database failed");
}

int manager_add_migration(Manager *m, MigMigration *mig, const char *message, sd_bus_error *error) {
        g_autoptr(MigMigration) owned = mig;
        g_autoptr(GError) e = NULL;
        int r = mig_store_insert_migration(m->store, mig, message, &e);
        if (r < 0)
                return manager_store_error(error, r, e);
        mig->touched_boottime = mig_boottime_usec();
        g_hash_table_replace(m->migrations, mig->id, g_steal_pointer(&owned));
        mig_audit_transition(mig, manager_node(m), NULL, message);
        notify(m, mig, MIG_CHANGE_ADDED);
        notify_event(m, mig, message ? message : "");
        return 0;
}

int manager_save_migration(Manager *m, MigMigration *mig, const char *message, sd_bus_error *error) {
        g_autoptr(GError) e = NULL;
        mig->updated_usec = mig_now_usec();
        int r = mig_store_update_migration(m->store, mig, message, &e);
        if (r < 0)
                return manager_store_error(error, r, e);
        mig->touched_boottime = mig_boottime_usec();
        notify_event(m, mig, message);
        notify(m, mig, MIG_CHANGE_CHANGED);
        return 0;
}

bool manager_domain_moved_away(Manager *m, const char *uuid) {
        static const char *const away[] = {"post-migrating", "finished", "confirming", "reverting", NULL};
        MigMigration *mig = manager_find_inflight(m, uuid);
        return mig && strcmp(mig->role, "source") == 0 && strcmp(mig->kind, "cold") == 0 &&
               g_strv_contains(away, mig->status);
}

int manager_refuse_busy(Manager *m, const MigDomainInfo *d, sd_bus_error *error) {
        MigMigration *busy = manager_find_inflight(m, d->uuid);
        if (busy)
                return sd_bus_error_setf(error, MIG_ERROR_CONFLICT,
                                         "Domain %s is already being migrated (%s, %s).", d->name, busy->id,
                                         busy->status);
        return 0;
}

bool manager_domain_arriving(Manager *m, const char *uuid) {
        MigMigration *mig = manager_find_inflight(m, uuid);
        return mig && strcmp(mig->role, "destination") == 0 && strcmp(mig->kind, "live") == 0;
}

/* What a transition changes, kept to undo it when the write fails. */
typedef struct Before {
        char *status, *task_state;
        uint64_t finished_usec, updated_usec, bytes_processed, bytes_remaining;
        double progress;
} Before;

static void before_take(Before *b, const MigMigration *mig) {
        *b = (Before){g_strdup(mig->status), g_strdup(mig->task_state), mig->finished_usec,
                      mig->updated_usec,     mig->bytes_processed,      mig->bytes_remaining,
                      mig->progress};
}

static void before_restore(Before *b, MigMigration *mig) {
        g_free(mig->status);
        g_free(mig->task_state);
        mig->status = b->status;
        mig->task_state = b->task_state;
        mig->finished_usec = b->finished_usec;
        mig->updated_usec = b->updated_usec;
        mig->bytes_processed = b->bytes_processed;
        mig->bytes_remaining = b->bytes_remaining;
        mig->progress = b->progress;
}

int manager_transition(Manager *m, MigMigration *mig, const char *status, const char *task,
                       const char *message) {
        Before b;
        before_take(&b, mig);
        bool ended = mig_status_is_final(status) || strcmp(status, "finished") == 0;
        mig_set_string(&mig->status, status);
        if (task || ended)
                mig_set_string(&mig->task_state, task ? task : "");
        if (ended)
                mig->finished_usec = mig_now_usec();
        if (strcmp(status, "finished") == 0 || strcmp(status, "completed") == 0) {
                mig->bytes_processed = MAX(mig->bytes_processed, mig->bytes_total);
                mig->bytes_remaining = 0;
                mig->progress = 100.0;
        }
        g_auto(sd_bus_error) e = SD_BUS_ERROR_NULL;
        int r = manager_save_migration(m, mig, message, &e);
        if (r < 0) {
                g_warning("Cannot record %s for migration %s (%s): %s; the step stops there.", status,
                          mig->id, b.status, e.message);
                before_restore(&b, mig);
                return r;
        }
        g_message("Migration %s of %s: %s%s%s", mig->id, mig->domain_name, status, message ? ": " : "",
                  message ? message : "");
        if (strcmp(b.status, status) != 0)
                mig_audit_transition(mig, manager_node(m), b.status, message);
        g_free(b.status);
        g_free(b.task_state);
        return 0;
}

MigPeer *manager_peer_of(Manager *m, MigMigration *mig, const char *node, sd_bus_error *error) {
        MigPeer *peer = mig_peers_find(m->peers, node);
        if (peer)
                return peer;
        g_autofree char *why =
                g_strdup_printf("node %s is not a configured peer of %s: migration %s cannot go on "
                                "from %s until [Peer %s] is in %s again",
                                node && *node ? node : "(none)", manager_node(m), mig->id, mig->status, node,
                                m->config->path ? m->config->path : "the config");
        sd_bus_error_setf(error, MIG_ERROR_PEER_UNREACHABLE, "%c%s.", g_ascii_toupper(why[0]), why + 1);
        if (g_strcmp0(mig->unconfigured_noted, mig->status) != 0) {
                g_warning("Migration %s: %s.", mig->id, why);
                g_auto(sd_bus_error) e = SD_BUS_ERROR_NULL;
                if (manager_save_migration(m, mig, why, &e) >= 0)
                        mig_set_string(&mig->unconfigured_noted, mig->status);
        }
        return NULL;
}

void manager_record_failure(MigMigration *mig, const char *name, const char *message) {
        mig_set_string(&mig->error_name, name ? name : MIG_ERROR_INTERNAL);
        mig_set_string(&mig->error_message, message ? message : "unknown failure");
}

int manager_set_destination(Manager *m, MigMigration *mig, const char *node, const char *message) {
        g_autofree char *before = g_strdup(mig->destination);
        mig_set_string(&mig->destination, node);
        int r = manager_transition(m, mig, mig->status, NULL, message);
        if (r < 0)
                mig_set_string(&mig->destination, before);
        return r;
}

int manager_commit_error(Manager *m, sd_bus_error *error, int r, const char *what) {
        return sd_bus_error_setf(error, r == -ENOSPC ? MIG_ERROR_NO_SPACE : MIG_ERROR_STORE,
                                 "Node %s could not record %s (%s): it was not done.", manager_node(m), what,
                                 r == -ENOSPC ? "its disk is full" : strerror(-r));
}
