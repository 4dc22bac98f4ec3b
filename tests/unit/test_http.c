/* The HTTP listener, spoken to over a real socket by a tiny HTTP/1.1 client: routes, status
 * codes, content types, bodies, odd requests, and start failures with their reasons. */
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "aic_test.h"
#include "http.h"
#include "stats.h"

#define CONTENT_METRICS "text/plain; version=0.0.4; charset=utf-8"

/* ---- a tiny client ---- */

typedef struct reply {
  int status; /* 0: no HTTP answer (connection failed or closed without one) */
  char content_type[128];
  char allow[64];
  long content_length; /* -1 when absent */
  char *body;          /* NUL-terminated, may be empty; free() it */
  size_t body_len;
} reply_t;

static void reply_free(reply_t *r) {
  free(r->body);
  r->body = NULL;
}

/* A port the kernel just handed out and nobody holds now. */
static int free_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  int port = -1;
  if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
      getsockname(fd, (struct sockaddr *)&a, &len) == 0)
    port = ntohs(a.sin_port);
  close(fd);
  return port;
}

static int connect_to(int family, int port) {
  int fd = socket(family, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  struct timeval tv = {5, 0}; /* a hung server fails the test instead of hanging it */
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  int rc;
  if (family == AF_INET6) {
    struct sockaddr_in6 a;
    memset(&a, 0, sizeof a);
    a.sin6_family = AF_INET6;
    a.sin6_addr = in6addr_loopback;
    a.sin6_port = htons((uint16_t)port);
    rc = connect(fd, (struct sockaddr *)&a, sizeof a);
  } else {
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)port);
    rc = connect(fd, (struct sockaddr *)&a, sizeof a);
  }
  if (rc != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

static int send_all(int fd, const char *data, size_t len) {
  while (len > 0) {
    ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
    if (n <= 0) return -1;
    data += n;
    len -= (size_t)n;
  }
  return 0;
}

/* Everything until the server closes (requests say Connection: close). */
static char *read_all(int fd, size_t *len) {
  size_t cap = 4096, n = 0;
  char *buf = malloc(cap + 1);
  if (!buf) return NULL;
  for (;;) {
    if (n == cap) {
      char *p = realloc(buf, cap * 2 + 1);
      if (!p) break;
      buf = p;
      cap *= 2;
    }
    ssize_t got = recv(fd, buf + n, cap - n, 0);
    if (got <= 0) break;
    n += (size_t)got;
  }
  buf[n] = '\0';
  *len = n;
  return buf;
}

static void header_value(const char *headers, const char *name, char *out, size_t size) {
  size_t n = strlen(name);
  out[0] = '\0';
  for (const char *line = headers; line && *line;) {
    const char *end = strstr(line, "\r\n");
    if (!end || end == line) return; /* blank line: end of headers */
    if (strncasecmp(line, name, n) == 0 && line[n] == ':') {
      const char *v = line + n + 1;
      while (*v == ' ') v++;
      size_t len = (size_t)(end - v);
      if (len >= size) len = size - 1;
      memcpy(out, v, len);
      out[len] = '\0';
      return;
    }
    line = end + 2;
  }
}

static void parse_reply(const char *raw, size_t len, reply_t *r) {
  int major, minor;
  if (sscanf(raw, "HTTP/%d.%d %d", &major, &minor, &r->status) != 3) r->status = 0;
  const char *headers = strstr(raw, "\r\n");
  const char *body = strstr(raw, "\r\n\r\n");
  if (!headers || !body) return;
  header_value(headers + 2, "Content-Type", r->content_type, sizeof r->content_type);
  header_value(headers + 2, "Allow", r->allow, sizeof r->allow);
  char cl[32];
  header_value(headers + 2, "Content-Length", cl, sizeof cl);
  r->content_length = cl[0] ? strtol(cl, NULL, 10) : -1;
  body += 4;
  r->body_len = len - (size_t)(body - raw);
  r->body = malloc(r->body_len + 1);
  if (r->body) {
    memcpy(r->body, body, r->body_len);
    r->body[r->body_len] = '\0';
  }
}

/* Sends `request` as is and reads the whole answer. */
static reply_t raw_request(int family, int port, const char *request, size_t len) {
  reply_t r;
  memset(&r, 0, sizeof r);
  r.content_length = -1;
  int fd = connect_to(family, port);
  if (fd < 0) return r;
  if (send_all(fd, request, len) == 0) {
    size_t n = 0;
    char *raw = read_all(fd, &n);
    if (raw) parse_reply(raw, n, &r);
    free(raw);
  }
  close(fd);
  if (!r.body) r.body = calloc(1, 1); /* callers may always read the body as a string */
  return r;
}

static reply_t request(int port, const char *method, const char *path, const char *body) {
  char req[2048];
  int n = snprintf(req, sizeof req,
                   "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                   "Content-Length: %zu\r\n\r\n%s",
                   method, path, body ? strlen(body) : 0, body ? body : "");
  return raw_request(AF_INET, port, req, (size_t)n);
}

/* ---- the context the listener reports ---- */

static atomic_int serving = 1;

static double fake_uptime(void *user) {
  (void)user;
  return 42.7;
}
static int fake_serving(void *user) {
  (void)user;
  return atomic_load(&serving);
}

typedef struct server {
  aicd_stats_t *stats;
  aicd_http_t *http;
  int port;
} server_t;

static int server_start(server_t *s) {
  memset(s, 0, sizeof *s);
  s->stats = aicd_stats_new();
  if (!s->stats) return -1;
  /* The port may be taken between free_port and start by someone else: try a few. */
  for (int attempt = 0; attempt < 5 && !s->http; attempt++) {
    s->port = free_port();
    char listen[64], why[256];
    snprintf(listen, sizeof listen, "127.0.0.1:%d", s->port);
    char version[] = "1.2.3-test";
    aicd_http_ctx_t ctx = {version, fake_uptime, fake_serving, s->stats, NULL};
    if (aicd_http_start(listen, &ctx, &s->http, why, sizeof why) != 0)
      fprintf(stderr, "start on %s failed: %s\n", listen, why);
    memset(version, 'X', sizeof version - 1); /* the listener must have copied it */
  }
  return s->http ? 0 : -1;
}

static void server_stop(server_t *s) {
  aicd_http_stop(&s->http);
  CHECK(s->http == NULL);
  aicd_stats_free(&s->stats);
}

static json_t *parse_json(const reply_t *r) {
  json_error_t err;
  json_t *j = json_loads(r->body, 0, &err);
  if (!j) fprintf(stderr, "not JSON (%s): %s\n", err.text, r->body);
  return j;
}

static const char *json_str(json_t *j, const char *key) {
  const char *s = json_string_value(json_object_get(j, key));
  return s ? s : "";
}

/* ---- tests ---- */

static void test_health(void) {
  server_t s;
  CHECK_EQ_INT(server_start(&s), 0);
  if (!s.http) return;
  atomic_store(&serving, 1);
  reply_t r = request(s.port, "GET", "/health", NULL);
  CHECK_EQ_INT(r.status, 200);
  CHECK(strcmp(r.content_type, "application/json") == 0);
  CHECK_EQ_INT(r.content_length, (long)r.body_len);
  json_t *j = parse_json(&r);
  CHECK(j != NULL);
  CHECK(strcmp(json_str(j, "status"), "SERVING") == 0);
  CHECK(strcmp(json_str(j, "version"), "1.2.3-test") == 0);
  CHECK_EQ_INT(json_integer_value(json_object_get(j, "uptime_seconds")), 42);
  json_decref(j);
  reply_free(&r);

  atomic_store(&serving, 0);
  r = request(s.port, "GET", "/health", NULL);
  CHECK_EQ_INT(r.status, 503);
  CHECK(strcmp(r.content_type, "application/json") == 0);
  j = parse_json(&r);
  CHECK(strcmp(json_str(j, "status"), "NOT_SERVING") == 0);
  json_decref(j);
  reply_free(&r);
  atomic_store(&serving, 1);

  /* HEAD: same status and headers, no body. */
  r = request(s.port, "HEAD", "/health", NULL);
  CHECK_EQ_INT(r.status, 200);
  CHECK(strcmp(r.content_type, "application/json") == 0);
  CHECK_EQ_INT(r.body_len, 0);
  reply_free(&r);
  server_stop(&s);
}

static void test_metrics(void) {
  server_t s;
  CHECK_EQ_INT(server_start(&s), 0);
  if (!s.http) return;
  aicd_stats_record_call(s.stats, AICD_RPC_COMPRESS_FRAME, 3, 0.002);
  aicd_stats_record_message(s.stats, AICD_RPC_COMPRESS_FRAME, 4096, 1024, 0.001);
  reply_t r = request(s.port, "GET", "/metrics", NULL);
  CHECK_EQ_INT(r.status, 200);
  CHECK(strcmp(r.content_type, CONTENT_METRICS) == 0);
  CHECK_EQ_INT(r.content_length, (long)r.body_len);
  CHECK(strstr(r.body, "# TYPE aic_grpc_requests_total counter\n") != NULL);
  CHECK(strstr(r.body, "\naic_grpc_requests_total{method=\"CompressFrame\"} 1\n") != NULL);
  CHECK(strstr(r.body,
               "\naic_grpc_errors_total{method=\"CompressFrame\","
               "code=\"INVALID_ARGUMENT\"} 1\n") != NULL);
  CHECK(strstr(r.body, "\naic_bytes_in_total{method=\"CompressFrame\"} 4096\n") != NULL);
  CHECK(strstr(r.body, "\naic_uptime_seconds 42.7\n") != NULL);
  reply_free(&r);
  /* A query string is not part of the path. */
  r = request(s.port, "GET", "/metrics?name[]=aic_uptime_seconds", NULL);
  CHECK_EQ_INT(r.status, 200);
  reply_free(&r);
  server_stop(&s);
}

static void test_not_found_and_wrong_method(void) {
  server_t s;
  CHECK_EQ_INT(server_start(&s), 0);
  if (!s.http) return;
  const char *paths[] = {"/", "/nope", "/health/", "/metricsx", "/HEALTH"};
  for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
    reply_t r = request(s.port, "GET", paths[i], NULL);
    CHECK_EQ_INT(r.status, 404);
    CHECK(strcmp(r.content_type, "application/json") == 0);
    json_t *j = parse_json(&r);
    CHECK(strcmp(json_str(j, "error"), "not found") == 0);
    CHECK(strcmp(json_str(j, "path"), paths[i]) == 0);
    json_decref(j);
    reply_free(&r);
  }
  const char *methods[] = {"POST", "PUT", "DELETE", "OPTIONS", "PATCH", "BREW"};
  for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
    reply_t r = request(s.port, methods[i], i % 2 ? "/health" : "/metrics", "ignored body");
    CHECK_EQ_INT(r.status, 405);
    CHECK(strcmp(r.content_type, "application/json") == 0);
    CHECK(strcmp(r.allow, "GET, HEAD") == 0);
    json_t *j = parse_json(&r);
    CHECK(strcmp(json_str(j, "error"), "method not allowed") == 0);
    CHECK(strcmp(json_str(j, "method"), methods[i]) == 0);
    json_decref(j);
    reply_free(&r);
  }
  /* Unknown path wins over the method. */
  reply_t r = request(s.port, "POST", "/elsewhere", "x");
  CHECK_EQ_INT(r.status, 404);
  reply_free(&r);
  server_stop(&s);
}

