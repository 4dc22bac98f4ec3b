#include "stats.h"

#include <inttypes.h>
#include <math.h>
#include <stddef.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef AICD_VERSION /* set by CMake for aicd_core; a fallback keeps stand-alone builds working */
#define AICD_VERSION "unknown"
#endif

/* Upper bounds (seconds) of the latency buckets. A small raw frame compresses in well under a
 * millisecond, a large one with the quality check can take seconds, and a stream call lasts as
 * long as the stream: 0.5 ms .. 10 s covers all of them on a roughly 1-2.5-5 scale. */
static const double bucket_bounds[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                       0.1,    0.25,  0.5,    1,     2.5,  5,     10};
#define BUCKETS (sizeof bucket_bounds / sizeof bucket_bounds[0])

#define GRPC_CODES 17 /* OK .. UNAUTHENTICATED */
#define GRPC_CODE_UNKNOWN 2

static const char *const grpc_code_names[GRPC_CODES] = {
    "OK",        "CANCELLED",      "UNKNOWN",           "INVALID_ARGUMENT",   "DEADLINE_EXCEEDED",
    "NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
    "ABORTED",   "OUT_OF_RANGE",   "UNIMPLEMENTED",     "INTERNAL",           "UNAVAILABLE",
    "DATA_LOSS", "UNAUTHENTICATED"};

/* By enum value, so reordering the enum cannot mislabel a method. */
static const char *const rpc_names[AICD_RPC_COUNT_] = {
    [AICD_RPC_COMPRESS_FRAME] = "CompressFrame",
    [AICD_RPC_COMPRESS_STREAM] = "CompressStream",
    [AICD_RPC_DECOMPRESS_FRAME] = "DecompressFrame",
    [AICD_RPC_GET_HINTS] = "GetHints",
    [AICD_RPC_ANALYZE_NETWORK] = "AnalyzeNetwork",
    [AICD_RPC_HEALTH_CHECK] = "HealthCheck",
    [AICD_RPC_GRPC_HEALTH_CHECK] = "grpc.health.v1.Health/Check",
    [AICD_RPC_UNKNOWN] = "unknown",
};

/* Counts per bucket are not cumulative here (one increment per observation); render makes them
 * cumulative. counts[BUCKETS] holds observations above the largest bound. */
typedef struct histogram {
  uint64_t counts[BUCKETS + 1];
  uint64_t count;
  double sum;
} histogram_t;

typedef struct rpc_stats {
  _Atomic uint64_t requests;
  _Atomic uint64_t errors[GRPC_CODES]; /* [0] stays 0: OK is not an error */
  _Atomic uint64_t messages;
  _Atomic uint64_t bytes_in;
  _Atomic uint64_t bytes_out;
  /* A histogram's buckets, count and sum must move together so a scrape never sees
   * +Inf != _count; a mutex per RPC keeps that cheap and uncontended across methods. */
  pthread_mutex_t lock;
  histogram_t call_latency;
  histogram_t message_latency;
} rpc_stats_t;

/* Label values by aic_codec_id_t / aic_fallback_t value (kept here so stats.c needs no libaic
 * header; test_stats checks them against libaic's names). */
static const char *const codec_names[] = {"auto", "zstd", "zlib", "av1",
                                          "vp8",  "jpeg", "opus", "neural"};
#define CODECS (sizeof codec_names / sizeof codec_names[0])
static const char *const fallback_names[] = {
    "none", "latency", "quality", "model_unavailable", "error", "codec_unavailable"};
#define FALLBACKS (sizeof fallback_names / sizeof fallback_names[0])

struct aicd_stats {
  rpc_stats_t rpc[AICD_RPC_COUNT_];
  _Atomic uint64_t frames[CODECS];
  _Atomic uint64_t frame_bytes_in[CODECS];
  _Atomic uint64_t frame_bytes_out[CODECS];
  _Atomic uint64_t fallbacks[FALLBACKS];
};

void aicd_stats_record_frame(aicd_stats_t *s, int codec, int fallback, uint64_t bytes_in,
                             uint64_t bytes_out) {
  if (!s || codec < 0 || (size_t)codec >= CODECS) return;
  atomic_fetch_add(&s->frames[codec], 1);
  atomic_fetch_add(&s->frame_bytes_in[codec], bytes_in);
  atomic_fetch_add(&s->frame_bytes_out[codec], bytes_out);
  if (fallback > 0 && (size_t)fallback < FALLBACKS) atomic_fetch_add(&s->fallbacks[fallback], 1);
}

