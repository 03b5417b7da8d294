/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Every verb from any node: a call made here for a domain another node holds goes to that
 * node (Peer.Forward*, Peer.Plan), once this node's own checks passed (the caller's polkit
 * check is made here; the holder trusts its peer). A migration started there is followed
 * here as a mirror (bus-migration.c). */

#include <string.h>

#include "bus-api.h"
#include "bus-variant.h"
#include "errors.h"
#include "macro.h"
#include "validate.h"

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
                        here = bus_mirror_start(f->m, f->holder, id);
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
