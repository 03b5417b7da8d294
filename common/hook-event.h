/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* One domain event as libvirt's hook reports it, and its durable form: a line of the
 * hook spool (/var/lib/migrated/hook-spool), written by the hook when the daemon
 * cannot take the event and read by the daemon when it starts.
 *
 * A spool line is "M1" and eight tab-separated fields, each escaped with
 * g_strescape (so no field holds a tab or a newline), then the first 16 hex digits
 * of the SHA-256 of everything before it, then '\n':
 *   M1 ID TIME_USEC DOMAIN UUID OPERATION SUB_OPERATION EXTRA MESSAGE CHECKSUM
 * A line that is cut short (a crash while appending) or altered fails its checksum
 * and is skipped, never half-read. */

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MIG_HOOK_FIELD_MAX 256      /* operation, sub-operation, extra argument */
#define MIG_HOOK_MESSAGE_MAX 1024   /* the hook's own note (why it refused a migration) */
#define MIG_HOOK_XML_MAX (4u << 20) /* the domain XML libvirt writes to the hook's stdin */
/* How the hook's refusal of an incoming migration starts (libvirt passes it on). */
#define MIG_HOOK_REFUSAL "migrated refused the incoming migration"
#define MIG_SPOOL_MAX_BYTES (4u << 20) /* the spool never grows beyond this */

typedef struct MigHookEvent {
        char *id; /* 32 hex digits, made by the hook: the daemon records each id once */
        uint64_t time_usec;
        char *domain;    /* as libvirt names it (not necessarily a valid migratectl name) */
        char *uuid;      /* from the XML, "" when it had none */
        char *operation; /* prepare, start, started, stopped, release, migrate, restore, ... */
        char *sub_operation;
        char *extra;
        char *message; /* "" or the hook's note */
} MigHookEvent;

void mig_hook_event_free(MigHookEvent *e);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MigHookEvent, mig_hook_event_free)

/* True for the operations and sub-operations libvirt's QEMU hook passes: lower-case
 * letters and '-', 1..32 bytes (a newer libvirt may add operations; they are kept). */
bool mig_hook_word_valid(const char *s);
/* Every field present, of the right shape and size (what the daemon accepts). */
bool mig_hook_event_valid(const MigHookEvent *e);
/* The domain's <uuid> from its XML, lower-cased, or NULL when there is none. */
char *mig_hook_uuid_from_xml(const char *xml, size_t len);

/* The event of one hook run: argv as libvirt passes it (DOMAIN OPERATION SUB-OPERATION
 * EXTRA) and the XML from stdin. NULL with error set when the arguments are unusable. */
MigHookEvent *mig_hook_event_new(int argc, char *const *argv, const char *xml, size_t xml_len,
                                 GError **error);

/* An event the daemon itself observed (libvirt's lifecycle events, its own findings):
 * a fresh id, the time now, extra "-". */
/* Sets the event's message, cut to MIG_HOOK_MESSAGE_MAX bytes (at a character, ending in
 * "…") so that a long reason is kept rather than the whole event refused. */
void mig_hook_event_set_message(MigHookEvent *e, const char *message);
MigHookEvent *mig_hook_event_make(const char *domain, const char *uuid, const char *operation,
                                  const char *sub_operation, const char *message);

/* One spool line, '\n' included. */
char *mig_hook_event_to_line(const MigHookEvent *e);
/* The event of one spool line (without its '\n'); NULL with error set when the line is
 * malformed or fails its checksum. */
MigHookEvent *mig_hook_event_from_line(const char *line, size_t len, GError **error);
/* Every intact line of a spool file's contents (MigHookEvent*); *bad counts the lines
 * skipped. A last line without '\n' (an append cut short) counts as bad. */
GPtrArray *mig_hook_spool_parse(const char *data, size_t len, unsigned *bad);
