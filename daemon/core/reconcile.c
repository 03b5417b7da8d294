/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "reconcile.h"

#include <string.h>

#include "bus-variant.h"
#include "errors.h"
#include "events.h"
#include "macro.h"
#include "validate.h"

#define CONFLICT_RECHECK_USEC (10 * USEC_PER_SEC)

/* --- the live outcome table --- */

static bool is(const char *view, const char *what) {
        return view && strcmp(view, what) == 0;
}

static bool gone(const char *view) {
        return is(view, MIG_VIEW_ABSENT) || is(view, MIG_VIEW_SHUTOFF);
}

static bool paused(const char *view) {
        return is(view, MIG_VIEW_PAUSED) || is(view, MIG_VIEW_PAUSED_MIGRATION);
}

LiveOutcome reconcile_live_outcome(const char *src, const char *dst, const char **why) {
        if (!src || !dst)
                return *why = "a node's view is unknown", LIVE_WAIT;
        if (is(src, MIG_VIEW_POSTCOPY) || is(dst, MIG_VIEW_POSTCOPY))
                return *why = "the domain is in post-copy: its memory is split between both nodes",
                       LIVE_CONFLICT;
        if (is(dst, MIG_VIEW_RUNNING)) {
                if (gone(src))
                        return *why = "the destination runs the domain", LIVE_COMPLETED;
                if (paused(src))
                        return *why = "the destination runs the domain; the source's paused copy is stale",
                               LIVE_COMPLETED_DROP_SOURCE;
                return *why = "the domain runs on both nodes", LIVE_CONFLICT;
        }
        if (paused(dst)) {
                if (gone(src))
                        return *why = "only the destination's paused copy is left",
                               LIVE_COMPLETED_RESUME_DEST;
                if (paused(src))
                        return *why = "the switch-over never finished: the source's copy is complete",
                               LIVE_ROLLBACK_RESUME;
                return *why = "the source runs the domain", LIVE_ROLLBACK;
        }
        /* the destination has no copy */
        if (is(src, MIG_VIEW_RUNNING))
                return *why = "the source runs the domain", LIVE_ROLLBACK;
        if (paused(src))
                return *why = "the source's paused copy is the only one", LIVE_ROLLBACK_RESUME;
        return *why = "the domain runs on neither node", LIVE_CONFLICT;
}

/* --- conflicts --- */

const char *reconcile_conflict(Manager *m, const char *uuid) {
        return uuid ? g_hash_table_lookup(m->conflicts, uuid) : NULL;
}

/* A finding of the reconciliation, recorded as the domain's event and followed like one. */
static void note(Manager *m, const char *name, const char *uuid, const char *operation, const char *why) {
        events_note(m, name, uuid, operation, why);
        reconcile_domain_event(m, name, uuid, operation);
}

static int on_recheck(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;
        m->conflict_timer = sd_event_source_disable_unref(m->conflict_timer);
        if (g_hash_table_size(m->conflicts) > 0)
                reconcile_all(m, "a conflict stands");
        return 0;
}

void reconcile_raise_conflict(Manager *m, const char *name, const char *uuid, const char *why) {
        bool is_new = !g_hash_table_contains(m->conflicts, uuid);
        g_hash_table_replace(m->conflicts, g_strdup(uuid), g_strdup(why));
        if (is_new) {
                g_warning("CONFLICT: domain %s (%s): %s. Nothing is destroyed; an operator decides which "
                          "copy lives.",
                          name, uuid, why);
                note(m, name, uuid, "conflict", why);
        }
        if (!m->conflict_timer)
                (void) sd_event_add_time_relative(m->event, &m->conflict_timer, CLOCK_MONOTONIC,
                                                  CONFLICT_RECHECK_USEC, 0, on_recheck, m);
}

void reconcile_clear_conflict(Manager *m, const char *name, const char *uuid, const char *why) {
        if (!g_hash_table_remove(m->conflicts, uuid))
                return;
        g_message("Conflict of domain %s (%s) resolved: %s.", name, uuid, why);
        note(m, name, uuid, "conflict-resolved", why);
}

/* --- the two-copies check of one domain --- */

typedef struct Check {
        Manager *m;
        char *name, *uuid;
        GString *elsewhere; /* peers where it is active too */
        bool unknown;       /* a peer did not answer */
} Check;

