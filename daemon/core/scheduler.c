/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "scheduler.h"

#include <inttypes.h>
#include <string.h>

#include "bus-variant.h"
#include "disk.h"
#include "errors.h"
#include "macro.h"

typedef struct Pick {
        Manager *m;
        MigNeeds needs;
        MigSchedulerDone cb;
        void *userdata;
        char *best;
        uint64_t best_free;
        GString *reasons;
} Pick;

typedef struct Capacity {
        bool enabled;
        const char *reason;
        uint64_t memory_free, disk_free;
        uint64_t vcpus;
} Capacity;

/* A GetCapacity reply; false when it is not one. */
static bool read_capacity(GVariant *reply, Capacity *c) {
        g_autoptr(GVariant) d = mig_dict_ref(reply);
        if (!d)
                return false;
        c->reason = mig_dict_string(d, "disabled-reason");
        (void) mig_dict_bool(d, "enabled", &c->enabled);
        (void) mig_dict_uint64(d, "memory-free", &c->memory_free);
        (void) mig_dict_uint64(d, "disk-free", &c->disk_free);
        (void) mig_dict_uint64(d, "vcpus", &c->vcpus);
        return true;
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
                return g_strdup_printf("%" PRIu64 " vCPUs, %u needed", c->vcpus, p->needs.vcpus);
        if (c->disk_free < p->needs.disk + MIG_DISK_MARGIN_BYTES)
                return g_strdup_printf("%" PRIu64 " MiB disk free, %" PRIu64 " MiB needed",
                                       c->disk_free >> 20,
                                       (uint64_t) ((p->needs.disk + MIG_DISK_MARGIN_BYTES) >> 20));
        return NULL;
}

static void pick_done(void *userdata) {
        Pick *p = userdata;
        g_auto(sd_bus_error) e = SD_BUS_ERROR_NULL;
        if (!p->best)
                sd_bus_error_setf(&e, MIG_ERROR_NO_VALID_HOST, "No valid host: %s.",
                                  p->reasons->len ? p->reasons->str : "this node has no peers");
        p->cb(p->m, p->best, p->best ? NULL : &e, p->userdata);
        g_free(p->best);
        g_string_free(p->reasons, TRUE);
        g_free(p);
}

static void on_capacity(MigPeer *peer, GVariant *reply, const sd_bus_error *error, void *userdata) {
        Pick *p = userdata;
        Capacity c = {.enabled = true};
        if (!reply || !read_capacity(reply, &c)) {
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
}

void mig_scheduler_pick(Manager *m, const MigNeeds *needs, MigSchedulerDone cb, void *userdata) {
        Pick *p = g_new0(Pick, 1);
        *p = (Pick){m, *needs, cb, userdata, NULL, 0, g_string_new("")};
        mig_peers_ask_all(m->peers, "GetCapacity", MIG_PEER_TIMEOUT_USEC, on_capacity, pick_done, p, NULL);
}
