/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The hook's pieces without libvirt: its event from argv + XML, the spool line format
 * (round trip, damage detection), the spool file (append, take, bound) and the
 * [Rewrite] rules. */

#include <errno.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>

#include "hook-event.h"
#include "rewrite.h"
#include "spool.h"

#define UUID "6f1c4b3e-1111-2222-3333-444455556666"
#define XML "<domain type='kvm'><name>vm1</name><uuid>6F1C4B3E-1111-2222-3333-444455556666</uuid></domain>"

static MigHookEvent *event(const char *domain, const char *op) {
        char *argv[] = {"hook", (char *) domain, (char *) op, "begin", "-", NULL};
        return mig_hook_event_new(5, argv, XML, strlen(XML), NULL);
}

static void test_event_from_args(void) {
        g_autoptr(MigHookEvent) e = event("vm1", "started");
        g_assert_nonnull(e);
        g_assert_cmpstr(e->uuid, ==, UUID);
        g_assert_cmpstr(e->operation, ==, "started");
        g_assert_cmpuint(strlen(e->id), ==, 32);
        g_assert_true(mig_hook_event_valid(e));
        g_autoptr(MigHookEvent) other = event("vm1", "started");
        g_assert_cmpstr(e->id, !=, other->id);

        char *bad_op[] = {"hook", "vm1", "Start;rm", "begin", "-", NULL};
        g_assert_null(mig_hook_event_new(5, bad_op, XML, strlen(XML), NULL));
        char *too_few[] = {"hook", "vm1", NULL};
        g_assert_null(mig_hook_event_new(2, too_few, NULL, 0, NULL));
        g_assert_null(mig_hook_uuid_from_xml("<domain><uuid>nope</uuid></domain>", 34));
        g_assert_null(mig_hook_uuid_from_xml("<notxml", 7));
        g_assert_null(mig_hook_uuid_from_xml("<network><uuid>" UUID "</uuid></network>", 45));
}

static void test_line_round_trip(void) {
        g_autoptr(MigHookEvent) e = event("odd\tname\nwith \"quotes\" and é", "migrate");
        g_free(e->message);
        e->message = g_strdup("refused: bridge 'x'\\y");
        g_autofree char *line = mig_hook_event_to_line(e);
        g_assert_true(g_str_has_suffix(line, "\n"));
        g_assert_null(strchr(line, '\n') == line + strlen(line) - 1 ? NULL : "embedded newline");
        g_autoptr(MigHookEvent) back = mig_hook_event_from_line(line, strlen(line) - 1, NULL);
        g_assert_nonnull(back);
        g_assert_cmpstr(back->domain, ==, e->domain);
        g_assert_cmpstr(back->message, ==, e->message);
        g_assert_cmpstr(back->id, ==, e->id);
        g_assert_cmpuint(back->time_usec, ==, e->time_usec);

        /* any changed byte or a cut line fails */
        for (size_t i = 0; i < strlen(line) - 1; i += 7) {
                g_autofree char *bent = g_strdup(line);
                bent[i] = bent[i] == 'x' ? 'y' : 'x';
                g_autoptr(MigHookEvent) x = mig_hook_event_from_line(bent, strlen(bent) - 1, NULL);
                g_assert_null(x);
        }
        g_autoptr(MigHookEvent) cut = mig_hook_event_from_line(line, strlen(line) / 2, NULL);
        g_assert_null(cut);
}

static void test_spool_parse(void) {
        g_autoptr(MigHookEvent) a = event("a", "start");
        g_autoptr(MigHookEvent) b = event("b", "stopped");
        g_autofree char *la = mig_hook_event_to_line(a), *lb = mig_hook_event_to_line(b);
        g_autofree char *data = g_strconcat(la, "garbage\n", lb, lb, NULL);
        data[strlen(data) - 5] = '\0'; /* the last append was cut short */
        unsigned bad = 0;
        g_autoptr(GPtrArray) list = mig_hook_spool_parse(data, strlen(data), &bad);
        g_assert_cmpuint(list->len, ==, 2);
        g_assert_cmpuint(bad, ==, 2);
        g_assert_cmpstr(((MigHookEvent *) list->pdata[1])->domain, ==, "b");
}

static char *spool_line(const char *domain) {
        g_autoptr(MigHookEvent) e = event(domain, "stopped");
        return mig_hook_event_to_line(e);
}

