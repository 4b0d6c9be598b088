/* test_onnx.c -- sc_net_import_onnx: the fixtures of tests/onnx/make_fixtures.py
 * (PyTorch nets exported at opsets 11 and 17, their outputs for a fixed input)
 * give the same outputs here; an imported net trains; hostile files get their
 * error code and a message and never crash. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../examples/nets.h"
#include "nn/layer_params.h"
#include "selfcompress.h"
#include "util/testutil.h"

#define BATCH 2 /* the fixtures' batch */

static const char *data_path(const char *dir, const char *name, const char *ext)
{
    static char path[4][512];
    static int k;
    const char *root = getenv("SC_ROOT");
    k = (k + 1) % 4;
    snprintf(path[k], sizeof path[k], "%s/tests/data/%s/%s%s",
             root && *root ? root : ".", dir, name, ext);
    return path[k];
}

/* a fixture's floats: n of them, checked */
static float *read_floats(const char *path, size_t n)
{
    size_t bytes;
    unsigned char *d = tu_read_all(path, &bytes);
    ck_assert_msg(bytes == n * sizeof(float), "%s holds %zu bytes, not %zu",
                  path, bytes, n * sizeof(float));
    float *f = malloc(n * sizeof *f);
    memcpy(f, d, n * sizeof *f);
    free(d);
    return f;
}

/* the net's eval-mode outputs for x (BATCH samples) */
static float *eval_out(sc_net *net, float *x)
{
    int c, h, w, k = sc_net_output_size(net);
    TU_OK(sc_net_layer_shape(net, SC_INPUT, &c, &h, &w));
    int64_t xs[4] = {BATCH, c, h, w}, ys[2] = {BATCH, k};
    float *y = malloc((size_t)BATCH * (size_t)k * sizeof *y);
    sc_tensor *tx, *ty;
    TU_OK(sc_tensor_wrap(&tx, 4, xs, x));
    TU_OK(sc_tensor_wrap(&ty, 2, ys, y));
    TU_OK(sc_net_set_training(net, 0));
    TU_OK(sc_net_forward(net, tx, ty));
    sc_tensor_free(tx);
    sc_tensor_free(ty);
    return y;
}

static const char *NETS[] = {"convbn_op11", "convbn_op17", "mobile_op11",
                             "mobile_op17", "branches_op11", "branches_op17",
                             "mlp_op11", "mlp_op17", "asym_pads",
                             "avgpool_pad_op11", "avgpool_pad_op17",
                             "padded_op11", "padded_op17", "gmaxpool_op11",
                             "gmaxpool_op17", "pad_conv"};
#define N_NETS (int)(sizeof NETS / sizeof NETS[0])

/* The imported net's outputs are PyTorch's within 1e-4 of the largest. */
START_TEST(test_fixture_matches_pytorch)
{
    const char *name = NETS[_i];
    sc_net *net = NULL;
    TU_OK(sc_net_import_onnx(&net, data_path("onnx", name, ".onnx"), NULL));
    int c, h, w, k = sc_net_output_size(net);
    TU_OK(sc_net_layer_shape(net, SC_INPUT, &c, &h, &w));
    size_t in = (size_t)BATCH * (size_t)c * (size_t)h * (size_t)w;
    float *x = read_floats(data_path("onnx_ref", name, ".in.f32"), in);
    float *ref = read_floats(data_path("onnx_ref", name, ".out.f32"),
                             (size_t)BATCH * (size_t)k);
    float *y = eval_out(net, x);
    double top = 0, err = 0;
    for (int i = 0; i < BATCH * k; i++) {
        top = fmax(top, fabs(ref[i]));
        err = fmax(err, fabs((double)y[i] - ref[i]));
    }
    ck_assert_msg(top > 1e-3, "%s: the reference outputs are all about 0", name);
    ck_assert_msg(err <= 1e-4 * top, "%s: largest difference %g, largest "
                  "output %g", name, err, top);
    if (getenv("TU_VERBOSE"))
        printf("%s: %d layers, largest difference %.3g of largest output %.3g\n",
               name, sc_net_layer_count(net) - 1, err, top);
    /* from memory: the same net */
    size_t n;
    unsigned char *bytes = tu_read_all(data_path("onnx", name, ".onnx"), &n);
    sc_net *again = NULL;
    TU_OK(sc_net_import_onnx_memory(&again, bytes, n, NULL));
    float *y2 = eval_out(again, x);
    ck_assert(memcmp(y, y2, (size_t)BATCH * (size_t)k * sizeof *y) == 0);
    free(bytes);
    free(y2);
    free(y);
    free(x);
    free(ref);
    sc_net_free(again);
    sc_net_free(net);
}
END_TEST

/* What the ops map onto: layer kinds of convbn (Conv + BN kept apart, the
 * Conv without bias), and the parameters set from the file. */
