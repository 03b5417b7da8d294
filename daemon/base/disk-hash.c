/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "disk-hash.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "errors.h"
#include "macro.h"

#define HASH_READ (16 * MIG_DISK_HASH_BLOCK) /* 1 MiB per read, hashed block by block */

void mig_disk_hash_init(MigDiskHash *h) {
        h->ctx = EVP_MD_CTX_new();
        g_assert(h->ctx && EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL) == 1);
}

static bool all_zero(const guint8 *buf, size_t n) {
        return n == 0 || (buf[0] == 0 && memcmp(buf, buf + 1, n - 1) == 0);
}

bool mig_disk_hash_block(MigDiskHash *h, uint64_t offset, const guint8 *data, size_t len) {
        if (all_zero(data, len))
                return false;
        guint64 off = GUINT64_TO_LE(offset);
        EVP_DigestUpdate(h->ctx, &off, sizeof(off));
        EVP_DigestUpdate(h->ctx, data, len);
        return true;
}

void mig_disk_hash_size(MigDiskHash *h, uint64_t size) {
        guint64 le = GUINT64_TO_LE(size);
        EVP_DigestUpdate(h->ctx, &le, sizeof(le));
}

char *mig_disk_hash_end(MigDiskHash *h) {
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned n = 0;
        EVP_DigestFinal_ex(h->ctx, md, &n);
        EVP_MD_CTX_free(h->ctx);
        h->ctx = NULL;
        GString *hex = g_string_sized_new(2 * n);
        for (unsigned i = 0; i < n; i++)
                g_string_append_printf(hex, "%02x", md[i]);
        return g_string_free(hex, FALSE);
}

int mig_disk_fail(MigVirtError *err, int e, const char *name, const char *what) {
        mig_virt_error_clear(err);
        err->name = e == ENOSPC ? MIG_ERROR_NO_SPACE : e == ENOENT ? MIG_ERROR_NOT_FOUND : name;
        err->message = g_strdup_printf("%s: %s", what, g_strerror(e));
        return -e;
}

bool mig_file_next_data(int fd, off_t pos, off_t size, off_t *start, off_t *end) {
        if (pos >= size)
                return false;
        off_t s = lseek(fd, pos, SEEK_DATA);
        if (s < 0)
                return false; /* ENXIO: only a hole remains */
        off_t e = lseek(fd, s, SEEK_HOLE);
        *start = s;
        *end = e < 0 ? size : e;
        return true;
}

typedef struct HashRead {
        int fd;
        MigDiskHash hash;
        guint8 *buf;
        MigDiskBlockFn on_block;
        MigDiskReadFn on_read;
        void *userdata;
} HashRead;

/* Hashes the blocks of [from, to): from block-aligned, to too or the end of the file. */
static int hash_range(HashRead *h, off_t from, off_t to) {
        for (off_t pos = from; pos < to; pos += HASH_READ) {
                ssize_t n = pread(h->fd, h->buf, (size_t) MIN((off_t) HASH_READ, to - pos), pos);
                if (n < 0)
                        return -errno;
                if (n == 0)
                        break;
                if (h->on_read)
                        h->on_read(h->userdata, (size_t) n);
                for (ssize_t k = 0; k < n; k += MIG_DISK_HASH_BLOCK) {
                        size_t len = (size_t) MIN((ssize_t) MIG_DISK_HASH_BLOCK, n - k);
                        int r = mig_disk_hash_block(&h->hash, (uint64_t) (pos + k), h->buf + k, len) &&
                                                h->on_block
                                        ? h->on_block(h->userdata, (uint64_t) (pos + k), h->buf + k, len)
                                        : 0;
                        if (r < 0)
                                return r;
                }
                /* the blocks handed out point into buf, which is read into next */
                int r = h->on_block ? h->on_block(h->userdata, 0, NULL, 0) : 0;
                if (r < 0)
                        return r;
        }
        return 0;
}

static int hash_fd(HashRead *h, off_t size) {
        off_t pos = 0, s, e;
        (void) posix_fadvise(h->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
        while (mig_file_next_data(h->fd, pos, size, &s, &e)) {
                /* whole aligned blocks, so that the hole layout does not matter */
                off_t from = s - s % MIG_DISK_HASH_BLOCK;
                pos = e + (MIG_DISK_HASH_BLOCK - e % MIG_DISK_HASH_BLOCK) % MIG_DISK_HASH_BLOCK;
                int r = hash_range(h, from, MIN(pos, size));
                if (r < 0)
                        return r;
        }
        return 0;
}

int mig_disk_hash_file(const char *path, MigDiskBlockFn on_block, MigDiskReadFn on_read, void *userdata,
                       uint64_t *ret_size, char **ret_hex, MigVirtError *err) {
        HashRead h = {.fd = open(path, O_RDONLY | O_CLOEXEC),
                      .on_block = on_block,
                      .on_read = on_read,
                      .userdata = userdata};
        struct stat st;
        int r = h.fd < 0 || fstat(h.fd, &st) < 0 ? -errno : 0;
        if (r == 0) {
                h.buf = g_malloc(HASH_READ);
                mig_disk_hash_init(&h.hash);
                r = hash_fd(&h, st.st_size);
                mig_disk_hash_size(&h.hash, (uint64_t) st.st_size);
                char *hex = mig_disk_hash_end(&h.hash);
                if (r == 0)
                        *ret_hex = hex;
                else
                        g_free(hex);
                g_free(h.buf);
        }
        if (h.fd >= 0)
                close(h.fd);
        if (r == 0 && ret_size)
                *ret_size = (uint64_t) st.st_size;
        if (r < 0) { /* the caller may say better what on_block failed at */
                g_autofree char *what = g_strdup_printf("Cannot read %s", path);
                mig_disk_fail(err, -r, MIG_ERROR_INTERNAL, what);
        }
        return r;
}
