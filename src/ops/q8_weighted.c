/* q8_weighted.c -- what int8 dense and conv layers share: the weights as
 * int8 levels with a scale per output channel, and the requantisation of
 * each channel with the norm and clamp folded into it (int8/q8.h). */
#include <math.h>
#include <string.h>

#include "cgen/cgen.h"
#include "core/checked.h"
#include "core/error.h"
#include "core/simd.h"
#include "int8/q8.h"
#include "quant/mantissa.h"
#include "quant/quantizer.h"

static size_t up64(size_t n) { return (n + 63) / 64 * 64; }

/* Row o of the layer's weights as int8 levels, and their scale: a model's
 * integer levels (a channel of more than 8 bits rounded to its top 8), or
 * float weights over max |w| / 127. */
static void int8_rows(const sc_net *net, const sc_node *nd, const int32_t *lv,
                      size_t k, int8_t *w, float *sw)
{
    for (int o = 0; o < nd->c; o++) {
        int8_t *row = w + (size_t)o * k;
        if (nd->mant) {
            unsigned bits = nd->mant->bits[o];
            int drop = bits > 8 ? (int)bits - 8 : 0;
            sw[o] = ldexpf(sc_quant_chan((float)bits, nd->mant->exp[o]).s, drop);
            for (size_t j = 0; j < k; j++) {
                int64_t v = lv[(size_t)o * k + j];
                if (drop) /* round half up */
                    v = sc_q8_floor_shift(v + ((int64_t)1 << (drop - 1)), drop);
                row[j] = (int8_t)(v > 127 ? 127 : v < -128 ? -128 : v);
            }
            continue;
        }
        const float *f = sc_node_param((sc_net *)net, (sc_node *)nd, P_W) +
                         (size_t)o * k;
        float a = 0.0f;
        for (size_t j = 0; j < k; j++)
            a = fabsf(f[j]) > a ? fabsf(f[j]) : a;
        sw[o] = a > 0.0f ? a / 127.0f : 1.0f;
        for (size_t j = 0; j < k; j++)
            row[j] = (int8_t)nearbyintf(f[j] / sw[o]);
    }
}

/* The chain folded into the layer: y = a x + b per channel (identity when
 * none), then the clamp [lo, hi] in real values. */
static void chain(sc_q8 *q, const sc_node *nd, double *a, double *b,
                  double *lo, double *hi)
{
    sc_net *net = q->net;
    for (int o = 0; o < nd->c; o++) {
        a[o] = 1.0;
        b[o] = 0.0;
    }
    *lo = -INFINITY;
    *hi = INFINITY;
    for (int j = sc_q8_of(q, nd)->next; j >= 0; j = q->nodes[j].next) {
        sc_node *r = &net->nodes[j];
        if (sc_ops[r->kind].q8(q, r, Q8_AFFINE) == SC_OK) {
            for (int o = 0; o < nd->c; o++) {
                a[o] *= q->aff_a[o];
                b[o] = b[o] * q->aff_a[o] + q->aff_b[o];
            }
        } else {
            sc_ops[r->kind].q8(q, r, Q8_CLAMP);
            *lo = q->clamp_lo;
            *hi = q->clamp_hi;
        }
    }
}

