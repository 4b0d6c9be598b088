/* export.c -- sc_model_export_c: a model's int8 forward as dependency-free
 * C99 (docs/mcu.md). Each layer kind writes its own code (its sc_q8
 * function's Q8_EMIT, through cgen.h); here: the arena, with each byte
 * buffer placed where no buffer live at the same time lies (liveness), the
 * input's quantisation, the logits, and the two files around them. */
#include <ctype.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cgen/cgen.h"
#include "core/checked.h"
#include "core/error.h"
#include "int8/q8.h"
#include "io/file.h"
#include "io/model.h"

#define NAME_MAX_LEN 64

/* one byte buffer of the forward: the node that writes it, its bytes and
 * the last node that reads it */
typedef struct buf {
    size_t bytes, off;
    int first, last;
} buf;

/* the node whose planned bytes node i's output is (-1: the logits) */
static int owner(const sc_q8 *q, int i)
{
    const sc_net *net = q->net;
    for (;;) {
        const sc_q8node *qn = &q->nodes[i];
        if (qn->fused)
            i = qn->end;
        else if (qn->alias)
            i = net->nodes[i].in[0];
        else
            return qn->out_float ? -1 : i;
    }
}

static int runs(const sc_q8 *q, int i)
{
    return i > 0 && !q->nodes[i].fused && !q->nodes[i].alias;
}

/* The buffers' offsets: in the order they are written, each at the lowest
 * offset clear of every placed buffer live at the same time. Returns the
 * arena's bytes; *unshared gets the sum of all buffers. */
static size_t place(buf *b, int n, size_t *unshared)
{
    size_t top = 0, sum = 0;
    for (int i = 0; i < n; i++) {
        if (b[i].bytes == 0)
            continue;
        size_t off = 0;
        for (int moved = 1; moved;) {
            moved = 0;
            for (int j = 0; j < i; j++) {
                if (b[j].bytes == 0 || b[j].last < b[i].first ||
                    b[i].last < b[j].first)
                    continue;
                if (off < b[j].off + b[j].bytes && b[j].off < off + b[i].bytes) {
                    off = (b[j].off + b[j].bytes + 3) / 4 * 4;
                    moved = 1;
                }
            }
        }
        b[i].off = off;
        top = off + b[i].bytes > top ? off + b[i].bytes : top;
        sum += (b[i].bytes + 3) / 4 * 4;
    }
    *unshared = sum;
    return top;
}

/* the liveness of the net's byte buffers, and their C expressions */
static sc_status layout(sc_q8 *q, sc_cgen *g, size_t *arena, size_t *unshared,
                        size_t *input_off)
{
    const sc_net *net = q->net;
    int n = net->n_nodes;
    buf *b = calloc((size_t)n, sizeof *b);
    g->expr = calloc((size_t)n, sizeof *g->expr);
    if (b == NULL || g->expr == NULL) {
        free(b);
        return sc_fail(SC_ERR_NOMEM, "sc_model_export_c: out of memory");
    }
    for (int i = 0; i < n; i++) {
        b[i].first = b[i].last = i;
        if (owner(q, i) == i)
            b[i].bytes = sc_node_size(&net->nodes[i]);
    }
    for (int j = 1; j < n; j++)
        if (runs(q, j))
            for (int k = 0; k < net->nodes[j].n_in; k++) {
                int o = owner(q, net->nodes[j].in[k]);
                if (o >= 0 && b[o].last < j)
                    b[o].last = j;
            }
    int out = owner(q, n - 1);
    if (out >= 0) /* the bytes the logits are read from */
        b[out].last = n;
    *arena = place(b, n, unshared);
    for (int i = 0; i < n; i++) {
        int o = owner(q, i);
        if (o < 0)
            snprintf(g->expr[i], SC_CGEN_EXPR, "logits");
        else if (o == 0)
            snprintf(g->expr[i], SC_CGEN_EXPR, "in");
        else
            snprintf(g->expr[i], SC_CGEN_EXPR, "a + %zu", b[o].off);
    }
    *input_off = b[0].off;
    free(b);
    return SC_OK;
}

