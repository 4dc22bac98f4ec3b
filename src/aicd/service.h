/* The RPC handlers, independent of the transport: serialized request in, serialized response
 * (or a gRPC status with a message) out. grpc_server.c moves the bytes. */
#ifndef AICD_SERVICE_H
#define AICD_SERVICE_H

#include <grpc/status.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "aic/aic.h"
#include "sessions.h"
#include "stats.h"

typedef struct aicd_service {
  aic_engine_t *engine;
  aicd_sessions_t *sessions;
  aicd_stats_t *stats;
  aic_frame_limits_t limits;
  double started_ms;  /* monotonic */
  atomic_int serving; /* 0 once shutdown starts */
} aicd_service_t;

/* What a handler produced: body (malloc'd, may be NULL when code != OK) or a status. */
typedef struct aicd_reply {
  grpc_status_code code;
  char message[512];
  uint8_t *body;
  size_t body_size;
  uint64_t bytes_in; /* raw media bytes handled, for the metrics */
  uint64_t bytes_out;
} aicd_reply_t;

void aicd_reply_clear(aicd_reply_t *reply);

double aicd_service_uptime_seconds(const aicd_service_t *svc);

/* Handles one unary call of `rpc` (not AICD_RPC_COMPRESS_STREAM). */
void aicd_service_unary(aicd_service_t *svc, aicd_rpc_t rpc, const uint8_t *request, size_t size,
                        aicd_reply_t *reply);

/* One CompressStream: its own engine session for the stream's life. */
typedef struct aicd_stream aicd_stream_t;

/* Returns NULL when out of memory. */
aicd_stream_t *aicd_stream_open(aicd_service_t *svc);
/* Compresses one frame of the stream. A non-OK reply ends the stream. */
void aicd_stream_frame(aicd_stream_t *stream, const uint8_t *request, size_t size,
                       aicd_reply_t *reply);
void aicd_stream_close(aicd_stream_t **stream);

#endif
