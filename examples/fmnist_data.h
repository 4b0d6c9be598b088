/* fmnist_data.h -- Fashion-MNIST for the example programs: the IDX files
 * read and normalised, laid out as a benchmark net's input (nets.h), batches
 * gathered in a shuffled order, and the test accuracy of a net or model.
 *
 * Define COMMON_PROG (common.h) first, and link zlib. Everything
 * is static inline: include it from any number of programs. */
#ifndef SC_EXAMPLES_FMNIST_DATA_H
#define SC_EXAMPLES_FMNIST_DATA_H

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include <selfcompress.h>

#include "common.h"
#include "nets.h"

#define DEFAULT_DATA "/usr/share/datasets/fashion-mnist"

typedef struct dataset {
    float *x;    /* n x 784, normalised; each sample c x h x w */
    int32_t *y;  /* n labels */
    long n;
    int c, h, w; /* a sample's shape: the net's input (c * h * w = 784) */
} dataset;

/* ---- IDX files (big-endian header, gzip) ---- */

static inline unsigned char *read_idx(const char *dir, const char *name, int want_magic,
                               long *count, long *item)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    gzFile f = gzopen(path, "rb");
    if (f == NULL)
        die("cannot open %s: %s", path, strerror(errno));
    unsigned char hdr[16];
    int dims = want_magic == 0x803 ? 3 : 1;
    int hlen = 4 + 4 * dims;
    if (gzread(f, hdr, (unsigned)hlen) != hlen)
        die("%s: too short for an IDX header", path);
    long magic = (long)hdr[0] << 24 | hdr[1] << 16 | hdr[2] << 8 | hdr[3];
    if (magic != want_magic)
        die("%s: not an IDX file of the expected kind (magic 0x%lx, want 0x%x)",
            path, magic, want_magic);
    long d[3] = {1, 1, 1};
    for (int i = 0; i < dims; i++)
        d[i] = (long)hdr[4 + 4 * i] << 24 | hdr[5 + 4 * i] << 16 |
               hdr[6 + 4 * i] << 8 | hdr[7 + 4 * i];
    if (d[0] <= 0 || d[0] > 10000000 || (dims == 3 && (d[1] != 28 || d[2] != 28)))
        die("%s: unexpected dimensions %ld x %ld x %ld", path, d[0], d[1], d[2]);
    *count = d[0];
    *item = d[1] * d[2];
    size_t bytes = (size_t)(*count) * (size_t)(*item);
    unsigned char *buf = malloc(bytes);
    if (buf == NULL)
        die("out of memory reading %s", path);
    if (gzread(f, buf, (unsigned)bytes) != (int)bytes)
        die("%s: truncated (expected %zu bytes of data)", path, bytes);
    gzclose(f);
    return buf;
}

static inline dataset load(const char *dir, const char *prefix, long limit)
{
    char name[64];
    long n, item, nl, one;
    snprintf(name, sizeof name, "%s-images-idx3-ubyte.gz", prefix);
    unsigned char *img = read_idx(dir, name, 0x803, &n, &item);
    snprintf(name, sizeof name, "%s-labels-idx1-ubyte.gz", prefix);
    unsigned char *lab = read_idx(dir, name, 0x801, &nl, &one);
    if (nl != n)
        die("%s: %ld images but %ld labels", prefix, n, nl);
    if (limit > 0 && limit < n)
        n = limit;
    dataset d = {malloc((size_t)n * 784 * sizeof(float)),
                 malloc((size_t)n * sizeof(int32_t)), n, 1, 28, 28};
    if (!d.x || !d.y)
        die("out of memory");
    for (long i = 0; i < n * 784; i++)
        d.x[i] = img[i] / 255.0f;
    for (long i = 0; i < n; i++) {
        if (lab[i] > 9)
            die("%s: label %d out of range", prefix, lab[i]);
        d.y[i] = lab[i];
    }
    free(img);
    free(lab);
    return d;
}

