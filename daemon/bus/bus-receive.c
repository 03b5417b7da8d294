/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* migrated --receive-disk ID PATH: the receiving end of a cold copy's disk stream, started
 * over ssh by the source's daemon. It asks this node's daemon for the volume the migration
 * created (Peer.OpenIncomingDisk: only a disk of a prepared migration), writes what the
 * stream carries into it, and tells the source on stdout: "ok CHECKSUM" or
 * "error NAME MESSAGE". */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "bus-api.h"
#include "disk-stream.h"
#include "errors.h"
#include "macro.h"

#define RETRY_USEC (200 * 1000)
#define RETRIES 50 /* 10 s: a daemon that died is started again by D-Bus activation */

/* The daemon went away while it was asked (it died, or is being restarted). */
static bool daemon_gone(const sd_bus_error *e) {
        return sd_bus_error_has_names(e, SD_BUS_ERROR_NO_REPLY, SD_BUS_ERROR_DISCONNECTED,
                                      SD_BUS_ERROR_SERVICE_UNKNOWN, SD_BUS_ERROR_NAME_HAS_NO_OWNER,
                                      SD_BUS_ERROR_UNKNOWN_OBJECT,
                                      "org.freedesktop.DBus.Error.Spawn.ChildExited",
                                      "org.freedesktop.DBus.Error.Spawn.ChildSignaled");
}

static int call_open(sd_bus *bus, const char *id, const char *path, sd_bus_message **reply,
                     sd_bus_error *e) {
        int r = 0;
        for (int i = 0; i < RETRIES; i++) {
                sd_bus_error_free(e);
                r = sd_bus_call_method(bus, MIG_BUS_NAME, MIG_BUS_PATH, MIG_IFACE_PEER, "OpenIncomingDisk",
                                       e, reply, "ss", id, path);
                if (r >= 0 || !daemon_gone(e))
                        return r;
                g_usleep(RETRY_USEC);
        }
        return r;
}

static int open_volume(bool user_bus, const char *id, const char *path, int *ret_fd, sd_bus_error *e) {
        g_autoptr(sd_bus) bus = NULL;
        g_autoptr(sd_bus_message) reply = NULL;
        int r = user_bus ? sd_bus_open_user(&bus) : sd_bus_open_system(&bus);
        if (r < 0)
                return sd_bus_error_setf(e, MIG_ERROR_INTERNAL, "Cannot reach the system bus: %s",
                                         g_strerror(-r));
        r = call_open(bus, id, path, &reply, e);
        int fd = -1;
        if (r >= 0)
                r = sd_bus_message_read(reply, "h", &fd);
        if (r < 0)
                return sd_bus_error_is_set(e)
                               ? r
                               : sd_bus_error_setf(e, MIG_ERROR_INTERNAL, "No volume: %s", g_strerror(-r));
        *ret_fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        return *ret_fd < 0 ? sd_bus_error_set_errno(e, errno) : 0;
}

int bus_receive_disk(bool user_bus, const char *id, const char *path) {
        g_auto(sd_bus_error) e = SD_BUS_ERROR_NULL;
        /* not "migrated" in ps and for pkill: it is not the daemon, and outlives one that dies */
        (void) prctl(PR_SET_NAME, "migrated-recv");
        int fd = -1;
        if (open_volume(user_bus, id, path, &fd, &e) < 0) {
                printf("error %s %s\n", e.name, e.message);
                return EXIT_FAILURE;
        }
        MigVirtError err = {0};
        char *hex = NULL;
        int r = mig_disk_receive(STDIN_FILENO, fd, &hex, &err);
        close(fd);
        if (r < 0)
                printf("error %s %s\n", err.name, err.message);
        else
                printf("ok %s\n", hex);
        g_free(hex);
        mig_virt_error_clear(&err);
        return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
