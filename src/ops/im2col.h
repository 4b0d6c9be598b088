/* im2col.h -- unfold a C x H x W sample into columns for convolution. */
#ifndef SC_OPS_IM2COL_H
#define SC_OPS_IM2COL_H

#include <stddef.h>

/* col[(c*kh + i)*kw + j][oy*ow + ox] = x[c][oy*s - p + i][ox*s - p + j]
 * (zero outside the image); rows of col are ld floats apart, so several
 * samples can sit side by side in one column matrix. */
void sc_im2col(const float *x, int c, int h, int w, int kh, int kw, int s,
               int p, int oh, int ow, float *col, size_t ld);
/* The adjoint: x[...] += col[...] over the same index map. */
void sc_col2im(const float *col, int c, int h, int w, int kh, int kw, int s,
               int p, int oh, int ow, float *x, size_t ld);

#endif
