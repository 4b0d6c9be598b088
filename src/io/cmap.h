/* cmap.h -- the constant maps compress folds in (cbias), stored compactly
 * in model files (docs/format.md, "Constant maps").
 *
 * A map of one channel, h x w floats, is stored as a partition of its rows
 * into classes of identical rows, one of its columns into classes of
 * identical columns (each as runs of a class), and the table of the
 * distinct values T[row class][column class]: M[y][x] = T[r(y)][c(x)], bit
 * for bit. A padded convolution of a constant map has few classes
 * (interior, edges), so the size does not grow with h and w; a map without
 * structure costs its h*w floats and a few bytes per row and column. */
#ifndef SC_IO_CMAP_H
#define SC_IO_CMAP_H

#include "io/bytes.h"

/* Appends the c maps of h x w floats at m (c*h*w floats, channel by
 * channel). 0 when out of memory (then w->failed is set as well). */
int sc_cmap_put(sc_wbuf *w, const float *m, int c, int h, int wd);

/* Reads c maps of h x w floats into m (c*h*w floats). 0 when the encoding
 * is truncated or inconsistent (r->failed is set); m is then partly
 * written. Allocates nothing. */
int sc_cmap_get(sc_rbuf *r, float *m, int c, int h, int wd);

#endif
