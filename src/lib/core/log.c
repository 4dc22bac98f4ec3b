#include "core/log_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "aic/error.h"

static const char *const level_names[] = {"error", "warn", "info", "debug"};

int aic_log_level_parse(const char *name, aic_log_level_t *out) {
  if (!name || !out) return AIC_EINVAL;
  for (int i = 0; i < (int)(sizeof level_names / sizeof level_names[0]); i++) {
    if (strcmp(name, level_names[i]) == 0) {
      *out = (aic_log_level_t)i;
      return AIC_OK;
    }
  }
  if (strcmp(name, "warning") == 0) {
    *out = AIC_LOG_WARN;
    return AIC_OK;
  }
  return AIC_EINVAL;
}

const char *aic_log_level_name(aic_log_level_t level) {
  if ((int)level < 0 || (int)level >= (int)(sizeof level_names / sizeof level_names[0]))
    return "unknown";
  return level_names[level];
}

void aic_logf(const aic_logger_t *logger, aic_log_level_t level, const char *component,
              const char *fmt, ...) {
  if (!logger || !logger->fn || level > logger->level) return;
  char message[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(message, sizeof message, fmt, ap);
  va_end(ap);
  logger->fn(logger->user, level, component, message);
}

void aic_set_why(char *why, size_t why_size, const char *fmt, ...) {
  if (!why || why_size == 0) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(why, why_size, fmt, ap);
  va_end(ap);
}
