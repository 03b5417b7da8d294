/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target: the hook's input. The data is split at the first two NUL bytes
 * into DOMAIN, OPERATION and the domain XML (stdin); the event made from it must
 * survive a spool line round trip unchanged. */

#include <assert.h>
#include <string.h>

#include "hook-event.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        const char *p = (const char *) data;
        const char *nul1 = memchr(p, '\0', size);
        const char *nul2 = nul1 ? memchr(nul1 + 1, '\0', size - (size_t) (nul1 + 1 - p)) : NULL;
        if (!nul2)
                return 0;
        char *argv[] = {"hook", (char *) p, (char *) nul1 + 1, "begin", "-", NULL};
        const char *xml = nul2 + 1;
        size_t xml_len = size - (size_t) (xml - p);
        g_autoptr(MigHookEvent) e = mig_hook_event_new(5, argv, xml, xml_len, NULL);
        if (!e)
                return 0;
        assert(mig_hook_event_valid(e));
        g_autofree char *line = mig_hook_event_to_line(e);
        size_t len = strlen(line);
        assert(len > 0 && line[len - 1] == '\n' && memchr(line, '\n', len - 1) == NULL);
        g_autoptr(MigHookEvent) back = mig_hook_event_from_line(line, len - 1, NULL);
        assert(back);
        assert(strcmp(back->domain, e->domain) == 0 && strcmp(back->uuid, e->uuid) == 0);
        assert(strcmp(back->operation, e->operation) == 0 && back->time_usec == e->time_usec);
        return 0;
}
