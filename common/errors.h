/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The one table of our D-Bus error names. The daemon replies with these names;
 * migratectl turns each into its documented exit code. */

#include <systemd/sd-bus.h>

#define MIG_ERROR_PREFIX "org.example.Migrate1.Error."
#define MIG_ERROR_INVALID_ARGUMENT MIG_ERROR_PREFIX "InvalidArgument"
#define MIG_ERROR_NOT_FOUND MIG_ERROR_PREFIX "NotFound"
#define MIG_ERROR_CONFLICT MIG_ERROR_PREFIX "Conflict"
#define MIG_ERROR_NO_VALID_HOST MIG_ERROR_PREFIX "NoValidHost"
#define MIG_ERROR_PEER_UNREACHABLE MIG_ERROR_PREFIX "PeerUnreachable"
#define MIG_ERROR_NOT_SUPPORTED MIG_ERROR_PREFIX "NotSupported"
#define MIG_ERROR_LIBVIRT MIG_ERROR_PREFIX "LibvirtError"
#define MIG_ERROR_NO_SPACE MIG_ERROR_PREFIX "NoSpace"
#define MIG_ERROR_STORE MIG_ERROR_PREFIX "StoreError"
#define MIG_ERROR_INTERNAL MIG_ERROR_PREFIX "Internal"
#define MIG_ERROR_ACCESS_DENIED "org.freedesktop.DBus.Error.AccessDenied"

/* Exit codes of migratectl, one per error class (documented in README.md). */
enum {
        MIG_EXIT_SUCCESS = 0,
        MIG_EXIT_FAILURE = 1,
        MIG_EXIT_USAGE = 2,
        MIG_EXIT_ACCESS_DENIED = 3,
        MIG_EXIT_NOT_FOUND = 4,
        MIG_EXIT_CONFLICT = 5,
        MIG_EXIT_NO_VALID_HOST = 6,
        MIG_EXIT_PEER_UNREACHABLE = 7,
        MIG_EXIT_INVALID_ARGUMENT = 8,
        MIG_EXIT_NOT_SUPPORTED = 9,
};

typedef struct MigErrorInfo {
        const char *name;
        int errno_value; /* what sd_bus_error_set_errno() maps to this name */
        int exit_code;
} MigErrorInfo;

extern const MigErrorInfo mig_errors[];

/* Registers the errno map with sd-bus; call once at start. */
int mig_errors_register(void);

/* The exit code migratectl uses for a D-Bus error name (MIG_EXIT_FAILURE if unknown). */
int mig_error_exit_code(const char *name);
