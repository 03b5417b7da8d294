/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "output.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <string.h>

#include "macro.h"

/* ---- formatting ---- */

static bool unichar_unsafe(gunichar c) {
        return g_unichar_iscntrl(c) || g_unichar_type(c) == G_UNICODE_FORMAT;
}

char *mig_sanitize(const char *s) {
        if (!s)
                return NULL;

        g_autofree char *valid = g_utf8_make_valid(s, -1);
        GString *out = g_string_sized_new(strlen(valid));
        for (const char *p = valid; *p; p = g_utf8_next_char(p)) {
                gunichar c = g_utf8_get_char(p);
                if (c == '\t' || c == '\n' || c == '\r')
                        g_string_append_c(out, ' ');
                else if (unichar_unsafe(c))
                        g_string_append_c(out, '?');
                else
                        g_string_append_unichar(out, c);
        }
        return g_string_free(out, FALSE);
}

size_t mig_display_width(const char *s) {
        size_t w = 0;

        if (!s)
                return 0;
        for (const char *p = s; *p; p = g_utf8_next_char(p)) {
                gunichar c = g_utf8_get_char(p);
                if (g_unichar_iszerowidth(c))
                        continue;
                w += g_unichar_iswide(c) ? 2 : 1;
        }
        return w;
}

char *mig_format_bytes(uint64_t bytes) {
        static const struct {
                const char *suffix;
                uint64_t factor;
        } units[] = {
                {"E", UINT64_C(1) << 60}, {"P", UINT64_C(1) << 50}, {"T", UINT64_C(1) << 40},
                {"G", UINT64_C(1) << 30}, {"M", UINT64_C(1) << 20}, {"K", UINT64_C(1) << 10},
        };

        for (size_t i = 0; i < G_N_ELEMENTS(units); i++)
                if (bytes >= units[i].factor)
                        return g_strdup_printf("%" PRIu64 ".%" PRIu64 "%s", bytes / units[i].factor,
                                               bytes / (units[i].factor / 10) % 10, units[i].suffix);
        return g_strdup_printf("%" PRIu64 "B", bytes);
}

int mig_parse_size(const char *text, uint64_t *ret) {
        static const struct {
                const char *suffix;
                unsigned shift;
        } units[] = {{"", 20},    {"K", 10},   {"M", 20},   {"G", 30},  {"T", 40},
                     {"KiB", 10}, {"MiB", 20}, {"GiB", 30}, {"TiB", 40}};
        char *end = NULL;
        if (!text || !g_ascii_isdigit(text[0]))
                return -EINVAL;
        guint64 n = g_ascii_strtoull(text, &end, 10);
        for (size_t i = 0; n > 0 && i < G_N_ELEMENTS(units); i++)
                if (strcmp(end, units[i].suffix) == 0 && n <= (UINT64_MAX >> units[i].shift)) {
                        *ret = n << units[i].shift;
                        return 0;
                }
        return -EINVAL;
}

static char *format_local_time(uint64_t usec, const char *format) {
        if (usec == 0)
                return NULL;

        g_autoptr(GDateTime) dt = g_date_time_new_from_unix_local((gint64) (usec / USEC_PER_SEC));
        if (!dt)
                return NULL;
        return g_date_time_format(dt, format);
}

char *mig_format_timestamp(uint64_t usec) {
        return format_local_time(usec, "%a %Y-%m-%d %H:%M:%S %Z");
}

char *mig_format_timestamp_short(uint64_t usec) {
        return format_local_time(usec, "%Y-%m-%d %H:%M:%S");
}

char *mig_format_relative(uint64_t usec, uint64_t now_usec) {
        if (usec == 0 || usec > now_usec)
                return NULL;

        uint64_t s = (now_usec - usec) / USEC_PER_SEC;
        if (s < 60)
                return g_strdup_printf("%" PRIu64 "s ago", s);
        if (s < 3600)
                return g_strdup_printf("%" PRIu64 "min ago", s / 60);
        if (s < 86400)
                return g_strdup_printf("%" PRIu64 "h %" PRIu64 "min ago", s / 3600, s % 3600 / 60);
        return g_strdup_printf("%" PRIu64 " day%s ago", s / 86400, s / 86400 == 1 ? "" : "s");
}

