/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Every verb from any node: a call made here for a domain another node holds goes to that
 * node (Peer.Forward*, Peer.Plan), once this node's own checks passed (the caller's polkit
 * check is made here; the holder trusts its peer). A migration started there is followed
 * here: a mirror record at the same object path, refreshed from Peer.GetMigrationState every
 * half second until it is final, then kept for ten minutes. */

#include <string.h>

#include "bus-api.h"
#include "bus-variant.h"
#include "errors.h"
#include "macro.h"
#include "validate.h"

#define MIRROR_POLL_USEC (500 * USEC_PER_MSEC)
#define MIRROR_KEEP_USEC (10 * 60 * USEC_PER_SEC)

/* --- mirrors --- */

typedef struct Mirror {
        Manager *m;
        char *peer; /* the node whose migration it is */
        MigMigration *mig;
        sd_event_source *timer;
        bool asking;
        uint64_t final_since; /* CLOCK_BOOTTIME usec; 0 while in flight */
} Mirror;

static void mirror_free(gpointer data) {
        Mirror *mi = data;
        sd_event_source_disable_unref(mi->timer);
        mig_migration_free(mi->mig);
        g_free(mi->peer);
        g_free(mi);
}

MigMigration *bus_mirror_find(Manager *m, const char *id) {
        Mirror *mi = m->mirrors && id ? g_hash_table_lookup(m->mirrors, id) : NULL;
        return mi ? mi->mig : NULL;
}

static void set_field(char **field, GVariant *d, const char *key) {
        const char *v = mig_dict_string(d, key);
        if (v)
                mig_set_string(field, v);
}

/* The holder's state of the migration (Peer.GetMigrationState) into the mirror. */
static void mirror_update(MigMigration *mig, GVariant *d) {
        struct {
                char **field;
                const char *key;
        } strings[] = {{&mig->id, "id"},
                       {&mig->domain_name, "domain"},
                       {&mig->domain_uuid, "domain-uuid"},
                       {&mig->kind, "kind"},
                       {&mig->role, "role"},
                       {&mig->source, "source"},
                       {&mig->destination, "destination"},
                       {&mig->status, "status"},
                       {&mig->task_state, "task-state"},
                       {&mig->error_name, "error-name"},
                       {&mig->error_message, "error-message"},
                       {&mig->convergence, "convergence"},
                       {&mig->source_view, "source-view"},
                       {&mig->dest_view, "destination-view"}};
        for (size_t i = 0; i < G_N_ELEMENTS(strings); i++)
                set_field(strings[i].field, d, strings[i].key);
        struct {
                uint64_t *field;
                const char *key;
        } numbers[] = {{&mig->bytes_processed, "bytes-processed"},
                       {&mig->bytes_remaining, "bytes-remaining"},
                       {&mig->bytes_total, "bytes-total"},
                       {&mig->created_usec, "created-usec"},
                       {&mig->updated_usec, "updated-usec"},
                       {&mig->finished_usec, "finished-usec"},
                       {&mig->disk_processed, "disk-processed"},
                       {&mig->disk_total, "disk-total"},
                       {&mig->dirty_rate, "dirty-rate"},
                       {&mig->iteration, "iteration"},
                       {&mig->expected_downtime, "expected-downtime"},
                       {&mig->downtime_msec, "downtime-msec"},
                       {&mig->old_memory, "old-memory"},
                       {&mig->new_memory, "new-memory"}};
        for (size_t i = 0; i < G_N_ELEMENTS(numbers); i++)
                (void) mig_dict_uint64(d, numbers[i].key, numbers[i].field);
        uint64_t n = 0;
        if (mig_dict_uint64(d, "old-vcpus", &n))
                mig->old_vcpus = (unsigned) n;
        if (mig_dict_uint64(d, "new-vcpus", &n))
                mig->new_vcpus = (unsigned) n;
        (void) mig_dict_double(d, "progress", &mig->progress);
}

static void on_mirror_state(MigPeer *peer, GVariant *reply, const sd_bus_error *error, void *userdata) {
        Mirror *mi = userdata;
        mi->asking = false;
        g_autoptr(GVariant) d = reply ? mig_dict_ref(reply) : NULL;
        if (!d)
                return; /* unreachable for now: the mirror shows the last state it saw */
        mirror_update(mi->mig, d);
        if (mig_status_is_final(mi->mig->status) && !mi->final_since)
                mi->final_since = mig_boottime_usec();
        bus_migration_emit_changed(mi->m, mi->mig);
}

static int on_mirror_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Mirror *mi = userdata;
        Manager *m = mi->m;
        if (mi->final_since && mig_boottime_usec() - mi->final_since > MIRROR_KEEP_USEC) {
                g_autofree char *path = bus_migration_path(mi->mig->id);
                g_hash_table_remove(m->mirrors, mi->mig->id); /* frees mi and its timer */
                if (path && m->bus)
                        (void) sd_bus_emit_object_removed(m->bus, path);
                return 0;
        }
        MigPeer *peer = mig_peers_find(m->peers, mi->peer);
        if (peer && !mi->asking && !mi->final_since) {
                mi->asking = true;
                mig_peer_call(peer, "GetMigrationState", MIG_PEER_TIMEOUT_USEC, on_mirror_state, mi,
                              g_variant_new("(s)", mi->mig->id));
        }
        int r = sd_event_source_set_time_relative(s, mi->final_since ? MIRROR_KEEP_USEC : MIRROR_POLL_USEC);
        return r < 0 ? r : sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
}

