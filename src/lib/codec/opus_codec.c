/* Lossy audio backend on libopus. Every AIC audio frame becomes a self-contained run of Opus
 * packets coded by a freshly initialised encoder and decoded by a freshly initialised decoder,
 * so any frame decodes on its own (no session needed, nothing lost after a dropped frame) and
 * the output is sample-aligned with the input: the engine can compare them sample by sample.
 *
 * To get there the encoder is fed the frame followed by zeros until the coded span covers
 * n_samples + lookahead (Opus' algorithmic delay, OPUS_GET_LOOKAHEAD); the decoder drops the
 * first `lookahead` decoded samples and keeps exactly n_samples. The cost is the lookahead
 * (6.5 ms) plus up to one packet of padding coded per frame: a 20 ms frame takes two 20 ms
 * packets, a 1 s frame 51 instead of 50.
 *
 * Payload layout (all integers little-endian):
 *
 *   offset  size  field
 *   0       4     n_samples   samples per channel in the AIC frame, > 0
 *   4       2     lookahead   samples per channel the decoder drops first (< 20 ms)
 *   6       2     packets     number of Opus packets that follow
 *   8       ...   packets x { u16 length (>= 1), `length` bytes of one Opus packet }
 *
 * The payload ends exactly after the last packet. The packets' durations add up to at least
 * lookahead + n_samples and exceed it by less than 20 ms (the zero padding); each is at most
 * 20 ms. This encoder makes every packet one Opus frame of the same duration: 20 ms, or 10 ms
 * when speed >= 7 (latency) or the AIC frame is at most 10 ms (less padding).
 *
 * The last packet is deliberately not shortened (2.5 / 5 / 10 ms) to trim the padding. Measured
 * on tone mixtures and sweeps at 64 kbps, a short last packet cost the frame's final
 * milliseconds 5 to 16 dB of SNR (the step from signal to padding lands in a short CELT frame
 * that VBR starves of bits), while a full one costs ~15% more bytes, and only on frames of a
 * few packets. (Padding by linear prediction instead of zeros, as opusenc does at the end of a
 * file, gained under 1 dB here and was left out.) The decoder accepts any durations. */
#include <math.h>
#include <opus/opus.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aic/error.h"
#include "codec/backend.h"
#include "core/byteorder.h"

enum {
  OPUS_HEADER_SIZE = 8,
  OPUS_MAX_CHANNELS = 2,
  /* One Opus frame of <= 20 ms carries at most 1275 bytes plus the TOC byte; the encoder is
   * given a little more room so it never fails on a buffer limit. */
  OPUS_MAX_PACKET = 1500,
  OPUS_MAX_PACKET_SAMPLES = 48000 / 50, /* 20 ms at the highest rate, per channel */
};

/* Bitrate limits Opus accepts, in kbps. */
#define OPUS_MIN_KBPS 6.0
#define OPUS_MAX_KBPS 510.0

typedef struct opus_codec_state {
  bool encoder;
  void *mem; /* an OpusEncoder or OpusDecoder for up to 2 channels, re-initialised per frame */
} opus_codec_state_t;

static bool opus_rate_supported(uint32_t rate) {
  return rate == 8000 || rate == 12000 || rate == 16000 || rate == 24000 || rate == 48000;
}

/* Checks the audio description shared by encode and decode; sets the sample size in bytes. */
static int opus_check_desc(const aic_frame_t *f, size_t *sample_bytes) {
  if (f->type != AIC_FRAME_AUDIO) return AIC_EINVAL;
  size_t bps = aic_audio_format_bytes(f->audio_fmt);
  if (bps == 0) return AIC_EINVAL;
  if (!opus_rate_supported(f->sample_rate)) return AIC_EUNSUPPORTED;
  if (f->channels < 1 || f->channels > OPUS_MAX_CHANNELS) return AIC_EUNSUPPORTED;
  *sample_bytes = bps;
  return AIC_OK;
}

/* Total bitrate in bits/s. An explicit bitrate wins (clamped to what Opus accepts). Otherwise
 * quality maps exponentially from 6 kbps per channel at 0 to 128 kbps per channel at 100:
 * kbps = channels * 6 * (128 / 6)^(quality / 100). Exponential because perceived quality grows
 * roughly with the log of the bitrate, so equal quality steps cost equal bitrate ratios: per
 * channel 25 -> ~13 kbps, 50 -> ~28, 75 (the default) -> ~59. */
