/* checked.h -- size arithmetic that reports overflow instead of wrapping. */
#ifndef SC_CORE_CHECKED_H
#define SC_CORE_CHECKED_H

#include <stddef.h>

/* *r = a * b, or 0 when that does not fit in a size_t. */
static inline int sc_mul_ok(size_t a, size_t b, size_t *r)
{
    return !__builtin_mul_overflow(a, b, r);
}

/* *r = a + b, or 0 when that does not fit in a size_t. */
static inline int sc_add_ok(size_t a, size_t b, size_t *r)
{
    return !__builtin_add_overflow(a, b, r);
}

#endif
