/* aicd: the AuraLink AIC compression daemon. */
#include <errno.h>
#include <grpc/grpc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "aic/aic.h"
#include "config.h"
#include "grpc_server.h"
#include "http.h"
#include "logger.h"
#include "service.h"
#include "sessions.h"
#include "stats.h"

extern char **environ;

static double monotonic_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* mkdir -p: the data folder may be nested and may not exist yet. */
static int make_dirs(const char *path) {
  char buf[1024];
  size_t n = strlen(path);
  if (n == 0 || n >= sizeof buf) return -1;
  memcpy(buf, path, n + 1);
  for (char *p = buf + 1; *p; p++) {
    if (*p != '/') continue;
    *p = '\0';
    if (mkdir(buf, 0755) != 0 && errno != EEXIST) return -1;
    *p = '/';
  }
  return mkdir(buf, 0755) != 0 && errno != EEXIST ? -1 : 0;
}

static double http_uptime(void *user) {
  return aicd_service_uptime_seconds(user);
}
static int http_serving(void *user) {
  return atomic_load(&((aicd_service_t *)user)->serving);
}

static int wait_for_signal(const sigset_t *set) {
  int sig = 0;
  while (sigwait(set, &sig) != 0) {
  }
  return sig;
}

int main(int argc, char **argv) {
  aicd_config_t cfg;
  char why[512];
  int rc = aicd_config_load(&cfg, argc, argv, environ, stdout, why, sizeof why);
  if (rc == AICD_CONFIG_EXIT) return 0;
  if (rc != AICD_CONFIG_OK) {
    aicd_log(AIC_LOG_ERROR, "invalid configuration", json_pack("{s:s}", "detail", why));
    if (rc == AICD_CONFIG_USAGE) fprintf(stderr, "aicd: %s\nTry 'aicd --help'.\n", why);
    return rc == AICD_CONFIG_USAGE ? 2 : 1;
  }
  aicd_log_set_level(cfg.log_level);
  if (cfg.threads == 0) {
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    cfg.threads = cores < 2 ? 2 : cores;
  }

  /* Signals are taken by sigwait on the main thread only: block them before any thread
   * (gRPC's included) exists, so every thread inherits the mask. */
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, NULL);
  signal(SIGPIPE, SIG_IGN);

  int exit_code = 1;
  aic_engine_t *engine = NULL;
  aicd_stats_t *stats = NULL;
  aicd_sessions_t *sessions = NULL;
  aicd_grpc_t *grpc = NULL;
  aicd_http_t *http = NULL;
  aicd_service_t svc;
  memset(&svc, 0, sizeof svc);

  if (make_dirs(cfg.data_dir) != 0) {
    aicd_log(AIC_LOG_ERROR, "cannot create the data folder",
             json_pack("{s:s,s:s}", "data_dir", cfg.data_dir, "error", strerror(errno)));
    return 1;
  }
  aic_engine_settings_t es;
  aic_engine_settings_default(&es);
  es.limits.max_width = (uint32_t)cfg.max_width;
  es.limits.max_height = (uint32_t)cfg.max_height;
  es.log = aicd_log_from_lib;
  es.log_level = cfg.log_level;
  es.models_dir = strcmp(cfg.models_dir, "off") == 0 ? NULL : cfg.models_dir;
  es.nn_threads = (int)cfg.nn_threads;
  if (aic_engine_create(&es, &engine) != AIC_OK || !(stats = aicd_stats_new()) ||
      !(sessions = aicd_sessions_new(engine, (size_t)cfg.max_sessions,
                                     (double)cfg.session_idle_timeout_s * 1e3))) {
    aicd_log(AIC_LOG_ERROR, "cannot create the engine", NULL);
    goto done;
  }
  svc.engine = engine;
  svc.sessions = sessions;
  svc.stats = stats;
  svc.limits = es.limits;
  svc.started_ms = monotonic_ms();
  atomic_init(&svc.serving, 1);

  grpc_init();
  int port = 0;
  if (aicd_grpc_start(&cfg, &svc, &grpc, &port, why, sizeof why) != 0) {
    aicd_log(AIC_LOG_ERROR, "cannot start the gRPC server",
             json_pack("{s:s,s:s}", "listen", cfg.grpc_listen, "detail", why));
    goto shutdown_grpc;
  }
  bool http_on = cfg.http_listen[0] && strcmp(cfg.http_listen, "off") != 0;
  if (http_on) {
    aicd_http_ctx_t ctx = {AICD_VERSION, http_uptime, http_serving, stats, &svc};
    if (aicd_http_start(cfg.http_listen, &ctx, &http, why, sizeof why) != 0) {
      aicd_log(AIC_LOG_ERROR, "cannot start the HTTP listener",
               json_pack("{s:s,s:s}", "listen", cfg.http_listen, "detail", why));
      goto shutdown_grpc;
    }
  }
  aicd_log(AIC_LOG_INFO, "aicd listening",
           json_pack("{s:s,s:s,s:i,s:s,s:b,s:b,s:I,s:s}", "version", AICD_VERSION, "grpc",
                     cfg.grpc_listen, "grpc_port", port, "http", http_on ? cfg.http_listen : "off",
                     "tls", cfg.tls_cert[0] != '\0', "mtls", cfg.tls_client_ca[0] != '\0',
                     "threads", (json_int_t)cfg.threads, "data_dir", cfg.data_dir));

  int sig = wait_for_signal(&signals);
  aicd_log(AIC_LOG_INFO, "shutting down",
           json_pack("{s:s,s:I}", "signal", sig == SIGINT ? "SIGINT" : "SIGTERM", "grace_ms",
                     (json_int_t)cfg.shutdown_grace_ms));
  atomic_store(&svc.serving, 0);
  exit_code = 0;

shutdown_grpc:
  if (grpc && aicd_grpc_shutdown(&grpc, cfg.shutdown_grace_ms))
    aicd_log(AIC_LOG_WARN, "calls still running after the grace period were cancelled", NULL);
  aicd_http_stop(&http);
  grpc_shutdown();
  if (exit_code == 0) aicd_log(AIC_LOG_INFO, "stopped", NULL);
done:
  aicd_sessions_free(&sessions);
  aicd_stats_free(&stats);
  aic_engine_free(&engine);
  return exit_code;
}
