/* mpi_reduce.h -- the reduction hook (sc_net_set_reduce()) over MPI, shared
 * by examples/mpi_train.c and tests/mpi/mpi_check.c.
 *
 *     mpi_reduce r = MPI_REDUCE_INIT(MPI_COMM_WORLD);
 *     sc_net_set_reduce(net, mpi_reduce_hook, &r);
 *
 * Every buffer is summed in place with MPI_Allreduce and divided by the
 * number of ranks: the average, the same bits on every rank (a sum of two
 * floats does not depend on their order; with more ranks Open MPI's
 * reduction order is fixed for a given count and communicator). Counts
 * above INT_MAX go in pieces. For the gradients a barrier comes first, so
 * that r.wait adds up the time spent waiting for the slowest rank and
 * r.seconds the reductions themselves (r.calls of them). Include <mpi.h>
 * and <selfcompress.h> first. */
#ifndef SC_EXAMPLES_MPI_REDUCE_H
#define SC_EXAMPLES_MPI_REDUCE_H

#include <limits.h>
#include <stddef.h>

typedef struct mpi_reduce {
    MPI_Comm comm;
    int ranks;       /* set by mpi_reduce_hook from comm on its first call */
    double wait;     /* wall time in the barrier before them */
    double seconds;  /* wall time in SC_REDUCE_GRADS reductions */
    long calls;      /* their number */
    size_t bytes;    /* gradient bytes of the last call */
} mpi_reduce;

#define MPI_REDUCE_INIT(comm) {(comm), 0, 0.0, 0.0, 0, 0}

/* MPI_Allreduce(MPI_SUM) of n elements of type t at p, in pieces of at
 * most INT_MAX; 0 on success */
static inline int mpi_sum_in_place(void *p, size_t n, MPI_Datatype t,
                                   size_t elem, MPI_Comm comm)
{
    for (size_t off = 0; off < n;) {
        int c = n - off > (size_t)INT_MAX ? INT_MAX : (int)(n - off);
        if (MPI_Allreduce(MPI_IN_PLACE, (char *)p + off * elem, c, t, MPI_SUM,
                          comm) != MPI_SUCCESS)
            return 1;
        off += (size_t)c;
    }
    return 0;
}

static inline int mpi_reduce_hook(sc_reduce_what what, float *data, size_t n,
                                  double *figures, int n_figures, void *user)
{
    mpi_reduce *r = user;
    if (r->ranks == 0 && MPI_Comm_size(r->comm, &r->ranks) != MPI_SUCCESS)
        return 1;
    double t0 = MPI_Wtime();
    if (what == SC_REDUCE_GRADS) {
        if (MPI_Barrier(r->comm) != MPI_SUCCESS)
            return 1;
        double t1 = MPI_Wtime();
        r->wait += t1 - t0;
        t0 = t1;
    }
    if (mpi_sum_in_place(data, n, MPI_FLOAT, sizeof *data, r->comm) ||
        (n_figures > 0 && mpi_sum_in_place(figures, (size_t)n_figures,
                                           MPI_DOUBLE, sizeof *figures,
                                           r->comm)))
        return 1;
    float inv = 1.0f / (float)r->ranks;
    for (size_t i = 0; i < n; i++)
        data[i] *= inv;
    for (int i = 0; i < n_figures; i++)
        figures[i] /= r->ranks;
    if (what == SC_REDUCE_GRADS) {
        r->seconds += MPI_Wtime() - t0;
        r->calls++;
        r->bytes = n * sizeof *data;
    }
    return 0;
}

#endif
