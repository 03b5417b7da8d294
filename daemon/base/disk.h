/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Disk files of a migration: their size and data, their backing chains, a checksum that is
 * the same for two files with the same content whatever their hole layout (disk-hash.h),
 * the destination's volumes, deleting. (The copy itself: disk-stream.h.) All of it
 * blocks: worker threads only. */

#include <glib.h>
#include <libvirt/libvirt.h>
#include <stdbool.h>
#include <stdint.h>

#include "virt.h"

/* Shared between the copying thread and the loop: bytes_done with __atomic_*, cancel with g_atomic_int_*. */
typedef struct MigCopyProgress {
        gint64 bytes_done;
        gint cancel; /* set to 1 to stop the copy */
} MigCopyProgress;

/* Fills size and data_bytes from the file. */
int mig_disk_measure(MigDisk *d, MigVirtError *err);

/* SHA-256 over the non-zero 64 KiB blocks (with their offsets) and the size. */
int mig_disk_checksum(const char *path, char **ret_hex, MigVirtError *err);

/* Destination side: an empty sparse volume at path (format, size bytes: raw of the file's
 * size for a cold copy, the disk's own format and virtual size for a live block
 * migration) in a pool for its folder (a transient dir pool is started when none
 * covers it). Refuses an existing file. */
int mig_disk_create_volume(virConnectPtr conn, const char *path, uint64_t size, const char *format,
                           MigVirtError *err);
/* Waits until what was written to the disk's file is on the device (a shared disk, or a
 * backing file this node had: nothing to do). */
int mig_disk_flush(const MigDisk *d, MigVirtError *err);
/* Removes the disk's file (through its pool when it has one); a missing file is fine. A
 * shared disk is never removed (the other node's domain uses the same file): done. */
int mig_disk_delete(virConnectPtr conn, const MigDisk *d, MigVirtError *err);

/* Deletes the first upto disks (MigDisk*) of this node, logging what fails and going on
 * with the rest: cleanup that must not stop at the first file. Fails (the first failure in
 * err, which may be NULL) when a disk is left, or when libvirt cannot be reached to ask
 * (nothing was deleted then). Blocks. */
int mig_disks_delete(MigVirt *v, GPtrArray *disks, unsigned upto, MigVirtError *err);

/* Appends to disks (MigDisk*) the backing files of its qcow2 disks, whole chains, each file
 * once, flagged backing and measured. A chain that loops, is longer than 16 files, or
 * leads to something other than a raw or qcow2 file is refused (NotSupported). Blocks. */
int mig_disks_add_chains(GPtrArray *disks, MigVirtError *err);

/* disks <-> JSON text, for the store. */
char *mig_disks_to_json(GPtrArray *disks);
GPtrArray *mig_disks_from_json(const char *json);

/* Room a destination keeps free beyond the disks' data (filesystem metadata, logs). */
#define MIG_DISK_MARGIN_BYTES ((uint64_t) 64 << 20)

/* The bytes in data regions of the disks (MigDisk*) that are not shared: what a sparse
 * copy moves. */
uint64_t mig_disks_data_bytes(GPtrArray *disks);
/* The same for the disks inside image_dir only: what a destination may need room for
 * before it is known which are shared (a disk elsewhere moves only if shared). */
uint64_t mig_disks_local_bytes(GPtrArray *disks, const char *image_dir);

/* A disk a migration can move: a raw or qcow2 file at a canonical path, measured (its data
 * bytes). One outside ImageDirectory moves only when the destination finds it shared
 * (shared-disk.h). how says which migration in the refusal (NotSupported): "cold", or "". */
int mig_disk_check_movable(MigDisk *d, const char *how, MigVirtError *err);