sc_status sc_q8_weighted_prepare(sc_q8 *q, sc_node *nd, int k, int groups,
                                 size_t extra, void **tail)
{
    sc_net *net = q->net;
    sc_q8node *qn = sc_q8_of(q, nd);
    const sc_qkernel *kern = q->kernel;
    int m = nd->c, mg = m / groups;
    if (k > SC_Q8_MAX_K)
        return sc_fail(SC_ERR_UNSUPPORTED, "%d weights per output channel "
                       "(at most %d in int8)", k, SC_Q8_MAX_K);
    size_t positions = nd->cbias ? (size_t)nd->h * (size_t)nd->w : 1;
    size_t mk = (size_t)m * (size_t)k;
    size_t gbytes = up64(kern->wbytes(mg, k));
    size_t nb = (size_t)m * positions, bytes = up64(sizeof(sc_q8w));
    size_t o_w = bytes, o_rs, o_mul, o_b, o_fs, o_fb, o_tail;
    int ok = sc_mul_ok(gbytes, (size_t)groups, &bytes) &&
             sc_add_ok(bytes, o_w, &bytes);
    o_rs = bytes;
    bytes += up64((size_t)m * 4);
    o_mul = bytes;
    bytes += up64((size_t)m * sizeof(sc_q8mul));
    o_b = bytes;
    ok = ok && sc_add_ok(bytes, up64(nb * 8), &bytes);
    o_fs = bytes;
    bytes += qn->out_float ? up64((size_t)m * 4) : 0;
    o_fb = bytes;
    ok = ok && sc_add_ok(bytes, qn->out_float ? up64(nb * 4) : 0, &bytes);
    o_tail = bytes;
    ok = ok && sc_add_ok(bytes, up64(extra), &bytes);
    if (!ok)
        return sc_fail(SC_ERR_NOMEM, "the layer's int8 tables overflow");
    uint8_t *p = aligned_alloc(64, bytes);
    int8_t *w8 = malloc(mk ? mk : 1);
    int32_t *lv = nd->mant ? malloc((mk ? mk : 1) * sizeof(int32_t)) : NULL;
    double *ab = malloc((size_t)m * 2 * sizeof(double));
    float *sw = malloc((size_t)m * sizeof(float));
    sc_status st = SC_OK;
    if (!p || !w8 || (nd->mant && !lv) || !ab || !sw) {
        st = sc_fail(SC_ERR_NOMEM, "out of memory");
        goto done;
    }
    memset(p, 0, bytes);
    sc_q8w *w = (sc_q8w *)p;
    w->m = m;
    w->k = k;
    w->groups = groups;
    w->w = p + o_w;
    w->group_bytes = gbytes;
    w->rowsum = (int32_t *)(p + o_rs);
    w->mul = (sc_q8mul *)(p + o_mul);
    w->b = (int64_t *)(p + o_b);
    w->positions = positions;
    w->tail = o_tail;
    if (qn->out_float) {
        w->fs = (float *)(p + o_fs);
        w->fb = (float *)(p + o_fb);
    }
    if (nd->mant)
        sc_mantissas_levels(nd->mant, lv);
    int8_rows(net, nd, lv, (size_t)k, w8, sw);
    for (int g = 0; g < groups; g++)
        kern->pack_w(w8 + (size_t)g * mg * k, mg, k,
                     (uint8_t *)w->w + (size_t)g * gbytes);
    for (int o = 0; o < m; o++) {
        int32_t s = 0;
        for (int j = 0; j < k; j++)
            s += w8[(size_t)o * k + j];
        w->rowsum[o] = s;
    }
    double *a = ab, *b = ab + m, clo, chi;
    chain(q, nd, a, b, &clo, &chi);
    const sc_q8t tin = sc_q8_in(q, nd, 0)->t, tout = qn->t;
    const float *bias = sc_node_param(net, nd, P_B);
    int64_t vmax = sc_q8_vmax(k, tin.z);
    w->lo = 0;
    w->hi = 255;
    if (clo > -INFINITY)
        w->lo = (int)fmax(0.0, fmin(255.0, tout.z + nearbyint(clo / tout.s)));
    if (chi < INFINITY)
        w->hi = (int)fmax(0.0, fmin(255.0, tout.z + nearbyint(chi / tout.s)));
    for (int o = 0; o < m && st == SC_OK; o++) {
        double scale = (double)tin.s * sw[o] * a[o];
        if (qn->out_float) {
            w->fs[o] = (float)scale;
        } else if (!sc_q8_multiplier(scale / tout.s, &w->mul[o])) {
            st = sc_fail(SC_ERR_UNSUPPORTED, "channel %d's requantisation "
                         "(%g) is out of range", o, scale / tout.s);
            break;
        }
        for (size_t pos = 0; pos < positions; pos++) {
            double c = (bias ? bias[o] : 0.0) +
                       (nd->cbias ? nd->cbias[(size_t)o * positions + pos] : 0.0);
            double off = a[o] * c + b[o];
            size_t at = (size_t)o * positions + pos;
            if (qn->out_float)
                w->fb[at] = (float)off;
            else
                w->b[at] = sc_q8_offset(off / tout.s, tout.z, w->mul[o], vmax);
        }
    }
    if (st == SC_OK) {
        free(qn->priv);
        qn->priv = p;
        qn->priv_bytes = bytes;
        *tail = p + o_tail;
        p = NULL;
    }
done:
    free(p);
    free(w8);
    free(lv);
    free(ab);
    free(sw);
    return st;
}

