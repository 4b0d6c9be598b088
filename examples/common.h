/* common.h -- small helpers shared by the example programs (and the
 * benchmark, tests/bench/bench.c): fatal errors, status checks, a monotonic
 * clock and the median of a sample.
 *
 * Define COMMON_PROG (the program's name, prefixed to error messages) and a
 * POSIX feature macro (clock_gettime) before including. Everything is
 * static inline: include it from any number of programs. */
#ifndef SC_EXAMPLES_COMMON_H
#define SC_EXAMPLES_COMMON_H

#ifndef COMMON_PROG
#error "define COMMON_PROG (the program's name) before including common.h"
#endif

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <selfcompress.h>

#if defined(__GNUC__)
__attribute__((format(printf, 1, 2)))
#endif
static inline void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs(COMMON_PROG ": ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

/* dies with the call's name and the library's message unless st is SC_OK */
static inline void check(sc_status st, const char *what)
{
    if (st != SC_OK)
        die("%s: %s (%s)", what, sc_strerror(st), sc_last_error());
}

/* wall-clock seconds (monotonic) */
static inline double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* qsort comparator for doubles, ascending */
static inline int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* median of v[0..n) (n > 0); sorts v */
static inline double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

#endif
