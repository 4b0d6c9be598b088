/* compress.h -- internals of sc_net_compress (spec section 3), one job per
 * file:
 *   keep.c      which units (channels, or features after a flatten) of every
 *               node go: the dead output channels of quantised dense/conv
 *               layers, followed through the channel spaces they open
 *   fold.c      what the removed units still contributed to every dense/conv
 *               consumer, in eval and in training mode, from a masked
 *               forward pass: to be folded into its bias or its per-position
 *               constant maps (cbias; tbias in training mode)
 *   compress.c  the new parameter layout (gather maps, also for the
 *               optimizer's state), the rollback, and the public call
 *
 * A unit of a node is one of its nd->c output channels (a feature, for a
 * flatten or dense output). Channel-wise layers (batch norm, relu, max pool,
 * global pools) share their input's units; an add joins the units of its two
 * inputs and its own; a flatten's feature f belongs to its input's channel
 * f / (h*w). Units that must go together form a channel space, opened by a
 * dense/conv (or the input, which never loses channels).
 */
#ifndef SC_COMPRESS_COMPRESS_H
#define SC_COMPRESS_COMPRESS_H

#include "ops/ops.h"

typedef struct sc_cplan {
    int n;                  /* nodes */
    size_t *uoff;           /* node i's units: [uoff[i], uoff[i+1]) */
    unsigned char *gone;    /* per unit: 1 when it is removed */
    int *newc;              /* units each node keeps */
    int removed;            /* dense/conv output channels removed */
    float **fold;           /* per dense/conv consumer of removed units: the
                               old c*h*w constant to add, else NULL */
    unsigned char *to_bias; /* 1: the eval fold is uniform over positions
                               and goes into the bias */
} sc_cplan;

/* Fills uoff, gone, newc and removed. Never removes a unit of the last node
 * (the logits keep their count) and keeps at least one channel of every
 * dense/conv so no tensor becomes empty. */
sc_status sc_cplan_keep(sc_net *net, sc_cplan *p);
/* Fills fold and to_bias (needs sc_cplan_keep first). Plans the
 * net for a batch of one and runs forward passes in it (the outputs in the
 * arena and the batch-norm statistics of the last batch change); restores
 * the net's mode and input. */
sc_status sc_cplan_fold(sc_net *net, sc_cplan *p);
void sc_cplan_free(sc_cplan *p);

#endif
