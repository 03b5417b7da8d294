/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "hook-event.h"

#include <errno.h>
#include <string.h>

#include "id.h"
#include "validate.h"

#define HOOK_ERROR g_quark_from_static_string("migrated-hook-event")
#define LINE_MAGIC "M1"
#define LINE_FIELDS 8
#define CHECKSUM_LEN 16

void mig_hook_event_free(MigHookEvent *e) {
        if (!e)
                return;
        g_free(e->id);
        g_free(e->domain);
        g_free(e->uuid);
        g_free(e->operation);
        g_free(e->sub_operation);
        g_free(e->extra);
        g_free(e->message);
        g_free(e);
}

bool mig_hook_word_valid(const char *s) {
        size_t n = s ? strlen(s) : 0;
        if (n == 0 || n > 32)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!g_ascii_islower(s[i]) && s[i] != '-')
                        return false;
        return true;
}

/* GMarkup walk of the domain XML: the text of /domain/uuid. */
typedef struct UuidScan {
        int depth;
        bool in_domain, in_uuid;
        GString *text;
} UuidScan;

static void scan_start(GMarkupParseContext *ctx, const char *element, const char **names,
                       const char **values, gpointer data, GError **error) {
        UuidScan *u = data;
        u->depth++;
        if (u->depth == 1)
                u->in_domain = strcmp(element, "domain") == 0;
        u->in_uuid = u->in_domain && u->depth == 2 && strcmp(element, "uuid") == 0 && u->text->len == 0;
}

static void scan_end(GMarkupParseContext *ctx, const char *element, gpointer data, GError **error) {
        UuidScan *u = data;
        u->depth--;
        u->in_uuid = false;
}

static void scan_text(GMarkupParseContext *ctx, const char *text, gsize len, gpointer data, GError **error) {
        UuidScan *u = data;
        if (u->in_uuid && u->text->len + len <= 64)
                g_string_append_len(u->text, text, (gssize) len);
}

char *mig_hook_uuid_from_xml(const char *xml, size_t len) {
        static const GMarkupParser parser = {scan_start, scan_end, scan_text, NULL, NULL};
        if (!xml || len == 0 || len > MIG_HOOK_XML_MAX)
                return NULL;
        UuidScan u = {0, false, false, g_string_new(NULL)};
        GMarkupParseContext *ctx = g_markup_parse_context_new(&parser, 0, &u, NULL);
        bool ok = g_markup_parse_context_parse(ctx, xml, (gssize) len, NULL) &&
                  g_markup_parse_context_end_parse(ctx, NULL);
        g_markup_parse_context_free(ctx);
        g_autofree char *text = g_string_free(u.text, FALSE);
        g_autofree char *uuid = g_strstrip(g_ascii_strdown(text, -1));
        return ok && mig_uuid_valid(uuid) ? g_steal_pointer(&uuid) : NULL;
}

void mig_hook_event_set_message(MigHookEvent *e, const char *message) {
        static const char mark[] = "…";
        size_t len = strlen(message);
        g_free(e->message);
        if (len <= MIG_HOOK_MESSAGE_MAX) {
                e->message = g_strdup(message);
                return;
        }
        size_t keep = MIG_HOOK_MESSAGE_MAX - (sizeof(mark) - 1);
        while (keep > 0 && ((unsigned char) message[keep] & 0xC0) == 0x80) /* not inside a character */
                keep--;
        g_autofree char *head = g_strndup(message, keep);
        e->message = g_strconcat(head, mark, NULL);
}

MigHookEvent *mig_hook_event_make(const char *domain, const char *uuid, const char *operation,
                                  const char *sub_operation, const char *message) {
        MigHookEvent *e = g_new0(MigHookEvent, 1);
        *e = (MigHookEvent){mig_id_new(),        (uint64_t) g_get_real_time(),
                            g_strdup(domain),    g_strdup(uuid ? uuid : ""),
                            g_strdup(operation), g_strdup(sub_operation),
                            g_strdup("-"),       g_strdup(message ? message : "")};
        return e;
}

static bool arg_ok(const char *s, size_t max) {
        return s && strlen(s) <= max && g_utf8_validate(s, -1, NULL);
}

MigHookEvent *mig_hook_event_new(int argc, char *const *argv, const char *xml, size_t xml_len,
                                 GError **error) {
        if (argc < 3 || !arg_ok(argv[1], MIG_DOMAIN_NAME_MAX) || argv[1][0] == '\0' ||
            !mig_hook_word_valid(argv[2])) {
                g_set_error(error, HOOK_ERROR, EINVAL,
                            "Expected DOMAIN OPERATION [SUB-OPERATION [EXTRA]] as libvirt passes them.");
                return NULL;
        }
        const char *sub = argc > 3 ? argv[3] : "-", *extra = argc > 4 ? argv[4] : "-";
        if (!arg_ok(sub, MIG_HOOK_FIELD_MAX) || !arg_ok(extra, MIG_HOOK_FIELD_MAX)) {
                g_set_error(error, HOOK_ERROR, EINVAL,
                            "The sub-operation or extra argument is not usable text.");
                return NULL;
        }
        MigHookEvent *e = g_new0(MigHookEvent, 1);
        e->id = mig_id_new();
        e->time_usec = (uint64_t) g_get_real_time();
        e->domain = g_strdup(argv[1]);
        e->uuid = mig_hook_uuid_from_xml(xml, xml_len);
        if (!e->uuid)
                e->uuid = g_strdup("");
        e->operation = g_strdup(argv[2]);
        e->sub_operation = g_strdup(sub);
        e->extra = g_strdup(extra);
        e->message = g_strdup("");
        return e;
}

