/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define _GNU_SOURCE 1 /* pipe2() */

#include "bus.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "errors.h"
#include "log.h"
#include "output.h"

#ifndef MIG_PKTTYAGENT
#define MIG_PKTTYAGENT "/usr/bin/pkttyagent"
#endif

/* ---- connection ---- */

int mig_bus_get(MigCtl *ctl, sd_bus **ret) {
        g_autoptr(sd_bus) bus = NULL;
        int r;

        if (ctl->bus) {
                *ret = ctl->bus;
                return 0;
        }

        if (ctl->remote)
                r = sd_bus_open_system_remote(&bus, ctl->remote);
        else
                r = sd_bus_default_system(&bus);
        if (r < 0) {
                if (ctl->remote)
                        return log_failure(MIG_EXIT_PEER_UNREACHABLE, "Failed to connect to %s: %s",
                                           ctl->remote, g_strerror(-r));
                return log_error_errno(r, "Failed to connect to the system bus: %m");
        }

        r = sd_bus_set_allow_interactive_authorization(bus, ctl->ask_password);
        if (r < 0)
                return log_error_errno(r, "Failed to set interactive authorization: %m");

        *ret = ctl->bus = g_steal_pointer(&bus);
        return 0;
}

void mig_ctl_done(MigCtl *ctl) {
        g_clear_pointer(&ctl->bus, sd_bus_flush_close_unref);
        mig_polkit_agent_close();
}

/* ---- calls ---- */

int mig_message_new(MigCtl *ctl, const char *path, const char *interface, const char *method,
                    sd_bus_message **ret) {
        sd_bus *bus = NULL;
        int r;

        r = mig_bus_get(ctl, &bus);
        if (r < 0)
                return r;
        r = sd_bus_message_new_method_call(bus, ret, MIG_BUS_NAME, path ? path : MIG_BUS_PATH, interface,
                                           method);
        if (r < 0)
                return log_error_errno(r, "Failed to create %s call: %m", method);
        return 0;
}

int mig_call_message_try(MigCtl *ctl, MigCallFlags flags, sd_bus_message *m, sd_bus_error *ret_error,
                         sd_bus_message **ret_reply) {
        sd_bus *bus = sd_bus_message_get_bus(m);
        int r;

        if (flags & MIG_CALL_AUTH)
                (void) mig_polkit_agent_open(ctl);
        r = sd_bus_call(bus, m, (flags & MIG_CALL_AUTH) ? MIG_TIMEOUT_LONG_USEC : 0, ret_error, ret_reply);
        if (flags & MIG_CALL_AUTH)
                mig_polkit_agent_close();
        return r;
}

static bool error_is_local(const sd_bus_error *error) {
        /* sd-bus names errno failures of its own (timeouts, a dead connection) like this. */
        return g_str_has_prefix(error->name, "System.Error.");
}

int mig_log_call_error(MigCtl *ctl, const char *method, const sd_bus_error *error, int r) {
        if (!sd_bus_error_is_set(error))
                return r; /* failed before the call, and said so already */
        if (error_is_local(error)) {
                const char *text = error->message ? error->message : g_strerror(-r);
                if (ctl->remote)
                        return log_failure(MIG_EXIT_PEER_UNREACHABLE, "Failed to talk to migrated on %s: %s",
                                           ctl->remote, text);
                return log_failure(MIG_EXIT_FAILURE, "Failed to call %s: %s", method, text);
        }

        r = log_bus_error(error, r, method);
        if (sd_bus_error_has_names(error, SD_BUS_ERROR_SERVICE_UNKNOWN, SD_BUS_ERROR_NAME_HAS_NO_OWNER))
                log_hint("Hint: is migrated installed and enabled on %s?",
                         ctl->remote ? ctl->remote : "this node");
        else if (g_str_has_prefix(error->name, "org.freedesktop.DBus.Error.Spawn."))
                /* 78 (EX_CONFIG) is the daemon refusing its config; the reason is in its log. */
                log_hint("Hint: migrated did not start; '/usr/libexec/migrated --check-config' on %s says "
                         "why.",
                         ctl->remote ? ctl->remote : "this node");
        else if (sd_bus_error_has_name(error, SD_BUS_ERROR_INTERACTIVE_AUTHORIZATION_REQUIRED))
                log_hint("Hint: run as root, or allow asking for a password (drop --no-ask-password).");
        return r;
}

int mig_call_message(MigCtl *ctl, MigCallFlags flags, sd_bus_message *m, sd_bus_message **ret_reply) {
        g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
        int r;

        r = mig_call_message_try(ctl, flags, m, &error, ret_reply);
        if (r < 0)
                return mig_log_call_error(ctl, sd_bus_message_get_member(m), &error, r);
        return r;
}

static int manager_message_newv(MigCtl *ctl, const char *method, const char *types, va_list ap,
                                sd_bus_message **ret) {
        g_autoptr(sd_bus_message) m = NULL;
        int r;

        r = mig_message_new(ctl, NULL, MIG_IFACE_MANAGER, method, &m);
        if (r < 0)
                return r;
        if (types && types[0]) {
                r = sd_bus_message_appendv(m, types, ap);
                if (r < 0)
                        return log_error_errno(r, "Failed to build %s call: %m", method);
        }
        *ret = g_steal_pointer(&m);
        return 0;
}

int mig_call_manager(MigCtl *ctl, MigCallFlags flags, const char *method, sd_bus_message **ret_reply,
                     const char *types, ...) {
        g_autoptr(sd_bus_message) m = NULL;
        va_list ap;
        int r;

        va_start(ap, types);
        r = manager_message_newv(ctl, method, types, ap, &m);
        va_end(ap);
        if (r < 0)
                return r;
        return mig_call_message(ctl, flags, m, ret_reply);
}

