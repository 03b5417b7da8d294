/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* dirty: the whole "workload" of the bench's Linux test guest (build-guest.sh).
 *
 * Allocates N MiB, fills every page (so no page is a zero page a migration
 * could skip), then keeps rewriting pages at R MiB/s (R = 0: as fast as it
 * can), sweeping the buffer page by page.  Each rewrite first checks that the
 * page still holds what this program last wrote there, so a migration that
 * loses or mixes up a page shows as "dirty: CORRUPT" on the console.  One
 * progress line a second:
 *
 *   dirty: ready: 256 MiB filled in 0.8 s, rewriting at 100 MiB/s
 *   dirty: t=1 rate=100.0 MiB/s pass=0 pages=25600 errors=0
 *
 * N and R come from the kernel command line (dirty_mib=N dirty_rate=R;
 * defaults 64 and 0), or from argv[1], argv[2] when run by hand on a host:
 *   gcc -static -O2 -o dirty dirty.c && ./dirty 64 10
 *
 * It never exits: it runs as the guest's init (exec'ed by /init), whose exit
 * would panic the kernel.  On an error it says so and sleeps forever. */

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096u
#define WORDS_PER_PAGE (PAGE / sizeof(uint64_t))
#define MAGIC 0x6469727479000000ull /* "dirty" */

static void say(const char *fmt, ...) {
        char buf[256];
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(buf, sizeof buf - 1, fmt, ap);
        va_end(ap);
        if (n < 0)
                return;
        if (n > (int) sizeof buf - 2)
                n = sizeof buf - 2;
        buf[n++] = '\n';
        /* write(2), not stdio: every line reaches the console at once */
        for (int off = 0; off < n;) {
                ssize_t w = write(STDOUT_FILENO, buf + off, n - off);
                if (w < 0 && errno == EINTR)
                        continue;
                if (w <= 0)
                        return;
                off += w;
        }
}

static void hang(void) {
        for (;;)
                pause();
}

static double now(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The value of KEY=NUMBER on the kernel command line, or DEF. */
static long cmdline_value(const char *key, long def) {
        static char line[4096];
        static int loaded;
        if (!loaded) {
                FILE *f = fopen("/proc/cmdline", "re");
                if (f) {
                        if (!fgets(line, sizeof line, f))
                                line[0] = 0;
                        fclose(f);
                }
                loaded = 1;
        }
        size_t klen = strlen(key);
        for (const char *p = line; (p = strstr(p, key)); p += klen) {
                if ((p == line || p[-1] == ' ') && p[klen] == '=') {
                        char *end;
                        long v = strtol(p + klen + 1, &end, 10);
                        if (end != p + klen + 1 && (*end == 0 || *end == ' ' || *end == '\n'))
                                return v;
                }
        }
        return def;
}

static inline uint64_t page_tag(uint64_t i) {
        return MAGIC ^ (i * 0x9e3779b97f4a7c15ull);
}

int main(int argc, char **argv) {
        long mib = argc > 1 ? atol(argv[1]) : cmdline_value("dirty_mib", 64);
        long rate = argc > 2 ? atol(argv[2]) : cmdline_value("dirty_rate", 0);
        if (mib <= 0 || rate < 0) {
                say("dirty: bad parameters dirty_mib=%ld dirty_rate=%ld", mib, rate);
                hang();
        }
        uint64_t npages = (uint64_t) mib * (1024 * 1024 / PAGE);
        uint64_t *mem = mmap(NULL, npages * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (mem == MAP_FAILED) {
                say("dirty: cannot allocate %ld MiB: %s", mib, strerror(errno));
                hang();
        }
        say("dirty: filling %ld MiB", mib);

        /* Fill: word 0 = the page's tag, word 1 = its generation (0), the
         * rest pseudo-random (xorshift), so nothing compresses to zero. */
        double t0 = now();
        uint64_t x = 0x2545f4914f6cdd1dull;
        for (uint64_t i = 0; i < npages; i++) {
                uint64_t *pg = mem + i * WORDS_PER_PAGE;
                pg[0] = page_tag(i);
                pg[1] = 0;
                for (unsigned w = 2; w < WORDS_PER_PAGE; w++) {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        pg[w] = x;
                }
        }
        double t1 = now();
        if (rate)
                say("dirty: ready: %ld MiB filled in %.1f s, rewriting at %ld MiB/s", mib, t1 - t0, rate);
        else
                say("dirty: ready: %ld MiB filled in %.1f s, rewriting as fast as it can", mib, t1 - t0);

        /* Rewrite page after page, pass after pass: page i holds generation
         * `pass` before its rewrite in pass `pass`, `pass + 1` after. */
        const double pages_per_sec = (double) rate * (1024 * 1024 / PAGE);
        uint64_t pos = 0, pass = 0, done = 0, done_at_report = 0, errors = 0;
        double start = now(), report = start + 1.0, last_report = start;
        /* the rate is kept from (base_t, base_done) on */
        double base_t = start;
        uint64_t base_done = 0;
        unsigned long seconds = 0;
        for (;;) {
                /* How many pages now: catch up with the rate, in slices of at
                 * most 10 ms worth so the timing stays fine-grained. */
                uint64_t batch;
                double t = now();
                if (rate) {
                        double due = (double) base_done + (t - base_t) * pages_per_sec;
                        if ((double) done >= due) {
                                struct timespec ts = {0, 2 * 1000 * 1000}; /* 2 ms */
                                nanosleep(&ts, NULL);
                                batch = 0;
                        } else {
                                double d = due - (double) done;
                                double cap = pages_per_sec / 100 + 1;
                                batch = (uint64_t) (d < cap ? d : cap);
                                if (!batch)
                                        batch = 1;
                        }
                } else
                        batch = 4096;

                for (uint64_t k = 0; k < batch; k++) {
                        uint64_t *pg = mem + pos * WORDS_PER_PAGE;
                        if (pg[0] != page_tag(pos) || pg[1] != pass) {
                                if (errors < 20)
                                        say("dirty: CORRUPT page %llu (pass %llu): tag %016llx gen %llu, "
                                            "expected %016llx gen %llu",
                                            (unsigned long long) pos, (unsigned long long) pass,
                                            (unsigned long long) pg[0], (unsigned long long) pg[1],
                                            (unsigned long long) page_tag(pos), (unsigned long long) pass);
                                errors++;
                                pg[0] = page_tag(pos);
                        }
                        pg[1] = pass + 1;
                        pg[2 + (pass % (WORDS_PER_PAGE - 2))] ^= pass + 1;
                        if (++pos == npages) {
                                pos = 0;
                                pass++;
                        }
                }
                done += batch;

                t = now();
                if (t >= report) {
                        seconds++;
                        double mibps = (double) (done - done_at_report) * PAGE / (1024.0 * 1024.0) /
                                       (t - last_report);
                        say("dirty: t=%lu rate=%.1f MiB/s pass=%llu pages=%llu errors=%llu", seconds, mibps,
                            (unsigned long long) pass, (unsigned long long) done,
                            (unsigned long long) errors);
                        done_at_report = done;
                        last_report = t;
                        /* a guest paused for a while (migration downtime,
                         * post-copy faults) does not print a burst of lines */
                        report += 1.0;
                        if (report < t)
                                report = t + 1.0;
                        /* nor does it try to catch up what it missed */
                        if (rate && (double) done + pages_per_sec <
                                            (double) base_done + (t - base_t) * pages_per_sec) {
                                base_t = t;
                                base_done = done;
                        }
                }
        }
}
