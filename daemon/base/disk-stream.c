/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "disk-stream.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "disk-hash.h"
#include "errors.h"
#include "macro.h"

#define FRAME_MAX (4 * 1024 * 1024) /* data bytes in one frame, at most */
#define PIPE_SIZE (1024 * 1024)

typedef struct Frame {
        guint32 type, length;
        guint64 offset;
} Frame;

static int write_all(int fd, const struct iovec *iov, int n) {
        struct iovec v[2];
        memcpy(v, iov, sizeof(*iov) * (size_t) n);
        for (int i = 0; i < n;) {
                ssize_t w = writev(fd, v + i, n - i);
                if (w < 0 && errno == EINTR)
                        continue;
                if (w < 0)
                        return -errno;
                for (; i < n && (size_t) w >= v[i].iov_len; i++)
                        w -= (ssize_t) v[i].iov_len;
                if (i < n) {
                        v[i].iov_base = (char *) v[i].iov_base + w;
                        v[i].iov_len -= (size_t) w;
                }
        }
        return 0;
}

static int read_all(int fd, void *buf, size_t n) {
        for (size_t got = 0; got < n;) {
                ssize_t r = read(fd, (char *) buf + got, n - got);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r < 0)
                        return -errno;
                if (r == 0)
                        return -EPIPE; /* the other side went away */
                got += (size_t) r;
        }
        return 0;
}

static int send_frame(int out, guint32 type, guint64 offset, const guint8 *data, guint32 len) {
        Frame f = {GUINT32_TO_LE(type), GUINT32_TO_LE(len), GUINT64_TO_LE(offset)};
        struct iovec v[2] = {{&f, sizeof(f)}, {(void *) data, len}};
        return write_all(out, v, len ? 2 : 1);
}

/* --- sending --- */

typedef struct Sender {
        int out;
        MigDiskHash hash;
        const guint8 *pending; /* data of the frame being gathered: in the reader's buffer */
        guint64 pending_offset;
        guint32 pending_len;
        MigCopyProgress *progress;
        int send_error; /* -errno of the pipe */
} Sender;

static int flush_pending(Sender *s) {
        if (!s->pending_len)
                return 0;
        int r = send_frame(s->out, 'D', s->pending_offset, s->pending, s->pending_len);
        s->pending_len = 0;
        if (r < 0)
                s->send_error = r;
        return r;
}

/* One block with data: hashed, and gathered with the blocks right before it into a frame
 * (they lie side by side in the reader's buffer); data NULL: that buffer is read into next. */
static int on_block(void *userdata, guint64 offset, const guint8 *data, size_t len) {
        Sender *s = userdata;
        if (g_atomic_int_get(&s->progress->cancel))
                return -ECANCELED;
        if (!data)
                return flush_pending(s);
        if (s->pending_len &&
            (s->pending_offset + s->pending_len != offset || s->pending + s->pending_len != data)) {
                int r = flush_pending(s);
                if (r < 0)
                        return r;
        }
        if (!s->pending_len) {
                s->pending_offset = offset;
                s->pending = data;
        }
        s->pending_len += (guint32) len;
        return 0;
}

static void on_read(void *userdata, size_t n) {
        Sender *s = userdata;
        __atomic_fetch_add(&s->progress->bytes_done, (gint64) n, __ATOMIC_RELAXED);
}

int mig_disk_send(const char *path, int out, MigCopyProgress *p, char **ret_hex, MigVirtError *err) {
        Sender s = {.out = out, .progress = p};
        uint64_t size = 0;
        int r = mig_disk_hash_file(path, on_block, on_read, &s, &size, ret_hex, err);
        if (r == 0 && (r = flush_pending(&s)) == 0 && (r = send_frame(out, 'E', size, NULL, 0)) < 0)
                s.send_error = r;
        if (g_atomic_int_get(&p->cancel) && r < 0) {
                mig_virt_error_clear(err);
                err->name = MIG_ERROR_CONFLICT;
                err->message = g_strdup_printf("The copy of %s was cancelled.", path);
        } else if (s.send_error < 0) {
                g_autofree char *what = g_strdup_printf("Cannot send %s to the destination", path);
                mig_disk_fail(err, -s.send_error, MIG_ERROR_PEER_UNREACHABLE, what);
        }
        if (r < 0)
                g_clear_pointer(ret_hex, g_free);
        return r;
}

/* --- sending to a receiver over ssh --- */

/* One of the error table's names (MigVirtError names are static), Internal for another. */
static const char *known_name(const char *s, size_t n) {
        for (const MigErrorInfo *i = mig_errors; i->name; i++)
                if (strlen(i->name) == n && strncmp(i->name, s, n) == 0)
                        return i->name;
        return MIG_ERROR_INTERNAL;
}

