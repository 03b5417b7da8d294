/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A disk as the nodes tell each other of it, and the checks every disk path passes before
 * anything touches a file: pure functions, no libvirt (the fuzz target reads them). */

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "rewrite.h"

typedef struct MigDisk {
        char *path;
        char *format;        /* "qcow2", "raw", ... as the domain's <driver type=> says */
        char *target;        /* its <target dev=> ("vda"), NULL when not known */
        uint64_t size;       /* apparent size of the file */
        uint64_t data_bytes; /* bytes in data regions (what a sparse copy moves) */
        bool shared;         /* both nodes see this one file (shared-disk.h): never copied, never
                              * deleted by a migration */
} MigDisk;

void mig_disk_free(MigDisk *d);

/* A canonical absolute path of a file strictly inside image_dir (no "..", no symlink
 * tricks by name, no control characters, at most 1024 bytes). */
bool mig_disk_path_allowed(const char *path, const char *image_dir);
/* An absolute canonical path (no "..", no control characters, at most 1024 bytes). */
bool mig_disk_path_canonical(const char *path);
/* raw or qcow2. */
bool mig_disk_format_supported(const char *format);

/* The disks as the a(sstt) of the Prepare*Migration peer calls: path, format, size, bytes of
 * data (a floating reference), and back (MigDisk*; NULL when specs is not an a(sstt)). */
GVariant *mig_disks_to_specs(GPtrArray *disks);
GPtrArray *mig_disks_from_specs(GVariant *specs);

/* The disks a source sent, at this node's paths: [Rewrite] DiskPathPrefixes applied, each
 * path (canonical) and format checked. NULL with *why (a sentence) when one is refused.
 * Whether a path is one this node may create (inside ImageDirectory) is for the caller,
 * once it knows which disks are shared. */
GPtrArray *mig_disks_map(GPtrArray *sent, const MigRewriteRules *rules, char **why);
