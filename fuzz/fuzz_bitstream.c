/* libFuzzer target: any bytes handed to the decoder must give a clean error or a frame of
 * exactly the announced size, never a crash, a leak or undefined behaviour.
 * The first input byte is a mode: odd means "repair the CRC first", so that the fuzzer also
 * reaches the header fields and the codec payload decoders behind the checksum. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "aic/aic.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void repair_crc(uint8_t *bs, size_t size) {
  if (size < 32) return;
  uLong crc = crc32(0L, Z_NULL, 0);
  crc = crc32(crc, bs, 28);
  crc = crc32(crc, bs + 32, (uInt)(size - 32));
  for (int i = 0; i < 4; i++) bs[28 + i] = (uint8_t)(crc >> (8 * i));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static aic_engine_t *engine;
  if (!engine) {
    aic_engine_settings_t s;
    aic_engine_settings_default(&s);
    /* Keep announced frames small so the fuzzer explores the parser, not the allocator. */
    s.limits.max_width = 256;
    s.limits.max_height = 256;
    /* The learned models of the source tree, so neural payloads reach the latent decoder. */
    s.models_dir = AIC_DEFAULT_MODELS_DIR;
    if (aic_engine_create(&s, &engine) != AIC_OK) abort();
  }
  if (size < 1 || size > (1u << 20)) return 0;
  size_t n = size - 1;
  uint8_t *bs = malloc(n ? n : 1);
  if (!bs) return 0;
  memcpy(bs, data + 1, n);
  if (data[0] & 1) repair_crc(bs, n);

  aic_decoded_frame_t dec;
  char why[256];
  aic_bitstream_info_t info;
  int probe = aic_bitstream_probe(engine, bs, n, &info, why, sizeof why);
  int rc = aic_engine_decompress(engine, NULL, bs, n, &dec, why, sizeof why);
  if (rc == AIC_OK) {
    if (probe != AIC_OK || dec.frame.size != info.frame.size) abort();
    aic_decoded_frame_clear(&dec);
  } else if (why[0] == '\0') {
    abort(); /* every refusal must say why */
  }
  free(bs);
  return 0;
}
