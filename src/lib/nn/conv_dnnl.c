/* conv.h's plans on oneDNN 2.x (the *_desc_init C API; every oneDNN call of libaic is here).
 *
 * Exact int8. oneDNN's int8 convolution is not exact integer arithmetic as such, for two
 * reasons measured with libdnnl 2.6 on this AVX2 machine:
 *  1. Without VNNI, products are summed in pairs with VPMADDUBSW, which saturates at int16:
 *     255 * 127 + 255 * 127 came out as 32767. For s8 input oneDNN also halves the weights
 *     (memory extra flag scale_adjust = 0.5), so odd weights lose a bit.
 *  2. With any ISA, the int32 accumulator goes through float on its way to an s32 destination
 *     (bias and output scales are applied in float), so a sum beyond 2^24 is rounded:
 *     255 * 127 * 25 * 300 came out 8 below the true value.
 * So on ISAs without VNNI every input value x is split into G = 2 (or 3) values of 0..128,
 * placed as G adjacent input channels whose weights make the products add up to x * w (see
 * input_part); any pair of such products fits int16. That doubles the work, and weights with
 * one bit less need none of it (train/quant.py exports such weights): u8 input with |w| <= 64
 * keeps every pair within 255 * 64 * 2 = 32640, and for s8 input oneDNN's halving is exact when
 * every weight is even; such layers run natively on every ISA.
 * And at plan time the input channels are cut into parts whose worst-case |sum| (from the
 * actual weights and the input range) stays within 2^24, each part its own primitive; the
 * parts' outputs and, when it could not be folded in exactly, the bias are added in C. Real
 * layers usually need one part and no C pass.
 *
 * Threads. Debian's libdnnl 2.6 uses the OpenMP runtime (dnnl_config.h: DNNL_CPU_RUNTIME
 * DNNL_RUNTIME_OMP; libdnnl.so needs libgomp.so.1), which has no per-stream thread count, and
 * oneDNN fixes a primitive's thread split when it is created. So the plan's thread count is
 * made the calling thread's OpenMP default (omp_set_num_threads, a per-thread setting) around
 * both primitive creation and execution, and the caller's value is restored afterwards. libaic
 * is not built with -fopenmp, so the two omp_* functions are looked up in the libgomp that
 * libdnnl already loaded (dlsym) rather than linked; if they cannot be found (a oneDNN with
 * another runtime), `threads` is not honoured and OpenMP's default (OMP_NUM_THREADS) applies.
 * An OpenMP team of 2 on a machine whose other core is busy waits at every barrier for it:
 * `threads` should not exceed the idle cores.
 *
 * Running a plan allocates nothing in libaic: memory objects, transformed inputs and a user
 * scratchpad (thread-safe, unlike oneDNN's shared library scratchpad) are made at plan time. */
#define _GNU_SOURCE /* RTLD_DEFAULT */
#include "conv_dnnl.h"

#include <dlfcn.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif
#include <oneapi/dnnl/dnnl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aic/error.h"
#include "conv_internal.h"

/* Largest |integer| every float represents exactly. */
#define EXACT_F32 (INT64_C(1) << 24)

typedef enum split_mode {
  SPLIT_NONE = 0, /* the kind's own data type, one channel per input channel */
  SPLIT_U8 = 1,   /* u8 x -> (x >> 1, x - (x >> 1)), weights (w, w) */
  SPLIT_S8 = 2,   /* s8 x -> (max(x, 0), max(-x, 0)), weights (w, -w) */
  SPLIT_S8_3 = 3  /* as SPLIT_S8 with -x's channel doubled, for weights of -128: (w, 127, 1) */
} split_mode_t;

/* One primitive over input channels [c0, c0 + cn). */
typedef struct part {
  int c0, cn;
  dnnl_primitive_t prim;
  dnnl_memory_t src, wei, bias, dst, scratch;
  uint8_t *src_buf; /* the part's transformed input (owned by src), or NULL: the caller's */
} part_t;

