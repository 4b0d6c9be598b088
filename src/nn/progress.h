/* progress.h -- the host's progress and log hooks (internal side). */
#ifndef SC_NN_PROGRESS_H
#define SC_NN_PROGRESS_H

#include "engine/net.h"

/* After a successful train step of n images (and any automatic compress):
 * records the step's figures and, on reporting steps, calls the progress
 * hook. Costs a few stores when no hook is set. */
void sc_progress_step(sc_net *net, uint64_t step, int n, double loss,
                      double task, double q, double acc);

/* The size budget was reached at step: fires an SC_PROGRESS_BUDGET record
 * (the size figures as compressed) when a progress hook is set. */
void sc_progress_budget(sc_net *net, uint64_t step);

#endif
