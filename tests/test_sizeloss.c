/* test_sizeloss.c -- the size loss and report (spec section 2):
 * Q = (1/N0) sum_{l,o} B[l,o] live_in(l) kh kw, dQ/db = live_in kh kw / N0
 * for b > 0, and the reported bits (ceil B as stored), weights and fp32
 * overhead, all worked out by hand on a small net. */
#include <check.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "engine/net.h"
#include "quant/quantizer.h"
#include "selfcompress.h"
#include "util/testutil.h"

/* input 3x6x6 -> conv1 4@3x3 pad 1 (no bias) -> relu -> conv2 5@3x3 (bias,
 * 4x4 out) -> flatten (80) -> dense1 6 (bias) -> dense2 3 (no bias)
 * N0 = 4*27 + 5*36 + 6*80 + 3*6 = 108 + 180 + 480 + 18 = 786 */
enum { C1 = 1, R1, C2, FL, D1, D2 };
#define N0 786.0

/* The net up to dense1 (not initialised). */
static sc_net *build_to_d1(void)
{
    sc_net *net;
    int id;
    TU_OK(sc_net_create(&net, 3, 6, 6));
    TU_OK(sc_net_conv2d(net, SC_INPUT, 4, 3, 3, 1, 1, SC_NO_BIAS, &id));
    TU_OK(sc_net_relu(net, id, &id));
    TU_OK(sc_net_conv2d(net, id, 5, 3, 3, 1, 0, SC_BIAS, &id));
    TU_OK(sc_net_flatten(net, id, &id));
    TU_OK(sc_net_dense(net, id, 6, SC_BIAS, &id));
    ck_assert_int_eq(id, D1);
    return net;
}

static sc_net *make_net(void)
{
    sc_net *net = build_to_d1();
    int id;
    TU_OK(sc_net_dense(net, D1, 3, SC_NO_BIAS, &id));
    ck_assert_int_eq(id, D2);
    TU_OK(sc_net_init(net, 3));
    TU_OK(sc_net_set_param(net, SC_PARAM_QUANT_B_MAX, 32.0)); /* b up to 32 */
    TU_OK(sc_net_set_param(net, SC_PARAM_QUANT_B0, 8.0)); /* the figures below */
    TU_OK(sc_net_quantize(net, SC_ALL_LAYERS));
    return net;
}

static sc_size_report report(sc_net *net, int id)
{
    sc_size_report r = SC_SIZE_REPORT_INIT;
    TU_OK(sc_net_size_report(net, id, &r));
    return r;
}

static void set_b(sc_net *net, int id, const float *b, int c)
{
    TU_OK(sc_net_set_quant(net, id, b, NULL, (size_t)c));
}

START_TEST(test_report_at_start)
{
    sc_net *net = make_net();
    sc_size_report r = report(net, SC_ALL_LAYERS);
    ck_assert_int_eq(r.weights0, 786);
    ck_assert_int_eq(r.weights, 786);
    ck_assert_int_eq(r.out_channels, 4 + 5 + 6 + 3);
    ck_assert_int_eq(r.in_channels, 0);
    ck_assert_double_eq_tol(r.bits, 8.0 * 786, 1e-9);
    ck_assert_double_eq_tol(r.bits_pct, 25.0, 1e-9);
    ck_assert_double_eq_tol(r.weights_pct, 100.0, 1e-9);
    ck_assert_double_eq_tol(r.size_loss, 8.0, 1e-9);
    /* biases 5 + 6, (b, e) 2 * 18 */
    ck_assert_int_eq(r.overhead_floats, 11 + 36);
    sc_net_free(net);
}
END_TEST

