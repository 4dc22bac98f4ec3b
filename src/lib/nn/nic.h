/* The learned image codec at run time: builds the network of a loaded .aicm model (nic-rt,
 * nic-hq; docs/decisions/0002-neural-codec.md) and codes frames with it.
 *
 *   encode: RGB -> g_a -> y; y_hat = round(y * gain[l]); z_hat = round(h_a(|y|) * hgain[l])
 *           -> integer h_s(z_hat) -> table index of every y symbol -> two rANS streams
 *   decode: z stream -> z_hat -> integer h_s -> indices -> y stream -> y_hat
 *           -> g_s(y_hat * igain[l]) -> RGB
 *
 * The payload aic_nic_encode writes (the container around it carries the size and level):
 *   u32 little-endian z_size | z stream (z_size bytes) | y stream (the rest)
 *
 * Everything that chooses a probability table is integer arithmetic on integers from the
 * model file, so a payload decodes to the same latents with any implementation and ISA.
 *
 * A runner (aic_nic_t) holds scratch buffers and convolution plans for one frame size at a time
 * (rebuilt when the size changes) and is used by one thread at a time. The model it was created
 * from must outlive it. */
#ifndef AIC_NN_NIC_H
#define AIC_NN_NIC_H

#include <stddef.h>
#include <stdint.h>

#include "aic/log.h"
#include "conv.h"
#include "core/buf.h"
#include "nn/model_file.h"

typedef struct aic_nic aic_nic_t;

typedef struct aic_nic_settings {
  aic_nn_impl_t impl; /* default AIC_NN_IMPL_AUTO; env AIC_NN_IMPL=ref|dnnl overrides AUTO */
  int threads;        /* threads of oneDNN and of the per-element passes, default 1 */
  /* int8 layers run in bands of rows whose int32 sums take about this many KiB, each band's
   * convolution and the pass after it on one thread while the band is in cache; 0: every layer
   * on the whole frame at once (oneDNN threads inside each convolution). Same results either
   * way. Default 256. */
  int band_kib;
  /* The encoder's deadzone: it codes a y value v (the analysis output times the level's gain)
   * that rounds to +-1 as 0 when |v| < 1/2 + y_deadzone + min(y_deadzone_per_bit * b,
   * AIC_NIC_Y_DEADZONE_SCALED_MAX), where b is how many more bits +-1 costs than 0 in the
   * symbol's table. A value just above 1/2 costs most of a symbol's bits for little of its
   * distortion, the more so where the table's scale is small. The decoder is unchanged.
   * On nic-rt v6 the default (0 + 0.05 a bit) gave -6.0 % (512 crops) and -3.3 % (720p)
   * BD-rate (PSNR-RGB) against plain rounding, where a flat 0.1 gave -3.7 % and -2.2 %, and
   * a flat 0.15 lost 0.8 dB at one level (PyTorch sweeps). 0 and 0 is plain
   * rounding, as the exported test vectors are made. Valid: 0 <= y_deadzone < 0.5 and
   * 0 <= y_deadzone_per_bit <= 1; defaults AIC_NIC_Y_DEADZONE_DEFAULT and
   * AIC_NIC_Y_DEADZONE_PER_BIT_DEFAULT. */
  float y_deadzone;
  float y_deadzone_per_bit;
} aic_nic_settings_t;

#define AIC_NIC_Y_DEADZONE_DEFAULT 0.0f
#define AIC_NIC_Y_DEADZONE_PER_BIT_DEFAULT 0.05f
#define AIC_NIC_Y_DEADZONE_SCALED_MAX 0.3f

void aic_nic_settings_default(aic_nic_settings_t *s);

/* Builds a runner for `model`: checks that every layer type, shape and tensor the network
 * needs is present and consistent (refusing a model it cannot run), and turns the CDF tensors
 * into validated tables. Returns 0, AIC_EINVAL (NULL arguments), AIC_ECORRUPT (the model is
 * not a network this runner can execute; `why` says what), AIC_EUNSUPPORTED (impl DNNL asked
 * for and unavailable) or AIC_ENOMEM. */
