/* libFuzzer target: any bytes as the request of any RPC, or as a stream's frames, must give a
 * response or a status with a message, never a crash, leak or undefined behaviour. The first
 * byte picks the RPC. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "service.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static aicd_service_t *service(void) {
  static aicd_service_t svc;
  static int ready;
  if (!ready) {
    aic_engine_settings_t s;
    aic_engine_settings_default(&s);
    s.limits.max_width = 512;
    s.limits.max_height = 512;
    if (aic_engine_create(&s, &svc.engine) != AIC_OK) abort();
    svc.sessions = aicd_sessions_new(svc.engine, 16, 1000);
    svc.stats = aicd_stats_new();
    if (!svc.sessions || !svc.stats) abort();
    svc.limits = s.limits;
    atomic_init(&svc.serving, 1);
    ready = 1;
  }
  return &svc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  aicd_service_t *svc = service();
  aicd_rpc_t rpc = (aicd_rpc_t)(data[0] % AICD_RPC_COUNT_);
  aicd_reply_t reply;
  if (rpc == AICD_RPC_COMPRESS_STREAM) {
    aicd_stream_t *stream = aicd_stream_open(svc);
    if (!stream) abort();
    /* Two frames: the same bytes twice exercises inter-frame state. */
    for (int i = 0; i < 2; i++) {
      aicd_stream_frame(stream, data + 1, size - 1, &reply);
      int failed = reply.code != GRPC_STATUS_OK;
      if (failed && reply.message[0] == '\0') abort();
      aicd_reply_clear(&reply);
      if (failed) break;
    }
    aicd_stream_close(&stream);
    return 0;
  }
  aicd_service_unary(svc, rpc, data + 1, size - 1, &reply);
  if (reply.code != GRPC_STATUS_OK && reply.message[0] == '\0') abort();
  if (reply.code == GRPC_STATUS_OK && reply.body_size > 0 && !reply.body) abort();
  aicd_reply_clear(&reply);
  return 0;
}
