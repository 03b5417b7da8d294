/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "disk-spec.h"

#include <errno.h>
#include <string.h>

void mig_disk_free(MigDisk *d) {
        if (!d)
                return;
        g_free(d->path);
        g_free(d->format);
        g_free(d->target);
        g_free(d);
}

#define QCOW2_MAGIC 0x514649fbu
#define QCOW2_EXT_BACKING_FORMAT 0xe2792acau

static guint32 be32(const guint8 *p) {
        return (guint32) p[0] << 24 | (guint32) p[1] << 16 | (guint32) p[2] << 8 | p[3];
}

static guint64 be64(const guint8 *p) {
        return (guint64) be32(p) << 32 | be32(p + 4);
}

/* The backing format header extension, or NULL (none, or the extensions do not fit in n). */
static char *backing_format_ext(const guint8 *h, size_t n, guint32 version) {
        size_t pos = version >= 3 && n >= 104 ? be32(h + 100) : 72;
        while (pos + 8 <= n) {
                guint32 type = be32(h + pos), len = be32(h + pos + 4);
                if (type == 0 || len > n - pos - 8)
                        return NULL;
                if (type == QCOW2_EXT_BACKING_FORMAT)
                        return len > 0 && len < 32 ? g_strndup((const char *) h + pos + 8, len) : NULL;
                pos += 8 + ((len + 7u) & ~7u);
        }
        return NULL;
}

int mig_qcow2_backing(const guint8 *h, size_t n, char **name, char **format) {
        *name = *format = NULL;
        if (n < 72 || be32(h) != QCOW2_MAGIC)
                return 0;
        guint32 version = be32(h + 4);
        guint64 offset = be64(h + 8);
        guint32 size = be32(h + 16);
        if (version < 2 || version > 3)
                return -EINVAL;
        if (offset == 0)
                return 0;
        if (size == 0 || size > 1023 || offset > n || size > n - offset)
                return -EINVAL;
        g_autofree char *s = g_strndup((const char *) h + offset, size);
        if (strlen(s) != size || !g_utf8_validate(s, -1, NULL))
                return -EINVAL;
        *format = backing_format_ext(h, MIN(n, (size_t) offset), version);
        *name = g_steal_pointer(&s);
        return 1;
}

bool mig_disks_any_shared(GPtrArray *disks) {
        for (guint i = 0; disks && i < disks->len; i++)
                if (((MigDisk *) disks->pdata[i])->shared)
                        return true;
        return false;
}

bool mig_disk_needs_checksum(const MigDisk *d) {
        return d->shared && d->backing;
}

bool mig_disk_path_canonical(const char *path) {
        if (!path || path[0] != '/' || !g_utf8_validate(path, -1, NULL) || strlen(path) > 1024)
                return false;
        for (const char *c = path; *c; c++)
                if (g_ascii_iscntrl(*c))
                        return false;
        /* g_canonicalize_filename keeps a leading "//" (POSIX leaves it open) */
        if (g_str_has_prefix(path, "//"))
                return false;
        g_autofree char *canonical = g_canonicalize_filename(path, "/");
        return strcmp(canonical, path) == 0 && strcmp(path, "/") != 0;
}

bool mig_disk_path_allowed(const char *path, const char *image_dir) {
        if (!mig_disk_path_canonical(path))
                return false;
        g_autofree char *prefix =
                g_str_has_suffix(image_dir, "/") ? g_strdup(image_dir) : g_strconcat(image_dir, "/", NULL);
        return g_str_has_prefix(path, prefix) && strlen(path) > strlen(prefix);
}

bool mig_disk_format_supported(const char *format) {
        return format && (strcmp(format, "qcow2") == 0 || strcmp(format, "raw") == 0);
}

GVariant *mig_disks_to_specs(GPtrArray *disks) {
        GVariantBuilder b;
        g_variant_builder_init(&b, G_VARIANT_TYPE("a(sstt)"));
        for (guint i = 0; i < disks->len; i++) {
                const MigDisk *d = disks->pdata[i];
                g_variant_builder_add(&b, "(sstt)", d->path, d->format, (guint64) d->size,
                                      (guint64) d->data_bytes);
        }
        return g_variant_builder_end(&b);
}

GPtrArray *mig_disks_from_specs(GVariant *specs) {
        if (!g_variant_is_of_type(specs, G_VARIANT_TYPE("a(sstt)")))
                return NULL;
        GPtrArray *disks = g_ptr_array_new_with_free_func((GDestroyNotify) mig_disk_free);
        GVariantIter it;
        const char *path, *format;
        guint64 size, data;
        g_variant_iter_init(&it, specs);
        while (g_variant_iter_next(&it, "(&s&stt)", &path, &format, &size, &data)) {
                MigDisk *d = g_new0(MigDisk, 1);
                *d = (MigDisk){.path = g_strdup(path),
                               .format = g_strdup(format),
                               .size = size,
                               .data_bytes = data};
                g_ptr_array_add(disks, d);
        }
        return disks;
}

GPtrArray *mig_disks_map(GPtrArray *sent, const MigRewriteRules *rules, char **why) {
        g_autoptr(GPtrArray) disks = g_ptr_array_new_with_free_func((GDestroyNotify) mig_disk_free);
        for (guint i = 0; i < sent->len; i++) {
                const MigDisk *s = sent->pdata[i];
                g_autofree char *mapped = mig_rewrite_path(rules, s->path);
                const char *path = mapped ? mapped : s->path;
                if (!mig_disk_path_canonical(path) || !mig_disk_format_supported(s->format)) {
                        *why = g_strdup(
                                "Disk paths must be canonical absolute paths of raw or qcow2 files.");
                        return NULL;
                }
                MigDisk *d = g_new0(MigDisk, 1);
                *d = (MigDisk){.path = g_strdup(path),
                               .format = g_strdup(s->format),
                               .size = s->size,
                               .data_bytes = s->data_bytes};
                g_ptr_array_add(disks, d);
        }
        return g_steal_pointer(&disks);
}