/* Follows migration id of node peer here; its path, or NULL. */
static char *mirror_start(Manager *m, const char *peer, const char *id) {
        if (!m->mirrors)
                m->mirrors = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, mirror_free);
        Mirror *mi = g_hash_table_lookup(m->mirrors, id);
        if (!mi) {
                mi = g_new0(Mirror, 1);
                mi->m = m;
                mi->peer = g_strdup(peer);
                mi->mig = mig_migration_new();
                mi->mig->id = g_strdup(id);
                mig_set_string(&mi->mig->source, peer);
                mig_set_string(&mi->mig->status, "preparing");
                g_hash_table_insert(m->mirrors, mi->mig->id, mi);
                (void) sd_event_add_time_relative(m->event, &mi->timer, CLOCK_MONOTONIC, 0, 0,
                                                  on_mirror_timer, mi);
        }
        return bus_migration_path(id);
}

/* --- forwarding --- */

typedef struct Forward {
        Manager *m;
        sd_bus_message *request;
        char *domain, *method;
        GVariant *args;
        BusForwardReply kind;
        char *holder;     /* the first node that has the domain */
        GString *holders; /* all of them, for the log */
} Forward;

static void forward_free(Forward *f) {
        sd_bus_message_unref(f->request);
        g_free(f->domain);
        g_free(f->method);
        g_variant_unref(f->args);
        g_free(f->holder);
        g_string_free(f->holders, TRUE);
        g_free(f);
}

static void relay(Forward *f, GVariant *reply) {
        g_autoptr(sd_bus_message) out = NULL;
        int r = sd_bus_message_new_method_return(f->request, &out);
        if (r < 0)
                return bus_send_or_fail(f->request, NULL, r);
        if (f->kind == BUS_FORWARD_RELAY)
                r = mig_bus_append_tuple(out, reply);
        else {
                const char *path = NULL;
                g_autofree char *id = NULL, *here = NULL;
                if (g_variant_is_of_type(reply, G_VARIANT_TYPE("(o)")))
                        g_variant_get(reply, "(&o)", &path);
                if (path && sd_bus_path_decode(path, MIG_MIGRATION_PREFIX, &id) > 0 &&
                    mig_migration_id_valid(id))
                        here = mirror_start(f->m, f->holder, id);
                r = here ? sd_bus_message_append(out, "o", here) : -EBADMSG;
        }
        bus_send_or_fail(f->request, out, r);
}

static void on_forwarded(MigPeer *peer, GVariant *reply, const sd_bus_error *error, void *userdata) {
        Forward *f = userdata;
        if (error)
                (void) sd_bus_reply_method_error(f->request, error);
        else
                relay(f, reply);
        forward_free(f);
}

static void on_holder(MigPeer *peer, GVariant *reply, const sd_bus_error *error, void *userdata) {
        Forward *f = userdata;
        if (!reply)
                return;
        g_string_append_printf(f->holders, "%s%s", f->holders->len ? ", " : "", mig_peer_name(peer));
        if (!f->holder)
                f->holder = g_strdup(mig_peer_name(peer));
}

static void holder_search_done(void *userdata) {
        Forward *f = userdata;
        MigPeer *peer = f->holder ? mig_peers_find(f->m->peers, f->holder) : NULL;
        if (!peer) {
                (void) sd_bus_reply_method_errorf(
                        f->request, MIG_ERROR_NOT_FOUND,
                        "No domain '%s' on %s or any reachable node of the cluster.", f->domain,
                        manager_node(f->m));
                return forward_free(f);
        }
        g_message("%s of domain %s: forwarded to %s, which holds it.", sd_bus_message_get_member(f->request),
                  f->domain, f->holder);
        mig_peer_call(peer, f->method, 10 * 60 * USEC_PER_SEC, on_forwarded, f, g_variant_ref(f->args));
}

void bus_forward_to_holder(Manager *m, sd_bus_message *request, const char *domain, const char *method,
                           GVariant *args, BusForwardReply kind) {
        Forward *f = g_new0(Forward, 1);
        *f = (Forward){.m = m,
                       .request = sd_bus_message_ref(request),
                       .domain = g_strdup(domain),
                       .method = g_strdup(method),
                       .args = g_variant_ref_sink(args),
                       .kind = kind,
                       .holders = g_string_new("")};
        mig_peers_ask_all(m->peers, "DescribeDomain", MIG_PEER_TIMEOUT_USEC, on_holder, holder_search_done,
                          f, g_variant_new("(s)", domain));
}
