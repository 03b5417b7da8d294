/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* migratectl's output: the table printer and the one bus message → JSON conversion. */

#include <errno.h>
#include <glib.h>
#include <json-glib/json-glib.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "macro.h"
#include "output.h"

/* sd-bus refuses to build messages on a bus that was never started; a socketpair whose other
 * end nobody reads is enough to start one. */
static sd_bus *test_bus(void) {
        static sd_bus *bus = NULL;
        int fds[2];

        if (bus)
                return bus;
        g_assert_cmpint(sd_bus_new(&bus), >=, 0);
        g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), ==, 0);
        g_assert_cmpint(sd_bus_set_fd(bus, fds[0], fds[0]), >=, 0);
        g_assert_cmpint(sd_bus_start(bus), >=, 0);
        return bus;
}

static sd_bus_message *new_message(void) {
        sd_bus_message *m = NULL;

        g_assert_cmpint(sd_bus_message_new_method_call(test_bus(), &m, "org.example.Test",
                                                       "/org/example/Test", "org.example.Test", "Test"),
                        >=, 0);
        return m;
}

static void seal(sd_bus_message *m) {
        g_assert_cmpint(sd_bus_message_seal(m, 1, 0), >=, 0);
        g_assert_cmpint(sd_bus_message_rewind(m, true), >=, 0);
}

static char *to_json(JsonNode *node) {
        return json_to_string(node, FALSE);
}

/* ---- tables ---- */

static void test_table_alignment(void) {
        g_autoptr(MigTable) t = mig_table_new("NAME", "NODE", "MEMORY", NULL);

        mig_table_set_right_aligned(t, 2, true);
        mig_table_add_cell(t, "web1");
        mig_table_add_cell(t, "hosta");
        mig_table_add_cell(t, "2.0G");
        mig_table_add_cell(t, "database-primary");
        mig_table_add_cell(t, NULL);
        mig_table_add_cellf(t, "%dM", 512);
        g_assert_cmpuint(mig_table_rows(t), ==, 2);

        g_autofree char *text = mig_table_format(t, true);
        g_assert_cmpstr(text, ==,
                        "NAME              NODE   MEMORY\n"
                        "web1              hosta    2.0G\n"
                        "database-primary  -        512M\n");

        g_autofree char *bare = mig_table_format(t, false);
        g_assert_cmpstr(bare, ==,
                        "web1              hosta  2.0G\n"
                        "database-primary  -      512M\n");
}

static void test_table_no_trailing_blanks(void) {
        g_autoptr(MigTable) t = mig_table_new("A", "LONGHEADER", NULL);

        mig_table_add_cell(t, "xyz");
        mig_table_add_cell(t, "");
        g_autofree char *text = mig_table_format(t, true);
        g_assert_cmpstr(text, ==, "A    LONGHEADER\nxyz  -\n");
}

static void test_table_sanitizes_and_measures_utf8(void) {
        g_autoptr(MigTable) t = mig_table_new("NAME", "STATE", NULL);

        mig_table_add_cell(t, "vm-\033[31mred");
        mig_table_add_cell(t, "ok");
        mig_table_add_cell(t, "größe");
        mig_table_add_cell(t, "ok");
        g_autofree char *text = mig_table_format(t, true);
        g_assert_cmpstr(text, ==,
                        "NAME         STATE\n"
                        "vm-?[31mred  ok\n"
                        "größe        ok\n");
        g_assert_cmpuint(mig_display_width("größe"), ==, 5);
        g_assert_cmpuint(mig_display_width("日本"), ==, 4);
}

static void test_legend(void) {
        g_autofree char *none = mig_legend(0, "migration", "migrations");
        g_autofree char *one = mig_legend(1, "host", "hosts");
        g_autofree char *three = mig_legend(3, "migration", "migrations");

        g_assert_cmpstr(none, ==, "No migrations.");
        g_assert_cmpstr(one, ==, "1 host listed.");
        g_assert_cmpstr(three, ==, "3 migrations listed.");
}

static void print_two_hosts(bool legend) {
        g_autoptr(MigTable) t = mig_table_new("NODE", "STATE", NULL);

        mig_table_add_cell(t, "hosta");
        mig_table_add_cell(t, "enabled");
        mig_table_add_cell(t, "hostb");
        mig_table_add_cell(t, "disabled");
        mig_table_print(t, legend, "host", "hosts");
}

static void test_table_print_legend(void) {
        if (g_test_subprocess()) {
                print_two_hosts(true);
                return;
        }
        g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
        g_test_trap_assert_passed();
        g_test_trap_assert_stdout("NODE   STATE\nhosta  enabled\nhostb  disabled\n\n2 hosts listed.\n");
}

