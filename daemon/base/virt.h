/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Access to this node's libvirtd. Every function here may block: call them only
 * from worker threads (worker.h). Failures fill a MigVirtError, which
 * mig_virt_error_to_bus() turns into our named D-Bus error on the loop thread:
 * the one place where libvirt errors become bus errors. */

#include <glib.h>
#include <libvirt/libvirt.h>
#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-bus.h>

#include "disk-spec.h"

#define MIG_GROUP_NS_URI "http://example.org/migrate/1"
#define MIG_GROUP_NS_PREFIX "mig"

typedef struct MigVirt MigVirt;

typedef struct MigVirtError {
        const char *name; /* one of MIG_ERROR_* */
        char *message;
} MigVirtError;

typedef struct MigDomainInfo {
        char *name;
        char *uuid;
        int state;  /* virDomainState */
        int reason; /* its reason (virDomainPausedReason, ...) */
        bool active;
        bool persistent;
        uint64_t memory; /* bytes */
        unsigned vcpus;
        bool emulated;            /* <domain type='qemu'>: TCG, not KVM */
        unsigned long hv_version; /* mig_virt_lookup only: its node's QEMU, major * 1000000 + minor * 1000 +
                                     micro; 0: unknown */
        char *group;              /* "" when the domain is in no group */
        char *group_policy;       /* "" likewise */
        GPtrArray *disks;         /* MigDisk*: file-backed disks (path and format only) */
        char *cpu;                /* mig_virt_lookup only: the operator's custom <cpu> element of the
                                   * inactive definition (what a live move's destination must give),
                                   * else NULL */
} MigDomainInfo;

typedef struct MigCapacity {
        uint64_t memory_total; /* bytes */
        uint64_t memory_free;
        unsigned vcpus;
        unsigned vcpus_used; /* by running domains */
        uint64_t disk_free;  /* in the image folder */
        unsigned domains_running;
} MigCapacity;

MigVirt *mig_virt_new(const char *uri);
void mig_virt_free(MigVirt *v);

void mig_virt_error_clear(MigVirtError *e);
/* Sets a bus error from e; returns the negative errno sd-bus handlers return. */
int mig_virt_error_to_bus(const MigVirtError *e, sd_bus_error *error);

void mig_domain_info_free(MigDomainInfo *d);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MigDomainInfo, mig_domain_info_free)
/* The operator's view: ACTIVE, SHUTOFF, PAUSED, ERROR (before migration overlays). */
const char *mig_domain_state_name(const MigDomainInfo *d);

/* A domain as one node sees it, for reconciling both sides of a migration:
 * absent, shutoff, running, paused (by anyone but a migration), paused-migration
 * (libvirt paused it for a switch-over), postcopy (running or paused in post-copy: its
 * memory is split between the nodes). NULL d: absent. */
#define MIG_VIEW_ABSENT "absent"
#define MIG_VIEW_SHUTOFF "shutoff"
#define MIG_VIEW_RUNNING "running"
#define MIG_VIEW_PAUSED "paused"
#define MIG_VIEW_PAUSED_MIGRATION "paused-migration"
#define MIG_VIEW_POSTCOPY "postcopy"
const char *mig_domain_view(const MigDomainInfo *d);
/* Resumes a paused domain (a running one is fine). */
int mig_virt_resume(MigVirt *v, const char *uuid, MigVirtError *err);

/* All domains of this node, active and defined (MigDomainInfo*). */
int mig_virt_list_domains(MigVirt *v, GPtrArray **ret, MigVirtError *err);
/* One domain by name or UUID; NotFound when this node has no such domain. */
int mig_virt_lookup(MigVirt *v, const char *name_or_uuid, MigDomainInfo **ret, MigVirtError *err);
int mig_virt_capacity(MigVirt *v, const char *image_dir, MigCapacity *ret, MigVirtError *err);
/* libvirt's host UUID of this node (libvirtd.conf host_uuid, else the SMBIOS one). */
int mig_virt_host_uuid(MigVirt *v, char **ret, MigVirtError *err);
/* Whether this node's hypervisor can give a guest the CPU a domain's <cpu> element names
 * (mig_parse_cpu_model_element; virConnectCompareHypervisorCPU): 0 with *ret_why NULL when it can,
 * with *ret_why saying why not when it cannot; negative when libvirt cannot compare. */
int mig_virt_compare_cpu(MigVirt *v, const char *cpu_xml, char **ret_why, MigVirtError *err);
/* The <cpu> element of a domain XML when it names a model, else NULL (exposed for tests). */
char *mig_parse_cpu_model_element(const char *xml);
/* Writes the group element into the domain's metadata (live and config); NULL name clears it. */
int mig_virt_set_group(MigVirt *v, const char *domain, const char *name, const char *policy,
                       MigVirtError *err);

/* Cold migration, source side. The domain's persistent definition (with secrets)
 * for the destination. */
