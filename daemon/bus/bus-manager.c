/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* org.example.Migrate1.Manager: the operator's methods. Every handler:
 * read → validate → polkit → act (committed first) → reply. */

#include <errno.h>
#include <string.h>

#include "buildconfig.h"
#include "bus-api.h"
#include "bus-variant.h"
#include "cold.h"
#include "errors.h"
#include "events.h"
#include "live.h"
#include "macro.h"
#include "validate.h"
#include "virt-call.h"

static int invalid_domain(sd_bus_error *error) {
        return sd_bus_error_set(error, MIG_ERROR_INVALID_ARGUMENT,
                                "Invalid domain: " MIG_DOMAIN_NAME_RULE ".");
}

/* The node must be this one or a configured peer. */
/* --- a{sv} arguments: known keys of known types only --- */

typedef MigDictSpec OptionSpec;

static int read_options(sd_bus_message *msg, const char *what, const OptionSpec *specs,
                        sd_bus_error *error) {
        return bus_read_options(msg, what, specs, NULL, error);
}

/* --- Migrate --- */

int bus_check_destination(Manager *m, const char *destination, sd_bus_error *error) {
        if (!*destination)
                return 0;
        int r = bus_check_node(m, destination, error);
        if (r < 0)
                return r;
        if (strcmp(destination, manager_node(m)) == 0)
                return sd_bus_error_setf(error, MIG_ERROR_INVALID_ARGUMENT,
                                         "Cannot migrate to %s: the domain is already on that node.",
                                         destination);
        return 0;
}

typedef struct MigrateArgs {
        int live, block;
        int auto_converge, postcopy, compressed; /* -1: not given */
        uint64_t bandwidth, max_downtime;        /* 0: not given */
        uint32_t parallel;                       /* 0: not given */
        uint64_t memory;                         /* a resize: bytes, 0: kept */
        uint32_t vcpus;                          /* a resize: 0: kept */
} MigrateArgs;

static int check_migrate_args(const MigrateArgs *a, sd_bus_error *error) {
        if (a->block && !a->live)
                return sd_bus_error_set(
                        error, MIG_ERROR_INVALID_ARGUMENT,
                        "block-migration applies to live migrations only (cold migrations always "
                        "copy the disks).");
        if (!a->live &&
            (a->bandwidth || a->max_downtime || a->postcopy == 1 || a->parallel || a->compressed == 1))
                return sd_bus_error_set(
                        error, MIG_ERROR_INVALID_ARGUMENT,
                        "bandwidth, max-downtime, postcopy, parallel-connections and compressed "
                        "apply to live migrations only.");
        if ((a->memory || a->vcpus) && a->live)
                return sd_bus_error_set(
                        error, MIG_ERROR_INVALID_ARGUMENT,
                        "memory and vcpus resize a domain, which is a cold move: drop live.");
        if ((a->memory && (a->memory < (16ULL << 20) || a->memory > (16ULL << 40))) || a->vcpus > 4096)
                return sd_bus_error_set(error, MIG_ERROR_INVALID_ARGUMENT,
                                        "memory is from 16 MiB to 16 TiB (in bytes), vcpus at most 4096.");
        if (a->bandwidth > 1000000 || a->max_downtime > 600000 || a->parallel > 64)
                return sd_bus_error_set(error, MIG_ERROR_INVALID_ARGUMENT,
                                        "bandwidth is at most 1000000 MiB/s, max-downtime 600000 ms, "
                                        "parallel-connections 64.");
        return 0;
}

/* What the caller gave, and [Live] of migrated.conf for the rest. */
static MigLiveOptions live_options(const Manager *m, const MigrateArgs *a) {
        const MigLiveConfig *l = &m->config->live;
        return (MigLiveOptions){
                .block = a->block,
                .bandwidth_mib = a->bandwidth ? a->bandwidth : l->bandwidth,
                .max_downtime_ms = a->max_downtime ? a->max_downtime : l->max_downtime,
                .auto_converge = a->auto_converge < 0 ? l->auto_converge : a->auto_converge,
                .postcopy = a->postcopy < 0 ? l->postcopy : a->postcopy,
                .parallel = a->parallel ? a->parallel : l->parallel_connections,
                .compressed = a->compressed < 0 ? l->compressed
                              : a->compressed   ? MIG_COMPRESS_ALWAYS
                                                : MIG_COMPRESS_NEVER,
        };
}

