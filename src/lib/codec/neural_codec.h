/* Helpers of the learned-codec backend (neural_codec.c) the engine and tests share. */
#ifndef AIC_CODEC_NEURAL_CODEC_H
#define AIC_CODEC_NEURAL_CODEC_H

#include <stddef.h>
#include <stdint.h>

#define AIC_NEURAL_PREAMBLE_SIZE 8

/* The model level for an engine quality 0..100: round((quality - 10) / 85 * (levels - 1)),
 * clamped, so the engine's fixed levels 1..8 (qualities 10..95) span every model level. */
unsigned aic_neural_level_for(double quality, unsigned levels);

/* The lowest quality in 0..100 that aic_neural_level_for maps to `level`, or a value above 100
 * when no quality does (level >= levels). */
double aic_neural_quality_for_level(unsigned level, unsigned levels);

/* Reads the payload's preamble. Returns 0 or AIC_ECORRUPT (short, model id 0, reserved byte). */
int aic_neural_preamble_parse(const uint8_t *payload, size_t size, uint16_t *model_id,
                              uint32_t *version, unsigned *level);

#endif
