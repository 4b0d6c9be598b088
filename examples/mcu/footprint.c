/* footprint.c -- the least program around one exported model (make
 * mcu-demo): its predict on an input in RAM, nothing else, so that
 * arm-none-eabi-size of it is the model's flash (code, const arrays, the
 * library functions it calls, the startup) and RAM (the arena, the input
 * and the logits; the stack is measured by main.c). Built with
 * -DMODEL_HEADER='"NAME.h"' -DPREDICT=NAME_predict -DINPUTS=NAME_INPUTS
 * -DOUTPUTS=NAME_OUTPUTS -DARENA=NAME_ARENA_BYTES. */
#include <stdint.h>

#include MODEL_HEADER

static float input[INPUTS], logits[OUTPUTS];
static uint8_t arena[ARENA];

int main(void)
{
    PREDICT(input, logits, arena);
    return logits[0] != logits[0];
}