static opus_int32 opus_bitrate_for(const aic_codec_params_t *params, uint32_t channels) {
  double kbps;
  if (params->bitrate_kbps > 0) {
    kbps = (double)params->bitrate_kbps;
  } else {
    double q = params->quality < 0.0 ? 0.0 : params->quality > 100.0 ? 100.0 : params->quality;
    kbps = (double)channels * 6.0 * pow(128.0 / 6.0, q / 100.0);
  }
  if (kbps < OPUS_MIN_KBPS) kbps = OPUS_MIN_KBPS;
  if (kbps > OPUS_MAX_KBPS) kbps = OPUS_MAX_KBPS;
  return (opus_int32)lround(kbps * 1000.0);
}

static size_t opus_max_encoder_size(void) {
  int a = opus_encoder_get_size(1), b = opus_encoder_get_size(2);
  return (size_t)(a > b ? a : b);
}

static size_t opus_max_decoder_size(void) {
  int a = opus_decoder_get_size(1), b = opus_decoder_get_size(2);
  return (size_t)(a > b ? a : b);
}

static int opus_state_create(bool encoder, void **state) {
  if (!state) return AIC_EINVAL;
  *state = NULL;
  opus_codec_state_t *s = malloc(sizeof *s);
  if (!s) return AIC_ENOMEM;
  s->encoder = encoder;
  s->mem = malloc(encoder ? opus_max_encoder_size() : opus_max_decoder_size());
  if (!s->mem) {
    free(s);
    return AIC_ENOMEM;
  }
  *state = s;
  return AIC_OK;
}

static void opus_state_free(void *state) {
  opus_codec_state_t *s = state;
  if (!s) return;
  free(s->mem);
  free(s);
}

/* The codec memory for one call: the session's when it has one for this side, else a private
 * block the caller frees (*owned). Either way it is initialised from scratch by the caller,
 * which is what keeps frames self-contained. */
static int opus_memory(void *state, bool encoder, void **mem, void **owned) {
  opus_codec_state_t *s = state;
  *owned = NULL;
  if (s) {
    if (s->encoder != encoder) return AIC_EINVAL;
    *mem = s->mem;
    return AIC_OK;
  }
  *owned = malloc(encoder ? opus_max_encoder_size() : opus_max_decoder_size());
  if (!*owned) return AIC_ENOMEM;
  *mem = *owned;
  return AIC_OK;
}

static float get_f32(const uint8_t *p) {
  uint32_t u = aic_get_le32(p);
  float f;
  memcpy(&f, &u, sizeof f);
  return f;
}

static void put_f32(uint8_t *p, float f) {
  uint32_t u;
  memcpy(&u, &f, sizeof u);
  aic_put_le32(p, u);
}

/* Fills pcm with `count` samples per channel starting at sample `first`, zeros past `n`. The
 * frame bytes are read as little-endian whatever the host, and need no alignment. */
static void opus_gather(const aic_frame_t *frame, size_t bps, uint64_t n, uint64_t first,
                        uint32_t count, int16_t *pcm16, float *pcmf) {
  uint32_t ch = frame->channels;
  for (uint32_t i = 0; i < count; i++) {
    for (uint32_t c = 0; c < ch; c++) {
      size_t k = (size_t)i * ch + c;
      const uint8_t *p = first + i < n ? frame->data + ((size_t)(first + i) * ch + c) * bps : NULL;
      if (bps == 2) {
        pcm16[k] = p ? (int16_t)aic_get_le16(p) : 0;
      } else {
        float v = p ? get_f32(p) : 0.0f;
        /* One NaN or infinity would poison the encoder's energy estimates for the rest of the
         * frame; silence is the least wrong stand-in. */
        pcmf[k] = isfinite(v) ? v : 0.0f;
      }
    }
  }
}