START_TEST(test_report_by_hand)
{
    sc_net *net = make_net();
    set_b(net, C1, (float[]){-1.0f, 2.3f, 8.0f, 0.5f}, 4);
    set_b(net, C2, (float[]){1.5f, 3.0f, 3.0f, 3.0f, 0.0f}, 5);
    set_b(net, D1, (float[]){4.0f, 4.0f, -2.0f, 4.0f, 4.0f, 4.0f}, 6);
    set_b(net, D2, (float[]){5.0f, 5.0f, 5.0f}, 3);
    /* conv1: live_in 3, 9 taps: per 27; live out 1, 2, 3
     * conv2: live_in 3 (conv1's), per 27; live out 0..3
     * dense1: live_in 4 channels x 16 positions = 64; live out 5
     * dense2: live_in 5; live out 3 */
    double q = ((double)2.3f + 8.0 + 0.5) * 27 + (1.5 + 3 + 3 + 3) * 27 + 5 * 4.0 * 64 +
               3 * 5.0 * 5;
    double bits = (3 + 8 + 1) * 27 + (2 + 3 + 3 + 3) * 27 + 5 * 4 * 64 + 3 * 5 * 5;
    int64_t weights = 3 * 27 + 4 * 27 + 5 * 64 + 3 * 5;
    sc_size_report r = report(net, SC_ALL_LAYERS);
    ck_assert_int_eq(r.weights0, 786);
    ck_assert_int_eq(r.weights, weights);
    ck_assert_int_eq(r.out_channels, 3 + 4 + 5 + 3);
    ck_assert_double_eq_tol(r.size_loss, q / N0, 1e-9);
    ck_assert_double_eq_tol(r.bits, bits, 1e-9);
    ck_assert_double_eq_tol(r.bits_pct, 100.0 * bits / (32.0 * N0), 1e-9);
    ck_assert_double_eq_tol(r.weights_pct, 100.0 * (double)weights / N0, 1e-9);
    ck_assert_int_eq(r.overhead_floats, 47); /* dead ones are still stored */

    sc_size_report l = report(net, C2);
    ck_assert_int_eq(l.in_channels, 3);
    ck_assert_int_eq(l.out_channels, 4);
    ck_assert_int_eq(l.weights, 4 * 27);
    ck_assert_int_eq(l.weights0, 180);
    ck_assert_double_eq_tol(l.bits, 11.0 * 27, 1e-9);
    ck_assert_double_eq_tol(l.bits_pct, 100.0 * 11 * 27 / (32.0 * 180), 1e-9);
    ck_assert_double_eq_tol(l.size_loss, 10.5 * 27 / 180.0, 1e-9);
    ck_assert_int_eq(l.overhead_floats, 5 + 10);
    l = report(net, D1);
    ck_assert_int_eq(l.in_channels, 64); /* features of a flattened input */
    ck_assert_int_eq(l.weights0, 480);

    /* the training step reports the same Q */
    sc_optimizer *opt;
    TU_OK(sc_optimizer_create(&opt, net, SC_OPT_SGD));
    TU_OK(sc_optimizer_set_lr(opt, SC_GROUP_EVERY, 0.0));
    float x[2 * 108];
    int32_t labels[2] = {0, 2};
    tu_lcg g;
    tu_lcg_seed(&g, 9);
    tu_fill(&g, x, 2 * 108, -1.0, 1.0);
    sc_tensor *t;
    TU_OK(sc_tensor_wrap(&t, 4, (int64_t[]){2, 3, 6, 6}, x));
    TU_OK(sc_net_set_param(net, SC_PARAM_GAMMA, 0.5));
    sc_step_stats st = SC_STEP_STATS_INIT;
    TU_OK(sc_net_train_step(net, opt, t, labels, &st));
    ck_assert_double_eq_tol(st.size_loss, q / N0, 1e-9);
    ck_assert_double_eq_tol(st.loss, st.task_loss + 0.5 * q / N0, 1e-9);
    sc_tensor_free(t);
    sc_optimizer_free(opt);
    sc_net_free(net);
}
END_TEST

