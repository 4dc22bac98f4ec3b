#include "logger.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static atomic_int current_level = AIC_LOG_INFO;
static pthread_mutex_t write_lock = PTHREAD_MUTEX_INITIALIZER;

void aicd_log_set_level(aic_log_level_t level) {
  atomic_store(&current_level, (int)level);
}

int aicd_log_enabled(aic_log_level_t level) {
  return (int)level <= atomic_load(&current_level);
}

static void timestamp(char *buf, size_t size) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm;
  gmtime_r(&ts.tv_sec, &tm);
  char base[32];
  strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(buf, size, "%s.%03ldZ", base, ts.tv_nsec / 1000000L);
}

void aicd_log(aic_log_level_t level, const char *msg, json_t *fields) {
  if (!aicd_log_enabled(level)) {
    json_decref(fields);
    return;
  }
  char ts[48];
  timestamp(ts, sizeof ts);
  json_t *line = json_object();
  if (line) {
    json_object_set_new(line, "ts", json_string(ts));
    json_object_set_new(line, "level", json_string(aic_log_level_name(level)));
    json_object_set_new(line, "msg", json_string(msg ? msg : ""));
    if (json_is_object(fields)) json_object_update_missing(line, fields);
  }
  json_decref(fields);
  char *text = line ? json_dumps(line, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
  json_decref(line);
  pthread_mutex_lock(&write_lock);
  if (text)
    fprintf(stderr, "%s\n", text);
  else /* out of memory: still say something */
    fprintf(stderr, "{\"level\":\"%s\",\"msg\":\"log line lost: out of memory\"}\n",
            aic_log_level_name(level));
  fflush(stderr);
  pthread_mutex_unlock(&write_lock);
  free(text);
}

void aicd_logf(aic_log_level_t level, const char *fmt, ...) {
  if (!aicd_log_enabled(level)) return;
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  aicd_log(level, msg, NULL);
}

void aicd_log_from_lib(void *user, aic_log_level_t level, const char *component,
                       const char *message) {
  (void)user;
  aicd_log(level, message, json_pack("{s:s}", "component", component ? component : "aic"));
}
