/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "scheduler.h"

#include <inttypes.h>
#include <string.h>

#include "disk.h"
#include "errors.h"
#include "macro.h"

#define CAPACITY_TIMEOUT_USEC (10 * USEC_PER_SEC)

typedef struct Pick {
        Manager *m;
        MigNeeds needs;
        MigSchedulerDone cb;
        void *userdata;
        unsigned pending;
        char *best;
        uint64_t best_free;
        GString *reasons;
} Pick;

typedef struct Capacity {
        int enabled;
        const char *reason;
        uint64_t memory_free, disk_free;
        uint32_t vcpus;
} Capacity;

static int read_capacity(sd_bus_message *reply, Capacity *c) {
        int r = sd_bus_message_enter_container(reply, 'a', "{sv}");
        while (r > 0 && (r = sd_bus_message_enter_container(reply, 'e', "sv")) > 0) {
                const char *key;
                if ((r = sd_bus_message_read(reply, "s", &key)) < 0)
                        return r;
                if (strcmp(key, "enabled") == 0)
                        r = sd_bus_message_read(reply, "v", "b", &c->enabled);
                else if (strcmp(key, "disabled-reason") == 0)
                        r = sd_bus_message_read(reply, "v", "s", &c->reason);
                else if (strcmp(key, "memory-free") == 0)
                        r = sd_bus_message_read(reply, "v", "t", &c->memory_free);
                else if (strcmp(key, "disk-free") == 0)
                        r = sd_bus_message_read(reply, "v", "t", &c->disk_free);
                else if (strcmp(key, "vcpus") == 0)
                        r = sd_bus_message_read(reply, "v", "u", &c->vcpus);
                else
                        r = sd_bus_message_skip(reply, "v");
                if (r >= 0)
                        r = sd_bus_message_exit_container(reply);
        }
        return r;
}

static void note(Pick *p, const char *node, const char *why) {
        g_string_append_printf(p->reasons, "%s%s: %s", p->reasons->len ? "; " : "", node, why);
}

/* Why the node cannot take the domain, or NULL when it can. */
static char *misfit(const Pick *p, const Capacity *c) {
        if (!c->enabled)
                return g_strdup_printf("disabled (%s)", c->reason ? c->reason : "no reason given");
        if (c->memory_free < p->needs.memory)
                return g_strdup_printf("%" PRIu64 " MiB memory free, %" PRIu64 " MiB needed",
                                       c->memory_free >> 20, p->needs.memory >> 20);
        if (c->vcpus < p->needs.vcpus)
                return g_strdup_printf("%u vCPUs, %u needed", c->vcpus, p->needs.vcpus);
        if (c->disk_free < p->needs.disk + MIG_DISK_MARGIN_BYTES)
                return g_strdup_printf("%" PRIu64 " MiB disk free, %" PRIu64 " MiB needed",
                                       c->disk_free >> 20,
                                       (uint64_t) ((p->needs.disk + MIG_DISK_MARGIN_BYTES) >> 20));
        return NULL;
}

static void pick_done(Pick *p) {
        if (--p->pending > 0)
                return;
        g_auto(sd_bus_error) e = SD_BUS_ERROR_NULL;
        if (!p->best)
                sd_bus_error_setf(&e, MIG_ERROR_NO_VALID_HOST, "No valid host: %s.",
                                  p->reasons->len ? p->reasons->str : "this node has no peers");
        p->cb(p->m, p->best, p->best ? NULL : &e, p->userdata);
        g_free(p->best);
        g_string_free(p->reasons, TRUE);
        g_free(p);
}

static void on_capacity(MigPeer *peer, sd_bus_message *reply, const sd_bus_error *error, void *userdata) {
        Pick *p = userdata;
        Capacity c = {.enabled = true};
        if (!reply || read_capacity(reply, &c) < 0) {
                note(p, mig_peer_name(peer), error ? "unreachable" : "sent an unreadable answer");
        } else {
                g_autofree char *why = misfit(p, &c);
                if (why)
                        note(p, mig_peer_name(peer), why);
                else if (!p->best || c.memory_free > p->best_free) {
                        g_free(p->best);
                        p->best = g_strdup(mig_peer_name(peer));
                        p->best_free = c.memory_free;
                }
        }
        pick_done(p);
}

void mig_scheduler_pick(Manager *m, const MigNeeds *needs, MigSchedulerDone cb, void *userdata) {
        Pick *p = g_new0(Pick, 1);
        unsigned n = mig_peers_count(m->peers);
        *p = (Pick){m, *needs, cb, userdata, n + 1, NULL, 0, g_string_new("")};
        for (unsigned i = 0; i < n; i++)
                mig_peer_call(mig_peers_get(m->peers, i), "GetCapacity", CAPACITY_TIMEOUT_USEC, on_capacity,
                              p, NULL);
        pick_done(p);
}
