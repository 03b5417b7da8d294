/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* common/bus-variant.c: message bodies into GVariants and back, and the a{sv} reader. */

#include <glib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bus-variant.h"

/* A bus that is never connected: messages are built, sealed and read back locally. */
static sd_bus *offline_bus(void) {
        sd_bus *bus = NULL;
        int fds[2];
        g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), ==, 0);
        g_assert_cmpint(sd_bus_new(&bus), >=, 0);
        g_assert_cmpint(sd_bus_set_fd(bus, fds[0], fds[0]), >=, 0);
        g_assert_cmpint(sd_bus_start(bus), >=, 0);
        close(fds[1]);
        return bus;
}

static sd_bus_message *new_call(sd_bus *bus) {
        sd_bus_message *m = NULL;
        g_assert_cmpint(sd_bus_message_new_method_call(bus, &m, "org.example.T", "/t", "org.example.T", "M"),
                        >=, 0);
        return m;
}

static void seal(sd_bus_message *m) {
        g_assert_cmpint(sd_bus_message_seal(m, 1, 0), >=, 0);
        g_assert_cmpint(sd_bus_message_rewind(m, true), >=, 0);
}

/* A message written by sd-bus reads as the GVariant GLib prints the same way. */
static void test_read(void) {
        sd_bus *bus = offline_bus();
        sd_bus_message *m = new_call(bus);
        g_assert_cmpint(sd_bus_message_append(m, "stbas", "vm1", (uint64_t) 42, 1, 2, "a", "b"), >=, 0);
        g_assert_cmpint(sd_bus_message_append(m, "a{sv}", 2, "power-state", "s", "ACTIVE", "vcpus", "u", 4),
                        >=, 0);
        g_assert_cmpint(sd_bus_message_append(m, "a(sstt)", 0), >=, 0);
        seal(m);
        GVariant *v = NULL;
        g_assert_cmpint(mig_bus_read_tuple(m, &v), ==, 0);
        g_autofree char *text = g_variant_print(v, true);
        g_assert_cmpstr(
                text, ==,
                "('vm1', uint64 42, true, ['a', 'b'], {'power-state': <'ACTIVE'>, 'vcpus': <uint32 4>}, "
                "@a(sstt) [])");
        GVariant *dict = g_variant_get_child_value(v, 4);
        g_assert_cmpstr(mig_dict_string(dict, "power-state"), ==, "ACTIVE");
        g_assert_null(mig_dict_string(dict, "vcpus"));
        g_assert_null(mig_dict_string(dict, "absent"));
        uint64_t n = 0;
        g_assert_true(mig_dict_uint64(dict, "vcpus", &n));
        g_assert_cmpuint(n, ==, 4);
        g_assert_false(mig_dict_uint64(dict, "power-state", &n));
        g_variant_unref(dict);
        g_variant_unref(v);
        sd_bus_message_unref(m);
        sd_bus_unref(bus);
}

/* A GVariant appended and read back is the same value, nested containers and all. */
static void test_round_trip(void) {
        sd_bus *bus = offline_bus();
        sd_bus_message *m = new_call(bus);
        GVariant *in = g_variant_ref_sink(g_variant_new_parsed(
                "('id', @a(sstt) [('/i/a.qcow2', 'qcow2', 67108864, 1024)], "
                "[{'name': <'vm1'>, 'disks': <['/a', '/b']>, 'ok': <true>}], <<int32 -3>>, objectpath '/x', "
                "byte 7, 2.5)"));
        g_assert_cmpint(mig_bus_append_tuple(m, in), >=, 0);
        seal(m);
        GVariant *out = NULL;
        g_assert_cmpint(mig_bus_read_tuple(m, &out), ==, 0);
        g_assert_true(g_variant_equal(in, out));
        /* a reply tuple holding one a{sv} reads like the dict itself */
        GVariant *reply = g_variant_ref_sink(g_variant_new_parsed("({'memory-free': <uint64 5>},)"));
        uint64_t free_mem = 0;
        g_assert_true(mig_dict_uint64(reply, "memory-free", &free_mem));
        g_assert_cmpuint(free_mem, ==, 5);
        g_variant_unref(reply);
        g_variant_unref(in);
        g_variant_unref(out);
        sd_bus_message_unref(m);
        sd_bus_unref(bus);
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/bus-variant/read", test_read);
        g_test_add_func("/bus-variant/round-trip", test_round_trip);
        return g_test_run();
}
