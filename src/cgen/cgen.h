/* cgen.h -- the writer of exported C code (docs/mcu.md): two growing texts,
 * the definitions of the file (helper types and functions, each once, and
 * the const arrays) and the body of its forward, plus the C expression of
 * every node's bytes in that body. Each layer kind writes its own code
 * through it (its sc_q8 function's Q8_EMIT); export.c lays out the arena
 * and the file around what they wrote. */
#ifndef SC_CGEN_CGEN_H
#define SC_CGEN_CGEN_H

#include <stddef.h>
#include <stdint.h>

typedef struct sc_cgen_text {
    char *s;
    size_t n, cap;
} sc_cgen_text;

/* an array's element type */
typedef enum sc_cgen_type {
    SC_CG_U8,
    SC_CG_I8,
    SC_CG_I32,
    SC_CG_I64,
    SC_CG_F32
} sc_cgen_type;

#define SC_CGEN_EXPR 48

typedef struct sc_cgen {
    sc_cgen_text defs, body;
    char (*expr)[SC_CGEN_EXPR]; /* per node: its bytes, e.g. "a + 1024" */
    char **once;                /* the helpers already written */
    int n_once, n_arrays;
    int oom;                    /* a write ran out of memory */
    int libm;                   /* the code calls <math.h> */
    size_t const_bytes;         /* the arrays' bytes */
} sc_cgen;

/* appends to the definitions / to the forward's body (printf format) */
void sc_cgen_def(sc_cgen *g, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
void sc_cgen_code(sc_cgen *g, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* 1 the first time key is asked (write the helper then), else 0 */
int sc_cgen_once(sc_cgen *g, const char *key);
/* Writes a static const array of n elements of data and returns its
 * number N: the array is named kN (n == 0 writes one zero). */
int sc_cgen_array(sc_cgen *g, sc_cgen_type t, const void *data, size_t n);
/* A float as a C (and C++) literal of the same value, into buf of at
 * least 40 bytes. */
const char *sc_cgen_float(char *buf, float v);
/* node i's bytes in the forward's body */
static inline const char *sc_cgen_y(const sc_cgen *g, int i)
{
    return g->expr[i];
}
void sc_cgen_free(sc_cgen *g);

#endif
