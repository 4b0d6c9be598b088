/* testutil.c -- helpers shared by every test program. */
#define _POSIX_C_SOURCE 200809L
#include "util/testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "engine/net.h"
#include "io/bytes.h"
#include "ops/ops.h"

void tu_lcg_seed(tu_lcg *r, uint64_t seed)
{
    r->s = seed * 2862933555777941757ull + 3037000493ull;
}

uint32_t tu_lcg_next(tu_lcg *r)
{
    r->s = r->s * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(r->s >> 32);
}

double tu_lcg_uniform(tu_lcg *r) { return tu_lcg_next(r) / 4294967296.0; }

double tu_lcg_range(tu_lcg *r, double lo, double hi)
{
    return lo + (hi - lo) * tu_lcg_uniform(r);
}

int tu_lcg_int(tu_lcg *r, int k) { return (int)(tu_lcg_uniform(r) * k); }

double tu_lcg_normal(tu_lcg *r)
{
    double s = 0.0;
    for (int i = 0; i < 12; i++)
        s += tu_lcg_uniform(r);
    return s - 6.0;
}

void tu_fill(tu_lcg *r, float *a, size_t n, double lo, double hi)
{
    for (size_t i = 0; i < n; i++)
        a[i] = (float)tu_lcg_range(r, lo, hi);
}

void tu_labels(tu_lcg *r, int32_t *labels, int n, int k)
{
    for (int i = 0; i < n; i++)
        labels[i] = tu_lcg_int(r, k);
}

static char marker[512];

void tu_clear_error(void)
{
    sc_tensor *t = NULL;
    int64_t shape[1] = {1};
    /* ndim 99 is never used by a test, so this message is unique */
    sc_status st = sc_tensor_create(&t, 99, shape);
    ck_assert_int_eq(st, SC_ERR_ARG);
    ck_assert_ptr_null(t);
    strncpy(marker, sc_last_error(), sizeof marker - 1);
    ck_assert(marker[0] != '\0');
}

const char *tu_marker_message(void) { return marker; }

/* min |v| over a buffer */
static double min_abs(const float *v, size_t n)
{
    double m = INFINITY;
    for (size_t i = 0; i < n; i++)
        m = fmin(m, fabs((double)v[i]));
    return m;
}

/* min |v - k| over a buffer */
static double min_dist(const float *v, size_t n, double k)
{
    double m = INFINITY;
    for (size_t i = 0; i < n; i++)
        m = fmin(m, fabs((double)v[i] - k));
    return m;
}

/* largest minus second largest of the values at idx[0..cnt) */
static double gap(const float *xp, const int *idx, int cnt)
{
    double best = -INFINITY, second = -INFINITY;
    for (int i = 0; i < cnt; i++) {
        double v = xp[idx[i]];
        if (v > best) {
            second = best;
            best = v;
        } else if (v > second) {
            second = v;
        }
    }
    return cnt < 2 ? INFINITY : best - second;
}

