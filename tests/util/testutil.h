/* testutil.h -- helpers shared by every test program (linked into each). */
#ifndef SC_TESTS_UTIL_TESTUTIL_H
#define SC_TESTS_UTIL_TESTUTIL_H

#include <check.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "selfcompress.h"

/* ---- make valgrind: a memory check, 20-50x slower ---- */
/* 1 when running under valgrind; tests that repeat the same code paths
 * many times (long training runs, finite differences over every element)
 * do fewer repetitions then, and keep their full form everywhere else. */
#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define UNDER_VALGRIND() (RUNNING_ON_VALGRIND != 0)
#endif
#endif
#ifndef UNDER_VALGRIND
#define UNDER_VALGRIND() 0
#endif

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
 * current mode) to a kink: min |relu input| (leaky relu's too), the
 * distance of relu6's input to 0 and 6 and of hardswish's to -3 and 3,
 * and min gap between the largest and second-largest value of every
 * max-pool window (local and global). Returns a large value when the net
 * has no kinks. */
double tu_kink_margin(sc_net *net, const float *x, int n);

/* Copies the net's params into a fresh malloc'd buffer (count in *count). */
float *tu_params(const sc_net *net, size_t *count);
/* 1 when the net's params equal buf bit for bit. */
int tu_params_equal(const sc_net *net, const float *buf, size_t count);

/* Wall-clock seconds (monotonic). */
double tu_now(void);

/* ---- batches ---- */
/* n x c x h x w inputs uniform in [-1, 1) wrapped in x, and (when classes
 * > 0, drawn after the inputs) n labels in [0, classes); else labels NULL. */
typedef struct tu_batch {
    int n, c, h, w;
    float *data;
    int32_t *labels;
    sc_tensor *x;
} tu_batch;

tu_batch tu_batch_make(int n, int c, int h, int w, int classes, uint64_t seed);
void tu_batch_free(tu_batch *b);
/* Eval-mode logits of the batch into a malloc'd buffer (the net is left in
 * training mode). */
float *tu_eval_out(sc_net *net, const tu_batch *b);
/* Brings every batch norm's running statistics to those of one large
 * random batch (a momentum of 1), as training with dead channels does over
 * time: a dead channel's constant map is then normalised in eval mode as
 * in training mode, the function sc_net_compress() keeps (to the running
 * variance's m / (m - 1), m the batch's values per channel). */
void tu_settle_bn(sc_net *net);
/* The same for a loaded model. */
float *tu_model_out(sc_model *m, const tu_batch *b);
/* Random running statistics (and norm scales and shifts) for every batch
 * norm, so that none is close to the identity. */
void tu_random_bn(sc_net *net, uint64_t seed);
/* Every quantised layer but the last: channels o % 4 == 1 dead (b = 0),
 * then compressed away (asserts something was removed). */
void tu_kill_and_compress(sc_net *net);

/* ---- files ---- */
/* Creates a fresh directory /tmp/<prefix>.XXXXXX (one per test process);
 * tu_path(name) is name inside it (a static buffer, four in rotation). */
void tu_make_tmpdir(const char *prefix);
void tu_remove_tmpdir(void);
const char *tu_tmpdir(void);
char *tu_path(const char *name);
/* Whole file into a malloc'd buffer (one spare byte); size in *n. */
unsigned char *tu_read_all(const char *path, size_t *n);
void tu_write_all(const char *path, const void *d, size_t n);
/* Re-seals a (patched) file of the library's container format
 * (docs/format.md): content length at byte 12 and the trailing CRC-32. */
void tu_reseal(unsigned char *d, size_t n);

/* ---- main ---- */
/* Runs the suite; EXIT_SUCCESS when no test failed. */
int tu_run_suite(Suite *s, enum print_output mode);

#endif
