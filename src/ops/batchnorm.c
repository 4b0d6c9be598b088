/* batchnorm.c -- y = g (x - mean) / sqrt(var + eps) + beta per channel;
 * batch statistics in training (or always, with SC_BN_BATCH_STATS).
 * With nd->fuse_relu the relu that follows in place is applied here too:
 * y = max(bn(x), 0), and dy is masked by bn(x) > 0 where it is read. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cgen/cgen.h"
#include "core/error.h"
#include "core/simd.h"
#include "core/vec.h"
#include "int8/q8.h"
#include "ops/ops.h"

typedef struct bn_job {
    sc_net *net;
    sc_node *nd, *x;
    int n, hw, batch;
} bn_job;

static int uses_batch_stats(const sc_net *net, const sc_node *nd)
{
    return net->training || (nd->flags & SC_BN_BATCH_STATS);
}

/* the affine map the forward applies: bn(x) = x scale + shift */
static void affine(const bn_job *j, size_t ch, float *scale, float *shift)
{
    sc_node *nd = j->nd;
    const float *g = sc_node_param(j->net, nd, P_GAMMA);
    const float *beta = sc_node_param(j->net, nd, P_BETA);
    float mean = nd->save[ch], invstd = nd->save[nd->c + ch];
    *scale = g ? g[ch] * invstd : invstd;
    *shift = (beta ? beta[ch] : 0.0f) - mean * *scale;
}

SC_SIMD_CLONES
static void forward_task(void *ctx, size_t b, size_t e, int t)
{
    (void)t;
    const bn_job *j = ctx;
    sc_node *nd = j->nd;
    int c = nd->c, hw = j->hw;
    const float *rm = sc_node_state(j->net, nd, S_MEAN);
    const float *rv = sc_node_state(j->net, nd, S_VAR);
    float eps = (float)j->net->bn_eps;
    for (size_t ch = b; ch < e; ch++) {
        float mean, var;
        if (j->batch) { /* both moments in one pass, shifted by x[0] */
            const float *x0 = j->x->y + ch * hw;
            double s1 = 0.0, s2 = 0.0, m = (double)j->n * hw;
            for (int i = 0; i < j->n; i++)
                sc_moments_shift(j->x->y + ((size_t)i * c + ch) * hw,
                                 (size_t)hw, x0[0], &s1, &s2);
            double d = s1 / m, v = s2 / m - d * d;
            mean = (float)(x0[0] + d);
            var = (float)(v > 0.0 ? v : 0.0);
        } else {
            mean = rm[ch];
            var = rv[ch];
        }
        float invstd = 1.0f / sqrtf(var + eps);
        nd->save[ch] = mean;
        nd->save[c + ch] = invstd;
        nd->save[2 * c + ch] = var;
        float scale, shift;
        affine(j, ch, &scale, &shift);
        float lo = nd->fuse_relu ? 0.0f : -INFINITY;
        for (int i = 0; i < j->n; i++) {
            const float *restrict xp = j->x->y + ((size_t)i * c + ch) * hw;
            float *restrict yp = nd->y + ((size_t)i * c + ch) * hw;
            for (int k = 0; k < hw; k++) {
                float v = xp[k] * scale + shift;
                yp[k] = v > lo ? v : lo;
            }
        }
    }
}

/* dy of sample i's plane at `at`; under a fused relu masked by y > 0 into
 * sample i's plane of buf (the channel's masked dy stays there, in L2, for
 * the second pass). y > 0 is recomputed from x, which this pass reads
 * anyway, rather than read from y: the same float expression as the
 * forward's, so the same mask, one stream of memory fewer. Both loads
 * unconditional, so the select vectorises. */
#define GRAD_IN(i, at)                                                        \
    (nd->fuse_relu ? mask(j->x->y + (at), scale, shift, nd->dy + (at),       \
                          buf + (size_t)(i) * hw, hw)                         \
                   : nd->dy + (at))
#define GRAD_AGAIN(i, at)                                                     \
    (nd->fuse_relu ? buf + (size_t)(i) * hw : nd->dy + (at))

static inline const float *mask(const float *restrict x, float scale,
                                float shift, const float *restrict dy,
                                float *restrict buf, int n)
{
    for (int k = 0; k < n; k++) {
        float d = dy[k];
        buf[k] = x[k] * scale + shift > 0.0f ? d : 0.0f;
    }
    return buf;
}

