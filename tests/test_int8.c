/* test_int8.c -- int8 inference (int8/q8.h, docs/int8.md): the fixed-point
 * arithmetic against exact real values; every benchmark net, quantised and
 * compressed, and a net of the other layer kinds, in int8 against the same
 * model's fp32 logits; the same bits from every integer kernel, any batch
 * split and any thread count; the calibration API and its traps; the
 * activation ranges in the model file, hostile ones refused, old files
 * fp32-only. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "int8/q8.h"
#include "io/model.h"
#include "util/testutil.h"
#include "../examples/nets.h"

/* ---- the arithmetic ---- */

START_TEST(t_floor_shift)
{
    tu_lcg r;
    tu_lcg_seed(&r, 11);
    for (int i = 0; i < 20000; i++) {
        int64_t v = (int64_t)tu_lcg_range(&r, -4e15, 4e15);
        int s = 1 + tu_lcg_int(&r, 48);
        ck_assert_int_eq(sc_q8_floor_shift(v, s),
                         (int64_t)floorl((long double)v / ldexpl(1.0L, s)));
    }
    ck_assert_int_eq(sc_q8_floor_shift(-1, 1), -1);
    ck_assert_int_eq(sc_q8_floor_shift(-2, 1), -1);
    ck_assert_int_eq(sc_q8_floor_shift(-3, 1), -2);
}
END_TEST

/* m 2^-shift is r to 2^-30 of r, and a requantised byte is the real value
 * v r + off + z rounded to nearest (clamped) */
START_TEST(t_requant)
{
    tu_lcg r;
    tu_lcg_seed(&r, 12);
    for (int i = 0; i < 50000; i++) {
        double rr = ldexp(tu_lcg_range(&r, 0.5, 1.0), tu_lcg_int(&r, 36) - 30);
        if (tu_lcg_int(&r, 4) == 0)
            rr = -rr;
        sc_q8mul m;
        ck_assert(sc_q8_multiplier(rr, &m));
        ck_assert_int_ge(m.shift, 1);
        ck_assert_int_le(m.shift, 48);
        double back = ldexp((double)m.m, -m.shift);
        ck_assert(fabs(back - rr) <= fabs(rr) * ldexp(1.0, -30) + ldexp(1.0, -48));
        int64_t vmax = (int64_t)1 << 30;
        int64_t v = (int64_t)tu_lcg_range(&r, -2e6, 2e6);
        if (fabs((double)v * rr) > 2e3)
            v = (int64_t)(tu_lcg_range(&r, -300.0, 300.0) / rr);
        double off = tu_lcg_range(&r, -200.0, 200.0);
        int z = tu_lcg_int(&r, 2) ? 128 : 0;
        int64_t b = sc_q8_offset(off, z, m, vmax);
        int got = sc_q8_requant(v, m, b, 0, 255);
        long double exact = (long double)v * back + off + z;
        long double want = exact < 0 ? 0 : exact > 255 ? 255 : exact;
        ck_assert_msg(fabsl((long double)got - want) <= 0.5L + 1e-6L,
                      "v %lld r %g off %g z %d: %d for %Lg", (long long)v, rr,
                      off, z, got, exact);
    }
    sc_q8mul m;
    ck_assert(sc_q8_multiplier(0.0, &m) && m.m == 0);
    ck_assert(!sc_q8_multiplier(NAN, &m));
    ck_assert(!sc_q8_multiplier(INFINITY, &m));
    ck_assert(!sc_q8_multiplier(ldexp(1.0, 31), &m));
    /* an offset far beyond any sum saturates, whatever v is */
    ck_assert(sc_q8_multiplier(1e-3, &m));
    int64_t vmax = 1000000;
    int64_t b = sc_q8_offset(1e30, 0, m, vmax);
    ck_assert_int_eq(sc_q8_requant(-vmax, m, b, 0, 255), 255);
    b = sc_q8_offset(-1e30, 0, m, vmax);
    ck_assert_int_eq(sc_q8_requant(vmax, m, b, 0, 255), 0);
}
END_TEST

