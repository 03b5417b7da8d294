/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* migrated: the VM migration daemon of one node. Started by D-Bus activation
 * (or systemd); exits when idle and nothing is in flight. */

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buildconfig.h"
#include "bus-api.h"
#include "cold.h"
#include "config.h"
#include "errors.h"
#include "evacuation.h"
#include "identity.h"
#include "intake.h"
#include "lease.h"
#include "live.h"
#include "manager.h"
#include "virt-events.h"

#define DEFAULT_IDLE_SEC 60
#define EXIT_CONFIG 78 /* sysexits' EX_CONFIG: systemd shows it as a config problem */

static void help(void) {
        printf("migrated [OPTIONS]\n\n"
               "The VM migration daemon of this node, on the system bus as org.example.Migrate1.\n\n"
               "  -h --help                Show this help\n"
               "     --version             Show the version\n"
               "     --config=FILE         Read FILE instead of %s\n"
               "     --state-dir=DIR       Keep state in DIR instead of %s\n"
               "     --idle-timeout=SEC    Exit after SEC seconds without work (0: never; default:\n"
               "                           IdleTimeout= of the config, %d)\n"
               "     --check-config        Read the config, report problems, and exit\n"
               "     --receive-disk ID PATH  Receive a disk of cold migration ID on stdin (the\n"
               "                           source's daemon runs this over ssh)\n"
               "     --user                Use the user bus (tests only)\n",
               MIGRATED_CONF_FILE, MIGRATED_STATE_DIR, DEFAULT_IDLE_SEC);
}

typedef struct Args {
        ManagerOptions o;
        bool check_config;
        bool receive_disk;
} Args;

static int parse_args(int argc, char **argv, Args *a) {
        enum { ARG_VERSION = 0x100, ARG_CONFIG, ARG_STATE, ARG_IDLE, ARG_CHECK, ARG_USER, ARG_RECEIVE };
        static const struct option options[] = {{"help", no_argument, NULL, 'h'},
                                                {"version", no_argument, NULL, ARG_VERSION},
                                                {"config", required_argument, NULL, ARG_CONFIG},
                                                {"state-dir", required_argument, NULL, ARG_STATE},
                                                {"idle-timeout", required_argument, NULL, ARG_IDLE},
                                                {"check-config", no_argument, NULL, ARG_CHECK},
                                                {"user", no_argument, NULL, ARG_USER},
                                                {"receive-disk", no_argument, NULL, ARG_RECEIVE},
                                                {}};
        int c;
        guint64 sec;
        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
                switch (c) {
                case 'h':
                        help();
                        return 0;
                case ARG_VERSION:
                        printf("migrated %s\n", PACKAGE_VERSION);
                        return 0;
                case ARG_CONFIG:
                        a->o.config_path = optarg;
                        break;
                case ARG_STATE:
                        a->o.state_dir = optarg;
                        break;
                case ARG_IDLE:
                        if (!g_ascii_string_to_unsigned(optarg, 10, 0, 86400, &sec, NULL)) {
                                fprintf(stderr, "--idle-timeout takes seconds from 0 to 86400.\n");
                                return -EINVAL;
                        }
                        a->o.idle_usec = sec * 1000000ULL;
                        break;
                case ARG_CHECK:
                        a->check_config = true;
                        break;
                case ARG_USER:
                        a->o.user_bus = true;
                        break;
                case ARG_RECEIVE:
                        a->receive_disk = true;
                        break;
                default:
                        return -EINVAL;
                }
        }
        return 1;
}

static int check_config(const char *path) {
        g_autoptr(GError) e = NULL;
        g_autoptr(MigConfig) c = mig_config_load(path, &e);
        if (!c) {
                fprintf(stderr, "%s\n", e->message);
                return EXIT_CONFIG;
        }
        printf("%s: node %s, %u peer(s), libvirt %s\n", path, c->node_name, c->peers->len, c->libvirt_uri);
        return EXIT_SUCCESS;
}

/* The engines as an evacuation moves domains: [Live] of migrated.conf for what it does not set. */
static int move_migrate(Manager *m, const char *domain, bool live, bool block, uint64_t bandwidth_mib,
                        MigAnswer answer, sd_bus_error *error) {
        if (!live)
                return cold_migrate(m, domain, "", NULL, answer, error);
        const MigLiveConfig *l = &m->config->live;
        MigLiveOptions o = {.block = block,
                            .bandwidth_mib = bandwidth_mib ? bandwidth_mib : l->bandwidth,
                            .max_downtime_ms = l->max_downtime,
                            .auto_converge = l->auto_converge,
                            .postcopy = l->postcopy,
                            .parallel = l->parallel_connections,
                            .compressed = l->compressed};
        return live_migrate(m, domain, "", &o, answer, error);
}

static int move_abort(Manager *m, MigMigration *mig, MigAnswer answer, sd_bus_error *error) {
        return strcmp(mig->kind, "live") == 0 ? live_abort(m, mig, answer, error)
                                              : cold_abort(m, mig, answer, error);
}

static const MigMoveOps move_ops = {.migrate = move_migrate, .confirm = cold_confirm, .abort = move_abort};

/* The start order: the bus first (what the hook reports and peers ask can arrive at once),
 * then what the hook spooled while no daemon ran, before anything is decided; then
 * libvirt's own events (their first connection starts a reconciliation pass); then the
 * unfinished migrations go on (or roll back) before new work is taken. */
static int start(Manager *m, bool user_bus, MigVirtEvents **virt_events) {
        int r = bus_start(m, user_bus);
        if (r < 0)
                return r;
        intake_start(m);
        identity_check(m);
        r = mig_virt_events_start(m, virt_events);
        if (r < 0)
                g_warning("Cannot listen to libvirt's domain events: %s", strerror(-r));
        cold_init(m);
        live_init(m);
        evacuation_init(m, &move_ops);
        restore_init(m);
        cold_resume_all(m);
        live_resume_all(m);
        evacuation_resume_all(m);
        r = manager_start_pruning(m);
        if (r < 0)
                return r;
        return lease_watch(m);
}

int main(int argc, char **argv) {
        Args a = {.o = {MIGRATED_CONF_FILE, MIGRATED_STATE_DIR, UINT64_MAX, false}};
        int r = parse_args(argc, argv, &a);
        if (r <= 0)
                return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
        if (a.check_config)
                return check_config(a.o.config_path);
        if (a.receive_disk) {
                if (argc - optind != 2) {
                        fprintf(stderr, "--receive-disk takes a migration ID and a disk path.\n");
                        return EXIT_FAILURE;
                }
                return bus_receive_disk(a.o.user_bus, argv[optind], argv[optind + 1]);
        }
        mig_errors_register();
        /* a disk stream's ssh that went away is an error of the write, not a signal */
        (void) signal(SIGPIPE, SIG_IGN);
        g_autoptr(Manager) m = NULL;
        r = manager_new(&a.o, &m);
        if (r < 0)
                return r == -EINVAL ? EXIT_CONFIG : EXIT_FAILURE;
        MigVirtEvents *virt_events = NULL; /* libvirt's lifecycle events, on a thread of their own */
        r = start(m, a.o.user_bus, &virt_events);
        if (r >= 0)
                r = manager_run(m);
        mig_virt_events_free(virt_events); /* that thread first: it holds a libvirt connection */
        return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
