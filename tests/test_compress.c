/* test_compress.c -- sc_net_compress (spec section 3): dead channels go with
 * everything that fed or consumed them, the eval-mode function stays, the
 * optimizer's state follows, and training goes on with smaller tensors. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/net.h"
#include "selfcompress.h"
#include "util/testutil.h"

/* ---- helpers ------------------------------------------------------------ */

/* max |a - b| / max(1, max |a|) */
static double rel_diff(const float *a, const float *b, size_t n)
{
    double d = 0.0, m = 1.0;
    for (size_t i = 0; i < n; i++) {
        d = fmax(d, fabs((double)a[i] - b[i]));
        m = fmax(m, fabs((double)a[i]));
    }
    return d / m;
}

/* The training-mode outputs of batch b (batch norm with batch statistics);
 * the net is left in training mode. */
static float *train_out(sc_net *net, const tu_batch *b)
{
    int k = sc_net_output_size(net);
    int64_t shape[2] = {b->n, k};
    sc_tensor *out;
    TU_OK(sc_tensor_create(&out, 2, shape));
    TU_OK(sc_net_set_training(net, 1));
    TU_OK(sc_net_forward(net, b->x, out));
    float *v = malloc((size_t)b->n * k * sizeof(float));
    ck_assert_ptr_nonnull(v);
    TU_OK(sc_tensor_copy_to(out, v, (size_t)b->n * k));
    sc_tensor_free(out);
    return v;
}

/* Both modes' outputs of batch b kept by a compress: rel_diff of the
 * logits at most tol (float rounding), else the test fails naming what. */
#define MODE_TOL 1e-5
static void check_modes(const float *ev0, const float *tr0, sc_net *net,
                        const tu_batch *b, const char *what)
{
    size_t m = (size_t)b->n * sc_net_output_size(net);
    float *ev1 = tu_eval_out(net, b), *tr1 = train_out(net, b);
    double de = rel_diff(ev0, ev1, m), dt = rel_diff(tr0, tr1, m);
    ck_assert_msg(de <= MODE_TOL, "%s: eval outputs moved by %g", what, de);
    ck_assert_msg(dt <= MODE_TOL, "%s: training outputs moved by %g", what, dt);
    free(ev1);
    free(tr1);
}

/* b = -50 (dead, and far enough below 0 that Adam's leftover momentum cannot
 * bring it back within a test) for the listed channels of layer id. */
static void kill(sc_net *net, int id, const int *ch, int n)
{
    int c;
    TU_OK(sc_net_layer_shape(net, id, &c, NULL, NULL));
    float *b = malloc((size_t)c * sizeof(float));
    ck_assert_ptr_nonnull(b);
    TU_OK(sc_net_get_quant(net, id, b, NULL, (size_t)c));
    for (int i = 0; i < n; i++)
        b[ch[i]] = -50.0f;
    TU_OK(sc_net_set_quant(net, id, b, NULL, (size_t)c));
    free(b);
}

static double train(sc_net *net, sc_optimizer *opt, const tu_batch *b, int steps)
{
    sc_step_stats st = SC_STEP_STATS_INIT;
    for (int i = 0; i < steps; i++)
        TU_OK(sc_net_train_step(net, opt, b->x, b->labels, &st));
    return st.loss;
}

static int chans(const sc_net *net, int id)
{
    int c;
    TU_OK(sc_net_layer_shape(net, id, &c, NULL, NULL));
    return c;
}

/* Trainable floats of a dense/conv layer: weights, bias, b and e. */
static size_t layer_params(size_t cout, size_t fan_in, int bias, int quant)
{
    return cout * fan_in + (bias ? cout : 0) + (quant ? 2 * cout : 0);
}

/* Sets batch norm id's beta[c] (the library's internals: the test needs a
 * shift that training alone would leave near zero). */
static void set_beta(sc_net *net, int id, int c, float v)
{
    sc_node *nd = &net->nodes[id];
    ck_assert_int_eq(nd->kind, SC_LAYER_BATCHNORM);
    sc_node_param(net, nd, P_BETA)[c] = v;
}

/* Sets dense/conv id's bias[c]. */
static void set_bias(sc_net *net, int id, int c, float v)
{
    sc_node *nd = &net->nodes[id];
    ck_assert_ptr_nonnull(sc_node_param(net, nd, P_B));
    sc_node_param(net, nd, P_B)[c] = v;
}

/* ---- conv + BN + relu + maxpool + flatten + dense ---------------------- */

/* ids of the net below */
enum { C1 = 1, BN1, R1, C2, BN2, R2, MP, FL, D1, R3, D2 };

static sc_net *conv_net(uint64_t seed)
{
    sc_net *net;
    int id;
    TU_OK(sc_net_create(&net, 2, 8, 8));
    TU_OK(sc_net_conv2d(net, SC_INPUT, 6, 3, 3, 1, 1, SC_BIAS, &id));
    ck_assert_int_eq(id, C1);
    TU_OK(sc_net_batchnorm(net, id, SC_BN_AFFINE, &id));
    TU_OK(sc_net_relu(net, id, &id));
    TU_OK(sc_net_conv2d(net, id, 5, 3, 3, 1, 1, SC_NO_BIAS, &id));
    ck_assert_int_eq(id, C2);
    TU_OK(sc_net_batchnorm(net, id, SC_BN_AFFINE, &id));
    TU_OK(sc_net_relu(net, id, &id));
    TU_OK(sc_net_maxpool(net, id, 2, 2, &id));
    TU_OK(sc_net_flatten(net, id, &id));
    TU_OK(sc_net_dense(net, id, 7, SC_BIAS, &id));
    ck_assert_int_eq(id, D1);
    TU_OK(sc_net_relu(net, id, &id));
    TU_OK(sc_net_dense(net, id, 4, SC_NO_BIAS, &id));
    ck_assert_int_eq(id, D2);
    TU_OK(sc_net_init(net, seed));
    TU_OK(sc_net_quantize(net, SC_ALL_LAYERS));
    return net;
}

