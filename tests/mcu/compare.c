/* compare.c -- the exported C code of a model against the library
 * (docs/mcu.md): built with the generated model.c (export name "model"),
 * it runs N inputs through sc_model_forward (int8, batch 1) and through
 * model_predict and model_predict_q8, and fails unless the logits are the
 * same bits.
 *
 *   compare MODEL.scm N [--fmnist DIR] [--images-c FILE] [--expect-c FILE NAME]
 *
 * Inputs: N seeded random ones, or the first N Fashion-MNIST test images
 * (normalised as examples/fashion_mnist does). --images-c writes those
 * images' pixels, labels and the normalisation as C (for the Cortex-M demo,
 * tests/mcu/); --expect-c the library's predicted classes as NAME_expect. */
#define _POSIX_C_SOURCE 200809L
#define COMMON_PROG "compare"
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../examples/fmnist_data.h"
#include "model.h"

static int argmax(const float *v, int n)
{
    int b = 0;
    for (int i = 1; i < n; i++)
        b = v[i] > v[b] ? i : b;
    return b;
}

int main(int argc, char **argv)
{
    if (argc < 3)
        die("usage: compare MODEL.scm N [--fmnist DIR] [--images-c FILE] "
            "[--expect-c FILE NAME]");
    const char *fm = NULL, *images_c = NULL, *expect_c = NULL, *ename = NULL;
    long n = atol(argv[2]);
    for (int i = 3; i < argc; i++) {
        if (strcmp(argv[i], "--fmnist") == 0 && i + 1 < argc)
            fm = argv[++i];
        else if (strcmp(argv[i], "--images-c") == 0 && i + 1 < argc)
            images_c = argv[++i];
        else if (strcmp(argv[i], "--expect-c") == 0 && i + 2 < argc) {
            expect_c = argv[++i];
            ename = argv[++i];
        } else
            die("unknown argument %s", argv[i]);
    }
    sc_model *m;
    check(sc_model_load(&m, argv[1]), "sc_model_load");
    int c, h, w, k = sc_model_output_size(m);
    check(sc_model_input_shape(m, &c, &h, &w), "sc_model_input_shape");
    size_t in = (size_t)c * h * w;
    if (in != MODEL_INPUTS || k != MODEL_OUTPUTS)
        die("the model's shape is not the exported one's");
    float *x = malloc((size_t)n * in * sizeof(float));
    int32_t *labels = NULL;
    unsigned char *pix = NULL;
    double mean = 0.0, sd = 1.0;
    if (fm) {
        dataset train = load(fm, "train", 0), test = load(fm, "t10k", n);
        if (test.n < n)
            die("only %ld test images", test.n);
        pix = malloc((size_t)n * 784);
        for (long i = 0; i < n * 784; i++) /* the pixels back */
            pix[i] = (unsigned char)lrintf(test.x[i] * 255.0f);
        double s = 0, ss = 0;
        for (long i = 0; i < train.n * 784; i++) {
            s += train.x[i];
            ss += (double)train.x[i] * train.x[i];
        }
        mean = s / (train.n * 784.0);
        sd = sqrt(ss / (train.n * 784.0) - mean * mean);
        normalise(&train, &test);
        if (in != 784 || c != 1)
            die("--fmnist takes a 1 x 28 x 28 model");
        memcpy(x, test.x, (size_t)n * in * sizeof(float));
        labels = malloc((size_t)n * sizeof *labels);
        memcpy(labels, test.y, (size_t)n * sizeof *labels);
        dataset_free(&train);
        dataset_free(&test);
    } else {
        uint64_t s = 12345;
        for (size_t i = 0; i < (size_t)n * in; i++) {
            s = s * 6364136223846793005ULL + 1442695040888963407ULL;
            x[i] = (float)((double)(s >> 11) / 9007199254740992.0 * 4.0 - 2.0);
        }
    }
    int64_t shape[4] = {1, c, h, w}, oshape[2] = {1, k};
    sc_tensor *tx, *ty;
    check(sc_tensor_create(&tx, 4, shape), "sc_tensor_create");
    check(sc_tensor_create(&ty, 2, oshape), "sc_tensor_create");
    static unsigned char arena[MODEL_ARENA_BYTES];
    float lib[MODEL_OUTPUTS], gen[MODEL_OUTPUTS], gen8[MODEL_OUTPUTS];
    uint8_t q[MODEL_INPUTS];
    int *pred = malloc((size_t)n * sizeof *pred);
    long bad = 0, bad8 = 0, correct = 0;
    for (long i = 0; i < n; i++) {
        const float *xi = x + (size_t)i * in;
        check(sc_tensor_copy_from(tx, xi, in), "sc_tensor_copy_from");
        check(sc_model_forward(m, tx, ty), "sc_model_forward");
        check(sc_tensor_copy_to(ty, lib, (size_t)k), "sc_tensor_copy_to");
        model_predict(xi, gen, arena);
        for (size_t j = 0; j < in; j++) { /* as model.h documents */
            float v = xi[j] * (1.0f / MODEL_INPUT_SCALE) + MODEL_INPUT_ZERO;
            v = v > 0.0f ? v : 0.0f;
            v = v < 255.0f ? v : 255.0f;
            q[j] = (uint8_t)(int)(v + 0.5f);
        }
        model_predict_q8(q, gen8, arena);
        bad8 += memcmp(lib, gen8, sizeof lib) != 0;
        bad += memcmp(lib, gen, sizeof lib) != 0;
        pred[i] = argmax(lib, k);
        correct += labels && pred[i] == labels[i];
    }
    printf("%ld inputs: %ld (q8 input: %ld) differ from sc_model_forward's "
           "int8 logits", n, bad, bad8);
    if (labels)
        printf("; accuracy %.2f%%", 100.0 * correct / n);
    printf("\n");
    if (images_c) {
        FILE *f = fopen(images_c, "w");
        if (f == NULL)
            die("cannot write %s", images_c);
        fprintf(f, "/* the first %ld Fashion-MNIST test images (compare.c) */\n"
                "#include <stdint.h>\n"
                "const int demo_images = %ld;\n"
                "const double demo_mean = %a, demo_std = %a;\n"
                "const uint8_t demo_labels[%ld] = {", n, n, mean, sd, n);
        for (long i = 0; i < n; i++)
            fprintf(f, "%s%d", i ? ", " : "", labels ? (int)labels[i] : 0);
        fprintf(f, "};\nconst uint8_t demo_pixels[%ld] = {", n * 784);
        for (long i = 0; pix && i < n * 784; i++)
            fprintf(f, "%s%d", i ? (i % 20 ? "," : ",\n") : "\n", pix[i]);
        fprintf(f, "};\n");
        if (fclose(f) != 0)
            die("cannot write %s", images_c);
    }
    if (expect_c) {
        FILE *f = fopen(expect_c, "w");
        if (f == NULL)
            die("cannot write %s", expect_c);
        fprintf(f, "/* the classes sc_model_forward predicts (compare.c) */\n"
                "#include <stdint.h>\nconst uint8_t %s_expect[%ld] = {", ename, n);
        for (long i = 0; i < n; i++)
            fprintf(f, "%s%d", i ? ", " : "", pred[i]);
        fprintf(f, "};\n");
        if (fclose(f) != 0)
            die("cannot write %s", expect_c);
    }
    sc_tensor_free(tx);
    sc_tensor_free(ty);
    sc_model_free(m);
    free(x);
    free(labels);
    free(pix);
    free(pred);
    return bad != 0 || bad8 != 0;
}
