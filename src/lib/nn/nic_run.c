/* The float transforms (g_a, h_a, g_s) layer by layer on the frame's buffers. Every layer reads
 * and writes frame.fa; int8 layers go through frame.q (quantized input) and frame.acc (exact
 * int32 sums), f32 layers through frame.fb / fc.
 *
 * A layer followed by an int8 layer also writes that layer's frame.q as it computes its output
 * (nic_quant_t), so the next layer starts with its input ready; frame.fa is then written only
 * when the next layer reads it too (GDN: x / norm).
 *
 * Banded layers (nic_frame.c) run each thread's bands one after the other: a band's
 * convolution, then at once the pass that finishes it, while its int32 sums are still in the
 * core's cache (a whole layer's sums, up to 11 MB at 640x360, are not). A banded convolution writes
 * the next layer's quantized input into frame.q2, since other bands may still read the rows of
 * frame.q around theirs; the two then swap. A 1x1 convolution (GDN's) reads only its own rows and
 * stays in place. */
#include "aic/error.h"
#include "nic_internal.h"

static void swap_q(nic_frame_t *f) {
  void *t = f->q;
  f->q = f->q2;
  f->q2 = t;
}

typedef struct band_job {
  const nic_layer_t *l;
  nic_frame_t *f;
  const void *q;           /* the layer's quantized input */
  const nic_finish_t *fin; /* NIC_CONV */
  float *dst;
  const nic_layer_t *gdn;  /* NIC_GDN / NIC_IGDN: the layer itself, or the conv's pair */
  const void *gdn_q;       /* its quantized input (written by the conv when paired) */
  const nic_quant_t *next; /* the GDN's output quantization, or NULL */
  bool keep;
  bool scratch; /* paired, and the GDN's x need not stay: the conv writes it to the thread's
                 * frame.scratch instead of frame.fa */
  int rc[NIC_BAND_THREADS]; /* per thread */
} band_job_t;

/* GDN band i: its 1x1 convolution into acc (free again once the band before it is finished),
 * then the division or product. */
static int gdn_band(const band_job_t *j, int i, int32_t *acc, float *x) {
  const nic_layer_t *g = j->gdn;
  const nic_frame_t *f = j->f;
  const nic_band_t *b = &g->bands[i];
  const size_t w = (size_t)f->w[g->level];
  const uint8_t *src = (const uint8_t *)j->gdn_q + (size_t)b->in0 * w * g->in_ch;
  int rc = aic_nn_conv_run(g->band_plans[b->plan], src, acc);
  if (rc != AIC_OK) return rc;
  if (!x) x = f->fa + (size_t)b->oy0 * w * g->in_ch;
  nic_gdn_i32_pixels(x, acc, (size_t)b->oy0 * w, (size_t)b->oy1 * w, g->in_ch, g->bias, g->mul,
                     g->op == NIC_IGDN, j->next, j->keep);
  return AIC_OK;
}

static void band_range(void *ctx, size_t begin, size_t end) {
  band_job_t *j = ctx;
  const nic_layer_t *l = j->l;
  nic_frame_t *f = j->f;
  const int in_w = f->w[l->level], conv = nic_layer_conv_level(l);
  const int out_w = f->w[conv];
  for (int i = 0; i < l->band_count; i++) {
    const nic_band_t *b = &l->bands[i];
    if ((size_t)b->thread < begin || (size_t)b->thread >= end) continue;
    int32_t *acc = f->acc + (size_t)b->oy0 * out_w * l->out_ch;
    int rc = AIC_OK;
    if (l->op == NIC_CONV) {
      const uint8_t *src = (const uint8_t *)j->q + (size_t)b->in0 * in_w * l->in_ch;
      float *x = NULL;
      nic_finish_t fin = *j->fin;
      if (j->scratch) {
        /* the band's output rows, from the first (after a depth-to-space: twice as many) */
        x = f->scratch + (size_t)b->thread * f->band_floats;
        fin.dst_origin = l->up ? (size_t)2 * b->oy0 * fin.crop_w * (fin.ch / 4)
                               : (size_t)b->oy0 * fin.w * fin.ch;
      }
      rc = aic_nn_conv_run(l->band_plans[b->plan], src, acc);
      if (rc == AIC_OK) nic_finish_i32_rows(f->acc, &fin, x ? x : j->dst, b->oy0, b->oy1);
      if (rc == AIC_OK && j->gdn) rc = gdn_band(j, i, acc, x);
    } else {
      rc = gdn_band(j, i, acc, NULL);
    }
    if (rc != AIC_OK) {
      j->rc[b->thread] = rc;
      return;
    }
  }
}

/* One thread per range of bands (nic_par_for over thread indices); the first error. */
static int run_banded(const aic_nic_t *nic, band_job_t *j) {
  int threads = nic->settings.threads;
  if (threads > NIC_BAND_THREADS) threads = NIC_BAND_THREADS;
  for (int t = 0; t < threads; t++) j->rc[t] = AIC_OK;
  /* work: always worth a team; the bands exist only for layers big enough */
  nic_par_for(threads, (size_t)threads, NIC_PAR_MIN_WORK, band_range, j);
  for (int t = 0; t < threads; t++)
    if (j->rc[t] != AIC_OK) return j->rc[t];
  return AIC_OK;
}

static size_t elems(const nic_frame_t *f, int level, int ch) {
  return (size_t)f->h[level] * f->w[level] * ch;
}

/* The quantized input of `next` (or NULL: the end of the stack) as the layer before it can
 * write it; false when next quantizes nothing. *float_too: next reads frame.fa as well. */
