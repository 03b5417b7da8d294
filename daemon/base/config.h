/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* /etc/migrated/migrated.conf, read with GKeyFile. A file that cannot be used is
 * refused whole: the daemon never runs half-configured. */

#include <glib.h>
#include <stdbool.h>

#include "rewrite.h"

typedef struct MigPeerConfig {
        char *name;              /* from the group name "Peer NAME" */
        char *address;           /* SSH destination: [user@]host */
        char *migration_address; /* where QEMU streams go */
} MigPeerConfig;

/* Compressed=: XBZRLE never, always, or when the figures before the start say so. */
typedef enum { MIG_COMPRESS_NEVER, MIG_COMPRESS_ALWAYS, MIG_COMPRESS_AUTO } MigCompress;

/* [Live]: defaults of live migrations (a Migrate call's options override them). */
typedef struct MigLiveConfig {
        unsigned bandwidth;            /* MiB/s, 0: no limit */
        unsigned max_downtime;         /* ms the switch-over may pause the guest at first */
        unsigned max_downtime_ceiling; /* ms: a stalled migration raises it in steps up to this */
        bool auto_converge;
        bool postcopy; /* permitted: a stalled migration at the ceiling switches to it */
        unsigned parallel_connections;
        MigCompress compressed;
        unsigned completion_timeout; /* seconds per GiB of memory and disk, 0: none */
        char *completion_action;     /* "abort" or "force-complete" */
} MigLiveConfig;

typedef struct MigConfig {
        char *path;
        char *text; /* the file as read, to point errors at their line */
        char *node_name;
        char *libvirt_uri;
        char *image_directory;
        unsigned resize_confirm_window;
        unsigned max_concurrent_migrations;
        unsigned shutdown_timeout;
        unsigned migration_attempts; /* destinations the scheduler tries before NoValidHost */
        unsigned claim_timeout;      /* seconds a destination keeps a claim whose source is unreachable */
        unsigned idle_timeout;       /* seconds without work before the daemon exits; 0: never */
        unsigned history_days;       /* ended migrations kept this long (0: no limit by age) */
        unsigned history_max;        /* at most this many ended migrations kept (0: no limit) */
        GPtrArray *peers;            /* MigPeerConfig* */
        MigRewriteRules *rewrite;    /* [Rewrite]: how domains from other nodes are adapted here */
        MigLiveConfig live;
} MigConfig;

/* A missing file gives the defaults (a node without peers). Returns NULL with
 * error set (naming file, line or group and key) when the file is unusable. */
MigConfig *mig_config_load(const char *path, GError **error);
/* The same for a file's text already read (path only names it in messages). */
MigConfig *mig_config_parse(const char *path, const char *text, GError **error);
MigConfig *mig_config_new_defaults(void);
void mig_config_free(MigConfig *c);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MigConfig, mig_config_free)

const MigPeerConfig *mig_config_find_peer(const MigConfig *c, const char *name);
/* True for this node's own name or a configured peer. */
bool mig_config_knows_node(const MigConfig *c, const char *name);
