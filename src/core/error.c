/* error.c -- status strings and the calling thread's last message. */
#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char last_message[512];

static const char *const status_names[] = {
    "success",
    "a required pointer argument is NULL",
    "an argument is out of range",
    "shapes do not fit",
    "out of memory",
    "input data holds NaN or Inf",
    "a label is out of range",
    "the call is not valid in the object's current state",
    "file input/output failed",
    "the file is truncated, corrupt or not of the kind expected",
    "training diverged (non-finite loss or gradient)",
    "not supported by this build",
    "the host's reduction hook failed",
};
_Static_assert(sizeof status_names / sizeof status_names[0] ==
                   SC_ERR_HOST + 1,
               "status_names must list every sc_status");

SC_API const char *sc_strerror(sc_status status)
{
    if ((int)status < 0 || (int)status > (int)SC_ERR_HOST)
        return "unknown status code";
    return status_names[status];
}

SC_API const char *sc_last_error(void) { return last_message; }

sc_status sc_fail(sc_status status, const char *fmt, ...)
{
    /* formatted aside first, so an argument may be sc_last_error() itself */
    char msg[sizeof last_message];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    memcpy(last_message, msg, sizeof msg);
    return status;
}
