/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "bus-api.h"

#include <errno.h>
#include <string.h>

#include "errors.h"
#include "macro.h"
#include "validate.h"

char *bus_migration_path(const char *id) {
        char *path = NULL;
        if (sd_bus_path_encode(MIG_MIGRATION_PREFIX, id, &path) < 0)
                return NULL;
        return path;
}

int bus_check_node(Manager *m, const char *node, sd_bus_error *error) {
        if (!mig_node_name_valid(node))
                return sd_bus_error_set(error, MIG_ERROR_INVALID_ARGUMENT,
                                        "Invalid node: " MIG_NODE_NAME_RULE ".");
        if (!mig_config_knows_node(m->config, node))
                return sd_bus_error_setf(error, MIG_ERROR_INVALID_ARGUMENT,
                                         "Unknown node '%s': it is neither this node (%s) nor a peer in %s.",
                                         node, manager_node(m),
                                         m->config->path ? m->config->path : "the config");
        return 0;
}

static void unref_msg(void *msg) {
        sd_bus_message_unref(msg);
}

static MigAnswer answer_of(sd_bus_message *msg, MigAnswerFn fn) {
        return (MigAnswer){fn, sd_bus_message_ref(msg), unref_msg};
}

static void reply_empty(void *msg, const MigResult *result, const sd_bus_error *error) {
        if (error)
                (void) sd_bus_reply_method_error(msg, error);
        else
                (void) sd_bus_reply_method_return(msg, NULL);
}

static void reply_path(void *msg, const MigResult *result, const sd_bus_error *error) {
        if (error)
                return (void) sd_bus_reply_method_error(msg, error);
        g_autofree char *path = bus_migration_path(result->migration_id);
        (void) sd_bus_reply_method_return(msg, "o", path);
}

/* The strv of result, and for Prepare whether each of those disks is shared (ab). */
static void reply_with_strv(void *msg, const MigResult *result, const sd_bus_error *error, bool shared) {
        if (error)
                return (void) sd_bus_reply_method_error(msg, error);
        g_autoptr(sd_bus_message) reply = NULL;
        int r = sd_bus_message_new_method_return(msg, &reply);
        if (r >= 0)
                r = sd_bus_message_append_strv(reply, (char **) result->strv);
        if (r >= 0 && shared)
                r = sd_bus_message_open_container(reply, 'a', "b");
        for (size_t i = 0; r >= 0 && shared && result->strv[i]; i++)
                r = sd_bus_message_append(reply, "b", (int) (result->shared && result->shared[i]));
        if (r >= 0 && shared)
                r = sd_bus_message_close_container(reply);
        bus_send_or_fail(msg, reply, r);
}

static void reply_strv(void *msg, const MigResult *result, const sd_bus_error *error) {
        reply_with_strv(msg, result, error, false);
}

/* Prepare: each disk's path here and whether it is on storage shared with the source. */
static void reply_disks(void *msg, const MigResult *result, const sd_bus_error *error) {
        reply_with_strv(msg, result, error, true);
}

static void reply_times(void *msg, const MigResult *result, const sd_bus_error *error) {
        if (error)
                return (void) sd_bus_reply_method_error(msg, error);
        (void) sd_bus_reply_method_return(msg, "tt", result->downtime_msec, result->duration_msec);
}

MigAnswer bus_answer_empty(sd_bus_message *msg) {
        return answer_of(msg, reply_empty);
}

MigAnswer bus_answer_path(sd_bus_message *msg) {
        return answer_of(msg, reply_path);
}

MigAnswer bus_answer_strv(sd_bus_message *msg) {
        return answer_of(msg, reply_strv);
}

MigAnswer bus_answer_disks(sd_bus_message *msg) {
        return answer_of(msg, reply_disks);
}

MigAnswer bus_answer_times(sd_bus_message *msg) {
        return answer_of(msg, reply_times);
}

int bus_require_root(sd_bus_message *msg, sd_bus_error *error, const char *why) {
        g_autoptr(sd_bus_creds) creds = NULL;
        uid_t uid = (uid_t) -1;
        int r = sd_bus_query_sender_creds(msg, SD_BUS_CREDS_EUID, &creds);
        if (r >= 0)
                r = sd_bus_creds_get_euid(creds, &uid);
        if (r < 0 || uid != 0)
                return sd_bus_error_set(error, MIG_ERROR_ACCESS_DENIED, why);
        return 0;
}

int bus_read_uuid(sd_bus_message *msg, const char **uuid, sd_bus_error *error) {
        int r = sd_bus_message_read(msg, "s", uuid);
        if (r < 0)
                return r;
        if (!mig_uuid_valid(*uuid))
                return sd_bus_error_set(error, MIG_ERROR_INVALID_ARGUMENT,
                                        "Invalid domain UUID: expected 36 characters like "
                                        "6695eb01-f6a4-8304-79aa-97f2502e193f.");
        return 0;
}

int bus_read_options(sd_bus_message *msg, const char *what, const MigDictSpec *specs, GVariant **ret,
                     sd_bus_error *error) {
        GVariant *read = NULL;
        int r = mig_bus_read_value(msg, &read);
        if (r <= 0)
                return r < 0 ? r : -EBADMSG;
        g_autoptr(GVariant) dict = g_variant_ref_sink(read);
        r = mig_dict_read_specs(dict, what, specs, error);
        if (r >= 0 && ret)
                *ret = g_steal_pointer(&dict);
        return r;
}

int bus_append_strv_entry(sd_bus_message *m, const char *key, GPtrArray *list) {
        int r = sd_bus_message_open_container(m, 'e', "sv");
        if (r >= 0)
                r = sd_bus_message_append(m, "s", key);
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'v', "as");
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'a', "s");
        for (guint i = 0; r >= 0 && list && i < list->len; i++)
                r = sd_bus_message_append_basic(m, 's', list->pdata[i]);
        for (int i = 0; r >= 0 && i < 3; i++)
                r = sd_bus_message_close_container(m);
        return r;
}

void bus_send_or_fail(sd_bus_message *request, sd_bus_message *reply, int r) {
        if (r >= 0)
                r = sd_bus_send(NULL, reply, NULL);
        if (r < 0)
                (void) sd_bus_reply_method_errorf(request, MIG_ERROR_INTERNAL,
                                                  "Could not build the reply: %s", strerror(-r));
}
