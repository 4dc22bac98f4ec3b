#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* One table drives the flags, the environment and the file, so the three cannot drift apart. */
typedef enum { OPT_STRING, OPT_INT, OPT_LEVEL } opt_kind_t;

typedef struct option_def {
  const char *key; /* file key; flag is --key with '_' -> '-'; env is AIC_KEY upper-cased */
  opt_kind_t kind;
  size_t offset;
  size_t size; /* strings: buffer size */
  int64_t min, max;
  const char *help;
} option_def_t;

#define STR(field, help)                                                                           \
  {                                                                                                \
#field, OPT_STRING, offsetof(aicd_config_t, field), sizeof(((aicd_config_t *)0)->field), 0, 0, \
        help                                                                                       \
  }
#define INT(field, lo, hi, help) \
  { #field, OPT_INT, offsetof(aicd_config_t, field), sizeof(int64_t), lo, hi, help }

static const option_def_t options[] = {
    STR(grpc_listen, "gRPC address host:port (default 0.0.0.0:50051)"),
    STR(http_listen,
        "HTTP address host:port for /health and /metrics, or off (default 0.0.0.0:8000)"),
    STR(data_dir, "folder for the database and state (default ./var)"),
    STR(models_dir, "folder of the learned models nic-rt.aicm / nic-hq.aicm, or off (default: the models folder of the source tree)"),
    STR(database_url, "PostgreSQL URL; empty: SQLite in the data folder"),
    STR(jwt_secret, "secret that signs dashboard API tokens"),
    {"log_level", OPT_LEVEL, offsetof(aicd_config_t, log_level), sizeof(aic_log_level_t), 0, 0,
     "error, warn, info or debug (default info)"},
    STR(tls_cert, "PEM server certificate chain; with tls_key enables TLS on the gRPC port"),
    STR(tls_key, "PEM private key of tls_cert"),
    STR(tls_client_ca, "PEM CA bundle; requires and verifies client certificates (mTLS)"),
    INT(threads, 1, 256, "gRPC worker threads (default: number of cores, at least 2)"),
    INT(max_message_bytes, 1024, INT32_MAX, "largest gRPC message accepted (default 33554432)"),
    INT(max_width, 1, 65535, "widest frame accepted (default 7680)"),
    INT(max_height, 1, 65535, "tallest frame accepted (default 4320)"),
    INT(shutdown_grace_ms, 0, 3600000,
        "time in-flight calls get to finish on SIGTERM (default 10000)"),
    INT(max_sessions, 1, 1000000, "sessions kept at once (default 1024)"),
    INT(session_idle_timeout_s, 1, 86400,
        "idle time after which a session is dropped (default 300)"),
    INT(nn_threads, 1, 64, "threads of one learned-codec inference (default 1)"),
};
#define OPTION_COUNT (sizeof options / sizeof options[0])

void aicd_config_default(aicd_config_t *cfg) {
  memset(cfg, 0, sizeof *cfg);
  strcpy(cfg->grpc_listen, "0.0.0.0:50051");
  strcpy(cfg->http_listen, "0.0.0.0:8000");
  strcpy(cfg->data_dir, "./var");
  snprintf(cfg->models_dir, sizeof cfg->models_dir, "%s", AIC_DEFAULT_MODELS_DIR);
  cfg->log_level = AIC_LOG_INFO;
  cfg->threads = 0; /* resolved at start from the core count */
  cfg->max_message_bytes = 32 * 1024 * 1024;
  cfg->max_width = 7680;
  cfg->max_height = 4320;
  cfg->shutdown_grace_ms = 10000;
  cfg->max_sessions = 1024;
  cfg->session_idle_timeout_s = 300;
  cfg->nn_threads = 1;
}

static void set_why(char *why, size_t why_size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_why(char *why, size_t why_size, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(why, why_size, fmt, ap);
  va_end(ap);
}

static int set_value(aicd_config_t *cfg, const option_def_t *o, const char *value,
                     const char *source, char *why, size_t why_size) {
  char *field = (char *)cfg + o->offset;
  switch (o->kind) {
    case OPT_STRING:
      if (strlen(value) >= o->size) {
        set_why(why, why_size, "%s: %s is longer than %zu characters", source, o->key, o->size - 1);
        return -1;
      }
      strcpy(field, value);
      return 0;
    case OPT_LEVEL:
      if (aic_log_level_parse(value, (aic_log_level_t *)field) != 0) {
        set_why(why, why_size, "%s: log_level '%s' is not error, warn, info or debug", source,
                value);
        return -1;
      }
      return 0;
    case OPT_INT: {
      errno = 0;
      char *end;
      long long v = strtoll(value, &end, 10);
      if (errno || end == value || *end != '\0' || v < o->min || v > o->max) {
        set_why(why, why_size, "%s: %s '%s' is not a whole number in %lld..%lld", source, o->key,
                value, (long long)o->min, (long long)o->max);
        return -1;
      }
      *(int64_t *)field = v;
      return 0;
    }
  }
  return -1;
}

static const option_def_t *find_key(const char *key) {
  for (size_t i = 0; i < OPTION_COUNT; i++)
    if (strcmp(options[i].key, key) == 0) return &options[i];
  return NULL;
}

static char *trim(char *s) {
  while (isspace((unsigned char)*s)) s++;
  char *e = s + strlen(s);
  while (e > s && isspace((unsigned char)e[-1])) *--e = '\0';
  return s;
}

/* Cuts the line at the first '#' outside double quotes. */
static void strip_comment(char *line) {
  int quoted = 0;
  for (char *p = line; *p; p++) {
    if (*p == '"') quoted = !quoted;
    if (*p == '#' && !quoted) {
      *p = '\0';
      return;
    }
  }
}

static int load_file(aicd_config_t *cfg, const char *path, char *why, size_t why_size) {
  FILE *f = fopen(path, "r");
  if (!f) {
    set_why(why, why_size, "cannot read config file %s: %s", path, strerror(errno));
    return -1;
  }
  char line[2048], source[1200];
  int lineno = 0, rc = 0;
  while (fgets(line, sizeof line, f)) {
    lineno++;
    snprintf(source, sizeof source, "%s:%d", path, lineno);
    if (!strchr(line, '\n') && !feof(f)) {
      set_why(why, why_size, "%s: line too long", source);
      rc = -1;
      break;
    }
    strip_comment(line);
    char *s = trim(line);
    if (*s == '\0') continue;
    char *eq = strchr(s, '=');
    if (!eq) {
      set_why(why, why_size, "%s: expected 'key = value'", source);
      rc = -1;
      break;
    }
    *eq = '\0';
    char *key = trim(s), *value = trim(eq + 1);
    /* Allow values in double quotes so they may hold '#' or surrounding spaces. */
    size_t vlen = strlen(value);
    if (vlen >= 2 && value[0] == '"' && value[vlen - 1] == '"') {
      value[vlen - 1] = '\0';
      value++;
    }
    const option_def_t *o = find_key(key);
    if (!o) {
      set_why(why, why_size, "%s: unknown key '%s'", source, key);
      rc = -1;
      break;
    }
    if (set_value(cfg, o, value, source, why, why_size) != 0) {
      rc = -1;
      break;
    }
  }
  fclose(f);
  return rc;
}

static void env_name(const option_def_t *o, char *buf, size_t size) {
  size_t n = (size_t)snprintf(buf, size, "AIC_%s", o->key);
  for (size_t i = 4; i < n && i < size; i++) buf[i] = (char)toupper((unsigned char)buf[i]);
}

static void flag_name(const option_def_t *o, char *buf, size_t size) {
  size_t n = (size_t)snprintf(buf, size, "--%s", o->key);
  for (size_t i = 2; i < n && i < size; i++)
    if (buf[i] == '_') buf[i] = '-';
}

static const char *env_lookup(char **envp, const char *name) {
  size_t n = strlen(name);
  for (char **e = envp; e && *e; e++)
    if (strncmp(*e, name, n) == 0 && (*e)[n] == '=') return *e + n + 1;
  return NULL;
}

void aicd_config_usage(FILE *out) {
  fprintf(out,
          "Usage: aicd [options]\n"
          "The AuraLink AIC compression daemon: gRPC service, HTTP health and metrics.\n\n"
          "Each setting comes from, in rising precedence: its default, the config file,\n"
          "the environment variable, the flag.\n\n"
          "  --config FILE / AIC_CONFIG\n"
          "      config file: lines 'key = value' with the keys below, '#' starts a comment\n");
  for (size_t i = 0; i < OPTION_COUNT; i++) {
    char flag[64], env[64];
    flag_name(&options[i], flag, sizeof flag);
    env_name(&options[i], env, sizeof env);
    fprintf(out, "  %s VALUE / %s / key %s\n      %s\n", flag, env, options[i].key,
            options[i].help);
  }
  fprintf(out, "  --help     print this text and exit\n  --version  print the version and exit\n");
}

int aicd_config_load(aicd_config_t *cfg, int argc, char **argv, char **envp, FILE *out, char *why,
                     size_t why_size) {
  aicd_config_default(cfg);
  why[0] = '\0';
  /* First pass: --help, --version and --config, which decide what the other sources mean. */
  const char *file = env_lookup(envp, "AIC_CONFIG");
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      aicd_config_usage(out);
      return AICD_CONFIG_EXIT;
    }
    if (strcmp(argv[i], "--version") == 0) {
      fprintf(out, "aicd %s\n", AICD_VERSION);
      return AICD_CONFIG_EXIT;
    }
    if (strcmp(argv[i], "--config") == 0) {
      if (i + 1 >= argc) {
        set_why(why, why_size, "--config needs a value");
        return AICD_CONFIG_USAGE;
      }
      file = argv[++i];
    } else if (strncmp(argv[i], "--config=", 9) == 0) {
      file = argv[i] + 9;
    }
  }
  if (file && *file) {
    if (strlen(file) >= sizeof cfg->config_file) {
      set_why(why, why_size, "config file path too long");
      return AICD_CONFIG_USAGE;
    }
    strcpy(cfg->config_file, file);
    if (load_file(cfg, file, why, why_size) != 0) return AICD_CONFIG_FILE;
  }
  for (size_t i = 0; i < OPTION_COUNT; i++) {
    char env[64];
    env_name(&options[i], env, sizeof env);
    const char *v = env_lookup(envp, env);
    if (v && set_value(cfg, &options[i], v, env, why, why_size) != 0) return AICD_CONFIG_USAGE;
  }
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    if (strcmp(arg, "--config") == 0) {
      i++;
      continue;
    }
    if (strncmp(arg, "--config=", 9) == 0) continue;
    const option_def_t *o = NULL;
    const char *value = NULL;
    for (size_t k = 0; k < OPTION_COUNT && !o; k++) {
      char flag[64];
      flag_name(&options[k], flag, sizeof flag);
      size_t n = strlen(flag);
      if (strcmp(arg, flag) == 0) {
        o = &options[k];
        if (i + 1 >= argc) {
          set_why(why, why_size, "%s needs a value", flag);
          return AICD_CONFIG_USAGE;
        }
        value = argv[++i];
      } else if (strncmp(arg, flag, n) == 0 && arg[n] == '=') {
        o = &options[k];
        value = arg + n + 1;
      }
    }
    if (!o) {
      set_why(why, why_size, "unknown option '%s' (see --help)", arg);
      return AICD_CONFIG_USAGE;
    }
    if (set_value(cfg, o, value, arg, why, why_size) != 0) return AICD_CONFIG_USAGE;
  }
  if ((cfg->tls_cert[0] != '\0') != (cfg->tls_key[0] != '\0')) {
    set_why(why, why_size, "tls_cert and tls_key must be given together");
    return AICD_CONFIG_USAGE;
  }
  if (cfg->tls_client_ca[0] && !cfg->tls_cert[0]) {
    set_why(why, why_size, "tls_client_ca needs tls_cert and tls_key");
    return AICD_CONFIG_USAGE;
  }
  return AICD_CONFIG_OK;
}
