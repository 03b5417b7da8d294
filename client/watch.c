/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* watch, and migrate --wait: follow a migration object's PropertiesChanged until its Status ends
 * the watch (final, or waiting for an operator), drawing a progress line (redrawn in place on a
 * terminal, one line per change otherwise, one JSON object per change with --json), and print
 * each step the daemon records (EventAdded) as it happens. */

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <systemd/sd-event.h>
#include <unistd.h>

#include "bus.h"
#include "errors.h"
#include "log.h"
#include "output.h"
#include "resolve.h"
#include "status.h"
#include "validate.h"
#include "verbs.h"

#define PROGRESS_BAR_WIDTH 20

typedef struct Watch {
        MigCtl *ctl;
        sd_bus *bus;
        sd_event *event;
        const char *path;
        sd_bus_slot *slots[4];
        JsonObject *state; /* property name → value, merged from every change */
        char *last_line;
        bool tty;
        bool line_open; /* a progress line without its newline is on the terminal */
        bool done;
        int result;
} Watch;

static void watch_done(Watch *w) {
        for (size_t i = 0; i < G_N_ELEMENTS(w->slots); i++)
                w->slots[i] = sd_bus_slot_unref(w->slots[i]);
        g_clear_pointer(&w->state, json_object_unref);
        g_clear_pointer(&w->last_line, g_free);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(Watch, watch_done)

static void watch_end_line(Watch *w) {
        if (!w->line_open)
                return;
        putchar('\n');
        fflush(stdout);
        w->line_open = false;
}

static void watch_stop(Watch *w, int result) {
        if (w->done)
                return;
        watch_end_line(w);
        w->done = true;
        w->result = result;
        if (w->event)
                (void) sd_event_exit(w->event, result < 0 ? result : 0);
}

/* ---- drawing ---- */

/* A live migration's convergence: the throttle auto-converge holds and the escalation step. */
static void append_convergence(GString *line, JsonObject *s) {
        uint64_t throttle = 0;
        const char *step = mig_json_string(s, "Step");
        if (mig_json_uint(s, "Throttle", &throttle) && throttle)
                g_string_append_printf(line, "  throttle %" PRIu64 "%%", throttle);
        if (step && *step)
                g_string_append_printf(line, "  step %s", step);
}

static char *watch_progress_line(JsonObject *s) {
        const char *status = mig_json_string(s, "Status"), *task = mig_json_string(s, "TaskState");
        uint64_t done = 0, total = 0;
        double progress = 0;

        (void) mig_json_double(s, "Progress", &progress);
        g_autofree char *bar = mig_format_progress_bar(progress, PROGRESS_BAR_WIDTH);
        GString *line = g_string_new(NULL);
        g_string_append_printf(line, "%s %3d%%  %s", bar, (int) CLAMP(progress, 0.0, 100.0),
                               status ? status : "-");
        if (task)
                g_string_append_printf(line, "  %s", task);
        if (mig_json_uint(s, "BytesProcessed", &done) && mig_json_uint(s, "BytesTotal", &total) &&
            total > 0) {
                g_autofree char *d = mig_format_bytes(done), *t = mig_format_bytes(total);
                g_string_append_printf(line, "  %s/%s", d, t);
        }
        append_convergence(line, s);
        g_autofree char *raw = g_string_free(line, FALSE);
        return mig_sanitize(raw);
}

static char *watch_json_line(JsonObject *s) {
        g_autoptr(JsonNode) node = json_node_init_object(json_node_alloc(), s);
        g_autoptr(JsonGenerator) gen = json_generator_new();

        json_generator_set_root(gen, node);
        return json_generator_to_data(gen, NULL);
}

static void watch_draw(Watch *w) {
        g_autofree char *line = w->ctl->json ? watch_json_line(w->state) : watch_progress_line(w->state);
        bool changed = !w->last_line || strcmp(line, w->last_line) != 0;

        if (w->tty && !w->ctl->json) {
                printf("\r%s\033[K", line);
                w->line_open = true;
        } else if (changed)
                printf("%s\n", line);
        fflush(stdout);
        g_free(w->last_line);
        w->last_line = g_steal_pointer(&line);
}

/* ---- the end ---- */

static int watch_result(Watch *w, const char *status) {
        const char *id = mig_json_string(w->state, "Id"), *domain = mig_json_string(w->state, "DomainName");
        const char *kind = mig_json_string(w->state, "Kind");

        if (!id)
                id = w->path;
        if (!domain)
                domain = "-";

        if (mig_status_is_success(status)) {
                if (w->ctl->json)
                        return 0;
                g_autofree char *clean_id = mig_sanitize(id), *clean_domain = mig_sanitize(domain);
                printf("Migration %s of %s %s.\n", clean_id, clean_domain, status);
                if (mig_status_waits_for_operator(status) && (!kind || strcmp(kind, "live") != 0))
                        printf("The domain waits in VERIFY_RESIZE on the destination: '%s confirm %s' keeps "
                               "it "
                               "there and removes the source's copy, '%s revert %s' moves it back.\n",
                               MIG_PROGRAM, clean_domain, MIG_PROGRAM, clean_domain);
                return 0;
        }

        const char *error_name = mig_json_string(w->state, "ErrorName");
        const char *message = mig_json_string(w->state, "ErrorMessage");
        int code = error_name ? mig_error_exit_code(error_name) : MIG_EXIT_FAILURE;
        return log_failure(code, "Migration %s of %s ended in status '%s'%s%s", id, domain, status,
                           message ? ": " : ".", message ? message : "");
}

static void watch_update(Watch *w) {
        const char *status = mig_json_string(w->state, "Status");

        watch_draw(w);
        if (mig_status_ends_watch(status)) {
                watch_end_line(w);
                watch_stop(w, watch_result(w, status));
        }
}

/* ---- events ---- */

static int watch_refresh(Watch *w) {
        g_autoptr(JsonObject) state = NULL;
        int r;

        r = mig_get_all_properties(w->ctl, w->path, MIG_IFACE_MIGRATION, &state);
        if (r < 0)
                return r;
        g_clear_pointer(&w->state, json_object_unref);
        w->state = g_steal_pointer(&state);
        return 0;
}

static void watch_merge(Watch *w, JsonObject *changed) {
        JsonObjectIter iter;
        const char *name;
        JsonNode *value;

        json_object_iter_init(&iter, changed);
        while (json_object_iter_next(&iter, &name, &value))
                json_object_set_member(w->state, name, json_node_copy(value));
}

static int on_properties_changed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        g_autoptr(JsonNode) changed = NULL, invalidated = NULL;
        Watch *w = userdata;
        const char *interface;
        int r;

        r = sd_bus_message_read(m, "s", &interface);
        if (r < 0 || strcmp(interface, MIG_IFACE_MIGRATION) != 0)
                return 0;
        if (mig_json_from_message(m, NULL, &changed) < 0 || !JSON_NODE_HOLDS_OBJECT(changed) ||
            mig_json_from_message(m, NULL, &invalidated) < 0 || !JSON_NODE_HOLDS_ARRAY(invalidated)) {
                watch_stop(w, log_parse_error(-EBADMSG));
                return 0;
        }

        watch_merge(w, json_node_get_object(changed));
        if (json_array_get_length(json_node_get_array(invalidated)) > 0) {
                r = watch_refresh(w);
                if (r < 0) {
                        watch_stop(w, r);
                        return 0;
                }
        }
        watch_update(w);
        return 0;
}

