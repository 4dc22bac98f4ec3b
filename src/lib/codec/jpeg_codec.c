/* Lossy still-picture backend on TurboJPEG: every frame is an independent baseline JPEG coded
 * straight from the I420 planes (4:2:0, no colour conversion either way), so a frame decodes on
 * its own and the reconstruction is compared with the input plane by plane.
 *
 * Stateless: a TurboJPEG handle is created per call and destroyed on every path, so concurrent
 * sessions share nothing (TurboJPEG handles are not thread-safe, and a handle primed with
 * tables by one payload must not influence the next). */
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <turbojpeg.h>

#include "aic/error.h"
#include "codec/backend.h"

/* JPEG's own limit (libjpeg JPEG_MAX_DIMENSION); larger pictures are not codable at all. */
#define JPEG_MAX_DIM 65500u

/* quality 0..100 maps linearly onto JPEG quality 1..100: q = 1 + round(0.99 * quality).
 * libjpeg's quality already scales the quantisation tables smoothly (50 = the standard's
 * example tables, 100 = all ones), so a linear map keeps the AIC knob as familiar as the JPEG
 * one; it is monotonic and hits both ends (0 -> 1, 75 -> 75, 100 -> 100). */
static int jpeg_quality_for(double quality) {
  if (quality < 0.0) quality = 0.0;
  if (quality > 100.0) quality = 100.0;
  int q = 1 + (int)lround(quality * 0.99);
  return q < 1 ? 1 : q > 100 ? 100 : q;
}

/* Plane geometry of a tightly packed I420 picture. TurboJPEG's planar YUV differs in one way
 * (turbojpeg.h, "YUV Image Format Notes"): for 4:2:0 the *luma* plane is padded to even width
 * and height (luma_w x luma_h) whatever the strides say, so with an odd dimension it reads
 * (encode) and writes (decode) one column and one row past a tightly packed Y plane. Chroma
 * planes are ceil(w/2) x ceil(h/2) in both worlds. Odd pictures therefore go through a padded
 * copy of the luma plane; even ones, the usual case, are coded in place. */
typedef struct i420_layout {
  int width, height;
  int chroma_w;
  size_t luma_w, luma_h; /* TurboJPEG's luma plane */
  size_t offsets[3];
  size_t total;
} i420_layout_t;

static int i420_layout(uint32_t width, uint32_t height, i420_layout_t *l) {
  if (width == 0 || height == 0) return AIC_EINVAL;
  if (width > JPEG_MAX_DIM || height > JPEG_MAX_DIM) return AIC_EUNSUPPORTED;
  size_t cw = ((size_t)width + 1) / 2, ch = ((size_t)height + 1) / 2;
  size_t luma = (size_t)width * height, chroma = cw * ch;
  l->width = (int)width;
  l->height = (int)height;
  l->chroma_w = (int)cw;
  l->luma_w = 2 * cw;
  l->luma_h = 2 * ch;
  l->offsets[0] = 0;
  l->offsets[1] = luma;
  l->offsets[2] = luma + chroma;
  l->total = luma + 2 * chroma;
  return AIC_OK;
}

static bool i420_padded(const i420_layout_t *l) {
  return l->luma_w != (size_t)l->width || l->luma_h != (size_t)l->height;
}

/* Copies the Y plane into TurboJPEG's padded one, repeating the last column and row: the padding
 * is sampled into the picture's edge blocks, and repeating the edge costs the fewest bits. */
static void luma_pad(const uint8_t *y, const i420_layout_t *l, uint8_t *padded) {
  size_t w = (size_t)l->width, h = (size_t)l->height;
  for (size_t r = 0; r < l->luma_h; r++) {
    const uint8_t *src = y + (r < h ? r : h - 1) * w;
    uint8_t *dst = padded + r * l->luma_w;
    memcpy(dst, src, w);
    for (size_t c = w; c < l->luma_w; c++) dst[c] = src[w - 1];
  }
}

