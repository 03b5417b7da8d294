/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target: the reader of /etc/migrated/migrated.conf. Any text either is refused
 * whole with a message naming the file (and, for a syntax error, its line), or gives a
 * config whose node name, peers and numbers passed their checks. */

#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "config.h"
#include "validate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        g_autofree char *text = g_strndup((const char *) data, size);
        g_autoptr(GError) e = NULL;
        g_autoptr(MigConfig) c = mig_config_parse("/etc/migrated/migrated.conf", text, &e);
        if (!c) {
                assert(e && g_str_has_prefix(e->message, "/etc/migrated/migrated.conf"));
                return 0;
        }
        assert(mig_node_name_valid(c->node_name));
        for (guint i = 0; i < c->peers->len; i++) {
                const MigPeerConfig *p = g_ptr_array_index(c->peers, i);
                assert(mig_node_name_valid(p->name) && strcmp(p->name, c->node_name) != 0);
                assert(p->address && *p->address);
        }
        assert(c->max_concurrent_migrations > 0);
        return 0;
}
