/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

#include "errors.h"
#include "output.h"

static int exit_status = -1;

void log_set_exit_status(int status) {
        if (exit_status < 0)
                exit_status = status;
}

int log_exit_status(int r) {
        if (r >= 0)
                return exit_status > 0 ? exit_status : MIG_EXIT_SUCCESS;
        return exit_status > 0 ? exit_status : MIG_EXIT_FAILURE;
}

void log_reset(void) {
        exit_status = -1;
}

G_GNUC_PRINTF(2, 0)
static void log_print(int r, const char *format, va_list ap) {
        g_autofree char *text = NULL;

        /* "%m" wants errno; vasprintf leaves it untouched until it is expanded. */
        errno = r < 0 ? -r : r;
        text = g_strdup_vprintf(format, ap);
        g_autofree char *clean = mig_sanitize(text);
        fprintf(stderr, MIG_PROGRAM ": %s\n", clean);
}

int log_error_errno(int r, const char *format, ...) {
        va_list ap;

        va_start(ap, format);
        log_print(r, format, ap);
        va_end(ap);
        log_set_exit_status(MIG_EXIT_FAILURE);
        return r < 0 ? r : -EIO;
}

int log_usage_error(const char *format, ...) {
        va_list ap;

        va_start(ap, format);
        log_print(0, format, ap);
        va_end(ap);
        fprintf(stderr, "Try '" MIG_PROGRAM " --help' for more information.\n");
        log_set_exit_status(MIG_EXIT_USAGE);
        return -EINVAL;
}

int log_invalid_argument(const char *format, ...) {
        va_list ap;

        va_start(ap, format);
        log_print(0, format, ap);
        va_end(ap);
        log_set_exit_status(MIG_EXIT_INVALID_ARGUMENT);
        return -EINVAL;
}

int log_failure(int status, const char *format, ...) {
        va_list ap;

        va_start(ap, format);
        log_print(0, format, ap);
        va_end(ap);
        log_set_exit_status(status);
        return -EREMOTEIO;
}

int log_bus_error(const sd_bus_error *error, int r, const char *what) {
        if (r >= 0)
                r = -EIO;
        if (!sd_bus_error_is_set(error))
                return log_error_errno(r, "%s: %m", what);

        const char *text = error->message && error->message[0] ? error->message : error->name;
        g_autofree char *clean = mig_sanitize(text);
        fprintf(stderr, MIG_PROGRAM ": %s\n", clean);
        log_set_exit_status(mig_error_exit_code(error->name));
        return r;
}

int log_parse_error(int r) {
        return log_error_errno(r, "Failed to parse the daemon's reply: %m");
}

void log_hint(const char *format, ...) {
        va_list ap;

        va_start(ap, format);
        g_autofree char *text = g_strdup_vprintf(format, ap);
        va_end(ap);
        fprintf(stderr, "%s\n", text);
}
