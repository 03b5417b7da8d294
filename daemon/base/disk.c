/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "disk.h"

#include <errno.h>
#include <fcntl.h>
#include <json-glib/json-glib.h>
#include <libvirt/virterror.h>
#include <openssl/evp.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "errors.h"
#include "macro.h"

#define CHECKSUM_BLOCK (64 * 1024)

static int fail_errno(MigVirtError *err, int e, const char *what, const char *path) {
        mig_virt_error_clear(err);
        err->name = e == ENOSPC   ? MIG_ERROR_NO_SPACE
                    : e == ENOENT ? MIG_ERROR_NOT_FOUND
                                  : MIG_ERROR_INTERNAL;
        err->message = g_strdup_printf("%s %s: %s", what, path, g_strerror(e));
        return -e;
}

static int fail_virt(MigVirtError *err, const char *what, const char *path) {
        const virError *ve = virGetLastError();
        mig_virt_error_clear(err);
        err->name = ve && ve->message && strstr(ve->message, "No space left") ? MIG_ERROR_NO_SPACE
                                                                              : MIG_ERROR_LIBVIRT;
        err->message =
                g_strdup_printf("%s %s: %s", what, path, ve && ve->message ? ve->message : "libvirt failed");
        return -EIO;
}

/* Next data region at or after *pos: [*start, *end). Returns false at the end. */
static bool next_data(int fd, off_t pos, off_t size, off_t *start, off_t *end) {
        if (pos >= size)
                return false;
        off_t s = lseek(fd, pos, SEEK_DATA);
        if (s < 0)
                return false; /* ENXIO: only a hole remains */
        off_t e = lseek(fd, s, SEEK_HOLE);
        *start = s;
        *end = e < 0 ? size : e;
        return true;
}