double tu_kink_margin(sc_net *net, const float *x, int n)
{
    ck_assert_int_eq(sc_plan(net, n), SC_OK);
    net->input = x;
    /* a full pass sets every buffer pointer (aliases included); the second
     * pass, op by op, reads each relu's input before the relu runs (a relu
     * may work in place, overwriting its input) */
    sc_forward(net, n);
    /* unfused, so that a batch norm leaves its relu's input for us to read */
    int *fl = malloc(2 * (size_t)net->n_nodes * sizeof *fl);
    ck_assert_ptr_nonnull(fl);
    for (int i = 0; i < net->n_nodes; i++) {
        fl[2 * i] = net->nodes[i].fuse_relu;
        fl[2 * i + 1] = net->nodes[i].fused;
        net->nodes[i].fuse_relu = net->nodes[i].fused = 0;
    }
    double margin = INFINITY;
    for (int i = 1; i < net->n_nodes; i++) {
        sc_node *nd = &net->nodes[i], *in = &net->nodes[nd->in[0]];
        size_t isz = sc_node_size(in), hw = (size_t)in->h * in->w;
        size_t cnt = (size_t)n * isz;
        if (nd->kind == SC_LAYER_RELU || nd->kind == SC_LAYER_LEAKY_RELU)
            margin = fmin(margin, min_abs(in->y, cnt));
        if (nd->kind == SC_LAYER_RELU6)
            margin = fmin(margin, fmin(min_abs(in->y, cnt),
                                       min_dist(in->y, cnt, 6.0)));
        if (nd->kind == SC_LAYER_HARDSWISH)
            margin = fmin(margin, fmin(min_dist(in->y, cnt, -3.0),
                                       min_dist(in->y, cnt, 3.0)));
        sc_ops[nd->kind].fn(net, nd, OP_FORWARD);
        if (nd->kind == SC_LAYER_GMAXPOOL) {
            int *idx = malloc(hw * sizeof *idx);
            for (size_t k = 0; k < hw; k++)
                idx[k] = (int)k;
            for (size_t p = 0; p < (size_t)n * in->c; p++)
                margin = fmin(margin, gap(in->y + p * hw, idx, (int)hw));
            free(idx);
        }
        if (nd->kind == SC_LAYER_MAXPOOL) {
            int cnt = 0;
            int *idx = malloc((size_t)nd->kh * nd->kw * sizeof *idx);
            for (size_t p = 0; p < (size_t)n * in->c; p++)
                for (int oy = 0; oy < nd->h; oy++)
                    for (int ox = 0; ox < nd->w; ox++) {
                        int y0, y1, x0, x1;
                        sc_window_span(oy, nd->kh, nd->sh, nd->ph, in->h, &y0, &y1);
                        sc_window_span(ox, nd->kw, nd->sw, nd->pw, in->w, &x0, &x1);
                        cnt = 0;
                        for (int a = y0; a < y1; a++)
                            for (int b = x0; b < x1; b++)
                                idx[cnt++] = a * in->w + b;
                        margin = fmin(margin, gap(in->y + p * hw, idx, cnt));
                    }
            free(idx);
        }
    }
    for (int i = 0; i < net->n_nodes; i++) {
        net->nodes[i].fuse_relu = fl[2 * i];
        net->nodes[i].fused = fl[2 * i + 1];
    }
    free(fl);
    return margin;
}

float *tu_params(const sc_net *net, size_t *count)
{
    size_t n = sc_net_param_count(net);
    float *p = malloc((n ? n : 1) * sizeof *p);
    ck_assert_ptr_nonnull(p);
    ck_assert_int_eq(sc_net_get_params(net, p, n), SC_OK);
    if (count)
        *count = n;
    return p;
}

int tu_params_equal(const sc_net *net, const float *buf, size_t count)
{
    size_t n = sc_net_param_count(net);
    if (n != count)
        return 0;
    float *now = tu_params(net, NULL);
    int eq = memcmp(now, buf, n * sizeof *now) == 0;
    free(now);
    return eq;
}

double tu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

tu_batch tu_batch_make(int n, int c, int h, int w, int classes, uint64_t seed)
{
    tu_batch b = {n, c, h, w, NULL, NULL, NULL};
    tu_lcg r;
    tu_lcg_seed(&r, seed);
    size_t numel = (size_t)n * c * h * w;
    b.data = malloc(numel * sizeof(float));
    ck_assert_ptr_nonnull(b.data);
    tu_fill(&r, b.data, numel, -1.0, 1.0);
    if (classes > 0) {
        b.labels = malloc((size_t)n * sizeof(int32_t));
        ck_assert_ptr_nonnull(b.labels);
        tu_labels(&r, b.labels, n, classes);
    }
    int64_t shape[4] = {n, c, h, w};
    TU_OK(sc_tensor_wrap(&b.x, 4, shape, b.data));
    return b;
}

void tu_batch_free(tu_batch *b)
{
    sc_tensor_free(b->x);
    free(b->data);
    free(b->labels);
}

float *tu_eval_out(sc_net *net, const tu_batch *b)
{
    int k = sc_net_output_size(net);
    int64_t shape[2] = {b->n, k};
    sc_tensor *out;
    TU_OK(sc_tensor_create(&out, 2, shape));
    TU_OK(sc_net_set_training(net, 0));
    TU_OK(sc_net_forward(net, b->x, out));
    TU_OK(sc_net_set_training(net, 1));
    float *v = malloc((size_t)b->n * k * sizeof(float));
    ck_assert_ptr_nonnull(v);
    TU_OK(sc_tensor_copy_to(out, v, (size_t)b->n * k));
    sc_tensor_free(out);
    return v;
}

void tu_settle_bn(sc_net *net)
{
    int c, h, w;
    TU_OK(sc_net_layer_shape(net, SC_INPUT, &c, &h, &w));
    tu_batch big = tu_batch_make(4096, c, h, w, 0, 777);
    double m;
    TU_OK(sc_net_get_param(net, SC_PARAM_BN_MOMENTUM, &m));
    TU_OK(sc_net_set_param(net, SC_PARAM_BN_MOMENTUM, 1.0));
    TU_OK(sc_net_update_bn_stats(net, big.x));
    TU_OK(sc_net_set_param(net, SC_PARAM_BN_MOMENTUM, m));
    tu_batch_free(&big);
}

