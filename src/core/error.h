/* error.h -- status codes with a per-thread message (internal). */
#ifndef SC_CORE_ERROR_H
#define SC_CORE_ERROR_H

#include "selfcompress.h"

/* Records a formatted message for the calling thread and returns status. */
sc_status sc_fail(sc_status status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Returns SC_ERR_NULL with a message naming the argument when p is NULL. */
#define SC_CHECK_NULL(p, fn)                                                  \
    do {                                                                      \
        if ((p) == NULL)                                                      \
            return sc_fail(SC_ERR_NULL, "%s: argument '%s' is NULL", fn, #p); \
    } while (0)

#endif
