/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "scheduler.h"

#include <inttypes.h>
#include <string.h>

#include "bus-variant.h"
#include "disk.h"
#include "errors.h"
#include "macro.h"

/* --- the plan --- */

static void candidate_free(gpointer data) {
        MigCandidate *c = data;
        g_free(c->node);
        g_free(c->failure);
        g_free(c->refusal);
        mig_placement_facts_clear(&c->facts);
        g_free(c);
}

MigPlan *mig_plan_new(const MigPlaceRequest *req) {
        MigPlan *p = g_new0(MigPlan, 1);
        p->domain = g_strdup(req->name);
        p->host = req->host && *req->host ? g_strdup(req->host) : NULL;
        p->candidates = g_ptr_array_new_with_free_func(candidate_free);
        return p;
}

void mig_plan_free(MigPlan *p) {
        if (!p)
                return;
        g_free(p->domain);
        g_free(p->host);
        g_ptr_array_unref(p->candidates);
        g_free(p);
}

MigCandidate *mig_plan_add(MigPlan *p, const char *node, bool source, MigPlacementFacts *facts,
                           const char *failure) {
        MigCandidate *c = g_new0(MigCandidate, 1);
        c->node = g_strdup(node);
        c->source = source;
        if (facts) {
                c->facts = *facts;
                *facts = (MigPlacementFacts){0};
        } else
                c->failure = g_strdup(failure ? failure : "no answer");
        if (!c->facts.members)
                c->facts.members = g_ptr_array_new_with_free_func(g_free);
        g_ptr_array_add(p->candidates, c);
        return c;
}

/* --- filters --- */

static bool group_elsewhere(const MigPlan *p);

GVariant *mig_plan_placement_args(const MigPlan *plan, const MigDomainInfo *d, GPtrArray *disks) {
        GVariantBuilder b, backing;
        g_variant_builder_init(&backing, G_VARIANT_TYPE_STRING_ARRAY);
        for (guint i = 0; disks && i < disks->len; i++)
                if (((MigDisk *) disks->pdata[i])->backing)
                        g_variant_builder_add(&backing, "s", ((MigDisk *) disks->pdata[i])->path);
        g_variant_builder_init(&b, G_VARIANT_TYPE_VARDICT);
        g_variant_builder_add(&b, "{sv}", "group", g_variant_new_string(d->group ? d->group : ""));
        g_variant_builder_add(&b, "{sv}", "group-policy",
                              g_variant_new_string(d->group_policy ? d->group_policy : ""));
        g_variant_builder_add(&b, "{sv}", "group-elsewhere",
                              g_variant_new_boolean(plan && group_elsewhere(plan)));
        g_variant_builder_add(&b, "{sv}", "backing-files", g_variant_builder_end(&backing));
        return g_variant_builder_end(&b);
}

MigPlaceRequest mig_place_request(const MigDomainInfo *d, uint64_t disk, const char *host) {
        return (MigPlaceRequest){.name = d->name,
                                 .uuid = d->uuid,
                                 .memory = d->memory,
                                 .vcpus = d->vcpus,
                                 .disk = disk,
                                 .group = d->group ? d->group : "",
                                 .policy = d->group_policy ? d->group_policy : "",
                                 .host = host && *host ? host : NULL};
}

static bool group_elsewhere(const MigPlan *p) {
        for (guint i = 0; i < p->candidates->len; i++)
                if (((MigCandidate *) p->candidates->pdata[i])->facts.members->len > 0)
                        return true;
        return false;
}

static char *refusal_of(MigCandidate *c, const MigPlaceRequest *req, bool elsewhere) {
        c->refusal_name = c->failure ? MIG_ERROR_PEER_UNREACHABLE : MIG_ERROR_NO_VALID_HOST;
        if (c->source)
                return g_strdup("the domain is on this node");
        if (c->failure)
                return g_strdup_printf("unreachable (%s)", c->failure);
        if (!c->facts.enabled)
                return g_strdup_printf("disabled (%s)", c->facts.disabled_reason && *c->facts.disabled_reason
                                                                ? c->facts.disabled_reason
                                                                : "no reason given");
        char *why = placement_policy_refusal(req->policy, c->facts.members, elsewhere);
        if (!why)
                why = placement_capacity_refusal(&c->facts, req->memory, req->vcpus, req->disk,
                                                 &c->refusal_name);
        if (!why && c->facts.cpu_refusal)
                why = g_strdup_printf("CPU: %s", c->facts.cpu_refusal);
        return why;
}