/* x = (x - mean) / std with the training set's global mean and std */
/* Frees what load() allocated. */
static inline void dataset_free(dataset *d)
{
    free(d->x);
    free(d->y);
}

static inline void normalise(dataset *train, dataset *test)
{
    double s = 0, ss = 0;
    long n = train->n * 784;
    for (long i = 0; i < n; i++) {
        s += train->x[i];
        ss += (double)train->x[i] * train->x[i];
    }
    double mean = s / n, std = sqrt(ss / n - mean * mean);
    dataset *sets[2] = {train, test};
    for (int k = 0; k < 2; k++)
        for (long i = 0; i < sets[k]->n * 784; i++)
            sets[k]->x[i] = (float)((sets[k]->x[i] - mean) / std);
}

/* Every image of d laid out as net `name`'s input (nets_image_to_input:
 * seq1d reads the image's rows as time steps), for training and test data
 * alike. */
static inline void to_net_input(dataset *d, const char *name)
{
    float img[784];
    for (long i = 0; i < d->n; i++) {
        memcpy(img, d->x + i * 784, sizeof img);
        nets_image_to_input(name, img, d->x + i * 784);
    }
    nets_input_shape(name, &d->c, &d->h, &d->w);
}

typedef sc_status (*forward_fn)(void *handle, const sc_tensor *x, sc_tensor *y);

static inline sc_status net_forward(void *h, const sc_tensor *x, sc_tensor *y)
{
    return sc_net_forward(h, x, y);
}

static inline sc_status model_forward(void *h, const sc_tensor *x, sc_tensor *y)
{
    return sc_model_forward(h, x, y);
}

/* test accuracy of a net (eval mode) or a loaded model; when dump is not
 * NULL, the logits of the first `count` samples go to it (float32, raw) */
static inline double evaluate_dump(forward_fn fwd, void *handle, const dataset *d,
                            int batch, FILE *dump, long count)
{
    long right = 0;
    float *logits = malloc((size_t)batch * 10 * sizeof(float));
    if (logits == NULL)
        die("out of memory");
    for (long at = 0; at < d->n; at += batch) {
        int n = (int)(d->n - at < batch ? d->n - at : batch);
        int64_t xs[4] = {n, d->c, d->h, d->w}, ys[2] = {n, 10};
        sc_tensor *x, *y;
        check(sc_tensor_wrap(&x, 4, xs, d->x + at * 784), "tensor");
        check(sc_tensor_wrap(&y, 2, ys, logits), "tensor");
        check(fwd(handle, x, y), "forward");
        for (int i = 0; i < n; i++) {
            int arg = 0;
            for (int c = 1; c < 10; c++)
                if (logits[i * 10 + c] > logits[i * 10 + arg])
                    arg = c;
            right += arg == d->y[at + i];
        }
        long keep = dump == NULL || at >= count ? 0 : (count - at < n ? count - at : n);
        if (keep > 0 && fwrite(logits, sizeof(float) * 10, (size_t)keep, dump) != (size_t)keep)
            die("cannot write the logits: %s", strerror(errno));
        sc_tensor_free(x);
        sc_tensor_free(y);
    }
    free(logits);
    return (double)right / (double)d->n;
}

static inline double evaluate(forward_fn fwd, void *handle, const dataset *d, int batch)
{
    return evaluate_dump(fwd, handle, d, batch, NULL, 0);
}

/* Gathers batch `at` of the shuffled order into bx/by; returns its size. */
static inline int gather(const dataset *d, const long *order, long at, int batch,
                  float *bx, int32_t *by)
{
    int n = (int)(d->n - at < batch ? d->n - at : batch);
    for (int i = 0; i < n; i++) {
        memcpy(bx + (size_t)i * 784, d->x + order[at + i] * 784,
               784 * sizeof(float));
        by[i] = d->y[order[at + i]];
    }
    return n;
}

#endif
