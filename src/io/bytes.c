/* bytes.c -- little-endian encoding on any host, and CRC-32. */
#include "io/bytes.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

void sc_put_bytes(sc_wbuf *w, const void *p, size_t n)
{
    if (w->failed || n == 0)
        return;
    if (w->len + n > w->cap) {
        size_t cap = w->cap ? w->cap : 4096;
        while (cap < w->len + n)
            cap *= 2;
        unsigned char *d = realloc(w->data, cap);
        if (d == NULL) {
            w->failed = 1;
            return;
        }
        w->data = d;
        w->cap = cap;
    }
    memcpy(w->data + w->len, p, n);
    w->len += n;
}

void sc_put_u8(sc_wbuf *w, unsigned v)
{
    unsigned char b = (unsigned char)v;
    sc_put_bytes(w, &b, 1);
}

void sc_put_u32(sc_wbuf *w, uint32_t v)
{
    unsigned char b[4] = {(unsigned char)v, (unsigned char)(v >> 8),
                          (unsigned char)(v >> 16), (unsigned char)(v >> 24)};
    sc_put_bytes(w, b, 4);
}

void sc_put_u64(sc_wbuf *w, uint64_t v)
{
    sc_put_u32(w, (uint32_t)v);
    sc_put_u32(w, (uint32_t)(v >> 32));
}

void sc_put_f32(sc_wbuf *w, float v)
{
    uint32_t u;
    memcpy(&u, &v, 4);
    sc_put_u32(w, u);
}

void sc_put_f64(sc_wbuf *w, double v)
{
    uint64_t u;
    memcpy(&u, &v, 8);
    sc_put_u64(w, u);
}

void sc_put_f32s(sc_wbuf *w, const float *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sc_put_f32(w, p[i]);
}

const unsigned char *sc_get_bytes(sc_rbuf *r, size_t n)
{
    if (r->failed || n > r->len - r->pos) {
        r->failed = 1;
        return NULL;
    }
    const unsigned char *p = r->data + r->pos;
    r->pos += n;
    return p;
}

unsigned sc_get_u8(sc_rbuf *r)
{
    const unsigned char *p = sc_get_bytes(r, 1);
    return p ? p[0] : 0;
}

uint32_t sc_get_u32(sc_rbuf *r)
{
    const unsigned char *p = sc_get_bytes(r, 4);
    return p ? (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                   (uint32_t)p[3] << 24
             : 0;
}

uint64_t sc_get_u64(sc_rbuf *r)
{
    uint64_t lo = sc_get_u32(r);
    return lo | (uint64_t)sc_get_u32(r) << 32;
}

float sc_get_f32(sc_rbuf *r)
{
    uint32_t u = sc_get_u32(r);
    float v;
    memcpy(&v, &u, 4);
    return v;
}

double sc_get_f64(sc_rbuf *r)
{
    uint64_t u = sc_get_u64(r);
    double v;
    memcpy(&v, &u, 8);
    return v;
}

int sc_get_f32s(sc_rbuf *r, float *dst, size_t n)
{
    if (r->failed || n > (r->len - r->pos) / 4) {
        r->failed = 1;
        return 0;
    }
    for (size_t i = 0; i < n; i++)
        dst[i] = sc_get_f32(r);
    return 1;
}

static uint32_t crc_table[256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        crc_table[i] = c;
    }
}

uint32_t sc_crc32(uint32_t crc, const void *p, size_t n)
{
    pthread_once(&crc_once, crc_init);
    const uint32_t *table = crc_table;
    const unsigned char *b = p;
    crc = ~crc;
    for (size_t i = 0; i < n; i++)
        crc = table[(crc ^ b[i]) & 0xFF] ^ (crc >> 8);
    return ~crc;
}
