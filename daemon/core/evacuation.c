/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Host evacuation: the plan, the moves, pause/resume/cancel, a restart (evacuation.h). */
#include "evacuation-internal.h"

#include <string.h>

#include "bus-variant.h"
#include "disk.h"
#include "errors.h"
#include "id.h"
#include "macro.h"
#include "scheduler.h"
#include "status.h"
#include "validate.h"

/* A destination the plan gave an item, counted against that node for the items after it. */
typedef struct Placed {
        char *node, *group, *name;
        uint64_t memory, disk;
        unsigned vcpus;
} Placed;

typedef struct EvacWatcher {
        EvacWatch fn;
        void *userdata;
} EvacWatcher;

static void placed_free(Placed *p) {
        g_free(p->node);
        g_free(p->group);
        g_free(p->name);
        g_free(p);
}

static void item_free(MigEvacItem *it) {
        g_free(it->domain);
        g_free(it->uuid);
        g_free(it->source);
        g_free(it->kind);
        g_free(it->planned);
        g_free(it->destination);
        g_free(it->status);
        g_free(it->migration_id);
        g_free(it->error);
        g_free(it);
}

void evac_free(MigEvacuation *e) {
        g_free(e->id);
        g_free(e->node);
        g_free(e->kind);
        g_free(e->status);
        g_free(e->message);
        g_ptr_array_unref(e->items);
        if (e->infos)
                g_ptr_array_unref(e->infos);
        if (e->placed)
                g_ptr_array_unref(e->placed);
        if (e->listed)
                g_ptr_array_unref(e->listed);
        mig_virt_error_clear(&e->list_err);
        sd_event_source_disable_unref(e->poll_timer);
        sd_event_source_disable_unref(e->tick);
        g_free(e);
}

MigEvacuation *evac_new(Manager *m) {
        MigEvacuation *e = g_new0(MigEvacuation, 1);
        e->m = m;
        e->items = g_ptr_array_new_with_free_func((GDestroyNotify) item_free);
        return e;
}

MigEvacItem *evac_item_new(const char *domain, const char *uuid, const char *kind) {
        MigEvacItem *it = g_new0(MigEvacItem, 1);
        *it = (MigEvacItem){.domain = g_strdup(domain),
                            .uuid = g_strdup(uuid),
                            .source = g_strdup(""),
                            .kind = g_strdup(kind),
                            .planned = g_strdup(""),
                            .destination = g_strdup(""),
                            .status = g_strdup("queued"),
                            .migration_id = g_strdup(""),
                            .error = g_strdup("")};
        return it;
}

/* --- the document --- */

static GVariant *item_to_variant(const MigEvacItem *it) {
        GVariantBuilder b;
        g_variant_builder_init(&b, G_VARIANT_TYPE("a{sv}"));
        const char *strings[][2] = {
                {"domain", it->domain}, {"domain-uuid", it->uuid},       {"source", it->source},
                {"kind", it->kind},     {"planned", it->planned},        {"destination", it->destination},
                {"status", it->status}, {"migration", it->migration_id}, {"error", it->error}};
        for (size_t i = 0; i < G_N_ELEMENTS(strings); i++)
                g_variant_builder_add(&b, "{sv}", strings[i][0], g_variant_new_string(strings[i][1]));
        g_variant_builder_add(&b, "{sv}", "block", g_variant_new_boolean(it->block));
        g_variant_builder_add(&b, "{sv}", "progress", g_variant_new_double(it->progress));
        return g_variant_builder_end(&b);
}

unsigned evac_count(const MigEvacuation *e, const char *status) {
        unsigned n = 0;
        for (guint i = 0; i < e->items->len; i++)
                n += strcmp(((MigEvacItem *) e->items->pdata[i])->status, status) == 0;
        return n;
}