START_TEST(test_layers_and_params)
{
    sc_net *net = NULL;
    TU_OK(sc_net_import_onnx(&net, data_path("onnx", "convbn_op17", ".onnx"), NULL));
    static const int want[] = {SC_LAYER_INPUT, SC_LAYER_CONV2D, SC_LAYER_BATCHNORM,
                               SC_LAYER_RELU, SC_LAYER_MAXPOOL, SC_LAYER_CONV2D,
                               SC_LAYER_LEAKY_RELU, SC_LAYER_AVGPOOL,
                               SC_LAYER_CONV2D, SC_LAYER_MAXPOOL,
                               SC_LAYER_FLATTEN, SC_LAYER_DENSE};
    int n = (int)(sizeof want / sizeof want[0]);
    ck_assert_int_eq(sc_net_layer_count(net), n);
    for (int i = 0; i < n; i++)
        ck_assert_msg(sc_net_layer_kind(net, i) == want[i], "layer %d is %d, "
                      "not %d", i, sc_net_layer_kind(net, i), want[i]);
    sc_layer_desc d = SC_LAYER_DESC_INIT(SC_LAYER_INPUT);
    TU_OK(sc_net_layer_desc(net, 1, &d, NULL, NULL));
    ck_assert_int_eq(d.flags & SC_BIAS, 0);
    TU_OK(sc_net_layer_desc(net, 5, &d, NULL, NULL));
    ck_assert_int_eq(d.groups, 2);
    ck_assert_int_eq(d.stride_w, 2);
    ck_assert_int_eq(d.pad_h, 1);
    ck_assert_int_eq(d.flags & SC_BIAS, SC_BIAS);
    float var[4];
    TU_OK(sc_net_get_layer_param(net, 2, SC_SLOT_RUNNING_VAR, var, 4));
    for (int i = 0; i < 4; i++) /* make_fixtures.py: uniform in [0.5, 1.5) */
        ck_assert(var[i] >= 0.5f && var[i] < 1.5f);
    double eps, mom;
    TU_OK(sc_net_get_param(net, SC_PARAM_BN_EPS, &eps));
    TU_OK(sc_net_get_param(net, SC_PARAM_BN_MOMENTUM, &mom));
    ck_assert(fabs(eps - 1e-5) < 1e-9 && fabs(mom - 0.1) < 1e-6);
    sc_net_free(net);
}
END_TEST

/* An imported net is a normal one: it trains with self-compression, and
 * still computes afterwards. */
START_TEST(test_imported_net_trains)
{
    sc_net *net = NULL;
    TU_OK(sc_net_import_onnx(&net, data_path("onnx", "mobile_op11", ".onnx"), NULL));
    TU_OK(sc_net_quantize(net, SC_ALL_LAYERS));
    TU_OK(sc_net_set_param(net, SC_PARAM_GAMMA, 0.01));
    sc_optimizer *opt;
    TU_OK(sc_optimizer_create(&opt, net, SC_OPT_ADAM));
    int k = sc_net_output_size(net);
    tu_batch b = tu_batch_make(8, 3, 8, 8, k, 5);
    float *before = tu_eval_out(net, &b);
    sc_step_stats st = SC_STEP_STATS_INIT;
    TU_OK(sc_net_train_step(net, opt, b.x, b.labels, &st));
    ck_assert(isfinite(st.loss) && st.loss > 0);
    ck_assert_uint_eq(sc_optimizer_steps(opt), 1);
    float *after = tu_eval_out(net, &b);
    int changed = 0;
    for (int i = 0; i < 8 * k; i++) {
        ck_assert(isfinite(after[i]));
        changed |= after[i] != before[i];
    }
    ck_assert(changed);
    free(before);
    free(after);
    tu_batch_free(&b);
    sc_optimizer_free(opt);
    sc_net_free(net);
}
END_TEST

/* The generated hostile files, each with its code and a message. */
static const struct {
    const char *name;
    sc_status want;
} BAD[] = {
    {"bad_cycle", SC_ERR_FORMAT},          {"bad_unknown_name", SC_ERR_FORMAT},
    {"bad_short_init", SC_ERR_FORMAT},     {"bad_huge_dims", SC_ERR_FORMAT},
    {"bad_negative_dims", SC_ERR_FORMAT},  {"bad_negative_input", SC_ERR_FORMAT},
    {"bad_softmax", SC_ERR_UNSUPPORTED},   {"bad_dilation", SC_ERR_UNSUPPORTED},
    {"bad_asym_pads", SC_ERR_UNSUPPORTED}, {"bad_clip", SC_ERR_UNSUPPORTED},
    {"bad_opset9", SC_ERR_UNSUPPORTED},    {"bad_huge_input", SC_ERR_UNSUPPORTED},
    /* tests/onnx/make_dequant_fixtures.py */
    {"bad_dq_scale_count", SC_ERR_UNSUPPORTED}, {"bad_dq_zero_shape", SC_ERR_FORMAT},
    {"bad_dq_uint8", SC_ERR_UNSUPPORTED},  {"bad_dq_short", SC_ERR_FORMAT},
    {"bad_add_const", SC_ERR_UNSUPPORTED},
};
#define N_BAD (int)(sizeof BAD / sizeof BAD[0])

START_TEST(test_hostile_file)
{
    sc_net *net = (sc_net *)&net; /* must stay untouched */
    TU_FAILS(sc_net_import_onnx(&net, data_path("onnx", BAD[_i].name, ".onnx"), NULL),
             BAD[_i].want);
    ck_assert(net == (sc_net *)&net);
    if (getenv("TU_VERBOSE"))
        printf("%s: %s\n", BAD[_i].name, sc_last_error());
}
END_TEST

