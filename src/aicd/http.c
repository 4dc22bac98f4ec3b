#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <microhttpd.h>

#define HOST_MAX 253            /* the longest DNS name */
#define ECHO_MAX 256            /* request text echoed back in error bodies */
#define CONNECTION_LIMIT 64     /* probes and scrapers: a handful at a time is normal */
#define CONNECTION_TIMEOUT_S 10 /* an idle or trickling client must not hold a slot forever */

#define CONTENT_JSON "application/json"
#define CONTENT_METRICS "text/plain; version=0.0.4; charset=utf-8"
#define ALLOWED_METHODS "GET, HEAD"

struct aicd_http {
  struct MHD_Daemon *daemon;
  aicd_http_ctx_t ctx; /* ctx.version points at `version` below */
  char *version;
  /* libmicrohttpd explains a failed start only through its logger: while this is set, the
   * logger keeps its last message in `log` for the reason. Once running, it discards them
   * (this module never prints). */
  atomic_int capture_log;
  char log[256];
};

/* Formats a reason into `why` (which may be NULL) and returns -1, for `return fail(...)`. */
#if defined(__GNUC__)
#define PRINTF_LIKE(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define PRINTF_LIKE(fmt, args)
#endif
static int fail(char *why, size_t why_size, const char *fmt, ...) PRINTF_LIKE(3, 4);
static int fail(char *why, size_t why_size, const char *fmt, ...) {
  if (why && why_size) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, why_size, fmt, ap);
    va_end(ap);
  }
  return -1;
}

/* ---- the listen address ---- */

typedef struct listen_addr {
  char host[HOST_MAX + 1];
  char port[6];      /* for getaddrinfo */
  uint16_t port_num; /* for MHD, which names it in its messages */
  int bracketed;     /* "[v6]:port": the host must be an IPv6 literal */
} listen_addr_t;

/* 1..65535 in plain decimal: no sign, no spaces, no 0 (the header says a port must be given). */
static int parse_port(const char *s, listen_addr_t *a, char *why, size_t why_size) {
  size_t n = strlen(s);
  if (n == 0) return fail(why, why_size, "missing port after ':' (expected 1..65535)");
  if (n > 5 || strspn(s, "0123456789") != n)
    return fail(why, why_size, "invalid port \"%.16s\" (expected 1..65535)", s);
  long port = strtol(s, NULL, 10);
  if (port == 0) return fail(why, why_size, "port 0 is not supported: give a port (1..65535)");
  if (port > 65535) return fail(why, why_size, "port %ld is out of range (1..65535)", port);
  a->port_num = (uint16_t)port;
  snprintf(a->port, sizeof a->port, "%u", (unsigned)a->port_num); /* "08000" -> "8000" */
  return 0;
}

static int only_chars(const char *s, const char *set) {
  return s[strspn(s, set)] == '\0';
}

/* Rejects what getaddrinfo would accept but an operator almost surely did not mean: "127.1",
 * "010.0.0.1" (octal!) and names with characters a DNS name cannot hold. */
