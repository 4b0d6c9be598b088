/* mantissa.c -- a quantised layer's integer levels and their exponents. */
#include <stdlib.h>
#include <string.h>

#include "quant/mantissa.h"
#include "quant/quantizer.h"

int sc_mantissa_width(unsigned bits)
{
    return bits == 0 ? 0 : bits <= 8 ? 1 : bits <= 16 ? 2 : 4;
}

size_t sc_mantissa_overhead(size_t channels)
{
    return sizeof(sc_mantissas) + channels * (1 + sizeof(float));
}

sc_mantissas *sc_mantissas_new(size_t channels, size_t k,
                               const unsigned char *bits, const float *exp)
{
    size_t data = 0;
    for (size_t c = 0; c < channels; c++)
        data += k * (size_t)sc_mantissa_width(bits[c]);
    /* struct, exponents (aligned right after it), bit depths, levels */
    size_t head = sizeof(sc_mantissas) + channels * sizeof(float);
    sc_mantissas *m = calloc(1, sc_mantissa_overhead(channels) + (data ? data : 1));
    if (m == NULL)
        return NULL;
    m->channels = channels;
    m->k = k;
    m->exp = (float *)(void *)(m + 1);
    m->bits = (unsigned char *)m + head;
    m->data = m->bits + channels;
    m->data_bytes = data;
    for (size_t c = 0; c < channels; c++) {
        m->bits[c] = bits[c];
        m->exp[c] = exp[c];
    }
    return m;
}

void sc_mantissas_put(sc_mantissas *m, size_t *at, size_t ch, int32_t v)
{
    unsigned char *p = m->data + *at;
    const int width = sc_mantissa_width(m->bits[ch]);
    *at += (size_t)width;
    int8_t v8 = (int8_t)v;
    int16_t v16 = (int16_t)v;
    switch (width) {
    case 1: memcpy(p, &v8, 1); break;
    case 2: memcpy(p, &v16, 2); break;
    case 4: memcpy(p, &v, 4); break;
    default: break;
    }
}

/* level j of a channel whose levels, width bytes each, start at p */
static inline int32_t level_at(const unsigned char *p, int width, size_t j)
{
    int16_t v16;
    int32_t v32;
    switch (width) {
    case 0:
        return 0;
    case 1: /* two's complement */
        return (int)p[j] - (p[j] >> 7) * 256;
    case 2:
        memcpy(&v16, p + 2 * j, 2);
        return v16;
    default:
        memcpy(&v32, p + 4 * j, 4);
        return v32;
    }
}

/* w[j] = s * level j, for a channel of a constant width */
#define DEQUANTIZE(width)                                                     \
    for (size_t j = 0; j < k; j++)                                            \
        w[j] = sc_quant_value(s, (float)level_at(p, width, j));

void sc_mantissas_dequantize(const sc_mantissas *m, float *w)
{
    const unsigned char *p = m->data;
    const size_t k = m->k;
    for (size_t c = 0; c < m->channels; c++, w += k) {
        const float s = sc_quant_chan((float)m->bits[c], m->exp[c]).s;
        const int width = sc_mantissa_width(m->bits[c]);
        switch (width) {
        case 0: DEQUANTIZE(0) break;
        case 1: DEQUANTIZE(1) break;
        case 2: DEQUANTIZE(2) break;
        default: DEQUANTIZE(4) break;
        }
        p += k * (size_t)width;
    }
}
#undef DEQUANTIZE

void sc_mantissas_levels(const sc_mantissas *m, int32_t *out)
{
    const unsigned char *p = m->data;
    for (size_t c = 0; c < m->channels; c++, out += m->k) {
        const int width = sc_mantissa_width(m->bits[c]);
        for (size_t j = 0; j < m->k; j++)
            out[j] = level_at(p, width, j);
        p += m->k * (size_t)width;
    }
}

size_t sc_mantissas_resident(const sc_mantissas *m)
{
    return sc_mantissa_overhead(m->channels) + m->data_bytes;
}

void sc_mantissas_free(sc_mantissas *m) { free(m); }