int aic_nic_create(const aic_model_file_t *model, const aic_nic_settings_t *settings,
                   aic_nic_t **out, char *why, size_t why_size);
void aic_nic_free(aic_nic_t **nic);

unsigned aic_nic_levels(const aic_nic_t *nic);
/* AIC_NN_IMPL_REF or AIC_NN_IMPL_DNNL: what the convolutions run on. */
aic_nn_impl_t aic_nic_impl(const aic_nic_t *nic);

/* The frame sizes a runner accepts: 1..AIC_NIC_MAX_DIM on each side. */
#define AIC_NIC_MAX_DIM 8192

/* Latent shapes for a width x height frame (C x H x W of y_hat and z_hat). */
typedef struct aic_nic_shape {
  int y_c, y_h, y_w;
  int z_c, z_h, z_w;
} aic_nic_shape_t;
int aic_nic_shape(const aic_nic_t *nic, int width, int height, aic_nic_shape_t *shape);

/* Encodes an RGB24 picture (rows `stride` bytes apart) at level 0..levels-1 and APPENDS the
 * payload to out. Returns 0, AIC_EINVAL, or AIC_ENOMEM (out->size unchanged on error). */
int aic_nic_encode(aic_nic_t *nic, const uint8_t *rgb, size_t stride, int width, int height,
                   unsigned level, aic_buf_t *out);

/* Decodes a payload of aic_nic_encode into an RGB24 picture. Returns 0, AIC_EINVAL, AIC_ENOMEM,
 * or AIC_ECORRUPT (the payload is not a valid one for this model, size and level). */
int aic_nic_decode(aic_nic_t *nic, const uint8_t *payload, size_t size, int width, int height,
                   unsigned level, uint8_t *rgb, size_t stride);

/* The same for I420 pictures (tightly packed: w x h luma, then the (w + 1) / 2 x (h + 1) / 2 Cb
 * and Cr planes): the BT.601 conversion to and from RGB (aic_picture_from_i420 /
 * aic_picture_to_i420, the same bytes) runs on the runner's threads into a buffer the runner
 * keeps for the frame size. Returns as aic_nic_encode / aic_nic_decode. */
int aic_nic_encode_i420(aic_nic_t *nic, const uint8_t *i420, int width, int height,
                        unsigned level, aic_buf_t *out);
int aic_nic_decode_i420(aic_nic_t *nic, const uint8_t *payload, size_t size, int width,
                        int height, unsigned level, uint8_t *i420);

/* The stages, for tests and benchmarks. Latents are int32, C x H x W (aic_nic_shape).
 * aic_nic_analyze rounds y plainly: the deadzone needs the table indices (h_s), which only
 * aic_nic_encode computes. */
int aic_nic_analyze(aic_nic_t *nic, const uint8_t *rgb, size_t stride, int width, int height,
                    unsigned level, int32_t *y_hat, int32_t *z_hat);
int aic_nic_scale_index(aic_nic_t *nic, const int32_t *z_hat, int width, int height,
                        unsigned level, uint8_t *index);
int aic_nic_synthesize(aic_nic_t *nic, const int32_t *y_hat, int width, int height,
                       unsigned level, uint8_t *rgb, size_t stride);

/* Milliseconds spent in each stage by the last aic_nic_encode / aic_nic_decode call
 * (monotonic clock). Encode fills analysis, hyper (h_a + integer h_s) and entropy; decode fills
 * entropy, hyper and synthesis. plans_ms is the part of those spent building convolution plans
 * for a new frame size (0 when the runner was ready for it): what a steady stream does not pay. */
typedef struct aic_nic_timing {
  double analysis_ms, hyper_ms, entropy_ms, synthesis_ms;
  double plans_ms;
  double convert_ms; /* the _i420 calls: I420 -> RGB before encoding, RGB -> I420 after decoding */
} aic_nic_timing_t;
void aic_nic_last_timing(const aic_nic_t *nic, aic_nic_timing_t *timing);

#endif
