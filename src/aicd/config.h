/* aicd's configuration: defaults, then a config file, then AIC_* environment variables, then
 * command-line flags, each overriding the one before. */
#ifndef AICD_CONFIG_H
#define AICD_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "aic/log.h"

typedef struct aicd_config {
  char grpc_listen[256];
  char http_listen[256]; /* "" or "off": no HTTP listener */
  char data_dir[1024];
  char models_dir[1024]; /* learned models; "" or "off": none */
  char database_url[1024];
  char jwt_secret[256];
  aic_log_level_t log_level;
  char tls_cert[1024];
  char tls_key[1024];
  char tls_client_ca[1024];
  /* Every number is int64_t so one parser serves them all; ranges are checked on load. */
  int64_t threads;
  int64_t max_message_bytes;
  int64_t max_width;
  int64_t max_height;
  int64_t shutdown_grace_ms;
  int64_t max_sessions;
  int64_t session_idle_timeout_s;
  int64_t nn_threads;
  char config_file[1024];
} aicd_config_t;

void aicd_config_default(aicd_config_t *cfg);

/* Outcome of aicd_config_load. */
enum {
  AICD_CONFIG_OK = 0,
  AICD_CONFIG_EXIT = 1,  /* --help or --version was handled: exit 0 */
  AICD_CONFIG_USAGE = 2, /* bad flag or value: the message says what; exit 2 */
  AICD_CONFIG_FILE = 3,  /* the config file is unreadable or malformed; exit 1 */
};

/* Builds the configuration from defaults, the file (--config, else AIC_CONFIG), the
 * environment (`envp`, NULL-terminated "NAME=value" strings) and argv. --help and --version
 * print to `out`. On failure writes a message into `why`. */
int aicd_config_load(aicd_config_t *cfg, int argc, char **argv, char **envp, FILE *out, char *why,
                     size_t why_size);

/* Prints the usage text listing every flag, variable and file key. */
void aicd_config_usage(FILE *out);

#endif
