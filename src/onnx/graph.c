/* graph.c -- the ONNX graph's names resolved to values, each node's
 * inputs and outputs to value ids, and the nodes the output needs put in a
 * topological order (Kahn's algorithm, which also finds a cycle). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/checked.h"
#include "core/error.h"
#include "onnx/onnx.h"

const char *ox_node_name(const ox_ctx *c, int node, char buf[32])
{
    const Onnx__NodeProto *nd = c->g->node[node];
    if (nd->name != NULL && nd->name[0] != '\0')
        return nd->name;
    snprintf(buf, 32, "#%d", node);
    return buf;
}

sc_status ox_node_fail(const ox_ctx *c, int node, sc_status status,
                       const char *fmt, ...)
{
    char what[512], buf[32];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    const Onnx__NodeProto *nd = c->g->node[node];
    return sc_fail(status, "%s: node '%.100s' (%.40s): %s", c->fn,
                   ox_node_name(c, node, buf),
                   nd->op_type ? nd->op_type : "", what);
}

static const char *str(const char *s) { return s ? s : ""; }

/* A name and its value id, sorted by name for lookups. */
typedef struct keyed {
    const char *name;
    int id;
} keyed;

static int cmp_keyed(const void *a, const void *b)
{
    const keyed *x = a, *y = b;
    int r = strcmp(x->name, y->name);
    return r ? r : (x->id > y->id) - (x->id < y->id);
}

