/* layer_params.h -- a layer's constant map (internal), beside the public
 * per-layer parameter calls of layer_params.c: the c*h*w floats per sample
 * that a dense/conv forward adds after its bias, which compress folds in
 * (sc_node.cbias) and which the ONNX exporter writes and the importer
 * reads back. */
#ifndef SC_NN_LAYER_PARAMS_H
#define SC_NN_LAYER_PARAMS_H

#include <stddef.h>

#include "selfcompress.h"

/* Layer id's eval-mode constant map, or NULL when it has none (or id is no
 * layer). */
const float *sc_layer_const_map(const sc_net *net, int id);
/* Gives layer id (dense or conv, after sc_net_init) the constant map src
 * of n = c*h*w floats, replacing any it had: SC_ERR_ARG for another layer
 * or count, SC_ERR_NONFINITE, SC_ERR_NOMEM, with fn's message; on failure
 * nothing changes. */
sc_status sc_layer_set_const_map(sc_net *net, int id, const float *src,
                                 size_t n, const char *fn);

#endif
