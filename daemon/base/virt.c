/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "virt.h"

#include <errno.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <string.h>
#include <sys/statvfs.h>

#include "errors.h"
#include "hook-event.h"
#include "macro.h"
#include "validate.h"

struct MigVirt {
        char *uri;
        GMutex lock;
        virConnectPtr conn;
};

static void silent_error_handler(void *userdata, virErrorPtr error) {
        /* libvirt prints every error to stderr by default; we report them ourselves. */
}

MigVirt *mig_virt_new(const char *uri) {
        MigVirt *v = g_new0(MigVirt, 1);
        v->uri = g_strdup(uri);
        g_mutex_init(&v->lock);
        virSetErrorFunc(NULL, silent_error_handler);
        return v;
}

void mig_virt_free(MigVirt *v) {
        if (!v)
                return;
        if (v->conn)
                virConnectClose(v->conn);
        g_mutex_clear(&v->lock);
        g_free(v->uri);
        g_free(v);
}

void mig_virt_error_clear(MigVirtError *e) {
        g_clear_pointer(&e->message, g_free);
        e->name = NULL;
}

/* The one place where a libvirt error becomes one of our error names. */
static const char *error_name_for(const virError *ve) {
        if (!ve)
                return MIG_ERROR_LIBVIRT;
        switch (ve->code) {
        case VIR_ERR_NO_DOMAIN:
        case VIR_ERR_NO_STORAGE_POOL:
        case VIR_ERR_NO_STORAGE_VOL:
                return MIG_ERROR_NOT_FOUND;
        case VIR_ERR_OPERATION_INVALID:
        case VIR_ERR_OPERATION_DENIED:
                return MIG_ERROR_CONFLICT;
        case VIR_ERR_NO_SUPPORT:
        case VIR_ERR_ARGUMENT_UNSUPPORTED:
                return MIG_ERROR_NOT_SUPPORTED;
        case VIR_ERR_INVALID_ARG:
        case VIR_ERR_XML_ERROR:
                return MIG_ERROR_INVALID_ARGUMENT;
        default:
                if (ve->message && strstr(ve->message, "No space left"))
                        return MIG_ERROR_NO_SPACE;
                return MIG_ERROR_LIBVIRT;
        }
}

static int fail_from_libvirt(MigVirtError *err, const char *what) {
        const virError *ve = virGetLastError();
        mig_virt_error_clear(err);
        /* Our hook refused an incoming migration: its sentence, without libvirt's wrapping
         * (the hook's command line and environment). */
        const char *refusal = ve && ve->message ? strstr(ve->message, MIG_HOOK_REFUSAL) : NULL;
        if (refusal) {
                err->name = MIG_ERROR_NOT_SUPPORTED;
                err->message = g_strstrip(g_strdup_printf("%s: %s", what, refusal));
                return -EIO;
        }
        err->name = error_name_for(ve);
        err->message =
                g_strdup_printf("%s: %s", what, ve && ve->message ? ve->message : "unknown libvirt error");
        return -EIO;
}

static int fail_with(MigVirtError *err, const char *name, char *message) {
        mig_virt_error_clear(err);
        err->name = name;
        err->message = message;
        return -EIO;
}

int mig_virt_error_to_bus(const MigVirtError *e, sd_bus_error *error) {
        return sd_bus_error_set(error, e->name ? e->name : MIG_ERROR_INTERNAL,
                                e->message ? e->message : "Unknown failure in libvirt access");
}

/* Returns a referenced connection, (re)opening it when needed. */
static virConnectPtr get_conn(MigVirt *v, MigVirtError *err) {
        g_mutex_lock(&v->lock);
        if (v->conn && virConnectIsAlive(v->conn) != 1) {
                virConnectClose(v->conn);
                v->conn = NULL;
        }
        if (!v->conn)
                v->conn = virConnectOpen(v->uri);
        virConnectPtr c = v->conn;
        if (c)
                virConnectRef(c);
        g_mutex_unlock(&v->lock);
        if (!c) {
                g_autofree char *what = g_strdup_printf("Cannot connect to libvirt at %s", v->uri);
                fail_from_libvirt(err, what);
        }
        return c;
}

void mig_domain_info_free(MigDomainInfo *d) {
        if (!d)
                return;
        g_free(d->name);
        g_free(d->uuid);
        g_free(d->group);
        g_free(d->group_policy);
        g_free(d->cpu);
        if (d->disks)
                g_ptr_array_unref(d->disks);
        g_free(d);
}

const char *mig_domain_state_name(const MigDomainInfo *d) {
        switch (d->state) {
        case VIR_DOMAIN_RUNNING:
        case VIR_DOMAIN_BLOCKED:
        case VIR_DOMAIN_PMSUSPENDED:
                return "ACTIVE";
        case VIR_DOMAIN_PAUSED:
                return "PAUSED";
        case VIR_DOMAIN_CRASHED:
                return "ERROR";
        default:
                return d->active ? "ACTIVE" : "SHUTOFF";
        }
}