START_TEST(test_conv_bn_flatten_dense_function_kept)
{
    sc_net *net = conv_net(7);
    sc_optimizer *opt;
    TU_OK(sc_optimizer_create(&opt, net, SC_OPT_ADAM));
    tu_batch tb = tu_batch_make(32, 2, 8, 8, 4, 11), eb = tu_batch_make(16, 2, 8, 8, 4, 12);
    train(net, opt, &tb, 8); /* running statistics and params move */

    /* dead channels: conv1 {1,4} feed BN1 (non-zero shift) then the padded
     * conv2; conv2 {2} feeds BN2, maxpool and flatten into dense1 (16
     * features each); dense1 {0,3} feed the bias-less last layer; the last
     * layer's channel 1 is dead but stays */
    set_beta(net, BN1, 1, 0.75f);
    set_beta(net, BN1, 4, -0.2f);
    set_beta(net, BN1, 0, 0.3f);
    set_beta(net, BN2, 2, 0.6f);
    set_bias(net, D1, 0, 0.5f); /* relu(0.5) reaches the last layer */
    kill(net, C1, (int[]){1, 4}, 2);
    kill(net, C2, (int[]){2}, 1);
    kill(net, D1, (int[]){0, 3}, 2);
    kill(net, D2, (int[]){1}, 1);
    tu_settle_bn(net);
    float *before = tu_eval_out(net, &eb);

    /* the dead channels' constants matter: a naive removal would show */
    set_beta(net, BN1, 1, 1.75f);
    float *moved = tu_eval_out(net, &eb);
    ck_assert_msg(rel_diff(before, moved, 64) > 1e-3,
                  "the test net does not see its dead channels' constants");
    set_beta(net, BN1, 1, 0.75f);
    free(moved);
    float *tbefore = train_out(net, &eb);

    sc_size_report r0 = SC_SIZE_REPORT_INIT, r1 = SC_SIZE_REPORT_INIT;
    TU_OK(sc_net_size_report(net, SC_ALL_LAYERS, &r0));
    size_t np0 = sc_net_param_count(net);
    int removed = -1;
    TU_OK(sc_net_compress(net, &removed));
    ck_assert_int_eq(removed, 5);

    ck_assert_int_eq(chans(net, C1), 4);
    ck_assert_int_eq(chans(net, BN1), 4);
    ck_assert_int_eq(chans(net, R1), 4);
    ck_assert_int_eq(chans(net, C2), 4);
    ck_assert_int_eq(chans(net, MP), 4);
    ck_assert_int_eq(chans(net, FL), 4 * 4 * 4);
    ck_assert_int_eq(chans(net, D1), 5);
    ck_assert_int_eq(chans(net, D2), 4); /* logits keep their count */
    ck_assert_int_eq(sc_net_output_size(net), 4);

    size_t before_n = layer_params(6, 2 * 9, 1, 1) + 2 * 6 +
                      layer_params(5, 6 * 9, 0, 1) + 2 * 5 +
                      layer_params(7, 5 * 16, 1, 1) + layer_params(4, 7, 0, 1);
    size_t after_n = layer_params(4, 2 * 9, 1, 1) + 2 * 4 +
                     layer_params(4, 4 * 9, 0, 1) + 2 * 4 +
                     layer_params(5, 4 * 16, 1, 1) + layer_params(4, 5, 0, 1);
    ck_assert_uint_eq(np0, before_n);
    ck_assert_uint_eq(sc_net_param_count(net), after_n);

    check_modes(before, tbefore, net, &eb, "1st compress");
    /* the padded conv2 and the bias-less last layer got constant maps */
    ck_assert_ptr_nonnull(net->nodes[C2].cbias);
    ck_assert_ptr_nonnull(net->nodes[D2].cbias);
    ck_assert_ptr_null(net->nodes[D1].cbias); /* its fold is uniform: bias */
    for (int i = 1; i < net->n_nodes; i++) /* one map serves both modes */
        ck_assert_ptr_null(net->nodes[i].tbias);

    /* N0 is the construction-time count; the live figures stay */
    TU_OK(sc_net_size_report(net, SC_ALL_LAYERS, &r1));
    ck_assert_int_eq(r1.weights0, r0.weights0);
    ck_assert_int_eq(r1.weights, r0.weights);
    ck_assert_double_eq_tol(r1.size_loss, r0.size_loss, 1e-12);
    /* fp32 overhead: minus conv1's 2 x (bias, b, e), BN1's 2 x (g, beta,
     * mean, var), conv2's (b, e), BN2's 4 and dense1's 2 x (bias, b, e);
     * plus the constant maps: conv2 4 x 8 x 8, dense2 4 */
    ck_assert_int_eq(r1.overhead_floats,
                     r0.overhead_floats - (6 + 8 + 2 + 4 + 6) + (256 + 4));

    /* training goes on with the smaller tensors, then compress again:
     * conv2 (which has a cbias now) loses channel 0 and conv1 channel 2 */
    double l = train(net, opt, &tb, 3);
    ck_assert(isfinite(l));
    kill(net, C1, (int[]){2}, 1);
    kill(net, C2, (int[]){0}, 1);
    free(before);
    free(tbefore);
    tu_settle_bn(net);
    before = tu_eval_out(net, &eb);
    tbefore = train_out(net, &eb);
    TU_OK(sc_net_compress(net, &removed));
    ck_assert_int_eq(removed, 2);
    ck_assert_int_eq(chans(net, C1), 3);
    ck_assert_int_eq(chans(net, C2), 3);
    ck_assert_int_eq(chans(net, FL), 3 * 16);
    check_modes(before, tbefore, net, &eb, "2nd compress");

    free(before);
    free(tbefore);
    tu_batch_free(&tb);
    tu_batch_free(&eb);
    sc_optimizer_free(opt);
    sc_net_free(net);
}
END_TEST

/* ---- activations -------------------------------------------------------- */

/* Each activation kind (its alpha), and the biases that make its dead
 * channels' constants: conv1's channels 1 and 4 and conv2's channel 2,
 * each a non-zero constant through the activation. */
static const struct act_case {
    sc_layer_kind kind;
    float alpha;
    float b1[2], b2;
    const char *name;
} act_cases[] = {
    {SC_LAYER_LEAKY_RELU, 0.1f, {-0.8f, 0.6f}, -0.5f, "leaky relu"},
    {SC_LAYER_RELU6, 0.0f, {6.5f, 2.0f}, 0.7f, "relu6"},
    {SC_LAYER_SIGMOID, 0.0f, {0.3f, -1.5f}, 0.0f, "sigmoid"},
    {SC_LAYER_TANH, 0.0f, {0.5f, -0.9f}, 0.4f, "tanh"},
    {SC_LAYER_HARDSWISH, 0.0f, {-1.2f, 3.5f}, 0.8f, "hardswish"},
};

START_TEST(test_activation_function_kept)
{
    /* conv1 -> act -> padded conv2 -> act -> flatten -> dense: conv1's
     * dead channels reach conv2 (its constant map: the padding) through
     * the activation, conv2's the dense (its bias) */
    const struct act_case *ac = &act_cases[_i];
    sc_layer_desc d = SC_LAYER_DESC_INIT(ac->kind);
    d.alpha = ac->alpha;
    sc_net *net;
    int c1, a1, c2, a2, fl, out;
    TU_OK(sc_net_create(&net, 2, 6, 6));
    TU_OK(sc_net_conv2d(net, SC_INPUT, 6, 3, 3, 1, 1, SC_BIAS, &c1));
    TU_OK(sc_net_add_layer(net, &d, &c1, 1, &a1));
    TU_OK(sc_net_conv2d(net, a1, 5, 3, 3, 1, 1, SC_BIAS, &c2));
    TU_OK(sc_net_add_layer(net, &d, &c2, 1, &a2));
    TU_OK(sc_net_flatten(net, a2, &fl));
    TU_OK(sc_net_dense(net, fl, 4, SC_BIAS, &out));
    TU_OK(sc_net_init(net, 21 + (uint64_t)_i));
    TU_OK(sc_net_quantize(net, SC_ALL_LAYERS));
    sc_optimizer *opt;
    TU_OK(sc_optimizer_create(&opt, net, SC_OPT_ADAM));
    tu_batch tb = tu_batch_make(16, 2, 6, 6, 4, 41), eb = tu_batch_make(8, 2, 6, 6, 4, 42);
    train(net, opt, &tb, 4);
    set_bias(net, c1, 1, ac->b1[0]);
    set_bias(net, c1, 4, ac->b1[1]);
    set_bias(net, c2, 2, ac->b2);
    kill(net, c1, (int[]){1, 4}, 2);
    kill(net, c2, (int[]){2}, 1);
    tu_settle_bn(net);
    float *before = tu_eval_out(net, &eb);

    /* the dead channels' constants matter: a naive removal would show */
    set_bias(net, c1, 1, ac->b1[0] - 1.0f);
    float *moved = tu_eval_out(net, &eb);
    ck_assert_msg(rel_diff(before, moved, 32) > 1e-3,
                  "%s: the test net does not see its dead channels' "
                  "constants", ac->name);
    set_bias(net, c1, 1, ac->b1[0]);
    free(moved);
    float *tbefore = train_out(net, &eb);

    int removed = -1;
    TU_OK(sc_net_compress(net, &removed));
    ck_assert_int_eq(removed, 3);
    ck_assert_int_eq(chans(net, c1), 4);
    ck_assert_int_eq(chans(net, a1), 4);
    ck_assert_int_eq(chans(net, c2), 4);
    ck_assert_int_eq(chans(net, a2), 4);
    ck_assert_int_eq(chans(net, fl), 4 * 36);
    ck_assert_ptr_nonnull(net->nodes[c2].cbias); /* padded: a map */
    check_modes(before, tbefore, net, &eb, ac->name);
    /* and training goes on */
    ck_assert(isfinite(train(net, opt, &tb, 2)));

    free(before);
    free(tbefore);
    tu_batch_free(&tb);
    tu_batch_free(&eb);
    sc_optimizer_free(opt);
    sc_net_free(net);
}
END_TEST

