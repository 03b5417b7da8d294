/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "bus-variant.h"

#include "errors.h"

#include <errno.h>
#include <string.h>

typedef union BasicValue {
        uint8_t y;
        int b;
        int16_t n;
        uint16_t q;
        int32_t i;
        uint32_t u;
        int64_t x;
        uint64_t t;
        double d;
        const char *s;
} BasicValue;

static GVariant *basic_to_variant(char type, const BasicValue *v) {
        switch (type) {
        case 'y':
                return g_variant_new_byte(v->y);
        case 'b':
                return g_variant_new_boolean(v->b);
        case 'n':
                return g_variant_new_int16(v->n);
        case 'q':
                return g_variant_new_uint16(v->q);
        case 'i':
                return g_variant_new_int32(v->i);
        case 'u':
                return g_variant_new_uint32(v->u);
        case 'x':
                return g_variant_new_int64(v->x);
        case 't':
                return g_variant_new_uint64(v->t);
        case 'd':
                return g_variant_new_double(v->d);
        case 's':
                return g_variant_new_string(v->s);
        case 'o':
                return g_variant_new_object_path(v->s);
        case 'g':
                return g_variant_new_signature(v->s);
        default:
                return NULL; /* 'h': file descriptors do not travel as plain values */
        }
}

static int read_basic(sd_bus_message *m, char type, GVariant **ret) {
        BasicValue v = {0};
        if (type == 'h')
                return -EOPNOTSUPP;
        int r = sd_bus_message_read_basic(m, type, &v);
        if (r <= 0)
                return r < 0 ? r : -EBADMSG;
        *ret = basic_to_variant(type, &v);
        return *ret ? 1 : -EOPNOTSUPP;
}

static char *container_signature(char type, const char *contents) {
        switch (type) {
        case 'a':
                return g_strconcat("a", contents, NULL);
        case 'r':
                return g_strdup_printf("(%s)", contents);
        case 'e':
                return g_strdup_printf("{%s}", contents);
        default:
                return g_strdup("v");
        }
}

/* The members of the container m is in, into b. */
static int read_members(sd_bus_message *m, GVariantBuilder *b) {
        GVariant *child = NULL;
        int r;
        while ((r = mig_bus_read_value(m, &child)) > 0)
                g_variant_builder_add_value(b, child);
        return r;
}

static int read_container(sd_bus_message *m, char type, const char *contents, GVariant **ret) {
        int r = sd_bus_message_enter_container(m, type, contents);
        if (r <= 0)
                return r < 0 ? r : -EBADMSG;
        GVariant *v = NULL;
        if (type == 'v') {
                GVariant *inner = NULL;
                r = mig_bus_read_value(m, &inner);
                if (r > 0)
                        v = g_variant_new_variant(inner);
                else if (r == 0)
                        r = -EBADMSG;
        } else {
                g_autofree char *sig = container_signature(type, contents);
                GVariantBuilder b;
                g_variant_builder_init(&b, G_VARIANT_TYPE(sig));
                r = read_members(m, &b);
                if (r < 0)
                        g_variant_builder_clear(&b);
                else
                        v = g_variant_builder_end(&b);
        }
        if (r >= 0)
                r = sd_bus_message_exit_container(m);
        if (r < 0) {
                if (v)
                        g_variant_unref(g_variant_ref_sink(v));
                return r;
        }
        *ret = v;
        return 1;
}

int mig_bus_read_value(sd_bus_message *m, GVariant **ret) {
        char type;
        const char *contents;
        int r = sd_bus_message_peek_type(m, &type, &contents);
        if (r <= 0)
                return r;
        if (type == 'a' || type == 'r' || type == 'e' || type == 'v')
                return read_container(m, type, contents, ret);
        return read_basic(m, type, ret);
}

int mig_bus_read_tuple(sd_bus_message *m, GVariant **ret) {
        GVariantBuilder b;
        g_variant_builder_init(&b, G_VARIANT_TYPE_TUPLE);
        int r = read_members(m, &b);
        if (r < 0) {
                g_variant_builder_clear(&b);
                return r;
        }
        *ret = g_variant_ref_sink(g_variant_builder_end(&b));
        return 0;
}

