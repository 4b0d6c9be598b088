/* test_diskfull.c -- saves that run out of space: on a full 64 kB tmpfs
 * (when the test may mount one: root with CAP_SYS_ADMIN, in a mount
 * namespace of its own so that nothing leaks out of the test) and under a
 * file-size limit (RLIMIT_FSIZE with SIGXFSZ ignored, for any user),
 * sc_net_save and sc_checkpoint_save return SC_ERR_IO with a message
 * naming the cause, the old file at the path is byte-identical and still
 * loads, and no temporary file is left in the folder. */
#define _GNU_SOURCE /* unshare, CLONE_NEWNS */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "selfcompress.h"
#include "util/testutil.h"

/* ---- what is saved ------------------------------------------------------ */

enum { MODEL, CHECKPOINT };
static const char *const file_name[2] = {"m.scm", "ck"};

typedef struct state {
    sc_net *net;
    sc_optimizer *opt;
} state;

/* A net with in x in inputs and a dense layer of out outputs, quantised,
 * with an Adam optimizer. */
static state make_state(int in, int out, uint64_t seed)
{
    state s;
    int id;
    TU_OK(sc_net_create(&s.net, 1, in, in));
    TU_OK(sc_net_flatten(s.net, SC_INPUT, &id));
    TU_OK(sc_net_dense(s.net, id, out, SC_BIAS, &id));
    TU_OK(sc_net_init(s.net, seed));
    TU_OK(sc_net_quantize(s.net, SC_ALL_LAYERS));
    TU_OK(sc_optimizer_create(&s.opt, s.net, SC_OPT_ADAM));
    return s;
}

static void free_state(state *s)
{
    sc_optimizer_free(s->opt);
    sc_net_free(s->net);
}

static sc_status save(int kind, const state *s, const char *path)
{
    return kind == MODEL ? sc_net_save(s->net, path, NULL)
                         : sc_checkpoint_save(s->net, s->opt, "user", 4, path);
}

static sc_status load(int kind, const char *path)
{
    if (kind == MODEL) {
        sc_model *m = NULL;
        sc_status st = sc_model_load(&m, path);
        sc_model_free(m);
        return st;
    }
    sc_net *n = NULL;
    sc_optimizer *o = NULL;
    char user[4];
    size_t user_len = 0;
    sc_status st = sc_checkpoint_load(path, &n, &o, user, sizeof user, &user_len);
    if (st == SC_OK)
        ck_assert(user_len == 4 && memcmp(user, "user", 4) == 0 && o != NULL);
    sc_optimizer_free(o);
    sc_net_free(n);
    return st;
}

/* ---- checks ------------------------------------------------------------- */

static char *join(const char *dir, const char *name)
{
    static char p[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(p[k], sizeof p[k], "%s/%s", dir, name);
    return p[k];
}

static int keep_entry(const struct dirent *e)
{
    return strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
}

/* The names in dir, sorted, separated by spaces. */
static void list_dir(const char *dir, char *out, size_t cap)
{
    struct dirent **e;
    int n = scandir(dir, &e, keep_entry, alphasort);
    ck_assert_msg(n >= 0, "scandir %s: %s", dir, strerror(errno));
    out[0] = '\0';
    for (int i = 0; i < n; i++) {
        size_t l = strlen(out);
        snprintf(out + l, cap - l, "%s%s", l ? " " : "", e[i]->d_name);
        free(e[i]);
    }
    free(e);
}

typedef struct old_file {
    const char *dir;
    int kind;
    unsigned char *bytes;
    size_t n;
} old_file;

/* After a failed save: the file at the path is the old one byte for byte
 * and loads, and the folder holds exactly the names in want. */
static void old_file_intact(const old_file *old, const char *want, const char *when)
{
    const char *path = join(old->dir, file_name[old->kind]);
    size_t n;
    unsigned char *now = tu_read_all(path, &n);
    ck_assert_msg(n == old->n && memcmp(now, old->bytes, n) == 0,
                  "%s: %s changed (%zu bytes, was %zu)", when, path, n, old->n);
    free(now);
    sc_status st = load(old->kind, path);
    ck_assert_msg(st == SC_OK, "%s: the old %s does not load: %s", when, path,
                  sc_last_error());
    char names[512];
    list_dir(old->dir, names, sizeof names);
    ck_assert_msg(strcmp(names, want) == 0, "%s: the folder holds '%s', not '%s'",
                  when, names, want);
}

/* st is SC_ERR_IO with a message naming the cause: strerror(err). */
static void io_error(sc_status st, const char *msg, int err, const char *when)
{
    ck_assert_msg(st == SC_ERR_IO, "%s: the save returned %d (%s), not SC_ERR_IO",
                  when, (int)st, sc_strerror(st));
    ck_assert_msg(strstr(msg, strerror(err)) != NULL,
                  "%s: the message '%s' does not say '%s'", when, msg, strerror(err));
}

/* The bytes a save of s gives in a folder with room (and their count). */
static unsigned char *reference_bytes(int kind, const state *s, size_t *n)
{
    const char *path = tu_path("reference");
    TU_OK(save(kind, s, path));
    unsigned char *d = tu_read_all(path, n);
    ck_assert_int_eq(unlink(path), 0);
    return d;
}

/* ---- a full tmpfs ------------------------------------------------------- */

enum { FS_BYTES = 64 * 1024 };

/* Mounts a FS_BYTES tmpfs on dir in a new private mount namespace of this
 * process (the kernel drops it when the process ends, whatever happens to
 * the test); 0 when the process may not (not root, no CAP_SYS_ADMIN). */
static int mount_small_tmpfs(const char *dir)
{
    char opts[32];
    snprintf(opts, sizeof opts, "size=%d", FS_BYTES);
    if (geteuid() != 0 || unshare(CLONE_NEWNS) != 0 ||
        mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) != 0 ||
        mount("tmpfs", dir, "tmpfs", MS_NOSUID | MS_NODEV, opts) != 0) {
        fprintf(stderr, "diskfull: no tmpfs (%s); the file-size limit test "
                "stands in for it\n", geteuid() != 0 ? "not root" : strerror(errno));
        return 0;
    }
    return 1;
}

