/* cmap.c -- constant maps as row classes x column classes (cmap.h;
 * layout in docs/format.md, "Constant maps").
 *
 * Per channel: a mode byte, 0 when the channel's own axes follow, 1 when it
 * reuses the axes last stored; an axis is its class count, its run count and
 * the runs (class, length), all unsigned LEB128; then the table of
 * classes_r x classes_c floats. Values are compared as bit patterns, so the
 * map comes back bit for bit (-0 and 0 are different values). */
#include "io/cmap.h"

#include <stdlib.h>
#include <string.h>

#include "core/checked.h"

#define MODE_OWN 0u
#define MODE_REUSE 1u

/* ---- unsigned LEB128 ---- */

static void put_var(sc_wbuf *w, uint32_t v)
{
    while (v >= 0x80) {
        sc_put_u8(w, (v & 0x7F) | 0x80);
        v >>= 7;
    }
    sc_put_u8(w, v);
}

static size_t var_bytes(uint32_t v)
{
    size_t n = 1;
    for (; v >= 0x80; v >>= 7)
        n++;
    return n;
}

/* At most 5 bytes, below 2^32, no needless trailing zero group (so each
 * value has one encoding); else r->failed. */
static uint32_t get_var(sc_rbuf *r)
{
    uint64_t v = 0;
    for (int i = 0; i < 5; i++) {
        unsigned b = sc_get_u8(r);
        if (r->failed)
            return 0;
        v |= (uint64_t)(b & 0x7F) << (7 * i);
        if (!(b & 0x80)) {
            if ((b == 0 && i > 0) || v > UINT32_MAX)
                break;
            return (uint32_t)v;
        }
    }
    r->failed = 1;
    return 0;
}

/* ---- writing ---- */