START_TEST(test_dead_upstream_channel)
{
    sc_net *net = make_net();
    float b4[4] = {8, 8, -1, 8}, b5[5] = {-1, 8, 8, 8, 8};
    set_b(net, C1, b4, 4);
    /* conv1 loses its row (8 bits x 27) and conv2 a live input channel
     * (5 rows x 9 taps x 8 bits) */
    sc_size_report r = report(net, SC_ALL_LAYERS);
    ck_assert_double_eq_tol(r.size_loss, 8.0 - (8.0 * 27 + 5 * 9 * 8.0) / N0, 1e-9);
    ck_assert_int_eq(r.weights, 786 - 27 - 45);
    ck_assert_int_eq(report(net, C2).in_channels, 3);
    set_b(net, C2, b5, 5);
    /* conv2 loses a row of 3 x 9 live weights and dense1 16 features of
     * each of its 6 rows */
    r = report(net, SC_ALL_LAYERS);
    ck_assert_double_eq_tol(
        r.size_loss, 8.0 - (8.0 * 27 + 5 * 9 * 8.0 + 8.0 * 27 + 6 * 16 * 8.0) / N0,
        1e-9);
    ck_assert_int_eq(r.weights, 786 - 27 - 45 - 27 - 96);
    ck_assert_int_eq(report(net, D1).in_channels, 64);

    /* compress keeps every figure but the stored overhead: conv1 drops one
     * (b, e), conv2 one bias and one (b, e) */
    int removed;
    TU_OK(sc_net_compress(net, &removed));
    ck_assert_int_eq(removed, 2);
    sc_size_report c = report(net, SC_ALL_LAYERS);
    ck_assert_int_eq(c.weights0, r.weights0);
    ck_assert_int_eq(c.weights, r.weights);
    ck_assert_double_eq_tol(c.size_loss, r.size_loss, 1e-12);
    ck_assert_double_eq_tol(c.bits, r.bits, 1e-9);
    ck_assert_int_eq(c.overhead_floats, r.overhead_floats - 5);
    sc_net_free(net);
}
END_TEST

/* dQ/db: the library's gradient (sc_size_loss with gamma = 1), finite
 * differences of the reported Q, and live_in kh kw / N0 by hand. */
START_TEST(test_gradient_vs_finite_differences)
{
    sc_net *net = make_net();
    set_b(net, C1, (float[]){3.0f, -1.0f, 2.25f, 0.75f}, 4);
    set_b(net, C2, (float[]){5.0f, 6.5f, 0.0f, 7.0f, 2.0f}, 5);
    net->gamma = 1.0;
    memset(net->grads, 0, net->n_params * sizeof(float));
    sc_liveness(net);
    double q = sc_size_loss(net, 1);
    ck_assert_double_eq_tol(q, report(net, SC_ALL_LAYERS).size_loss, 1e-12);
    /* per-layer dQ/db for live channels: conv1 3*9, conv2 3 live in * 9,
     * dense1 4 live conv2 channels * 16, dense2 6 */
    const int ids[4] = {C1, C2, D1, D2};
    const double per[4] = {27 / N0, 27 / N0, 64 / N0, 6 / N0};
    const double eps = 1e-3;
    int checked = 0;
    for (int l = 0; l < 4; l++) {
        sc_node *nd = &net->nodes[ids[l]];
        int c = nd->c;
        float *b = malloc((size_t)c * sizeof(float));
        ck_assert_ptr_nonnull(b);
        TU_OK(sc_net_get_quant(net, ids[l], b, NULL, (size_t)c));
        const float *g = sc_node_grad(net, nd, P_QB);
        for (int o = 0; o < c; o++) {
            float keep = b[o];
            b[o] = keep + (float)eps;
            set_b(net, ids[l], b, c);
            double qp = report(net, SC_ALL_LAYERS).size_loss;
            b[o] = keep - (float)eps;
            set_b(net, ids[l], b, c);
            double qm = report(net, SC_ALL_LAYERS).size_loss;
            b[o] = keep;
            set_b(net, ids[l], b, c);
            double fd = (qp - qm) / (((double)(keep + (float)eps)) -
                                     (double)(keep - (float)eps));
            double want = keep > 0.0f ? per[l] : 0.0;
            ck_assert_msg(fabs(g[o] - want) <= 1e-6 * want + 1e-12,
                          "layer %d channel %d: dQ/db %g, by hand %g", ids[l],
                          o, g[o], want);
            if (fabs(keep) > 2 * eps) { /* Q is linear on either side of 0 */
                ck_assert_msg(fabs(fd - want) <= 1e-6 + 1e-4 * want,
                              "layer %d channel %d: FD %g, by hand %g", ids[l],
                              o, fd, want);
                checked++;
            }
        }
        free(b);
    }
    ck_assert_int_eq(checked, 4 + 5 - 1 + 6 + 3);
    sc_net_free(net);
}
END_TEST

