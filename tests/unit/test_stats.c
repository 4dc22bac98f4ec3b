/* The Prometheus counters: exact totals under concurrent recording, and a page that follows the
 * text exposition format 0.0.4 (families once, cumulative buckets, +Inf == _count). */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aic/codec.h"
#include "aic/engine.h"
#include "aic_test.h"
#include "stats.h"

#define LE_COUNT 15
static const char *const le_labels[LE_COUNT] = {"0.0005", "0.001", "0.0025", "0.005", "0.01",
                                                "0.025",  "0.05",  "0.1",    "0.25",  "0.5",
                                                "1",      "2.5",   "5",      "10",    "+Inf"};
static const double le_bounds[LE_COUNT] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                           0.25,   0.5,   1,      2.5,   5,    10,    1e308};

/* The value of the sample line that starts with exactly `series` (name and labels); returns 0
 * when there is no such line. */
static int sample(const char *text, const char *series, double *value) {
  size_t n = strlen(series);
  for (const char *line = text; line && *line;) {
    const char *end = strchr(line, '\n');
    if (strncmp(line, series, n) == 0 && line[n] == ' ') {
      char *stop;
      *value = strtod(line + n + 1, &stop);
      return stop != line + n + 1 && (*stop == '\n' || *stop == '\0');
    }
    line = end ? end + 1 : NULL;
  }
  return 0;
}

static double value_of(const char *text, const char *series) {
  double v = -1;
  if (!sample(text, series, &v)) {
    fprintf(stderr, "missing sample: %s\n", series);
    return -1;
  }
  return v;
}

static double method_value(const char *text, const char *name, const char *method) {
  char series[256];
  snprintf(series, sizeof series, "%s{method=\"%s\"}", name, method);
  return value_of(text, series);
}

static double error_value(const char *text, const char *method, const char *code) {
  char series[256];
  snprintf(series, sizeof series, "aic_grpc_errors_total{method=\"%s\",code=\"%s\"}", method, code);
  double v;
  return sample(text, series, &v) ? v : 0; /* zero series are left out */
}

static double bucket_value(const char *text, const char *name, const char *method, int le) {
  char series[256];
  snprintf(series, sizeof series, "%s_bucket{method=\"%s\",le=\"%s\"}", name, method,
           le_labels[le]);
  return value_of(text, series);
}

/* ---- what the threads record, computed the same way for the expectations ---- */

#define THREADS 8
#define PER_THREAD 4000

static const double latencies[] = {0.0001, 0.001, 0.003, 0.2, 1.5, 30};
#define LATENCIES (sizeof latencies / sizeof latencies[0])

static aicd_rpc_t rpc_of(int thread, int i) {
  return (aicd_rpc_t)((thread + i) % AICD_RPC_COUNT_);
}
static int status_of(int i) {
  return i % 5 == 0 ? 3 /* INVALID_ARGUMENT */ : i % 7 == 0 ? 14 : 0;
}
static double latency_of(int i) {
  return latencies[(size_t)i % LATENCIES];
}

typedef struct expected {
  uint64_t requests, invalid, unavailable, messages, bytes_in, bytes_out;
  uint64_t buckets[LE_COUNT];
  double sum;
} expected_t;

typedef struct worker_arg {
  aicd_stats_t *stats;
  int thread;
} worker_arg_t;

static void *worker(void *p) {
  worker_arg_t *w = p;
  for (int i = 0; i < PER_THREAD; i++) {
    aicd_rpc_t rpc = rpc_of(w->thread, i);
    aicd_stats_record_call(w->stats, rpc, status_of(i), latency_of(i));
    aicd_stats_record_message(w->stats, rpc, 1000 + (uint64_t)i, 10 + (uint64_t)i % 3,
                              latency_of(i + 1));
  }
  return NULL;
}

