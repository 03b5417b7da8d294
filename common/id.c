/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "id.h"

#include <glib.h>
#include <sys/random.h>

char *mig_id_new(void) {
        guint8 raw[16];
        if (getrandom(raw, sizeof(raw), GRND_NONBLOCK) != (ssize_t) sizeof(raw))
                for (size_t i = 0; i < sizeof(raw); i++) /* early boot: still unique enough */
                        raw[i] = (guint8) g_random_int();
        GString *s = g_string_sized_new(33);
        for (size_t i = 0; i < sizeof(raw); i++)
                g_string_append_printf(s, "%02x", raw[i]);
        return g_string_free(s, FALSE);
}