/* The messages name the node, its op_type and what it has. */
START_TEST(test_messages_name_the_node)
{
    sc_net *net = NULL;
    TU_FAILS(sc_net_import_onnx(&net, data_path("onnx", "bad_softmax", ".onnx"), NULL),
             SC_ERR_UNSUPPORTED);
    ck_assert_msg(strstr(sc_last_error(), "'soft' (Softmax)"), "%s", sc_last_error());
    TU_FAILS(sc_net_import_onnx(&net, data_path("onnx", "bad_dilation", ".onnx"), NULL),
             SC_ERR_UNSUPPORTED);
    ck_assert_msg(strstr(sc_last_error(), "'conv' (Conv)") &&
                  strstr(sc_last_error(), "dilations 2x2"), "%s", sc_last_error());
    TU_FAILS(sc_net_import_onnx(&net, data_path("onnx", "bad_unknown_name", ".onnx"), NULL),
             SC_ERR_FORMAT);
    ck_assert_msg(strstr(sc_last_error(), "'nope'"), "%s", sc_last_error());
    TU_FAILS(sc_net_import_onnx(&net, data_path("onnx", "bad_cycle", ".onnx"), NULL),
             SC_ERR_FORMAT);
    ck_assert_msg(strstr(sc_last_error(), "cycle"), "%s", sc_last_error());
    TU_FAILS(sc_net_import_onnx(&net, data_path("onnx", "bad_clip", ".onnx"), NULL),
             SC_ERR_UNSUPPORTED);
    ck_assert_msg(strstr(sc_last_error(), "[-1, 1]"), "%s", sc_last_error());
    ck_assert(net == NULL);
}
END_TEST

/* Every truncation of a model is SC_ERR_FORMAT. */
START_TEST(test_every_truncation)
{
    size_t n;
    unsigned char *d = tu_read_all(data_path("onnx", "mlp_op11", ".onnx"), &n);
    size_t step = UNDER_VALGRIND() ? 37 : 1;
    for (size_t len = 0; len < n; len += step) {
        sc_net *net = NULL;
        sc_status st = sc_net_import_onnx_memory(&net, d, len, NULL);
        ck_assert_msg(st == SC_ERR_FORMAT, "%zu of %zu bytes: %d (%s)", len, n,
                      (int)st, sc_last_error());
        ck_assert(net == NULL);
    }
    free(d);
}
END_TEST

/* Garbage and wrong wire types: SC_ERR_FORMAT; every byte of a model
 * changed: an error with a message, or a net that computes. */
START_TEST(test_garbage_and_mutations)
{
    sc_net *net = NULL;
    /* field 7 (the graph) as a varint, then as a fixed64 */
    static const unsigned char wire1[] = {0x38, 0x05}, wire2[] = {0x39, 1, 2, 3, 4, 5, 6, 7, 8};
    TU_FAILS(sc_net_import_onnx_memory(&net, wire1, sizeof wire1, NULL), SC_ERR_FORMAT);
    TU_FAILS(sc_net_import_onnx_memory(&net, wire2, sizeof wire2, NULL), SC_ERR_FORMAT);
    TU_FAILS(sc_net_import_onnx_memory(&net, "", 0, NULL), SC_ERR_FORMAT);
    tu_lcg r;
    tu_lcg_seed(&r, 17);
    unsigned char buf[512];
    for (int t = 0; t < 300; t++) {
        size_t len = (size_t)tu_lcg_int(&r, (int)sizeof buf) + 1;
        for (size_t i = 0; i < len; i++)
            buf[i] = (unsigned char)tu_lcg_int(&r, 256);
        sc_status st = sc_net_import_onnx_memory(&net, buf, len, NULL);
        ck_assert_msg(st == SC_ERR_FORMAT || st == SC_ERR_UNSUPPORTED,
                      "garbage %d: %d (%s)", t, (int)st, sc_last_error());
    }
    ck_assert(net == NULL);
    size_t n;
    unsigned char *d = tu_read_all(data_path("onnx", "branches_op11", ".onnx"), &n);
    size_t step = UNDER_VALGRIND() ? 41 : 1;
    float x[BATCH * 2 * 6 * 6];
    for (size_t i = 0; i < sizeof x / sizeof x[0]; i++)
        x[i] = (float)tu_lcg_range(&r, -1, 1);
    for (size_t i = 0; i < n; i += step) {
        unsigned char keep = d[i];
        d[i] = (unsigned char)(keep ^ (1u << (i % 8)));
        sc_status st = sc_net_import_onnx_memory(&net, d, n, NULL);
        if (st == SC_OK) {
            int c, h, w;
            TU_OK(sc_net_layer_shape(net, SC_INPUT, &c, &h, &w));
            if ((size_t)c * (size_t)h * (size_t)w * BATCH == sizeof x / sizeof x[0])
                free(eval_out(net, x));
            sc_net_free(net);
            net = NULL;
        } else {
            ck_assert_msg(sc_last_error()[0] != '\0', "byte %zu: no message", i);
        }
        d[i] = keep;
    }
    free(d);
}
END_TEST

/* Appends v as a varint at p (at most 10 bytes); returns the bytes. */
static size_t varint(unsigned char *p, uint64_t v)
{
    size_t n = 0;
    do {
        p[n++] = (unsigned char)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v);
    return n;
}

