/* The reference SSIM kernel, in portable C: what every faster kernel is tested against, and
 * what runs on CPUs none of them supports. It matches scikit-image's structural_similarity
 * (gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255): local
 * moments from an 11x11 Gaussian window, SSIM map averaged over the positions where the window
 * fits entirely.
 *
 * The 2-D Gaussian is separable, so each moment map is filtered horizontally row by row into
 * a ring of the last 11 rows, then vertically. SSIM needs only var_a + var_b, never the two
 * apart, so four maps suffice: a, b, a^2 + b^2 and a*b. Working memory is O(width): about
 * 3.3 MB for an 8K plane. Everything is double: E[x^2] - E[x]^2 cancels values near 65025,
 * and float would lose the 1e-6 agreement with a direct double-precision computation. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "aic/error.h"
#include "metrics/ssim_internal.h"

#define SSIM_RADIUS AIC_SSIM_RADIUS
#define SSIM_WIN AIC_SSIM_WIN

enum { MAP_A, MAP_B, MAP_SQ /* a^2 + b^2 */, MAP_AB, MAP_COUNT };

/* Per-row loops run over whole blocks of this many columns, written as `x < blocks * LANES`:
 * GCC's -O2 ("very cheap") vectoriser refuses loops that would need a scalar remainder, and
 * this is the form in which it sees that there is none. Columns past out_w compute from zero
 * padding and are never summed. Pointers reach the loops as restrict-qualified parameters
 * for the same reason: restrict copies of struct members do not convince it. */
#define SSIM_LANES 8

typedef struct ssim_work {
  size_t width;
  size_t out_w;              /* positions per row where the window fits */
  size_t blocks;             /* SSIM_LANES-column blocks covering out_w */
  double w[SSIM_RADIUS + 1]; /* half of the symmetric kernel; w[0] is the centre tap */
  double *row[MAP_COUNT];    /* the current input row of each map, zero padded */
  double *ring[MAP_COUNT];   /* SSIM_WIN horizontally filtered rows per map */
  double *moment[MAP_COUNT]; /* vertically filtered: the local moments of one output row */
  double *map;               /* SSIM of one output row */
  double *cs;                /* its contrast-structure factor */
  double *block;             /* the one allocation all of the above live in */
} ssim_work_t;

void aic_ssim_half_kernel(double w[SSIM_RADIUS + 1]) {
  double sum = 0.0;
  for (int k = 0; k <= SSIM_RADIUS; k++) {
    w[k] = exp(-0.5 * (double)(k * k) / (AIC_SSIM_SIGMA * AIC_SSIM_SIGMA));
    sum += k == 0 ? w[k] : 2.0 * w[k];
  }
  for (int k = 0; k <= SSIM_RADIUS; k++) w[k] /= sum;
}

static int work_init(ssim_work_t *wk, size_t width) {
  /* width >= SSIM_WIN, so span < width and row_len < 2 * width: the total below is under
   * 16 * MAP_COUNT * width doubles. */
  if (width > SIZE_MAX / sizeof(double) / (16 * MAP_COUNT)) return AIC_ENOMEM;
  const size_t out_w = width - 2 * SSIM_RADIUS;
  const size_t blocks = (out_w + SSIM_LANES - 1) / SSIM_LANES;
  const size_t span = blocks * SSIM_LANES;
  const size_t row_len = span + 2 * SSIM_RADIUS;
  const size_t per_map = row_len + SSIM_WIN * span + span;
  /* calloc: the padding past the end of each input row must hold finite values. */
  double *p = calloc(per_map * MAP_COUNT + 2 * span, sizeof(double));
  if (!p) return AIC_ENOMEM;
  wk->width = width;
  wk->out_w = out_w;
  wk->blocks = blocks;
  wk->block = p;
  for (int m = 0; m < MAP_COUNT; m++) {
    wk->row[m] = p;
    wk->ring[m] = p + row_len;
    wk->moment[m] = wk->ring[m] + SSIM_WIN * span;
    p = wk->moment[m] + span;
  }
  wk->map = p;
  wk->cs = p + span;
  aic_ssim_half_kernel(wk->w);
  return AIC_OK;
}

/* Products are exact for both sample types: bytes give integers below 2^17, and the floats
 * of MS-SSIM's scales have at most 16 significant bits. */
static void load_row_u8(double *const row[MAP_COUNT], const uint8_t *restrict a,
                        const uint8_t *restrict b, size_t width) {
  double *restrict ra = row[MAP_A], *restrict rb = row[MAP_B];
  double *restrict rsq = row[MAP_SQ], *restrict rab = row[MAP_AB];
  for (size_t x = 0; x < width; x++) {
    const double va = a[x], vb = b[x];
    ra[x] = va;
    rb[x] = vb;
    rsq[x] = va * va + vb * vb;
    rab[x] = va * vb;
  }
}

static void load_row_f32(double *const row[MAP_COUNT], const float *restrict a,
                         const float *restrict b, size_t width) {
  double *restrict ra = row[MAP_A], *restrict rb = row[MAP_B];
  double *restrict rsq = row[MAP_SQ], *restrict rab = row[MAP_AB];
  for (size_t x = 0; x < width; x++) {
    const double va = a[x], vb = b[x];
    ra[x] = va;
    rb[x] = vb;
    rsq[x] = va * va + vb * vb;
    rab[x] = va * vb;
  }
}

