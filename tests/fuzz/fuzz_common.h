/* fuzz_common.h -- shared by the libFuzzer targets tests/fuzz/fuzz_*.c. */
#ifndef SC_TESTS_FUZZ_COMMON_H
#define SC_TESTS_FUZZ_COMMON_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "io/bytes.h"

/* Runs load(data, size), then, when the input can hold the container's
 * framing (docs/format.md), load on a copy whose content length (byte 12)
 * and trailing CRC-32 are made right. Returns 0 (libFuzzer's "keep going"). */
static inline int fuzz_as_is_and_resealed(const uint8_t *data, size_t size,
                                          void (*load)(const uint8_t *, size_t))
{
    load(data, size);
    if (size < 24)
        return 0;
    uint8_t *c = malloc(size);
    if (c == NULL)
        return 0;
    memcpy(c, data, size);
    uint64_t len = size - 24;
    for (int i = 0; i < 8; i++)
        c[12 + i] = (uint8_t)(len >> (8 * i));
    uint32_t crc = sc_crc32(0, c, size - 4);
    for (int i = 0; i < 4; i++)
        c[size - 4 + i] = (uint8_t)(crc >> (8 * i));
    load(c, size);
    free(c);
    return 0;
}

#endif