/* ---- residual add ------------------------------------------------------ */

START_TEST(test_residual_add)
{
    sc_net *net;
    int c1, r1, c2, b2, c3, add, r3, gp, out;
    TU_OK(sc_net_create(&net, 3, 6, 6));
    TU_OK(sc_net_conv2d(net, SC_INPUT, 4, 3, 3, 1, 1, SC_BIAS, &c1));
    TU_OK(sc_net_relu(net, c1, &r1));
    TU_OK(sc_net_conv2d(net, r1, 4, 3, 3, 1, 1, SC_BIAS, &c2));
    TU_OK(sc_net_batchnorm(net, c2, SC_BN_AFFINE, &b2));
    TU_OK(sc_net_conv2d(net, SC_INPUT, 4, 1, 1, 1, 0, SC_BIAS, &c3));
    TU_OK(sc_net_add(net, c3, b2, &add));
    TU_OK(sc_net_relu(net, add, &r3));
    TU_OK(sc_net_global_avgpool(net, r3, &gp));
    TU_OK(sc_net_dense(net, gp, 3, SC_BIAS, &out));
    TU_OK(sc_net_init(net, 3));
    TU_OK(sc_net_quantize(net, SC_ALL_LAYERS));
    sc_optimizer *opt;
    TU_OK(sc_optimizer_create(&opt, net, SC_OPT_ADAM));
    tu_batch tb = tu_batch_make(16, 3, 6, 6, 3, 21), eb = tu_batch_make(8, 3, 6, 6, 3, 22);
    train(net, opt, &tb, 6);
    set_beta(net, b2, 1, 0.4f);
    set_beta(net, b2, 0, -0.3f);

    /* channel 1 is dead in both branches of the sum: it goes; channel 0
     * only in conv2's and channel 2 only in conv3's: they stay */
    kill(net, c2, (int[]){0, 1}, 2);
    kill(net, c3, (int[]){1, 2}, 2);
    kill(net, c1, (int[]){3}, 1);
    tu_settle_bn(net);
    float *before = tu_eval_out(net, &eb), *tbefore = train_out(net, &eb);
    size_t np0 = sc_net_param_count(net);
    int removed = -1;
    TU_OK(sc_net_compress(net, &removed));
    ck_assert_int_eq(removed, 3);
    ck_assert_int_eq(chans(net, c1), 3);
    ck_assert_int_eq(chans(net, c2), 3);
    ck_assert_int_eq(chans(net, b2), 3);
    ck_assert_int_eq(chans(net, c3), 3);
    ck_assert_int_eq(chans(net, add), 3);
    ck_assert_int_eq(chans(net, gp), 3);
    /* c1: 1 x (3*9 + bias + b + e); c2: 4 rows x 9 of c1's channel, then
     * its own row 1 (3 live columns x 9) with bias, b, e and BN g, beta;
     * c3: 1 x (3 + bias + b + e); dense: 3 columns */
    size_t gone = (27 + 3) + (4 * 9 + 3 * 9 + 3 + 2) + (3 + 3) + 3;
    ck_assert_uint_eq(np0 - sc_net_param_count(net), gone);
    check_modes(before, tbefore, net, &eb, "residual add");

    /* the kept half-dead channels: b stays <= 0, now at index 0 and 1 */
    float b[3];
    TU_OK(sc_net_get_quant(net, c2, b, NULL, 3));
    ck_assert_float_eq(b[0], -50.0f);
    ck_assert(b[1] > 0.0f && b[2] > 0.0f);
    TU_OK(sc_net_get_quant(net, c3, b, NULL, 3));
    ck_assert(b[0] > 0.0f);
    ck_assert_float_eq(b[1], -50.0f);
    ck_assert(isfinite(train(net, opt, &tb, 2)));

    free(before);
    free(tbefore);
    tu_batch_free(&tb);
    tu_batch_free(&eb);
    sc_optimizer_free(opt);
    sc_net_free(net);
}
END_TEST

/* ---- depthwise convolutions -------------------------------------------- */

/* A conv layer with groups through the one builder. */
static int grouped(sc_net *net, int in, int c, int k, int stride, int pad,
                   int groups)
{
    sc_layer_desc d = SC_LAYER_DESC_INIT(SC_LAYER_CONV2D);
    d.channels = c;
    d.kernel_h = d.kernel_w = k;
    d.stride_h = d.stride_w = stride;
    d.pad_h = d.pad_w = pad;
    d.groups = groups;
    d.flags = SC_BIAS;
    int id;
    TU_OK(sc_net_add_layer(net, &d, &in, 1, &id));
    return id;
}

/* pointwise 6 -> BN -> relu -> depthwise 3x3 (x mult) -> BN -> relu ->
 * pointwise 5 -> global avg pool -> dense 3; ids below */
enum { DW_PW1 = 1, DW_BN1, DW_R1, DW_DW, DW_BN2, DW_R2, DW_PW2, DW_GP, DW_D };

static sc_net *dw_net(int mult, int stride, uint64_t seed)
{
    sc_net *net;
    int id;
    TU_OK(sc_net_create(&net, 3, 7, 7));
    TU_OK(sc_net_conv2d(net, SC_INPUT, 6, 1, 1, 1, 0, SC_BIAS, &id));
    TU_OK(sc_net_batchnorm(net, id, SC_BN_AFFINE, &id));
    TU_OK(sc_net_relu(net, id, &id));
    id = grouped(net, id, 6 * mult, 3, stride, 1, 6);
    ck_assert_int_eq(id, DW_DW);
    TU_OK(sc_net_batchnorm(net, id, SC_BN_AFFINE, &id));
    TU_OK(sc_net_relu(net, id, &id));
    TU_OK(sc_net_conv2d(net, id, 5, 1, 1, 1, 0, SC_BIAS, &id));
    TU_OK(sc_net_global_avgpool(net, id, &id));
    TU_OK(sc_net_dense(net, id, 3, SC_BIAS, &id));
    ck_assert_int_eq(id, DW_D);
    TU_OK(sc_net_init(net, seed));
    TU_OK(sc_net_quantize(net, SC_ALL_LAYERS));
    return net;
}

