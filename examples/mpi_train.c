/* mpi_train.c -- data-parallel training on Fashion-MNIST under mpirun.
 *
 *   mpirun -n 2 build/examples/mpi_train --net cnn --epochs 2 \
 *       --checkpoint run.ckpt --save cnn.scm
 *
 * Every rank builds the same net from the same seed and trains its share of
 * each global batch (--batch per rank, times the ranks); the library's
 * reduction hook (sc_net_set_reduce(), examples/mpi_reduce.h) averages the
 * gradients, the step's figures and the running statistics, so every rank
 * takes the same update and compresses alike. Rank 0 evaluates, writes the
 * checkpoints (--checkpoint, every --checkpoint-every steps and at the end)
 * and the model file (--save). --resume continues a checkpoint with any
 * number of ranks: it keeps the epoch, the position in the epoch's shuffled
 * order (in images) and the order's seed. The last global batch of an epoch
 * smaller than ranks x batch is skipped. Prints the step time and the
 * time per step, split into the wait for the slowest rank and the allreduce
 * itself (docs/distributed.md). Build: make mpi. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <selfcompress.h>

#define COMMON_PROG "mpi_train"
#include "blas_kernel.h"
#include "common.h"
#include "fmnist_data.h"
#include "mpi_reduce.h"
#include "nets.h"

typedef struct options {
    const char *data, *net, *save, *checkpoint, *resume;
    int epochs, batch, threads, use_float;
    long steps, train_limit, test_limit, checkpoint_every;
    double gamma, lr, qlr;
    unsigned long seed;
} options;

/* where training stands: the checkpoint's user bytes */
typedef struct position {
    uint64_t epoch;  /* epochs done */
    uint64_t at;     /* images of this epoch's order trained */
    uint64_t seed;   /* the data order's seed */
} position;

static void usage(void)
{
    printf("usage: mpirun -n R mpi_train [flags]\n"
           "  --net NAME            " NETS_NAMES " (default cnn)\n"
           "  --data DIR            IDX gzip files (default " DEFAULT_DATA ")\n"
           "  --epochs N            epochs (default 1)\n"
           "  --steps N             stop after N steps in all (default: no limit)\n"
           "  --batch N             images per rank and step (default 64)\n"
           "  --threads N           threads per rank (default 1)\n"
           "  --gamma G             size-loss weight (default 0.05)\n"
           "  --lr X, --qlr X       learning rates of the weights, bit depths\n"
           "                        (default: the library's)\n"
           "  --float               no self-compression\n"
           "  --seed N              init and data-order seed (default 1)\n"
           "  --train-limit N, --test-limit N   use the first N images\n"
           "  --checkpoint FILE     rank 0 writes the training state here\n"
           "  --checkpoint-every N  ... every N steps (default: at the end)\n"
           "  --resume FILE         continue from a checkpoint (any ranks)\n"
           "  --save FILE           rank 0 writes the compressed model file\n");
}

static long to_long(const char *flag, const char *v, long lo, long hi)
{
    char *end;
    long x = strtol(v, &end, 10);
    if (*v == '\0' || *end != '\0' || x < lo || x > hi)
        die("%s wants an integer in [%ld, %ld], not '%s'", flag, lo, hi, v);
    return x;
}

static double to_double(const char *flag, const char *v)
{
    char *end;
    double x = strtod(v, &end);
    if (*v == '\0' || *end != '\0' || !(x >= 0))
        die("%s wants a number >= 0, not '%s'", flag, v);
    return x;
}