/* Each step as the daemon records it (EventAdded comes before the PropertiesChanged of the
 * same step): one line above the progress line. Not in JSON, whose lines are the states. */
static int on_event_added(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        const char *status, *message;
        Watch *w = userdata;
        uint64_t usec;

        if (w->ctl->json || sd_bus_message_read(m, "tss", &usec, &status, &message) < 0)
                return 0;
        g_autofree char *when = mig_format_timestamp_short(usec);
        g_autofree char *line = g_strdup_printf("%s  %s  %s", when ? when : "-", status, message);
        g_autofree char *clean = mig_sanitize(line);
        watch_end_line(w); /* on a terminal the progress line is drawn again below it */
        printf("%s\n", clean);
        fflush(stdout);
        return 0;
}

static int on_name_owner_changed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        const char *name, *old_owner, *new_owner;
        Watch *w = userdata;
        int r;

        r = sd_bus_message_read(m, "sss", &name, &old_owner, &new_owner);
        if (r < 0 || strcmp(name, MIG_BUS_NAME) != 0)
                return 0;

        /* The daemon restarted or went away: changes may have been missed. Asking again
         * brings it back through D-Bus activation, with its state rebuilt from its database. */
        r = watch_refresh(w);
        if (r < 0) {
                watch_stop(w, r);
                return 0;
        }
        watch_update(w);
        return 0;
}

static int on_disconnected(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Watch *w = userdata;

        watch_end_line(w);
        if (w->ctl->remote)
                watch_stop(w, log_failure(MIG_EXIT_PEER_UNREACHABLE, "Lost the connection to %s.",
                                          w->ctl->remote));
        else
                watch_stop(w, log_failure(MIG_EXIT_FAILURE, "Lost the connection to the system bus."));
        return 0;
}

