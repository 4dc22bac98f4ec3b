#include "grpc_server.h"

#include <errno.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/time.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "logger.h"

/* Requests kept armed per method, so bursts of new calls do not wait for a re-arm. */
#define ARMED_PER_METHOD 8

typedef struct method {
  const char *path;
  aicd_rpc_t rpc;
  bool streaming;
} method_t;

static const method_t methods[] = {
    {"/auralink.aic.v1.AICCompressionService/CompressFrame", AICD_RPC_COMPRESS_FRAME, false},
    {"/auralink.aic.v1.AICCompressionService/CompressStream", AICD_RPC_COMPRESS_STREAM, true},
    {"/auralink.aic.v1.AICCompressionService/DecompressFrame", AICD_RPC_DECOMPRESS_FRAME, false},
    {"/auralink.aic.v1.AICCompressionService/GetHints", AICD_RPC_GET_HINTS, false},
    {"/auralink.aic.v1.AICCompressionService/AnalyzeNetwork", AICD_RPC_ANALYZE_NETWORK, false},
    {"/auralink.aic.v1.AICCompressionService/HealthCheck", AICD_RPC_HEALTH_CHECK, false},
    {"/grpc.health.v1.Health/Check", AICD_RPC_GRPC_HEALTH_CHECK, false},
};
#define METHOD_COUNT (sizeof methods / sizeof methods[0])
#define GENERIC_METHOD (-1) /* anything not registered: answered UNIMPLEMENTED */

/* What a completion means for its call. */
typedef enum {
  EV_NEW_CALL,
  EV_CLOSED,    /* RECV_CLOSE_ON_SERVER: the call is over for the client */
  EV_FINISHED,  /* the batch carrying our status completed */
  EV_STREAM_IO, /* a stream batch whose RECV_MESSAGE completed */
} event_t;

typedef struct call call_t;
typedef struct tag {
  call_t *call;
  event_t event;
} tag_t;

struct call {
  aicd_grpc_t *srv;
  int method; /* index into methods, or GENERIC_METHOD */
  grpc_call *call;
  gpr_timespec deadline;
  grpc_metadata_array request_md;
  grpc_call_details details; /* generic calls only */
  grpc_byte_buffer *recv;    /* initial payload (unary) or the last received message (stream) */
  grpc_byte_buffer *send;
  grpc_slice status_details;
  atomic_bool have_status_details; /* read by the EV_CLOSED handler on another thread */
  bool sent_initial_md;
  int cancelled;   /* set by RECV_CLOSE_ON_SERVER */
  atomic_int refs; /* one per outstanding batch or request */
  bool active;     /* became a call (not just an armed request) */
  aicd_stream_t *stream;
  grpc_status_code status;
  double started_ms;
  tag_t on_new, on_closed, on_finished, on_stream_io;
};

struct aicd_grpc {
  grpc_server *server;
  grpc_completion_queue *cq;
  grpc_completion_queue *shutdown_cq;
  aicd_service_t *svc;
  void *handles[METHOD_COUNT]; /* from grpc_server_register_method */
  pthread_t *workers;
  int worker_count;
  atomic_bool stopping;
  /* call_t records alive (armed requests included) and those that became calls: the completion
   * queue may only be shut down once no record is left to start a batch on it. */
  atomic_int records;
  atomic_int active_calls;
};

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void call_unref(call_t *c) {
  if (atomic_fetch_sub(&c->refs, 1) != 1) return;
  aicd_grpc_t *s = c->srv;
  if (c->call) grpc_call_unref(c->call);
  grpc_metadata_array_destroy(&c->request_md);
  if (c->method == GENERIC_METHOD) grpc_call_details_destroy(&c->details);
  if (c->recv) grpc_byte_buffer_destroy(c->recv);
  if (c->send) grpc_byte_buffer_destroy(c->send);
  if (c->have_status_details) grpc_slice_unref(c->status_details);
  aicd_stream_close(&c->stream);
  if (c->active) atomic_fetch_sub(&s->active_calls, 1);
  free(c);
  atomic_fetch_sub(&s->records, 1);
}