/* A depthwise channel that dies takes its input channel with it, through
 * the batch norm and relu before it, back to the pointwise conv that
 * computes it; a pointwise channel that dies takes its depthwise group
 * (whose outputs are then constant: folded on, with the batch norm's
 * shift). Groups stay whole: with a multiplier of 2, a group goes only
 * when both of its outputs are dead. The function is kept in both modes. */
START_TEST(test_depthwise_channels_go)
{
    for (int mult = 1; mult <= 2; mult++) {
        char what[64];
        snprintf(what, sizeof what, "depthwise x%d", mult);
        sc_net *net = dw_net(mult, mult, 40 + (uint64_t)mult);
        sc_optimizer *opt;
        TU_OK(sc_optimizer_create(&opt, net, SC_OPT_ADAM));
        tu_batch tb = tu_batch_make(16, 3, 7, 7, 3, 41), eb = tu_batch_make(8, 3, 7, 7, 3, 42);
        train(net, opt, &tb, 4);
        set_beta(net, DW_BN1, 2, 0.7f);  /* pointwise channel 2's constant */
        set_beta(net, DW_BN2, 2 * mult, -0.4f);
        set_beta(net, DW_BN2, 3 * mult, 0.9f);
        kill(net, DW_PW1, (int[]){2}, 1);
        /* group 3 dies whole; group 4 only half (with mult 2: it stays) */
        int dead[3] = {3 * mult, 3 * mult + mult - 1, 4 * mult};
        kill(net, DW_DW, dead, mult == 1 ? 1 : 3);
        tu_settle_bn(net);
        float *before = tu_eval_out(net, &eb), *tbefore = train_out(net, &eb);
        int removed = -1;
        TU_OK(sc_net_compress(net, &removed));
        /* pointwise: 2 (dead) and 3 (not needed); depthwise: groups 2 and 3 */
        ck_assert_int_eq(chans(net, DW_PW1), 4);
        ck_assert_int_eq(chans(net, DW_BN1), 4);
        ck_assert_int_eq(chans(net, DW_DW), 4 * mult);
        ck_assert_int_eq(net->nodes[DW_DW].groups, 4);
        ck_assert_int_eq(removed, 2 + 2 * mult);
        check_modes(before, tbefore, net, &eb, what);
        /* a half-dead group keeps its dead output, b still <= 0 */
        if (mult == 2) {
            float b[8];
            TU_OK(sc_net_get_quant(net, DW_DW, b, NULL, 8));
            ck_assert_float_eq(b[4], -50.0f); /* old output 8 */
            ck_assert(b[5] > 0.0f);
        }
        ck_assert(isfinite(train(net, opt, &tb, 2)));
        /* and it saves and loads to the same function */
        sc_model *m;
        tu_make_tmpdir("sc_compress");
        TU_OK(sc_net_save(net, tu_path("dw.scm"), NULL));
        TU_OK(sc_model_load(&m, tu_path("dw.scm")));
        float *ev = tu_eval_out(net, &eb);
        float *mv = tu_model_out(m, &eb);
        ck_assert(rel_diff(ev, mv, (size_t)eb.n * 3) <= MODE_TOL);
        free(ev);
        free(mv);
        sc_model_free(m);
        tu_remove_tmpdir();
        free(before);
        free(tbefore);
        tu_batch_free(&tb);
        tu_batch_free(&eb);
        sc_optimizer_free(opt);
        sc_net_free(net);
    }
}
END_TEST

/* Concat where one input's channels die: they go from the concat too, and
 * the conv after it folds their constants (non-zero through the batch
 * norm's shift); the other input's dead channel goes as well. */
START_TEST(test_concat_channels_go)
{
    sc_net *net;
    int c1, b1, c2, cat, c3, id;
    TU_OK(sc_net_create(&net, 2, 6, 6));
    TU_OK(sc_net_conv2d(net, SC_INPUT, 4, 3, 3, 1, 1, SC_BIAS, &c1));
    TU_OK(sc_net_batchnorm(net, c1, SC_BN_AFFINE, &b1));
    TU_OK(sc_net_conv2d(net, SC_INPUT, 3, 1, 1, 1, 0, SC_BIAS, &c2));
    sc_layer_desc d = SC_LAYER_DESC_INIT(SC_LAYER_CONCAT);
    int ins[3] = {b1, c2, b1};
    TU_OK(sc_net_add_layer(net, &d, ins, 3, &cat));
    TU_OK(sc_net_conv2d(net, cat, 5, 3, 3, 1, 1, SC_BIAS, &c3));
    TU_OK(sc_net_relu(net, c3, &id));
    TU_OK(sc_net_global_avgpool(net, id, &id));
    TU_OK(sc_net_dense(net, id, 3, SC_BIAS, &id));
    TU_OK(sc_net_init(net, 12));
    TU_OK(sc_net_quantize(net, SC_ALL_LAYERS));
    sc_optimizer *opt;
    TU_OK(sc_optimizer_create(&opt, net, SC_OPT_ADAM));
    tu_batch tb = tu_batch_make(16, 2, 6, 6, 3, 13), eb = tu_batch_make(8, 2, 6, 6, 3, 14);
    train(net, opt, &tb, 4);
    set_beta(net, b1, 1, 0.8f);
    kill(net, c1, (int[]){1, 3}, 2);
    kill(net, c2, (int[]){0}, 1);
    tu_settle_bn(net);
    float *before = tu_eval_out(net, &eb), *tbefore = train_out(net, &eb);
    int removed = -1;
    TU_OK(sc_net_compress(net, &removed));
    ck_assert_int_eq(removed, 3);
    ck_assert_int_eq(chans(net, c1), 2);
    ck_assert_int_eq(chans(net, c2), 2);
    ck_assert_int_eq(chans(net, cat), 2 + 2 + 2);
    check_modes(before, tbefore, net, &eb, "concat");
    ck_assert(isfinite(train(net, opt, &tb, 2)));
    free(before);
    free(tbefore);
    tu_batch_free(&tb);
    tu_batch_free(&eb);
    sc_optimizer_free(opt);
    sc_net_free(net);
}
END_TEST

/* A 1 x k conv of n channels, padded along the width only. */
static int conv1d(sc_net *net, int in, int n, int k)
{
    sc_layer_desc d = SC_LAYER_DESC_INIT(SC_LAYER_CONV2D);
    d.channels = n;
    d.kernel_h = 1;
    d.kernel_w = k;
    d.pad_w = k / 2;
    int id;
    TU_OK(sc_net_add_layer(net, &d, &in, 1, &id));
    return id;
}

/* seq1d's shape (1-D convolutions over 1 x T, a 1 x 2 max pool, a global
 * average pool): dead channels of each conv go, their constants (through
 * the batch norms' shifts) fold on, the height stays 1 and the function is
 * kept in both modes. */