SC_SIMD_CLONES
static void backward_task(void *ctx, size_t b, size_t e, int t)
{
    const bn_job *j = ctx;
    sc_node *nd = j->nd;
    int c = nd->c, hw = j->hw;
    const float *g = sc_node_param(j->net, nd, P_GAMMA);
    float *dg = sc_node_grad(j->net, nd, P_GAMMA);
    float *dbeta = sc_node_grad(j->net, nd, P_BETA);
    float *buf = sc_thread_scratch(j->net, t);
    for (size_t ch = b; ch < e; ch++) {
        float mean = nd->save[ch], invstd = nd->save[c + ch];
        float gc = g ? g[ch] : 1.0f, scale, shift;
        affine(j, ch, &scale, &shift);
        double sdy = 0.0, sdyx = 0.0; /* sums of dy and dy * xhat */
        for (int i = 0; i < j->n; i++) {
            size_t at = ((size_t)i * c + ch) * hw;
            sc_sum_dot_dev(GRAD_IN(i, at), j->x->y + at, (size_t)hw, mean,
                           &sdy, &sdyx);
        }
        sdyx *= invstd;
        if (dg)
            dg[ch] += (float)sdyx;
        if (dbeta)
            dbeta[ch] += (float)sdy;
        if (j->x->dy == NULL)
            continue;
        float a = gc * invstd, mdy = 0.0f, mdyx = 0.0f;
        if (j->batch) { /* dx = g invstd (dy - mean(dy) - xhat mean(dy xhat)) */
            double m = (double)j->n * hw;
            mdy = (float)(sdy / m);
            mdyx = (float)(sdyx / m);
        }
        float bb = invstd * mdyx;
        for (int i = 0; i < j->n; i++) {
            size_t at = ((size_t)i * c + ch) * hw;
            const float *restrict xp = j->x->y + at;
            const float *restrict dyp = GRAD_AGAIN(i, at);
            float *restrict dxp = j->x->dy + at;
            if (j->x->dy_set)
                for (int k = 0; k < hw; k++)
                    dxp[k] = a * (dyp[k] - mdy - (xp[k] - mean) * bb);
            else
                for (int k = 0; k < hw; k++)
                    dxp[k] += a * (dyp[k] - mdy - (xp[k] - mean) * bb);
        }
    }
}

/* running statistics += momentum * (batch statistics - running), the
 * variance unbiased by m / (m - 1) over the m values of a channel */
/* The running statistics after this batch, into rm and rv (which may be
 * the node's own): the one rule that both the commit and its check use. */
static void next_stats(sc_net *net, sc_node *nd, float *rm, float *rv)
{
    float mom = (float)net->bn_momentum;
    sc_node *x = sc_in(net, nd, 0);
    double m = (double)net->plan_n * x->h * x->w;
    float unbias = m > 1 ? (float)(m / (m - 1)) : 1.0f;
    const float *om = sc_node_state(net, nd, S_MEAN),
                *ov = sc_node_state(net, nd, S_VAR);
    for (int c = 0; c < nd->c; c++) {
        float a = (1 - mom) * om[c] + mom * nd->save[c];
        float b = (1 - mom) * ov[c] + mom * nd->save[2 * nd->c + c] * unbias;
        rm[c] = a;
        rv[c] = b;
    }
}

static void commit(sc_net *net, sc_node *nd)
{
    next_stats(net, nd, sc_node_state(net, nd, S_MEAN),
               sc_node_state(net, nd, S_VAR));
}

/* The check writes into the thread 0 scratch, which holds nothing
 * between ops. */
static sc_status commit_check(sc_net *net, sc_node *nd)
{
    float *m = sc_thread_scratch(net, 0), *v = m + nd->c;
    next_stats(net, nd, m, v);
    for (int c = 0; c < nd->c; c++)
        if (!isfinite(m[c]) || !isfinite(v[c]))
            return sc_fail(SC_ERR_DIVERGED, "batch norm layer %d channel %d: "
                           "the running statistics would not be finite "
                           "(batch mean %g, variance %g)", (int)(nd - net->nodes), c,
                           (double)nd->save[c], (double)nd->save[2 * nd->c + c]);
    return SC_OK;
}

