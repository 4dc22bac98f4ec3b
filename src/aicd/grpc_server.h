/* The gRPC transport on gRPC C-core: completion-queue worker threads, registered methods,
 * TLS, graceful shutdown. Bytes in and out; service.c does the work. */
#ifndef AICD_GRPC_SERVER_H
#define AICD_GRPC_SERVER_H

#include <stddef.h>

#include "config.h"
#include "service.h"

typedef struct aicd_grpc aicd_grpc_t;

/* Binds cfg->grpc_listen (refusing a port already in use), loads TLS files when configured,
 * starts cfg->threads workers. grpc_init() must have been called. Returns 0 and sets *out, or
 * -1 with a reason in `why`. The port actually bound is in *bound_port. */
int aicd_grpc_start(const aicd_config_t *cfg, aicd_service_t *svc, aicd_grpc_t **out,
                    int *bound_port, char *why, size_t why_size);

/* Stops accepting calls, lets in-flight calls finish for up to grace_ms, cancels the rest,
 * joins the workers and frees everything; sets *srv to NULL. Returns 1 if calls had to be
 * cancelled, 0 otherwise. */
int aicd_grpc_shutdown(aicd_grpc_t **srv, long long grace_ms);

#endif
