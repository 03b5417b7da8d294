/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <glib.h>

#include "errors.h"
#include "validate.h"

static void test_domain_names(void) {
        g_assert_true(mig_domain_name_valid("vm1"));
        g_assert_true(mig_domain_name_valid("web-01.example_a"));
        g_assert_true(mig_domain_name_valid("größe"));
        g_assert_false(mig_domain_name_valid(""));
        g_assert_false(mig_domain_name_valid(NULL));
        g_assert_false(mig_domain_name_valid("a;b"));
        g_assert_false(mig_domain_name_valid("$(reboot)"));
        g_assert_false(mig_domain_name_valid("a b"));
        g_assert_false(mig_domain_name_valid("../etc"));
        g_assert_false(mig_domain_name_valid("-rf"));
        g_assert_false(mig_domain_name_valid("a\nb"));
        g_assert_false(mig_domain_name_valid("\xff\xfe"));
        g_autofree char *long_name = g_strnfill(201, 'a');
        g_assert_false(mig_domain_name_valid(long_name));
        long_name[200] = '\0';
        g_assert_true(mig_domain_name_valid(long_name));
}

static void test_nodes_groups(void) {
        g_assert_true(mig_node_name_valid("hosta"));
        g_assert_true(mig_node_name_valid("10.88.0.12"));
        g_assert_false(mig_node_name_valid("-oProxyCommand=x"));
        g_assert_false(mig_node_name_valid("a/b"));
        g_assert_true(mig_group_policy_valid("soft-anti-affinity"));
        g_assert_false(mig_group_policy_valid("anti"));
        g_assert_true(mig_ssh_address_valid("root@10.88.0.12"));
        g_assert_true(mig_ssh_address_valid("hostb"));
        g_assert_false(mig_ssh_address_valid("-oProxyCommand=touch /tmp/x"));
        g_assert_false(mig_ssh_address_valid("root@-evil"));
        g_assert_false(mig_ssh_address_valid("root@a b"));
        g_assert_true(mig_uuid_valid("c7a5fdbd-cdaf-9455-926a-d65c16db1809"));
        g_assert_false(mig_uuid_valid("c7a5fdbd-cdaf-9455-926a-d65c16db180"));
        g_assert_true(mig_migration_id_valid("0123456789abcdef0123456789abcdef"));
        g_assert_false(mig_migration_id_valid("0123456789ABCDEF0123456789abcdef"));
        g_assert_true(mig_reason_valid("kernel upgrade"));
        g_assert_false(mig_reason_valid(""));
}

static void test_exit_codes(void) {
        g_assert_cmpint(mig_error_exit_code(MIG_ERROR_ACCESS_DENIED), ==, MIG_EXIT_ACCESS_DENIED);
        g_assert_cmpint(mig_error_exit_code(MIG_ERROR_NOT_FOUND), ==, MIG_EXIT_NOT_FOUND);
        g_assert_cmpint(mig_error_exit_code(MIG_ERROR_CONFLICT), ==, MIG_EXIT_CONFLICT);
        g_assert_cmpint(mig_error_exit_code(MIG_ERROR_NO_VALID_HOST), ==, MIG_EXIT_NO_VALID_HOST);
        g_assert_cmpint(mig_error_exit_code("org.example.Unknown"), ==, MIG_EXIT_FAILURE);
        /* Every name is distinct. */
        for (const MigErrorInfo *a = mig_errors; a->name; a++)
                for (const MigErrorInfo *b = a + 1; b->name; b++)
                        g_assert_cmpstr(a->name, !=, b->name);
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/validate/domain-names", test_domain_names);
        g_test_add_func("/validate/nodes-groups", test_nodes_groups);
        g_test_add_func("/validate/exit-codes", test_exit_codes);
        return g_test_run();
}