struct aic_nn_dnnl_conv {
  aic_nn_conv_kind_t kind;
  split_mode_t split;
  int even_weights; /* S8S8 with only even weights: oneDNN may halve them (exactly) */
  int groups;       /* input channels per original one: 1, 2 or 3 */
  int threads;
  int in_ch, out_ch, in_h, in_w, out_h, out_w;
  int nparts;
  part_t *parts;
  dnnl_stream_t stream;
  int32_t *acc;    /* output of parts after the first, out_h * out_w * out_ch */
  int32_t *c_bias; /* bias added in C, or NULL */
};

/* ---- the process-wide engine ---- */

static pthread_once_t engine_once = PTHREAD_ONCE_INIT;
static dnnl_engine_t engine;
static int engine_vnni; /* native u8/s8 kernels sum without int16 saturation */
static void (*omp_set_threads)(int);
static int (*omp_get_threads)(void);

static void engine_init(void) {
  /* The engine lives as long as the process: plans of any thread share it. */
  if (dnnl_engine_create(&engine, dnnl_cpu, 0) != dnnl_success) {
    engine = NULL;
    return;
  }
  dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
  /* VPDPBUSD sums without int16 saturation. AVX-512 VNNI's successors (bf16, AMX) contain all of
   * its bits. avx2_vnni stays on the split path: no such CPU here to check oneDNN 2.6 on. */
  engine_vnni = ((unsigned)isa & (unsigned)dnnl_cpu_isa_avx512_core_vnni) ==
                (unsigned)dnnl_cpu_isa_avx512_core_vnni;
  void *set = dlsym(RTLD_DEFAULT, "omp_set_num_threads");
  void *get = dlsym(RTLD_DEFAULT, "omp_get_max_threads");
  if (!set || !get) {
    /* libaic inside a library loaded with RTLD_LOCAL: ask the loaded libgomp itself (NOLOAD
     * loads nothing new; the handle is kept, like the engine). */
    void *gomp = dlopen("libgomp.so.1", RTLD_LAZY | RTLD_NOLOAD);
    set = gomp ? dlsym(gomp, "omp_set_num_threads") : NULL;
    get = gomp ? dlsym(gomp, "omp_get_max_threads") : NULL;
  }
  if (set && get) {
    memcpy(&omp_set_threads, &set, sizeof set);
    memcpy(&omp_get_threads, &get, sizeof get);
  }
}

int aic_nn_dnnl_available(void) {
  pthread_once(&engine_once, engine_init);
  return engine ? 0 : AIC_EUNSUPPORTED;
}

const char *aic_nn_dnnl_isa(void) {
  if (aic_nn_dnnl_available() != 0) return "none";
  switch (dnnl_get_effective_cpu_isa()) {
    case dnnl_cpu_isa_sse41: return "sse41";
    case dnnl_cpu_isa_avx: return "avx";
    case dnnl_cpu_isa_avx2: return "avx2";
    case dnnl_cpu_isa_avx2_vnni: return "avx2_vnni";
    case dnnl_cpu_isa_avx512_mic: return "avx512_mic";
    case dnnl_cpu_isa_avx512_mic_4ops: return "avx512_mic_4ops";
    case dnnl_cpu_isa_avx512_core: return "avx512_core";
    case dnnl_cpu_isa_avx512_core_vnni: return "avx512_core_vnni";
    case dnnl_cpu_isa_avx512_core_bf16: return "avx512_core_bf16";
    case dnnl_cpu_isa_avx512_core_amx: return "avx512_core_amx";
    default: return "unknown";
  }
}

/* Makes `threads` the calling thread's OpenMP team size; returns what to restore (0: nothing). */
static int threads_enter(int threads) {
  if (!omp_set_threads) return 0;
  int prev = omp_get_threads();
  if (prev == threads) return 0;
  omp_set_threads(threads);
  return prev;
}

static void threads_leave(int prev) {
  if (prev > 0) omp_set_threads(prev);
}

static int map_status(dnnl_status_t s) {
  if (s == dnnl_success) return 0;
  return s == dnnl_out_of_memory ? AIC_ENOMEM : AIC_EUNSUPPORTED;
}

/* ---- input and weight transforms ---- */

