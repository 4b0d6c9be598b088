/* loss_setting.c -- the net's loss setting: sc_net_set_loss and
 * sc_net_get_loss. */
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "ops/ops.h"

SC_API sc_status sc_net_set_loss(sc_net *net, const sc_loss_desc *desc)
{
    const char *fn = "sc_net_set_loss";
    SC_CHECK_NULL(net, fn);
    SC_CHECK_NULL(desc, fn);
    size_t need = offsetof(sc_loss_desc, kind) + sizeof desc->kind;
    if (desc->size < need || desc->size > 4096)
        return sc_fail(SC_ERR_ARG, "%s: desc->size must be set to "
                       "sizeof(sc_loss_desc)", fn);
    sc_loss_desc d = SC_LOSS_DESC_INIT(SC_LOSS_SOFTMAX_XENT);
    memcpy(&d, desc, desc->size < sizeof d ? desc->size : sizeof d);
    if ((int)d.kind < 0 || (int)d.kind >= SC_LOSS_COUNT)
        return sc_fail(SC_ERR_ARG, "%s: unknown loss %d", fn, (int)d.kind);
    int xent = d.kind == SC_LOSS_SOFTMAX_XENT, k = sc_net_output_size(net);
    if (!(d.label_smoothing >= 0.0f && d.label_smoothing < 1.0f))
        return sc_fail(SC_ERR_ARG, "%s: label smoothing %g is not in [0, 1)",
                       fn, (double)d.label_smoothing);
    if (!xent && (d.label_smoothing != 0.0f || d.class_weights ||
                  d.n_class_weights))
        return sc_fail(SC_ERR_ARG, "%s: class weights and label smoothing "
                       "are for SC_LOSS_SOFTMAX_XENT only", fn);
    if ((d.class_weights == NULL) != (d.n_class_weights == 0))
        return sc_fail(SC_ERR_ARG, "%s: class_weights and n_class_weights "
                       "must be given together", fn);
    float *w = NULL;
    if (d.class_weights) {
        if (d.n_class_weights != k)
            return sc_fail(SC_ERR_ARG, "%s: %d class weights for %d outputs",
                           fn, d.n_class_weights, k);
        for (int c = 0; c < k; c++)
            if (!(isfinite(d.class_weights[c]) && d.class_weights[c] >= 0.0f))
                return sc_fail(SC_ERR_ARG, "%s: class weight %d (%g) is not "
                               "finite and >= 0", fn, c,
                               (double)d.class_weights[c]);
        if ((w = malloc((size_t)k * sizeof *w)) == NULL)
            return sc_fail(SC_ERR_NOMEM, "%s: out of memory", fn);
        memcpy(w, d.class_weights, (size_t)k * sizeof *w);
    }
    free(net->loss_weights);
    net->loss = d.kind;
    net->loss_weights = w;
    net->n_loss_weights = w ? k : 0;
    net->label_smoothing = d.label_smoothing;
    net->host_n = 0;
    return SC_OK;
}

SC_API sc_status sc_net_get_loss(const sc_net *net, sc_loss_desc *out)
{
    const char *fn = "sc_net_get_loss";
    SC_CHECK_NULL(net, fn);
    SC_CHECK_NULL(out, fn);
    if (out->size < sizeof out->size || out->size > 4096)
        return sc_fail(SC_ERR_ARG, "%s: out->size must be set to "
                       "sizeof(sc_loss_desc)", fn);
    sc_loss_desc d = {out->size, net->loss, net->loss_weights,
                      net->n_loss_weights, net->label_smoothing};
    memcpy(out, &d, out->size < sizeof d ? out->size : sizeof d);
    return SC_OK;
}
