/* file.h -- whole-file reads and crash-safe writes. */
#ifndef SC_IO_FILE_H
#define SC_IO_FILE_H

#include <stddef.h>

#include "selfcompress.h"

/* Writes n bytes to path atomically: a temporary file in the same folder,
 * flushed and fsynced, then renamed over path (and the folder fsynced). A
 * crash at any point leaves either the old file or the new one. After the
 * rename, the temporaries of path whose process is gone are removed. */
sc_status sc_file_write_atomic(const char *path, const void *data, size_t n,
                               const char *fn);
/* Reads a whole regular file of at most max bytes into a new buffer;
 * anything else (FIFO, device, directory) is SC_ERR_IO without blocking. */
sc_status sc_file_read(const char *path, size_t max, unsigned char **data,
                       size_t *n, const char *fn);

#endif