/* Prepends tag and the length of what follows pos (to end) before pos. */
static size_t wrap(unsigned char *buf, size_t pos, size_t end, unsigned tag)
{
    unsigned char tmp[12];
    size_t k = varint(tmp + 1, end - pos) + 1;
    tmp[0] = (unsigned char)tag;
    pos -= k;
    memcpy(buf + pos, tmp, k);
    return pos;
}

/* An If node whose attribute nests graphs 200,000 deep (attribute.g ->
 * graph.node -> node.attribute -> ...): protobuf-c would unpack that
 * recursively; the importer's schema leaves those fields out, so it is
 * skipped and the If refused as any unsupported operator. */
START_TEST(test_deep_nesting)
{
    enum { DEPTH = 200000 };
    size_t cap = (size_t)DEPTH * 3 * 6 + 4096, end = cap, pos = end;
    unsigned char *b = malloc(cap);
    for (int i = 0; i < DEPTH; i++) {
        pos = wrap(b, pos, end, 0x32); /* AttributeProto.g (6) */
        pos = wrap(b, pos, end, 0x2a); /* NodeProto.attribute (5) */
        pos = wrap(b, pos, end, 0x0a); /* GraphProto.node (1) */
    }
    pos = wrap(b, pos, end, 0x32); /* the If's attribute's g */
    static const unsigned char attr_head[] = {0x0a, 1, 'g', 0xa0, 0x01, 5};
    pos -= sizeof attr_head;
    memcpy(b + pos, attr_head, sizeof attr_head);
    pos = wrap(b, pos, end, 0x2a);
    static const unsigned char node_head[] = {0x0a, 1, 'x', 0x12, 1, 'y', 0x22, 2, 'I', 'f'};
    pos -= sizeof node_head;
    memcpy(b + pos, node_head, sizeof node_head);
    pos = wrap(b, pos, end, 0x0a); /* GraphProto.node */
    /* the graph's input x (float, 1 x 1 x 4 x 4) and output y */
    static const unsigned char io[] = {
        0x5a, 27, 0x0a, 1, 'x', 0x12, 22, 0x0a, 20, 0x08, 1, 0x12, 16,
        0x0a, 2, 0x08, 1, 0x0a, 2, 0x08, 1, 0x0a, 2, 0x08, 4, 0x0a, 2, 0x08, 4,
        0x62, 3, 0x0a, 1, 'y'};
    size_t body = end - pos;
    unsigned char *m = malloc(body + sizeof io + 32);
    size_t n = 0;
    m[n++] = 0x3a; /* ModelProto.graph (7) */
    n += varint(m + n, body + sizeof io);
    memcpy(m + n, b + pos, body);
    n += body;
    memcpy(m + n, io, sizeof io);
    n += sizeof io;
    static const unsigned char opset[] = {0x42, 0x02, 0x10, 13};
    memcpy(m + n, opset, sizeof opset);
    n += sizeof opset;
    sc_net *net = NULL;
    TU_FAILS(sc_net_import_onnx_memory(&net, m, n, NULL), SC_ERR_UNSUPPORTED);
    ck_assert_msg(strstr(sc_last_error(), "(If)"), "%s", sc_last_error());
    free(m);
    free(b);
}
END_TEST

/* Arguments and caps. */
START_TEST(test_arguments_and_caps)
{
    sc_net *net = NULL;
    TU_FAILS(sc_net_import_onnx(NULL, "x", NULL), SC_ERR_NULL);
    TU_FAILS(sc_net_import_onnx(&net, NULL, NULL), SC_ERR_NULL);
    TU_FAILS(sc_net_import_onnx_memory(&net, NULL, 4, NULL), SC_ERR_NULL);
    TU_FAILS(sc_net_import_onnx(&net, data_path("onnx", "no_such_file", ".onnx"), NULL),
             SC_ERR_IO);
    sc_load_limits lim = SC_LOAD_LIMITS_INIT;
    lim.max_macs = 100; /* convbn needs more */
    TU_FAILS(sc_net_import_onnx(&net, data_path("onnx", "convbn_op11", ".onnx"), &lim),
             SC_ERR_FORMAT);
    lim.size = 1;
    TU_FAILS(sc_net_import_onnx(&net, data_path("onnx", "convbn_op11", ".onnx"), &lim),
             SC_ERR_ARG);
    ck_assert(net == NULL);
}
END_TEST


/* ---- export ---- */

/* Benchmark net `name` initialised from seed with random batch-norm
 * statistics; quantised (every dense/conv) when quant, and with compress
 * a quarter of the channels removed. */
static sc_net *bench_net(const char *name, int quant, int compress, uint64_t seed)
{
    sc_net *net;
    TU_OK(nets_build(name, &net, NULL));
    TU_OK(sc_net_init(net, seed));
    tu_random_bn(net, seed + 1);
    if (quant)
        TU_OK(sc_net_quantize(net, SC_ALL_LAYERS));
    if (compress)
        tu_kill_and_compress(net);
    return net;
}

/* A net of the kinds the benchmark nets lack: leaky relu, average pools
 * with and without the padding counted, a concat of a sigmoid and a tanh
 * branch, hardswish, dropout, global max pool, a dense layer on a 4-D
 * tensor, batch norm on features, convs with bias. */