static int append_basic(sd_bus_message *m, char type, GVariant *v) {
        BasicValue b = {0};
        switch (type) {
        case 'y':
                b.y = g_variant_get_byte(v);
                break;
        case 'b':
                b.b = g_variant_get_boolean(v);
                break;
        case 'n':
                b.n = g_variant_get_int16(v);
                break;
        case 'q':
                b.q = g_variant_get_uint16(v);
                break;
        case 'i':
                b.i = g_variant_get_int32(v);
                break;
        case 'u':
                b.u = g_variant_get_uint32(v);
                break;
        case 'x':
                b.x = g_variant_get_int64(v);
                break;
        case 't':
                b.t = g_variant_get_uint64(v);
                break;
        case 'd':
                b.d = g_variant_get_double(v);
                break;
        case 's':
        case 'o':
        case 'g':
                return sd_bus_message_append_basic(m, type, g_variant_get_string(v, NULL));
        default:
                return -EOPNOTSUPP;
        }
        return sd_bus_message_append_basic(m, type, &b);
}

int mig_bus_append_members(sd_bus_message *m, GVariant *v) {
        if (!g_variant_is_container(v))
                return -EINVAL;
        int r = 0;
        for (gsize i = 0, n = g_variant_n_children(v); r >= 0 && i < n; i++) {
                g_autoptr(GVariant) child = g_variant_get_child_value(v, i);
                r = mig_bus_append_value(m, child);
        }
        return r;
}

int mig_bus_append_value(sd_bus_message *m, GVariant *v) {
        const char *sig = g_variant_get_type_string(v);
        if (g_variant_type_is_basic(g_variant_get_type(v)))
                return append_basic(m, sig[0], v);
        g_autofree char *contents = NULL;
        char type = sig[0];
        if (type == 'v') {
                g_autoptr(GVariant) inner = g_variant_get_variant(v);
                int r = sd_bus_message_open_container(m, 'v', g_variant_get_type_string(inner));
                if (r >= 0)
                        r = mig_bus_append_value(m, inner);
                return r < 0 ? r : sd_bus_message_close_container(m);
        }
        if (type == 'a')
                contents = g_strdup(sig + 1);
        else if (type == '(' || type == '{')
                contents = g_strndup(sig + 1, strlen(sig) - 2);
        else
                return -EOPNOTSUPP; /* maybe types have no D-Bus form */
        int r = sd_bus_message_open_container(m, type == 'a' ? 'a' : type == '(' ? 'r' : 'e', contents);
        if (r >= 0)
                r = mig_bus_append_members(m, v);
        return r < 0 ? r : sd_bus_message_close_container(m);
}

int mig_bus_append_tuple(sd_bus_message *m, GVariant *v) {
        if (!v)
                return 0;
        if (g_variant_is_of_type(v, G_VARIANT_TYPE_TUPLE))
                return mig_bus_append_members(m, v);
        return mig_bus_append_value(m, v);
}

/* --- a{sv} --- */

GVariant *mig_dict_ref(GVariant *v) {
        if (!v)
                return NULL;
        if (g_variant_is_of_type(v, G_VARIANT_TYPE_VARDICT))
                return g_variant_ref(v);
        if (g_variant_is_of_type(v, G_VARIANT_TYPE_TUPLE) && g_variant_n_children(v) == 1) {
                GVariant *child = g_variant_get_child_value(v, 0);
                if (g_variant_is_of_type(child, G_VARIANT_TYPE_VARDICT))
                        return child;
                g_variant_unref(child);
                return NULL;
        }
        if (g_variant_is_of_type(v, G_VARIANT_TYPE_VARIANT)) {
                g_autoptr(GVariant) inner = g_variant_get_variant(v);
                return mig_dict_ref(inner);
        }
        return NULL;
}

static GVariant *lookup(GVariant *dict, const char *key) {
        g_autoptr(GVariant) d = mig_dict_ref(dict);
        return d ? g_variant_lookup_value(d, key, NULL) : NULL;
}

const char *mig_dict_string(GVariant *dict, const char *key) {
        g_autoptr(GVariant) v = lookup(dict, key);
        if (!v || !g_variant_is_of_type(v, G_VARIANT_TYPE_STRING))
                return NULL;
        return g_variant_get_string(v, NULL); /* lives in dict's data */
}