/* Writes a file in dir until the filesystem is full (ENOSPC). */
static void fill(const char *dir)
{
    int fd = open(join(dir, "filler"), O_WRONLY | O_CREAT | O_EXCL, 0600);
    ck_assert_int_ge(fd, 0);
    static const unsigned char block[4096];
    ssize_t k;
    while ((k = write(fd, block, sizeof block)) > 0)
        ;
    ck_assert_msg(k < 0 && errno == ENOSPC, "filling the tmpfs: %s", strerror(errno));
    ck_assert_int_eq(close(fd), 0);
}

static double free_bytes(const char *dir)
{
    struct statvfs v;
    ck_assert_int_eq(statvfs(dir, &v), 0);
    return (double)v.f_bavail * (double)v.f_frsize;
}

/* For a model and a checkpoint: a small file is saved on the tmpfs; then
 * with the filesystem full (a filler file), saves of a bigger net and of
 * a net the size of the old one fail; with the filler gone, the bigger
 * net (larger than the whole filesystem) fails after a partial write; a
 * small net then saves, so it was the space that ran out. */
START_TEST(test_full_tmpfs)
{
    tu_make_tmpdir("sc_test_diskfull");
    char fs[256];
    snprintf(fs, sizeof fs, "%s", tu_path("fs"));
    ck_assert_int_eq(mkdir(fs, 0700), 0);
    if (!mount_small_tmpfs(fs)) {
        tu_remove_tmpdir();
        return;
    }
    state small = make_state(4, 3, 1), other = make_state(4, 3, 2),
          big = make_state(64, 32, 3);
    for (int kind = MODEL; kind <= CHECKPOINT; kind++) {
        const char *name = file_name[kind];
        char path[256];
        snprintf(path, sizeof path, "%s", join(fs, name));
        size_t big_n;
        free(reference_bytes(kind, &big, &big_n));
        ck_assert_msg(big_n > FS_BYTES, "the big %s has %zu bytes", name, big_n);
        TU_OK(save(kind, &small, path));
        old_file old = {fs, kind, NULL, 0};
        old.bytes = tu_read_all(path, &old.n);
        char full_listing[64];
        snprintf(full_listing, sizeof full_listing, "%s %s",
                 strcmp(name, "filler") < 0 ? name : "filler",
                 strcmp(name, "filler") < 0 ? "filler" : name);

        fill(fs);
        tu_clear_error();
        sc_status st = save(kind, &big, path);
        io_error(st, sc_last_error(), ENOSPC, "full, big net");
        old_file_intact(&old, full_listing, "full, big net");
        tu_clear_error();
        st = save(kind, &other, path);
        io_error(st, sc_last_error(), ENOSPC, "full, same-size net");
        old_file_intact(&old, full_listing, "full, same-size net");

        ck_assert_int_eq(unlink(join(fs, "filler")), 0);
        double room = free_bytes(fs);
        ck_assert_msg(room > 0 && room < (double)big_n,
                      "%.0f bytes free for a %zu-byte file", room, big_n);
        tu_clear_error();
        st = save(kind, &big, path);
        io_error(st, sc_last_error(), ENOSPC, "partial write");
        old_file_intact(&old, name, "partial write");

        TU_OK(save(kind, &other, path));
        size_t n;
        unsigned char *now = tu_read_all(path, &n);
        ck_assert(n != old.n || memcmp(now, old.bytes, n) != 0);
        TU_OK(load(kind, path));
        free(now);
        free(old.bytes);
        ck_assert_int_eq(unlink(path), 0);
    }
    free_state(&small);
    free_state(&other);
    free_state(&big);
    ck_assert_msg(umount(fs) == 0, "umount %s: %s", fs, strerror(errno));
    tu_remove_tmpdir();
}
END_TEST

