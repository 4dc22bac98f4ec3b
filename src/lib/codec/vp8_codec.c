/* VP8 on libvpx in its real-time configuration: one I420 frame in, one raw VP8 frame out, no
 * lookahead, keyframes only when the engine asks (or the picture size changes). */
#include <stdlib.h>
#include <string.h>
#include <vpx/vp8cx.h>
#include <vpx/vp8dx.h>
#include <vpx/vpx_decoder.h>
#include <vpx/vpx_encoder.h>

#include "aic/error.h"
#include "codec/backend.h"
#include "codec/video_common.h"

/* VP8 frame headers carry 14-bit dimensions. */
#define VP8_MAX_DIM 16383u

/* Far beyond any real-time stream; the cap keeps the encoder's per-frame budgets (ints) from
 * overflowing on an absurd request. */
#define VP8_MAX_KBPS 1000000u

/* Rate control bounds in CBR: WebRTC's, which keep the encoder off q 0..1 (many bits for no
 * visible gain) and off 57..63 (blocking that rate control cannot climb back out of quickly). */
#define VP8_CBR_Q_BEST 2
#define VP8_CBR_Q_WORST 56

typedef struct vp8_state {
  bool encoder;
  bool open; /* ctx is initialised */
  vpx_codec_ctx_t ctx;
  uint32_t width, height; /* what ctx was opened for */
  /* Encoder only. */
  vpx_codec_enc_cfg_t cfg; /* the configuration ctx runs with */
  int cpu_used;
  int64_t pts; /* of the next frame, AIC_VIDEO_TIMEBASE_HZ ticks */
  /* Decoder only: the references are missing or broken, so only a keyframe can decode. */
  bool need_key;
} vp8_state_t;

static int vp8_error(vpx_codec_err_t err) {
  return err == VPX_CODEC_MEM_ERROR ? AIC_ENOMEM : AIC_ECODEC;
}

static void vp8_close(vp8_state_t *s) {
  if (s->open) vpx_codec_destroy(&s->ctx);
  s->open = false;
}

static int vp8_state_create(bool encoder, void **state) {
  vp8_state_t *s = calloc(1, sizeof *s);
  if (!s) return AIC_ENOMEM;
  s->encoder = encoder;
  s->need_key = true;
  *state = s;
  return AIC_OK;
}

static void vp8_state_free(void *state) {
  vp8_state_t *s = state;
  if (!s) return;
  vp8_close(s);
  free(s);
}

/* --- encoder --- */

/* Speed 0..9 onto realtime cpu-used. Negative values because a positive cpu-used in realtime
 * mode lets libvpx raise the speed on its own whenever encoding takes longer than the frame
 * interval, which makes the output depend on machine load; the engine does its own speed
 * adaptation. -4 is the slowest realtime setting, -6 WebRTC's desktop default, -12 its mobile
 * one, -16 the fastest. */
static int vp8_cpu_used(const aic_codec_params_t *params) {
  static const int map[10] = {-4, -5, -6, -7, -8, -9, -10, -12, -14, -16};
  return map[aic_video_speed(params)];
}

/* Fixed quality pins both quantizer bounds to one value: every frame, keyframes included, then
 * uses exactly the quantizer the engine chose, and rate control has nothing left to decide
 * (VP8's CQ mode would only use the level as a floor while chasing a bitrate). */
static void vp8_rate_config(vpx_codec_enc_cfg_t *cfg, const aic_codec_params_t *params) {
  if (params->bitrate_kbps > 0) {
    cfg->rc_end_usage = VPX_CBR;
    cfg->rc_target_bitrate =
        params->bitrate_kbps > VP8_MAX_KBPS ? VP8_MAX_KBPS : params->bitrate_kbps;
    cfg->rc_min_quantizer = VP8_CBR_Q_BEST;
    cfg->rc_max_quantizer = VP8_CBR_Q_WORST;
  } else {
    unsigned q = (unsigned)aic_video_quantizer(params->quality, 0, 63);
    cfg->rc_end_usage = VPX_VBR;
    cfg->rc_min_quantizer = q;
    cfg->rc_max_quantizer = q;
  }
}