/* The value id of name in sorted[0 .. n), or -1. */
static int lookup(const keyed *sorted, int n, const char *name)
{
    size_t lo = 0, hi = (size_t)n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int r = strcmp(sorted[mid].name, name);
        if (r == 0)
            return sorted[mid].id;
        if (r < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

static sc_status nomem(const ox_ctx *c)
{
    return sc_fail(SC_ERR_NOMEM, "%s: out of memory", c->fn);
}

/* Every name a value: initializers first, then graph inputs, then node
 * outputs. A graph input an initializer names is that constant (ONNX IR
 * before 4 lists initializers as inputs too); any other name given twice
 * is SC_ERR_FORMAT. */
static sc_status make_values(ox_ctx *c, keyed **sorted_out, int *n_sorted)
{
    const Onnx__GraphProto *g = c->g;
    size_t n = g->n_initializer, t;
    if (!sc_add_ok(n, g->n_input, &n))
        return sc_fail(SC_ERR_FORMAT, "%s: too many names", c->fn);
    for (size_t i = 0; i < g->n_node; i++)
        if (!sc_add_ok(n, g->node[i]->n_output, &n))
            return sc_fail(SC_ERR_FORMAT, "%s: too many names", c->fn);
    if (n > (size_t)1 << 28)
        return sc_fail(SC_ERR_FORMAT, "%s: %zu names are too many", c->fn, n);
    c->vals = calloc(n ? n : 1, sizeof *c->vals);
    keyed *k = malloc((n ? n : 1) * sizeof *k);
    c->out_off = malloc((g->n_node + 1) * sizeof *c->out_off);
    c->out_ids = malloc((n ? n : 1) * sizeof *c->out_ids);
    if (!c->vals || !k || !c->out_off || !c->out_ids) {
        free(k);
        return nomem(c);
    }
    int v = 0;
    for (size_t i = 0; i < g->n_initializer; i++) {
        ox_val *x = &c->vals[v];
        x->name = str(g->initializer[i]->name);
        x->kind = OX_CONST;
        x->t = g->initializer[i];
        x->root = v;
        x->producer = -1;
        v++;
    }
    for (size_t i = 0; i < g->n_input; i++) {
        ox_val *x = &c->vals[v];
        x->name = str(g->input[i]->name);
        x->producer = -1;
        x->is_input = 1;
        v++;
    }
    t = 0;
    for (size_t i = 0; i < g->n_node; i++) {
        c->out_off[i] = (int)t;
        for (size_t o = 0; o < g->node[i]->n_output; o++) {
            const char *name = str(g->node[i]->output[o]);
            if (name[0] == '\0') {
                c->out_ids[t++] = -1;
                continue;
            }
            c->vals[v].name = name;
            c->vals[v].producer = (int)i;
            c->out_ids[t++] = v++;
        }
    }
    c->out_off[g->n_node] = (int)t;
    c->n_vals = v;
    for (int i = 0; i < v; i++)
        k[i] = (keyed){c->vals[i].name, i};
    qsort(k, (size_t)v, sizeof *k, cmp_keyed);
    /* duplicates sit next to each other, the lowest id first */
    int w = 0;
    for (int i = 0; i < v; i++) {
        if (w > 0 && strcmp(k[w - 1].name, k[i].name) == 0) {
            const ox_val *a = &c->vals[k[w - 1].id], *b = &c->vals[k[i].id];
            if (a->kind == OX_CONST && b->is_input && a->producer < 0) {
                c->vals[k[i].id].is_input = 0; /* the initializer's */
                continue;
            }
            sc_status st;
            if (b->producer >= 0)
                st = ox_node_fail(c, b->producer, SC_ERR_FORMAT, "writes '%.100s', "
                                  "which %s gives a value already", b->name,
                                  a->producer >= 0 ? "another node" :
                                  a->kind == OX_CONST ? "an initializer" :
                                                        "a graph input");
            else
                st = sc_fail(SC_ERR_FORMAT, "%s: the name '%.100s' is given "
                             "twice", c->fn, b->name);
            free(k);
            return st;
        }
        k[w++] = k[i];
    }
    /* one entry per name (a graph input dropped as an initializer's
     * duplicate keeps its id, read by nothing) */
    *sorted_out = k;
    *n_sorted = w;
    return SC_OK;
}

sc_status ox_graph_resolve(ox_ctx *c)
{
    const Onnx__GraphProto *g = c->g;
    keyed *k = NULL;
    int *indeg = NULL, *queue = NULL, *need = NULL, *cnt = NULL;
    int nk = 0;
    sc_status st = make_values(c, &k, &nk);
    if (st != SC_OK)
        goto done;
    int saved = c->n_vals;
    size_t n_in = 0;
    for (size_t i = 0; i < g->n_node; i++) {
        if (g->node[i]->op_type == NULL || g->node[i]->op_type[0] == '\0') {
            st = ox_node_fail(c, (int)i, SC_ERR_FORMAT, "has no op_type");
            goto done;
        }
        n_in += g->node[i]->n_input; /* fits: the unpacker allocated them */
    }
    c->in_off = malloc((g->n_node + 1) * sizeof *c->in_off);
    c->in_ids = malloc((n_in ? n_in : 1) * sizeof *c->in_ids);
    c->cons_list = malloc((n_in ? n_in : 1) * sizeof *c->cons_list);
    indeg = calloc(g->n_node + 1, sizeof *indeg);
    queue = malloc((g->n_node + 1) * sizeof *queue);
    need = calloc(g->n_node + 1, sizeof *need);
    cnt = calloc((size_t)saved + 1, sizeof *cnt);
    c->order = malloc((g->n_node + 1) * sizeof *c->order);
    if (!c->in_off || !c->in_ids || !c->cons_list || !indeg || !queue || !need ||
        !cnt || !c->order) {
        st = nomem(c);
        goto done;
    }
    size_t t = 0;
    for (size_t i = 0; i < g->n_node; i++) {
        c->in_off[i] = (int)t;
        for (size_t j = 0; j < g->node[i]->n_input; j++) {
            const char *name = str(g->node[i]->input[j]);
            int id = name[0] ? lookup(k, nk, name) : -1;
            if (name[0] && id < 0) {
                    st = ox_node_fail(c, (int)i, SC_ERR_FORMAT, "reads '%.100s', "
                                  "which nothing produces", name);
                goto done;
            }
            c->in_ids[t++] = id;
            if (id >= 0) {
                c->vals[id].uses++;
                cnt[id]++;
                if (c->vals[id].producer >= 0)
                    indeg[i]++;
            }
        }
    }
    c->in_off[g->n_node] = (int)t;
    /* the graph's one output and one input */
    if (g->n_output != 1) {
        st = sc_fail(g->n_output ? SC_ERR_UNSUPPORTED : SC_ERR_FORMAT,
                     "%s: the graph has %zu outputs (one is supported)",
                     c->fn, g->n_output);
        goto done;
    }
    c->output = lookup(k, nk, str(g->output[0]->name));
    if (c->output < 0) {
        st = sc_fail(SC_ERR_FORMAT, "%s: the graph output '%.100s' is produced "
                     "by nothing", c->fn, str(g->output[0]->name));
        goto done;
    }
    c->vals[c->output].uses++;
    c->input = -1;
    for (int i = 0; i < saved; i++)
        if (c->vals[i].is_input) {
            if (c->input >= 0) {
                    st = sc_fail(SC_ERR_UNSUPPORTED, "%s: the graph has inputs "
                             "'%.100s' and '%.100s' (one is supported)", c->fn,
                             c->vals[c->input].name, c->vals[i].name);
                goto done;
            }
            c->input = i;
        }
    if (c->input < 0) {
        st = sc_fail(SC_ERR_UNSUPPORTED, "%s: the graph has no input that is "
                     "not an initializer", c->fn);
        goto done;
    }
    /* readers of each value, as a list per value */
    int run = 0;
    for (int i = 0; i < saved; i++) {
        c->vals[i].cons = run;
        run += cnt[i];
        c->vals[i].n_cons = 0;
    }
    for (size_t i = 0; i < g->n_node; i++)
        for (int j = c->in_off[i]; j < c->in_off[i + 1]; j++) {
            int id = c->in_ids[j];
            if (id >= 0)
                c->cons_list[c->vals[id].cons + c->vals[id].n_cons++] = (int)i;
        }
    /* Kahn: a node is ready once every node it reads from is done */
    int head = 0, tail = 0, done_n = 0;
    for (size_t i = 0; i < g->n_node; i++)
        if (indeg[i] == 0)
            queue[tail++] = (int)i;
    int *order = malloc((g->n_node + 1) * sizeof *order);
    if (!order) {
        st = nomem(c);
        goto done;
    }
    while (head < tail) {
        int i = queue[head++];
        order[done_n++] = i;
        for (int o = c->out_off[i]; o < c->out_off[i + 1]; o++) {
            int id = c->out_ids[o];
            if (id < 0)
                continue;
            const ox_val *x = &c->vals[id];
            for (int r = 0; r < x->n_cons; r++)
                if (--indeg[c->cons_list[x->cons + r]] == 0)
                    queue[tail++] = c->cons_list[x->cons + r];
        }
    }
    if (done_n < (int)g->n_node) {
        int in_cycle = 0;
        for (size_t i = 0; i < g->n_node; i++)
            if (indeg[i] > 0) {
                in_cycle = (int)i;
                break;
            }
        free(order);
        st = ox_node_fail(c, in_cycle, SC_ERR_FORMAT, "is on a cycle of the "
                          "graph (or reads from one)");
        goto done;
    }
    /* the nodes the output needs: walk back from its producer */
    tail = 0;
    if (c->vals[c->output].producer >= 0) {
        queue[tail++] = c->vals[c->output].producer;
        need[c->vals[c->output].producer] = 1;
    }
    for (head = 0; head < tail; head++) {
        int i = queue[head];
        for (int j = c->in_off[i]; j < c->in_off[i + 1]; j++) {
            int id = c->in_ids[j];
            int p = id >= 0 ? c->vals[id].producer : -1;
            if (p >= 0 && !need[p]) {
                need[p] = 1;
                queue[tail++] = p;
            }
        }
    }
    c->n_order = 0;
    for (int i = 0; i < done_n; i++)
        if (need[order[i]])
            c->order[c->n_order++] = order[i];
    free(order);
done:
    free(k);
    free(indeg);
    free(queue);
    free(need);
    free(cnt);
    return st;
}

void ox_graph_free(ox_ctx *c)
{
    free(c->vals);
    free(c->in_ids);
    free(c->in_off);
    free(c->out_ids);
    free(c->out_off);
    free(c->cons_list);
    free(c->order);
}