START_TEST(test_seq1d_channels_go)
{
    sc_net *net;
    int id, c1, b1, c2, b2, c3;
    TU_OK(sc_net_create(&net, 6, 1, 12));
    c1 = conv1d(net, SC_INPUT, 8, 5);
    TU_OK(sc_net_batchnorm(net, c1, SC_BN_AFFINE, &b1));
    TU_OK(sc_net_relu(net, b1, &id));
    c2 = conv1d(net, id, 8, 5);
    TU_OK(sc_net_batchnorm(net, c2, SC_BN_AFFINE, &b2));
    TU_OK(sc_net_relu(net, b2, &id));
    sc_layer_desc mp = SC_LAYER_DESC_INIT(SC_LAYER_MAXPOOL);
    mp.kernel_h = 1;
    mp.kernel_w = 2;
    mp.stride_h = 1;
    mp.stride_w = 2;
    TU_OK(sc_net_add_layer(net, &mp, &id, 1, &id));
    c3 = conv1d(net, id, 6, 3);
    TU_OK(sc_net_relu(net, c3, &id));
    TU_OK(sc_net_global_avgpool(net, id, &id));
    TU_OK(sc_net_dense(net, id, 3, SC_BIAS, &id));
    TU_OK(sc_net_init(net, 61));
    TU_OK(sc_net_quantize(net, SC_ALL_LAYERS));
    sc_optimizer *opt;
    TU_OK(sc_optimizer_create(&opt, net, SC_OPT_ADAM));
    tu_batch tb = tu_batch_make(16, 6, 1, 12, 3, 62), eb = tu_batch_make(8, 6, 1, 12, 3, 63);
    train(net, opt, &tb, 4);
    set_beta(net, b1, 2, 0.6f);
    set_beta(net, b2, 5, 1.1f);
    kill(net, c1, (int[]){2, 7}, 2);
    kill(net, c2, (int[]){0, 5}, 2);
    kill(net, c3, (int[]){4}, 1);
    tu_settle_bn(net);
    float *before = tu_eval_out(net, &eb), *tbefore = train_out(net, &eb);
    int removed = -1;
    TU_OK(sc_net_compress(net, &removed));
    ck_assert_int_eq(removed, 5);
    int c, h, w;
    TU_OK(sc_net_layer_shape(net, c3, &c, &h, &w));
    ck_assert(c == 5 && h == 1 && w == 6);
    check_modes(before, tbefore, net, &eb, "seq1d");
    ck_assert(isfinite(train(net, opt, &tb, 2)));
    free(before);
    free(tbefore);
    tu_batch_free(&tb);
    tu_batch_free(&eb);
    sc_optimizer_free(opt);
    sc_net_free(net);
}
END_TEST

/* A grouped conv with two inputs per group keeps all of its channels and
 * its inputs': compress removes nothing through it. */
START_TEST(test_grouped_conv_keeps_channels)
{
    sc_net *net;
    int id, c1;
    TU_OK(sc_net_create(&net, 2, 6, 6));
    TU_OK(sc_net_conv2d(net, SC_INPUT, 4, 3, 3, 1, 1, SC_BIAS, &c1));
    TU_OK(sc_net_relu(net, c1, &id));
    int g = grouped(net, id, 6, 3, 2, 1, 2);
    TU_OK(sc_net_flatten(net, g, &id));
    TU_OK(sc_net_dense(net, id, 3, SC_BIAS, &id));
    TU_OK(sc_net_init(net, 5));
    TU_OK(sc_net_quantize(net, SC_ALL_LAYERS));
    kill(net, c1, (int[]){1}, 1);
    kill(net, g, (int[]){0, 1, 2}, 3); /* group 0 dead whole */
    tu_batch eb = tu_batch_make(8, 2, 6, 6, 3, 7);
    tu_settle_bn(net);
    float *before = tu_eval_out(net, &eb), *tbefore = train_out(net, &eb);
    int removed = -1;
    TU_OK(sc_net_compress(net, &removed));
    ck_assert_int_eq(removed, 0);
    ck_assert_int_eq(chans(net, c1), 4);
    ck_assert_int_eq(chans(net, g), 6);
    check_modes(before, tbefore, net, &eb, "grouped conv");
    free(before);
    free(tbefore);
    tu_batch_free(&eb);
    sc_net_free(net);
}
END_TEST

/* ---- global max pool, dense straight on a conv, unpadded folds ---------- */

START_TEST(test_gmaxpool_and_dense_on_conv)
{
    for (int variant = 0; variant < 2; variant++) {
        sc_net *net;
        int c1, bn, r, c2, r2, head, out;
        TU_OK(sc_net_create(&net, 2, 7, 7));
        TU_OK(sc_net_conv2d(net, SC_INPUT, 5, 3, 3, 1, 0, SC_BIAS, &c1));
        TU_OK(sc_net_batchnorm(net, c1, SC_BN_AFFINE, &bn));
        TU_OK(sc_net_relu(net, bn, &r));
        /* unpadded conv with a bias: uniform constants fold into the bias */
        TU_OK(sc_net_conv2d(net, r, 4, 3, 3, 2, 0, SC_BIAS, &c2));
        TU_OK(sc_net_relu(net, c2, &r2));
        if (variant == 0)
            TU_OK(sc_net_global_maxpool(net, r2, &head));
        else
            head = r2; /* dense reads 4 x 2 x 2 */
        TU_OK(sc_net_dense(net, head, 3, SC_BIAS, &out));
        TU_OK(sc_net_init(net, 5 + (uint64_t)variant));
        TU_OK(sc_net_quantize(net, SC_ALL_LAYERS));
        sc_optimizer *opt;
        TU_OK(sc_optimizer_create(&opt, net, SC_OPT_ADAM));
        tu_batch tb = tu_batch_make(16, 2, 7, 7, 3, 31), eb = tu_batch_make(8, 2, 7, 7, 3, 32);
        train(net, opt, &tb, 5);
        set_beta(net, bn, 2, 0.5f);
        kill(net, c1, (int[]){2}, 1);
        kill(net, c2, (int[]){1, 3}, 2);
        tu_settle_bn(net);
        float *before = tu_eval_out(net, &eb), *tbefore = train_out(net, &eb);
        size_t np0 = sc_net_param_count(net);
        int removed = -1;
        TU_OK(sc_net_compress(net, &removed));
        ck_assert_int_eq(removed, 3);
        ck_assert_int_eq(chans(net, c1), 4);
        ck_assert_int_eq(chans(net, c2), 2);
        ck_assert_int_eq(chans(net, head), variant == 0 ? 2 : 2);
        size_t hw = variant == 0 ? 1 : 4;
        size_t gone = (18 + 3 + 2) + (4 * 9 + 2 * 4 * 9 + 2 * 3) + 3 * 2 * hw;
        ck_assert_uint_eq(np0 - sc_net_param_count(net), gone);
        ck_assert_ptr_null(net->nodes[c2].cbias);  /* folded into the bias */
        ck_assert_ptr_null(net->nodes[out].cbias); /* dense: into the bias */
        check_modes(before, tbefore, net, &eb,
                    variant == 0 ? "global max pool" : "dense on a conv");
        free(before);
        free(tbefore);
        tu_batch_free(&tb);
        tu_batch_free(&eb);
        sc_optimizer_free(opt);
        sc_net_free(net);
    }
}
END_TEST

/* ---- padded pools after a dead channel ---------------------------------- */

/* conv1 - BN - relu - pool 3x3 stride 2 pad 1 - conv2 (unpadded) - relu -
 * flatten - dense, with a dead conv1 channel whose batch-norm shift makes
 * its constant non-zero. _i 0: average pool, padding not counted (the
 * pooled constant stays uniform and folds into conv2's bias); 1: average
 * pool, padding counted (SC_POOL_COUNT_PAD: smaller at the edges, so conv2
 * gets a constant map); 2: max pool (the padding never wins: uniform). */
