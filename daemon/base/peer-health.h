/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Whether a peer is reachable, and its back-off while it is not (used by peers.c; no bus,
 * no clock of its own: the caller passes the time, so the unit test drives it).
 *
 * A peer whose connection failed or broke is down: a listing's question fails at once
 * until the back-off has passed since the last failed attempt (1 s, doubled on every
 * failed attempt up to 30 s, reset by any answer). The daemon's own calls (migration
 * steps, notifications, the scheduler's and the reconciliation's questions) are never held
 * back: only privileged callers or the daemon's own timers make them, each at its own
 * pace (the cold Finish asks again every 5 s), and an operator who just brought a peer back
 * must not be told to wait. Only the changes down → up and up → down are reported, for the
 * one log line each. */

#include <stdbool.h>
#include <stdint.h>

#include "macro.h"

#define MIG_PEER_BACKOFF_FIRST_USEC (1 * USEC_PER_SEC)
#define MIG_PEER_BACKOFF_MAX_USEC (30 * USEC_PER_SEC)

typedef enum MigPeerUse {
        MIG_PEER_USE_READ, /* a listing's question (anyone's): waits out the back-off */
        MIG_PEER_USE_STEP, /* a step or another call of the daemon's own: never held back */
} MigPeerUse;

typedef struct MigPeerHealth {
        bool down;
        uint64_t down_since;   /* CLOCK_REALTIME µs of the change to down (for "since HH:MM:SS") */
        uint64_t last_failure; /* CLOCK_MONOTONIC µs of the last failed attempt */
        uint64_t backoff;      /* µs after last_failure before the next attempt of a read */
        unsigned failures;     /* failed attempts since it went down */
        char *why;             /* the last failure */
} MigPeerHealth;

void mig_peer_health_clear(MigPeerHealth *h);

/* µs until a call of that use may try the peer at now (CLOCK_MONOTONIC); 0: it may now. */
uint64_t mig_peer_health_wait(const MigPeerHealth *h, MigPeerUse use, uint64_t now);

/* A failed attempt at now (realtime: the same instant on CLOCK_REALTIME). True when the
 * peer was up until now (log it); later failures only lengthen the back-off. */
bool mig_peer_health_failed(MigPeerHealth *h, uint64_t now, uint64_t realtime, const char *why);

/* The peer answered. True when it was down until now (log it). */
bool mig_peer_health_ok(MigPeerHealth *h);

/* For a call that failed while h->down: "unreachable since 12:00:01, next try in 4 s:
 * WHY" (a read), "unreachable since 12:00:01: WHY" (a step: its caller decides when to ask
 * again). */
char *mig_peer_health_describe(const MigPeerHealth *h, MigPeerUse use, uint64_t now);

/* "12:00:01": the local time of a CLOCK_REALTIME µs value. */
char *mig_peer_health_clock(uint64_t realtime);
