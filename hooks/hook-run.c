/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "hook-run.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-bus.h>
#include <time.h>
#include <unistd.h>

#include "buildconfig.h"
#include "macro.h"
#include "spool.h"

/* The whole run stays within these bounds even when the bus or the daemon hangs. */
#define BUS_BUDGET_USEC (8 * 1000)
#define SPOOL_BUDGET_USEC (20 * 1000)

static uint64_t now_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000u + (uint64_t) ts.tv_nsec / 1000u;
}

/* The environment overrides exist for tests and benchmarks; libvirtd passes none. */
static const char *state_dir(void) {
        const char *d = getenv("MIGRATED_STATE_DIR");
        return d && d[0] == '/' ? d : MIGRATED_STATE_DIR;
}

const char *hook_config_file(void) {
        const char *f = getenv("MIGRATED_CONFIG");
        return f && f[0] == '/' ? f : MIGRATED_CONF_FILE;
}

/* The XML on stdin, read to its end (libvirt must not block on a full pipe); *too_large
 * when it exceeds MIG_HOOK_XML_MAX: then nothing of it is used. */
static char *read_stdin(size_t *len, bool *too_large) {
        GString *s = g_string_new(NULL);
        char buf[65536];
        ssize_t n;
        *too_large = false;
        if (isatty(STDIN_FILENO)) /* run by hand: there is no XML */
                n = 0;
        else
                while ((n = read(STDIN_FILENO, buf, sizeof(buf))) > 0 || (n < 0 && errno == EINTR)) {
                        if (n > 0 && s->len + (size_t) n > MIG_HOOK_XML_MAX)
                                *too_large = true;
                        else if (n > 0)
                                g_string_append_len(s, buf, n);
                }
        if (*too_large)
                g_string_truncate(s, 0);
        *len = s->len;
        return g_string_free(s, FALSE);
}

static int on_reply(sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        *(int *) userdata = sd_bus_message_is_method_error(reply, NULL) ? -EIO : 1;
        return 0;
}

static int send_event(sd_bus *bus, const MigHookEvent *e, int *result) {
        g_autoptr(sd_bus_message) m = NULL;
        int r = sd_bus_message_new_method_call(bus, &m, MIG_BUS_NAME, MIG_BUS_PATH, MIG_IFACE_HOOK,
                                               "ReportEvent");
        if (r >= 0)
                r = sd_bus_message_set_auto_start(m, 0); /* a stopped daemon stays stopped */
        if (r >= 0)
                r = sd_bus_message_append(m, "stssssss", e->id, e->time_usec, e->domain, e->uuid,
                                          e->operation, e->sub_operation, e->extra, e->message);
        if (r >= 0)
                r = sd_bus_call_async(bus, NULL, m, on_reply, result, BUS_BUDGET_USEC);
        return r;
}

/* 1 when the daemon recorded the event before the deadline, else 0 or a negative errno. */
static int deliver_on_bus(const MigHookEvent *e, uint64_t deadline) {
        g_autoptr(sd_bus) bus = NULL;
        int result = 0;
        int r = sd_bus_open_system(&bus);
        if (r >= 0)
                r = send_event(bus, e, &result);
        while (r >= 0 && result == 0) {
                uint64_t now = now_usec();
                if (now >= deadline)
                        return 0;
                r = sd_bus_process(bus, NULL);
                if (r == 0)
                        r = sd_bus_wait(bus, deadline - now);
        }
        return r < 0 ? r : result;
}

static void deliver(const MigHookEvent *e, uint64_t start) {
        if (deliver_on_bus(e, start + BUS_BUDGET_USEC) > 0)
                return;
        g_autofree char *line = mig_hook_event_to_line(e);
        int r = mig_spool_append(state_dir(), line, now_usec() + SPOOL_BUDGET_USEC);
        if (r < 0)
                fprintf(stderr, "migrated-hook: could not keep the %s event of %s: %s\n", e->operation,
                        e->domain, strerror(-r));
}

int hook_run(int argc, char **argv, HookFilter filter) {
        uint64_t start = now_usec();
        size_t len = 0;
        bool too_large;
        g_autofree char *xml = read_stdin(&len, &too_large);
        g_autoptr(GError) err = NULL;
        g_autoptr(MigHookEvent) e = mig_hook_event_new(argc, argv, xml, len, &err);
        if (!e) {
                fprintf(stderr, "migrated-hook: %s\n", err->message);
                return EXIT_SUCCESS; /* not our business to stop libvirt */
        }
        bool allow = true;
        if (too_large) { /* recorded without its UUID; a domain to take in is refused */
                g_autofree char *why = g_strdup_printf(
                        "the domain XML of %s on stdin exceeds %u MiB: it was not read%s", e->domain,
                        MIG_HOOK_XML_MAX >> 20, filter ? "; the migration is refused" : "");
                fprintf(stderr, "migrated-hook: %s\n", why);
                mig_hook_event_set_message(e, why);
                allow = !filter;
        } else if (filter)
                allow = filter(e, xml, len); /* prints its reason when it refuses */
        deliver(e, start);
        return allow ? EXIT_SUCCESS : EXIT_FAILURE;
}
