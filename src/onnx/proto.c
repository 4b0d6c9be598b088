/* proto.c -- the ONNX file's bytes into protobuf-c's structs, within a
 * budget: every allocation of the unpacker counts, and past a small
 * multiple of the file's size the parse fails. */
#include <stddef.h>
#include <stdlib.h>

#include "core/checked.h"
#include "core/error.h"
#include "onnx/onnx.h"

/* Bytes the unpacker may allocate for a file of n bytes: its structs
 * are larger than the fields they hold (an empty message takes 2 bytes in
 * the file and a struct of up to ~200 bytes), so 64 per byte and a fixed
 * allowance. */
#define OX_PARSE_PER_BYTE 64
#define OX_PARSE_FIXED ((size_t)1 << 20)

typedef struct budget {
    size_t used, cap;
    int over, nomem;
} budget;

struct ox_model {
    budget b;
    ProtobufCAllocator alloc;
    Onnx__ModelProto *m;
};

/* Each block starts with its size, so that free can give it back. */
typedef union head {
    max_align_t align;
    size_t n;
} head;

static void *b_alloc(void *data, size_t n)
{
    budget *b = data;
    size_t total, used;
    if (!sc_add_ok(n, sizeof(head), &total) || !sc_add_ok(b->used, total, &used) ||
        used > b->cap) {
        b->over = 1;
        return NULL;
    }
    head *h = malloc(total);
    if (h == NULL) {
        b->nomem = 1;
        return NULL;
    }
    h->n = total;
    b->used = used;
    return h + 1;
}

static void b_free(void *data, void *p)
{
    if (p == NULL)
        return;
    budget *b = data;
    head *h = (head *)p - 1;
    b->used -= h->n;
    free(h);
}

sc_status ox_parse(const void *data, size_t size, ox_model **out,
                   const char *fn)
{
    ox_model *m = malloc(sizeof *m);
    if (m == NULL)
        return sc_fail(SC_ERR_NOMEM, "%s: out of memory", fn);
    size_t cap;
    if (!sc_mul_ok(size, OX_PARSE_PER_BYTE, &cap) || !sc_add_ok(cap, OX_PARSE_FIXED, &cap))
        cap = SIZE_MAX;
    m->b = (budget){0, cap, 0, 0};
    m->alloc = (ProtobufCAllocator){b_alloc, b_free, &m->b};
    m->m = onnx__model_proto__unpack(&m->alloc, size, data);
    if (m->m == NULL) {
        budget b = m->b;
        free(m);
        if (b.nomem)
            return sc_fail(SC_ERR_NOMEM, "%s: out of memory", fn);
        if (b.over)
            return sc_fail(SC_ERR_FORMAT, "%s: the %zu-byte file declares more "
                           "than %zu bytes of messages", fn, size, cap);
        return sc_fail(SC_ERR_FORMAT, "%s: not an ONNX model: the %zu bytes "
                       "are no valid ModelProto (truncated or corrupt)", fn,
                       size);
    }
    *out = m;
    return SC_OK;
}

const Onnx__ModelProto *ox_model_proto(const ox_model *m) { return m->m; }

void ox_parse_free(ox_model *m)
{
    if (m == NULL)
        return;
    onnx__model_proto__free_unpacked(m->m, &m->alloc);
    free(m);
}