const char *mig_domain_view(const MigDomainInfo *d) {
        if (!d)
                return MIG_VIEW_ABSENT;
        switch (d->state) {
        case VIR_DOMAIN_RUNNING:
                return d->reason == VIR_DOMAIN_RUNNING_POSTCOPY ? MIG_VIEW_POSTCOPY : MIG_VIEW_RUNNING;
        case VIR_DOMAIN_BLOCKED:
                return MIG_VIEW_RUNNING;
        case VIR_DOMAIN_PAUSED:
                switch (d->reason) {
                case VIR_DOMAIN_PAUSED_POSTCOPY:
                case VIR_DOMAIN_PAUSED_POSTCOPY_FAILED:
                        return MIG_VIEW_POSTCOPY;
                case VIR_DOMAIN_PAUSED_MIGRATION:
                        return MIG_VIEW_PAUSED_MIGRATION;
                default:
                        return MIG_VIEW_PAUSED;
                }
        case VIR_DOMAIN_SHUTOFF:
        case VIR_DOMAIN_SHUTDOWN:
                return d->active ? MIG_VIEW_RUNNING : MIG_VIEW_SHUTOFF;
        default:
                return d->active ? MIG_VIEW_PAUSED : MIG_VIEW_SHUTOFF;
        }
}

/* --- XML parsing with GMarkup (no libvirt, no I/O: unit-tested) --- */

typedef struct GroupParse {
        char *name;
        char *policy;
} GroupParse;

static void group_start(GMarkupParseContext *ctx, const char *element, const char **names,
                        const char **values, gpointer user_data, GError **error) {
        GroupParse *p = user_data;
        const char *local = strchr(element, ':') ? strchr(element, ':') + 1 : element;
        if (strcmp(local, "group") != 0 || p->name)
                return;
        for (int i = 0; names[i]; i++) {
                if (strcmp(names[i], "name") == 0)
                        p->name = g_strdup(values[i]);
                else if (strcmp(names[i], "policy") == 0)
                        p->policy = g_strdup(values[i]);
        }
}

bool mig_parse_group_metadata(const char *xml, char **name, char **policy) {
        static const GMarkupParser parser = {.start_element = group_start};
        GroupParse p = {0};
        g_autoptr(GMarkupParseContext) ctx = g_markup_parse_context_new(&parser, 0, &p, NULL);
        bool ok = g_markup_parse_context_parse(ctx, xml, -1, NULL) &&
                  g_markup_parse_context_end_parse(ctx, NULL) && mig_group_name_valid(p.name) &&
                  mig_group_policy_valid(p.policy);
        if (ok) {
                *name = p.name;
                *policy = p.policy;
        } else {
                g_free(p.name);
                g_free(p.policy);
        }
        return ok;
}

typedef struct DiskParse {
        GPtrArray *disks;
        int depth;
        int disk_depth; /* depth of the <disk device='disk'> we are in, or 0 */
        char *format;   /* <driver type=> of that disk */
        char *path;     /* <source file=> of that disk */
        char *target;   /* <target dev=> of that disk */
} DiskParse;

static const char *attr(const char **names, const char **values, const char *key) {
        for (int i = 0; names[i]; i++)
                if (strcmp(names[i], key) == 0)
                        return values[i];
        return NULL;
}

static void disk_start(GMarkupParseContext *ctx, const char *element, const char **names,
                       const char **values, gpointer user_data, GError **error) {
        DiskParse *p = user_data;
        p->depth++;
        if (strcmp(element, "disk") == 0) {
                const char *device = attr(names, values, "device");
                if (!device || strcmp(device, "disk") == 0)
                        p->disk_depth = p->depth;
                return;
        }
        if (!p->disk_depth || p->depth != p->disk_depth + 1)
                return;
        const char *v = NULL;
        if (strcmp(element, "source") == 0 && (v = attr(names, values, "file"))) {
                g_free(p->path);
                p->path = g_strdup(v);
        } else if (strcmp(element, "target") == 0 && (v = attr(names, values, "dev"))) {
                g_free(p->target);
                p->target = g_strdup(v);
        } else if (strcmp(element, "driver") == 0 && (v = attr(names, values, "type"))) {
                g_free(p->format);
                p->format = g_strdup(v);
        }
}

static void disk_end(GMarkupParseContext *ctx, const char *element, gpointer user_data, GError **error) {
        DiskParse *p = user_data;
        if (p->depth == p->disk_depth) {
                if (p->path) {
                        MigDisk *d = g_new0(MigDisk, 1);
                        d->path = g_steal_pointer(&p->path);
                        d->format = p->format ? g_steal_pointer(&p->format) : g_strdup("raw");
                        d->target = g_steal_pointer(&p->target);
                        g_ptr_array_add(p->disks, d);
                }
                g_clear_pointer(&p->format, g_free);
                g_clear_pointer(&p->target, g_free);
                p->disk_depth = 0;
        }
        p->depth--;
}

GPtrArray *mig_parse_disks(const char *domain_xml) {
        static const GMarkupParser parser = {.start_element = disk_start, .end_element = disk_end};
        DiskParse p = {.disks = g_ptr_array_new_with_free_func((GDestroyNotify) mig_disk_free)};
        g_autoptr(GMarkupParseContext) ctx = g_markup_parse_context_new(&parser, 0, &p, NULL);
        if (!g_markup_parse_context_parse(ctx, domain_xml, -1, NULL) ||
            !g_markup_parse_context_end_parse(ctx, NULL))
                g_ptr_array_set_size(p.disks, 0);
        g_free(p.path);
        g_free(p.format);
        g_free(p.target);
        return p.disks;
}

