/* The AVX2/FMA SSIM kernel: the same separable double-precision computation as the reference
 * (ssim_ref.c), organised for the cache and written with intrinsics so its speed does not
 * depend on what the optimiser makes of plain C at a given -O level. About 2.3-2.5 times the
 * reference's speed on Zen 3; bench/bench_metrics.c measures it.
 *
 * - The reference filters whole rows, and its ring of 11 filtered rows of four maps outgrows
 *   a 512 KB L2 at 1080p (670 KB), so its vertical pass streams from L3. Here the plane is cut
 *   into strips of STRIP output columns, each run top to bottom with its own ring (18 KB) that
 *   stays in L1. The price is converting the 10 columns a strip shares with the next twice.
 *   Because a strip reads so little of each row, it prefetches for the next one.
 * - The vertical pass makes two output rows at a time from 12 ring rows: 6 loads per output
 *   vector and map instead of 11.
 * - The horizontal pass builds its shifted windows with shuffles from aligned loads (see
 *   make_windows).
 *
 * Double, not float: E[x^2] - E[x]^2 cancels values near 65025, where a float's rounding
 * (about 0.004) moves a flat region's SSIM by 1e-4, far outside the 1e-6 budget against the
 * reference; the means need double too, for the luminance term. Only functions carrying
 * AVX2_FN use AVX2, so the file builds with the project's flags for any x86-64, and ssim.c
 * calls in only when the CPU has AVX2 and FMA. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aic/error.h"
#include "metrics/ssim_internal.h"

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#define HAVE_AVX2_KERNEL 1
#include <immintrin.h>
#else
#define HAVE_AVX2_KERNEL 0
#endif

#if HAVE_AVX2_KERNEL

#define AVX2_FN __attribute__((target("avx2,fma")))
#define INLINE_AVX2 AVX2_FN static inline __attribute__((always_inline))

#define R AIC_SSIM_RADIUS
#define WIN AIC_SSIM_WIN
/* Output columns per strip, a multiple of 4: the ring takes 384 bytes per column and must stay
 * in L1 with room to spare. On Zen 3 (32 KB L1), 40 to 64 run within a few percent of each
 * other, 32 and 24 5-15% slower: narrower strips convert their shared columns more often. */
#define STRIP 48
/* Rows kept: two output rows are produced at a time, from WIN + 1 input rows. */
#define RING (WIN + 1)
/* Inputs of a strip row, rounded up to the aligned vectors the last output reads. */
#define ROW_LEN (STRIP + 12)

enum { MAP_A, MAP_B, MAP_SQ /* a^2 + b^2 */, MAP_AB, MAP_COUNT };

#define SLOT (MAP_COUNT * STRIP) /* doubles per ring row */

typedef struct strip_work {
  double ring[RING][MAP_COUNT][STRIP]; /* horizontally filtered rows, slot = row % RING */
  double row[MAP_COUNT][ROW_LEN];      /* the current input row of each map */
} strip_work_t;

typedef struct kernel_consts {
  __m256d w[R + 1]; /* the half kernel, broadcast */
  __m256d c1, c2, two;
} kernel_consts_t;

/* Products are exact: integers below 2^17 for bytes, at most 32 significant bits for the
 * floats of MS-SSIM's scales. */
INLINE_AVX2 void store_maps(double (*row)[ROW_LEN], size_t x, __m256d a, __m256d b) {
  _mm256_storeu_pd(row[MAP_A] + x, a);
  _mm256_storeu_pd(row[MAP_B] + x, b);
  _mm256_storeu_pd(row[MAP_SQ] + x, _mm256_add_pd(_mm256_mul_pd(a, a), _mm256_mul_pd(b, b)));
  _mm256_storeu_pd(row[MAP_AB] + x, _mm256_mul_pd(a, b));
}

INLINE_AVX2 void convert8_u8(const uint8_t *a, const uint8_t *b, size_t x, double (*row)[ROW_LEN]) {
  const __m128i a8 = _mm_loadl_epi64((const __m128i *)(const void *)(a + x));
  const __m128i b8 = _mm_loadl_epi64((const __m128i *)(const void *)(b + x));
  store_maps(row, x, _mm256_cvtepi32_pd(_mm_cvtepu8_epi32(a8)),
             _mm256_cvtepi32_pd(_mm_cvtepu8_epi32(b8)));
  store_maps(row, x + 4, _mm256_cvtepi32_pd(_mm_cvtepu8_epi32(_mm_srli_si128(a8, 4))),
             _mm256_cvtepi32_pd(_mm_cvtepu8_epi32(_mm_srli_si128(b8, 4))));
}

