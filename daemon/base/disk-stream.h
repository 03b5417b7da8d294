/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A disk file's data over a pipe, checksummed as it goes: the sender reads the blocks that
 * hold data and hashes them as mig_disk_checksum does (disk.h), the receiver writes and
 * hashes what arrives; equal checksums at the end prove the copy without reading either
 * file again. Frames: 16 bytes (type, length, offset; little-endian) and, for data, the
 * bytes: 'D' data at offset (whole 64 KiB blocks, only the last one of the file shorter, in
 * ascending order), 'E' the end (offset: the file's size). Holes and zero blocks are not
 * sent. All of it blocks: worker threads and the receiver process only. */

#include <stdint.h>

#include "disk.h"

/* Sends the file at path to out (a pipe); *ret_hex its checksum. Stops, failing, when
 * p->cancel is set. */
int mig_disk_send(const char *path, int out, MigCopyProgress *p, char **ret_hex, MigVirtError *err);
/* Sends the file at path to a receiver started by argv (ssh to the destination running
 * migrated --receive-disk ID DEST_PATH) and compares the checksum it reports with the one
 * sent: 0 only when the copy on the destination is the file. The receiver's refusal comes
 * back with its name and sentence; ssh failing to connect as PeerUnreachable. */
int mig_disk_send_remote(char **argv, const char *path, MigCopyProgress *p, MigVirtError *err);
/* Writes what arrives on in into the file fd (sparse: only the data is written; the size
 * at the end) and gives the checksum of what it wrote. It does not wait for the disk: the
 * destination flushes its copies when it proves a confirm (mig_disk_flush), before the
 * source deletes anything. */
int mig_disk_receive(int in, int fd, char **ret_hex, MigVirtError *err);
