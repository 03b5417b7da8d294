/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* migratectl: the operator's command. Global options, the verb table and the one dispatcher. */

#include <errno.h>
#include <getopt.h>
#include <locale.h>
#include <stdio.h>
#include <string.h>

#include "buildconfig.h"
#include "bus.h"
#include "errors.h"
#include "log.h"
#include "output.h"
#include "migratectl.h"
#include "validate.h"
#include "verbs.h"

/* ---- options ---- */

/* Which verb options a verb accepts. */
enum {
        VO_HOST = 1 << 0,
        VO_LIVE = 1 << 1,
        VO_BLOCK_MIGRATION = 1 << 2,
        VO_WAIT = 1 << 3,
        VO_DOMAIN = 1 << 4,
        VO_STATUS = 1 << 5,
        VO_FULL = 1 << 6,
        VO_REASON = 1 << 7,
        VO_TUNING = 1 << 8,
        VO_EVACUATE = 1 << 9,
        VO_RESIZE = 1 << 10,
};

enum {
        ARG_VERSION = 0x100,
        ARG_JSON,
        ARG_NO_LEGEND,
        ARG_NO_PAGER,
        ARG_NO_ASK_PASSWORD,
        ARG_DEST_HOST,
        ARG_LIVE,
        ARG_BLOCK_MIGRATION,
        ARG_WAIT,
        ARG_DOMAIN,
        ARG_STATUS,
        ARG_REASON,
        ARG_BANDWIDTH,
        ARG_MAX_DOWNTIME,
        ARG_POSTCOPY,
        ARG_NO_AUTO_CONVERGE,
        ARG_COMPRESSED,
        ARG_NO_COMPRESSED,
        ARG_DRY_RUN,
        ARG_MAX_PARALLEL,
        ARG_VCPUS,
        ARG_MEMORY,
};

typedef struct VerbOption {
        unsigned flag; /* 0: accepted by every verb (output switches may follow the verb too) */
        struct option opt;
        const char *metavar;
        const char *help;
} VerbOption;

/* clang-format off */
static const VerbOption verb_options[] = {
        { VO_HOST, { "host", required_argument, NULL, ARG_DEST_HOST }, "NODE",
          "Destination node (default: the scheduler picks one)" },
        { VO_LIVE, { "live", no_argument, NULL, ARG_LIVE }, NULL,
          "Migrate live, without stopping the domain (default: cold)" },
        { VO_BLOCK_MIGRATION, { "block-migration", no_argument, NULL, ARG_BLOCK_MIGRATION }, NULL,
          "Copy the domain's local disks along" },
        { VO_TUNING, { "bandwidth", required_argument, NULL, ARG_BANDWIDTH }, "MIB",
          "Live: limit the migration to MiB/s" },
        { VO_TUNING, { "max-downtime", required_argument, NULL, ARG_MAX_DOWNTIME }, "MS",
          "Live: the longest pause allowed at the switch-over, in ms" },
        { VO_TUNING, { "postcopy", no_argument, NULL, ARG_POSTCOPY }, NULL,
          "Live: permit post-copy (force-complete switches to it)" },
        { VO_TUNING, { "no-auto-converge", no_argument, NULL, ARG_NO_AUTO_CONVERGE }, NULL,
          "Live: do not throttle a guest that dirties memory too fast" },
        { VO_TUNING, { "compressed", no_argument, NULL, ARG_COMPRESSED }, NULL,
          "Live: send rewritten pages as XBZRLE differences (default: Compressed= of migrated.conf)" },
        { VO_TUNING, { "no-compressed", no_argument, NULL, ARG_NO_COMPRESSED }, NULL,
          "Live: never compress" },
        { VO_RESIZE, { "vcpus", required_argument, NULL, ARG_VCPUS }, "N", "The new number of vCPUs" },
        { VO_RESIZE, { "memory", required_argument, NULL, ARG_MEMORY }, "SIZE",
          "The new memory: a number of MiB, or with K, M, G or T" },
        { VO_EVACUATE, { "max-parallel", required_argument, NULL, ARG_MAX_PARALLEL }, "N",
          "At most N moves at once (default: MaxConcurrentMigrations)" },
        { VO_EVACUATE, { "dry-run", no_argument, NULL, ARG_DRY_RUN }, NULL,
          "Print the plan and change nothing" },
        { VO_EVACUATE, { "bandwidth", required_argument, NULL, ARG_BANDWIDTH }, "MIB",
          "Live: limit each move to MiB/s" },
        { VO_WAIT, { "wait", no_argument, NULL, ARG_WAIT }, NULL,
          "Follow the migration until it ends (exit status as for 'watch')" },
        { VO_DOMAIN, { "domain", required_argument, NULL, ARG_DOMAIN }, "DOMAIN",
          "Only migrations of this domain (name or UUID)" },
        { VO_STATUS, { "status", required_argument, NULL, ARG_STATUS }, "STATUS",
          "Only migrations in this status" },
        { VO_FULL, { "full", no_argument, NULL, 'l' }, NULL, "Show full migration IDs" },
        { VO_REASON, { "reason", required_argument, NULL, ARG_REASON }, "TEXT",
          "Why the node is taken out of scheduling (required)" },
        { 0, { "json", no_argument, NULL, ARG_JSON }, NULL, NULL },
        { 0, { "no-legend", no_argument, NULL, ARG_NO_LEGEND }, NULL, NULL },
        { 0, { "no-pager", no_argument, NULL, ARG_NO_PAGER }, NULL, NULL },
        { 0, { "no-ask-password", no_argument, NULL, ARG_NO_ASK_PASSWORD }, NULL, NULL },
        { 0, { "help", no_argument, NULL, 'h' }, NULL, "Show this help" },
};
/* clang-format on */