GVariant *evacuation_to_variant(const MigEvacuation *e) {
        GVariantBuilder b, items;
        g_variant_builder_init(&items, G_VARIANT_TYPE("aa{sv}"));
        for (guint i = 0; i < e->items->len; i++)
                g_variant_builder_add_value(&items, item_to_variant(e->items->pdata[i]));
        g_variant_builder_init(&b, G_VARIANT_TYPE("a{sv}"));
        const char *strings[][2] = {{"id", e->id},
                                    {"node", e->node},
                                    {"kind", e->kind},
                                    {"status", e->status},
                                    {"message", e->message}};
        for (size_t i = 0; i < G_N_ELEMENTS(strings); i++)
                g_variant_builder_add(&b, "{sv}", strings[i][0], g_variant_new_string(strings[i][1]));
        g_variant_builder_add(&b, "{sv}", "live", g_variant_new_boolean(e->live));
        g_variant_builder_add(&b, "{sv}", "dry-run", g_variant_new_boolean(e->dry_run));
        g_variant_builder_add(&b, "{sv}", "max-parallel", g_variant_new_uint32(e->max_parallel));
        g_variant_builder_add(&b, "{sv}", "bandwidth", g_variant_new_uint64(e->bandwidth_mib));
        g_variant_builder_add(&b, "{sv}", "created-usec", g_variant_new_uint64(e->created_usec));
        g_variant_builder_add(&b, "{sv}", "updated-usec", g_variant_new_uint64(e->updated_usec));
        g_variant_builder_add(&b, "{sv}", "total", g_variant_new_uint32(e->items->len));
        g_variant_builder_add(&b, "{sv}", "done", g_variant_new_uint32(evac_count(e, "done")));
        g_variant_builder_add(&b, "{sv}", "failed", g_variant_new_uint32(evac_count(e, "failed")));
        g_variant_builder_add(&b, "{sv}", "items", g_variant_builder_end(&items));
        return g_variant_builder_end(&b);
}

static char *dict_strdup(GVariant *d, const char *key) {
        const char *v = mig_dict_string(d, key);
        return g_strdup(v ? v : "");
}

static MigEvacItem *item_from_variant(GVariant *d) {
        MigEvacItem *it = g_new0(MigEvacItem, 1);
        it->domain = dict_strdup(d, "domain");
        it->uuid = dict_strdup(d, "domain-uuid");
        it->source = dict_strdup(d, "source");
        it->kind = dict_strdup(d, "kind");
        it->planned = dict_strdup(d, "planned");
        it->destination = dict_strdup(d, "destination");
        it->status = dict_strdup(d, "status");
        it->migration_id = dict_strdup(d, "migration");
        it->error = dict_strdup(d, "error");
        (void) mig_dict_bool(d, "block", &it->block);
        return it;
}

static MigEvacuation *from_variant(Manager *m, GVariant *d) {
        MigEvacuation *e = evac_new(m);
        e->id = dict_strdup(d, "id");
        e->node = dict_strdup(d, "node");
        e->kind = dict_strdup(d, "kind");
        e->status = dict_strdup(d, "status");
        e->message = dict_strdup(d, "message");
        uint64_t n = 0;
        (void) mig_dict_bool(d, "live", &e->live);
        if (mig_dict_uint64(d, "max-parallel", &n))
                e->max_parallel = (unsigned) n;
        (void) mig_dict_uint64(d, "bandwidth", &e->bandwidth_mib);
        (void) mig_dict_uint64(d, "created-usec", &e->created_usec);
        (void) mig_dict_uint64(d, "updated-usec", &e->updated_usec);
        g_autoptr(GVariant) items = g_variant_lookup_value(d, "items", G_VARIANT_TYPE("aa{sv}"));
        for (gsize i = 0; items && i < g_variant_n_children(items); i++) {
                g_autoptr(GVariant) item = g_variant_get_child_value(items, i);
                g_ptr_array_add(e->items, item_from_variant(item));
        }
        if (!mig_migration_id_valid(e->id)) {
                evac_free(e);
                return NULL;
        }
        return e;
}

/* --- the kinds --- */

void evac_register_kind(Manager *m, const EvacKind *k) {
        if (!m->evac_kinds)
                m->evac_kinds = g_ptr_array_new();
        g_ptr_array_add(m->evac_kinds, (gpointer) k);
}

/* The registered kind of e, or NULL for "evacuate" (this file's own). */
static const EvacKind *kind_of(const MigEvacuation *e) {
        for (guint i = 0; e->m->evac_kinds && i < e->m->evac_kinds->len; i++) {
                const EvacKind *k = e->m->evac_kinds->pdata[i];
                if (strcmp(k->name, e->kind) == 0)
                        return k;
        }
        return NULL;
}

/* --- who shows them, and the store --- */

/* The tables, made by whichever comes first: the bus layer's watch or evacuation_init. */
static void ensure_tables(Manager *m) {
        if (!m->evacuations)
                m->evacuations =
                        g_hash_table_new_full(g_str_hash, g_str_equal, NULL, (GDestroyNotify) evac_free);
        if (!m->evac_watches)
                m->evac_watches = g_ptr_array_new_with_free_func(g_free);
}

