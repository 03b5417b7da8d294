/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Disk files: the content checksum (the same whatever the hole layout, against a plain
 * reading of its definition), the shared-folder markers, the record's JSON, and that a
 * shared disk is never deleted. */
#include <fcntl.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "disk-stream.h"
#include "disk.h"
#include "shared-disk.h"

#define BLOCK (64 * 1024)
#define MIB (1024 * 1024)

static char *tmp;

static char *file_in(const char *name) {
        return g_build_filename(tmp, name, NULL);
}

/* size bytes, holes everywhere except len bytes of pattern at each offset. */
static char *make_sparse(const char *name, off_t size, const off_t *offsets, size_t n, size_t len) {
        char *path = file_in(name);
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        g_assert_cmpint(fd, >=, 0);
        g_assert_cmpint(ftruncate(fd, size), ==, 0);
        g_autofree guint8 *buf = g_malloc(len);
        for (size_t i = 0; i < n; i++) {
                for (size_t k = 0; k < len; k++)
                        buf[k] = (guint8) (k * 7 + i + 1);
                g_assert_cmpint(pwrite(fd, buf, len, offsets[i]), ==, (ssize_t) len);
        }
        close(fd);
        return path;
}

/* The same content written densely (zeros written out). */
static char *make_dense_copy(const char *name, const char *from) {
        gchar *data = NULL;
        gsize len = 0;
        g_assert_true(g_file_get_contents(from, &data, &len, NULL));
        char *path = file_in(name);
        g_assert_true(g_file_set_contents(path, data, (gssize) len, NULL));
        g_free(data);
        return path;
}

/* The definition read plainly: every non-zero 64 KiB block with its offset, then the size. */
static char *reference_sum(const char *path) {
        gchar *data = NULL;
        gsize len = 0;
        g_assert_true(g_file_get_contents(path, &data, &len, NULL));
        g_autoptr(GChecksum) sum = g_checksum_new(G_CHECKSUM_SHA256);
        for (gsize b = 0; b < len; b += BLOCK) {
                gsize n = MIN((gsize) BLOCK, len - b);
                bool zero = true;
                for (gsize k = 0; k < n && zero; k++)
                        zero = data[b + k] == 0;
                if (zero)
                        continue;
                guint64 off = GUINT64_TO_LE((guint64) b);
                g_checksum_update(sum, (const guchar *) &off, sizeof(off));
                g_checksum_update(sum, (const guchar *) data + b, (gssize) n);
        }
        guint64 size = GUINT64_TO_LE((guint64) len);
        g_checksum_update(sum, (const guchar *) &size, sizeof(size));
        g_free(data);
        return g_strdup(g_checksum_get_string(sum));
}

static char *sum_of(const char *path) {
        char *hex = NULL;
        MigVirtError err = {0};
        g_assert_cmpint(mig_disk_checksum(path, &hex, &err), ==, 0);
        return hex;
}

static void test_checksum(void) {
        /* data crossing block and 1 MiB read boundaries, one extent at the very end (a partial
         * last block) */
        const off_t offsets[] = {100, 3 * MIB - 5000, 5 * MIB + BLOCK / 2, 8 * MIB + 123 - 3000};
        g_autofree char *sparse = make_sparse("sparse", 8 * MIB + 123, offsets, 4, 3000);
        g_autofree char *dense = make_dense_copy("dense", sparse);
        g_autofree char *a = sum_of(sparse), *b = sum_of(dense), *ref = reference_sum(dense);
        g_assert_cmpstr(a, ==, ref);
        g_assert_cmpstr(b, ==, ref);

        /* one byte changed: another sum */
        int fd = open(dense, O_WRONLY);
        g_assert_cmpint(pwrite(fd, "x", 1, 5 * MIB + BLOCK / 2 + 17), ==, 1);
        close(fd);
        g_autofree char *c = sum_of(dense);
        g_assert_cmpstr(c, !=, a);
        g_autofree char *ref_c = reference_sum(dense);
        g_assert_cmpstr(c, ==, ref_c);

        /* the same data in a longer file: another sum (the size counts) */
        g_autofree char *longer = make_sparse("longer", 9 * MIB, offsets, 3, 3000);
        g_autofree char *shorter = make_sparse("shorter", 8 * MIB + 123, offsets, 3, 3000);
        g_autofree char *l = sum_of(longer), *s = sum_of(shorter);
        g_assert_cmpstr(l, !=, s);

        /* an empty file */
        g_autofree char *empty = make_sparse("empty", 0, NULL, 0, 0);
        g_autofree char *e = sum_of(empty), *ref_e = reference_sum(empty);
        g_assert_cmpstr(e, ==, ref_e);

        MigVirtError err = {0};
        char *hex = NULL;
        g_autofree char *missing = file_in("missing");
        g_assert_cmpint(mig_disk_checksum(missing, &hex, &err), <, 0);
        g_assert_nonnull(strstr(err.message, "missing"));
        mig_virt_error_clear(&err);
}