static void check_free(Check *c) {
        g_free(c->name);
        g_free(c->uuid);
        g_string_free(c->elsewhere, TRUE);
        g_free(c);
}

static void tell_peers(Manager *m, const char *uuid) {
        for (unsigned i = 0; i < mig_peers_count(m->peers); i++)
                mig_peer_notify(mig_peers_get(m->peers, i), "CheckDomain", g_variant_new("(s)", uuid));
}

/* The verdict on a domain active here, from the peers where it is active too (elsewhere:
 * "" for none) and whether every peer answered. */
static void judge(Manager *m, const char *name, const char *uuid, const char *elsewhere, bool unknown) {
        if (*elsewhere && !manager_find_inflight(m, uuid)) {
                g_autofree char *why =
                        g_strdup_printf("it is active on %s and on %s", manager_node(m), elsewhere);
                if (!reconcile_conflict(m, uuid))
                        tell_peers(m, uuid); /* they see it too, whoever looked first */
                reconcile_raise_conflict(m, name, uuid, why);
        } else if (!*elsewhere && !unknown)
                reconcile_clear_conflict(m, name, uuid, "it is active on one node only");
}

static void check_one_done(void *userdata) {
        Check *c = userdata;
        judge(c->m, c->name, c->uuid, c->elsewhere->str, c->unknown);
        check_free(c);
}

static void on_peer_describe(MigPeer *peer, GVariant *reply, const sd_bus_error *error, void *userdata) {
        Check *c = userdata;
        if (reply) {
                const char *power = mig_dict_string(reply, "power-state");
                if (power && strcmp(power, "SHUTOFF") != 0 && strcmp(power, "ERROR") != 0)
                        g_string_append_printf(c->elsewhere, "%s%s", c->elsewhere->len ? ", " : "",
                                               mig_peer_name(peer));
        } else if (!error || strcmp(error->name, MIG_ERROR_NOT_FOUND) != 0)
                c->unknown = true;
}

void reconcile_check_domain(Manager *m, const char *name, const char *uuid) {
        if (!uuid || !*uuid || manager_find_inflight(m, uuid))
                return; /* a migration in flight has two copies on purpose */
        Check *c = g_new0(Check, 1);
        *c = (Check){m, g_strdup(name), g_strdup(uuid), g_string_new(""), false};
        mig_peers_ask_all(m->peers, "DescribeDomain", MIG_PEER_TIMEOUT_USEC, on_peer_describe,
                          check_one_done, c, g_variant_new("(s)", uuid));
}

/* --- every domain of this node: one ListDomains per peer --- */

typedef struct Scan {
        Manager *m;
        GPtrArray *domains; /* this node's (MigDomainInfo*) */
        int result;
        GHashTable *active;    /* uuid → name: active here, no migration in flight (borrowed) */
        GHashTable *elsewhere; /* uuid → GString: the peers where it is active too */
        bool unknown;          /* a peer did not answer */
} Scan;

static void scan_free(Scan *s) {
        if (s->domains)
                g_ptr_array_unref(s->domains);
        if (s->active)
                g_hash_table_unref(s->active);
        if (s->elsewhere)
                g_hash_table_unref(s->elsewhere);
        g_free(s);
}

static void scan_run(void *data) {
        Scan *s = data;
        MigVirtError err = {0};
        s->result = mig_virt_list_domains(s->m->virt, &s->domains, &err);
        if (s->result < 0)
                g_warning("Reconciliation cannot list this node's domains: %s", err.message);
        mig_virt_error_clear(&err);
}

static void scan_judge(Scan *s) {
        GHashTableIter it;
        const char *uuid, *name;
        g_hash_table_iter_init(&it, s->active);
        while (g_hash_table_iter_next(&it, (gpointer *) &uuid, (gpointer *) &name)) {
                GString *where = g_hash_table_lookup(s->elsewhere, uuid);
                judge(s->m, name, uuid, where ? where->str : "", s->unknown);
        }
}

static void scan_one_done(void *userdata) {
        Scan *s = userdata;
        scan_judge(s);
        scan_free(s);
}