int mig_call_manager_try(MigCtl *ctl, MigCallFlags flags, sd_bus_error *ret_error, const char *method,
                         sd_bus_message **ret_reply, const char *types, ...) {
        g_autoptr(sd_bus_message) m = NULL;
        va_list ap;
        int r;

        va_start(ap, types);
        r = manager_message_newv(ctl, method, types, ap, &m);
        va_end(ap);
        if (r < 0)
                return r; /* already printed; ret_error stays unset */
        return mig_call_message_try(ctl, flags, m, ret_error, ret_reply);
}

int mig_call_to_json(MigCtl *ctl, MigCallFlags flags, sd_bus_message *m, const char *const *struct_fields,
                     JsonNode **ret) {
        g_autoptr(sd_bus_message) reply = NULL;
        int r;

        r = mig_call_message(ctl, flags, m, &reply);
        if (r < 0)
                return r;
        r = mig_json_from_message(reply, struct_fields, ret);
        if (r < 0)
                return log_parse_error(r);
        return 0;
}

int mig_call_list(MigCtl *ctl, const char *method, JsonNode **ret) {
        g_autoptr(sd_bus_message) m = NULL;
        g_autoptr(JsonNode) node = NULL;
        int r;

        r = mig_message_new(ctl, NULL, MIG_IFACE_MANAGER, method, &m);
        if (r < 0)
                return r;
        r = mig_call_to_json(ctl, MIG_CALL_READ, m, NULL, &node);
        if (r < 0)
                return r;
        if (!JSON_NODE_HOLDS_ARRAY(node))
                return log_parse_error(-EBADMSG);
        *ret = g_steal_pointer(&node);
        return 0;
}

int mig_get_all_properties(MigCtl *ctl, const char *path, const char *interface, JsonObject **ret) {
        g_autoptr(sd_bus_message) m = NULL, reply = NULL;
        g_autoptr(JsonNode) node = NULL;
        int r;

        r = mig_message_new(ctl, path, "org.freedesktop.DBus.Properties", "GetAll", &m);
        if (r < 0)
                return r;
        r = sd_bus_message_append(m, "s", interface);
        if (r < 0)
                return log_error_errno(r, "Failed to build GetAll call: %m");
        r = mig_call_message(ctl, MIG_CALL_READ, m, &reply);
        if (r < 0)
                return r;
        r = mig_json_from_message(reply, NULL, &node);
        if (r < 0 || !JSON_NODE_HOLDS_OBJECT(node))
                return log_parse_error(r < 0 ? r : -EBADMSG);

        *ret = json_node_dup_object(node);
        return 0;
}

char *mig_migration_id_from_path(const char *path) {
        char *id = NULL;

        if (sd_bus_path_decode(path, MIG_MIGRATION_PREFIX, &id) > 0 && id && id[0]) {
                char *copy = g_strdup(id);
                free(id);
                return copy;
        }
        free(id);
        return g_strdup(path);
}

/* ---- polkit agent ---- */

static pid_t agent_pid = 0;

G_GNUC_NORETURN
static void agent_exec(int notify_fd, pid_t parent) {
        char fd_text[16];

        /* Die with migratectl; and if it is gone already, do not start at all. */
        if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() != parent)
                _exit(EXIT_FAILURE);
        if (fcntl(notify_fd, F_SETFD, 0) < 0)
                _exit(EXIT_FAILURE);

        /* The agent talks to the terminal even when our output goes to a pipe. */
        if (!isatty(STDOUT_FILENO) || !isatty(STDERR_FILENO)) {
                int tty = open("/dev/tty", O_WRONLY | O_NOCTTY | O_CLOEXEC);
                if (tty >= 0) {
                        (void) dup2(tty, STDOUT_FILENO);
                        (void) dup2(tty, STDERR_FILENO);
                }
        }

        g_snprintf(fd_text, sizeof fd_text, "%d", notify_fd);
        execl(MIG_PKTTYAGENT, MIG_PKTTYAGENT, "--notify-fd", fd_text, "--fallback", (char *) NULL);
        _exit(EXIT_FAILURE);
}

int mig_polkit_agent_open(MigCtl *ctl) {
        int fds[2];

        if (agent_pid > 0 || !ctl->ask_password || ctl->remote)
                return 0;
        /* root needs no authentication; the agent asks on the terminal we read from */
        if (geteuid() == 0 || !isatty(STDIN_FILENO) || access(MIG_PKTTYAGENT, X_OK) < 0)
                return 0;

        if (pipe2(fds, O_CLOEXEC) < 0)
                return log_error_errno(-errno, "Failed to create a pipe for the polkit agent: %m");

        pid_t parent = getpid();
        fflush(NULL);
        pid_t pid = fork();
        if (pid < 0) {
                int r = -errno;
                close(fds[0]);
                close(fds[1]);
                return log_error_errno(r, "Failed to start the polkit agent: %m");
        }
        if (pid == 0)
                agent_exec(fds[1], parent);

        agent_pid = pid;
        close(fds[1]);
        /* pkttyagent closes its end once it is registered (or exits when it cannot). */
        struct pollfd p = {.fd = fds[0], .events = POLLHUP};
        while (poll(&p, 1, -1) < 0 && errno == EINTR)
                ;
        close(fds[0]);
        return 0;
}

void mig_polkit_agent_close(void) {
        if (agent_pid <= 0)
                return;
        (void) kill(agent_pid, SIGTERM);
        (void) kill(agent_pid, SIGCONT);
        while (waitpid(agent_pid, NULL, 0) < 0 && errno == EINTR)
                ;
        agent_pid = 0;
}