static int still_healthy(int port) {
  reply_t r = request(port, "GET", "/health", NULL);
  int ok = r.status == 200;
  reply_free(&r);
  return ok;
}

static void test_odd_requests(void) {
  server_t s;
  CHECK_EQ_INT(server_start(&s), 0);
  if (!s.http) return;
  /* Percent-escapes that decode to bytes that are not UTF-8 or are control characters: the
   * body must still be valid JSON. */
  const char *escaped[] = {"/%ff%fe", "/%0a%0d%22%5c", "/caf%C3%A9", "/%00hidden"};
  for (size_t i = 0; i < sizeof escaped / sizeof escaped[0]; i++) {
    reply_t r = request(s.port, "GET", escaped[i], NULL);
    CHECK_EQ_INT(r.status, 404);
    CHECK(strcmp(r.content_type, "application/json") == 0);
    json_t *j = parse_json(&r);
    CHECK(j != NULL);
    json_decref(j);
    reply_free(&r);
  }
  /* Garbage, bare request lines, an unknown version, a header without a colon: libmicrohttpd
   * answers 400/505 itself or closes. (Blank lines alone are not here: HTTP says to skip them
   * and wait for the request, which a server rightly does until its timeout.) */
  const char *garbage[] = {"\x01\x02\x03\r\n\r\n", "GET\r\n\r\n", "GET /health\r\n\r\n",
                           "GET /health HTTP/9.9\r\n\r\n",
                           "GET /health HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n"};
  for (size_t i = 0; i < sizeof garbage / sizeof garbage[0]; i++) {
    reply_t r = raw_request(AF_INET, s.port, garbage[i], strlen(garbage[i]));
    CHECK(r.status == 0 || (r.status >= 200 && r.status < 600));
    reply_free(&r);
  }
  /* A path far past the connection's memory: 414, and the server lives on. */
  size_t big = 200 * 1024;
  char *huge = malloc(big + 64);
  CHECK(huge != NULL);
  if (huge) {
    memcpy(huge, "GET /", 5);
    memset(huge + 5, 'a', big);
    strcpy(huge + 5 + big, " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    reply_t r = raw_request(AF_INET, s.port, huge, strlen(huge));
    CHECK(r.status == 0 || r.status == 414 || r.status == 431 || r.status == 413);
    reply_free(&r);
    free(huge);
  }
  /* A request left half-sent must not block others: one thread polls every connection. */
  int fd = connect_to(AF_INET, s.port);
  CHECK(fd >= 0);
  if (fd >= 0) send_all(fd, "GET /hea", 8);
  CHECK(still_healthy(s.port));
  if (fd >= 0) close(fd);
  CHECK(still_healthy(s.port));
  server_stop(&s);
}

static void test_keep_alive(void) {
  server_t s;
  CHECK_EQ_INT(server_start(&s), 0);
  if (!s.http) return;
  /* Two requests on one connection: a body on a request must not break the next one. */
  const char *two =
      "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
      "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  reply_t r = raw_request(AF_INET, s.port, two, strlen(two));
  CHECK_EQ_INT(r.status, 405);
  CHECK(strstr(r.body, "HTTP/1.1 200") != NULL);
  CHECK(strstr(r.body, "\"SERVING\"") != NULL);
  reply_free(&r);
  server_stop(&s);
}

static void test_port_in_use(void) {
  server_t s;
  CHECK_EQ_INT(server_start(&s), 0);
  if (!s.http) return;
  char listen[64], why[512] = "";
  snprintf(listen, sizeof listen, "127.0.0.1:%d", s.port);
  aicd_http_ctx_t ctx = {"v", NULL, NULL, s.stats, NULL};
  aicd_http_t *second = (aicd_http_t *)&ctx; /* must be reset to NULL on failure */
  CHECK_EQ_INT(aicd_http_start(listen, &ctx, &second, why, sizeof why), -1);
  CHECK(second == NULL);
  CHECK(strstr(why, listen) != NULL);
  CHECK(strstr(why, strerror(EADDRINUSE)) != NULL);
  if (!strstr(why, strerror(EADDRINUSE))) fprintf(stderr, "reason: %s\n", why);
  CHECK(still_healthy(s.port)); /* the first one is unharmed */
  int port = s.port;
  server_stop(&s);
  /* Stopped means the port is closed. */
  int fd = connect_to(AF_INET, port);
  CHECK(fd < 0);
  if (fd >= 0) close(fd);
  aicd_http_stop(NULL);
  aicd_http_t *none = NULL;
  aicd_http_stop(&none);
}

static void test_malformed_listen(void) {
  aicd_stats_t *stats = aicd_stats_new();
  CHECK(stats != NULL);
  aicd_http_ctx_t ctx = {"v", NULL, NULL, stats, NULL};
  const char *bad[] = {
      "",
      "127.0.0.1",
      "127.0.0.1:",
      ":8000",
      "127.0.0.1:0",
      "127.0.0.1:00000",
      "127.0.0.1:65536",
      "127.0.0.1:123456",
      "127.0.0.1:-1",
      "127.0.0.1:+80",
      "127.0.0.1:80x",
      "127.0.0.1: 80",
      " 127.0.0.1:80",
      "127.0.0.1:80 ",
      "::1:8000",
      "[::1]8000",
      "[::1]:",
      "[::1",
      "[]:8000",
      "[127.0.0.1]:8000",
      "[::1]:0",
      "[zz::1]:8000",
      "256.0.0.1:8000",
      "127.1:8000",
      "010.0.0.1:8000",
      "1.2.3.4.5:8000",
      "bad host:8000",
      "ho$t:8000",
      "h\xc3\xa9:8000",
      "http://127.0.0.1:8000",
      "no-such-host.invalid:8000",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char why[256] = "";
    aicd_http_t *h = NULL;
    int rc = aicd_http_start(bad[i], &ctx, &h, why, sizeof why);
    CHECK_EQ_INT(rc, -1);
    CHECK(h == NULL);
    CHECK(why[0] != '\0');
    if (rc != -1) fprintf(stderr, "accepted: \"%s\"\n", bad[i]);
    aicd_http_stop(&h);
  }
  char why[256] = "";
  aicd_http_t *h = NULL;
  CHECK_EQ_INT(aicd_http_start(NULL, &ctx, &h, why, sizeof why), -1);
  CHECK(why[0] != '\0');
  CHECK_EQ_INT(aicd_http_start("127.0.0.1:1", NULL, &h, why, sizeof why), -1);
  CHECK_EQ_INT(aicd_http_start("127.0.0.1:", &ctx, &h, NULL, 0), -1); /* no room for a reason */
  CHECK_EQ_INT(aicd_http_start("127.0.0.1:", &ctx, &h, why, 1), -1);
  CHECK(why[0] == '\0');
  aicd_stats_free(&stats);
}

/* "localhost" and "[::1]" bind too (IPv6 only where the machine has it). */
static void test_other_addresses(void) {
  aicd_stats_t *stats = aicd_stats_new();
  CHECK(stats != NULL);
  aicd_http_ctx_t ctx = {"v", NULL, NULL, stats, NULL};
  char listen[64], why[256];
  aicd_http_t *h = NULL;
  int port = free_port();
  snprintf(listen, sizeof listen, "localhost:%d", port);
  CHECK_EQ_INT(aicd_http_start(listen, &ctx, &h, why, sizeof why), 0);
  aicd_http_stop(&h);

  int v6 = socket(AF_INET6, SOCK_STREAM, 0);
  struct sockaddr_in6 a;
  memset(&a, 0, sizeof a);
  a.sin6_family = AF_INET6;
  a.sin6_addr = in6addr_loopback;
  int have_v6 = v6 >= 0 && bind(v6, (struct sockaddr *)&a, sizeof a) == 0;
  if (v6 >= 0) close(v6);
  if (!have_v6) {
    fprintf(stderr, "note: no IPv6 loopback here; [::1] not tested\n");
  } else {
    port = free_port();
    snprintf(listen, sizeof listen, "[::1]:%d", port);
    CHECK_EQ_INT(aicd_http_start(listen, &ctx, &h, why, sizeof why), 0);
    if (h) {
      const char *req = "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
      reply_t r = raw_request(AF_INET6, port, req, strlen(req));
      CHECK_EQ_INT(r.status, 200);
      CHECK(strcmp(r.content_type, "application/json") == 0);
      reply_free(&r);
    }
    aicd_http_stop(&h);
  }
  aicd_stats_free(&stats);
}

int main(void) {
  signal(SIGPIPE, SIG_IGN); /* a server that closes early must fail a check, not kill us */
  RUN(test_health);
  RUN(test_metrics);
  RUN(test_not_found_and_wrong_method);
  RUN(test_odd_requests);
  RUN(test_keep_alive);
  RUN(test_port_in_use);
  RUN(test_malformed_listen);
  RUN(test_other_addresses);
  return aic_test_finish();
}