/* The value of group g of input x; the G values of x multiplied by weight_part(w, g) sum to
 * x * w, and every one is 0..128, so two such products never leave int16. */
static inline uint8_t input_part(split_mode_t m, int x, int g) {
  switch (m) {
    case SPLIT_U8: return (uint8_t)(g == 0 ? x >> 1 : x - (x >> 1));
    case SPLIT_S8:
    case SPLIT_S8_3: return (uint8_t)(g == 0 ? (x > 0 ? x : 0) : (x < 0 ? -x : 0));
    default: return (uint8_t)x;
  }
}

static inline int8_t weight_part(split_mode_t m, int w, int g) {
  switch (m) {
    case SPLIT_U8: return (int8_t)w;
    case SPLIT_S8: return (int8_t)(g == 0 ? w : -w);
    case SPLIT_S8_3:
      /* -w is 127 + 1 for w = -128, which s8 cannot hold in one channel. */
      if (g == 0) return (int8_t)w;
      if (g == 1) return (int8_t)(-w > 127 ? 127 : -w);
      return (int8_t)(-w > 127 ? -w - 127 : 0);
    default: return (int8_t)w;
  }
}

/* The flat cases of split_input: n input values to 2n bytes, (x >> 1, x - (x >> 1)) for u8 and
 * (max(x, 0), max(-x, 0)) for s8. SSE2 (every x86-64) does 16 at a time; GCC -O2 leaves the
 * interleaving loop scalar, which cost about as much as a 1x1 convolution. */
static void split_flat(int sgn, const uint8_t *in, uint8_t *out, size_t n) {
  size_t i = 0;
#ifdef __SSE2__
  const __m128i zero = _mm_setzero_si128(), low7 = _mm_set1_epi8(0x7F);
  for (; i + 16 <= n; i += 16) {
    __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(in + i)), a, b;
    if (sgn) {
      a = _mm_and_si128(x, _mm_cmpgt_epi8(x, zero));
      b = _mm_and_si128(_mm_sub_epi8(zero, x), _mm_cmpgt_epi8(zero, x)); /* -(-128) is 0x80 */
    } else {
      a = _mm_and_si128(_mm_srli_epi16(x, 1), low7);
      b = _mm_sub_epi8(x, a);
    }
    _mm_storeu_si128((__m128i *)(void *)(out + 2 * i), _mm_unpacklo_epi8(a, b));
    _mm_storeu_si128((__m128i *)(void *)(out + 2 * i + 16), _mm_unpackhi_epi8(a, b));
  }
#endif
  const split_mode_t m = sgn ? SPLIT_S8 : SPLIT_U8;
  for (; i < n; i++) {
    int x = sgn ? (int)(int8_t)in[i] : (int)in[i];
    out[2 * i] = input_part(m, x, 0);
    out[2 * i + 1] = input_part(m, x, 1);
  }
}

/* Writes each part's input from the caller's src: the channels [c0, c0 + cn), split into the
 * plan's groups. */
static void split_input(const aic_nn_dnnl_conv_t *c, const void *src) {
  const size_t npix = (size_t)c->in_h * (size_t)c->in_w;
  const size_t ch = (size_t)c->in_ch;
  const uint8_t *in = src;
  if (c->nparts == 1 && (c->split == SPLIT_U8 || c->split == SPLIT_S8)) {
    split_flat(c->split == SPLIT_S8, in, c->parts[0].src_buf, npix * ch);
    return;
  }
  for (int p = 0; p < c->nparts; p++) {
    const part_t *pt = &c->parts[p];
    uint8_t *out = pt->src_buf;
    if (c->split == SPLIT_NONE) {
      for (size_t i = 0; i < npix; i++, out += pt->cn) memcpy(out, in + i * ch + pt->c0, pt->cn);
    } else if (c->groups == 2) {
      const int sgn = c->split != SPLIT_U8;
      for (size_t i = 0; i < npix; i++, out += 2 * (size_t)pt->cn)
        split_flat(sgn, in + i * ch + pt->c0, out, (size_t)pt->cn);
    } else { /* SPLIT_S8_3 */
      for (size_t i = 0; i < npix; i++) {
        const int8_t *px = (const int8_t *)in + i * ch + pt->c0;
        for (int k = 0; k < pt->cn; k++, out += 3) {
          int x = px[k];
          out[0] = (uint8_t)(x > 0 ? x : 0);
          out[1] = out[2] = (uint8_t)(x < 0 ? -x : 0);
        }
      }
    }
  }
}