int mig_virt_get_definition(MigVirt *v, const char *uuid, char **ret_xml, MigVirtError *err);
/* Shuts the domain down: ACPI first, destroy after timeout_sec. Off already is fine. */
int mig_virt_shutdown(MigVirt *v, const char *uuid, unsigned timeout_sec, MigVirtError *err);
/* Starts a defined domain (running already is fine). */
int mig_virt_start(MigVirt *v, const char *uuid, MigVirtError *err);
/* Undefines a shut-off domain (with its managed save and snapshot metadata). Refuses a
 * running one: that would be a domain on two nodes, reported, never destroyed here. */
int mig_virt_undefine(MigVirt *v, const char *uuid, MigVirtError *err);
/* Destination side: define xml (its UUID must be uuid), start it if asked;
 * an existing definition of the same UUID is reused. If the start fails, a
 * definition made here is removed again. */
int mig_virt_define(MigVirt *v, const char *xml, const char *uuid, bool start, MigVirtError *err);
/* Replaces the persistent definition of the domain uuid (it must exist, shut off or not)
 * with xml, which must name the same UUID. */
int mig_virt_redefine(MigVirt *v, const char *xml, const char *uuid, MigVirtError *err);
/* Destroys (if running) and undefines the domain; a missing domain is fine. */
int mig_virt_remove(MigVirt *v, const char *uuid, MigVirtError *err);
/* Live migration. */
typedef struct MigLiveParams {
        const char *dest_uri;      /* qemu+ssh://root@peer/system */
        const char *migration_uri; /* tcp://MigrationAddress */
        bool block;                /* copy non-shared disks too */
        char **copy_targets;       /* block: only these disks (target devs; NULL: all) */
        bool shared_proven;        /* the disks not copied were proven shared (shared-disk.h):
                                    * libvirt's own check, which knows only network and cluster
                                    * file systems, is skipped (VIR_MIGRATE_UNSAFE) */
        uint64_t bandwidth_mib;    /* 0: no limit */
        uint64_t max_downtime_ms;  /* 0: libvirt's default */
        bool auto_converge;
        bool postcopy;     /* permitted (switched to by force-complete) */
        unsigned parallel; /* connections, 0/1: one */
        bool compressed;
        unsigned throttle_initial; /* auto-converge's first and further steps, %; 0: QEMU's */
        unsigned throttle_increment;
        uint64_t xbzrle_cache; /* bytes: XBZRLE compression with a cache that size; 0: none */
} MigLiveParams;

typedef struct MigJobStats {
        bool active;
        uint64_t processed, remaining, total; /* bytes, memory and disk together */
        uint64_t disk_processed, disk_total;
        uint64_t memory_total, memory_remaining;
        uint64_t dirty_rate; /* bytes/s */
        uint64_t iteration;
        uint64_t expected_downtime_ms;
        uint64_t elapsed_ms;
        uint64_t memory_bps; /* bytes/s the memory stream moves */
        unsigned throttle;   /* % of the guest's CPU auto-converge holds back */
} MigJobStats;

/* Peer-to-peer live migration of a running domain, persistent on the destination and
 * undefined here at the end. Blocks until it is over. */
int mig_virt_migrate_live(MigVirt *v, const char *uuid, const MigLiveParams *p, MigVirtError *err);
/* The running job of the domain (active false when it has none). */
int mig_virt_job_stats(MigVirt *v, const char *uuid, MigJobStats *ret, MigVirtError *err);
int mig_virt_abort_job(MigVirt *v, const char *uuid, MigVirtError *err);
int mig_virt_set_max_downtime(MigVirt *v, const char *uuid, uint64_t ms, MigVirtError *err);
/* Resizes the XBZRLE cache of a running migration. */
int mig_virt_set_xbzrle_cache(MigVirt *v, const char *uuid, uint64_t bytes, MigVirtError *err);
/* QEMU samples the pages the guest dirties for one second (page sampling: the other modes
 * need KVM; under TCG they crash QEMU 7.2). */
int mig_virt_dirty_rate_start(MigVirt *v, const char *uuid, MigVirtError *err);
/* The sampled rate in bytes/s once measured; *measured false while QEMU still samples. */
int mig_virt_dirty_rate_read(MigVirt *v, const char *uuid, uint64_t *bytes_per_sec, bool *measured,
                             MigVirtError *err);
/* Makes a running live migration converge: post-copy when permitted, else pauses the domain. */
int mig_virt_force_complete(MigVirt *v, const char *uuid, bool postcopy, MigVirtError *err);
/* Destination: the domain runs here; libvirt's figures of the migration that brought it. */
int mig_virt_job_completed(MigVirt *v, const char *uuid, uint64_t *downtime_ms, uint64_t *elapsed_ms,
                           MigVirtError *err);
/* The virtual size of a disk of the domain. */
int mig_virt_disk_capacity(MigVirt *v, const char *uuid, const char *path, uint64_t *ret, MigVirtError *err);

/* A connection of this thread's own to this node's libvirt, for disk work. */
virConnectPtr mig_virt_connection(MigVirt *v, MigVirtError *err);

/* Parsers, exposed for unit tests: the <mig:group> element and the disks of a domain XML. */
bool mig_parse_group_metadata(const char *xml, char **name, char **policy);
GPtrArray *mig_parse_disks(const char *domain_xml);
