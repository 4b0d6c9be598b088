/* train.c -- inference and the training step: forward, loss, backward,
 * update. Everything that can fail is checked before anything changes. */
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/tensor.h"
#include "nn/budget.h"
#include "nn/progress.h"
#include "nn/reduce.h"
#include "ops/ops.h"
#include "optim/optimizer.h"
#include "quant/quantizer.h"

SC_API sc_status sc_net_forward(sc_net *net, const sc_tensor *x,
                                sc_tensor *out)
{
    SC_CHECK_NULL(net, "sc_net_forward");
    SC_CHECK_NULL(x, "sc_net_forward");
    SC_CHECK_NULL(out, "sc_net_forward");
    int n;
    sc_status st = sc_check_input(net, x, &n, "sc_net_forward");
    if (st != SC_OK)
        return st;
    size_t k = (size_t)sc_net_output_size(net);
    if (out->numel != (size_t)n * k || out->shape[0] != n)
        return sc_fail(SC_ERR_SHAPE,
                       "sc_net_forward: out must hold %d x %zu floats", n, k);
    if ((st = sc_plan(net, n)) != SC_OK)
        return st;
    net->input = x->data;
    sc_forward(net, n);
    memcpy(out->data, net->nodes[net->n_nodes - 1].y, (size_t)n * k * sizeof(float));
    return SC_OK;
}

/* What every step checks first: the optimizer is the net's and has steps
 * left, stats (when given) has its size set. */
static sc_status step_args(const sc_net *net, const sc_optimizer *opt,
                           const sc_step_stats *stats, const char *fn)
{
    SC_CHECK_NULL(net, fn);
    SC_CHECK_NULL(opt, fn);
    if (opt->net != net)
        return sc_fail(SC_ERR_ARG, "%s: the optimizer belongs to another net",
                       fn);
    if (opt->t >= SC_OPT_MAX_STEPS)
        return sc_fail(SC_ERR_STATE, "%s: the optimizer has taken its %llu "
                       "steps", fn, (unsigned long long)SC_OPT_MAX_STEPS);
    if (stats && (stats->size < sizeof(size_t) || stats->size > 4096))
        return sc_fail(SC_ERR_ARG, "%s: stats->size must be set to "
                       "sizeof(sc_step_stats)", fn);
    return SC_OK;
}

/* 1 when t is an n x k tensor (any rank with n rows of k floats). */
static int rows_of(const sc_tensor *t, int n, int k)
{
    return t->ndim >= 1 && t->shape[0] == n &&
           t->numel == (size_t)n * (size_t)k;
}

/* The batch's labels or targets against the net's loss and the batch of
 * n (sc_loss_check, after the targets' shape). */
static sc_status check_targets(const sc_net *net, const int32_t *labels,
                               const sc_tensor *targets, int n,
                               const char *fn)
{
    int k = sc_net_output_size(net);
    if (targets && sc_losses[net->loss].input == SC_LOSS_IN_FLOATS &&
        !rows_of(targets, n, k))
        return sc_fail(SC_ERR_SHAPE, "%s: targets must be %d x %d floats", fn,
                       n, k);
    return sc_loss_check(net, labels, targets ? targets->data : NULL, n, fn);
}

/* Dropout's counter for the training step being taken (net.h's
 * drop_step): the net's optimizer's step count + 1, which checkpoints
 * keep, so a resumed run draws the masks the whole run would have. */
static uint64_t drop_counter(const sc_net *net)
{
    return (net->opt ? sc_optimizer_steps(net->opt) : 0) + 1;
}

/* The rest of every step once the training-mode forward of the batch of n
 * at net->input has run and dL/dz is in the last node's dy: the size loss
 * gamma Q added to the task loss, the finite checks, backward, update,
 * statistics, the automatic compress, progress and the size budget. Puts net->training
 * back to mode. Nothing changes on failure. */