START_TEST(test_report_size_and_errors)
{
    sc_net *net = make_net();
    sc_size_report r;
    memset(&r, 0xAB, sizeof r);
    r.size = offsetof(sc_size_report, bits);
    TU_OK(sc_net_size_report(net, SC_ALL_LAYERS, &r));
    ck_assert_uint_eq(r.size, offsetof(sc_size_report, bits));
    ck_assert_int_eq(r.weights0, 786);
    ck_assert_int_eq(r.weights, 786);
    unsigned char pat[sizeof r];
    memset(pat, 0xAB, sizeof pat);
    const unsigned char *tail = (const unsigned char *)&r + offsetof(sc_size_report, bits);
    ck_assert_msg(memcmp(tail, pat, sizeof r - offsetof(sc_size_report, bits)) == 0,
                  "fields past report->size were written");

    sc_size_report ok = SC_SIZE_REPORT_INIT;
    ok.size = 2;
    TU_FAILS(sc_net_size_report(net, SC_ALL_LAYERS, &ok), SC_ERR_ARG);
    ok.size = sizeof ok;
    TU_FAILS(sc_net_size_report(net, R1, &ok), SC_ERR_ARG);  /* a relu */
    TU_FAILS(sc_net_size_report(net, 99, &ok), SC_ERR_ARG);
    TU_FAILS(sc_net_size_report(net, SC_INPUT, &ok), SC_ERR_ARG);
    TU_FAILS(sc_net_size_report(NULL, SC_ALL_LAYERS, &ok), SC_ERR_NULL);
    TU_FAILS(sc_net_size_report(net, SC_ALL_LAYERS, NULL), SC_ERR_NULL);
    sc_net *fresh;
    int id;
    TU_OK(sc_net_create(&fresh, 1, 2, 2));
    TU_OK(sc_net_dense(fresh, SC_INPUT, 2, SC_BIAS, &id));
    TU_FAILS(sc_net_size_report(fresh, SC_ALL_LAYERS, &ok), SC_ERR_STATE);
    sc_net_free(fresh);
    sc_net_free(net);
}
END_TEST

/* Only some layers quantised: N0 and Q count those alone. */
START_TEST(test_partly_quantised)
{
    sc_net *net = build_to_d1();
    TU_OK(sc_net_init(net, 3));
    TU_OK(sc_net_quantize(net, C2));
    ck_assert(sc_net_is_quantized(net, C2));
    ck_assert(!sc_net_is_quantized(net, C1));
    TU_OK(sc_net_set_param(net, SC_PARAM_QUANT_B0, 4.0));
    TU_OK(sc_net_quantize(net, D1));
    sc_size_report r = report(net, SC_ALL_LAYERS);
    ck_assert_int_eq(r.weights0, 180 + 480);
    /* C2 at the default b0 = 5, D1 at 4 */
    ck_assert_double_eq_tol(r.size_loss, (5.0 * 180 + 4.0 * 480) / 660.0, 1e-9);
    sc_net_free(net);
}
END_TEST

/* overhead_floats counts the biases of every dense/conv layer, quantised
 * or not: input 4 -> dense 3 (bias, quantised) -> dense 2 (bias, not). */
START_TEST(test_overhead_counts_unquantised_biases)
{
    sc_net *net;
    int q, f;
    TU_OK(sc_net_create(&net, 4, 1, 1));
    TU_OK(sc_net_dense(net, SC_INPUT, 3, SC_BIAS, &q));
    TU_OK(sc_net_dense(net, q, 2, SC_BIAS, &f));
    TU_OK(sc_net_init(net, 5));
    TU_OK(sc_net_quantize(net, q));
    ck_assert(!sc_net_is_quantized(net, f));
    sc_size_report r = report(net, SC_ALL_LAYERS);
    /* dense 3: bias 3, b 3, e 3; dense 2: bias 2 */
    ck_assert_int_eq(r.overhead_floats, 3 + 3 + 3 + 2);
    ck_assert_int_eq(r.weights0, 12);
    ck_assert_int_eq(r.weights, 12);
    ck_assert_int_eq(report(net, q).overhead_floats, 9);
    ck_assert_int_eq(report(net, f).overhead_floats, 2);
    sc_net_free(net);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("sizeloss");
    TCase *tc = tcase_create("sizeloss");
    tcase_add_test(tc, test_report_at_start);
    tcase_add_test(tc, test_report_by_hand);
    tcase_add_test(tc, test_dead_upstream_channel);
    tcase_add_test(tc, test_gradient_vs_finite_differences);
    tcase_add_test(tc, test_report_size_and_errors);
    tcase_add_test(tc, test_partly_quantised);
    tcase_add_test(tc, test_overhead_counts_unquantised_biases);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tu_run_suite(suite(), CK_NORMAL); }
