/* progress.c -- progress records and log messages for the host's hooks.
 *
 * The library never prints: what a host would want to show goes to the
 * callbacks it set on the net. Without them the train step only stores its
 * four figures; with a progress hook the size report (no allocation) and
 * the clock are read on reporting steps only. */
#define _POSIX_C_SOURCE 200809L
#include <limits.h>
#include <math.h>
#include <time.h>

#include "core/error.h"
#include "core/log.h"
#include "nn/progress.h"
#include "optim/optimizer.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Fills the record's common part and calls the hook. */
static void fire(sc_net *net, int kind, uint64_t step, double seconds,
                 uint64_t images, int epoch, double test_accuracy)
{
    sc_hooks *h = &net->hooks;
    sc_progress p = {0};
    p.size = sizeof p;
    p.kind = kind;
    p.epoch = epoch;
    p.step = step;
    p.loss = h->stepped ? h->loss : NAN;
    p.task_loss = h->stepped ? h->task : NAN;
    p.size_loss = h->stepped ? h->q : NAN;
    p.accuracy = h->stepped ? h->acc : NAN;
    sc_size_report r = SC_SIZE_REPORT_INIT;
    if (net->initialized &&
        sc_net_size_report(net, SC_ALL_LAYERS, &r) == SC_OK) {
        p.bits_pct = r.bits_pct;
        p.weights_pct = r.weights_pct;
    } else {
        p.bits_pct = p.weights_pct = NAN;
    }
    p.seconds = seconds;
    p.images_per_sec = seconds > 0.0 ? (double)images / seconds : 0.0;
    p.test_accuracy = test_accuracy;
    h->progress(&p, h->progress_user);
}

void sc_progress_step(sc_net *net, uint64_t step, int n, double loss,
                      double task, double q, double acc)
{
    sc_hooks *h = &net->hooks;
    h->stepped = 1;
    h->loss = loss;
    h->task = task;
    h->q = q;
    h->acc = acc;
    if (!h->progress)
        return;
    h->img_step += (uint64_t)n;
    h->img_epoch += (uint64_t)n;
    if (step % (uint64_t)h->every != 0)
        return;
    double t = now();
    fire(net, SC_PROGRESS_STEP, step, t - h->t_step, h->img_step,
         h->epoch_next, NAN);
    h->t_step = t;
    h->img_step = 0;
}

void sc_progress_budget(sc_net *net, uint64_t step)
{
    if (net->hooks.progress)
        fire(net, SC_PROGRESS_BUDGET, step, 0.0, 0, net->hooks.epoch_next, NAN);
}

SC_API sc_status sc_net_set_progress(sc_net *net, sc_progress_fn fn,
                                     void *user, int every_n)
{
    SC_CHECK_NULL(net, "sc_net_set_progress");
    if (fn && every_n < 1)
        return sc_fail(SC_ERR_ARG, "sc_net_set_progress: every_n %d is not "
                       ">= 1", every_n);
    sc_hooks *h = &net->hooks;
    h->progress = fn;
    h->progress_user = fn ? user : NULL;
    h->every = fn ? every_n : 0;
    h->t_step = h->t_epoch = fn ? now() : 0.0;
    h->img_step = h->img_epoch = 0;
    return SC_OK;
}

SC_API sc_status sc_net_report_epoch(sc_net *net, int epoch,
                                     double test_accuracy)
{
    SC_CHECK_NULL(net, "sc_net_report_epoch");
    if (epoch < 0 || epoch == INT_MAX)
        return sc_fail(SC_ERR_ARG, "sc_net_report_epoch: epoch %d is not "
                       "valid", epoch);
    sc_hooks *h = &net->hooks;
    h->epoch_next = epoch + 1;
    if (!h->progress)
        return SC_OK;
    double t = now();
    fire(net, SC_PROGRESS_EPOCH, sc_optimizer_steps(net->opt), t - h->t_epoch,
         h->img_epoch, epoch, test_accuracy);
    h->t_epoch = t;
    h->img_epoch = 0;
    return SC_OK;
}

SC_API sc_status sc_net_set_log(sc_net *net, sc_log_fn fn, void *user)
{
    SC_CHECK_NULL(net, "sc_net_set_log");
    sc_hooks *h = &net->hooks;
    h->log.fn = fn;
    h->log.user = fn ? user : NULL;
    if (fn && !h->blas_checked) {
        h->blas_checked = 1;
        if (sc_blas_kernel_suboptimal())
            sc_log(&h->log, SC_LOG_WARN,
                   "BLAS kernel %s is below what this CPU supports (%s): "
                   "matrix products may run 2-4x slower; set "
                   "OPENBLAS_CORETYPE=%s before the program starts",
                   sc_blas_kernel(), sc_blas_best_coretype(),
                   sc_blas_best_coretype());
    }
    return SC_OK;
}