/* Migrate, once authorized: on this node when it holds the domain, else forwarded to the
 * node that does (bus-forward.c: the migration is followed here under the same path). A
 * forwarded call (Peer.ForwardMigrate) is never forwarded again. */
typedef struct MigrateStart {
        char *domain, *destination;
        GVariant *options; /* as the caller gave them, for the holder */
        bool live;
        MigLiveOptions live_opts;
        bool may_forward;
        MigResize resize;
} MigrateStart;

static void migrate_start_free(MigrateStart *st) {
        g_free(st->domain);
        g_free(st->destination);
        if (st->options)
                g_variant_unref(st->options);
        g_free(st);
}

static void on_migrate_lookup(VirtCall *c) {
        MigrateStart *st = c->data;
        g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
        int r = 0;
        if (c->result == 0)
                r = st->live ? live_migrate(c->m, c->domain, st->destination, &st->live_opts,
                                            bus_answer_path(c->request), &error)
                             : cold_migrate(c->m, c->domain, st->destination, &st->resize,
                                            bus_answer_path(c->request), &error);
        else if (g_strcmp0(c->err.name, MIG_ERROR_NOT_FOUND) != 0 || !st->may_forward)
                r = mig_virt_error_to_bus(&c->err, &error);
        else
                bus_forward_to_holder(c->m, c->request, st->domain, "ForwardMigrate",
                                      g_variant_new("(ss@a{sv})", st->domain, st->destination, st->options),
                                      BUS_FORWARD_MIGRATION);
        if (r < 0)
                (void) sd_bus_reply_method_error(c->request, &error);
        migrate_start_free(st);
}

/* Reads and checks Migrate's domain, destination and options (Manager and Peer alike). */
static int migrate_read(sd_bus_message *msg, Manager *m, MigrateStart **ret, sd_bus_error *error) {
        const char *domain, *destination;
        MigrateArgs a = {.auto_converge = -1, .postcopy = -1, .compressed = -1}; /* -1: the [Live] default */
        const OptionSpec specs[] = {
                {"live", 'b', &a.live},
                {"block-migration", 'b', &a.block},
                {"bandwidth", 't', &a.bandwidth},
                {"max-downtime", 't', &a.max_downtime},
                {"auto-converge", 'b', &a.auto_converge},
                {"postcopy", 'b', &a.postcopy},
                {"parallel-connections", 'u', &a.parallel},
                {"compressed", 'b', &a.compressed},
                {"memory", 't', &a.memory},
                {"vcpus", 'u', &a.vcpus},
                {NULL},
        };
        g_autoptr(GVariant) options = NULL;
        int r = sd_bus_message_read(msg, "ss", &domain, &destination);
        if (r < 0 || (r = bus_read_options(msg, "option", specs, &options, error)) < 0)
                return r;
        if (!mig_domain_name_valid(domain))
                return invalid_domain(error);
        bool here =
                (a.memory || a.vcpus) && strcmp(destination, manager_node(m)) == 0; /* a resize in place */
        if ((!here && (r = bus_check_destination(m, destination, error)) < 0) ||
            (r = check_migrate_args(&a, error)) < 0)
                return r;
        MigrateStart *st = g_new0(MigrateStart, 1);
        *st = (MigrateStart){g_strdup(domain),          g_strdup(destination),
                             g_steal_pointer(&options), a.live,
                             live_options(m, &a),       true,
                             {a.memory, a.vcpus}};
        *ret = st;
        return 0;
}

static void migrate_begin(sd_bus_message *msg, Manager *m, MigrateStart *st) {
        VirtCall *c = virt_call_new(m, VIRT_LOOKUP, msg, on_migrate_lookup, st);
        c->lane = MIG_LANE_STEP; /* an authorized operator's call */
        c->domain = g_strdup(st->domain);
        virt_call_submit(c);
}