static sc_net *zoo_net(uint64_t seed)
{
    sc_net *net;
    int id, a, b, j[2];
    TU_OK(sc_net_create(&net, 3, 12, 12));
    sc_layer_desc d = SC_LAYER_DESC_INIT(SC_LAYER_CONV2D);
    d.channels = 8;
    d.kernel_h = d.kernel_w = 3;
    d.pad_h = d.pad_w = 1;
    d.flags = SC_BIAS;
    TU_OK(sc_net_add_layer(net, &d, (int[]){SC_INPUT}, 1, &id));
    sc_layer_desc l = SC_LAYER_DESC_INIT(SC_LAYER_LEAKY_RELU);
    l.alpha = 0.1f;
    TU_OK(sc_net_add_layer(net, &l, &id, 1, &id));
    sc_layer_desc p = SC_LAYER_DESC_INIT(SC_LAYER_AVGPOOL);
    p.kernel_h = p.kernel_w = 3;
    p.pad_h = p.pad_w = 1;
    p.flags = SC_POOL_COUNT_PAD;
    TU_OK(sc_net_add_layer(net, &p, &id, 1, &id));
    d.channels = 6;
    d.stride_h = d.stride_w = 2;
    TU_OK(sc_net_add_layer(net, &d, &id, 1, &a));
    sc_layer_desc k = SC_LAYER_DESC_INIT(SC_LAYER_SIGMOID);
    TU_OK(sc_net_add_layer(net, &k, &a, 1, &j[0]));
    d.channels = 4;
    d.kernel_h = 1;
    d.pad_h = 0;
    d.flags = SC_NO_BIAS;
    TU_OK(sc_net_add_layer(net, &d, &id, 1, &b));
    k.kind = SC_LAYER_TANH;
    TU_OK(sc_net_add_layer(net, &k, &b, 1, &j[1]));
    sc_layer_desc cat = SC_LAYER_DESC_INIT(SC_LAYER_CONCAT);
    TU_OK(sc_net_add_layer(net, &cat, j, 2, &id));
    k.kind = SC_LAYER_HARDSWISH;
    TU_OK(sc_net_add_layer(net, &k, &id, 1, &id));
    sc_layer_desc dr = SC_LAYER_DESC_INIT(SC_LAYER_DROPOUT);
    dr.alpha = 0.25f;
    TU_OK(sc_net_add_layer(net, &dr, &id, 1, &id));
    p.flags = 0;
    p.stride_h = p.stride_w = 2;
    TU_OK(sc_net_add_layer(net, &p, &id, 1, &a));
    TU_OK(sc_net_global_maxpool(net, id, &b));
    TU_OK(sc_net_dense(net, a, 12, SC_BIAS, &a));
    TU_OK(sc_net_batchnorm(net, a, SC_BN_AFFINE, &a));
    TU_OK(sc_net_relu(net, a, &a));
    TU_OK(sc_net_flatten(net, b, &b));
    TU_OK(sc_net_dense(net, b, 12, SC_NO_BIAS, &b));
    TU_OK(sc_net_add(net, a, b, &id));
    TU_OK(sc_net_dense(net, id, 5, SC_BIAS, &id));
    TU_OK(sc_net_init(net, seed));
    tu_random_bn(net, seed + 1);
    return net;
}

/* The net's outputs for x in its current mode, as a new buffer */
static float *outputs(sc_net *net, const tu_batch *b)
{
    int k = sc_net_output_size(net);
    int64_t shape[2] = {b->n, k};
    sc_tensor *out;
    TU_OK(sc_tensor_create(&out, 2, shape));
    TU_OK(sc_net_forward(net, b->x, out));
    float *v = malloc((size_t)b->n * (size_t)k * sizeof *v);
    TU_OK(sc_tensor_copy_to(out, v, (size_t)b->n * (size_t)k));
    sc_tensor_free(out);
    return v;
}

/* The net exported into a new buffer (*n bytes) with options o */
static unsigned char *export_mem(const sc_net *net, const sc_onnx_export_options *o,
                                 size_t *n)
{
    TU_OK(sc_net_export_onnx_memory(net, NULL, 0, n, o));
    ck_assert_uint_gt(*n, 0);
    unsigned char *d = malloc(*n);
    size_t again;
    TU_OK(sc_net_export_onnx_memory(net, d, *n, &again, o));
    ck_assert_uint_eq(again, *n);
    return d;
}

/* ours -> ONNX -> ours: the imported net's outputs equal the net's bit for
 * bit, in eval mode (training mode, where batch statistics are used in
 * both: tinynet's batch norms with SC_BN_BATCH_STATS, written with
 * bn_running_stats) */
static void check_round_trip(sc_net *net, const sc_onnx_export_options *o,
                             int training)
{
    int c, h, w;
    TU_OK(sc_net_layer_shape(net, SC_INPUT, &c, &h, &w));
    tu_batch b = tu_batch_make(3, c, h, w, 0, 41);
    size_t n;
    unsigned char *d = export_mem(net, o, &n);
    sc_net *back = NULL;
    TU_OK(sc_net_import_onnx_memory(&back, d, n, NULL));
    TU_OK(sc_net_set_training(net, training));
    TU_OK(sc_net_set_training(back, training));
    int k = sc_net_output_size(net);
    ck_assert_int_eq(sc_net_output_size(back), k);
    float *y0 = outputs(net, &b), *y1 = outputs(back, &b);
    for (int i = 0; i < 3 * k; i++)
        ck_assert_msg(memcmp(&y0[i], &y1[i], sizeof(float)) == 0,
                      "output %d: %.9g exported and imported, %.9g before", i,
                      (double)y1[i], (double)y0[i]);
    TU_OK(sc_net_set_training(net, 1));
    free(y0);
    free(y1);
    free(d);
    sc_net_free(back);
    tu_batch_free(&b);
}

