/* emit8.c -- the fixed point of int8 inference (q8.h, requant.c) written as
 * C for an exported model (cgen/cgen.h): the same integer operations, so
 * the generated code computes the same bytes. */
#include "cgen/cgen.h"
#include "int8/q8.h"

static void emit_fs(sc_cgen *g)
{
    if (sc_cgen_once(g, "q8_fs"))
        sc_cgen_def(g,
            "/* floor(v / 2^s) for any sign */\n"
            "static int64_t q8_fs(int64_t v, int s)\n"
            "{\n"
            "    return v < 0 ? ~(~v >> s) : v >> s;\n"
            "}\n");
}

void sc_q8_emit_arith(sc_cgen *g)
{
    emit_fs(g);
    if (sc_cgen_once(g, "q8_rq"))
        sc_cgen_def(g,
            "/* clamp(floor((v m + b) / 2^s), lo, hi) */\n"
            "static uint8_t q8_rq(int64_t v, int32_t m, int s, int64_t b, int lo,\n"
            "                     int hi)\n"
            "{\n"
            "    int64_t r = q8_fs(v * m + b, s);\n"
            "    return (uint8_t)(r < lo ? lo : r > hi ? hi : r);\n"
            "}\n");
}

int sc_q8_sum_emit(sc_cgen *g, const sc_q8sum *s, int n)
{
    emit_fs(g);
    if (sc_cgen_once(g, "q8sum"))
        sc_cgen_def(g,
            "/* a requantised sum of n inputs' bytes */\n"
            "typedef struct q8sum {\n"
            "    int n, shift;\n"
            "    int32_t m[%d];\n"
            "    int z[%d];\n"
            "    int64_t b;\n"
            "} q8sum;\n"
            "static uint8_t q8_sum(const q8sum *s, const uint8_t *v)\n"
            "{\n"
            "    int64_t acc = s->b, r;\n"
            "    for (int i = 0; i < s->n; i++)\n"
            "        acc += (int64_t)((int)v[i] - s->z[i]) * s->m[i];\n"
            "    r = q8_fs(acc, s->shift);\n"
            "    return (uint8_t)(r < 0 ? 0 : r > 255 ? 255 : r);\n"
            "}\n", SC_MAX_LAYER_INPUTS, SC_MAX_LAYER_INPUTS);
    int id = g->n_arrays++;
    sc_cgen_def(g, "static const q8sum s%d[%d] = {", id, n);
    for (int k = 0; k < n; k++) {
        sc_cgen_def(g, "%s{%d, %d, {", k ? ", " : "", s[k].n, s[k].shift);
        for (int i = 0; i < s[k].n; i++)
            sc_cgen_def(g, "%s%ld", i ? ", " : "", (long)s[k].m[i]);
        sc_cgen_def(g, "}, {");
        for (int i = 0; i < s[k].n; i++)
            sc_cgen_def(g, "%s%d", i ? ", " : "", s[k].z[i]);
        sc_cgen_def(g, "}, INT64_C(%lld)}", (long long)s[k].b);
    }
    sc_cgen_def(g, "};\n");
    g->const_bytes += (size_t)n * sizeof(sc_q8sum);
    return id;
}

void sc_q8_emit_mult(sc_cgen *g)
{
    sc_q8_emit_arith(g);
    if (!sc_cgen_once(g, "q8_mult"))
        return;
    g->libm = 1;
    sc_cgen_def(g,
        "/* r as m 2^-shift (sc_q8_multiplier); 0 when out of range */\n"
        "static int q8_mult(double r, int32_t *mo, int *so)\n"
        "{\n"
        "    int ex, shift;\n"
        "    double m;\n"
        "    *mo = 0;\n"
        "    *so = 48;\n"
        "    if (!isfinite(r) || fabs(r) >= 1073741824.0)\n"
        "        return 0;\n"
        "    if (r == 0.0)\n"
        "        return 1;\n"
        "    (void)frexp(fabs(r), &ex);\n"
        "    shift = 31 - ex;\n"
        "    if (shift > 48)\n"
        "        shift = 48;\n"
        "    if (shift < 1)\n"
        "        return 0;\n"
        "    m = nearbyint(ldexp(fabs(r), shift));\n"
        "    if (m >= 2147483648.0) {\n"
        "        m = nearbyint(m / 2.0);\n"
        "        shift--;\n"
        "        if (shift < 1)\n"
        "            return 0;\n"
        "    }\n"
        "    *mo = (int32_t)(r < 0.0 ? -m : m);\n"
        "    *so = shift;\n"
        "    return 1;\n"
        "}\n"
        "/* the b of a requantisation (sc_q8_offset) */\n"
        "static int64_t q8_off(double off, int z, int32_t m, int shift,\n"
        "                      int64_t vmax)\n"
        "{\n"
        "    double r = fabs(ldexp((double)m, -shift));\n"
        "    double lim = (double)vmax * r + 512.0, b;\n"
        "    if (!(off <= lim))\n"
        "        off = off != off ? 0.0 : lim;\n"
        "    if (off < -lim)\n"
        "        off = -lim;\n"
        "    b = nearbyint(ldexp(off + (double)z, shift));\n"
        "    return (int64_t)b + ((int64_t)1 << (shift - 1));\n"
        "}\n");
}
