/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

static char *write_conf(const char *text) {
        g_autoptr(GError) e = NULL;
        char *path = NULL;
        int fd = g_file_open_tmp("migrated-XXXXXX.conf", &path, &e);
        g_assert_no_error(e);
        g_assert_true(g_file_set_contents(path, text, -1, NULL));
        close(fd);
        return path;
}

/* Loads text; returns the config or NULL with *message set. */
static MigConfig *load(const char *text, char **message) {
        g_autofree char *path = write_conf(text);
        g_autoptr(GError) e = NULL;
        MigConfig *c = mig_config_load(path, &e);
        if (message)
                *message = e ? g_strdup(e->message) : NULL;
        g_unlink(path);
        return c;
}

static void test_full(void) {
        g_autoptr(MigConfig) c =
                load("[Node]\nName=hosta\nResizeConfirmWindow=30\nMaxConcurrentMigrations=1\n"
                     "[Peer hostb]\nAddress=root@10.88.0.12\nMigrationAddress=10.88.0.12\n",
                     NULL);
        g_assert_nonnull(c);
        g_assert_cmpstr(c->node_name, ==, "hosta");
        g_assert_cmpuint(c->resize_confirm_window, ==, 30);
        g_assert_cmpuint(c->max_concurrent_migrations, ==, 1);
        g_assert_cmpuint(c->peers->len, ==, 1);
        const MigPeerConfig *p = mig_config_find_peer(c, "hostb");
        g_assert_nonnull(p);
        g_assert_cmpstr(p->address, ==, "root@10.88.0.12");
        g_assert_true(mig_config_knows_node(c, "hosta"));
        g_assert_false(mig_config_knows_node(c, "hostc"));
}

static void test_live_group(void) {
        g_autoptr(MigConfig) c =
                load("[Live]\nBandwidth=64\nPostCopy=true\nCompletionAction=force-complete\n", NULL);
        g_assert_nonnull(c);
        g_assert_cmpuint(c->live.bandwidth, ==, 64);
        g_assert_true(c->live.postcopy);
        g_assert_true(c->live.auto_converge); /* default kept */
        g_assert_cmpuint(c->live.max_downtime_ceiling, ==, 2000);
        g_assert_cmpstr(c->live.completion_action, ==, "force-complete");
        g_autofree char *msg = NULL;
        g_autoptr(MigConfig) bad = load("[Live]\nPostCopy=maybe\n", &msg);
        g_assert_null(bad);
        g_assert_nonnull(strstr(msg, "[Live] PostCopy"));
        g_autofree char *msg2 = NULL;
        g_autoptr(MigConfig) bad2 = load("[Live]\nCompletionAction=explode\n", &msg2);
        g_assert_null(bad2);
        g_assert_nonnull(strstr(msg2, "abort or force-complete"));
        g_assert_cmpint(c->live.compressed, ==, MIG_COMPRESS_AUTO); /* default: when the figures say so */
        g_autoptr(MigConfig) never = load("[Live]\nCompressed=false\n", NULL);
        g_assert_cmpint(never->live.compressed, ==, MIG_COMPRESS_NEVER);
        g_autoptr(MigConfig) always = load("[Live]\nCompressed=true\n", NULL);
        g_assert_cmpint(always->live.compressed, ==, MIG_COMPRESS_ALWAYS);
        g_autoptr(MigConfig) autos = load("[Live]\nCompressed=auto\n", NULL);
        g_assert_cmpint(autos->live.compressed, ==, MIG_COMPRESS_AUTO);
        g_autofree char *msg3 = NULL;
        g_autoptr(MigConfig) bad3 = load("[Live]\nCompressed=sometimes\n", &msg3);
        g_assert_null(bad3);
        g_assert_nonnull(strstr(msg3, "is not auto, true or false"));
}

static void test_missing_file(void) {
        g_autoptr(GError) e = NULL;
        g_autoptr(MigConfig) c = mig_config_load("/nonexistent/migrated.conf", &e);
        g_assert_no_error(e);
        g_assert_nonnull(c);
        g_assert_cmpuint(c->max_concurrent_migrations, ==, 2);
        g_assert_cmpstr(c->libvirt_uri, ==, "qemu:///system");
}

/* Each bad file is refused and the message names the group and key. */
static void test_refusals(void) {
        struct {
                const char *text, *expect;
        } cases[] = {
                {"[Node]\nMaxConcurrentMigrations=0\n", ".conf:2: [Node] MaxConcurrentMigrations"},
                {"[Node]\nMaxConcurrentMigrations=two\n", "'two' is not a whole number"},
                {"[Node]\nColour=blue\n", "[Node] Colour: unknown key"},
                {"[Nodes]\nName=a\n", "[Nodes] unknown group"},
                {"[Peer hostb]\nMigrationAddress=10.0.0.1\n", "[Peer hostb] Address: missing"},
                {"[Peer hostb]\nAddress=-oProxyCommand=x\n", "[Peer hostb] Address"},
                {"[Peer b;c]\nAddress=root@x\n", "not a valid node name"},
                {"[Node]\nName=a\n[Peer a]\nAddress=root@x\n", "already used"},
                {"[Node]\nName=a\nnot a key value line\n", ".conf:3:"},
                {"[Node]\nImageDirectory=relative/dir\n", "absolute path"},
        };
        for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
                g_autofree char *msg = NULL;
                g_autoptr(MigConfig) c = load(cases[i].text, &msg);
                g_assert_null(c);
                g_assert_nonnull(msg);
                if (!strstr(msg, cases[i].expect))
                        g_error("case %zu: '%s' does not contain '%s'", i, msg, cases[i].expect);
                g_assert_nonnull(strstr(msg, ".conf"));
        }
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/config/full", test_full);
        g_test_add_func("/config/missing-file", test_missing_file);
        g_test_add_func("/config/live-group", test_live_group);
        g_test_add_func("/config/refusals", test_refusals);
        return g_test_run();
}
