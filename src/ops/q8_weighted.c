/* q8_weighted.c -- what int8 dense and conv layers share: the weights as
 * int8 levels with a scale per output channel, and the requantisation of
 * each channel with the norm and clamp folded into it (int8/q8.h). */
#include <math.h>
#include <stdio.h>
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

/* Classes of equal lines of an h x w map (bit patterns): rows (lines of w
 * values stride 1, h of them, step w) or columns (h values stride w, w of
 * them, step 1). cls[i] is line i's class; returns the count. */
static int32_t line_classes(const float *map, int n, int len, size_t step,
                            size_t stride, int32_t *cls, int32_t *rep)
{
    int32_t k = 0;
    for (int i = 0; i < n; i++) {
        int32_t c = 0;
        for (; c < k; c++) {
            int same = 1;
            for (int t = 0; t < len && same; t++)
                same = memcmp(map + (size_t)i * step + (size_t)t * stride,
                              map + (size_t)rep[c] * step + (size_t)t * stride,
                              sizeof(float)) == 0;
            if (same)
                break;
        }
        if (c == k)
            rep[k++] = i;
        cls[i] = c;
    }
    return k;
}

/* The classes of nd's folded constants, channel by channel, into the
 * (caller's, m (h + w) + 2 m int32) scratch: rcls, ccls, nrow, ncol;
 * returns the table's size, sum over channels of nrow ncol. */
