/* Compiled with -fsyntax-only as C99, C11 and C++11 by `make check`:
 * the public header must be self-contained, warning-free and include-guarded. */
#include <selfcompress.h>
#include <selfcompress.h>

#if !defined(SC_VERSION_MAJOR) || !defined(SC_VERSION_MINOR) || !defined(SC_VERSION_PATCH)
#error "selfcompress.h must define SC_VERSION_MAJOR/MINOR/PATCH"
#endif

int main(void)
{
	const char *s = sc_version_string();
	unsigned n = sc_version_number();
	return (s != 0 && n != 0u) ? 0 : 1;
}
