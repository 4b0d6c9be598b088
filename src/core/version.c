/* version.c -- the run-time version of the loaded library. */
#include "selfcompress.h"

#define SC_STR2(x) #x
#define SC_STR(x) SC_STR2(x)

SC_API unsigned sc_version_number(void) { return SC_VERSION_NUMBER; }

SC_API const char *sc_version_string(void)
{
    return SC_STR(SC_VERSION_MAJOR) "." SC_STR(SC_VERSION_MINOR) "." SC_STR(
        SC_VERSION_PATCH);
}
