/* main.c -- the Cortex-M4 demo (make mcu-demo, docs/mcu.md): the exported
 * tinynet and dscnn (sc_export_c) on the Fashion-MNIST test images that
 * images.c embeds, normalised as on the host; prints each model's accuracy,
 * how many of its predictions equal the host library's (NAME_expect) and
 * the stack its predict used (the painted stack's untouched part), and
 * exits 1 unless every prediction matches. */
#include <stddef.h>
#include <stdint.h>

#include "dscnn.h"
#include "semihost.h"
#include "tinynet.h"

extern const int demo_images;
extern const double demo_mean, demo_std;
extern const uint8_t demo_labels[], demo_pixels[];
extern const uint8_t tinynet_expect[], dscnn_expect[];
extern uint32_t __stack_bottom;

#define PAINT 0xA5A5A5A5u

typedef struct model {
    const char *name;
    void (*predict)(const float *, float *, void *);
    unsigned arena_bytes;
    const uint8_t *expect;
} model;

static uint8_t arena[TINYNET_ARENA_BYTES > DSCNN_ARENA_BYTES
                         ? TINYNET_ARENA_BYTES
                         : DSCNN_ARENA_BYTES];

static void put_uint(unsigned v)
{
    char b[12];
    int i = 11;
    b[i] = 0;
    do {
        b[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    semihost_puts(b + i);
}

/* paints the stack below the caller's frame (a margin of 32 bytes) */
static void __attribute__((noinline)) paint(void)
{
    volatile uint32_t here = 0;
    uintptr_t top = (uintptr_t)&here - 32;
    for (uint32_t *p = &__stack_bottom; (uintptr_t)p < top; p++)
        *p = PAINT;
}

/* bytes of stack below the caller's frame that were written */
static unsigned __attribute__((noinline)) stack_used(void)
{
    volatile uint32_t here = 0;
    uint32_t *p = &__stack_bottom;
    while ((uintptr_t)p < (uintptr_t)&here && *p == PAINT)
        p++;
    return (unsigned)((uintptr_t)&here - (uintptr_t)p);
}

static int run(const model *m)
{
    float x[784], logits[10];
    unsigned correct = 0, same = 0, stack = 0;
    for (int i = 0; i < demo_images; i++) {
        const uint8_t *p = demo_pixels + (size_t)i * 784;
        for (int j = 0; j < 784; j++) /* as examples/fmnist_data.h */
            x[j] = (float)(((double)(p[j] / 255.0f) - demo_mean) / demo_std);
        paint();
        m->predict(x, logits, arena);
        unsigned s = stack_used();
        stack = s > stack ? s : stack;
        int best = 0;
        for (int k = 1; k < 10; k++)
            best = logits[k] > logits[best] ? k : best;
        correct += best == demo_labels[i];
        same += best == m->expect[i];
    }
    semihost_puts(m->name);
    semihost_puts(": accuracy ");
    put_uint(correct);
    semihost_puts("/");
    put_uint((unsigned)demo_images);
    semihost_puts(", predictions equal to the host's ");
    put_uint(same);
    semihost_puts("/");
    put_uint((unsigned)demo_images);
    semihost_puts(", arena ");
    put_uint(m->arena_bytes);
    semihost_puts(" bytes, stack ");
    put_uint(stack);
    semihost_puts(" bytes (measured, predict and below)\n");
    return same == (unsigned)demo_images;
}

int main(void)
{
    static const model models[2] = {
        {"tinynet", tinynet_predict, TINYNET_ARENA_BYTES, tinynet_expect},
        {"dscnn", dscnn_predict, DSCNN_ARENA_BYTES, dscnn_expect}};
    int ok = 1;
    for (int i = 0; i < 2; i++)
        ok = run(&models[i]) && ok;
    semihost_puts(ok ? "mcu-demo: OK\n" : "mcu-demo: MISMATCH\n");
    return ok ? 0 : 1;
}
