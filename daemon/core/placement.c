/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "placement.h"

#include <inttypes.h>
#include <string.h>

#include "disk.h"
#include "errors.h"
#include "macro.h"

void mig_placement_facts_clear(MigPlacementFacts *f) {
        g_clear_pointer(&f->disabled_reason, g_free);
        g_clear_pointer(&f->members, g_ptr_array_unref);
        g_clear_pointer(&f->cpu_refusal, g_free);
}

/* A record of this node as destination that holds a claim: granted, not released. */
static bool holds_claim(const MigMigration *mig) {
        static const char *const claimed[] = {"pre-migrating", "migrating",      "preparing",
                                              "running",       "post-migrating", NULL};
        return strcmp(mig->role, "destination") == 0 && g_strv_contains(claimed, mig->status);
}

void placement_claimed(Manager *m, uint64_t *memory, unsigned *vcpus, uint64_t *disk) {
        GHashTableIter it;
        MigMigration *mig;
        *memory = *disk = 0;
        *vcpus = 0;
        g_hash_table_iter_init(&it, m->migrations);
        while (g_hash_table_iter_next(&it, NULL, (gpointer *) &mig)) {
                if (!holds_claim(mig))
                        continue;
                g_autoptr(GPtrArray) disks = mig_disks_from_json(mig->disks_json);
                *memory += mig->claim_memory;
                *vcpus += mig->claim_vcpus;
                *disk += mig_disks_data_bytes(disks);
        }
}

static bool listed(GPtrArray *names, const char *name) {
        for (guint i = 0; i < names->len; i++)
                if (strcmp(names->pdata[i], name) == 0)
                        return true;
        return false;
}

GPtrArray *placement_members(Manager *m, GPtrArray *domains, const char *group, const char *uuid) {
        GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
        if (!group || !*group)
                return names;
        for (guint i = 0; domains && i < domains->len; i++) {
                const MigDomainInfo *d = domains->pdata[i];
                if (strcmp(d->group, group) == 0 && g_ascii_strcasecmp(d->uuid, uuid) != 0 &&
                    !manager_domain_moved_away(m, d->uuid) && !listed(names, d->name))
                        g_ptr_array_add(names, g_strdup(d->name));
        }
        GHashTableIter it;
        MigMigration *mig;
        g_hash_table_iter_init(&it, m->migrations);
        while (g_hash_table_iter_next(&it, NULL, (gpointer *) &mig))
                if (holds_claim(mig) && strcmp(mig->group_name, group) == 0 &&
                    g_ascii_strcasecmp(mig->domain_uuid, uuid) != 0 && !listed(names, mig->domain_name))
                        g_ptr_array_add(names, g_strdup(mig->domain_name));
        return names;
}

char *placement_policy_refusal(const char *policy, GPtrArray *members_here, bool group_elsewhere) {
        if (g_strcmp0(policy, "anti-affinity") == 0 && members_here->len > 0)
                return g_strdup_printf("anti-affinity: runs group member %s",
                                       (const char *) members_here->pdata[0]);
        if (g_strcmp0(policy, "affinity") == 0 && members_here->len == 0 && group_elsewhere)
                return g_strdup("affinity: runs no member of the group");
        return NULL;
}

char *placement_capacity_refusal(const MigPlacementFacts *f, uint64_t memory, unsigned vcpus, uint64_t disk,
                                 const char **error_name) {
        const char *unused;
        const char **name = error_name ? error_name : &unused;
        *name = MIG_ERROR_NO_VALID_HOST;
        if (f->memory_free < memory)
                return g_strdup_printf("memory: %" PRIu64 " MiB free (after claims), %" PRIu64 " MiB needed",
                                       f->memory_free >> 20, memory >> 20);
        if (vcpus > f->vcpus)
                return g_strdup_printf("vCPUs: %u on the host, %u needed", f->vcpus, vcpus);
        if (f->vcpus_used + vcpus > f->vcpus * MIG_VCPU_ALLOCATION_RATIO)
                return g_strdup_printf("vCPUs: %u of %u allocated (%u per CPU), %u more needed",
                                       f->vcpus_used, f->vcpus * MIG_VCPU_ALLOCATION_RATIO,
                                       MIG_VCPU_ALLOCATION_RATIO, vcpus);
        uint64_t need = disk ? disk + MIG_DISK_MARGIN_BYTES : 0;
        if (f->disk_free >= need)
                return NULL;
        *name = MIG_ERROR_NO_SPACE;
        return g_strdup_printf("disk: %" PRIu64 " MiB free (after claims), %" PRIu64 " MiB needed",
                               f->disk_free >> 20, need >> 20);
}

