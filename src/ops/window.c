/* window.c -- the output shape of a windowed pool (max and average). */
#include "cgen/cgen.h"
#include "core/error.h"
#include "ops/ops.h"

sc_status sc_window_shape(sc_net *net, sc_node *nd)
{
    const char *name = sc_ops[nd->kind].name;
    sc_node *x = sc_in(net, nd, 0);
    if (nd->ph > nd->kh / 2 || nd->pw > nd->kw / 2)
        return sc_fail(SC_ERR_ARG, "%s: pad %dx%d is more than half the "
                       "window %dx%d", name, nd->ph, nd->pw, nd->kh, nd->kw);
    int hp = x->h + 2 * nd->ph, wp = x->w + 2 * nd->pw;
    if (hp < nd->kh || wp < nd->kw)
        return sc_fail(SC_ERR_SHAPE, "%s: window %dx%d is larger than the "
                       "padded input %dx%d", name, nd->kh, nd->kw, hp, wp);
    nd->c = x->c;
    nd->h = (hp - nd->kh) / nd->sh + 1;
    nd->w = (wp - nd->kw) / nd->sw + 1;
    return SC_OK;
}

int sc_window_emit(sc_cgen *g, const sc_net *net, const sc_node *nd,
                   const char *key, const char *helper)
{
    const sc_node *x = &net->nodes[nd->in[0]];
    if (sc_cgen_once(g, "q8win"))
        sc_cgen_def(g,
            "/* a pool's window over c planes of ih x iw into oh x ow */\n"
            "typedef struct q8win {\n"
            "    int c, ih, iw, oh, ow, kh, kw, sh, sw, ph, pw;\n"
            "} q8win;\n"
            "/* the input span [*lo, *hi) of output o */\n"
            "static void q8_span(int o, int k, int s, int p, int n, int *lo,\n"
            "                    int *hi)\n"
            "{\n"
            "    int a = o * s - p, b = a + k;\n"
            "    *lo = a > 0 ? a : 0;\n"
            "    *hi = b < n ? b : n;\n"
            "}\n");
    if (sc_cgen_once(g, key))
        sc_cgen_def(g, "%s", helper);
    int id = g->n_arrays++;
    sc_cgen_def(g, "static const q8win p%d = {%d, %d, %d, %d, %d, %d, %d, %d, "
                "%d, %d, %d};\n", id, x->c, x->h, x->w, nd->h, nd->w, nd->kh,
                nd->kw, nd->sh, nd->sw, nd->ph, nd->pw);
    return id;
}