static int method_migrate(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        MigrateStart *st = NULL;
        int interactive;
        int r = migrate_read(msg, m, &st, error);
        if (r >= 0 && (r = sd_bus_message_read(msg, "b", &interactive)) >= 0)
                r = bus_authorize(m, msg, st->domain, st->destination, st->live ? "live" : "cold",
                                  interactive, error);
        if (r <= 0) {
                if (st)
                        migrate_start_free(st);
                return r < 0 ? r : 1; /* 0: polkit was asked; the call comes back with its answer */
        }
        migrate_begin(msg, m, st);
        return 1;
}

int bus_peer_forward_migrate(sd_bus_message *msg, Manager *m, sd_bus_error *error) {
        MigrateStart *st = NULL;
        int r = migrate_read(msg, m, &st, error);
        if (r < 0)
                return r;
        st->may_forward = false;
        migrate_begin(msg, m, st);
        return 1;
}

/* --- Confirm, Revert, Abort, ForceComplete: act on the domain's migration in flight --- */

typedef struct InflightVerb {
        const char *name;
        const char *need; /* the statuses the verb applies to, for the message */
        bool (*applies)(const MigMigration *mig);
        int (*cold)(Manager *m, MigMigration *mig, MigAnswer answer, sd_bus_error *error);
        int (*live)(Manager *m, MigMigration *mig, MigAnswer answer, sd_bus_error *error);
        int (*resize)(Manager *m, MigMigration *mig, MigAnswer answer,
                      sd_bus_error *error); /* on this node */
} InflightVerb;

static bool waits_for_verify(const MigMigration *mig) {
        return (strcmp(mig->kind, "cold") == 0 || strcmp(mig->kind, "resize") == 0) &&
               strcmp(mig->status, "finished") == 0;
}

static bool abortable(const MigMigration *mig) {
        return !mig_status_is_final(mig->status) && !waits_for_verify(mig) &&
               strcmp(mig->status, "confirming") != 0 && strcmp(mig->status, "reverting") != 0;
}

static bool live_running(const MigMigration *mig) {
        return strcmp(mig->kind, "live") == 0 && strcmp(mig->status, "running") == 0;
}

static const InflightVerb verbs[] = {
        {"confirm", "a cold migration waiting in VERIFY_RESIZE", waits_for_verify, cold_confirm, NULL,
         cold_resize_confirm},
        {"revert", "a cold migration waiting in VERIFY_RESIZE", waits_for_verify, cold_revert, NULL,
         cold_resize_revert},
        {"abort", "a migration in flight (before VERIFY_RESIZE)", abortable, cold_abort, live_abort},
        {"force-complete", "a running live migration", live_running, NULL, live_force_complete},
};

static const InflightVerb *find_verb(const char *name) {
        for (size_t i = 0; i < G_N_ELEMENTS(verbs); i++)
                if (strcmp(verbs[i].name, name) == 0)
                        return &verbs[i];
        return NULL;
}

static void on_forwarded(MigPeer *peer, GVariant *reply, const sd_bus_error *error, void *userdata) {
        g_autoptr(sd_bus_message) request = userdata;
        if (error)
                (void) sd_bus_reply_method_error(request, error);
        else
                (void) sd_bus_reply_method_return(request, NULL);
}

/* The step runs where the migration is driven: on its source node. */
static int forward_to_source(sd_bus_message *msg, Manager *m, const InflightVerb *verb, MigMigration *mig,
                             sd_bus_error *error) {
        MigPeer *peer = mig_peers_find(m->peers, mig->source);
        if (!peer)
                return sd_bus_error_setf(
                        error, MIG_ERROR_PEER_UNREACHABLE,
                        "Migration %s is driven by node %s, which is not a configured peer.", mig->id,
                        mig->source);
        mig_peer_call(peer, "ForwardVerb", 10 * 60 * USEC_PER_SEC, on_forwarded, sd_bus_message_ref(msg),
                      g_variant_new("(ss)", verb->name, mig->id));
        return 1;
}