/* ---- the verb table ---- */

typedef struct Verb {
        const char *name;
        unsigned min_args, max_args; /* positional arguments after the verb */
        unsigned options;            /* VO_* */
        int (*run)(MigCtl *ctl, int argc, char **argv);
        const char *section;
        const char *args;
        const char *summary;
        const char *details; /* verb --help only; may be NULL */
} Verb;

static int verb_help(MigCtl *ctl, int argc, char **argv);

/* clang-format off */
static const Verb verbs[] = {
        { "migrate", 1, 1, VO_HOST | VO_LIVE | VO_BLOCK_MIGRATION | VO_TUNING | VO_WAIT, verb_migrate, "Migrations",
          "DOMAIN", "Move a domain to another node (cold unless --live)",
          "Prints the new migration's ID. A cold migration stops the domain, copies it and starts it\n"
          "on the destination, where it waits in VERIFY_RESIZE for 'confirm' or 'revert'.\n"
          "With --wait, exits 0 when the migration finished, completed or was confirmed, and with\n"
          "the failure's exit status otherwise." },
        { "resize", 1, 1, VO_HOST | VO_RESIZE | VO_WAIT, verb_migrate, "Migrations", "DOMAIN",
          "Move a domain cold with a new size (vCPUs, memory)",
          "Seed 000's resize: the scheduler and the destination's claim count the new size, the\n"
          "destination defines the domain with it, and it waits in VERIFY_RESIZE: 'confirm' keeps\n"
          "it, 'revert' brings it back to the source with its old size. A size no node can hold\n"
          "is refused with exit 6 and every node's reason." },
        { "plan", 1, 1, VO_HOST | VO_LIVE | VO_BLOCK_MIGRATION, verb_plan, "Migrations", "DOMAIN",
          "Say where the scheduler would move a domain now, and why not elsewhere",
          "A dry run that changes nothing: every node with 'chosen', 'possible' or 'refused' and\n"
          "the reason (the domain's node, disabled and why, memory, vCPUs, disk, the group member\n"
          "that blocks it). --host checks that node as 'migrate --host' would. Exits 6 when no node\n"
          "can take the domain." },
        { "confirm", 1, 1, 0, verb_domain_action, "Migrations", "DOMAIN",
          "Finish a cold migration waiting in VERIFY_RESIZE", NULL },
        { "revert", 1, 1, 0, verb_domain_action, "Migrations", "DOMAIN",
          "Undo a cold migration waiting in VERIFY_RESIZE", NULL },
        { "abort", 1, 1, 0, verb_domain_action, "Migrations", "DOMAIN", "Stop a running live migration",
          NULL },
        { "force-complete", 1, 1, 0, verb_domain_action, "Migrations", "DOMAIN",
          "Make a running live migration converge", NULL },
        { "migrations", 0, 0, VO_DOMAIN | VO_STATUS | VO_FULL, verb_migrations, "Migrations", NULL,
          "List migrations (the default verb)",
          "Statuses: cold pre-migrating migrating post-migrating finished confirming confirmed\n"
          "reverting reverted error cancelled; live queued preparing running completed\n"
          "cancelled failed." },
        { "show", 1, 1, 0, verb_show, "Migrations", "ID|DOMAIN",
          "Show a migration with its events, or a domain",
          "ID may be shortened to any unambiguous prefix. For a domain, shows its newest\n"
          "migration; a domain that never migrated is shown with its state." },
        { "watch", 1, 1, 0, verb_watch, "Migrations", "ID|DOMAIN|NODE",
          "Follow a migration's progress (or a node's evacuation) until it ends",
          "Exits 0 when the migration finished, completed or was confirmed (the evacuation\n"
          "completed with every domain moved), and with the failure's exit status otherwise." },
        { "evacuate", 1, 1, VO_LIVE | VO_EVACUATE | VO_WAIT, verb_evacuate, "Nodes", "NODE",
          "Disable a node and move every domain off it, honouring server groups",
          "Prints the plan (each domain with the node the scheduler would choose, or why none\n"
          "fits), then runs it: at most --max-parallel moves at once, each scheduled anew as it\n"
          "starts. With --live, running domains move live with their local disks; shut-off ones\n"
          "(and all, without --live) move cold and are confirmed once finished. The node stays\n"
          "disabled afterwards ('host-enable'). --wait follows it as 'watch NODE' does." },
        { "restore", 1, 1, VO_WAIT, verb_restore, "Nodes", "NODE",
          "Enable a node again and move back what its last evacuation moved away",
          "Only the domains still on the node the evacuation put them on come back; each is moved\n"
          "by the node that holds it (live when it was moved live and still runs), cold moves are\n"
          "confirmed. --wait follows it as 'watch NODE' does." },
        { "evacuations", 0, 0, 0, verb_evacuations, "Nodes", NULL, "List the evacuations of every node", NULL },
        { "evacuation-pause", 1, 1, 0, verb_evacuation_control, "Nodes", "NODE",
          "Start no new move of the node's evacuation", NULL },
        { "evacuation-resume", 1, 1, 0, verb_evacuation_control, "Nodes", "NODE",
          "Go on with a paused evacuation", NULL },
        { "evacuation-cancel", 1, 1, 0, verb_evacuation_control, "Nodes", "NODE",
          "Stop an evacuation: queued domains stay, live moves are aborted",
          "Cold moves that are past their copy finish (and are confirmed); the node stays\n"
          "disabled." },
        { "hosts", 0, 0, 0, verb_hosts, "Nodes", NULL, "List the cluster's nodes, capacity and state", NULL },
        { "host-disable", 1, 1, VO_REASON, verb_host_disable, "Nodes", "NODE --reason TEXT",
          "Stop scheduling migrations onto a node", NULL },
        { "host-enable", 1, 1, 0, verb_host_enable, "Nodes", "NODE", "Schedule migrations onto a node again",
          NULL },
        { "domains", 0, 0, 0, verb_domains, "Domains and groups", NULL,
          "List the cluster's domains with node, state and group", NULL },
        { "groups", 0, 0, 0, verb_groups, "Domains and groups", NULL, "List server groups and their members",
          NULL },
        { "group-set", 3, 3, 0, verb_group_set, "Domains and groups", "DOMAIN NAME POLICY",
          "Put a domain into a server group",
          "POLICY is one of affinity, anti-affinity, soft-affinity, soft-anti-affinity." },
        { "group-clear", 1, 1, 0, verb_group_clear, "Domains and groups", "DOMAIN",
          "Take a domain out of its server group", NULL },
        { "help", 0, 1, 0, verb_help, "Other", "[VERB]", "Show this help, or a verb's", NULL },
};
/* clang-format on */