static int opus_encode_frame(void *state, const aic_frame_t *frame,
                             const aic_codec_params_t *params, aic_buf_t *out, bool *keyframe) {
  if (!frame || !params || !out || !keyframe || !frame->data) return AIC_EINVAL;
  size_t bps;
  int rc = opus_check_desc(frame, &bps);
  if (rc) return rc;
  if (isnan(params->quality)) return AIC_EINVAL;
  uint32_t rate = frame->sample_rate, ch = frame->channels;
  size_t frame_bytes = bps * ch;
  if (frame->size == 0 || frame->size % frame_bytes) return AIC_EINVAL;
  uint64_t n = frame->size / frame_bytes;
  if (n > UINT32_MAX) return AIC_ELIMIT;

  /* AUDIO at every quality: VOIP's speech tuning (high-pass, formant emphasis) is not
   * waveform-faithful, measured 3-24 dB lower SNR on tones at equal bytes, which made the
   * reported PSNR and the size fall off a cliff below quality 50. */
  int application = OPUS_APPLICATION_AUDIO;
  int complexity = 10 - params->speed;
  complexity = complexity < 0 ? 0 : complexity > 10 ? 10 : complexity;

  void *mem, *owned;
  rc = opus_memory(state, true, &mem, &owned);
  if (rc) return rc;
  OpusEncoder *enc = mem;
  size_t start = out->size;
  int16_t pcm16[OPUS_MAX_PACKET_SAMPLES * OPUS_MAX_CHANNELS];
  float pcmf[OPUS_MAX_PACKET_SAMPLES * OPUS_MAX_CHANNELS];
  opus_int32 lookahead = 0;

  rc = AIC_ECODEC;
  if (opus_encoder_init(enc, (opus_int32)rate, (int)ch, application) != OPUS_OK ||
      opus_encoder_ctl(enc, OPUS_SET_BITRATE(opus_bitrate_for(params, ch))) != OPUS_OK ||
      opus_encoder_ctl(enc, OPUS_SET_COMPLEXITY(complexity)) != OPUS_OK ||
      opus_encoder_ctl(enc, OPUS_GET_LOOKAHEAD(&lookahead)) != OPUS_OK || lookahead < 0 ||
      lookahead >= (opus_int32)(rate / 50))
    goto done;

  uint32_t packet = (params->speed >= 7 || n <= rate / 100) ? rate / 100 : rate / 50;
  uint64_t total = n + (uint64_t)lookahead;
  uint64_t count = (total + packet - 1) / packet;
  if (count > UINT16_MAX) {
    rc = AIC_ELIMIT;
    goto done;
  }

  rc = aic_buf_reserve(out, OPUS_HEADER_SIZE);
  if (rc) goto done;
  aic_put_le32(out->data + out->size, (uint32_t)n);
  aic_put_le16(out->data + out->size + 4, (uint32_t)lookahead);
  aic_put_le16(out->data + out->size + 6, (uint32_t)count);
  out->size += OPUS_HEADER_SIZE;

  for (uint64_t pos = 0; pos < total; pos += packet) {
    opus_gather(frame, bps, n, pos, packet, pcm16, pcmf);
    rc = aic_buf_reserve(out, 2 + OPUS_MAX_PACKET);
    if (rc) goto done;
    uint8_t *dst = out->data + out->size + 2;
    opus_int32 len = bps == 2 ? opus_encode(enc, pcm16, (int)packet, dst, OPUS_MAX_PACKET)
                              : opus_encode_float(enc, pcmf, (int)packet, dst, OPUS_MAX_PACKET);
    if (len < 1 || len > OPUS_MAX_PACKET) {
      rc = AIC_ECODEC;
      goto done;
    }
    aic_put_le16(out->data + out->size, (uint32_t)len);
    out->size += 2 + (size_t)len;
  }
  *keyframe = true;
  rc = AIC_OK;
done:
  if (rc) out->size = start; /* never leave half a payload behind */
  free(owned);
  return rc;
}

/* Walks the packet table once before anything is decoded, so a hostile payload is refused
 * without running the decoder, and the work it can demand is bounded by dst_size. */