static const struct {
    const char *name;
    int quant, compress;
} RT[] = {
    {"mlp", 0, 0},   {"mlp", 1, 0},    {"tinynet", 1, 0}, {"cnn", 1, 1},
    {"dscnn", 0, 0}, {"dscnn", 1, 1},  {"seq1d", 1, 1},   {"seq1d", 0, 0},
};
#define N_RT (int)(sizeof RT / sizeof RT[0])

START_TEST(test_export_round_trip)
{
    int tiny = strcmp(RT[_i].name, "tinynet") == 0;
    sc_net *net = bench_net(RT[_i].name, RT[_i].quant, RT[_i].compress, 100 + (uint64_t)_i);
    sc_onnx_export_options o = SC_ONNX_EXPORT_OPTIONS_INIT;
    o.bn_running_stats = tiny;
    check_round_trip(net, &o, tiny);
    o.integer_weights = 0;
    check_round_trip(net, &o, tiny);
    if (RT[_i].compress) { /* the constants compress folded in went along */
        int maps = 0;
        for (int id = 1; id < sc_net_layer_count(net); id++)
            maps += sc_layer_const_map(net, id) != NULL;
        ck_assert_int_gt(maps, 0);
    }
    sc_net_free(net);
}
END_TEST

START_TEST(test_export_zoo_round_trip)
{
    sc_net *net = zoo_net(7);
    TU_OK(sc_net_quantize(net, SC_ALL_LAYERS));
    check_round_trip(net, NULL, 0);
    sc_net_free(net);
}
END_TEST

/* The integer form: a quantised net's file is smaller with it (1 byte per
 * weight instead of 4); a layer with a channel of more than 8 bits goes in
 * float, and still exactly. */
START_TEST(test_export_integer_form)
{
    sc_net *net = bench_net("mlp", 1, 0, 3);
    sc_onnx_export_options o = SC_ONNX_EXPORT_OPTIONS_INIT;
    size_t n_int, n_float, n_wide;
    free(export_mem(net, &o, &n_int));
    o.integer_weights = 0;
    free(export_mem(net, &o, &n_float));
    size_t weights = 784 * 256 + 256 * 128 + 128 * 10;
    ck_assert_uint_lt(n_int + 2 * weights, n_float);
    float b[256];
    TU_OK(sc_net_set_param(net, SC_PARAM_QUANT_B_MAX, 16.0));
    TU_OK(sc_net_get_quant(net, 1, b, NULL, 256));
    b[7] = 9.0f;
    TU_OK(sc_net_set_quant(net, 1, b, NULL, 256));
    free(export_mem(net, NULL, &n_wide));
    ck_assert_uint_gt(n_wide, n_int + 2 * 784 * 256); /* layer 1 in float */
    ck_assert_uint_lt(n_wide, n_float);               /* the others not */
    check_round_trip(net, NULL, 0);
    sc_net_free(net);
}
END_TEST

/* A loaded model exports its weights as it computes them: the imported
 * net's eval outputs are the model's bit for bit. */
START_TEST(test_export_model)
{
    tu_make_tmpdir("sc_test_onnx");
    sc_net *net = bench_net("dscnn", 1, 1, 11);
    TU_OK(sc_net_save(net, tu_path("m.scm"), NULL));
    sc_model *m;
    TU_OK(sc_model_load(&m, tu_path("m.scm")));
    TU_OK(sc_model_export_onnx(m, tu_path("m.onnx"), NULL));
    size_t n, n2;
    TU_OK(sc_model_export_onnx_memory(m, NULL, 0, &n, NULL));
    unsigned char *file = tu_read_all(tu_path("m.onnx"), &n2);
    ck_assert_uint_eq(n, n2);
    unsigned char *d = malloc(n);
    TU_FAILS(sc_model_export_onnx_memory(m, d, n - 1, &n2, NULL), SC_ERR_ARG);
    ck_assert_uint_eq(n2, n);
    TU_OK(sc_model_export_onnx_memory(m, d, n, &n2, NULL));
    ck_assert(memcmp(d, file, n) == 0);
    size_t n_net;
    unsigned char *dn = export_mem(net, NULL, &n_net);
    ck_assert_uint_lt(n_net, n + n / 10); /* both in their integer form */
    sc_net *back;
    TU_OK(sc_net_import_onnx(&back, tu_path("m.onnx"), NULL));
    tu_batch b = tu_batch_make(3, 1, 28, 28, 0, 9);
    float *y0 = tu_model_out(m, &b), *y1 = tu_eval_out(back, &b);
    ck_assert(memcmp(y0, y1, 3 * 10 * sizeof(float)) == 0);
    free(y0);
    free(y1);
    free(d);
    free(dn);
    free(file);
    tu_batch_free(&b);
    sc_net_free(back);
    sc_model_free(m);
    sc_net_free(net);
    tu_remove_tmpdir();
}
END_TEST

