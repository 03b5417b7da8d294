/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The peers of tests/bench/schedule-scale.sh: ONE process on a private bus that owns
 * org.example.Migrate1 and answers, on /org/example/Migrate1, the Peer questions the
 * daemon asks every peer (GetPlacement for the scheduler; ListDomains for its start-up scan;
 * Ping and GetCapacity in case). Every peer connection of the daemon is one
 * systemd-stdio-bridge to this bus, so the caller's unique name stands for the peer: the
 * facts are derived from it (a hash), which makes the nodes differ: one in 10 disabled, one
 * in 10 with too little memory, the others with 16-255 GiB free. It counts what it answers
 * and when (CLOCK_REALTIME, the clock of bash's $EPOCHREALTIME), for the script to split a
 * decision's time into phases:
 *
 *   org.example.BenchStub.Reset()    the GetPlacement count and times start again
 *   org.example.BenchStub.Counts() -> (u placements, t first_usec, t last_usec,
 *                                      u list_domains, t last_list_usec, u other)
 *
 * (ListDomains and the others are counted since the start.)
 *
 * Not installed, not part of the build: the script compiles it into its temp folder.
 *
 *   placement-stub unix:path=/tmp/.../stub.sock
 */

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>
#include <time.h>

#define GIB (UINT64_C(1) << 30)

static struct {
        unsigned placements, list_domains, other;
        uint64_t first, last, last_list;
} counts;

static uint64_t now_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
}

static uint32_t hash(const char *s) { /* FNV-1a */
        uint32_t h = 2166136261u;
        for (; s && *s; s++)
                h = (h ^ (unsigned char) *s) * 16777619u;
        return h;
}

static int get_placement(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        uint64_t t = now_usec();
        if (counts.placements++ == 0)
                counts.first = t;
        counts.last = t;
        int r = sd_bus_message_skip(m, "a{sv}");
        if (r < 0)
                return r;
        uint32_t h = hash(sd_bus_message_get_sender(m));
        int enabled = h % 10 != 0;
        uint64_t memory = h % 10 == 1 ? 1 * GIB : (16 + (h >> 8) % 240) * GIB;
        sd_bus_message *reply = NULL;
        r = sd_bus_message_new_method_return(m, &reply);
        if (r >= 0)
                r = sd_bus_message_append(reply, "a{sv}", 8, "enabled", "b", enabled, "disabled-reason", "s",
                                          enabled ? "" : "bench: disabled", "memory-free", "t", memory,
                                          "disk-free", "t", 1024 * GIB, "vcpus", "u", 64, "vcpus-used", "u",
                                          (h >> 4) % 32, "in-flight", "u", (h >> 12) % 3, "members", "as", 0);
        if (r >= 0)
                r = sd_bus_send(NULL, reply, NULL);
        sd_bus_message_unref(reply);
        return r < 0 ? r : 1;
}

static int list_domains(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        counts.list_domains++;
        counts.last_list = now_usec();
        return sd_bus_reply_method_return(m, "aa{sv}", 0);
}

static int ping(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        counts.other++;
        char name[32];
        snprintf(name, sizeof name, "stub%08" PRIx32, hash(sd_bus_message_get_sender(m)));
        return sd_bus_reply_method_return(m, "s", name);
}

static int get_capacity(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        counts.other++;
        return sd_bus_reply_method_return(m, "a{sv}", 6, "enabled", "b", 1, "memory-total", "t", 256 * GIB,
                                          "memory-free", "t", 128 * GIB, "vcpus", "u", 64, "vcpus-used", "u",
                                          0, "disk-free", "t", 1024 * GIB);
}

static int reset(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        counts.placements = 0;
        counts.first = counts.last = 0;
        return sd_bus_reply_method_return(m, "");
}

static int get_counts(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return sd_bus_reply_method_return(m, "uttutu", counts.placements, counts.first, counts.last,
                                          counts.list_domains, counts.last_list, counts.other);
}

static const sd_bus_vtable peer_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD("GetPlacement", "a{sv}", "a{sv}", get_placement, 0),
        SD_BUS_METHOD("ListDomains", "", "aa{sv}", list_domains, 0),
        SD_BUS_METHOD("Ping", "", "s", ping, 0),
        SD_BUS_METHOD("GetCapacity", "", "a{sv}", get_capacity, 0),
        SD_BUS_VTABLE_END,
};

static const sd_bus_vtable stub_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD("Reset", "", "", reset, 0),
        SD_BUS_METHOD("Counts", "", "uttutu", get_counts, 0),
        SD_BUS_VTABLE_END,
};

int main(int argc, char **argv) {
        sd_event *event = NULL;
        sd_bus *bus = NULL;
        if (argc != 2) {
                fprintf(stderr, "usage: %s BUS-ADDRESS\n", argv[0]);
                return 2;
        }
        sigset_t mask;
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        int r = sd_event_default(&event);
        if (r >= 0)
                r = sd_event_add_signal(event, NULL, SIGTERM, NULL, NULL);
        if (r >= 0)
                r = sd_event_add_signal(event, NULL, SIGINT, NULL, NULL);
        if (r >= 0)
                r = sd_bus_new(&bus);
        if (r >= 0)
                r = sd_bus_set_address(bus, argv[1]);
        if (r >= 0)
                r = sd_bus_set_bus_client(bus, 1);
        if (r >= 0)
                r = sd_bus_set_exit_on_disconnect(bus, 1);
        if (r >= 0)
                r = sd_bus_start(bus);
        if (r >= 0)
                r = sd_bus_add_object_vtable(bus, NULL, "/org/example/Migrate1", "org.example.Migrate1.Peer",
                                             peer_vtable, NULL);
        if (r >= 0)
                r = sd_bus_add_object_vtable(bus, NULL, "/org/example/Migrate1", "org.example.BenchStub",
                                             stub_vtable, NULL);
        if (r >= 0)
                r = sd_bus_request_name(bus, "org.example.Migrate1", 0);
        if (r >= 0)
                r = sd_bus_attach_event(bus, event, 0);
        if (r >= 0)
                r = sd_event_loop(event); /* also ends when the bus goes away */
        if (r < 0)
                fprintf(stderr, "placement-stub: %s\n", strerror(-r));
        sd_bus_flush_close_unref(bus);
        sd_event_unref(event);
        return r < 0 ? 1 : 0;
}