static void expect_all(expected_t *calls, expected_t *msgs) {
  memset(calls, 0, sizeof(expected_t) * AICD_RPC_COUNT_);
  memset(msgs, 0, sizeof(expected_t) * AICD_RPC_COUNT_);
  for (int t = 0; t < THREADS; t++) {
    for (int i = 0; i < PER_THREAD; i++) {
      expected_t *c = &calls[rpc_of(t, i)], *m = &msgs[rpc_of(t, i)];
      c->requests++;
      c->invalid += status_of(i) == 3;
      c->unavailable += status_of(i) == 14;
      c->sum += latency_of(i);
      m->messages++;
      m->bytes_in += 1000 + (uint64_t)i;
      m->bytes_out += 10 + (uint64_t)i % 3;
      m->sum += latency_of(i + 1);
      for (int b = 0; b < LE_COUNT; b++) {
        c->buckets[b] += latency_of(i) <= le_bounds[b];
        m->buckets[b] += latency_of(i + 1) <= le_bounds[b];
      }
    }
  }
}

static void check_histogram(const char *text, const char *name, const char *method,
                            const expected_t *e, uint64_t count) {
  double previous = 0;
  for (int b = 0; b < LE_COUNT; b++) {
    double v = bucket_value(text, name, method, b);
    CHECK_EQ_INT(v, e->buckets[b]);
    CHECK(v >= previous); /* cumulative */
    previous = v;
  }
  char series[256];
  snprintf(series, sizeof series, "%s_count{method=\"%s\"}", name, method);
  CHECK_EQ_INT(value_of(text, series), count);
  CHECK_EQ_INT(bucket_value(text, name, method, LE_COUNT - 1), count); /* +Inf == _count */
  snprintf(series, sizeof series, "%s_sum{method=\"%s\"}", name, method);
  CHECK_NEAR(value_of(text, series), e->sum, 1e-6 * (e->sum + 1));
}

static void test_concurrent_totals(void) {
  aicd_stats_t *s = aicd_stats_new();
  CHECK(s != NULL);
  if (!s) return;
  pthread_t threads[THREADS];
  worker_arg_t args[THREADS];
  for (int t = 0; t < THREADS; t++) {
    args[t] = (worker_arg_t){s, t};
    CHECK_EQ_INT(pthread_create(&threads[t], NULL, worker, &args[t]), 0);
  }
  for (int t = 0; t < THREADS; t++) pthread_join(threads[t], NULL);

  expected_t calls[AICD_RPC_COUNT_], msgs[AICD_RPC_COUNT_];
  expect_all(calls, msgs);
  char *text = aicd_stats_render(s, 12.5);
  CHECK(text != NULL);
  if (!text) {
    aicd_stats_free(&s);
    return;
  }
  uint64_t all = 0;
  for (int r = 0; r < AICD_RPC_COUNT_; r++) {
    const char *m = aicd_rpc_name((aicd_rpc_t)r);
    all += calls[r].requests;
    CHECK_EQ_INT(method_value(text, "aic_grpc_requests_total", m), calls[r].requests);
    CHECK_EQ_INT(error_value(text, m, "INVALID_ARGUMENT"), calls[r].invalid);
    CHECK_EQ_INT(error_value(text, m, "UNAVAILABLE"), calls[r].unavailable);
    CHECK_EQ_INT(error_value(text, m, "OK"), 0);
    check_histogram(text, "aic_grpc_call_duration_seconds", m, &calls[r], calls[r].requests);
    CHECK_EQ_INT(method_value(text, "aic_messages_total", m), msgs[r].messages);
    CHECK_EQ_INT(method_value(text, "aic_bytes_in_total", m), msgs[r].bytes_in);
    CHECK_EQ_INT(method_value(text, "aic_bytes_out_total", m), msgs[r].bytes_out);
    check_histogram(text, "aic_message_duration_seconds", m, &msgs[r], msgs[r].messages);
  }
  CHECK_EQ_INT(all, THREADS * PER_THREAD);
  CHECK_NEAR(value_of(text, "aic_uptime_seconds"), 12.5, 1e-9);
  free(text);
  aicd_stats_free(&s);
  CHECK(s == NULL);
}