/* One channel's requantised bytes at consecutive positions (a conv's row):
 * the loop of sc_q8_requant() in a form the compiler vectorises. v fits in
 * int32 (|v| < 2^31, q8.h), so v m is one widening multiply; b steps by
 * bstep (0: one offset for every position). */
SC_SIMD_CLONES static void requant_row(const int32_t *c, int cols, int32_t corr,
                                       sc_q8mul mul, const int64_t *b,
                                       size_t bstep, int lo, int hi,
                                       uint8_t *out)
{
    const int64_t m = mul.m, lo64 = lo, hi64 = hi;
    const int shift = mul.shift;
    if (bstep)
        for (int j = 0; j < cols; j++) {
            int64_t r = sc_q8_floor_shift((int64_t)(c[j] - corr) * m + b[j], shift);
            r = r < lo64 ? lo64 : r;
            out[j] = (uint8_t)(r > hi64 ? hi64 : r);
        }
    else
        for (int j = 0; j < cols; j++) {
            int64_t r = sc_q8_floor_shift((int64_t)(c[j] - corr) * m + b[0], shift);
            r = r < lo64 ? lo64 : r;
            out[j] = (uint8_t)(r > hi64 ? hi64 : r);
        }
}

void sc_q8_weighted_store(const sc_q8w *w, const int32_t *c, size_t ldc,
                          int o0, int rows, int cols, int zin, uint8_t *y,
                          float *fy, size_t ostride, size_t jstride)
{
    const int per_pos = w->positions > 1;
    for (int r = 0; r < rows; r++) {
        const int o = o0 + r;
        const int32_t *cr = c + (size_t)r * ldc;
        const int64_t corr = (int64_t)zin * w->rowsum[o];
        if (fy) {
            const float s = w->fs[o], *fb = w->fb + (size_t)o * w->positions;
            float *out = fy + (size_t)o * ostride;
            for (int j = 0; j < cols; j++)
                out[(size_t)j * jstride] =
                    (float)(cr[j] - corr) * s + fb[per_pos ? j : 0];
            continue;
        }
        const sc_q8mul mul = w->mul[o];
        const int64_t *b = w->b + (size_t)o * w->positions;
        uint8_t *out = y + (size_t)o * ostride;
        const int lo = w->lo, hi = w->hi;
        if (jstride == 1)
            requant_row(cr, cols, (int32_t)corr, mul, b, (size_t)per_pos, lo,
                        hi, out);
        else if (per_pos)
            for (int j = 0; j < cols; j++)
                out[(size_t)j * jstride] =
                    sc_q8_requant(cr[j] - corr, mul, b[j], lo, hi);
        else
            for (int j = 0; j < cols; j++)
                out[(size_t)j * jstride] =
                    sc_q8_requant(cr[j] - corr, mul, b[0], lo, hi);
    }
}

/* q8w: one layer's int8 rows and requantisation in the exported C, and
 * q8w_put, sc_q8_weighted_store of one sum */
