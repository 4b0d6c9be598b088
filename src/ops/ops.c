/* ops.c -- the op table, indexed by sc_layer_kind. */
#include "ops/ops.h"

const sc_op_def sc_ops[SC_LAYER_KIND_COUNT] = {
    [SC_LAYER_INPUT] = {"input", sc_op_input, SC_CHAN_SOURCE, 0},
    [SC_LAYER_DENSE] = {"dense", sc_op_dense, SC_CHAN_NEW,
                        SC_OPF_WEIGHTS | SC_OPF_FLAT_IN},
    [SC_LAYER_CONV2D] = {"conv2d", sc_op_conv2d, SC_CHAN_NEW, SC_OPF_WEIGHTS},
    [SC_LAYER_BATCHNORM] = {"batchnorm", sc_op_batchnorm, SC_CHAN_SAME,
                            SC_OPF_TAKES_RELU},
    [SC_LAYER_RELU] = {"relu", sc_op_relu, SC_CHAN_SAME,
                       SC_OPF_IN_PLACE | SC_OPF_RELU},
    [SC_LAYER_MAXPOOL] = {"maxpool", sc_op_maxpool, SC_CHAN_SAME, 0},
    [SC_LAYER_GAVGPOOL] = {"global_avgpool", sc_op_gavgpool, SC_CHAN_SAME, 0},
    [SC_LAYER_GMAXPOOL] = {"global_maxpool", sc_op_gmaxpool, SC_CHAN_SAME, 0},
    [SC_LAYER_FLATTEN] = {"flatten", sc_op_flatten, SC_CHAN_FLATTEN,
                          SC_OPF_ALIAS},
    [SC_LAYER_ADD] = {"add", sc_op_add, SC_CHAN_JOIN, 0},
};
_Static_assert(SC_LAYER_ADD + 1 == SC_LAYER_KIND_COUNT,
               "sc_ops must have one entry per sc_layer_kind");

const float *sc_layer_weights(sc_net *net, sc_node *nd)
{
    return nd->quantized ? nd->qw : sc_node_param(net, nd, P_W);
}