static MigDisk *disk_at(const char *path, bool shared) {
        MigDisk *d = g_new0(MigDisk, 1);
        d->path = g_strdup(path);
        d->format = g_strdup("qcow2");
        d->target = g_strdup("vdb");
        d->size = 1234;
        d->data_bytes = 1000;
        d->shared = shared;
        return d;
}

static void test_markers(void) {
        g_autofree char *dir = file_in("shared");
        g_assert_cmpint(g_mkdir(dir, 0755), ==, 0);
        g_autofree char *p1 = g_build_filename(dir, "a.qcow2", NULL);
        g_autofree char *p2 = g_build_filename(dir, "b.qcow2", NULL);
        g_autofree char *other = file_in("c.qcow2");
        g_autoptr(GPtrArray) disks = g_ptr_array_new_with_free_func((GDestroyNotify) mig_disk_free);
        g_ptr_array_add(disks, disk_at(p1, false));
        g_ptr_array_add(disks, disk_at(p2, false));
        g_ptr_array_add(disks, disk_at(other, false));
        g_assert_false(mig_shared_seen(p1, "m1"));
        g_assert_cmpuint(mig_shared_mark(disks, "m1"), ==, 2); /* two folders, each once */
        g_assert_true(mig_shared_seen(p2, "m1"));
        g_assert_true(mig_shared_seen(other, "m1"));
        g_assert_false(mig_shared_seen(p1, "m2")); /* another migration's marker is not this one */
        mig_shared_unmark(disks, "m1");
        g_assert_false(mig_shared_seen(p1, "m1"));
        g_assert_false(mig_shared_seen(other, "m1"));
        mig_shared_unmark(disks, "m1"); /* again: nothing left, nothing to say */
}

static GVariant *bools(int n, ...) {
        GVariantBuilder b;
        va_list ap;
        g_variant_builder_init(&b, G_VARIANT_TYPE("ab"));
        va_start(ap, n);
        for (int i = 0; i < n; i++)
                g_variant_builder_add(&b, "b", va_arg(ap, gboolean));
        va_end(ap);
        return g_variant_builder_end(&b);
}

static void test_reply(void) {
        g_autoptr(GPtrArray) disks = g_ptr_array_new_with_free_func((GDestroyNotify) mig_disk_free);
        g_ptr_array_add(disks, disk_at("/s/a", false));
        g_ptr_array_add(disks, disk_at("/i/b", false));
        const char *paths[] = {"/s/a", "/i/b", NULL};
        g_autoptr(GVariant) reply =
                g_variant_ref_sink(g_variant_new("(^as@ab)", paths, bools(2, TRUE, FALSE)));
        g_autofree char *what = NULL;
        g_auto(GStrv) got = mig_shared_take_reply(disks, reply, &what);
        g_assert_nonnull(got);
        g_assert_cmpstr(got[1], ==, "/i/b");
        g_assert_true(((MigDisk *) disks->pdata[0])->shared);
        g_assert_false(((MigDisk *) disks->pdata[1])->shared);
        g_assert_cmpstr(what, ==, "/s/a shared (not copied); /i/b copied");
        g_assert_cmpuint(mig_disks_data_bytes(disks), ==, 1000); /* the shared one is not copied */

        /* a reply for other disks, or of the old type, is refused */
        const char *one[] = {"/s/a", NULL};
        g_autoptr(GVariant) short_reply = g_variant_ref_sink(g_variant_new("(^as@ab)", one, bools(1, TRUE)));
        g_autofree char *w2 = NULL;
        g_assert_null(mig_shared_take_reply(disks, short_reply, &w2));
        g_autoptr(GVariant) old = g_variant_ref_sink(g_variant_new("(^as)", paths));
        g_assert_null(mig_shared_take_reply(disks, old, &w2));
}