int mig_disk_measure(MigDisk *d, MigVirtError *err) {
        int fd = open(d->path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return fail_errno(err, errno, "Cannot open", d->path);
        struct stat st;
        if (fstat(fd, &st) < 0) {
                close(fd);
                return fail_errno(err, errno, "Cannot stat", d->path);
        }
        d->size = (uint64_t) st.st_size;
        d->data_bytes = 0;
        off_t pos = 0, s, e;
        while (next_data(fd, pos, st.st_size, &s, &e)) {
                d->data_bytes += (uint64_t) (e - s);
                pos = e;
        }
        close(fd);
        return 0;
}

/* --- the sparse upload --- */

typedef struct Upload {
        int fd;
        off_t size;
        MigCopyProgress *progress;
} Upload;

static int upload_hole(virStreamPtr st, int *in_data, long long *length, void *opaque) {
        Upload *u = opaque;
        off_t pos = lseek(u->fd, 0, SEEK_CUR);
        off_t s, e;
        if (pos < 0)
                return -1;
        if (!next_data(u->fd, pos, u->size, &s, &e)) {
                *in_data = 0;
                *length = u->size - pos; /* 0 at the end */
        } else if (s > pos) {
                *in_data = 0;
                *length = s - pos;
        } else {
                *in_data = 1;
                *length = e - pos;
        }
        return lseek(u->fd, pos, SEEK_SET) < 0 ? -1 : 0;
}

static int upload_skip(virStreamPtr st, long long length, void *opaque) {
        Upload *u = opaque;
        return lseek(u->fd, (off_t) length, SEEK_CUR) < 0 ? -1 : 0;
}

static int upload_read(virStreamPtr st, char *data, size_t nbytes, void *opaque) {
        Upload *u = opaque;
        if (g_atomic_int_get(&u->progress->cancel))
                return -1;
        ssize_t n = read(u->fd, data, nbytes);
        if (n > 0)
                __atomic_fetch_add(&u->progress->bytes_done, (gint64) n, __ATOMIC_RELAXED);
        return (int) n;
}

static virStorageVolPtr lookup_volume(virConnectPtr conn, const char *path) {
        virStorageVolPtr vol = virStorageVolLookupByPath(conn, path);
        if (vol)
                return vol;
        /* The pool may not have seen a volume created by another connection yet. */
        g_autofree char *dir = g_path_get_dirname(path);
        virStoragePoolPtr pool = virStoragePoolLookupByTargetPath(conn, dir);
        if (pool) {
                virStoragePoolRefresh(pool, 0);
                virStoragePoolFree(pool);
        }
        return virStorageVolLookupByPath(conn, path);
}

int mig_disk_upload(virConnectPtr dconn, const MigDisk *d, const char *dest_path, MigCopyProgress *p,
                    MigVirtError *err) {
        virStorageVolPtr vol = lookup_volume(dconn, dest_path);
        if (!vol)
                return fail_virt(err, "The destination has no volume for", dest_path);
        Upload u = {.fd = open(d->path, O_RDONLY | O_CLOEXEC), .size = (off_t) d->size, .progress = p};
        if (u.fd < 0) {
                virStorageVolFree(vol);
                return fail_errno(err, errno, "Cannot open", d->path);
        }
        virStreamPtr st = virStreamNew(dconn, 0);
        int r = -EIO;
        if (st && virStorageVolUpload(vol, st, 0, 0, VIR_STORAGE_VOL_UPLOAD_SPARSE_STREAM) == 0) {
                if (virStreamSparseSendAll(st, upload_read, upload_hole, upload_skip, &u) == 0 &&
                    virStreamFinish(st) == 0)
                        r = 0;
                else
                        virStreamAbort(st);
        }
        if (r < 0 && g_atomic_int_get(&p->cancel)) {
                mig_virt_error_clear(err);
                err->name = MIG_ERROR_CONFLICT;
                err->message = g_strdup_printf("The copy of %s was cancelled.", d->path);
        } else if (r < 0)
                fail_virt(err, "Cannot copy", d->path);
        if (st)
                virStreamFree(st);
        virStorageVolFree(vol);
        close(u.fd);
        return r;
}

/* --- checksum --- */

#define CHECKSUM_READ (16 * CHECKSUM_BLOCK) /* 1 MiB per read, hashed block by block */

static bool all_zero(const guint8 *buf, size_t n) {
        return n == 0 || (buf[0] == 0 && memcmp(buf, buf + 1, n - 1) == 0);
}

/* Hashes the non-zero blocks of [from, to) with their offsets (from block-aligned; to too, or
 * the end of the file). */
static int checksum_range(int fd, off_t from, off_t to, EVP_MD_CTX *ctx, guint8 *buf) {
        for (off_t pos = from; pos < to; pos += CHECKSUM_READ) {
                ssize_t n = pread(fd, buf, (size_t) MIN((off_t) CHECKSUM_READ, to - pos), pos);
                if (n < 0)
                        return -errno;
                for (ssize_t k = 0; k < n; k += CHECKSUM_BLOCK) {
                        size_t len = (size_t) MIN((ssize_t) CHECKSUM_BLOCK, n - k);
                        if (all_zero(buf + k, len))
                                continue;
                        guint64 off = GUINT64_TO_LE((guint64) (pos + k));
                        EVP_DigestUpdate(ctx, &off, sizeof(off));
                        EVP_DigestUpdate(ctx, buf + k, len);
                }
                if (n == 0)
                        break;
        }
        return 0;
}

int mig_disk_checksum(const char *path, char **ret_hex, MigVirtError *err) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return fail_errno(err, errno, "Cannot open", path);
        struct stat st;
        if (fstat(fd, &st) < 0) {
                close(fd);
                return fail_errno(err, errno, "Cannot stat", path);
        }
        (void) posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
        g_autofree guint8 *buf = g_malloc(CHECKSUM_READ);
        off_t pos = 0, s, e;
        int r = 0;
        while (r == 0 && next_data(fd, pos, st.st_size, &s, &e)) {
                /* Whole aligned blocks, so that hole layout does not matter. */
                off_t from = s - s % CHECKSUM_BLOCK;
                pos = e + (CHECKSUM_BLOCK - e % CHECKSUM_BLOCK) % CHECKSUM_BLOCK;
                r = checksum_range(fd, from, MIN(pos, st.st_size), ctx, buf);
        }
        close(fd);
        guint64 size = GUINT64_TO_LE((guint64) st.st_size);
        EVP_DigestUpdate(ctx, &size, sizeof(size));
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned mdlen = 0;
        EVP_DigestFinal_ex(ctx, md, &mdlen);
        EVP_MD_CTX_free(ctx);
        if (r < 0)
                return fail_errno(err, -r, "Cannot read", path);
        GString *hex = g_string_sized_new(2 * mdlen);
        for (unsigned i = 0; i < mdlen; i++)
                g_string_append_printf(hex, "%02x", md[i]);
        *ret_hex = g_string_free(hex, FALSE);
        return 0;
}