/* --- domains --- */

static void read_group(virDomainPtr dom, MigDomainInfo *d) {
        g_autofree char *xml = virDomainGetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, MIG_GROUP_NS_URI, 0);
        if (!xml || !mig_parse_group_metadata(xml, &d->group, &d->group_policy)) {
                d->group = g_strdup("");
                d->group_policy = g_strdup("");
        }
}

static int domain_info(virDomainPtr dom, MigDomainInfo **ret, MigVirtError *err) {
        g_autoptr(MigDomainInfo) d = g_new0(MigDomainInfo, 1);
        char uuid[VIR_UUID_STRING_BUFLEN];
        virDomainInfo info;
        if (virDomainGetUUIDString(dom, uuid) < 0 || virDomainGetInfo(dom, &info) < 0)
                return fail_from_libvirt(err, "Cannot read the domain's state");
        d->name = g_strdup(virDomainGetName(dom));
        d->uuid = g_strdup(uuid);
        d->state = info.state;
        int state = 0;
        if (virDomainGetState(dom, &state, &d->reason, 0) < 0)
                d->reason = 0;
        d->active = virDomainIsActive(dom) == 1;
        d->persistent = virDomainIsPersistent(dom) == 1;
        d->memory = (uint64_t) info.maxMem * 1024;
        d->vcpus = info.nrVirtCpu;
        read_group(dom, d);
        g_autofree char *xml = virDomainGetXMLDesc(dom, 0);
        d->disks =
                xml ? mig_parse_disks(xml) : g_ptr_array_new_with_free_func((GDestroyNotify) mig_disk_free);
        /* libvirt writes the root element first, and its type first */
        d->emulated = xml && g_str_has_prefix(xml, "<domain type='qemu'");
        *ret = g_steal_pointer(&d);
        return 0;
}

int mig_virt_list_domains(MigVirt *v, GPtrArray **ret, MigVirtError *err) {
        g_autoptr(MigVirConnect) c = get_conn(v, err);
        if (!c)
                return -EIO;
        virDomainPtr *doms = NULL;
        int n = virConnectListAllDomains(c, &doms, 0);
        if (n < 0)
                return fail_from_libvirt(err, "Cannot list domains");
        g_autoptr(GPtrArray) list = g_ptr_array_new_with_free_func((GDestroyNotify) mig_domain_info_free);
        for (int i = 0; i < n; i++) {
                MigDomainInfo *d = NULL;
                /* A domain that vanished meanwhile is simply not listed. */
                if (domain_info(doms[i], &d, err) == 0)
                        g_ptr_array_add(list, d);
                virDomainFree(doms[i]);
        }
        free(doms);
        mig_virt_error_clear(err);
        *ret = g_steal_pointer(&list);
        return 0;
}

static virDomainPtr lookup(virConnectPtr c, const char *name_or_uuid) {
        if (mig_uuid_valid(name_or_uuid)) {
                virDomainPtr d = virDomainLookupByUUIDString(c, name_or_uuid);
                if (d)
                        return d;
        }
        return virDomainLookupByName(c, name_or_uuid);
}

int mig_virt_lookup(MigVirt *v, const char *name_or_uuid, MigDomainInfo **ret, MigVirtError *err) {
        g_autoptr(MigVirConnect) c = get_conn(v, err);
        if (!c)
                return -EIO;
        g_autoptr(MigVirDomain) dom = lookup(c, name_or_uuid);
        if (!dom) {
                const virError *ve = virGetLastError();
                if (ve && ve->code == VIR_ERR_NO_DOMAIN)
                        return fail_with(err, MIG_ERROR_NOT_FOUND,
                                         g_strdup_printf("No domain '%s' on this node", name_or_uuid));
                return fail_from_libvirt(err, "Cannot look the domain up");
        }
        int r = domain_info(dom, ret, err);
        if (r < 0)
                return r;
        g_autofree char *inactive = virDomainGetXMLDesc(dom, VIR_DOMAIN_XML_INACTIVE);
        (*ret)->cpu = inactive ? mig_parse_cpu_model_element(inactive) : NULL;
        if (virConnectGetVersion(c, &(*ret)->hv_version) < 0)
                (*ret)->hv_version = 0;
        return 0;
}

static int sum_running(virConnectPtr c, MigCapacity *cap, MigVirtError *err) {
        virDomainPtr *doms = NULL;
        int n = virConnectListAllDomains(c, &doms, VIR_CONNECT_LIST_DOMAINS_ACTIVE);
        if (n < 0)
                return fail_from_libvirt(err, "Cannot list running domains");
        for (int i = 0; i < n; i++) {
                virDomainInfo info;
                if (virDomainGetInfo(doms[i], &info) == 0)
                        cap->vcpus_used += info.nrVirtCpu;
                virDomainFree(doms[i]);
        }
        free(doms);
        cap->domains_running = (unsigned) n;
        return 0;
}