static int opus_parse(const uint8_t *payload, size_t payload_size, uint32_t rate, uint32_t count,
                      uint64_t needed) {
  size_t pos = OPUS_HEADER_SIZE;
  uint64_t total = 0;
  for (uint32_t i = 0; i < count; i++) {
    if (payload_size - pos < 2) return AIC_ECORRUPT;
    uint32_t len = aic_get_le16(payload + pos);
    pos += 2;
    if (len < 1 || len > payload_size - pos) return AIC_ECORRUPT;
    int ns = opus_packet_get_nb_samples(payload + pos, (opus_int32)len, (opus_int32)rate);
    if (ns <= 0 || (uint32_t)ns > rate / 50) return AIC_ECORRUPT;
    total += (uint64_t)ns;
    pos += len;
  }
  if (pos != payload_size) return AIC_ECORRUPT;
  if (total < needed || total - needed >= rate / 50) return AIC_ECORRUPT;
  return AIC_OK;
}

static int opus_decode_frame(void *state, const aic_frame_t *desc, const uint8_t *payload,
                             size_t payload_size, uint8_t *dst, size_t dst_size) {
  if (!desc || !dst || (!payload && payload_size)) return AIC_EINVAL;
  size_t bps;
  int rc = opus_check_desc(desc, &bps);
  if (rc) return rc;
  uint32_t rate = desc->sample_rate, ch = desc->channels;
  if (payload_size < OPUS_HEADER_SIZE) return AIC_ECORRUPT;
  uint32_t n = aic_get_le32(payload), lookahead = aic_get_le16(payload + 4),
           count = aic_get_le16(payload + 6);
  if (n == 0 || (uint64_t)n * ch * bps != (uint64_t)dst_size) return AIC_ECORRUPT;
  /* Opus' delay is 6.5 ms in every mode we use; a bigger one is a lie that would only make us
   * decode audio nobody keeps. */
  if (lookahead >= rate / 50) return AIC_ECORRUPT;
  rc = opus_parse(payload, payload_size, rate, count, (uint64_t)n + lookahead);
  if (rc) return rc;

  void *mem, *owned;
  rc = opus_memory(state, false, &mem, &owned);
  if (rc) return rc;
  OpusDecoder *dec = mem;
  int16_t pcm16[OPUS_MAX_PACKET_SAMPLES * OPUS_MAX_CHANNELS];
  float pcmf[OPUS_MAX_PACKET_SAMPLES * OPUS_MAX_CHANNELS];
  rc = AIC_ECODEC;
  if (opus_decoder_init(dec, (opus_int32)rate, (int)ch) != OPUS_OK) goto done;

  rc = AIC_ECORRUPT;
  size_t pos = OPUS_HEADER_SIZE;
  uint64_t t = 0; /* decoded samples per channel so far, lookahead included */
  uint64_t end = (uint64_t)lookahead + n;
  for (uint32_t i = 0; i < count; i++) {
    uint32_t len = aic_get_le16(payload + pos);
    const uint8_t *pkt = payload + pos + 2;
    pos += 2 + (size_t)len;
    int got = bps == 2 ? opus_decode(dec, pkt, (opus_int32)len, pcm16, (int)(rate / 50), 0)
                       : opus_decode_float(dec, pkt, (opus_int32)len, pcmf, (int)(rate / 50), 0);
    if (got <= 0) goto done;
    /* Keep the decoded samples that fall in [lookahead, lookahead + n). Float output is not
     * clipped: Opus may overshoot full scale slightly, and clipping would only add error. */
    for (uint32_t k = 0; k < (uint32_t)got; k++, t++) {
      if (t < lookahead || t >= end) continue;
      uint8_t *o = dst + (size_t)(t - lookahead) * ch * bps;
      for (uint32_t c = 0; c < ch; c++, o += bps) {
        if (bps == 2)
          aic_put_le16(o, (uint16_t)pcm16[(size_t)k * ch + c]);
        else
          put_f32(o, pcmf[(size_t)k * ch + c]);
      }
    }
  }
  /* opus_parse proved the packets cover the span; a decoder that returned fewer samples than
   * the packets announce would leave dst partly unwritten. */
  if (t < end) goto done;
  rc = AIC_OK;
done:
  free(owned);
  return rc;
}

const aic_codec_backend_t aic_codec_opus = {
    .id = AIC_CODEC_OPUS,
    .name = "opus",
    .caps = AIC_CAP_AUDIO,
    .state_create = opus_state_create,
    .state_free = opus_state_free,
    .encode = opus_encode_frame,
    .decode = opus_decode_frame,
};
