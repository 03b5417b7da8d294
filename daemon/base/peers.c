/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "peers.h"

#include <errno.h>
#include <string.h>

#include "bus-loop.h"
#include "bus-variant.h"
#include "errors.h"
#include "macro.h"
#include "peer-cache.h"
#include "peer-health.h"

/* One connection to a peer: one ssh process. A connection that failed or broke is no
 * longer the peer's current one but is kept until every call on it was answered: sd-bus
 * fails the calls of a broken connection one by one, and freeing it earlier would lose
 * their callbacks. */
typedef struct PeerConn {
        MigPeer *peer;
        sd_bus *bus;
        unsigned calls;  /* sent on it and not answered yet */
        bool answered;   /* something came back over it: ssh connected */
        bool failed;     /* its failure was counted in the back-off */
        MigBusLoop loop; /* on the event loop: every message queued on it goes through peer_call */
} PeerConn;

struct MigPeer {
        MigPeers *owner;
        const MigPeerConfig *config;
        PeerConn *conn;     /* the current connection, or NULL */
        GPtrArray *retired; /* PeerConn*: earlier ones, freed once their calls were answered */
        MigPeerHealth health;
        MigPeerCache *cache;
        unsigned connections; /* started so far */
};

struct MigPeers {
        sd_event *event;
        GPtrArray *peers; /* MigPeer* in config order */
        MigPeersClock now;
        void *now_userdata;
        sd_event_source *sweep; /* frees retired connections, outside their own callbacks */
};

typedef struct PeerCall {
        MigPeer *peer;
        PeerConn *conn;
        MigPeerReply cb;
        void *userdata;
        MigPeerUse use;
        bool invalidates; /* may change the peer's state: its kept answers go when it comes back */
} PeerCall;

/* One asker of a cached question. */
typedef struct Waiter {
        MigPeerReply cb;
        void *userdata;
} Waiter;

static uint64_t default_clock(clockid_t clock, void *userdata) {
        return clock == CLOCK_REALTIME ? (uint64_t) g_get_real_time() : (uint64_t) g_get_monotonic_time();
}

static uint64_t peer_now(const MigPeer *p) {
        return p->owner->now(CLOCK_MONOTONIC, p->owner->now_userdata);
}

static void conn_free(PeerConn *conn) {
        mig_bus_loop_detach(&conn->loop);
        sd_bus_flush_close_unref(conn->bus);
        g_free(conn);
}

static void peer_free(gpointer data) {
        MigPeer *p = data;
        if (p->conn)
                conn_free(p->conn);
        g_ptr_array_unref(p->retired);
        mig_peer_cache_free(p->cache, g_free);
        mig_peer_health_clear(&p->health);
        g_free(p);
}

MigPeers *mig_peers_new(sd_event *event, const MigConfig *config) {
        MigPeers *ps = g_new0(MigPeers, 1);
        ps->event = sd_event_ref(event);
        ps->peers = g_ptr_array_new_with_free_func(peer_free);
        ps->now = default_clock;
        for (guint i = 0; i < config->peers->len; i++) {
                MigPeer *p = g_new0(MigPeer, 1);
                p->owner = ps;
                p->config = g_ptr_array_index(config->peers, i);
                p->retired = g_ptr_array_new_with_free_func((GDestroyNotify) conn_free);
                p->cache = mig_peer_cache_new(MIG_PEER_CACHE_TTL_USEC, MIG_PEER_CACHE_MAX_ENTRIES);
                g_ptr_array_add(ps->peers, p);
        }
        return ps;
}

void mig_peers_free(MigPeers *ps) {
        if (!ps)
                return;
        sd_event_source_disable_unref(ps->sweep);
        g_ptr_array_unref(ps->peers);
        sd_event_unref(ps->event);
        g_free(ps);
}

