/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The caps of base/polkit.c on checks waiting for polkit, on a private dbus-daemon: a
 * stand-in for polkitd holds every CheckAuthorization until the test lets it answer (a
 * caller whose agent never answers), and the callers are a child process that is not
 * root (root is never asked). Beyond a cap the call fails at once with LimitsExceeded;
 * the held checks, once answered, run their handlers as before and free their places. */

#include <errno.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <grp.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "macro.h"
#include "polkit.h"

#define ACTION "org.example.migrate1.migrate"

typedef struct Bench {
        GPid daemon_pid;
        char *dir;
        char *address;
        sd_event *event;
        sd_bus *service; /* the connection that plays our daemon */
        sd_bus *polkit;  /* the stand-in for polkitd */
        MigPolkit *checks;
        GPtrArray *held; /* CheckAuthorization calls not answered yet */
        unsigned refused, acted;
} Bench;

static void message_unref(gpointer m) {
        sd_bus_message_unref(m);
}

static int on_act(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Bench *b = userdata;
        int r = mig_polkit_check(b->checks, m, ACTION, NULL, false, error);
        if (r < 0 && sd_bus_error_has_name(error, MIG_POLKIT_ERROR_LIMITS))
                b->refused++;
        if (r <= 0)
                return r < 0 ? r : 1; /* 0: polkit was asked */
        b->acted++;
        return sd_bus_reply_method_return(m, NULL);
}

static int on_ping(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return sd_bus_reply_method_return(m, NULL);
}