static void test_table_print_no_legend(void) {
        if (g_test_subprocess()) {
                print_two_hosts(false);
                return;
        }
        g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
        g_test_trap_assert_passed();
        g_test_trap_assert_stdout("hosta  enabled\nhostb  disabled\n");
        g_test_trap_assert_stdout_unmatched("*NODE*");
        g_test_trap_assert_stdout_unmatched("*listed*");
}

static void test_table_print_empty(void) {
        if (g_test_subprocess()) {
                g_autoptr(MigTable) t = mig_table_new("ID", "STATUS", NULL);
                mig_table_print(t, true, "migration", "migrations");
                return;
        }
        g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
        g_test_trap_assert_passed();
        g_test_trap_assert_stdout("No migrations.\n");
}

/* ---- JSON ---- */

static void test_json_asv_all_types(void) {
        g_autoptr(sd_bus_message) m = new_message();
        g_autoptr(JsonNode) node = NULL;

        g_assert_cmpint(
                sd_bus_message_append(m, "a{sv}", 11, "node", "s", "hosta", "object", "o",
                                      "/org/example/Migrate1/migration/_31", "local", "b", 1, "vcpus", "u",
                                      UINT32_C(16), "memory-total", "t", UINT64_C(17179869184), "progress",
                                      "d", 42.5, "offset", "x", INT64_C(-5), "small", "y", 7, "disks", "as",
                                      2, "/a.qcow2", "/b.qcow2", "migrations", "ao", 1,
                                      "/org/example/Migrate1/migration/_30", "huge", "t", UINT64_MAX),
                >=, 0);
        seal(m);

        g_assert_cmpint(mig_json_from_message(m, NULL, &node), ==, 0);
        g_assert_true(JSON_NODE_HOLDS_OBJECT(node));
        JsonObject *o = json_node_get_object(node);

        g_assert_cmpstr(mig_json_string(o, "node"), ==, "hosta");
        g_assert_cmpstr(mig_json_string(o, "object"), ==, "/org/example/Migrate1/migration/_31");
        bool local = false;
        g_assert_true(mig_json_bool(o, "local", &local));
        g_assert_true(local);
        int64_t i = 0;
        g_assert_true(mig_json_int(o, "vcpus", &i));
        g_assert_cmpint(i, ==, 16);
        g_assert_true(mig_json_int(o, "offset", &i));
        g_assert_cmpint(i, ==, -5);
        g_assert_true(mig_json_int(o, "small", &i));
        g_assert_cmpint(i, ==, 7);
        uint64_t u = 0;
        g_assert_true(mig_json_uint(o, "memory-total", &u));
        g_assert_cmpuint(u, ==, UINT64_C(17179869184));
        g_assert_false(mig_json_uint(o, "offset", &u)); /* negative */
        double d = 0;
        g_assert_true(mig_json_double(o, "progress", &d));
        g_assert_cmpfloat(d, ==, 42.5);
        g_autofree char *disks = mig_json_strv_join(o, "disks", ",");
        g_assert_cmpstr(disks, ==, "/a.qcow2,/b.qcow2");
        JsonNode *paths = json_object_get_member(o, "migrations");
        g_assert_true(JSON_NODE_HOLDS_ARRAY(paths));
        g_assert_cmpstr(mig_json_array_string(json_node_get_array(paths), 0), ==,
                        "/org/example/Migrate1/migration/_30");
        /* beyond INT64_MAX a t becomes a double rather than wrapping */
        g_assert_true(mig_json_double(o, "huge", &d));
        g_assert_cmpfloat(d, >, 1e19);

        /* missing keys and wrong types are tolerated */
        g_assert_null(mig_json_string(o, "no-such-key"));
        g_assert_null(mig_json_string(o, "vcpus"));
        g_assert_false(mig_json_int(o, "node", &i));
        g_assert_false(mig_json_bool(o, "vcpus", &local));
        g_assert_null(mig_json_strv_join(o, "node", ","));

        /* the message was read to its end */
        g_assert_cmpint(sd_bus_message_at_end(m, true), >, 0);
}