static size_t cmap_classes(const sc_node *nd, int32_t *rcls, int32_t *ccls,
                           int32_t *nrow, int32_t *ncol, int32_t *rep)
{
    size_t total = 0, hw = (size_t)nd->h * (size_t)nd->w;
    for (int o = 0; o < nd->c; o++) {
        const float *map = nd->cbias + (size_t)o * hw;
        nrow[o] = line_classes(map, nd->h, nd->w, (size_t)nd->w, 1,
                               rcls + (size_t)o * nd->h, rep);
        ncol[o] = line_classes(map, nd->w, nd->h, 1, (size_t)nd->w,
                               ccls + (size_t)o * nd->w, rep);
        total += (size_t)nrow[o] * (size_t)ncol[o];
    }
    return total;
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
    int cmap = nd->cbias != NULL && (size_t)nd->h * (size_t)nd->w > 1;
    size_t lines = (size_t)nd->h + (size_t)nd->w, ncls = 0;
    int32_t *cls = NULL;
    size_t nb = (size_t)m;
    if (cmap) { /* rcls, ccls, nrow, ncol, and a line's representatives */
        cls = malloc(((size_t)m * (lines + 2) + lines) * sizeof *cls);
        if (cls == NULL)
            return sc_fail(SC_ERR_NOMEM, "out of memory");
        ncls = (size_t)m * (lines + 2);
        nb = cmap_classes(nd, cls, cls + (size_t)m * nd->h,
                          cls + (size_t)m * lines, cls + (size_t)m * (lines + 1),
                          cls + ncls);
    }
    size_t mk = (size_t)m * (size_t)k;
    size_t gbytes = up64(kern->wbytes(mg, k));
    size_t bytes = up64(sizeof(sc_q8w));
    size_t o_w = bytes, o_rs, o_mul, o_b, o_fs, o_fb, o_cls, o_tail;
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
    o_cls = bytes; /* boff, ncol, rcls, ccls */
    ok = ok && sc_add_ok(bytes, cmap ? up64((size_t)m * (lines + 2) * 4) : 0,
                         &bytes);
    o_tail = bytes;
    ok = ok && sc_add_ok(bytes, up64(extra), &bytes);
    if (!ok) {
        free(cls);
        return sc_fail(SC_ERR_NOMEM, "the layer's int8 tables overflow");
    }
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
    w->tail = o_tail;
    w->cmap = cmap;
    w->nb = nb;
    w->oh = nd->h;
    w->ow = nd->w;
    if (cmap) {
        w->boff = (int32_t *)(p + o_cls);
        w->ncol = w->boff + m;
        w->rcls = w->ncol + m;
        w->ccls = w->rcls + (size_t)m * nd->h;
        memcpy(w->rcls, cls, (size_t)m * lines * sizeof *cls);
        memcpy(w->ncol, cls + (size_t)m * (lines + 1), (size_t)m * sizeof *cls);
        for (int o = 0, at = 0; o < m; o++) {
            w->boff[o] = at;
            at += cls[(size_t)m * lines + o] * w->ncol[o];
        }
    }
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
        /* one offset per channel, or per class of rows and of columns:
         * the value at the classes' first row and column */
        int nr = cmap ? cls[(size_t)m * lines + o] : 1, nc = cmap ? w->ncol[o] : 1;
        for (int i = 0; i < nr * nc; i++) {
            double c = bias ? bias[o] : 0.0;
            if (cmap) {
                const int32_t *rc = w->rcls + (size_t)o * nd->h;
                const int32_t *cc = w->ccls + (size_t)o * nd->w;
                int y = 0, x = 0;
                while (rc[y] != i / nc)
                    y++;
                while (cc[x] != i % nc)
                    x++;
                c += nd->cbias[((size_t)o * nd->h + y) * nd->w + x];
            } else if (nd->cbias) {
                c += nd->cbias[o];
            }
            double off = a[o] * c + b[o];
            size_t at = cmap ? (size_t)w->boff[o] + (size_t)i : (size_t)o;
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
    free(cls);
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

/* channel o's offset (and float offset) at position j of an oh x ow map */
static size_t offset_at(const sc_q8w *w, int o, int j)
{
    if (!w->cmap)
        return (size_t)o;
    int y = j / w->ow, x = j % w->ow;
    return (size_t)w->boff[o] +
           (size_t)w->rcls[(size_t)o * w->oh + y] * (size_t)w->ncol[o] +
           (size_t)w->ccls[(size_t)o * w->ow + x];
}

/* the requantised bytes of a channel with folded constants: a map row at a
 * time, its offsets gathered from the row's class into chunks */
static void requant_cmap(const sc_q8w *w, int o, const int32_t *cr,
                         int32_t corr, uint8_t *out)
{
    enum { CHUNK = 256 };
    int64_t b[CHUNK];
    const int32_t *cc = w->ccls + (size_t)o * w->ow;
    for (int y = 0; y < w->oh; y++) {
        const int64_t *brow = w->b + w->boff[o] +
                              (size_t)w->rcls[(size_t)o * w->oh + y] * (size_t)w->ncol[o];
        for (int x0 = 0; x0 < w->ow; x0 += CHUNK) {
            int n = w->ow - x0 < CHUNK ? w->ow - x0 : CHUNK;
            for (int t = 0; t < n; t++)
                b[t] = brow[cc[x0 + t]];
            size_t at = (size_t)y * w->ow + (size_t)x0;
            requant_row(cr + at, n, corr, w->mul[o], b, 1, w->lo, w->hi, out + at);
        }
    }
}

void sc_q8_weighted_store(const sc_q8w *w, const int32_t *c, size_t ldc,
                          int o0, int rows, int cols, int zin, uint8_t *y,
                          float *fy, size_t ostride, size_t jstride)
{
    for (int r = 0; r < rows; r++) {
        const int o = o0 + r;
        const int32_t *cr = c + (size_t)r * ldc;
        const int64_t corr = (int64_t)zin * w->rowsum[o];
        if (fy) {
            const float s = w->fs[o];
            float *out = fy + (size_t)o * ostride;
            for (int j = 0; j < cols; j++)
                out[(size_t)j * jstride] =
                    (float)(cr[j] - corr) * s + w->fb[offset_at(w, o, j)];
            continue;
        }
        const sc_q8mul mul = w->mul[o];
        uint8_t *out = y + (size_t)o * ostride;
        const int lo = w->lo, hi = w->hi;
        if (w->cmap) /* a conv's positions: cols is oh ow, jstride 1 */
            requant_cmap(w, o, cr, (int32_t)corr, out);
        else if (jstride == 1)
            requant_row(cr, cols, (int32_t)corr, mul, w->b + o, 0, lo, hi, out);
        else
            for (int j = 0; j < cols; j++)
                out[(size_t)j * jstride] =
                    sc_q8_requant(cr[j] - corr, mul, w->b[o], lo, hi);
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
        " * channel's requantisation or its float output fs v + fb; with\n"
        " * folded constants (rcls set) the offsets by classes of the rows\n"
        " * and columns of the oh x ow output map */\n"
        "typedef struct q8w {\n"
        "    const int8_t *w;\n"
        "    const int32_t *rowsum, *m;\n"
        "    const uint8_t *shift;\n"
        "    const int64_t *b;\n"
        "    const float *fs, *fb;\n"
        "    const int32_t *boff, *ncol, *rcls, *ccls;\n"
        "    int k, oh, ow, zin, lo, hi;\n"
        "} q8w;\n"
        "/* output o at position pos of the sum acc: a byte into *y, or a\n"
        " * float into *fy */\n"
        "static void q8w_put(const q8w *L, int o, int pos, int32_t acc,\n"
        "                    uint8_t *y, float *fy)\n"
        "{\n"
        "    int64_t v = (int64_t)acc - (int64_t)L->zin * L->rowsum[o];\n"
        "    int at = o;\n"
        "    if (L->rcls)\n"
        "        at = L->boff[o] + L->rcls[o * L->oh + pos / L->ow] * L->ncol[o] +\n"
        "             L->ccls[o * L->ow + pos %% L->ow];\n"
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
    size_t mk = (size_t)m * (size_t)k, nb = w->nb;
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
        /* the folded constants' classes */
        char cm[96] = "0, 0, 0, 0";
        if (w->cmap) {
            size_t lines = (size_t)m * (size_t)w->oh, cols = (size_t)m * (size_t)w->ow;
            int a0 = sc_cgen_array(g, SC_CG_I32, w->boff, (size_t)m);
            int a1 = sc_cgen_array(g, SC_CG_I32, w->ncol, (size_t)m);
            int a2 = sc_cgen_array(g, SC_CG_I32, w->rcls, lines);
            int a3 = sc_cgen_array(g, SC_CG_I32, w->ccls, cols);
            snprintf(cm, sizeof cm, "k%d, k%d, k%d, k%d", a0, a1, a2, a3);
        }
        id = g->n_arrays++;
        if (qn->out_float) {
            int afs = sc_cgen_array(g, SC_CG_F32, w->fs, (size_t)m);
            int afb = sc_cgen_array(g, SC_CG_F32, w->fb, nb);
            sc_cgen_def(g, "static const q8w w%d = {k%d, k%d, 0, 0, 0, k%d, "
                        "k%d, %s, %d, %d, %d, %d, 0, 255};\n", id, aw, ars, afs,
                        afb, cm, k, w->oh, w->ow, sc_q8_in(q, nd, 0)->t.z);
        } else {
            for (int o = 0; o < m; o++) {
                mul[o] = w->mul[o].m;
                shift[o] = (uint8_t)w->mul[o].shift;
            }
            int am = sc_cgen_array(g, SC_CG_I32, mul, (size_t)m);
            int ash = sc_cgen_array(g, SC_CG_U8, shift, (size_t)m);
            int ab = sc_cgen_array(g, SC_CG_I64, w->b, nb);
            sc_cgen_def(g, "static const q8w w%d = {k%d, k%d, k%d, k%d, k%d, "
                        "0, 0, %s, %d, %d, %d, %d, %d, %d};\n", id, aw, ars, am,
                        ash, ab, cm, k, w->oh, w->ow, sc_q8_in(q, nd, 0)->t.z,
                        w->lo, w->hi);
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
