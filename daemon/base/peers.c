/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "peers.h"

#include <errno.h>
#include <string.h>

#include "bus-variant.h"
#include "errors.h"
#include "macro.h"

struct MigPeer {
        MigPeers *owner;
        const MigPeerConfig *config;
        sd_bus *bus;
};

struct MigPeers {
        sd_event *event;
        GPtrArray *peers; /* MigPeer* in config order */
};

typedef struct PeerCall {
        MigPeer *peer;
        MigPeerReply cb;
        void *userdata;
} PeerCall;

static void peer_free(gpointer data) {
        MigPeer *p = data;
        sd_bus_flush_close_unref(p->bus);
        g_free(p);
}

MigPeers *mig_peers_new(sd_event *event, const MigConfig *config) {
        MigPeers *ps = g_new0(MigPeers, 1);
        ps->event = sd_event_ref(event);
        ps->peers = g_ptr_array_new_with_free_func(peer_free);
        for (guint i = 0; i < config->peers->len; i++) {
                MigPeer *p = g_new0(MigPeer, 1);
                p->owner = ps;
                p->config = g_ptr_array_index(config->peers, i);
                g_ptr_array_add(ps->peers, p);
        }
        return ps;
}

void mig_peers_free(MigPeers *ps) {
        if (!ps)
                return;
        g_ptr_array_unref(ps->peers);
        sd_event_unref(ps->event);
        g_free(ps);
}

unsigned mig_peers_count(const MigPeers *ps) {
        return ps->peers->len;
}

MigPeer *mig_peers_get(MigPeers *ps, unsigned i) {
        return i < ps->peers->len ? g_ptr_array_index(ps->peers, i) : NULL;
}

MigPeer *mig_peers_find(MigPeers *ps, const char *name) {
        for (guint i = 0; name && i < ps->peers->len; i++) {
                MigPeer *p = g_ptr_array_index(ps->peers, i);
                if (strcmp(p->config->name, name) == 0)
                        return p;
        }
        return NULL;
}

const char *mig_peer_name(const MigPeer *p) {
        return p->config->name;
}

const char *mig_peer_address(const MigPeer *p) {
        return p->config->address;
}

/* D-Bus address values may hold only [-0-9A-Za-z_/.\*] unescaped. */
static void append_escaped(GString *s, const char *value) {
        for (const char *c = value; *c; c++) {
                if (g_ascii_isalnum(*c) || strchr("-_/.\\*", *c))
                        g_string_append_c(s, *c);
                else
                        g_string_append_printf(s, "%%%02x", (unsigned char) *c);
        }
}

/* Like sd_bus_open_system_remote(), plus SSH options a daemon needs: never
 * prompt, give up on a dead peer within seconds. */
static char *exec_address(const char *destination) {
        const char *argv[] = {"ssh",
                              "-xT",
                              "-oBatchMode=yes",
                              "-oConnectTimeout=5",
                              "-oServerAliveInterval=5",
                              "-oServerAliveCountMax=3",
                              "--",
                              destination,
                              "systemd-stdio-bridge"};
        GString *s = g_string_new("unixexec:path=ssh");
        for (size_t i = 0; i < G_N_ELEMENTS(argv); i++) {
                g_string_append_printf(s, ",argv%zu=", i);
                append_escaped(s, argv[i]);
        }
        return g_string_free(s, FALSE);
}

static int peer_connect(MigPeer *p) {
        if (p->bus && sd_bus_is_open(p->bus) > 0)
                return 0;
        p->bus = sd_bus_flush_close_unref(p->bus);
        g_autoptr(sd_bus) bus = NULL;
        g_autofree char *address = exec_address(p->config->address);
        int r = sd_bus_new(&bus);
        if (r >= 0)
                r = sd_bus_set_address(bus, address);
        if (r >= 0)
                r = sd_bus_set_bus_client(bus, true);
        if (r >= 0)
                r = sd_bus_set_description(bus, p->config->name);
        if (r >= 0)
                r = sd_bus_start(bus);
        if (r >= 0)
                r = sd_bus_attach_event(bus, p->owner->event, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0)
                return r;
        p->bus = g_steal_pointer(&bus);
        return 0;
}