static options parse(int argc, char **argv)
{
    options o = {DEFAULT_DATA, "cnn", NULL, NULL, NULL, 1, 64, 1, 0, 0, 0, 0,
                 0, 0.05, -1.0, -1.0, 1}; /* lr, qlr -1: the library's */
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help")) {
            usage();
            exit(0);
        } else if (!strcmp(a, "--float")) {
            o.use_float = 1;
            continue;
        }
        if (v == NULL)
            die("%s needs a value (--help)", a);
        i++;
        if (!strcmp(a, "--net"))
            o.net = v;
        else if (!strcmp(a, "--data"))
            o.data = v;
        else if (!strcmp(a, "--save"))
            o.save = v;
        else if (!strcmp(a, "--checkpoint"))
            o.checkpoint = v;
        else if (!strcmp(a, "--resume"))
            o.resume = v;
        else if (!strcmp(a, "--epochs"))
            o.epochs = (int)to_long(a, v, 1, 100000);
        else if (!strcmp(a, "--steps"))
            o.steps = to_long(a, v, 1, 1L << 40);
        else if (!strcmp(a, "--batch"))
            o.batch = (int)to_long(a, v, 1, 65536);
        else if (!strcmp(a, "--threads"))
            o.threads = (int)to_long(a, v, 1, 256);
        else if (!strcmp(a, "--train-limit"))
            o.train_limit = to_long(a, v, 1, 1L << 30);
        else if (!strcmp(a, "--test-limit"))
            o.test_limit = to_long(a, v, 1, 1L << 30);
        else if (!strcmp(a, "--checkpoint-every"))
            o.checkpoint_every = to_long(a, v, 1, 1L << 40);
        else if (!strcmp(a, "--seed"))
            o.seed = (unsigned long)to_long(a, v, 0, 1L << 40);
        else if (!strcmp(a, "--gamma"))
            o.gamma = to_double(a, v);
        else if (!strcmp(a, "--lr"))
            o.lr = to_double(a, v);
        else if (!strcmp(a, "--qlr"))
            o.qlr = to_double(a, v);
        else
            die("unknown flag %s (--help)", a);
    }
    if (!nets_known(o.net))
        die("unknown --net '%s' (" NETS_NAMES ")", o.net);
    return o;
}