/* --- destination volumes --- */

static virStoragePoolPtr pool_for(virConnectPtr conn, const char *dir, MigVirtError *err) {
        virStoragePoolPtr pool = virStoragePoolLookupByTargetPath(conn, dir);
        if (pool) {
                if (virStoragePoolIsActive(pool) != 1)
                        virStoragePoolCreate(pool, 0);
                return pool;
        }
        g_autofree char *hash = g_compute_checksum_for_string(G_CHECKSUM_SHA256, dir, -1);
        hash[12] = '\0';
        g_autofree char *xml = g_markup_printf_escaped(
                "<pool type='dir'><name>migrated-%s</name><target><path>%s</path></target></pool>", hash,
                dir);
        pool = virStoragePoolCreateXML(conn, xml, 0);
        if (!pool)
                fail_virt(err, "Cannot set up a storage pool for", dir);
        return pool;
}

/* Creates the missing folders of dir 0755 whatever the daemon's umask (0077 under its unit):
 * QEMU runs as another user and must get into the folders of its disks. */
static int make_folders(const char *dir) {
        struct stat st;
        if (stat(dir, &st) == 0)
                return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
        g_autofree char *parent = g_path_get_dirname(dir);
        if (strcmp(parent, dir) != 0) {
                int r = make_folders(parent);
                if (r < 0)
                        return r;
        }
        if (mkdir(dir, 0755) < 0)
                return errno == EEXIST ? 0 : -errno;
        return chmod(dir, 0755) < 0 ? -errno : 0; /* only what this call created */
}

int mig_disk_create_volume(virConnectPtr conn, const char *path, uint64_t size, const char *format,
                           MigVirtError *err) {
        if (access(path, F_OK) == 0) {
                mig_virt_error_clear(err);
                err->name = MIG_ERROR_CONFLICT;
                err->message = g_strdup_printf("%s already exists on the destination.", path);
                return -EEXIST;
        }
        g_autofree char *dir = g_path_get_dirname(path);
        g_autofree char *name = g_path_get_basename(path);
        int r = make_folders(dir);
        if (r < 0)
                return fail_errno(err, -r, "Cannot create", dir);
        virStoragePoolPtr pool = pool_for(conn, dir, err);
        if (!pool)
                return -EIO;
        virStoragePoolRefresh(pool, 0);
        g_autofree char *xml = g_markup_printf_escaped(
                "<volume><name>%s</name><capacity unit='bytes'>%" G_GUINT64_FORMAT "</capacity>"
                "<allocation unit='bytes'>0</allocation><target><format type='%s'/></target></volume>",
                name, size, format);
        virStorageVolPtr vol = virStorageVolCreateXML(pool, xml, 0);
        virStoragePoolFree(pool);
        if (!vol)
                return fail_virt(err, "Cannot create the volume", path);
        virStorageVolFree(vol);
        return 0;
}

int mig_disk_delete(virConnectPtr conn, const MigDisk *d, MigVirtError *err) {
        const char *path = d->path;
        if (d->shared) {
                g_message("Disk %s is on storage both nodes share: kept.", path);
                return 0;
        }
        virStorageVolPtr vol = lookup_volume(conn, path);
        if (vol) {
                int r = virStorageVolDelete(vol, 0);
                virStorageVolFree(vol);
                if (r == 0)
                        return 0;
        }
        if (unlink(path) < 0 && errno != ENOENT)
                return fail_errno(err, errno, "Cannot delete", path);
        return 0;
}