static bool vp8_same_rate(const vpx_codec_enc_cfg_t *a, const vpx_codec_enc_cfg_t *b) {
  return a->rc_end_usage == b->rc_end_usage && a->rc_target_bitrate == b->rc_target_bitrate &&
         a->rc_min_quantizer == b->rc_min_quantizer && a->rc_max_quantizer == b->rc_max_quantizer;
}

static int vp8_enc_open(vp8_state_t *s, uint32_t width, uint32_t height,
                        const aic_codec_params_t *params) {
  vpx_codec_enc_cfg_t cfg;
  vpx_codec_err_t err = vpx_codec_enc_config_default(vpx_codec_vp8_cx(), &cfg, 0);
  if (err) return vp8_error(err);
  cfg.g_w = width;
  cfg.g_h = height;
  cfg.g_timebase.num = 1;
  cfg.g_timebase.den = AIC_VIDEO_TIMEBASE_HZ;
  cfg.g_threads = (unsigned)aic_video_threads(params);
  cfg.g_pass = VPX_RC_ONE_PASS;
  cfg.g_lag_in_frames = 0; /* a buffered frame would break one-packet-per-frame */
  cfg.g_error_resilient = 0;
  cfg.rc_dropframe_thresh = 0; /* a dropped frame would be a frame with no packet */
  cfg.rc_resize_allowed = 0;   /* the engine owns the picture size */
  cfg.kf_mode = VPX_KF_DISABLED;
  cfg.kf_min_dist = 0;
  cfg.kf_max_dist = 1u << 30;
  /* CBR buffer model (ms), WebRTC's: a 1 s buffer refilled towards 600 ms lets a keyframe
   * overshoot without starving the frames after it for long. */
  cfg.rc_buf_sz = 1000;
  cfg.rc_buf_initial_sz = 500;
  cfg.rc_buf_optimal_sz = 600;
  cfg.rc_undershoot_pct = 100;
  cfg.rc_overshoot_pct = 15;
  vp8_rate_config(&cfg, params);

  err = vpx_codec_enc_init(&s->ctx, vpx_codec_vp8_cx(), &cfg, 0);
  if (err) return vp8_error(err);
  s->open = true;
  s->cfg = cfg;
  s->width = width;
  s->height = height;
  s->cpu_used = vp8_cpu_used(params);
  /* A keyframe may take this many percent of an average frame's bits: WebRTC's formula for a
   * 600 ms optimal buffer at 30 fps (0.5 * 600 * 30 / 10); it only bounds CBR. */
  if (vpx_codec_control(&s->ctx, VP8E_SET_CPUUSED, s->cpu_used) ||
      vpx_codec_control(&s->ctx, VP8E_SET_MAX_INTRA_BITRATE_PCT, 900u)) {
    vp8_close(s);
    return AIC_ECODEC;
  }
  s->pts = 0;
  return AIC_OK;
}

/* Brings the session's encoder in line with this frame: (re)opened for a new size or thread
 * count (the thread pool is sized at init), otherwise only the rate settings and speed change.
 * Sets *fresh when the encoder was (re)opened, as its first frame is a keyframe. */
static int vp8_enc_prepare(vp8_state_t *s, const aic_frame_t *frame,
                           const aic_codec_params_t *params, bool *fresh) {
  *fresh = false;
  if (!s->open || s->width != frame->width || s->height != frame->height ||
      s->cfg.g_threads != (unsigned)aic_video_threads(params)) {
    vp8_close(s);
    *fresh = true;
    return vp8_enc_open(s, frame->width, frame->height, params);
  }
  vpx_codec_enc_cfg_t cfg = s->cfg;
  vp8_rate_config(&cfg, params);
  if (!vp8_same_rate(&cfg, &s->cfg)) {
    vpx_codec_err_t err = vpx_codec_enc_config_set(&s->ctx, &cfg);
    if (err) return vp8_error(err);
    s->cfg = cfg;
  }
  int cpu_used = vp8_cpu_used(params);
  if (cpu_used != s->cpu_used) {
    if (vpx_codec_control(&s->ctx, VP8E_SET_CPUUSED, cpu_used)) return AIC_ECODEC;
    s->cpu_used = cpu_used;
  }
  return AIC_OK;
}

