/* aicd configuration: defaults < file < environment < flags, and bad input refused. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "aic_test.h"
#include "config.h"

static FILE *devnull;

static int load(aicd_config_t *cfg, int argc, char **argv, char **envp, char *why) {
  return aicd_config_load(cfg, argc, argv, envp, devnull, why, 256);
}

static void test_defaults(void) {
  aicd_config_t cfg;
  char why[256];
  char *argv[] = {"aicd", NULL};
  char *envp[] = {NULL};
  CHECK_EQ_INT(load(&cfg, 1, argv, envp, why), AICD_CONFIG_OK);
  CHECK(strcmp(cfg.grpc_listen, "0.0.0.0:50051") == 0);
  CHECK(strcmp(cfg.http_listen, "0.0.0.0:8000") == 0);
  CHECK(strcmp(cfg.data_dir, "./var") == 0);
  CHECK_EQ_INT(cfg.max_message_bytes, 32 * 1024 * 1024);
  CHECK_EQ_INT(cfg.max_width, 7680);
  CHECK_EQ_INT(cfg.max_height, 4320);
  CHECK_EQ_INT(cfg.log_level, AIC_LOG_INFO);
}

static void test_precedence(void) {
  char path[] = "/tmp/aicd-config-XXXXXX";
  int fd = mkstemp(path);
  CHECK(fd >= 0);
  FILE *f = fdopen(fd, "w");
  fprintf(f,
          "# a comment\n grpc_listen = 127.0.0.1:1111  \nhttp_listen=127.0.0.1:2222\n"
          "log_level = debug # trailing comment\nmax_width = 1920\n"
          "jwt_secret = \"with # hash\"\n");
  fclose(f);
  aicd_config_t cfg;
  char why[256];
  char env_config[300];
  snprintf(env_config, sizeof env_config, "AIC_CONFIG=%s", path);
  char *envp[] = {env_config, "AIC_HTTP_LISTEN=127.0.0.1:3333", "AIC_MAX_WIDTH=1280", NULL};
  char *argv[] = {"aicd", "--max-width", "640", "--threads=3", NULL};
  CHECK_EQ_INT(load(&cfg, 4, argv, envp, why), AICD_CONFIG_OK);
  CHECK(strcmp(cfg.grpc_listen, "127.0.0.1:1111") == 0); /* file */
  CHECK(strcmp(cfg.http_listen, "127.0.0.1:3333") == 0); /* env over file */
  CHECK_EQ_INT(cfg.max_width, 640);                      /* flag over env over file */
  CHECK_EQ_INT(cfg.threads, 3);
  CHECK_EQ_INT(cfg.log_level, AIC_LOG_DEBUG);
  CHECK(strcmp(cfg.jwt_secret, "with # hash") == 0);
  unlink(path);
}

static void test_bad_input(void) {
  aicd_config_t cfg;
  char why[256];
  char *envp[] = {NULL};
  char *a1[] = {"aicd", "--nope", NULL};
  CHECK_EQ_INT(load(&cfg, 2, a1, envp, why), AICD_CONFIG_USAGE);
  CHECK(strstr(why, "--nope") != NULL);
  char *a2[] = {"aicd", "--threads", "zero", NULL};
  CHECK_EQ_INT(load(&cfg, 3, a2, envp, why), AICD_CONFIG_USAGE);
  char *a3[] = {"aicd", "--max-width", "0", NULL};
  CHECK_EQ_INT(load(&cfg, 3, a3, envp, why), AICD_CONFIG_USAGE);
  char *a4[] = {"aicd", "--log-level", "loud", NULL};
  CHECK_EQ_INT(load(&cfg, 3, a4, envp, why), AICD_CONFIG_USAGE);
  char *a5[] = {"aicd", "--grpc-listen", NULL};
  CHECK_EQ_INT(load(&cfg, 2, a5, envp, why), AICD_CONFIG_USAGE);
  char *a6[] = {"aicd", "--tls-cert", "/x.pem", NULL};
  CHECK_EQ_INT(load(&cfg, 3, a6, envp, why), AICD_CONFIG_USAGE);
  char *a7[] = {"aicd", "--config", "/nonexistent/aicd.conf", NULL};
  CHECK_EQ_INT(load(&cfg, 3, a7, envp, why), AICD_CONFIG_FILE);
  char *env_bad[] = {"AIC_MAX_MESSAGE_BYTES=-5", NULL};
  char *a8[] = {"aicd", NULL};
  CHECK_EQ_INT(load(&cfg, 1, a8, env_bad, why), AICD_CONFIG_USAGE);
  CHECK(strstr(why, "AIC_MAX_MESSAGE_BYTES") != NULL);
}

static void test_help_lists_everything(void) {
  char *buf = NULL;
  size_t size = 0;
  FILE *out = open_memstream(&buf, &size);
  aicd_config_usage(out);
  fclose(out);
  const char *names[] = {"AIC_GRPC_LISTEN",  "AIC_HTTP_LISTEN",    "AIC_DATA_DIR",
                         "AIC_DATABASE_URL", "AIC_JWT_SECRET",     "AIC_LOG_LEVEL",
                         "AIC_TLS_CERT",     "AIC_TLS_KEY",        "AIC_TLS_CLIENT_CA",
                         "--grpc-listen",    "--max-message-bytes"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) CHECK(strstr(buf, names[i]) != NULL);
  free(buf);
}

int main(void) {
  devnull = fopen("/dev/null", "w");
  RUN(test_defaults);
  RUN(test_precedence);
  RUN(test_bad_input);
  RUN(test_help_lists_everything);
  fclose(devnull);
  return aic_test_finish();
}
