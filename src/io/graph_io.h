/* graph_io.h -- the layer graph as stored in model files and checkpoints. */
#ifndef SC_IO_GRAPH_IO_H
#define SC_IO_GRAPH_IO_H

#include "engine/net.h"
#include "io/bytes.h"

/* File framing: magic (8 bytes), u32 format version, u64 content length,
 * content, u32 CRC-32 of everything before it. */
#define SC_FILE_HEADER_BYTES 20
#define SC_FILE_TRAILER_BYTES 4
#define SC_FILE_MAX_BYTES ((size_t)1 << 32)

void sc_file_begin(sc_wbuf *w, const char magic[8], uint32_t version);
/* Fills in the content length and appends the CRC. */
void sc_file_end(sc_wbuf *w);
/* Checks framing, version and CRC; on success r reads the content. */
sc_status sc_file_open(const unsigned char *data, size_t n,
                       const char magic[8], uint32_t version, sc_rbuf *r,
                       const char *fn);
/* The same for a file of any version in [oldest, newest], into *version. */
sc_status sc_file_open_versions(const unsigned char *data, size_t n,
                                const char magic[8], uint32_t oldest,
                                uint32_t newest, uint32_t *version, sc_rbuf *r,
                                const char *fn);

/* The caps a load applies: *out gets limits (NULL: the defaults; fields
 * past limits->size: the defaults). SC_ERR_ARG for a bad size or a NaN. */
sc_status sc_load_limits_get(const sc_load_limits *limits, sc_load_limits *out,
                             const char *fn);

/* The layer table's encodings (docs/format.md): version 1, fixed 50-byte
 * records (read only); version 2, a record per layer with its inputs and
 * its descriptor. */
#define SC_GRAPH_V1 1u
#define SC_GRAPH_V2 2u

/* Layers: shapes, attributes and which are quantised (version 2). */
void sc_graph_write(sc_wbuf *w, const sc_net *net);
/* SC_OK when no running variance of the net is negative (or NaN), else
 * status with a message naming the layer: what loaders and the saver check. */
sc_status sc_graph_check_variances(sc_net *net, sc_status status,
                                   const char *fn);
/* The values the setters would refuse: b and e out of sc_net_set_quant's
 * ranges, then negative running variances (status with a message). */
sc_status sc_graph_check_values(sc_net *net, sc_status status, const char *fn);
/* Builds a new net from the layers in r (table encoding version), every shape re-derived and
 * checked, parameters allocated (zero). nd->quantized tells which layers
 * were stored quantised; keep_quant: they get b/e parameters (checkpoints)
 * or not: a forward-only net (a model) whose quantised layers are
 * int_weights, without float weights, and whose caller clears the
 * quantized flag after reading the levels into their nd->mant. Refuses to allocate more than a budget proportional to the
 * bytes in r, and a net whose cost per sample (sc_plan_cost; without the
 * quantised layers' qw unless keep_quant) exceeds the caps in lim, and
 * stored n0 values that do not fit the graph (docs/format.md). */
sc_status sc_graph_read(sc_rbuf *r, uint32_t version, int keep_quant,
                        const sc_load_limits *lim, sc_net **out,
                        const char *fn);

#endif
