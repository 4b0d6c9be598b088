/* optimizer.c -- creation, hyper-parameters and the grouped update loop. */
#include "optim/optimizer.h"

#include <float.h>
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/fpenv.h"

SC_API sc_status sc_optimizer_create(sc_optimizer **out, sc_net *net,
                                     sc_optimizer_kind kind)
{
    SC_CHECK_NULL(out, "sc_optimizer_create");
    SC_CHECK_NULL(net, "sc_optimizer_create");
    if (kind != SC_OPT_SGD && kind != SC_OPT_ADAM && kind != SC_OPT_ADAMW)
        return sc_fail(SC_ERR_ARG, "sc_optimizer_create: unknown kind %d",
                       (int)kind);
    if (!net->initialized)
        return sc_fail(SC_ERR_STATE,
                       "sc_optimizer_create: call sc_net_init() first");
    if (net->opt)
        return sc_fail(SC_ERR_STATE, "sc_optimizer_create: the net already "
                       "has an optimizer; free it first");
    sc_optimizer *o = calloc(1, sizeof *o);
    size_t n = net->n_params ? net->n_params : 1;
    if (o) {
        o->m = calloc(n, sizeof(float));
        o->v = calloc(n, sizeof(float));
    }
    if (!o || !o->m || !o->v) {
        if (o) {
            free(o->m);
            free(o->v);
        }
        free(o);
        return sc_fail(SC_ERR_NOMEM, "sc_optimizer_create: out of memory");
    }
    o->kind = kind;
    o->net = net;
    o->n = net->n_params;
    double base = kind == SC_OPT_SGD ? 0.01 : 1e-3;
    o->lr[SC_GROUP_WEIGHTS] = o->lr[SC_GROUP_BIASES] = base;
    o->lr[SC_GROUP_QUANT_BITS] = 0.5;
    o->lr[SC_GROUP_QUANT_EXP] = 0.05; /* measured: docs/results.md */
    o->momentum = 0.9;
    o->beta1 = 0.9;
    o->beta2 = 0.999;
    o->eps = 1e-8;
    net->opt = o;
    *out = o;
    return SC_OK;
}

SC_API void sc_optimizer_free(sc_optimizer *o)
{
    if (o == NULL)
        return;
    if (o->net)
        o->net->opt = NULL;
    free(o->m);
    free(o->v);
    free(o);
}

void sc_optimizer_detach(sc_optimizer *o) { o->net = NULL; }

sc_status sc_optimizer_remap(sc_optimizer *o, const size_t *map, size_t new_n)
{
    size_t n = new_n ? new_n : 1;
    float *m = calloc(n, sizeof(float)), *v = calloc(n, sizeof(float));
    if (!m || !v) {
        free(m);
        free(v);
        return sc_fail(SC_ERR_NOMEM, "out of memory for optimizer state");
    }
    sc_gather(m, o->m, map, new_n);
    sc_gather(v, o->v, map, new_n);
    free(o->m);
    free(o->v);
    o->m = m;
    o->v = v;
    o->n = new_n;
    return SC_OK;
}

sc_status sc_optimizer_relayout(sc_net *net, const size_t *pmap,
                                const size_t *smap, size_t new_np,
                                size_t new_ns)
{
    sc_layout l;
    sc_status st = sc_params_stage(net, new_np, new_ns, &l);
    if (st != SC_OK)
        return st;
    if (net->opt && (st = sc_optimizer_remap(net->opt, pmap, new_np)) != SC_OK) {
        sc_params_unstage(&l);
        return st;
    }
    sc_params_commit(net, &l, pmap, smap);
    return SC_OK;
}

/* parameters per thread below which an update is not worth splitting */
#define GRAIN 32768

typedef struct update_job {
    sc_optimizer *o;
    int check;        /* 1: only check that the update stays finite */
    atomic_int bad;   /* set by a check that finds a non-finite value */
} update_job;

/* The update (or its check) of parameters [b, e), group by group. */
static void update_task(void *ctx, size_t b, size_t e, int t)
{
    (void)t;
    update_job *j = ctx;
    sc_optimizer *o = j->o;
    sc_net *net = o->net;
    for (int g = 0; g < SC_GROUP_COUNT; g++) {
        size_t lo = net->group_off[g], hi = net->group_off[g + 1];
        lo = lo > b ? lo : b;
        hi = hi < e ? hi : e;
        if (lo >= hi || (g == SC_GROUP_QUANT_BITS && net->bits_frozen))
            continue; /* frozen bit depths: neither they nor their moments move */
        float lr = (float)o->lr[g], wd = (float)o->wd[g];
        float *p = net->params + lo, *m = o->m + lo, *v = o->v + lo;
        const float *gr = net->grads + lo;
        int ok = 1;
        if (o->kind == SC_OPT_SGD) {
            if (j->check)
                ok = sc_sgd_finite(o, p, gr, m, hi - lo, lr, wd);
            else
                sc_sgd_update(o, p, gr, m, hi - lo, lr, wd);
        } else {
            if (j->check)
                ok = sc_adam_finite(o, p, gr, m, v, hi - lo, lr, wd);
            else
                sc_adam_update(o, p, gr, m, v, hi - lo, lr, wd);
        }
        if (!ok)
            atomic_store(&j->bad, 1);
    }
}