/* Arms one request for a new call of `method`. Returns 0 or -1. */
static int arm(aicd_grpc_t *s, int method) {
  call_t *c = calloc(1, sizeof *c);
  if (!c) return -1;
  c->srv = s;
  c->method = method;
  atomic_init(&c->refs, 1);
  atomic_fetch_add(&s->records, 1);
  c->on_new = (tag_t){c, EV_NEW_CALL};
  c->on_closed = (tag_t){c, EV_CLOSED};
  c->on_finished = (tag_t){c, EV_FINISHED};
  c->on_stream_io = (tag_t){c, EV_STREAM_IO};
  grpc_metadata_array_init(&c->request_md);
  grpc_call_error err;
  if (method == GENERIC_METHOD) {
    grpc_call_details_init(&c->details);
    err = grpc_server_request_call(s->server, &c->call, &c->details, &c->request_md, s->cq, s->cq,
                                   &c->on_new);
  } else {
    const method_t *m = &methods[method];
    err = grpc_server_request_registered_call(s->server, s->handles[method], &c->call, &c->deadline,
                                              &c->request_md, m->streaming ? NULL : &c->recv, s->cq,
                                              s->cq, &c->on_new);
  }
  if (err != GRPC_CALL_OK) {
    call_unref(c);
    return -1;
  }
  return 0;
}

static aicd_rpc_t call_rpc(const call_t *c) {
  return c->method == GENERIC_METHOD ? AICD_RPC_UNKNOWN : methods[c->method].rpc;
}

/* Copies a received message out of its byte buffer (which may be compressed or sliced). */
static grpc_slice read_message(grpc_byte_buffer *bb, bool *ok) {
  grpc_byte_buffer_reader reader;
  if (!grpc_byte_buffer_reader_init(&reader, bb)) {
    *ok = false;
    return grpc_empty_slice();
  }
  grpc_slice s = grpc_byte_buffer_reader_readall(&reader);
  grpc_byte_buffer_reader_destroy(&reader);
  *ok = true;
  return s;
}

static void free_body(void *p) {
  free(p);
}

/* Moves the reply body into c->send (taking ownership of it). */
static void set_send(call_t *c, aicd_reply_t *reply) {
  if (c->send) grpc_byte_buffer_destroy(c->send);
  grpc_slice slice = reply->body_size ? grpc_slice_new(reply->body, reply->body_size, free_body)
                                      : grpc_empty_slice();
  if (!reply->body_size) free(reply->body);
  reply->body = NULL;
  c->send = grpc_raw_byte_buffer_create(&slice, 1);
  grpc_slice_unref(slice);
}

static void start_batch(call_t *c, grpc_op *ops, size_t n, tag_t *tag) {
  atomic_fetch_add(&c->refs, 1);
  grpc_call_error err = grpc_call_start_batch(c->call, ops, n, tag, NULL);
  if (err != GRPC_CALL_OK) {
    aicd_log(AIC_LOG_ERROR, "grpc batch refused",
             json_pack("{s:s,s:i}", "method", aicd_rpc_name(call_rpc(c)), "error", (int)err));
    call_unref(c);
  }
}

/* Sends the final status (and, when OK and present, a last message). */
static void finish(call_t *c, grpc_status_code code, const char *message, bool with_message) {
  grpc_op ops[3];
  size_t n = 0;
  memset(ops, 0, sizeof ops);
  if (!c->sent_initial_md) {
    /* A status without initial metadata leaves some clients waiting: always send it first. */
    ops[n].op = GRPC_OP_SEND_INITIAL_METADATA;
    n++;
    c->sent_initial_md = true;
  }
  if (with_message && c->send) {
    ops[n].op = GRPC_OP_SEND_MESSAGE;
    ops[n].data.send_message.send_message = c->send;
    n++;
  }
  c->status = code;
  c->status_details = grpc_slice_from_copied_string(message ? message : "");
  atomic_store(&c->have_status_details, true);
  ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
  ops[n].data.send_status_from_server.status = code;
  ops[n].data.send_status_from_server.status_details = &c->status_details;
  n++;
  start_batch(c, ops, n, &c->on_finished);
}

