/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Rewrite rules: how a domain defined on another node is adapted to this one, from the
 * [Rewrite] group of migrated.conf:
 *
 *   [Rewrite]
 *   Bridges=br-a:br0;br-b:br1          # an interface on bridge br-a elsewhere uses br0 here
 *   DiskPathPrefixes=/srv/a/:/srv/b/   # a disk (or kernel/initrd) under /srv/a/ is under /srv/b/ here
 *
 * The hook applies them to the XML of an incoming live migration ("migrate begin"), the
 * destination's daemon to the paths it precreates and to the XML of a cold migration.
 * A domain that still names a bridge this node lacks is refused with that reason. */

#include <glib.h>
#include <stdint.h>
#include <stdbool.h>
#include <stddef.h>

#define MIG_REWRITE_GROUP "Rewrite"

typedef struct MigRewriteRules MigRewriteRules;

void mig_rewrite_rules_free(MigRewriteRules *r);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MigRewriteRules, mig_rewrite_rules_free)

/* The rules of kf's [Rewrite] group (none when absent). NULL with error set, and *bad_key
 * naming the key, when a rule is malformed. */
MigRewriteRules *mig_rewrite_rules_from_keyfile(GKeyFile *kf, const char **bad_key, GError **error);
/* The rules of a config file; a missing file has none. */
MigRewriteRules *mig_rewrite_rules_load_file(const char *path, GError **error);
bool mig_rewrite_rules_empty(const MigRewriteRules *r);

/* The path as it is on this node, or NULL when no rule changes it. */
char *mig_rewrite_path(const MigRewriteRules *r, const char *path);

typedef enum MigRewriteFlags {
        MIG_REWRITE_CHECK_BRIDGES = 1 << 0, /* refuse bridges missing from sysfs_net_dir */
} MigRewriteFlags;

/* A resize's definition: memory (KiB, the maximum and the current; 0 keeps it) and vCPUs
 * (0 keeps them) set in a domain's XML, into *out. Refused (-EINVAL, error says why) for
 * unparsable XML and for what a new size would contradict: NUMA cells, per-vCPU settings. */
int mig_resize_domain_xml(const char *xml, uint64_t memory_kib, unsigned vcpus, char **out, GError **error);

/* Rewrites a domain's XML. *out is NULL when nothing changed. Returns 0, or a negative
 * errno with error set to a sentence (unparsable XML, a bridge this node lacks). */
int mig_rewrite_domain_xml(const MigRewriteRules *r, const char *xml, size_t len, MigRewriteFlags flags,
                           const char *sysfs_net_dir, char **out, GError **error);