/* ---- plan construction ---- */

/* Worst-case |part of an output's sum| per unit of sum |w|: the largest input magnitude the
 * primitive's accumulator sees. Native s8 input is shifted to u8 inside oneDNN, hence 255. */
static int64_t input_bound(split_mode_t split) {
  return split == SPLIT_S8 || split == SPLIT_S8_3 ? 128 : 255;
}

/* Cuts the input channels into parts whose worst-case sums stay exact in float; fills
 * c->parts' c0/cn and c->nparts, and sets *bias_fits when a single part can take the bias
 * inside oneDNN exactly. */
static int plan_parts(aic_nn_dnnl_conv_t *c, const aic_nn_conv_desc_t *d, int *bias_fits) {
  const int kk = d->kernel * d->kernel;
  *bias_fits = 1;
  if (d->kind == AIC_NN_CONV_F32) {
    c->parts = calloc(1, sizeof *c->parts);
    if (!c->parts) return AIC_ENOMEM;
    c->parts[0] = (part_t){.c0 = 0, .cn = d->in_ch};
    c->nparts = 1;
    return 0;
  }
  const int8_t *w = d->weight;
  const int64_t m = input_bound(c->split);
  int64_t *sum = calloc((size_t)d->out_ch, sizeof *sum);
  int64_t *inc = calloc((size_t)d->out_ch, sizeof *inc);
  c->parts = calloc((size_t)d->in_ch, sizeof *c->parts); /* at most one part per channel */
  if (!sum || !inc || !c->parts) {
    free(sum);
    free(inc);
    return AIC_ENOMEM;
  }
  c->nparts = 0;
  int c0 = 0;
  for (int ic = 0; ic < d->in_ch; ic++) {
    int fits = 1;
    for (int o = 0; o < d->out_ch; o++) {
      const int8_t *wk = w + ((size_t)o * (size_t)d->in_ch + (size_t)ic) * (size_t)kk;
      int64_t s = 0;
      for (int k = 0; k < kk; k++) s += wk[k] < 0 ? -(int64_t)wk[k] : wk[k];
      inc[o] = s * m; /* one channel alone is at most 255 * 128 * 49, far below 2^24 */
      if (sum[o] + inc[o] > EXACT_F32) fits = 0;
    }
    if (!fits) {
      c->parts[c->nparts++] = (part_t){.c0 = c0, .cn = ic - c0};
      c0 = ic;
      memset(sum, 0, (size_t)d->out_ch * sizeof *sum);
    }
    for (int o = 0; o < d->out_ch; o++) sum[o] += inc[o];
  }
  c->parts[c->nparts++] = (part_t){.c0 = c0, .cn = d->in_ch - c0};
  if (c->nparts > 1) *bias_fits = 0;
  if (d->bias && c->nparts == 1) {
    const int32_t *b = d->bias;
    for (int o = 0; o < d->out_ch; o++) {
      int64_t bo = b[o] < 0 ? -(int64_t)b[o] : b[o];
      if (sum[o] + bo > EXACT_F32) *bias_fits = 0;
    }
  }
  free(sum);
  free(inc);
  return 0;
}

/* The part's weights in OIHW order with the input channels split into groups. */
static int8_t *part_weights(const aic_nn_dnnl_conv_t *c, const aic_nn_conv_desc_t *d,
                            const part_t *pt) {
  const size_t kk = (size_t)d->kernel * (size_t)d->kernel;
  const size_t gi = (size_t)pt->cn * (size_t)c->groups;
  int8_t *out = malloc((size_t)d->out_ch * gi * kk);
  if (!out) return NULL;
  const int8_t *w = d->weight;
  for (size_t o = 0; o < (size_t)d->out_ch; o++)
    for (size_t i = 0; i < (size_t)pt->cn; i++) {
      const int8_t *src = w + (o * (size_t)d->in_ch + (size_t)pt->c0 + i) * kk;
      for (size_t g = 0; g < (size_t)c->groups; g++) {
        int8_t *dst = out + (o * gi + i * (size_t)c->groups + g) * kk;
        for (size_t k = 0; k < kk; k++) dst[k] = weight_part(c->split, src[k], (int)g);
      }
    }
  return out;
}

