/* Still-image codecs outside libaic that bench_codecs compares against, called through their
 * own libraries exactly as an application would: WebP (libwebp's simple API, RGB in and out)
 * and an AVIF-like libaom still (all-intra usage, constant quantizer, the way avifenc drives
 * libaom; the bytes counted are the AV1 payload without AVIF's ~300 bytes of container). */
#ifndef AIC_BENCH_PEERS_H
#define AIC_BENCH_PEERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct bench_peer_result {
  size_t bytes;
  double encode_ms; /* from RGB in: colour conversion included, as for libaic's codecs */
  double decode_ms; /* to RGB out */
} bench_peer_result_t;

/* True when this build has the peer ("webp", "aom-still"). */
bool bench_peer_available(const char *name);

/* Encodes the RGB24 picture at `quality` 0..100 (the scale libaic's levels map onto) and
 * decodes it into `out` (width * height * 3 bytes). Exits on failure. */
void bench_peer_run(const char *name, const uint8_t *rgb, uint32_t width, uint32_t height,
                    double quality, uint8_t *out, bench_peer_result_t *r);

#endif
