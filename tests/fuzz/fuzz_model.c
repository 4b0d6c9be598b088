/* fuzz_model.c -- libFuzzer target: sc_model_load_memory_v2 on any bytes
 * within cost caps, and a forward pass on a batch of two of every model
 * that loads; also with the CRC made right. Build and run with
 * `make fuzz` (clang, -fsanitize=fuzzer,address,undefined). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/net.h"
#include "io/model.h"
#include "selfcompress.h"

#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What a model may cost to be loaded here: a forward of two samples stays
 * within a few milliseconds (the caps bound the input too: every layer
 * reading it counts its elements or holds buffers of its size). */
static const sc_load_limits limits = {sizeof(sc_load_limits), 8 << 20, 2e7};

static void load(const uint8_t *data, size_t size)
{
    sc_model *m = NULL;
    sc_status st = sc_model_load_memory_v2(&m, data, size, &limits);
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
        info.weight_payload_bytes != (int64_t)(info.weight_bits + 7) / 8 ||
        info.activation_bytes > limits.max_activation_bytes || info.macs > limits.max_macs)
        abort();
    int k = sc_model_output_size(m);
    size_t in = (size_t)c * (size_t)h * (size_t)w;
    if (k > 0) {
        enum { N = 2 };
        float *x = malloc(N * in * sizeof(float)), *y = malloc((size_t)N * (size_t)k * sizeof(float));
        if (x && y) {
            for (size_t i = 0; i < N * in; i++)
                x[i] = (float)((i * 2654435761u) % 1000) / 500.0f - 1.0f;
            int64_t xs[4] = {N, c, h, w}, ys[2] = {N, k};
            sc_tensor *tx = NULL, *ty = NULL;
            if (sc_tensor_wrap(&tx, 4, xs, x) == SC_OK && sc_tensor_wrap(&ty, 2, ys, y) == SC_OK) {
                st = sc_model_forward(m, tx, ty);
                double inf = -1.0;
                if (st == SC_ERR_UNSUPPORTED) { /* int8 cannot run it: fp32 can */
                    if (sc_model_get_param(m, SC_PARAM_INFERENCE, &inf) != SC_OK ||
                        inf != SC_INFERENCE_FP32)
                        abort();
                    st = sc_model_forward(m, tx, ty);
                }
                if (st != SC_OK && st != SC_ERR_NOMEM)
                    abort(); /* a model that loads must run */
                if (st == SC_OK && sc_model_net(m)->arena_floats * sizeof(float) >
                                       (size_t)N * (size_t)info.activation_bytes)
                    abort(); /* and take what its info said, per sample */
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