static sc_status step_finish(sc_net *net, sc_optimizer *opt, int n, int mode,
                             double task, double distill, double acc,
                             sc_step_stats *stats, const char *fn)
{
    if (net->gamma > 0.0 && net->n0 == 0 && !net->hooks.gamma_warned) {
        net->hooks.gamma_warned = 1;
        sc_log(&net->hooks.log, SC_LOG_WARN, "%s: gamma is %g but no layer is "
               "quantised (sc_net_quantize()): the size loss is 0 and nothing "
               "will compress", fn, net->gamma);
    }
    sc_liveness(net);
    double q = sc_size_loss(net, 0);
    double loss = task + net->gamma * q + distill;
    /* A local failure is reported after the hook, which every rank calls
     * on every step: with zero gradients and SC_REDUCE_FIG_FAILED set. */
    sc_status st = SC_OK;
    if (!isfinite(loss))
        st = sc_fail(SC_ERR_DIVERGED, "%s: the loss is not finite (%g)", fn,
                     loss);
    else if ((st = sc_commit_check(net)) != SC_OK)
        st = sc_fail(st, "%s: %s; nothing was updated", fn, sc_last_error());
    if (st == SC_OK) {
        net->host_n = 0; /* backward overwrites what a kept forward left */
        net->drop_step = drop_counter(net);
        sc_backward(net, n);
        net->drop_step = 0;
        sc_size_loss(net, 1);
    } else if (net->hooks.reduce) {
        memset(net->grads, 0, net->n_params * sizeof *net->grads);
    }
    int failed = st != SC_OK;
    sc_status rst = sc_reduce_grads(net, &failed, &task, &acc, fn);
    if (st != SC_OK || rst != SC_OK) {
        net->training = mode;
        return st != SC_OK ? st : rst;
    }
    if (failed) {
        net->training = mode;
        return sc_fail(SC_ERR_DIVERGED, "%s: another rank's step diverged; "
                       "nothing was updated", fn);
    }
    loss = task + net->gamma * q + distill;
    if (!sc_grads_finite(net)) {
        size_t i = 0;
        while (isfinite(net->grads[i]))
            i++;
        net->training = mode;
        return sc_fail(SC_ERR_DIVERGED,
                       "%s: gradient %zu is not finite; nothing was updated",
                       fn, i);
    }
    st = sc_optimizer_update(opt);
    net->training = mode;
    if (st != SC_OK)
        return sc_fail(st, "%s: %s", fn, sc_last_error());
    sc_commit_stats(net);
    sc_quant_clamp_ranges(net);
    sc_calib_drop(net);
    st = sc_reduce_state(net, fn);

    if (stats) {
        sc_step_stats s = {stats->size, loss, task, q, acc, (int)net->loss,
                           distill};
        memcpy(stats, &s, stats->size < sizeof s ? stats->size : sizeof s);
    }
    /* The step is done and stays done: a compress that fails (out of
     * memory) changes nothing and is tried again after the next step. */
    if (net->compress_every > 0 &&
        ++net->steps_since_compress >= (uint64_t)net->compress_every &&
        sc_net_compress(net, NULL) == SC_OK)
        net->steps_since_compress = 0;
    sc_progress_step(net, opt->t, n, loss, task, q, acc);
    sc_budget_step(net, opt->t);
    return st;
}

/* A batch's teacher (when it has one) against the net and the batch of n. */
static sc_status check_teacher(const sc_net *net, const sc_batch *b, int n,
                               const char *fn)
{
    if (b->teacher == NULL)
        return SC_OK;
    int k = sc_net_output_size(net);
    if (net->loss != SC_LOSS_SOFTMAX_XENT)
        return sc_fail(SC_ERR_STATE, "%s: distillation needs the loss "
                       "SC_LOSS_SOFTMAX_XENT, not %s", fn,
                       sc_losses[net->loss].name);
    if (!rows_of(b->teacher, n, k))
        return sc_fail(SC_ERR_SHAPE, "%s: the teacher's logits must be %d x "
                       "%d floats", fn, n, k);
    if (!sc_all_finite(b->teacher->data, b->teacher->numel))
        return sc_fail(SC_ERR_NONFINITE, "%s: the teacher's logits hold NaN "
                       "or Inf", fn);
    if (!(isfinite(b->distill_temperature) && b->distill_temperature > 0.0))
        return sc_fail(SC_ERR_ARG, "%s: distill_temperature %g is not > 0",
                       fn, b->distill_temperature);
    if (!(isfinite(b->distill_weight) && b->distill_weight >= 0.0))
        return sc_fail(SC_ERR_ARG, "%s: distill_weight %g is not >= 0", fn,
                       b->distill_weight);
    return SC_OK;
}

