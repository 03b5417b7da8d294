/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "events.h"

#include "macro.h"

int events_record(Manager *m, GPtrArray *events, const char *origin, GError **error) {
        unsigned added = 0;
        int r = mig_store_add_domain_events(m->store, events, origin, &added, error);
        return r < 0 ? r : (int) added;
}

void events_log(const MigHookEvent *e, const char *origin) {
        g_message("Domain %s: %s %s%s%s (%s)", e->domain, e->operation, e->sub_operation,
                  e->message[0] ? ": " : "", e->message, origin);
}

void events_note(Manager *m, const char *domain, const char *uuid, const char *operation,
                 const char *message) {
        g_autoptr(GPtrArray) list = g_ptr_array_new_with_free_func((GDestroyNotify) mig_hook_event_free);
        MigHookEvent *e = mig_hook_event_make(domain, uuid, operation, "-", message);
        g_ptr_array_add(list, e);
        g_autoptr(GError) err = NULL;
        if (events_record(m, list, "migrated", &err) < 0)
                g_warning("Cannot record '%s' of %s: %s", operation, domain, err->message);
        else
                events_log(e, "migrated");
}

int events_load(Manager *m, const char *name, const char *uuid, uint64_t since_usec, GPtrArray **ret,
                GError **error) {
        g_autoptr(GPtrArray) list = NULL;
        int r = mig_store_load_domain_events(m->store, name, uuid, EVENTS_LISTED_MAX, &list, error);
        if (r < 0)
                return r;
        for (guint i = 0; i < list->len; i++)
                if (((MigDomainEvent *) list->pdata[i])->time_usec < since_usec)
                        g_ptr_array_remove_index(list, i--);
        *ret = g_steal_pointer(&list);
        return 0;
}