static void handle_unary(call_t *c) {
  aicd_grpc_t *s = c->srv;
  aicd_rpc_t rpc = call_rpc(c);
  if (!c->recv) {
    finish(c, GRPC_STATUS_INVALID_ARGUMENT, "request message missing", false);
    return;
  }
  bool ok;
  grpc_slice req = read_message(c->recv, &ok);
  if (!ok) {
    finish(c, GRPC_STATUS_INVALID_ARGUMENT, "request message cannot be read", false);
    return;
  }
  aicd_reply_t reply;
  double t0 = now_ms();
  aicd_service_unary(s->svc, rpc, GRPC_SLICE_START_PTR(req), GRPC_SLICE_LENGTH(req), &reply);
  aicd_stats_record_message(s->svc->stats, rpc, reply.bytes_in, reply.bytes_out,
                            (now_ms() - t0) / 1e3);
  grpc_slice_unref(req);
  if (reply.code == GRPC_STATUS_OK) set_send(c, &reply);
  finish(c, reply.code, reply.message, reply.code == GRPC_STATUS_OK);
  aicd_reply_clear(&reply);
}

/* Asks for the next message of a stream, sending `send` (may be NULL) in the same batch. */
static void stream_next(call_t *c, bool with_send) {
  grpc_op ops[3];
  size_t n = 0;
  memset(ops, 0, sizeof ops);
  if (!c->sent_initial_md) {
    ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
    c->sent_initial_md = true;
  }
  if (with_send) {
    ops[n].op = GRPC_OP_SEND_MESSAGE;
    ops[n].data.send_message.send_message = c->send;
    n++;
  }
  if (c->recv) {
    grpc_byte_buffer_destroy(c->recv);
    c->recv = NULL;
  }
  ops[n].op = GRPC_OP_RECV_MESSAGE;
  ops[n].data.recv_message.recv_message = &c->recv;
  n++;
  start_batch(c, ops, n, &c->on_stream_io);
}

static void handle_stream_io(call_t *c, bool ok) {
  aicd_grpc_t *s = c->srv;
  if (!ok) return; /* cancelled or broken: RECV_CLOSE_ON_SERVER tidies up */
  if (!c->recv) {
    /* Either the client half-closed (every frame is answered) or the call was cancelled under
     * us; in the second case the status batch simply fails, which is harmless. */
    finish(c, GRPC_STATUS_OK, "", false);
    return;
  }
  bool read_ok;
  grpc_slice req = read_message(c->recv, &read_ok);
  if (!read_ok) {
    finish(c, GRPC_STATUS_INVALID_ARGUMENT, "stream message cannot be read", false);
    return;
  }
  aicd_reply_t reply;
  double t0 = now_ms();
  aicd_stream_frame(c->stream, GRPC_SLICE_START_PTR(req), GRPC_SLICE_LENGTH(req), &reply);
  aicd_stats_record_message(s->svc->stats, AICD_RPC_COMPRESS_STREAM, reply.bytes_in,
                            reply.bytes_out, (now_ms() - t0) / 1e3);
  grpc_slice_unref(req);
  if (reply.code != GRPC_STATUS_OK) {
    finish(c, reply.code, reply.message, false);
  } else {
    set_send(c, &reply);
    stream_next(c, true);
  }
  aicd_reply_clear(&reply);
}

