#include "sessions.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aic/error.h"

struct aicd_session_ref {
  char id[AICD_SESSION_ID_MAX + 1];
  aic_session_t *session;
  pthread_mutex_t use; /* held while a call uses the session */
  int users;           /* calls holding or waiting for `use`; guarded by the table lock */
  double last_used_ms;
};

struct aicd_sessions {
  aic_engine_t *engine;
  pthread_mutex_t lock;
  aicd_session_ref_t **entries; /* linear: tables are small (hundreds), lookups are rare */
  size_t count, cap, max;
  double idle_timeout_ms;
};

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

aicd_sessions_t *aicd_sessions_new(aic_engine_t *engine, size_t max_sessions,
                                   double idle_timeout_ms) {
  if (!engine || max_sessions == 0 || idle_timeout_ms <= 0) return NULL;
  aicd_sessions_t *t = calloc(1, sizeof *t);
  if (!t) return NULL;
  t->engine = engine;
  t->max = max_sessions;
  t->idle_timeout_ms = idle_timeout_ms;
  pthread_mutex_init(&t->lock, NULL);
  return t;
}

static void entry_free(aicd_session_ref_t *e) {
  aic_session_free(&e->session);
  pthread_mutex_destroy(&e->use);
  free(e);
}

void aicd_sessions_free(aicd_sessions_t **table) {
  if (!table || !*table) return;
  aicd_sessions_t *t = *table;
  for (size_t i = 0; i < t->count; i++) entry_free(t->entries[i]);
  free(t->entries);
  pthread_mutex_destroy(&t->lock);
  free(t);
  *table = NULL;
}

/* Drops sessions idle past the timeout that no call holds. Table lock held. */
static void expire_idle(aicd_sessions_t *t, double now) {
  for (size_t i = 0; i < t->count;) {
    aicd_session_ref_t *e = t->entries[i];
    if (e->users == 0 && now - e->last_used_ms > t->idle_timeout_ms) {
      entry_free(e);
      t->entries[i] = t->entries[--t->count];
    } else {
      i++;
    }
  }
}

static int insert(aicd_sessions_t *t, const char *id, double now, aicd_session_ref_t **out) {
  if (t->count == t->max) return AIC_ELIMIT;
  if (t->count == t->cap) {
    /* Grown on demand: `max` may be far larger than what is ever used. */
    size_t cap = t->cap ? t->cap * 2 : 64;
    if (cap > t->max) cap = t->max;
    aicd_session_ref_t **p = realloc(t->entries, cap * sizeof *p);
    if (!p) return AIC_ENOMEM;
    t->entries = p;
    t->cap = cap;
  }
  aicd_session_ref_t *e = calloc(1, sizeof *e);
  if (!e) return AIC_ENOMEM;
  int rc = aic_session_create(t->engine, &e->session);
  if (rc) {
    free(e);
    return rc;
  }
  pthread_mutex_init(&e->use, NULL);
  strcpy(e->id, id);
  e->last_used_ms = now;
  t->entries[t->count++] = e;
  *out = e;
  return AIC_OK;
}

int aicd_sessions_acquire(aicd_sessions_t *t, const char *id, int create,
                          aicd_session_ref_t **ref) {
  if (!t || !id || !ref || strlen(id) > AICD_SESSION_ID_MAX || !*id) return AIC_EINVAL;
  *ref = NULL;
  double now = now_ms();
  pthread_mutex_lock(&t->lock);
  expire_idle(t, now);
  aicd_session_ref_t *e = NULL;
  for (size_t i = 0; i < t->count && !e; i++)
    if (strcmp(t->entries[i]->id, id) == 0) e = t->entries[i];
  int rc = AIC_OK;
  if (!e) rc = create ? insert(t, id, now, &e) : AIC_ENOTFOUND;
  if (rc == AIC_OK) {
    e->users++;
    e->last_used_ms = now;
  }
  pthread_mutex_unlock(&t->lock);
  if (rc) return rc;
  pthread_mutex_lock(&e->use);
  *ref = e;
  return AIC_OK;
}

aic_session_t *aicd_session_ref_get(aicd_session_ref_t *ref) {
  return ref ? ref->session : NULL;
}

void aicd_sessions_release(aicd_sessions_t *t, aicd_session_ref_t **ref) {
  if (!t || !ref || !*ref) return;
  aicd_session_ref_t *e = *ref;
  pthread_mutex_unlock(&e->use);
  pthread_mutex_lock(&t->lock);
  e->users--;
  e->last_used_ms = now_ms();
  pthread_mutex_unlock(&t->lock);
  *ref = NULL;
}

size_t aicd_sessions_count(aicd_sessions_t *t) {
  pthread_mutex_lock(&t->lock);
  size_t n = t->count;
  pthread_mutex_unlock(&t->lock);
  return n;
}
