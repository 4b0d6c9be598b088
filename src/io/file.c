/* file.c -- read a file whole; write one by temporary file + fsync + rename. */
#define _POSIX_C_SOURCE 200809L
#include "io/file.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"

static sc_status io_fail(const char *fn, const char *what, const char *path)
{
    return sc_fail(SC_ERR_IO, "%s: %s '%s': %s", fn, what, path,
                   strerror(errno));
}

static int write_all(int fd, const unsigned char *p, size_t n)
{
    while (n > 0) {
        ssize_t k = write(fd, p, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

/* The pid of a temporary file name "<base>.tmp.<pid>.<n>", or 0 when name
 * is not one (base: the saved file's name without its folder). */
static long temp_pid(const char *name, const char *base)
{
    size_t bl = strlen(base);
    if (strncmp(name, base, bl) != 0 || strncmp(name + bl, ".tmp.", 5) != 0)
        return 0;
    const char *p = name + bl + 5, *q = p;
    long pid = 0;
    for (; *q >= '0' && *q <= '9' && pid < 1L << 40; q++)
        pid = pid * 10 + (*q - '0');
    if (q == p || *q != '.' || q[1] == '\0')
        return 0;
    for (q++; *q >= '0' && *q <= '9'; q++)
        ;
    return *q == '\0' ? pid : 0;
}

/* Removes the temporary files of path that a process which no longer
 * exists left behind (a save killed before its rename). A live process's
 * temporary, this one's included, is never touched. Best effort: errors
 * are ignored, the save has already succeeded. */
static void remove_stale_temps(char *dir, const char *base)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return;
    size_t dl = strlen(dir);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        long pid = temp_pid(e->d_name, base);
        if (pid <= 0 || pid == (long)getpid() || (long)(pid_t)pid != pid ||
            kill((pid_t)pid, 0) == 0 || errno != ESRCH)
            continue;
        size_t nl = strlen(e->d_name);
        char *full = malloc(dl + nl + 2);
        if (full == NULL)
            break;
        memcpy(full, dir, dl);
        full[dl] = '/';
        memcpy(full + dl + 1, e->d_name, nl + 1);
        unlink(full);
        free(full);
    }
    closedir(d);
}

sc_status sc_file_write_atomic(const char *path, const void *data, size_t n,
                               const char *fn)
{
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 40), *dir = malloc(plen + 1),
         *base = malloc(plen + 1);
    if (!tmp || !dir || !base) {
        free(tmp);
        free(dir);
        free(base);
        return sc_fail(SC_ERR_NOMEM, "%s: out of memory", fn);
    }
    memcpy(dir, path, plen + 1);
    memcpy(base, path, plen + 1);
    sc_status st = SC_OK;
    int fd = -1;
    /* not mkstemp: its files are 0600 and rename keeps that; open with
     * 0666 lets the umask decide, as for any file the program writes */
    static atomic_uint counter;
    for (int tries = 0; tries < 100 && fd < 0; tries++) {
        unsigned k = atomic_fetch_add_explicit(&counter, 1, memory_order_relaxed);
        snprintf(tmp, plen + 40, "%s.tmp.%ld.%u", path, (long)getpid(), k);
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd < 0 && errno != EEXIST)
            break;
    }
    if (fd < 0) {
        st = io_fail(fn, "cannot create a temporary file next to", path);
    } else {
        if (write_all(fd, data, n) != 0 || fsync(fd) != 0)
            st = io_fail(fn, "cannot write", tmp);
        if (close(fd) != 0 && st == SC_OK)
            st = io_fail(fn, "cannot close", tmp);
        if (st == SC_OK && rename(tmp, path) != 0)
            st = io_fail(fn, "cannot rename the temporary file to", path);
        if (st != SC_OK)
            unlink(tmp);
    }
    if (st == SC_OK) { /* make the rename itself durable */
        char *d = dirname(dir);
        int dfd = open(d, O_RDONLY);
        if (dfd >= 0) {
            fsync(dfd);
            close(dfd);
        }
        remove_stale_temps(d, basename(base));
    }
    free(tmp);
    free(dir);
    free(base);
    return st;
}

sc_status sc_file_read(const char *path, size_t max, unsigned char **data,
                       size_t *n, const char *fn)
{
    /* non-blocking: opening a FIFO does not wait for a writer, and the
     * type check below refuses it (and devices, directories) at once */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return io_fail(fn, "cannot open", path);
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return sc_fail(SC_ERR_IO, "%s: '%s' is not a regular file", fn, path);
    }
    if ((uint64_t)sb.st_size > max) {
        close(fd);
        return sc_fail(SC_ERR_FORMAT, "%s: '%s' is larger than %zu bytes", fn,
                       path, max);
    }
    size_t len = (size_t)sb.st_size, got = 0;
    unsigned char *buf = malloc(len ? len : 1);
    if (buf == NULL) {
        close(fd);
        return sc_fail(SC_ERR_NOMEM, "%s: out of memory for %zu bytes", fn, len);
    }
    while (got < len) {
        ssize_t k = read(fd, buf + got, len - got);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        got += (size_t)k;
    }
    close(fd);
    if (got != len) {
        free(buf);
        return sc_fail(SC_ERR_IO, "%s: cannot read '%s'", fn, path);
    }
    *data = buf;
    *n = len;
    return SC_OK;
}
