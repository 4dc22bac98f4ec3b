/* Objective quality metrics of a reconstruction against its original. */
#ifndef AIC_METRICS_H
#define AIC_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "aic/frame.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The highest PSNR reported: identical inputs (+infinity) get it, so every consumer (JSON
 * included) sees a finite number, and near-identical ones are capped at it, so nothing scores
 * above an exact reconstruction. */
#define AIC_PSNR_IDENTICAL_DB 100.0

/* PSNR in dB of two 8-bit planes of width x height with row strides (bytes). Peak 255.
 * Returns 0 and sets *psnr_db (at most AIC_PSNR_IDENTICAL_DB), or AIC_EINVAL. */
int aic_psnr_plane(const uint8_t *a, size_t a_stride, const uint8_t *b, size_t b_stride,
                   uint32_t width, uint32_t height, double *psnr_db);

/* Mean squared error of two byte buffers of equal length n > 0. */
int aic_mse_bytes(const uint8_t *a, const uint8_t *b, size_t n, double *mse);

/* SSIM (Wang et al. 2004) of two 8-bit planes: 11x11 Gaussian window, sigma 1.5, K1 0.01,
 * K2 0.03, L 255, mean over the positions where the window fits entirely (as scikit-image's
 * structural_similarity with gaussian_weights=True, use_sample_covariance=False). Planes
 * smaller than the window in either dimension use one window covering the whole plane.
 * CPUs with AVX2 and FMA run a faster kernel; results differ from the portable one only by
 * rounding (below 1e-12). Returns 0 and sets *ssim, AIC_EINVAL for bad arguments, AIC_ENOMEM. */
int aic_ssim_plane(const uint8_t *a, size_t a_stride, const uint8_t *b, size_t b_stride,
                   uint32_t width, uint32_t height, double *ssim);

/* MS-SSIM (Wang, Simoncelli, Bovik 2003) of two 8-bit planes, following the authors'
 * msssim.m: 5 scales weighted 0.0448, 0.2856, 0.3001, 0.2363, 0.1333. Scales 1-4 contribute
 * their mean contrast-structure term (2 cov + C2) / (var_a + var_b + C2), scale 5 its mean
 * SSIM (luminance times contrast-structure), each with the window of aic_ssim_plane: 11x11
 * Gaussian, sigma 1.5, mean over the positions where it fits, and one window covering the
 * whole scale when a scale is smaller than 11 in either dimension (so any plane of 1x1 or more
 * has a score; all five scales are windowed from 161x161 up). Between scales each plane is
 * halved by 2x2 means; an odd last row or column is averaged with itself, so a w x h scale
 * becomes ceil(w/2) x ceil(h/2), and the means are kept exactly, not rounded to 8 bits. A
 * negative mean term is clamped to 0 before it is raised to its weight, as common
 * implementations do (a fractional power of a negative number has no real value): the result
 * lies in [0, 1] and is exactly 1 for identical planes.
 * Returns 0 and sets *msssim, AIC_EINVAL for bad arguments, AIC_ENOMEM. */
int aic_msssim_plane(const uint8_t *a, size_t a_stride, const uint8_t *b, size_t b_stride,
                     uint32_t width, uint32_t height, double *msssim);

/* Quality of a whole frame: PSNR over every sample of the frame's data, SSIM on luma (for RGB
 * formats, BT.601 luma computed from R, G, B and rounded to 8 bits). Audio frames: PSNR over
 * the samples with full-scale peak; SSIM 1 when identical, 0 otherwise. `a` and `b` must have
 * the same description and size. Returns 0, AIC_EINVAL, AIC_ENOMEM. */
int aic_frame_quality(const aic_frame_t *a, const aic_frame_t *b, double *psnr_db, double *ssim);

#ifdef __cplusplus
}
#endif
#endif
