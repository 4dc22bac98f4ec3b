#include "codec/bitstream.h"

#include <string.h>
#include <zlib.h>

#include "aic/error.h"
#include "core/log_internal.h"
#include "core/byteorder.h"

static const uint8_t magic[4] = {'A', 'I', 'C', 'F'};

static uint32_t checksum(const uint8_t *header, const uint8_t *payload, size_t payload_size) {
  uLong crc = crc32(0L, Z_NULL, 0);
  crc = crc32(crc, header, 28);
  /* crc32 takes uInt lengths: feed large payloads in pieces. */
  while (payload_size > 0) {
    uInt chunk = payload_size > (1u << 30) ? (1u << 30) : (uInt)payload_size;
    crc = crc32(crc, payload, chunk);
    payload += chunk;
    payload_size -= chunk;
  }
  return (uint32_t)crc;
}

int aic_bitstream_header_write(const aic_bitstream_header_t *h, const uint8_t *payload,
                               uint8_t out[AIC_BITSTREAM_HEADER_SIZE]) {
  if (!h || !out || (h->payload_size && !payload)) return AIC_EINVAL;
  const aic_frame_t *d = &h->desc;
  uint32_t dim_a, dim_b, channels = 0, format;
  if (d->type == AIC_FRAME_AUDIO) {
    size_t frame_bytes = aic_audio_format_bytes(d->audio_fmt) * d->channels;
    if (frame_bytes == 0 || d->size / frame_bytes > UINT32_MAX) return AIC_ELIMIT;
    dim_a = d->sample_rate;
    dim_b = (uint32_t)(d->size / frame_bytes);
    channels = d->channels;
    format = d->audio_fmt;
  } else {
    dim_a = d->width;
    dim_b = d->height;
    format = d->pix_fmt;
  }
  memset(out, 0, AIC_BITSTREAM_HEADER_SIZE);
  memcpy(out, magic, 4);
  out[4] = AIC_BITSTREAM_VERSION;
  out[5] = AIC_BITSTREAM_HEADER_SIZE;
  out[6] = (uint8_t)h->codec;
  out[7] = h->flags;
  out[8] = (uint8_t)d->type;
  out[9] = (uint8_t)format;
  aic_put_le16(out + 10, h->model_id);
  aic_put_le16(out + 12, h->model_version);
  aic_put_le16(out + 14, channels);
  aic_put_le32(out + 16, dim_a);
  aic_put_le32(out + 20, dim_b);
  aic_put_le32(out + 24, h->payload_size);
  aic_put_le32(out + 28, checksum(out, payload, h->payload_size));
  return AIC_OK;
}

static int parse_desc(const uint8_t *buf, const aic_frame_limits_t *limits, aic_frame_t *d,
                      char *why, size_t why_size) {
  memset(d, 0, sizeof *d);
  d->type = (aic_frame_type_t)buf[8];
  uint32_t dim_a = aic_get_le32(buf + 16), dim_b = aic_get_le32(buf + 20);
  if (d->type == AIC_FRAME_AUDIO) {
    d->audio_fmt = (aic_audio_format_t)buf[9];
    d->sample_rate = dim_a;
    d->channels = aic_get_le16(buf + 14);
    size_t bps = aic_audio_format_bytes(d->audio_fmt);
    if (bps == 0 || d->channels == 0 || d->channels > 8 || dim_b == 0) {
      aic_set_why(why, why_size, "bitstream header describes invalid audio");
      return AIC_ECORRUPT;
    }
    if (dim_b > limits->max_audio_samples) {
      aic_set_why(why, why_size, "bitstream header has %u audio samples, over the limit %u", dim_b,
                  limits->max_audio_samples);
      return AIC_ECORRUPT;
    }
    d->size = (size_t)dim_b * bps * d->channels;
  } else if (d->type == AIC_FRAME_VIDEO || d->type == AIC_FRAME_SCREEN) {
    d->pix_fmt = (aic_pixel_format_t)buf[9];
    d->width = dim_a;
    d->height = dim_b;
    if (aic_pixel_format_size(d->pix_fmt, d->width, d->height, &d->size) != AIC_OK) {
      aic_set_why(why, why_size, "bitstream header has unknown pixel format %u", buf[9]);
      return AIC_ECORRUPT;
    }
    if (d->width == 0 || d->height == 0 || d->width > limits->max_width ||
        d->height > limits->max_height) {
      aic_set_why(why, why_size, "bitstream header has dimensions %ux%u outside 1..%ux%u", d->width,
                  d->height, limits->max_width, limits->max_height);
      return AIC_ECORRUPT;
    }
  } else {
    aic_set_why(why, why_size, "bitstream header has unknown frame type %u", buf[8]);
    return AIC_ECORRUPT;
  }
  /* validate_frame's checks apply too: a decoded frame must be a valid input frame. */
  char inner[160];
  d->data = (const uint8_t *)"";
  if (aic_frame_validate(d, limits, inner, sizeof inner) != AIC_OK) {
    aic_set_why(why, why_size, "bitstream header: %s", inner);
    return AIC_ECORRUPT;
  }
  d->data = NULL;
  return AIC_OK;
}

int aic_bitstream_parse(const uint8_t *buf, size_t size, const aic_frame_limits_t *limits,
                        aic_bitstream_header_t *h, const uint8_t **payload, char *why,
                        size_t why_size) {
  if (!h || !payload || !limits) return AIC_EINVAL;
  if (!buf || size < AIC_BITSTREAM_HEADER_SIZE) {
    aic_set_why(why, why_size, "bitstream is %zu bytes, shorter than the %d-byte header", size,
                AIC_BITSTREAM_HEADER_SIZE);
    return AIC_ECORRUPT;
  }
  if (memcmp(buf, magic, 4) != 0) {
    aic_set_why(why, why_size, "not an AIC bitstream (bad magic)");
    return AIC_ECORRUPT;
  }
  if (buf[4] != AIC_BITSTREAM_VERSION || buf[5] != AIC_BITSTREAM_HEADER_SIZE) {
    aic_set_why(why, why_size, "unsupported bitstream version %u (header %u bytes)", buf[4],
                buf[5]);
    return AIC_ECORRUPT;
  }
  memset(h, 0, sizeof *h);
  h->codec = (aic_codec_id_t)buf[6];
  h->flags = buf[7];
  h->model_id = (uint16_t)aic_get_le16(buf + 10);
  h->model_version = (uint16_t)aic_get_le16(buf + 12);
  h->payload_size = aic_get_le32(buf + 24);
  if (h->codec <= AIC_CODEC_AUTO || h->codec >= AIC_CODEC_COUNT_) {
    aic_set_why(why, why_size, "bitstream names unknown codec %u", buf[6]);
    return AIC_ECORRUPT;
  }
  if ((size_t)h->payload_size != size - AIC_BITSTREAM_HEADER_SIZE) {
    aic_set_why(why, why_size, "bitstream payload is %zu bytes but the header says %u",
                size - AIC_BITSTREAM_HEADER_SIZE, h->payload_size);
    return AIC_ECORRUPT;
  }
  const uint8_t *p = buf + AIC_BITSTREAM_HEADER_SIZE;
  if (checksum(buf, p, h->payload_size) != aic_get_le32(buf + 28)) {
    aic_set_why(why, why_size, "bitstream checksum mismatch (corrupted in transit?)");
    return AIC_ECORRUPT;
  }
  int rc = parse_desc(buf, limits, &h->desc, why, why_size);
  if (rc) return rc;
  *payload = p;
  return AIC_OK;
}
