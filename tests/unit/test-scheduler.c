/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The scheduler's filters and weighers (mig_plan_rank) on made-up nodes: the four group
 * policies, a disabled and an unreachable node, capacity after claims, an explicit host
 * validated like any other, and the order retries follow. */

#include <glib.h>
#include <string.h>

#include "macro.h"
#include "scheduler.h"

#define GIB (1024ULL * 1024 * 1024)

typedef struct Node {
        const char *name;
        bool source, unreachable, disabled;
        uint64_t memory_free; /* GiB */
        uint64_t extra_mib;   /* added to memory_free */
        const char *members;  /* comma-separated, or NULL */
        unsigned in_flight;
} Node;

static MigPlan *plan_of(const Node *nodes, size_t n, const char *policy, const char *host) {
        MigPlaceRequest req = {.name = "vm",
                               .uuid = "6f0e2b9c-54d1-4c3c-9d6a-2f7c8f3b1a10",
                               .memory = GIB,
                               .vcpus = 1,
                               .disk = GIB,
                               .group = policy ? "g" : "",
                               .policy = policy ? policy : "",
                               .host = host};
        MigPlan *p = mig_plan_new(&req);
        for (size_t i = 0; i < n; i++) {
                if (nodes[i].unreachable) {
                        mig_plan_add(p, nodes[i].name, nodes[i].source, NULL, "connection refused");
                        continue;
                }
                MigPlacementFacts f = {.enabled = !nodes[i].disabled,
                                       .disabled_reason = g_strdup(nodes[i].disabled ? "maintenance" : ""),
                                       .memory_free =
                                               nodes[i].memory_free * GIB + (nodes[i].extra_mib << 20),
                                       .disk_free = 100 * GIB,
                                       .vcpus = 2,
                                       .vcpus_used = 1,
                                       .members = g_ptr_array_new_with_free_func(g_free),
                                       .in_flight = nodes[i].in_flight};
                g_auto(GStrv) members = nodes[i].members ? g_strsplit(nodes[i].members, ",", -1) : NULL;
                for (size_t k = 0; members && members[k]; k++)
                        g_ptr_array_add(f.members, g_strdup(members[k]));
                mig_plan_add(p, nodes[i].name, nodes[i].source, &f, NULL);
        }
        mig_plan_rank(p, &req);
        return p;
}

static const char *refusal_of(const MigPlan *p, const char *node) {
        for (guint i = 0; i < p->candidates->len; i++) {
                const MigCandidate *c = p->candidates->pdata[i];
                if (strcmp(c->node, node) == 0)
                        return c->refusal;
        }
        g_assert_not_reached();
}

/* a is the source; b runs a member; c and d are empty, c with more memory free */
static const Node cluster[] = {
        {"a", .source = true, .memory_free = 8},
        {"b", .memory_free = 16, .members = "web1"},
        {"c", .memory_free = 12},
        {"d", .memory_free = 4},
};

static void test_no_group(void) {
        g_autoptr(MigPlan) p = plan_of(cluster, 4, NULL, NULL);
        g_assert_cmpstr(mig_plan_pick(p, 0), ==, "b"); /* most memory */
        g_assert_cmpstr(mig_plan_pick(p, 1), ==, "c");
        g_assert_cmpstr(mig_plan_pick(p, 2), ==, "d");
        g_assert_null(mig_plan_pick(p, 3));
        g_assert_cmpstr(refusal_of(p, "a"), ==, "the domain is on this node");
}

static void test_anti_affinity(void) {
        g_autoptr(MigPlan) p = plan_of(cluster, 4, "anti-affinity", NULL);
        g_assert_cmpstr(mig_plan_pick(p, 0), ==, "c");
        g_assert_cmpstr(mig_plan_pick(p, 1), ==, "d");
        g_assert_null(mig_plan_pick(p, 2));
        g_assert_nonnull(strstr(refusal_of(p, "b"), "web1"));
}

static void test_anti_affinity_nowhere(void) {
        const Node full[] = {{"a", .source = true, .memory_free = 8},
                             {"b", .memory_free = 16, .members = "web1"},
                             {"c", .memory_free = 12, .members = "web2,web3"}};
        g_autoptr(MigPlan) p = plan_of(full, 3, "anti-affinity", NULL);
        g_assert_null(mig_plan_pick(p, 0));
        g_auto(sd_bus_error) e = SD_BUS_ERROR_NULL;
        mig_plan_no_valid_host(p, &e);
        g_test_message("%s", e.message);
        g_assert_cmpstr(e.name, ==, "org.example.Migrate1.Error.NoValidHost");
        g_assert_nonnull(strstr(e.message, "b: anti-affinity: runs group member web1"));
        g_assert_nonnull(strstr(e.message, "c: anti-affinity: runs group member web2"));
}