int mig_disks_delete(MigVirt *v, GPtrArray *disks, unsigned upto, MigVirtError *err) {
        MigVirtError first = {0}, e = {0};
        int r = 0;
        virConnectPtr conn = upto > 0 && disks && disks->len > 0 ? mig_virt_connection(v, &first) : NULL;
        if (upto > 0 && disks && disks->len > 0 && !conn) {
                g_warning("No disk deleted: %s", first.message);
                r = -EIO;
        }
        for (unsigned i = 0; conn && i < upto && i < disks->len; i++) {
                if (mig_disk_delete(conn, disks->pdata[i], &e) == 0)
                        continue;
                g_warning("%s", e.message);
                if (r == 0)
                        first = e, e = (MigVirtError){0}, r = -EIO;
                mig_virt_error_clear(&e);
        }
        if (conn)
                virConnectClose(conn);
        if (err && r < 0)
                mig_virt_error_clear(err), *err = first;
        else
                mig_virt_error_clear(&first);
        return r;
}

/* --- JSON for the store --- */

char *mig_disks_to_json(GPtrArray *disks) {
        g_autoptr(JsonBuilder) b = json_builder_new();
        json_builder_begin_array(b);
        for (guint i = 0; disks && i < disks->len; i++) {
                const MigDisk *d = disks->pdata[i];
                json_builder_begin_object(b);
                json_builder_set_member_name(b, "path");
                json_builder_add_string_value(b, d->path);
                json_builder_set_member_name(b, "format");
                json_builder_add_string_value(b, d->format);
                json_builder_set_member_name(b, "size");
                json_builder_add_int_value(b, (gint64) d->size);
                json_builder_set_member_name(b, "data-bytes");
                json_builder_add_int_value(b, (gint64) d->data_bytes);
                if (d->target) {
                        json_builder_set_member_name(b, "target");
                        json_builder_add_string_value(b, d->target);
                }
                json_builder_set_member_name(b, "shared");
                json_builder_add_boolean_value(b, d->shared);
                json_builder_end_object(b);
        }
        json_builder_end_array(b);
        g_autoptr(JsonNode) root = json_builder_get_root(b);
        return json_to_string(root, FALSE);
}

GPtrArray *mig_disks_from_json(const char *json) {
        GPtrArray *disks = g_ptr_array_new_with_free_func((GDestroyNotify) mig_disk_free);
        g_autoptr(JsonNode) root = json ? json_from_string(json, NULL) : NULL;
        if (!root || !JSON_NODE_HOLDS_ARRAY(root))
                return disks;
        JsonArray *a = json_node_get_array(root);
        for (guint i = 0; i < json_array_get_length(a); i++) {
                JsonObject *o = json_array_get_object_element(a, i);
                if (!o)
                        continue;
                MigDisk *d = g_new0(MigDisk, 1);
                d->path = g_strdup(json_object_get_string_member_with_default(o, "path", ""));
                d->format = g_strdup(json_object_get_string_member_with_default(o, "format", "raw"));
                d->size = (uint64_t) json_object_get_int_member_with_default(o, "size", 0);
                d->data_bytes = (uint64_t) json_object_get_int_member_with_default(o, "data-bytes", 0);
                d->shared = json_object_get_boolean_member_with_default(o, "shared", FALSE);
                d->target = g_strdup(json_object_get_string_member_with_default(o, "target", NULL));
                g_ptr_array_add(disks, d);
        }
        return disks;
}

uint64_t mig_disks_data_bytes(GPtrArray *disks) {
        uint64_t sum = 0;
        for (guint i = 0; disks && i < disks->len; i++)
                if (!((MigDisk *) disks->pdata[i])->shared)
                        sum += ((MigDisk *) disks->pdata[i])->data_bytes;
        return sum;
}

int mig_disk_check_movable(MigDisk *d, const char *how, MigVirtError *err) {
        if (!mig_disk_path_canonical(d->path) || !mig_disk_format_supported(d->format)) {
                mig_virt_error_clear(err);
                err->name = MIG_ERROR_NOT_SUPPORTED;
                err->message = g_strdup_printf("Disk %s cannot be migrated%s%s: only raw and qcow2 files "
                                               "with canonical paths are.",
                                               d->path, *how ? " " : "", how);
                return -EINVAL;
        }
        return mig_disk_measure(d, err);
}

uint64_t mig_disks_local_bytes(GPtrArray *disks, const char *image_dir) {
        uint64_t sum = 0;
        for (guint i = 0; disks && i < disks->len; i++) {
                const MigDisk *d = disks->pdata[i];
                if (!d->shared && mig_disk_path_allowed(d->path, image_dir))
                        sum += d->data_bytes;
        }
        return sum;
}