START_TEST(t_tensor_quant)
{
    sc_q8t t = sc_q8_tensor(0.0f, 5.1f);
    ck_assert_int_eq(t.z, 0);
    ck_assert_float_eq_tol(t.s, 0.02f, 1e-7f);
    t = sc_q8_tensor(-2.54f, 1.0f);
    ck_assert_int_eq(t.z, 128);
    ck_assert_float_eq_tol(t.s, 0.02f, 1e-7f);
    t = sc_q8_tensor(0.0f, 0.0f); /* a dead map: any scale */
    ck_assert_float_eq(t.s, 1.0f);
    ck_assert_int_eq(sc_q8_quantize(1.0f, 1.0f / 0.02f, 0), 50);
    ck_assert_int_eq(sc_q8_quantize(-1.0f, 1.0f / 0.02f, 0), 0);
    ck_assert_int_eq(sc_q8_quantize(-1.0f, 1.0f / 0.02f, 128), 78);
    ck_assert_int_eq(sc_q8_quantize(100.0f, 1.0f / 0.02f, 128), 255);
}
END_TEST

/* ---- nets ---- */

/* net calibrated on one batch, saved and loaded */
static sc_model *calibrated_model(sc_net *net, const tu_batch *cal,
                                  const char *name)
{
    TU_OK(sc_net_calibrate(net, cal->x));
    int64_t images = 0;
    TU_OK(sc_net_calibrated(net, &images));
    ck_assert_int_eq(images, cal->n);
    char *path = tu_path(name);
    sc_model_info info = SC_MODEL_INFO_INIT;
    TU_OK(sc_net_save(net, path, &info));
    ck_assert_int_eq(info.calibrated_images, cal->n);
    sc_model *m;
    TU_OK(sc_model_load(&m, path));
    return m;
}

static float *model_out_as(sc_model *m, const tu_batch *b, int inference)
{
    TU_OK(sc_model_set_param(m, SC_PARAM_INFERENCE, inference));
    return tu_model_out(m, b);
}

/* The largest |int8 - fp32| over the largest |fp32| logit, and how many
 * samples agree on the class. */
static double rel_error(const float *a, const float *b, int n, int k,
                        int *agree)
{
    double err = 0.0, mx = 0.0;
    *agree = 0;
    for (int i = 0; i < n; i++) {
        int ia = 0, ib = 0;
        for (int j = 0; j < k; j++) {
            err = fmax(err, fabs((double)a[i * k + j] - b[i * k + j]));
            mx = fmax(mx, fabs((double)b[i * k + j]));
            ia = a[i * k + j] > a[i * k + ia] ? j : ia;
            ib = b[i * k + j] > b[i * k + ib] ? j : ib;
        }
        *agree += ia == ib;
    }
    return err / mx;
}

/* int8 against fp32 on batch b, and the same bits from every kernel, from
 * 2 threads and (without batch statistics) one sample at a time */
static void check_model(sc_model *m, const tu_batch *b, double tol,
                        int per_sample, const char *what)
{
    int k = sc_model_output_size(m);
    float *f = model_out_as(m, b, SC_INFERENCE_FP32);
    float *q = model_out_as(m, b, SC_INFERENCE_INT8);
    int agree;
    double e = rel_error(q, f, b->n, k, &agree);
    ck_assert_msg(e <= tol, "%s: int8 logits %.4f of the largest away (%d "
                  "of %d classes agree)", what, e, agree, b->n);
    ck_assert_msg(agree >= (b->n * 3 + 3) / 4, "%s: %d of %d classes agree",
                  what, agree, b->n);
    size_t bytes = (size_t)b->n * (size_t)k * sizeof(float);
    const sc_qkernel *ks[4];
    int nk = sc_qkernel_all(ks, 4);
    for (int i = 0; i < nk; i++) {
        TU_OK(sc_model_prepare_int8(m, ks[i], "test"));
        float *o = tu_model_out(m, b);
        ck_assert_msg(memcmp(o, q, bytes) == 0, "%s: kernel %s differs", what,
                      ks[i]->name);
        free(o);
    }
    TU_OK(sc_model_set_threads(m, 2));
    float *o = tu_model_out(m, b);
    ck_assert_msg(memcmp(o, q, bytes) == 0, "%s: 2 threads differ", what);
    free(o);
    TU_OK(sc_model_set_threads(m, 1));
    if (per_sample) {
        tu_batch one = tu_batch_make(1, b->c, b->h, b->w, 0, 1);
        for (int i = 0; i < b->n; i++) {
            memcpy(one.data, b->data + (size_t)i * b->c * b->h * b->w,
                   (size_t)b->c * b->h * b->w * sizeof(float));
            o = tu_model_out(m, &one);
            ck_assert_msg(memcmp(o, q + (size_t)i * k, (size_t)k * sizeof(float)) == 0,
                          "%s: sample %d alone differs", what, i);
            free(o);
        }
        tu_batch_free(&one);
    }
    sc_model_info info = SC_MODEL_INFO_INIT;
    TU_OK(sc_model_get_info(m, &info));
    ck_assert_int_gt(info.int8_bytes, 0);
    free(f);
    free(q);
}

