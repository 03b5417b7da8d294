/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "validate.h"

#define PEER_GROUP_PREFIX "Peer "

static void peer_config_free(gpointer p) {
        MigPeerConfig *peer = p;
        g_free(peer->name);
        g_free(peer->address);
        g_free(peer->migration_address);
        g_free(peer);
}

void mig_config_free(MigConfig *c) {
        if (!c)
                return;
        g_free(c->path);
        g_free(c->text);
        g_free(c->node_name);
        g_free(c->libvirt_uri);
        g_free(c->image_directory);
        g_free(c->live.completion_action);
        g_ptr_array_unref(c->peers);
        mig_rewrite_rules_free(c->rewrite);
        g_free(c);
}

MigConfig *mig_config_new_defaults(void) {
        MigConfig *c = g_new0(MigConfig, 1);
        char host[256] = "";
        if (gethostname(host, sizeof(host) - 1) < 0 || !mig_node_name_valid(host))
                g_strlcpy(host, "localhost", sizeof(host));
        c->node_name = g_strdup(host);
        c->libvirt_uri = g_strdup("qemu:///system");
        c->image_directory = g_strdup("/var/lib/libvirt/images");
        c->resize_confirm_window = 0;
        c->max_concurrent_migrations = 2;
        c->history_days = 90;
        c->history_max = 10000;
        c->shutdown_timeout = 60;
        c->claim_timeout = 3600;
        c->migration_attempts = 3;
        c->idle_timeout = 60;
        c->live = (MigLiveConfig){.max_downtime = 300,
                                  .max_downtime_ceiling = 2000,
                                  .auto_converge = true,
                                  .parallel_connections = 1,
                                  .compressed = MIG_COMPRESS_AUTO, /* see tune.c */
                                  .completion_action = g_strdup("abort")};
        c->peers = g_ptr_array_new_with_free_func(peer_config_free);
        return c;
}

/* The line of KEY in [GROUP] (of the group itself when key is NULL), 0 if not found.
 * GKeyFile parses; this only points the operator at the right line. */
static unsigned line_of(const char *text, const char *group, const char *key) {
        g_auto(GStrv) lines = g_strsplit(text ? text : "", "\n", -1);
        g_autofree char *header = g_strdup_printf("[%s]", group);
        bool in_group = false;
        for (unsigned i = 0; lines[i]; i++) {
                const char *l = g_strstrip(lines[i]);
                if (l[0] == '[') {
                        in_group = strcmp(l, header) == 0;
                        if (in_group && !key)
                                return i + 1;
                } else if (in_group && key && g_str_has_prefix(l, key) &&
                           (l[strlen(key)] == '=' || l[strlen(key)] == ' '))
                        return i + 1;
        }
        return 0;
}

/* The first line that is neither blank, a comment, a group header nor KEY=VALUE. */
static unsigned first_bad_line(const char *text) {
        g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
        for (unsigned i = 0; lines[i]; i++) {
                const char *l = g_strstrip(lines[i]);
                if (*l && *l != '#' && *l != '[' && !strchr(l, '='))
                        return i + 1;
        }
        return 0;
}

static bool fail(GError **error, const MigConfig *c, const char *group, const char *key, const char *why) {
        unsigned line = line_of(c->text, group, key);
        g_autofree char *where = line ? g_strdup_printf("%s:%u", c->path, line) : g_strdup(c->path);
        g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE, "%s: [%s] %s%s%s", where, group,
                    key ? key : "", key ? ": " : "", why);
        return false;
}

/* Reads an unsigned key within [min, max]; absent keys keep *value. */
static bool read_uint(GKeyFile *kf, const MigConfig *c, const char *group, const char *key, unsigned min,
                      unsigned max, unsigned *value, GError **error) {
        if (!g_key_file_has_key(kf, group, key, NULL))
                return true;
        g_autofree char *s = g_key_file_get_value(kf, group, key, NULL);
        guint64 v;
        if (!g_ascii_string_to_unsigned(g_strstrip(s), 10, min, max, &v, NULL)) {
                g_autofree char *why =
                        g_strdup_printf("'%s' is not a whole number from %u to %u", s, min, max);
                return fail(error, c, group, key, why);
        }
        *value = (unsigned) v;
        return true;
}

/* Reads a string key, checked by valid(); absent keys keep *value. */
static bool read_string(GKeyFile *kf, const MigConfig *c, const char *group, const char *key,
                        bool (*valid)(const char *), const char *expect, char **value, GError **error) {
        if (!g_key_file_has_key(kf, group, key, NULL))
                return true;
        g_autofree char *s = g_key_file_get_string(kf, group, key, NULL);
        if (!s || (valid && !valid(s))) {
                g_autofree char *why = g_strdup_printf("'%s' is not %s", s ? s : "", expect);
                return fail(error, c, group, key, why);
        }
        g_free(*value);
        *value = g_steal_pointer(&s);
        return true;
}

