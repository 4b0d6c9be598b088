/* optimizer.h -- optimizer state: one flat buffer per moment, laid out
 * like the net's parameters, so every update is a loop over a range. */
#ifndef SC_OPTIM_OPTIMIZER_H
#define SC_OPTIM_OPTIMIZER_H

#include <float.h>
#include <math.h>

#include "engine/net.h"

/* Steps an optimizer takes at most (a train step there fails with
 * SC_ERR_STATE; checkpoints with more are refused): the count never wraps,
 * and Adam's bias correction stays well defined. */
#define SC_OPT_MAX_STEPS ((uint64_t)1 << 53)

struct sc_optimizer {
    sc_optimizer_kind kind;
    sc_net *net;          /* NULL once the net is freed */
    float *m, *v;         /* first / second moment (SGD uses m only) */
    size_t n;
    double lr[SC_GROUP_COUNT], wd[SC_GROUP_COUNT];
    double momentum, beta1, beta2, eps;
    int nesterov;
    uint64_t t;           /* steps taken */
};

/* Follows a parameter relayout: moment i comes from old moment map[i]; on
 * ENOMEM it changes nothing. */
sc_status sc_optimizer_remap(struct sc_optimizer *opt, const size_t *map,
                             size_t new_n);
/* sc_params_relayout for a net that may have an optimizer attached: its
 * moments follow pmap. On failure (ENOMEM) nothing changes except the
 * nodes' counts, which the caller restores. */
sc_status sc_optimizer_relayout(sc_net *net, const size_t *pmap,
                                const size_t *smap, size_t new_np,
                                size_t new_ns);
/* The net is going away. */
void sc_optimizer_detach(struct sc_optimizer *opt);
/* One update of the net's params from its grads. All or nothing: when any
 * parameter or moment would come out non-finite, SC_ERR_DIVERGED with a
 * message and the params, moments and step count stay as they were. */
sc_status sc_optimizer_update(struct sc_optimizer *opt);

/* The rules, over one group's range [0, n) (sgd.c, adam.c): the update, and
 * the same arithmetic writing nothing, 1 when every new p and moment would
 * be finite. */
void sc_sgd_update(struct sc_optimizer *o, float *restrict p,
                   const float *restrict g, float *restrict m, size_t n,
                   float lr, float wd);
int sc_sgd_finite(const struct sc_optimizer *o, const float *restrict p,
                  const float *restrict g, const float *restrict m, size_t n,
                  float lr, float wd);
void sc_adam_update(struct sc_optimizer *o, float *restrict p,
                    const float *restrict g, float *restrict m,
                    float *restrict v, size_t n, float lr, float wd);
int sc_adam_finite(const struct sc_optimizer *o, const float *restrict p,
                   const float *restrict g, const float *restrict m,
                   const float *restrict v, size_t n, float lr, float wd);

/* 1 when x is finite; a select, so the check loops vectorise */
static inline int sc_finite(float x) { return fabsf(x) <= FLT_MAX; }

#endif
