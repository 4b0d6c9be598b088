/* loss.c -- the task losses' table, the float-target losses, the check of
 * a batch's targets and the one call that runs the net's loss. */
#include <math.h>

#include "core/error.h"
#include "ops/ops.h"

/* L = sum (z - t)^2 / (n k); dL/dz = 2 (z - t) / (n k). */
static double mse(const sc_loss_batch *b, float *dz, double *accuracy)
{
    size_t m = (size_t)b->n * (size_t)b->k;
    const float g = (float)(2.0 / (double)m);
    double sum = 0.0;
    for (size_t i = 0; i < m; i++) {
        float d = b->z[i] - b->targets[i];
        sum += (double)d * d;
        if (dz)
            dz[i] = g * d;
    }
    if (accuracy)
        *accuracy = 0.0;
    return sum / (double)m;
}

/* L = mean of max(z, 0) - z t + log1p(exp(-|z|)); dL/dz = (sigmoid(z) -
 * t) / (n k); accuracy: the outputs with (z > 0) == (t > 0.5). */
static double bce_logits(const sc_loss_batch *b, float *dz, double *accuracy)
{
    size_t m = (size_t)b->n * (size_t)b->k, right = 0;
    const double g = 1.0 / (double)m;
    double sum = 0.0;
    for (size_t i = 0; i < m; i++) {
        double z = b->z[i], t = b->targets[i], e = exp(-fabs(z));
        sum += fmax(z, 0.0) - z * t + log1p(e);
        if (dz) {
            double s = z >= 0.0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
            dz[i] = (float)((s - t) * g);
        }
        right += (z > 0.0) == (t > 0.5);
    }
    if (accuracy)
        *accuracy = (double)right / (double)m;
    return sum * g;
}

const sc_loss_def sc_losses[SC_LOSS_COUNT] = {
    [SC_LOSS_SOFTMAX_XENT] = {"softmax cross-entropy", SC_LOSS_IN_LABELS, 0,
                              0, sc_xent},
    [SC_LOSS_MSE] = {"mean squared error", SC_LOSS_IN_FLOATS, -INFINITY,
                     INFINITY, mse},
    [SC_LOSS_BCE_LOGITS] = {"binary cross-entropy with logits",
                            SC_LOSS_IN_FLOATS, 0.0f, 1.0f, bce_logits},
    [SC_LOSS_HOST] = {"the host's loss", SC_LOSS_IN_HOST, 0, 0, NULL},
};

sc_status sc_loss_check(const sc_net *net, const int32_t *labels,
                        const float *targets, int n, const char *fn)
{
    const sc_loss_def *d = &sc_losses[net->loss];
    int k = sc_net_output_size(net);
    switch (d->input) {
    case SC_LOSS_IN_LABELS:
        if (labels == NULL || targets != NULL)
            return sc_fail(SC_ERR_ARG, "%s: the net's loss (%s) takes labels "
                           "and no float targets", fn, d->name);
        if (net->loss_weights && net->n_loss_weights != k)
            return sc_fail(SC_ERR_STATE, "%s: the loss has %d class weights "
                           "but the net %d outputs", fn, net->n_loss_weights,
                           k);
        for (int i = 0; i < n; i++)
            if (labels[i] < 0 || labels[i] >= k)
                return sc_fail(SC_ERR_LABEL, "%s: label %d of sample %d is "
                               "not in [0, %d)", fn, labels[i], i, k);
        return SC_OK;
    case SC_LOSS_IN_FLOATS: {
        if (targets == NULL || labels != NULL)
            return sc_fail(SC_ERR_ARG, "%s: the net's loss (%s) takes float "
                           "targets and no labels", fn, d->name);
        size_t m = (size_t)n * (size_t)k;
        for (size_t i = 0; i < m; i++) {
            if (!isfinite(targets[i]))
                return sc_fail(SC_ERR_NONFINITE, "%s: target %zu is not "
                               "finite", fn, i);
            if (targets[i] < d->tmin || targets[i] > d->tmax)
                return sc_fail(SC_ERR_ARG, "%s: target %zu (%g) is not in "
                               "[%g, %g] (%s)", fn, i, (double)targets[i],
                               (double)d->tmin, (double)d->tmax, d->name);
        }
        return SC_OK;
    }
    case SC_LOSS_IN_HOST:
        return sc_fail(SC_ERR_STATE, "%s: the net's loss is the host's "
                       "(SC_LOSS_HOST): use sc_net_train_forward() and "
                       "sc_net_train_backward()", fn);
    }
    return sc_fail(SC_ERR_STATE, "%s: unknown loss %d", fn, (int)net->loss);
}

double sc_task_loss(sc_net *net, const int32_t *labels, const float *targets,
                    int n, float *dz, double *accuracy)
{
    sc_loss_batch b = {net->nodes[net->n_nodes - 1].y, labels, targets, n,
                       sc_net_output_size(net), net->probs, net->loss_weights,
                       net->label_smoothing};
    return sc_losses[net->loss].fn(&b, dz, accuracy);
}