sc_status sc_op_batchnorm(sc_net *net, sc_node *nd, sc_op_action action)
{
    sc_node *x = sc_in(net, nd, 0);
    bn_job j = {net, nd, x, net->plan_n, x->h * x->w,
                uses_batch_stats(net, nd)};
    switch (action) {
    case OP_SHAPE:
        nd->c = x->c;
        nd->h = x->h;
        nd->w = x->w;
        nd->pn[P_GAMMA] = nd->pn[P_BETA] =
            (nd->flags & SC_BN_AFFINE) ? (size_t)x->c : 0;
        nd->sn[S_MEAN] = nd->sn[S_VAR] = (size_t)x->c;
        return SC_OK;
    case OP_SCRATCH: { /* backward: a channel's masked dy per thread; the
                          commit check: the next statistics */
        size_t need = (size_t)j.n * j.hw;
        if (need < 2 * (size_t)nd->c)
            need = 2 * (size_t)nd->c;
        need = sc_up16(need);
        if (need > net->scratch_per_thread)
            net->scratch_per_thread = need;
        nd->n_save = 3 * (size_t)nd->c; /* batch mean, invstd, var */
        return SC_OK;
    }
    case OP_COMMIT:
        commit(net, nd);
        return SC_OK;
    case OP_COMMIT_CHECK:
        return commit_check(net, nd);
    case OP_FORWARD:
        sc_pool_run(net->pool, (size_t)nd->c, forward_task, &j);
        return SC_OK;
    case OP_BACKWARD:
        sc_pool_run(net->pool, (size_t)nd->c, backward_task, &j);
        return SC_OK;
    }
    return sc_fail(SC_ERR_ARG, "batchnorm: unknown action %d", action);
}

SC_API sc_status sc_net_batchnorm(sc_net *net, int in, int flags, int *id)
{
    sc_layer_desc d = SC_LAYER_DESC_INIT(SC_LAYER_BATCHNORM);
    d.flags = flags;
    return sc_layer_append(net, &d, &in, 1, id, "sc_net_batchnorm");
}

/* ---- int8 ---- */

/* channel ch's affine map from its mean and variance, as the forward's */
static void q8_affine(const sc_net *net, const sc_node *nd, int ch, float mean,
                      float var, float *a, float *b)
{
    const float *g = sc_node_param((sc_net *)net, (sc_node *)nd, P_GAMMA);
    const float *beta = sc_node_param((sc_net *)net, (sc_node *)nd, P_BETA);
    float invstd = 1.0f / sqrtf(var + (float)net->bn_eps);
    *a = g ? g[ch] * invstd : invstd;
    *b = (beta ? beta[ch] : 0.0f) - mean * *a;
}

/* the requantisation of each channel: m and b (one sc_q8mul and int64_t per
 * channel in priv) from the affine maps */
static int q8_tables(sc_q8 *q, sc_node *nd, const float *a, const float *b)
{
    sc_q8node *qn = sc_q8_of(q, nd);
    sc_q8mul *mul = qn->priv;
    int64_t *off = (int64_t *)(mul + nd->c);
    const sc_q8t tin = sc_q8_in(q, nd, 0)->t, tout = qn->t;
    for (int ch = 0; ch < nd->c; ch++) {
        if (!sc_q8_multiplier((double)a[ch] * tin.s / tout.s, &mul[ch]))
            return 0;
        off[ch] = sc_q8_offset((double)b[ch] / tout.s, tout.z, mul[ch], 255);
    }
    return 1;
}

/* int8 batch statistics of channel ch, from the input's bytes */
static void q8_moments(sc_q8 *q, const sc_node *nd, int ch, float *mean,
                       float *var)
{
    const sc_node *x = &q->net->nodes[nd->in[0]];
    const sc_q8node *qx = sc_q8_in(q, nd, 0);
    size_t hw = (size_t)x->h * x->w;
    int64_t s1 = 0, s2 = 0;
    for (int i = 0; i < q->plan_n; i++) {
        const uint8_t *p = qx->y + ((size_t)i * x->c + ch) * hw;
        for (size_t k = 0; k < hw; k++) {
            int64_t v = p[k] - qx->t.z;
            s1 += v;
            s2 += v * v;
        }
    }
    double m = (double)q->plan_n * hw, d = s1 / m, v = s2 / m - d * d;
    *mean = (float)(qx->t.s * d);
    *var = (float)((double)qx->t.s * qx->t.s * (v > 0.0 ? v : 0.0));
}

/* C for one sample of a norm with batch statistics: q8_moments, q8_affine
 * and q8_tables on the sample's bytes (a multiplier out of range gives the
 * bytes of offsets the forward computed before it, 0 after) */
