/* Service counters for the Prometheus endpoint: requests, errors and latency per RPC, bytes in
 * and out. Thread-safe: any worker thread records, the HTTP thread renders. */
#ifndef AICD_STATS_H
#define AICD_STATS_H

#include <stddef.h>
#include <stdint.h>

/* The RPCs counted; names are the gRPC method names as they appear in label values. */
typedef enum aicd_rpc {
  AICD_RPC_COMPRESS_FRAME = 0,
  AICD_RPC_COMPRESS_STREAM,
  AICD_RPC_DECOMPRESS_FRAME,
  AICD_RPC_GET_HINTS,
  AICD_RPC_ANALYZE_NETWORK,
  AICD_RPC_HEALTH_CHECK,
  AICD_RPC_GRPC_HEALTH_CHECK, /* grpc.health.v1.Health/Check */
  AICD_RPC_UNKNOWN,           /* methods the service does not implement */
  AICD_RPC_COUNT_
} aicd_rpc_t;

typedef struct aicd_stats aicd_stats_t;

/* Returns NULL when out of memory. */
aicd_stats_t *aicd_stats_new(void);
void aicd_stats_free(aicd_stats_t **stats);

/* "CompressFrame", "grpc.health.v1.Health/Check", ... */
const char *aicd_rpc_name(aicd_rpc_t rpc);

/* Records one finished call (for CompressStream: one call per stream). grpc_status is the
 * numeric gRPC status code (0 = OK; anything else counts as an error). */
void aicd_stats_record_call(aicd_stats_t *stats, aicd_rpc_t rpc, int grpc_status,
                            double latency_seconds);

/* Records one message handled (for CompressStream: once per frame), with the bytes of the raw
 * input and of the produced output (payload bytes, not counting gRPC framing). Latency per
 * message goes into the per-RPC message latency histogram. */
void aicd_stats_record_message(aicd_stats_t *stats, aicd_rpc_t rpc, uint64_t bytes_in,
                               uint64_t bytes_out, double latency_seconds);

/* Records one compressed frame: the codec id (aic_codec_id_t value) that produced it, the
 * fallback reason (aic_fallback_t value; 0 = none), raw and compressed bytes. Out-of-range ids
 * are ignored. */
void aicd_stats_record_frame(aicd_stats_t *stats, int codec, int fallback, uint64_t bytes_in,
                             uint64_t bytes_out);

/* Renders every metric in the Prometheus text exposition format 0.0.4. Returns a malloc'd
 * NUL-terminated string the caller frees, or NULL when out of memory. */
char *aicd_stats_render(const aicd_stats_t *stats, double uptime_seconds);

#endif
