/* Named sessions for CompressFrame calls that carry a session_id: bounded in number, dropped
 * after an idle timeout. A session is used by one call at a time (acquire locks it). */
#ifndef AICD_SESSIONS_H
#define AICD_SESSIONS_H

#include <stddef.h>
#include <stdint.h>

#include "aic/engine.h"

#define AICD_SESSION_ID_MAX 128

typedef struct aicd_sessions aicd_sessions_t;
typedef struct aicd_session_ref aicd_session_ref_t;

/* Returns NULL when out of memory or the arguments are out of range. */
aicd_sessions_t *aicd_sessions_new(aic_engine_t *engine, size_t max_sessions,
                                   double idle_timeout_ms);
void aicd_sessions_free(aicd_sessions_t **table);

/* Finds the session named `id` (creating it when `create` is set), marks it used and locks it
 * for the caller. Returns 0 and sets *ref; AIC_ENOTFOUND when absent and !create; AIC_ELIMIT
 * when the table is full of live sessions; AIC_ENOMEM. */
int aicd_sessions_acquire(aicd_sessions_t *table, const char *id, int create,
                          aicd_session_ref_t **ref);

/* The engine session behind a reference. */
aic_session_t *aicd_session_ref_get(aicd_session_ref_t *ref);

/* Unlocks the session and sets *ref to NULL. */
void aicd_sessions_release(aicd_sessions_t *table, aicd_session_ref_t **ref);

/* Number of sessions currently kept. */
size_t aicd_sessions_count(aicd_sessions_t *table);

#endif
