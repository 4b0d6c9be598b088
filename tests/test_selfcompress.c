/* test_selfcompress.c -- the method end to end on a seeded synthetic task:
 * with gamma > 0 a small conv net learns the task while its average bit
 * depth falls from 8 to below 2 bits per weight and whole channels die (and
 * are removed by the automatic compress); with gamma = 0 the bit depths stay
 * near b0; a net with only some layers quantised works the same way. */
#include <check.h>
#include <math.h>
#include <stdlib.h>

#include "selfcompress.h"
#include "util/testutil.h"

/* ---- the task: 4 kinds of strokes on 8x8, at random places ------------- */

enum { H = 8, CLASSES = 4, NTRAIN = 1024, BATCH = 64 };

/* class 0: a horizontal bar of 6, 1: a vertical bar, 2: a diagonal,
 * 3: a 4x4 box outline; brightness 0.6 to 1, noise +-0.1 */
static void draw(tu_lcg *r, float *x, int cls)
{
    for (int i = 0; i < H * H; i++)
        x[i] = (float)tu_lcg_range(r, -0.1, 0.1);
    float a = (float)tu_lcg_range(r, 0.6, 1.0);
    switch (cls) {
    case 0: {
        int y = tu_lcg_int(r, H), x0 = tu_lcg_int(r, 3);
        for (int c = x0; c < x0 + 6; c++)
            x[y * H + c] += a;
        break;
    }
    case 1: {
        int c = tu_lcg_int(r, H), y0 = tu_lcg_int(r, 3);
        for (int y = y0; y < y0 + 6; y++)
            x[y * H + c] += a;
        break;
    }
    case 2: {
        int y0 = tu_lcg_int(r, 3), x0 = tu_lcg_int(r, 3);
        for (int k = 0; k < 6; k++)
            x[(y0 + k) * H + x0 + k] += a;
        break;
    }
    default: {
        int y0 = tu_lcg_int(r, H - 3), x0 = tu_lcg_int(r, H - 3);
        for (int i = 0; i < 4; i++) {
            x[y0 * H + x0 + i] += a;
            x[(y0 + 3) * H + x0 + i] += a;
            x[(y0 + i) * H + x0] += a;
            x[(y0 + i) * H + x0 + 3] += a;
        }
    }
    }
}

typedef struct data {
    float *x;
    int32_t *y;
} data;

static data make_data(uint64_t seed)
{
    data d = {malloc(sizeof(float) * NTRAIN * H * H),
              malloc(sizeof(int32_t) * NTRAIN)};
    ck_assert(d.x && d.y);
    tu_lcg r;
    tu_lcg_seed(&r, seed);
    for (int i = 0; i < NTRAIN; i++) {
        d.y[i] = i % CLASSES;
        draw(&r, d.x + (size_t)i * H * H, d.y[i]);
    }
    return d;
}

static void free_data(data *d)
{
    free(d->x);
    free(d->y);
}

/* Eval-mode accuracy over all NTRAIN samples. */
static double accuracy(sc_net *net, const data *d)
{
    sc_tensor *x, *out;
    TU_OK(sc_tensor_wrap(&x, 4, (int64_t[]){NTRAIN, 1, H, H}, d->x));
    TU_OK(sc_tensor_create(&out, 2, (int64_t[]){NTRAIN, CLASSES}));
    TU_OK(sc_net_set_training(net, 0));
    TU_OK(sc_net_forward(net, x, out));
    TU_OK(sc_net_set_training(net, 1));
    const float *o = sc_tensor_data(out);
    int ok = 0;
    for (int i = 0; i < NTRAIN; i++) {
        int best = 0;
        for (int k = 1; k < CLASSES; k++)
            if (o[i * CLASSES + k] > o[i * CLASSES + best])
                best = k;
        ok += best == d->y[i];
    }
    sc_tensor_free(x);
    sc_tensor_free(out);
    return (double)ok / NTRAIN;
}

/* conv 8@3x3 - BN - relu - maxpool - conv 16@3x3 - BN - relu - global
 * average - dense 4. N0 = 72 + 1152 (+ 64 with the dense quantised). */
