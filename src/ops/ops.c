/* ops.c -- the op table, indexed by sc_layer_kind. */
#include "ops/ops.h"

const sc_op_def sc_ops[SC_LAYER_KIND_COUNT] = {
    [SC_LAYER_INPUT] = {"input", sc_op_input},
    [SC_LAYER_DENSE] = {"dense", sc_op_dense},
    [SC_LAYER_CONV2D] = {"conv2d", sc_op_conv2d},
    [SC_LAYER_BATCHNORM] = {"batchnorm", sc_op_batchnorm},
    [SC_LAYER_RELU] = {"relu", sc_op_relu},
    [SC_LAYER_MAXPOOL] = {"maxpool", sc_op_maxpool},
    [SC_LAYER_GAVGPOOL] = {"global_avgpool", sc_op_gavgpool},
    [SC_LAYER_GMAXPOOL] = {"global_maxpool", sc_op_gmaxpool},
    [SC_LAYER_FLATTEN] = {"flatten", sc_op_flatten},
    [SC_LAYER_ADD] = {"add", sc_op_add},
};
_Static_assert(SC_LAYER_ADD + 1 == SC_LAYER_KIND_COUNT,
               "sc_ops must have one entry per sc_layer_kind");

const float *sc_layer_weights(sc_net *net, sc_node *nd)
{
    return nd->quantized ? nd->qw : sc_node_param(net, nd, P_W);
}

const float *sc_layer_cbias(const sc_net *net, const sc_node *nd)
{
    return net->training && nd->tbias ? nd->tbias : nd->cbias;
}
