/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Checking and resolving what operators name on the command line: domains, nodes, migrations. */

#include "resolve.h"

#include <stdlib.h>
#include <string.h>

#include "bus.h"
#include "errors.h"
#include "log.h"
#include "output.h"
#include "validate.h"

/* ---- argument checks ---- */

int mig_check_domain(const char *domain) {
        if (mig_domain_name_valid(domain) || mig_uuid_valid(domain))
                return 0;
        return log_invalid_argument(
                "Invalid domain name or UUID '%s': expected 1 to %d printable characters "
                "without '/', spaces or shell characters, not starting with '-' or '.'.",
                domain, MIG_DOMAIN_NAME_MAX);
}

int mig_check_node(const char *node) {
        if (mig_node_name_valid(node))
                return 0;
        return log_invalid_argument("Invalid node name '%s': expected a host name of at most %d letters, "
                                    "digits, '.', '-' and '_', starting with a letter or digit.",
                                    node, MIG_NODE_NAME_MAX);
}

int mig_check_migration_ref(const char *ref) {
        if (mig_migration_id_valid(ref) || mig_domain_name_valid(ref) || mig_uuid_valid(ref))
                return 0;
        return log_invalid_argument("'%s' is neither a migration ID nor a valid domain name or UUID.", ref);
}

/* ---- resolving ID | DOMAIN ---- */

static bool looks_like_id_prefix(const char *s) {
        size_t n = strlen(s);
        if (n < 4 || n >= 32)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!g_ascii_isxdigit(s[i]) || g_ascii_isupper(s[i]))
                        return false;
        return true;
}

static char *migration_object(JsonObject *o) {
        const char *object = mig_json_string(o, "object");
        const char *id = mig_json_string(o, "id");
        char *path = NULL;

        if (object)
                return g_strdup(object);
        if (!id || sd_bus_path_encode(MIG_MIGRATION_PREFIX, id, &path) < 0)
                return NULL;
        char *copy = g_strdup(path);
        free(path);
        return copy;
}

/* All migrations whose ID starts with prefix; NULL when they cannot be listed. */
static GPtrArray *find_by_id_prefix(MigCtl *ctl, const char *prefix) {
        g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
        g_autoptr(sd_bus_message) reply = NULL;
        g_autoptr(JsonNode) list = NULL;

        if (mig_call_manager_try(ctl, MIG_CALL_READ, &error, "ListMigrations", &reply, "a{sv}", 0) < 0)
                return NULL;
        if (mig_json_from_message(reply, NULL, &list) < 0 || !JSON_NODE_HOLDS_ARRAY(list))
                return NULL;

        GPtrArray *paths = g_ptr_array_new_with_free_func(g_free);
        JsonArray *a = json_node_get_array(list);
        for (guint i = 0; i < json_array_get_length(a); i++) {
                JsonObject *o = mig_json_array_object(a, i);
                const char *id = o ? mig_json_string(o, "id") : NULL;
                char *path = id && g_str_has_prefix(id, prefix) ? migration_object(o) : NULL;
                if (path)
                        g_ptr_array_add(paths, path);
        }
        return paths;
}

int mig_resolve_migration(MigCtl *ctl, const char *ref, sd_bus_error *ret_error, char **ret_path) {
        g_autoptr(sd_bus_message) reply = NULL;
        const char *path = NULL;
        int r;

        r = mig_call_manager_try(ctl, MIG_CALL_READ, ret_error, "GetMigration", &reply, "s", ref);
        if (r >= 0) {
                r = sd_bus_message_read(reply, "o", &path);
                if (r < 0)
                        return log_parse_error(r);
                *ret_path = g_strdup(path);
                return 0;
        }
        if (!sd_bus_error_has_name(ret_error, MIG_ERROR_NOT_FOUND) || !looks_like_id_prefix(ref))
                return r;

        /* A shortened ID, as the tables print it. */
        g_autoptr(GPtrArray) matches = find_by_id_prefix(ctl, ref);
        if (!matches || matches->len == 0)
                return r;
        sd_bus_error_free(ret_error);
        if (matches->len > 1)
                return sd_bus_error_setf(ret_error, MIG_ERROR_INVALID_ARGUMENT,
                                         "Migration ID prefix '%s' is ambiguous: %u migrations match.", ref,
                                         matches->len);
        *ret_path = g_strdup(matches->pdata[0]);
        return 0;
}