/* One entry of a peer's ListDomains: a domain active there that is active here too. */
static void note_peer_domain(Scan *s, MigPeer *peer, const char *uuid, const char *power) {
        bool active = power && strcmp(power, "SHUTOFF") != 0 && strcmp(power, "ERROR") != 0;
        if (!active || !uuid || !g_hash_table_contains(s->active, uuid))
                return;
        GString *where = g_hash_table_lookup(s->elsewhere, uuid);
        if (!where)
                g_hash_table_insert(s->elsewhere, g_strdup(uuid), (where = g_string_new("")));
        g_string_append_printf(where, "%s%s", where->len ? ", " : "", mig_peer_name(peer));
}

static void on_scan_peer(MigPeer *peer, GVariant *reply, const sd_bus_error *error, void *userdata) {
        Scan *s = userdata;
        g_autoptr(GVariant) list = NULL;
        if (!reply || !g_variant_is_of_type(reply, G_VARIANT_TYPE("(aa{sv})"))) {
                s->unknown = true;
                return;
        }
        list = g_variant_get_child_value(reply, 0);
        for (gsize i = 0, n = g_variant_n_children(list); i < n; i++) {
                g_autoptr(GVariant) d = g_variant_get_child_value(list, i);
                note_peer_domain(s, peer, mig_dict_string(d, "uuid"), mig_dict_string(d, "power-state"));
        }
}

static void gstring_free(gpointer p) {
        g_string_free(p, TRUE);
}

static void scan_done(void *data) {
        Scan *s = data;
        if (s->result < 0)
                return scan_free(s);
        s->active = g_hash_table_new(g_str_hash, g_str_equal);
        s->elsewhere = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, gstring_free);
        for (guint i = 0; i < s->domains->len; i++) {
                const MigDomainInfo *d = s->domains->pdata[i];
                if (d->active && !manager_find_inflight(s->m, d->uuid))
                        g_hash_table_insert(s->active, d->uuid, d->name);
        }
        /* conflicts of domains no longer active here are over, as far as this node goes */
        g_autoptr(GPtrArray) stale = g_ptr_array_new_with_free_func(g_free);
        GHashTableIter it;
        const char *uuid;
        g_hash_table_iter_init(&it, s->m->conflicts);
        while (g_hash_table_iter_next(&it, (gpointer *) &uuid, NULL))
                if (!g_hash_table_contains(s->active, uuid) && !manager_find_inflight(s->m, uuid))
                        g_ptr_array_add(stale, g_strdup(uuid));
        for (guint i = 0; i < stale->len; i++)
                reconcile_clear_conflict(s->m, stale->pdata[i], stale->pdata[i], "it no longer runs here");
        mig_peers_ask_all(s->m->peers, "ListDomains", MIG_PEER_TIMEOUT_USEC, on_scan_peer, scan_one_done, s,
                          NULL);
}

void reconcile_all(Manager *m, const char *why) {
        g_debug("Reconciling this node's domains: %s.", why);
        Scan *s = g_new0(Scan, 1);
        s->m = m;
        mig_worker_submit_on(m->worker, MIG_LANE_READ, scan_run, scan_done, s, NULL);
}

/* --- Peer.CheckDomain: another node found a conflict and asks this one to look too --- */

typedef struct CheckLocal {
        Manager *m;
        char *uuid;
        MigDomainInfo *info;
} CheckLocal;

static void check_local_run(void *data) {
        CheckLocal *c = data;
        MigVirtError err = {0};
        if (mig_virt_lookup(c->m->virt, c->uuid, &c->info, &err) < 0)
                c->info = NULL;
        mig_virt_error_clear(&err);
}

static void check_local_done(void *data) {
        CheckLocal *c = data;
        if (c->info && c->info->active)
                reconcile_check_domain(c->m, c->info->name, c->uuid);
}

static void check_local_free(void *data) {
        CheckLocal *c = data;
        mig_domain_info_free(c->info);
        g_free(c->uuid);
        g_free(c);
}

void reconcile_check_local(Manager *m, const char *uuid) {
        CheckLocal *c = g_new0(CheckLocal, 1);
        *c = (CheckLocal){m, g_strdup(uuid), NULL};
        mig_worker_submit_on(m->worker, MIG_LANE_READ, check_local_run, check_local_done, c,
                             check_local_free);
}

/* --- the reconciliation table of a migration: both nodes' views, kept in its record --- */

#define VIEWS_AFTER_END_USEC (30 * USEC_PER_SEC) /* the last events of a migration come after it */

