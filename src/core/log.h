/* log.h -- the host's log sink: the library never prints, messages go to
 * the callback a host set (sc_net_set_log). */
#ifndef SC_CORE_LOG_H
#define SC_CORE_LOG_H

#include "selfcompress.h"

typedef struct sc_log_sink {
    sc_log_fn fn; /* NULL: messages are dropped */
    void *user;
} sc_log_sink;

/* Formats a message and passes it to the sink's callback, if any. */
void sc_log(const sc_log_sink *sink, int level, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

#endif
