/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "shared-disk.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "disk-spec.h"

static char *marker_of(const char *disk_path, const char *id) {
        g_autofree char *dir = g_path_get_dirname(disk_path);
        g_autofree char *name = g_strdup_printf(".migrated-shared-%s", id);
        return g_build_filename(dir, name, NULL);
}

unsigned mig_shared_mark(GPtrArray *disks, const char *id) {
        g_autoptr(GHashTable) seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        unsigned marked = 0;
        for (guint i = 0; disks && i < disks->len; i++) {
                g_autofree char *path = marker_of(((MigDisk *) disks->pdata[i])->path, id);
                if (!g_hash_table_add(seen, g_strdup(path)))
                        continue; /* a folder once */
                int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
                if (fd < 0) {
                        g_message("Cannot leave the marker %s (%s): its folder is taken as not shared.",
                                  path, g_strerror(errno));
                        continue;
                }
                close(fd);
                marked++;
        }
        return marked;
}

void mig_shared_unmark(GPtrArray *disks, const char *id) {
        for (guint i = 0; disks && i < disks->len; i++) {
                g_autofree char *path = marker_of(((MigDisk *) disks->pdata[i])->path, id);
                if (unlink(path) < 0 && errno != ENOENT)
                        g_warning("Cannot remove the marker %s: %s", path, g_strerror(errno));
        }
}

typedef struct Unmark {
        GPtrArray *disks;
        char *id;
} Unmark;

static void unmark_run(void *data) {
        Unmark *u = data;
        mig_shared_unmark(u->disks, u->id);
}

static void unmark_free(void *data) {
        Unmark *u = data;
        g_ptr_array_unref(u->disks);
        g_free(u->id);
        g_free(u);
}

void mig_shared_unmark_later(MigWorker *w, GPtrArray *disks, const char *id) {
        if (!disks || disks->len == 0)
                return;
        Unmark *u = g_new0(Unmark, 1);
        *u = (Unmark){g_ptr_array_ref(disks), g_strdup(id)};
        mig_worker_submit(w, unmark_run, NULL, u, unmark_free);
}

char **mig_shared_take_reply(GPtrArray *disks, GVariant *reply, char **what) {
        g_auto(GStrv) paths = NULL;
        g_autoptr(GVariant) shared = NULL;
        if (!reply || !g_variant_is_of_type(reply, G_VARIANT_TYPE("(asab)")))
                return NULL;
        g_variant_get(reply, "(^as@ab)", &paths, &shared);
        if (g_strv_length(paths) != disks->len || g_variant_n_children(shared) != disks->len)
                return NULL;
        g_autoptr(GString) s = g_string_new(NULL);
        for (guint i = 0; i < disks->len; i++) {
                MigDisk *d = disks->pdata[i];
                gboolean b = FALSE;
                g_variant_get_child(shared, i, "b", &b);
                d->shared = b;
                g_string_append_printf(s, "%s%s %s", s->len ? "; " : "", d->path,
                                       !d->backing ? (d->shared ? "shared (not copied)" : "copied")
                                       : d->shared ? "backing file there already (not copied; compared)"
                                                   : "backing file copied");
        }
        *what = g_string_free(g_steal_pointer(&s), FALSE);
        return g_steal_pointer(&paths);
}

bool mig_shared_seen(const char *path, const char *id) {
        g_autofree char *marker = marker_of(path, id);
        return access(marker, F_OK) == 0;
}