int mig_virt_capacity(MigVirt *v, const char *image_dir, MigCapacity *ret, MigVirtError *err) {
        g_autoptr(MigVirConnect) c = get_conn(v, err);
        if (!c)
                return -EIO;
        MigCapacity cap = {0};
        virNodeInfo info;
        if (virNodeGetInfo(c, &info) < 0)
                return fail_from_libvirt(err, "Cannot read the node's resources");
        cap.memory_total = (uint64_t) info.memory * 1024;
        cap.memory_free = virNodeGetFreeMemory(c);
        cap.vcpus = info.cpus;
        int r = sum_running(c, &cap, err);
        if (r < 0)
                return r;
        struct statvfs sv;
        if (statvfs(image_dir, &sv) == 0)
                cap.disk_free = (uint64_t) sv.f_bavail * sv.f_frsize;
        *ret = cap;
        return 0;
}

char *mig_parse_cpu_model_element(const char *xml) {
        const char *start = xml;
        while ((start = strstr(start, "<cpu")) && start[4] != ' ' && start[4] != '>')
                start += 4; /* <cputune> and the like */
        const char *end = start ? strstr(start, "</cpu>") : NULL;
        const char *open_end = start ? strchr(start, '>') : NULL;
        if (!end || !open_end || open_end[-1] == '/' || open_end > end)
                return NULL; /* none, or <cpu .../> without a model */
        g_autofree char *element = g_strndup(start, (gsize) (end + strlen("</cpu>") - start));
        g_autofree char *open = g_strndup(start, (gsize) (open_end - start));
        /* Only a model the operator chose binds the destination: mode custom (libvirt's
         * default), and not check='none', which is what libvirt writes when it adds its
         * default model (qemu64) itself and what tells QEMU to drop missing features
         * instead of refusing. host-model and host-passthrough follow the host. */
        bool custom =
                !strstr(open, "mode=") || strstr(open, "mode='custom'") || strstr(open, "mode=\"custom\"");
        bool unchecked = strstr(open, "check='none'") || strstr(open, "check=\"none\"");
        return custom && !unchecked && strstr(element, "<model") ? g_steal_pointer(&element) : NULL;
}

int mig_virt_compare_cpu(MigVirt *v, const char *cpu_xml, char **ret_why, MigVirtError *err) {
        g_autoptr(MigVirConnect) c = get_conn(v, err);
        if (!c)
                return -EIO;
        *ret_why = NULL;
        /* What the hypervisor can give a guest here, not the host CPU itself: a running
         * host-model guest's expanded CPU has features (svm, ...) that KVM provides but the
         * host model lacks. FAIL_INCOMPATIBLE: libvirt says which features are missing. */
        int r = virConnectCompareHypervisorCPU(c, NULL, NULL, NULL, NULL, cpu_xml,
                                               VIR_CONNECT_COMPARE_CPU_FAIL_INCOMPATIBLE);
        const virError *ve = r == VIR_CPU_COMPARE_ERROR ? virGetLastError() : NULL;
        if (ve && ve->code == VIR_ERR_CPU_INCOMPATIBLE) {
                *ret_why =
                        g_strdup(ve->message ? ve->message : "the domain's CPU model is not available here");
                return 0;
        }
        if (r == VIR_CPU_COMPARE_ERROR)
                return fail_from_libvirt(err, "Cannot compare the domain's CPU with this node's");
        if (r == VIR_CPU_COMPARE_INCOMPATIBLE)
                *ret_why = g_strdup("the domain's CPU model is not available here");
        return 0;
}

int mig_virt_host_uuid(MigVirt *v, char **ret, MigVirtError *err) {
        g_autoptr(MigVirConnect) c = get_conn(v, err);
        if (!c)
                return -EIO;
        g_autofree char *caps = virConnectGetCapabilities(c);
        if (!caps)
                return fail_from_libvirt(err, "Cannot read the node's capabilities");
        const char *host = strstr(caps, "<host>");
        const char *start = host ? strstr(host, "<uuid>") : NULL;
        const char *end = start ? strstr(start, "</uuid>") : NULL;
        g_autofree char *uuid = end ? g_strndup(start + 6, (gsize) (end - start - 6)) : NULL;
        if (!uuid || !mig_uuid_valid(g_strstrip(uuid)))
                return fail_with(err, MIG_ERROR_LIBVIRT, g_strdup("libvirt reports no host UUID"));
        *ret = g_ascii_strdown(uuid, -1);
        return 0;
}

int mig_virt_set_group(MigVirt *v, const char *domain, const char *name, const char *policy,
                       MigVirtError *err) {
        g_autoptr(MigVirConnect) c = get_conn(v, err);
        if (!c)
                return -EIO;
        g_autoptr(MigVirDomain) dom = lookup(c, domain);
        if (!dom)
                return fail_with(err, MIG_ERROR_NOT_FOUND,
                                 g_strdup_printf("No domain '%s' on this node", domain));
        g_autofree char *xml =
                name ? g_markup_printf_escaped("<group name=\"%s\" policy=\"%s\"/>", name, policy) : NULL;
        unsigned flags =
                VIR_DOMAIN_AFFECT_CONFIG | (virDomainIsActive(dom) == 1 ? VIR_DOMAIN_AFFECT_LIVE : 0);
        if (virDomainIsPersistent(dom) != 1)
                flags = VIR_DOMAIN_AFFECT_LIVE;
        if (virDomainSetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, xml, name ? MIG_GROUP_NS_PREFIX : NULL,
                                 MIG_GROUP_NS_URI, flags) < 0)
                return fail_from_libvirt(err, "Cannot write the domain's group metadata");
        return 0;
}

