#include "bench_peers.h"

#include <aom/aom_decoder.h>
#include <aom/aom_encoder.h>
#include <aom/aomcx.h>
#include <aom/aomdx.h>
#include <stdlib.h>
#include <string.h>

#include "aic/convert.h"
#include "aic/frame.h"
#include "bench_common.h"

#ifdef AIC_BENCH_HAVE_WEBP
#include <webp/decode.h>
#include <webp/encode.h>
#endif

/* avifenc's default speed: the setting AVIF files in the wild are usually made with. */
#define AOM_STILL_CPU_USED 6

bool bench_peer_available(const char *name) {
  if (strcmp(name, "aom-still") == 0) return true;
#ifdef AIC_BENCH_HAVE_WEBP
  if (strcmp(name, "webp") == 0) return true;
#endif
  return false;
}

#ifdef AIC_BENCH_HAVE_WEBP
static void webp_run(const uint8_t *rgb, uint32_t width, uint32_t height, double quality,
                     uint8_t *out, bench_peer_result_t *r) {
  uint8_t *bits = NULL;
  double t0 = bench_now_ms();
  size_t size = WebPEncodeRGB(rgb, (int)width, (int)height, (int)width * 3, (float)quality, &bits);
  r->encode_ms = bench_now_ms() - t0;
  if (size == 0) bench_die("WebPEncodeRGB failed");
  r->bytes = size;
  int w = 0, h = 0;
  t0 = bench_now_ms();
  uint8_t *dec = WebPDecodeRGB(bits, size, &w, &h);
  r->decode_ms = bench_now_ms() - t0;
  if (!dec || (uint32_t)w != width || (uint32_t)h != height) bench_die("WebPDecodeRGB failed");
  memcpy(out, dec, (size_t)width * height * 3);
  WebPFree(dec);
  WebPFree(bits);
}
#endif

/* avifenc's quality-to-quantizer map (libavif 1.0): 0..100 onto 63..0. */
static unsigned aom_still_quantizer(double quality) {
  int q = (int)(((100.0 - quality) * 63.0 + 50.0) / 100.0);
  return (unsigned)(q < 0 ? 0 : q > 63 ? 63 : q);
}

static void aom_still_run(const uint8_t *rgb, uint32_t width, uint32_t height, double quality,
                          uint8_t *out, bench_peer_result_t *r) {
  size_t i420_size;
  if (aic_pixel_format_size(AIC_PIX_I420, width, height, &i420_size)) bench_die("bad picture size");
  uint8_t *i420 = bench_xmalloc(i420_size);
  aic_frame_t src = {.type = AIC_FRAME_VIDEO,
                     .pix_fmt = AIC_PIX_RGB24,
                     .width = width,
                     .height = height,
                     .data = rgb,
                     .size = (size_t)width * height * 3};
  /* Same RGB -> I420 as libaic's codecs get, so only the codec differs. */
  double t0 = bench_now_ms();
  if (aic_picture_to_i420(&src, i420)) bench_die("aic_picture_to_i420 failed");

  aom_codec_enc_cfg_t cfg;
  if (aom_codec_enc_config_default(aom_codec_av1_cx(), &cfg, AOM_USAGE_ALL_INTRA))
    bench_die("aom: no all-intra config");
  unsigned q = aom_still_quantizer(quality);
  cfg.g_w = width;
  cfg.g_h = height;
  cfg.g_threads = 1;
  cfg.g_limit = 1;
  cfg.g_lag_in_frames = 0;
  cfg.rc_end_usage = AOM_Q;
  cfg.rc_min_quantizer = q;
  cfg.rc_max_quantizer = q;
  aom_codec_ctx_t enc;
  if (aom_codec_enc_init(&enc, aom_codec_av1_cx(), &cfg, 0)) bench_die("aom: encoder init");
  if (aom_codec_control(&enc, AOME_SET_CPUUSED, AOM_STILL_CPU_USED) ||
      aom_codec_control(&enc, AOME_SET_CQ_LEVEL, q))
    bench_die("aom: encoder control");
  aom_image_t img;
  aom_img_wrap(&img, AOM_IMG_FMT_I420, width, height, 1, i420);
  /* aom_img_wrap assumes chroma strides of width / 2; the packed layout rounds up. */
  uint32_t cw = (width + 1) / 2, ch = (height + 1) / 2;
  img.stride[AOM_PLANE_U] = img.stride[AOM_PLANE_V] = (int)cw;
  img.planes[AOM_PLANE_U] = i420 + (size_t)width * height;
  img.planes[AOM_PLANE_V] = img.planes[AOM_PLANE_U] + (size_t)cw * ch;
  uint8_t *bits = NULL;
  size_t size = 0;
  for (int flush = 0; flush < 2; flush++) {
    if (aom_codec_encode(&enc, flush ? NULL : &img, 0, 1, 0)) bench_die("aom: encode");
    aom_codec_iter_t iter = NULL;
    const aom_codec_cx_pkt_t *pkt;
    while ((pkt = aom_codec_get_cx_data(&enc, &iter))) {
      if (pkt->kind != AOM_CODEC_CX_FRAME_PKT) continue;
      bits = realloc(bits, size + pkt->data.frame.sz);
      if (!bits) bench_die("out of memory");
      memcpy(bits + size, pkt->data.frame.buf, pkt->data.frame.sz);
      size += pkt->data.frame.sz;
    }
  }
  aom_codec_destroy(&enc);
  r->encode_ms = bench_now_ms() - t0;
  if (!size) bench_die("aom: no packet");
  r->bytes = size;

  t0 = bench_now_ms();
  aom_codec_ctx_t dec;
  if (aom_codec_dec_init(&dec, aom_codec_av1_dx(), NULL, 0)) bench_die("aom: decoder init");
  if (aom_codec_decode(&dec, bits, size, NULL)) bench_die("aom: decode");
  aom_codec_iter_t iter = NULL;
  aom_image_t *d = aom_codec_get_frame(&dec, &iter);
  if (!d || d->d_w != width || d->d_h != height || d->fmt != AOM_IMG_FMT_I420)
    bench_die("aom: unexpected decoded picture");
  for (int p = 0; p < 3; p++) {
    uint32_t pw = p ? cw : width, ph = p ? ch : height;
    uint8_t *dst = i420 + (p == 0 ? 0 : (size_t)width * height + (p - 1) * (size_t)cw * ch);
    for (uint32_t y = 0; y < ph; y++)
      memcpy(dst + (size_t)y * pw, d->planes[p] + (size_t)y * (size_t)d->stride[p], pw);
  }
  aom_codec_destroy(&dec);
  if (aic_picture_from_i420(i420, width, height, AIC_PIX_RGB24, out))
    bench_die("aic_picture_from_i420 failed");
  r->decode_ms = bench_now_ms() - t0;
  free(bits);
  free(i420);
}

void bench_peer_run(const char *name, const uint8_t *rgb, uint32_t width, uint32_t height,
                    double quality, uint8_t *out, bench_peer_result_t *r) {
  memset(r, 0, sizeof *r);
#ifdef AIC_BENCH_HAVE_WEBP
  if (strcmp(name, "webp") == 0) {
    webp_run(rgb, width, height, quality, out, r);
    return;
  }
#endif
  if (strcmp(name, "aom-still") == 0) {
    aom_still_run(rgb, width, height, quality, out, r);
    return;
  }
  bench_die("peer %s is not in this build", name);
}
