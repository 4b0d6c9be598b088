/* testutil.h -- helpers shared by every test program (linked into each). */
#ifndef SC_TESTS_UTIL_TESTUTIL_H
#define SC_TESTS_UTIL_TESTUTIL_H

#include <check.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "selfcompress.h"

/* ---- a tiny deterministic generator, independent of the library ---- */
typedef struct tu_lcg {
    uint64_t s;
} tu_lcg;

/* Knuth's MMIX LCG; the high bits are used. */
void tu_lcg_seed(tu_lcg *r, uint64_t seed);
uint32_t tu_lcg_next(tu_lcg *r);
/* uniform in [0, 1) */
double tu_lcg_uniform(tu_lcg *r);
/* uniform in [lo, hi) */
double tu_lcg_range(tu_lcg *r, double lo, double hi);
/* uniform integer in [0, k) */
int tu_lcg_int(tu_lcg *r, int k);
/* approximately standard normal (sum of 12 uniforms - 6) */
double tu_lcg_normal(tu_lcg *r);
void tu_fill(tu_lcg *r, float *a, size_t n, double lo, double hi);
void tu_labels(tu_lcg *r, int32_t *labels, int n, int k);

/* ---- status assertions ---- */
/* call must return SC_OK; the failure message names the call and the
 * library's last error. */
#define TU_OK(call)                                                           \
    do {                                                                      \
        sc_status tu_st_ = (call);                                            \
        ck_assert_msg(tu_st_ == SC_OK, "%s returned %d (%s): %s", #call,       \
                      (int)tu_st_, sc_strerror(tu_st_), sc_last_error());     \
    } while (0)

/* call must return want and leave a non-empty sc_last_error() message
 * (the message is cleared to "" first by a probe that cannot fail... the
 * library has no clear, so the test checks the message changed to one
 * that mentions the failure: non-empty). */
#define TU_FAILS(call, want)                                                  \
    do {                                                                      \
        tu_clear_error();                                                     \
        sc_status tu_st_ = (call);                                            \
        ck_assert_msg(tu_st_ == (want), "%s returned %d (%s), expected %d",   \
                      #call, (int)tu_st_, sc_strerror(tu_st_), (int)(want));  \
        ck_assert_msg(sc_last_error()[0] != '\0' &&                           \
                          strcmp(sc_last_error(), tu_marker_message()) != 0,  \
                      "%s: no error message set", #call);                     \
    } while (0)

/* Sets the thread's last message to a known marker (by provoking a
 * harmless failure), so TU_FAILS can tell a fresh message from a stale one. */
void tu_clear_error(void);
const char *tu_marker_message(void);

/* ---- nets ---- */
/* Smallest distance of the net's forward pass on x (n samples, in its
 * current mode) to a kink: min |relu input|, and min gap between the
 * largest and second-largest value of every max-pool window (local and
 * global). Returns a large value when the net has no kinks. */
double tu_kink_margin(sc_net *net, const float *x, int n);

/* Copies the net's params into a fresh malloc'd buffer (count in *count). */
float *tu_params(const sc_net *net, size_t *count);
/* 1 when the net's params equal buf bit for bit. */
int tu_params_equal(const sc_net *net, const float *buf, size_t count);

/* Wall-clock seconds (monotonic). */
double tu_now(void);

#endif
