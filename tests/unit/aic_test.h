/* A minimal unit-test harness: CHECK records a failure and goes on; each test file's main()
 * calls its tests with RUN and returns aic_test_finish(). Output ends with the plain line
 * "N passed, N failed" that CI reads. */
#ifndef AIC_TEST_H
#define AIC_TEST_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static int aic_test_checks_failed;
static int aic_tests_passed;
static int aic_tests_failed;

#define CHECK(cond)                                                            \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      aic_test_checks_failed++;                                                \
    }                                                                          \
  } while (0)

#define CHECK_EQ_INT(a, b)                                                                        \
  do {                                                                                            \
    long long aic_a_ = (long long)(a), aic_b_ = (long long)(b);                                   \
    if (aic_a_ != aic_b_) {                                                                       \
      fprintf(stderr, "%s:%d: CHECK_EQ_INT failed: %s == %lld, %s == %lld\n", __FILE__, __LINE__, \
              #a, aic_a_, #b, aic_b_);                                                            \
      aic_test_checks_failed++;                                                                   \
    }                                                                                             \
  } while (0)

#define CHECK_NEAR(a, b, tol)                                                                  \
  do {                                                                                         \
    double aic_a_ = (double)(a), aic_b_ = (double)(b);                                         \
    if (!(fabs(aic_a_ - aic_b_) <= (tol))) {                                                   \
      fprintf(stderr, "%s:%d: CHECK_NEAR failed: %s == %.9g, %s == %.9g (tol %g)\n", __FILE__, \
              __LINE__, #a, aic_a_, #b, aic_b_, (double)(tol));                                \
      aic_test_checks_failed++;                                                                \
    }                                                                                          \
  } while (0)

#define RUN(test)                                \
  do {                                           \
    int aic_before_ = aic_test_checks_failed;    \
    test();                                      \
    if (aic_test_checks_failed == aic_before_) { \
      aic_tests_passed++;                        \
    } else {                                     \
      aic_tests_failed++;                        \
      fprintf(stderr, "FAIL %s\n", #test);       \
    }                                            \
  } while (0)

static inline int aic_test_finish(void) {
  printf("%d passed, %d failed\n", aic_tests_passed, aic_tests_failed);
  return aic_tests_failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

#endif