/* Creates part pt's primitive and memory objects. Returns 0, an AIC_E* code, or 1 when oneDNN
 * would rescale s8 weights (a native s8 plan must then be rebuilt split). */
static int part_create(aic_nn_dnnl_conv_t *c, const aic_nn_conv_desc_t *d, part_t *pt,
                       int with_bias) {
  const int f32 = d->kind == AIC_NN_CONV_F32;
  const int u8 = c->split != SPLIT_NONE || d->kind == AIC_NN_CONV_U8S8;
  const dnnl_data_type_t sdt = f32 ? dnnl_f32 : u8 ? dnnl_u8 : dnnl_s8;
  const dnnl_data_type_t wdt = f32 ? dnnl_f32 : dnnl_s8;
  const dnnl_data_type_t ddt = f32 ? dnnl_f32 : dnnl_s32;
  const int k = d->kernel, s = d->stride;
  const int64_t ic = (int64_t)pt->cn * c->groups;
  const dnnl_dims_t sdims = {1, ic, d->in_h, d->in_w};
  const dnnl_dims_t wdims = {d->out_ch, ic, k, k};
  const dnnl_dims_t ddims = {1, d->out_ch, c->out_h, c->out_w};
  const dnnl_dims_t bdims = {d->out_ch};
  const dnnl_dims_t strides = {s, s};
  const dnnl_dims_t pad_l = {d->band ? d->pad_top : k / 2, k / 2};
  /* Right padding that makes oneDNN's floor((n + l + r - k) / s) + 1 equal ceil(n / s); never
   * more than k / 2, so the taps it adds are the zeros of conv.h's padding. */
  int64_t rh = (int64_t)(c->out_h - 1) * s + k - d->in_h - k / 2;
  int64_t rw = (int64_t)(c->out_w - 1) * s + k - d->in_w - k / 2;
  const dnnl_dims_t pad_r = {d->band ? d->pad_bottom : rh > 0 ? rh : 0, rw > 0 ? rw : 0};

  dnnl_memory_desc_t smd, wany, wuser, bmd, dmd;
  dnnl_convolution_desc_t cd;
  dnnl_primitive_attr_t attr = NULL;
  dnnl_primitive_desc_t pd = NULL, rpd = NULL;
  dnnl_primitive_t reorder = NULL;
  dnnl_memory_t wsrc = NULL;
  int8_t *wtmp = NULL;
  int rc = AIC_EUNSUPPORTED;

  if (dnnl_memory_desc_init_by_tag(&smd, 4, sdims, sdt, dnnl_nhwc) != dnnl_success ||
      dnnl_memory_desc_init_by_tag(&wany, 4, wdims, wdt, dnnl_format_tag_any) != dnnl_success ||
      dnnl_memory_desc_init_by_tag(&wuser, 4, wdims, wdt, dnnl_oihw) != dnnl_success ||
      dnnl_memory_desc_init_by_tag(&bmd, 1, bdims, f32 ? dnnl_f32 : dnnl_s32, dnnl_x) !=
          dnnl_success ||
      dnnl_memory_desc_init_by_tag(&dmd, 4, ddims, ddt, dnnl_nhwc) != dnnl_success)
    goto fail;
  /* Direct: Winograd would round differently from the reference and is not exact for int8. */
  if (dnnl_convolution_forward_desc_init(&cd, dnnl_forward_inference, dnnl_convolution_direct, &smd,
                                         &wany, with_bias ? &bmd : NULL, &dmd, strides, pad_l,
                                         pad_r) != dnnl_success)
    goto fail;
  dnnl_status_t st = dnnl_primitive_attr_create(&attr);
  if (st == dnnl_success)
    st = dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user);
  if (st == dnnl_success) st = dnnl_primitive_desc_create(&pd, &cd, attr, engine, NULL);
  if (st != dnnl_success) {
    rc = map_status(st);
    goto fail;
  }
  const dnnl_memory_desc_t *wmd = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
  const dnnl_memory_desc_t *spmd = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
  if (!wmd || !spmd) goto fail;
  if (!f32 && (wmd->extra.flags & dnnl_memory_extra_flag_scale_adjust) &&
      wmd->extra.scale_adjust != 1.0f &&
      !(c->even_weights && c->split == SPLIT_NONE && wmd->extra.scale_adjust == 0.5f)) {
    rc = 1;
    goto fail;
  }

  /* Memory objects: src/dst handles are set per run unless src is the part's own buffer. */
  const int own_src = c->split != SPLIT_NONE || c->nparts > 1;
  void *h = NULL;
  st = dnnl_memory_create(&pt->src, &smd, engine, own_src ? DNNL_MEMORY_ALLOCATE : NULL);
  if (st == dnnl_success && own_src) st = dnnl_memory_get_data_handle(pt->src, &h);
  pt->src_buf = h;
  if (st == dnnl_success) st = dnnl_memory_create(&pt->dst, &dmd, engine, NULL);
  if (st == dnnl_success) st = dnnl_memory_create(&pt->wei, wmd, engine, DNNL_MEMORY_ALLOCATE);
  if (st == dnnl_success && dnnl_memory_desc_get_size(spmd) > 0)
    st = dnnl_memory_create(&pt->scratch, spmd, engine, DNNL_MEMORY_ALLOCATE);
  if (st == dnnl_success && with_bias) {
    st = dnnl_memory_create(&pt->bias, &bmd, engine, DNNL_MEMORY_ALLOCATE);
    if (st == dnnl_success) st = dnnl_memory_get_data_handle(pt->bias, &h);
    if (st == dnnl_success) memcpy(h, d->bias, (size_t)d->out_ch * 4);
  }
  if (st != dnnl_success) {
    rc = map_status(st);
    goto fail;
  }

  /* Weights: reorder once from OIHW into the layout the primitive chose. */
  const void *wuser_data = d->weight;
  if (!f32) {
    wtmp = part_weights(c, d, pt);
    if (!wtmp) {
      rc = AIC_ENOMEM;
      goto fail;
    }
    wuser_data = wtmp;
  }
  /* oneDNN only reads a reorder's source; the handle type has no const. */
  st = dnnl_memory_create(&wsrc, &wuser, engine, (void *)(uintptr_t)wuser_data);
  if (st == dnnl_success)
    st = dnnl_reorder_primitive_desc_create(&rpd, &wuser, engine, wmd, engine, NULL);
  if (st == dnnl_success) st = dnnl_primitive_create(&reorder, rpd);
  if (st == dnnl_success) {
    const dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, wsrc}, {DNNL_ARG_TO, pt->wei}};
    st = dnnl_primitive_execute(reorder, c->stream, 2, args);
  }
  if (st == dnnl_success) st = dnnl_stream_wait(c->stream);
  if (st == dnnl_success) st = dnnl_primitive_create(&pt->prim, pd);
  rc = map_status(st);