static const char *NETS[] = {"mlp", "tinynet", "cnn", "dscnn", "seq1d"};

/* Every benchmark net, quantised at 2 to 8 bits, a quarter of its channels
 * compressed away (folded constants included), calibrated on a random
 * batch: int8 within 10% of the largest logit of fp32 (a wrong scale or
 * sign gives errors of the logits' own size). */
START_TEST(t_bench_nets)
{
    const char *name = NETS[_i];
    /* under valgrind (50 times slower) fewer images, and only the nets of
     * about a million multiply-adds per image or fewer (mlp, seq1d: 3.7
     * minutes in all at a081d9b); the others' would take most of an hour */
    int slow = UNDER_VALGRIND();
    if (slow && strcmp(name, "mlp") != 0 && strcmp(name, "seq1d") != 0)
        return;
    tu_make_tmpdir("sc_test_int8");
    sc_net *net;
    TU_OK(nets_build(name, &net, NULL));
    TU_OK(sc_net_init(net, 5));
    tu_random_bn(net, 6);
    TU_OK(sc_net_quantize(net, SC_ALL_LAYERS));
    tu_lcg r;
    tu_lcg_seed(&r, 7);
    for (int id = 1; id < sc_net_layer_count(net); id++) {
        if (!sc_net_is_quantized(net, id))
            continue;
        int c;
        TU_OK(sc_net_layer_shape(net, id, &c, NULL, NULL));
        float *b = malloc((size_t)c * sizeof *b);
        for (int o = 0; o < c; o++)
            b[o] = (float)(2 + tu_lcg_int(&r, 7));
        TU_OK(sc_net_set_quant(net, id, b, NULL, (size_t)c));
        free(b);
    }
    tu_kill_and_compress(net);
    tu_settle_bn(net);
    int c, h, w;
    nets_input_shape(name, &c, &h, &w);
    tu_batch cal = tu_batch_make(slow ? 8 : 32, c, h, w, 0, 8);
    tu_batch test = tu_batch_make(slow ? 4 : 24, c, h, w, 0, 9);
    sc_model *m = calibrated_model(net, &cal, "bench.scm");
    double v;
    TU_OK(sc_model_get_param(m, SC_PARAM_INFERENCE, &v));
    ck_assert(v == SC_INFERENCE_INT8); /* a calibrated file's default */
    /* tinynet's norms use the batch's statistics, after a relu: they divide
     * by the spread of channels that are near 0 on random data, a few of
     * the input's steps, and so scale its rounding up (measured: 0.14) */
    int tiny = strcmp(name, "tinynet") == 0;
    check_model(m, &test, tiny ? 0.20 : 0.10, !tiny, name);
    sc_model_free(m);
    sc_net_free(net);
    tu_batch_free(&cal);
    tu_batch_free(&test);
    tu_remove_tmpdir();
}
END_TEST

/* The other layer kinds: a standalone norm, every activation, the pools,
 * concat, add, dropout, a conv and a dense in float (not quantised). */
