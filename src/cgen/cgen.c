/* cgen.c -- the text and arrays of exported C code (cgen.h). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cgen/cgen.h"

static void vput(sc_cgen *g, sc_cgen_text *t, const char *fmt, va_list ap)
{
    va_list aq;
    va_copy(aq, ap);
    int len = vsnprintf(NULL, 0, fmt, aq);
    va_end(aq);
    if (g->oom || len < 0) {
        g->oom = 1;
        return;
    }
    if (t->n + (size_t)len + 1 > t->cap) {
        size_t cap = (t->cap ? t->cap * 2 : 4096) + (size_t)len;
        char *s = realloc(t->s, cap);
        if (s == NULL) {
            g->oom = 1;
            return;
        }
        t->s = s;
        t->cap = cap;
    }
    vsnprintf(t->s + t->n, (size_t)len + 1, fmt, ap);
    t->n += (size_t)len;
}

void sc_cgen_def(sc_cgen *g, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vput(g, &g->defs, fmt, ap);
    va_end(ap);
}

void sc_cgen_code(sc_cgen *g, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vput(g, &g->body, fmt, ap);
    va_end(ap);
}

int sc_cgen_once(sc_cgen *g, const char *key)
{
    for (int i = 0; i < g->n_once; i++)
        if (strcmp(g->once[i], key) == 0)
            return 0;
    char **o = realloc(g->once, (size_t)(g->n_once + 1) * sizeof *o);
    char *k = malloc(strlen(key) + 1);
    if (o == NULL || k == NULL) {
        free(k);
        if (o)
            g->once = o;
        g->oom = 1;
        return 0;
    }
    g->once = o;
    g->once[g->n_once++] = strcpy(k, key);
    return 1;
}

const char *sc_cgen_float(char *buf, float v)
{
    if (v == 0.0f)
        snprintf(buf, 40, "%s0.0f", signbit(v) ? "-" : "");
    else if (isfinite(v))
        snprintf(buf, 40, "%.8ef", (double)v); /* 9 digits: the same float */
    else /* the largest float stands for a saturated value */
        snprintf(buf, 40, "%s3.40282347e38f", v < 0 ? "-" : "");
    return buf;
}

int sc_cgen_array(sc_cgen *g, sc_cgen_type t, const void *data, size_t n)
{
    static const char *const ctype[] = {"uint8_t", "int8_t", "int32_t",
                                        "int64_t", "float"};
    static const size_t esize[] = {1, 1, 4, 8, 4};
    int id = g->n_arrays++;
    sc_cgen_def(g, "static const %s k%d[%zu] = {", ctype[t], id, n ? n : 1);
    if (n == 0)
        sc_cgen_def(g, "0");
    char f[40];
    for (size_t i = 0; i < n; i++) {
        const char *sep = i ? (i % 12 ? ", " : ",\n    ") : "\n    ";
        switch (t) {
        case SC_CG_U8:
            sc_cgen_def(g, "%s%u", sep, ((const uint8_t *)data)[i]);
            break;
        case SC_CG_I8:
            sc_cgen_def(g, "%s%d", sep, ((const int8_t *)data)[i]);
            break;
        case SC_CG_I32:
            sc_cgen_def(g, "%s%ld", sep, (long)((const int32_t *)data)[i]);
            break;
        case SC_CG_I64:
            sc_cgen_def(g, "%sINT64_C(%lld)", sep,
                        (long long)((const int64_t *)data)[i]);
            break;
        case SC_CG_F32:
            sc_cgen_def(g, "%s%s", sep,
                        sc_cgen_float(f, ((const float *)data)[i]));
            break;
        }
    }
    sc_cgen_def(g, "};\n");
    g->const_bytes += esize[t] * (n ? n : 1);
    return id;
}

void sc_cgen_free(sc_cgen *g)
{
    free(g->defs.s);
    free(g->body.s);
    free(g->expr);
    for (int i = 0; i < g->n_once; i++)
        free(g->once[i]);
    free(g->once);
}
