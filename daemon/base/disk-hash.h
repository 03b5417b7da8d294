/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The content checksum of a disk file, the same for two files with the same content
 * whatever their holes: SHA-256 over each 64 KiB block (aligned) that holds a non-zero
 * byte, preceded by its offset (u64 little-endian), then the file's size (u64 LE). The one
 * definition: mig_disk_checksum reads a file with it, the disk stream hashes what it sends
 * and what it writes with it (disk-stream.h). */

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "virt.h"

#define MIG_DISK_HASH_BLOCK (64 * 1024)

typedef struct MigDiskHash {
        void *ctx; /* EVP_MD_CTX */
} MigDiskHash;

void mig_disk_hash_init(MigDiskHash *h);
/* Hashes one block at offset (len < 64 KiB only for the last block of a file) unless it is
 * all zeros; returns whether it was hashed. */
bool mig_disk_hash_block(MigDiskHash *h, uint64_t offset, const guint8 *data, size_t len);
void mig_disk_hash_size(MigDiskHash *h, uint64_t size);
/* The checksum in hex (frees what init took). */
char *mig_disk_hash_end(MigDiskHash *h);

/* err for a system call on a disk that failed with errno e: NoSpace for ENOSPC, NotFound for
 * ENOENT, name otherwise; the message "WHAT: <strerror>". Returns -e. */
int mig_disk_fail(MigVirtError *err, int e, const char *name, const char *what);

/* Next data region at or after pos in a file of size bytes: [*start, *end). False at the end. */
bool mig_file_next_data(int fd, off_t pos, off_t size, off_t *start, off_t *end);

/* Reads the file at path block by block, hashing it; on_block (may be NULL) gets each block
 * that was hashed (a non-zero one; data points into a read buffer, blocks of one read side
 * by side) and then (data NULL) word that this buffer is read into next, and may stop the
 * reading by failing (its -errno is returned); on_read (may be NULL) the bytes read so far.
 * *ret_size: the file's size. */
typedef int (*MigDiskBlockFn)(void *userdata, uint64_t offset, const guint8 *data, size_t len);
typedef void (*MigDiskReadFn)(void *userdata, size_t n);
int mig_disk_hash_file(const char *path, MigDiskBlockFn on_block, MigDiskReadFn on_read, void *userdata,
                       uint64_t *ret_size, char **ret_hex, MigVirtError *err);
