/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "virt-call.h"

#include "macro.h"

VirtCall *virt_call_new(Manager *m, VirtCallKind kind, sd_bus_message *request, VirtCallThen then,
                        void *data) {
        VirtCall *c = g_new0(VirtCall, 1);
        c->kind = kind;
        c->m = m;
        c->request = request ? sd_bus_message_ref(request) : NULL;
        c->then = then;
        c->data = data;
        c->lane = kind == VIRT_SET_GROUP ? MIG_LANE_STEP : MIG_LANE_READ;
        return c;
}

static void virt_call_free(void *data) {
        VirtCall *c = data;
        sd_bus_message_unref(c->request);
        g_free(c->domain);
        g_free(c->group);
        g_free(c->policy);
        if (c->list)
                g_ptr_array_unref(c->list);
        mig_domain_info_free(c->info);
        mig_virt_error_clear(&c->err);
        g_free(c);
}

static void run(void *data) {
        VirtCall *c = data;
        MigVirt *v = c->m->virt;
        switch (c->kind) {
        case VIRT_LIST:
                c->result = mig_virt_list_domains(v, &c->list, &c->err);
                break;
        case VIRT_LOOKUP:
                c->result = mig_virt_lookup(v, c->domain, &c->info, &c->err);
                break;
        case VIRT_CAPACITY:
                c->result = mig_virt_capacity(v, c->m->config->image_directory, &c->capacity, &c->err);
                break;
        case VIRT_SET_GROUP:
                c->result = mig_virt_set_group(v, c->domain, c->group, c->policy, &c->err);
                break;
        }
}

static void done(void *data) {
        VirtCall *c = data;
        c->then(c);
}

void virt_call_submit(VirtCall *c) {
        mig_worker_submit_on(c->m->worker, c->lane, run, done, c, virt_call_free);
}