INLINE_AVX2 void convert4_f32(const float *a, const float *b, size_t x, double (*row)[ROW_LEN]) {
  store_maps(row, x, _mm256_cvtps_pd(_mm_loadu_ps(a + x)), _mm256_cvtps_pd(_mm_loadu_ps(b + x)));
}

/* A strip row has at least 2 * R + 1 inputs, so a last vector overlapping the one before it
 * replaces a scalar tail. */
AVX2_FN static void load_row_u8(const uint8_t *a, const uint8_t *b, size_t n,
                                double (*row)[ROW_LEN]) {
  for (size_t x = 0; x + 8 <= n; x += 8) convert8_u8(a, b, x, row);
  if (n % 8) convert8_u8(a, b, n - 8, row);
}

AVX2_FN static void load_row_f32(const float *a, const float *b, size_t n, double (*row)[ROW_LEN]) {
  for (size_t x = 0; x + 4 <= n; x += 4) convert4_f32(a, b, x, row);
  if (n % 4) convert4_f32(a, b, n - 4, row);
}

/* The horizontal pass needs the 4-column windows starting at every column. Unaligned loads
 * would cost 11 per output vector, a third of them split across cache lines; instead each
 * window is built from the aligned vectors around it: W(4i) is loaded, W(4i + 2) is one lane
 * permute of two aligned vectors, W(4i + 1) and W(4i + 3) one in-lane shuffle each. Every
 * window serves three outputs, so an output vector costs 1 load and 3 shuffles. */
typedef struct windows {
  __m256d w0, w1, w2, w3; /* W(4i), W(4i + 1), W(4i + 2), W(4i + 3) */
} windows_t;

INLINE_AVX2 windows_t make_windows(__m256d a, __m256d next) {
  windows_t q;
  q.w0 = a;
  q.w2 = _mm256_permute2f128_pd(a, next, 0x21);
  q.w1 = _mm256_shuffle_pd(a, q.w2, 0x5);
  q.w3 = _mm256_shuffle_pd(q.w2, next, 0x5);
  return q;
}

/* The symmetric taps are paired, and the sum split into two chains (even and odd distances)
 * so it waits on 3 dependent multiply-adds instead of 6. */
INLINE_AVX2 __m256d filter6(__m256d centre, __m256d d1, __m256d d2, __m256d d3, __m256d d4,
                            __m256d d5, const kernel_consts_t *k) {
  __m256d even = _mm256_mul_pd(k->w[0], centre), odd = _mm256_mul_pd(k->w[1], d1);
  even = _mm256_fmadd_pd(k->w[2], d2, even);
  odd = _mm256_fmadd_pd(k->w[3], d3, odd);
  even = _mm256_fmadd_pd(k->w[4], d4, even);
  odd = _mm256_fmadd_pd(k->w[5], d5, odd);
  return _mm256_add_pd(even, odd);
}

/* Output vector i's window spans W(4i) .. W(4i + 10), centred on W(4i + 5): from the groups of
 * i, i + 1 and i + 2. */
INLINE_AVX2 __m256d filter_h(windows_t g0, windows_t g1, windows_t g2, const kernel_consts_t *k) {
  return filter6(g1.w1, _mm256_add_pd(g1.w0, g1.w2), _mm256_add_pd(g0.w3, g1.w3),
                 _mm256_add_pd(g0.w2, g2.w0), _mm256_add_pd(g0.w1, g2.w1),
                 _mm256_add_pd(g0.w0, g2.w2), k);
}

/* A strip reads a few bytes of each row of planes much larger than L2, and the hardware
 * prefetchers do not keep up with that stride: without help every row waits on L3 or memory.
 * So while a strip reads row y, the part of row y only the next strip needs is fetched into L2,
 * where it stays until that strip runs, a fraction of a millisecond later (10% faster at
 * 1080p). `from` is the first column the current strip does not read; the line holding it is
 * already cached. */