/* The migration of the domain whose table this node keeps now, or NULL. */
static MigMigration *table_of(Manager *m, const char *uuid) {
        MigMigration *mig = manager_find_inflight(m, uuid);
        if (!mig && (mig = manager_find_latest(m, uuid)) &&
            (!mig->finished_usec || mig_now_usec() - mig->finished_usec > VIEWS_AFTER_END_USEC))
                mig = NULL;
        return mig;
}

void reconcile_set_view(Manager *m, MigMigration *mig, const char *side, const char *view) {
        char **field = strcmp(side, "source") == 0 ? &mig->source_view : &mig->dest_view;
        if (!mig_set_string(field, view))
                return;
        g_auto(sd_bus_error) e = SD_BUS_ERROR_NULL;
        if (manager_save_migration(m, mig, NULL, &e) < 0)
                g_warning("Migration %s: cannot record the %s's view: %s", mig->id, side, e.message);
}

typedef struct ViewRefresh {
        Manager *m;
        char *id, *uuid;
        const char *view;
} ViewRefresh;

static void view_run(void *data) {
        ViewRefresh *v = data;
        MigDomainInfo *info = NULL;
        MigVirtError err = {0};
        bool here = mig_virt_lookup(v->m->virt, v->uuid, &info, &err) == 0;
        if (here || g_strcmp0(err.name, MIG_ERROR_NOT_FOUND) == 0)
                v->view = mig_domain_view(here ? info : NULL); /* a static string */
        mig_domain_info_free(info);
        mig_virt_error_clear(&err);
}

static void view_done(void *data) {
        ViewRefresh *v = data;
        MigMigration *mig = manager_find_migration(v->m, v->id);
        if (!mig || !v->view)
                return;
        reconcile_set_view(v->m, mig, mig->role, v->view);
        const char *other = strcmp(mig->role, "source") == 0 ? mig->destination : mig->source;
        MigPeer *peer = mig_peers_find(v->m->peers, other);
        if (peer)
                mig_peer_notify(peer, "ReportView", g_variant_new("(sss)", mig->id, mig->role, v->view));
}

static void view_free(void *data) {
        ViewRefresh *v = data;
        g_free(v->id);
        g_free(v->uuid);
        g_free(v);
}

/* This node's view of the domain into the table, and to the other node. */
static void refresh_view(Manager *m, const MigMigration *mig) {
        ViewRefresh *v = g_new0(ViewRefresh, 1);
        *v = (ViewRefresh){m, g_strdup(mig->id), g_strdup(mig->domain_uuid), NULL};
        mig_worker_submit_on(m->worker, MIG_LANE_READ, view_run, view_done, v, view_free);
}

void reconcile_refresh_views(Manager *m) {
        GHashTableIter it;
        MigMigration *mig;
        g_hash_table_iter_init(&it, m->migrations);
        while (g_hash_table_iter_next(&it, NULL, (gpointer *) &mig))
                if (!mig_status_is_final(mig->status))
                        refresh_view(m, mig);
}

bool reconcile_view_known(const char *view) {
        static const char *const views[] = {MIG_VIEW_ABSENT,
                                            MIG_VIEW_SHUTOFF,
                                            MIG_VIEW_RUNNING,
                                            MIG_VIEW_PAUSED,
                                            MIG_VIEW_PAUSED_MIGRATION,
                                            MIG_VIEW_POSTCOPY,
                                            NULL};
        return view && g_strv_contains(views, view);
}

void reconcile_report_view(Manager *m, const char *id, const char *side, const char *view) {
        MigMigration *mig = manager_find_migration(m, id);
        if (mig && strcmp(mig->role, side) != 0) /* only the other side reports here */
                reconcile_set_view(m, mig, side, view);
}

void reconcile_domain_event(Manager *m, const char *domain, const char *uuid, const char *operation) {
        static const char *const up[] = {"started", "resumed", NULL};
        static const char *const down[] = {"stopped", "release", "undefined", NULL};
        if (!uuid[0])
                return;
        MigMigration *mig = table_of(m, uuid);
        if (mig)
                refresh_view(m, mig);
        if (g_strv_contains(up, operation))
                reconcile_check_domain(m, domain, uuid);
        else if (g_strv_contains(down, operation) && !manager_find_inflight(m, uuid))
                reconcile_clear_conflict(m, domain, uuid, "its copy here stopped");
}
