/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* migratectl's error reporting. Every helper prints one line "migratectl: ..." to stderr,
 * records the exit status the command ends with (the first one recorded wins) and returns a
 * negative errno-style value, so that a failing function reads
 *         return log_invalid_argument("Invalid domain name: %s", name);
 * main() turns the final result into the exit status with log_exit_status(). */

#include <glib.h>
#include <systemd/sd-bus.h>

#define MIG_PROGRAM "migratectl"

/* Exit 1 (MIG_EXIT_FAILURE); "%m" in the format prints strerror(-r). */
int log_error_errno(int r, const char *format, ...) G_GNUC_PRINTF(2, 3);
/* Exit 2 (MIG_EXIT_USAGE), with a hint pointing at --help; returns -EINVAL. */
int log_usage_error(const char *format, ...) G_GNUC_PRINTF(1, 2);
/* Exit 8 (MIG_EXIT_INVALID_ARGUMENT); returns -EINVAL. Used for local validation. */
int log_invalid_argument(const char *format, ...) G_GNUC_PRINTF(1, 2);
/* Any documented exit status; returns -EREMOTEIO (the failure happened elsewhere). */
int log_failure(int exit_status, const char *format, ...) G_GNUC_PRINTF(2, 3);
/* A failed bus call: prints the daemon's sentence (error->message) and exits with
 * mig_error_exit_code(error->name); without an error name, "what: %m" and exit 1. */
int log_bus_error(const sd_bus_error *error, int r, const char *what);
/* A reply that does not have the documented signature. Exit 1. */
int log_parse_error(int r);
/* An extra line after an error ("Hint: ..."), no status change. */
void log_hint(const char *format, ...) G_GNUC_PRINTF(1, 2);

/* Records an exit status without printing anything (the first recorded one wins). */
void log_set_exit_status(int status);
/* The exit status for the final result r of the program (0 when r >= 0). */
int log_exit_status(int r);
/* Forgets the recorded status (for tests). */
void log_reset(void);
