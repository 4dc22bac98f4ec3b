/* Helpers shared by the benchmark programs: clocks, input files (PNG stills, Y4M sequences),
 * picture quality as the benchmarks report it, and CSV output. Benchmarks exit on any error:
 * a half-measured run is worse than none. */
#ifndef AIC_BENCH_COMMON_H
#define AIC_BENCH_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "aic/codec.h"

/* Monotonic wall clock in milliseconds. */
double bench_now_ms(void);

/* Prints "program: message" and exits with status 1. */
void bench_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

void *bench_xmalloc(size_t size);

/* Reads an 8-bit PNG of any colour type as tightly packed RGB24 (*rgb, free()). */
void bench_read_png(const char *path, uint8_t **rgb, uint32_t *width, uint32_t *height);

/* A 4:2:0 8-bit Y4M file read frame by frame into tightly packed I420. */
typedef struct bench_y4m {
  FILE *f;
  uint32_t width, height;
  double fps;
  size_t frame_size;
} bench_y4m_t;

void bench_y4m_open(bench_y4m_t *y, const char *path);
/* Reads the next frame into dst (frame_size bytes). Returns false at the end of the file. */
bool bench_y4m_read(bench_y4m_t *y, uint8_t *dst);
void bench_y4m_close(bench_y4m_t *y);

/* BT.601 luma, exactly as aic_frame_quality computes it for RGB frames, so the SSIM the
 * benchmarks report for RGB stills is the one the engine measures. */
void bench_rgb_to_luma(const uint8_t *rgb, size_t count, uint8_t *luma);

/* Quality of a reconstructed RGB24 picture. msssim_y is NAN when this build of libaic has no
 * aic_msssim_plane. */
typedef struct bench_quality {
  double psnr_rgb; /* over every R, G and B sample: the figure learned-codec papers report */
  double psnr_y;   /* BT.601 luma */
  double ssim_y;
  double msssim_y;
} bench_quality_t;

void bench_rgb_quality(const uint8_t *a, const uint8_t *b, uint32_t width, uint32_t height,
                       bench_quality_t *q);

/* The codec id for a name as aic_codec_name spells it, or -1. */
int bench_codec_parse(const char *name);

/* Opens `path` for appending CSV rows; writes `header` first when the file is new or empty. */
FILE *bench_csv_open(const char *path, const char *header);

/* The basename of a path, without its extension, in a static buffer. */
const char *bench_stem(const char *path);

#endif
