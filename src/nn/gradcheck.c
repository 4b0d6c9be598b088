/* gradcheck.c -- analytic vs central-difference gradients of the training
 * loss, w.r.t. every parameter (or an even sample) and the input. */
#include "nn/gradcheck.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "ops/ops.h"
#include "quant/quantizer.h"

static sc_status check_args(sc_net *net, const float *x, int n,
                            const int32_t *labels, const float *targets,
                            const char *fn)
{
    SC_CHECK_NULL(net, fn);
    SC_CHECK_NULL(x, fn);
    if (!net->initialized || net->n_nodes < 2)
        return sc_fail(SC_ERR_STATE, "%s: the net is not initialised", fn);
    if (n < 1)
        return sc_fail(SC_ERR_ARG, "%s: batch %d", fn, n);
    sc_status st = sc_loss_check(net, labels, targets, n, fn);
    return st != SC_OK ? st : sc_plan(net, n);
}

/* Points the input node's dy at dx (or back to NULL), and with it the dy
 * of every node planned in place on it (a flatten, or an in-place relu on
 * such a flatten): those share their input's y, set by the forward pass. */
static void set_input_dy(sc_net *net, float *dx)
{
    net->nodes[0].dy = dx;
    for (int i = 1; i < net->n_nodes; i++) {
        sc_node *nd = &net->nodes[i], *in = &net->nodes[nd->in[0]];
        if (nd->n_in == 1 && nd->y == in->y && in->y == net->nodes[0].y)
            nd->dy = in->dy;
    }
}

/* L = the task loss + gamma Q on the planned batch at net->input. */
static double eval_loss(sc_net *net, int n, const int32_t *labels,
                        const float *targets, float *dlogits)
{
    sc_forward(net, n);
    double task = sc_task_loss(net, labels, targets, n, dlogits, NULL);
    sc_liveness(net);
    return task + net->gamma * sc_size_loss(net, 0);
}

sc_status sc_grad_loss(sc_net *net, const float *x, int n,
                       const int32_t *labels, const float *targets,
                       double *loss, float *dparams,
                       float *dx)
{
    sc_status st = check_args(net, x, n, labels, targets, "sc_grad_loss");
    if (st != SC_OK)
        return st;
    net->input = x;
    sc_node *last = &net->nodes[net->n_nodes - 1];
    int want_grad = dparams != NULL || dx != NULL;
    if (want_grad)
        sc_zero_dy(net, n);
    double l = eval_loss(net, n, labels, targets, want_grad ? last->dy : NULL);
    if (loss)
        *loss = l;
    if (!want_grad)
        return SC_OK;
    size_t nx = (size_t)n * sc_node_size(&net->nodes[0]);
    if (dx) {
        memset(dx, 0, nx * sizeof(float));
        set_input_dy(net, dx);
    }
    sc_backward(net, n);
    sc_size_loss(net, 1);
    if (dx)
        set_input_dy(net, NULL);
    if (dparams)
        memcpy(dparams, net->grads, net->n_params * sizeof(float));
    return SC_OK;
}

/* Records one comparison in res. */
static void compare(sc_gc_result *res, double a, double num, double floor,
                    int is_input, size_t index)
{
    double scale = fmax(floor, fmax(fabs(a), fabs(num)));
    double err = fabs(a - num) / scale;
    if (!(err <= res->max_err)) { /* NaN counts as worst */
        res->max_err = isnan(err) ? INFINITY : err;
        res->worst_is_input = is_input;
        res->worst = index;
        res->worst_analytic = a;
        res->worst_numeric = num;
    }
    res->checked++;
}

/* Central difference of L in the float *v (restored exactly). */
static double numeric(sc_net *net, int n, const int32_t *labels,
                      const float *targets, float *v, double eps)
{
    float orig = *v, up = (float)(orig + eps), down = (float)(orig - eps);
    *v = up;
    double lp = eval_loss(net, n, labels, targets, NULL);
    *v = down;
    double lm = eval_loss(net, n, labels, targets, NULL);
    *v = orig;
    return (lp - lm) / ((double)up - (double)down);
}

