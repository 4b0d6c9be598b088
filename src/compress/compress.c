/* compress.c -- removal of dead channels (spec section 3). */
#include "core/error.h"
#include "engine/net.h"

SC_API sc_status sc_net_compress(sc_net *net, int *removed)
{
    SC_CHECK_NULL(net, "sc_net_compress");
    (void)removed;
    return sc_fail(SC_ERR_UNSUPPORTED, "sc_net_compress: not implemented yet");
}