static int on_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Watch *w = userdata;
        int sig = (int) si->ssi_signo;
        sigset_t set;

        /* Leave the terminal tidy, then die of the signal as the shell expects. The migration
         * itself goes on. */
        watch_end_line(w);
        (void) signal(sig, SIG_DFL);
        (void) raise(sig);
        sigemptyset(&set);
        sigaddset(&set, sig);
        (void) sigprocmask(SIG_UNBLOCK, &set, NULL);
        watch_stop(w, -EINTR);
        return 0;
}

/* ---- setup ---- */

static int watch_subscribe(Watch *w) {
        int r;

        /* Matches first, then the initial state: nothing can fall between the two. */
        r = sd_bus_match_signal(w->bus, &w->slots[0], MIG_BUS_NAME, w->path,
                                "org.freedesktop.DBus.Properties", "PropertiesChanged",
                                on_properties_changed, w);
        if (r < 0)
                return log_error_errno(r, "Failed to subscribe to changes of %s: %m", w->path);
        r = sd_bus_match_signal(w->bus, &w->slots[3], MIG_BUS_NAME, w->path, MIG_IFACE_MIGRATION,
                                "EventAdded", on_event_added, w);
        if (r < 0)
                return log_error_errno(r, "Failed to subscribe to the steps of %s: %m", w->path);
        r = sd_bus_add_match(w->bus, &w->slots[1],
                             "type='signal',sender='org.freedesktop.DBus',path='/org/freedesktop/DBus',"
                             "interface='org.freedesktop.DBus',member='NameOwnerChanged',arg0='" MIG_BUS_NAME
                             "'",
                             on_name_owner_changed, w);
        if (r < 0)
                return log_error_errno(r, "Failed to subscribe to the daemon's restarts: %m");
        r = sd_bus_match_signal(w->bus, &w->slots[2], NULL, "/org/freedesktop/DBus/Local",
                                "org.freedesktop.DBus.Local", "Disconnected", on_disconnected, w);
        if (r < 0)
                return log_error_errno(r, "Failed to watch the bus connection: %m");
        return 0;
}

static int watch_setup_event(Watch *w, sd_event **ret) {
        g_autoptr(sd_event) event = NULL;
        int r;

        r = sd_event_new(&event);
        if (r < 0)
                return log_error_errno(r, "Failed to create an event loop: %m");
        r = sd_event_add_signal(event, NULL, SIGINT | SD_EVENT_SIGNAL_PROCMASK, on_signal, w);
        if (r >= 0)
                r = sd_event_add_signal(event, NULL, SIGTERM | SD_EVENT_SIGNAL_PROCMASK, on_signal, w);
        if (r < 0)
                return log_error_errno(r, "Failed to handle signals: %m");
        r = sd_bus_attach_event(w->bus, event, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0)
                return log_error_errno(r, "Failed to attach the bus to the event loop: %m");
        (void) sd_bus_set_exit_on_disconnect(w->bus, false);
        *ret = g_steal_pointer(&event);
        return 0;
}

int mig_watch_migration(MigCtl *ctl, const char *path) {
        g_auto(Watch) w = {
                .ctl = ctl,
                .path = path,
                .tty = isatty(STDOUT_FILENO),
        };
        g_autoptr(sd_event) event = NULL;
        int r;

        r = mig_bus_get(ctl, &w.bus);
        if (r < 0)
                return r;
        r = watch_subscribe(&w);
        if (r < 0)
                return r;
        r = watch_refresh(&w);
        if (r < 0)
                return r;
        watch_update(&w);
        if (w.done)
                return w.result;

        r = watch_setup_event(&w, &event);
        if (r < 0)
                return r;
        w.event = event;
        r = sd_event_loop(event);
        (void) sd_bus_detach_event(w.bus);
        if (w.done)
                return w.result;
        return r < 0 ? log_error_errno(r, "Failed to run the event loop: %m") : 0;
}

int verb_watch(MigCtl *ctl, int argc, char **argv) {
        g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
        g_autofree char *path = NULL;
        int r;

        r = mig_check_migration_ref(argv[1]);
        if (r < 0)
                return r;
        r = mig_resolve_migration(ctl, argv[1], &error, &path);
        if (r < 0 && sd_bus_error_has_name(&error, MIG_ERROR_NOT_FOUND) && mig_node_name_valid(argv[1]))
                return mig_watch_evacuation(ctl,
                                            argv[1]); /* no migration of that name: a node's evacuation */
        if (r < 0)
                return mig_log_call_error(ctl, "GetMigration", &error, r);
        return mig_watch_migration(ctl, path);
}
