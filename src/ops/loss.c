/* loss.c -- the task losses' table and the one call that runs the net's. */
#include "ops/ops.h"

static double xent(const sc_loss_batch *b, float *dz, int *correct)
{
    return sc_xent(b->z, b->labels, b->n, b->k, b->scratch, dz, correct);
}

const sc_loss_def sc_losses[SC_LOSS_KIND_COUNT] = {
    [SC_LOSS_XENT] = {"softmax cross-entropy", xent},
};

double sc_task_loss(sc_net *net, const int32_t *labels, int n, float *dz,
                    int *correct)
{
    sc_loss_batch b = {net->nodes[net->n_nodes - 1].y, labels, n,
                       sc_net_output_size(net), net->probs};
    return sc_losses[net->loss].fn(&b, dz, correct);
}