void evacuation_watch(Manager *m, EvacWatch fn, void *userdata) {
        ensure_tables(m);
        EvacWatcher *w = g_new0(EvacWatcher, 1);
        *w = (EvacWatcher){fn, userdata};
        g_ptr_array_add(m->evac_watches, w);
}

void evac_publish(MigEvacuation *e, bool added) {
        for (guint i = 0; !e->dry_run && e->m->evac_watches && i < e->m->evac_watches->len; i++) {
                EvacWatcher *w = e->m->evac_watches->pdata[i];
                w->fn(e->m, e, added, w->userdata);
        }
}

/* Commits e (message: what happens now, also logged), then shows it. A dry run is not stored. */
int evac_save(MigEvacuation *e, const char *message) {
        if (message) {
                mig_set_string(&e->message, message);
                g_message("Evacuation %s of %s (%s): %s", e->id, e->node, e->status, message);
        }
        e->updated_usec = mig_now_usec();
        if (e->dry_run)
                return 0;
        g_autoptr(GVariant) v = g_variant_ref_sink(evacuation_to_variant(e));
        g_autofree char *text = g_variant_print(v, TRUE);
        g_autoptr(GError) err = NULL;
        int r = mig_store_save_evacuation(e->m->store, e->id, e->node, e->created_usec, text, &err);
        if (r < 0) {
                g_warning("Evacuation %s: cannot record it: %s", e->id, err->message);
                return r;
        }
        evac_publish(e, false);
        return 0;
}

MigEvacuation *evacuation_find(Manager *m, const char *id) {
        return m->evacuations && id ? g_hash_table_lookup(m->evacuations, id) : NULL;
}

static gint by_created(gconstpointer a, gconstpointer b) {
        const MigEvacuation *x = *(MigEvacuation *const *) a, *y = *(MigEvacuation *const *) b;
        return x->created_usec < y->created_usec ? -1 : x->created_usec > y->created_usec;
}

GPtrArray *evacuation_list(Manager *m) {
        ensure_tables(m);
        GPtrArray *list = g_ptr_array_new();
        GHashTableIter it;
        gpointer v;
        g_hash_table_iter_init(&it, m->evacuations);
        while (g_hash_table_iter_next(&it, NULL, &v))
                g_ptr_array_add(list, v);
        g_ptr_array_sort(list, by_created);
        return list;
}

MigEvacuation *evacuation_latest(Manager *m) {
        g_autoptr(GPtrArray) list = evacuation_list(m);
        return list->len ? list->pdata[list->len - 1] : NULL;
}

bool evacuation_busy(Manager *m) {
        MigEvacuation *e = evacuation_latest(m);
        return e && !mig_evacuation_status_is_final(e->status) && strcmp(e->status, "paused") != 0;
}

/* --- the end --- */

bool evac_item_active(const MigEvacItem *it) {
        return strcmp(it->status, "migrating") == 0;
}

static void finish_plan_answer(MigEvacuation *e, const sd_bus_error *error) {
        EvacDone done = e->done;
        e->done = NULL;
        if (done)
                done(e->m, error ? NULL : e, error, e->done_data);
}

void evac_fail(MigEvacuation *e, const char *why) {
        mig_set_string(&e->status, "failed");
        (void) evac_save(e, why);
        g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
        sd_bus_error_setf(&error, MIG_ERROR_INTERNAL, "Evacuation of %s failed: %s.", e->node, why);
        finish_plan_answer(e, &error);
}

/* Ends e once nothing runs and nothing more is to start. */
static void check_end(MigEvacuation *e) {
        unsigned active = evac_count(e, "migrating"), queued = evac_count(e, "queued");
        bool running = strcmp(e->status, "running") == 0, cancelling = strcmp(e->status, "cancelling") == 0;
        if (active || (running && queued) || (!running && !cancelling))
                return;
        mig_set_string(&e->status, cancelling ? "cancelled" : "completed");
        bool restore = strcmp(e->kind, "restore") == 0;
        g_autofree char *msg = g_strdup_printf(
                "%s: %u of %u domain(s) moved%s, %u failed, %u not moved%s%s%s", e->status,
                evac_count(e, "done"), e->items->len, restore ? " back" : "", evac_count(e, "failed"),
                evac_count(e, "not-moved"), restore ? "" : "; ", restore ? "" : e->node,
                restore ? "" : " stays disabled until host-enable or restore");
        (void) evac_save(e, msg);
}

/* --- the moves --- */

