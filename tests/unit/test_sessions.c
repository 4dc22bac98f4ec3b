/* The daemon's named-session table: bounded, reused by name, expired when idle. */
#include <string.h>
#include <time.h>

#include "aic_test.h"
#include "aic/error.h"
#include "sessions.h"

static void test_bounded_and_reused(void) {
  aic_engine_t *e;
  CHECK_EQ_INT(aic_engine_create(NULL, &e), 0);
  aicd_sessions_t *t = aicd_sessions_new(e, 2, 60000);
  aicd_session_ref_t *a, *b, *c;
  CHECK_EQ_INT(aicd_sessions_acquire(t, "alpha", 1, &a), 0);
  aic_session_t *first = aicd_session_ref_get(a);
  aicd_sessions_release(t, &a);
  CHECK(a == NULL);
  CHECK_EQ_INT(aicd_sessions_acquire(t, "alpha", 1, &a), 0);
  CHECK(aicd_session_ref_get(a) == first);
  CHECK_EQ_INT(aicd_sessions_acquire(t, "beta", 1, &b), 0);
  CHECK_EQ_INT(aicd_sessions_acquire(t, "gamma", 1, &c), AIC_ELIMIT);
  CHECK_EQ_INT(aicd_sessions_acquire(t, "delta", 0, &c), AIC_ENOTFOUND);
  CHECK_EQ_INT(aicd_sessions_count(t), 2);
  char long_id[AICD_SESSION_ID_MAX + 2];
  memset(long_id, 'x', sizeof long_id - 1);
  long_id[sizeof long_id - 1] = '\0';
  CHECK_EQ_INT(aicd_sessions_acquire(t, long_id, 1, &c), AIC_EINVAL);
  aicd_sessions_release(t, &a);
  aicd_sessions_release(t, &b);
  aicd_sessions_free(&t);
  CHECK(t == NULL);
  aic_engine_free(&e);
}

static void test_idle_sessions_expire(void) {
  aic_engine_t *e;
  CHECK_EQ_INT(aic_engine_create(NULL, &e), 0);
  aicd_sessions_t *t = aicd_sessions_new(e, 1, 20 /* ms */);
  aicd_session_ref_t *a;
  CHECK_EQ_INT(aicd_sessions_acquire(t, "old", 1, &a), 0);
  aicd_sessions_release(t, &a);
  struct timespec pause = {0, 50 * 1000 * 1000};
  nanosleep(&pause, NULL);
  /* The idle one is dropped, so a new one fits in a table of one. */
  CHECK_EQ_INT(aicd_sessions_acquire(t, "new", 1, &a), 0);
  CHECK_EQ_INT(aicd_sessions_count(t), 1);
  aicd_sessions_release(t, &a);
  CHECK_EQ_INT(aicd_sessions_acquire(t, "old", 0, &a), AIC_ENOTFOUND);
  aicd_sessions_free(&t);
  aic_engine_free(&e);
}

int main(void) {
  RUN(test_bounded_and_reused);
  RUN(test_idle_sessions_expire);
  return aic_test_finish();
}