static void test_affinity(void) {
        g_autoptr(MigPlan) p = plan_of(cluster, 4, "affinity", NULL);
        g_assert_cmpstr(mig_plan_pick(p, 0), ==, "b");
        g_assert_null(mig_plan_pick(p, 1)); /* c and d run no member */
        g_assert_nonnull(strstr(refusal_of(p, "c"), "affinity"));
        /* a group of one goes anywhere */
        const Node alone[] = {
                {"a", .source = true, .memory_free = 8}, {"b", .memory_free = 2}, {"c", .memory_free = 3}};
        g_autoptr(MigPlan) q = plan_of(alone, 3, "affinity", NULL);
        g_assert_cmpstr(mig_plan_pick(q, 0), ==, "c");
}

static void test_affinity_members_on_source_only(void) {
        const Node n[] = {{"a", .source = true, .memory_free = 8, .members = "web1"},
                          {"b", .memory_free = 16},
                          {"c", .memory_free = 12}};
        g_autoptr(MigPlan) p = plan_of(n, 3, "affinity", NULL);
        g_assert_null(mig_plan_pick(p, 0));
}

static void test_soft_policies(void) {
        /* soft-affinity prefers b (a member) over c's memory; falls back to c and d */
        const Node n[] = {{"a", .source = true, .memory_free = 8},
                          {"b", .memory_free = 2, .members = "web1"},
                          {"c", .memory_free = 12},
                          {"d", .memory_free = 4}};
        g_autoptr(MigPlan) p = plan_of(n, 4, "soft-affinity", NULL);
        g_assert_cmpstr(mig_plan_pick(p, 0), ==, "b");
        g_assert_cmpstr(mig_plan_pick(p, 1), ==, "c");
        /* soft-anti-affinity: every node has a member: the fewest first, then memory */
        const Node all[] = {{"a", .source = true, .memory_free = 8},
                            {"b", .memory_free = 16, .members = "web1,web2"},
                            {"c", .memory_free = 2, .members = "web3"},
                            {"d", .memory_free = 4, .members = "web4"}};
        g_autoptr(MigPlan) q = plan_of(all, 4, "soft-anti-affinity", NULL);
        g_assert_cmpstr(mig_plan_pick(q, 0), ==, "d");
        g_assert_cmpstr(mig_plan_pick(q, 1), ==, "c");
        g_assert_cmpstr(mig_plan_pick(q, 2), ==, "b");
}

static void test_disabled_unreachable_capacity(void) {
        const Node n[] = {{"a", .source = true, .memory_free = 8},
                          {"b", .memory_free = 16, .disabled = true},
                          {"c", .unreachable = true},
                          {"d", .memory_free = 0},
                          {"e", .memory_free = 2, .in_flight = 3},
                          {"f", .memory_free = 2, .in_flight = 1}};
        g_autoptr(MigPlan) p = plan_of(n, 6, NULL, NULL);
        g_assert_cmpstr(refusal_of(p, "b"), ==, "disabled (maintenance)");
        g_assert_nonnull(strstr(refusal_of(p, "c"), "unreachable"));
        g_assert_nonnull(strstr(refusal_of(p, "d"), "memory"));
        g_assert_cmpstr(mig_plan_pick(p, 0), ==, "f"); /* same memory: fewer in flight */
        g_assert_cmpstr(mig_plan_pick(p, 1), ==, "e");
        g_assert_cmpuint(p->possible, ==, 2);
}

static void test_explicit_host(void) {
        g_autoptr(MigPlan) p = plan_of(cluster, 4, "anti-affinity", "b");
        g_assert_null(mig_plan_pick(p, 0)); /* validated, not a bypass */
        g_auto(sd_bus_error) e = SD_BUS_ERROR_NULL;
        mig_plan_no_valid_host(p, &e);
        g_assert_cmpstr(e.name, ==, "org.example.Migrate1.Error.NoValidHost");
        g_assert_nonnull(strstr(e.message, "Cannot move vm to b: anti-affinity"));
        g_autoptr(MigPlan) q = plan_of(cluster, 4, "anti-affinity", "d");
        g_assert_cmpstr(mig_plan_pick(q, 0), ==, "d"); /* possible, though c has more memory */
        g_assert_null(mig_plan_pick(q, 1));            /* never retried elsewhere */
}