static bool only_keys(GKeyFile *kf, const MigConfig *c, const char *group, const char *const *allowed,
                      GError **error) {
        g_auto(GStrv) keys = g_key_file_get_keys(kf, group, NULL, NULL);
        for (size_t i = 0; keys && keys[i]; i++)
                if (!g_strv_contains(allowed, keys[i]))
                        return fail(error, c, group, keys[i], "unknown key");
        return true;
}

static bool uri_valid(const char *s) {
        return *s && !strpbrk(s, " \t\n'\"`;$");
}

static bool absolute_path_valid(const char *s) {
        return s[0] == '/' && !strstr(s, "/../") && !strpbrk(s, "\n\t");
}

static bool parse_node(GKeyFile *kf, MigConfig *c, GError **error) {
        static const char *const keys[] = {
                "Name",           "LibvirtURI",      "ResizeConfirmWindow", "MaxConcurrentMigrations",
                "ImageDirectory", "ShutdownTimeout", "ClaimTimeout",        "IdleTimeout",
                "HistoryDays",    "HistoryMax",      "MigrationAttempts",   NULL};
        const char *g = "Node";
        if (!g_key_file_has_group(kf, g))
                return true;
        return only_keys(kf, c, g, keys, error) &&
               read_string(kf, c, g, "Name", mig_node_name_valid, "a valid node name", &c->node_name,
                           error) &&
               read_string(kf, c, g, "LibvirtURI", uri_valid, "a libvirt URI", &c->libvirt_uri, error) &&
               read_string(kf, c, g, "ImageDirectory", absolute_path_valid, "an absolute path",
                           &c->image_directory, error) &&
               read_uint(kf, c, g, "ResizeConfirmWindow", 0, 30 * 24 * 3600, &c->resize_confirm_window,
                         error) &&
               read_uint(kf, c, g, "MaxConcurrentMigrations", 1, 64, &c->max_concurrent_migrations, error) &&
               read_uint(kf, c, g, "ShutdownTimeout", 0, 3600, &c->shutdown_timeout, error) &&
               read_uint(kf, c, g, "ClaimTimeout", 1, 7 * 24 * 3600, &c->claim_timeout, error) &&
               read_uint(kf, c, g, "IdleTimeout", 0, 86400, &c->idle_timeout, error) &&
               read_uint(kf, c, g, "HistoryDays", 0, 36500, &c->history_days, error) &&
               read_uint(kf, c, g, "HistoryMax", 0, 10000000, &c->history_max, error) &&
               read_uint(kf, c, g, "MigrationAttempts", 1, 10, &c->migration_attempts, error);
}

static bool parse_peer(GKeyFile *kf, MigConfig *c, const char *group, GError **error) {
        static const char *const keys[] = {"Address", "MigrationAddress", NULL};
        const char *name = group + strlen(PEER_GROUP_PREFIX);
        if (!mig_node_name_valid(name))
                return fail(error, c, group, NULL, "the peer's name is not a valid node name");
        if (strcmp(name, c->node_name) == 0 || mig_config_find_peer(c, name))
                return fail(error, c, group, NULL, "this node name is already used");
        if (!only_keys(kf, c, group, keys, error))
                return false;
        MigPeerConfig *peer = g_new0(MigPeerConfig, 1);
        g_ptr_array_add(c->peers, peer);
        peer->name = g_strdup(name);
        if (!read_string(kf, c, group, "Address", mig_ssh_address_valid, "an SSH destination [user@]host",
                         &peer->address, error) ||
            !read_string(kf, c, group, "MigrationAddress", mig_node_name_valid,
                         "a host name or IPv4 address", &peer->migration_address, error))
                return false;
        if (!peer->address)
                return fail(error, c, group, "Address", "missing: every peer needs an SSH destination");
        return true;
}

static bool read_bool(GKeyFile *kf, const MigConfig *c, const char *group, const char *key, bool *value,
                      GError **error) {
        if (!g_key_file_has_key(kf, group, key, NULL))
                return true;
        g_autoptr(GError) e = NULL;
        gboolean v = g_key_file_get_boolean(kf, group, key, &e);
        if (e)
                return fail(error, c, group, key, "is not true or false");
        *value = v;
        return true;
}

static bool read_compress(GKeyFile *kf, const MigConfig *c, const char *group, MigCompress *value,
                          GError **error) {
        g_autofree char *s = g_key_file_get_string(kf, group, "Compressed", NULL);
        if (!s)
                return true;
        if (strcmp(s, "auto") == 0) {
                *value = MIG_COMPRESS_AUTO;
                return true;
        }
        g_autoptr(GError) e = NULL;
        gboolean on = g_key_file_get_boolean(kf, group, "Compressed", &e);
        if (e)
                return fail(error, c, group, "Compressed", "is not auto, true or false");
        *value = on ? MIG_COMPRESS_ALWAYS : MIG_COMPRESS_NEVER;
        return true;
}

