/* Structured logging: one JSON object per line on stderr, with "ts", "level", "msg" and any
 * extra fields. Thread-safe. */
#ifndef AICD_LOGGER_H
#define AICD_LOGGER_H

#include <jansson.h>

#include "aic/log.h"

void aicd_log_set_level(aic_log_level_t level);
int aicd_log_enabled(aic_log_level_t level);

/* Logs `msg` with the fields of `fields` (a JSON object, or NULL), which this call takes
 * ownership of (json_decref'd here). */
void aicd_log(aic_log_level_t level, const char *msg, json_t *fields);

/* Logs a formatted message with no extra fields. */
void aicd_logf(aic_log_level_t level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* An aic_log_fn for libaic: logs with a "component" field. `user` is unused. */
void aicd_log_from_lib(void *user, aic_log_level_t level, const char *component,
                       const char *message);

#endif