static uint32_t bits_of(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

/* Line i of a map: n elements m[i * step + j * stride], j < n. */
typedef struct lines {
    const float *m;
    size_t step, stride;
    int n;
} lines;

static int same_line(const lines *l, int a, int b)
{
    const float *p = l->m + (size_t)a * l->step, *q = l->m + (size_t)b * l->step;
    for (int j = 0; j < l->n; j++)
        if (bits_of(p[(size_t)j * l->stride]) != bits_of(q[(size_t)j * l->stride]))
            return 0;
    return 1;
}

static uint64_t hash_line(const lines *l, int i)
{
    const float *p = l->m + (size_t)i * l->step;
    uint64_t h = 1469598103934665603ull; /* FNV-1a over the bit patterns */
    for (int j = 0; j < l->n; j++) {
        h ^= bits_of(p[(size_t)j * l->stride]);
        h *= 1099511628211ull;
    }
    return h;
}

/* The classes of identical lines among count lines: cls[i] the class of
 * line i, numbered in order of first appearance, rep[k] the first line of
 * class k. Returns the class count; -1 when out of memory. Lines are
 * compared only with the classes of the same hash. */
static int line_classes(const lines *l, int count, int *cls, int *rep)
{
    size_t slots = 2;
    while (slots < 2 * (size_t)count)
        slots *= 2;
    int *slot = malloc(slots * sizeof *slot);
    uint64_t *hk = malloc((size_t)count * sizeof *hk);
    if (!slot || !hk) {
        free(slot);
        free(hk);
        return -1;
    }
    for (size_t s = 0; s < slots; s++)
        slot[s] = -1;
    int k = 0;
    for (int i = 0; i < count; i++) {
        uint64_t h = hash_line(l, i);
        size_t s = (size_t)h & (slots - 1);
        while (slot[s] >= 0 && !(hk[slot[s]] == h && same_line(l, rep[slot[s]], i)))
            s = (s + 1) & (slots - 1);
        if (slot[s] < 0) {
            slot[s] = k;
            hk[k] = h;
            rep[k++] = i;
        }
        cls[i] = slot[s];
    }
    free(slot);
    free(hk);
    return k;
}

/* One axis of a channel: the class of each of its len lines, the first
 * line of each class, the class count. */
typedef struct axis {
    int *cls, *rep;
    int k;
} axis;

/* Bytes of an axis: its class count, run count and runs. */
static size_t axis_bytes(const axis *a, int len)
{
    size_t n = var_bytes((uint32_t)a->k), runs = 0;
    for (int i = 0; i < len;) {
        int j = i;
        while (j < len && a->cls[j] == a->cls[i])
            j++;
        n += var_bytes((uint32_t)a->cls[i]) + var_bytes((uint32_t)(j - i));
        runs++;
        i = j;
    }
    return n + var_bytes((uint32_t)runs);
}

static void put_axis(sc_wbuf *w, const axis *a, int len)
{
    uint32_t runs = 0;
    for (int i = 1; i <= len; i++)
        runs += i == len || a->cls[i] != a->cls[i - 1];
    put_var(w, (uint32_t)a->k);
    put_var(w, runs);
    for (int i = 0; i < len;) {
        int j = i;
        while (j < len && a->cls[j] == a->cls[i])
            j++;
        put_var(w, (uint32_t)a->cls[i]);
        put_var(w, (uint32_t)(j - i));
        i = j;
    }
}

/* 1 when map m (h x wd) is T[r(y)][c(x)] under the axes r, c. */
static int fits(const float *m, int h, int wd, const axis *r, const axis *c)
{
    for (int y = 0; y < h; y++) {
        const float *row = m + (size_t)r->rep[r->cls[y]] * (size_t)wd;
        for (int x = 0; x < wd; x++)
            if (bits_of(m[(size_t)y * wd + x]) != bits_of(row[c->rep[c->cls[x]]]))
                return 0;
    }
    return 1;
}

static void put_table(sc_wbuf *w, const float *m, int wd, const axis *r,
                      const axis *c)
{
    for (int i = 0; i < r->k; i++)
        for (int j = 0; j < c->k; j++)
            sc_put_f32(w, m[(size_t)r->rep[i] * (size_t)wd + (size_t)c->rep[j]]);
}

int sc_cmap_put(sc_wbuf *w, const float *m, int c, int h, int wd)
{
    /* own[0..1]: this channel's rows and columns; last[0..1]: the axes
     * stored last */
    axis own[2], last[2];
    int *buf = malloc(4 * ((size_t)h + (size_t)wd) * sizeof *buf);
    if (buf == NULL) {
        w->failed = 1;
        return 0;
    }
    int *p = buf;
    axis *ax[4] = {&own[0], &last[0], &own[1], &last[1]};
    for (int i = 0; i < 4; i++) {
        int len = i < 2 ? h : wd;
        ax[i]->cls = p;
        ax[i]->rep = p + len;
        ax[i]->k = 0;
        p += 2 * (size_t)len;
    }
    int have_last = 0, ok = 1;
    size_t hw = (size_t)h * (size_t)wd;
    for (int o = 0; o < c && ok; o++) {
        const float *mo = m + (size_t)o * hw;
        lines rows = {mo, (size_t)wd, 1, wd}, cols = {mo, 1, (size_t)wd, h};
        own[0].k = line_classes(&rows, h, own[0].cls, own[0].rep);
        own[1].k = own[0].k < 0 ? -1 : line_classes(&cols, wd, own[1].cls, own[1].rep);
        if (own[1].k < 0) {
            ok = 0;
            break;
        }
        /* the smaller record: the last axes (a mode byte and their table)
         * when they fit this map, else its own */
        size_t own_bytes = axis_bytes(&own[0], h) + axis_bytes(&own[1], wd) +
                           4 * (size_t)own[0].k * (size_t)own[1].k;
        if (have_last && fits(mo, h, wd, &last[0], &last[1]) &&
            4 * (size_t)last[0].k * (size_t)last[1].k <= own_bytes) {
            sc_put_u8(w, MODE_REUSE);
            put_table(w, mo, wd, &last[0], &last[1]);
            continue;
        }
        sc_put_u8(w, MODE_OWN);
        put_axis(w, &own[0], h);
        put_axis(w, &own[1], wd);
        put_table(w, mo, wd, &own[0], &own[1]);
        for (int a = 0; a < 2; a++) { /* these are the last axes now */
            axis t = last[a];
            last[a] = own[a];
            own[a] = t;
        }
        have_last = 1;
    }
    free(buf);
    if (!ok)
        w->failed = 1;
    return ok && !w->failed;
}

/* ---- reading ---- */

/* An axis as read: where its runs start, its class and run counts. */
typedef struct raxis {
    sc_rbuf runs;
    uint32_t k, n;
} raxis;

/* Reads and checks an axis of len lines: 1 <= classes <= len, runs at most
 * len, each run of a class used before or the next new one, never the
 * previous run's, of length at least 1, the lengths adding up to len, every
 * class used. */
static int get_axis(sc_rbuf *r, uint32_t len, raxis *a)
{
    a->k = get_var(r);
    a->n = get_var(r);
    if (r->failed || a->k == 0 || a->k > len || a->n == 0 || a->n > len) {
        r->failed = 1;
        return 0;
    }
    a->runs = *r;
    uint32_t next = 0, prev = 0, sum = 0;
    for (uint32_t i = 0; i < a->n; i++) {
        uint32_t cls = get_var(r), n = get_var(r);
        if (r->failed || cls > next || (i > 0 && cls == prev) || n == 0 ||
            n > len - sum) {
            r->failed = 1;
            return 0;
        }
        next += cls == next;
        prev = cls;
        sum += n;
    }
    if (sum != len || next != a->k) {
        r->failed = 1;
        return 0;
    }
    return 1;
}

static float f32_at(const unsigned char *p)
{
    uint32_t u = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                 (uint32_t)p[3] << 24;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* Fills the h x wd map m from the checked axes and the table t (rows x
 * columns f32, little-endian): row by row run, the run's first row by
 * column runs, its other rows copies of it. */
static void fill(float *m, int wd, const raxis *rows, const raxis *cols,
                 const unsigned char *t)
{
    sc_rbuf rr = rows->runs;
    size_t y = 0;
    for (uint32_t i = 0; i < rows->n; i++) {
        uint32_t rc = get_var(&rr), rn = get_var(&rr);
        float *line = m + y * (size_t)wd;
        sc_rbuf cr = cols->runs;
        size_t x = 0;
        for (uint32_t j = 0; j < cols->n; j++) {
            uint32_t cc = get_var(&cr), cn = get_var(&cr);
            float v = f32_at(t + 4 * ((size_t)rc * cols->k + cc));
            for (uint32_t q = 0; q < cn; q++)
                line[x++] = v;
        }
        for (uint32_t q = 1; q < rn; q++)
            memcpy(line + (size_t)q * wd, line, (size_t)wd * sizeof *line);
        y += rn;
    }
}

int sc_cmap_get(sc_rbuf *r, float *m, int c, int h, int wd)
{
    raxis last[2];
    int have_last = 0;
    size_t hw = (size_t)h * (size_t)wd;
    for (int o = 0; o < c; o++) {
        unsigned mode = sc_get_u8(r);
        if (r->failed || mode > MODE_REUSE || (mode == MODE_REUSE && !have_last)) {
            r->failed = 1;
            return 0;
        }
        if (mode == MODE_OWN) {
            if (!get_axis(r, (uint32_t)h, &last[0]) ||
                !get_axis(r, (uint32_t)wd, &last[1]))
                return 0;
            have_last = 1;
        }
        /* classes are at most h and wd, whose product is at most 2^28 */
        size_t cells = (size_t)last[0].k * last[1].k, bytes;
        const unsigned char *t = sc_mul_ok(cells, 4, &bytes) ? sc_get_bytes(r, bytes) : NULL;
        if (t == NULL) {
            r->failed = 1;
            return 0;
        }
        fill(m + (size_t)o * hw, wd, &last[0], &last[1], t);
    }
    return 1;
}