bool mig_dict_double(GVariant *dict, const char *key, double *ret) {
        g_autoptr(GVariant) v = lookup(dict, key);
        if (!v || !g_variant_is_of_type(v, G_VARIANT_TYPE_DOUBLE))
                return false;
        *ret = g_variant_get_double(v);
        return true;
}

char **mig_dict_strv(GVariant *dict, const char *key) {
        g_autoptr(GVariant) v = lookup(dict, key);
        if (!v || !g_variant_is_of_type(v, G_VARIANT_TYPE_STRING_ARRAY))
                return NULL;
        return g_variant_dup_strv(v, NULL);
}

bool mig_dict_uint64(GVariant *dict, const char *key, uint64_t *ret) {
        g_autoptr(GVariant) v = lookup(dict, key);
        if (!v)
                return false;
        switch (g_variant_get_type_string(v)[0]) {
        case 't':
                *ret = g_variant_get_uint64(v);
                return true;
        case 'u':
                *ret = g_variant_get_uint32(v);
                return true;
        case 'x':
                *ret = (uint64_t) MAX(g_variant_get_int64(v), 0);
                return true;
        case 'i':
                *ret = (uint64_t) MAX(g_variant_get_int32(v), 0);
                return true;
        case 'b':
                *ret = g_variant_get_boolean(v);
                return true;
        default:
                return false;
        }
}

bool mig_dict_bool(GVariant *dict, const char *key, bool *ret) {
        uint64_t v;
        if (!mig_dict_uint64(dict, key, &v))
                return false;
        *ret = v != 0;
        return true;
}

/* --- a{sv} arguments with specs --- */

static const char *type_name(char t) {
        return t == 'b'   ? "a boolean (b)"
               : t == 'u' ? "an unsigned 32-bit number (u)"
               : t == 's' ? "a string (s)"
                          : "an unsigned number (t)";
}

static void take_value(const MigDictSpec *spec, GVariant *value) {
        switch (spec->type) {
        case 'b':
                *(int *) spec->value = g_variant_get_boolean(value);
                break;
        case 'u':
                *(uint32_t *) spec->value = g_variant_get_uint32(value);
                break;
        case 't':
                *(uint64_t *) spec->value = g_variant_get_uint64(value);
                break;
        default:
                g_free(*(char **) spec->value);
                *(char **) spec->value = g_variant_dup_string(value, NULL);
        }
}

static const MigDictSpec *find_spec(const MigDictSpec *specs, const char *key) {
        for (const MigDictSpec *s = specs; s->key; s++)
                if (strcmp(s->key, key) == 0)
                        return s;
        return NULL;
}

int mig_dict_read_specs(GVariant *dict, const char *what, const MigDictSpec *specs, sd_bus_error *error) {
        if (!g_variant_is_of_type(dict, G_VARIANT_TYPE_VARDICT))
                return sd_bus_error_setf(error, MIG_ERROR_INVALID_ARGUMENT, "The %ss must be an a{sv}.",
                                         what);
        GVariantIter it;
        const char *key;
        GVariant *value;
        g_variant_iter_init(&it, dict);
        while (g_variant_iter_next(&it, "{&sv}", &key, &value)) {
                g_autoptr(GVariant) owned = value;
                const MigDictSpec *spec = find_spec(specs, key);
                if (!spec)
                        return sd_bus_error_setf(error, MIG_ERROR_INVALID_ARGUMENT, "Unknown %s '%s'.", what,
                                                 key);
                char sig[2] = {spec->type, 0};
                if (!g_variant_type_string_is_valid(sig) ||
                    !g_variant_is_of_type(value, G_VARIANT_TYPE(sig)))
                        return sd_bus_error_setf(error, MIG_ERROR_INVALID_ARGUMENT,
                                                 "%c%s '%s' takes %s, not '%s'.", g_ascii_toupper(what[0]),
                                                 what + 1, key, type_name(spec->type),
                                                 g_variant_get_type_string(value));
                take_value(spec, value);
        }
        return 0;
}