#define DEFAULT_VERB "migrations"

static const Verb *verb_find(const char *name) {
        for (size_t i = 0; i < G_N_ELEMENTS(verbs); i++)
                if (strcmp(verbs[i].name, name) == 0)
                        return &verbs[i];
        return NULL;
}

/* ---- help ---- */

static const char exit_status_help[] =
        "Exit status:\n"
        "  0  success\n"
        "  1  failure (anything not listed below; a migration that ended in error)\n"
        "  2  usage error\n"
        "  3  access denied\n"
        "  4  not found\n"
        "  5  conflict (the domain or node is busy or in the wrong state)\n"
        "  6  no valid host\n"
        "  7  peer unreachable (a node, or the daemon itself, cannot be reached)\n"
        "  8  invalid argument\n"
        "  9  not supported\n";

static char *verb_synopsis(const Verb *v) {
        return g_strjoin(" ", v->name, v->args ? v->args : "", NULL);
}

static void help_verb_option(const VerbOption *o) {
        g_autofree char *left = NULL;

        left = g_strdup_printf("%s--%s%s%s", o->opt.val == 'l' ? "-l " : (o->opt.val == 'h' ? "-h " : "   "),
                               o->opt.name, o->metavar ? "=" : "", o->metavar ? o->metavar : "");
        printf("  %-26s %s\n", left, o->help);
}