START_TEST(t_other_kinds)
{
    tu_make_tmpdir("sc_test_int8");
    sc_net *net;
    TU_OK(sc_net_create(&net, 3, 12, 12));
    int x = SC_INPUT, a, b, id;
    TU_OK(sc_net_conv2d(net, x, 8, 3, 3, 1, 1, SC_BIAS, &a));
    TU_OK(sc_net_batchnorm(net, a, SC_BN_AFFINE, &a));
    sc_layer_desc d = SC_LAYER_DESC_INIT(SC_LAYER_LEAKY_RELU);
    d.alpha = 0.1f;
    TU_OK(sc_net_add_layer(net, &d, &a, 1, &a));
    TU_OK(sc_net_conv2d(net, x, 8, 1, 1, 1, 0, 0, &b)); /* float weights */
    d = (sc_layer_desc)SC_LAYER_DESC_INIT(SC_LAYER_SIGMOID);
    TU_OK(sc_net_add_layer(net, &d, &b, 1, &b));
    int ab[2] = {a, b};
    TU_OK(sc_net_add(net, a, b, &id));
    d = (sc_layer_desc)SC_LAYER_DESC_INIT(SC_LAYER_CONCAT);
    ab[1] = id;
    TU_OK(sc_net_add_layer(net, &d, ab, 2, &id));
    d = (sc_layer_desc)SC_LAYER_DESC_INIT(SC_LAYER_TANH);
    TU_OK(sc_net_add_layer(net, &d, &id, 1, &id));
    d = (sc_layer_desc)SC_LAYER_DESC_INIT(SC_LAYER_AVGPOOL);
    d.kernel_h = d.kernel_w = 3;
    d.stride_h = d.stride_w = 2;
    d.pad_h = d.pad_w = 1;
    TU_OK(sc_net_add_layer(net, &d, &id, 1, &id));
    TU_OK(sc_net_conv2d(net, id, 12, 3, 3, 1, 1, 0, &id));
    d = (sc_layer_desc)SC_LAYER_DESC_INIT(SC_LAYER_HARDSWISH);
    TU_OK(sc_net_add_layer(net, &d, &id, 1, &id));
    TU_OK(sc_net_maxpool(net, id, 2, 2, &id));
    d = (sc_layer_desc)SC_LAYER_DESC_INIT(SC_LAYER_RELU6);
    TU_OK(sc_net_add_layer(net, &d, &id, 1, &id));
    d = (sc_layer_desc)SC_LAYER_DESC_INIT(SC_LAYER_DROPOUT);
    d.alpha = 0.2f;
    TU_OK(sc_net_add_layer(net, &d, &id, 1, &id));
    d = (sc_layer_desc)SC_LAYER_DESC_INIT(SC_LAYER_GMAXPOOL);
    TU_OK(sc_net_add_layer(net, &d, &id, 1, &id));
    TU_OK(sc_net_flatten(net, id, &id));
    TU_OK(sc_net_dense(net, id, 6, SC_BIAS, &id));
    TU_OK(sc_net_init(net, 3));
    tu_random_bn(net, 4);
    TU_OK(sc_net_quantize(net, 1));
    tu_batch cal = tu_batch_make(32, 3, 12, 12, 0, 5);
    tu_batch test = tu_batch_make(16, 3, 12, 12, 0, 6);
    sc_model *m = calibrated_model(net, &cal, "kinds.scm");
    check_model(m, &test, 0.10, 1, "other kinds");
    sc_model_free(m);
    sc_net_free(net);
    tu_batch_free(&cal);
    tu_batch_free(&test);
    tu_remove_tmpdir();
}
END_TEST

/* ---- the API and its traps ---- */

static sc_net *small_net(void)
{
    sc_net *net;
    TU_OK(sc_net_create(&net, 1, 6, 6));
    int id;
    TU_OK(sc_net_conv2d(net, SC_INPUT, 4, 3, 3, 1, 1, SC_BIAS, &id));
    TU_OK(sc_net_relu(net, id, &id));
    TU_OK(sc_net_flatten(net, id, &id));
    TU_OK(sc_net_dense(net, id, 3, SC_BIAS, &id));
    TU_OK(sc_net_init(net, 1));
    TU_OK(sc_net_quantize(net, SC_ALL_LAYERS));
    return net;
}