static void handle_new_call(call_t *c, bool ok) {
  aicd_grpc_t *s = c->srv;
  if (!ok) { /* the server is shutting down: this request will never be a call */
    call_unref(c);
    return;
  }
  c->active = true;
  atomic_fetch_add(&s->active_calls, 1);
  if (!atomic_load(&s->stopping) && arm(s, c->method) != 0)
    aicd_log(AIC_LOG_ERROR, "cannot re-arm a gRPC request", NULL);
  c->started_ms = now_ms();
  c->status = GRPC_STATUS_OK;

  grpc_op close_op;
  memset(&close_op, 0, sizeof close_op);
  close_op.op = GRPC_OP_RECV_CLOSE_ON_SERVER;
  close_op.data.recv_close_on_server.cancelled = &c->cancelled;
  start_batch(c, &close_op, 1, &c->on_closed);

  if (c->method == GENERIC_METHOD) {
    char path[256];
    size_t len = GRPC_SLICE_LENGTH(c->details.method);
    if (len >= sizeof path) len = sizeof path - 1;
    memcpy(path, GRPC_SLICE_START_PTR(c->details.method), len);
    path[len] = '\0';
    char message[320];
    snprintf(message, sizeof message, "method %s is not implemented", path);
    finish(c, GRPC_STATUS_UNIMPLEMENTED, message, false);
  } else if (methods[c->method].streaming) {
    c->stream = aicd_stream_open(s->svc);
    if (!c->stream)
      finish(c, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory opening the stream", false);
    else
      stream_next(c, false);
  } else {
    handle_unary(c);
  }
  call_unref(c); /* the reference the request held */
}

static void dispatch(tag_t *t, bool ok) {
  call_t *c = t->call;
  switch (t->event) {
    case EV_NEW_CALL: handle_new_call(c, ok); return;
    case EV_STREAM_IO: handle_stream_io(c, ok); break;
    case EV_FINISHED: {
      aicd_rpc_t rpc = call_rpc(c);
      aicd_stats_record_call(c->srv->svc->stats, rpc, (int)c->status,
                             (now_ms() - c->started_ms) / 1e3);
      if (c->status != GRPC_STATUS_OK && aicd_log_enabled(AIC_LOG_DEBUG)) {
        aicd_log(AIC_LOG_DEBUG, "call failed",
                 json_pack("{s:s,s:i,s:s%}", "method", aicd_rpc_name(rpc), "code", (int)c->status,
                           "detail", (const char *)GRPC_SLICE_START_PTR(c->status_details),
                           (size_t)GRPC_SLICE_LENGTH(c->status_details)));
      }
      break;
    }
    case EV_CLOSED:
      if (c->cancelled && !atomic_load(&c->have_status_details)) /* never answered: count it */
        aicd_stats_record_call(c->srv->svc->stats, call_rpc(c), GRPC_STATUS_CANCELLED,
                               (now_ms() - c->started_ms) / 1e3);
      break;
  }
  call_unref(c);
}

static void *worker(void *arg) {
  aicd_grpc_t *s = arg;
  for (;;) {
    grpc_event ev = grpc_completion_queue_next(s->cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL);
    if (ev.type == GRPC_QUEUE_SHUTDOWN) break;
    if (ev.type == GRPC_OP_COMPLETE) dispatch(ev.tag, ev.success != 0);
  }
  return NULL;
}

static char *read_file(const char *path, char *why, size_t why_size) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    snprintf(why, why_size, "cannot read %s: %s", path, strerror(errno));
    return NULL;
  }
  char *buf = NULL;
  size_t size = 0, cap = 0;
  for (;;) {
    if (size + 4096 + 1 > cap) {
      cap = cap ? cap * 2 : 8192;
      char *p = cap > (1u << 24) ? NULL : realloc(buf, cap);
      if (!p) {
        snprintf(why, why_size, "%s is too large or memory ran out", path);
        free(buf);
        fclose(f);
        return NULL;
      }
      buf = p;
    }
    size_t n = fread(buf + size, 1, 4096, f);
    size += n;
    if (n < 4096) break;
  }
  bool failed = ferror(f);
  fclose(f);
  if (failed) {
    snprintf(why, why_size, "error reading %s", path);
    free(buf);
    return NULL;
  }
  buf[size] = '\0';
  return buf;
}