static int run_verb(sd_bus_message *msg, Manager *m, const InflightVerb *verb, MigMigration *mig,
                    sd_bus_error *error) {
        if (!verb->applies(mig))
                return sd_bus_error_setf(error, MIG_ERROR_CONFLICT,
                                         "Cannot %s: %s needs %s, but its migration %s is '%s'.", verb->name,
                                         mig->domain_name, verb->need, mig->id, mig->status);
        if (strcmp(mig->role, "destination") == 0)
                return forward_to_source(msg, m, verb, mig, error);
        if (strcmp(mig->kind, "cold") == 0 && verb->cold)
                return verb->cold(m, mig, bus_answer_empty(msg), error);
        if (strcmp(mig->kind, "live") == 0 && verb->live)
                return verb->live(m, mig, bus_answer_empty(msg), error);
        if (strcmp(mig->kind, "resize") == 0 && verb->resize)
                return verb->resize(m, mig, bus_answer_empty(msg), error);
        return sd_bus_error_setf(error, MIG_ERROR_NOT_SUPPORTED,
                                 "%s of a %s migration is not available yet.", verb->name, mig->kind);
}

int bus_run_verb(sd_bus_message *msg, Manager *m, const char *verb_name, const char *id,
                 sd_bus_error *error) {
        const InflightVerb *verb = find_verb(verb_name);
        MigMigration *mig = mig_migration_id_valid(id) ? manager_find_migration(m, id) : NULL;
        if (!verb || !mig || strcmp(mig->role, "source") != 0)
                return sd_bus_error_setf(error, MIG_ERROR_NOT_FOUND, "Node %s drives no migration %s.",
                                         manager_node(m), id);
        return run_verb(msg, m, verb, mig, error);
}

/* Whether the domain of mig, ended, is elsewhere now: this node was the source of a move that
 * succeeded, or the destination of one that did not. */
static bool moved_on(const MigMigration *mig) {
        bool success = mig_status_is_success(mig->status);
        return mig_status_is_final(mig->status) && strcmp(mig->kind, "resize") != 0 &&
               (strcmp(mig->role, "source") == 0) == success;
}

/* The verb on the domain's migration recorded here; with none, or when the newest one moved
 * the domain away (its holder may have one in flight: a resize there, a later move), on the
 * node that holds the domain, unless the call came forwarded already. */
static int domain_verb(sd_bus_message *msg, Manager *m, const InflightVerb *verb, const char *domain,
                       MigMigration *latest, bool may_forward, sd_bus_error *error) {
        if (latest && (!moved_on(latest) || !may_forward))
                return run_verb(msg, m, verb, latest, error);
        if (!may_forward)
                return sd_bus_error_setf(error, MIG_ERROR_NOT_FOUND,
                                         "No migration of domain '%s' is recorded on node %s.", domain,
                                         manager_node(m));
        bus_forward_to_holder(m, msg, domain, "ForwardDomainVerb", g_variant_new("(ss)", verb->name, domain),
                              BUS_FORWARD_RELAY);
        return 1;
}

static MigMigration *latest_of(Manager *m, const char *domain) {
        MigMigration *mig = manager_find_inflight(m, domain);
        return mig ? mig : manager_find_latest(m, domain);
}

static int inflight_verb(sd_bus_message *msg, Manager *m, const char *verb_name, sd_bus_error *error) {
        const InflightVerb *verb = find_verb(verb_name);
        const char *domain;
        int interactive;
        int r = sd_bus_message_read(msg, "sb", &domain, &interactive);
        if (r < 0)
                return r;
        if (!mig_domain_name_valid(domain))
                return invalid_domain(error);
        MigMigration *latest = latest_of(m, domain);
        /* polkit sees the migration's destination and kind (only read here: nothing changes
         * before the answer) */
        if ((r = bus_authorize(m, msg, domain, latest ? latest->destination : NULL,
                               latest ? latest->kind : NULL, interactive, error)) <= 0)
                return r < 0 ? r : 1; /* 0: polkit was asked; the call comes back with its answer */
        return domain_verb(msg, m, verb, domain, latest, true, error);
}

int bus_peer_forward_domain_verb(sd_bus_message *msg, Manager *m, sd_bus_error *error) {
        const char *verb_name, *domain;
        int r = sd_bus_message_read(msg, "ss", &verb_name, &domain);
        if (r < 0)
                return r;
        const InflightVerb *verb = find_verb(verb_name);
        if (!verb || !mig_domain_name_valid(domain))
                return sd_bus_error_set(error, MIG_ERROR_INVALID_ARGUMENT,
                                        "Unknown verb or invalid domain.");
        return domain_verb(msg, m, verb, domain, latest_of(m, domain), false, error);
}