char *mig_format_progress_bar(double percent, size_t width) {
        if (!(percent >= 0.0)) /* also catches NaN */
                percent = 0.0;
        if (percent > 100.0)
                percent = 100.0;

        size_t filled = (size_t) (percent * (double) width / 100.0);
        GString *s = g_string_sized_new(width + 2);
        g_string_append_c(s, '[');
        for (size_t i = 0; i < width; i++)
                g_string_append_c(s, i < filled ? '#' : '.');
        g_string_append_c(s, ']');
        return g_string_free(s, FALSE);
}

uint64_t mig_now_usec(void) {
        return (uint64_t) g_get_real_time();
}

/* ---- tables ---- */

struct MigTable {
        size_t n_columns;
        char **headers;
        bool *right;
        GPtrArray *cells; /* row-major, n_columns per row */
};

MigTable *mig_table_new(const char *header, ...) {
        g_autoptr(GPtrArray) headers = g_ptr_array_new();
        va_list ap;

        va_start(ap, header);
        for (const char *h = header; h; h = va_arg(ap, const char *))
                g_ptr_array_add(headers, g_strdup(h));
        va_end(ap);
        g_ptr_array_add(headers, NULL);

        MigTable *t = g_new0(MigTable, 1);
        t->n_columns = headers->len - 1;
        t->headers = (char **) g_ptr_array_steal(headers, NULL);
        t->right = g_new0(bool, t->n_columns > 0 ? t->n_columns : 1);
        t->cells = g_ptr_array_new_with_free_func(g_free);
        return t;
}

void mig_table_free(MigTable *t) {
        if (!t)
                return;
        g_strfreev(t->headers);
        g_free(t->right);
        g_ptr_array_unref(t->cells);
        g_free(t);
}

void mig_table_set_right_aligned(MigTable *t, size_t column, bool right) {
        g_return_if_fail(column < t->n_columns);
        t->right[column] = right;
}

void mig_table_add_cell(MigTable *t, const char *text) {
        g_ptr_array_add(t->cells, mig_sanitize(text && text[0] ? text : "-"));
}

void mig_table_add_cellf(MigTable *t, const char *format, ...) {
        va_list ap;

        va_start(ap, format);
        g_autofree char *text = g_strdup_vprintf(format, ap);
        va_end(ap);
        mig_table_add_cell(t, text);
}

size_t mig_table_rows(const MigTable *t) {
        return t->n_columns > 0 ? t->cells->len / t->n_columns : 0;
}

static const char *table_cell(const MigTable *t, size_t row, size_t column, bool header) {
        if (header) {
                if (row == 0)
                        return t->headers[column];
                row--;
        }
        size_t i = row * t->n_columns + column;
        return i < t->cells->len ? t->cells->pdata[i] : "-";
}

static void append_padding(GString *s, size_t n) {
        for (size_t i = 0; i < n; i++)
                g_string_append_c(s, ' ');
}

char *mig_table_format(const MigTable *t, bool header) {
        size_t n_rows = mig_table_rows(t) + (header ? 1 : 0);
        g_autofree size_t *widths = g_new0(size_t, t->n_columns > 0 ? t->n_columns : 1);
        GString *out = g_string_new(NULL);

        for (size_t r = 0; r < n_rows; r++)
                for (size_t c = 0; c < t->n_columns; c++)
                        widths[c] = MAX(widths[c], mig_display_width(table_cell(t, r, c, header)));

        for (size_t r = 0; r < n_rows; r++) {
                for (size_t c = 0; c < t->n_columns; c++) {
                        const char *cell = table_cell(t, r, c, header);
                        size_t pad = widths[c] - mig_display_width(cell);
                        bool last = c + 1 == t->n_columns;

                        if (c > 0)
                                g_string_append(out, "  ");
                        if (t->right[c])
                                append_padding(out, pad);
                        g_string_append(out, cell);
                        if (!t->right[c] && !last)
                                append_padding(out, pad);
                }
                g_string_append_c(out, '\n');
        }
        return g_string_free(out, FALSE);
}

char *mig_legend(size_t n, const char *singular, const char *plural) {
        if (n == 0)
                return g_strdup_printf("No %s.", plural);
        return g_strdup_printf("%zu %s listed.", n, n == 1 ? singular : plural);
}