void evac_item_ref_free(void *data) {
        ItemRef *ref = data;
        g_free(ref->evacuation);
        g_free(ref);
}

ItemRef *evac_item_ref(MigEvacuation *e, guint index) {
        ItemRef *ref = g_new0(ItemRef, 1);
        *ref = (ItemRef){e->m, g_strdup(e->id), index};
        return ref;
}

MigAnswer evac_item_answer(MigEvacuation *e, guint index, MigAnswerFn fn) {
        ItemRef *ref = evac_item_ref(e, index);
        return (MigAnswer){fn, ref, evac_item_ref_free};
}

MigEvacItem *evac_item_of(const ItemRef *ref, MigEvacuation **ret) {
        MigEvacuation *e = evacuation_find(ref->m, ref->evacuation);
        *ret = e;
        return e && ref->index < e->items->len ? e->items->pdata[ref->index] : NULL;
}

/* An item's move ended (status done or failed, why: its error). */
void evac_item_ended(MigEvacuation *e, MigEvacItem *it, const char *status, const char *why) {
        mig_set_string(&it->status, status);
        mig_set_string(&it->error, why ? why : "");
        it->confirming = false;
        g_autofree char *msg = why ? g_strdup_printf("%s: %s (%s)", it->domain, status, why)
                                   : g_strdup_printf("%s: %s, on %s", it->domain, status, it->destination);
        if (evac_save(e, msg) < 0)
                return evac_fail(e, "cannot record an item's end");
        evac_kick(e);
}

static void on_confirmed(void *userdata, const MigResult *result, const sd_bus_error *error) {
        MigEvacuation *e;
        MigEvacItem *it = evac_item_of(userdata, &e);
        if (!it || !evac_item_active(it))
                return;
        if (error) /* it waits in VERIFY_RESIZE: the operator decides */
                return evac_item_ended(e, it, "failed", error->message);
        /* the record's change to confirmed settles it */
}

bool evac_item_outcome(MigEvacuation *e, MigEvacItem *it, const char *status, const char *message) {
        if (strcmp(status, "completed") == 0 || strcmp(status, "confirmed") == 0) {
                evac_item_ended(e, it, "done", NULL);
                return true;
        }
        if (!mig_status_is_final(status))
                return false;
        g_autofree char *why = g_strdup_printf("its migration ended %s%s%s", status,
                                               message && *message ? ": " : "", message ? message : "");
        evac_item_ended(e, it, "failed", why);
        return true;
}

/* What mig (the item's migration, this node its source) says of the item. */
static void settle(MigEvacuation *e, guint index, MigMigration *mig) {
        MigEvacItem *it = e->items->pdata[index];
        if (!evac_item_active(it))
                return;
        mig_set_string(&it->destination, mig->destination ? mig->destination : "");
        it->progress = mig->progress;
        if (evac_item_outcome(e, it, mig->status, mig->error_message))
                return;
        if (strcmp(mig->status, "finished") == 0 && !it->confirming) {
                g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
                it->confirming = true;
                if (e->m->move_ops->confirm(e->m, mig, evac_item_answer(e, index, on_confirmed), &error) < 0)
                        return evac_item_ended(e, it, "failed",
                                               error.message ? error.message : "cannot confirm it");
        }
        evac_publish(e, false);
}

static void on_started(void *userdata, const MigResult *result, const sd_bus_error *error) {
        ItemRef *ref = userdata;
        MigEvacuation *e;
        MigEvacItem *it = evac_item_of(ref, &e);
        if (!it || !evac_item_active(it))
                return;
        if (error)
                return evac_item_ended(e, it, "failed", error->message);
        mig_set_string(&it->migration_id, result->migration_id);
        if (evac_save(e, NULL) < 0)
                return evac_fail(e, "cannot record a move's migration");
        if (strcmp(e->status, "cancelling") == 0)
                evac_cancel_item(e, it); /* cancelled while the move was being recorded */
        evac_kick(e);
}

static void start_item(MigEvacuation *e, guint index) {
        MigEvacItem *it = e->items->pdata[index];
        mig_set_string(&it->status, "migrating");
        g_autofree char *msg = g_strdup_printf("%s: moving it %s", it->domain,
                                               strcmp(it->kind, "live") == 0 ? "live" : "cold");
        if (evac_save(e, msg) < 0)
                return evac_fail(e, "cannot record a move before it starts");
        const EvacKind *k = kind_of(e);
        if (k)
                return k->start_item(e, index);
        g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
        bool live = strcmp(it->kind, "live") == 0;
        if (e->m->move_ops->migrate(e->m, it->uuid, live, it->block, e->bandwidth_mib,
                                    evac_item_answer(e, index, on_started), &error) < 0)
                evac_item_ended(e, it, "failed", error.message);
}