static void test_spool_file(void) {
        g_autofree char *parent = g_dir_make_tmp("migrated-spool-XXXXXX", NULL);
        g_autofree char *dir = g_build_filename(parent, "state", NULL); /* made by the first append */
        uint64_t far = G_MAXUINT64;
        for (int i = 0; i < 3; i++) {
                g_autofree char *l = spool_line("vm1");
                g_assert_cmpint(mig_spool_append(dir, l, far), ==, 0);
        }
        g_autofree char *data = NULL;
        size_t len = 0;
        g_assert_cmpint(mig_spool_take(dir, &data, &len, NULL), ==, 0);
        unsigned bad = 0;
        g_autoptr(GPtrArray) first = mig_hook_spool_parse(data, len, &bad);
        g_assert_cmpuint(first->len, ==, 3);

        /* a hook writing while the daemon records: a new spool; the taken one is
         * given again until it is done */
        g_autofree char *l4 = spool_line("vm4");
        g_assert_cmpint(mig_spool_append(dir, l4, far), ==, 0);
        g_autofree char *again = NULL;
        g_assert_cmpint(mig_spool_take(dir, &again, &len, NULL), ==, 0);
        g_assert_cmpstr(again, ==, data);
        g_assert_cmpint(mig_spool_done(dir), ==, 0);
        g_autofree char *next = NULL;
        g_assert_cmpint(mig_spool_take(dir, &next, &len, NULL), ==, 0);
        g_assert_cmpstr(next, ==, l4);
        g_assert_cmpint(mig_spool_done(dir), ==, 0);
        g_autofree char *none = NULL;
        g_assert_cmpint(mig_spool_take(dir, &none, &len, NULL), ==, 0);
        g_assert_null(none);

        /* the bound: what does not fit is counted, never written */
        int r = 0;
        unsigned written = 0;
        while ((r = mig_spool_append(dir, l4, far)) == 0)
                written++;
        g_assert_cmpint(r, ==, -ENOSPC);
        g_assert_cmpint(mig_spool_append(dir, l4, far), ==, -ENOSPC);
        g_autofree char *path = g_build_filename(dir, MIG_SPOOL_FILE, NULL);
        struct stat st;
        g_assert_cmpint(stat(path, &st), ==, 0);
        g_assert_cmpuint((guint64) st.st_size, <=, MIG_SPOOL_MAX_BYTES);
        g_assert_cmpuint((guint64) st.st_size, ==, (guint64) written * strlen(l4));
        g_assert_cmpuint(mig_spool_take_lost(dir), ==, 2);
        g_assert_cmpuint(mig_spool_take_lost(dir), ==, 0);
        g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", parent);
        g_assert_cmpint(system(cmd), ==, 0);
}

static MigRewriteRules *rules(const char *text, GError **error) {
        g_autoptr(GKeyFile) kf = g_key_file_new();
        g_assert_true(g_key_file_load_from_data(kf, text, -1, G_KEY_FILE_NONE, NULL));
        const char *key = NULL;
        return mig_rewrite_rules_from_keyfile(kf, &key, error);
}

#define NIC_XML(br)                                                                                         \
        "<domain><name>vm1</name><os><kernel>/srv/a/vmlinuz</kernel></os><devices>"                         \
        "<disk type='file'><source file='/srv/a/vm1.qcow2'/></disk>"                                        \
        "<disk type='file'><source file='/other/vm1.raw'/></disk>"                                          \
        "<interface type='bridge'><source bridge='" br "'/></interface></devices></domain>"

/* A reason longer than the event's limit is cut at a character and kept: the event stays valid. */
static void test_long_message(void) {
        g_autoptr(MigHookEvent) e = mig_hook_event_make("vm1", "", "migrate", "begin", "");
        g_autoptr(GString) why = g_string_new("Refused: bridge ");
        for (int i = 0; i < 600; i++)
                g_string_append(why, "é"); /* two bytes each: a cut could fall inside one */
        mig_hook_event_set_message(e, why->str);
        g_assert_cmpuint(strlen(e->message), <=, MIG_HOOK_MESSAGE_MAX);
        g_assert_true(g_str_has_prefix(e->message, "Refused: bridge é"));
        g_assert_true(g_str_has_suffix(e->message, "…"));
        g_assert_true(g_utf8_validate(e->message, -1, NULL));
        g_assert_true(mig_hook_event_valid(e));
        mig_hook_event_set_message(e, "short");
        g_assert_cmpstr(e->message, ==, "short");
}

