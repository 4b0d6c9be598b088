/* model.h -- internal access to a loaded model (tests, fuzzers, the ONNX
 * exporter). */
#ifndef SC_IO_MODEL_H
#define SC_IO_MODEL_H

#include "engine/net.h"

/* The inference net inside a model (owned by the model). */
sc_net *sc_model_net(const sc_model *m);
/* Layer id's channels as the file stored them: their bit counts (ceil(B),
 * one byte each, returned) and exponents (*e), when the layer is stored
 * quantised; NULL when it is stored in float or has no weights. The arrays
 * (the layer's channels long) are the model's. */
const unsigned char *sc_model_layer_quant(const sc_model *m, int id,
                                          const float **e);

/* Prepares the model's int8 program with kernel (NULL: the best; tests
 * force each one), replacing one prepared before. */
struct sc_qkernel;
sc_status sc_model_prepare_int8(sc_model *m, const struct sc_qkernel *kernel,
                                const char *fn);

#endif
