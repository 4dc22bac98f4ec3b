/* Codec identifiers and capabilities, shared by the engine, the bitstream header and the wire
 * contract (values match auralink.aic.v1.Codec). */
#ifndef AIC_CODEC_H
#define AIC_CODEC_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum aic_codec_id {
  AIC_CODEC_AUTO = 0, /* as a preference: let the engine choose */
  AIC_CODEC_ZSTD = 1,
  AIC_CODEC_ZLIB = 2,
  AIC_CODEC_AV1 = 3,
  AIC_CODEC_VP8 = 4,
  AIC_CODEC_JPEG = 5,
  AIC_CODEC_OPUS = 6,
  AIC_CODEC_NEURAL = 7,
  AIC_CODEC_COUNT_ = 8 /* not a codec: one past the last id */
} aic_codec_id_t;

/* Capability bits of a codec backend. */
enum {
  AIC_CAP_LOSSLESS = 1u << 0, /* reconstruction is bit-exact */
  AIC_CAP_VIDEO = 1u << 1,    /* takes video and screen frames */
  AIC_CAP_AUDIO = 1u << 2,    /* takes audio frames */
  AIC_CAP_INTER = 1u << 3,    /* keeps state between frames of a session */
  AIC_CAP_LEARNED = 1u << 4,  /* runs a learned model */
  AIC_CAP_YUV420 = 1u << 5,   /* codes pictures as I420: other pixel formats are converted */
};

/* Lower-case name of a codec ("zstd"), or "unknown". */
const char *aic_codec_name(aic_codec_id_t id);

#ifdef __cplusplus
}
#endif
#endif
