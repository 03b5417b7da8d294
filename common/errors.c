/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "errors.h"

#include <errno.h>
#include <string.h>

const MigErrorInfo mig_errors[] = {
        {MIG_ERROR_INVALID_ARGUMENT, EINVAL, MIG_EXIT_INVALID_ARGUMENT},
        {MIG_ERROR_NOT_FOUND, ENOENT, MIG_EXIT_NOT_FOUND},
        {MIG_ERROR_CONFLICT, EBUSY, MIG_EXIT_CONFLICT},
        {MIG_ERROR_NO_VALID_HOST, EHOSTUNREACH, MIG_EXIT_NO_VALID_HOST},
        {MIG_ERROR_PEER_UNREACHABLE, ECONNREFUSED, MIG_EXIT_PEER_UNREACHABLE},
        {MIG_ERROR_NOT_SUPPORTED, EOPNOTSUPP, MIG_EXIT_NOT_SUPPORTED},
        {MIG_ERROR_LIBVIRT, EREMOTEIO, MIG_EXIT_FAILURE},
        {MIG_ERROR_NO_SPACE, ENOSPC, MIG_EXIT_FAILURE},
        {MIG_ERROR_STORE, EIO, MIG_EXIT_FAILURE},
        {MIG_ERROR_INTERNAL, EPROTO, MIG_EXIT_FAILURE},
        {MIG_ERROR_ACCESS_DENIED, EACCES, MIG_EXIT_ACCESS_DENIED},
        {"org.freedesktop.DBus.Error.InteractiveAuthorizationRequired", EACCES, MIG_EXIT_ACCESS_DENIED},
        {"org.freedesktop.DBus.Error.InvalidArgs", EINVAL, MIG_EXIT_INVALID_ARGUMENT},
        {"org.freedesktop.DBus.Error.UnknownObject", ENOENT, MIG_EXIT_NOT_FOUND},
        {"org.freedesktop.DBus.Error.ServiceUnknown", ECONNREFUSED, MIG_EXIT_PEER_UNREACHABLE},
        {NULL, 0, 0},
};

/* Only our own names go into sd-bus' map: the freedesktop ones it knows already. */
static const sd_bus_error_map mig_bus_error_map[] = {
        SD_BUS_ERROR_MAP(MIG_ERROR_INVALID_ARGUMENT, EINVAL),
        SD_BUS_ERROR_MAP(MIG_ERROR_NOT_FOUND, ENOENT),
        SD_BUS_ERROR_MAP(MIG_ERROR_CONFLICT, EBUSY),
        SD_BUS_ERROR_MAP(MIG_ERROR_NO_VALID_HOST, EHOSTUNREACH),
        SD_BUS_ERROR_MAP(MIG_ERROR_PEER_UNREACHABLE, ECONNREFUSED),
        SD_BUS_ERROR_MAP(MIG_ERROR_NOT_SUPPORTED, EOPNOTSUPP),
        SD_BUS_ERROR_MAP(MIG_ERROR_LIBVIRT, EREMOTEIO),
        SD_BUS_ERROR_MAP(MIG_ERROR_NO_SPACE, ENOSPC),
        SD_BUS_ERROR_MAP(MIG_ERROR_STORE, EIO),
        SD_BUS_ERROR_MAP(MIG_ERROR_INTERNAL, EPROTO),
        SD_BUS_ERROR_MAP_END,
};

int mig_errors_register(void) {
        return sd_bus_error_add_map(mig_bus_error_map);
}

int mig_error_exit_code(const char *name) {
        if (!name)
                return MIG_EXIT_FAILURE;
        for (const MigErrorInfo *e = mig_errors; e->name; e++)
                if (strcmp(e->name, name) == 0)
                        return e->exit_code;
        return MIG_EXIT_FAILURE;
}