aicd_stats_t *aicd_stats_new(void) {
  aicd_stats_t *s = calloc(1, sizeof *s);
  if (!s) return NULL;
  for (size_t c = 0; c < CODECS; c++) {
    atomic_init(&s->frames[c], 0);
    atomic_init(&s->frame_bytes_in[c], 0);
    atomic_init(&s->frame_bytes_out[c], 0);
  }
  for (size_t r = 0; r < FALLBACKS; r++) atomic_init(&s->fallbacks[r], 0);
  for (int i = 0; i < AICD_RPC_COUNT_; i++) {
    rpc_stats_t *r = &s->rpc[i];
    atomic_init(&r->requests, 0);
    for (int c = 0; c < GRPC_CODES; c++) atomic_init(&r->errors[c], 0);
    atomic_init(&r->messages, 0);
    atomic_init(&r->bytes_in, 0);
    atomic_init(&r->bytes_out, 0);
    if (pthread_mutex_init(&r->lock, NULL) != 0) {
      while (i-- > 0) pthread_mutex_destroy(&s->rpc[i].lock);
      free(s);
      return NULL;
    }
  }
  return s;
}

void aicd_stats_free(aicd_stats_t **stats) {
  if (!stats || !*stats) return;
  for (int i = 0; i < AICD_RPC_COUNT_; i++) pthread_mutex_destroy(&(*stats)->rpc[i].lock);
  free(*stats);
  *stats = NULL;
}

const char *aicd_rpc_name(aicd_rpc_t rpc) {
  if ((int)rpc < 0 || rpc >= AICD_RPC_COUNT_) return rpc_names[AICD_RPC_UNKNOWN];
  return rpc_names[rpc];
}

/* Out-of-range values come from a caller bug; counting them as "unknown" keeps the totals
 * honest instead of dropping or overrunning. */
static rpc_stats_t *rpc_slot(aicd_stats_t *stats, aicd_rpc_t rpc) {
  if ((int)rpc < 0 || rpc >= AICD_RPC_COUNT_) rpc = AICD_RPC_UNKNOWN;
  return &stats->rpc[rpc];
}

/* A NaN or negative latency (clock trouble, caller bug) would poison _sum forever: count the
 * observation as 0 so _count still matches the calls. */
static double sane_seconds(double v) {
  return isfinite(v) && v > 0 ? v : 0;
}

static void observe(histogram_t *h, double v) {
  size_t i = 0;
  while (i < BUCKETS && v > bucket_bounds[i]) i++; /* le is inclusive */
  h->counts[i]++;
  h->count++;
  h->sum += v;
}

static void counter_add(_Atomic uint64_t *c, uint64_t n) {
  /* Relaxed: each counter is independent, readers only need an eventually exact value. */
  atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

void aicd_stats_record_call(aicd_stats_t *stats, aicd_rpc_t rpc, int grpc_status,
                            double latency_seconds) {
  if (!stats) return;
  rpc_stats_t *r = rpc_slot(stats, rpc);
  counter_add(&r->requests, 1);
  if (grpc_status != 0) {
    /* gRPC maps codes it does not know to UNKNOWN; so do we. */
    int code = grpc_status > 0 && grpc_status < GRPC_CODES ? grpc_status : GRPC_CODE_UNKNOWN;
    counter_add(&r->errors[code], 1);
  }
  double v = sane_seconds(latency_seconds);
  pthread_mutex_lock(&r->lock);
  observe(&r->call_latency, v);
  pthread_mutex_unlock(&r->lock);
}

void aicd_stats_record_message(aicd_stats_t *stats, aicd_rpc_t rpc, uint64_t bytes_in,
                               uint64_t bytes_out, double latency_seconds) {
  if (!stats) return;
  rpc_stats_t *r = rpc_slot(stats, rpc);
  counter_add(&r->messages, 1);
  counter_add(&r->bytes_in, bytes_in);
  counter_add(&r->bytes_out, bytes_out);
  double v = sane_seconds(latency_seconds);
  pthread_mutex_lock(&r->lock);
  observe(&r->message_latency, v);
  pthread_mutex_unlock(&r->lock);
}

/* ---- rendering ---- */

/* A copy of every counter, each histogram taken whole under its lock, so the text is produced
 * without holding any lock. */
typedef struct rpc_snapshot {
  uint64_t requests, messages, bytes_in, bytes_out;
  uint64_t errors[GRPC_CODES];
  histogram_t call_latency, message_latency;
} rpc_snapshot_t;

static void snapshot(const aicd_stats_t *stats, rpc_snapshot_t *out) {
  /* The locks guard the histograms, not the object's value: casting const away to take them is
   * defined because every aicd_stats_t comes from aicd_stats_new (a non-const malloc). */
  aicd_stats_t *s = (aicd_stats_t *)stats;
  for (int i = 0; i < AICD_RPC_COUNT_; i++) {
    rpc_stats_t *r = &s->rpc[i];
    rpc_snapshot_t *o = &out[i];
    o->requests = atomic_load_explicit(&r->requests, memory_order_relaxed);
    o->messages = atomic_load_explicit(&r->messages, memory_order_relaxed);
    o->bytes_in = atomic_load_explicit(&r->bytes_in, memory_order_relaxed);
    o->bytes_out = atomic_load_explicit(&r->bytes_out, memory_order_relaxed);
    for (int c = 0; c < GRPC_CODES; c++)
      o->errors[c] = atomic_load_explicit(&r->errors[c], memory_order_relaxed);
    pthread_mutex_lock(&r->lock);
    o->call_latency = r->call_latency;
    o->message_latency = r->message_latency;
    pthread_mutex_unlock(&r->lock);
  }
}

/* A growing text buffer; after the first allocation failure every append is a no-op and the
 * render returns NULL. */
typedef struct text {
  char *data;
  size_t len, cap;
  int failed;
} text_t;

static int text_reserve(text_t *t, size_t more) {
  if (t->failed) return -1;
  if (t->cap - t->len > more) return 0;
  size_t cap = t->cap ? t->cap : 16384; /* a full page is ~22 KB: one doubling */
  while (cap - t->len <= more) {
    if (cap > SIZE_MAX / 2) {
      t->failed = 1;
      return -1;
    }
    cap *= 2;
  }
  char *p = realloc(t->data, cap);
  if (!p) {
    t->failed = 1;
    return -1;
  }
  t->data = p;
  t->cap = cap;
  return 0;
}

#if defined(__GNUC__)
#define PRINTF_LIKE(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define PRINTF_LIKE(fmt, args)
#endif
static void text_printf(text_t *t, const char *fmt, ...) PRINTF_LIKE(2, 3);
static void text_printf(text_t *t, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  va_list again;
  va_copy(again, ap);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0) {
    t->failed = 1;
  } else if (text_reserve(t, (size_t)n) == 0) {
    vsnprintf(t->data + t->len, t->cap - t->len, fmt, again);
    t->len += (size_t)n;
  }
  va_end(again);
}

