/* flatten.c -- C x H x W -> (C*H*W) x 1 x 1; y and dy alias the input's. */
#include "core/error.h"
#include "int8/q8.h"
#include "ops/ops.h"

sc_status sc_op_flatten(sc_net *net, sc_node *nd, sc_op_action action)
{
    sc_node *x = sc_in(net, nd, 0);
    switch (action) {
    case OP_SHAPE:
        nd->c = (int)sc_node_size(x);
        nd->h = nd->w = 1;
        return SC_OK;
    case OP_SCRATCH:
    case OP_COMMIT:
    case OP_COMMIT_CHECK:
    case OP_FORWARD:  /* the plan points y at the input's y */
    case OP_BACKWARD: /* and dy at the input's dy: nothing to move */
        return SC_OK;
    }
    return sc_fail(SC_ERR_ARG, "flatten: unknown action %d", action);
}

SC_API sc_status sc_net_flatten(sc_net *net, int in, int *id)
{
    sc_layer_desc d = SC_LAYER_DESC_INIT(SC_LAYER_FLATTEN);
    return sc_layer_append(net, &d, &in, 1, id, "sc_net_flatten");
}

/* int8: the input's bytes */
sc_status sc_q8_flatten(sc_q8 *q, sc_node *nd, int action)
{
    if (action != Q8_PREPARE)
        return action == Q8_FORWARD ? SC_OK : SC_ERR_UNSUPPORTED;
    sc_q8_keep_input(q, nd, 1);
    return SC_OK;
}