void mig_table_print(const MigTable *t, bool legend, const char *singular, const char *plural) {
        size_t n = mig_table_rows(t);

        if (n > 0) {
                g_autofree char *text = mig_table_format(t, legend);
                fputs(text, stdout);
        }
        if (legend) {
                g_autofree char *line = mig_legend(n, singular, plural);
                printf("%s%s\n", n > 0 ? "\n" : "", line);
        }
}

/* ---- "Key: value" blocks ---- */

void mig_print_field(const char *key, const char *value) {
        g_autofree char *clean = mig_sanitize(value && value[0] ? value : "-");
        printf("%*s: %s\n", MIG_FIELD_WIDTH, key, clean);
}

void mig_print_fieldf(const char *key, const char *format, ...) {
        va_list ap;

        va_start(ap, format);
        g_autofree char *text = g_strdup_vprintf(format, ap);
        va_end(ap);
        mig_print_field(key, text);
}

void mig_print_field_continued(const char *value) {
        g_autofree char *clean = mig_sanitize(value);
        printf("%*s  %s\n", MIG_FIELD_WIDTH, "", clean ? clean : "-");
}

/* ---- JSON ---- */

static int json_from_basic(sd_bus_message *m, char type, JsonNode **ret) {
        union {
                uint8_t y;
                int b;
                int16_t n;
                uint16_t q;
                int32_t i;
                uint32_t u;
                int64_t x;
                uint64_t t;
                double d;
                int h;
                const char *s;
        } v;
        int r;

        r = sd_bus_message_read_basic(m, type, &v);
        if (r < 0)
                return r;

        g_autoptr(JsonNode) node = json_node_alloc();
        switch (type) {
        case 'y':
                json_node_init_int(node, v.y);
                break;
        case 'b':
                json_node_init_boolean(node, v.b);
                break;
        case 'n':
                json_node_init_int(node, v.n);
                break;
        case 'q':
                json_node_init_int(node, v.q);
                break;
        case 'i':
                json_node_init_int(node, v.i);
                break;
        case 'u':
                json_node_init_int(node, v.u);
                break;
        case 'x':
                json_node_init_int(node, v.x);
                break;
        case 't':
                if (v.t > INT64_MAX)
                        json_node_init_double(node, (double) v.t);
                else
                        json_node_init_int(node, (int64_t) v.t);
                break;
        case 'd':
                json_node_init_double(node, v.d);
                break;
        case 's':
        case 'o':
        case 'g':
                json_node_init_string(node, v.s);
                break;
        case 'h':
                json_node_init_null(node);
                break;
        default:
                return -EBADMSG;
        }
        *ret = g_steal_pointer(&node);
        return 0;
}

/* Dictionary keys are basic types; JSON wants strings. */
static char *json_key_string(JsonNode *key) {
        switch (json_node_get_value_type(key)) {
        case G_TYPE_STRING:
                return g_strdup(json_node_get_string(key));
        case G_TYPE_BOOLEAN:
                return g_strdup(json_node_get_boolean(key) ? "true" : "false");
        case G_TYPE_DOUBLE:
                return g_strdup_printf("%g", json_node_get_double(key));
        default:
                return g_strdup_printf("%" G_GINT64_FORMAT, json_node_get_int(key));
        }
}

static int json_from_dict(sd_bus_message *m, const char *entry, const char *const *fields, JsonNode **ret) {
        g_autoptr(JsonObject) obj = json_object_new();
        int r;

        for (;;) {
                g_autoptr(JsonNode) key = NULL, value = NULL;

                r = sd_bus_message_enter_container(m, SD_BUS_TYPE_DICT_ENTRY, entry);
                if (r < 0)
                        return r;
                if (r == 0)
                        break;
                r = mig_json_from_message(m, fields, &key);
                if (r < 0)
                        return r;
                r = mig_json_from_message(m, fields, &value);
                if (r < 0)
                        return r;
                r = sd_bus_message_exit_container(m);
                if (r < 0)
                        return r;
                if (JSON_NODE_HOLDS_VALUE(key)) {
                        g_autofree char *k = json_key_string(key);
                        json_object_set_member(obj, k, g_steal_pointer(&value));
                }
        }

        *ret = json_node_init_object(json_node_alloc(), obj);
        return 0;
}

