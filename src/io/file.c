/* file.c -- read a file whole; write one by temporary file + fsync + rename. */
#define _POSIX_C_SOURCE 200809L
#include "io/file.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
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

sc_status sc_file_write_atomic(const char *path, const void *data, size_t n,
                               const char *fn)
{
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 40), *dir = malloc(plen + 1);
    if (!tmp || !dir) {
        free(tmp);
        free(dir);
        return sc_fail(SC_ERR_NOMEM, "%s: out of memory", fn);
    }
    memcpy(dir, path, plen + 1);
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
        int dfd = open(dirname(dir), O_RDONLY);
        if (dfd >= 0) {
            fsync(dfd);
            close(dfd);
        }
    }
    free(tmp);
    free(dir);
    return st;
}

sc_status sc_file_read(const char *path, size_t max, unsigned char **data,
                       size_t *n, const char *fn)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return io_fail(fn, "cannot open", path);
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        fclose(f);
        return sc_fail(SC_ERR_IO, "%s: '%s' is not a regular file", fn, path);
    }
    if ((uint64_t)sb.st_size > max) {
        fclose(f);
        return sc_fail(SC_ERR_FORMAT, "%s: '%s' is larger than %zu bytes", fn,
                       path, max);
    }
    size_t len = (size_t)sb.st_size;
    unsigned char *buf = malloc(len ? len : 1);
    if (buf == NULL) {
        fclose(f);
        return sc_fail(SC_ERR_NOMEM, "%s: out of memory for %zu bytes", fn, len);
    }
    size_t got = fread(buf, 1, len, f);
    int err = ferror(f);
    fclose(f);
    if (err || got != len) {
        free(buf);
        return sc_fail(SC_ERR_IO, "%s: cannot read '%s'", fn, path);
    }
    *data = buf;
    *n = len;
    return SC_OK;
}
