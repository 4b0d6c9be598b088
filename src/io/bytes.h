/* bytes.h -- little-endian byte writer and bounds-checked reader. */
#ifndef SC_IO_BYTES_H
#define SC_IO_BYTES_H

#include <stddef.h>
#include <stdint.h>

/* A growable buffer; `failed` is set (and writes stop) when memory runs out. */
typedef struct sc_wbuf {
    unsigned char *data;
    size_t len, cap;
    int failed;
} sc_wbuf;

void sc_put_bytes(sc_wbuf *w, const void *p, size_t n);
void sc_put_u8(sc_wbuf *w, unsigned v);
void sc_put_u32(sc_wbuf *w, uint32_t v);
void sc_put_u64(sc_wbuf *w, uint64_t v);
void sc_put_f32(sc_wbuf *w, float v);
void sc_put_f64(sc_wbuf *w, double v);
void sc_put_f32s(sc_wbuf *w, const float *p, size_t n);

/* A reader over n bytes: every get checks the bytes are there; once one
 * is not, `failed` is set and every later get returns 0. */
typedef struct sc_rbuf {
    const unsigned char *data;
    size_t len, pos;
    int failed;
} sc_rbuf;

const unsigned char *sc_get_bytes(sc_rbuf *r, size_t n);
unsigned sc_get_u8(sc_rbuf *r);
uint32_t sc_get_u32(sc_rbuf *r);
uint64_t sc_get_u64(sc_rbuf *r);
float sc_get_f32(sc_rbuf *r);
double sc_get_f64(sc_rbuf *r);
/* n floats into dst; fails without touching dst when fewer bytes remain */
int sc_get_f32s(sc_rbuf *r, float *dst, size_t n);
static inline size_t sc_remaining(const sc_rbuf *r) { return r->len - r->pos; }

/* CRC-32 (IEEE 802.3, as zlib's crc32) of n bytes, continuing from crc. */
uint32_t sc_crc32(uint32_t crc, const void *p, size_t n);

#endif