static void prefetch_next_strip(const aic_ssim_input_t *in, size_t y, size_t from) {
  if (from >= in->width) return;
  const size_t size = in->type == AIC_SSIM_U8 ? 1 : sizeof(float);
  const size_t to = from + STRIP < in->width ? from + STRIP : in->width;
  const char *a = (const char *)in->a + y * in->a_stride * size;
  const char *b = (const char *)in->b + y * in->b_stride * size;
  for (size_t end = to * size; end > from * size; end = end > 64 ? end - 64 : 0) {
    _mm_prefetch(a + end - 1, _MM_HINT_T1);
    _mm_prefetch(b + end - 1, _MM_HINT_T1);
  }
}

/* Converts input row y of the strip and filters it horizontally into its ring slot. */
INLINE_AVX2 void input_row(const aic_ssim_input_t *in, strip_work_t *wk, size_t y, size_t x0,
                           size_t n_in, size_t vectors, const kernel_consts_t *k) {
  prefetch_next_strip(in, y, x0 + n_in);
  if (in->type == AIC_SSIM_U8)
    load_row_u8((const uint8_t *)in->a + y * in->a_stride + x0,
                (const uint8_t *)in->b + y * in->b_stride + x0, n_in, wk->row);
  else
    load_row_f32((const float *)in->a + y * in->a_stride + x0,
                 (const float *)in->b + y * in->b_stride + x0, n_in, wk->row);
  for (int m = 0; m < MAP_COUNT; m++) {
    const double *src = wk->row[m];
    double *dst = wk->ring[y % RING][m];
    __m256d a1 = _mm256_load_pd(src + 4), a2 = _mm256_load_pd(src + 8);
    windows_t g0 = make_windows(_mm256_load_pd(src), a1), g1 = make_windows(a1, a2);
    for (size_t i = 0; i < vectors; i++) {
      const __m256d a3 = _mm256_load_pd(src + 4 * i + 12);
      const windows_t g2 = make_windows(a2, a3);
      _mm256_store_pd(dst + 4 * i, filter_h(g0, g1, g2, k));
      g0 = g1;
      g1 = g2;
      a2 = a3;
    }
  }
}

/* Full strips, nearly all of them, get a copy with constant trip counts, which the compiler
 * unrolls: 2-4% faster at 1080p. */
AVX2_FN static void strip_input_row(const aic_ssim_input_t *in, strip_work_t *wk, size_t y,
                                    size_t x0, size_t n_in, size_t vectors,
                                    const kernel_consts_t *k) {
  if (n_in == STRIP + 2 * R)
    input_row(in, wk, y, x0, STRIP + 2 * R, STRIP / 4, k);
  else
    input_row(in, wk, y, x0, n_in, vectors, k);
}

/* SSIM (and cs) of one vector of positions from its four local moments, added to the sums.
 * With `masked`, only the lanes set in `mask` (those on the plane) count. */
INLINE_AVX2 void accumulate(__m256d mu_a, __m256d mu_b, __m256d e_sq, __m256d e_ab, bool want_cs,
                            bool masked, __m256d mask, const kernel_consts_t *k, __m256d *acc,
                            __m256d *acc_cs) {
  const __m256d mu_ab = _mm256_mul_pd(mu_a, mu_b);
  /* Not fused: for identical planes mu_a^2 + mu_b^2 must equal 2 mu_a mu_b exactly, and the
   * SSIM be exactly 1. */
  const __m256d mu_sq = _mm256_add_pd(_mm256_mul_pd(mu_a, mu_a), _mm256_mul_pd(mu_b, mu_b));
  const __m256d l_num = _mm256_fmadd_pd(k->two, mu_ab, k->c1);
  const __m256d l_den = _mm256_add_pd(mu_sq, k->c1);
  const __m256d cs_num = _mm256_fmadd_pd(k->two, _mm256_sub_pd(e_ab, mu_ab), k->c2);
  const __m256d cs_den = _mm256_add_pd(_mm256_sub_pd(e_sq, mu_sq), k->c2);
  __m256d ssim = _mm256_div_pd(_mm256_mul_pd(l_num, cs_num), _mm256_mul_pd(l_den, cs_den));
  if (masked) ssim = _mm256_and_pd(ssim, mask);
  *acc = _mm256_add_pd(*acc, ssim);
  if (want_cs) {
    __m256d cs = _mm256_div_pd(cs_num, cs_den);
    if (masked) cs = _mm256_and_pd(cs, mask);
    *acc_cs = _mm256_add_pd(*acc_cs, cs);
  }
}

/* Vertical pass for output rows t and t + 1 of one vector of one map: 12 loads instead of 22.
 * `oldest` is the slot of row t, a constant in every caller, so all offsets fold into the
 * addressing. */