float *tu_model_out(sc_model *m, const tu_batch *b)
{
    int k = sc_model_output_size(m);
    int64_t shape[2] = {b->n, k};
    sc_tensor *out;
    TU_OK(sc_tensor_create(&out, 2, shape));
    TU_OK(sc_model_forward(m, b->x, out));
    float *v = malloc((size_t)b->n * k * sizeof(float));
    ck_assert_ptr_nonnull(v);
    TU_OK(sc_tensor_copy_to(out, v, (size_t)b->n * k));
    sc_tensor_free(out);
    return v;
}

static char tmpdir[128];

void tu_make_tmpdir(const char *prefix)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/%s.XXXXXX", prefix);
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

void tu_remove_tmpdir(void)
{
    char cmd[192];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    ck_assert_int_eq(system(cmd), 0);
}

const char *tu_tmpdir(void) { return tmpdir; }

char *tu_path(const char *name)
{
    static char p[4][192];
    static int k;
    k = (k + 1) % 4;
    snprintf(p[k], sizeof p[k], "%s/%s", tmpdir, name);
    return p[k];
}

unsigned char *tu_read_all(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
    long len = ftell(f);
    ck_assert_int_ge(len, 0);
    rewind(f);
    unsigned char *d = malloc((size_t)len + 1);
    ck_assert_ptr_nonnull(d);
    ck_assert_uint_eq(fread(d, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    *n = (size_t)len;
    return d;
}

void tu_write_all(const char *path, const void *d, size_t n)
{
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "cannot create %s", path);
    ck_assert_uint_eq(fwrite(d, 1, n, f), n);
    ck_assert_int_eq(fclose(f), 0);
}

void tu_reseal(unsigned char *d, size_t n)
{
    for (int i = 0; i < 8; i++)
        d[12 + i] = (unsigned char)((uint64_t)(n - 24) >> (8 * i));
    uint32_t c = sc_crc32(0, d, n - 4);
    for (int i = 0; i < 4; i++)
        d[n - 4 + i] = (unsigned char)(c >> (8 * i));
}

int tu_run_suite(Suite *s, enum print_output mode)
{
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, mode);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

void tu_random_bn(sc_net *net, uint64_t seed)
{
    tu_lcg r;
    tu_lcg_seed(&r, seed);
    for (int id = 1; id < sc_net_layer_count(net); id++) {
        if (sc_net_layer_kind(net, id) != SC_LAYER_BATCHNORM)
            continue;
        int64_t shape[4];
        int nd;
        TU_OK(sc_net_layer_param_shape(net, id, SC_SLOT_RUNNING_MEAN, shape, &nd));
        size_t n = (size_t)shape[0];
        float *f = malloc(n * sizeof *f);
        static const struct { sc_layer_slot slot; double lo, hi; } s[4] = {
            {SC_SLOT_RUNNING_MEAN, -0.5, 0.5}, {SC_SLOT_RUNNING_VAR, 0.5, 2.0},
            {SC_SLOT_NORM_SCALE, 0.5, 1.5}, {SC_SLOT_NORM_SHIFT, -0.5, 0.5}};
        sc_layer_desc d = SC_LAYER_DESC_INIT(SC_LAYER_INPUT);
        TU_OK(sc_net_layer_desc(net, id, &d, NULL, NULL));
        for (int k = 0; k < ((d.flags & SC_BN_AFFINE) ? 4 : 2); k++) {
            tu_fill(&r, f, n, s[k].lo, s[k].hi);
            TU_OK(sc_net_set_layer_param(net, id, s[k].slot, f, n));
        }
        free(f);
    }
}

void tu_kill_and_compress(sc_net *net)
{
    int last = sc_net_layer_count(net) - 1;
    for (int id = 1; id < last; id++) {
        if (!sc_net_is_quantized(net, id))
            continue;
        int c, h, w;
        TU_OK(sc_net_layer_shape(net, id, &c, &h, &w));
        float *b = malloc((size_t)c * sizeof *b);
        TU_OK(sc_net_get_quant(net, id, b, NULL, (size_t)c));
        for (int o = 1; o < c; o += 4)
            b[o] = 0.0f;
        TU_OK(sc_net_set_quant(net, id, b, NULL, (size_t)c));
        free(b);
    }
    int removed = 0;
    TU_OK(sc_net_compress(net, &removed));
    ck_assert_int_gt(removed, 0);
}