static const sd_bus_vtable vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD("Act", "", "", on_act, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD("Ping", "", "", on_ping, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};

/* The stand-in for polkitd: keeps every CheckAuthorization, answers none by itself. */
static int on_polkit_call(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Bench *b = userdata;
        if (!sd_bus_message_is_method_call(m, "org.freedesktop.PolicyKit1.Authority", "CheckAuthorization"))
                return 0;
        g_ptr_array_add(b->held, sd_bus_message_ref(m));
        return 1;
}

static void answer_held(Bench *b) {
        for (guint i = 0; i < b->held->len; i++) {
                g_autoptr(sd_bus_message) reply = NULL;
                g_assert_cmpint(sd_bus_message_new_method_return(b->held->pdata[i], &reply), >=, 0);
                g_assert_cmpint(sd_bus_message_append(reply, "(bba{ss})", 1, 0, 0), >=, 0);
                g_assert_cmpint(sd_bus_send(b->polkit, reply, NULL), >=, 0);
        }
        g_ptr_array_set_size(b->held, 0);
}

static sd_bus *connect_to(const char *address) {
        sd_bus *bus = NULL;
        if (sd_bus_new(&bus) < 0 || sd_bus_set_address(bus, address) < 0 ||
            sd_bus_set_bus_client(bus, 1) < 0 || sd_bus_start(bus) < 0)
                return sd_bus_unref(bus);
        return bus;
}

static void die_with_test(gpointer userdata) {
        (void) prctl(PR_SET_PDEATHSIG, SIGTERM);
}

static bool bench_up(Bench *b) {
        g_autofree char *dbus = g_find_program_in_path("dbus-daemon");
        if (!dbus)
                return false;
        b->dir = g_dir_make_tmp("test-polkit-XXXXXX", NULL);
        g_assert_nonnull(b->dir);
        g_assert_cmpint(g_chmod(b->dir, 0755), ==, 0); /* the callers are not root */
        g_autofree char *conf = g_build_filename(b->dir, "bus.conf", NULL);
        g_autofree char *text = g_strdup_printf(
                "<busconfig><type>custom</type><listen>unix:path=%s/bus</listen><auth>EXTERNAL</auth>"
                "<policy context=\"default\"><allow user=\"*\"/><allow own=\"*\"/>"
                "<allow send_destination=\"*\" eavesdrop=\"true\"/><allow eavesdrop=\"true\"/></policy>"
                "</busconfig>",
                b->dir);
        g_assert_true(g_file_set_contents(conf, text, -1, NULL));
        g_autofree char *config_arg = g_strdup_printf("--config-file=%s", conf);
        const char *argv[] = {dbus, config_arg, "--nofork", "--print-address=1", NULL};
        /* Its output is not the test's, and it goes when the test does, however that ends. */
        int out = -1;
        g_autoptr(GError) e = NULL;
        if (!g_spawn_async_with_pipes(NULL, (char **) argv, NULL,
                                      G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDERR_TO_DEV_NULL, die_with_test,
                                      NULL, &b->daemon_pid, NULL, &out, NULL, &e))
                g_error("cannot start dbus-daemon: %s", e->message);
        GString *line = g_string_new("");
        char ch;
        while (read(out, &ch, 1) == 1 && ch != '\n')
                g_string_append_c(line, ch);
        close(out);
        b->address = g_string_free(line, FALSE);
        g_assert_true(g_str_has_prefix(b->address, "unix:"));

        g_assert_cmpint(sd_event_new(&b->event), >=, 0);
        b->service = connect_to(b->address);
        b->polkit = connect_to(b->address);
        g_assert_nonnull(b->service);
        g_assert_nonnull(b->polkit);
        g_assert_cmpint(sd_bus_add_object_vtable(b->service, NULL, "/test", "org.example.Test", vtable, b),
                        >=, 0);
        g_assert_cmpint(sd_bus_request_name(b->polkit, "org.freedesktop.PolicyKit1", 0), >=, 0);
        g_assert_cmpint(sd_bus_add_filter(b->polkit, NULL, on_polkit_call, b), >=, 0);
        g_assert_cmpint(sd_bus_attach_event(b->service, b->event, 0), >=, 0);
        g_assert_cmpint(sd_bus_attach_event(b->polkit, b->event, 0), >=, 0);
        b->checks = mig_polkit_new();
        b->held = g_ptr_array_new_with_free_func(message_unref);
        return true;
}

static void bench_down(Bench *b) {
        g_ptr_array_unref(b->held);
        mig_polkit_free(b->checks);
        sd_bus_flush_close_unref(b->service);
        sd_bus_flush_close_unref(b->polkit);
        sd_event_unref(b->event);
        kill(b->daemon_pid, SIGTERM);
        (void) waitpid(b->daemon_pid, NULL, 0);
        g_spawn_close_pid(b->daemon_pid);
        g_autofree char *socket = g_build_filename(b->dir, "bus", NULL);
        g_autofree char *conf = g_build_filename(b->dir, "bus.conf", NULL);
        (void) g_unlink(socket);
        (void) g_unlink(conf);
        (void) g_rmdir(b->dir);
        g_free(b->dir);
        g_free(b->address);
}

/* --- the callers: a child process, not root --- */

typedef struct Caller {
        unsigned ok, limited, other, answers;
        char *message; /* of the refusal */
} Caller;

static int on_result(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        Caller *c = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(reply);
        c->answers++;
        if (!e)
                c->ok++;
        else if (sd_bus_error_has_name(e, MIG_POLKIT_ERROR_LIMITS)) {
                c->limited++;
                c->message = g_strdup(e->message);
        } else {
                c->other++;
                g_printerr("unexpected answer: %s: %s\n", e->name, e->message);
        }
        return 0;
}

static void become_nobody(void) {
        if (geteuid() != 0)
                return;
        if (setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) < 0 ||
            setresuid(65534, 65534, 65534) < 0)
                _exit(90);
}

static void send_acts(sd_bus *bus, const char *service, unsigned n, Caller *c) {
        for (unsigned i = 0; i < n; i++)
                if (sd_bus_call_method_async(bus, NULL, service, "/test", "org.example.Test", "Act",
                                             on_result, c, "") < 0)
                        _exit(91);
}

static void run_until(sd_bus *a, sd_bus *b, Caller *ca, unsigned na, Caller *cb, unsigned nb) {
        gint64 end = g_get_monotonic_time() + 20 * G_USEC_PER_SEC;
        while ((ca->answers < na || (cb && cb->answers < nb)) && g_get_monotonic_time() < end) {
                int r = sd_bus_process(a, NULL);
                if (b && r == 0)
                        r = sd_bus_process(b, NULL);
                if (r == 0)
                        (void) sd_bus_wait(a, 10 * USEC_PER_MSEC);
        }
}