static int vp8_enc_frame(vp8_state_t *s, const aic_frame_t *frame, const aic_i420_layout_t *layout,
                         const aic_codec_params_t *params, bool force_key, aic_buf_t *out,
                         bool *keyframe) {
  bool fresh;
  int rc = vp8_enc_prepare(s, frame, params, &fresh);
  if (rc) return rc;

  /* vpx_img_wrap pads odd widths to an even stride; the engine's planes are tightly packed, so
   * the plane pointers and strides are set by hand. libvpx only reads the source. */
  vpx_image_t img;
  uint8_t *data = (uint8_t *)frame->data;
  if (!vpx_img_wrap(&img, VPX_IMG_FMT_I420, frame->width, frame->height, 1, data))
    return AIC_ECODEC;
  for (int p = 0; p < 3; p++) {
    img.planes[p] = data + layout->offset[p];
    img.stride[p] = (int)layout->width[p];
  }

  int64_t ticks = aic_video_frame_ticks(params->fps);
  vpx_enc_frame_flags_t flags = (force_key || fresh) ? VPX_EFLAG_FORCE_KF : 0;
  vpx_codec_err_t err =
      vpx_codec_encode(&s->ctx, &img, s->pts, (unsigned long)ticks, flags, VPX_DL_REALTIME);
  if (err) return vp8_error(err);
  s->pts += ticks;

  const vpx_codec_cx_pkt_t *pkt, *frame_pkt = NULL;
  int frames = 0;
  vpx_codec_iter_t iter = NULL;
  while ((pkt = vpx_codec_get_cx_data(&s->ctx, &iter)) != NULL) {
    if (pkt->kind != VPX_CODEC_CX_FRAME_PKT) continue;
    frame_pkt = pkt;
    frames++;
  }
  if (frames != 1 || frame_pkt->data.frame.sz == 0) return AIC_ECODEC;

  size_t n = frame_pkt->data.frame.sz;
  rc = aic_buf_reserve(out, n);
  if (rc) return rc;
  memcpy(out->data + out->size, frame_pkt->data.frame.buf, n);
  out->size += n;
  *keyframe = (frame_pkt->data.frame.flags & VPX_FRAME_IS_KEY) != 0;
  return AIC_OK;
}

static int vp8_encode(void *state, const aic_frame_t *frame, const aic_codec_params_t *params,
                      aic_buf_t *out, bool *keyframe) {
  aic_i420_layout_t layout;
  int rc = aic_video_check_frame(frame, &layout);
  if (!rc) rc = aic_video_check_params(params);
  if (rc) return rc;
  if (!out || !keyframe) return AIC_EINVAL;
  if (frame->width > VP8_MAX_DIM || frame->height > VP8_MAX_DIM) return AIC_EUNSUPPORTED;

  if (!state) {
    void *tmp;
    rc = vp8_state_create(true, &tmp);
    if (rc) return rc;
    rc = vp8_enc_frame(tmp, frame, &layout, params, true, out, keyframe);
    vp8_state_free(tmp);
    return rc;
  }
  vp8_state_t *s = state;
  if (!s->encoder) return AIC_EINVAL;
  rc = vp8_enc_frame(s, frame, &layout, params, params->keyframe, out, keyframe);
  /* After any failure the receiver may hold a reference this encoder no longer matches (the
   * packet was lost or never made): start over, so the next frame is a keyframe. */
  if (rc) vp8_close(s);
  return rc;
}

/* --- decoder --- */