void mig_peers_set_clock(MigPeers *ps, MigPeersClock now, void *userdata) {
        ps->now = now ? now : default_clock;
        ps->now_userdata = userdata;
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

unsigned mig_peer_connections(const MigPeer *p) {
        return p->connections;
}

bool mig_peer_reachable(const MigPeer *p) {
        return !p->health.down;
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

char **mig_peer_ssh_argv(const char *destination, const char *command) {
        /* SSH options a daemon needs: never prompt, give up on a dead peer within seconds */
        const char *argv[] = {"ssh",
                              "-xT",
                              "-oBatchMode=yes",
                              "-oConnectTimeout=5",
                              "-oServerAliveInterval=5",
                              "-oServerAliveCountMax=3",
                              "--",
                              destination,
                              command,
                              NULL};
        return g_strdupv((char **) argv);
}

/* Like sd_bus_open_system_remote(), with mig_peer_ssh_argv's options. */
static char *exec_address(const char *destination) {
        g_auto(GStrv) argv = mig_peer_ssh_argv(destination, "systemd-stdio-bridge");
        GString *s = g_string_new("unixexec:path=ssh");
        for (size_t i = 0; argv[i]; i++) {
                g_string_append_printf(s, ",argv%zu=", i);
                append_escaped(s, argv[i]);
        }
        return g_string_free(s, FALSE);
}

/* --- connections and the back-off --- */

static int on_sweep(sd_event_source *s, void *userdata) {
        MigPeers *ps = userdata;
        for (guint i = 0; i < ps->peers->len; i++) {
                MigPeer *p = g_ptr_array_index(ps->peers, i);
                for (guint k = p->retired->len; k > 0; k--)
                        if (((PeerConn *) p->retired->pdata[k - 1])->calls == 0)
                                g_ptr_array_remove_index_fast(p->retired, k - 1);
        }
        return 0;
}

static void schedule_sweep(MigPeers *ps) {
        if (!ps->sweep && sd_event_add_defer(ps->event, &ps->sweep, on_sweep, ps) < 0)
                return; /* freed with the peer instead */
        (void) sd_event_source_set_enabled(ps->sweep, SD_EVENT_ONESHOT);
}

/* The current connection failed or broke: a new call opens a new one. */
static void retire(MigPeer *p) {
        if (!p->conn)
                return;
        g_ptr_array_add(p->retired, g_steal_pointer(&p->conn));
        schedule_sweep(p->owner);
}

static void peer_failed(MigPeer *p, PeerConn *conn, const char *why) {
        if (conn) {
                if (conn->failed) /* every call on it fails: count the connection once */
                        return;
                conn->failed = true;
                if (p->conn == conn)
                        retire(p);
        }
        mig_peer_cache_invalidate(p->cache);
        uint64_t realtime = p->owner->now(CLOCK_REALTIME, p->owner->now_userdata);
        if (mig_peer_health_failed(&p->health, peer_now(p), realtime, why))
                g_warning("Peer %s (%s) is unreachable: %s; calls to it fail at once until it answers "
                          "again (next try in %" G_GUINT64_FORMAT " s, backing off up to %" G_GUINT64_FORMAT
                          " s).",
                          p->config->name, p->config->address, why,
                          MIG_PEER_BACKOFF_FIRST_USEC / USEC_PER_SEC,
                          MIG_PEER_BACKOFF_MAX_USEC / USEC_PER_SEC);
        else
                g_debug("Peer %s (%s): attempt %u failed: %s; next try in %" G_GUINT64_FORMAT " s.",
                        p->config->name, p->config->address, p->health.failures, why,
                        p->health.backoff / USEC_PER_SEC);
}

static void peer_reached(MigPeer *p, PeerConn *conn) {
        conn->answered = true;
        if (!p->health.down)
                return;
        g_autofree char *since = mig_peer_health_clock(p->health.down_since);
        unsigned failures = p->health.failures;
        (void) mig_peer_health_ok(&p->health);
        g_message("Peer %s (%s) is reachable again (unreachable since %s, %u failed attempt%s).",
                  p->config->name, p->config->address, since, failures, failures == 1 ? "" : "s");
}

/* sd-bus' last word on a connection that closed: whatever the peer said before may be
 * outdated (it may have restarted), so its kept answers go; the next call connects anew. */
static int on_disconnected(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        PeerConn *conn = userdata;
        if (conn->peer->conn == conn) /* not an old one: a newer one's answers stay */
                mig_peer_cache_invalidate(conn->peer->cache);
        return 0;
}

/* The connection a call goes on: the open one, or a new one unless the peer is in
 * back-off (NULL, *ret_why says why). */
static PeerConn *peer_connection(MigPeer *p, MigPeerUse use, char **ret_why) {
        if (p->conn && sd_bus_is_open(p->conn->bus) > 0)
                return p->conn; /* also while it is still being set up: the calls wait on it */
        retire(p);              /* one that broke while nothing waited on it */
        if (mig_peer_health_wait(&p->health, use, peer_now(p)) > 0) {
                *ret_why = mig_peer_health_describe(&p->health, use, peer_now(p));
                return NULL;
        }
        g_autoptr(sd_bus) bus = NULL;
        g_autofree char *address = exec_address(p->config->address);
        int r = sd_bus_new(&bus);
        if (r >= 0)
                r = sd_bus_set_address(bus, address);
        if (r >= 0)
                r = sd_bus_set_bus_client(bus, true);
        if (r >= 0)
                r = sd_bus_set_description(bus, p->config->name);
        if (r >= 0) {
                p->connections++;
                r = sd_bus_start(bus);
        }
        PeerConn *conn = g_new0(PeerConn, 1);
        if (r >= 0)
                r = mig_bus_loop_attach(&conn->loop, bus, p->owner->event);
        if (r < 0) {
                g_free(conn);
                g_autofree char *why = g_strdup_printf("cannot start ssh: %s", strerror(-r));
                peer_failed(p, NULL, why);
                *ret_why = mig_peer_health_describe(&p->health, use, peer_now(p));
                return NULL;
        }
        conn->peer = p;
        conn->bus = g_steal_pointer(&bus);
        conn->loop.bus = conn->bus;
        (void) sd_bus_match_signal(conn->bus, NULL, "org.freedesktop.DBus.Local",
                                   "/org/freedesktop/DBus/Local", "org.freedesktop.DBus.Local",
                                   "Disconnected", on_disconnected, conn);
        mig_bus_loop_update(&conn->loop);
        return p->conn = conn;
}

/* --- calls --- */

/* "Peer NAME (ADDRESS) is WHAT." to cb, as PeerUnreachable; p NULL: not a configured peer. */
static void unreachable(MigPeer *p, MigPeerReply cb, void *userdata, const char *what) {
        g_auto(sd_bus_error) e = SD_BUS_ERROR_NULL;
        if (p)
                sd_bus_error_setf(&e, MIG_ERROR_PEER_UNREACHABLE, "Peer %s (%s) is %s", p->config->name,
                                  p->config->address, what);
        else
                sd_bus_error_set(&e, MIG_ERROR_PEER_UNREACHABLE, "Node (none) is not a configured peer.");
        cb(p, NULL, &e, userdata);
}

static void reply_unreachable(PeerCall *c, const char *why) {
        g_autofree char *what = g_strdup_printf("unreachable: %s", why);
        unreachable(c->peer, c->cb, c->userdata, what);
}

/* The Peer methods that change nothing on the peer: the others drop its kept answers. */
static bool is_question(const char *method) {
        static const char *const questions[] = {"Ping",
                                                "GetCapacity",
                                                "GetPlacement",
                                                "ListDomains",
                                                "DescribeDomain",
                                                "ListDomainEvents",
                                                "GetDomainView",
                                                "GetMigrationStatus",
                                                "GetMigrationState",
                                                "GetMigration",
                                                "Plan"};
        for (size_t i = 0; i < G_N_ELEMENTS(questions); i++)
                if (strcmp(questions[i], method) == 0)
                        return true;
        return false;
}

static bool is_transport_error(const sd_bus_error *e) {
        /* The peer's own refusals keep their names; transport failures become PeerUnreachable. */
        return e && !g_str_has_prefix(e->name, MIG_ERROR_PREFIX) &&
               strcmp(e->name, MIG_ERROR_ACCESS_DENIED) != 0;
}

static int on_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        PeerCall *c = userdata;
        MigPeer *p = c->peer;
        PeerConn *conn = c->conn;
        const sd_bus_error *e = sd_bus_message_get_error(reply);
        g_autoptr(GVariant) body = NULL;
        conn->calls--;
        if (is_transport_error(e) && sd_bus_is_open(conn->bus) <= 0)
                peer_failed(p, conn,
                            conn->answered ? "its connection broke"
                                           : "ssh could not connect (ssh's own message is in the log)");
        else if (!is_transport_error(e) || !sd_bus_error_has_name(e, SD_BUS_ERROR_NO_REPLY))
                peer_reached(p, conn); /* a timeout proves nothing either way */
        if (c->invalidates)
                mig_peer_cache_invalidate(p->cache);
        if (conn != p->conn && conn->calls == 0)
                schedule_sweep(p->owner);
        if (is_transport_error(e) && conn->failed) {
                g_autofree char *what = mig_peer_health_describe(&p->health, c->use, peer_now(p));
                unreachable(p, c->cb, c->userdata, what);
        } else if (is_transport_error(e))
                reply_unreachable(c, e->message ? e->message : e->name);
        else if (e)
                c->cb(p, NULL, e, c->userdata);
        else if (mig_bus_read_tuple(reply, &body) < 0)
                reply_unreachable(c, "its answer could not be read");
        else
                c->cb(p, body, NULL, c->userdata);
        g_free(c);
        return 0;
}

static void peer_call(MigPeer *p, const char *method, uint64_t timeout_usec, MigPeerUse use, MigPeerReply cb,
                      void *userdata, bool start, GVariant *args) {
        g_autoptr(GVariant) owned = args ? g_variant_ref_sink(args) : NULL;
        if (!p)
                return unreachable(NULL, cb, userdata, NULL);
        bool invalidates = !is_question(method);
        if (invalidates) /* what it changes must not be answered from before */
                mig_peer_cache_invalidate(p->cache);
        g_autofree char *why = NULL;
        PeerConn *conn = peer_connection(p, use, &why);
        if (!conn)
                return unreachable(p, cb, userdata, why);
        g_autoptr(sd_bus_message) call = NULL;
        int r = sd_bus_message_new_method_call(conn->bus, &call, MIG_BUS_NAME, MIG_BUS_PATH, MIG_IFACE_PEER,
                                               method);
        if (r >= 0 && !start)
                r = sd_bus_message_set_auto_start(call, 0);
        if (r >= 0)
                r = mig_bus_append_tuple(call, owned);
        PeerCall *c = g_new0(PeerCall, 1);
        *c = (PeerCall){p, conn, cb, userdata, use, invalidates};
        if (r >= 0)
                r = sd_bus_call_async(conn->bus, NULL, call, on_reply, c, timeout_usec);
        if (r < 0) {
                g_autofree char *failure = g_strdup_printf("cannot start the call: %s", strerror(-r));
                reply_unreachable(c, failure);
                g_free(c);
                return;
        }
        conn->calls++;
        mig_bus_loop_update(&conn->loop);
}

void mig_peer_call(MigPeer *p, const char *method, uint64_t timeout_usec, MigPeerReply cb, void *userdata,
                   GVariant *args) {
        peer_call(p, method, timeout_usec, MIG_PEER_USE_STEP, cb, userdata, true, args);
}

static void ignore_reply(MigPeer *peer, GVariant *reply, const sd_bus_error *error, void *userdata) {
        if (error && strcmp(error->name, MIG_ERROR_PEER_UNREACHABLE) != 0)
                g_debug("Peer %s refused a notification: %s", mig_peer_name(peer), error->message);
}

void mig_peer_notify(MigPeer *p, const char *method, GVariant *args) {
        peer_call(p, method, MIG_PEER_TIMEOUT_USEC, MIG_PEER_USE_STEP, ignore_reply, NULL, false, args);
}

/* --- read questions: single-flight and a short cache --- */

static void on_cached_answer(MigPeer *p, GVariant *reply, const sd_bus_error *error, void *userdata) {
        /* The peer's own answer is kept, a refusal (NotFound, ...) too; a transport failure
         * is not (the back-off answers those). */
        bool keep = reply || (error && g_str_has_prefix(error->name, MIG_ERROR_PREFIX) &&
                              strcmp(error->name, MIG_ERROR_PEER_UNREACHABLE) != 0);
        g_autoptr(GPtrArray) waiters =
                mig_peer_cache_answer(p->cache, userdata, reply, error, keep, peer_now(p));
        for (guint i = 0; i < waiters->len; i++) {
                Waiter *w = waiters->pdata[i];
                w->cb(p, reply, error, w->userdata);
                g_free(w);
        }
}

void mig_peer_ask_cached(MigPeer *p, const char *method, MigPeerReply cb, void *userdata, GVariant *args) {
        g_autoptr(GVariant) owned = args ? g_variant_ref_sink(args) : NULL;
        if (!p)
                return unreachable(NULL, cb, userdata, NULL);
        g_autofree char *printed = owned ? g_variant_print(owned, TRUE) : NULL;
        g_autofree char *key = g_strconcat(method, printed ? printed : "()", NULL);
        Waiter *w = g_new0(Waiter, 1);
        *w = (Waiter){cb, userdata};
        MigPeerCacheEntry *entry = NULL;
        g_autoptr(GVariant) answer = NULL;
        g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
        switch (mig_peer_cache_lookup(p->cache, key, peer_now(p), w, &entry, &answer, &error)) {
        case MIG_PEER_CACHE_HIT:
                g_free(w);
                cb(p, answer, answer ? NULL : &error, userdata);
                return;
        case MIG_PEER_CACHE_JOINED:
                return;
        case MIG_PEER_CACHE_ASK: /* owned is not floating: the call takes its own reference */
                return peer_call(p, method, MIG_PEER_TIMEOUT_USEC, MIG_PEER_USE_READ, on_cached_answer,
                                 entry, true, owned);
        case MIG_PEER_CACHE_BYPASS:
        default:
                g_free(w);
                return peer_call(p, method, MIG_PEER_TIMEOUT_USEC, MIG_PEER_USE_READ, cb, userdata, true,
                                 owned);
        }
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

static void ask_all(MigPeers *ps, const char *method, uint64_t timeout_usec, bool cached, MigPeerReply each,
                    MigPeersDone done, void *userdata, GVariant *args) {
        g_autoptr(GVariant) owned = args ? g_variant_ref_sink(args) : NULL;
        AskAll *a = g_new0(AskAll, 1);
        *a = (AskAll){each, done, userdata, ps->peers->len + 1}; /* +1: held until every call started */
        for (guint i = 0; i < ps->peers->len; i++) {
                MigPeer *p = g_ptr_array_index(ps->peers, i);
                /* owned is not floating: each call takes its own reference */
                if (cached)
                        mig_peer_ask_cached(p, method, on_ask_all_reply, a, owned);
                else
                        mig_peer_call(p, method, timeout_usec, on_ask_all_reply, a, owned);
        }
        ask_all_one_done(a);
}

void mig_peers_ask_all(MigPeers *ps, const char *method, uint64_t timeout_usec, MigPeerReply each,
                       MigPeersDone done, void *userdata, GVariant *args) {
        ask_all(ps, method, timeout_usec, false, each, done, userdata, args);
}

void mig_peers_ask_all_cached(MigPeers *ps, const char *method, MigPeerReply each, MigPeersDone done,
                              void *userdata, GVariant *args) {
        ask_all(ps, method, MIG_PEER_TIMEOUT_USEC, true, each, done, userdata, args);
}
