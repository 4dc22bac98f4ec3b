/* AV1 on libaom in its real-time usage: one I420 frame in, one temporal unit out (raw OBUs, no
 * container), no lookahead, keyframes only when the engine asks (or the picture size changes). */
#include <stdlib.h>
#include <string.h>
#include <aom/aom_decoder.h>
#include <aom/aom_encoder.h>
#include <aom/aomcx.h>
#include <aom/aomdx.h>

#include "aic/error.h"
#include "codec/backend.h"
#include "codec/video_common.h"

/* Far beyond any real-time stream; the cap keeps the encoder's per-frame budgets (ints) from
 * overflowing on an absurd request. */
#define AV1_MAX_KBPS 1000000u

/* Quantizer range (0..63, libaom's user scale) for fixed quality. The best end stops at 1:
 * pinned at 0, libaom 3.6's real-time encoder gave fewer bytes and a lower PSNR than at 1
 * (measured on the unit test's clip), which would break the monotonic quality map. */
#define AV1_Q_BEST 1
#define AV1_Q_WORST 63

/* Rate control bounds in CBR. The worst is WebRTC's 56: above it blocking gets hard for rate
 * control to climb back out of. The best is 4 rather than WebRTC's 10 so that small or simple
 * pictures can still spend a generous target instead of undershooting it. */
#define AV1_CBR_Q_BEST 4
#define AV1_CBR_Q_WORST 56

typedef struct av1_state {
  bool encoder;
  bool open; /* ctx is initialised */
  aom_codec_ctx_t ctx;
  uint32_t width, height; /* what ctx was opened for */
  /* Encoder only. */
  aom_codec_enc_cfg_t cfg; /* the configuration ctx runs with */
  int cpu_used;
  int64_t pts; /* of the next frame, AIC_VIDEO_TIMEBASE_HZ ticks */
  /* Decoder only: the references are missing or broken, so only a keyframe can decode. */
  bool need_key;
} av1_state_t;

static int av1_error(aom_codec_err_t err) {
  return err == AOM_CODEC_MEM_ERROR ? AIC_ENOMEM : AIC_ECODEC;
}

static void av1_close(av1_state_t *s) {
  if (s->open) aom_codec_destroy(&s->ctx);
  s->open = false;
}

static int av1_state_create(bool encoder, void **state) {
  av1_state_t *s = calloc(1, sizeof *s);
  if (!s) return AIC_ENOMEM;
  s->encoder = encoder;
  s->need_key = true;
  *state = s;
  return AIC_OK;
}

static void av1_state_free(void *state) {
  av1_state_t *s = state;
  if (!s) return;
  av1_close(s);
  free(s);
}

/* --- encoder --- */

/* Speed 0..9 onto realtime cpu-used 5..10: libaom's realtime usage treats 0..4 as 5, so 5 is
 * the slowest setting that means anything and 10 the fastest. 5 and 6 cost far more than 7
 * (at 640x360 here, 6 took ~3.5x the time of 7 for ~40 % fewer bytes), so only speeds 0..2
 * reach them. The default speed 6 lands on 8, in the range WebRTC uses for 360p..720p. */
static int av1_cpu_used(const aic_codec_params_t *params) {
  static const int map[10] = {5, 6, 6, 7, 7, 8, 8, 9, 9, 10};
  return map[aic_video_speed(params)];
}

/* Fixed quality pins both quantizer bounds to one value: every frame, keyframes included, then
 * uses exactly the quantizer the engine chose, and rate control has nothing left to decide.
 * End usage Q keeps libaom from steering towards a bitrate meanwhile. */
static void av1_rate_config(aom_codec_enc_cfg_t *cfg, const aic_codec_params_t *params) {
  if (params->bitrate_kbps > 0) {
    cfg->rc_end_usage = AOM_CBR;
    cfg->rc_target_bitrate =
        params->bitrate_kbps > AV1_MAX_KBPS ? AV1_MAX_KBPS : params->bitrate_kbps;
    cfg->rc_min_quantizer = AV1_CBR_Q_BEST;
    cfg->rc_max_quantizer = AV1_CBR_Q_WORST;
  } else {
    unsigned q = (unsigned)aic_video_quantizer(params->quality, AV1_Q_BEST, AV1_Q_WORST);
    cfg->rc_end_usage = AOM_Q;
    cfg->rc_min_quantizer = q;
    cfg->rc_max_quantizer = q;
  }
}

static bool av1_same_rate(const aom_codec_enc_cfg_t *a, const aom_codec_enc_cfg_t *b) {
  return a->rc_end_usage == b->rc_end_usage && a->rc_target_bitrate == b->rc_target_bitrate &&
         a->rc_min_quantizer == b->rc_min_quantizer && a->rc_max_quantizer == b->rc_max_quantizer;
}