static int vp8_dec_open(vp8_state_t *s, uint32_t width, uint32_t height) {
  vpx_codec_dec_cfg_t cfg = {.threads = 1, .w = width, .h = height};
  vpx_codec_err_t err = vpx_codec_dec_init(&s->ctx, vpx_codec_vp8_dx(), &cfg, 0);
  if (err) return vp8_error(err);
  s->open = true;
  s->width = width;
  s->height = height;
  s->need_key = true;
  return AIC_OK;
}

static int vp8_dec_frame(vp8_state_t *s, const aic_frame_t *desc, const aic_i420_layout_t *layout,
                         const uint8_t *payload, size_t payload_size, uint8_t *dst) {
  vpx_codec_stream_info_t si = {.sz = sizeof si};
  /* Only keyframes peek successfully (inter frames carry no stream info). */
  bool is_kf = vpx_codec_peek_stream_info(vpx_codec_vp8_dx(), payload, (unsigned)payload_size,
                                          &si) == VPX_CODEC_OK &&
               si.is_kf;
  if (is_kf && (si.w != desc->width || si.h != desc->height)) return AIC_ECORRUPT;
  if (s->need_key && !is_kf) return AIC_ECORRUPT;

  /* A new size starts a new stream: a fresh decoder rather than libvpx's in-place resize. */
  if (!s->open || s->width != desc->width || s->height != desc->height) {
    if (!is_kf) return AIC_ECORRUPT;
    vp8_close(s);
    int rc = vp8_dec_open(s, desc->width, desc->height);
    if (rc) return rc;
  }

  vpx_codec_err_t err = vpx_codec_decode(&s->ctx, payload, (unsigned)payload_size, NULL, 0);
  if (err) return err == VPX_CODEC_MEM_ERROR ? AIC_ENOMEM : AIC_ECORRUPT;
  /* libvpx conceals some damage (a truncated last partition, a corrupt reference) and still
   * returns a picture; it only says so through this flag. */
  int corrupted = 0;
  if (vpx_codec_control(&s->ctx, VP8D_GET_FRAME_CORRUPTED, &corrupted) == VPX_CODEC_OK && corrupted)
    return AIC_ECORRUPT;
  vpx_codec_iter_t iter = NULL;
  const vpx_image_t *img = vpx_codec_get_frame(&s->ctx, &iter);
  if (!img || img->fmt != VPX_IMG_FMT_I420 || img->bit_depth != 8 || img->d_w != desc->width ||
      img->d_h != desc->height)
    return AIC_ECORRUPT;
  const uint8_t *planes[3] = {img->planes[0], img->planes[1], img->planes[2]};
  aic_i420_copy_in(layout, dst, planes, img->stride);
  return AIC_OK;
}

static int vp8_decode(void *state, const aic_frame_t *desc, const uint8_t *payload,
                      size_t payload_size, uint8_t *dst, size_t dst_size) {
  aic_i420_layout_t layout;
  int rc = aic_video_check_decode(desc, payload, payload_size, dst, dst_size, &layout);
  if (rc) return rc;
  if (desc->width > VP8_MAX_DIM || desc->height > VP8_MAX_DIM) return AIC_ECORRUPT;

  if (!state) {
    void *tmp;
    rc = vp8_state_create(false, &tmp);
    if (rc) return rc;
    rc = vp8_dec_frame(tmp, desc, &layout, payload, payload_size, dst);
    vp8_state_free(tmp);
    return rc;
  }
  vp8_state_t *s = state;
  if (s->encoder) return AIC_EINVAL;
  rc = vp8_dec_frame(s, desc, &layout, payload, payload_size, dst);
  /* Whatever failed, the references can no longer be trusted until the next keyframe. */
  s->need_key = rc != AIC_OK;
  return rc;
}

const aic_codec_backend_t aic_codec_vp8 = {
    .id = AIC_CODEC_VP8,
    .name = "vp8",
    .caps = AIC_CAP_VIDEO | AIC_CAP_INTER | AIC_CAP_YUV420,
    .state_create = vp8_state_create,
    .state_free = vp8_state_free,
    .encode = vp8_encode,
    .decode = vp8_decode,
};
