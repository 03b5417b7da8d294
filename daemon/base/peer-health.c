/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "peer-health.h"

#include <glib.h>

void mig_peer_health_clear(MigPeerHealth *h) {
        g_free(h->why);
        *h = (MigPeerHealth){0};
}

uint64_t mig_peer_health_wait(const MigPeerHealth *h, MigPeerUse use, uint64_t now) {
        if (!h->down || use == MIG_PEER_USE_STEP)
                return 0;
        uint64_t until = h->last_failure + h->backoff;
        return until > now ? until - now : 0;
}

bool mig_peer_health_failed(MigPeerHealth *h, uint64_t now, uint64_t realtime, const char *why) {
        bool changed = !h->down;
        if (changed) {
                h->down = true;
                h->down_since = realtime;
                h->backoff = MIG_PEER_BACKOFF_FIRST_USEC;
                h->failures = 0;
        } else
                h->backoff = MIN(h->backoff * 2, MIG_PEER_BACKOFF_MAX_USEC);
        h->failures++;
        h->last_failure = now;
        g_free(h->why);
        h->why = g_strdup(why ? why : "no answer");
        return changed;
}

bool mig_peer_health_ok(MigPeerHealth *h) {
        if (!h->down)
                return false;
        mig_peer_health_clear(h);
        return true;
}

char *mig_peer_health_clock(uint64_t realtime) {
        g_autoptr(GDateTime) t = g_date_time_new_from_unix_local((gint64) (realtime / USEC_PER_SEC));
        return t ? g_date_time_format(t, "%H:%M:%S") : g_strdup("?");
}

char *mig_peer_health_describe(const MigPeerHealth *h, MigPeerUse use, uint64_t now) {
        g_autofree char *since = mig_peer_health_clock(h->down_since);
        uint64_t wait = mig_peer_health_wait(h, use, now);
        uint64_t seconds = (wait + USEC_PER_SEC - 1) / USEC_PER_SEC;
        if (use == MIG_PEER_USE_STEP)
                return g_strdup_printf("unreachable since %s: %s", since, h->why ? h->why : "no answer");
        if (wait == 0)
                return g_strdup_printf("unreachable since %s, trying again now: %s", since,
                                       h->why ? h->why : "no answer");
        return g_strdup_printf("unreachable since %s, next try in %" G_GUINT64_FORMAT " s: %s", since,
                               seconds, h->why ? h->why : "no answer");
}