static int check_host(const listen_addr_t *a, char *why, size_t why_size) {
  if (a->bracketed) return 0; /* checked as a numeric IPv6 address when resolved */
  if (only_chars(a->host, "0123456789.")) {
    struct in_addr v4;
    if (inet_pton(AF_INET, a->host, &v4) != 1)
      return fail(why, why_size, "\"%s\" is not a valid IPv4 address", a->host);
    return 0;
  }
  if (!only_chars(a->host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._"))
    return fail(why, why_size, "\"%s\" is not a valid host name or address", a->host);
  return 0;
}

/* "host:port" or "[v6]:port". Strict, so a typo fails at start rather than binding somewhere
 * unexpected. */
static int parse_listen(const char *listen, listen_addr_t *a, char *why, size_t why_size) {
  memset(a, 0, sizeof *a);
  if (!listen || !*listen)
    return fail(why, why_size, "empty HTTP listen address: give host:port, e.g. 0.0.0.0:8000");
  for (const char *p = listen; *p; p++)
    if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f)
      return fail(why, why_size, "HTTP listen address has a space or non-ASCII character");
  const char *host, *port;
  size_t host_len;
  if (listen[0] == '[') {
    const char *end = strchr(listen, ']');
    if (!end) return fail(why, why_size, "missing ']' in \"%.300s\"", listen);
    if (end[1] != ':')
      return fail(why, why_size, "expected \":port\" after ']' in \"%.300s\"", listen);
    host = listen + 1;
    host_len = (size_t)(end - host);
    port = end + 2;
    a->bracketed = 1;
  } else {
    const char *colon = strrchr(listen, ':');
    if (!colon) return fail(why, why_size, "missing port in \"%.300s\": give host:port", listen);
    host = listen;
    host_len = (size_t)(colon - listen);
    if (memchr(host, ':', host_len))
      return fail(why, why_size, "IPv6 addresses need brackets, e.g. [::1]:8000");
    port = colon + 1;
  }
  if (host_len == 0)
    return fail(why, why_size, "missing host in \"%.300s\" (%s means every interface)", listen,
                a->bracketed ? "[::]" : "0.0.0.0");
  if (host_len > HOST_MAX) return fail(why, why_size, "host name is too long");
  memcpy(a->host, host, host_len);
  a->host[host_len] = '\0';
  if (parse_port(port, a, why, why_size) != 0) return -1;
  return check_host(a, why, why_size);
}

static int resolve(const listen_addr_t *a, struct addrinfo **out, char *why, size_t why_size) {
  struct addrinfo hints;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = a->bracketed ? AF_INET6 : AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_protocol = IPPROTO_TCP;
  hints.ai_flags = AI_NUMERICSERV | (a->bracketed ? AI_NUMERICHOST : 0);
  int rc = getaddrinfo(a->host, a->port, &hints, out);
  if (rc == 0) return 0;
  *out = NULL;
  if (a->bracketed) return fail(why, why_size, "\"%s\" is not a valid IPv6 address", a->host);
  return fail(why, why_size, "cannot resolve \"%s\": %s", a->host,
              rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
}

/* ---- responses ---- */

static enum MHD_Result queue(struct MHD_Connection *conn, unsigned int status,
                             struct MHD_Response *resp, const char *type, const char *allow) {
  if (!resp) return MHD_NO; /* out of memory: closing the connection is all that is left */
  enum MHD_Result ok = MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
  if (ok == MHD_YES && allow) ok = MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
  if (ok == MHD_YES) ok = MHD_queue_response(conn, status, resp);
  MHD_destroy_response(resp); /* the queued response holds its own reference */
  return ok;
}

static enum MHD_Result send_out_of_memory(struct MHD_Connection *conn) {
  static const char body[] = "{\"error\":\"out of memory\"}\n";
  struct MHD_Response *resp =
      MHD_create_response_from_buffer(sizeof body - 1, (void *)body, MHD_RESPMEM_PERSISTENT);
  return queue(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, resp, CONTENT_JSON, NULL);
}

/* Takes `body` (malloc'd, NULL when building it ran out of memory). */
static enum MHD_Result send_text(struct MHD_Connection *conn, unsigned int status, const char *type,
                                 char *body, const char *allow) {
  if (!body) return send_out_of_memory(conn);
  struct MHD_Response *resp =
      MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
  if (!resp) {
    free(body);
    return send_out_of_memory(conn);
  }
  return queue(conn, status, resp, type, allow);
}

/* Dumps and releases `j` into a malloc'd, newline-terminated string (the body must be freed
 * with free(), which jansson's own allocator need not match, hence json_dumpb). */
static char *json_body(json_t *j) {
  char *body = NULL;
  size_t n = j ? json_dumpb(j, NULL, 0, JSON_COMPACT | JSON_ENSURE_ASCII) : 0;
  if (n > 0 && (body = malloc(n + 2)) != NULL) {
    json_dumpb(j, body, n, JSON_COMPACT | JSON_ENSURE_ASCII);
    body[n] = '\n';
    body[n + 1] = '\0';
  }
  json_decref(j);
  return body;
}

/* A JSON string of request text, which may be anything: jansson refuses invalid UTF-8, so such
 * text is echoed with '?' for every byte outside printable ASCII. */
static json_t *json_text(const char *s) {
  size_t n = strnlen(s, ECHO_MAX);
  json_t *j = json_stringn(s, n);
  if (j) return j;
  char *copy = malloc(n + 1);
  if (!copy) return NULL;
  for (size_t i = 0; i < n; i++)
    copy[i] = (unsigned char)s[i] >= ' ' && (unsigned char)s[i] < 0x7f ? s[i] : '?';
  copy[n] = '\0';
  j = json_stringn(copy, n);
  free(copy);
  return j;
}

static enum MHD_Result send_json(struct MHD_Connection *conn, unsigned int status, json_t *j,
                                 const char *allow) {
  return send_text(conn, status, CONTENT_JSON, json_body(j), allow);
}

/* ---- pages ---- */

/* The callback's answer, made safe for JSON integers and the metrics text. */
static double uptime(const aicd_http_t *h) {
  double up = h->ctx.uptime_seconds ? h->ctx.uptime_seconds(h->ctx.user) : 0;
  return up >= 0 && up < 9e15 ? up : 0; /* false for NaN too */
}

static enum MHD_Result page_health(aicd_http_t *h, struct MHD_Connection *conn) {
  int serving = h->ctx.serving ? h->ctx.serving(h->ctx.user) != 0 : 1;
  json_t *j = json_pack("{s:s,s:o,s:I}", "status", serving ? "SERVING" : "NOT_SERVING", "version",
                        json_text(h->version), "uptime_seconds", (json_int_t)uptime(h));
  /* 503 lets load balancers drain this instance as soon as shutdown starts. */
  return send_json(conn, serving ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE, j, NULL);
}

static enum MHD_Result page_metrics(aicd_http_t *h, struct MHD_Connection *conn) {
  char *text = aicd_stats_render(h->ctx.stats, uptime(h));
  return send_text(conn, MHD_HTTP_OK, CONTENT_METRICS, text, NULL);
}

static enum MHD_Result not_found(struct MHD_Connection *conn, const char *url) {
  json_t *j = json_pack("{s:s,s:o}", "error", "not found", "path", json_text(url));
  return send_json(conn, MHD_HTTP_NOT_FOUND, j, NULL);
}

static enum MHD_Result method_not_allowed(struct MHD_Connection *conn, const char *url,
                                          const char *method) {
  json_t *j = json_pack("{s:s,s:o,s:o,s:s}", "error", "method not allowed", "method",
                        json_text(method), "path", json_text(url), "allow", ALLOWED_METHODS);
  return send_json(conn, MHD_HTTP_METHOD_NOT_ALLOWED, j, ALLOWED_METHODS);
}

typedef enum MHD_Result (*page_fn)(aicd_http_t *h, struct MHD_Connection *conn);

static const struct route {
  const char *path;
  page_fn page;
} routes[] = {
    {"/health", page_health},
    {"/metrics", page_metrics},
};

static enum MHD_Result route(aicd_http_t *h, struct MHD_Connection *conn, const char *url,
                             const char *method) {
  for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
    if (strcmp(url, routes[i].path) != 0) continue;
    /* MHD sends the headers of a HEAD response without its body. */
    if (strcmp(method, MHD_HTTP_METHOD_GET) == 0 || strcmp(method, MHD_HTTP_METHOD_HEAD) == 0)
      return routes[i].page(h, conn);
    return method_not_allowed(conn, url, method);
  }
  return not_found(conn, url);
}

/* Marks a request whose headers have been seen; never written, so sharing it is safe. */
static char request_started;

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **req_state) {
  (void)version;
  (void)upload_data;
  /* The first call only announces the headers; answering once the body is in (and dropped:
   * no route takes one) keeps the connection usable for the next request. */
  if (!*req_state) {
    *req_state = &request_started;
    return MHD_YES;
  }
  if (*upload_data_size) {
    *upload_data_size = 0;
    return MHD_YES;
  }
  return route(cls, conn, url ? url : "", method ? method : "");
}