/* Starts queued items while fewer than max_parallel run. */
void evac_pump(MigEvacuation *e) {
        for (guint i = 0; strcmp(e->status, "running") == 0 && i < e->items->len; i++) {
                MigEvacItem *it = e->items->pdata[i];
                if (evac_count(e, "migrating") >= MAX(e->max_parallel, 1u))
                        break;
                if (strcmp(it->status, "queued") == 0)
                        start_item(e, i);
        }
        check_end(e);
}

/* The moves' records, read again, and the next moves started: on its own turn of the loop,
 * never inside an engine's step (whose change notification or answer asked for it). */
static int on_tick(sd_event_source *s, void *userdata) {
        MigEvacuation *e = userdata;
        for (guint i = 0; strcmp(e->kind, "evacuate") == 0 && i < e->items->len; i++) {
                MigEvacItem *it = e->items->pdata[i];
                MigMigration *mig = evac_item_active(it) && *it->migration_id
                                            ? manager_find_migration(e->m, it->migration_id)
                                            : NULL;
                if (mig)
                        settle(e, i, mig);
                else if (evac_item_active(it) && *it->migration_id)
                        evac_item_ended(e, it, "failed", "its migration's record is gone");
        }
        evac_pump(e);
        return 0;
}

void evac_kick(MigEvacuation *e) {
        if (!e->tick && sd_event_add_defer(e->m->event, &e->tick, on_tick, e) < 0)
                return;
        (void) sd_event_source_set_enabled(e->tick, SD_EVENT_ONESHOT);
}

/* Every change of a migration this node is the source of. */
static void on_change(Manager *m, const MigMigration *mig, MigChange change, void *userdata) {
        if (change == MIG_CHANGE_REMOVED || strcmp(mig->role, "source") != 0 || !m->evacuations)
                return;
        GHashTableIter hi;
        gpointer v;
        g_hash_table_iter_init(&hi, m->evacuations);
        while (g_hash_table_iter_next(&hi, NULL, &v)) {
                MigEvacuation *e = v;
                if (mig_evacuation_status_is_final(e->status) || strcmp(e->kind, "evacuate") != 0)
                        continue;
                for (guint i = 0; i < e->items->len; i++)
                        if (strcmp(((MigEvacItem *) e->items->pdata[i])->migration_id, mig->id) == 0)
                                return evac_kick(e);
        }
}

/* --- the plan --- */

static void plan_next(MigEvacuation *e);

static MigPlaceRequest item_request(MigEvacuation *e, const MigEvacItem *it, const MigDomainInfo *d) {
        bool copies = strcmp(it->kind, "cold") == 0 || it->block;
        return mig_place_request(
                d, copies ? mig_disks_local_bytes(d->disks, e->m->config->image_directory) : 0, NULL);
}

/* What the items planned before take on a candidate. */
static void count_placed(MigEvacuation *e, MigCandidate *c, const char *group) {
        for (guint i = 0; e->placed && i < e->placed->len; i++) {
                Placed *p = e->placed->pdata[i];
                if (c->source || c->failure || strcmp(p->node, c->node) != 0)
                        continue;
                c->facts.memory_free -= MIN(c->facts.memory_free, p->memory);
                c->facts.disk_free -= MIN(c->facts.disk_free, p->disk);
                c->facts.vcpus_used += p->vcpus;
                if (*group && strcmp(p->group, group) == 0) {
                        if (!c->facts.members)
                                c->facts.members = g_ptr_array_new_with_free_func(g_free);
                        g_ptr_array_add(c->facts.members, g_strdup(p->name));
                }
        }
}

static void on_item_planned(Manager *m, MigPlan *plan, void *userdata) {
        MigEvacuation *e = userdata;
        g_autoptr(MigPlan) p = plan;
        MigEvacItem *it = e->items->pdata[e->planned_upto];
        const MigDomainInfo *d = e->infos->pdata[e->planned_upto];
        MigPlaceRequest req = item_request(e, it, d);
        for (guint i = 0; i < p->candidates->len; i++)
                count_placed(e, p->candidates->pdata[i], req.group);
        mig_plan_rank(p, &req);
        const char *node = mig_plan_pick(p, 0);
        if (node) {
                mig_set_string(&it->planned, node);
                Placed *pl = g_new0(Placed, 1);
                *pl = (Placed){
                        g_strdup(node), g_strdup(req.group), g_strdup(it->domain), req.memory, req.disk,
                        req.vcpus};
                g_ptr_array_add(e->placed, pl);
        } else {
                g_autofree char *reasons = mig_plan_reasons(p);
                mig_set_string(&it->status, "failed");
                g_autofree char *why = g_strdup_printf("no valid host: %s",
                                                       *reasons ? reasons : "no other node is configured");
                mig_set_string(&it->error, why);
        }
        e->planned_upto++;
        plan_next(e);
}

