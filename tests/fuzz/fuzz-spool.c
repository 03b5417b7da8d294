/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target: the daemon's reader of the hook spool. Any bytes (a damaged,
 * cut or hostile file) give only valid events, and every event read is written back
 * to the very same line. */

#include <assert.h>
#include <string.h>

#include "hook-event.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        unsigned bad = 0;
        g_autoptr(GPtrArray) events = mig_hook_spool_parse((const char *) data, size, &bad);
        for (guint i = 0; i < events->len; i++) {
                const MigHookEvent *e = events->pdata[i];
                assert(mig_hook_event_valid(e));
                g_autofree char *line = mig_hook_event_to_line(e);
                assert(memmem(data, size, line, strlen(line)) != NULL);
        }
        return 0;
}