START_TEST(test_padded_pool_after_dead_channel)
{
    static const char *what[3] = {"avgpool", "avgpool count_pad", "maxpool"};
    sc_net *net;
    int c1, bn, r, pool, c2, r2, fl, out;
    TU_OK(sc_net_create(&net, 2, 8, 8));
    TU_OK(sc_net_conv2d(net, SC_INPUT, 5, 3, 3, 1, 1, SC_BIAS, &c1));
    TU_OK(sc_net_batchnorm(net, c1, SC_BN_AFFINE, &bn));
    TU_OK(sc_net_relu(net, bn, &r));
    sc_layer_desc d = SC_LAYER_DESC_INIT(_i == 2 ? SC_LAYER_MAXPOOL
                                                  : SC_LAYER_AVGPOOL);
    d.kernel_h = d.kernel_w = 3;
    d.stride_h = d.stride_w = 2;
    d.pad_h = d.pad_w = 1;
    d.flags = _i == 1 ? SC_POOL_COUNT_PAD : 0;
    TU_OK(sc_net_add_layer(net, &d, &r, 1, &pool)); /* 5 x 4 x 4 */
    TU_OK(sc_net_conv2d(net, pool, 4, 3, 3, 1, 0, SC_BIAS, &c2));
    TU_OK(sc_net_relu(net, c2, &r2));
    TU_OK(sc_net_flatten(net, r2, &fl));
    TU_OK(sc_net_dense(net, fl, 3, SC_BIAS, &out));
    TU_OK(sc_net_init(net, 41 + (uint64_t)_i));
    TU_OK(sc_net_quantize(net, SC_ALL_LAYERS));
    sc_optimizer *opt;
    TU_OK(sc_optimizer_create(&opt, net, SC_OPT_ADAM));
    tu_batch tb = tu_batch_make(16, 2, 8, 8, 3, 51), eb = tu_batch_make(8, 2, 8, 8, 3, 52);
    train(net, opt, &tb, 5);
    set_beta(net, bn, 2, 2.0f);
    kill(net, c1, (int[]){2}, 1);
    tu_settle_bn(net);
    float *before = tu_eval_out(net, &eb);
    /* the dead channel's constant matters: a naive removal would show */
    set_beta(net, bn, 2, 3.0f);
    float *moved = tu_eval_out(net, &eb);
    ck_assert_msg(rel_diff(before, moved, 8 * 3) > 1e-3,
                  "%s: the test net does not see its dead channel's constant",
                  what[_i]);
    set_beta(net, bn, 2, 2.0f);
    free(moved);
    float *tbefore = train_out(net, &eb);
    int removed = -1;
    TU_OK(sc_net_compress(net, &removed));
    ck_assert_int_eq(removed, 1);
    ck_assert_int_eq(chans(net, c1), 4);
    ck_assert_int_eq(chans(net, pool), 4);
    ck_assert_int_eq(chans(net, c2), 4);
    if (_i == 1)
        ck_assert_ptr_nonnull(net->nodes[c2].cbias);
    else
        ck_assert_ptr_null(net->nodes[c2].cbias);
    check_modes(before, tbefore, net, &eb, what[_i]);
    /* training goes on after it */
    ck_assert(isfinite(train(net, opt, &tb, 2)));
    free(before);
    free(tbefore);
    tu_batch_free(&tb);
    tu_batch_free(&eb);
    sc_optimizer_free(opt);
    sc_net_free(net);
}
END_TEST

/* ---- no-ops and the logits ---------------------------------------------- */

START_TEST(test_nothing_dead_is_a_noop)
{
    sc_net *net = conv_net(9);
    tu_batch eb = tu_batch_make(8, 2, 8, 8, 4, 41);
    tu_settle_bn(net);
    float *before = tu_eval_out(net, &eb);
    size_t n;
    float *p = tu_params(net, &n);
    int removed = -1;
    TU_OK(sc_net_compress(net, &removed));
    ck_assert_int_eq(removed, 0);
    ck_assert_uint_eq(sc_net_param_count(net), n);
    ck_assert(tu_params_equal(net, p, n));
    float *after = tu_eval_out(net, &eb);
    for (int i = 0; i < 8 * 4; i++)
        ck_assert_float_eq(before[i], after[i]);
    TU_OK(sc_net_compress(net, NULL)); /* removed may be NULL */

    /* only the logits' channels are dead: they stay (as zero rows) */
    kill(net, D2, (int[]){0, 2, 3}, 3);
    TU_OK(sc_net_compress(net, &removed));
    ck_assert_int_eq(removed, 0);
    ck_assert_int_eq(chans(net, D2), 4);
    ck_assert_uint_eq(sc_net_param_count(net), n);

    /* a net that is not quantised has nothing to remove either */
    sc_net *plain;
    int id;
    TU_OK(sc_net_create(&plain, 1, 4, 4));
    TU_OK(sc_net_dense(plain, SC_INPUT, 3, SC_BIAS, &id));
    TU_FAILS(sc_net_compress(plain, &removed), SC_ERR_STATE); /* no init */
    TU_OK(sc_net_init(plain, 1));
    TU_OK(sc_net_compress(plain, &removed));
    ck_assert_int_eq(removed, 0);
    TU_FAILS(sc_net_compress(NULL, &removed), SC_ERR_NULL);

    sc_net_free(plain);
    free(p);
    free(before);
    free(after);
    tu_batch_free(&eb);
    sc_net_free(net);
}
END_TEST

START_TEST(test_last_layer_space_kept)
{
    /* the output is a global pool of a conv: the conv's channels are the
     * logits' channels and never go, not even when all are dead */
    sc_net *net;
    int c1, c2, gp;
    TU_OK(sc_net_create(&net, 1, 5, 5));
    TU_OK(sc_net_conv2d(net, SC_INPUT, 3, 3, 3, 1, 1, SC_BIAS, &c1));
    TU_OK(sc_net_conv2d(net, c1, 4, 3, 3, 1, 1, SC_BIAS, &c2));
    TU_OK(sc_net_global_avgpool(net, c2, &gp));
    TU_OK(sc_net_init(net, 2));
    TU_OK(sc_net_quantize(net, SC_ALL_LAYERS));
    tu_batch eb = tu_batch_make(4, 1, 5, 5, 4, 51);
    kill(net, c2, (int[]){0, 1, 2, 3}, 4);
    /* every channel of c1 is dead: one (all-zero) channel stays */
    kill(net, c1, (int[]){0, 1, 2}, 3);
    tu_settle_bn(net);
    float *before = tu_eval_out(net, &eb), *tbefore = train_out(net, &eb);
    int removed = -1;
    TU_OK(sc_net_compress(net, &removed));
    ck_assert_int_eq(removed, 2);
    ck_assert_int_eq(chans(net, c1), 1);
    ck_assert_int_eq(chans(net, c2), 4);
    ck_assert_int_eq(sc_net_output_size(net), 4);
    check_modes(before, tbefore, net, &eb, "all dead");
    free(before);
    free(tbefore);
    tu_batch_free(&eb);
    sc_net_free(net);
}
END_TEST

/* ---- the optimizer's state follows -------------------------------------- */

/* Bias-less layers feed the dead channels' consumers, so the dead channels
 * carry exactly 0 in training mode too: a compressed twin must then train
 * exactly like the uncompressed one, step for step, if (and only if) every
 * parameter kept its Adam moments. */
