/* mantissa.h -- a quantised layer's weights held as the integers a model
 * file stores: per output channel its exponent e and its k levels in the
 * narrowest of int8, int16 and int32 that holds the channel's bit depth.
 * A forward turns them into floats, s * level with s = 2^e (sc_quant_chan,
 * sc_quant_value), one layer at
 * a time, into a buffer the layers share. */
#ifndef SC_QUANT_MANTISSA_H
#define SC_QUANT_MANTISSA_H

#include <stddef.h>
#include <stdint.h>

typedef struct sc_mantissas {
    size_t channels, k;   /* output channels, levels per channel */
    unsigned char *bits;  /* each channel's bit depth as stored, ceil(B):
                             its levels take sc_mantissa_width(bits) bytes */
    float *exp;           /* e of each channel */
    unsigned char *data;  /* the levels, channel after channel */
    size_t data_bytes;
} sc_mantissas;

/* Bytes per level of a channel stored with bits bits (0 to 32). */
int sc_mantissa_width(unsigned bits);
/* The bytes an sc_mantissas of channels channels holds besides its levels
 * (a bit-depth byte and an exponent per channel): with the levels, what a loaded
 * model keeps resident for the layer's weights. */
size_t sc_mantissa_overhead(size_t channels);
/* A zeroed store for channels x k levels with the given bit depths and
 * exponents (one allocation), or NULL when out of memory. The caller has
 * checked that channels * k * 4 fits a size_t. */
sc_mantissas *sc_mantissas_new(size_t channels, size_t k,
                               const unsigned char *bits, const float *exp);
/* Stores the next level, of channel ch, at byte *at and advances *at: the
 * levels go in channel after channel from *at = 0; v fits the channel's
 * bits. */
void sc_mantissas_put(sc_mantissas *m, size_t *at, size_t ch, int32_t v);
/* w[ch * k + j] = s_ch * level (0 for a channel without bits). */
void sc_mantissas_dequantize(const sc_mantissas *m, float *w);
/* out[ch * k + j] = level j of channel ch, every channel. */
void sc_mantissas_levels(const sc_mantissas *m, int32_t *out);
/* The store's resident bytes (its struct included). */
size_t sc_mantissas_resident(const sc_mantissas *m);
void sc_mantissas_free(sc_mantissas *m);

#endif