/* CBR uses cyclic-refresh AQ (WebRTC's choice for real-time AV1): each frame refreshes a slice
 * of blocks at a finer quantizer, so quality recovers after a hard frame without a keyframe.
 * With a fixed quantizer, any AQ would move blocks away from the engine's choice. */
static int av1_set_aq(av1_state_t *s) {
  unsigned aq = s->cfg.rc_end_usage == AOM_CBR ? 3u : 0u;
  return aom_codec_control(&s->ctx, AV1E_SET_AQ_MODE, aq) ? AIC_ECODEC : AIC_OK;
}

static int av1_enc_open(av1_state_t *s, uint32_t width, uint32_t height,
                        const aic_codec_params_t *params) {
  aom_codec_enc_cfg_t cfg;
  aom_codec_err_t err = aom_codec_enc_config_default(aom_codec_av1_cx(), &cfg, AOM_USAGE_REALTIME);
  if (err) return av1_error(err);
  int threads = aic_video_threads(params);
  cfg.g_w = width;
  cfg.g_h = height;
  cfg.g_timebase.num = 1;
  cfg.g_timebase.den = AIC_VIDEO_TIMEBASE_HZ;
  cfg.g_threads = (unsigned)threads;
  cfg.g_profile = 0; /* main: 8-bit 4:2:0 */
  cfg.g_bit_depth = AOM_BITS_8;
  cfg.g_input_bit_depth = 8;
  cfg.g_pass = AOM_RC_ONE_PASS;
  cfg.g_lag_in_frames = 0; /* a buffered frame would break one-packet-per-frame */
  cfg.g_error_resilient = 0;
  cfg.rc_dropframe_thresh = 0; /* a dropped frame would be a frame with no packet */
  cfg.rc_resize_mode = 0;      /* the engine owns the picture size */
  cfg.rc_superres_mode = 0;
  /* AOM_KF_DISABLED is the same value as the deprecated "fixed" mode, which still places a
   * keyframe every kf_max_dist frames: make that never. */
  cfg.kf_mode = AOM_KF_DISABLED;
  cfg.kf_min_dist = 0;
  cfg.kf_max_dist = 1u << 30;
  /* CBR buffer model (ms) and shoot limits, WebRTC's for AV1. */
  cfg.rc_buf_sz = 1000;
  cfg.rc_buf_initial_sz = 600;
  cfg.rc_buf_optimal_sz = 600;
  cfg.rc_undershoot_pct = 50;
  cfg.rc_overshoot_pct = 50;
  av1_rate_config(&cfg, params);

  err = aom_codec_enc_init(&s->ctx, aom_codec_av1_cx(), &cfg, 0);
  if (err) return av1_error(err);
  s->open = true;
  s->cfg = cfg;
  s->width = width;
  s->height = height;
  s->cpu_used = av1_cpu_used(params);

  /* Threads only help through tiles and row multithreading: one tile column per thread,
   * rounded down to a power of two (libaom trims it to what the width allows). */
  unsigned tile_cols_log2 = 0;
  while (tile_cols_log2 < 6 && (2 << tile_cols_log2) <= threads) tile_cols_log2++;
  bool ok = !aom_codec_control(&s->ctx, AOME_SET_CPUUSED, s->cpu_used) &&
            /* Per-block quantizer changes would undo a fixed quantizer. */
            !aom_codec_control(&s->ctx, AV1E_SET_DELTAQ_MODE, 0u) &&
            /* 300 %: WebRTC's bound on a CBR keyframe, relative to an average frame. */
            !aom_codec_control(&s->ctx, AOME_SET_MAX_INTRA_BITRATE_PCT, 300u) &&
            !aom_codec_control(&s->ctx, AV1E_SET_ROW_MT, threads > 1 ? 1u : 0u) &&
            !aom_codec_control(&s->ctx, AV1E_SET_TILE_COLUMNS, tile_cols_log2) &&
            av1_set_aq(s) == AIC_OK;
  if (!ok) {
    av1_close(s);
    return AIC_ECODEC;
  }
  s->pts = 0;
  return AIC_OK;
}

/* Brings the session's encoder in line with this frame: (re)opened for a new size or thread
 * count (tiles and worker pools are laid out at init), otherwise only the rate settings and
 * speed change. Sets *fresh when the encoder was (re)opened, as its first frame is a keyframe. */
