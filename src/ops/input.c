/* input.c -- node 0, the network input: its y is the caller's batch. */
#include "core/error.h"
#include "ops/ops.h"

sc_status sc_op_input(sc_net *net, sc_node *nd, sc_op_action action)
{
    (void)net;
    (void)nd;
    (void)action; /* shape is set at creation; y is the caller's batch */
    return SC_OK;
}

sc_status sc_input_append(sc_net *net, int c, int h, int w)
{
    sc_node input = {.kind = SC_LAYER_INPUT, .c = c, .h = h, .w = w};
    int id;
    return sc_graph_add(net, &input, &id);
}
