/* reduce.h -- the host's reduction hook in the train step (internal side). */
#ifndef SC_NN_REDUCE_H
#define SC_NN_REDUCE_H

#include "engine/net.h"

/* With a reduction hook set: hands it the gradients and the step's figures
 * (failed 0/1, *task, *acc), which come back averaged over the ranks.
 * SC_ERR_HOST when the hook fails; SC_OK without a hook. *failed is set
 * when any rank failed. */
sc_status sc_reduce_grads(sc_net *net, int *failed, double *task, double *acc,
                          const char *fn);

/* With a reduction hook set and running statistics: hands it net->state.
 * SC_ERR_HOST when the hook fails. */
sc_status sc_reduce_state(sc_net *net, const char *fn);

#endif