/* How many of a range of len elements to check, given a budget of max over
 * total elements (0: all). */
static size_t sample_count(size_t len, size_t max, size_t total)
{
    if (max == 0 || total <= max)
        return len;
    size_t m = (len * max + total - 1) / total;
    if (m < 2)
        m = 2;
    return m < len ? m : len;
}

/* The j-th of m evenly spread indices in [0, len). */
static size_t spread(size_t j, size_t m, size_t len)
{
    return m == len ? j : ((2 * j + 1) * len) / (2 * m);
}

sc_status sc_grad_compare(sc_net *net, const float *x, int n,
                          const int32_t *labels, const float *targets,
                          const float *dparams,
                          const float *dx, const sc_gc_opts *opts,
                          sc_gc_result *res)
{
    const char *fn = "sc_grad_compare";
    SC_CHECK_NULL(dparams, fn);
    SC_CHECK_NULL(res, fn);
    sc_gc_opts o = SC_GC_OPTS_INIT;
    if (opts)
        o = *opts;
    if (o.eps <= 0.0)
        o.eps = 1e-3;
    if (o.floor <= 0.0)
        o.floor = 1e-2;
    if (!o.skip_input)
        SC_CHECK_NULL(dx, fn);
    sc_status st = check_args(net, x, n, labels, targets, fn);
    if (st != SC_OK)
        return st;
    size_t nx = (size_t)n * sc_node_size(&net->nodes[0]);
    float *xb = malloc(nx * sizeof(float));
    if (xb == NULL)
        return sc_fail(SC_ERR_NOMEM, "%s: out of memory", fn);
    memcpy(xb, x, nx * sizeof(float));
    net->input = xb;

    sc_gc_result r = {0};
    r.loss = eval_loss(net, n, labels, targets, NULL);
    size_t np = net->n_params;
    for (int i = 0; i < net->n_nodes; i++) {
        sc_node *nd = &net->nodes[i];
        for (int s = 0; s < P_SLOTS; s++) {
            size_t len = nd->pn[s];
            if (len == 0)
                continue;
            size_t m = sample_count(len, o.max_params, np);
            for (size_t j = 0; j < m; j++) {
                size_t at = nd->poff[s] + spread(j, m, len);
                double num = numeric(net, n, labels, targets,
                                     &net->params[at], o.eps);
                compare(&r, dparams[at], num, o.floor, 0, at);
            }
        }
    }
    if (!o.skip_input) {
        size_t m = (o.max_inputs && nx > o.max_inputs) ? o.max_inputs : nx;
        for (size_t j = 0; j < m; j++) {
            size_t at = spread(j, m, nx);
            double num = numeric(net, n, labels, targets, &xb[at], o.eps);
            compare(&r, dx[at], num, o.floor, 1, at);
        }
    }
    net->input = x;
    free(xb);
    *res = r;
    return SC_OK;
}

sc_status sc_grad_check(sc_net *net, const float *x, int n,
                        const int32_t *labels, const float *targets,
                        const sc_gc_opts *opts,
                        sc_gc_result *res)
{
    const char *fn = "sc_grad_check";
    SC_CHECK_NULL(net, fn);
    SC_CHECK_NULL(res, fn);
    sc_status st = check_args(net, x, n, labels, targets, fn);
    if (st != SC_OK)
        return st;
    size_t nx = (size_t)n * sc_node_size(&net->nodes[0]);
    int with_input = !(opts && opts->skip_input);
    float *dp = malloc((net->n_params ? net->n_params : 1) * sizeof(float));
    float *dx = with_input ? malloc(nx * sizeof(float)) : NULL;
    if (dp == NULL || (with_input && dx == NULL)) {
        free(dp);
        free(dx);
        return sc_fail(SC_ERR_NOMEM, "%s: out of memory", fn);
    }
    st = sc_grad_loss(net, x, n, labels, targets, NULL, dp, dx);
    if (st == SC_OK)
        st = sc_grad_compare(net, x, n, labels, targets, dp, dx, opts, res);
    free(dp);
    free(dx);
    return st;
}
