/* Lossless backend on zlib (deflate), for peers that only speak deflate. */
#include <limits.h>
#include <zlib.h>

#include "aic/error.h"
#include "codec/backend.h"

static int zlib_level_for(int level) {
  static const int map[] = {1, 1, 2, 3, 4, 5, 6, 6};
  if (level < 1) level = 1;
  if (level > 8) level = 8;
  return map[level - 1];
}

static int zlib_encode(void *state, const aic_frame_t *frame, const aic_codec_params_t *params,
                       aic_buf_t *out, bool *keyframe) {
  (void)state;
  *keyframe = true;
  if (frame->size > ULONG_MAX / 2) return AIC_ELIMIT;
  uLongf bound = compressBound((uLong)frame->size);
  int rc = aic_buf_reserve(out, bound);
  if (rc) return rc;
  if (compress2(out->data + out->size, &bound, frame->data, (uLong)frame->size,
                zlib_level_for(params->level)) != Z_OK)
    return AIC_ECODEC;
  out->size += bound;
  return AIC_OK;
}

static int zlib_decode(void *state, const aic_frame_t *desc, const uint8_t *payload,
                       size_t payload_size, uint8_t *dst, size_t dst_size) {
  (void)state;
  (void)desc;
  if (payload_size > ULONG_MAX || dst_size > ULONG_MAX) return AIC_ELIMIT;
  uLongf n = (uLongf)dst_size;
  uLong consumed = (uLong)payload_size;
  /* uncompress2 reports how much input it used: trailing bytes mean a spliced stream. */
  if (uncompress2(dst, &n, payload, &consumed) != Z_OK || n != dst_size || consumed != payload_size)
    return AIC_ECORRUPT;
  return AIC_OK;
}

const aic_codec_backend_t aic_codec_zlib = {
    .id = AIC_CODEC_ZLIB,
    .name = "zlib",
    .caps = AIC_CAP_LOSSLESS | AIC_CAP_VIDEO | AIC_CAP_AUDIO,
    .encode = zlib_encode,
    .decode = zlib_decode,
};
