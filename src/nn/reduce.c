/* reduce.c -- the host's reduction hook: data-parallel train steps. */
#include "nn/reduce.h"

#include "core/error.h"

SC_API sc_status sc_net_set_reduce(sc_net *net, sc_reduce_fn fn, void *user)
{
    SC_CHECK_NULL(net, "sc_net_set_reduce");
    net->hooks.reduce = fn;
    net->hooks.reduce_user = fn ? user : NULL;
    return SC_OK;
}

sc_status sc_reduce_grads(sc_net *net, int *failed, double *task, double *acc,
                          const char *fn)
{
    sc_hooks *h = &net->hooks;
    if (h->reduce == NULL)
        return SC_OK;
    double fig[SC_REDUCE_FIG_COUNT];
    fig[SC_REDUCE_FIG_FAILED] = *failed ? 1.0 : 0.0;
    fig[SC_REDUCE_FIG_TASK] = *task;
    fig[SC_REDUCE_FIG_ACCURACY] = *acc;
    if (h->reduce(SC_REDUCE_GRADS, net->grads, net->n_params, fig,
                  SC_REDUCE_FIG_COUNT, h->reduce_user) != 0)
        return sc_fail(SC_ERR_HOST, "%s: the reduction hook failed on the "
                       "gradients; nothing was updated", fn);
    *failed = fig[SC_REDUCE_FIG_FAILED] != 0.0;
    *task = fig[SC_REDUCE_FIG_TASK];
    *acc = fig[SC_REDUCE_FIG_ACCURACY];
    return SC_OK;
}

sc_status sc_reduce_state(sc_net *net, const char *fn)
{
    sc_hooks *h = &net->hooks;
    if (h->reduce == NULL || net->n_state == 0)
        return SC_OK;
    if (h->reduce(SC_REDUCE_STATE, net->state, net->n_state, NULL, 0,
                  h->reduce_user) != 0)
        return sc_fail(SC_ERR_HOST, "%s: the reduction hook failed on the "
                       "running statistics; the update was applied, the "
                       "running statistics are this rank's own", fn);
    return SC_OK;
}