/* Reads values until the end of the current container. */
static int json_read_members(sd_bus_message *m, const char *const *fields, GPtrArray *nodes) {
        for (;;) {
                JsonNode *node = NULL;
                int r = sd_bus_message_peek_type(m, NULL, NULL);
                if (r < 0)
                        return r;
                if (r == 0)
                        return 0;
                r = mig_json_from_message(m, fields, &node);
                if (r < 0)
                        return r;
                g_ptr_array_add(nodes, node);
        }
}

static GPtrArray *json_node_list_new(void) {
        return g_ptr_array_new_with_free_func((GDestroyNotify) json_node_unref);
}

static JsonNode *json_node_list_to_array(GPtrArray *nodes) {
        g_autoptr(JsonArray) array = json_array_sized_new(nodes->len);

        for (size_t i = 0; i < nodes->len; i++)
                json_array_add_element(array, json_node_ref(nodes->pdata[i]));
        return json_node_init_array(json_node_alloc(), array);
}

static JsonNode *json_node_list_to_object(GPtrArray *nodes, const char *const *fields) {
        g_autoptr(JsonObject) obj = json_object_new();

        for (size_t i = 0; i < nodes->len; i++)
                json_object_set_member(obj, fields[i], json_node_ref(nodes->pdata[i]));
        return json_node_init_object(json_node_alloc(), obj);
}

static int json_from_array(sd_bus_message *m, const char *contents, const char *const *fields,
                           JsonNode **ret) {
        g_autoptr(JsonNode) result = NULL;
        int r;

        r = sd_bus_message_enter_container(m, SD_BUS_TYPE_ARRAY, contents);
        if (r < 0)
                return r;

        if (contents[0] == SD_BUS_TYPE_DICT_ENTRY_BEGIN) {
                /* "{sv}" → entry signature "sv" */
                size_t n = strlen(contents);
                if (n < 4)
                        return -EBADMSG;
                g_autofree char *entry = g_strndup(contents + 1, n - 2);
                r = json_from_dict(m, entry, fields, &result);
                if (r < 0)
                        return r;
        } else {
                g_autoptr(GPtrArray) nodes = json_node_list_new();
                r = json_read_members(m, fields, nodes);
                if (r < 0)
                        return r;
                result = json_node_list_to_array(nodes);
        }

        r = sd_bus_message_exit_container(m);
        if (r < 0)
                return r;
        *ret = g_steal_pointer(&result);
        return 0;
}

static int json_from_struct(sd_bus_message *m, const char *contents, const char *const *fields,
                            JsonNode **ret) {
        g_autoptr(GPtrArray) nodes = json_node_list_new();
        int r;

        r = sd_bus_message_enter_container(m, SD_BUS_TYPE_STRUCT, contents);
        if (r < 0)
                return r;
        r = json_read_members(m, fields, nodes);
        if (r < 0)
                return r;
        r = sd_bus_message_exit_container(m);
        if (r < 0)
                return r;

        if (fields && g_strv_length((char **) fields) == nodes->len)
                *ret = json_node_list_to_object(nodes, fields);
        else
                *ret = json_node_list_to_array(nodes);
        return 0;
}

static int json_from_variant(sd_bus_message *m, const char *contents, const char *const *fields,
                             JsonNode **ret) {
        g_autoptr(JsonNode) result = NULL;
        int r;

        r = sd_bus_message_enter_container(m, SD_BUS_TYPE_VARIANT, contents);
        if (r < 0)
                return r;
        r = mig_json_from_message(m, fields, &result);
        if (r < 0)
                return r;
        r = sd_bus_message_exit_container(m);
        if (r < 0)
                return r;
        *ret = g_steal_pointer(&result);
        return 0;
}

int mig_json_from_message(sd_bus_message *m, const char *const *struct_fields, JsonNode **ret) {
        const char *contents = NULL;
        char type = 0;
        int r;

        r = sd_bus_message_peek_type(m, &type, &contents);
        if (r < 0)
                return r;
        if (r == 0)
                return -ENXIO; /* nothing left to read */

        switch (type) {
        case SD_BUS_TYPE_ARRAY:
                return json_from_array(m, contents, struct_fields, ret);
        case SD_BUS_TYPE_STRUCT:
                return json_from_struct(m, contents, struct_fields, ret);
        case SD_BUS_TYPE_VARIANT:
                return json_from_variant(m, contents, struct_fields, ret);
        case SD_BUS_TYPE_DICT_ENTRY:
                return -EBADMSG; /* only inside arrays, handled there */
        default:
                return json_from_basic(m, type, ret);
        }
}