START_TEST(t_calibrate_api)
{
    tu_make_tmpdir("sc_test_int8");
    sc_net *net = small_net();
    tu_batch b = tu_batch_make(4, 1, 6, 6, 3, 2);
    int64_t images = -1;
    TU_OK(sc_net_calibrated(net, &images));
    ck_assert_int_eq(images, 0);
    ck_assert_int_eq(sc_net_calibrate(NULL, b.x), SC_ERR_NULL);
    ck_assert_int_eq(sc_net_calibrate(net, NULL), SC_ERR_NULL);
    ck_assert_int_eq(sc_net_calibrated(net, NULL), SC_ERR_NULL);
    tu_batch bad = tu_batch_make(2, 1, 5, 6, 0, 2);
    ck_assert_int_eq(sc_net_calibrate(net, bad.x), SC_ERR_SHAPE);
    b.data[3] = NAN;
    ck_assert_int_ne(sc_net_calibrate(net, b.x), SC_OK);
    TU_OK(sc_net_calibrated(net, &images));
    ck_assert_int_eq(images, 0); /* nothing kept */
    b.data[3] = 0.5f;
    TU_OK(sc_net_calibrate(net, b.x));
    TU_OK(sc_net_calibrate(net, b.x));
    TU_OK(sc_net_calibrated(net, &images));
    ck_assert_int_eq(images, 8);
    /* a train step changes the weights: the ranges go */
    sc_optimizer *opt;
    TU_OK(sc_optimizer_create(&opt, net, SC_OPT_ADAM));
    TU_OK(sc_net_train_step(net, opt, b.x, b.labels, NULL));
    TU_OK(sc_net_calibrated(net, &images));
    ck_assert_int_eq(images, 0);
    TU_OK(sc_net_calibrate(net, b.x));
    size_t np = sc_net_param_count(net);
    float *p = tu_params(net, &np);
    TU_OK(sc_net_set_params(net, p, np));
    TU_OK(sc_net_calibrated(net, &images));
    ck_assert_int_eq(images, 0);
    free(p);
    /* new bit depths are new weights */
    TU_OK(sc_net_calibrate(net, b.x));
    float bits[3] = {4, 4, 4};
    TU_OK(sc_net_set_quant(net, 4, bits, NULL, 3));
    TU_OK(sc_net_calibrated(net, &images));
    ck_assert_int_eq(images, 0);
    /* uncalibrated: an fp32-only model */
    char *path = tu_path("plain.scm");
    TU_OK(sc_net_save(net, path, NULL));
    sc_model *m;
    TU_OK(sc_model_load(&m, path));
    double v = -1;
    TU_OK(sc_model_get_param(m, SC_PARAM_INFERENCE, &v));
    ck_assert(v == SC_INFERENCE_FP32);
    ck_assert_int_eq(sc_model_set_param(m, SC_PARAM_INFERENCE, SC_INFERENCE_INT8),
                     SC_ERR_STATE);
    ck_assert_int_eq(sc_model_set_param(m, SC_PARAM_INFERENCE, 2), SC_ERR_ARG);
    sc_model_info info = SC_MODEL_INFO_INIT;
    TU_OK(sc_model_get_info(m, &info));
    ck_assert_int_eq(info.calibrated_images, 0);
    ck_assert_int_eq(info.int8_bytes, 0);
    sc_model_free(m);
    ck_assert_int_eq(sc_net_set_param(net, SC_PARAM_INFERENCE, 1), SC_ERR_ARG);
    ck_assert_int_eq(sc_net_get_param(net, SC_PARAM_INFERENCE, &v), SC_ERR_ARG);
    const char *k = sc_int8_kernel();
    ck_assert(strcmp(k, "avx512vnni") == 0 || strcmp(k, "avx2") == 0 ||
              strcmp(k, "generic") == 0);
    sc_optimizer_free(opt);
    sc_net_free(net);
    tu_batch_free(&b);
    tu_batch_free(&bad);
    tu_remove_tmpdir();
}
END_TEST