static void test_json(void) {
        g_autoptr(GPtrArray) disks = g_ptr_array_new_with_free_func((GDestroyNotify) mig_disk_free);
        g_ptr_array_add(disks, disk_at("/s/a", true));
        g_ptr_array_add(disks, disk_at("/i/b", false));
        g_autofree char *json = mig_disks_to_json(disks);
        g_autoptr(GPtrArray) back = mig_disks_from_json(json);
        g_assert_cmpuint(back->len, ==, 2);
        MigDisk *a = back->pdata[0], *b = back->pdata[1];
        g_assert_true(a->shared);
        g_assert_false(b->shared);
        g_assert_cmpstr(a->target, ==, "vdb");
        g_assert_cmpuint(a->size, ==, 1234);
        /* a record from before shared disks: none is shared */
        g_autoptr(GPtrArray) old = mig_disks_from_json("[{\"path\":\"/i/c\",\"format\":\"raw\"}]");
        g_assert_false(((MigDisk *) old->pdata[0])->shared);
        g_assert_null(((MigDisk *) old->pdata[0])->target);
}

static void test_never_delete_shared(void) {
        const off_t at[] = {0};
        g_autofree char *path = make_sparse("one-file", BLOCK, at, 1, 10);
        g_autoptr(GPtrArray) disks = g_ptr_array_new_with_free_func((GDestroyNotify) mig_disk_free);
        g_ptr_array_add(disks, disk_at(path, true));
        MigVirtError err = {0};
        g_assert_cmpint(mig_disk_delete(NULL, disks->pdata[0], &err), ==, 0);
        g_assert_true(g_file_test(path, G_FILE_TEST_EXISTS));
}

static void put32(guint8 *p, guint32 v) {
        p[0] = (guint8) (v >> 24), p[1] = (guint8) (v >> 16), p[2] = (guint8) (v >> 8), p[3] = (guint8) v;
}

static void test_qcow2_header(void) {
        guint8 h[512] = {0};
        g_autofree char *name = NULL, *format = NULL;
        memcpy(h, "QFI\xfb", 4);
        put32(h + 4, 3);
        put32(h + 100, 104); /* header length: the extensions follow */
        g_assert_cmpint(mig_qcow2_backing(h, sizeof(h), &name, &format), ==, 0); /* no backing file */
        put32(h + 104, 0xe2792aca);                                              /* backing format "qcow2" */
        put32(h + 108, 5);
        memcpy(h + 112, "qcow2", 5);
        put32(h + 12, 200); /* backing file name at 200, 8 bytes */
        put32(h + 16, 8);
        memcpy(h + 200, "base.img", 8);
        g_assert_cmpint(mig_qcow2_backing(h, sizeof(h), &name, &format), ==, 1);
        g_assert_cmpstr(name, ==, "base.img");
        g_assert_cmpstr(format, ==, "qcow2");
        g_clear_pointer(&name, g_free);
        g_clear_pointer(&format, g_free);
        g_assert_cmpint(mig_qcow2_backing(h, 150, &name, &format), <, 0); /* the name does not fit */
        put32(h + 16, 2000);
        g_assert_cmpint(mig_qcow2_backing(h, sizeof(h), &name, &format), <, 0);
        put32(h + 16, 8);
        h[203] = 0; /* a NUL inside the name */
        g_assert_cmpint(mig_qcow2_backing(h, sizeof(h), &name, &format), <, 0);
        g_assert_cmpint(mig_qcow2_backing((const guint8 *) "raw data", 8, &name, &format), ==, 0);
        g_assert_null(name);
}