fail:
  if (reorder) dnnl_primitive_destroy(reorder);
  if (rpd) dnnl_primitive_desc_destroy(rpd);
  if (wsrc) dnnl_memory_destroy(wsrc);
  free(wtmp);
  if (pd) dnnl_primitive_desc_destroy(pd);
  if (attr) dnnl_primitive_attr_destroy(attr);
  return rc;
}

static void parts_free(aic_nn_dnnl_conv_t *c) {
  for (int p = 0; p < c->nparts && c->parts; p++) {
    part_t *pt = &c->parts[p];
    if (pt->prim) dnnl_primitive_destroy(pt->prim);
    if (pt->src) dnnl_memory_destroy(pt->src);
    if (pt->wei) dnnl_memory_destroy(pt->wei);
    if (pt->bias) dnnl_memory_destroy(pt->bias);
    if (pt->dst) dnnl_memory_destroy(pt->dst);
    if (pt->scratch) dnnl_memory_destroy(pt->scratch);
  }
  free(c->parts);
  c->parts = NULL;
  c->nparts = 0;
  free(c->acc);
  c->acc = NULL;
  free(c->c_bias);
  c->c_bias = NULL;
}

/* Builds every part for the plan's split mode; the bias goes into oneDNN only when allowed
 * and exact. Returns as part_create. */