sc_status sc_optimizer_update(sc_optimizer *o)
{
    unsigned fp = sc_fpenv_enter();
    update_job j = {.o = o, .check = 1};
    atomic_init(&j.bad, 0);
    o->t++;
    sc_pool_map(o->net->pool, o->net->n_params, GRAIN, update_task, &j);
    if (atomic_load(&j.bad)) {
        o->t--;
        sc_fpenv_leave(fp);
        return sc_fail(SC_ERR_DIVERGED, "the update would make a parameter "
                       "or an optimizer moment non-finite; nothing was "
                       "updated (lower the learning rate?)");
    }
    j.check = 0;
    sc_pool_map(o->net->pool, o->net->n_params, GRAIN, update_task, &j);
    sc_fpenv_leave(fp);
    return SC_OK;
}

static sc_status check_group(int group, int allow_sets, const char *fn)
{
    if ((group >= 0 && group < SC_GROUP_COUNT) ||
        (allow_sets && (group == SC_GROUP_ALL || group == SC_GROUP_QUANT ||
                        group == SC_GROUP_EVERY)))
        return SC_OK;
    return sc_fail(SC_ERR_ARG, "%s: unknown parameter group %d", fn, group);
}

SC_API sc_status sc_optimizer_set(sc_optimizer *o, sc_opt_param p, int group,
                                  double value)
{
    SC_CHECK_NULL(o, "sc_optimizer_set");
    /* the update computes in float: a value must be finite as one */
    if (!isfinite(value) || fabs(value) > FLT_MAX)
        return sc_fail(SC_ERR_ARG, "sc_optimizer_set: value %g is not finite "
                       "as a float", value);
    switch (p) {
    case SC_OPT_LR:
    case SC_OPT_WEIGHT_DECAY: {
        sc_status st = check_group(group, 1, "sc_optimizer_set");
        if (st != SC_OK)
            return st;
        if (value < 0.0)
            return sc_fail(SC_ERR_ARG, "sc_optimizer_set: %s %g is negative",
                           p == SC_OPT_LR ? "learning rate" : "weight decay",
                           value);
        double *arr = p == SC_OPT_LR ? o->lr : o->wd;
        for (int g = 0; g < SC_GROUP_COUNT; g++) {
            int quant = g == SC_GROUP_QUANT_BITS || g == SC_GROUP_QUANT_EXP;
            if (g == group || group == SC_GROUP_EVERY ||
                (group == SC_GROUP_ALL && !quant) ||
                (group == SC_GROUP_QUANT && quant))
                arr[g] = value;
        }
        return SC_OK;
    }
    case SC_OPT_MOMENTUM:
        if (value < 0.0 || value >= 1.0)
            break;
        o->momentum = value;
        return SC_OK;
    case SC_OPT_NESTEROV:
        if (value != 0.0 && value != 1.0)
            break;
        o->nesterov = value != 0.0;
        return SC_OK;
    case SC_OPT_BETA1:
    case SC_OPT_BETA2:
        if (value < 0.0 || value >= 1.0)
            break;
        *(p == SC_OPT_BETA1 ? &o->beta1 : &o->beta2) = value;
        return SC_OK;
    case SC_OPT_EPS:
        if (value <= 0.0)
            break;
        o->eps = value;
        return SC_OK;
    default:
        return sc_fail(SC_ERR_ARG, "sc_optimizer_set: unknown setting %d",
                       (int)p);
    }
    return sc_fail(SC_ERR_ARG,
                   "sc_optimizer_set: value %g is out of range for setting %d",
                   value, (int)p);
}

SC_API sc_status sc_optimizer_get(const sc_optimizer *o, sc_opt_param p,
                                  int group, double *value)
{
    SC_CHECK_NULL(o, "sc_optimizer_get");
    SC_CHECK_NULL(value, "sc_optimizer_get");
    switch (p) {
    case SC_OPT_LR:
    case SC_OPT_WEIGHT_DECAY: {
        sc_status st = check_group(group, 0, "sc_optimizer_get");
        if (st != SC_OK)
            return st;
        *value = p == SC_OPT_LR ? o->lr[group] : o->wd[group];
        return SC_OK;
    }
    case SC_OPT_MOMENTUM: *value = o->momentum; return SC_OK;
    case SC_OPT_NESTEROV: *value = o->nesterov; return SC_OK;
    case SC_OPT_BETA1: *value = o->beta1; return SC_OK;
    case SC_OPT_BETA2: *value = o->beta2; return SC_OK;
    case SC_OPT_EPS: *value = o->eps; return SC_OK;
    }
    return sc_fail(SC_ERR_ARG, "sc_optimizer_get: unknown setting %d", (int)p);
}

SC_API sc_status sc_optimizer_set_lr(sc_optimizer *o, int group, double lr)
{
    return sc_optimizer_set(o, SC_OPT_LR, group, lr);
}

SC_API uint64_t sc_optimizer_steps(const sc_optimizer *o) { return o ? o->t : 0; }