static void test_rewrite(void) {
        g_autoptr(GError) e = NULL;
        g_assert_null(rules("[Rewrite]\nBridges=br0\n", &e));
        g_clear_error(&e);
        g_assert_null(rules("[Rewrite]\nBridges=br0:this-name-is-far-too-long\n", &e));
        g_clear_error(&e);
        g_assert_null(rules("[Rewrite]\nDiskPathPrefixes=relative:/srv/b\n", &e));
        g_clear_error(&e);
        g_assert_null(rules("[Rewrite]\nColour=blue\n", &e));
        g_clear_error(&e);

        g_autoptr(MigRewriteRules) r =
                rules("[Rewrite]\nBridges=br-a:br-b; x:y\nDiskPathPrefixes=/srv/a:/srv/b/\n", &e);
        g_assert_nonnull(r);
        g_autofree char *p = mig_rewrite_path(r, "/srv/a/vm1.qcow2");
        g_assert_cmpstr(p, ==, "/srv/b/vm1.qcow2");
        g_assert_null(mig_rewrite_path(r, "/srv/ab/vm1.qcow2"));

        g_autofree char *dir = g_dir_make_tmp("migrated-net-XXXXXX", NULL);
        g_autofree char *brb = g_build_filename(dir, "br-b", NULL);
        g_assert_cmpint(g_mkdir(brb, 0755), ==, 0);
        g_autofree char *out = NULL;
        g_assert_cmpint(mig_rewrite_domain_xml(r, NIC_XML("br-a"), strlen(NIC_XML("br-a")),
                                               MIG_REWRITE_CHECK_BRIDGES, dir, &out, &e),
                        ==, 0);
        g_assert_nonnull(strstr(out, "bridge=\"br-b\""));
        g_assert_nonnull(strstr(out, "file=\"/srv/b/vm1.qcow2\""));
        g_assert_nonnull(strstr(out, "file=\"/other/vm1.raw\""));
        g_assert_nonnull(strstr(out, "<kernel>/srv/b/vmlinuz</kernel>"));

        /* a bridge this node lacks, unmapped: refused with the reason */
        g_autofree char *out2 = NULL;
        g_assert_cmpint(mig_rewrite_domain_xml(r, NIC_XML("br-c"), strlen(NIC_XML("br-c")),
                                               MIG_REWRITE_CHECK_BRIDGES, dir, &out2, &e),
                        ==, -ENODEV);
        g_assert_nonnull(strstr(e->message, "br-c"));
        g_clear_error(&e);
        /* nothing to change: no output, libvirt keeps its XML */
        g_autoptr(MigRewriteRules) none = rules("[Node]\nName=x\n", &e);
        g_autofree char *out3 = NULL;
        g_assert_cmpint(mig_rewrite_domain_xml(none, NIC_XML("br-b"), strlen(NIC_XML("br-b")),
                                               MIG_REWRITE_CHECK_BRIDGES, dir, &out3, &e),
                        ==, 0);
        g_assert_null(out3);
        g_assert_cmpint(g_rmdir(brb), ==, 0);
        g_assert_cmpint(g_rmdir(dir), ==, 0);
}

/* A resize's definition: memory (maximum and current) and vCPUs set, what contradicts refused. */
static void test_resize_xml(void) {
        const char *xml = "<domain type='kvm'><name>r1</name><memory unit='KiB'>131072</memory>"
                          "<currentMemory unit='KiB'>131072</currentMemory><vcpu placement='static' "
                          "current='1'>4</vcpu><devices/></domain>";
        g_autofree char *out = NULL;
        g_autoptr(GError) e = NULL;
        g_assert_cmpint(mig_resize_domain_xml(xml, 262144, 2, &out, &e), ==, 0);
        g_assert_nonnull(strstr(out, "<memory unit=\"KiB\">262144</memory>"));
        g_assert_nonnull(strstr(out, "<currentMemory unit=\"KiB\">262144</currentMemory>"));
        g_assert_nonnull(strstr(out, "<vcpu placement=\"static\">2</vcpu>"));
        g_autofree char *same_cpus = NULL;
        g_assert_cmpint(mig_resize_domain_xml(xml, 65536, 0, &same_cpus, &e), ==, 0);
        g_assert_nonnull(strstr(same_cpus, "current=\"1\">4</vcpu>"));
        g_autofree char *numa = NULL;
        g_assert_cmpint(mig_resize_domain_xml("<domain><memory>1</memory><cpu><numa><cell id='0' "
                                              "memory='1'/></numa></cpu></domain>",
                                              2048, 0, &numa, &e),
                        ==, -EINVAL);
        g_assert_null(numa);
        g_clear_error(&e);
        g_assert_cmpint(mig_resize_domain_xml("not xml", 2048, 0, &numa, &e), ==, -EINVAL);
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/hook/event-from-args", test_event_from_args);
        g_test_add_func("/hook/line-round-trip", test_line_round_trip);
        g_test_add_func("/hook/spool-parse", test_spool_parse);
        g_test_add_func("/hook/spool-file", test_spool_file);
        g_test_add_func("/hook/rewrite", test_rewrite);
        g_test_add_func("/hook/resize-xml", test_resize_xml);
        g_test_add_func("/hook/long-message", test_long_message);
        return g_test_run();
}