/* A reduction longer than int8 takes: the model says so and stays fp32. */
START_TEST(t_unsupported)
{
    tu_make_tmpdir("sc_test_int8");
    sc_net *net;
    TU_OK(sc_net_create(&net, 1, 1, SC_Q8_MAX_K + 1));
    int id;
    TU_OK(sc_net_dense(net, SC_INPUT, 2, SC_BIAS, &id));
    TU_OK(sc_net_init(net, 1));
    tu_batch b = tu_batch_make(2, 1, 1, SC_Q8_MAX_K + 1, 0, 3);
    sc_model *m = calibrated_model(net, &b, "long.scm");
    float out[4];
    int64_t os[2] = {2, 2};
    sc_tensor *o;
    TU_OK(sc_tensor_wrap(&o, 2, os, out));
    ck_assert_int_eq(sc_model_forward(m, b.x, o), SC_ERR_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(sc_last_error(), "layer 1 (dense)"));
    double v;
    TU_OK(sc_model_get_param(m, SC_PARAM_INFERENCE, &v));
    ck_assert(v == SC_INFERENCE_FP32);
    TU_OK(sc_model_forward(m, b.x, o));
    sc_tensor_free(o);
    sc_model_free(m);
    sc_net_free(net);
    tu_batch_free(&b);
    tu_remove_tmpdir();
}
END_TEST

/* ---- the file ---- */

START_TEST(t_file_ranges)
{
    tu_make_tmpdir("sc_test_int8");
    sc_net *net = small_net();
    tu_batch b = tu_batch_make(4, 1, 6, 6, 0, 2);
    sc_model *m = calibrated_model(net, &b, "cal.scm");
    sc_model_free(m);
    size_t n;
    unsigned char *good = tu_read_all(tu_path("cal.scm"), &n);
    int nodes = sc_net_layer_count(net);
    size_t ranges = n - 4 - 8 * (size_t)nodes; /* before the CRC */
    unsigned char *d = malloc(n);
    /* lo above hi, NaN, Inf: refused */
    const float bad[3] = {1e9f, NAN, INFINITY};
    for (int i = 0; i < 3; i++) {
        memcpy(d, good, n);
        memcpy(d + ranges + 8 * 2, &bad[i], 4); /* layer 2's lo */
        tu_reseal(d, n);
        ck_assert_int_eq(sc_model_load_memory(&m, d, n), SC_ERR_FORMAT);
    }
    /* truncated: the last range gone */
    memcpy(d, good, n);
    memmove(d + n - 12, d + n - 4, 4);
    tu_reseal(d, n - 8);
    ck_assert_int_eq(sc_model_load_memory(&m, d, n - 8), SC_ERR_FORMAT);
    /* a count of 0 with ranges after it */
    memcpy(d, good, n);
    memset(d + ranges - 8, 0, 8);
    tu_reseal(d, n);
    ck_assert_int_eq(sc_model_load_memory(&m, d, n), SC_ERR_FORMAT);
    TU_OK(sc_model_load_memory(&m, good, n));
    sc_model_free(m);
    free(d);
    free(good);
    sc_net_free(net);
    tu_batch_free(&b);
    tu_remove_tmpdir();
}
END_TEST

/* Files of the versions before the ranges load fp32-only. */
START_TEST(t_old_files)
{
    static const char *files[] = {"golden.scm", "golden_v2.scm"};
    const char *root = getenv("SC_ROOT");
    for (int i = 0; i < 2; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s/tests/data/%s", root && *root ? root : ".",
                 files[i]);
        sc_model *m;
        TU_OK(sc_model_load(&m, path));
        sc_model_info info = SC_MODEL_INFO_INIT;
        TU_OK(sc_model_get_info(m, &info));
        ck_assert_int_eq(info.calibrated_images, 0);
        double v;
        TU_OK(sc_model_get_param(m, SC_PARAM_INFERENCE, &v));
        ck_assert(v == SC_INFERENCE_FP32);
        sc_model_free(m);
    }
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("int8");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, t_floor_shift);
    tcase_add_test(tc, t_requant);
    tcase_add_test(tc, t_tensor_quant);
    tcase_add_loop_test(tc, t_bench_nets, 0, (int)(sizeof NETS / sizeof *NETS));
    tcase_add_test(tc, t_other_kinds);
    tcase_add_test(tc, t_calibrate_api);
    tcase_add_test(tc, t_unsupported);
    tcase_add_test(tc, t_file_ranges);
    tcase_add_test(tc, t_old_files);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tu_run_suite(suite(), CK_ENV); }
