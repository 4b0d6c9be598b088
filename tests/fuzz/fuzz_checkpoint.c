/* fuzz_checkpoint.c -- libFuzzer target: sc_checkpoint_load on any bytes
 * (through a file in /dev/shm, as the API takes a path); when one loads,
 * a save of it must load again. Build and run with `make fuzz`. */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "selfcompress.h"

#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void load(const uint8_t *data, size_t size)
{
    static char path[64], again[64];
    if (path[0] == '\0') {
        snprintf(path, sizeof path, "/dev/shm/sc_fuzz_ckpt.%ld", (long)getpid());
        snprintf(again, sizeof again, "/dev/shm/sc_fuzz_ckpt2.%ld", (long)getpid());
    }
    FILE *f = fopen(path, "wb");
    if (f == NULL)
        abort();
    if (size && fwrite(data, 1, size, f) != size)
        abort();
    if (fclose(f) != 0)
        abort();
    sc_net *net = NULL;
    sc_optimizer *opt = NULL;
    unsigned char user[256];
    size_t ulen = 0;
    sc_status st = sc_checkpoint_load(path, &net, &opt, user, sizeof user, &ulen);
    if (st != SC_OK) {
        if (net != NULL || opt != NULL || sc_last_error()[0] == '\0')
            abort();
    } else {
        if (sc_checkpoint_save(net, opt, user, ulen, again) != SC_OK)
            abort();
        sc_net *n2 = NULL;
        sc_optimizer *o2 = NULL;
        if (sc_checkpoint_load(again, &n2, &o2, user, sizeof user, &ulen) != SC_OK)
            abort(); /* what we save we must load */
        sc_optimizer_free(o2);
        sc_net_free(n2);
        sc_optimizer_free(opt);
        sc_net_free(net);
        unlink(again);
    }
    unlink(path);
}

/* Each input as it is and with its length and CRC made right. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_as_is_and_resealed(data, size, load);
}
