/* ops.c -- the op table, indexed by sc_layer_kind, and what the weighted
 * ops share. */
#include "ops/ops.h"

#include "quant/mantissa.h"
#include "quant/quantizer.h"

#define ONE 1, 1 /* one input */
const sc_op_def sc_ops[SC_LAYER_KIND_COUNT] = {
    [SC_LAYER_INPUT] = {"input", sc_op_input, SC_CHAN_SOURCE, 0, 0, 0, 0, 0},
    [SC_LAYER_DENSE] = {"dense", sc_op_dense, SC_CHAN_NEW,
                        SC_OPF_WEIGHTS | SC_OPF_FLAT_IN, SC_ATTR_CHANNELS,
                        SC_BIAS, ONE, sc_q8_dense},
    [SC_LAYER_CONV2D] = {"conv2d", sc_op_conv2d, SC_CHAN_NEW, SC_OPF_WEIGHTS,
                         SC_ATTR_CHANNELS | SC_ATTR_KERNEL | SC_ATTR_STRIDE |
                             SC_ATTR_PAD | SC_ATTR_GROUPS,
                         SC_BIAS, ONE, sc_q8_conv2d},
    [SC_LAYER_BATCHNORM] = {"batchnorm", sc_op_batchnorm, SC_CHAN_SAME,
                            SC_OPF_TAKES_RELU, 0,
                            SC_BN_AFFINE | SC_BN_BATCH_STATS, ONE, sc_q8_batchnorm},
    [SC_LAYER_RELU] = {"relu", sc_op_relu, SC_CHAN_SAME,
                       SC_OPF_IN_PLACE | SC_OPF_RELU, 0, 0, ONE, sc_q8_relu},
    [SC_LAYER_MAXPOOL] = {"maxpool", sc_op_maxpool, SC_CHAN_SAME, 0,
                          SC_ATTR_KERNEL | SC_ATTR_STRIDE | SC_ATTR_PAD, 0,
                          ONE, sc_q8_maxpool},
    [SC_LAYER_GAVGPOOL] = {"global_avgpool", sc_op_gavgpool, SC_CHAN_SAME, 0,
                           0, 0, ONE, sc_q8_gavgpool},
    [SC_LAYER_GMAXPOOL] = {"global_maxpool", sc_op_gmaxpool, SC_CHAN_SAME, 0,
                           0, 0, ONE, sc_q8_gmaxpool},
    [SC_LAYER_FLATTEN] = {"flatten", sc_op_flatten, SC_CHAN_FLATTEN,
                          SC_OPF_ALIAS, 0, 0, ONE, sc_q8_flatten},
    [SC_LAYER_ADD] = {"add", sc_op_add, SC_CHAN_JOIN, 0, 0, 0, 2, 2, sc_q8_add},
    [SC_LAYER_AVGPOOL] = {"avgpool", sc_op_avgpool, SC_CHAN_SAME, 0,
                          SC_ATTR_KERNEL | SC_ATTR_STRIDE | SC_ATTR_PAD,
                          SC_POOL_COUNT_PAD, ONE, sc_q8_avgpool},
    [SC_LAYER_LEAKY_RELU] = {"leaky_relu", sc_op_leaky_relu, SC_CHAN_SAME,
                             SC_OPF_IN_PLACE, SC_ATTR_ALPHA, 0, ONE,
                             sc_q8_leaky_relu},
    [SC_LAYER_RELU6] = {"relu6", sc_op_relu6, SC_CHAN_SAME, SC_OPF_IN_PLACE,
                        0, 0, ONE, sc_q8_relu6},
    [SC_LAYER_SIGMOID] = {"sigmoid", sc_op_sigmoid, SC_CHAN_SAME,
                          SC_OPF_IN_PLACE, 0, 0, ONE, sc_q8_sigmoid},
    [SC_LAYER_TANH] = {"tanh", sc_op_tanh, SC_CHAN_SAME, SC_OPF_IN_PLACE, 0,
                       0, ONE, sc_q8_tanh},
    /* its backward reads x: never in place */
    [SC_LAYER_HARDSWISH] = {"hardswish", sc_op_hardswish, SC_CHAN_SAME, 0, 0,
                            0, ONE, sc_q8_hardswish},
    [SC_LAYER_CONCAT] = {"concat", sc_op_concat, SC_CHAN_CONCAT, 0, 0, 0, 2,
                         SC_MAX_LAYER_INPUTS, sc_q8_concat},
    [SC_LAYER_DROPOUT] = {"dropout", sc_op_dropout, SC_CHAN_SAME, 0,
                          SC_ATTR_ALPHA, 0, ONE, sc_q8_dropout},
};
#undef ONE
_Static_assert(SC_LAYER_DROPOUT + 1 == SC_LAYER_KIND_COUNT,
               "sc_ops must have one entry per sc_layer_kind");

const float *sc_layer_weights(sc_net *net, sc_node *nd)
{
    return nd->quantized || nd->int_weights ? nd->qw
                                            : sc_node_param(net, nd, P_W);
}

static size_t per_channel(const sc_node *nd)
{
    return nd->pn[P_W] / (size_t)nd->c;
}

void sc_layer_quantize(sc_net *net, sc_node *nd)
{
    sc_quant_forward(net->pool, sc_node_param(net, nd, P_W),
                     sc_node_param(net, nd, P_QB), sc_node_param(net, nd, P_QE),
                     (size_t)nd->c, per_channel(nd), nd->qw);
}

void sc_layer_straight_through(sc_net *net, sc_node *nd)
{
    sc_quant_backward(net->pool, sc_node_param(net, nd, P_W),
                      sc_node_param(net, nd, P_QB), sc_node_param(net, nd, P_QE),
                      (size_t)nd->c, per_channel(nd), sc_node_grad(net, nd, P_W),
                      sc_node_grad(net, nd, P_QB), sc_node_grad(net, nd, P_QE));
}

sc_status sc_weighted_op(sc_net *net, sc_node *nd, sc_op_action action, sc_op_fn body)
{
    if (action == OP_FORWARD && nd->quantized)
        sc_layer_quantize(net, nd);
    else if (action == OP_FORWARD && nd->int_weights)
        sc_mantissas_dequantize(nd->mant, nd->qw);
    sc_status st = body(net, nd, action);
    if (action == OP_BACKWARD && nd->quantized)
        sc_layer_straight_through(net, nd);
    return st;
}

const float *sc_layer_cbias(const sc_net *net, const sc_node *nd)
{
    return net->training && nd->tbias ? nd->tbias : nd->cbias;
}
