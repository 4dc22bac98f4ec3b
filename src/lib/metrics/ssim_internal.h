/* SSIM kernels shared by aic_ssim_plane, aic_msssim_plane, the tests and the benchmark.
 *
 * There are two implementations of the windowed SSIM mean: the portable C reference
 * (ssim_ref.c), which every other one is tested against and which runs wherever nothing faster
 * does, and an AVX2/FMA one (ssim_avx2.c) picked at run time from the CPU's features. Both work
 * in double precision; they differ only in the order of the floating-point operations. */
#ifndef AIC_METRICS_SSIM_INTERNAL_H
#define AIC_METRICS_SSIM_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* scipy's gaussian_filter, which scikit-image uses, truncates at 3.5 sigma:
 * int(3.5 * 1.5 + 0.5) = 5, hence an 11-tap window. */
#define AIC_SSIM_RADIUS 5
#define AIC_SSIM_WIN (2 * AIC_SSIM_RADIUS + 1)
#define AIC_SSIM_SIGMA 1.5
/* (K * L)^2 with K1 0.01, K2 0.03, L 255, evaluated as scikit-image does. */
#define AIC_SSIM_C1 ((0.01 * 255.0) * (0.01 * 255.0))
#define AIC_SSIM_C2 ((0.03 * 255.0) * (0.03 * 255.0))

/* Samples are 8-bit, or floats on the 0..255 scale for the downsampled scales of MS-SSIM
 * (2x2 means of bytes are multiples of 1/4^k below 256, which a float holds exactly). */
typedef enum { AIC_SSIM_U8, AIC_SSIM_F32 } aic_ssim_sample_t;

/* Two planes of the same size and sample type. Strides count samples, not bytes. */
typedef struct aic_ssim_input {
  aic_ssim_sample_t type;
  const void *a, *b;
  size_t a_stride, b_stride;
  size_t width, height;
} aic_ssim_input_t;

/* Means over the window positions of the SSIM map and of its contrast-structure factor
 * cs = (2 cov + C2) / (var_a + var_b + C2), which MS-SSIM uses at the finer scales. */
typedef struct aic_ssim_means {
  double ssim;
  double cs; /* only when asked for: it costs a second division per position */
} aic_ssim_means_t;

/* The 1-D Gaussian, normalised like scipy's _gaussian_kernel1d so the 2-D product sums to 1;
 * w[0] is the centre tap, w[k] the two at distance k. */
void aic_ssim_half_kernel(double w[AIC_SSIM_RADIUS + 1]);

/* Kernels for planes at least AIC_SSIM_WIN in both dimensions; they return 0 or AIC_ENOMEM. */
int aic_ssim_windowed_ref(const aic_ssim_input_t *in, bool want_cs, aic_ssim_means_t *out);
int aic_ssim_windowed_avx2(const aic_ssim_input_t *in, bool want_cs, aic_ssim_means_t *out);
/* Whether this build and this CPU can run aic_ssim_windowed_avx2. */
bool aic_ssim_avx2_available(void);

/* The means of any non-empty plane: the whole-plane window for planes smaller than the
 * Gaussian one, otherwise the fastest kernel this CPU runs (the reference when forced).
 * Returns 0 or AIC_ENOMEM. */
int aic_ssim_means(const aic_ssim_input_t *in, bool want_cs, aic_ssim_means_t *out);

/* Makes aic_ssim_plane, aic_msssim_plane and aic_frame_quality use the reference kernel
 * (true) or the fastest available one (false, the default), process-wide, for tests and
 * benchmarks. */
void aic_ssim_force_reference(bool force);
bool aic_ssim_reference_forced(void);

/* aic_ssim_plane with the reference kernel, whatever aic_ssim_force_reference says. */
int aic_ssim_plane_ref(const uint8_t *a, size_t a_stride, const uint8_t *b, size_t b_stride,
                       uint32_t width, uint32_t height, double *ssim);

/* A plane is usable when its rows fit in its stride and its last byte is addressable. */
static inline bool aic_ssim_plane_ok(const uint8_t *p, size_t stride, uint32_t width,
                                     uint32_t height) {
  if (!p || width == 0 || height == 0 || stride < width) return false;
  return (size_t)(height - 1) <= (SIZE_MAX - width) / stride;
}

#endif
