/* fpenv.h -- flush denormals to zero while the library computes.
 * Gradients that fade towards zero become denormal floats, and every
 * operation on one costs x86 a microcode assist (~100 cycles). The caller's
 * floating-point mode is saved on entry and restored on exit; the pool's
 * own threads keep the flush mode for their whole life. */
#ifndef SC_CORE_FPENV_H
#define SC_CORE_FPENV_H

#if defined(__SSE__) || defined(__x86_64__)
#include <xmmintrin.h>
#define SC_FTZ_DAZ 0x8040u /* MXCSR flush-to-zero | denormals-are-zero */
static inline unsigned sc_fpenv_enter(void)
{
    unsigned old = _mm_getcsr();
    _mm_setcsr(old | SC_FTZ_DAZ);
    return old;
}
static inline void sc_fpenv_leave(unsigned old) { _mm_setcsr(old); }
#else
static inline unsigned sc_fpenv_enter(void) { return 0; }
static inline void sc_fpenv_leave(unsigned old) { (void)old; }
#endif

#endif