/* --- cold migration --- */

static virDomainPtr lookup_uuid(virConnectPtr c, const char *uuid, MigVirtError *err) {
        virDomainPtr dom = virDomainLookupByUUIDString(c, uuid);
        if (!dom) {
                const virError *ve = virGetLastError();
                if (ve && ve->code == VIR_ERR_NO_DOMAIN)
                        fail_with(err, MIG_ERROR_NOT_FOUND,
                                  g_strdup_printf("No domain %s on this node", uuid));
                else
                        fail_from_libvirt(err, "Cannot look the domain up");
        }
        return dom;
}

int mig_virt_get_definition(MigVirt *v, const char *uuid, char **ret_xml, MigVirtError *err) {
        g_autoptr(MigVirConnect) c = get_conn(v, err);
        g_autoptr(MigVirDomain) dom = c ? lookup_uuid(c, uuid, err) : NULL;
        if (!dom)
                return -EIO;
        char *xml = virDomainGetXMLDesc(dom, VIR_DOMAIN_XML_INACTIVE | VIR_DOMAIN_XML_SECURE);
        if (!xml)
                return fail_from_libvirt(err, "Cannot read the domain's definition");
        *ret_xml = g_strdup(xml);
        free(xml);
        return 0;
}

int mig_virt_shutdown(MigVirt *v, const char *uuid, unsigned timeout_sec, MigVirtError *err) {
        g_autoptr(MigVirConnect) c = get_conn(v, err);
        g_autoptr(MigVirDomain) dom = c ? lookup_uuid(c, uuid, err) : NULL;
        if (!dom)
                return -EIO;
        if (virDomainIsActive(dom) != 1)
                return 0;
        /* A guest that ignores ACPI is destroyed after the timeout, as Nova does. */
        if (timeout_sec > 0 && virDomainShutdown(dom) == 0)
                for (unsigned i = 0; i < timeout_sec * 10 && virDomainIsActive(dom) == 1; i++)
                        g_usleep(100 * 1000);
        if (virDomainIsActive(dom) == 1 && virDomainDestroy(dom) < 0 && virDomainIsActive(dom) == 1)
                return fail_from_libvirt(err, "Cannot stop the domain");
        return 0;
}

int mig_virt_start(MigVirt *v, const char *uuid, MigVirtError *err) {
        g_autoptr(MigVirConnect) c = get_conn(v, err);
        g_autoptr(MigVirDomain) dom = c ? lookup_uuid(c, uuid, err) : NULL;
        if (!dom)
                return -EIO;
        if (virDomainIsActive(dom) == 1)
                return 0;
        if (virDomainCreate(dom) < 0)
                return fail_from_libvirt(err, "Cannot start the domain");
        return 0;
}

int mig_virt_resume(MigVirt *v, const char *uuid, MigVirtError *err) {
        g_autoptr(MigVirConnect) c = get_conn(v, err);
        g_autoptr(MigVirDomain) dom = c ? lookup_uuid(c, uuid, err) : NULL;
        if (!dom)
                return -EIO;
        int state = 0, reason = 0;
        if (virDomainGetState(dom, &state, &reason, 0) == 0 && state != VIR_DOMAIN_PAUSED)
                return 0;
        return virDomainResume(dom) < 0 ? fail_from_libvirt(err, "Cannot resume the domain") : 0;
}

#define UNDEFINE_FLAGS                                                                                      \
        (VIR_DOMAIN_UNDEFINE_MANAGED_SAVE | VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA |                        \
         VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA | VIR_DOMAIN_UNDEFINE_NVRAM)

int mig_virt_undefine(MigVirt *v, const char *uuid, MigVirtError *err) {
        g_autoptr(MigVirConnect) c = get_conn(v, err);
        if (!c)
                return -EIO;
        g_autoptr(MigVirDomain) dom = lookup_uuid(c, uuid, err);
        if (!dom)
                return g_strcmp0(err->name, MIG_ERROR_NOT_FOUND) == 0 ? (mig_virt_error_clear(err), 0)
                                                                      : -EIO;
        if (virDomainIsActive(dom) == 1)
                return fail_with(
                        err, MIG_ERROR_CONFLICT,
                        g_strdup_printf("Domain %s is running on this node, where it should be off; "
                                        "refusing to remove it",
                                        uuid));
        if (virDomainUndefineFlags(dom, UNDEFINE_FLAGS) < 0)
                return fail_from_libvirt(err, "Cannot undefine the domain");
        return 0;
}

static int check_uuid(virDomainPtr dom, const char *uuid, MigVirtError *err) {
        char got[VIR_UUID_STRING_BUFLEN];
        if (virDomainGetUUIDString(dom, got) < 0 || g_ascii_strcasecmp(got, uuid) != 0)
                return fail_with(err, MIG_ERROR_INVALID_ARGUMENT,
                                 g_strdup_printf("The definition's UUID is not %s", uuid));
        return 0;
}