/* the shuffled order of epoch `epoch` (Fisher-Yates from the seed) */
static void shuffle(long *order, long n, uint64_t seed, uint64_t epoch)
{
    uint64_t rng = (seed + 1) * 6364136223846793005ULL + epoch * 1442695040888963407ULL;
    for (long i = 0; i < n; i++)
        order[i] = i;
    for (long i = n - 1; i > 0; i--) {
        rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
        long j = (long)((rng >> 33) % (uint64_t)(i + 1));
        long t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
}

static void new_net(const options *o, sc_net **net, sc_optimizer **opt)
{
    check(nets_build(o->net, net, NULL), "building the net");
    check(sc_net_init(*net, o->seed), "sc_net_init");
    if (!o->use_float) {
        check(sc_net_quantize(*net, SC_ALL_LAYERS), "sc_net_quantize");
        check(sc_net_set_param(*net, SC_PARAM_GAMMA, o->gamma), "gamma");
    }
    check(sc_optimizer_create(opt, *net, SC_OPT_ADAM), "sc_optimizer_create");
    if (o->lr >= 0) {
        check(sc_optimizer_set_lr(*opt, SC_GROUP_WEIGHTS, o->lr), "lr");
        check(sc_optimizer_set_lr(*opt, SC_GROUP_BIASES, o->lr), "lr");
    }
    if (o->qlr >= 0 && !o->use_float)
        check(sc_optimizer_set_lr(*opt, SC_GROUP_QUANT_BITS, o->qlr), "qlr");
}

int main(int argc, char **argv)
{
    sc_use_best_blas_kernel(argv);
    MPI_Init(&argc, &argv);
    int rank, ranks;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &ranks);
    setvbuf(stdout, NULL, _IOLBF, 0);
    options o = parse(argc, argv);
    dataset train = load(o.data, "train", o.train_limit);
    dataset test = load(o.data, "t10k", o.test_limit);
    normalise(&train, &test);
    to_net_input(&train, o.net);
    to_net_input(&test, o.net);

    sc_net *net;
    sc_optimizer *opt;
    position pos = {0, 0, o.seed};
    if (o.resume) {
        size_t len;
        check(sc_checkpoint_load(o.resume, &net, &opt, &pos, sizeof pos, &len),
              "sc_checkpoint_load");
        if (len != sizeof pos || opt == NULL)
            die("%s: not a checkpoint of mpi_train", o.resume);
    } else {
        new_net(&o, &net, &opt);
    }
    check(sc_net_set_threads(net, o.threads), "sc_net_set_threads");
    mpi_reduce red = MPI_REDUCE_INIT(MPI_COMM_WORLD);
    check(sc_net_set_reduce(net, mpi_reduce_hook, &red), "sc_net_set_reduce");
    if (rank == 0)
        printf("mpi_train: %s, %d ranks x %d threads, batch %d per rank (%d "
               "in all), %ld training images%s%s\n", o.net, ranks, o.threads,
               o.batch, o.batch * ranks, train.n, o.resume ? ", resumed from " : "",
               o.resume ? o.resume : "");

    long global = (long)o.batch * ranks, steps = 0;
    long *order = malloc((size_t)train.n * sizeof *order);
    float *bx = malloc((size_t)o.batch * 784 * sizeof(float));
    int32_t *by = malloc((size_t)o.batch * sizeof(int32_t));
    if (!order || !bx || !by)
        die("out of memory");
    if (global > train.n)
        die("%d ranks x batch %d exceed the %ld training images", ranks,
            o.batch, train.n);
    sc_step_stats st = SC_STEP_STATS_INIT;
    double t_train = 0.0, red0 = 0.0, wait0 = 0.0;
    long images = 0, timed = 0;
    size_t bytes_first = 0; /* the gradient bytes of the first step */
    int done = 0;
    for (; pos.epoch < (uint64_t)o.epochs && !done; pos.epoch++, pos.at = 0) {
        shuffle(order, train.n, pos.seed, pos.epoch);
        double te = now();
        for (; (long)pos.at + global <= train.n; pos.at += (uint64_t)global) {
            if (o.steps > 0 && steps >= o.steps) {
                done = 1;
                break;
            }
            double ts = now(), rs = red.seconds, ws = red.wait;
            int n = gather(&train, order, (long)pos.at + (long)rank * o.batch,
                           o.batch, bx, by);
            int64_t xs[4] = {n, train.c, train.h, train.w};
            sc_tensor *x;
            check(sc_tensor_wrap(&x, 4, xs, bx), "tensor");
            check(sc_net_train_step(net, opt, x, by, &st), "sc_net_train_step");
            sc_tensor_free(x);
            steps++;
            if (steps == 1)
                bytes_first = red.bytes;
            if (steps > 1) { /* the first step plans the buffers */
                t_train += now() - ts;
                red0 += red.seconds - rs;
                wait0 += red.wait - ws;
                images += global;
                timed++;
            }
            if (o.checkpoint && o.checkpoint_every > 0 &&
                steps % o.checkpoint_every == 0 && rank == 0) {
                position next = pos;
                next.at += (uint64_t)global;
                check(sc_checkpoint_save(net, opt, &next, sizeof next,
                                         o.checkpoint), "sc_checkpoint_save");
            }
        }
        if (done)
            break;
        if (!o.use_float)
            check(sc_net_compress(net, NULL), "sc_net_compress");
        if (rank == 0) {
            check(sc_net_set_training(net, 0), "eval mode");
            double acc = evaluate(net_forward, net, &test, 256);
            check(sc_net_set_training(net, 1), "train mode");
            sc_size_report r = SC_SIZE_REPORT_INIT;
            check(sc_net_size_report(net, SC_ALL_LAYERS, &r), "report");
            printf("epoch %llu: loss %.4f, train accuracy %.2f%%, test "
                   "accuracy %.2f%%, bits %.2f%%, weights %.2f%%, %.1f s\n",
                   (unsigned long long)pos.epoch + 1, st.task_loss,
                   100 * st.accuracy, 100 * acc, r.bits_pct, r.weights_pct,
                   now() - te);
        }
    }
    if (!o.use_float)
        check(sc_net_compress(net, NULL), "sc_net_compress");
    if (rank == 0 && o.checkpoint)
        check(sc_checkpoint_save(net, opt, &pos, sizeof pos, o.checkpoint),
              "sc_checkpoint_save");
    if (rank == 0 && o.save) {
        sc_model_info info = SC_MODEL_INFO_INIT;
        check(sc_net_save(net, o.save, &info), "sc_net_save");
        printf("model file: %lld bytes, saved to %s\n",
               (long long)info.file_bytes, o.save);
    }
    if (rank == 0 && timed > 0)
        printf("TIMING net=%s ranks=%d threads=%d batch=%d steps=%ld "
               "img_per_s=%.1f step_ms=%.2f wait_ms=%.3f allreduce_ms=%.3f "
               "grad_bytes_first=%zu grad_bytes_last=%zu\n",
               o.net, ranks, o.threads, o.batch, timed,
               (double)images / t_train, 1e3 * t_train / (double)timed,
               1e3 * wait0 / (double)timed, 1e3 * red0 / (double)timed,
               bytes_first, red.bytes);
    sc_optimizer_free(opt);
    sc_net_free(net);
    free(order);
    free(bx);
    free(by);
    dataset_free(&train);
    dataset_free(&test);
    MPI_Finalize();
    return 0;
}
