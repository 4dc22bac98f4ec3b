/* Lossless backend on zstd: the last-resort fallback and the LOSSLESS mode's codec. */
#include <zstd.h>

#include "aic/error.h"
#include "codec/backend.h"

/* Level 1..8 maps onto zstd levels chosen for real-time use: even "8" stays fast enough for
 * a 1080p frame inside a frame interval on one core. */
static int zstd_level_for(int level) {
  static const int map[] = {1, 1, 2, 3, 3, 5, 7, 9};
  if (level < 1) level = 1;
  if (level > 8) level = 8;
  return map[level - 1];
}

static int zstd_encode(void *state, const aic_frame_t *frame, const aic_codec_params_t *params,
                       aic_buf_t *out, bool *keyframe) {
  (void)state;
  *keyframe = true;
  size_t bound = ZSTD_compressBound(frame->size);
  int rc = aic_buf_reserve(out, bound);
  if (rc) return rc;
  size_t n = ZSTD_compress(out->data + out->size, bound, frame->data, frame->size,
                           zstd_level_for(params->level));
  if (ZSTD_isError(n)) return AIC_ECODEC;
  out->size += n;
  return AIC_OK;
}

static int zstd_decode(void *state, const aic_frame_t *desc, const uint8_t *payload,
                       size_t payload_size, uint8_t *dst, size_t dst_size) {
  (void)state;
  (void)desc;
  /* The frame header must announce exactly the size the AIC header promised; anything else
   * is a corrupt or spliced bitstream. */
  unsigned long long content = ZSTD_getFrameContentSize(payload, payload_size);
  if (content == ZSTD_CONTENTSIZE_ERROR || content == ZSTD_CONTENTSIZE_UNKNOWN ||
      content != (unsigned long long)dst_size)
    return AIC_ECORRUPT;
  size_t n = ZSTD_decompress(dst, dst_size, payload, payload_size);
  if (ZSTD_isError(n) || n != dst_size) return AIC_ECORRUPT;
  return AIC_OK;
}

const aic_codec_backend_t aic_codec_zstd = {
    .id = AIC_CODEC_ZSTD,
    .name = "zstd",
    .caps = AIC_CAP_LOSSLESS | AIC_CAP_VIDEO | AIC_CAP_AUDIO,
    .encode = zstd_encode,
    .decode = zstd_decode,
};
