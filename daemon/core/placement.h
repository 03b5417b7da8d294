/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What this node can say about taking a domain (placement.c): its capacity less what the
 * claims it granted hold, whether it is enabled, which members of a server group it runs or
 * is receiving, and how many migrations it has in flight. The scheduler of the node that
 * starts a move asks each peer for these (Peer.GetPlacement); the destination's claim
 * checks the hard policy again with the same facts, at the moment it grants the claim. */

#include <stdbool.h>

#include "manager.h"

/* Nova's default vCPU overcommit: a node takes domains until their vCPUs reach 16 per CPU. */
#define MIG_VCPU_ALLOCATION_RATIO 16

typedef struct MigPlacementFacts {
        bool enabled;
        char *disabled_reason;
        uint64_t memory_free; /* bytes, less the memory of granted claims */
        uint64_t disk_free;   /* bytes in the image folder, less the disks of granted claims */
        unsigned vcpus;       /* the host's CPUs */
        unsigned vcpus_used;  /* by running domains and granted claims */
        GPtrArray *members;   /* char*: names of the group's domains here, incoming ones too */
        unsigned in_flight;   /* migrations to or from this node not yet final */
        char *cpu_refusal;    /* why this node's CPU cannot run the domain's (live moves), or NULL */
} MigPlacementFacts;

void mig_placement_facts_clear(MigPlacementFacts *f);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(MigPlacementFacts, mig_placement_facts_clear)

/* The group's members among domains (MigDomainInfo*, what libvirt holds here) and the
 * migrations this node is receiving, leaving out the domain uuid itself and the shut-off
 * copy a cold migration left behind for a revert. */
GPtrArray *placement_members(Manager *m, GPtrArray *domains, const char *group, const char *uuid);

/* Memory, vCPUs and disk that the claims granted here and not yet released hold. */
void placement_claimed(Manager *m, uint64_t *memory, unsigned *vcpus, uint64_t *disk);

/* Whether a group with members (names) on nodes (both char*, in step) breaks its hard
 * policy now (a manual virsh migrate, a move made before the group was set): why, or NULL.
 * anti-affinity: two members on one node; affinity: members on more than one node. */
char *placement_group_broken(const char *policy, GPtrArray *names, GPtrArray *nodes);

/* Why a hard policy forbids this node, or NULL: anti-affinity with a member here; affinity
 * with none here while members run elsewhere (group_elsewhere). */
char *placement_policy_refusal(const char *policy, GPtrArray *members_here, bool group_elsewhere);

/* Why f's node cannot hold memory (bytes), vcpus and disk (bytes of data; 0: shared), or
 * NULL; error_name (may be NULL) gets NoSpace for the disk, else NoValidHost. */
char *placement_capacity_refusal(const MigPlacementFacts *f, uint64_t memory, unsigned vcpus, uint64_t disk,
                                 const char **error_name);

/* The facts from what libvirt said (capacity, domains: MigDomainInfo*) and this node's
 * records; clear them with mig_placement_facts_clear. */
void placement_facts_from(Manager *m, const MigCapacity *capacity, GPtrArray *domains, const char *group,
                          const char *uuid, MigPlacementFacts *f);

typedef void (*PlacementDone)(Manager *m, const MigPlacementFacts *facts, const MigVirtError *error,
                              void *userdata);
/* Gathers this node's facts for a domain (uuid) of group ("" none), comparing its CPU with
 * the domain's cpu (a <cpu> element; NULL: not compared); libvirt is asked on the
 * worker's lane (MIG_LANE_STEP for a migration's step, MIG_LANE_READ for a dry run). */
void placement_facts(Manager *m, const char *group, const char *uuid, const char *cpu, MigLane lane,
                     PlacementDone done, void *userdata);
