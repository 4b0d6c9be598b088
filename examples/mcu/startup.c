/* startup.c -- the least a Cortex-M4 program needs under qemu: the vector
 * table (initial stack pointer, reset), .data copied and .bss zeroed, the
 * FPU enabled, and semihosting (the debugger's bkpt 0xAB calls, which qemu
 * answers with -semihosting) for text out and the exit. */
#include <stdint.h>

#include "semihost.h"

extern uint32_t __data_load, __data_start, __data_end, __bss_start, __bss_end;
extern uint32_t __stack_top;
int main(void);
void reset_handler(void);

static void fault_handler(void)
{
    semihost_puts("fault\n");
    semihost_exit(1);
}

__attribute__((section(".vectors"), used))
static void (*const vectors[16])(void) = {
    (void (*)(void))(uintptr_t)&__stack_top, reset_handler,
    fault_handler, fault_handler, fault_handler, fault_handler, fault_handler};

void reset_handler(void)
{
    uint32_t *src = &__data_load, *dst = &__data_start;
    while (dst < &__data_end)
        *dst++ = *src++;
    for (dst = &__bss_start; dst < &__bss_end;)
        *dst++ = 0;
    /* CPACR: full access to coprocessors 10 and 11 (the FPU) */
    *(volatile uint32_t *)0xE000ED88 |= 0xFu << 20;
    __asm__ volatile("dsb\n\tisb" ::: "memory");
    semihost_exit(main());
}

/* the semihosting call op with argument arg */
static int semihost(int op, const void *arg)
{
    register int r0 __asm__("r0") = op;
    register const void *r1 __asm__("r1") = arg;
    __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

void semihost_puts(const char *s)
{
    semihost(0x04, s); /* SYS_WRITE0 */
}

void semihost_exit(int code)
{
    /* SYS_EXIT: ADP_Stopped_ApplicationExit (qemu exits 0) or
     * ADP_Stopped_RunTimeErrorUnknown (qemu exits 1) */
    semihost(0x18, (const void *)(uintptr_t)(code ? 0x20023 : 0x20026));
    for (;;)
        ;
}