static void q8_emit_batch(sc_q8 *q, sc_node *nd, const char *x,
                          const char *y)
{
    sc_cgen *g = q->cg;
    const float *ga = sc_node_param(q->net, nd, P_GAMMA);
    const float *be = sc_node_param(q->net, nd, P_BETA);
    int ag = ga ? sc_cgen_array(g, SC_CG_F32, ga, (size_t)nd->c) : -1;
    int ab = be ? sc_cgen_array(g, SC_CG_F32, be, (size_t)nd->c) : -1;
    sc_q8_emit_mult(g);
    if (sc_cgen_once(g, "q8_bn_batch"))
        sc_cgen_def(g,
            "/* a batch norm with the statistics of the sample */\n"
            "typedef struct q8bnb {\n"
            "    int c, hw, zin, zout;\n"
            "    float sin, sout, eps;\n"
            "    const float *g, *beta;\n"
            "} q8bnb;\n"
            "static void q8_bn_batch(const q8bnb *B, const uint8_t *x, uint8_t *y)\n"
            "{\n"
            "    int fail = B->c; /* the first channel out of range */\n"
            "    for (int pass = 0; pass < 2; pass++)\n"
            "        for (int ch = 0; ch < B->c; ch++) {\n"
            "            const uint8_t *p = x + (size_t)ch * (size_t)B->hw;\n"
            "            uint8_t *out = y + (size_t)ch * (size_t)B->hw;\n"
            "            int64_t s1 = 0, s2 = 0, off;\n"
            "            double n = (double)B->hw, d, v;\n"
            "            float mean, var, invstd, a, b;\n"
            "            int32_t m;\n"
            "            int sh, ok;\n"
            "            for (int k = 0; k < B->hw; k++) {\n"
            "                int64_t u = p[k] - B->zin;\n"
            "                s1 += u;\n"
            "                s2 += u * u;\n"
            "            }\n"
            "            d = s1 / n;\n"
            "            v = s2 / n - d * d;\n"
            "            mean = (float)(B->sin * d);\n"
            "            var = (float)((double)B->sin * B->sin * (v > 0.0 ? v : 0.0));\n"
            "            invstd = 1.0f / sqrtf(var + B->eps);\n"
            "            a = B->g ? B->g[ch] * invstd : invstd;\n"
            "            b = (B->beta ? B->beta[ch] : 0.0f) - mean * a;\n"
            "            ok = q8_mult((double)a * B->sin / B->sout, &m, &sh);\n"
            "            if (pass == 0) {\n"
            "                if (!ok && fail == B->c)\n"
            "                    fail = ch;\n"
            "                continue;\n"
            "            }\n"
            "            off = q8_off((double)b / B->sout, B->zout, m, sh, 255);\n"
            "            for (int k = 0; k < B->hw; k++)\n"
            "                out[k] = fail == B->c\n"
            "                             ? q8_rq(p[k] - B->zin, m, sh, off, 0, 255)\n"
            "                             : ch < fail ? q8_rq(0, 0, 0, off, 0, 255) : 0;\n"
            "        }\n"
            "}\n");
    const sc_q8t tin = sc_q8_in(q, nd, 0)->t, tout = sc_q8_of(q, nd)->t;
    char fin[40], fout[40], feps[40], pg[16] = "0", pb[16] = "0";
    if (ag >= 0)
        snprintf(pg, sizeof pg, "k%d", ag);
    if (ab >= 0)
        snprintf(pb, sizeof pb, "k%d", ab);
    int id = g->n_arrays++, i = (int)(nd - q->net->nodes);
    sc_cgen_def(g, "static const q8bnb n%d = {%d, %d, %d, %d, %s, %s, %s, %s, "
                "%s};\n", id, nd->c, nd->h * nd->w, tin.z, tout.z,
                sc_cgen_float(fin, tin.s), sc_cgen_float(fout, tout.s),
                sc_cgen_float(feps, (float)q->net->bn_eps), pg, pb);
    sc_cgen_code(g, "    q8_bn_batch(&n%d, %s, %s); /* layer %d */\n", id, x, y,
                 i);
}