void evac_planned(MigEvacuation *e) {
        g_clear_pointer(&e->infos, g_ptr_array_unref);
        g_clear_pointer(&e->placed, g_ptr_array_unref);
        bool cancelled = strcmp(e->status, "cancelling") == 0;
        for (guint i = 0; cancelled && i < e->items->len; i++)
                if (strcmp(((MigEvacItem *) e->items->pdata[i])->status, "queued") == 0)
                        evac_cancel_item(e, e->items->pdata[i]); /* nothing else has started */
        if (!cancelled && !e->dry_run)
                mig_set_string(&e->status, "running");
        g_autofree char *msg =
                g_strdup_printf("planned: %u domain(s), %u to move, %u fit nowhere%s", e->items->len,
                                evac_count(e, "queued"), evac_count(e, "failed"),
                                e->dry_run ? " (a dry run: nothing was changed)" : "");
        if (evac_save(e, msg) < 0)
                return evac_fail(e, "cannot record the plan");
        finish_plan_answer(e, NULL);
        if (e->dry_run)
                return evac_free(e);
        evac_kick(e);
}

static void plan_next(MigEvacuation *e) {
        while (e->planned_upto < e->items->len &&
               strcmp(((MigEvacItem *) e->items->pdata[e->planned_upto])->status, "queued") != 0)
                e->planned_upto++;
        if (e->planned_upto >= e->items->len || strcmp(e->status, "planning") != 0)
                return evac_planned(e);
        MigPlaceRequest req =
                item_request(e, e->items->pdata[e->planned_upto], e->infos->pdata[e->planned_upto]);
        req.cached = e->dry_run;
        mig_plan_make(e->m, &req, on_item_planned, e);
}

/* An item per domain here: live when asked and it runs, cold otherwise; not the copies a
 * cold move keeps for a revert, nor the domains arriving here. */
static gint by_name(gconstpointer a, gconstpointer b) {
        return g_strcmp0((*(MigDomainInfo *const *) a)->name, (*(MigDomainInfo *const *) b)->name);
}

static void add_items(MigEvacuation *e, GPtrArray *domains) {
        g_ptr_array_sort(domains, by_name); /* the plan in an order an operator can follow */
        e->infos = g_ptr_array_new_with_free_func((GDestroyNotify) mig_domain_info_free);
        e->placed = g_ptr_array_new_with_free_func((GDestroyNotify) placed_free);
        g_ptr_array_set_size(e->items, 0);
        for (guint i = 0; i < domains->len; i++) {
                MigDomainInfo *d = domains->pdata[i];
                if (manager_domain_moved_away(e->m, d->uuid) || manager_domain_arriving(e->m, d->uuid))
                        continue;
                bool live = e->live && d->active;
                MigEvacItem *it = evac_item_new(d->name, d->uuid, live ? "live" : "cold");
                it->block = live && d->disks && d->disks->len > 0;
                MigMigration *busy = manager_find_inflight(e->m, d->uuid);
                if (busy) {
                        mig_set_string(&it->status, "failed");
                        g_autofree char *why = g_strdup_printf("a migration of it is in flight (%s, %s)",
                                                               busy->id, busy->status);
                        mig_set_string(&it->error, why);
                }
                g_ptr_array_add(e->items, it);
                g_ptr_array_add(e->infos, g_steal_pointer(&domains->pdata[i]));
        }
}

static void list_run(void *data) {
        MigEvacuation *e = data;
        e->list_result = mig_virt_list_domains(e->m->virt, &e->listed, &e->list_err);
}

