/* Out-of-tree consumer used by .ci/run to test the installed library
 * (pkg-config, header, shared and static linking). */
#include <selfcompress.h>
#include <stdio.h>

int main(void)
{
	unsigned n = sc_version_number();
	printf("libselfcompress %s (number %u, header %u)\n",
	       sc_version_string(), n, (unsigned)SC_VERSION_NUMBER);
	if (n != (unsigned)SC_VERSION_NUMBER) {
		fprintf(stderr, "consumer: version mismatch between header and library\n");
		return 1;
	}
	return 0;
}
