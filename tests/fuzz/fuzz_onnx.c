/* fuzz_onnx.c -- libFuzzer target: sc_net_import_onnx_memory on any bytes
 * within cost caps, and an eval forward of a batch of two of every net
 * that imports. Seeds: tests/data/onnx (make_fixtures.py). Build and run
 * with `make fuzz` (clang, -fsanitize=fuzzer,address,undefined). */
#include <stdint.h>
#include <stdlib.h>

#include "selfcompress.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What a net may cost per sample to be imported here: a forward of two
 * samples stays within a few milliseconds. */
static const sc_load_limits limits = {sizeof(sc_load_limits), 8 << 20, 2e7};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sc_net *net = NULL;
    sc_status st = sc_net_import_onnx_memory(&net, data, size, &limits);
    if (st != SC_OK) {
        if (net != NULL || sc_last_error()[0] == '\0')
            abort(); /* *out must stay untouched and a message be set */
        return 0;
    }
    int c, h, w, k = sc_net_output_size(net);
    if (sc_net_layer_shape(net, SC_INPUT, &c, &h, &w) != SC_OK || k < 1)
        abort();
    enum { N = 2 };
    size_t in = (size_t)c * (size_t)h * (size_t)w;
    float *x = malloc(N * in * sizeof(float)), *y = malloc((size_t)N * (size_t)k * sizeof(float));
    if (x && y && sc_net_set_training(net, 0) == SC_OK) {
        for (size_t i = 0; i < N * in; i++)
            x[i] = (float)((i * 2654435761u) % 1000) / 500.0f - 1.0f;
        int64_t xs[4] = {N, c, h, w}, ys[2] = {N, k};
        sc_tensor *tx = NULL, *ty = NULL;
        if (sc_tensor_wrap(&tx, 4, xs, x) == SC_OK && sc_tensor_wrap(&ty, 2, ys, y) == SC_OK) {
            st = sc_net_forward(net, tx, ty);
            if (st != SC_OK && st != SC_ERR_NOMEM)
                abort(); /* a net that imports must run */
        }
        sc_tensor_free(tx);
        sc_tensor_free(ty);
    }
    free(x);
    free(y);
    sc_net_free(net);
    return 0;
}
