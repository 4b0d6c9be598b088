/* log.c -- formatting a message for the host's log sink. */
#include "core/log.h"

#include <stdarg.h>
#include <stdio.h>

void sc_log(const sc_log_sink *sink, int level, const char *fmt, ...)
{
    if (!sink->fn)
        return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    sink->fn(level, msg, sink->user);
}