/* The options in o (NULL: the defaults), checked */
static sc_status get_options(const sc_c_export_options *o,
                             sc_c_export_options *out, const char *fn)
{
    sc_c_export_options def = SC_C_EXPORT_OPTIONS_INIT;
    *out = def;
    if (o == NULL)
        return SC_OK;
    if (o->size < sizeof(size_t))
        return sc_fail(SC_ERR_ARG, "%s: options .size is %zu (set it to "
                       "sizeof(sc_c_export_options))", fn, o->size);
    if (o->size >= offsetof(sc_c_export_options, description) + sizeof(char *))
        out->description = o->description;
    if (o->size >= offsetof(sc_c_export_options, accuracy) + sizeof(double))
        out->accuracy = o->accuracy;
    if (out->description && strstr(out->description, "*/"))
        return sc_fail(SC_ERR_ARG, "%s: options description may not hold "
                       "\"*/\"", fn);
    if (!(out->accuracy <= 1.0))
        return sc_fail(SC_ERR_ARG, "%s: options accuracy is %g (a fraction "
                       "of at most 1, or < 0: unknown)", fn, out->accuracy);
    return SC_OK;
}

/* 1 when name is a C identifier of at most NAME_MAX_LEN characters */
static int c_name(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > NAME_MAX_LEN || isdigit((unsigned char)name[0]))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)name[i]) && name[i] != '_')
            return 0;
    return 1;
}

/* the comment both files open with */
static void upper(char *dst, const char *src);

static void top_comment(sc_cgen *t, const sc_model *m, const char *name,
                        const sc_c_export_options *o, size_t arena)
{
    char up[NAME_MAX_LEN + 1];
    upper(up, name);
    sc_model_info info = SC_MODEL_INFO_INIT;
    sc_model_get_info(m, &info);
    const sc_net *net = sc_model_net(m);
    sc_cgen_def(t, "/* %s: int8 inference of a selfcompress model, generated "
                "by sc_model_export_c\n * (libselfcompress %s; docs/mcu.md).\n",
                name, sc_version_string());
    if (o->description)
        sc_cgen_def(t, " * Model: %s\n", o->description);
    if (o->accuracy >= 0.0)
        sc_cgen_def(t, " * Accuracy: %.2f%% (as measured by the exporter's "
                    "caller)\n", 100.0 * o->accuracy);
    else
        sc_cgen_def(t, " * Accuracy: not given\n");
    sc_cgen_def(t, " * Input %d x %d x %d floats, %d logits; %d layers.\n"
                " * Weights: %.0f bits in the file (%lld stored), %lld of "
                "them at construction.\n"
                " * Footprint: %zu bytes of const arrays (flash), %zu bytes "
                "of arena (RAM,\n * %s_ARENA_BYTES); code and stack are "
                "what the compiler makes of this file.\n"
                " * C99; no malloc, stdio or threads; integer arithmetic but "
                "for the input's\n * quantisation%s and the logits.\n */\n",
                net->nodes[0].c, net->nodes[0].h, net->nodes[0].w,
                sc_net_output_size(net), net->n_nodes - 1, info.weight_bits,
                (long long)info.weights, (long long)info.weights0,
                t->const_bytes, arena, up, t->libm ? ", the batch "
                "statistics' norms (<math.h>)" : "");
}

static void upper(char *dst, const char *src)
{
    while (*src)
        *dst++ = (char)toupper((unsigned char)*src++);
    *dst = 0;
}

