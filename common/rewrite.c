/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "rewrite.h"

#include <errno.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlsave.h>
#include <libxml/xpath.h>
#include <string.h>
#include <unistd.h>

#define REWRITE_ERROR g_quark_from_static_string("migrated-rewrite")
#define IFNAME_MAX 15

typedef struct Pair {
        char *from, *to;
} Pair;

struct MigRewriteRules {
        GArray *bridges; /* Pair */
        GArray *paths;   /* Pair, both ending in '/' */
};

static void pair_clear(gpointer p) {
        g_free(((Pair *) p)->from);
        g_free(((Pair *) p)->to);
}

static MigRewriteRules *rules_new(void) {
        MigRewriteRules *r = g_new0(MigRewriteRules, 1);
        r->bridges = g_array_new(FALSE, TRUE, sizeof(Pair));
        r->paths = g_array_new(FALSE, TRUE, sizeof(Pair));
        g_array_set_clear_func(r->bridges, pair_clear);
        g_array_set_clear_func(r->paths, pair_clear);
        return r;
}

void mig_rewrite_rules_free(MigRewriteRules *r) {
        if (!r)
                return;
        g_array_unref(r->bridges);
        g_array_unref(r->paths);
        g_free(r);
}

bool mig_rewrite_rules_empty(const MigRewriteRules *r) {
        return !r || (r->bridges->len == 0 && r->paths->len == 0);
}

static bool ifname_valid(const char *s) {
        size_t n = strlen(s);
        if (n == 0 || n > IFNAME_MAX || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!g_ascii_isalnum(s[i]) && !strchr("-_.", s[i]))
                        return false;
        return true;
}

static bool prefix_valid(const char *s) {
        return s[0] == '/' && !strstr(s, "/../") && !g_str_has_suffix(s, "/..") && !strpbrk(s, "\n\t'\"");
}

static char *with_slash(const char *s) {
        return g_str_has_suffix(s, "/") ? g_strdup(s) : g_strconcat(s, "/", NULL);
}

/* "FROM:TO;FROM:TO" into pairs; false with error set when one is malformed. */
static bool parse_pairs(const char *value, bool paths, GArray *out, GError **error) {
        g_auto(GStrv) items = g_strsplit(value, ";", -1);
        for (size_t i = 0; items[i]; i++) {
                const char *item = g_strstrip(items[i]);
                if (!*item)
                        continue;
                g_auto(GStrv) p = g_strsplit(item, ":", 3);
                bool ok = g_strv_length(p) == 2 && (paths ? prefix_valid(p[0]) && prefix_valid(p[1])
                                                          : ifname_valid(p[0]) && ifname_valid(p[1]));
                if (!ok) {
                        g_set_error(error, REWRITE_ERROR, EINVAL, "'%s' is not FROM:TO with two %s", item,
                                    paths ? "absolute paths"
                                          : "interface names (at most 15 of A-Z a-z 0-9 - _ .)");
                        return false;
                }
                Pair pair = {paths ? with_slash(p[0]) : g_strdup(p[0]),
                             paths ? with_slash(p[1]) : g_strdup(p[1])};
                g_array_append_val(out, pair);
        }
        return true;
}

MigRewriteRules *mig_rewrite_rules_from_keyfile(GKeyFile *kf, const char **bad_key, GError **error) {
        static const char *const keys[] = {"Bridges", "DiskPathPrefixes", NULL};
        g_autoptr(MigRewriteRules) r = rules_new();
        g_auto(GStrv) present = g_key_file_get_keys(kf, MIG_REWRITE_GROUP, NULL, NULL);
        for (size_t i = 0; present && present[i]; i++)
                if (!g_strv_contains(keys, present[i])) {
                        *bad_key = NULL;
                        g_set_error(error, REWRITE_ERROR, EINVAL,
                                    "unknown key %s (expected Bridges or DiskPathPrefixes)", present[i]);
                        return NULL;
                }
        for (size_t i = 0; keys[i]; i++) {
                g_autofree char *v = g_key_file_get_string(kf, MIG_REWRITE_GROUP, keys[i], NULL);
                if (v && !parse_pairs(v, i == 1, i == 1 ? r->paths : r->bridges, error)) {
                        *bad_key = keys[i];
                        return NULL;
                }
        }
        return g_steal_pointer(&r);
}

