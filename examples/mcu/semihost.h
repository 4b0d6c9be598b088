/* semihost.h -- text out and exit through qemu's semihosting (startup.c) */
#ifndef SC_MCU_SEMIHOST_H
#define SC_MCU_SEMIHOST_H

void semihost_puts(const char *s);
void semihost_exit(int code) __attribute__((noreturn));

#endif