/* n calls from one caller; exits 0 when 8 went through and the ninth was refused at once. */
static void caller_one(const char *address, const char *service) {
        become_nobody();
        sd_bus *bus = connect_to(address);
        if (!bus)
                _exit(92);
        Caller c = {0};
        send_acts(bus, service, 9, &c);
        run_until(bus, NULL, &c, 9, NULL, 0);
        if (c.ok != 8 || c.limited != 1 || c.other != 0)
                _exit(100 + c.ok * 10 + c.limited);
        if (!strstr(c.message, "this caller") || !strstr(c.message, "at most 8"))
                _exit(93);
        _exit(0);
}

/* 8 calls from a first connection, then 3 from a second: the total cap (10) refuses the
 * last one, though its caller has only 2 waiting. */
static void caller_two(const char *address, const char *service) {
        become_nobody();
        sd_bus *one = connect_to(address), *two = connect_to(address);
        if (!one || !two)
                _exit(92);
        Caller c1 = {0}, c2 = {0};
        send_acts(one, service, 8, &c1);
        /* Answered after the 8 Acts were handled: they are all waiting for polkit now. */
        if (sd_bus_call_method(one, service, "/test", "org.example.Test", "Ping", NULL, NULL, "") < 0)
                _exit(94);
        send_acts(two, service, 3, &c2);
        run_until(one, two, &c1, 8, &c2, 3);
        if (c1.ok != 8 || c2.ok != 2 || c2.limited != 1 || c1.limited != 0)
                _exit(100 + c1.ok * 10 + c2.ok);
        if (!strstr(c2.message, "of all callers") || !strstr(c2.message, "at most 10"))
                _exit(93);
        _exit(0);
}

/* The parent: serve until the stand-in holds `hold` checks and one call was refused, check
 * the counts, let polkit answer, and wait for the child's verdict. */
static void serve(Bench *b, pid_t child, unsigned hold) {
        bool answered = false;
        int status = -1;
        gint64 end = g_get_monotonic_time() + 30 * G_USEC_PER_SEC;
        while (g_get_monotonic_time() < end) {
                (void) sd_event_run(b->event, 10 * USEC_PER_MSEC);
                if (!answered && b->held->len == hold && b->refused == 1) {
                        g_assert_cmpuint(mig_polkit_pending(b->checks), ==, hold);
                        g_assert_cmpuint(b->acted, ==, 0);
                        answer_held(b);
                        answered = true;
                }
                if (waitpid(child, &status, WNOHANG) == child)
                        break;
        }
        g_test_message("held %u, refused %u, acted %u, child status %d", b->held->len, b->refused, b->acted,
                       status);
        g_assert_true(answered);
        g_assert_true(WIFEXITED(status));
        g_assert_cmpint(WEXITSTATUS(status), ==, 0);
        for (int i = 0; i < 10 && mig_polkit_pending(b->checks) > 0; i++)
                (void) sd_event_run(b->event, 10 * USEC_PER_MSEC);
        g_assert_cmpuint(mig_polkit_pending(b->checks), ==, 0);
        g_assert_cmpuint(b->acted, ==, hold);
}

static void test_per_caller(void) {
        Bench b = {0};
        if (!bench_up(&b)) {
                g_test_skip("needs dbus-daemon");
                return;
        }
        const char *service = NULL;
        g_assert_cmpint(sd_bus_get_unique_name(b.service, &service), >=, 0);
        g_autofree char *name = g_strdup(service);
        pid_t child = fork();
        g_assert_cmpint(child, >=, 0);
        if (child == 0)
                caller_one(b.address, name);
        serve(&b, child, MIG_POLKIT_MAX_PER_CALLER);
        bench_down(&b);
}

static void test_total(void) {
        Bench b = {0};
        if (!bench_up(&b)) {
                g_test_skip("needs dbus-daemon");
                return;
        }
        mig_polkit_set_limits(b.checks, 8, 10);
        const char *service = NULL;
        g_assert_cmpint(sd_bus_get_unique_name(b.service, &service), >=, 0);
        g_autofree char *name = g_strdup(service);
        pid_t child = fork();
        g_assert_cmpint(child, >=, 0);
        if (child == 0)
                caller_two(b.address, name);
        serve(&b, child, 10);
        bench_down(&b);
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/polkit/cap-per-caller", test_per_caller);
        g_test_add_func("/polkit/cap-total", test_total);
        return g_test_run();
}
