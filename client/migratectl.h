/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What every verb gets: the global options, the verb's own options and the bus connection
 * (opened on first use, after local validation, so that bad arguments never reach the bus). */

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-bus.h>

/* Options that follow the verb; each verb accepts a subset (see the verb table). */
typedef struct MigVerbOptions {
        const char *host;   /* migrate --host=NODE: destination */
        const char *domain; /* migrations --domain=D */
        const char *status; /* migrations --status=S */
        const char *reason; /* host-disable --reason=TEXT */
        bool live;
        bool block_migration;
        uint64_t bandwidth;    /* migrate --bandwidth=MiB/s (live), 0: none */
        uint64_t max_downtime; /* migrate --max-downtime=MS (live), 0: libvirt's */
        bool postcopy;         /* migrate --postcopy: permit post-copy */
        bool no_auto_converge; /* migrate --no-auto-converge */
        int compressed;        /* migrate --compressed 1, --no-compressed 0, neither -1 */
        bool wait;
        bool full;
        bool dry_run;          /* evacuate --dry-run */
        uint64_t vcpus;        /* resize --vcpus=N, 0: kept */
        uint64_t memory;       /* resize --memory=SIZE in bytes, 0: kept */
        uint64_t max_parallel; /* evacuate --max-parallel=N, 0: MaxConcurrentMigrations */
} MigVerbOptions;

typedef struct MigCtl {
        /* global options */
        bool json;
        bool legend;
        bool ask_password;  /* → the "interactive" argument of state-changing calls */
        const char *remote; /* -H [USER@]NODE; NULL: the local system bus */

        MigVerbOptions opt;

        sd_bus *bus; /* owned; NULL until mig_bus_get() */
} MigCtl;

void mig_ctl_done(MigCtl *ctl);