int mig_virt_define(MigVirt *v, const char *xml, const char *uuid, bool start, MigVirtError *err) {
        g_autoptr(MigVirConnect) c = get_conn(v, err);
        if (!c)
                return -EIO;
        g_autoptr(MigVirDomain) dom = virDomainLookupByUUIDString(c, uuid);
        bool defined_here = !dom;
        if (!dom && !(dom = virDomainDefineXML(c, xml)))
                return fail_from_libvirt(err, "Cannot define the domain");
        if (check_uuid(dom, uuid, err) < 0) {
                if (defined_here)
                        virDomainUndefineFlags(dom, UNDEFINE_FLAGS);
                return -EINVAL;
        }
        if (!start || virDomainIsActive(dom) == 1)
                return 0;
        if (virDomainCreate(dom) < 0) {
                int r = fail_from_libvirt(err, "Cannot start the domain");
                if (defined_here)
                        virDomainUndefineFlags(dom, UNDEFINE_FLAGS);
                return r;
        }
        return 0;
}

int mig_virt_redefine(MigVirt *v, const char *xml, const char *uuid, MigVirtError *err) {
        g_autoptr(MigVirConnect) c = get_conn(v, err);
        g_autoptr(MigVirDomain) old = c ? lookup_uuid(c, uuid, err) : NULL;
        if (!old)
                return -EIO;
        g_autoptr(MigVirDomain) dom = virDomainDefineXML(c, xml);
        if (!dom)
                return fail_from_libvirt(err, "Cannot define the domain with its new size");
        return check_uuid(dom, uuid, err);
}

int mig_virt_remove(MigVirt *v, const char *uuid, MigVirtError *err) {
        g_autoptr(MigVirConnect) c = get_conn(v, err);
        if (!c)
                return -EIO;
        g_autoptr(MigVirDomain) dom = virDomainLookupByUUIDString(c, uuid);
        if (!dom)
                return 0;
        if (virDomainIsActive(dom) == 1 && virDomainDestroy(dom) < 0)
                return fail_from_libvirt(err, "Cannot stop the domain");
        if (virDomainIsPersistent(dom) == 1 && virDomainUndefineFlags(dom, UNDEFINE_FLAGS) < 0)
                return fail_from_libvirt(err, "Cannot undefine the domain");
        return 0;
}

virConnectPtr mig_virt_connection(MigVirt *v, MigVirtError *err) {
        return get_conn(v, err);
}

/* --- live migration --- */

static int add_param_ull(virTypedParameterPtr *params, int *n, int *max, const char *name, uint64_t v) {
        return v ? virTypedParamsAddULLong(params, n, max, name, v) : 0;
}

static unsigned live_flags(const MigLiveParams *p) {
        unsigned flags = VIR_MIGRATE_LIVE | VIR_MIGRATE_PEER2PEER | VIR_MIGRATE_PERSIST_DEST |
                         VIR_MIGRATE_UNDEFINE_SOURCE | VIR_MIGRATE_ABORT_ON_ERROR;
        if (p->block)
                flags |= VIR_MIGRATE_NON_SHARED_DISK;
        if (p->shared_proven)
                flags |= VIR_MIGRATE_UNSAFE;
        if (p->auto_converge)
                flags |= VIR_MIGRATE_AUTO_CONVERGE;
        if (p->postcopy)
                flags |= VIR_MIGRATE_POSTCOPY;
        if (p->parallel > 1)
                flags |= VIR_MIGRATE_PARALLEL;
        if (p->compressed || p->xbzrle_cache)
                flags |= VIR_MIGRATE_COMPRESSED;
        return flags;
}

int mig_virt_migrate_live(MigVirt *v, const char *uuid, const MigLiveParams *p, MigVirtError *err) {
        /* A connection of its own: the migration call holds it for minutes, and progress
         * queries and abort on the shared one must not queue behind it. */
        g_autoptr(MigVirConnect) c = virConnectOpen(v->uri);
        if (!c) {
                g_autofree char *what = g_strdup_printf("Cannot connect to libvirt at %s", v->uri);
                return fail_from_libvirt(err, what);
        }
        g_autoptr(MigVirDomain) dom = lookup_uuid(c, uuid, err);
        if (!dom)
                return -EIO;
        virTypedParameterPtr params = NULL;
        int n = 0, max = 0,
            r = virTypedParamsAddString(&params, &n, &max, VIR_MIGRATE_PARAM_URI, p->migration_uri);
        if (r == 0)
                r = add_param_ull(&params, &n, &max, VIR_MIGRATE_PARAM_BANDWIDTH, p->bandwidth_mib);
        for (size_t i = 0; r == 0 && p->copy_targets && p->copy_targets[i]; i++)
                r = virTypedParamsAddString(&params, &n, &max, VIR_MIGRATE_PARAM_MIGRATE_DISKS,
                                            p->copy_targets[i]);
        if (r == 0 && p->parallel > 1)
                r = virTypedParamsAddInt(&params, &n, &max, VIR_MIGRATE_PARAM_PARALLEL_CONNECTIONS,
                                         (int) p->parallel);
        if (r == 0 && p->throttle_initial)
                r = virTypedParamsAddInt(&params, &n, &max, VIR_MIGRATE_PARAM_AUTO_CONVERGE_INITIAL,
                                         (int) p->throttle_initial);
        if (r == 0 && p->throttle_increment)
                r = virTypedParamsAddInt(&params, &n, &max, VIR_MIGRATE_PARAM_AUTO_CONVERGE_INCREMENT,
                                         (int) p->throttle_increment);
        if (r == 0 && p->xbzrle_cache)
                r = virTypedParamsAddString(&params, &n, &max, VIR_MIGRATE_PARAM_COMPRESSION, "xbzrle");
        if (r == 0)
                r = add_param_ull(&params, &n, &max, VIR_MIGRATE_PARAM_COMPRESSION_XBZRLE_CACHE,
                                  p->xbzrle_cache);
        if (r == 0 && p->max_downtime_ms && virDomainMigrateSetMaxDowntime(dom, p->max_downtime_ms, 0) < 0)
                r = -1;
        if (r == 0)
                r = virDomainMigrateToURI3(dom, p->dest_uri, params, (unsigned) n, live_flags(p));
        virTypedParamsFree(params, n);
        return r < 0 ? fail_from_libvirt(err, "The live migration failed") : 0;
}

