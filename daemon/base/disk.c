/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "disk.h"

#include <errno.h>
#include <fcntl.h>
#include <json-glib/json-glib.h>
#include <libvirt/virterror.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "disk-hash.h"
#include "errors.h"
#include "macro.h"

static int fail_errno(MigVirtError *err, int e, const char *what, const char *path) {
        g_autofree char *s = g_strdup_printf("%s %s", what, path);
        return mig_disk_fail(err, e, MIG_ERROR_INTERNAL, s);
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
        while (mig_file_next_data(fd, pos, st.st_size, &s, &e)) {
                d->data_bytes += (uint64_t) (e - s);
                pos = e;
        }
        close(fd);
        return 0;
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

/* --- checksum --- */

int mig_disk_checksum(const char *path, char **ret_hex, MigVirtError *err) {
        return mig_disk_hash_file(path, NULL, NULL, NULL, NULL, ret_hex, err);
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

int mig_disk_flush(const MigDisk *d, MigVirtError *err) {
        if (d->shared)
                return 0;
        int fd = open(d->path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return fail_errno(err, errno, "Cannot open", d->path);
        int r = fdatasync(fd) < 0 ? -errno : 0;
        close(fd);
        return r < 0 ? fail_errno(err, -r, "Cannot flush", d->path) : 0;
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
                if (d->backing) {
                        json_builder_set_member_name(b, "backing");
                        json_builder_add_boolean_value(b, TRUE);
                }
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
                d->backing = json_object_get_boolean_member_with_default(o, "backing", FALSE);
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

/* --- backing chains --- */

#define CHAIN_MAX 16
#define HEADER_READ (64 * 1024)

static int fail_chain(MigVirtError *err, const char *path, const char *why) {
        mig_virt_error_clear(err);
        err->name = MIG_ERROR_NOT_SUPPORTED;
        err->message = g_strdup_printf("The backing chain of %s cannot be moved: %s.", path, why);
        return -EINVAL;
}

/* The first bytes of a file (*n of them). */
static int read_header(const char *path, guint8 *buf, size_t *n, MigVirtError *err) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return fail_errno(err, errno, "Cannot open", path);
        ssize_t r = pread(fd, buf, HEADER_READ, 0);
        int e = errno;
        close(fd);
        if (r < 0)
                return fail_errno(err, e, "Cannot read", path);
        *n = (size_t) r;
        return 0;
}

/* The backing file of d (a new MigDisk, measured), or NULL: *ret stays NULL without one. */
static int backing_of(const MigDisk *d, MigDisk **ret, MigVirtError *err) {
        g_autofree guint8 *buf = g_malloc(HEADER_READ);
        g_autofree char *name = NULL, *format = NULL;
        size_t n = 0;
        *ret = NULL;
        if (strcmp(d->format, "qcow2") != 0)
                return 0;
        int r = read_header(d->path, buf, &n, err);
        if (r < 0)
                return r;
        r = mig_qcow2_backing(buf, n, &name, &format);
        if (r < 0)
                return fail_chain(err, d->path, "its qcow2 header is damaged");
        if (r == 0)
                return 0;
        if (strchr(name, ':'))
                return fail_chain(err, d->path, "its backing file is not a plain file");
        g_autofree char *dir = g_path_get_dirname(d->path);
        g_autoptr(MigDisk) b = g_new0(MigDisk, 1);
        b->path = g_canonicalize_filename(name, dir);
        b->backing = true;
        if (!format) { /* none recorded in the header: what the file itself is */
                r = read_header(b->path, buf, &n, err);
                if (r < 0)
                        return r;
                format = g_strdup(n >= 4 && memcmp(buf, "QFI\xfb", 4) == 0 ? "qcow2" : "raw");
        }
        b->format = g_steal_pointer(&format);
        r = mig_disk_check_movable(b, "cold", err);
        if (r < 0)
                return r;
        *ret = g_steal_pointer(&b);
        return 0;
}

static bool listed(GPtrArray *disks, const char *path) {
        for (guint i = 0; i < disks->len; i++)
                if (strcmp(((MigDisk *) disks->pdata[i])->path, path) == 0)
                        return true;
        return false;
}

int mig_disks_add_chains(GPtrArray *disks, MigVirtError *err) {
        for (guint i = 0, n = disks->len; i < n; i++) {
                const MigDisk *d = disks->pdata[i];
                for (unsigned depth = 0;; depth++) {
                        MigDisk *b = NULL;
                        int r = backing_of(d, &b, err);
                        if (r < 0)
                                return r;
                        if (!b)
                                break;
                        if (depth >= CHAIN_MAX) {
                                mig_disk_free(b);
                                return fail_chain(err, ((MigDisk *) disks->pdata[i])->path,
                                                  "it is longer than 16 files");
                        }
                        /* listed already: the rest of the chain is in (a base two disks share),
                         * or the chain loops */
                        if (listed(disks, b->path)) {
                                mig_disk_free(b);
                                break;
                        }
                        g_ptr_array_add(disks, b);
                        d = b;
                }
        }
        return 0;
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