static void help_main(void) {
        const char *section = NULL;

        printf("%s [OPTIONS...] VERB [ARGS...]\n\n"
               "Move virtual machines between the nodes of a migrated cluster.\n",
               MIG_PROGRAM);

        for (size_t i = 0; i < G_N_ELEMENTS(verbs); i++) {
                g_autofree char *synopsis = verb_synopsis(&verbs[i]);
                if (!section || strcmp(section, verbs[i].section) != 0) {
                        section = verbs[i].section;
                        printf("\n%s:\n", section);
                }
                printf("  %-32s %s\n", synopsis, verbs[i].summary);
        }

        printf("\nOptions (before the verb):\n"
               "  -h --help                  Show this help\n"
               "     --version               Show the version\n"
               "     --json                  Print machine-readable JSON\n"
               "  -H --host=[USER@]NODE      Talk to the daemon on NODE over SSH\n"
               "     --no-ask-password       Do not ask for a password to authenticate\n"
               "     --no-legend             Print neither column headers nor the legend line\n"
               "     --no-pager              Accepted for compatibility; output is never paged\n"
               "\nVerb options (after the verb; see '%s VERB --help'):\n",
               MIG_PROGRAM);
        for (size_t i = 0; i < G_N_ELEMENTS(verb_options); i++)
                if (verb_options[i].flag != 0)
                        help_verb_option(&verb_options[i]);
        printf("\n%s", exit_status_help);
}

static void help_for_verb(const Verb *v) {
        g_autofree char *synopsis = verb_synopsis(v);

        printf("%s %s [OPTIONS...]\n\n%s.\n", MIG_PROGRAM, synopsis, v->summary);
        if (v->details)
                printf("\n%s\n", v->details);

        printf("\nOptions:\n");
        for (size_t i = 0; i < G_N_ELEMENTS(verb_options); i++) {
                const VerbOption *o = &verb_options[i];
                if ((o->flag & v->options) != 0 || (o->flag == 0 && o->help))
                        help_verb_option(o);
        }
        printf("\nThe output options --json, --no-legend, --no-pager and --no-ask-password may also\n"
               "follow the verb; -H/--host=[USER@]NODE must come before it.\n\n%s",
               exit_status_help);
}

static int verb_help(MigCtl *ctl, int argc, char **argv) {
        if (argc < 2) {
                help_main();
                return 0;
        }
        const Verb *v = verb_find(argv[1]);
        if (!v)
                return log_usage_error("Unknown verb '%s'.", argv[1]);
        help_for_verb(v);
        return 0;
}

/* ---- parsing ---- */

static const VerbOption *verb_option_by_val(int val) {
        for (size_t i = 0; val != 0 && i < G_N_ELEMENTS(verb_options); i++)
                if (verb_options[i].opt.val == val)
                        return &verb_options[i];
        return NULL;
}

static const VerbOption *verb_option_by_text(const char *text) {
        g_autofree char *name = g_str_has_prefix(text, "--") ? g_strdup(text + 2) : NULL;
        if (!name)
                return NULL;
        char *eq = strchr(name, '=');
        if (eq)
                *eq = '\0';
        for (size_t i = 0; i < G_N_ELEMENTS(verb_options); i++)
                if (verb_options[i].flag != 0 && strcmp(verb_options[i].opt.name, name) == 0)
                        return &verb_options[i];
        return NULL;
}

