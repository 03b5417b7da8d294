/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The XML parsers of virt.c, and libvirt access against libvirt's test driver. */
#include <glib.h>

#include "virt.h"

static void test_group_metadata(void) {
        g_autofree char *name = NULL, *policy = NULL;
        g_assert_true(mig_parse_group_metadata("<mig:group xmlns:mig=\"http://example.org/migrate/1\" "
                                               "name=\"web\" policy=\"anti-affinity\"/>",
                                               &name, &policy));
        g_assert_cmpstr(name, ==, "web");
        g_assert_cmpstr(policy, ==, "anti-affinity");
        g_autofree char *n2 = NULL, *p2 = NULL;
        g_assert_false(mig_parse_group_metadata("<group name=\"web\" policy=\"sometimes\"/>", &n2, &p2));
        g_assert_false(mig_parse_group_metadata("<group name=\"a;b\" policy=\"affinity\"/>", &n2, &p2));
        g_assert_false(mig_parse_group_metadata("not xml <", &n2, &p2));
}

static void test_disks(void) {
        const char *xml =
                "<domain type='kvm'><name>vm1</name><devices>"
                "<disk type='file' device='disk'><driver name='qemu' type='qcow2'/>"
                "<source file='/var/lib/libvirt/images/vm1.qcow2'/><target dev='vda'/></disk>"
                "<disk type='file' device='cdrom'><source file='/iso/x.iso'/></disk>"
                "<disk type='file' device='disk'><source file='/var/lib/libvirt/images/vm1-b.raw'/></disk>"
                "</devices></domain>";
        g_autoptr(GPtrArray) disks = mig_parse_disks(xml);
        g_assert_cmpuint(disks->len, ==, 2);
        MigDisk *a = disks->pdata[0], *b = disks->pdata[1];
        g_assert_cmpstr(a->path, ==, "/var/lib/libvirt/images/vm1.qcow2");
        g_assert_cmpstr(a->format, ==, "qcow2");
        g_assert_cmpstr(b->path, ==, "/var/lib/libvirt/images/vm1-b.raw");
        g_assert_cmpstr(b->format, ==, "raw");
}

/* libvirt's test:///default driver has one running domain, "test". */
static void test_cpu_element(void) {
        const char *custom = "<domain><vcpu>1</vcpu><cputune><shares>1</shares></cputune>"
                             "<cpu mode='custom' match='exact'><model fallback='forbid'>EPYC</model></cpu>"
                             "<devices/></domain>";
        g_autofree char *cpu = mig_parse_cpu_model_element(custom);
        g_assert_cmpstr(cpu, ==,
                        "<cpu mode='custom' match='exact'><model fallback='forbid'>EPYC</model></cpu>");
        g_assert_null(mig_parse_cpu_model_element("<domain><vcpu>1</vcpu><devices/></domain>"));
        g_assert_null(
                mig_parse_cpu_model_element("<domain><cpu mode='host-passthrough'/><devices/></domain>"));
        g_assert_null(mig_parse_cpu_model_element(
                "<domain><cpu mode='host-model'><topology sockets='1'/></cpu></domain>"));
        g_assert_null(mig_parse_cpu_model_element(
                "<domain><cpu mode='host-model' check='partial'><model fallback='allow'/></cpu></domain>"));
        g_assert_null(mig_parse_cpu_model_element("<domain><cpu mode='custom' match='exact' check='none'>"
                                                  "<model fallback='forbid'>qemu64</model></cpu></domain>"));
        g_autofree char *plain =
                mig_parse_cpu_model_element("<domain><cpu><model>Haswell</model></cpu></domain>");
        g_assert_cmpstr(plain, ==, "<cpu><model>Haswell</model></cpu>");
        g_assert_null(mig_parse_cpu_model_element("<domain><cputune><shares>1</shares></cputune></domain>"));
}

static void test_test_driver(void) {
        MigVirt *v = mig_virt_new("test:///default");
        MigVirtError err = {0};
        g_autoptr(GPtrArray) list = NULL;
        g_assert_cmpint(mig_virt_list_domains(v, &list, &err), ==, 0);
        g_assert_cmpuint(list->len, >=, 1);
        g_autoptr(MigDomainInfo) d = NULL;
        g_assert_cmpint(mig_virt_lookup(v, "test", &d, &err), ==, 0);
        g_assert_cmpstr(mig_domain_state_name(d), ==, "ACTIVE");
        g_assert_cmpint(mig_virt_set_group(v, "test", "web", "anti-affinity", &err), ==, 0);
        g_autoptr(MigDomainInfo) d2 = NULL;
        g_assert_cmpint(mig_virt_lookup(v, d->uuid, &d2, &err), ==, 0);
        g_assert_cmpstr(d2->group, ==, "web");
        g_assert_cmpstr(d2->group_policy, ==, "anti-affinity");
        MigDomainInfo *missing = NULL;
        g_assert_cmpint(mig_virt_lookup(v, "nosuch", &missing, &err), <, 0);
        g_assert_cmpstr(err.name, ==, "org.example.Migrate1.Error.NotFound");
        mig_virt_error_clear(&err);
        MigCapacity cap;
        g_assert_cmpint(mig_virt_capacity(v, "/", &cap, &err), ==, 0);
        g_assert_cmpuint(cap.memory_total, >, 0);
        g_assert_cmpuint(cap.domains_running, >=, 1);
        mig_virt_free(v);
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/virt/group-metadata", test_group_metadata);
        g_test_add_func("/virt/disks", test_disks);
        g_test_add_func("/virt/cpu-element", test_cpu_element);
        g_test_add_func("/virt/test-driver", test_test_driver);
        return g_test_run();
}