/* ---- start and stop ---- */

static void on_log(void *cls, const char *fmt, va_list ap) {
  aicd_http_t *h = cls;
  if (!atomic_load(&h->capture_log)) return;
  vsnprintf(h->log, sizeof h->log, fmt, ap);
  size_t n = strlen(h->log);
  while (n > 0 && (h->log[n - 1] == '\n' || h->log[n - 1] == ' ')) h->log[--n] = '\0';
}

static struct MHD_Daemon *start_daemon(aicd_http_t *h, const struct addrinfo *ai, uint16_t port) {
  /* One internal thread polls every connection: the pages are small and quick to build. */
  unsigned int flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ITC | MHD_USE_ERROR_LOG;
  if (ai->ai_family == AF_INET6) flags |= MHD_USE_IPv6;
  /* clang-format off */
  return MHD_start_daemon(flags, port, NULL, NULL, on_request, h,
                          /* first, so no message can reach MHD's default stderr logger */
                          MHD_OPTION_EXTERNAL_LOGGER, on_log, h,
                          MHD_OPTION_SOCK_ADDR, ai->ai_addr,
                          MHD_OPTION_CONNECTION_LIMIT, (unsigned int)CONNECTION_LIMIT,
                          MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)CONNECTION_TIMEOUT_S,
                          MHD_OPTION_END);
  /* clang-format on */
}