static int log_bad_option(const char *verb, int argc, char **argv) {
        const char *text = optind > 0 && optind <= argc ? argv[optind - 1] : "?";
        g_autofree char *bad = NULL;
        const VerbOption *o;

        /* getopt_long() reports a known long option given an argument it does not take by its val. */
        if (verb && (o = verb_option_by_val(optopt)) && o->opt.has_arg == no_argument)
                return log_usage_error("Option '--%s' takes no argument.", o->opt.name);

        if (optopt != 0 && optopt < 0x100 && g_ascii_isprint((char) optopt))
                bad = g_strdup_printf("-%c", optopt);
        else
                bad = g_strdup(text);

        if (verb && g_str_has_prefix(bad, "-H"))
                return log_usage_error("Option -H must come before the verb: %s -H NODE %s ...", MIG_PROGRAM,
                                       verb);
        if (verb)
                return log_usage_error("Unknown option '%s' for '%s'.", bad, verb);
        if ((o = verb_option_by_text(bad)))
                return log_usage_error("Option '--%s' belongs after the verb; see '%s help'.", o->opt.name,
                                       MIG_PROGRAM);
        return log_usage_error("Unknown option '%s'.", bad);
}

static int log_missing_option_argument(int argc, char **argv) {
        const char *opt = optind > 0 && optind <= argc ? argv[optind - 1] : "?";
        if (optopt != 0 && optopt < 0x100)
                return log_usage_error("Option '-%c' needs an argument.", optopt);
        return log_usage_error("Option '%s' needs an argument.", opt);
}

/* Switches valid both before and after the verb. Returns true when c was one of them. */
static bool parse_output_switch(MigCtl *ctl, int c) {
        switch (c) {
        case ARG_JSON:
                ctl->json = true;
                return true;
        case ARG_NO_LEGEND:
                ctl->legend = false;
                return true;
        case ARG_NO_PAGER:
                return true;
        case ARG_NO_ASK_PASSWORD:
                ctl->ask_password = false;
                return true;
        default:
                return false;
        }
}

/* Returns 1 to go on with the verb at argv[optind], 0 to exit successfully, < 0 on error. */
static int parse_global_options(MigCtl *ctl, int argc, char **argv) {
        static const struct option options[] = {
                {"help", no_argument, NULL, 'h'},
                {"version", no_argument, NULL, ARG_VERSION},
                {"json", no_argument, NULL, ARG_JSON},
                {"host", required_argument, NULL, 'H'},
                {"no-ask-password", no_argument, NULL, ARG_NO_ASK_PASSWORD},
                {"no-legend", no_argument, NULL, ARG_NO_LEGEND},
                {"no-pager", no_argument, NULL, ARG_NO_PAGER},
                {},
        };
        int c;

        opterr = 0;
        while ((c = getopt_long(argc, argv, "+:hH:", options, NULL)) >= 0) {
                if (parse_output_switch(ctl, c))
                        continue;
                switch (c) {
                case 'h':
                        help_main();
                        return 0;
                case ARG_VERSION:
                        printf("%s %s\n", MIG_PROGRAM, PACKAGE_VERSION);
                        return 0;
                case 'H':
                        if (!mig_ssh_address_valid(optarg))
                                return log_invalid_argument("Invalid host '%s': expected [USER@]NODE.",
                                                            optarg);
                        ctl->remote = optarg;
                        break;
                case ':':
                        return log_missing_option_argument(argc, argv);
                default:
                        return log_bad_option(NULL, argc, argv);
                }
        }
        return 1;
}

/* Parses the options after the verb into ctl->opt. Returns 1 to run the verb, 0 when help
 * was shown, < 0 on error. */
