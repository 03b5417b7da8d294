/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "bus-api.h"
#include "evacuation.h"

#include <errno.h>
#include <string.h>

#include "errors.h"
#include "macro.h"
#include "validate.h"

static int bus_api_register(Manager *m) {
        int r = sd_bus_add_object_vtable(m->bus, NULL, MIG_BUS_PATH, MIG_IFACE_MANAGER, bus_manager_vtable,
                                         m);
        if (r < 0)
                return r;
        r = sd_bus_add_object_vtable(m->bus, NULL, MIG_BUS_PATH, MIG_IFACE_PEER, bus_peer_vtable, m);
        if (r >= 0)
                r = sd_bus_add_object_vtable(m->bus, NULL, MIG_BUS_PATH, MIG_IFACE_HOOK, bus_hook_vtable, m);
        if (r < 0)
                return r;
        r = bus_migration_register(m);
        if (r >= 0)
                r = bus_evacuation_register(m);
        if (r < 0)
                return r;
        return sd_bus_add_object_manager(m->bus, NULL, MIG_BUS_PATH);
}

/* --- connection, name, idle exit --- */

static int count_message(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        m->messages++;
        return 0;
}

static bool manager_idle(Manager *m) {
        return m->messages == m->messages_seen && mig_worker_pending(m->worker) == 0 &&
               mig_polkit_pending(m->polkit) == 0 && manager_inflight_count(m) == 0 && !evacuation_busy(m);
}

static int on_exit_grace(sd_event_source *s, uint64_t usec, void *userdata) {
        return sd_event_exit(sd_event_source_get_event(s), 0);
}

static int on_idle_check(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;
        if (!manager_idle(m)) {
                m->messages_seen = m->messages;
                int r = sd_event_source_set_time_relative(s, m->idle_usec);
                return r < 0 ? r : sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
        }
        g_message("Idle, exiting; D-Bus activation starts migrated again when it is needed.");
        /* Give up the name first, then answer what is already queued for us. */
        (void) sd_bus_release_name(m->bus, MIG_BUS_NAME);
        return sd_event_add_time_relative(m->event, NULL, CLOCK_MONOTONIC, 250 * USEC_PER_MSEC, 0,
                                          on_exit_grace, m);
}

static int connect_bus(Manager *m, bool user_bus) {
        int r = user_bus ? sd_bus_open_user(&m->bus) : sd_bus_open_system(&m->bus);
        if (r < 0)
                return r;
        r = sd_bus_attach_event(m->bus, m->event, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0)
                return r;
        return sd_bus_add_filter(m->bus, NULL, count_message, m);
}

int bus_start(Manager *m, bool user_bus) {
        int r = connect_bus(m, user_bus);
        if (r < 0) {
                g_printerr("Cannot connect to the %s bus: %s\n", user_bus ? "user" : "system", strerror(-r));
                return r;
        }
        r = bus_api_register(m);
        if (r < 0) {
                g_printerr("Cannot publish the bus objects: %s\n", strerror(-r));
                return r;
        }
        r = sd_bus_request_name(m->bus, MIG_BUS_NAME, 0);
        if (r < 0) {
                g_printerr("Cannot own %s: %s\n", MIG_BUS_NAME, strerror(-r));
                return r;
        }
        if (m->idle_usec > 0)
                r = sd_event_add_time_relative(m->event, &m->idle_timer, CLOCK_MONOTONIC, m->idle_usec, 0,
                                               on_idle_check, m);
        return r;
}

/* --- answers --- */

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

static void reply_strv(void *msg, const MigResult *result, const sd_bus_error *error) {
        if (error)
                return (void) sd_bus_reply_method_error(msg, error);
        g_autoptr(sd_bus_message) reply = NULL;
        int r = sd_bus_message_new_method_return(msg, &reply);
        if (r >= 0)
                r = sd_bus_message_append_strv(reply, (char **) result->strv);
        bus_send_or_fail(msg, reply, r);
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