static int parts_build(aic_nn_dnnl_conv_t *c, const aic_nn_conv_desc_t *d, int allow_bias) {
  int bias_fits = 1;
  int rc = plan_parts(c, d, &bias_fits);
  if (rc) return rc;
  const int onednn_bias = d->bias && bias_fits && allow_bias;
  if (d->bias && !onednn_bias) {
    c->c_bias = malloc((size_t)d->out_ch * sizeof *c->c_bias);
    if (!c->c_bias) return AIC_ENOMEM;
    memcpy(c->c_bias, d->bias, (size_t)d->out_ch * sizeof *c->c_bias);
  }
  if (c->nparts > 1) {
    c->acc = malloc((size_t)c->out_h * (size_t)c->out_w * (size_t)c->out_ch * sizeof *c->acc);
    if (!c->acc) return AIC_ENOMEM;
  }
  for (int p = 0; p < c->nparts; p++) {
    rc = part_create(c, d, &c->parts[p], onednn_bias);
    if (rc) return rc;
  }
  return 0;
}

static size_t weight_count(const aic_nn_conv_desc_t *d) {
  return (size_t)d->out_ch * (size_t)d->in_ch * (size_t)d->kernel * (size_t)d->kernel;
}

/* 1 when every weight of an s8-input layer is even: oneDNN may then halve them exactly, and no
 * pair of products can saturate int16 (see the top of the file). */
static int weights_even(const aic_nn_conv_desc_t *d) {
  if (d->kind != AIC_NN_CONV_S8S8) return 0;
  const int8_t *w = d->weight;
  for (size_t i = 0, n = weight_count(d); i < n; i++)
    if (w[i] & 1) return 0;
  return 1;
}

/* 1 when a u8-input layer's weights keep every pair of products within int16: |w| <= 64. */
static int weights_u8_pair_safe(const aic_nn_conv_desc_t *d) {
  if (d->kind != AIC_NN_CONV_U8S8) return 0;
  const int8_t *w = d->weight;
  for (size_t i = 0, n = weight_count(d); i < n; i++)
    if (w[i] > 64 || w[i] < -64) return 0;
  return 1;
}

static split_mode_t choose_split(const aic_nn_conv_desc_t *d, int native) {
  if (d->kind == AIC_NN_CONV_F32 || native) return SPLIT_NONE;
  if (d->kind == AIC_NN_CONV_U8S8) return SPLIT_U8;
  const int8_t *w = d->weight;
  for (size_t i = 0, n = weight_count(d); i < n; i++)
    if (w[i] == INT8_MIN) return SPLIT_S8_3;
  return SPLIT_S8;
}