static bool action_valid(const char *s) {
        return strcmp(s, "abort") == 0 || strcmp(s, "force-complete") == 0;
}

static bool parse_live(GKeyFile *kf, MigConfig *c, GError **error) {
        static const char *const keys[] = {
                "Bandwidth",           "MaxDowntime", "MaxDowntimeCeiling", "AutoConverge",     "PostCopy",
                "ParallelConnections", "Compressed",  "CompletionTimeout",  "CompletionAction", NULL};
        const char *g = "Live";
        MigLiveConfig *l = &c->live;
        if (!g_key_file_has_group(kf, g))
                return true;
        return only_keys(kf, c, g, keys, error) &&
               read_uint(kf, c, g, "Bandwidth", 0, 1000000, &l->bandwidth, error) &&
               read_uint(kf, c, g, "MaxDowntime", 1, 600000, &l->max_downtime, error) &&
               read_uint(kf, c, g, "MaxDowntimeCeiling", 1, 600000, &l->max_downtime_ceiling, error) &&
               read_bool(kf, c, g, "AutoConverge", &l->auto_converge, error) &&
               read_bool(kf, c, g, "PostCopy", &l->postcopy, error) &&
               read_uint(kf, c, g, "ParallelConnections", 1, 64, &l->parallel_connections, error) &&
               read_compress(kf, c, g, &l->compressed, error) &&
               read_uint(kf, c, g, "CompletionTimeout", 0, 86400, &l->completion_timeout, error) &&
               read_string(kf, c, g, "CompletionAction", action_valid, "abort or force-complete",
                           &l->completion_action, error);
}

static bool parse_rewrite(GKeyFile *kf, MigConfig *c, GError **error) {
        const char *key = NULL;
        g_autoptr(GError) e = NULL;
        MigRewriteRules *rules = mig_rewrite_rules_from_keyfile(kf, &key, &e);
        if (!rules)
                return fail(error, c, MIG_REWRITE_GROUP, key, e->message);
        mig_rewrite_rules_free(c->rewrite);
        c->rewrite = rules;
        return true;
}

static bool parse_groups(GKeyFile *kf, MigConfig *c, GError **error) {
        g_auto(GStrv) groups = g_key_file_get_groups(kf, NULL);
        for (size_t i = 0; groups[i]; i++) {
                if (strcmp(groups[i], "Node") == 0)
                        continue;
                if (strcmp(groups[i], MIG_REWRITE_GROUP) == 0) {
                        if (!parse_rewrite(kf, c, error))
                                return false;
                        continue;
                }
                if (strcmp(groups[i], "Live") == 0) {
                        if (!parse_live(kf, c, error))
                                return false;
                        continue;
                }
                if (!g_str_has_prefix(groups[i], PEER_GROUP_PREFIX))
                        return fail(error, c, groups[i], NULL,
                                    "unknown group (expected [Node], [Live], [Rewrite] or [Peer NAME])");
                if (!parse_peer(kf, c, groups[i], error))
                        return false;
        }
        return true;
}

MigConfig *mig_config_load(const char *path, GError **error) {
        g_autoptr(GError) local = NULL;
        g_autofree char *text = NULL;
        if (!g_file_get_contents(path, &text, NULL, &local)) {
                if (!g_error_matches(local, G_FILE_ERROR, G_FILE_ERROR_NOENT)) {
                        g_set_error(error, local->domain, local->code, "%s: %s", path, local->message);
                        return NULL;
                }
                MigConfig *c = mig_config_new_defaults();
                c->path = g_strdup(path);
                return c;
        }
        return mig_config_parse(path, text, error);
}

MigConfig *mig_config_parse(const char *path, const char *text, GError **error) {
        g_autoptr(MigConfig) c = mig_config_new_defaults();
        g_autoptr(GKeyFile) kf = g_key_file_new();
        g_autoptr(GError) local = NULL;
        c->path = g_strdup(path);
        c->text = g_strdup(text);
        if (!g_key_file_load_from_data(kf, c->text, (gsize) -1, G_KEY_FILE_NONE, &local)) {
                unsigned line = first_bad_line(c->text);
                g_set_error(error, local->domain, local->code, "%s:%u: %s", path, line, local->message);
                return NULL;
        }
        /* [Node] first: peers are checked against this node's name. */
        if (!parse_node(kf, c, error) || !parse_groups(kf, c, error))
                return NULL;
        return g_steal_pointer(&c);
}

const MigPeerConfig *mig_config_find_peer(const MigConfig *c, const char *name) {
        for (guint i = 0; name && i < c->peers->len; i++) {
                const MigPeerConfig *p = g_ptr_array_index(c->peers, i);
                if (strcmp(p->name, name) == 0)
                        return p;
        }
        return NULL;
}

bool mig_config_knows_node(const MigConfig *c, const char *name) {
        return name && (strcmp(name, c->node_name) == 0 || mig_config_find_peer(c, name));
}