/* A step of a loss the library computes, on b with checked-for-NULL x. */
static sc_status train_step(sc_net *net, sc_optimizer *opt, const sc_batch *b,
                            sc_step_stats *stats, const char *fn)
{
    int n;
    const sc_tensor *x = b->x, *targets = b->targets;
    const int32_t *labels = b->labels;
    sc_status st = step_args(net, opt, stats, fn);
    if (st != SC_OK || (st = sc_check_input(net, x, &n, fn)) != SC_OK ||
        (st = check_targets(net, labels, targets, n, fn)) != SC_OK ||
        (st = check_teacher(net, b, n, fn)) != SC_OK ||
        (st = sc_plan(net, n)) != SC_OK)
        return st;
    int mode = net->training;
    net->training = 1;
    net->input = x->data;
    net->drop_step = drop_counter(net);
    sc_forward(net, n);
    net->drop_step = 0;
    sc_zero_dy(net, n);
    double acc, distill = 0.0;
    const sc_node *last = &net->nodes[net->n_nodes - 1];
    double task = sc_task_loss(net, labels, targets ? targets->data : NULL, n,
                               last->dy, &acc);
    if (b->teacher)
        distill = sc_distill(last->y, b->teacher->data, n,
                             sc_net_output_size(net), b->distill_temperature,
                             b->distill_weight, last->dy);
    return step_finish(net, opt, n, mode, task, distill, acc, stats, fn);
}

SC_API sc_status sc_net_train_step(sc_net *net, sc_optimizer *opt,
                                   const sc_tensor *x, const int32_t *labels,
                                   sc_step_stats *stats)
{
    const char *fn = "sc_net_train_step";
    SC_CHECK_NULL(net, fn);
    SC_CHECK_NULL(opt, fn);
    SC_CHECK_NULL(x, fn);
    SC_CHECK_NULL(labels, fn);
    sc_batch b = SC_BATCH_INIT;
    b.x = x;
    b.labels = labels;
    return train_step(net, opt, &b, stats, fn);
}

/* b's fields (those past b->size NULL), x not NULL. */
static sc_status read_batch(const sc_batch *b, sc_batch *out, const char *fn)
{
    SC_CHECK_NULL(b, fn);
    size_t need = offsetof(sc_batch, x) + sizeof b->x;
    if (b->size < need || b->size > 4096)
        return sc_fail(SC_ERR_ARG, "%s: b->size must be set to "
                       "sizeof(sc_batch)", fn);
    sc_batch d = SC_BATCH_INIT;
    memcpy(&d, b, b->size < sizeof d ? b->size : sizeof d);
    SC_CHECK_NULL(d.x, fn);
    *out = d;
    return SC_OK;
}

SC_API sc_status sc_net_train_step_v2(sc_net *net, sc_optimizer *opt,
                                      const sc_batch *b, sc_step_stats *stats)
{
    const char *fn = "sc_net_train_step_v2";
    SC_CHECK_NULL(net, fn);
    SC_CHECK_NULL(opt, fn);
    sc_batch d;
    sc_status st = read_batch(b, &d, fn);
    if (st != SC_OK)
        return st;
    return train_step(net, opt, &d, stats, fn);
}

