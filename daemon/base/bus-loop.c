/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "bus-loop.h"

#include <stdint.h>

/* Messages handled per wake-up before the loop's other sources get their turn. */
#define BATCH 64

void mig_bus_loop_update(MigBusLoop *l) {
        int events = sd_bus_get_events(l->bus);
        if (events < 0) /* closing or closed: the timer dispatches what is left */
                (void) sd_event_source_set_enabled(l->io, SD_EVENT_OFF);
        else {
                (void) sd_event_source_set_io_events(l->io, (uint32_t) events);
                (void) sd_event_source_set_enabled(l->io, SD_EVENT_ON);
        }
        uint64_t until = UINT64_MAX;
        int r = sd_bus_get_timeout(l->bus, &until); /* 0: something is waiting to be dispatched */
        if (r > 0 && until != UINT64_MAX && sd_event_source_set_time(l->timer, until) >= 0)
                (void) sd_event_source_set_enabled(l->timer, SD_EVENT_ONESHOT);
        else
                (void) sd_event_source_set_enabled(l->timer, SD_EVENT_OFF);
}

static void process(MigBusLoop *l) {
        for (int i = 0; i < BATCH; i++)
                if (sd_bus_process(l->bus, NULL) <= 0)
                        break;
        mig_bus_loop_update(l);
}

static int on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        process(userdata);
        return 0;
}

static int on_time(sd_event_source *s, uint64_t usec, void *userdata) {
        process(userdata);
        return 0;
}

int mig_bus_loop_attach(MigBusLoop *l, sd_bus *bus, sd_event *event) {
        *l = (MigBusLoop){.bus = bus};
        int fd = sd_bus_get_fd(bus);
        int r = fd < 0 ? fd : sd_event_add_io(event, &l->io, fd, 0, on_io, l);
        if (r >= 0)
                r = sd_event_add_time(event, &l->timer, CLOCK_MONOTONIC, 0, 0, on_time, l);
        if (r < 0) {
                mig_bus_loop_detach(l);
                return r;
        }
        mig_bus_loop_update(l);
        return 0;
}

void mig_bus_loop_detach(MigBusLoop *l) {
        l->io = sd_event_source_disable_unref(l->io);
        l->timer = sd_event_source_disable_unref(l->timer);
}