/* Symmetric taps are paired so each output costs 6 multiplies instead of 11. */
static void filter_horizontal(const double *restrict in, double *restrict out, size_t blocks,
                              const double w[SSIM_RADIUS + 1]) {
  const double w0 = w[0], w1 = w[1], w2 = w[2], w3 = w[3], w4 = w[4], w5 = w[5];
  for (size_t x = 0; x < blocks * SSIM_LANES; x++) {
    const double *c = in + x + SSIM_RADIUS;
    out[x] = w0 * c[0] + w1 * (c[-1] + c[1]) + w2 * (c[-2] + c[2]) + w3 * (c[-3] + c[3]) +
             w4 * (c[-4] + c[4]) + w5 * (c[-5] + c[5]);
  }
}

/* `rows` holds the SSIM_WIN horizontally filtered rows, oldest (topmost) first. The restrict
 * copies let the compiler vectorise without run-time alias checks on 12 streams. */
static void filter_vertical(const double *const rows[SSIM_WIN], double *restrict out, size_t blocks,
                            const double w[SSIM_RADIUS + 1]) {
  const double w0 = w[0], w1 = w[1], w2 = w[2], w3 = w[3], w4 = w[4], w5 = w[5];
  const double *restrict r0 = rows[0], *restrict r1 = rows[1], *restrict r2 = rows[2];
  const double *restrict r3 = rows[3], *restrict r4 = rows[4], *restrict r5 = rows[5];
  const double *restrict r6 = rows[6], *restrict r7 = rows[7], *restrict r8 = rows[8];
  const double *restrict r9 = rows[9], *restrict r10 = rows[10];
  for (size_t x = 0; x < blocks * SSIM_LANES; x++)
    out[x] = w0 * r5[x] + w1 * (r4[x] + r6[x]) + w2 * (r3[x] + r7[x]) + w3 * (r2[x] + r8[x]) +
             w4 * (r1[x] + r9[x]) + w5 * (r0[x] + r10[x]);
}

/* SSIM at each position of one output row from its four local moments, and when `cs` is not
 * NULL the contrast-structure factor too. */
static void ssim_map_row(const double *const moment[MAP_COUNT], double *restrict s,
                         double *restrict cs, size_t blocks) {
  const double *restrict ma = moment[MAP_A], *restrict mb = moment[MAP_B];
  const double *restrict msq = moment[MAP_SQ], *restrict mab = moment[MAP_AB];
  for (size_t x = 0; x < blocks * SSIM_LANES; x++) {
    const double mu_a = ma[x], mu_b = mb[x];
    const double l_num = 2.0 * mu_a * mu_b + AIC_SSIM_C1;
    const double l_den = mu_a * mu_a + mu_b * mu_b + AIC_SSIM_C1;
    const double cs_num = 2.0 * (mab[x] - mu_a * mu_b) + AIC_SSIM_C2;
    const double cs_den = msq[x] - (mu_a * mu_a + mu_b * mu_b) + AIC_SSIM_C2;
    s[x] = (l_num * cs_num) / (l_den * cs_den);
  }
  if (!cs) return;
  for (size_t x = 0; x < blocks * SSIM_LANES; x++) {
    const double mu_a = ma[x], mu_b = mb[x];
    cs[x] = (2.0 * (mab[x] - mu_a * mu_b) + AIC_SSIM_C2) /
            (msq[x] - (mu_a * mu_a + mu_b * mu_b) + AIC_SSIM_C2);
  }
}

int aic_ssim_windowed_ref(const aic_ssim_input_t *in, bool want_cs, aic_ssim_means_t *out) {
  ssim_work_t wk;
  if (work_init(&wk, in->width) != AIC_OK) return AIC_ENOMEM;
  const size_t span = wk.blocks * SSIM_LANES;
  double total = 0.0, total_cs = 0.0;
  for (size_t y = 0; y < in->height; y++) {
    if (in->type == AIC_SSIM_U8)
      load_row_u8(wk.row, (const uint8_t *)in->a + y * in->a_stride,
                  (const uint8_t *)in->b + y * in->b_stride, in->width);
    else
      load_row_f32(wk.row, (const float *)in->a + y * in->a_stride,
                   (const float *)in->b + y * in->b_stride, in->width);
    const size_t slot = y % SSIM_WIN;
    for (int m = 0; m < MAP_COUNT; m++)
      filter_horizontal(wk.row[m], wk.ring[m] + slot * span, wk.blocks, wk.w);
    if (y + 1 < SSIM_WIN) continue;
    /* The ring now holds rows y-10..y; the oldest sits in the slot after this one. */
    for (int m = 0; m < MAP_COUNT; m++) {
      const double *rows[SSIM_WIN];
      for (size_t k = 0; k < SSIM_WIN; k++) rows[k] = wk.ring[m] + ((y + 1 + k) % SSIM_WIN) * span;
      filter_vertical(rows, wk.moment[m], wk.blocks, wk.w);
    }
    ssim_map_row((const double *const *)wk.moment, wk.map, want_cs ? wk.cs : NULL, wk.blocks);
    /* Summed per row, then into the total: rows of similar magnitude lose less precision. */
    double row_sum = 0.0, row_cs = 0.0;
    for (size_t x = 0; x < wk.out_w; x++) row_sum += wk.map[x];
    total += row_sum;
    if (!want_cs) continue;
    for (size_t x = 0; x < wk.out_w; x++) row_cs += wk.cs[x];
    total_cs += row_cs;
  }
  free(wk.block);
  const double positions = (double)wk.out_w * (double)(in->height - 2 * SSIM_RADIUS);
  out->ssim = total / positions;
  out->cs = want_cs ? total_cs / positions : 0.0;
  return AIC_OK;
}