static void list_done(void *data) {
        MigEvacuation *e = data;
        if (e->list_result < 0) {
                g_autofree char *why =
                        g_strdup_printf("cannot list the domains: %s",
                                        e->list_err.message ? e->list_err.message : "libvirt failed");
                evac_fail(e, why);
                return e->dry_run ? evac_free(e) : (void) 0;
        }
        g_ptr_array_set_free_func(e->listed, NULL); /* each info is an item's now, or freed below */
        add_items(e, e->listed);
        for (guint i = 0; i < e->listed->len; i++)
                mig_domain_info_free(e->listed->pdata[i]);
        g_clear_pointer(&e->listed, g_ptr_array_unref);
        e->planned_upto = 0;
        plan_next(e);
}

static void list_and_plan(MigEvacuation *e) {
        mig_worker_submit(e->m->worker, list_run, list_done, e, NULL);
}

/* --- the operator's calls --- */

static int disable_node(Manager *m, sd_bus_error *error) {
        g_autoptr(GError) err = NULL;
        int r = mig_store_set_host_state(m->store, manager_node(m), false, "evacuating", &err);
        return r < 0 ? manager_store_error(error, r, err) : 0;
}

int evac_refuse_busy(Manager *m, sd_bus_error *error) {
        MigEvacuation *busy = evacuation_latest(m);
        if (busy && !mig_evacuation_status_is_final(busy->status))
                return sd_bus_error_setf(
                        error, MIG_ERROR_CONFLICT,
                        "An %s of %s is under way (%s, %s): pause, resume or cancel it with "
                        "evacuation-pause|resume|cancel %s.",
                        strcmp(busy->kind, "restore") == 0 ? "restore" : "evacuation", manager_node(m),
                        busy->id, busy->status, manager_node(m));
        return 0;
}

MigEvacuation *evac_begin(Manager *m, const char *kind) {
        MigEvacuation *e = evac_new(m);
        e->id = mig_id_new();
        e->node = g_strdup(manager_node(m));
        e->kind = g_strdup(kind);
        e->status = g_strdup("planning");
        e->message = g_strdup("");
        e->max_parallel = m->config->max_concurrent_migrations;
        e->created_usec = e->updated_usec = mig_now_usec();
        return e;
}

int evac_insert(MigEvacuation *e, const char *message, sd_bus_error *error) {
        int r = evac_save(e, message);
        if (r < 0)
                return manager_store_error(error, r, NULL);
        g_hash_table_insert(e->m->evacuations, e->id, e);
        evac_publish(e, true);
        return 0;
}

int evacuation_start(Manager *m, const MigEvacRequest *req, EvacDone done, void *userdata,
                     sd_bus_error *error) {
        int r = req->dry_run ? 0 : evac_refuse_busy(m, error);
        if (r < 0)
                return r;
        MigEvacuation *e = evac_begin(m, "evacuate");
        e->live = req->live;
        e->dry_run = req->dry_run;
        if (req->max_parallel)
                e->max_parallel = req->max_parallel;
        e->bandwidth_mib = req->bandwidth_mib;
        e->done = done;
        e->done_data = userdata;
        if (!e->dry_run) {
                r = disable_node(m, error); /* the scheduler sends nothing here from now on */
                if (r < 0 || (r = evac_insert(e, "planning: listing the domains", error)) < 0) {
                        evac_free(e);
                        return r;
                }
        }
        list_and_plan(e);
        return 1;
}

void evac_cancel_item(MigEvacuation *e, MigEvacItem *it) {
        if (strcmp(it->status, "queued") == 0) {
                mig_set_string(&it->status, "not-moved");
                mig_set_string(&it->error, "the evacuation was cancelled before it started");
                return;
        }
        const EvacKind *k = kind_of(e);
        if (k)
                return k->cancel_item(e, it);
        MigMigration *mig = evac_item_active(it) ? manager_find_migration(e->m, it->migration_id) : NULL;
        /* a live move is aborted, a cold one only before its copy (after that it finishes) */
        if (!mig || (strcmp(mig->kind, "cold") == 0 && strcmp(mig->status, "pre-migrating") != 0))
                return;
        g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
        if (e->m->move_ops->abort(e->m, mig, (MigAnswer){0}, &error) < 0)
                g_message("Evacuation %s: %s goes on: %s", e->id, it->domain, error.message);
}

