/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Who this node is: its configured Name and libvirt's host UUID, compared at every start
 * with what the state folder recorded. A renamed host, or a changed host UUID, is
 * reported and recorded, never acted on: nothing is destroyed or undefined because a
 * name changed (Nova once deleted every VM of a host whose name changed). Migration
 * records keep the names they were made with; they are resolved by their role on this
 * node, not by its name. */

#include <string.h>

#include "events.h"
#include "identity.h"

typedef struct Identity {
        Manager *m;
        char *host_uuid;
        int result;
        MigVirtError err;
} Identity;

static void identity_run(void *data) {
        Identity *id = data;
        id->result = mig_virt_host_uuid(id->m->virt, &id->host_uuid, &id->err);
}

static void report(Manager *m, const char *old_name, const char *old_uuid) {
        const char *name = manager_node(m), *uuid = m->host_uuid;
        bool renamed = old_name && strcmp(old_name, name) != 0;
        bool moved = old_uuid && strcmp(old_uuid, uuid) != 0;
        if (!renamed && !moved)
                return;
        g_autofree char *msg = g_strdup_printf(
                "this node was %s (libvirt host UUID %s) and is %s (%s) now; its migration records are kept "
                "as they are and no domain is destroyed or undefined because of it",
                old_name ? old_name : name, old_uuid ? old_uuid : uuid, name, uuid);
        g_warning("Identity changed: %s.", msg);
        events_note(m, "*", "", renamed ? "node-renamed" : "host-uuid-changed", msg);
}

static void identity_done(void *data) {
        Identity *id = data;
        Manager *m = id->m;
        if (id->result < 0) {
                g_warning("Cannot read libvirt's host UUID: %s", id->err.message);
                return;
        }
        m->host_uuid = g_steal_pointer(&id->host_uuid);
        g_autoptr(GError) e = NULL;
        g_autofree char *old_name = NULL, *old_uuid = NULL;
        if (mig_store_get_identity(m->store, "node-name", &old_name, &e) < 0 ||
            mig_store_get_identity(m->store, "host-uuid", &old_uuid, &e) < 0) {
                g_warning("%s", e->message);
                return;
        }
        report(m, old_name, old_uuid);
        if (mig_store_set_identity(m->store, "node-name", manager_node(m), &e) < 0 ||
            mig_store_set_identity(m->store, "host-uuid", m->host_uuid, &e) < 0)
                g_warning("%s", e->message);
}

static void identity_free(void *data) {
        Identity *id = data;
        g_free(id->host_uuid);
        mig_virt_error_clear(&id->err);
        g_free(id);
}

void identity_check(Manager *m) {
        Identity *id = g_new0(Identity, 1);
        id->m = m;
        mig_worker_submit_on(m->worker, MIG_LANE_READ, identity_run, identity_done, id, identity_free);
}