static sc_net *twin_net(void)
{
    sc_net *net;
    int id;
    TU_OK(sc_net_create(&net, 2, 8, 8));
    TU_OK(sc_net_conv2d(net, SC_INPUT, 6, 3, 3, 1, 1, SC_NO_BIAS, &id)); /* 1 */
    TU_OK(sc_net_relu(net, id, &id));
    TU_OK(sc_net_conv2d(net, id, 6, 3, 3, 1, 1, SC_NO_BIAS, &id)); /* 3 */
    TU_OK(sc_net_relu(net, id, &id));
    TU_OK(sc_net_maxpool(net, id, 2, 2, &id));
    TU_OK(sc_net_flatten(net, id, &id));
    TU_OK(sc_net_dense(net, id, 8, SC_NO_BIAS, &id)); /* 7 */
    TU_OK(sc_net_relu(net, id, &id));
    TU_OK(sc_net_dense(net, id, 3, SC_BIAS, &id));
    TU_OK(sc_net_init(net, 77));
    TU_OK(sc_net_quantize(net, SC_ALL_LAYERS));
    TU_OK(sc_net_set_param(net, SC_PARAM_GAMMA, 0.01));
    return net;
}

START_TEST(test_optimizer_state_follows)
{
    sc_net *a = twin_net(), *b = twin_net(), *c = twin_net();
    sc_optimizer *oa, *ob, *oc;
    TU_OK(sc_optimizer_create(&oa, a, SC_OPT_ADAM));
    TU_OK(sc_optimizer_create(&ob, b, SC_OPT_ADAM));
    TU_OK(sc_optimizer_create(&oc, c, SC_OPT_ADAM));
    tu_batch tb[3] = {tu_batch_make(16, 2, 8, 8, 3, 61), tu_batch_make(16, 2, 8, 8, 3, 62),
                      tu_batch_make(16, 2, 8, 8, 3, 63)};
    sc_net *nets[3] = {a, b, c};
    sc_optimizer *opts[3] = {oa, ob, oc};
    for (int k = 0; k < 3; k++) {
        for (int s = 0; s < 6; s++)
            train(nets[k], opts[k], &tb[s % 3], 1);
        kill(nets[k], 1, (int[]){0, 3}, 2);
        kill(nets[k], 3, (int[]){1}, 1);
        kill(nets[k], 7, (int[]){2, 5}, 2);
    }
    int removed;
    TU_OK(sc_net_compress(b, &removed));
    ck_assert_int_eq(removed, 5);
    TU_OK(sc_net_compress(c, &removed));
    /* c loses its moments: a fresh optimizer (the control) */
    sc_optimizer_free(oc);
    TU_OK(sc_optimizer_create(&oc, c, SC_OPT_ADAM));
    double worst = 0.0, control = 0.0;
    for (int s = 0; s < 6; s++) {
        double la = train(a, oa, &tb[s % 3], 1);
        double lb = train(b, ob, &tb[s % 3], 1);
        double lc = train(c, oc, &tb[s % 3], 1);
        if (s == 0) /* the first step runs on the very same parameters */
            ck_assert_double_eq_tol(lb, la, 1e-5 * fabs(la));
        worst = fmax(worst, fabs(la - lb) / fabs(la));
        control = fmax(control, fabs(la - lc) / fabs(la));
    }
    ck_assert_msg(worst <= 1e-4, "compressed twin drifted by %g", worst);
    ck_assert_msg(control > 10 * 1e-4,
                  "a reset optimizer should drift, drifted %g", control);
    ck_assert_uint_lt(sc_net_param_count(b), sc_net_param_count(a));
    for (int k = 0; k < 3; k++)
        tu_batch_free(&tb[k]);
    sc_optimizer_free(oa);
    sc_optimizer_free(ob);
    sc_optimizer_free(oc);
    sc_net_free(a);
    sc_net_free(b);
    sc_net_free(c);
}
END_TEST

/* With SC_BN_BATCH_STATS a dead channel's constant is beta in training and
 * eval alike: the training loss on a fixed batch (learning rates 0, so the
 * step moves nothing) is the same just before and just after compress. */
START_TEST(test_train_loss_continues_batch_stats)
{
    sc_net *net;
    int c1, bn, r, c2, r2, fl, d;
    TU_OK(sc_net_create(&net, 2, 6, 6));
    TU_OK(sc_net_conv2d(net, SC_INPUT, 5, 3, 3, 1, 1, SC_BIAS, &c1));
    TU_OK(sc_net_batchnorm(net, c1, SC_BN_AFFINE | SC_BN_BATCH_STATS, &bn));
    TU_OK(sc_net_relu(net, bn, &r));
    TU_OK(sc_net_conv2d(net, r, 4, 3, 3, 1, 1, SC_NO_BIAS, &c2));
    TU_OK(sc_net_relu(net, c2, &r2));
    TU_OK(sc_net_flatten(net, r2, &fl));
    TU_OK(sc_net_dense(net, fl, 3, SC_BIAS, &d));
    TU_OK(sc_net_init(net, 13));
    TU_OK(sc_net_quantize(net, SC_ALL_LAYERS));
    TU_OK(sc_net_set_param(net, SC_PARAM_GAMMA, 0.05));
    sc_optimizer *opt;
    TU_OK(sc_optimizer_create(&opt, net, SC_OPT_ADAM));
    tu_batch tb = tu_batch_make(16, 2, 6, 6, 3, 71);
    train(net, opt, &tb, 5);
    set_beta(net, bn, 1, 0.8f);
    set_beta(net, bn, 3, 0.4f);
    kill(net, c1, (int[]){1, 3}, 2);
    kill(net, c2, (int[]){0}, 1);
    TU_OK(sc_optimizer_set_lr(opt, SC_GROUP_EVERY, 0.0));
    double before = train(net, opt, &tb, 1);
    float *ev = tu_eval_out(net, &tb), *tr = train_out(net, &tb);
    int removed;
    TU_OK(sc_net_compress(net, &removed));
    ck_assert_int_eq(removed, 3);
    check_modes(ev, tr, net, &tb, "batch statistics");
    free(ev);
    free(tr);
    double after = train(net, opt, &tb, 1);
    ck_assert_double_eq_tol(after, before, 1e-5 * fabs(before));
    /* and training resumes */
    TU_OK(sc_optimizer_set_lr(opt, SC_GROUP_ALL, 1e-3));
    double l0 = train(net, opt, &tb, 1), l1 = train(net, opt, &tb, 10);
    ck_assert_msg(l1 < l0, "loss %g -> %g after compress", l0, l1);
    tu_batch_free(&tb);
    sc_optimizer_free(opt);
    sc_net_free(net);
}
END_TEST

START_TEST(test_compress_every)
{
    sc_net *net = twin_net();
    sc_optimizer *opt;
    TU_OK(sc_optimizer_create(&opt, net, SC_OPT_ADAM));
    tu_batch tb = tu_batch_make(16, 2, 8, 8, 3, 81);
    kill(net, 3, (int[]){1, 4}, 2);
    TU_OK(sc_net_set_param(net, SC_PARAM_COMPRESS_EVERY, 3));
    train(net, opt, &tb, 2);
    ck_assert_int_eq(chans(net, 3), 6);
    train(net, opt, &tb, 1); /* the third step compresses */
    ck_assert_int_eq(chans(net, 3), 4);
    ck_assert_int_eq(chans(net, 6), 4 * 16);
    kill(net, 7, (int[]){0}, 1);
    train(net, opt, &tb, 2);
    ck_assert_int_eq(chans(net, 7), 8);
    train(net, opt, &tb, 1);
    ck_assert_int_eq(chans(net, 7), 7);
    tu_batch_free(&tb);
    sc_optimizer_free(opt);
    sc_net_free(net);
}
END_TEST

