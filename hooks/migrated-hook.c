/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The libvirt hook of migrated, installed into /etc/libvirt/hooks/qemu.d/.
 * libvirtd runs it synchronously for every domain event:
 *   migrated-hook DOMAIN OPERATION SUB-OPERATION EXTRA   (domain XML on stdin)
 *
 * It forwards the event to the local daemon (org.example.Migrate1.Hook.ReportEvent,
 * never starting the daemon) and, when the daemon cannot take it within a few
 * milliseconds, appends it to the durable spool in the state folder instead. It never
 * calls libvirt (libvirtd waits for it: that would deadlock) and exits 0.
 *
 * It links only glib and libsystemd, to start fast. An incoming migration ("migrate")
 * needs its XML rewritten with libxml2: that one event is handed to
 * migrated-hook-migrate, which may refuse it. */

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "buildconfig.h"
#include "hook-run.h"

#define MIGRATE_HELPER MIGRATED_LIBEXECDIR "/migrated-hook-migrate"

int main(int argc, char **argv) {
        if (argc > 2 && strcmp(argv[2], "migrate") == 0) {
                execv(MIGRATE_HELPER, argv);
                /* not installed: the event is still recorded, the XML left as it is */
                fprintf(stderr, "migrated-hook: cannot run %s: %m\n", MIGRATE_HELPER);
        }
        return hook_run(argc, argv, NULL);
}
