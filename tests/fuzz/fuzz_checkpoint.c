/* fuzz_checkpoint.c -- libFuzzer target: sc_checkpoint_load_v2 on any
 * bytes within cost caps (through a file in /dev/shm, as the API takes a
 * path); when one loads, a save of it must load again, it trains two steps,
 * and its model file must load. Build and run with `make fuzz`. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "selfcompress.h"

#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What a net may cost to be loaded here: two train steps of two samples
 * stay within a few milliseconds. */
static const sc_load_limits limits = {sizeof(sc_load_limits), 4 << 20, 5e6};

/* 1 when every trainable float of the net is finite. */
static int params_finite(const sc_net *net)
{
    size_t n = sc_net_param_count(net);
    float *p = malloc(n ? n * sizeof(float) : 1);
    int ok = 1;
    if (p && sc_net_get_params(net, p, n) == SC_OK)
        for (size_t i = 0; i < n && ok; i++)
            ok = isfinite(p[i]);
    free(p);
    return ok;
}

/* One train step of the net's loss on tx (two samples): with labels,
 * float targets of 0.5 or, for the host's loss, a dL/dz of 0.1. */
static sc_status train_step(sc_net *net, sc_optimizer *opt,
                            const sc_tensor *tx, const int32_t *labels,
                            sc_loss kind, int k)
{
    if (kind == SC_LOSS_SOFTMAX_XENT)
        return sc_net_train_step(net, opt, tx, labels, NULL);
    float *t = malloc(2 * (size_t)k * sizeof(float));
    if (t == NULL)
        return SC_ERR_NOMEM;
    for (int i = 0; i < 2 * k; i++)
        t[i] = kind == SC_LOSS_HOST ? 0.1f : 0.5f;
    int64_t ts[2] = {2, k};
    sc_tensor *tt = NULL;
    sc_status st = sc_tensor_wrap(&tt, 2, ts, t);
    if (st == SC_OK && kind == SC_LOSS_HOST) {
        sc_tensor *z = NULL;
        st = sc_tensor_create(&z, 2, ts);
        if (st == SC_OK)
            st = sc_net_train_forward(net, tx, z);
        if (st == SC_OK)
            st = sc_net_train_backward(net, opt, tt, 1.0, NULL);
        sc_tensor_free(z);
    } else if (st == SC_OK) {
        sc_batch b = SC_BATCH_INIT;
        b.x = tx;
        b.targets = tt;
        st = sc_net_train_step_v2(net, opt, &b, NULL);
    }
    sc_tensor_free(tt);
    free(t);
    return st;
}

/* Two train steps on a batch of two (with the net's optimizer, or a fresh
 * SGD one), then the net as a model file, which must load. */
static void train_and_export(sc_net *net, sc_optimizer *opt, const char *model)
{
    int c, h, w, k = sc_net_output_size(net);
    if (sc_net_layer_shape(net, SC_INPUT, &c, &h, &w) != SC_OK || k <= 0)
        abort();
    sc_optimizer *own = NULL;
    if (opt == NULL) {
        sc_status st = sc_optimizer_create(&own, net, SC_OPT_SGD);
        if (st == SC_ERR_NOMEM)
            return;
        if (st != SC_OK)
            abort();
        opt = own;
    }
    enum { N = 2 };
    size_t in = (size_t)c * (size_t)h * (size_t)w;
    float *x = malloc(N * in * sizeof(float));
    int32_t labels[N] = {0, k - 1};
    int64_t xs[4] = {N, c, h, w};
    sc_tensor *tx = NULL;
    if (x && sc_tensor_wrap(&tx, 4, xs, x) == SC_OK) {
        for (size_t i = 0; i < N * in; i++)
            x[i] = (float)((i * 2654435761u) % 1000) / 500.0f - 1.0f;
        sc_loss_desc loss = SC_LOSS_DESC_INIT(SC_LOSS_SOFTMAX_XENT);
        if (sc_net_get_loss(net, &loss) != SC_OK)
            abort();
        for (int step = 0; step < 2; step++) {
            sc_status st = train_step(net, opt, tx, labels, loss.kind, k);
            /* SC_ERR_STATE: the optimizer is at SC_OPT_MAX_STEPS */
            if (st != SC_OK && st != SC_ERR_DIVERGED && st != SC_ERR_NOMEM &&
                st != SC_ERR_STATE)
                abort(); /* a net that loads must train */
        }
        /* a step never leaves non-finite parameters or b, e out of range:
         * the net saves */
        if (!params_finite(net))
            abort();
        sc_status st = sc_net_save(net, model, NULL);
        if (st == SC_OK) {
            sc_model *m = NULL;
            if (sc_model_load_v2(&m, model, &limits) != SC_OK)
                abort(); /* its model must load, within the same caps */
            sc_model_free(m);
            unlink(model);
        } else if (st != SC_ERR_UNSUPPORTED && st != SC_ERR_NOMEM) {
            abort();
        }
    }
    sc_tensor_free(tx);
    free(x);
    sc_optimizer_free(own);
}

static void load(const uint8_t *data, size_t size)
{
    static char path[64], again[64], model[64];
    if (path[0] == '\0') {
        snprintf(path, sizeof path, "/dev/shm/sc_fuzz_ckpt.%ld", (long)getpid());
        snprintf(again, sizeof again, "/dev/shm/sc_fuzz_ckpt2.%ld", (long)getpid());
        snprintf(model, sizeof model, "/dev/shm/sc_fuzz_model.%ld", (long)getpid());
    }
    FILE *f = fopen(path, "wb");
    if (f == NULL)
        abort();
    if (size && fwrite(data, 1, size, f) != size)
        abort();
    if (fclose(f) != 0)
        abort();
    sc_net *net = NULL;
    sc_optimizer *opt = NULL;
    unsigned char user[256];
    size_t ulen = 0;
    sc_status st = sc_checkpoint_load_v2(path, &net, &opt, user, sizeof user, &ulen,
                                         &limits);
    if (st != SC_OK) {
        if (net != NULL || opt != NULL || sc_last_error()[0] == '\0')
            abort();
    } else {
        if (sc_checkpoint_save(net, opt, user, ulen, again) != SC_OK)
            abort();
        sc_net *n2 = NULL;
        sc_optimizer *o2 = NULL;
        if (sc_checkpoint_load_v2(again, &n2, &o2, user, sizeof user, &ulen,
                                  &limits) != SC_OK)
            abort(); /* what we save we must load, within the same caps */
        sc_optimizer_free(o2);
        sc_net_free(n2);
        train_and_export(net, opt, model);
        sc_optimizer_free(opt);
        sc_net_free(net);
        unlink(again);
    }
    unlink(path);
}

/* Each input as it is and with its length and CRC made right. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_as_is_and_resealed(data, size, load);
}