/* ---- a file-size limit -------------------------------------------------- */

typedef struct child_result {
    sc_status st;
    char msg[256];
} child_result;

/* Saves s to path in a child whose files may grow to limit bytes at most
 * (SIGXFSZ ignored, so a write past it fails with EFBIG). */
static child_result save_limited(int kind, const state *s, const char *path,
                                 rlim_t limit)
{
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    fflush(stderr);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        child_result r;
        memset(&r, 0, sizeof r);
        struct rlimit rl;
        if (signal(SIGXFSZ, SIG_IGN) == SIG_ERR || getrlimit(RLIMIT_FSIZE, &rl) != 0)
            _exit(2);
        rl.rlim_cur = limit;
        if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
            _exit(3);
        tu_clear_error();
        r.st = save(kind, s, path);
        snprintf(r.msg, sizeof r.msg, "%s", sc_last_error());
        _exit(write(fds[1], &r, sizeof r) == (ssize_t)sizeof r ? 0 : 4);
    }
    close(fds[1]);
    child_result r;
    ssize_t k = read(fds[0], &r, sizeof r);
    close(fds[0]);
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "the saving child ended with status 0x%x", status);
    ck_assert_int_eq(k, (ssize_t)sizeof r);
    return r;
}

/* For a model and a checkpoint: over an old file, saves of a bigger net
 * under a file-size limit of 0 bytes and of half the new file fail; at a
 * limit of exactly the new file's size the save succeeds and writes the
 * bytes a save without a limit writes. */
START_TEST(test_file_size_limit)
{
    tu_make_tmpdir("sc_test_diskfull");
    state small = make_state(4, 3, 1), big = make_state(32, 16, 3);
    for (int kind = MODEL; kind <= CHECKPOINT; kind++) {
        const char *name = file_name[kind];
        char path[256];
        snprintf(path, sizeof path, "%s", tu_path(name));
        size_t big_n;
        unsigned char *big_bytes = reference_bytes(kind, &big, &big_n);
        TU_OK(save(kind, &small, path));
        old_file old = {tu_tmpdir(), kind, NULL, 0};
        old.bytes = tu_read_all(path, &old.n);
        ck_assert_uint_lt(old.n, big_n / 2);
        const rlim_t limits[2] = {0, (rlim_t)(big_n / 2)};
        for (int i = 0; i < 2; i++) {
            char when[64];
            snprintf(when, sizeof when, "limit %lu", (unsigned long)limits[i]);
            child_result r = save_limited(kind, &big, path, limits[i]);
            io_error(r.st, r.msg, EFBIG, when);
            old_file_intact(&old, name, when);
        }
        child_result r = save_limited(kind, &big, path, (rlim_t)big_n);
        ck_assert_msg(r.st == SC_OK, "limit %zu: %s", big_n, r.msg);
        size_t n;
        unsigned char *now = tu_read_all(path, &n);
        ck_assert(n == big_n && memcmp(now, big_bytes, n) == 0);
        free(now);
        free(big_bytes);
        free(old.bytes);
        ck_assert_int_eq(unlink(path), 0);
    }
    free_state(&small);
    free_state(&big);
    tu_remove_tmpdir();
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("diskfull");
    TCase *tc = tcase_create("diskfull");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_full_tmpfs);
    tcase_add_test(tc, test_file_size_limit);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tu_run_suite(suite(), CK_ENV); }