#define RING_ROW(i) _mm256_load_pd(p + (size_t)((oldest + (i)) % RING) * SLOT)
INLINE_AVX2 void filter_v2(const double *p, int oldest, const kernel_consts_t *k, __m256d *out0,
                           __m256d *out1) {
  const __m256d r0 = RING_ROW(0), r1 = RING_ROW(1), r2 = RING_ROW(2), r3 = RING_ROW(3);
  const __m256d r4 = RING_ROW(4), r5 = RING_ROW(5), r6 = RING_ROW(6), r7 = RING_ROW(7);
  const __m256d r8 = RING_ROW(8), r9 = RING_ROW(9), r10 = RING_ROW(10), r11 = RING_ROW(11);
  *out0 = filter6(r5, _mm256_add_pd(r4, r6), _mm256_add_pd(r3, r7), _mm256_add_pd(r2, r8),
                  _mm256_add_pd(r1, r9), _mm256_add_pd(r0, r10), k);
  *out1 = filter6(r6, _mm256_add_pd(r5, r7), _mm256_add_pd(r4, r8), _mm256_add_pd(r3, r9),
                  _mm256_add_pd(r2, r10), _mm256_add_pd(r1, r11), k);
}
#undef RING_ROW

INLINE_AVX2 void pair_at(const double *p, int oldest, bool want_cs, bool masked, __m256d mask,
                         const kernel_consts_t *k, __m256d *acc, __m256d *acc_cs) {
  __m256d mu_a[2], mu_b[2], e_sq[2], e_ab[2];
  filter_v2(p + MAP_A * STRIP, oldest, k, &mu_a[0], &mu_a[1]);
  filter_v2(p + MAP_B * STRIP, oldest, k, &mu_b[0], &mu_b[1]);
  filter_v2(p + MAP_SQ * STRIP, oldest, k, &e_sq[0], &e_sq[1]);
  filter_v2(p + MAP_AB * STRIP, oldest, k, &e_ab[0], &e_ab[1]);
  for (int r = 0; r < 2; r++)
    accumulate(mu_a[r], mu_b[r], e_sq[r], e_ab[r], want_cs, masked, mask, k, acc, acc_cs);
}

typedef struct strip_sums {
  __m256d ssim, cs;
} strip_sums_t;

/* Output rows t and t + 1 of the strip, `oldest` = t % RING, inlined once per (oldest,
 * want_cs) pair, both constants. `tail` masks the lanes of the last vector past the plane.
 * The sums live in locals: __m256d may alias the ring, so stores through `sums` in the loop
 * would have to be kept in order with its loads. */
INLINE_AVX2 void output_pair(const strip_work_t *wk, int oldest, bool want_cs, size_t vectors,
                             __m256d tail, const kernel_consts_t *k, strip_sums_t *sums) {
  const double *ring = &wk->ring[0][0][0];
  __m256d acc = sums->ssim, acc_cs = sums->cs;
  for (size_t v = 0; v + 1 < vectors; v++)
    pair_at(ring + 4 * v, oldest, want_cs, false, tail, k, &acc, &acc_cs);
  pair_at(ring + 4 * (vectors - 1), oldest, want_cs, true, tail, k, &acc, &acc_cs);
  sums->ssim = acc;
  sums->cs = acc_cs;
}

#define PAIR_CASE(oldest)                                     \
  case oldest:                                                \
    if (want_cs)                                              \
      output_pair(wk, oldest, true, vectors, tail, k, sums);  \
    else                                                      \
      output_pair(wk, oldest, false, vectors, tail, k, sums); \
    break;

AVX2_FN static void strip_output_pair(const strip_work_t *wk, size_t t, size_t vectors,
                                      __m256d tail, bool want_cs, const kernel_consts_t *k,
                                      strip_sums_t *sums) {
  /* Pairs start at even rows and RING is even, so the oldest slot is even too. */
  switch (t % RING) {
    PAIR_CASE(0)
    PAIR_CASE(2)
    PAIR_CASE(4)
    PAIR_CASE(6)
    PAIR_CASE(8)
    PAIR_CASE(10)
    default: break;
  }
}
#undef PAIR_CASE