/* --- weighers --- */

static int soft_weight(const MigCandidate *c, const char *policy) {
        int members = (int) c->facts.members->len;
        if (g_strcmp0(policy, "soft-affinity") == 0)
                return -members; /* more members first */
        if (g_strcmp0(policy, "soft-anti-affinity") == 0)
                return members; /* fewer first */
        return 0;
}

/* Free memory within 64 MiB counts as equal: the figure moves by that much between two
 * readings, and a plan (a dry run and the run after it) should not flip between equal
 * nodes on noise; the next weigher and then the name decide. */
#define MEMORY_NOISE (UINT64_C(64) << 20)

static int compare_memory(uint64_t x, uint64_t y) {
        if (x > y + MEMORY_NOISE)
                return -1;
        return y > x + MEMORY_NOISE ? 1 : 0;
}

static int compare(gconstpointer a, gconstpointer b, gpointer userdata) {
        const MigCandidate *x = *(MigCandidate *const *) a, *y = *(MigCandidate *const *) b;
        const char *policy = userdata;
        if (!x->refusal != !y->refusal)
                return x->refusal ? 1 : -1; /* the possible ones first */
        if (!x->refusal) {
                int d = soft_weight(x, policy) - soft_weight(y, policy);
                if (d)
                        return d;
                if ((d = compare_memory(x->facts.memory_free, y->facts.memory_free)))
                        return d;
                if (x->facts.in_flight != y->facts.in_flight)
                        return x->facts.in_flight < y->facts.in_flight ? -1 : 1;
        } else if (x->source != y->source)
                return x->source ? 1 : -1; /* the source last */
        return strcmp(x->node, y->node);
}

void mig_plan_rank(MigPlan *p, const MigPlaceRequest *req) {
        bool elsewhere = group_elsewhere(p);
        p->possible = 0;
        for (guint i = 0; i < p->candidates->len; i++) {
                MigCandidate *c = p->candidates->pdata[i];
                g_free(c->refusal);
                c->refusal = refusal_of(c, req, elsewhere);
                p->possible += !c->refusal;
        }
        g_ptr_array_sort_with_data(p->candidates, compare, (gpointer) req->policy);
}

const char *mig_plan_pick(const MigPlan *p, unsigned attempt) {
        for (guint i = 0, n = 0; i < p->possible; i++) {
                const MigCandidate *c = p->candidates->pdata[i];
                if (p->host && strcmp(c->node, p->host) != 0)
                        continue;
                if (n++ == attempt)
                        return c->node;
        }
        return NULL;
}

char *mig_plan_reasons(const MigPlan *p) {
        GString *s = g_string_new("");
        for (guint i = 0; i < p->candidates->len; i++) {
                const MigCandidate *c = p->candidates->pdata[i];
                if (c->refusal && !c->source)
                        g_string_append_printf(s, "%s%s: %s", s->len ? "; " : "", c->node, c->refusal);
        }
        return g_string_free(s, FALSE);
}

int mig_plan_no_valid_host(const MigPlan *p, sd_bus_error *error) {
        g_autofree char *reasons = mig_plan_reasons(p);
        if (p->host) {
                for (guint i = 0; i < p->candidates->len; i++) {
                        const MigCandidate *c = p->candidates->pdata[i];
                        if (strcmp(c->node, p->host) == 0 && c->refusal)
                                return sd_bus_error_setf(error, c->refusal_name, "Cannot move %s to %s: %s.",
                                                         p->domain, c->node, c->refusal);
                }
        }
        if (p->host)
                return sd_bus_error_setf(error, MIG_ERROR_NOT_FOUND,
                                         "Cannot move %s to %s: not a configured peer.", p->domain, p->host);
        return sd_bus_error_setf(error, MIG_ERROR_NO_VALID_HOST, "No valid host for %s: %s.", p->domain,
                                 *reasons ? reasons : "this node has no peers");
}