static void unreachable(MigPeer *p, const char *name, MigPeerReply cb, void *userdata, const char *why) {
        g_auto(sd_bus_error) e = SD_BUS_ERROR_NULL;
        if (p)
                sd_bus_error_setf(&e, MIG_ERROR_PEER_UNREACHABLE, "Peer %s (%s) is unreachable: %s",
                                  p->config->name, p->config->address, why);
        else
                sd_bus_error_setf(&e, MIG_ERROR_PEER_UNREACHABLE, "Node %s is not a configured peer.",
                                  name ? name : "(none)");
        cb(p, NULL, &e, userdata);
}

static void reply_unreachable(PeerCall *c, const char *why) {
        unreachable(c->peer, NULL, c->cb, c->userdata, why);
}

static int on_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        PeerCall *c = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(reply);
        g_autoptr(GVariant) body = NULL;
        /* The peer's own refusals keep their names; transport failures become PeerUnreachable. */
        if (e && !g_str_has_prefix(e->name, MIG_ERROR_PREFIX) &&
            strcmp(e->name, MIG_ERROR_ACCESS_DENIED) != 0)
                reply_unreachable(c, e->message ? e->message : e->name);
        else if (e)
                c->cb(c->peer, NULL, e, c->userdata);
        else if (mig_bus_read_tuple(reply, &body) < 0)
                reply_unreachable(c, "its answer could not be read");
        else
                c->cb(c->peer, body, NULL, c->userdata);
        g_free(c);
        return 0;
}

static void peer_call(MigPeer *p, const char *method, uint64_t timeout_usec, MigPeerReply cb, void *userdata,
                      bool start, GVariant *args) {
        g_autoptr(GVariant) owned = args ? g_variant_ref_sink(args) : NULL;
        if (!p)
                return unreachable(NULL, NULL, cb, userdata, NULL);
        PeerCall *c = g_new0(PeerCall, 1);
        *c = (PeerCall){p, cb, userdata};
        g_autoptr(sd_bus_message) call = NULL;
        int r = peer_connect(p);
        if (r >= 0)
                r = sd_bus_message_new_method_call(p->bus, &call, MIG_BUS_NAME, MIG_BUS_PATH, MIG_IFACE_PEER,
                                                   method);
        if (r >= 0 && !start)
                r = sd_bus_message_set_auto_start(call, 0);
        if (r >= 0)
                r = mig_bus_append_tuple(call, owned);
        if (r >= 0)
                r = sd_bus_call_async(p->bus, NULL, call, on_reply, c, timeout_usec);
        if (r < 0) {
                g_autofree char *why = g_strdup_printf("cannot start the call: %s", strerror(-r));
                reply_unreachable(c, why);
                g_free(c);
        }
}

void mig_peer_call(MigPeer *p, const char *method, uint64_t timeout_usec, MigPeerReply cb, void *userdata,
                   GVariant *args) {
        peer_call(p, method, timeout_usec, cb, userdata, true, args);
}

static void ignore_reply(MigPeer *peer, GVariant *reply, const sd_bus_error *error, void *userdata) {
        if (error && strcmp(error->name, MIG_ERROR_PEER_UNREACHABLE) != 0)
                g_debug("Peer %s refused a notification: %s", mig_peer_name(peer), error->message);
}

void mig_peer_notify(MigPeer *p, const char *method, GVariant *args) {
        peer_call(p, method, 15 * USEC_PER_SEC, ignore_reply, NULL, false, args);
}

/* --- every peer at once --- */

typedef struct AskAll {
        MigPeerReply each;
        MigPeersDone done;
        void *userdata;
        unsigned pending;
} AskAll;

static void ask_all_one_done(AskAll *a) {
        if (--a->pending > 0)
                return;
        a->done(a->userdata);
        g_free(a);
}

static void on_ask_all_reply(MigPeer *peer, GVariant *reply, const sd_bus_error *error, void *userdata) {
        AskAll *a = userdata;
        a->each(peer, reply, error, a->userdata);
        ask_all_one_done(a);
}

void mig_peers_ask_all(MigPeers *ps, const char *method, uint64_t timeout_usec, MigPeerReply each,
                       MigPeersDone done, void *userdata, GVariant *args) {
        g_autoptr(GVariant) owned = args ? g_variant_ref_sink(args) : NULL;
        AskAll *a = g_new0(AskAll, 1);
        *a = (AskAll){each, done, userdata, ps->peers->len + 1}; /* +1: held until every call started */
        for (guint i = 0; i < ps->peers->len; i++)
                mig_peer_call(g_ptr_array_index(ps->peers, i), method, timeout_usec, on_ask_all_reply, a,
                              owned); /* not floating: each call takes its own reference */
        ask_all_one_done(a);
}
