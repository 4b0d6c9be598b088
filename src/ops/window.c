/* window.c -- the output shape of a windowed pool (max and average). */
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