static void test_json_list_of_dicts(void) {
        g_autoptr(sd_bus_message) m = new_message();
        g_autoptr(JsonNode) node = NULL;

        g_assert_cmpint(sd_bus_message_open_container(m, 'a', "a{sv}"), >=, 0);
        g_assert_cmpint(sd_bus_message_append(m, "a{sv}", 3, "id", "s", "0123456789abcdef0123456789abcdef",
                                              "status", "s", "running", "progress", "d", 10.0),
                        >=, 0);
        g_assert_cmpint(sd_bus_message_append(m, "a{sv}", 2, "id", "s", "fedcba9876543210fedcba9876543210",
                                              "future-key", "a{sv}", 1, "nested", "u", UINT32_C(1)),
                        >=, 0);
        g_assert_cmpint(sd_bus_message_close_container(m), >=, 0);
        seal(m);

        g_assert_cmpint(mig_json_from_message(m, NULL, &node), ==, 0);
        g_autofree char *text = to_json(node);
        g_assert_cmpstr(
                text, ==,
                "[{\"id\":\"0123456789abcdef0123456789abcdef\",\"status\":\"running\",\"progress\":10.0},"
                "{\"id\":\"fedcba9876543210fedcba9876543210\",\"future-key\":{\"nested\":1}}]");

        JsonObject *second = mig_json_array_object(json_node_get_array(node), 1);
        g_assert_nonnull(second);
        g_assert_null(mig_json_string(second, "status"));
        g_assert_null(mig_json_array_object(json_node_get_array(node), 2));
}

static void test_json_events(void) {
        static const char *const fields[] = {"usec", "status", "message", NULL};
        g_autoptr(sd_bus_message) m = new_message();
        g_autoptr(sd_bus_message) m2 = new_message();
        g_autoptr(JsonNode) node = NULL, plain = NULL;

        g_assert_cmpint(sd_bus_message_append(m, "a(tss)", 2, UINT64_C(1700000000000000), "pre-migrating",
                                              "Started", UINT64_C(1700000001000000), "migrating", "Copying"),
                        >=, 0);
        seal(m);
        g_assert_cmpint(mig_json_from_message(m, fields, &node), ==, 0);
        g_autofree char *text = to_json(node);
        g_assert_cmpstr(text, ==,
                        "[{\"usec\":1700000000000000,\"status\":\"pre-migrating\",\"message\":\"Started\"},"
                        "{\"usec\":1700000001000000,\"status\":\"migrating\",\"message\":\"Copying\"}]");

        /* without names a structure is an array */
        g_assert_cmpint(sd_bus_message_append(m2, "a(tss)", 1, UINT64_C(5), "queued", ""), >=, 0);
        seal(m2);
        g_assert_cmpint(mig_json_from_message(m2, NULL, &plain), ==, 0);
        g_autofree char *plain_text = to_json(plain);
        g_assert_cmpstr(plain_text, ==, "[[5,\"queued\",\"\"]]");
}

static void test_json_reply_sequence(void) {
        /* Several values in one message are read one after the other. */
        g_autoptr(sd_bus_message) m = new_message();
        g_autoptr(JsonNode) first = NULL, second = NULL, third = NULL, none = NULL;

        g_assert_cmpint(sd_bus_message_append(m, "sa{sv}as", "org.example.Migrate1.Migration", 1, "Status",
                                              "s", "completed", 0),
                        >=, 0);
        seal(m);
        g_assert_cmpint(mig_json_from_message(m, NULL, &first), ==, 0);
        g_assert_cmpint(mig_json_from_message(m, NULL, &second), ==, 0);
        g_assert_cmpstr(json_node_get_string(first), ==, "org.example.Migrate1.Migration");
        g_assert_cmpstr(mig_json_string(json_node_get_object(second), "Status"), ==, "completed");
        g_assert_cmpint(mig_json_from_message(m, NULL, &third), ==, 0);
        g_assert_true(JSON_NODE_HOLDS_ARRAY(third));
        g_assert_cmpuint(json_array_get_length(json_node_get_array(third)), ==, 0);
        g_assert_cmpint(mig_json_from_message(m, NULL, &none), ==, -ENXIO); /* nothing left */
        g_assert_null(none);
}

static void test_json_print(void) {
        if (g_test_subprocess()) {
                g_autoptr(sd_bus_message) m = new_message();
                g_autoptr(JsonNode) node = NULL;
                g_assert_cmpint(sd_bus_message_append(m, "a{sv}", 1, "name", "s", "web"), >=, 0);
                seal(m);
                g_assert_cmpint(mig_json_from_message(m, NULL, &node), ==, 0);
                mig_json_print(node, true);
                return;
        }
        g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
        g_test_trap_assert_passed();
        g_test_trap_assert_stdout("{\n  \"name\" : \"web\"\n}\n");
}

/* ---- formatting ---- */

static void test_format_bytes(void) {
        static const struct {
                uint64_t bytes;
                const char *text;
        } cases[] = {
                {0, "0B"},
                {512, "512B"},
                {1024, "1.0K"},
                {1536, "1.5K"},
                {UINT64_C(16) << 30, "16.0G"},
                {(UINT64_C(3) << 40) + (UINT64_C(1) << 39), "3.5T"},
        };

        for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
                g_autofree char *text = mig_format_bytes(cases[i].bytes);
                g_assert_cmpstr(text, ==, cases[i].text);
        }
}