MigRewriteRules *mig_rewrite_rules_load_file(const char *path, GError **error) {
        g_autoptr(GKeyFile) kf = g_key_file_new();
        g_autoptr(GError) e = NULL;
        if (!g_key_file_load_from_file(kf, path, G_KEY_FILE_NONE, &e)) {
                if (g_error_matches(e, G_FILE_ERROR, G_FILE_ERROR_NOENT))
                        return rules_new();
                g_set_error(error, REWRITE_ERROR, EINVAL, "%s: %s", path, e->message);
                return NULL;
        }
        const char *key = NULL;
        MigRewriteRules *r = mig_rewrite_rules_from_keyfile(kf, &key, &e);
        if (!r)
                g_set_error(error, REWRITE_ERROR, EINVAL, "%s: [%s] %s%s%s", path, MIG_REWRITE_GROUP,
                            key ? key : "", key ? ": " : "", e->message);
        return r;
}

char *mig_rewrite_path(const MigRewriteRules *r, const char *path) {
        for (guint i = 0; r && path && i < r->paths->len; i++) {
                const Pair *p = &g_array_index(r->paths, Pair, i);
                if (g_str_has_prefix(path, p->from))
                        return g_strconcat(p->to, path + strlen(p->from), NULL);
        }
        return NULL;
}

static const char *bridge_for(const MigRewriteRules *r, const char *name) {
        for (guint i = 0; r && i < r->bridges->len; i++) {
                const Pair *p = &g_array_index(r->bridges, Pair, i);
                if (strcmp(p->from, name) == 0)
                        return p->to;
        }
        return NULL;
}

typedef struct Rewrite {
        const MigRewriteRules *rules;
        MigRewriteFlags flags;
        const char *sysfs_net;
        xmlXPathContextPtr xp;
        bool changed;
} Rewrite;

static xmlXPathObjectPtr select_nodes(Rewrite *w, const char *expr) {
        xmlXPathObjectPtr o = xmlXPathEvalExpression(BAD_CAST expr, w->xp);
        if (o && (!o->nodesetval || o->nodesetval->nodeNr == 0)) {
                xmlXPathFreeObject(o);
                return NULL;
        }
        return o;
}

static bool bridge_present(const Rewrite *w, const char *name) {
        g_autofree char *p = g_build_filename(w->sysfs_net, name, NULL);
        return ifname_valid(name) && access(p, F_OK) == 0;
}

static int rewrite_bridges(Rewrite *w, GError **error) {
        xmlXPathObjectPtr o = select_nodes(w, "/domain/devices/interface[@type='bridge']/source[@bridge]");
        int r = 0;
        for (int i = 0; o && r == 0 && i < o->nodesetval->nodeNr; i++) {
                xmlNodePtr n = o->nodesetval->nodeTab[i];
                xmlChar *old = xmlGetProp(n, BAD_CAST "bridge");
                const char *to = bridge_for(w->rules, (const char *) old);
                if (to) {
                        xmlSetProp(n, BAD_CAST "bridge", BAD_CAST to);
                        w->changed = true;
                }
                const char *now = to ? to : (const char *) old;
                if ((w->flags & MIG_REWRITE_CHECK_BRIDGES) && !bridge_present(w, now)) {
                        g_set_error(error, REWRITE_ERROR, ENODEV,
                                    "its network interface %d uses bridge '%s', which this node does not "
                                    "have (map it in migrated.conf: [Rewrite] Bridges=%s:LOCAL-BRIDGE)",
                                    i + 1, now, (const char *) old);
                        r = -ENODEV;
                }
                xmlFree(old);
        }
        xmlXPathFreeObject(o);
        return r;
}

static void rewrite_paths(Rewrite *w) {
        xmlXPathObjectPtr o = select_nodes(w, "/domain/devices/disk/source[@file]");
        for (int i = 0; o && i < o->nodesetval->nodeNr; i++) {
                xmlNodePtr n = o->nodesetval->nodeTab[i];
                xmlChar *old = xmlGetProp(n, BAD_CAST "file");
                g_autofree char *to = mig_rewrite_path(w->rules, (const char *) old);
                if (to) {
                        xmlSetProp(n, BAD_CAST "file", BAD_CAST to);
                        w->changed = true;
                }
                xmlFree(old);
        }
        xmlXPathFreeObject(o);
        o = select_nodes(w, "/domain/os/kernel | /domain/os/initrd");
        for (int i = 0; o && i < o->nodesetval->nodeNr; i++) {
                xmlNodePtr n = o->nodesetval->nodeTab[i];
                xmlChar *old = xmlNodeGetContent(n);
                g_autofree char *to = mig_rewrite_path(w->rules, (const char *) old);
                if (to) {
                        xmlNodeSetContent(n, NULL);
                        xmlNodeAddContent(n, BAD_CAST to);
                        w->changed = true;
                }
                xmlFree(old);
        }
        xmlXPathFreeObject(o);
}