static grpc_server_credentials *make_credentials(const aicd_config_t *cfg, char *why,
                                                 size_t why_size) {
  if (!cfg->tls_cert[0]) return grpc_insecure_server_credentials_create();
  char *cert = read_file(cfg->tls_cert, why, why_size);
  char *key = cert ? read_file(cfg->tls_key, why, why_size) : NULL;
  char *ca = NULL;
  grpc_server_credentials *creds = NULL;
  if (!key) goto done;
  if (cfg->tls_client_ca[0] && !(ca = read_file(cfg->tls_client_ca, why, why_size))) goto done;
  grpc_ssl_pem_key_cert_pair pair = {key, cert};
  creds = grpc_ssl_server_credentials_create_ex(
      ca, &pair, 1,
      ca ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
         : GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE,
      NULL);
  if (!creds) snprintf(why, why_size, "TLS credentials could not be built from the PEM files");
done:
  free(cert);
  free(key);
  free(ca);
  return creds;
}

static void destroy(aicd_grpc_t *s) {
  if (s->server) grpc_server_destroy(s->server);
  if (s->cq) grpc_completion_queue_destroy(s->cq);
  if (s->shutdown_cq) grpc_completion_queue_destroy(s->shutdown_cq);
  free(s->workers);
  free(s);
}

int aicd_grpc_start(const aicd_config_t *cfg, aicd_service_t *svc, aicd_grpc_t **out,
                    int *bound_port, char *why, size_t why_size) {
  *out = NULL;
  aicd_grpc_t *s = calloc(1, sizeof *s);
  grpc_server_credentials *creds = NULL;
  if (!s) {
    snprintf(why, why_size, "out of memory");
    return -1;
  }
  s->svc = svc;
  atomic_init(&s->stopping, false);
  atomic_init(&s->records, 0);
  atomic_init(&s->active_calls, 0);
  grpc_arg args[3];
  memset(args, 0, sizeof args);
  args[0].type = GRPC_ARG_INTEGER;
  args[0].key = (char *)GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH;
  args[0].value.integer = (int)cfg->max_message_bytes;
  args[1].type = GRPC_ARG_INTEGER;
  args[1].key = (char *)GRPC_ARG_MAX_SEND_MESSAGE_LENGTH;
  args[1].value.integer = (int)cfg->max_message_bytes;
  /* Without this a second aicd would silently share the port and steal half the calls. */
  args[2].type = GRPC_ARG_INTEGER;
  args[2].key = (char *)GRPC_ARG_ALLOW_REUSEPORT;
  args[2].value.integer = 0;
  grpc_channel_args channel_args = {3, args};
  s->server = grpc_server_create(&channel_args, NULL);
  s->cq = grpc_completion_queue_create_for_next(NULL);
  s->shutdown_cq = grpc_completion_queue_create_for_pluck(NULL);
  if (!s->server || !s->cq || !s->shutdown_cq) {
    snprintf(why, why_size, "gRPC server could not be created");
    goto fail;
  }
  grpc_server_register_completion_queue(s->server, s->cq, NULL);
  for (size_t i = 0; i < METHOD_COUNT; i++) {
    s->handles[i] = grpc_server_register_method(
        s->server, methods[i].path, NULL,
        methods[i].streaming ? GRPC_SRM_PAYLOAD_NONE : GRPC_SRM_PAYLOAD_READ_INITIAL_BYTE_BUFFER,
        0);
    if (!s->handles[i]) {
      snprintf(why, why_size, "cannot register %s", methods[i].path);
      goto fail;
    }
  }
  creds = make_credentials(cfg, why, why_size);
  if (!creds) goto fail;
  *bound_port = grpc_server_add_http2_port(s->server, cfg->grpc_listen, creds);
  grpc_server_credentials_release(creds);
  if (*bound_port == 0) {
    snprintf(why, why_size, "cannot listen on %s (address in use or malformed)", cfg->grpc_listen);
    goto fail;
  }
  grpc_server_start(s->server);
  /* Workers first, so that every armed request has someone to complete it, even on failure. */
  s->workers = calloc((size_t)cfg->threads, sizeof *s->workers);
  if (!s->workers) goto fail_started;
  for (int i = 0; i < cfg->threads; i++) {
    if (pthread_create(&s->workers[i], NULL, worker, s) != 0) goto fail_started;
    s->worker_count++;
  }
  for (size_t i = 0; i < METHOD_COUNT; i++)
    for (int k = 0; k < ARMED_PER_METHOD; k++)
      if (arm(s, (int)i) != 0) goto fail_started;
  for (int k = 0; k < 2; k++)
    if (arm(s, GENERIC_METHOD) != 0) goto fail_started;
  *out = s;
  return 0;

fail_started:
  snprintf(why, why_size, "cannot start gRPC workers");
  aicd_grpc_shutdown(&s, 0);
  return -1;
fail:
  destroy(s);
  return -1;
}