static uint64_t stat_ull(virTypedParameterPtr params, int n, const char *name) {
        unsigned long long v = 0;
        return virTypedParamsGetULLong(params, n, name, &v) == 1 ? (uint64_t) v : 0;
}

static void fill_stats(virTypedParameterPtr params, int n, MigJobStats *s) {
        s->disk_processed = stat_ull(params, n, VIR_DOMAIN_JOB_DISK_PROCESSED);
        s->disk_total = stat_ull(params, n, VIR_DOMAIN_JOB_DISK_TOTAL);
        /* DATA_* cover memory and disk once memory moves; while the disks are mirrored first
         * only DISK_* grow: take whichever says more. */
        uint64_t mem_processed = stat_ull(params, n, VIR_DOMAIN_JOB_MEMORY_PROCESSED);
        uint64_t mem_total = stat_ull(params, n, VIR_DOMAIN_JOB_MEMORY_TOTAL);
        uint64_t disk_remaining = stat_ull(params, n, VIR_DOMAIN_JOB_DISK_REMAINING);
        uint64_t mem_remaining = stat_ull(params, n, VIR_DOMAIN_JOB_MEMORY_REMAINING);
        s->memory_total = mem_total;
        s->memory_remaining = mem_remaining;
        s->processed =
                MAX(stat_ull(params, n, VIR_DOMAIN_JOB_DATA_PROCESSED), mem_processed + s->disk_processed);
        s->total = MAX(stat_ull(params, n, VIR_DOMAIN_JOB_DATA_TOTAL), mem_total + s->disk_total);
        s->remaining =
                MAX(stat_ull(params, n, VIR_DOMAIN_JOB_DATA_REMAINING), mem_remaining + disk_remaining);
        s->dirty_rate = stat_ull(params, n, VIR_DOMAIN_JOB_MEMORY_DIRTY_RATE) *
                        MAX(stat_ull(params, n, VIR_DOMAIN_JOB_MEMORY_PAGE_SIZE), 1);
        s->iteration = stat_ull(params, n, VIR_DOMAIN_JOB_MEMORY_ITERATION);
        s->expected_downtime_ms = stat_ull(params, n, VIR_DOMAIN_JOB_DOWNTIME);
        s->elapsed_ms = stat_ull(params, n, VIR_DOMAIN_JOB_TIME_ELAPSED);
        s->memory_bps = stat_ull(params, n, VIR_DOMAIN_JOB_MEMORY_BPS);
        int throttle = 0;
        if (virTypedParamsGetInt(params, n, VIR_DOMAIN_JOB_AUTO_CONVERGE_THROTTLE, &throttle) == 1 &&
            throttle > 0)
                s->throttle = (unsigned) throttle;
}

static int job_stats(MigVirt *v, const char *uuid, unsigned flags, MigJobStats *ret, MigVirtError *err) {
        g_autoptr(MigVirConnect) c = get_conn(v, err);
        g_autoptr(MigVirDomain) dom = c ? lookup_uuid(c, uuid, err) : NULL;
        if (!dom)
                return -EIO;
        MigJobStats s = {0};
        virTypedParameterPtr params = NULL;
        int type = VIR_DOMAIN_JOB_NONE, n = 0;
        if (virDomainGetJobStats(dom, &type, &params, &n, flags) < 0)
                return fail_from_libvirt(err, "Cannot read the migration's progress");
        s.active = type != VIR_DOMAIN_JOB_NONE && type != VIR_DOMAIN_JOB_COMPLETED &&
                   type != VIR_DOMAIN_JOB_FAILED && type != VIR_DOMAIN_JOB_CANCELLED;
        fill_stats(params, n, &s);
        virTypedParamsFree(params, n);
        *ret = s;
        return 0;
}

int mig_virt_job_stats(MigVirt *v, const char *uuid, MigJobStats *ret, MigVirtError *err) {
        return job_stats(v, uuid, 0, ret, err);
}

int mig_virt_abort_job(MigVirt *v, const char *uuid, MigVirtError *err) {
        g_autoptr(MigVirConnect) c = get_conn(v, err);
        g_autoptr(MigVirDomain) dom = c ? lookup_uuid(c, uuid, err) : NULL;
        if (!dom)
                return -EIO;
        if (virDomainAbortJob(dom) < 0)
                return fail_from_libvirt(err, "Cannot abort the migration");
        return 0;
}