enum { C1 = 1, C2 = 5, OUT = 9 };

static sc_net *make_net(int quantize_dense)
{
    sc_net *net;
    int id;
    TU_OK(sc_net_create(&net, 1, H, H));
    TU_OK(sc_net_conv2d(net, SC_INPUT, 8, 3, 3, 1, 1, SC_NO_BIAS, &id));
    TU_OK(sc_net_batchnorm(net, id, SC_BN_AFFINE, &id));
    TU_OK(sc_net_relu(net, id, &id));
    TU_OK(sc_net_maxpool(net, id, 2, 2, &id));
    TU_OK(sc_net_conv2d(net, id, 16, 3, 3, 1, 1, SC_NO_BIAS, &id));
    ck_assert_int_eq(id, C2);
    TU_OK(sc_net_batchnorm(net, id, SC_BN_AFFINE, &id));
    TU_OK(sc_net_relu(net, id, &id));
    TU_OK(sc_net_global_avgpool(net, id, &id));
    TU_OK(sc_net_dense(net, id, CLASSES, SC_BIAS, &id));
    ck_assert_int_eq(id, OUT);
    TU_OK(sc_net_init(net, 1));
    /* from 8 bits (the spec's start), with the exponents as fast as the
     * bits: the figures below are about that descent */
    TU_OK(sc_net_set_param(net, SC_PARAM_QUANT_B0, 8.0));
    if (quantize_dense) {
        TU_OK(sc_net_quantize(net, SC_ALL_LAYERS));
    } else {
        TU_OK(sc_net_quantize(net, C1));
        TU_OK(sc_net_quantize(net, C2));
    }
    return net;
}

/* The recipe: Adam, 3e-3 for weights and biases, 0.1 for (b, e); for the
 * last `freeze` steps (b, e) stop, so batch-norm running statistics catch
 * up with a net that no longer changes shape (while (b, e) move, eval-mode
 * accuracy lags the training batches). */
static sc_step_stats train(sc_net *net, const data *d, int steps, int freeze)
{
    sc_optimizer *opt;
    TU_OK(sc_optimizer_create(&opt, net, SC_OPT_ADAM));
    TU_OK(sc_optimizer_set_lr(opt, SC_GROUP_WEIGHTS, 3e-3));
    TU_OK(sc_optimizer_set_lr(opt, SC_GROUP_BIASES, 3e-3));
    TU_OK(sc_optimizer_set_lr(opt, SC_GROUP_QUANT, 0.1)); /* b and e */
    sc_step_stats st = SC_STEP_STATS_INIT;
    for (int s = 0; s < steps; s++) {
        if (s == steps - freeze)
            TU_OK(sc_optimizer_set_lr(opt, SC_GROUP_QUANT, 0.0));
        int off = (s * BATCH) % NTRAIN;
        sc_tensor *x;
        TU_OK(sc_tensor_wrap(&x, 4, (int64_t[]){BATCH, 1, H, H},
                             d->x + (size_t)off * H * H));
        TU_OK(sc_net_train_step(net, opt, x, d->y + off, &st));
        sc_tensor_free(x);
    }
    sc_optimizer_free(opt);
    return st;
}

static int chans(const sc_net *net, int id)
{
    int c;
    TU_OK(sc_net_layer_shape(net, id, &c, NULL, NULL));
    return c;
}

