/* fuzz_model.c -- libFuzzer target: sc_model_load_memory on any bytes, and
 * when a model loads, a forward pass on a tiny batch; also with the CRC
 * made right. Build and run with
 * `make fuzz` (clang, -fsanitize=fuzzer,address,undefined). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/net.h"
#include "io/model.h"
#include "selfcompress.h"

#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Multiply-adds of one forward sample: skip nets too slow to fuzz. */
static double cost(const sc_net *net)
{
    double c = 0.0;
    for (int i = 1; i < net->n_nodes; i++) {
        const sc_node *nd = &net->nodes[i];
        c += (double)sc_node_size(nd) * (nd->kh > 0 ? nd->kh : 1) * (nd->kw > 0 ? nd->kw : 1);
        c += (double)nd->pn[P_W] * nd->h * nd->w;
    }
    return c;
}

static void load(const uint8_t *data, size_t size)
{
    sc_model *m = NULL;
    sc_status st = sc_model_load_memory(&m, data, size);
    if (st != SC_OK) {
        if (m != NULL || sc_last_error()[0] == '\0')
            abort(); /* *out must stay untouched and a message be set */
        return;
    }
    int c, h, w;
    if (sc_model_input_shape(m, &c, &h, &w) != SC_OK)
        abort();
    sc_model_info info = SC_MODEL_INFO_INIT;
    if (sc_model_get_info(m, &info) != SC_OK || info.file_bytes != (int64_t)size ||
        info.weight_payload_bytes != (int64_t)(info.weight_bits + 7) / 8)
        abort();
    int k = sc_model_output_size(m);
    size_t in = (size_t)c * (size_t)h * (size_t)w;
    if (in <= 4096 && k > 0 && cost(sc_model_net(m)) < 2e7) {
        enum { N = 2 };
        float *x = malloc(N * in * sizeof(float)), *y = malloc((size_t)N * (size_t)k * sizeof(float));
        if (x && y) {
            for (size_t i = 0; i < N * in; i++)
                x[i] = (float)((i * 2654435761u) % 1000) / 500.0f - 1.0f;
            int64_t xs[4] = {N, c, h, w}, ys[2] = {N, k};
            sc_tensor *tx = NULL, *ty = NULL;
            if (sc_tensor_wrap(&tx, 4, xs, x) == SC_OK && sc_tensor_wrap(&ty, 2, ys, y) == SC_OK) {
                st = sc_model_forward(m, tx, ty);
                if (st != SC_OK && st != SC_ERR_NOMEM)
                    abort(); /* a model that loads must run */
            }
            sc_tensor_free(tx);
            sc_tensor_free(ty);
        }
        free(x);
        free(y);
    }
    sc_model_free(m);
}

/* Each input twice: as it is (the framing checks), and with its content
 * length and CRC made right, so that mutations reach the parser behind
 * the checksum. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_as_is_and_resealed(data, size, load);
}
