/* im2col.c -- col = unfold(x) and its adjoint x += fold(col). */
#include "ops/im2col.h"

#include <string.h>

void sc_im2col(const float *x, int c, int h, int w, int kh, int kw, int s,
               int p, int oh, int ow, float *col, size_t ld)
{
    for (int ch = 0; ch < c; ch++) {
        const float *xc = x + (size_t)ch * h * w;
        for (int i = 0; i < kh; i++) {
            for (int j = 0; j < kw; j++) {
                float *row = col + ((size_t)(ch * kh + i) * kw + j) * ld;
                for (int oy = 0; oy < oh; oy++) {
                    int iy = oy * s - p + i;
                    float *r = row + (size_t)oy * ow;
                    if (iy < 0 || iy >= h) {
                        memset(r, 0, (size_t)ow * sizeof(float));
                        continue;
                    }
                    const float *xr = xc + (size_t)iy * w;
                    if (s == 1) {
                        /* contiguous run: ox in [lo, hi) maps inside */
                        int lo = p - j > 0 ? p - j : 0;
                        int hi = w + p - j < ow ? w + p - j : ow;
                        if (hi < lo)
                            hi = lo;
                        for (int ox = 0; ox < lo; ox++)
                            r[ox] = 0.0f;
                        if (hi > lo)
                            memcpy(r + lo, xr + lo - p + j,
                                   (size_t)(hi - lo) * sizeof(float));
                        for (int ox = hi; ox < ow; ox++)
                            r[ox] = 0.0f;
                    } else {
                        for (int ox = 0; ox < ow; ox++) {
                            int ix = ox * s - p + j;
                            r[ox] = (ix >= 0 && ix < w) ? xr[ix] : 0.0f;
                        }
                    }
                }
            }
        }
    }
}

void sc_col2im(const float *col, int c, int h, int w, int kh, int kw, int s,
               int p, int oh, int ow, float *x, size_t ld)
{
    for (int ch = 0; ch < c; ch++) {
        float *xc = x + (size_t)ch * h * w;
        for (int i = 0; i < kh; i++) {
            for (int j = 0; j < kw; j++) {
                const float *row =
                    col + ((size_t)(ch * kh + i) * kw + j) * ld;
                for (int oy = 0; oy < oh; oy++) {
                    int iy = oy * s - p + i;
                    if (iy < 0 || iy >= h)
                        continue;
                    float *xr = xc + (size_t)iy * w;
                    const float *r = row + (size_t)oy * ow;
                    for (int ox = 0; ox < ow; ox++) {
                        int ix = ox * s - p + j;
                        if (ix >= 0 && ix < w)
                            xr[ix] += r[ox];
                    }
                }
            }
        }
    }
}