static char *dump(xmlDocPtr doc) {
        xmlBufferPtr buf = xmlBufferCreate();
        xmlSaveCtxtPtr save = xmlSaveToBuffer(buf, "UTF-8", XML_SAVE_NO_DECL);
        char *out = NULL;
        if (save) {
                xmlSaveDoc(save, doc);
                xmlSaveClose(save);
                out = g_strndup((const char *) xmlBufferContent(buf), (gsize) xmlBufferLength(buf));
        }
        xmlBufferFree(buf);
        return out;
}

/* A domain's XML, parsed without the network or messages on stderr; NULL with error set. */
static xmlDocPtr parse_domain(const char *xml, size_t len, GError **error) {
        xmlDocPtr doc = len <= G_MAXINT
                                ? xmlReadMemory(xml, (int) len, "domain.xml", NULL,
                                                XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING)
                                : NULL;
        if (!doc)
                g_set_error(error, REWRITE_ERROR, EINVAL, "its domain XML cannot be parsed");
        return doc;
}

int mig_rewrite_domain_xml(const MigRewriteRules *rules, const char *xml, size_t len, MigRewriteFlags flags,
                           const char *sysfs_net_dir, char **out, GError **error) {
        *out = NULL;
        xmlDocPtr doc = parse_domain(xml, len, error);
        if (!doc)
                return -EINVAL;
        Rewrite w = {rules, flags, sysfs_net_dir ? sysfs_net_dir : "/sys/class/net", xmlXPathNewContext(doc),
                     false};
        int r = rewrite_bridges(&w, error);
        if (r == 0)
                rewrite_paths(&w);
        if (r == 0 && w.changed && !(*out = dump(doc))) {
                g_set_error(error, REWRITE_ERROR, ENOMEM, "its rewritten XML cannot be written");
                r = -ENOMEM;
        }
        xmlXPathFreeContext(w.xp);
        xmlFreeDoc(doc);
        return r;
}

/* Sets the text of every node expr selects (there is at most one of each here). */
static void set_text(xmlXPathContextPtr xp, const char *expr, const char *text, bool drop_current) {
        xmlXPathObjectPtr o = xmlXPathEvalExpression(BAD_CAST expr, xp);
        for (int i = 0; o && o->nodesetval && i < o->nodesetval->nodeNr; i++) {
                xmlNodePtr n = o->nodesetval->nodeTab[i];
                xmlNodeSetContent(n, NULL);
                xmlNodeAddContent(n, BAD_CAST text);
                if (drop_current) /* <vcpu current='N'>: every vCPU runs after a resize */
                        xmlUnsetProp(n, BAD_CAST "current");
                else
                        xmlSetProp(n, BAD_CAST "unit", BAD_CAST "KiB");
        }
        xmlXPathFreeObject(o);
}

static bool has_node(xmlXPathContextPtr xp, const char *expr) {
        xmlXPathObjectPtr o = xmlXPathEvalExpression(BAD_CAST expr, xp);
        bool found = o && o->nodesetval && o->nodesetval->nodeNr > 0;
        xmlXPathFreeObject(o);
        return found;
}

int mig_resize_domain_xml(const char *xml, uint64_t memory_kib, unsigned vcpus, char **out, GError **error) {
        *out = NULL;
        xmlDocPtr doc = parse_domain(xml, strlen(xml), error);
        if (!doc)
                return -EINVAL;
        xmlXPathContextPtr xp = xmlXPathNewContext(doc);
        int r = 0;
        if (memory_kib && has_node(xp, "/domain/cpu/numa")) {
                g_set_error(error, REWRITE_ERROR, EINVAL,
                            "its NUMA cells fix its memory: change them first");
                r = -EINVAL;
        } else if (vcpus && has_node(xp, "/domain/vcpus")) {
                g_set_error(error, REWRITE_ERROR, EINVAL,
                            "it has per-vCPU settings (<vcpus>): change them first");
                r = -EINVAL;
        }
        if (r == 0 && memory_kib) {
                g_autofree char *kib = g_strdup_printf("%" G_GUINT64_FORMAT, memory_kib);
                set_text(xp, "/domain/memory | /domain/currentMemory", kib, false);
        }
        if (r == 0 && vcpus) {
                g_autofree char *n = g_strdup_printf("%u", vcpus);
                set_text(xp, "/domain/vcpu", n, true);
        }
        if (r == 0 && !(*out = dump(doc))) {
                g_set_error(error, REWRITE_ERROR, ENOMEM, "its resized XML cannot be written");
                r = -ENOMEM;
        }
        xmlXPathFreeContext(xp);
        xmlFreeDoc(doc);
        return r;
}