int aic_nn_dnnl_conv_create(const aic_nn_conv_desc_t *desc, int threads, aic_nn_dnnl_conv_t **out) {
  if (out) *out = NULL;
  if (!desc || !out || threads < 1 || aic_nn_conv_desc_check(desc) != AIC_OK) return AIC_EINVAL;
  if (aic_nn_dnnl_available() != 0) return AIC_EUNSUPPORTED;
  int rc = AIC_ENOMEM;
  int saved = threads_enter(threads);
  aic_nn_dnnl_conv_t *c = calloc(1, sizeof *c);
  if (!c) goto fail;
  c->kind = desc->kind;
  c->threads = threads;
  c->in_ch = desc->in_ch;
  c->out_ch = desc->out_ch;
  c->in_h = desc->in_h;
  c->in_w = desc->in_w;
  c->out_h = aic_nn_conv_out_rows(desc);
  c->out_w = aic_nn_conv_out(desc->in_w, desc->stride);
  dnnl_status_t st = dnnl_stream_create(&c->stream, engine, dnnl_stream_default_flags);
  if (st != dnnl_success) {
    rc = map_status(st);
    goto fail;
  }
  c->even_weights = weights_even(desc);
  /* without VNNI, natively only where no pair of products can saturate int16 */
  int native = engine_vnni || c->even_weights || weights_u8_pair_safe(desc), allow_bias = 1;
  for (;;) {
    c->split = choose_split(desc, native);
    c->groups = c->split == SPLIT_NONE ? 1 : c->split == SPLIT_S8_3 ? 3 : 2;
    rc = parts_build(c, desc, allow_bias);
    if (rc == 0) break;
    parts_free(c);
    if (rc == 1 && native) {
      native = 0; /* this oneDNN rescales the weights inexactly here: split as without VNNI */
    } else if (rc == AIC_EUNSUPPORTED && desc->bias && allow_bias &&
               desc->kind != AIC_NN_CONV_F32) {
      allow_bias = 0; /* no s32 bias in this oneDNN: add it in C */
    } else {
      if (rc == 1) rc = AIC_EUNSUPPORTED;
      goto fail;
    }
  }
  threads_leave(saved);
  *out = c;
  return 0;

fail:
  aic_nn_dnnl_conv_free(&c);
  threads_leave(saved);
  return rc;
}

int aic_nn_dnnl_conv_run(aic_nn_dnnl_conv_t *c, const void *src, void *dst) {
  if (!c || !src || !dst) return AIC_EINVAL;
  dnnl_status_t st = dnnl_success;
  int saved = threads_enter(c->threads);
  const size_t nout = (size_t)c->out_h * (size_t)c->out_w * (size_t)c->out_ch;
  if (c->split != SPLIT_NONE || c->nparts > 1) {
    split_input(c, src);
  } else {
    /* oneDNN only reads the source; the handle type has no const. */
    st = dnnl_memory_set_data_handle(c->parts[0].src, (void *)(uintptr_t)src);
  }
  for (int p = 0; p < c->nparts && st == dnnl_success; p++) {
    part_t *pt = &c->parts[p];
    st = dnnl_memory_set_data_handle(pt->dst, p == 0 ? dst : (void *)c->acc);
    if (st != dnnl_success) break;
    dnnl_exec_arg_t args[5] = {
        {DNNL_ARG_SRC, pt->src}, {DNNL_ARG_WEIGHTS, pt->wei}, {DNNL_ARG_DST, pt->dst}};
    int n = 3;
    if (pt->bias) args[n++] = (dnnl_exec_arg_t){DNNL_ARG_BIAS, pt->bias};
    if (pt->scratch) args[n++] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, pt->scratch};
    st = dnnl_primitive_execute(pt->prim, c->stream, n, args);
    if (st == dnnl_success) st = dnnl_stream_wait(c->stream);
    if (st == dnnl_success && p > 0) {
      /* Wrapping adds: exact whenever the true sum fits int32, as conv.h requires. */
      int32_t *d32 = dst;
      for (size_t i = 0; i < nout; i++) d32[i] = (int32_t)((uint32_t)d32[i] + (uint32_t)c->acc[i]);
    }
  }
  if (st == dnnl_success && c->c_bias) {
    int32_t *d32 = dst;
    const size_t npix = (size_t)c->out_h * (size_t)c->out_w;
    for (size_t i = 0; i < npix; i++, d32 += c->out_ch)
      for (int o = 0; o < c->out_ch; o++)
        d32[o] = (int32_t)((uint32_t)d32[o] + (uint32_t)c->c_bias[o]);
  }
  threads_leave(saved);
  return map_status(st);
}

int aic_nn_dnnl_conv_groups(const aic_nn_dnnl_conv_t *conv) {
  return conv ? conv->groups : 0;
}

void aic_nn_dnnl_conv_free(aic_nn_dnnl_conv_t **conv) {
  if (!conv || !*conv) return;
  aic_nn_dnnl_conv_t *c = *conv;
  parts_free(c);
  if (c->stream) dnnl_stream_destroy(c->stream);
  free(c);
  *conv = NULL;
}
