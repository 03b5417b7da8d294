/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Everything migratectl prints: aligned tables with a legend, "Key: value" blocks, the one
 * conversion of bus messages into JSON, and human-readable sizes, times and progress bars. */

#include <json-glib/json-glib.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <systemd/sd-bus.h>

/* ---- tables ---- */

typedef struct MigTable MigTable;

/* A table with the given column headers (NULL-terminated). */
MigTable *mig_table_new(const char *header, ...) G_GNUC_NULL_TERMINATED;
void mig_table_free(MigTable *t);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MigTable, mig_table_free)

void mig_table_set_right_aligned(MigTable *t, size_t column, bool right);
/* Appends one cell; a row is complete when every column has one. NULL or "" prints "-".
 * Text is sanitized (control characters replaced). */
void mig_table_add_cell(MigTable *t, const char *text);
void mig_table_add_cellf(MigTable *t, const char *format, ...) G_GNUC_PRINTF(2, 3);
size_t mig_table_rows(const MigTable *t);
/* The table as text, one line per row, columns separated by two spaces, no trailing blanks. */
char *mig_table_format(const MigTable *t, bool header);
/* Prints the table, then (if legend) an empty line and the legend; with no rows only the
 * legend's "No ..." line. singular/plural name the rows: "migration", "migrations". */
void mig_table_print(const MigTable *t, bool legend, const char *singular, const char *plural);
/* "3 migrations listed.", "1 host listed.", "No domains." */
char *mig_legend(size_t n, const char *singular, const char *plural);

/* ---- "Key: value" blocks (systemctl status style) ---- */

#define MIG_FIELD_WIDTH 12
/* "      Status: running"; NULL or "" prints "-". value is sanitized. */
void mig_print_field(const char *key, const char *value);
void mig_print_fieldf(const char *key, const char *format, ...) G_GNUC_PRINTF(2, 3);
/* A further value of the previous key, aligned under it. */
void mig_print_field_continued(const char *value);

/* ---- JSON ---- */

/* Reads the next complete value of m and converts it: s/o/g → string, b → bool, integers → int
 * (t above INT64_MAX → double), d → double, h → null, arrays → array, a{..} → object (keys as
 * strings), v → its content, structures → array, or object when struct_fields names each member
 * (e.g. {"usec", "status", "message"} for a(tss) events). Leaves m after the value. */
int mig_json_from_message(sd_bus_message *m, const char *const *struct_fields, JsonNode **ret);
/* Prints the node with json_generator, pretty or as one line, followed by a newline. */
void mig_json_print(JsonNode *node, bool pretty);

/* Members of converted a{sv}; missing keys and wrong types give NULL/false. Empty strings are
 * treated as missing, so that tables print "-". */
const char *mig_json_string(JsonObject *o, const char *key);
bool mig_json_int(JsonObject *o, const char *key, int64_t *ret);
bool mig_json_uint(JsonObject *o, const char *key, uint64_t *ret);
bool mig_json_double(JsonObject *o, const char *key, double *ret);
bool mig_json_bool(JsonObject *o, const char *key, bool *ret);
/* Element i of an array when it is an object / a string; NULL otherwise. */
JsonObject *mig_json_array_object(JsonArray *a, guint i);
const char *mig_json_array_string(JsonArray *a, guint i);
/* The strings of an array member joined with sep, NULL when missing or empty. */
char *mig_json_strv_join(JsonObject *o, const char *key, const char *sep);

/* ---- formatting ---- */

/* Control characters (and bidi/format characters) replaced, invalid UTF-8 repaired: safe to
 * print whatever a daemon or a user sent. NULL stays NULL. */
char *mig_sanitize(const char *s);
/* Terminal columns the UTF-8 string takes. */
size_t mig_display_width(const char *s);
/* 1024-based with one decimal, like systemd: "512B", "1.5K", "16.0G". */
char *mig_format_bytes(uint64_t bytes);
/* "512" (MiB), "512M", "2G", "1048576K", "1T" (binary units, MiB/GiB spelled out too) into
 * bytes; -EINVAL for anything else or zero. */
int mig_parse_size(const char *text, uint64_t *ret);
/* "Thu 2024-05-02 14:03:11 CEST" (local time); NULL when usec is 0. */
char *mig_format_timestamp(uint64_t usec);
/* "2024-05-02 14:03:11" (local time); NULL when usec is 0. */
char *mig_format_timestamp_short(uint64_t usec);
/* "5s ago", "3min ago", "2h 5min ago", "4 days ago"; NULL when usec is 0 or in the future. */
char *mig_format_relative(uint64_t usec, uint64_t now_usec);
/* "[#####...............]" for 0..100 percent, width inner characters. */
char *mig_format_progress_bar(double percent, size_t width);
/* The current wall-clock time in microseconds. */
uint64_t mig_now_usec(void);