/* ---- checkpoints --------------------------------------------------------- */

/* A compressed net made without training (so that it is the same on every
 * build): a dead conv channel under batch norm (running statistics from
 * sc_net_update_bn_stats, a shifted beta) into a padded conv. */
static sc_net *ckpt_net(void)
{
    sc_net *net;
    int c1, bn, r, c2, r2, gp, d;
    TU_OK(sc_net_create(&net, 2, 6, 6));
    TU_OK(sc_net_conv2d(net, SC_INPUT, 4, 3, 3, 1, 1, SC_BIAS, &c1));
    TU_OK(sc_net_batchnorm(net, c1, SC_BN_AFFINE, &bn));
    TU_OK(sc_net_relu(net, bn, &r));
    TU_OK(sc_net_conv2d(net, r, 3, 3, 3, 1, 1, SC_NO_BIAS, &c2));
    TU_OK(sc_net_relu(net, c2, &r2));
    TU_OK(sc_net_global_avgpool(net, r2, &gp));
    TU_OK(sc_net_dense(net, gp, 3, SC_BIAS, &d));
    TU_OK(sc_net_init(net, 5));
    TU_OK(sc_net_quantize(net, SC_ALL_LAYERS));
    tu_batch tb = tu_batch_make(8, 2, 6, 6, 3, 91);
    TU_OK(sc_net_update_bn_stats(net, tb.x));
    tu_batch_free(&tb);
    set_bias(net, c1, 1, 0.3f);
    set_beta(net, bn, 1, 0.6f);
    kill(net, c1, (int[]){1}, 1);
    int removed;
    TU_OK(sc_net_compress(net, &removed));
    ck_assert_int_eq(removed, 1);
    return net;
}

/* Both modes' outputs of batch b equal bit for bit. */
static void same_outputs(sc_net *a, sc_net *b, const tu_batch *eb)
{
    size_t m = (size_t)eb->n * sc_net_output_size(a);
    float *ea = tu_eval_out(a, eb), *ta = train_out(a, eb);
    float *e2 = tu_eval_out(b, eb), *t2 = train_out(b, eb);
    ck_assert_int_eq(memcmp(ea, e2, m * sizeof(float)), 0);
    ck_assert_int_eq(memcmp(ta, t2, m * sizeof(float)), 0);
    free(ea);
    free(ta);
    free(e2);
    free(t2);
}

/* A checkpoint of a compressed net holds its constant maps (one for both
 * modes: compress folds the constants batch norm gives a dead channel's
 * map in training mode): the loaded net computes the same in both modes,
 * bit for bit. */
START_TEST(test_checkpoint_keeps_both_modes)
{
    tu_make_tmpdir("sc_compress");
    sc_net *net = ckpt_net(), *back;
    ck_assert_ptr_nonnull(net->nodes[4].cbias); /* the padded conv */
    ck_assert_ptr_null(net->nodes[4].tbias);
    sc_optimizer *opt, *oback;
    TU_OK(sc_optimizer_create(&opt, net, SC_OPT_ADAM));
    tu_batch tb = tu_batch_make(8, 2, 6, 6, 3, 92);
    train(net, opt, &tb, 2);
    TU_OK(sc_checkpoint_save(net, opt, NULL, 0, tu_path("c.sck")));
    TU_OK(sc_checkpoint_load(tu_path("c.sck"), &back, &oback, NULL, 0, NULL));
    ck_assert_ptr_nonnull(back->nodes[4].cbias);
    same_outputs(net, back, &tb);
    sc_optimizer_free(oback);
    sc_net_free(back);
    tu_batch_free(&tb);
    sc_optimizer_free(opt);
    sc_net_free(net);
    tu_remove_tmpdir();
}
END_TEST

/* tests/data/ckpt_v1.scc is ckpt_net() with a fresh Adam optimizer, saved
 * by sc_checkpoint_save in checkpoint format 1 (the library at c819c14).
 * It loads without training-mode maps: both modes then use the eval-mode
 * constants (cbias), as format 1 did. */
START_TEST(test_checkpoint_v1_loads)
{
    tu_make_tmpdir("sc_compress");
    const char *root = getenv("SC_ROOT");
    char path[512];
    snprintf(path, sizeof path, "%s/tests/data/ckpt_v1.scc",
             root && *root ? root : ".");
    sc_net *v1, *back, *fresh = ckpt_net();
    sc_optimizer *opt, *oback;
    TU_OK(sc_checkpoint_load(path, &v1, &opt, NULL, 0, NULL));
    ck_assert_ptr_nonnull(opt);
    ck_assert_int_eq(sc_net_layer_count(v1), sc_net_layer_count(fresh));
    ck_assert_ptr_nonnull(v1->nodes[4].cbias);
    for (int i = 1; i < sc_net_layer_count(v1); i++)
        ck_assert_ptr_null(v1->nodes[i].tbias);
    /* both modes add its cbias: they differ only where batch norm does */
    tu_batch eb = tu_batch_make(8, 2, 6, 6, 3, 93);
    /* saved again (the current format, 5) it loads as it was */
    TU_OK(sc_checkpoint_save(v1, opt, NULL, 0, tu_path("v2.sck")));
    TU_OK(sc_checkpoint_load(tu_path("v2.sck"), &back, &oback, NULL, 0, NULL));
    same_outputs(v1, back, &eb);
    unsigned char *d;
    size_t n;
    d = tu_read_all(tu_path("v2.sck"), &n);
    ck_assert_uint_eq(d[8], 5); /* the format version */
    free(d);
    tu_batch_free(&eb);
    sc_optimizer_free(oback);
    sc_net_free(back);
    sc_optimizer_free(opt);
    sc_net_free(v1);
    sc_net_free(fresh);
    tu_remove_tmpdir();
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("compress");
    TCase *tc = tcase_create("compress");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_conv_bn_flatten_dense_function_kept);
    tcase_add_loop_test(tc, test_activation_function_kept, 0,
                        (int)(sizeof act_cases / sizeof act_cases[0]));
    tcase_add_test(tc, test_residual_add);
    tcase_add_test(tc, test_depthwise_channels_go);
    tcase_add_test(tc, test_grouped_conv_keeps_channels);
    tcase_add_test(tc, test_concat_channels_go);
    tcase_add_test(tc, test_seq1d_channels_go);
    tcase_add_test(tc, test_gmaxpool_and_dense_on_conv);
    tcase_add_loop_test(tc, test_padded_pool_after_dead_channel, 0, 3);
    tcase_add_test(tc, test_nothing_dead_is_a_noop);
    tcase_add_test(tc, test_last_layer_space_kept);
    tcase_add_test(tc, test_optimizer_state_follows);
    tcase_add_test(tc, test_train_loss_continues_batch_stats);
    tcase_add_test(tc, test_compress_every);
    tcase_add_test(tc, test_checkpoint_keeps_both_modes);
    tcase_add_test(tc, test_checkpoint_v1_loads);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tu_run_suite(suite(), CK_NORMAL); }
