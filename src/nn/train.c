/* train.c -- inference and the training step: forward, loss, backward,
 * update. Everything that can fail is checked before anything changes. */
#include <math.h>
#include <string.h>

#include "core/error.h"
#include "core/tensor.h"
#include "nn/progress.h"
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

static sc_status check_labels(const int32_t *labels, int n, int k)
{
    for (int i = 0; i < n; i++)
        if (labels[i] < 0 || labels[i] >= k)
            return sc_fail(SC_ERR_LABEL,
                           "sc_net_train_step: label %d of sample %d is not in "
                           "[0, %d)",
                           labels[i], i, k);
    return SC_OK;
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
    if (opt->net != net)
        return sc_fail(SC_ERR_ARG, "%s: the optimizer belongs to another net",
                       fn);
    if (opt->t >= SC_OPT_MAX_STEPS)
        return sc_fail(SC_ERR_STATE, "%s: the optimizer has taken its %llu "
                       "steps", fn, (unsigned long long)SC_OPT_MAX_STEPS);
    if (stats && (stats->size < sizeof(size_t) || stats->size > 4096))
        return sc_fail(SC_ERR_ARG, "%s: stats->size must be set to "
                       "sizeof(sc_step_stats)", fn);
    int n, k = sc_net_output_size(net);
    sc_status st = sc_check_input(net, x, &n, fn);
    if (st != SC_OK || (st = check_labels(labels, n, k)) != SC_OK ||
        (st = sc_plan(net, n)) != SC_OK)
        return st;

    int mode = net->training;
    net->training = 1;
    net->input = x->data;
    net->drop_step = opt->t + 1; /* dropout's masks of this step */
    sc_forward(net, n);
    net->drop_step = 0;
    sc_node *last = &net->nodes[net->n_nodes - 1];
    sc_zero_dy(net, n);
    int correct;
    double task = sc_task_loss(net, labels, n, last->dy, &correct);
    sc_liveness(net);
    double q = sc_size_loss(net, 0);
    double loss = task + net->gamma * q;
    if (!isfinite(loss)) {
        net->training = mode;
        return sc_fail(SC_ERR_DIVERGED, "%s: the loss is not finite (%g)", fn,
                       loss);
    }
    if ((st = sc_commit_check(net)) != SC_OK) {
        net->training = mode;
        return sc_fail(st, "%s: %s; nothing was updated", fn, sc_last_error());
    }
    net->drop_step = opt->t + 1;
    sc_backward(net, n);
    net->drop_step = 0;
    sc_size_loss(net, 1);
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

    if (stats) {
        sc_step_stats s = {stats->size, loss, task, q, (double)correct / n};
        memcpy(stats, &s, stats->size < sizeof s ? stats->size : sizeof s);
    }
    /* The step is done and stays done: a compress that fails (out of
     * memory) changes nothing and is tried again after the next step. */
    if (net->compress_every > 0 &&
        ++net->steps_since_compress >= (uint64_t)net->compress_every &&
        sc_net_compress(net, NULL) == SC_OK)
        net->steps_since_compress = 0;
    sc_progress_step(net, opt->t, n, loss, task, q, (double)correct / n);
    return SC_OK;
}