/* --- asking the nodes --- */

typedef struct Making {
        Manager *m;
        MigPlaceRequest req; /* its strings owned below */
        char *name, *uuid, *group, *policy, *host, *cpu;
        MigPlan *plan;
        unsigned pending;
        MigPlanDone done;
        void *userdata;
} Making;

static void making_end(Making *mk) {
        if (--mk->pending > 0)
                return;
        mig_plan_rank(mk->plan, &mk->req);
        mk->done(mk->m, g_steal_pointer(&mk->plan), mk->userdata);
        g_free(mk->name);
        g_free(mk->uuid);
        g_free(mk->group);
        g_free(mk->policy);
        g_free(mk->host);
        g_free(mk->cpu);
        g_free(mk);
}

/* A GetPlacement answer; false when it is not one. */
static bool read_facts(GVariant *reply, MigPlacementFacts *f) {
        g_autoptr(GVariant) d = mig_dict_ref(reply);
        if (!d)
                return false;
        uint64_t vcpus = 0, used = 0;
        f->enabled = true;
        (void) mig_dict_bool(d, "enabled", &f->enabled);
        f->disabled_reason = g_strdup(mig_dict_string(d, "disabled-reason"));
        bool ok = mig_dict_uint64(d, "memory-free", &f->memory_free) &&
                  mig_dict_uint64(d, "disk-free", &f->disk_free) && mig_dict_uint64(d, "vcpus", &vcpus) &&
                  mig_dict_uint64(d, "vcpus-used", &used);
        f->vcpus = (unsigned) vcpus;
        f->vcpus_used = (unsigned) used;
        uint64_t n = 0;
        (void) mig_dict_uint64(d, "in-flight", &n);
        f->in_flight = (unsigned) n;
        const char *cpu = mig_dict_string(d, "cpu-refusal");
        f->cpu_refusal = cpu && *cpu ? g_strdup(cpu) : NULL;
        f->members = g_ptr_array_new_with_free_func(g_free);
        g_auto(GStrv) members = mig_dict_strv(d, "members");
        for (size_t i = 0; members && members[i]; i++)
                g_ptr_array_add(f->members, g_strdup(members[i]));
        return ok;
}

static void on_peer_facts(MigPeer *peer, GVariant *reply, const sd_bus_error *error, void *userdata) {
        Making *mk = userdata;
        MigPlacementFacts f = {0};
        if (reply && read_facts(reply, &f))
                mig_plan_add(mk->plan, mig_peer_name(peer), false, &f, NULL);
        else
                mig_plan_add(mk->plan, mig_peer_name(peer), false, NULL,
                             error ? error->message : "an answer this node cannot read");
        mig_placement_facts_clear(&f);
}

static void on_peers_done(void *userdata) {
        making_end(userdata);
}

static void on_own_facts(Manager *m, const MigPlacementFacts *facts, const MigVirtError *error,
                         void *userdata) {
        Making *mk = userdata;
        MigPlacementFacts f = {0};
        if (facts) { /* copied: the placement call keeps its own */
                f = *facts;
                f.disabled_reason = g_strdup(facts->disabled_reason);
                f.cpu_refusal = NULL; /* the source's own CPU is not compared */
                f.members = g_ptr_array_copy(facts->members, (GCopyFunc) (void (*)(void)) g_strdup, NULL);
                g_ptr_array_set_free_func(f.members, g_free);
        }
        mig_plan_add(mk->plan, manager_node(m), true, facts ? &f : NULL, error ? error->message : NULL);
        making_end(mk);
}