/* Refusals name the layer; bad arguments change nothing. */
START_TEST(test_export_refusals)
{
    sc_net *tiny = bench_net("tinynet", 0, 0, 5);
    size_t n = 12345;
    TU_FAILS(sc_net_export_onnx_memory(tiny, NULL, 0, &n, NULL), SC_ERR_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(sc_last_error(), "layer 5 (batchnorm)"));
    ck_assert_ptr_nonnull(strstr(sc_last_error(), "SC_BN_BATCH_STATS"));
    ck_assert_uint_eq(n, 12345);
    sc_onnx_export_options o = SC_ONNX_EXPORT_OPTIONS_INIT;
    o.size = 2;
    TU_FAILS(sc_net_export_onnx_memory(tiny, NULL, 0, &n, &o), SC_ERR_ARG);
    o = (sc_onnx_export_options)SC_ONNX_EXPORT_OPTIONS_INIT;
    o.integer_weights = 2;
    TU_FAILS(sc_net_export_onnx_memory(tiny, NULL, 0, &n, &o), SC_ERR_ARG);
    o.integer_weights = 1;
    o.bn_running_stats = 1;
    o.size = sizeof(size_t) + sizeof(int); /* an older struct: the defaults after */
    TU_FAILS(sc_net_export_onnx_memory(tiny, NULL, 0, &n, &o), SC_ERR_UNSUPPORTED);
    o.size = sizeof o;
    TU_OK(sc_net_export_onnx_memory(tiny, NULL, 0, &n, &o));
    ck_assert_uint_gt(n, 0);
    TU_FAILS(sc_net_export_onnx_memory(NULL, NULL, 0, &n, NULL), SC_ERR_NULL);
    TU_FAILS(sc_net_export_onnx_memory(tiny, NULL, 0, NULL, NULL), SC_ERR_NULL);
    TU_FAILS(sc_net_export_onnx(tiny, NULL, NULL), SC_ERR_NULL);
    TU_FAILS(sc_model_export_onnx(NULL, "x.onnx", NULL), SC_ERR_NULL);
    sc_net_free(tiny);

    /* a convolution after a flatten: ONNX's Conv takes 4-D tensors */
    sc_net *net;
    int id;
    TU_OK(sc_net_create(&net, 2, 4, 4));
    TU_OK(sc_net_flatten(net, SC_INPUT, &id));
    TU_OK(sc_net_conv2d(net, id, 3, 1, 1, 1, 0, SC_NO_BIAS, &id));
    TU_OK(sc_net_init(net, 1));
    TU_FAILS(sc_net_export_onnx_memory(net, NULL, 0, &n, NULL), SC_ERR_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(sc_last_error(), "layer 2 (conv2d)"));
    sc_net_free(net);
    /* before sc_net_init */
    TU_OK(sc_net_create(&net, 2, 4, 4));
    TU_OK(sc_net_dense(net, SC_INPUT, 3, SC_BIAS, &id));
    TU_FAILS(sc_net_export_onnx_memory(net, NULL, 0, &n, NULL), SC_ERR_STATE);
    sc_net_free(net);
}
END_TEST

/* DequantizeLinear read from a file another tool could write
 * (make_dequant_fixtures.py): INT8 levels as raw_data and int32_data, a
 * per-channel and a per-tensor scale, a zero point of 3: the same net, bit
 * for bit, as the one with the dequantised floats; refusals name the node. */
START_TEST(test_import_dequantize)
{
    sc_net *q = NULL, *f = NULL;
    TU_OK(sc_net_import_onnx(&q, data_path("onnx", "dq_int", ".onnx"), NULL));
    TU_OK(sc_net_import_onnx(&f, data_path("onnx", "dq_float", ".onnx"), NULL));
    ck_assert_int_eq(sc_net_layer_count(q), sc_net_layer_count(f));
    float wq[54], wf[54];
    TU_OK(sc_net_get_layer_param(q, 1, SC_SLOT_WEIGHT, wq, 54));
    TU_OK(sc_net_get_layer_param(f, 1, SC_SLOT_WEIGHT, wf, 54));
    ck_assert(memcmp(wq, wf, sizeof wq) == 0);
    tu_batch b = tu_batch_make(3, 2, 5, 5, 0, 4);
    float *y0 = tu_eval_out(q, &b), *y1 = tu_eval_out(f, &b);
    ck_assert(memcmp(y0, y1, 3 * 4 * sizeof(float)) == 0);
    free(y0);
    free(y1);
    tu_batch_free(&b);
    sc_net_free(q);
    sc_net_free(f);
    q = NULL;
    TU_FAILS(sc_net_import_onnx(&q, data_path("onnx", "bad_dq_scale_count", ".onnx"), NULL),
             SC_ERR_UNSUPPORTED);
    ck_assert_msg(strstr(sc_last_error(), "'dq_w' (DequantizeLinear)") &&
                  strstr(sc_last_error(), "2 scales"), "%s", sc_last_error());
    TU_FAILS(sc_net_import_onnx(&q, data_path("onnx", "bad_add_const", ".onnx"), NULL),
             SC_ERR_UNSUPPORTED);
    ck_assert_msg(strstr(sc_last_error(), "'add' (Add)"), "%s", sc_last_error());
    ck_assert(q == NULL);
}
END_TEST