/* C for one sample: the requantisation of each channel (Q8_PREPARE's) */
static sc_status q8_emit(sc_q8 *q, sc_node *nd)
{
    sc_cgen *g = q->cg;
    int i = (int)(nd - q->net->nodes);
    const char *x = sc_cgen_y(g, nd->in[0]), *y = sc_cgen_y(g, i);
    if (nd->flags & SC_BN_BATCH_STATS) {
        q8_emit_batch(q, nd, x, y);
        return SC_OK;
    }
    const sc_q8mul *mul = sc_q8_of(q, nd)->priv;
    int32_t *m = malloc((size_t)nd->c * sizeof *m);
    uint8_t *sh = malloc((size_t)nd->c);
    if (m == NULL || sh == NULL) {
        free(m);
        free(sh);
        return sc_fail(SC_ERR_NOMEM, "out of memory");
    }
    for (int ch = 0; ch < nd->c; ch++) {
        m[ch] = mul[ch].m;
        sh[ch] = (uint8_t)mul[ch].shift;
    }
    sc_q8_emit_arith(g);
    int am = sc_cgen_array(g, SC_CG_I32, m, (size_t)nd->c);
    int as = sc_cgen_array(g, SC_CG_U8, sh, (size_t)nd->c);
    int ao = sc_cgen_array(g, SC_CG_I64, mul + nd->c, (size_t)nd->c);
    free(m);
    free(sh);
    sc_cgen_code(g, "    { /* layer %d: a batch norm */\n"
                    "        const uint8_t *x = %s;\n"
                    "        uint8_t *y = %s;\n"
                    "        for (int ch = 0; ch < %d; ch++)\n"
                    "            for (int k = 0; k < %d; k++, x++, y++)\n"
                    "                *y = q8_rq(*x - %d, k%d[ch], k%d[ch], k%d[ch], 0, 255);\n"
                    "    }\n", i, x, y, nd->c, nd->h * nd->w,
                 sc_q8_in(q, nd, 0)->t.z, am, as, ao);
    return SC_OK;
}

sc_status sc_q8_batchnorm(sc_q8 *q, sc_node *nd, int action)
{
    sc_net *net = q->net;
    int batch = (nd->flags & SC_BN_BATCH_STATS) != 0;
    const float *rm = sc_node_state(net, nd, S_MEAN);
    const float *rv = sc_node_state(net, nd, S_VAR);
    sc_q8node *qn = sc_q8_of(q, nd);
    switch (action) {
    case Q8_AFFINE:
        if (batch)
            return SC_ERR_UNSUPPORTED;
        for (int ch = 0; ch < nd->c; ch++)
            q8_affine(net, nd, ch, rm[ch], rv[ch], &q->aff_a[ch], &q->aff_b[ch]);
        return SC_OK;
    case Q8_PREPARE: {
        size_t bytes = (size_t)nd->c * (sizeof(sc_q8mul) + sizeof(int64_t));
        free(qn->priv);
        qn->priv = malloc(bytes);
        qn->priv_bytes = bytes;
        if (qn->priv == NULL)
            return sc_fail(SC_ERR_NOMEM, "out of memory");
        if (batch)
            return SC_OK;
        for (int ch = 0; ch < nd->c; ch++)
            q8_affine(net, nd, ch, rm[ch], rv[ch], &q->aff_a[ch], &q->aff_b[ch]);
        return q8_tables(q, nd, q->aff_a, q->aff_b)
                   ? SC_OK
                   : sc_fail(SC_ERR_UNSUPPORTED, "a channel's scale is out of "
                             "range");
    }
    case Q8_FORWARD: {
        if (batch) {
            for (int ch = 0; ch < nd->c; ch++) {
                float mean, var;
                q8_moments(q, nd, ch, &mean, &var);
                q8_affine(net, nd, ch, mean, var, &q->aff_a[ch], &q->aff_b[ch]);
            }
            if (!q8_tables(q, nd, q->aff_a, q->aff_b)) /* a constant map */
                memset(qn->priv, 0, (size_t)nd->c * sizeof(sc_q8mul));
        }
        const sc_q8node *qx = sc_q8_in(q, nd, 0);
        const sc_q8mul *mul = qn->priv;
        const int64_t *off = (const int64_t *)(mul + nd->c);
        size_t hw = (size_t)nd->h * nd->w;
        for (int i = 0; i < q->plan_n; i++)
            for (int ch = 0; ch < nd->c; ch++) {
                size_t at = ((size_t)i * nd->c + ch) * hw;
                for (size_t k = 0; k < hw; k++)
                    qn->y[at + k] = sc_q8_requant(qx->y[at + k] - qx->t.z,
                                                  mul[ch], off[ch], 0, 255);
            }
        return SC_OK;
    }
    case Q8_EMIT:
        return q8_emit(q, nd);
    default:
        return SC_ERR_UNSUPPORTED;
    }
}