/* NAME.h */
static void header_file(sc_cgen *t, const sc_q8 *q, const char *name,
                        size_t arena)
{
    const sc_net *net = q->net;
    char up[NAME_MAX_LEN + 1], f[40];
    upper(up, name);
    sc_cgen_def(t, "#ifndef %s_H\n#define %s_H\n\n#include <stdint.h>\n\n",
                up, up);
    sc_cgen_def(t, "#ifdef __cplusplus\nextern \"C\" {\n#endif\n\n");
    sc_cgen_def(t, "/* the input: channels, height, width; all its floats */\n"
                "#define %s_INPUT_C %d\n#define %s_INPUT_H %d\n"
                "#define %s_INPUT_W %d\n#define %s_INPUTS %zu\n"
                "/* the logits */\n#define %s_OUTPUTS %d\n"
                "/* the bytes of the arena a forward works in */\n"
                "#define %s_ARENA_BYTES %zu\n"
                "/* the input's bytes: q = (int)(clamp(x * (1.0f / SCALE) + "
                "ZERO, 0, 255) + 0.5f) */\n"
                "#define %s_INPUT_SCALE %s\n#define %s_INPUT_ZERO %d\n\n",
                up, net->nodes[0].c, up, net->nodes[0].h, up, net->nodes[0].w,
                up, sc_node_size(&net->nodes[0]), up, sc_net_output_size(net),
                up, arena ? arena : 1, up,
                sc_cgen_float(f, q->nodes[0].t.s), up, q->nodes[0].t.z);
    sc_cgen_def(t,
        "/* The logits of one input (%s_INPUTS floats, c x h x w) into logits\n"
        " * (%s_OUTPUTS floats), working in arena (%s_ARENA_BYTES bytes, any\n"
        " * alignment). */\n"
        "void %s_predict(const float *input, float *logits, void *arena);\n"
        "/* The same from the input's bytes (%s_INPUT_SCALE, %s_INPUT_ZERO). */\n"
        "void %s_predict_q8(const uint8_t *input, float *logits, void *arena);\n\n",
        up, up, up, name, up, up, name);
    sc_cgen_def(t, "#ifdef __cplusplus\n}\n#endif\n\n#endif\n");
}

/* NAME.c around what the layers wrote into g */
static void source_file(sc_cgen *t, const sc_cgen *g, const sc_q8 *q,
                        const char *name, size_t input_off)
{
    const sc_net *net = q->net;
    int last = net->n_nodes - 1;
    char up[NAME_MAX_LEN + 1], f[40];
    upper(up, name);
    sc_cgen_def(t, "#include <stddef.h>\n#include <stdint.h>\n%s\n"
                "#include \"%s.h\"\n\n", g->libm ? "\n#include <math.h>" : "",
                name);
    sc_cgen_def(t, "#if defined(__clang__)\n#pragma STDC FP_CONTRACT OFF\n"
                "#endif\n\n");
    sc_cgen_def(t, "%s\n", g->defs.s ? g->defs.s : "");
    sc_cgen_def(t, "/* the forward of the input's bytes in, arena a */\n"
                "static void run(const uint8_t *in, uint8_t *a, float *logits)\n"
                "{\n    (void)a;\n    (void)logits;\n%s",
                g->body.s ? g->body.s : "");
    if (owner(q, last) >= 0) { /* bytes: their real values */
        const sc_q8t tl = q->nodes[last].t;
        sc_cgen_def(t, "    for (int i = 0; i < %s_OUTPUTS; i++)\n"
                    "        logits[i] = %s * (float)((int)(%s)[i] - %d);\n",
                    up, sc_cgen_float(f, tl.s), g->expr[last], tl.z);
    }
    sc_cgen_def(t, "}\n\n");
    sc_cgen_def(t,
        "void %s_predict_q8(const uint8_t *input, float *logits, void *arena)\n"
        "{\n    run(input, (uint8_t *)arena, logits);\n}\n\n", name);
    sc_cgen_def(t,
        "void %s_predict(const float *input, float *logits, void *arena)\n"
        "{\n"
        "    uint8_t *a = (uint8_t *)arena, *q = a + %zu;\n"
        "    for (int i = 0; i < %s_INPUTS; i++) {\n"
        "        float v = input[i] * %s + %d.0f;\n"
        "        v = v > 0.0f ? v : 0.0f;\n"
        "        v = v < 255.0f ? v : 255.0f;\n"
        "        q[i] = (uint8_t)(int)(v + 0.5f);\n"
        "    }\n"
        "    run(q, a, logits);\n}\n", name, input_off, up,
        sc_cgen_float(f, 1.0f / q->nodes[0].t.s), q->nodes[0].t.z);
}

