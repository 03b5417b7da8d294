/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target: the disk specs a source sends with Prepare (an a(sstt) of path, format,
 * size, data bytes), read and mapped to this node's paths through [Rewrite]
 * DiskPathPrefixes. Whatever is sent, a disk that is kept has a canonical path strictly
 * inside the image folder and a format of raw or qcow2; anything else is refused with a
 * sentence. */

#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "disk-spec.h"

#define IMAGES "/var/lib/libvirt/images"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static MigRewriteRules *rules(void) {
        static MigRewriteRules *r;
        if (!r) {
                g_autoptr(GKeyFile) kf = g_key_file_new();
                const char *bad = NULL;
                g_assert_true(g_key_file_load_from_data(
                        kf, "[Rewrite]\nDiskPathPrefixes=/srv/a/:" IMAGES "/a/;/srv/b/:" IMAGES "/\n", -1,
                        G_KEY_FILE_NONE, NULL));
                r = mig_rewrite_rules_from_keyfile(kf, &bad, NULL);
                g_assert_nonnull(r);
        }
        return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        g_autoptr(GBytes) bytes = g_bytes_new(data, size);
        g_autoptr(GVariant) raw =
                g_variant_ref_sink(g_variant_new_from_bytes(G_VARIANT_TYPE("a(sstt)"), bytes, FALSE));
        g_autoptr(GVariant) specs = g_variant_get_normal_form(raw);
        g_autoptr(GPtrArray) sent = mig_disks_from_specs(specs);
        assert(sent);
        g_autofree char *why = NULL;
        g_autoptr(GPtrArray) here = mig_disks_map(sent, rules(), &why);
        if (!here) {
                assert(why && *why);
                return 0;
        }
        assert(here->len == sent->len);
        for (guint i = 0; i < here->len; i++) {
                const MigDisk *d = here->pdata[i];
                g_autofree char *canonical = g_canonicalize_filename(d->path, "/");
                assert(strcmp(canonical, d->path) == 0);
                assert(d->path[0] == '/' && !d->shared);
                /* what a node may create: strictly inside its image folder */
                if (mig_disk_path_allowed(d->path, IMAGES))
                        assert(g_str_has_prefix(d->path, IMAGES "/") &&
                               strlen(d->path) > strlen(IMAGES "/"));
                assert(!strstr(d->path, "/../") && !strstr(d->path, "//"));
                assert(strcmp(d->format, "raw") == 0 || strcmp(d->format, "qcow2") == 0);
        }
        return 0;
}