static int parse_verb_options(MigCtl *ctl, const Verb *v, int argc, char **argv) {
        struct option options[G_N_ELEMENTS(verb_options) + 1];
        size_t n = 0;
        int c;

        for (size_t i = 0; i < G_N_ELEMENTS(verb_options); i++)
                if (verb_options[i].flag == 0 || (verb_options[i].flag & v->options) != 0)
                        options[n++] = verb_options[i].opt;
        options[n] = (struct option){};

        optind = 0; /* full re-initialization of GNU getopt: options may follow arguments */
        opterr = 0;
        while ((c = getopt_long(argc, argv, (v->options & VO_FULL) ? ":hl" : ":h", options, NULL)) >= 0) {
                if (parse_output_switch(ctl, c))
                        continue;
                switch (c) {
                case 'h':
                        help_for_verb(v);
                        return 0;
                case ARG_DEST_HOST:
                        ctl->opt.host = optarg;
                        break;
                case ARG_LIVE:
                        ctl->opt.live = true;
                        break;
                case ARG_BLOCK_MIGRATION:
                        ctl->opt.block_migration = true;
                        break;
                case ARG_BANDWIDTH:
                case ARG_MAX_DOWNTIME:
                        if (!g_ascii_string_to_unsigned(
                                    optarg, 10, 1, 1000000,
                                    c == ARG_BANDWIDTH ? &ctl->opt.bandwidth : &ctl->opt.max_downtime, NULL))
                                return log_usage_error("--%s takes a whole number from 1 to 1000000.",
                                                       c == ARG_BANDWIDTH ? "bandwidth" : "max-downtime");
                        break;
                case ARG_POSTCOPY:
                        ctl->opt.postcopy = true;
                        break;
                case ARG_NO_AUTO_CONVERGE:
                        ctl->opt.no_auto_converge = true;
                        break;
                case ARG_COMPRESSED:
                case ARG_NO_COMPRESSED:
                        ctl->opt.compressed = c == ARG_COMPRESSED ? 1 : 0;
                        break;
                case ARG_WAIT:
                        ctl->opt.wait = true;
                        break;
                case ARG_VCPUS:
                        if (!g_ascii_string_to_unsigned(optarg, 10, 1, 4096, &ctl->opt.vcpus, NULL))
                                return log_usage_error("--vcpus takes a whole number from 1 to 4096.");
                        break;
                case ARG_MEMORY:
                        if (mig_parse_size(optarg, &ctl->opt.memory) < 0)
                                return log_usage_error("--memory takes a size: 512 (MiB), 512M, 2G, ...");
                        break;
                case ARG_DRY_RUN:
                        ctl->opt.dry_run = true;
                        break;
                case ARG_MAX_PARALLEL:
                        if (!g_ascii_string_to_unsigned(optarg, 10, 1, 64, &ctl->opt.max_parallel, NULL))
                                return log_usage_error("--max-parallel takes a whole number from 1 to 64.");
                        break;
                case ARG_DOMAIN:
                        ctl->opt.domain = optarg;
                        break;
                case ARG_STATUS:
                        ctl->opt.status = optarg;
                        break;
                case 'l':
                        ctl->opt.full = true;
                        break;
                case ARG_REASON:
                        ctl->opt.reason = optarg;
                        break;
                case ':':
                        return log_missing_option_argument(argc, argv);
                default:
                        return log_bad_option(v->name, argc, argv);
                }
        }
        return 1;
}

static int dispatch(MigCtl *ctl, int argc, char **argv) {
        char *default_argv[] = {(char *) DEFAULT_VERB, NULL};
        int r;

        if (argc <= 0) {
                argc = 1;
                argv = default_argv;
        }

        const Verb *v = verb_find(argv[0]);
        if (!v)
                return log_usage_error("Unknown verb '%s'.", argv[0]);

        r = parse_verb_options(ctl, v, argc, argv);
        if (r <= 0)
                return r;

        /* GNU getopt moved the positional arguments behind the options. */
        g_autoptr(GPtrArray) args = g_ptr_array_new();
        g_ptr_array_add(args, argv[0]);
        for (int i = optind; i < argc; i++)
                g_ptr_array_add(args, argv[i]);
        unsigned n = args->len - 1;
        g_ptr_array_add(args, NULL);

        if (n < v->min_args || n > v->max_args) {
                g_autofree char *synopsis = verb_synopsis(v);
                return log_usage_error("%s arguments for '%s'; usage: %s %s",
                                       n < v->min_args ? "Too few" : "Too many", v->name, MIG_PROGRAM,
                                       synopsis);
        }

        return v->run(ctl, (int) n + 1, (char **) args->pdata);
}

int main(int argc, char **argv) {
        MigCtl ctl = {
                .legend = true,
                .ask_password = true,
                .opt.compressed = -1,
        };
        int r;

        setlocale(LC_ALL, "");
        (void) mig_errors_register();

        r = parse_global_options(&ctl, argc, argv);
        if (r > 0)
                r = dispatch(&ctl, argc - optind, argv + optind);

        mig_ctl_done(&ctl);
        return log_exit_status(r);
}