static bool id_valid(const char *s) {
        return mig_migration_id_valid(s); /* the same shape: 32 lower-case hex digits */
}

static char *line_checksum(const char *body, size_t len) {
        g_autofree char *sum = g_compute_checksum_for_data(G_CHECKSUM_SHA256, (const guchar *) body, len);
        return g_strndup(sum, CHECKSUM_LEN);
}

char *mig_hook_event_to_line(const MigHookEvent *e) {
        const char *fields[] = {e->domain, e->uuid, e->operation, e->sub_operation, e->extra, e->message};
        GString *s = g_string_new(LINE_MAGIC);
        g_string_append_printf(s, "\t%s\t%" G_GUINT64_FORMAT, e->id, e->time_usec);
        for (size_t i = 0; i < G_N_ELEMENTS(fields); i++) {
                g_autofree char *esc = g_strescape(fields[i] ? fields[i] : "", NULL);
                g_string_append_printf(s, "\t%s", esc);
        }
        g_autofree char *sum = line_checksum(s->str, s->len);
        g_string_append_printf(s, "\t%s\n", sum);
        return g_string_free(s, FALSE);
}

bool mig_hook_event_valid(const MigHookEvent *e) {
        return id_valid(e->id) && e->time_usec > 0 && e->time_usec <= G_MAXINT64 &&
               arg_ok(e->domain, MIG_DOMAIN_NAME_MAX) && e->domain[0] != '\0' && e->uuid &&
               (e->uuid[0] == '\0' || mig_uuid_valid(e->uuid)) && mig_hook_word_valid(e->operation) &&
               arg_ok(e->sub_operation, MIG_HOOK_FIELD_MAX) && arg_ok(e->extra, MIG_HOOK_FIELD_MAX) &&
               arg_ok(e->message, MIG_HOOK_MESSAGE_MAX);
}

static MigHookEvent *event_from_fields(char **f, GError **error) {
        guint64 t;
        if (!id_valid(f[1]) || !g_ascii_string_to_unsigned(f[2], 10, 1, G_MAXINT64, &t, NULL)) {
                g_set_error(error, HOOK_ERROR, EBADMSG, "Bad event id or time.");
                return NULL;
        }
        g_autoptr(MigHookEvent) e = g_new0(MigHookEvent, 1);
        e->id = g_strdup(f[1]);
        e->time_usec = t;
        char **dst[] = {&e->domain, &e->uuid, &e->operation, &e->sub_operation, &e->extra, &e->message};
        for (size_t i = 0; i < G_N_ELEMENTS(dst); i++) {
                *dst[i] = g_strcompress(f[3 + i]);
                if (!g_utf8_validate(*dst[i], -1, NULL)) {
                        g_set_error(error, HOOK_ERROR, EBADMSG, "A field is not UTF-8.");
                        return NULL;
                }
        }
        if (!mig_hook_event_valid(e)) {
                g_set_error(error, HOOK_ERROR, EBADMSG, "Bad domain, UUID, operation or field size.");
                return NULL;
        }
        return g_steal_pointer(&e);
}

MigHookEvent *mig_hook_event_from_line(const char *line, size_t len, GError **error) {
        if (len < CHECKSUM_LEN + 2 || memchr(line, '\0', len) || memchr(line, '\n', len)) {
                g_set_error(error, HOOK_ERROR, EBADMSG, "Not a spool line.");
                return NULL;
        }
        size_t body = len - CHECKSUM_LEN - 1;
        g_autofree char *sum = line_checksum(line, body);
        if (line[body] != '\t' || memcmp(line + body + 1, sum, CHECKSUM_LEN) != 0) {
                g_set_error(error, HOOK_ERROR, EBADMSG, "The line fails its checksum.");
                return NULL;
        }
        g_autofree char *copy = g_strndup(line, body);
        g_auto(GStrv) f = g_strsplit(copy, "\t", -1);
        if (g_strv_length(f) != LINE_FIELDS + 1 || strcmp(f[0], LINE_MAGIC) != 0) {
                g_set_error(error, HOOK_ERROR, EBADMSG, "The line has the wrong number of fields.");
                return NULL;
        }
        g_autoptr(MigHookEvent) e = event_from_fields(f, error);
        /* Only the writer's own form: a number with leading zeros or an escape it would not
         * write passes the checksum (anyone can compute it) but is not one of our lines. */
        g_autofree char *again = e ? mig_hook_event_to_line(e) : NULL;
        if (again && (strlen(again) != len + 1 || memcmp(again, line, len) != 0)) {
                g_set_error(error, HOOK_ERROR, EBADMSG, "The line is not in the spool's own form.");
                return NULL;
        }
        return g_steal_pointer(&e);
}

GPtrArray *mig_hook_spool_parse(const char *data, size_t len, unsigned *bad) {
        GPtrArray *events = g_ptr_array_new_with_free_func((GDestroyNotify) mig_hook_event_free);
        *bad = 0;
        size_t pos = 0;
        while (pos < len) {
                const char *nl = memchr(data + pos, '\n', len - pos);
                size_t n = nl ? (size_t) (nl - (data + pos)) : len - pos;
                MigHookEvent *e = nl ? mig_hook_event_from_line(data + pos, n, NULL) : NULL;
                if (e)
                        g_ptr_array_add(events, e);
                else if (n > 0 || !nl)
                        (*bad)++;
                pos += n + 1;
        }
        return events;
}
