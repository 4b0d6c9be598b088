/* gradcheck.h -- analytic gradients of the training loss against central
 * finite differences (kann's kad_check_grad). Internal tooling for tests:
 * not exported.
 *
 * The loss is the training loss L = task(logits, labels or targets) +
 * gamma * Q with the net's loss setting (sc_net_set_loss; not the host's),
 * in the net's current mode (training: batch statistics; eval: running
 * statistics), computed by the same internal calls as sc_net_train_step()
 * (sc_plan, sc_forward, sc_task_loss, sc_backward, sc_size_loss) but without the
 * optimizer update and without committing running statistics: the net's
 * parameters and state are left exactly as they were.
 *
 * Quantised layers use a straight-through estimator, so their analytic
 * gradient is not the derivative of L: check float nets only.
 */
#ifndef SC_NN_GRADCHECK_H
#define SC_NN_GRADCHECK_H

#include <stddef.h>
#include <stdint.h>

#include "engine/net.h"

typedef struct sc_gc_opts {
    double eps;        /* central-difference step (0: 1e-3) */
    double floor;      /* err = |a - n| / max(floor, |a|, |n|) (0: 1e-2) */
    size_t max_params; /* check at most about this many parameters, an even
                          spread over every parameter slot (0: all) */
    size_t max_inputs; /* same for input elements (0: all) */
    int skip_input;    /* 1: do not check d/dx */
} sc_gc_opts;
#define SC_GC_OPTS_INIT {0, 0, 0, 0, 0}

typedef struct sc_gc_result {
    double loss;           /* L at the unperturbed point */
    double max_err;        /* max over checked elements of err */
    int worst_is_input;    /* 1: the worst element is an input element */
    size_t worst;          /* its index (in the params, or in x) */
    double worst_analytic; /* the two values there */
    double worst_numeric;
    size_t checked;        /* elements compared */
} sc_gc_result;

/* L (task + gamma Q) of net on the batch x (n samples, c*h*w floats each)
 * with labels or targets (n*k floats), as the net's loss takes, in the
 * net's current mode. When dparams (n_params floats) or dx (n*c*h*w
 * floats) is not NULL, also the analytic gradients. Needs an initialised
 * net; changes neither parameters nor running statistics. */
sc_status sc_grad_loss(sc_net *net, const float *x, int n,
                       const int32_t *labels, const float *targets,
                       double *loss, float *dparams,
                       float *dx);

/* Compares the given analytic gradients (dx may be NULL when
 * opts->skip_input) with central differences (L(p+eps) - L(p-eps)) / 2eps
 * over the sampled elements. Parameters and x are restored exactly. */
sc_status sc_grad_compare(sc_net *net, const float *x, int n,
                          const int32_t *labels, const float *targets,
                          const float *dparams,
                          const float *dx, const sc_gc_opts *opts,
                          sc_gc_result *res);

/* sc_grad_loss then sc_grad_compare: res->max_err is the verdict (callers
 * typically require max_err <= 1e-2). */
sc_status sc_grad_check(sc_net *net, const float *x, int n,
                        const int32_t *labels, const float *targets,
                        const sc_gc_opts *opts,
                        sc_gc_result *res);

#endif