/* The files tests/onnx_export.sh checks with onnx.checker and a NumPy
 * evaluation: for each net NAME.onnx, a batch NAME.in.f32 and the outputs
 * NAME.out.f32 the graph must give (raw float32), into the folder
 * $SC_ONNX_EXPORT_DIR (else a temporary one). The benchmark nets quantised
 * (cnn, dscnn, seq1d also compressed), the zoo of the other kinds, a
 * loaded model; tinynet with bn_running_stats, its outputs then the eval
 * outputs with running statistics, which the imported net computes. Each
 * file is read back here too: the same outputs bit for bit. */
static void write_case(const char *dir, const char *name, sc_net *net,
                       sc_model *m, int tiny)
{
    char path[600];
    int c, h, w;
    TU_OK(sc_net_layer_shape(net, SC_INPUT, &c, &h, &w));
    tu_batch b = tu_batch_make(4, c, h, w, 0, 23);
    sc_onnx_export_options o = SC_ONNX_EXPORT_OPTIONS_INIT;
    o.bn_running_stats = tiny;
    snprintf(path, sizeof path, "%s/%s.onnx", dir, name);
    TU_OK(m ? sc_model_export_onnx(m, path, &o) : sc_net_export_onnx(net, path, &o));
    sc_net *back;
    TU_OK(sc_net_import_onnx(&back, path, NULL));
    int k = sc_net_output_size(net);
    float *want = m ? tu_model_out(m, &b) : tu_eval_out(tiny ? back : net, &b);
    float *got = tu_eval_out(back, &b);
    ck_assert(memcmp(want, got, (size_t)(4 * k) * sizeof(float)) == 0);
    snprintf(path, sizeof path, "%s/%s.in.f32", dir, name);
    tu_write_all(path, b.data, (size_t)4 * c * h * w * sizeof(float));
    snprintf(path, sizeof path, "%s/%s.out.f32", dir, name);
    tu_write_all(path, want, (size_t)(4 * k) * sizeof(float));
    free(want);
    free(got);
    sc_net_free(back);
    tu_batch_free(&b);
}

START_TEST(test_export_files)
{
    const char *env = getenv("SC_ONNX_EXPORT_DIR");
    int own = env == NULL || *env == '\0';
    if (own)
        tu_make_tmpdir("sc_test_onnx_files");
    const char *dir = own ? tu_tmpdir() : env;
    static const struct { const char *net, *name; int compress; } B[] = {
        {"mlp", "mlp_q", 0},        {"tinynet", "tinynet_q", 0},
        {"cnn", "cnn_qc", 1},       {"dscnn", "dscnn_qc", 1},
        {"seq1d", "seq1d_qc", 1},
    };
    for (size_t i = 0; i < sizeof B / sizeof B[0]; i++) {
        sc_net *net = bench_net(B[i].net, 1, B[i].compress, 200 + i);
        write_case(dir, B[i].name, net, NULL, strcmp(B[i].net, "tinynet") == 0);
        if (strcmp(B[i].net, "dscnn") == 0) {
            char path[600];
            snprintf(path, sizeof path, "%s/dscnn.scm", dir);
            TU_OK(sc_net_save(net, path, NULL));
            sc_model *m;
            TU_OK(sc_model_load(&m, path));
            write_case(dir, "dscnn_model", net, m, 0);
            sc_model_free(m);
            remove(path);
        }
        sc_net_free(net);
    }
    sc_net *zoo = zoo_net(8);
    write_case(dir, "zoo_float", zoo, NULL, 0);
    TU_OK(sc_net_quantize(zoo, SC_ALL_LAYERS));
    write_case(dir, "zoo_q", zoo, NULL, 0);
    sc_net_free(zoo);
    if (own)
        tu_remove_tmpdir();
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("onnx");
    TCase *tc = tcase_create("onnx");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_fixture_matches_pytorch, 0, N_NETS);
    tcase_add_test(tc, test_layers_and_params);
    tcase_add_test(tc, test_imported_net_trains);
    tcase_add_loop_test(tc, test_hostile_file, 0, N_BAD);
    tcase_add_test(tc, test_messages_name_the_node);
    tcase_add_test(tc, test_every_truncation);
    tcase_add_test(tc, test_garbage_and_mutations);
    tcase_add_test(tc, test_deep_nesting);
    tcase_add_test(tc, test_arguments_and_caps);
    suite_add_tcase(s, tc);
    TCase *ex = tcase_create("export");
    tcase_set_timeout(ex, 300);
    tcase_add_loop_test(ex, test_export_round_trip, 0, N_RT);
    tcase_add_test(ex, test_export_zoo_round_trip);
    tcase_add_test(ex, test_export_integer_form);
    tcase_add_test(ex, test_export_model);
    tcase_add_test(ex, test_export_refusals);
    tcase_add_test(ex, test_import_dequantize);
    suite_add_tcase(s, ex);
    TCase *files = tcase_create("export_files");
    tcase_set_timeout(files, 300);
    tcase_add_test(files, test_export_files);
    suite_add_tcase(s, files);
    return s;
}

int main(void) { return tu_run_suite(suite(), CK_ENV); }