static sc_status write_file(const char *dir, const char *name,
                            const char *ext, const sc_cgen *t, const char *fn)
{
    if (t->oom)
        return sc_fail(SC_ERR_NOMEM, "%s: out of memory", fn);
    size_t n = strlen(dir) + strlen(name) + 8;
    char *path = malloc(n);
    if (path == NULL)
        return sc_fail(SC_ERR_NOMEM, "%s: out of memory", fn);
    snprintf(path, n, "%s/%s%s", dir, name, ext);
    sc_status st = sc_file_write_atomic(path, t->defs.s, t->defs.n, fn);
    free(path);
    return st;
}

SC_API sc_status sc_model_export_c(const sc_model *m, const char *dir,
                                   const char *name,
                                   const sc_c_export_options *options,
                                   sc_c_footprint *footprint)
{
    const char *fn = "sc_model_export_c";
    SC_CHECK_NULL(m, fn);
    SC_CHECK_NULL(dir, fn);
    SC_CHECK_NULL(name, fn);
    sc_c_export_options o;
    sc_status st = get_options(options, &o, fn);
    if (st != SC_OK)
        return st;
    if (footprint && footprint->size < sizeof(size_t))
        return sc_fail(SC_ERR_ARG, "%s: footprint .size is %zu (set it to "
                       "sizeof(sc_c_footprint))", fn, footprint->size);
    if (!c_name(name))
        return sc_fail(SC_ERR_ARG, "%s: name '%s' is not a C identifier of "
                       "at most %d characters", fn, name, NAME_MAX_LEN);
    sc_q8 *q;
    if ((st = sc_q8_build(sc_model_net(m), NULL, &q, fn)) != SC_OK)
        return st;
    sc_cgen g = {0}, h = {0}, c = {0};
    size_t arena = 0, unshared = 0, input_off = 0;
    st = layout(q, &g, &arena, &unshared, &input_off);
    q->cg = &g;
    for (int i = 1; st == SC_OK && i < q->net->n_nodes; i++) {
        sc_node *nd = &q->net->nodes[i];
        if (!runs(q, i))
            continue;
        st = sc_ops[nd->kind].q8(q, nd, Q8_EMIT);
        if (st == SC_ERR_UNSUPPORTED)
            st = sc_fail(st, "%s: layer %d (%s) has no C code", fn, i,
                         sc_ops[nd->kind].name);
        else if (st != SC_OK)
            st = sc_fail(st, "%s: layer %d (%s): %s", fn, i,
                         sc_ops[nd->kind].name, sc_last_error());
    }
    if (st == SC_OK && g.oom)
        st = sc_fail(SC_ERR_NOMEM, "%s: out of memory", fn);
    if (st == SC_OK) {
        h.const_bytes = c.const_bytes = g.const_bytes;
        h.libm = c.libm = g.libm;
        top_comment(&h, m, name, &o, arena);
        top_comment(&c, m, name, &o, arena);
        header_file(&h, q, name, arena);
        source_file(&c, &g, q, name, input_off);
        st = write_file(dir, name, ".h", &h, fn);
        if (st == SC_OK)
            st = write_file(dir, name, ".c", &c, fn);
    }
    if (st == SC_OK && footprint) {
        sc_c_footprint fp = SC_C_FOOTPRINT_INIT;
        fp.const_bytes = (int64_t)g.const_bytes;
        fp.arena_bytes = (int64_t)(arena ? arena : 1);
        fp.unshared_bytes = (int64_t)unshared;
        size_t keep = footprint->size;
        memcpy(footprint, &fp, keep < sizeof fp ? keep : sizeof fp);
        footprint->size = keep;
    }
    sc_cgen_free(&g);
    sc_cgen_free(&h);
    sc_cgen_free(&c);
    sc_q8_free(q);
    return st;
}