void mig_json_print(JsonNode *node, bool pretty) {
        g_autoptr(JsonGenerator) gen = json_generator_new();

        json_generator_set_pretty(gen, pretty);
        json_generator_set_root(gen, node);
        g_autofree char *text = json_generator_to_data(gen, NULL);
        printf("%s\n", text);
        fflush(stdout);
}

static JsonNode *json_value_member(JsonObject *o, const char *key) {
        JsonNode *n = o && key ? json_object_get_member(o, key) : NULL;
        return n && JSON_NODE_HOLDS_VALUE(n) ? n : NULL;
}

const char *mig_json_string(JsonObject *o, const char *key) {
        JsonNode *n = json_value_member(o, key);
        if (!n || json_node_get_value_type(n) != G_TYPE_STRING)
                return NULL;
        const char *s = json_node_get_string(n);
        return s && s[0] ? s : NULL;
}

bool mig_json_int(JsonObject *o, const char *key, int64_t *ret) {
        JsonNode *n = json_value_member(o, key);
        if (!n || json_node_get_value_type(n) != G_TYPE_INT64)
                return false;
        *ret = json_node_get_int(n);
        return true;
}

bool mig_json_uint(JsonObject *o, const char *key, uint64_t *ret) {
        JsonNode *n = json_value_member(o, key);
        if (!n)
                return false;
        if (json_node_get_value_type(n) == G_TYPE_INT64 && json_node_get_int(n) >= 0) {
                *ret = (uint64_t) json_node_get_int(n);
                return true;
        }
        if (json_node_get_value_type(n) == G_TYPE_DOUBLE && json_node_get_double(n) >= 0.0) {
                *ret = (uint64_t) json_node_get_double(n); /* only t above INT64_MAX is a double */
                return true;
        }
        return false;
}

bool mig_json_double(JsonObject *o, const char *key, double *ret) {
        JsonNode *n = json_value_member(o, key);
        if (!n)
                return false;
        if (json_node_get_value_type(n) == G_TYPE_DOUBLE)
                *ret = json_node_get_double(n);
        else if (json_node_get_value_type(n) == G_TYPE_INT64)
                *ret = (double) json_node_get_int(n);
        else
                return false;
        return true;
}

bool mig_json_bool(JsonObject *o, const char *key, bool *ret) {
        JsonNode *n = json_value_member(o, key);
        if (!n || json_node_get_value_type(n) != G_TYPE_BOOLEAN)
                return false;
        *ret = json_node_get_boolean(n);
        return true;
}

JsonObject *mig_json_array_object(JsonArray *a, guint i) {
        JsonNode *n = a && i < json_array_get_length(a) ? json_array_get_element(a, i) : NULL;
        return n && JSON_NODE_HOLDS_OBJECT(n) ? json_node_get_object(n) : NULL;
}

const char *mig_json_array_string(JsonArray *a, guint i) {
        JsonNode *n = a && i < json_array_get_length(a) ? json_array_get_element(a, i) : NULL;
        if (!n || !JSON_NODE_HOLDS_VALUE(n) || json_node_get_value_type(n) != G_TYPE_STRING)
                return NULL;
        return json_node_get_string(n);
}

char *mig_json_strv_join(JsonObject *o, const char *key, const char *sep) {
        JsonNode *n = o && key ? json_object_get_member(o, key) : NULL;
        if (!n || !JSON_NODE_HOLDS_ARRAY(n))
                return NULL;

        JsonArray *a = json_node_get_array(n);
        g_autoptr(GString) s = g_string_new(NULL);
        for (guint i = 0; i < json_array_get_length(a); i++) {
                const char *e = mig_json_array_string(a, i);
                if (!e)
                        continue;
                if (s->len > 0)
                        g_string_append(s, sep);
                g_string_append(s, e);
        }
        return s->len > 0 ? g_string_free(g_steal_pointer(&s), FALSE) : NULL;
}