static void text_putc(text_t *t, char c) {
  if (text_reserve(t, 1) != 0) return;
  t->data[t->len++] = c;
  t->data[t->len] = '\0';
}

/* Label values escape backslash, double quote and line feed (exposition format 0.0.4). */
static void text_label_value(text_t *t, const char *v) {
  for (; *v; v++) {
    switch (*v) {
      case '\\': text_printf(t, "\\\\"); break;
      case '"': text_printf(t, "\\\""); break;
      case '\n': text_printf(t, "\\n"); break;
      default: text_putc(t, *v); break;
    }
  }
}

/* The shortest of %.15g and %.17g that reads back as the same double: exact, yet "0.25" rather
 * than "0.25000000000000000". */
static void format_double(char *buf, size_t size, double v) {
  snprintf(buf, size, "%.15g", v);
  if (strtod(buf, NULL) != v) snprintf(buf, size, "%.17g", v);
}

static void family(text_t *t, const char *name, const char *type, const char *help) {
  text_printf(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* name<suffix>{method="..."} value */
static void method_sample(text_t *t, const char *name, const char *suffix, int rpc,
                          uint64_t value) {
  text_printf(t, "%s%s{method=\"", name, suffix);
  text_label_value(t, rpc_names[rpc]);
  text_printf(t, "\"} %" PRIu64 "\n", value);
}

static void histogram_series(text_t *t, const char *name, int rpc, const histogram_t *h) {
  uint64_t cumulative = 0;
  char num[40];
  for (size_t i = 0; i <= BUCKETS; i++) {
    cumulative += h->counts[i];
    if (i < BUCKETS)
      format_double(num, sizeof num, bucket_bounds[i]);
    else
      snprintf(num, sizeof num, "+Inf");
    text_printf(t, "%s_bucket{method=\"", name);
    text_label_value(t, rpc_names[rpc]);
    text_printf(t, "\",le=\"%s\"} %" PRIu64 "\n", num, cumulative);
  }
  format_double(num, sizeof num, h->sum);
  text_printf(t, "%s_sum{method=\"", name);
  text_label_value(t, rpc_names[rpc]);
  text_printf(t, "\"} %s\n", num);
  method_sample(t, name, "_count", rpc, h->count);
}

static void render_calls(text_t *t, const rpc_snapshot_t *snap) {
  family(t, "aic_grpc_requests_total", "counter",
         "gRPC calls finished, by method (errors included).");
  for (int r = 0; r < AICD_RPC_COUNT_; r++)
    method_sample(t, "aic_grpc_requests_total", "", r, snap[r].requests);

  /* Only codes that occurred: 8 methods x 16 codes of zeros would bury the useful lines. */
  family(t, "aic_grpc_errors_total", "counter",
         "gRPC calls finished with a status other than OK, by method and status code.");
  for (int r = 0; r < AICD_RPC_COUNT_; r++) {
    for (int c = 1; c < GRPC_CODES; c++) {
      if (snap[r].errors[c] == 0) continue;
      text_printf(t, "aic_grpc_errors_total{method=\"");
      text_label_value(t, rpc_names[r]);
      text_printf(t, "\",code=\"%s\"} %" PRIu64 "\n", grpc_code_names[c], snap[r].errors[c]);
    }
  }

  family(t, "aic_grpc_call_duration_seconds", "histogram",
         "Time from the start of a gRPC call to its status, by method.");
  for (int r = 0; r < AICD_RPC_COUNT_; r++)
    histogram_series(t, "aic_grpc_call_duration_seconds", r, &snap[r].call_latency);
}

static void render_messages(text_t *t, const rpc_snapshot_t *snap) {
  family(t, "aic_messages_total", "counter",
         "Messages handled (one per unary call, one per frame of a stream), by method.");
  for (int r = 0; r < AICD_RPC_COUNT_; r++)
    method_sample(t, "aic_messages_total", "", r, snap[r].messages);

  family(t, "aic_message_duration_seconds", "histogram", "Time to handle one message, by method.");
  for (int r = 0; r < AICD_RPC_COUNT_; r++)
    histogram_series(t, "aic_message_duration_seconds", r, &snap[r].message_latency);

  family(t, "aic_bytes_in_total", "counter",
         "Raw media payload bytes received in messages, by method.");
  for (int r = 0; r < AICD_RPC_COUNT_; r++)
    method_sample(t, "aic_bytes_in_total", "", r, snap[r].bytes_in);

  family(t, "aic_bytes_out_total", "counter", "Payload bytes produced in replies, by method.");
  for (int r = 0; r < AICD_RPC_COUNT_; r++)
    method_sample(t, "aic_bytes_out_total", "", r, snap[r].bytes_out);
}

static void render_frames(text_t *t, const aicd_stats_t *s) {
  static const struct {
    const char *name, *help;
    size_t offset;
  } fams[] = {
      {"aic_frames_total", "Frames compressed, by the codec that produced them.",
       offsetof(aicd_stats_t, frames)},
      {"aic_frame_bytes_in_total", "Raw frame bytes compressed, by codec.",
       offsetof(aicd_stats_t, frame_bytes_in)},
      {"aic_frame_bytes_out_total", "Bitstream bytes produced, by codec.",
       offsetof(aicd_stats_t, frame_bytes_out)},
  };
  for (size_t f = 0; f < sizeof fams / sizeof fams[0]; f++) {
    family(t, fams[f].name, "counter", fams[f].help);
    const _Atomic uint64_t *v = (const _Atomic uint64_t *)((const char *)s + fams[f].offset);
    for (size_t c = 1; c < CODECS; c++)
      text_printf(t, "%s{codec=\"%s\"} %" PRIu64 "\n", fams[f].name, codec_names[c],
                  atomic_load(&v[c]));
  }
  family(t, "aic_fallbacks_total", "counter",
         "Frames that left the first codec of their chain, by reason.");
  for (size_t r = 1; r < FALLBACKS; r++)
    text_printf(t, "aic_fallbacks_total{reason=\"%s\"} %" PRIu64 "\n", fallback_names[r],
                atomic_load(&s->fallbacks[r]));
}

static void render_process(text_t *t, double uptime_seconds) {
  char num[40];
  format_double(num, sizeof num, sane_seconds(uptime_seconds));
  family(t, "aic_uptime_seconds", "gauge", "Seconds since aicd started.");
  text_printf(t, "aic_uptime_seconds %s\n", num);

  family(t, "aic_build_info", "gauge", "Always 1; the labels describe the running build.");
  text_printf(t, "aic_build_info{version=\"");
  text_label_value(t, AICD_VERSION);
  text_printf(t, "\"} 1\n");
}

char *aicd_stats_render(const aicd_stats_t *stats, double uptime_seconds) {
  if (!stats) return NULL;
  rpc_snapshot_t snap[AICD_RPC_COUNT_];
  snapshot(stats, snap);
  text_t t = {0};
  render_calls(&t, snap);
  render_messages(&t, snap);
  render_frames(&t, stats);
  render_process(&t, uptime_seconds);
  if (t.failed) {
    free(t.data);
    return NULL;
  }
  return t.data;
}
