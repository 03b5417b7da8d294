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
        bool shared;         /* both nodes see this one file (shared-disk.h), or a backing file
                              * the destination has already: never copied, never deleted by
                              * the migration */
        bool backing;        /* a backing file of another disk of the list (qcow2 chains):
                              * copied when missing, checksummed always, never deleted where
                              * another domain may use it */
} MigDisk;

void mig_disk_free(MigDisk *d);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MigDisk, mig_disk_free)

/* The backing file a qcow2 header names (the first bytes of the file, n of them): *name as
 * written there (absolute, or relative to the image's folder), *format from its header
 * extension or NULL when it names none. Returns 1 with a backing file, 0 without (or not a
 * qcow2 header), -EINVAL when the header is damaged or the name does not fit in n. */
int mig_qcow2_backing(const guint8 *header, size_t n, char **name, char **format);

/* A canonical absolute path of a file strictly inside image_dir (no "..", no symlink
 * tricks by name, no control characters, at most 1024 bytes). */
bool mig_disk_path_allowed(const char *path, const char *image_dir);
/* Whether any of disks (MigDisk*) is shared. */
bool mig_disks_any_shared(GPtrArray *disks);
/* Whether the verify step reads the disk on both nodes to compare: a backing file the
 * destination had already (it must be the same file). A copied disk was proven by its
 * stream's checksums, a shared one is one file. */
bool mig_disk_needs_checksum(const MigDisk *d);
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
