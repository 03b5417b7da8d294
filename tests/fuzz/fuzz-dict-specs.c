/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target: the reader of the Manager's a{sv} arguments (Migrate's and Evacuate's
 * options, ListMigrations' filter), on any a{sv} a caller could send (the bytes are taken
 * as a serialized GVariant and normalized, as sd-bus delivers only well-formed ones). It
 * either refuses with InvalidArgument and a sentence, or fills exactly the specs' types. */

#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "bus-variant.h"
#include "errors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        g_autoptr(GBytes) bytes = g_bytes_new(data, size);
        g_autoptr(GVariant) raw = g_variant_ref_sink(g_variant_new_from_bytes(G_VARIANT_TYPE_VARDICT, bytes, FALSE));
        g_autoptr(GVariant) dict = g_variant_get_normal_form(raw);
        int live = -1, block = -1;
        uint64_t bandwidth = 7;
        uint32_t parallel = 9;
        g_autofree char *domain = NULL;
        const MigDictSpec specs[] = {{"live", 'b', &live},          {"block-migration", 'b', &block},
                                     {"bandwidth", 't', &bandwidth}, {"parallel-connections", 'u', &parallel},
                                     {"domain", 's', &domain},       {NULL}};
        sd_bus_error e = SD_BUS_ERROR_NULL;
        int r = mig_dict_read_specs(dict, "option", specs, &e);
        if (r < 0) {
                assert(e.name && strcmp(e.name, MIG_ERROR_INVALID_ARGUMENT) == 0);
                assert(e.message && *e.message);
        } else {
                assert(live == -1 || live == 0 || live == 1);
                assert(block == -1 || block == 0 || block == 1);
                assert(!domain || g_utf8_validate(domain, -1, NULL));
        }
        sd_bus_error_free(&e);
        return 0;
}
