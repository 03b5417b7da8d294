/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* org.example.Migrate1.Hook on /org/example/Migrate1: the libvirt hook's ReportEvent (root
 * only). Answered only after the event is committed: a hook without an answer spools it. */

#include "bus-api.h"
#include "errors.h"
#include "intake.h"
#include "macro.h"

static int read_event(sd_bus_message *msg, MigHookEvent *e) {
        const char *f[7];
        uint64_t t;
        int r = sd_bus_message_read(msg, "stssssss", &f[0], &t, &f[1], &f[2], &f[3], &f[4], &f[5], &f[6]);
        if (r < 0)
                return r;
        *e = (MigHookEvent){g_strdup(f[0]), t,
                            g_strdup(f[1]), g_strdup(f[2]),
                            g_strdup(f[3]), g_strdup(f[4]),
                            g_strdup(f[5]), g_strdup(f[6])};
        return 0;
}

static int hook_report_event(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        int r = bus_require_root(msg, error,
                                 "The Hook interface is for migrated's libvirt hook (root) only.");
        if (r < 0)
                return r;
        g_autoptr(GPtrArray) list = g_ptr_array_new_with_free_func((GDestroyNotify) mig_hook_event_free);
        MigHookEvent *e = g_new0(MigHookEvent, 1);
        g_ptr_array_add(list, e);
        r = read_event(msg, e);
        if (r < 0)
                return r;
        if (!mig_hook_event_valid(e))
                return sd_bus_error_set(
                        error, MIG_ERROR_INVALID_ARGUMENT,
                        "Not a hook event: a 32-hex-digit id, a time, a domain name, a UUID or "
                        "\"\", an operation of lower-case letters, and short text fields.");
        g_autoptr(GError) err = NULL;
        r = intake_record(m, list, "hook", true, &err);
        if (r < 0) /* the hook keeps the event in its spool */
                return manager_store_error(error, r, err);
        return sd_bus_reply_method_return(msg, NULL);
}

const sd_bus_vtable bus_hook_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD_WITH_ARGS("ReportEvent",
                                SD_BUS_ARGS("s", id, "t", time_usec, "s", domain, "s", uuid, "s", operation,
                                            "s", sub_operation, "s", extra, "s", message),
                                SD_BUS_NO_RESULT, hook_report_event, 0),
        SD_BUS_VTABLE_END,
};
