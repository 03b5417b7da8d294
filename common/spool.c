/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "spool.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "hook-event.h"

#define LOST_MAX_BYTES 4096
#define SPOOL_ERROR g_quark_from_static_string("migrated-spool")

static uint64_t now_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000u + (uint64_t) ts.tv_nsec / 1000u;
}

static int fsync_dir(const char *dir) {
        int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        int r = fsync(fd) < 0 ? -errno : 0;
        close(fd);
        return r;
}

static int write_all(int fd, const char *buf, size_t len) {
        while (len > 0) {
                ssize_t n = write(fd, buf, len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return n < 0 ? -errno : -EIO;
                buf += n;
                len -= (size_t) n;
        }
        return 0;
}

/* Opens DIR/NAME for appending and locks it; retries when the daemon renamed the file
 * away between our open and our lock. Returns the fd or a negative errno. */
static int open_locked(const char *dir, const char *name, uint64_t deadline_usec, struct stat *st) {
        g_autofree char *path = g_build_filename(dir, name, NULL);
        for (;;) {
                int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
                if (fd < 0 && errno == ENOENT && mkdir(dir, 0700) == 0) /* no daemon ever ran here */
                        continue;
                if (fd < 0)
                        return -errno;
                while (flock(fd, LOCK_EX | LOCK_NB) < 0) {
                        if ((errno != EWOULDBLOCK && errno != EINTR) || now_usec() >= deadline_usec) {
                                int r = errno == EWOULDBLOCK ? -ETIMEDOUT : -errno;
                                close(fd);
                                return r;
                        }
                        usleep(100);
                }
                struct stat now;
                if (fstat(fd, st) == 0 && stat(path, &now) == 0 && now.st_ino == st->st_ino &&
                    now.st_dev == st->st_dev)
                        return fd;
                close(fd); /* taken by the daemon meanwhile: start a new file */
        }
}

static void count_lost(const char *dir, uint64_t deadline_usec) {
        struct stat st;
        int fd = open_locked(dir, MIG_SPOOL_LOST_FILE, deadline_usec, &st);
        if (fd < 0)
                return;
        if (st.st_size < LOST_MAX_BYTES && write_all(fd, "1\n", 2) == 0)
                (void) fdatasync(fd);
        close(fd);
}

int mig_spool_append(const char *dir, const char *line, uint64_t deadline_usec) {
        struct stat st;
        size_t len = strlen(line);
        int fd = open_locked(dir, MIG_SPOOL_FILE, deadline_usec, &st);
        if (fd < 0)
                return fd;
        if ((uint64_t) st.st_size + len > MIG_SPOOL_MAX_BYTES) {
                close(fd);
                count_lost(dir, deadline_usec);
                return -ENOSPC;
        }
        int r = write_all(fd, line, len);
        if (r == 0 && fdatasync(fd) < 0)
                r = -errno;
        if (r < 0 && ftruncate(fd, st.st_size) < 0) /* no half line left behind */
                r = -errno;
        close(fd);
        if (r == 0 && st.st_size == 0) /* a new file: make its name durable too */
                r = fsync_dir(dir);
        return r;
}

static int read_file(const char *path, char **data, size_t *len, GError **error) {
        gsize n = 0;
        g_autoptr(GError) e = NULL;
        if (!g_file_get_contents(path, data, &n, &e)) {
                if (g_error_matches(e, G_FILE_ERROR, G_FILE_ERROR_NOENT))
                        return 0;
                g_set_error(error, SPOOL_ERROR, EIO, "Cannot read the hook spool: %s", e->message);
                return -EIO;
        }
        *len = n;
        return 0;
}

/* The daemon's side of the lock: never a blocking flock on its event loop. A hook holds the
 * lock only while it appends a line; one that holds it longer than TAKE_BUDGET_USEC makes
 * this give up with -EAGAIN (the daemon tries again soon). */
#define TAKE_BUDGET_USEC 20000

static int lock_briefly(int fd) {
        uint64_t deadline = now_usec() + TAKE_BUDGET_USEC;
        while (flock(fd, LOCK_EX | LOCK_NB) < 0) {
                if (errno != EWOULDBLOCK && errno != EINTR)
                        return -errno;
                if (now_usec() >= deadline)
                        return -EAGAIN;
                usleep(200);
        }
        return 0;
}

/* Renames DIR/hook-spool to DIR/hook-spool.draining under its lock. */
static int take_spool(const char *dir, const char *draining, GError **error) {
        g_autofree char *path = g_build_filename(dir, MIG_SPOOL_FILE, NULL);
        int fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return errno == ENOENT ? 0 : -errno;
        int r = lock_briefly(fd);
        if (r == 0 && rename(path, draining) < 0)
                r = -errno;
        close(fd);
        if (r == 0)
                r = fsync_dir(dir);
        if (r < 0)
                g_set_error(error, SPOOL_ERROR, -r, "Cannot take the hook spool %s: %s", path,
                            g_strerror(-r));
        return r;
}

int mig_spool_take(const char *dir, char **data, size_t *len, GError **error) {
        g_autofree char *draining = g_build_filename(dir, MIG_SPOOL_DRAINING_FILE, NULL);
        *data = NULL;
        *len = 0;
        if (access(draining, F_OK) < 0) {
                int r = take_spool(dir, draining, error);
                if (r < 0)
                        return r;
        }
        return read_file(draining, data, len, error);
}

int mig_spool_done(const char *dir) {
        g_autofree char *draining = g_build_filename(dir, MIG_SPOOL_DRAINING_FILE, NULL);
        if (unlink(draining) < 0 && errno != ENOENT)
                return -errno;
        return fsync_dir(dir);
}

unsigned mig_spool_take_lost(const char *dir) {
        g_autofree char *path = g_build_filename(dir, MIG_SPOOL_LOST_FILE, NULL);
        int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return 0;
        /* Under the lock the hook appends with: read and removed as one, no count lost between. */
        unsigned count = 0;
        char buf[LOST_MAX_BYTES];
        ssize_t n = 0;
        if (lock_briefly(fd) == 0 && (n = read(fd, buf, sizeof(buf))) >= 0 && unlink(path) == 0) {
                for (ssize_t i = 0; i < n; i++)
                        count += buf[i] == '\n';
                count = count ? count : 1;
        }
        close(fd);
        return count;
}
