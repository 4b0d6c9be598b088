/* sc_export_c -- a model file as dependency-free C (docs/mcu.md):
 *
 *   sc_export_c MODEL.scm DIR NAME [--description TEXT] [--accuracy A]
 *
 * writes DIR/NAME.h and DIR/NAME.c (sc_model_export_c) and prints their
 * footprint: the const arrays (flash) and the arena (RAM). A is the
 * model's measured test accuracy, a fraction, for the files' comment. */
#define _POSIX_C_SOURCE 200809L
#define COMMON_PROG "sc_export_c"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <selfcompress.h>

#include "common.h"

int main(int argc, char **argv)
{
    if (argc < 4)
        die("usage: sc_export_c MODEL.scm DIR NAME [--description TEXT] "
            "[--accuracy A]");
    sc_c_export_options o = SC_C_EXPORT_OPTIONS_INIT;
    for (int i = 4; i < argc; i++) {
        if (strcmp(argv[i], "--description") == 0 && i + 1 < argc)
            o.description = argv[++i];
        else if (strcmp(argv[i], "--accuracy") == 0 && i + 1 < argc)
            o.accuracy = atof(argv[++i]);
        else
            die("unknown argument %s", argv[i]);
    }
    sc_model *m;
    check(sc_model_load(&m, argv[1]), "sc_model_load");
    sc_c_footprint fp = SC_C_FOOTPRINT_INIT;
    check(sc_model_export_c(m, argv[2], argv[3], &o, &fp), "sc_model_export_c");
    printf("%s/%s.c, %s/%s.h: const arrays %lld bytes (flash), arena %lld "
           "bytes (RAM; %lld without reuse); code and stack: compile it\n",
           argv[2], argv[3], argv[2], argv[3], (long long)fp.const_bytes,
           (long long)fp.arena_bytes, (long long)fp.unshared_bytes);
    sc_model_free(m);
    return 0;
}