START_TEST(test_shrinks_and_learns)
{
    data d = make_data(2023), held = make_data(7);
    sc_net *net = make_net(1);
    TU_OK(sc_net_set_param(net, SC_PARAM_GAMMA, 0.1));
    TU_OK(sc_net_set_param(net, SC_PARAM_COMPRESS_EVERY, 100));
    sc_size_report r0 = SC_SIZE_REPORT_INIT, r = SC_SIZE_REPORT_INIT;
    TU_OK(sc_net_size_report(net, SC_ALL_LAYERS, &r0));
    ck_assert_double_eq_tol(r0.size_loss, 8.0, 1e-9);
    size_t np0 = sc_net_param_count(net);

    sc_step_stats st = train(net, &d, 400, 100);
    TU_OK(sc_net_size_report(net, SC_ALL_LAYERS, &r));
    double bits_per_weight = r.bits / (double)r.weights0;
    ck_assert_int_eq(r.weights0, 72 + 1152 + 64);
    ck_assert_msg(r.size_loss < 2.0, "Q = %g bits per weight", r.size_loss);
    ck_assert_double_eq_tol(st.size_loss, r.size_loss, 1e-9);
    ck_assert_msg(bits_per_weight < 2.0, "%g stored bits per weight",
                  bits_per_weight);
    /* channels died and the automatic compress removed them */
    ck_assert_msg(r.out_channels < 8 + 16 + 4, "%lld live channels",
                  (long long)r.out_channels);
    ck_assert_int_lt(chans(net, C1) + chans(net, C2), 8 + 16);
    ck_assert_int_lt(sc_net_param_count(net), np0);
    ck_assert_int_eq(chans(net, OUT), CLASSES);
    double acc = accuracy(net, &d), acc_held = accuracy(net, &held);
    ck_assert_msg(acc > 0.95, "training accuracy %g", acc);
    ck_assert_msg(acc_held > 0.9, "held-out accuracy %g", acc_held);
    /* a last compress changes no prediction */
    int removed;
    TU_OK(sc_net_compress(net, &removed));
    ck_assert_double_eq_tol(accuracy(net, &d), acc, 1.5 / NTRAIN);
    free_data(&d);
    free_data(&held);
    sc_net_free(net);
}
END_TEST

START_TEST(test_gamma_zero_keeps_bits)
{
    data d = make_data(2023);
    sc_net *net = make_net(1);
    train(net, &d, 150, 0);
    sc_size_report r = SC_SIZE_REPORT_INIT;
    TU_OK(sc_net_size_report(net, SC_ALL_LAYERS, &r));
    ck_assert_msg(r.size_loss >= 7.0 && r.size_loss <= 9.0,
                  "mean bit depth %g without a size loss", r.size_loss);
    ck_assert_int_eq(r.out_channels, 8 + 16 + 4); /* nothing died */
    ck_assert_int_eq(r.weights, r.weights0);
    double acc = accuracy(net, &d);
    ck_assert_msg(acc > 0.95, "training accuracy %g", acc);
    free_data(&d);
    sc_net_free(net);
}
END_TEST

START_TEST(test_mixed_quantised_and_float)
{
    data d = make_data(2023);
    sc_net *net = make_net(0);
    ck_assert(!sc_net_is_quantized(net, OUT));
    TU_OK(sc_net_set_param(net, SC_PARAM_GAMMA, 0.1));
    train(net, &d, 400, 100);
    sc_size_report r = SC_SIZE_REPORT_INIT;
    TU_OK(sc_net_size_report(net, SC_ALL_LAYERS, &r));
    ck_assert_int_eq(r.weights0, 72 + 1152); /* the float dense is not N0 */
    ck_assert_msg(r.size_loss < 2.0, "Q = %g", r.size_loss);
    ck_assert_msg(r.out_channels < 8 + 16, "%lld live conv channels",
                  (long long)r.out_channels);
    double acc = accuracy(net, &d);
    ck_assert_msg(acc > 0.95, "training accuracy %g", acc);
    int removed;
    size_t np = sc_net_param_count(net);
    TU_OK(sc_net_compress(net, &removed));
    ck_assert_int_gt(removed, 0);
    ck_assert_int_lt(sc_net_param_count(net), np);
    ck_assert_double_eq_tol(accuracy(net, &d), acc, 1.5 / NTRAIN);
    free_data(&d);
    sc_net_free(net);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("selfcompress");
    TCase *tc = tcase_create("selfcompress");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_shrinks_and_learns);
    tcase_add_test(tc, test_gamma_zero_keeps_bits);
    tcase_add_test(tc, test_mixed_quantised_and_float);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tu_run_suite(suite(), CK_NORMAL); }