static void test_format_progress_bar(void) {
        g_autofree char *zero = mig_format_progress_bar(0, 10);
        g_autofree char *half = mig_format_progress_bar(42, 10);
        g_autofree char *full = mig_format_progress_bar(100, 10);
        g_autofree char *over = mig_format_progress_bar(250, 4);
        g_autofree char *almost = mig_format_progress_bar(99.9, 10);

        g_assert_cmpstr(zero, ==, "[..........]");
        g_assert_cmpstr(half, ==, "[####......]");
        g_assert_cmpstr(full, ==, "[##########]");
        g_assert_cmpstr(over, ==, "[####]");
        g_assert_cmpstr(almost, ==, "[#########.]"); /* never full before the end */
}

static void test_format_times(void) {
        /* TZ=UTC is set by main() */
        g_autofree char *full = mig_format_timestamp(UINT64_C(1700000000) * USEC_PER_SEC);
        g_autofree char *brief = mig_format_timestamp_short(UINT64_C(1700000000) * USEC_PER_SEC + 999999);
        g_autofree char *ago = mig_format_relative(100 * USEC_PER_SEC, 400 * USEC_PER_SEC);
        g_autofree char *hours = mig_format_relative(0 + 1, 7500 * USEC_PER_SEC);

        g_assert_null(mig_format_timestamp(0));
        g_assert_cmpstr(full, ==, "Tue 2023-11-14 22:13:20 UTC");
        g_assert_cmpstr(brief, ==, "2023-11-14 22:13:20");
        g_assert_cmpstr(ago, ==, "5min ago");
        g_assert_cmpstr(hours, ==, "2h 4min ago");
        g_assert_null(mig_format_relative(500, 400));
}

static void test_sanitize(void) {
        g_autofree char *ctrl = mig_sanitize("a\033[2Jb\tc\nd");
        g_autofree char *bidi = mig_sanitize("x\xe2\x80\xae"
                                             "y");
        g_autofree char *bad = mig_sanitize("ok\xff");

        g_assert_null(mig_sanitize(NULL));
        g_assert_cmpstr(ctrl, ==, "a?[2Jb c d");
        g_assert_cmpstr(bidi, ==, "x?y");
        g_assert_true(g_utf8_validate(bad, -1, NULL));
        g_assert_true(g_str_has_prefix(bad, "ok"));
}

static void test_parse_size(void) {
        static const struct {
                const char *text;
                uint64_t bytes;
        } good[] = {{"512", 512ULL << 20},    {"256M", 256ULL << 20}, {"2G", 2ULL << 30},
                    {"1048576K", 1ULL << 30}, {"1T", 1ULL << 40},     {"3GiB", 3ULL << 30}};
        for (size_t i = 0; i < G_N_ELEMENTS(good); i++) {
                uint64_t v = 0;
                g_assert_cmpint(mig_parse_size(good[i].text, &v), ==, 0);
                g_assert_cmpuint(v, ==, good[i].bytes);
        }
        const char *bad[] = {"", "0", "-1", "1.5G", "12X", "G", "99999999999999999999T", NULL};
        for (size_t i = 0; bad[i]; i++) {
                uint64_t v = 0;
                g_assert_cmpint(mig_parse_size(bad[i], &v), <, 0);
        }
}

int main(int argc, char *argv[]) {
        setenv("TZ", "UTC", 1);
        g_test_init(&argc, &argv, NULL);

        g_test_add_func("/client/table/alignment", test_table_alignment);
        g_test_add_func("/client/parse-size", test_parse_size);
        g_test_add_func("/client/table/no-trailing-blanks", test_table_no_trailing_blanks);
        g_test_add_func("/client/table/utf8", test_table_sanitizes_and_measures_utf8);
        g_test_add_func("/client/table/legend", test_legend);
        g_test_add_func("/client/table/print-legend", test_table_print_legend);
        g_test_add_func("/client/table/print-no-legend", test_table_print_no_legend);
        g_test_add_func("/client/table/print-empty", test_table_print_empty);
        g_test_add_func("/client/json/asv-all-types", test_json_asv_all_types);
        g_test_add_func("/client/json/list-of-dicts", test_json_list_of_dicts);
        g_test_add_func("/client/json/events", test_json_events);
        g_test_add_func("/client/json/reply-sequence", test_json_reply_sequence);
        g_test_add_func("/client/json/print", test_json_print);
        g_test_add_func("/client/format/bytes", test_format_bytes);
        g_test_add_func("/client/format/progress-bar", test_format_progress_bar);
        g_test_add_func("/client/format/times", test_format_times);
        g_test_add_func("/client/format/sanitize", test_sanitize);

        return g_test_run();
}
