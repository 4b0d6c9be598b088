/* add.c -- y = a + b; da += dy, db += dy. */
#include "core/error.h"
#include "ops/ops.h"

sc_status sc_op_add(sc_net *net, sc_node *nd, int action)
{
    sc_node *a = sc_in(net, nd, 0), *b = sc_in(net, nd, 1);
    size_t total = (size_t)net->plan_n * sc_node_size(nd);
    switch (action) {
    case OP_SHAPE:
        if (a->c != b->c || a->h != b->h || a->w != b->w)
            return sc_fail(SC_ERR_SHAPE,
                           "add: shapes %dx%dx%d and %dx%dx%d differ", a->c,
                           a->h, a->w, b->c, b->h, b->w);
        nd->c = a->c;
        nd->h = a->h;
        nd->w = a->w;
        return SC_OK;
    case OP_SCRATCH:
        return SC_OK;
    case OP_FORWARD:
        for (size_t i = 0; i < total; i++)
            nd->y[i] = a->y[i] + b->y[i];
        return SC_OK;
    case OP_BACKWARD:
        if (a->dy)
            for (size_t i = 0; i < total; i++)
                a->dy[i] += nd->dy[i];
        if (b->dy)
            for (size_t i = 0; i < total; i++)
                b->dy[i] += nd->dy[i];
        return SC_OK;
    }
    return sc_fail(SC_ERR_ARG, "add: unknown action %d", action);
}
