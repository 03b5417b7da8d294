/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Manager.Plan: where the domain could go and why not, as the scheduler would decide it now
 * (core/scheduler.c), without a claim or a record. Anyone may ask, like the listings: the
 * peers' answers come through the listings' short cache. */

#include <string.h>

#include "bus-api.h"
#include "bus-variant.h"
#include "disk.h"
#include "errors.h"
#include "macro.h"
#include "scheduler.h"
#include "validate.h"
#include "virt-call.h"

typedef struct PlanArgs {
        int live, block;
        char *domain, *destination;
        GVariant *options; /* as given, for the node that holds the domain */
        bool may_forward;
} PlanArgs;

static void plan_args_free(PlanArgs *a) {
        g_free(a->domain);
        g_free(a->destination);
        g_variant_unref(a->options);
        g_free(a);
}

static const char *verdict(const MigPlan *p, const MigCandidate *c) {
        if (c->refusal)
                return "refused";
        return strcmp(c->node, mig_plan_pick(p, 0) ? mig_plan_pick(p, 0) : "") == 0 ? "chosen" : "possible";
}

static int append_candidate(sd_bus_message *reply, const MigPlan *p, const MigCandidate *c) {
        const MigPlacementFacts *f = &c->facts;
        int r = sd_bus_message_open_container(reply, 'a', "{sv}");
        if (r >= 0)
                r = sd_bus_message_append(reply, "{sv}{sv}{sv}{sv}", "node", "s", c->node, "verdict", "s",
                                          verdict(p, c), "reason", "s", c->refusal ? c->refusal : "",
                                          "source", "b", c->source);
        if (r >= 0 && !c->failure)
                r = sd_bus_message_append(reply, "{sv}{sv}{sv}{sv}{sv}{sv}", "enabled", "b", f->enabled,
                                          "memory-free", "t", f->memory_free, "disk-free", "t", f->disk_free,
                                          "vcpus", "u", f->vcpus, "vcpus-used", "u", f->vcpus_used,
                                          "in-flight", "u", f->in_flight);
        if (r >= 0 && !c->failure)
                r = bus_append_strv_entry(reply, "members", f->members);
        return r < 0 ? r : sd_bus_message_close_container(reply);
}

static void on_plan(Manager *m, MigPlan *plan, void *userdata) {
        g_autoptr(sd_bus_message) request = userdata;
        g_autoptr(MigPlan) p = plan;
        g_autoptr(sd_bus_message) reply = NULL;
        int r = sd_bus_message_new_method_return(request, &reply);
        if (r >= 0)
                r = sd_bus_message_open_container(reply, 'a', "a{sv}");
        for (guint i = 0; r >= 0 && i < p->candidates->len; i++)
                r = append_candidate(reply, p, p->candidates->pdata[i]);
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        bus_send_or_fail(request, reply, r);
}

static void on_plan_lookup(VirtCall *c) {
        PlanArgs *a = c->data;
        if (c->result < 0 && a->may_forward && g_strcmp0(c->err.name, MIG_ERROR_NOT_FOUND) == 0)
                bus_forward_to_holder(c->m, c->request, a->domain, "Plan",
                                      g_variant_new("(ss@a{sv})", a->domain, a->destination, a->options),
                                      BUS_FORWARD_RELAY);
        else if (c->result < 0) {
                g_auto(sd_bus_error) e = SD_BUS_ERROR_NULL;
                mig_virt_error_to_bus(&c->err, &e);
                (void) sd_bus_reply_method_error(c->request, &e);
        } else {
                uint64_t disk = a->live && !a->block ? 0
                                                     : mig_disks_local_bytes(c->info->disks,
                                                                             c->m->config->image_directory);
                MigPlaceRequest req = mig_place_request(c->info, disk, a->destination);
                req.cached = true;
                req.cpu = a->live ? c->info->cpu : NULL;
                mig_plan_make(c->m, &req, on_plan, sd_bus_message_ref(c->request));
        }
        plan_args_free(a);
}

static int plan_start(sd_bus_message *msg, Manager *m, bool may_forward, sd_bus_error *error) {
        const char *domain, *destination;
        PlanArgs a = {0};
        const MigDictSpec specs[] = {{"live", 'b', &a.live}, {"block-migration", 'b', &a.block}, {NULL}};
        g_autoptr(GVariant) options = NULL;
        int r = sd_bus_message_read(msg, "ss", &domain, &destination);
        if (r < 0 || (r = bus_read_options(msg, "option", specs, &options, error)) < 0)
                return r;
        if (!mig_domain_name_valid(domain))
                return sd_bus_error_set(error, MIG_ERROR_INVALID_ARGUMENT,
                                        "Invalid domain: " MIG_DOMAIN_NAME_RULE ".");
        if ((r = bus_check_destination(m, destination, error)) < 0)
                return r;
        PlanArgs *keep = g_new0(PlanArgs, 1);
        *keep = (PlanArgs){
                a.live,     a.block, g_strdup(domain), g_strdup(destination), g_steal_pointer(&options),
                may_forward};
        VirtCall *c = virt_call_new(m, VIRT_LOOKUP, msg, on_plan_lookup, keep);
        c->domain = g_strdup(domain);
        virt_call_submit(c);
        return 1;
}

int bus_method_plan(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        return plan_start(msg, userdata, true, error);
}

int bus_peer_plan(sd_bus_message *msg, Manager *m, sd_bus_error *error) {
        return plan_start(msg, m, false, error);
}
