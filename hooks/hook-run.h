/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* One run of the hook: read the XML from stdin, make the event, optionally filter it
 * (the "migrate" rewrite), deliver it to the daemon on the bus within a few
 * milliseconds or else append it to the spool, and return the exit status. */

#include <stdbool.h>
#include <stddef.h>

#include "hook-event.h"

/* Called with the event and the XML before delivery; returns false to refuse the
 * operation (e->message says why). May print the rewritten XML on stdout. */
typedef bool (*HookFilter)(MigHookEvent *e, const char *xml, size_t len);

int hook_run(int argc, char **argv, HookFilter filter);
/* The config file the hook reads (MIGRATED_CONFIG overrides it in tests). */
const char *hook_config_file(void);
