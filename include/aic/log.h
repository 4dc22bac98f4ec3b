/* Logging: libaic never prints. It hands messages to a callback the application installs. */
#ifndef AIC_LOG_H
#define AIC_LOG_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum aic_log_level {
  AIC_LOG_ERROR = 0,
  AIC_LOG_WARN = 1,
  AIC_LOG_INFO = 2,
  AIC_LOG_DEBUG = 3,
} aic_log_level_t;

/* Receives one message (no trailing newline). `component` names the part of libaic that speaks
 * ("engine", "codec.zstd"). May be called from any thread; must not call back into libaic. */
typedef void (*aic_log_fn)(void *user, aic_log_level_t level, const char *component,
                           const char *message);

/* Parses "error", "warn", "info" or "debug". Returns 0 and sets *out, or AIC_EINVAL. */
int aic_log_level_parse(const char *name, aic_log_level_t *out);

/* The lower-case name of a level ("info"); "unknown" for values out of range. */
const char *aic_log_level_name(aic_log_level_t level);

#ifdef __cplusplus
}
#endif
#endif