/* Completes events on this thread: used only when no worker thread could be started. */
static bool drain_once(aicd_grpc_t *s, int timeout_ms) {
  gpr_timespec until =
      gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_millis(timeout_ms, GPR_TIMESPAN));
  grpc_event e = grpc_completion_queue_next(s->cq, until, NULL);
  if (e.type == GRPC_OP_COMPLETE) dispatch(e.tag, e.success != 0);
  return e.type != GRPC_QUEUE_SHUTDOWN;
}

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

int aicd_grpc_shutdown(aicd_grpc_t **srv, long long grace_ms) {
  if (!srv || !*srv) return 0;
  aicd_grpc_t *s = *srv;
  int cancelled = 0;
  static int shutdown_tag;
  atomic_store(&s->stopping, true);
  grpc_server_shutdown_and_notify(s->server, s->shutdown_cq, &shutdown_tag);
  if (s->worker_count > 0) {
    gpr_timespec grace =
        gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_millis(grace_ms, GPR_TIMESPAN));
    bool done = false, forced = false;
    /* Wait in short slices: once no call is in flight, idle client connections are all that
     * keeps the shutdown from completing, and those are closed at once rather than waited for. */
    while (!done) {
      gpr_timespec slice =
          gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_millis(50, GPR_TIMESPAN));
      if (gpr_time_cmp(slice, grace) > 0) slice = grace;
      grpc_event ev = grpc_completion_queue_pluck(s->shutdown_cq, &shutdown_tag, slice, NULL);
      if (ev.type == GRPC_OP_COMPLETE) {
        done = true;
      } else if (gpr_time_cmp(gpr_now(GPR_CLOCK_MONOTONIC), grace) >= 0) {
        cancelled = atomic_load(&s->active_calls) > 0;
        grpc_server_cancel_all_calls(s->server);
        grpc_completion_queue_pluck(s->shutdown_cq, &shutdown_tag,
                                    gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL);
        done = true;
      } else if (!forced && atomic_load(&s->active_calls) == 0) {
        grpc_server_cancel_all_calls(s->server);
        forced = true;
      }
    }
    /* Batches started by workers after cancellation still complete on s->cq: wait for every
     * call record to be released before the queue stops accepting work. */
    while (atomic_load(&s->records) > 0) sleep_ms(5);
    grpc_completion_queue_shutdown(s->cq);
    for (int i = 0; i < s->worker_count; i++) pthread_join(s->workers[i], NULL);
  } else {
    grpc_server_cancel_all_calls(s->server);
    while (grpc_completion_queue_pluck(s->shutdown_cq, &shutdown_tag, gpr_now(GPR_CLOCK_MONOTONIC),
                                       NULL)
               .type != GRPC_OP_COMPLETE)
      drain_once(s, 20);
    grpc_completion_queue_shutdown(s->cq);
    while (drain_once(s, 1000)) {
    }
  }
  grpc_completion_queue_shutdown(s->shutdown_cq);
  while (
      grpc_completion_queue_pluck(s->shutdown_cq, NULL, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL)
          .type != GRPC_QUEUE_SHUTDOWN) {
  }
  destroy(s);
  *srv = NULL;
  return cancelled;
}
