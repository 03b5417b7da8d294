/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Connections to the other nodes' daemons: D-Bus over SSH (ssh runs
 * systemd-stdio-bridge on the peer, which speaks to the peer's system bus as
 * root). Opened on first use, reused, and opened again after a failure. */

#include <glib.h>
#include <stdbool.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "config.h"

typedef struct MigPeer MigPeer;
typedef struct MigPeers MigPeers;

/* How long a question to a peer may take (listings, capacity, views); a migration step
 * (Prepare, Finish, ...) may take longer. */
#define MIG_PEER_TIMEOUT_USEC (15 * USEC_PER_SEC)
#define MIG_PEER_STEP_TIMEOUT_USEC (60 * USEC_PER_SEC)

/* Called once with the reply's body as a tuple (NULL on failure), or with a
 * PeerUnreachable/peer error already named. reply is borrowed: ref it to keep it. */
typedef void (*MigPeerReply)(MigPeer *peer, GVariant *reply, const sd_bus_error *error, void *userdata);

MigPeers *mig_peers_new(sd_event *event, const MigConfig *config);
void mig_peers_free(MigPeers *ps);
MigPeer *mig_peers_find(MigPeers *ps, const char *name);
unsigned mig_peers_count(const MigPeers *ps);
MigPeer *mig_peers_get(MigPeers *ps, unsigned i);

const char *mig_peer_name(const MigPeer *p);
const char *mig_peer_address(const MigPeer *p);

/* Calls METHOD of org.example.Migrate1.Peer on the peer with the members of args (a
 * tuple, e.g. g_variant_new("(ss)", ...); a floating one is sunk; NULL: no arguments).
 * cb gets the reply, or a named error: the peer's own, or PeerUnreachable for a transport
 * failure (also when p is NULL: a peer that is not configured); it may run before this
 * returns. */
void mig_peer_call(MigPeer *p, const char *method, uint64_t timeout_usec, MigPeerReply cb, void *userdata,
                   GVariant *args);

/* A notification: like mig_peer_call() without a reply to wait for, and it never starts
 * the peer's daemon (one that is not running learns the same when it starts). */
void mig_peer_notify(MigPeer *p, const char *method, GVariant *args);

/* Asks every peer the same question: each() gets every peer's answer (or error) as it
 * comes, then done() runs once, after the last (at once when there are no peers). */
typedef void (*MigPeersDone)(void *userdata);
void mig_peers_ask_all(MigPeers *ps, const char *method, uint64_t timeout_usec, MigPeerReply each,
                       MigPeersDone done, void *userdata, GVariant *args);