void mig_plan_make(Manager *m, const MigPlaceRequest *req, MigPlanDone done, void *userdata) {
        Making *mk = g_new0(Making, 1);
        mk->m = m;
        mk->name = g_strdup(req->name);
        mk->uuid = g_strdup(req->uuid);
        mk->group = g_strdup(req->group ? req->group : "");
        mk->policy = g_strdup(req->policy ? req->policy : "");
        mk->host = req->host && *req->host ? g_strdup(req->host) : NULL;
        mk->req = *req;
        mk->req.name = mk->name;
        mk->req.uuid = mk->uuid;
        mk->req.group = mk->group;
        mk->req.policy = mk->policy;
        mk->req.host = mk->host;
        mk->cpu = g_strdup(req->cpu);
        mk->req.cpu = mk->cpu;
        mk->plan = mig_plan_new(&mk->req);
        mk->done = done;
        mk->userdata = userdata;
        mk->pending = 2; /* this node, the peers */
        placement_facts(m, mk->group, mk->uuid, NULL, req->cached ? MIG_LANE_READ : MIG_LANE_STEP,
                        on_own_facts, mk);
        GVariantBuilder b;
        g_variant_builder_init(&b, G_VARIANT_TYPE_VARDICT);
        g_variant_builder_add(&b, "{sv}", "group", g_variant_new_string(mk->group));
        g_variant_builder_add(&b, "{sv}", "uuid", g_variant_new_string(mk->uuid));
        if (mk->cpu)
                g_variant_builder_add(&b, "{sv}", "cpu", g_variant_new_string(mk->cpu));
        GVariant *args = g_variant_new("(@a{sv})", g_variant_builder_end(&b));
        if (req->cached)
                mig_peers_ask_all_cached(m->peers, "GetPlacement", on_peer_facts, on_peers_done, mk, args);
        else
                mig_peers_ask_all(m->peers, "GetPlacement", MIG_PEER_TIMEOUT_USEC, on_peer_facts,
                                  on_peers_done, mk, args);
}

/* --- attempts --- */

int mig_plan_choose(Manager *m, MigMigration *mig, const MigPlan *plan, unsigned attempt, const char *why,
                    sd_bus_error *error) {
        const char *node = mig_plan_pick(plan, attempt);
        if (!node)
                return mig_plan_no_valid_host(plan, error);
        g_autofree char *msg =
                plan->host
                        ? g_strdup_printf("the requested destination %s passes the scheduler's checks", node)
                : attempt == 0
                        ? g_strdup_printf("the scheduler chose %s", node)
                        : g_strdup_printf("attempt %u: the scheduler chose %s (%s)", attempt + 1, node, why);
        int r = manager_set_destination(m, mig, node, msg);
        if (r < 0)
                return sd_bus_error_setf(error, MIG_ERROR_STORE, "Cannot record the chosen destination %s.",
                                         node);
        return 0;
}

/* Errors of a destination that another node may not have: its claim refused, no answer, its
 * libvirt. The source's own faults and bad input would fail the same way anywhere. */
static bool about_the_destination(const char *name) {
        static const char *const ours[] = {MIG_ERROR_INVALID_ARGUMENT, MIG_ERROR_ACCESS_DENIED,
                                           MIG_ERROR_NOT_SUPPORTED, MIG_ERROR_STORE, NULL};
        return name && !g_strv_contains(ours, name);
}

static bool may_retry(const Manager *m, const MigPlan *plan, unsigned attempt, const sd_bus_error *error) {
        return plan && !plan->host && error && about_the_destination(error->name) &&
               attempt + 1 < m->config->migration_attempts && mig_plan_pick(plan, attempt + 1);
}

bool mig_plan_give_way(Manager *m, const MigPlan *plan, unsigned *attempt, const MigMigration *mig,
                       const sd_bus_error *error, const char *abort_method, const char *abort_status,
                       char **ret_why) {
        if (!may_retry(m, plan, *attempt, error))
                return false;
        MigPeer *peer = mig_peers_find(m->peers, mig->destination);
        if (peer) /* best effort: its lease covers the rest */
                mig_peer_notify(peer, abort_method, g_variant_new("(ss)", mig->id, abort_status));
        *ret_why = g_strdup_printf("%s failed: %s", mig->destination, error->message);
        (*attempt)++;
        return true;
}
