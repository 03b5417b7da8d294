/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "validate.h"

#include <glib.h>
#include <string.h>

static bool has_shell_meta(const char *s) {
        return strpbrk(s, "/\\`$;&|<>(){}[]*?!~'\"#%^=\t\n\r ") != NULL;
}

static bool all_printable_utf8(const char *s, size_t max) {
        size_t n = strlen(s);
        if (n == 0 || n > max || !g_utf8_validate(s, (gssize) n, NULL))
                return false;
        for (const char *p = s; *p; p = g_utf8_next_char(p))
                if (!g_unichar_isprint(g_utf8_get_char(p)))
                        return false;
        return true;
}

bool mig_domain_name_valid(const char *s) {
        if (!s || !all_printable_utf8(s, MIG_DOMAIN_NAME_MAX))
                return false;
        if (s[0] == '-' || s[0] == '.')
                return false;
        return !has_shell_meta(s);
}

bool mig_uuid_valid(const char *s) {
        if (!s || strlen(s) != 36)
                return false;
        for (size_t i = 0; i < 36; i++) {
                bool dash = i == 8 || i == 13 || i == 18 || i == 23;
                if (dash ? s[i] != '-' : !g_ascii_isxdigit(s[i]))
                        return false;
        }
        return true;
}

static bool hostlike_valid(const char *s, size_t max) {
        size_t n = s ? strlen(s) : 0;
        if (n == 0 || n > max || !g_ascii_isalnum(s[0]))
                return false;
        for (size_t i = 0; i < n; i++)
                if (!g_ascii_isalnum(s[i]) && !strchr(".-_", s[i]))
                        return false;
        return true;
}

bool mig_node_name_valid(const char *s) {
        return hostlike_valid(s, MIG_NODE_NAME_MAX);
}

bool mig_group_name_valid(const char *s) {
        return hostlike_valid(s, MIG_GROUP_NAME_MAX);
}

bool mig_group_policy_valid(const char *s) {
        static const char *const policies[] = {"affinity", "anti-affinity", "soft-affinity",
                                               "soft-anti-affinity", NULL};
        if (!s)
                return false;
        for (size_t i = 0; policies[i]; i++)
                if (strcmp(s, policies[i]) == 0)
                        return true;
        return false;
}

bool mig_reason_valid(const char *s) {
        return s && all_printable_utf8(s, MIG_REASON_MAX);
}

bool mig_migration_id_valid(const char *s) {
        if (!s || strlen(s) != 32)
                return false;
        for (size_t i = 0; i < 32; i++)
                if (!g_ascii_isxdigit(s[i]) || g_ascii_isupper(s[i]))
                        return false;
        return true;
}

bool mig_ssh_address_valid(const char *s) {
        if (!s || !*s)
                return false;
        const char *at = strchr(s, '@');
        const char *host = at ? at + 1 : s;
        if (at) {
                g_autofree char *user = g_strndup(s, (gsize) (at - s));
                if (!hostlike_valid(user, 32))
                        return false;
        }
        /* Host names and IPv4 addresses; IPv6 literals are not supported yet. */
        return hostlike_valid(host, 253);
}
