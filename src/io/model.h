/* model.h -- internal access to a loaded model (tests and fuzzers). */
#ifndef SC_IO_MODEL_H
#define SC_IO_MODEL_H

#include "engine/net.h"

/* The inference net inside a model (owned by the model). */
sc_net *sc_model_net(sc_model *m);

#endif