static GPtrArray *strv_array(const char *csv) {
        g_auto(GStrv) v = g_strsplit(csv, ",", -1);
        GPtrArray *a = g_ptr_array_new_with_free_func(g_free);
        for (size_t i = 0; v[i]; i++)
                g_ptr_array_add(a, g_strdup(v[i]));
        return a;
}

static void test_cpu(void) {
        const Node n[] = {
                {"a", .source = true, .memory_free = 8}, {"b", .memory_free = 16}, {"c", .memory_free = 4}};
        MigPlaceRequest req = {.name = "vm",
                               .uuid = "6f0e2b9c-54d1-4c3c-9d6a-2f7c8f3b1a10",
                               .memory = GIB,
                               .vcpus = 1,
                               .group = "",
                               .policy = ""};
        g_autoptr(MigPlan) p = plan_of(n, 3, NULL, NULL);
        MigCandidate *b = p->candidates->pdata[0];
        g_assert_cmpstr(b->node, ==, "b");
        b->facts.cpu_refusal = g_strdup("Host CPU does not provide required features: avx512f");
        mig_plan_rank(p, &req);
        g_assert_cmpstr(mig_plan_pick(p, 0), ==, "c");
        g_assert_cmpstr(refusal_of(p, "b"), ==, "CPU: Host CPU does not provide required features: avx512f");
}

static void test_group_broken(void) {
        g_autoptr(GPtrArray) names = strv_array("w1,w2,w3");
        g_autoptr(GPtrArray) spread = strv_array("a,b,c");
        g_autoptr(GPtrArray) twice = strv_array("a,b,a");
        g_autoptr(GPtrArray) together = strv_array("a,a,a");
        g_assert_null(placement_group_broken("anti-affinity", names, spread));
        g_autofree char *anti = placement_group_broken("anti-affinity", names, twice);
        g_assert_cmpstr(anti, ==, "anti-affinity broken: w1 and w3 both on a");
        g_assert_null(placement_group_broken("affinity", names, together));
        g_autofree char *aff = placement_group_broken("affinity", names, twice);
        g_assert_cmpstr(aff, ==, "affinity broken: w1 on a, w2 on b");
        g_assert_null(placement_group_broken("soft-anti-affinity", names, twice));
}

/* Free memory within 64 MiB is a tie: fewer migrations in flight, then the name, decide. */
static void test_memory_noise(void) {
        const Node n[] = {{"a", .source = true, .memory_free = 8},
                          {"c", .memory_free = 4, .extra_mib = 40},
                          {"b", .memory_free = 4}};
        g_autoptr(MigPlan) p = plan_of(n, 3, NULL, NULL);
        g_assert_cmpstr(mig_plan_pick(p, 0), ==, "b");
        const Node busy[] = {{"a", .source = true, .memory_free = 8},
                             {"c", .memory_free = 4, .extra_mib = 40},
                             {"b", .memory_free = 4, .in_flight = 1}};
        g_autoptr(MigPlan) q = plan_of(busy, 3, NULL, NULL);
        g_assert_cmpstr(mig_plan_pick(q, 0), ==, "c");
        const Node more[] = {{"a", .source = true, .memory_free = 8},
                             {"c", .memory_free = 4, .extra_mib = 100},
                             {"b", .memory_free = 4}};
        g_autoptr(MigPlan) r = plan_of(more, 3, NULL, NULL);
        g_assert_cmpstr(mig_plan_pick(r, 0), ==, "c");
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/scheduler/memory-noise", test_memory_noise);
        g_test_add_func("/scheduler/no-group", test_no_group);
        g_test_add_func("/scheduler/anti-affinity", test_anti_affinity);
        g_test_add_func("/scheduler/anti-affinity-nowhere", test_anti_affinity_nowhere);
        g_test_add_func("/scheduler/affinity", test_affinity);
        g_test_add_func("/scheduler/affinity-members-on-source", test_affinity_members_on_source_only);
        g_test_add_func("/scheduler/soft-policies", test_soft_policies);
        g_test_add_func("/scheduler/disabled-unreachable-capacity", test_disabled_unreachable_capacity);
        g_test_add_func("/scheduler/explicit-host", test_explicit_host);
        g_test_add_func("/scheduler/group-broken", test_group_broken);
        g_test_add_func("/scheduler/cpu", test_cpu);
        return g_test_run();
}