static int av1_enc_prepare(av1_state_t *s, const aic_frame_t *frame,
                           const aic_codec_params_t *params, bool *fresh) {
  *fresh = false;
  if (!s->open || s->width != frame->width || s->height != frame->height ||
      s->cfg.g_threads != (unsigned)aic_video_threads(params)) {
    av1_close(s);
    *fresh = true;
    return av1_enc_open(s, frame->width, frame->height, params);
  }
  aom_codec_enc_cfg_t cfg = s->cfg;
  av1_rate_config(&cfg, params);
  if (!av1_same_rate(&cfg, &s->cfg)) {
    bool mode_changed = cfg.rc_end_usage != s->cfg.rc_end_usage;
    aom_codec_err_t err = aom_codec_enc_config_set(&s->ctx, &cfg);
    if (err) return av1_error(err);
    s->cfg = cfg;
    if (mode_changed) {
      int rc = av1_set_aq(s);
      if (rc) return rc;
    }
  }
  int cpu_used = av1_cpu_used(params);
  if (cpu_used != s->cpu_used) {
    if (aom_codec_control(&s->ctx, AOME_SET_CPUUSED, cpu_used)) return AIC_ECODEC;
    s->cpu_used = cpu_used;
  }
  return AIC_OK;
}

static int av1_enc_frame(av1_state_t *s, const aic_frame_t *frame, const aic_i420_layout_t *layout,
                         const aic_codec_params_t *params, bool force_key, aic_buf_t *out,
                         bool *keyframe) {
  bool fresh;
  int rc = av1_enc_prepare(s, frame, params, &fresh);
  if (rc) return rc;

  /* aom_img_wrap pads odd widths to an even stride; the engine's planes are tightly packed, so
   * the plane pointers and strides are set by hand. libaom only reads the source. */
  aom_image_t img;
  uint8_t *data = (uint8_t *)frame->data;
  if (!aom_img_wrap(&img, AOM_IMG_FMT_I420, frame->width, frame->height, 1, data))
    return AIC_ECODEC;
  for (int p = 0; p < 3; p++) {
    img.planes[p] = data + layout->offset[p];
    img.stride[p] = (int)layout->width[p];
  }

  int64_t ticks = aic_video_frame_ticks(params->fps);
  aom_enc_frame_flags_t flags = (force_key || fresh) ? AOM_EFLAG_FORCE_KF : 0;
  aom_codec_err_t err = aom_codec_encode(&s->ctx, &img, s->pts, (unsigned long)ticks, flags);
  if (err) return av1_error(err);
  s->pts += ticks;

  const aom_codec_cx_pkt_t *pkt, *frame_pkt = NULL;
  int frames = 0;
  aom_codec_iter_t iter = NULL;
  while ((pkt = aom_codec_get_cx_data(&s->ctx, &iter)) != NULL) {
    if (pkt->kind != AOM_CODEC_CX_FRAME_PKT) continue;
    frame_pkt = pkt;
    frames++;
  }
  if (frames != 1 || frame_pkt->data.frame.sz == 0) return AIC_ECODEC;

  size_t n = frame_pkt->data.frame.sz;
  rc = aic_buf_reserve(out, n);
  if (rc) return rc;
  memcpy(out->data + out->size, frame_pkt->data.frame.buf, n);
  out->size += n;
  *keyframe = (frame_pkt->data.frame.flags & AOM_FRAME_IS_KEY) != 0;
  return AIC_OK;
}

static int av1_encode(void *state, const aic_frame_t *frame, const aic_codec_params_t *params,
                      aic_buf_t *out, bool *keyframe) {
  aic_i420_layout_t layout;
  int rc = aic_video_check_frame(frame, &layout);
  if (!rc) rc = aic_video_check_params(params);
  if (rc) return rc;
  if (!out || !keyframe) return AIC_EINVAL;

  if (!state) {
    void *tmp;
    rc = av1_state_create(true, &tmp);
    if (rc) return rc;
    rc = av1_enc_frame(tmp, frame, &layout, params, true, out, keyframe);
    av1_state_free(tmp);
    return rc;
  }
  av1_state_t *s = state;
  if (!s->encoder) return AIC_EINVAL;
  rc = av1_enc_frame(s, frame, &layout, params, params->keyframe, out, keyframe);
  /* After any failure the receiver may hold a reference this encoder no longer matches (the
   * packet was lost or never made): start over, so the next frame is a keyframe. */
  if (rc) av1_close(s);
  return rc;
}

/* --- decoder --- */