int evacuation_control(Manager *m, const char *action, sd_bus_error *error) {
        MigEvacuation *e = evacuation_latest(m);
        if (!e)
                return sd_bus_error_setf(error, MIG_ERROR_NOT_FOUND, "No evacuation of %s is recorded.",
                                         manager_node(m));
        const char *from = strcmp(action, "pause") == 0    ? "running"
                           : strcmp(action, "resume") == 0 ? "paused"
                                                           : NULL;
        bool cancel = strcmp(action, "cancel") == 0;
        bool may =
                cancel ? !mig_evacuation_status_is_final(e->status) && strcmp(e->status, "cancelling") != 0
                       : from && strcmp(e->status, from) == 0;
        if (!may)
                return sd_bus_error_setf(error, MIG_ERROR_CONFLICT,
                                         "The evacuation of %s is %s: it cannot %s.", e->node, e->status,
                                         action);
        const char *to = cancel ? "cancelling" : strcmp(action, "pause") == 0 ? "paused" : "running";
        g_autofree char *old = g_strdup(e->status);
        mig_set_string(&e->status, to);
        for (guint i = 0; cancel && strcmp(old, "planning") != 0 && i < e->items->len; i++)
                if (strcmp(((MigEvacItem *) e->items->pdata[i])->status, "queued") == 0)
                        evac_cancel_item(e, e->items->pdata[i]);
        g_autofree char *msg = g_strdup_printf("%s by an operator", to);
        int r = evac_save(e, msg);
        if (r < 0) {
                mig_set_string(&e->status, old);
                return manager_store_error(error, r, NULL);
        }
        for (guint i = 0; cancel && i < e->items->len; i++)
                evac_cancel_item(e, e->items->pdata[i]);
        if (strcmp(old, "planning") != 0)
                evac_kick(e);
        return 0;
}

/* --- start and restart --- */

void evacuation_init(Manager *m, const MigMoveOps *ops) {
        m->move_ops = ops;
        ensure_tables(m);
        manager_watch(m, on_change, NULL);
}

/* An item that was migrating when the daemon stopped: its migration says how it went. A
 * move whose id was not recorded yet is found by its domain (started after the item). */
static void resume_item(MigEvacuation *e, guint index) {
        MigEvacItem *it = e->items->pdata[index];
        MigMigration *mig = *it->migration_id ? manager_find_migration(e->m, it->migration_id) : NULL;
        if (!mig && !*it->migration_id) {
                MigMigration *latest = manager_find_latest(e->m, it->uuid);
                if (latest && latest->created_usec >= e->created_usec && strcmp(latest->role, "source") == 0)
                        mig = latest;
        }
        if (mig) {
                mig_set_string(&it->migration_id, mig->id);
                return; /* the tick settles it from its record */
        }
        mig_set_string(&it->status, "queued"); /* its move was never recorded: it starts again */
}

static void resume(MigEvacuation *e) {
        if (strcmp(e->status, "planning") == 0 && strcmp(e->kind, "restore") == 0)
                return evac_fail(
                        e, "the daemon stopped while the restore checked its domains: run restore again");
        if (strcmp(e->status, "planning") == 0) {
                g_message("Evacuation %s of %s: planning again after a restart", e->id, e->node);
                return list_and_plan(e);
        }
        const EvacKind *k = kind_of(e);
        if (k)
                k->resume(e);
        for (guint i = 0; strcmp(e->kind, "evacuate") == 0 && i < e->items->len; i++)
                if (evac_item_active(e->items->pdata[i]))
                        resume_item(e, i);
        if (strcmp(e->status, "cancelling") == 0)
                for (guint i = 0; i < e->items->len; i++)
                        evac_cancel_item(e, e->items->pdata[i]);
        (void) evac_save(e, "going on after a restart");
        evac_kick(e);
}

void evacuation_resume_all(Manager *m) {
        g_autoptr(GPtrArray) docs = NULL;
        g_autoptr(GError) err = NULL;
        if (mig_store_load_evacuations(m->store, &docs, &err) < 0) {
                g_warning("Cannot read the evacuations: %s", err->message);
                return;
        }
        for (guint i = 0; i < docs->len; i++) {
                g_autoptr(GError) perr = NULL;
                g_autoptr(GVariant) v =
                        g_variant_parse(G_VARIANT_TYPE("a{sv}"), docs->pdata[i], NULL, NULL, &perr);
                MigEvacuation *e = v ? from_variant(m, v) : NULL;
                if (!e) {
                        g_warning("An evacuation record cannot be read: %s", perr ? perr->message : "no id");
                        continue;
                }
                g_hash_table_insert(m->evacuations, e->id, e);
                evac_publish(e, true);
        }
        g_autoptr(GPtrArray) list = evacuation_list(m);
        for (guint i = 0; i < list->len; i++)
                if (!mig_evacuation_status_is_final(((MigEvacuation *) list->pdata[i])->status))
                        resume(list->pdata[i]);
}