/* ---- format ---- */

static int starts_with(const char *s, const char *prefix) {
  return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* The sample's metric name belongs to the family last announced by # TYPE. */
static int in_family(const char *name, size_t len, const char *family, const char *type) {
  size_t f = strlen(family);
  if (len == f && strncmp(name, family, f) == 0) return 1;
  if (strcmp(type, "histogram") != 0 || len <= f || strncmp(name, family, f) != 0) return 0;
  const char *suffix = name + f;
  size_t s = len - f;
  return (s == 7 && strncmp(suffix, "_bucket", 7) == 0) ||
         (s == 4 && strncmp(suffix, "_sum", 4) == 0) ||
         (s == 6 && strncmp(suffix, "_count", 6) == 0);
}

/* Walks every line: comments are HELP then TYPE of a new family (never seen before), samples
 * are name{labels} value within the current family, and the page ends with a newline. */
static void check_exposition_format(const char *text) {
  char family[128] = "", type[32] = "", help_for[128] = "";
  char seen[64][128];
  int families = 0, lines = 0;
  CHECK(text[0] != '\0' && text[strlen(text) - 1] == '\n');
  for (const char *line = text; *line;) {
    const char *end = strchr(line, '\n');
    if (!end) break;
    size_t len = (size_t)(end - line);
    char buf[512];
    CHECK(len < sizeof buf);
    if (len >= sizeof buf) return;
    memcpy(buf, line, len);
    buf[len] = '\0';
    lines++;
    if (starts_with(buf, "# HELP ")) {
      CHECK(sscanf(buf, "# HELP %127s", help_for) == 1);
    } else if (starts_with(buf, "# TYPE ")) {
      CHECK(sscanf(buf, "# TYPE %127s %31s", family, type) == 2);
      CHECK(strcmp(family, help_for) == 0); /* HELP just before, same family */
      CHECK(strcmp(type, "counter") == 0 || strcmp(type, "gauge") == 0 ||
            strcmp(type, "histogram") == 0);
      for (int i = 0; i < families; i++) CHECK(strcmp(seen[i], family) != 0);
      if (families < 64) snprintf(seen[families++], sizeof seen[0], "%s", family);
    } else {
      CHECK(buf[0] != '#');
      size_t name_len = strcspn(buf, "{ ");
      CHECK(in_family(buf, name_len, family, type));
      const char *value = strchr(buf, ' ');
      if (buf[name_len] == '{') {
        const char *close = strstr(buf, "} ");
        CHECK(close != NULL);
        value = close ? close + 1 : value;
      }
      CHECK(value != NULL && value[1] != '\0');
      if (value) {
        char *stop;
        strtod(value + 1, &stop);
        CHECK(*stop == '\0' && stop != value + 1);
      }
    }
    line = end + 1;
  }
  CHECK(lines > 0);
  CHECK_EQ_INT(families, 13);
}

static void test_exposition_format(void) {
  aicd_stats_t *s = aicd_stats_new();
  CHECK(s != NULL);
  if (!s) return;
  aicd_stats_record_call(s, AICD_RPC_GET_HINTS, 5, 0.02);
  aicd_stats_record_message(s, AICD_RPC_COMPRESS_STREAM, 100, 40, 0.004);
  char *text = aicd_stats_render(s, 3);
  CHECK(text != NULL);
  if (text) {
    check_exposition_format(text);
    CHECK(strstr(text, "# TYPE aic_grpc_requests_total counter\n") != NULL);
    CHECK(strstr(text, "# TYPE aic_grpc_errors_total counter\n") != NULL);
    CHECK(strstr(text, "# TYPE aic_grpc_call_duration_seconds histogram\n") != NULL);
    CHECK(strstr(text, "# TYPE aic_messages_total counter\n") != NULL);
    CHECK(strstr(text, "# TYPE aic_message_duration_seconds histogram\n") != NULL);
    CHECK(strstr(text, "# TYPE aic_bytes_in_total counter\n") != NULL);
    CHECK(strstr(text, "# TYPE aic_bytes_out_total counter\n") != NULL);
    CHECK(strstr(text, "# TYPE aic_uptime_seconds gauge\n") != NULL);
    CHECK(strstr(text, "# TYPE aic_build_info gauge\n") != NULL);
    CHECK(strstr(text, "\naic_build_info{version=\"") != NULL);
    /* Every method appears, zero included, so dashboards see them before traffic. */
    for (int r = 0; r < AICD_RPC_COUNT_; r++)
      CHECK_EQ_INT(method_value(text, "aic_grpc_requests_total", aicd_rpc_name((aicd_rpc_t)r)),
                   r == AICD_RPC_GET_HINTS);
    CHECK_EQ_INT(error_value(text, "GetHints", "NOT_FOUND"), 1);
    CHECK(strstr(text, "aic_grpc_errors_total{method=\"CompressFrame\"") == NULL);
    CHECK(strstr(text,
                 "\naic_grpc_call_duration_seconds_bucket{method="
                 "\"grpc.health.v1.Health/Check\",le=\"+Inf\"} 0\n") != NULL);
    CHECK_NEAR(value_of(text, "aic_uptime_seconds"), 3, 0);
    free(text);
  }
  aicd_stats_free(&s);
}

static void test_bucket_edges_and_odd_input(void) {
  aicd_stats_t *s = aicd_stats_new();
  CHECK(s != NULL);
  if (!s) return;
  aicd_stats_record_call(s, AICD_RPC_COMPRESS_FRAME, 0, 0.001); /* le is inclusive */
  aicd_stats_record_call(s, AICD_RPC_COMPRESS_FRAME, 0, 10);
  aicd_stats_record_call(s, AICD_RPC_COMPRESS_FRAME, 0, 10.5); /* only +Inf */
  aicd_stats_record_call(s, AICD_RPC_COMPRESS_FRAME, 0, -1);   /* clock trouble: counted as 0 */
  aicd_stats_record_call(s, AICD_RPC_COMPRESS_FRAME, 0, NAN);
  aicd_stats_record_call(s, AICD_RPC_COMPRESS_FRAME, 99, 0.0001); /* unknown code -> UNKNOWN */
  aicd_stats_record_call(s, AICD_RPC_COMPRESS_FRAME, -4, 0.0001);
  aicd_stats_record_call(s, (aicd_rpc_t)42, 1, 0.0001); /* bad rpc -> "unknown" */
  aicd_stats_record_message(s, (aicd_rpc_t)-1, UINT64_C(1) << 40, 0, 0.1);
  char *text = aicd_stats_render(s, -5);
  CHECK(text != NULL);
  if (text) {
    const char *cf = "CompressFrame", *h = "aic_grpc_call_duration_seconds";
    CHECK_EQ_INT(bucket_value(text, h, cf, 0), 4);  /* 0.0005: -1, NaN, 2 x 0.0001 */
    CHECK_EQ_INT(bucket_value(text, h, cf, 1), 5);  /* 0.001 */
    CHECK_EQ_INT(bucket_value(text, h, cf, 13), 6); /* 10 */
    CHECK_EQ_INT(bucket_value(text, h, cf, 14), 7); /* +Inf */
    CHECK_NEAR(value_of(text, "aic_grpc_call_duration_seconds_sum{method=\"CompressFrame\"}"),
               20.5012, 1e-9);
    CHECK_EQ_INT(error_value(text, cf, "UNKNOWN"), 2);
    CHECK_EQ_INT(error_value(text, "unknown", "CANCELLED"), 1);
    CHECK_EQ_INT(method_value(text, "aic_bytes_in_total", "unknown"), UINT64_C(1) << 40);
    CHECK_NEAR(value_of(text, "aic_uptime_seconds"), 0, 0);
    check_exposition_format(text);
    free(text);
  }
  aicd_stats_free(&s);
}

static void test_names_and_null(void) {
  CHECK(strcmp(aicd_rpc_name(AICD_RPC_COMPRESS_FRAME), "CompressFrame") == 0);
  CHECK(strcmp(aicd_rpc_name(AICD_RPC_COMPRESS_STREAM), "CompressStream") == 0);
  CHECK(strcmp(aicd_rpc_name(AICD_RPC_DECOMPRESS_FRAME), "DecompressFrame") == 0);
  CHECK(strcmp(aicd_rpc_name(AICD_RPC_GET_HINTS), "GetHints") == 0);
  CHECK(strcmp(aicd_rpc_name(AICD_RPC_ANALYZE_NETWORK), "AnalyzeNetwork") == 0);
  CHECK(strcmp(aicd_rpc_name(AICD_RPC_HEALTH_CHECK), "HealthCheck") == 0);
  CHECK(strcmp(aicd_rpc_name(AICD_RPC_GRPC_HEALTH_CHECK), "grpc.health.v1.Health/Check") == 0);
  CHECK(strcmp(aicd_rpc_name(AICD_RPC_UNKNOWN), "unknown") == 0);
  CHECK(strcmp(aicd_rpc_name(AICD_RPC_COUNT_), "unknown") == 0);
  aicd_stats_record_call(NULL, AICD_RPC_COMPRESS_FRAME, 0, 1);
  aicd_stats_record_message(NULL, AICD_RPC_COMPRESS_FRAME, 1, 1, 1);
  CHECK(aicd_stats_render(NULL, 1) == NULL);
  aicd_stats_t *none = NULL;
  aicd_stats_free(&none);
  aicd_stats_free(NULL);
}

static void test_frames_by_codec_and_fallbacks(void) {
  aicd_stats_t *s = aicd_stats_new();
  aicd_stats_record_frame(s, AIC_CODEC_AV1, AIC_FALLBACK_NONE, 1000, 50);
  aicd_stats_record_frame(s, AIC_CODEC_AV1, AIC_FALLBACK_NONE, 1000, 70);
  aicd_stats_record_frame(s, AIC_CODEC_ZSTD, AIC_FALLBACK_QUALITY, 1000, 900);
  aicd_stats_record_frame(s, 99, AIC_FALLBACK_NONE, 1, 1); /* ignored */
  char *text = aicd_stats_render(s, 1);
  CHECK(text != NULL);
  if (text) {
    CHECK(strstr(text, "aic_frames_total{codec=\"av1\"} 2\n") != NULL);
    CHECK(strstr(text, "aic_frame_bytes_out_total{codec=\"av1\"} 120\n") != NULL);
    CHECK(strstr(text, "aic_frames_total{codec=\"neural\"} 0\n") != NULL);
    CHECK(strstr(text, "aic_fallbacks_total{reason=\"quality\"} 1\n") != NULL);
    CHECK(strstr(text, "# TYPE aic_fallbacks_total counter\n") != NULL);
    /* Label values are libaic's own names. */
    for (int c = 1; c < AIC_CODEC_COUNT_; c++) {
      char want[96];
      snprintf(want, sizeof want, "aic_frames_total{codec=\"%s\"}", aic_codec_name(c));
      CHECK(strstr(text, want) != NULL);
    }
  }
  free(text);
  aicd_stats_free(&s);
}

int main(void) {
  RUN(test_frames_by_codec_and_fallbacks);
  RUN(test_concurrent_totals);
  RUN(test_exposition_format);
  RUN(test_bucket_edges_and_odd_input);
  RUN(test_names_and_null);
  return aic_test_finish();
}
