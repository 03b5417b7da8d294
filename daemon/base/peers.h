/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Connections to the other nodes' daemons: D-Bus over SSH (ssh runs
 * systemd-stdio-bridge on the peer, which speaks to the peer's system bus as
 * root). Opened on first use, reused, and opened again after a failure. */

#include <stdbool.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "config.h"

typedef struct MigPeer MigPeer;
typedef struct MigPeers MigPeers;

/* Called once with the reply or with a PeerUnreachable/peer error already named. */
typedef void (*MigPeerReply)(MigPeer *peer, sd_bus_message *reply, const sd_bus_error *error,
                             void *userdata);

MigPeers *mig_peers_new(sd_event *event, const MigConfig *config);
void mig_peers_free(MigPeers *ps);
MigPeer *mig_peers_find(MigPeers *ps, const char *name);
unsigned mig_peers_count(const MigPeers *ps);
MigPeer *mig_peers_get(MigPeers *ps, unsigned i);

const char *mig_peer_name(const MigPeer *p);
const char *mig_peer_address(const MigPeer *p);

/* Calls METHOD of org.example.Migrate1.Peer on the peer with the arguments types
 * describes (NULL: none). cb gets the reply, or a named error: the peer's own, or
 * PeerUnreachable for a transport failure; it may run before this returns. */
int mig_peer_call(MigPeer *p, const char *method, uint64_t timeout_usec, MigPeerReply cb, void *userdata,
                  const char *types, ...);

/* A notification: like mig_peer_call() without a reply to wait for, and it never starts
 * the peer's daemon (one that is not running learns the same when it starts). */
int mig_peer_notify(MigPeer *p, const char *method, const char *types, ...);

/* Like mig_peer_call(), and build() appends further arguments after types. cb may run
 * before this returns (when the connection cannot even start). */
typedef int (*MigPeerBuild)(sd_bus_message *call, void *data);
int mig_peer_call_build(MigPeer *p, const char *method, uint64_t timeout_usec, MigPeerReply cb,
                        void *userdata, MigPeerBuild build, void *build_data, const char *types, ...);