/* base.raw <- mid.qcow2 <- top.qcow2, named relatively, as qemu-img makes them. */
static void test_chain(void) {
        g_autofree char *qemu_img = g_find_program_in_path("qemu-img");
        if (!qemu_img) {
                g_test_skip("no qemu-img");
                return;
        }
        g_autofree char *dir = file_in("chain");
        g_assert_cmpint(g_mkdir(dir, 0755), ==, 0);
        g_autofree char *cmd =
                g_strdup_printf("cd '%s' && qemu-img create -q -f raw base.raw 4M && "
                                "qemu-img create -q -f qcow2 -b base.raw -F raw mid.qcow2 && "
                                "qemu-img create -q -f qcow2 -b mid.qcow2 -F qcow2 top.qcow2 && "
                                "qemu-img create -q -f qcow2 -b mid.qcow2 -F qcow2 other.qcow2",
                                dir);
        g_assert_cmpint(system(cmd), ==, 0);
        g_autoptr(GPtrArray) disks = g_ptr_array_new_with_free_func((GDestroyNotify) mig_disk_free);
        g_autofree char *top = g_build_filename(dir, "top.qcow2", NULL);
        g_autofree char *other = g_build_filename(dir, "other.qcow2", NULL);
        g_ptr_array_add(disks, disk_at(top, false));
        g_ptr_array_add(disks, disk_at(other, false));
        MigVirtError err = {0};
        g_assert_cmpint(mig_disks_add_chains(disks, &err), ==, 0);
        g_assert_cmpuint(disks->len, ==, 4); /* the base two disks share: once */
        MigDisk *mid = disks->pdata[2], *base = disks->pdata[3];
        g_assert_true(g_str_has_suffix(mid->path, "/chain/mid.qcow2") && mid->backing);
        g_assert_cmpstr(mid->format, ==, "qcow2");
        g_assert_true(g_str_has_suffix(base->path, "/chain/base.raw") && base->backing);
        g_assert_cmpstr(base->format, ==, "raw");
        g_assert_cmpuint(base->size, ==, 4 * MIB);
        g_assert_false(((MigDisk *) disks->pdata[0])->backing);

        /* a chain that leads to something else than a file is refused */
        g_autofree char *cmd2 = g_strdup_printf(
                "cd '%s' && qemu-img create -q -f qcow2 -u -b nbd://127.0.0.1/x -F raw net.qcow2 1M", dir);
        g_assert_cmpint(system(cmd2), ==, 0);
        g_autoptr(GPtrArray) net = g_ptr_array_new_with_free_func((GDestroyNotify) mig_disk_free);
        g_autofree char *netp = g_build_filename(dir, "net.qcow2", NULL);
        g_ptr_array_add(net, disk_at(netp, false));
        g_assert_cmpint(mig_disks_add_chains(net, &err), <, 0);
        g_assert_cmpstr(err.name, ==, "org.example.Migrate1.Error.NotSupported");
        mig_virt_error_clear(&err);
}

typedef struct Receive {
        int in, fd, result;
        char *hex;
} Receive;

static gpointer receive_thread(gpointer data) {
        Receive *r = data;
        MigVirtError err = {0};
        r->result = mig_disk_receive(r->in, r->fd, &r->hex, &err);
        mig_virt_error_clear(&err);
        close(r->in);
        return NULL;
}

