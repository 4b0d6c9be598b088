/* budget.h -- the size budget a train step checks (SC_PARAM_BUDGET_*). */
#ifndef SC_NN_BUDGET_H
#define SC_NN_BUDGET_H

#include "engine/net.h"

/* After a successful train step that brought the optimizer to step: on a
 * checking step of a net with a budget and learning bit depths, compresses
 * the net and freezes its bit depths once the size report is within the
 * budget. A compress that fails leaves everything as it was. */
void sc_budget_step(sc_net *net, uint64_t step);

#endif