int mig_virt_force_complete(MigVirt *v, const char *uuid, bool postcopy, MigVirtError *err) {
        g_autoptr(MigVirConnect) c = get_conn(v, err);
        g_autoptr(MigVirDomain) dom = c ? lookup_uuid(c, uuid, err) : NULL;
        if (!dom)
                return -EIO;
        int r = postcopy ? virDomainMigrateStartPostCopy(dom, 0) : virDomainSuspend(dom);
        if (r < 0)
                return fail_from_libvirt(err, postcopy ? "Cannot switch to post-copy"
                                                       : "Cannot pause the domain");
        return 0;
}

int mig_virt_job_completed(MigVirt *v, const char *uuid, uint64_t *downtime_ms, uint64_t *elapsed_ms,
                           MigVirtError *err) {
        MigDomainInfo *info = NULL;
        int r = mig_virt_lookup(v, uuid, &info, err);
        if (r < 0)
                return r;
        bool active = info->active;
        mig_domain_info_free(info);
        if (!active)
                return fail_with(err, MIG_ERROR_CONFLICT,
                                 g_strdup_printf("Domain %s does not run here", uuid));
        MigJobStats s = {0};
        MigVirtError ignored = {0};
        /* Completed-job figures are a courtesy of libvirt: their absence is no failure. */
        if (job_stats(v, uuid, VIR_DOMAIN_JOB_STATS_COMPLETED, &s, &ignored) < 0)
                mig_virt_error_clear(&ignored);
        *downtime_ms = s.expected_downtime_ms;
        *elapsed_ms = s.elapsed_ms;
        return 0;
}

int mig_virt_disk_capacity(MigVirt *v, const char *uuid, const char *path, uint64_t *ret,
                           MigVirtError *err) {
        g_autoptr(MigVirConnect) c = get_conn(v, err);
        g_autoptr(MigVirDomain) dom = c ? lookup_uuid(c, uuid, err) : NULL;
        if (!dom)
                return -EIO;
        virDomainBlockInfo bi;
        if (virDomainGetBlockInfo(dom, path, &bi, 0) < 0)
                return fail_from_libvirt(err, "Cannot read the disk's size");
        *ret = bi.capacity;
        return 0;
}

int mig_virt_set_max_downtime(MigVirt *v, const char *uuid, uint64_t ms, MigVirtError *err) {
        g_autoptr(MigVirConnect) c = get_conn(v, err);
        g_autoptr(MigVirDomain) dom = c ? lookup_uuid(c, uuid, err) : NULL;
        if (!dom)
                return -EIO;
        if (virDomainMigrateSetMaxDowntime(dom, ms, 0) < 0)
                return fail_from_libvirt(err, "Cannot raise the maximum downtime");
        return 0;
}

int mig_virt_set_xbzrle_cache(MigVirt *v, const char *uuid, uint64_t bytes, MigVirtError *err) {
        g_autoptr(MigVirConnect) c = get_conn(v, err);
        g_autoptr(MigVirDomain) dom = c ? lookup_uuid(c, uuid, err) : NULL;
        if (!dom)
                return -EIO;
        if (virDomainMigrateSetCompressionCache(dom, bytes, 0) < 0)
                return fail_from_libvirt(err, "Cannot resize the XBZRLE cache");
        return 0;
}

int mig_virt_dirty_rate_start(MigVirt *v, const char *uuid, MigVirtError *err) {
        g_autoptr(MigVirConnect) c = get_conn(v, err);
        g_autoptr(MigVirDomain) dom = c ? lookup_uuid(c, uuid, err) : NULL;
        if (!dom)
                return -EIO;
        if (virDomainStartDirtyRateCalc(dom, 1, VIR_DOMAIN_DIRTYRATE_MODE_PAGE_SAMPLING) < 0)
                return fail_from_libvirt(err, "Cannot measure the guest's dirty rate");
        return 0;
}

int mig_virt_dirty_rate_read(MigVirt *v, const char *uuid, uint64_t *bytes_per_sec, bool *measured,
                             MigVirtError *err) {
        g_autoptr(MigVirConnect) c = get_conn(v, err);
        g_autoptr(MigVirDomain) dom = c ? lookup_uuid(c, uuid, err) : NULL;
        if (!dom)
                return -EIO;
        virDomainPtr doms[] = {dom, NULL};
        virDomainStatsRecordPtr *records = NULL;
        if (virDomainListGetStats(doms, VIR_DOMAIN_STATS_DIRTYRATE, &records, 0) < 0)
                return fail_from_libvirt(err, "Cannot read the guest's dirty rate");
        int status = 0;
        long long mib = 0;
        if (records[0]) {
                (void) virTypedParamsGetInt(records[0]->params, records[0]->nparams, "dirtyrate.calc_status",
                                            &status);
                (void) virTypedParamsGetLLong(records[0]->params, records[0]->nparams,
                                              "dirtyrate.megabytes_per_second", &mib);
        }
        virDomainStatsRecordListFree(records);
        *measured = status == VIR_DOMAIN_DIRTYRATE_MEASURED;
        *bytes_per_sec = *measured && mib > 0 ? (uint64_t) mib << 20 : 0;
        return 0;
}