SC_API sc_status sc_net_eval_loss(sc_net *net, const sc_batch *b,
                                  double *task_loss, double *accuracy)
{
    const char *fn = "sc_net_eval_loss";
    SC_CHECK_NULL(net, fn);
    SC_CHECK_NULL(task_loss, fn);
    sc_batch d;
    int n;
    sc_status st = read_batch(b, &d, fn);
    if (st != SC_OK || (st = sc_check_input(net, d.x, &n, fn)) != SC_OK ||
        (st = check_targets(net, d.labels, d.targets, n, fn)) != SC_OK ||
        (st = sc_plan(net, n)) != SC_OK)
        return st;
    net->input = d.x->data;
    sc_forward(net, n);
    double acc;
    *task_loss = sc_task_loss(net, d.labels, d.targets ? d.targets->data : NULL,
                              n, NULL, &acc);
    if (accuracy)
        *accuracy = acc;
    return SC_OK;
}

SC_API sc_status sc_net_train_forward(sc_net *net, const sc_tensor *x,
                                      sc_tensor *logits)
{
    const char *fn = "sc_net_train_forward";
    SC_CHECK_NULL(net, fn);
    SC_CHECK_NULL(x, fn);
    SC_CHECK_NULL(logits, fn);
    int n, k = sc_net_output_size(net);
    sc_status st = sc_check_input(net, x, &n, fn);
    if (st != SC_OK)
        return st;
    if (net->loss != SC_LOSS_HOST)
        return sc_fail(SC_ERR_STATE, "%s: the net's loss is %s, not "
                       "SC_LOSS_HOST", fn, sc_losses[net->loss].name);
    if (!rows_of(logits, n, k))
        return sc_fail(SC_ERR_SHAPE, "%s: logits must hold %d x %d floats",
                       fn, n, k);
    if (x->numel > net->host_x_cap) {
        float *p = realloc(net->host_x, x->numel * sizeof *p);
        if (p == NULL)
            return sc_fail(SC_ERR_NOMEM, "%s: out of memory", fn);
        net->host_x = p;
        net->host_x_cap = x->numel;
    }
    if ((st = sc_plan(net, n)) != SC_OK)
        return st;
    memcpy(net->host_x, x->data, x->numel * sizeof(float));
    int mode = net->training;
    net->training = 1;
    net->input = net->host_x;
    net->drop_step = drop_counter(net);
    sc_forward(net, n);
    net->drop_step = 0;
    net->training = mode;
    memcpy(logits->data, net->nodes[net->n_nodes - 1].y,
           (size_t)n * (size_t)k * sizeof(float));
    net->host_n = n;
    return SC_OK;
}

SC_API sc_status sc_net_train_backward(sc_net *net, sc_optimizer *opt,
                                       const sc_tensor *dlogits,
                                       double host_loss, sc_step_stats *stats)
{
    const char *fn = "sc_net_train_backward";
    SC_CHECK_NULL(dlogits, fn);
    sc_status st = step_args(net, opt, stats, fn);
    if (st != SC_OK)
        return st;
    int n = net->host_n, k = sc_net_output_size(net);
    if (n == 0)
        return sc_fail(SC_ERR_STATE, "%s: no training forward is kept: call "
                       "sc_net_train_forward() first (running or changing "
                       "the net in between drops it)", fn);
    if (!rows_of(dlogits, n, k))
        return sc_fail(SC_ERR_SHAPE, "%s: dlogits must be %d x %d floats, as "
                       "the forward's logits", fn, n, k);
    if (!sc_all_finite(dlogits->data, dlogits->numel))
        return sc_fail(SC_ERR_NONFINITE, "%s: dlogits holds NaN or Inf", fn);
    int mode = net->training;
    net->training = 1;
    sc_zero_dy(net, n);
    memcpy(net->nodes[net->n_nodes - 1].dy, dlogits->data,
           dlogits->numel * sizeof(float));
    return step_finish(net, opt, n, mode, host_loss, 0.0, 0.0, stats, fn);
}