char *placement_group_broken(const char *policy, GPtrArray *names, GPtrArray *nodes) {
        bool anti = g_strcmp0(policy, "anti-affinity") == 0;
        if (!anti && g_strcmp0(policy, "affinity") != 0)
                return NULL;
        for (guint i = 0; i < nodes->len; i++)
                for (guint k = i + 1; k < nodes->len; k++) {
                        bool same = strcmp(nodes->pdata[i], nodes->pdata[k]) == 0;
                        if (anti && same)
                                return g_strdup_printf("anti-affinity broken: %s and %s both on %s",
                                                       (char *) names->pdata[i], (char *) names->pdata[k],
                                                       (char *) nodes->pdata[i]);
                        if (!anti && !same)
                                return g_strdup_printf("affinity broken: %s on %s, %s on %s",
                                                       (char *) names->pdata[i], (char *) nodes->pdata[i],
                                                       (char *) names->pdata[k], (char *) nodes->pdata[k]);
                }
        return NULL;
}

typedef struct FactsCall {
        Manager *m;
        char *group, *uuid, *cpu;
        char *cpu_refusal;
        PlacementDone done;
        void *userdata;
        GPtrArray *domains;
        MigCapacity capacity;
        int result;
        MigVirtError err;
} FactsCall;

static void facts_call_free(void *data) {
        FactsCall *c = data;
        g_free(c->group);
        g_free(c->uuid);
        g_free(c->cpu);
        g_free(c->cpu_refusal);
        if (c->domains)
                g_ptr_array_unref(c->domains);
        mig_virt_error_clear(&c->err);
        g_free(c);
}

static void facts_run(void *data) {
        FactsCall *c = data;
        c->result = mig_virt_list_domains(c->m->virt, &c->domains, &c->err);
        if (c->result == 0)
                c->result =
                        mig_virt_capacity(c->m->virt, c->m->config->image_directory, &c->capacity, &c->err);
        MigVirtError e = {0};
        if (c->result == 0 && c->cpu && mig_virt_compare_cpu(c->m->virt, c->cpu, &c->cpu_refusal, &e) < 0)
                g_warning("The domain's CPU is not checked: %s", e.message); /* as without a <cpu> */
        mig_virt_error_clear(&e);
}

static unsigned in_flight(Manager *m) {
        GHashTableIter it;
        MigMigration *mig;
        unsigned n = 0;
        g_hash_table_iter_init(&it, m->migrations);
        while (g_hash_table_iter_next(&it, NULL, (gpointer *) &mig))
                n += !mig_status_is_final(mig->status) && strcmp(mig->status, "finished") != 0;
        return n;
}

void placement_facts_from(Manager *m, const MigCapacity *capacity, GPtrArray *domains, const char *group,
                          const char *uuid, MigPlacementFacts *f) {
        *f = (MigPlacementFacts){.enabled = true};
        g_autoptr(GError) e = NULL;
        if (mig_store_get_host_state(m->store, manager_node(m), &f->enabled, &f->disabled_reason, &e) < 0)
                g_warning("%s", e->message);
        uint64_t memory, disk;
        unsigned vcpus;
        placement_claimed(m, &memory, &vcpus, &disk);
        f->memory_free = capacity->memory_free > memory ? capacity->memory_free - memory : 0;
        f->disk_free = capacity->disk_free > disk ? capacity->disk_free - disk : 0;
        f->vcpus = capacity->vcpus;
        f->vcpus_used = capacity->vcpus_used + vcpus;
        f->members = placement_members(m, domains, group, uuid);
        f->in_flight = in_flight(m);
}

static void facts_done(void *data) {
        FactsCall *c = data;
        if (c->result < 0)
                return c->done(c->m, NULL, &c->err, c->userdata);
        MigPlacementFacts f;
        placement_facts_from(c->m, &c->capacity, c->domains, c->group, c->uuid, &f);
        f.cpu_refusal = g_steal_pointer(&c->cpu_refusal);
        c->done(c->m, &f, NULL, c->userdata);
        mig_placement_facts_clear(&f);
}

void placement_facts(Manager *m, const char *group, const char *uuid, const char *cpu, MigLane lane,
                     PlacementDone done, void *userdata) {
        FactsCall *c = g_new0(FactsCall, 1);
        *c = (FactsCall){.m = m,
                         .group = g_strdup(group),
                         .uuid = g_strdup(uuid),
                         .cpu = g_strdup(cpu),
                         .done = done,
                         .userdata = userdata};
        mig_worker_submit_on(m->worker, lane, facts_run, facts_done, c, facts_call_free);
}
