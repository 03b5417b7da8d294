/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A libvirt query run on the worker, with its answer handed to then() on the
 * event loop. The bus handlers use these instead of calling libvirt themselves. */

#include "manager.h"

typedef enum { VIRT_LIST, VIRT_LOOKUP, VIRT_CAPACITY, VIRT_SET_GROUP } VirtCallKind;

typedef struct VirtCall VirtCall;
typedef void (*VirtCallThen)(VirtCall *c);

struct VirtCall {
        VirtCallKind kind;
        Manager *m;
        sd_bus_message *request; /* referenced; may be NULL */
        char *domain;            /* LOOKUP, SET_GROUP */
        char *group;             /* SET_GROUP: NULL clears */
        char *policy;
        GPtrArray *list;     /* LIST result: MigDomainInfo* */
        MigDomainInfo *info; /* LOOKUP result */
        MigCapacity capacity;
        int result; /* 0 or negative errno; err says why */
        MigVirtError err;
        VirtCallThen then;
        void *data;
        MigLane lane; /* the read lane, unless an admin's or a peer's step set it to the step lane */
};

VirtCall *virt_call_new(Manager *m, VirtCallKind kind, sd_bus_message *request, VirtCallThen then,
                        void *data);
/* Runs the call on the worker; then() runs on the loop, after which the call is freed. */
void virt_call_submit(VirtCall *c);
