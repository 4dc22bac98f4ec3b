/* Library-internal logging and error-reason helpers. */
#ifndef AIC_CORE_LOG_INTERNAL_H
#define AIC_CORE_LOG_INTERNAL_H

#include <stddef.h>

#include "aic/log.h"

typedef struct aic_logger {
  aic_log_fn fn;
  void *user;
  aic_log_level_t level;
} aic_logger_t;

/* Formats and forwards a message when the logger has a callback and the level is enabled. */
void aic_logf(const aic_logger_t *logger, aic_log_level_t level, const char *component,
              const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Writes a formatted reason into `why` if it is non-NULL and why_size > 0. */
void aic_set_why(char *why, size_t why_size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