/* The receiver's one line: "ok HEX" or "error NAME MESSAGE". */
static int take_reply(const char *line, const char *sent, const char *path, const char *host,
                      MigVirtError *err) {
        mig_virt_error_clear(err);
        if (g_str_has_prefix(line, "ok ")) {
                if (strcmp(line + 3, sent) == 0)
                        return 0;
                err->name = MIG_ERROR_INTERNAL;
                err->message =
                        g_strdup_printf("The copy of %s on %s differs from what was sent.", path, host);
                return -EIO;
        }
        const char *name = g_str_has_prefix(line, "error " MIG_ERROR_PREFIX) ? line + 6 : NULL;
        const char *space = name ? strchr(name, ' ') : NULL;
        err->name = space ? known_name(name, (size_t) (space - name)) : MIG_ERROR_PEER_UNREACHABLE;
        err->message =
                space ? g_strdup(space + 1)
                      : g_strdup_printf("The copy of %s to %s broke off (see the log for ssh's message).",
                                        path, host);
        return -EIO;
}

static char *read_line(int fd) {
        char buf[4096];
        size_t n = 0;
        ssize_t r;
        while (n < sizeof(buf) - 1 &&
               ((r = read(fd, buf + n, sizeof(buf) - 1 - n)) > 0 || (r < 0 && errno == EINTR)))
                n += r > 0 ? (size_t) r : 0;
        buf[n] = 0;
        char *nl = strchr(buf, '\n');
        if (nl)
                *nl = 0;
        return g_strdup(buf);
}

int mig_disk_send_remote(char **argv, const char *path, MigCopyProgress *p, MigVirtError *err) {
        GPid pid;
        int in = -1, out = -1;
        g_autoptr(GError) e = NULL;
        const char *host = argv[g_strv_length(argv) - 2];
        if (!g_spawn_async_with_pipes(NULL, argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD,
                                      NULL, NULL, &pid, &in, &out, NULL, &e)) {
                mig_virt_error_clear(err);
                err->name = MIG_ERROR_INTERNAL;
                err->message = g_strdup_printf("Cannot start ssh: %s", e->message);
                return -EIO;
        }
        g_autofree char *sent = NULL;
        (void) fcntl(in, F_SETPIPE_SZ, PIPE_SIZE); /* fewer switches between this thread and ssh */
        int r = mig_disk_send(path, in, p, &sent, err);
        close(in);
        if (r < 0 && g_atomic_int_get(&p->cancel))
                kill(pid, SIGTERM);
        g_autofree char *line = read_line(out);
        close(out);
        int status = 0;
        (void) waitpid(pid, &status, 0);
        g_spawn_close_pid(pid);
        /* cancelled, or the file could not be read here: that is the error; the stream broke:
         * the receiver's word says better why (no space there, say), or ssh's in the log */
        if (r < 0 && (g_atomic_int_get(&p->cancel) || g_strcmp0(err->name, MIG_ERROR_PEER_UNREACHABLE) != 0))
                return r;
        return take_reply(line, sent ? sent : "", path, host, err);
}

/* --- receiving --- */

static int receive_data(int in, int fd, const Frame *f, guint8 *buf, MigDiskHash *h, guint64 *next) {
        if (f->length == 0 || f->length > FRAME_MAX || f->offset < *next || f->offset % MIG_DISK_HASH_BLOCK)
                return -EBADMSG;
        int r = read_all(in, buf, f->length);
        if (r < 0)
                return r;
        for (size_t done = 0; done < f->length;) {
                ssize_t w = pwrite(fd, buf + done, f->length - done, (off_t) (f->offset + done));
                if (w < 0 && errno == EINTR)
                        continue;
                if (w < 0)
                        return -errno;
                done += (size_t) w;
        }
        for (guint32 k = 0; k < f->length; k += MIG_DISK_HASH_BLOCK)
                mig_disk_hash_block(h, f->offset + k, buf + k,
                                    MIN((guint32) MIG_DISK_HASH_BLOCK, f->length - k));
        *next = f->offset + f->length;
        return 0;
}

static int receive_end(int fd, const Frame *f, guint64 next, MigDiskHash *h) {
        struct stat st;
        if (f->offset < next)
                return -EBADMSG;
        if (fstat(fd, &st) < 0 ||
            ((guint64) st.st_size != f->offset && ftruncate(fd, (off_t) f->offset) < 0))
                return -errno;
        mig_disk_hash_size(h, f->offset);
        return 0;
}

int mig_disk_receive(int in, int fd, char **ret_hex, MigVirtError *err) {
        (void) fcntl(in, F_SETPIPE_SZ, PIPE_SIZE); /* a pipe from sshd: larger reads */
        g_autofree guint8 *buf = g_malloc(FRAME_MAX);
        MigDiskHash h;
        mig_disk_hash_init(&h);
        guint64 next = 0;
        int r;
        for (;;) {
                Frame f;
                if ((r = read_all(in, &f, sizeof(f))) < 0)
                        break;
                f.type = GUINT32_FROM_LE(f.type), f.length = GUINT32_FROM_LE(f.length);
                f.offset = GUINT64_FROM_LE(f.offset);
                if (f.type == 'D')
                        r = receive_data(in, fd, &f, buf, &h, &next);
                else if (f.type == 'E' && f.length == 0)
                        r = receive_end(fd, &f, next, &h);
                else
                        r = -EBADMSG;
                if (r < 0 || f.type == 'E')
                        break;
        }
        char *hex = mig_disk_hash_end(&h);
        if (r < 0) {
                g_free(hex);
                return mig_disk_fail(err, -r, MIG_ERROR_INTERNAL, "Cannot receive the disk");
        }
        *ret_hex = hex;
        return 0;
}