/* Tries each address the host resolved to ("localhost" may give ::1 and 127.0.0.1) and keeps
 * the first that binds; the reason given is the last failure. */
static int start_any(aicd_http_t *h, const struct addrinfo *list, const listen_addr_t *a,
                     const char *listen, char *why, size_t why_size) {
  int tried = 0;
  for (const struct addrinfo *ai = list; ai; ai = ai->ai_next) {
    if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6) continue;
    tried = 1;
    h->log[0] = '\0';
    atomic_store(&h->capture_log, 1);
    errno = 0;
    h->daemon = start_daemon(h, ai, a->port_num);
    int err = errno;
    atomic_store(&h->capture_log, 0);
    if (h->daemon) return 0;
    if (h->log[0])
      fail(why, why_size, "cannot listen on %.300s: %s", listen, h->log);
    else
      fail(why, why_size, "cannot listen on %.300s: %s", listen,
           err ? strerror(err) : "libmicrohttpd could not start");
  }
  if (!tried) fail(why, why_size, "\"%.300s\" resolved to no IPv4 or IPv6 address", listen);
  return -1;
}

static aicd_http_t *http_new(const aicd_http_ctx_t *ctx) {
  aicd_http_t *h = calloc(1, sizeof *h);
  if (!h) return NULL;
  h->version = strdup(ctx->version ? ctx->version : "unknown");
  if (!h->version) {
    free(h);
    return NULL;
  }
  h->ctx = *ctx;
  h->ctx.version = h->version; /* the caller's string need not outlive the listener */
  atomic_init(&h->capture_log, 0);
  return h;
}

int aicd_http_start(const char *listen, const aicd_http_ctx_t *ctx, aicd_http_t **out, char *why,
                    size_t why_size) {
  if (!out) return fail(why, why_size, "aicd_http_start: no place for the listener");
  *out = NULL;
  if (!ctx || !ctx->stats) return fail(why, why_size, "aicd_http_start: no stats to serve");
  listen_addr_t a;
  if (parse_listen(listen, &a, why, why_size) != 0) return -1;
  struct addrinfo *list;
  if (resolve(&a, &list, why, why_size) != 0) return -1;
  aicd_http_t *h = http_new(ctx);
  if (!h) {
    freeaddrinfo(list);
    return fail(why, why_size, "out of memory starting the HTTP listener");
  }
  int rc = start_any(h, list, &a, listen, why, why_size);
  freeaddrinfo(list);
  if (rc != 0) {
    aicd_http_stop(&h);
    return -1;
  }
  *out = h;
  return 0;
}

void aicd_http_stop(aicd_http_t **http) {
  if (!http || !*http) return;
  aicd_http_t *h = *http;
  /* Closes the listen socket and every connection, and joins the polling thread, so no
   * callback can run once this returns. */
  if (h->daemon) MHD_stop_daemon(h->daemon);
  free(h->version);
  free(h);
  *http = NULL;
}