static int jpeg_encode(void *state, const aic_frame_t *frame, const aic_codec_params_t *params,
                       aic_buf_t *out, bool *keyframe) {
  (void)state;
  if (!frame || !params || !out || !keyframe || !frame->data) return AIC_EINVAL;
  if (frame->pix_fmt != AIC_PIX_I420) return AIC_EINVAL; /* the engine converts first */
  if (isnan(params->quality)) return AIC_EINVAL;
  i420_layout_t l;
  int rc = i420_layout(frame->width, frame->height, &l);
  if (rc) return rc;
  if (frame->size != l.total) return AIC_EINVAL;

  /* Worst case up front, written in place with NOREALLOC: saves TurboJPEG's own buffer and a
   * copy per frame. The bound is virtual memory mostly; only the bytes written are touched. */
  unsigned long bound = tjBufSize(l.width, l.height, TJSAMP_420);
  if (bound == (unsigned long)-1) return AIC_ELIMIT;
  rc = aic_buf_reserve(out, bound);
  if (rc) return rc;

  uint8_t *padded = NULL;
  const unsigned char *planes[3] = {frame->data + l.offsets[0], frame->data + l.offsets[1],
                                    frame->data + l.offsets[2]};
  int strides[3] = {l.width, l.chroma_w, l.chroma_w};
  if (i420_padded(&l)) {
    padded = malloc(l.luma_w * l.luma_h);
    if (!padded) return AIC_ENOMEM;
    luma_pad(frame->data, &l, padded);
    planes[0] = padded;
    strides[0] = (int)l.luma_w;
  }

  /* libjpeg-turbo 2.1's compressor picks the fast integer DCT below JPEG quality 96 unless
   * TJFLAG_ACCURATEDCT is given (TJFLAG_FASTDCT is what the flag-less call already does, and
   * 3.x flips the default to accurate, so both are spelt out). On 640x360 test pictures the
   * accurate DCT was equal at quality 75 but gave +0.1..0.7 dB at 90 and +0.3..1.6 dB with up
   * to 4% fewer bytes at 95, for an encode time within measurement noise (both are SIMD). So
   * it is the default, and the fast one is kept for callers asking for the fastest encoder. */
  int flags = TJFLAG_NOREALLOC | (params->speed >= 8 ? TJFLAG_FASTDCT : TJFLAG_ACCURATEDCT);
  unsigned char *dst = out->data + out->size;
  unsigned long dst_size = bound;

  rc = AIC_ENOMEM;
  tjhandle tj = tjInitCompress();
  if (tj) {
    int err = tjCompressFromYUVPlanes(tj, planes, l.width, strides, l.height, TJSAMP_420, &dst,
                                      &dst_size, jpeg_quality_for(params->quality), flags);
    rc = (err != 0 || dst != out->data + out->size || dst_size > bound) ? AIC_ECODEC : AIC_OK;
    tjDestroy(tj);
  }
  free(padded);
  if (rc) return rc;
  out->size += dst_size;
  *keyframe = true;
  return AIC_OK;
}

static int jpeg_decode(void *state, const aic_frame_t *desc, const uint8_t *payload,
                       size_t payload_size, uint8_t *dst, size_t dst_size) {
  (void)state;
  if (!desc || !dst || (!payload && payload_size)) return AIC_EINVAL;
  if (desc->pix_fmt != AIC_PIX_I420) return AIC_EINVAL;
  i420_layout_t l;
  int rc = i420_layout(desc->width, desc->height, &l);
  if (rc) return rc;
  if (dst_size != l.total) return AIC_EINVAL;
  /* Our encoder always ends the payload with EOI. libjpeg stops at the first EOI and ignores
   * whatever follows, so at least a payload that does not end in one is refused. */
  if (payload_size < 4 || payload_size > ULONG_MAX || payload[payload_size - 2] != 0xFF ||
      payload[payload_size - 1] != 0xD9)
    return AIC_ECORRUPT;

  tjhandle tj = tjInitDecompress();
  if (!tj) return AIC_ENOMEM;
  uint8_t *padded = NULL;
  int w = 0, h = 0, subsamp = -1, colorspace = -1;
  rc = AIC_ECORRUPT;
  /* Dimensions are checked before anything is decoded, so a hostile header cannot make
   * TurboJPEG scale, allocate for, or spend time on a picture other than the promised one. */
  if (tjDecompressHeader3(tj, payload, (unsigned long)payload_size, &w, &h, &subsamp,
                          &colorspace) != 0)
    goto done;
  if (w != l.width || h != l.height || subsamp != TJSAMP_420 || colorspace != TJCS_YCbCr) goto done;
  unsigned char *planes[3] = {dst + l.offsets[0], dst + l.offsets[1], dst + l.offsets[2]};
  int strides[3] = {l.width, l.chroma_w, l.chroma_w};
  if (i420_padded(&l)) {
    rc = AIC_ENOMEM;
    padded = malloc(l.luma_w * l.luma_h);
    if (!padded) goto done;
    rc = AIC_ECORRUPT;
    planes[0] = padded;
    strides[0] = (int)l.luma_w;
  }
  /* libjpeg only *warns* on truncated or damaged entropy data ("Premature end of JPEG file")
   * and pads the picture with grey. TurboJPEG turns any warning into -1 (tjGetErrorCode then
   * says TJERR_WARNING), and every -1 is taken as corrupt, so such a picture is never accepted;
   * STOPONWARNING merely stops the wasted work at the first one. LIMITSCANS bounds the work a
   * hostile progressive JPEG can demand. */
  int flags = TJFLAG_STOPONWARNING | TJFLAG_LIMITSCANS;
  if (tjDecompressToYUVPlanes(tj, payload, (unsigned long)payload_size, planes, l.width, strides,
                              l.height, flags) != 0)
    goto done;
  if (padded)
    for (size_t r = 0; r < (size_t)l.height; r++)
      memcpy(dst + r * (size_t)l.width, padded + r * l.luma_w, (size_t)l.width);
  rc = AIC_OK;
done:
  free(padded);
  tjDestroy(tj);
  return rc;
}

const aic_codec_backend_t aic_codec_jpeg = {
    .id = AIC_CODEC_JPEG,
    .name = "jpeg",
    .caps = AIC_CAP_VIDEO | AIC_CAP_YUV420,
    .encode = jpeg_encode,
    .decode = jpeg_decode,
};
