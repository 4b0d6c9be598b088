/* bnstats.c -- refreshing batch-norm running statistics without training.
 * While channels die and bit depths move, the running statistics lag the
 * net they describe; a few forward passes over training data bring them up
 * to date before evaluation or saving. */
#include "core/error.h"
#include "core/tensor.h"
#include "engine/net.h"

SC_API sc_status sc_net_update_bn_stats(sc_net *net, const sc_tensor *x)
{
    SC_CHECK_NULL(net, "sc_net_update_bn_stats");
    SC_CHECK_NULL(x, "sc_net_update_bn_stats");
    int n;
    sc_status st = sc_check_input(net, x, &n, "sc_net_update_bn_stats");
    if (st != SC_OK || (st = sc_plan(net, n)) != SC_OK)
        return st;
    int mode = net->training;
    net->training = 1;
    net->input = x->data;
    sc_forward(net, n);
    st = sc_commit_check(net);
    if (st == SC_OK)
        sc_commit_stats(net);
    net->training = mode;
    return st == SC_OK ? st : sc_fail(st, "sc_net_update_bn_stats: %s",
                                      sc_last_error());
}