static int method_confirm(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        return inflight_verb(msg, userdata, "confirm", error);
}

static int method_revert(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        return inflight_verb(msg, userdata, "revert", error);
}

static int method_abort(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        return inflight_verb(msg, userdata, "abort", error);
}

static int method_force_complete(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        return inflight_verb(msg, userdata, "force-complete", error);
}

/* --- migrations --- */

typedef struct MigrationFilter {
        char *domain;
        char *status;
} MigrationFilter;

static void filter_clear(MigrationFilter *f) {
        g_free(f->domain);
        g_free(f->status);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(MigrationFilter, filter_clear)

static int read_filter(sd_bus_message *msg, MigrationFilter *f, sd_bus_error *error) {
        const OptionSpec specs[] = {{"domain", 's', &f->domain}, {"status", 's', &f->status}, {NULL}};
        int r = read_options(msg, "filter", specs, error);
        if (r < 0)
                return r;
        if (f->domain && !mig_domain_name_valid(f->domain))
                return invalid_domain(error);
        if (f->status && !mig_status_is_known(f->status))
                return sd_bus_error_set(error, MIG_ERROR_INVALID_ARGUMENT,
                                        "Unknown migration status in filter.");
        return 0;
}

static gint by_created(gconstpointer a, gconstpointer b) {
        const MigMigration *x = *(MigMigration *const *) a, *y = *(MigMigration *const *) b;
        return x->created_usec < y->created_usec ? -1 : x->created_usec > y->created_usec;
}

static bool matches(const MigMigration *mig, const MigrationFilter *f) {
        bool domain_ok = !f->domain || strcmp(mig->domain_name, f->domain) == 0 ||
                         g_ascii_strcasecmp(mig->domain_uuid, f->domain) == 0;
        return domain_ok && (!f->status || strcmp(mig->status, f->status) == 0);
}

static int method_list_migrations(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        g_auto(MigrationFilter) f = {0};
        int r = read_filter(msg, &f, error);
        if (r < 0)
                return r;
        g_autoptr(GPtrArray) list = g_ptr_array_new();
        GHashTableIter it;
        gpointer value;
        g_hash_table_iter_init(&it, m->migrations);
        while (g_hash_table_iter_next(&it, NULL, &value))
                g_ptr_array_add(list, value);
        g_ptr_array_sort(list, by_created);
        g_autoptr(sd_bus_message) reply = NULL;
        r = sd_bus_message_new_method_return(msg, &reply);
        if (r >= 0)
                r = sd_bus_message_open_container(reply, 'a', "a{sv}");
        for (guint i = 0; r >= 0 && i < list->len; i++)
                if (matches(list->pdata[i], &f))
                        r = bus_append_migration_entry(reply, list->pdata[i]);
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        return r < 0 ? r : sd_bus_send(NULL, reply, NULL);
}

/* A domain's newest migration recorded elsewhere is followed here (a mirror), so that watch
 * works from any node; a migration ID unknown here is not searched for. */
static int get_migration(sd_bus_message *msg, Manager *m, bool may_forward, sd_bus_error *error) {
        const char *key;
        int r = sd_bus_message_read(msg, "s", &key);
        if (r < 0)
                return r;
        if (!mig_migration_id_valid(key) && !mig_domain_name_valid(key))
                return sd_bus_error_set(error, MIG_ERROR_INVALID_ARGUMENT,
                                        "Expected a migration ID (32 hex digits) or a domain name or UUID.");
        MigMigration *mig = manager_find_migration(m, key);
        if (!mig)
                mig = bus_mirror_find(m, key);
        if (!mig)
                mig = manager_find_latest(m, key);
        if (!mig && may_forward && !mig_migration_id_valid(key)) {
                bus_forward_to_holder(m, msg, key, "GetMigration", g_variant_new("(s)", key),
                                      BUS_FORWARD_MIGRATION);
                return 1;
        }
        if (!mig)
                return sd_bus_error_setf(error, MIG_ERROR_NOT_FOUND,
                                         "No migration '%s' is recorded on node %s.", key, manager_node(m));
        g_autofree char *path = bus_migration_path(mig->id);
        return sd_bus_reply_method_return(msg, "o", path);
}

static int method_get_migration(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        return get_migration(msg, userdata, true, error);
}

int bus_peer_get_migration(sd_bus_message *msg, Manager *m, sd_bus_error *error) {
        return get_migration(msg, m, false, error);
}

/* --- hosts --- */

static void on_peer_host_state(MigPeer *peer, GVariant *reply, const sd_bus_error *error, void *userdata) {
        g_autoptr(sd_bus_message) request = userdata;
        if (error)
                (void) sd_bus_reply_method_error(request, error);
        else
                (void) sd_bus_reply_method_return(request, NULL);
}

static int set_host_state(sd_bus_message *msg, Manager *m, const char *node, bool enabled,
                          const char *reason, sd_bus_error *error) {
        if (strcmp(node, manager_node(m)) != 0) {
                mig_peer_call(mig_peers_find(m->peers, node), "SetHostState", MIG_PEER_TIMEOUT_USEC,
                              on_peer_host_state, sd_bus_message_ref(msg),
                              g_variant_new("(bs)", enabled, reason));
                return 1;
        }
        g_autoptr(GError) e = NULL;
        int r = mig_store_set_host_state(m->store, node, enabled, reason, &e);
        if (r < 0)
                return manager_store_error(error, r, e);
        g_message("Node %s %s%s%s.", node, enabled ? "enabled" : "disabled", *reason ? ": " : "", reason);
        return sd_bus_reply_method_return(msg, NULL);
}

static int method_disable_host(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        const char *node, *reason;
        int interactive;
        int r = sd_bus_message_read(msg, "ssb", &node, &reason, &interactive);
        if (r < 0 || (r = bus_check_node(m, node, error)) < 0)
                return r;
        if (!mig_reason_valid(reason))
                return sd_bus_error_set(error, MIG_ERROR_INVALID_ARGUMENT,
                                        "Invalid reason: " MIG_REASON_RULE
                                        " (say why the node is disabled).");
        if ((r = bus_authorize(m, msg, NULL, node, NULL, interactive, error)) <= 0)
                return r < 0 ? r : 1; /* 0: polkit was asked; the call comes back with its answer */
        return set_host_state(msg, m, node, false, reason, error);
}

static int method_enable_host(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        const char *node;
        int interactive;
        int r = sd_bus_message_read(msg, "sb", &node, &interactive);
        if (r < 0 || (r = bus_check_node(m, node, error)) < 0)
                return r;
        if ((r = bus_authorize(m, msg, NULL, node, NULL, interactive, error)) <= 0)
                return r < 0 ? r : 1; /* 0: polkit was asked; the call comes back with its answer */
        return set_host_state(msg, m, node, true, "", error);
}

/* --- groups: written on the node that holds the domain --- */

typedef struct GroupForward {
        sd_bus_message *request;
        char *domain;
        bool done;
} GroupForward;

static void group_forward_done(void *userdata) {
        GroupForward *f = userdata;
        if (!f->done)
                (void) sd_bus_reply_method_errorf(f->request, MIG_ERROR_NOT_FOUND,
                                                  "No reachable node of the cluster has a domain '%s'.",
                                                  f->domain);
        sd_bus_message_unref(f->request);
        g_free(f->domain);
        g_free(f);
}

static void on_peer_group(MigPeer *peer, GVariant *reply, const sd_bus_error *error, void *userdata) {
        GroupForward *f = userdata;
        if (!f->done && (reply || (error && strcmp(error->name, MIG_ERROR_NOT_FOUND) != 0 &&
                                   strcmp(error->name, MIG_ERROR_PEER_UNREACHABLE) != 0))) {
                f->done = true;
                if (reply)
                        (void) sd_bus_reply_method_return(f->request, NULL);
                else
                        (void) sd_bus_reply_method_error(f->request, error);
        }
}

static void on_local_group(VirtCall *c) {
        g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
        if (c->result == 0) {
                (void) sd_bus_reply_method_return(c->request, NULL);
                return;
        }
        if (g_strcmp0(c->err.name, MIG_ERROR_NOT_FOUND) != 0 || c->data /* called by a peer */) {
                mig_virt_error_to_bus(&c->err, &error);
                (void) sd_bus_reply_method_error(c->request, &error);
                return;
        }
        GroupForward *f = g_new0(GroupForward, 1);
        *f = (GroupForward){sd_bus_message_ref(c->request), g_strdup(c->domain), false};
        mig_peers_ask_all(
                c->m->peers, "SetGroup", MIG_PEER_TIMEOUT_USEC, on_peer_group, group_forward_done, f,
                g_variant_new("(sss)", c->domain, c->group ? c->group : "", c->policy ? c->policy : ""));
}

/* Writes the group locally, or on the peer that holds the domain (not when a peer asked). */
int bus_set_group(sd_bus_message *msg, Manager *m, const char *domain, const char *name, const char *policy,
                  bool from_peer) {
        VirtCall *c = virt_call_new(m, VIRT_SET_GROUP, msg, on_local_group, from_peer ? m : NULL);
        c->domain = g_strdup(domain);
        c->group = name ? g_strdup(name) : NULL;
        c->policy = policy ? g_strdup(policy) : NULL;
        virt_call_submit(c);
        return 1;
}

static int method_set_group(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        const char *domain, *name, *policy;
        int interactive;
        int r = sd_bus_message_read(msg, "sssb", &domain, &name, &policy, &interactive);
        if (r < 0)
                return r;
        if (!mig_domain_name_valid(domain))
                return invalid_domain(error);
        if (!mig_group_name_valid(name))
                return sd_bus_error_set(error, MIG_ERROR_INVALID_ARGUMENT,
                                        "Invalid group: " MIG_GROUP_NAME_RULE ".");
        if (!mig_group_policy_valid(policy))
                return sd_bus_error_set(error, MIG_ERROR_INVALID_ARGUMENT,
                                        "Invalid policy: " MIG_POLICY_RULE ".");
        if ((r = bus_authorize(m, msg, domain, NULL, NULL, interactive, error)) <= 0)
                return r < 0 ? r : 1; /* 0: polkit was asked; the call comes back with its answer */
        return bus_set_group(msg, m, domain, name, policy, false);
}

static int method_clear_group(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        const char *domain;
        int interactive;
        int r = sd_bus_message_read(msg, "sb", &domain, &interactive);
        if (r < 0)
                return r;
        if (!mig_domain_name_valid(domain))
                return invalid_domain(error);
        if ((r = bus_authorize(m, msg, domain, NULL, NULL, interactive, error)) <= 0)
                return r < 0 ? r : 1; /* 0: polkit was asked; the call comes back with its answer */
        return bus_set_group(msg, m, domain, NULL, NULL, false);
}

/* --- properties --- */

static int property_node_name(sd_bus *bus, const char *path, const char *interface, const char *property,
                              sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return sd_bus_message_append(reply, "s", manager_node(userdata));
}

static int property_version(sd_bus *bus, const char *path, const char *interface, const char *property,
                            sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return sd_bus_message_append(reply, "s", PACKAGE_VERSION);
}

static int property_active(sd_bus *bus, const char *path, const char *interface, const char *property,
                           sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return sd_bus_message_append(reply, "u", manager_inflight_count(userdata));
}

#define U SD_BUS_VTABLE_UNPRIVILEGED

const sd_bus_vtable bus_manager_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("NodeName", "s", property_node_name, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Version", "s", property_version, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("ActiveMigrations", "u", property_active, 0, 0),
        SD_BUS_METHOD_WITH_ARGS(
                "Migrate", SD_BUS_ARGS("s", domain, "s", destination, "a{sv}", options, "b", interactive),
                SD_BUS_RESULT("o", migration), method_migrate, U),
        SD_BUS_METHOD_WITH_ARGS("Plan", SD_BUS_ARGS("s", domain, "s", destination, "a{sv}", options),
                                SD_BUS_RESULT("aa{sv}", nodes), bus_method_plan, U),
        SD_BUS_METHOD_WITH_ARGS("Confirm", SD_BUS_ARGS("s", domain, "b", interactive), SD_BUS_NO_RESULT,
                                method_confirm, U),
        SD_BUS_METHOD_WITH_ARGS("Revert", SD_BUS_ARGS("s", domain, "b", interactive), SD_BUS_NO_RESULT,
                                method_revert, U),
        SD_BUS_METHOD_WITH_ARGS("Abort", SD_BUS_ARGS("s", domain, "b", interactive), SD_BUS_NO_RESULT,
                                method_abort, U),
        SD_BUS_METHOD_WITH_ARGS("ForceComplete", SD_BUS_ARGS("s", domain, "b", interactive),
                                SD_BUS_NO_RESULT, method_force_complete, U),
        SD_BUS_METHOD_WITH_ARGS("Evacuate", SD_BUS_ARGS("s", node, "a{sv}", options, "b", interactive),
                                SD_BUS_RESULT("a{sv}", evacuation), bus_method_evacuate, U),
        SD_BUS_METHOD_WITH_ARGS("Restore", SD_BUS_ARGS("s", node, "a{sv}", options, "b", interactive),
                                SD_BUS_RESULT("a{sv}", evacuation), bus_method_restore, U),
        SD_BUS_METHOD_WITH_ARGS("ControlEvacuation", SD_BUS_ARGS("s", node, "s", action, "b", interactive),
                                SD_BUS_NO_RESULT, bus_method_control_evacuation, U),
        SD_BUS_METHOD_WITH_ARGS("GetEvacuation", SD_BUS_ARGS("s", node), SD_BUS_RESULT("a{sv}", evacuation),
                                bus_method_get_evacuation, U),
        SD_BUS_METHOD_WITH_ARGS("ListEvacuations", SD_BUS_NO_ARGS, SD_BUS_RESULT("aa{sv}", evacuations),
                                bus_method_list_evacuations, U),
        SD_BUS_METHOD_WITH_ARGS("ListMigrations", SD_BUS_ARGS("a{sv}", filter),
                                SD_BUS_RESULT("aa{sv}", migrations), method_list_migrations, U),
        SD_BUS_METHOD_WITH_ARGS("GetMigration", SD_BUS_ARGS("s", id_or_domain),
                                SD_BUS_RESULT("o", migration), method_get_migration, U),
        SD_BUS_METHOD_WITH_ARGS("ListHosts", SD_BUS_NO_ARGS, SD_BUS_RESULT("aa{sv}", hosts),
                                bus_method_list_hosts, U),
        SD_BUS_METHOD_WITH_ARGS("DisableHost", SD_BUS_ARGS("s", node, "s", reason, "b", interactive),
                                SD_BUS_NO_RESULT, method_disable_host, U),
        SD_BUS_METHOD_WITH_ARGS("EnableHost", SD_BUS_ARGS("s", node, "b", interactive), SD_BUS_NO_RESULT,
                                method_enable_host, U),
        SD_BUS_METHOD_WITH_ARGS("ListDomains", SD_BUS_NO_ARGS, SD_BUS_RESULT("aa{sv}", domains),
                                bus_method_list_domains, U),
        SD_BUS_METHOD_WITH_ARGS("DescribeDomain", SD_BUS_ARGS("s", domain),
                                SD_BUS_RESULT("a{sv}", description), bus_method_describe_domain, U),
        SD_BUS_METHOD_WITH_ARGS("ListDomainEvents", SD_BUS_ARGS("s", uuid), SD_BUS_RESULT("aa{sv}", events),
                                bus_method_list_domain_events, U),
        SD_BUS_METHOD_WITH_ARGS("ListGroups", SD_BUS_NO_ARGS, SD_BUS_RESULT("aa{sv}", groups),
                                bus_method_list_groups, U),
        SD_BUS_METHOD_WITH_ARGS("SetGroup",
                                SD_BUS_ARGS("s", domain, "s", name, "s", policy, "b", interactive),
                                SD_BUS_NO_RESULT, method_set_group, U),
        SD_BUS_METHOD_WITH_ARGS("ClearGroup", SD_BUS_ARGS("s", domain, "b", interactive), SD_BUS_NO_RESULT,
                                method_clear_group, U),
        SD_BUS_VTABLE_END,
};
