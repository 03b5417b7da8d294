/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Connections to the other nodes' daemons: D-Bus over SSH (ssh runs
 * systemd-stdio-bridge on the peer, which speaks to the peer's system bus as
 * root). Opened on first use, reused (calls made while it is being set up wait on it),
 * and opened again after a failure.
 *
 * A peer whose connection failed or broke is in back-off (peer-health.h): the listings'
 * questions (mig_peer_ask_cached(), anyone's to ask) fail at once with PeerUnreachable
 * ("... unreachable since HH:MM:SS, next try in N s: ...") without starting ssh, until
 * the back-off has passed (1 s doubling to 30 s, reset by an answer). mig_peer_call()
 * and notifications (steps and the daemon's own questions, made by privileged callers or
 * its own timers at their own pace) always try; their outcome counts too. One log line
 * when a peer becomes unreachable, one when it answers again.
 *
 * The read questions of the bus layer's listings go through mig_peer_ask_cached():
 * identical questions in flight share one call, and an answer is reused for
 * MIG_PEER_CACHE_TTL_USEC. Any other call to a peer (a step, SetHostState, SetGroup, a
 * notification, ...) drops that peer's kept answers when it goes out and when it comes
 * back. */

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>
#include <time.h>

#include "config.h"

typedef struct MigPeer MigPeer;
typedef struct MigPeers MigPeers;

/* How long a question to a peer may take (listings, capacity, views); a migration step
 * (Prepare, Finish, ...) may take longer. */
#define MIG_PEER_TIMEOUT_USEC (15 * USEC_PER_SEC)
#define MIG_PEER_STEP_TIMEOUT_USEC (60 * USEC_PER_SEC)

/* How long an answer of mig_peer_ask_cached() is reused, and how many distinct questions
 * per peer are kept (more are asked without the cache). */
#define MIG_PEER_CACHE_TTL_USEC (2 * USEC_PER_SEC)
#define MIG_PEER_CACHE_MAX_ENTRIES 256

/* Called once with the reply's body as a tuple (NULL on failure), or with a
 * PeerUnreachable/peer error already named. reply is borrowed: ref it to keep it. */
typedef void (*MigPeerReply)(MigPeer *peer, GVariant *reply, const sd_bus_error *error, void *userdata);

MigPeers *mig_peers_new(sd_event *event, const MigConfig *config);
void mig_peers_free(MigPeers *ps);
MigPeer *mig_peers_find(MigPeers *ps, const char *name);

/* The ssh command line that runs command on the node at destination (an address of the
 * config, "root@host"), with the options every connection to a peer has. */
char **mig_peer_ssh_argv(const char *destination, const char *command);
unsigned mig_peers_count(const MigPeers *ps);
MigPeer *mig_peers_get(MigPeers *ps, unsigned i);

const char *mig_peer_name(const MigPeer *p);
const char *mig_peer_address(const MigPeer *p);
/* Connections started to the peer so far (each one an ssh process). */
unsigned mig_peer_connections(const MigPeer *p);
/* False while the peer is in back-off (its last connection failed). */
bool mig_peer_reachable(const MigPeer *p);

/* The clock of the back-off and the cache (CLOCK_MONOTONIC, and CLOCK_REALTIME for the
 * messages' "since"): the event loop's by default; a unit test passes its own. */
typedef uint64_t (*MigPeersClock)(clockid_t clock, void *userdata);
void mig_peers_set_clock(MigPeers *ps, MigPeersClock now, void *userdata);

/* Calls METHOD of org.example.Migrate1.Peer on the peer with the members of args (a
 * tuple, e.g. g_variant_new("(ss)", ...); a floating one is sunk; NULL: no arguments).
 * cb gets the reply, or a named error: the peer's own, or PeerUnreachable for a transport
 * failure (also when p is NULL: a peer that is not configured); it may run before this
 * returns. */
void mig_peer_call(MigPeer *p, const char *method, uint64_t timeout_usec, MigPeerReply cb, void *userdata,
                   GVariant *args);

/* A read question of a listing (GetCapacity, ListDomains, DescribeDomain,
 * ListDomainEvents): like mig_peer_call() with MIG_PEER_TIMEOUT_USEC, but an identical
 * question in flight is joined and an answer (or the peer's own refusal, e.g. NotFound)
 * younger than MIG_PEER_CACHE_TTL_USEC is given at once. Never for a step or for a
 * question whose answer decides a step (views, migration status): use mig_peer_call(). */
void mig_peer_ask_cached(MigPeer *p, const char *method, MigPeerReply cb, void *userdata, GVariant *args);

/* A notification: like mig_peer_call() without a reply to wait for, and it never starts
 * the peer's daemon (one that is not running learns the same when it starts). */
void mig_peer_notify(MigPeer *p, const char *method, GVariant *args);

/* Asks every peer the same question: each() gets every peer's answer (or error) as it
 * comes, then done() runs once, after the last (at once when there are no peers). */
typedef void (*MigPeersDone)(void *userdata);
void mig_peers_ask_all(MigPeers *ps, const char *method, uint64_t timeout_usec, MigPeerReply each,
                       MigPeersDone done, void *userdata, GVariant *args);
/* The same with mig_peer_ask_cached() for every peer. */
void mig_peers_ask_all_cached(MigPeers *ps, const char *method, MigPeerReply each, MigPeersDone done,
                              void *userdata, GVariant *args);
