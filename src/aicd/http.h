/* The HTTP listener (libmicrohttpd): GET /health (JSON) and GET /metrics (Prometheus text).
 * The dashboard API joins this listener in a later issue. */
#ifndef AICD_HTTP_H
#define AICD_HTTP_H

#include "stats.h"

typedef struct aicd_http aicd_http_t;

/* What the listener reports; read on the HTTP thread, so every callback must be thread-safe. */
typedef struct aicd_http_ctx {
  const char *version; /* aicd version string */
  double (*uptime_seconds)(void *user);
  int (*serving)(void *user); /* 1 while serving, 0 while shutting down */
  aicd_stats_t *stats;
  void *user;
} aicd_http_ctx_t;

/* Starts listening on "host:port" ("0.0.0.0:8000", "127.0.0.1:0" is not supported: give a
 * port). `ctx` is copied; `ctx->stats` must outlive the listener. Returns 0 and sets *out,
 * -1 with a reason in `why` when the address is malformed or cannot be bound. */
int aicd_http_start(const char *listen, const aicd_http_ctx_t *ctx, aicd_http_t **out, char *why,
                    size_t why_size);

/* Stops the listener, waits for its threads and sets *http to NULL. NULL is a no-op. */
void aicd_http_stop(aicd_http_t **http);

#endif
