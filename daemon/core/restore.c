/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Restore: the domains the last evacuation of this node moved away come back. Each is moved
 * by the node that holds it (Peer.ForwardMigrate with this node as the explicit destination,
 * so the scheduler's filters still apply there), followed with Peer.GetMigrationState every
 * second, and a cold move is confirmed there (Peer.ForwardVerb) once it finished. This node is
 * enabled first: its own scheduler check (disabled) would refuse the moves otherwise. */

#include <string.h>

#include "bus-variant.h"
#include "errors.h"
#include "evacuation-internal.h"
#include "macro.h"
#include "status.h"

#define POLL_USEC USEC_PER_SEC
#define STEP_TIMEOUT_USEC (2 * 60 * USEC_PER_SEC)

/* --- following the moves --- */

static void poll_arm(MigEvacuation *e);
static void cancel_item(MigEvacuation *e, MigEvacItem *it);

static void on_confirmed(MigPeer *peer, GVariant *reply, const sd_bus_error *error, void *userdata) {
        MigEvacuation *e;
        MigEvacItem *it = evac_item_of(userdata, &e);
        evac_item_ref_free(userdata);
        if (it && evac_item_active(it) && error) /* it waits in VERIFY_RESIZE there */
                evac_item_ended(e, it, "failed", error->message);
}

/* What the holder says of the item's migration. */
static void apply_state(MigEvacuation *e, guint index, GVariant *d) {
        MigEvacItem *it = e->items->pdata[index];
        const char *status = mig_dict_string(d, "status");
        const char *message = mig_dict_string(d, "error-message");
        (void) mig_dict_double(d, "progress", &it->progress);
        if (!status || evac_item_outcome(e, it, status, message))
                return;
        if (strcmp(status, "finished") == 0 && !it->confirming) {
                it->confirming = true;
                mig_peer_call(mig_peers_find(e->m->peers, it->source), "ForwardVerb", STEP_TIMEOUT_USEC,
                              on_confirmed, evac_item_ref(e, index),
                              g_variant_new("(ss)", "confirm", it->migration_id));
        }
        evac_publish(e, false);
}

static void on_state(MigPeer *peer, GVariant *reply, const sd_bus_error *error, void *userdata) {
        MigEvacuation *e;
        MigEvacItem *it = evac_item_of(userdata, &e);
        g_autoptr(GVariant) d = reply ? mig_dict_ref(reply) : NULL;
        if (it && evac_item_active(it) && d)
                apply_state(e, ((ItemRef *) userdata)->index, d);
        evac_item_ref_free(userdata);
}

static int on_poll(sd_event_source *s, uint64_t usec, void *userdata) {
        MigEvacuation *e = userdata;
        for (guint i = 0; i < e->items->len; i++) {
                MigEvacItem *it = e->items->pdata[i];
                if (evac_item_active(it) && *it->migration_id)
                        mig_peer_call(mig_peers_find(e->m->peers, it->source), "GetMigrationState",
                                      MIG_PEER_TIMEOUT_USEC, on_state, evac_item_ref(e, i),
                                      g_variant_new("(s)", it->migration_id));
        }
        poll_arm(e);
        return 0;
}

/* Polls again in a second while a move is followed. */
static void poll_arm(MigEvacuation *e) {
        if (!evac_count(e, "migrating") || mig_evacuation_status_is_final(e->status)) {
                e->poll_timer = sd_event_source_disable_unref(e->poll_timer);
                return;
        }
        if (!e->poll_timer)
                (void) sd_event_add_time_relative(e->m->event, &e->poll_timer, CLOCK_MONOTONIC, POLL_USEC, 0,
                                                  on_poll, e);
        else if (sd_event_source_set_time_relative(e->poll_timer, POLL_USEC) >= 0)
                (void) sd_event_source_set_enabled(e->poll_timer, SD_EVENT_ONESHOT);
}

/* --- the moves --- */

static void on_started(MigPeer *peer, GVariant *reply, const sd_bus_error *error, void *userdata) {
        MigEvacuation *e;
        MigEvacItem *it = evac_item_of(userdata, &e);
        const char *path = NULL;
        g_autofree char *id = NULL;
        if (reply && g_variant_is_of_type(reply, G_VARIANT_TYPE("(o)")))
                g_variant_get(reply, "(&o)", &path);
        if (it && evac_item_active(it)) {
                if (error)
                        evac_item_ended(e, it, "failed", error->message);
                else if (!path || sd_bus_path_decode(path, MIG_MIGRATION_PREFIX, &id) <= 0)
                        evac_item_ended(e, it, "failed", "its node did not say which migration moves it");
                else {
                        mig_set_string(&it->migration_id, id);
                        if (evac_save(e, NULL) < 0)
                                evac_fail(e, "cannot record a move's migration");
                        else if (strcmp(e->status, "cancelling") == 0)
                                cancel_item(e, it);
                        poll_arm(e);
                }
        }
        evac_item_ref_free(userdata);
}

static void start_item(MigEvacuation *e, guint index) {
        MigEvacItem *it = e->items->pdata[index];
        bool live = strcmp(it->kind, "live") == 0;
        mig_set_string(&it->destination, e->node);
        GVariantBuilder b;
        g_variant_builder_init(&b, G_VARIANT_TYPE("a{sv}"));
        g_variant_builder_add(&b, "{sv}", "live", g_variant_new_boolean(live));
        if (live)
                g_variant_builder_add(&b, "{sv}", "block-migration", g_variant_new_boolean(it->block));
        mig_peer_call(mig_peers_find(e->m->peers, it->source), "ForwardMigrate", STEP_TIMEOUT_USEC,
                      on_started, evac_item_ref(e, index),
                      g_variant_new("(ss@a{sv})", it->uuid, e->node, g_variant_builder_end(&b)));
}

static void ignore_reply(MigPeer *peer, GVariant *reply, const sd_bus_error *error, void *userdata) {
        if (error)
                g_message("Restore: the abort was refused: %s", error->message);
}

/* A move under way: its node aborts it (a cold move past its copy refuses and finishes).
 * Queued items are evacuation.c's (not moved). */
static void cancel_item(MigEvacuation *e, MigEvacItem *it) {
        if (evac_item_active(it) && *it->migration_id)
                mig_peer_call(mig_peers_find(e->m->peers, it->source), "ForwardVerb", STEP_TIMEOUT_USEC,
                              ignore_reply, NULL, g_variant_new("(ss)", "abort", it->migration_id));
}

static void resume(MigEvacuation *e) {
        for (guint i = 0; i < e->items->len; i++) {
                MigEvacItem *it = e->items->pdata[i];
                if (evac_item_active(it) && !*it->migration_id) /* never heard back: ask anew */
                        mig_set_string(&it->status, "queued");
        }
        poll_arm(e);
}

/* --- the start --- */

/* The holder's DescribeDomain: whether the domain is still there, and whether it runs. */
static void on_described(MigPeer *peer, GVariant *reply, const sd_bus_error *error, void *userdata) {
        MigEvacuation *e;
        MigEvacItem *it = evac_item_of(userdata, &e);
        evac_item_ref_free(userdata);
        if (!it)
                return;
        g_autoptr(GVariant) d = reply ? mig_dict_ref(reply) : NULL;
        const char *node = d ? mig_dict_string(d, "node") : NULL;
        if (!d || g_strcmp0(node, it->source) != 0) {
                mig_set_string(&it->status, "not-moved");
                g_autofree char *why = g_strdup_printf("no longer on %s%s%s", it->source, error ? ": " : "",
                                                       error ? error->message : "");
                mig_set_string(&it->error, why);
        } else if (g_strcmp0(mig_dict_string(d, "power-state"), "ACTIVE") != 0)
                mig_set_string(&it->kind, "cold"); /* it does not run any more */
        if (--e->checking == 0)
                evac_planned(e);
}

static void add_items(MigEvacuation *e, const MigEvacuation *last) {
        for (guint i = 0; i < last->items->len; i++) {
                const MigEvacItem *was = last->items->pdata[i];
                if (strcmp(was->status, "done") != 0 || !*was->destination)
                        continue;
                MigEvacItem *it = evac_item_new(was->domain, was->uuid, was->kind);
                it->block = was->block;
                mig_set_string(&it->source, was->destination);
                mig_set_string(&it->planned, e->node);
                g_ptr_array_add(e->items, it);
        }
}

static const MigEvacuation *last_evacuation(Manager *m) {
        g_autoptr(GPtrArray) list = evacuation_list(m);
        for (guint i = list->len; i > 0; i--) {
                const MigEvacuation *e = list->pdata[i - 1];
                if (strcmp(e->kind, "evacuate") == 0)
                        return e;
        }
        return NULL;
}

static int enable_node(Manager *m, sd_bus_error *error) {
        g_autoptr(GError) err = NULL;
        int r = mig_store_set_host_state(m->store, manager_node(m), true, "", &err);
        return r < 0 ? manager_store_error(error, r, err) : 0;
}

int evacuation_restore(Manager *m, EvacDone done, void *userdata, sd_bus_error *error) {
        int r = evac_refuse_busy(m, error);
        if (r < 0)
                return r;
        const MigEvacuation *last = last_evacuation(m);
        if (!last)
                return sd_bus_error_setf(error, MIG_ERROR_NOT_FOUND,
                                         "No evacuation of %s is recorded to restore.", manager_node(m));
        MigEvacuation *e = evac_begin(m, "restore");
        e->live = last->live;
        e->max_parallel = last->max_parallel;
        e->done = done;
        e->done_data = userdata;
        add_items(e, last);
        g_autofree char *msg = g_strdup_printf("planning: %u domain(s) that evacuation %s moved away",
                                               e->items->len, last->id);
        if ((r = evac_insert(e, msg, error)) < 0) {
                evac_free(e);
                return r;
        }
        if ((r = enable_node(m, error)) < 0) {
                evac_fail(e, "cannot enable the node");
                return r;
        }
        g_message("Node %s enabled again for the restore.", e->node);
        e->checking = e->items->len;
        for (guint i = 0; i < e->items->len; i++) {
                MigEvacItem *it = e->items->pdata[i];
                mig_peer_call(mig_peers_find(m->peers, it->source), "DescribeDomain", MIG_PEER_TIMEOUT_USEC,
                              on_described, evac_item_ref(e, i), g_variant_new("(s)", it->uuid));
        }
        if (e->items->len == 0)
                evac_planned(e);
        return 1;
}

static const EvacKind restore_kind = {
        .name = "restore",
        .start_item = start_item,
        .cancel_item = cancel_item,
        .resume = resume,
};

void restore_init(Manager *m) {
        evac_register_kind(m, &restore_kind);
}