static void emit_type(sc_cgen *g)
{
    sc_q8_emit_arith(g);
    if (!sc_cgen_once(g, "q8w"))
        return;
    sc_cgen_def(g,
        "/* a dense or conv layer: int8 rows (m x k), their sums, each\n"
        " * channel's requantisation (b per position when positions > 1) or\n"
        " * its float output fs v + fb */\n"
        "typedef struct q8w {\n"
        "    const int8_t *w;\n"
        "    const int32_t *rowsum, *m;\n"
        "    const uint8_t *shift;\n"
        "    const int64_t *b;\n"
        "    const float *fs, *fb;\n"
        "    int k, positions, zin, lo, hi;\n"
        "} q8w;\n"
        "/* output o at position pos of the sum acc: a byte into *y, or a\n"
        " * float into *fy */\n"
        "static void q8w_put(const q8w *L, int o, int pos, int32_t acc,\n"
        "                    uint8_t *y, float *fy)\n"
        "{\n"
        "    int64_t v = (int64_t)acc - (int64_t)L->zin * L->rowsum[o];\n"
        "    int at = o * L->positions + (L->positions > 1 ? pos : 0);\n"
        "    if (fy)\n"
        "        *fy = (float)v * L->fs[o] + L->fb[at];\n"
        "    else\n"
        "        *y = q8_rq(v, L->m[o], L->shift[o], L->b[at], L->lo, L->hi);\n"
        "}\n");
}

int sc_q8_weighted_emit(sc_q8 *q, sc_node *nd, int k, const char *key,
                        const char *helper)
{
    sc_cgen *g = q->cg;
    const sc_q8node *qn = sc_q8_of(q, nd);
    const sc_q8w *w = qn->priv;
    int m = nd->c;
    size_t mk = (size_t)m * (size_t)k, nb = (size_t)m * w->positions;
    int8_t *w8 = malloc(mk ? mk : 1);
    int32_t *lv = nd->mant ? malloc((mk ? mk : 1) * sizeof(int32_t)) : NULL;
    float *sw = malloc((size_t)m * sizeof(float));
    int32_t *mul = malloc((size_t)m * sizeof(int32_t));
    uint8_t *shift = malloc((size_t)m);
    int id = -1;
    if (w8 && (lv || !nd->mant) && sw && mul && shift) {
        if (nd->mant)
            sc_mantissas_levels(nd->mant, lv);
        int8_rows(q->net, nd, lv, (size_t)k, w8, sw);
        emit_type(g);
        if (sc_cgen_once(g, key))
            sc_cgen_def(g, "%s", helper);
        int aw = sc_cgen_array(g, SC_CG_I8, w8, mk);
        int ars = sc_cgen_array(g, SC_CG_I32, w->rowsum, (size_t)m);
        id = g->n_arrays++;
        if (qn->out_float) {
            int afs = sc_cgen_array(g, SC_CG_F32, w->fs, (size_t)m);
            int afb = sc_cgen_array(g, SC_CG_F32, w->fb, nb);
            sc_cgen_def(g, "static const q8w w%d = {k%d, k%d, 0, 0, 0, k%d, "
                        "k%d, %d, %zu, %d, 0, 255};\n", id, aw, ars, afs, afb,
                        k, w->positions, sc_q8_in(q, nd, 0)->t.z);
        } else {
            for (int o = 0; o < m; o++) {
                mul[o] = w->mul[o].m;
                shift[o] = (uint8_t)w->mul[o].shift;
            }
            int am = sc_cgen_array(g, SC_CG_I32, mul, (size_t)m);
            int ash = sc_cgen_array(g, SC_CG_U8, shift, (size_t)m);
            int ab = sc_cgen_array(g, SC_CG_I64, w->b, nb);
            sc_cgen_def(g, "static const q8w w%d = {k%d, k%d, k%d, k%d, k%d, "
                        "0, 0, %d, %zu, %d, %d, %d};\n", id, aw, ars, am, ash,
                        ab, k, w->positions, sc_q8_in(q, nd, 0)->t.z, w->lo,
                        w->hi);
        }
    }
    free(w8);
    free(lv);
    free(sw);
    free(mul);
    free(shift);
    if (id < 0)
        sc_fail(SC_ERR_NOMEM, "out of memory");
    return id;
}
