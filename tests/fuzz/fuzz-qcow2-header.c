/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The qcow2 header reader of the backing chains: whatever the first bytes of a disk file
 * hold, it reads within them, and a backing file name it returns is a whole string. */
#include <assert.h>
#include <errno.h>
#include <glib.h>
#include <string.h>

#include "disk-spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        g_autofree char *name = NULL, *format = NULL;
        int r = mig_qcow2_backing(data, size, &name, &format);
        assert(r >= -EINVAL && r <= 1);
        if (r != 1) {
                assert(!name);
                return 0;
        }
        assert(name && *name && strlen(name) <= 1023 && g_utf8_validate(name, -1, NULL));
        assert(!format || strlen(format) < 32);
        return 0;
}