static int av1_dec_open(av1_state_t *s, uint32_t width, uint32_t height) {
  /* allow_lowbitdepth: without it libaom decodes 8-bit streams into 16-bit buffers. */
  aom_codec_dec_cfg_t cfg = {.threads = 1, .w = width, .h = height, .allow_lowbitdepth = 1};
  aom_codec_err_t err = aom_codec_dec_init(&s->ctx, aom_codec_av1_dx(), &cfg, 0);
  if (err) return av1_error(err);
  s->open = true;
  s->width = width;
  s->height = height;
  s->need_key = true;
  return AIC_OK;
}

/* An 8-bit picture in 16-bit containers (libaom's high-bitdepth buffers) into packed I420. */
static void av1_copy_in_16(const aic_i420_layout_t *layout, uint8_t *dst, const aom_image_t *img) {
  for (int p = 0; p < 3; p++) {
    uint8_t *out = dst + layout->offset[p];
    for (uint32_t y = 0; y < layout->height[p]; y++) {
      const uint16_t *in =
          (const uint16_t *)(const void *)(img->planes[p] + (ptrdiff_t)y * img->stride[p]);
      for (uint32_t x = 0; x < layout->width[p]; x++) out[x] = (uint8_t)in[x];
      out += layout->width[p];
    }
  }
}

static int av1_dec_frame(av1_state_t *s, const aic_frame_t *desc, const aic_i420_layout_t *layout,
                         const uint8_t *payload, size_t payload_size, uint8_t *dst) {
  /* A keyframe is a temporal unit with a sequence header and a key frame header: what a fresh
   * decoder needs. The sequence header's size is a maximum, so it is not compared here. */
  aom_codec_stream_info_t si;
  memset(&si, 0, sizeof si);
  bool is_kf =
      aom_codec_peek_stream_info(aom_codec_av1_dx(), payload, payload_size, &si) == AOM_CODEC_OK &&
      si.is_kf;
  if (s->need_key && !is_kf) return AIC_ECORRUPT;

  /* A new size starts a new stream: a fresh decoder rather than libaom's in-place resize. */
  if (!s->open || s->width != desc->width || s->height != desc->height) {
    if (!is_kf) return AIC_ECORRUPT;
    av1_close(s);
    int rc = av1_dec_open(s, desc->width, desc->height);
    if (rc) return rc;
  }

  aom_codec_err_t err = aom_codec_decode(&s->ctx, payload, payload_size, NULL);
  if (err) return err == AOM_CODEC_MEM_ERROR ? AIC_ENOMEM : AIC_ECORRUPT;
  aom_codec_iter_t iter = NULL;
  const aom_image_t *img = aom_codec_get_frame(&s->ctx, &iter);
  if (!img) return AIC_ECORRUPT;
  int corrupted = 0;
  if (aom_codec_control(&s->ctx, AOMD_GET_FRAME_CORRUPTED, &corrupted) == AOM_CODEC_OK && corrupted)
    return AIC_ECORRUPT;
  if ((img->fmt != AOM_IMG_FMT_I420 && img->fmt != AOM_IMG_FMT_I42016) || img->bit_depth != 8 ||
      img->monochrome || img->x_chroma_shift != 1 || img->y_chroma_shift != 1 ||
      img->d_w != desc->width || img->d_h != desc->height)
    return AIC_ECORRUPT;
  if (img->fmt == AOM_IMG_FMT_I42016) {
    av1_copy_in_16(layout, dst, img);
  } else {
    const uint8_t *planes[3] = {img->planes[0], img->planes[1], img->planes[2]};
    aic_i420_copy_in(layout, dst, planes, img->stride);
  }
  return AIC_OK;
}

static int av1_decode(void *state, const aic_frame_t *desc, const uint8_t *payload,
                      size_t payload_size, uint8_t *dst, size_t dst_size) {
  aic_i420_layout_t layout;
  int rc = aic_video_check_decode(desc, payload, payload_size, dst, dst_size, &layout);
  if (rc) return rc;

  if (!state) {
    void *tmp;
    rc = av1_state_create(false, &tmp);
    if (rc) return rc;
    rc = av1_dec_frame(tmp, desc, &layout, payload, payload_size, dst);
    av1_state_free(tmp);
    return rc;
  }
  av1_state_t *s = state;
  if (s->encoder) return AIC_EINVAL;
  rc = av1_dec_frame(s, desc, &layout, payload, payload_size, dst);
  /* Whatever failed, the references can no longer be trusted until the next keyframe. */
  s->need_key = rc != AIC_OK;
  return rc;
}

const aic_codec_backend_t aic_codec_av1 = {
    .id = AIC_CODEC_AV1,
    .name = "av1",
    .caps = AIC_CAP_VIDEO | AIC_CAP_INTER | AIC_CAP_YUV420,
    .state_create = av1_state_create,
    .state_free = av1_state_free,
    .encode = av1_encode,
    .decode = av1_decode,
};
