/* calib.c -- the activation ranges int8 inference quantises with: every
 * node's output range over the batches sc_net_calibrate() is given. */
#include <math.h>
#include <string.h>

#include "core/error.h"
#include "core/tensor.h"
#include "ops/ops.h"

SC_API sc_status sc_net_calibrate(sc_net *net, const sc_tensor *x)
{
    const char *fn = "sc_net_calibrate";
    SC_CHECK_NULL(net, fn);
    SC_CHECK_NULL(x, fn);
    int n;
    sc_status st = sc_check_input(net, x, &n, fn);
    if (st != SC_OK)
        return st;
    size_t nn = (size_t)net->n_nodes;
    float *r = malloc(2 * nn * sizeof *r);
    if (r == NULL)
        return sc_fail(SC_ERR_NOMEM, "%s: out of memory", fn);
    int mode = net->training;
    net->training = 0;
    if ((st = sc_plan(net, n)) != SC_OK) {
        net->training = mode;
        free(r);
        return st;
    }
    net->input = x->data;
    /* node by node: a later op working in place overwrites its input */
    for (size_t i = 0; i < nn; i++) {
        if (i > 0)
            sc_forward_nodes(net, (int)i, (int)i + 1);
        else
            sc_forward_nodes(net, 1, 1);
        const sc_node *nd = &net->nodes[i];
        const float *y = nd->y;
        size_t m = (size_t)n * sc_node_size(nd);
        float lo = INFINITY, hi = -INFINITY;
        for (size_t k = 0; k < m; k++) {
            lo = y[k] < lo ? y[k] : lo;
            hi = y[k] > hi ? y[k] : hi;
        }
        r[2 * i] = lo;
        r[2 * i + 1] = hi;
    }
    net->training = mode;
    for (size_t i = 0; i < 2 * nn; i++)
        if (!isfinite(r[i])) {
            free(r);
            return sc_fail(SC_ERR_NONFINITE, "%s: layer %zu's output is not "
                           "finite on this batch", fn, i / 2);
        }
    if (net->calib == NULL) {
        net->calib = r;
    } else {
        for (size_t i = 0; i < nn; i++) {
            net->calib[2 * i] = fminf(net->calib[2 * i], r[2 * i]);
            net->calib[2 * i + 1] = fmaxf(net->calib[2 * i + 1], r[2 * i + 1]);
        }
        free(r);
    }
    net->calib_images += n;
    return SC_OK;
}

SC_API sc_status sc_net_calibrated(const sc_net *net, int64_t *images)
{
    SC_CHECK_NULL(net, "sc_net_calibrated");
    SC_CHECK_NULL(images, "sc_net_calibrated");
    *images = net->calib_images;
    return SC_OK;
}