static bool next_input(void *q, const nic_layer_t *next, nic_quant_t *quant, bool *float_too) {
  *quant = (nic_quant_t){0};
  *float_too = true;
  if (!next || !next->int8) return false;
  if (next->op == NIC_CONV) {
    *quant = (nic_quant_t){.q = q, .scale = next->in_scale, .u8 = next->in_u8};
    *float_too = false;
    return true;
  }
  if (next->op == NIC_GDN || next->op == NIC_IGDN) {
    /* its 1x1 convolution takes |x|; the division or product takes x */
    *quant = (nic_quant_t){.q = q, .scale = next->in_scale, .u8 = true, .absolute = true};
    return true;
  }
  return false; /* the integer ops run in nic_hyper.c, never after a float layer */
}

/* A banded convolution and, when `next` is paired with it, that GDN too (*skip: it ran). */
static int run_conv(aic_nic_t *nic, const nic_layer_t *l, const nic_layer_t *next,
                    const nic_layer_t *after, bool *ready, bool *skip) {
  nic_frame_t *f = &nic->frame;
  const int threads = nic->settings.threads;
  const int out = nic_layer_out_level(l), conv = nic_layer_conv_level(l);
  nic_finish_t fin = {.h = f->h[conv],
                      .w = f->w[conv],
                      .ch = l->out_ch,
                      .relu = l->relu,
                      .up = l->up,
                      .crop_h = f->h[out],
                      .crop_w = f->w[out]};
  bool float_too;
  const bool banded = l->band_count > 0;
  const bool fused = next_input(banded ? f->q2 : f->q, next, &fin.quant, &float_too);
  float *dst = float_too ? f->fa : NULL;
  int rc;
  if (l->int8) {
    if (!*ready) {
      const nic_quant_t in = {.q = f->q, .scale = l->in_scale, .u8 = l->in_u8};
      nic_quantize(f->fa, elems(f, l->level, l->in_ch), &in, threads);
    }
    if (banded) {
      fin.mul = l->mul;
      fin.bias = l->bias;
      band_job_t j = {.l = l, .f = f, .q = f->q, .fin = &fin, .dst = dst};
      bool ready_after = fused;
      nic_quant_t quant;
      if (fused && next->paired) {
        /* next reads its input where this layer wrote it (q2) and quantizes its own output
         * there in place (1x1: each band reads only its own rows) */
        bool keep;
        ready_after = next_input(f->q2, after, &quant, &keep);
        j.gdn = next;
        j.gdn_q = f->q2;
        j.next = ready_after ? &quant : NULL;
        j.keep = keep;
        j.scratch = !keep && f->scratch;
        *skip = true;
      }
      if ((rc = run_banded(nic, &j)) != AIC_OK) return rc;
      if (fused) swap_q(f);
      *ready = ready_after;
      return AIC_OK;
    }
    if ((rc = aic_nn_conv_run(l->plan, f->q, f->acc)) != AIC_OK) return rc;
    fin.mul = l->mul;
    fin.bias = l->bias;
    nic_finish_i32(f->acc, &fin, dst, threads);
  } else {
    /* The float kernel adds the bias itself. */
    if ((rc = aic_nn_conv_run(l->plan, f->fa, f->fb)) != AIC_OK) return rc;
    nic_finish_f32(f->fb, &fin, dst, threads);
  }
  *ready = fused;
  return AIC_OK;
}

static int run_gdn(aic_nic_t *nic, const nic_layer_t *l, const nic_layer_t *next, bool *ready) {
  nic_frame_t *f = &nic->frame;
  const int threads = nic->settings.threads;
  const size_t pixels = (size_t)f->h[l->level] * f->w[l->level];
  const size_t n = pixels * l->in_ch;
  const bool inverse = l->op == NIC_IGDN;
  int rc;
  if (l->int8) {
    if (!*ready) {
      const nic_quant_t in = {.q = f->q, .scale = l->in_scale, .u8 = true, .absolute = true};
      nic_quantize(f->fa, n, &in, threads);
    }
    nic_quant_t quant;
    bool float_too;
    const bool fused = next_input(f->q, next, &quant, &float_too);
    if (l->band_count > 0) {
      band_job_t j = {.l = l,
                      .f = f,
                      .gdn = l,
                      .gdn_q = f->q,
                      .next = fused ? &quant : NULL,
                      .keep = float_too};
      if ((rc = run_banded(nic, &j)) != AIC_OK) return rc;
      *ready = fused;
      return AIC_OK;
    }
    if ((rc = aic_nn_conv_run(l->plan, f->q, f->acc)) != AIC_OK) return rc;
    nic_gdn_i32(f->fa, f->acc, pixels, l->in_ch, l->bias, l->mul, inverse, fused ? &quant : NULL,
                float_too, threads);
    *ready = fused;
  } else {
    nic_abs(f->fa, n, f->fb, threads);
    if ((rc = aic_nn_conv_run(l->plan, f->fb, f->fc)) != AIC_OK) return rc; /* + beta */
    nic_gdn_f32(f->fa, f->fc, n, inverse, threads);
    *ready = false;
  }
  return AIC_OK;
}

int nic_run_stack(aic_nic_t *nic, nic_stack_t stack, bool input_ready) {
  bool ready = input_ready; /* the current layer's frame.q holds its input */
  for (size_t i = 0; i < stack.count; i++) {
    const nic_layer_t *l = &nic->layers[stack.first + i];
    const nic_layer_t *next = i + 1 < stack.count ? l + 1 : NULL;
    const nic_layer_t *after = i + 2 < stack.count ? l + 2 : NULL;
    bool skip = false;
    int rc = l->op == NIC_CONV ? run_conv(nic, l, next, after, &ready, &skip)
                               : run_gdn(nic, l, next, &ready);
    if (rc != AIC_OK) return rc;
    if (skip) i++; /* next ran with l */
  }
  return AIC_OK;
}