/* The stream: what arrives is the file, sparse, and both sides' checksums are the file's. */
static void test_stream(void) {
        const off_t offsets[] = {0, 5 * MIB + 100, 9 * MIB - 10};
        g_autofree char *src = make_sparse("stream-src", 9 * MIB, offsets, 3, 200 * 1024);
        g_autofree char *dst = file_in("stream-dst");
        int pipefd[2];
        g_assert_cmpint(pipe(pipefd), ==, 0);
        Receive rcv = {.in = pipefd[0], .fd = open(dst, O_RDWR | O_CREAT | O_TRUNC, 0644)};
        GThread *t = g_thread_new("receive", receive_thread, &rcv);
        MigCopyProgress p = {0};
        MigVirtError err = {0};
        g_autofree char *sent = NULL;
        g_assert_cmpint(mig_disk_send(src, pipefd[1], &p, &sent, &err), ==, 0);
        close(pipefd[1]);
        g_thread_join(t);
        close(rcv.fd);
        g_autofree char *got = rcv.hex;
        g_assert_cmpint(rcv.result, ==, 0);
        g_autofree char *file_sum = sum_of(src), *copy_sum = sum_of(dst);
        g_assert_cmpstr(sent, ==, file_sum);
        g_assert_cmpstr(got, ==, file_sum);
        g_assert_cmpstr(copy_sum, ==, file_sum);
        g_assert_cmpint(p.bytes_done, >, 0);
        struct stat st, st_src;
        g_assert_cmpint(stat(dst, &st), ==, 0);
        g_assert_cmpint(stat(src, &st_src), ==, 0);
        g_assert_cmpint(st.st_size, ==, st_src.st_size); /* the last extent ends the file */
        g_assert_cmpint(st.st_blocks * 512, <, 2 * MIB); /* sparse: ~600 KiB of data */

        /* a stream cut short is not taken for a copy */
        g_assert_cmpint(pipe(pipefd), ==, 0);
        g_assert_cmpint(write(pipefd[1], "D\0\0\0\0\0\1\0", 8), ==, 8);
        close(pipefd[1]);
        int fd = open(dst, O_RDWR);
        char *hex = NULL;
        g_assert_cmpint(mig_disk_receive(pipefd[0], fd, &hex, &err), <, 0);
        g_assert_null(hex);
        g_assert_nonnull(err.message);
        mig_virt_error_clear(&err);
        close(fd);
        close(pipefd[0]);
}

/* A receiver's answers, played by sh (host: the argument before the last, as for ssh). */
static void send_to(const char *script, const char *want_name, const char *want_text) {
        const off_t at[] = {0};
        g_autofree char *src = make_sparse("remote-src", 2 * BLOCK, at, 1, 1000);
        char *argv[] = {"sh", "-c", (char *) script, "nodeb", "receive", NULL};
        MigCopyProgress p = {0};
        MigVirtError err = {0};
        g_assert_cmpint(mig_disk_send_remote(argv, src, &p, &err), <, 0);
        g_assert_cmpstr(err.name, ==, want_name);
        g_assert_nonnull(strstr(err.message, want_text));
        mig_virt_error_clear(&err);
}

static void test_send_remote(void) {
        send_to("cat >/dev/null; echo ok 0123", "org.example.Migrate1.Error.Internal", "differs");
        send_to("cat >/dev/null; echo error org.example.Migrate1.Error.NoSpace No room on nodeb.",
                "org.example.Migrate1.Error.NoSpace", "No room on nodeb.");
        send_to("exit 255", "org.example.Migrate1.Error.PeerUnreachable", "nodeb");
        send_to("cat >/dev/null; echo error some.Other.Name what",
                "org.example.Migrate1.Error.PeerUnreachable", "broke off");
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        signal(SIGPIPE, SIG_IGN); /* as the daemon: a receiver gone is an error of the write */
        g_autofree char *t = g_dir_make_tmp("test-disk-XXXXXX", NULL);
        tmp = t;
        g_test_add_func("/disk/checksum", test_checksum);
        g_test_add_func("/disk/markers", test_markers);
        g_test_add_func("/disk/reply", test_reply);
        g_test_add_func("/disk/json", test_json);
        g_test_add_func("/disk/never-delete-shared", test_never_delete_shared);
        g_test_add_func("/disk/qcow2-header", test_qcow2_header);
        g_test_add_func("/disk/chain", test_chain);
        g_test_add_func("/disk/stream", test_stream);
        g_test_add_func("/disk/send-remote", test_send_remote);
        int r = g_test_run();
        g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", tmp);
        (void) system(cmd);
        return r;
}
