/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A client connection on the event loop without sd_bus_attach_event(). sd-bus' own
 * attachment gives every connection a prepare callback that runs on every turn of the
 * loop; the loop dispatches one source per turn, so with N peer connections answering one
 * question each, a decision costs N² such callbacks (half a second at 1000 peers). Here a
 * connection's wishes (what to poll for, when its next timeout is) are asked only after
 * something happened on it: after it was processed, and after its owner queued a message
 * (mig_bus_loop_update()). A connection whose owner queues messages elsewhere must use
 * sd_bus_attach_event() instead. */

#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

typedef struct MigBusLoop {
        sd_bus *bus; /* borrowed */
        sd_event_source *io, *timer;
} MigBusLoop;

int mig_bus_loop_attach(MigBusLoop *l, sd_bus *bus, sd_event *event);
/* After a message was queued on the bus: polls for what it needs now. */
void mig_bus_loop_update(MigBusLoop *l);
void mig_bus_loop_detach(MigBusLoop *l);
