/* budget.c -- training to a size budget: every SC_PARAM_BUDGET_EVERY steps
 * the size report is compared with the budget; on reaching it the net
 * compresses itself and its bit depths freeze (SC_PARAM_QUANT_BITS_FROZEN),
 * while exponents and weights go on learning at the sizes reached. */
#include "core/log.h"
#include "nn/budget.h"
#include "nn/progress.h"

void sc_budget_step(sc_net *net, uint64_t step)
{
    if (net->bits_frozen || net->n0 == 0 ||
        (net->budget_bits <= 0.0 && net->budget_weights <= 0.0) ||
        step % (uint64_t)net->budget_every != 0)
        return;
    sc_size_report r = SC_SIZE_REPORT_INIT;
    if (sc_net_size_report(net, SC_ALL_LAYERS, &r) != SC_OK ||
        (net->budget_bits > 0.0 && r.bits_pct > net->budget_bits) ||
        (net->budget_weights > 0.0 && r.weights_pct > net->budget_weights))
        return;
    /* a compress that fails (out of memory) changes nothing: the next
     * check tries again */
    if (sc_net_compress(net, NULL) != SC_OK)
        return;
    net->bits_frozen = 1;
    sc_log(&net->hooks.log, SC_LOG_INFO, "size budget reached at step %llu: "
           "bits %.3f%%, weights %.3f%% (budget %g%%, %g%%); compressed, bit "
           "depths frozen", (unsigned long long)step, r.bits_pct,
           r.weights_pct, net->budget_bits, net->budget_weights);
    sc_progress_budget(net, step);
}