/* The last output row when their number is odd: once per strip, so no need to be quick. */
AVX2_FN static void strip_output_single(const strip_work_t *wk, size_t t, size_t vectors,
                                        __m256d tail, bool want_cs, const kernel_consts_t *k,
                                        strip_sums_t *sums) {
  const __m256d all = _mm256_castsi256_pd(_mm256_set1_epi64x(-1));
  for (size_t v = 0; v < vectors; v++) {
    __m256d mom[MAP_COUNT];
    for (int m = 0; m < MAP_COUNT; m++) {
      __m256d r[WIN];
      for (size_t i = 0; i < WIN; i++) r[i] = _mm256_load_pd(wk->ring[(t + i) % RING][m] + 4 * v);
      mom[m] = filter6(r[5], _mm256_add_pd(r[4], r[6]), _mm256_add_pd(r[3], r[7]),
                       _mm256_add_pd(r[2], r[8]), _mm256_add_pd(r[1], r[9]),
                       _mm256_add_pd(r[0], r[10]), k);
    }
    accumulate(mom[MAP_A], mom[MAP_B], mom[MAP_SQ], mom[MAP_AB], want_cs, true,
               v + 1 == vectors ? tail : all, k, &sums->ssim, &sums->cs);
  }
}

AVX2_FN static double sum_lanes(__m256d v) {
  const __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
  return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
}

AVX2_FN int aic_ssim_windowed_avx2(const aic_ssim_input_t *in, bool want_cs,
                                   aic_ssim_means_t *out) {
  /* aligned_alloc wants a size that is a multiple of the alignment. */
  strip_work_t *wk = aligned_alloc(64, (sizeof(strip_work_t) + 63) / 64 * 64);
  if (!wk) return AIC_ENOMEM;
  kernel_consts_t k;
  double w[R + 1];
  aic_ssim_half_kernel(w);
  for (int i = 0; i <= R; i++) k.w[i] = _mm256_set1_pd(w[i]);
  k.c1 = _mm256_set1_pd(AIC_SSIM_C1);
  k.c2 = _mm256_set1_pd(AIC_SSIM_C2);
  k.two = _mm256_set1_pd(2.0);

  const size_t out_w = in->width - 2 * R, height = in->height;
  double total = 0.0, total_cs = 0.0;
  for (size_t x0 = 0; x0 < out_w; x0 += STRIP) {
    const size_t cols = out_w - x0 < STRIP ? out_w - x0 : STRIP;
    const size_t vectors = (cols + 3) / 4, n_in = cols + 2 * R;
    /* Lanes past the plane read this zero padding and are masked out of the sums. */
    for (int m = 0; m < MAP_COUNT; m++)
      memset(wk->row[m] + n_in, 0, (ROW_LEN - n_in) * sizeof(double));
    const int64_t live = (int64_t)(cols - 4 * (vectors - 1));
    const __m256d tail = _mm256_castsi256_pd(
        _mm256_cmpgt_epi64(_mm256_set1_epi64x(live), _mm256_setr_epi64x(0, 1, 2, 3)));
    strip_sums_t sums = {_mm256_setzero_pd(), _mm256_setzero_pd()};
    for (size_t y = 0; y + 1 < WIN; y++) strip_input_row(in, wk, y, x0, n_in, vectors, &k);
    /* Each step holds rows t .. t + 9 and adds t + 10 and t + 11 for output rows t, t + 1. */
    size_t t = 0;
    for (; t + WIN < height; t += 2) {
      strip_input_row(in, wk, t + WIN - 1, x0, n_in, vectors, &k);
      strip_input_row(in, wk, t + WIN, x0, n_in, vectors, &k);
      strip_output_pair(wk, t, vectors, tail, want_cs, &k, &sums);
    }
    if (t + WIN == height) {
      strip_input_row(in, wk, t + WIN - 1, x0, n_in, vectors, &k);
      strip_output_single(wk, t, vectors, tail, want_cs, &k, &sums);
    }
    total += sum_lanes(sums.ssim);
    total_cs += sum_lanes(sums.cs);
  }
  free(wk);
  const double positions = (double)out_w * (double)(height - 2 * R);
  out->ssim = total / positions;
  out->cs = want_cs ? total_cs / positions : 0.0;
  return AIC_OK;
}

bool aic_ssim_avx2_available(void) {
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

#else /* !HAVE_AVX2_KERNEL */

int aic_ssim_windowed_avx2(const aic_ssim_input_t *in, bool want_cs, aic_ssim_means_t *out) {
  (void)in;
  (void)want_cs;
  (void)out;
  return AIC_EUNSUPPORTED;
}

bool aic_ssim_avx2_available(void) {
  return false;
}

#endif
