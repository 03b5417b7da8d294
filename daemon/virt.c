/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "virt.h"

#include <errno.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <string.h>
#include <sys/statvfs.h>

#include "errors.h"
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

void mig_disk_free(MigDisk *d) {
        if (!d)
                return;
        g_free(d->path);
        g_free(d->format);
        g_free(d);
}

typedef struct DiskParse {
        GPtrArray *disks;
        int depth;
        int disk_depth; /* depth of the <disk device='disk'> we are in, or 0 */
        char *format;   /* <driver type=> of that disk */
        char *path;     /* <source file=> of that disk */
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
                        g_ptr_array_add(p->disks, d);
                }
                g_clear_pointer(&p->format, g_free);
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
        d->active = virDomainIsActive(dom) == 1;
        d->persistent = virDomainIsPersistent(dom) == 1;
        d->memory = (uint64_t) info.maxMem * 1024;
        d->vcpus = info.nrVirtCpu;
        read_group(dom, d);
        g_autofree char *xml = virDomainGetXMLDesc(dom, 0);
        d->disks =
                xml ? mig_parse_disks(xml) : g_ptr_array_new_with_free_func((GDestroyNotify) mig_disk_free);
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
        return domain_info(dom, ret, err);
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
