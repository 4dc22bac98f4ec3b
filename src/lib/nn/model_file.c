#include "nn/model_file.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "aic/error.h"
#include "core/sha256.h"
#include "core/byteorder.h"

/* Header field offsets (docs/model-format.md). */
enum {
  H_VERSION = 4,
  H_HEADER_SIZE = 6,
  H_FAMILY = 8,
  H_FAMILY_SIZE = 16,
  H_MODEL_ID = 24,
  H_LEVELS = 26,
  H_MODEL_VERSION = 28,
  H_PAYLOAD_SIZE = 32,
  H_ARCH_SIZE = 40,
  H_TABLE_OFFSET = 44,
  H_TENSOR_COUNT = 48,
  H_RESERVED = 52,
  H_SHA256 = 96,
};

/* Tensor table entry field offsets. */
enum {
  T_NAME_SIZE = 64,
  T_DTYPE = 64,
  T_RANK = 65,
  T_QUANT = 66,
  T_AXIS = 67,
  T_DIMS = 68,
  T_ZERO_POINT = 84,
  T_DATA_OFFSET = 88,
  T_DATA_SIZE = 96,
  T_SCALE_OFFSET = 104,
  T_SCALE_COUNT = 112,
  T_RESERVED = 116,
};

static const uint8_t magic[4] = {'A', 'I', 'C', 'M'};

struct aic_model_file {
  uint8_t *bytes; /* the whole file, AIC_MODEL_DATA_ALIGN aligned; tensors point into it */
  size_t size;
  char family[AIC_MODEL_MAX_FAMILY + 1];
  uint16_t id;
  uint16_t levels;
  uint32_t version;
  uint8_t sha256[AIC_SHA256_SIZE];
  char *arch;
  size_t arch_size;
  aic_tensor_t *tensors;
  size_t tensor_count;
  const aic_tensor_t **by_name; /* sorted by name, for lookups */
  aic_layer_t *layers;
  size_t layer_count;
};

/* A byte range of the payload that must not share a byte with any other. */
typedef struct region {
  uint64_t start, end;
  int kind; /* 0 architecture, 1 tensor table, 2 tensor data, 3 tensor scales */
  size_t tensor;
} region_t;

typedef struct ctx {
  char *why;
  size_t why_size;
} ctx_t;

static int fail(const ctx_t *c, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(const ctx_t *c, int err, const char *fmt, ...) {
  if (c->why && c->why_size > 0) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->why, c->why_size, fmt, ap);
    va_end(ap);
  }
  return err;
}

size_t aic_dtype_size(aic_dtype_t dtype) {
  switch (dtype) {
    case AIC_DTYPE_F32: return 4;
    case AIC_DTYPE_I8: return 1;
    case AIC_DTYPE_U8: return 1;
    case AIC_DTYPE_I16: return 2;
    case AIC_DTYPE_I32: return 4;
    case AIC_DTYPE_U16: return 2;
  }
  return 0;
}

const char *aic_dtype_name(aic_dtype_t dtype) {
  switch (dtype) {
    case AIC_DTYPE_F32: return "f32";
    case AIC_DTYPE_I8: return "i8";
    case AIC_DTYPE_U8: return "u8";
    case AIC_DTYPE_I16: return "i16";
    case AIC_DTYPE_I32: return "i32";
    case AIC_DTYPE_U16: return "u16";
  }
  return "?";
}

/* Character classes. Names are path-like ("g_a.0.weight"); tokens are identifiers; families
 * are slugs. ctype.h is avoided so that the locale cannot widen them. */
static bool is_lower_or_digit(int ch) {
  return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');
}
static bool is_name_char(int ch) {
  return is_lower_or_digit(ch) || (ch >= 'A' && ch <= 'Z') || ch == '_' || ch == '.' || ch == '/' ||
         ch == '-';
}
static bool is_token_char(int ch) {
  return is_lower_or_digit(ch) || ch == '_';
}
static bool is_family_char(int ch) {
  return is_lower_or_digit(ch) || ch == '-';
}

/* A NUL-padded string in a fixed field of `field` bytes: 1..field-1 allowed characters, then
 * zeros only, so that every byte of the field has exactly one valid value for a given string. */
static int check_padded(const ctx_t *c, const uint8_t *f, size_t field, bool (*ok)(int),
                        const char *what, char *out) {
  size_t n = 0;
  while (n < field && f[n] != 0) n++;
  if (n == 0) return fail(c, AIC_ECORRUPT, "%s is empty", what);
  if (n == field) {
    return fail(c, AIC_ECORRUPT, "%s is not NUL-terminated within its %zu bytes", what, field);
  }
  for (size_t i = 0; i < n; i++) {
    if (!ok(f[i])) {
      return fail(c, AIC_ECORRUPT, "%s has the byte 0x%02x at position %zu, which is not allowed",
                  what, f[i], i);
    }
  }
  for (size_t i = n + 1; i < field; i++) {
    if (f[i] != 0) {
      return fail(c, AIC_ECORRUPT,
                  "%s '%.*s' is followed by the nonzero byte 0x%02x at position %zu", what, (int)n,
                  (const char *)f, f[i], i);
    }
  }
  memcpy(out, f, n);
  out[n] = '\0';
  return AIC_OK;
}

static void format_dims(char *buf, size_t size, const uint32_t *dims, unsigned rank) {
  size_t used = 0;
  buf[0] = '\0';
  for (unsigned d = 0; d < rank && used < size; d++) {
    int n = snprintf(buf + used, size - used, d ? "x%" PRIu32 : "%" PRIu32, dims[d]);
    if (n < 0) return;
    used += (size_t)n;
  }
}

/* [off, off + len) within [0, total), without wrapping. */
static bool in_bounds(uint64_t off, uint64_t len, uint64_t total) {
  return off <= total && len <= total - off;
}
static uint64_t saturating_end(uint64_t off, uint64_t len) {
  return off > UINT64_MAX - len ? UINT64_MAX : off + len;
}

static int check_zero_point(const ctx_t *c, const aic_tensor_t *t) {
  int64_t lo = INT32_MIN, hi = INT32_MAX;
  switch (t->dtype) {
    case AIC_DTYPE_I8: lo = -128, hi = 127; break;
    case AIC_DTYPE_U8: lo = 0, hi = 255; break;
    case AIC_DTYPE_I16: lo = -32768, hi = 32767; break;
    case AIC_DTYPE_U16: lo = 0, hi = 65535; break;
    default: break;
  }
  if (t->zero_point < lo || t->zero_point > hi) {
    return fail(c, AIC_ECORRUPT,
                "tensor '%s': zero point %" PRId32 " outside the %s range [%" PRId64 ", %" PRId64
                "]",
                t->name, t->zero_point, aic_dtype_name(t->dtype), lo, hi);
  }
  return AIC_OK;
}

static int parse_quant(const ctx_t *c, const uint8_t *payload, uint64_t psize, const uint8_t *e,
                       aic_tensor_t *t, region_t *scale_region) {
  unsigned quant = e[T_QUANT], axis = e[T_AXIS];
  uint64_t soff = aic_get_le64(e + T_SCALE_OFFSET);
  uint32_t scount = aic_get_le32(e + T_SCALE_COUNT);
  t->zero_point = (int32_t)aic_get_le32(e + T_ZERO_POINT);
  if (quant == AIC_QUANT_NONE) {
    if (axis != 0 || scount != 0 || soff != 0 || t->zero_point != 0) {
      return fail(c, AIC_ECORRUPT,
                  "tensor '%s': not quantized, yet axis %u, %" PRIu32 " scales at offset %" PRIu64
                  ", zero point %" PRId32 " (all must be 0)",
                  t->name, axis, scount, soff, t->zero_point);
    }
    t->quant = AIC_QUANT_NONE;
    return AIC_OK;
  }
  if (quant != AIC_QUANT_TENSOR && quant != AIC_QUANT_CHANNEL) {
    return fail(c, AIC_ECORRUPT, "tensor '%s': unknown quantization mode %u", t->name, quant);
  }
  if (t->dtype == AIC_DTYPE_F32) {
    return fail(c, AIC_ECORRUPT, "tensor '%s': an f32 tensor cannot be quantized", t->name);
  }
  if (quant == AIC_QUANT_TENSOR && (axis != 0 || scount != 1)) {
    return fail(c, AIC_ECORRUPT,
                "tensor '%s': per-tensor quantization needs axis 0 and 1 scale, not axis %u and "
                "%" PRIu32 " scales",
                t->name, axis, scount);
  }
  if (quant == AIC_QUANT_CHANNEL) {
    if (axis >= t->rank) {
      return fail(c, AIC_ECORRUPT, "tensor '%s': quantization axis %u outside its rank %u", t->name,
                  axis, t->rank);
    }
    if (scount != t->dims[axis]) {
      return fail(c, AIC_ECORRUPT,
                  "tensor '%s': %" PRIu32 " scales for the %" PRIu32 " channels of axis %u",
                  t->name, scount, t->dims[axis], axis);
    }
  }
  if (soff % 4 != 0) {
    return fail(c, AIC_ECORRUPT, "tensor '%s': scale offset %" PRIu64 " is not a multiple of 4",
                t->name, soff);
  }
  uint64_t sbytes = (uint64_t)scount * 4;
  if (!in_bounds(soff, sbytes, psize)) {
    return fail(c, AIC_ECORRUPT,
                "tensor '%s': scales [%" PRIu64 ", %" PRIu64 ") outside payload of %" PRIu64
                " bytes",
                t->name, soff, saturating_end(soff, sbytes), psize);
  }
  t->quant = (aic_quant_t)quant;
  t->axis = axis;
  t->scale_count = scount;
  t->scales = (const float *)(const void *)(payload + soff);
  for (uint32_t i = 0; i < scount; i++) {
    float s;
    memcpy(&s, payload + soff + 4 * (uint64_t)i, 4);
    if (!isfinite(s) || !(s > 0.0f)) {
      return fail(c, AIC_ECORRUPT, "tensor '%s': scale %" PRIu32 " is %g, not finite and positive",
                  t->name, i, (double)s);
    }
  }
  *scale_region = (region_t){soff, soff + sbytes, 3, 0};
  return check_zero_point(c, t);
}

static int parse_tensor(const ctx_t *c, const uint8_t *payload, uint64_t psize, const uint8_t *e,
                        size_t index, aic_tensor_t *t, region_t *data_region,
                        region_t *scale_region) {
  char what[48]; /* "tensor #" + up to 20 digits + ": name" */
  snprintf(what, sizeof what, "tensor #%zu: name", index);
  int rc = check_padded(c, e, T_NAME_SIZE, is_name_char, what, t->name);
  if (rc != AIC_OK) return rc;
  t->dtype = (aic_dtype_t)e[T_DTYPE];
  size_t esize = aic_dtype_size(t->dtype);
  if (esize == 0)
    return fail(c, AIC_ECORRUPT, "tensor '%s': unknown dtype %u", t->name, e[T_DTYPE]);
  t->rank = e[T_RANK];
  if (t->rank < 1 || t->rank > AIC_MODEL_MAX_RANK) {
    return fail(c, AIC_ECORRUPT, "tensor '%s': rank %u outside 1..%d", t->name, t->rank,
                AIC_MODEL_MAX_RANK);
  }
  uint64_t count = 1;
  for (unsigned d = 0; d < AIC_MODEL_MAX_RANK; d++) {
    uint32_t v = aic_get_le32(e + T_DIMS + 4 * d);
    if (d >= t->rank) {
      if (v != 0) {
        return fail(c, AIC_ECORRUPT,
                    "tensor '%s': dimension %u is %" PRIu32 " but must be 0 beyond rank %u",
                    t->name, d, v, t->rank);
      }
      t->dims[d] = 1;
      continue;
    }
    if (v == 0) return fail(c, AIC_ECORRUPT, "tensor '%s': dimension %u is 0", t->name, d);
    /* The running product stays under the payload size, so it cannot overflow. */
    count *= v;
    t->dims[d] = v;
    if (count > psize) {
      return fail(c, AIC_ECORRUPT,
                  "tensor '%s': dimensions 0..%u already hold %" PRIu64
                  " elements, more than the payload's %" PRIu64 " bytes",
                  t->name, d, count, psize);
    }
  }
  char dims[64];
  format_dims(dims, sizeof dims, t->dims, t->rank);
  uint64_t doff = aic_get_le64(e + T_DATA_OFFSET), dsize = aic_get_le64(e + T_DATA_SIZE);
  if (dsize != count * esize) {
    return fail(c, AIC_ECORRUPT,
                "tensor '%s': data size %" PRIu64 " but %s %s needs %" PRIu64 " bytes", t->name,
                dsize, aic_dtype_name(t->dtype), dims, count * esize);
  }
  if (doff % AIC_MODEL_DATA_ALIGN != 0) {
    return fail(c, AIC_ECORRUPT, "tensor '%s': data offset %" PRIu64 " is not a multiple of %d",
                t->name, doff, AIC_MODEL_DATA_ALIGN);
  }
  if (!in_bounds(doff, dsize, psize)) {
    return fail(c, AIC_ECORRUPT,
                "tensor '%s': data [%" PRIu64 ", %" PRIu64 ") outside payload of %" PRIu64 " bytes",
                t->name, doff, saturating_end(doff, dsize), psize);
  }
  t->count = (size_t)count;
  t->size = (size_t)dsize;
  t->data = payload + doff;
  *data_region = (region_t){doff, doff + dsize, 2, index};
  rc = parse_quant(c, payload, psize, e, t, scale_region);
  if (rc != AIC_OK) return rc;
  scale_region->tensor = index;
  for (size_t i = T_RESERVED; i < AIC_MODEL_TENSOR_ENTRY_SIZE; i++) {
    if (e[i] != 0) {
      return fail(c, AIC_ECORRUPT,
                  "tensor '%s': reserved byte %zu of its table entry is 0x%02x, not 0", t->name, i,
                  e[i]);
    }
  }
  return AIC_OK;
}

static int region_cmp(const void *a, const void *b) {
  const region_t *x = a, *y = b;
  if (x->start != y->start) return x->start < y->start ? -1 : 1;
  return x->end < y->end ? -1 : x->end > y->end;
}

static void describe_region(const aic_model_file_t *m, const region_t *r, char *buf, size_t size) {
  static const char *const kinds[] = {"architecture text", "tensor table", "data", "scales"};
  if (r->kind < 2) {
    snprintf(buf, size, "the %s [%" PRIu64 ", %" PRIu64 ")", kinds[r->kind], r->start, r->end);
  } else {
    snprintf(buf, size, "tensor '%s' %s [%" PRIu64 ", %" PRIu64 ")", m->tensors[r->tensor].name,
             kinds[r->kind], r->start, r->end);
  }
}

/* Sorting by start puts any overlap between a region and the one reaching furthest before it. */
static int check_overlaps(const ctx_t *c, const aic_model_file_t *m, region_t *r, size_t n) {
  qsort(r, n, sizeof *r, region_cmp);
  size_t reach = 0;
  for (size_t i = 1; i < n; i++) {
    if (r[i].start < r[reach].end) {
      char a[128], b[128];
      describe_region(m, &r[i], a, sizeof a);
      describe_region(m, &r[reach], b, sizeof b);
      return fail(c, AIC_ECORRUPT, "%s overlaps %s", a, b);
    }
    if (r[i].end > r[reach].end) reach = i;
  }
  return AIC_OK;
}

static int tensor_ptr_cmp(const void *a, const void *b) {
  const aic_tensor_t *const *x = a, *const *y = b;
  int r = strcmp((*x)->name, (*y)->name);
  /* Ties in file order, so that a duplicate is reported as "#first and #second". */
  return r ? r : (*x > *y) - (*x < *y);
}
static int tensor_key_cmp(const void *key, const void *elem) {
  const aic_tensor_t *const *t = elem;
  return strcmp(key, (*t)->name);
}

static int parse_tensors(const ctx_t *c, aic_model_file_t *m, const uint8_t *payload,
                         uint64_t psize, uint64_t table_offset) {
  size_t n = m->tensor_count;
  /* Two regions per tensor plus the architecture text and the table itself. */
  region_t *regions = calloc(2 * n + 2, sizeof *regions);
  m->tensors = calloc(n, sizeof *m->tensors);
  m->by_name = calloc(n, sizeof *m->by_name);
  if (!regions || !m->tensors || !m->by_name) {
    free(regions);
    return fail(c, AIC_ENOMEM, "out of memory for a table of %zu tensors", n);
  }
  size_t nr = 0;
  regions[nr++] = (region_t){0, m->arch_size, 0, 0};
  regions[nr++] =
      (region_t){table_offset, table_offset + (uint64_t)n * AIC_MODEL_TENSOR_ENTRY_SIZE, 1, 0};
  int rc = AIC_OK;
  for (size_t i = 0; i < n && rc == AIC_OK; i++) {
    region_t data, scales = {0, 0, 3, 0};
    const uint8_t *e = payload + table_offset + i * AIC_MODEL_TENSOR_ENTRY_SIZE;
    rc = parse_tensor(c, payload, psize, e, i, &m->tensors[i], &data, &scales);
    if (rc == AIC_OK) {
      regions[nr++] = data;
      if (scales.end > scales.start) regions[nr++] = scales;
      m->by_name[i] = &m->tensors[i];
    }
  }
  if (rc == AIC_OK) rc = check_overlaps(c, m, regions, nr);
  free(regions);
  if (rc != AIC_OK) return rc;
  qsort(m->by_name, n, sizeof *m->by_name, tensor_ptr_cmp);
  for (size_t i = 1; i < n; i++) {
    if (strcmp(m->by_name[i - 1]->name, m->by_name[i]->name) == 0) {
      return fail(c, AIC_ECORRUPT, "tensor name '%s' appears twice (entries #%zu and #%zu)",
                  m->by_name[i]->name, (size_t)(m->by_name[i - 1] - m->tensors),
                  (size_t)(m->by_name[i] - m->tensors));
    }
  }
  return AIC_OK;
}

/* ---- the architecture text: lines of "layer key=value ..." ---- */

enum { K_NAME = 1, K_TYPE = 2, K_IN = 4, K_OUT = 8, K_KERNEL = 16, K_STRIDE = 32, K_ACT = 64 };

typedef struct line_ctx {
  const ctx_t *c;
  const aic_model_file_t *m;
  size_t line; /* 1-based, for messages */
} line_ctx_t;

/* Decimal without sign or leading zeros, so each number has one spelling. */
static int parse_number(const line_ctx_t *lc, const char *key, const char *v, size_t n, uint32_t lo,
                        uint32_t hi, uint32_t *out) {
  uint64_t x = 0;
  bool ok = n > 0 && n <= 10 && !(n > 1 && v[0] == '0');
  for (size_t i = 0; ok && i < n; i++) {
    ok = v[i] >= '0' && v[i] <= '9';
    x = x * 10 + (uint64_t)(v[i] - '0');
  }
  if (!ok || x < lo || x > hi) {
    return fail(lc->c, AIC_ECORRUPT,
                "architecture line %zu: %s=%.*s is not a number in %" PRIu32 "..%" PRIu32, lc->line,
                key, (int)n, v, lo, hi);
  }
  *out = (uint32_t)x;
  return AIC_OK;
}

static int parse_pair(const line_ctx_t *lc, const char *k, size_t kn, const char *v, size_t vn,
                      unsigned *seen, aic_layer_t *l) {
  static const struct {
    const char *key;
    unsigned bit;
  } fixed[] = {{"name", K_NAME},     {"type", K_TYPE},     {"in", K_IN},  {"out", K_OUT},
               {"kernel", K_KERNEL}, {"stride", K_STRIDE}, {"act", K_ACT}};
  char key[AIC_MODEL_MAX_TOKEN + 1];
  memcpy(key, k, kn);
  key[kn] = '\0';
  unsigned bit = 0;
  for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
    if (strcmp(key, fixed[i].key) == 0) bit = fixed[i].bit;
  }
  if (bit & *seen) {
    return fail(lc->c, AIC_ECORRUPT, "architecture line %zu: key '%s' given twice", lc->line, key);
  }
  *seen |= bit;
  if (bit == K_TYPE || bit == K_ACT) {
    char *dst = bit == K_TYPE ? l->type : l->act;
    for (size_t i = 0; i < vn; i++) {
      if (vn > AIC_MODEL_MAX_TOKEN || !is_token_char(v[i])) {
        return fail(lc->c, AIC_ECORRUPT,
                    "architecture line %zu: %s=%.*s is not a lowercase identifier of at most %d "
                    "characters",
                    lc->line, key, (int)vn, v, AIC_MODEL_MAX_TOKEN);
      }
    }
    memcpy(dst, v, vn);
    dst[vn] = '\0';
    return AIC_OK;
  }
  switch (bit) {
    case K_NAME:
      memcpy(l->name, v, vn);
      l->name[vn] = '\0';
      return AIC_OK;
    case K_IN: return parse_number(lc, key, v, vn, 1, 65536, &l->in);
    case K_OUT: return parse_number(lc, key, v, vn, 1, 65536, &l->out);
    case K_KERNEL: return parse_number(lc, key, v, vn, 1, 31, &l->kernel);
    case K_STRIDE: return parse_number(lc, key, v, vn, 1, 16, &l->stride);
    default: break;
  }
  /* Any other key names a tensor the layer uses, under that role. */
  for (unsigned i = 0; i < l->tensor_count; i++) {
    if (strcmp(l->tensors[i].role, key) == 0) {
      return fail(lc->c, AIC_ECORRUPT, "architecture line %zu: key '%s' given twice", lc->line,
                  key);
    }
  }
  if (l->tensor_count == AIC_MODEL_MAX_LAYER_TENSORS) {
    return fail(lc->c, AIC_ECORRUPT, "architecture line %zu: more than %d tensors in one layer",
                lc->line, AIC_MODEL_MAX_LAYER_TENSORS);
  }
  char name[AIC_MODEL_MAX_NAME + 1];
  memcpy(name, v, vn);
  name[vn] = '\0';
  const aic_tensor_t *t = aic_model_tensor(lc->m, name);
  if (!t) {
    return fail(lc->c, AIC_ECORRUPT,
                "architecture line %zu: tensor '%s' (role '%s') is not in the tensor table",
                lc->line, name, key);
  }
  aic_layer_tensor_t *lt = &l->tensors[l->tensor_count++];
  memcpy(lt->role, key, kn + 1);
  lt->tensor = t;
  return AIC_OK;
}

static int parse_line(const line_ctx_t *lc, const char *s, size_t n, aic_layer_t *l) {
  static const char record[] = "layer";
  if (n == 0) return fail(lc->c, AIC_ECORRUPT, "architecture line %zu is empty", lc->line);
  unsigned seen = 0;
  size_t pos = 0;
  for (bool first = true; pos <= n; first = false) {
    const char *tok = s + pos;
    const char *space = memchr(tok, ' ', n - pos);
    size_t tn = space ? (size_t)(space - tok) : n - pos;
    if (tn == 0 || (space && pos + tn + 1 == n)) {
      return fail(lc->c, AIC_ECORRUPT, "architecture line %zu: stray space at column %zu", lc->line,
                  tn == 0 ? pos + 1 : n);
    }
    pos += tn + 1;
    if (first) {
      if (tn != sizeof record - 1 || memcmp(tok, record, tn) != 0) {
        return fail(lc->c, AIC_ECORRUPT, "architecture line %zu: record '%.*s' is not 'layer'",
                    lc->line, tn > 32 ? 32 : (int)tn, tok);
      }
      continue;
    }
    const char *eq = memchr(tok, '=', tn);
    size_t kn = eq ? (size_t)(eq - tok) : 0, vn = eq ? tn - kn - 1 : 0;
    bool key_ok = eq && kn >= 1 && kn <= AIC_MODEL_MAX_TOKEN && tok[0] >= 'a' && tok[0] <= 'z';
    for (size_t i = 0; key_ok && i < kn; i++) key_ok = is_token_char(tok[i]);
    bool value_ok = key_ok && vn >= 1 && vn <= AIC_MODEL_MAX_NAME;
    for (size_t i = 0; value_ok && i < vn; i++) value_ok = is_name_char(eq[1 + i]);
    if (!value_ok) {
      return fail(lc->c, AIC_ECORRUPT,
                  "architecture line %zu: '%.*s' is not key=value (key: a lowercase identifier "
                  "of at most %d characters; value: 1..%d of A-Z a-z 0-9 _ . / -)",
                  lc->line, tn > 96 ? 96 : (int)tn, tok, AIC_MODEL_MAX_TOKEN, AIC_MODEL_MAX_NAME);
    }
    int rc = parse_pair(lc, tok, kn, eq + 1, vn, &seen, l);
    if (rc != AIC_OK) return rc;
  }
  static const struct {
    unsigned bit;
    const char *key;
  } required[] = {{K_NAME, "name"}, {K_TYPE, "type"}, {K_IN, "in"}, {K_OUT, "out"}};
  for (size_t i = 0; i < sizeof required / sizeof required[0]; i++) {
    if (!(seen & required[i].bit)) {
      return fail(lc->c, AIC_ECORRUPT, "architecture line %zu: no %s=", lc->line, required[i].key);
    }
  }
  if (!(seen & K_KERNEL)) l->kernel = 1;
  if (!(seen & K_STRIDE)) l->stride = 1;
  if (!(seen & K_ACT)) strcpy(l->act, "none");
  return AIC_OK;
}

static int layer_ptr_cmp(const void *a, const void *b) {
  const aic_layer_t *const *x = a, *const *y = b;
  int r = strcmp((*x)->name, (*y)->name);
  return r ? r : (*x > *y) - (*x < *y);
}

static int parse_arch(const ctx_t *c, aic_model_file_t *m) {
  const char *s = m->arch;
  size_t n = m->arch_size, lines = 0;
  for (size_t i = 0; i < n; i++) {
    uint8_t ch = (uint8_t)s[i];
    if (ch == '\n') {
      lines++;
    } else if (ch < 0x20 || ch > 0x7e) {
      return fail(c, AIC_ECORRUPT,
                  "architecture text: byte 0x%02x at offset %zu is not printable ASCII", ch, i);
    }
  }
  if (s[n - 1] != '\n') {
    return fail(c, AIC_ECORRUPT, "architecture text does not end with a newline");
  }
  if (lines > AIC_MODEL_MAX_LAYERS) {
    return fail(c, AIC_ECORRUPT, "architecture text has %zu lines, over the limit of %d layers",
                lines, AIC_MODEL_MAX_LAYERS);
  }
  m->layers = calloc(lines, sizeof *m->layers);
  const aic_layer_t **sorted = calloc(lines, sizeof *sorted);
  if (!m->layers || !sorted) {
    free(sorted);
    return fail(c, AIC_ENOMEM, "out of memory for %zu layers", lines);
  }
  int rc = AIC_OK;
  const char *line = s;
  for (size_t i = 0; i < lines && rc == AIC_OK; i++) {
    const char *end = memchr(line, '\n', (size_t)(s + n - line));
    line_ctx_t lc = {c, m, i + 1};
    rc = parse_line(&lc, line, (size_t)(end - line), &m->layers[i]);
    sorted[i] = &m->layers[i];
    line = end + 1;
  }
  m->layer_count = rc == AIC_OK ? lines : 0;
  if (rc == AIC_OK) {
    qsort(sorted, lines, sizeof *sorted, layer_ptr_cmp);
    for (size_t i = 1; i < lines && rc == AIC_OK; i++) {
      if (strcmp(sorted[i - 1]->name, sorted[i]->name) == 0) {
        rc = fail(c, AIC_ECORRUPT, "architecture lines %zu and %zu both name a layer '%s'",
                  (size_t)(sorted[i - 1] - m->layers) + 1, (size_t)(sorted[i] - m->layers) + 1,
                  sorted[i]->name);
      }
    }
  }
  free(sorted);
  return rc;
}

/* ---- the header ---- */

/* Magic, version and sizes first: a newer file must be refused as newer, not as corrupt, and
 * nothing else may be read before the sizes are known to match the bytes present. Then the
 * digest, so that what follows only ever parses bytes the exporter wrote. */
static int check_envelope(const ctx_t *c, const uint8_t *b, size_t size) {
  if (size < 4 || memcmp(b, magic, 4) != 0) {
    if (size < 4) {
      return fail(c, AIC_ECORRUPT, "not an AICM model file: %zu bytes, shorter than the magic",
                  size);
    }
    return fail(c, AIC_ECORRUPT,
                "not an AICM model file: magic is %02x %02x %02x %02x, expected 41 49 43 4d "
                "(\"AICM\")",
                b[0], b[1], b[2], b[3]);
  }
  if (size < 8) {
    return fail(c, AIC_ECORRUPT, "truncated: %zu bytes, shorter than the %d-byte header", size,
                AIC_MODEL_HEADER_SIZE);
  }
  unsigned version = aic_get_le16(b + H_VERSION), hsize = aic_get_le16(b + H_HEADER_SIZE);
  if (version > AIC_MODEL_FORMAT_VERSION) {
    return fail(c, AIC_EUNSUPPORTED,
                "model format version %u is newer than this loader, which reads version %d",
                version, AIC_MODEL_FORMAT_VERSION);
  }
  if (version == 0) return fail(c, AIC_ECORRUPT, "model format version 0 is invalid");
  if (hsize != AIC_MODEL_HEADER_SIZE) {
    return fail(c, AIC_ECORRUPT, "header size %u, but format version %u has %d", hsize, version,
                AIC_MODEL_HEADER_SIZE);
  }
  if (size < AIC_MODEL_HEADER_SIZE) {
    return fail(c, AIC_ECORRUPT, "truncated: %zu bytes, shorter than the %d-byte header", size,
                AIC_MODEL_HEADER_SIZE);
  }
  uint64_t psize = aic_get_le64(b + H_PAYLOAD_SIZE), present = size - AIC_MODEL_HEADER_SIZE;
  if (psize > present) {
    return fail(c, AIC_ECORRUPT,
                "truncated: the header declares a payload of %" PRIu64 " bytes but %" PRIu64
                " follow it",
                psize, present);
  }
  if (psize < present) {
    return fail(c, AIC_ECORRUPT,
                "%" PRIu64 " bytes of trailing data after the declared payload of %" PRIu64
                " bytes",
                present - psize, psize);
  }
  uint8_t digest[AIC_SHA256_SIZE];
  aic_sha256_t s;
  aic_sha256_init(&s);
  aic_sha256_update(&s, b, H_SHA256);
  aic_sha256_update(&s, b + AIC_MODEL_HEADER_SIZE, size - AIC_MODEL_HEADER_SIZE);
  aic_sha256_final(&s, digest);
  if (memcmp(digest, b + H_SHA256, AIC_SHA256_SIZE) != 0) {
    const uint8_t *h = b + H_SHA256;
    return fail(c, AIC_ECORRUPT,
                "SHA-256 mismatch: the header says %02x%02x%02x%02x%02x%02x%02x%02x..., the "
                "contents hash to %02x%02x%02x%02x%02x%02x%02x%02x... (corrupted file)",
                h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7], digest[0], digest[1], digest[2],
                digest[3], digest[4], digest[5], digest[6], digest[7]);
  }
  return AIC_OK;
}

static int parse_header(const ctx_t *c, aic_model_file_t *m, uint64_t *table_offset) {
  const uint8_t *b = m->bytes;
  uint64_t psize = m->size - AIC_MODEL_HEADER_SIZE;
  int rc = check_padded(c, b + H_FAMILY, H_FAMILY_SIZE, is_family_char, "model family", m->family);
  if (rc != AIC_OK) return rc;
  m->id = (uint16_t)aic_get_le16(b + H_MODEL_ID);
  m->levels = (uint16_t)aic_get_le16(b + H_LEVELS);
  m->version = aic_get_le32(b + H_MODEL_VERSION);
  memcpy(m->sha256, b + H_SHA256, AIC_SHA256_SIZE);
  if (m->id == 0) {
    return fail(c, AIC_ECORRUPT, "model id 0 is reserved for 'no model' in the bitstream");
  }
  if (m->levels < 1 || m->levels > AIC_MODEL_MAX_LEVELS) {
    return fail(c, AIC_ECORRUPT, "%u quality levels, outside 1..%d", m->levels,
                AIC_MODEL_MAX_LEVELS);
  }
  for (size_t i = H_RESERVED; i < H_SHA256; i++) {
    if (b[i] != 0) {
      return fail(c, AIC_ECORRUPT, "reserved header byte %zu is 0x%02x, not 0", i, b[i]);
    }
  }
  uint32_t arch_size = aic_get_le32(b + H_ARCH_SIZE), count = aic_get_le32(b + H_TENSOR_COUNT);
  *table_offset = aic_get_le32(b + H_TABLE_OFFSET);
  if (arch_size < 1 || arch_size > AIC_MODEL_MAX_ARCH_SIZE || arch_size > psize) {
    return fail(c, AIC_ECORRUPT,
                "architecture text of %" PRIu32
                " bytes: must be 1..%u and within the payload of "
                "%" PRIu64 " bytes",
                arch_size, AIC_MODEL_MAX_ARCH_SIZE, psize);
  }
  if (count < 1 || count > AIC_MODEL_MAX_TENSORS) {
    return fail(c, AIC_ECORRUPT, "%" PRIu32 " tensors, outside 1..%d", count,
                AIC_MODEL_MAX_TENSORS);
  }
  uint64_t table_size = (uint64_t)count * AIC_MODEL_TENSOR_ENTRY_SIZE;
  /* Checked here, not with the other regions: entries read from the text would only give a
   * misleading reason. */
  if (*table_offset < arch_size) {
    return fail(c, AIC_ECORRUPT,
                "tensor table [%" PRIu64 ", %" PRIu64
                ") overlaps the architecture text [0, %" PRIu32 ")",
                *table_offset, *table_offset + table_size, arch_size);
  }
  if (*table_offset % 8 != 0 || !in_bounds(*table_offset, table_size, psize)) {
    return fail(c, AIC_ECORRUPT,
                "tensor table [%" PRIu64 ", %" PRIu64 ") of %" PRIu32
                " entries: must start at a multiple of 8 and lie within the payload of %" PRIu64
                " bytes",
                *table_offset, *table_offset + table_size, count, psize);
  }
  m->tensor_count = count;
  m->arch_size = arch_size;
  m->arch = malloc((size_t)arch_size + 1);
  if (!m->arch) return fail(c, AIC_ENOMEM, "out of memory for the architecture text");
  memcpy(m->arch, b + AIC_MODEL_HEADER_SIZE, arch_size);
  m->arch[arch_size] = '\0';
  return AIC_OK;
}

/* Takes ownership of m->bytes (already set, with m->size). */
static int parse(const ctx_t *c, aic_model_file_t *m) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  /* Tensors point straight into the little-endian file; a big-endian engine would need a
   * byte-swapping pass nobody can test here. */
  return fail(c, AIC_EUNSUPPORTED, "model files are little-endian and this host is not");
#endif
  int rc = check_envelope(c, m->bytes, m->size);
  uint64_t table_offset = 0;
  if (rc == AIC_OK) rc = parse_header(c, m, &table_offset);
  if (rc == AIC_OK) {
    rc = parse_tensors(c, m, m->bytes + AIC_MODEL_HEADER_SIZE, m->size - AIC_MODEL_HEADER_SIZE,
                       table_offset);
  }
  if (rc == AIC_OK) rc = parse_arch(c, m);
  return rc;
}

static int load_owned(const ctx_t *c, aic_model_file_t *m, aic_model_file_t **out) {
  int rc = parse(c, m);
  if (rc != AIC_OK) {
    aic_model_file_free(&m);
    return rc;
  }
  if (c->why && c->why_size > 0) c->why[0] = '\0';
  *out = m;
  return AIC_OK;
}

/* Room for `size` bytes (exactly, so that sanitizers see any read past the file). */
static int alloc_bytes(const ctx_t *c, aic_model_file_t **m, size_t size) {
  *m = calloc(1, sizeof **m);
  void *p = NULL;
  if (!*m || posix_memalign(&p, AIC_MODEL_DATA_ALIGN, size ? size : 1) != 0) {
    free(*m);
    *m = NULL;
    return fail(c, AIC_ENOMEM, "out of memory for a model file of %zu bytes", size);
  }
  (*m)->bytes = p;
  (*m)->size = size;
  return AIC_OK;
}

int aic_model_load_memory(const uint8_t *data, size_t size, aic_model_file_t **out, char *why,
                          size_t why_size) {
  ctx_t c = {why, why_size};
  if (why && why_size > 0) why[0] = '\0';
  if (!out) return fail(&c, AIC_EINVAL, "no place for the model (out is NULL)");
  *out = NULL;
  if (!data && size > 0) return fail(&c, AIC_EINVAL, "data is NULL");
  if (size > AIC_MODEL_MAX_FILE_SIZE) {
    return fail(&c, AIC_ELIMIT, "model file of %zu bytes is over the %u-byte limit", size,
                AIC_MODEL_MAX_FILE_SIZE);
  }
  aic_model_file_t *m;
  int rc = alloc_bytes(&c, &m, size);
  if (rc != AIC_OK) return rc;
  if (size > 0) memcpy(m->bytes, data, size);
  return load_owned(&c, m, out);
}

int aic_model_load_file(const char *path, aic_model_file_t **out, char *why, size_t why_size) {
  ctx_t c = {why, why_size};
  if (why && why_size > 0) why[0] = '\0';
  if (!out) return fail(&c, AIC_EINVAL, "no place for the model (out is NULL)");
  *out = NULL;
  if (!path) return fail(&c, AIC_EINVAL, "path is NULL");
  FILE *f = fopen(path, "rb");
  if (!f) return fail(&c, AIC_EIO, "cannot open %s: %s", path, strerror(errno));
  struct stat st;
  if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
    fclose(f);
    return fail(&c, AIC_EIO, "%s is not a regular file", path);
  }
  if ((uintmax_t)st.st_size > AIC_MODEL_MAX_FILE_SIZE) {
    fclose(f);
    return fail(&c, AIC_ELIMIT, "%s: %jd bytes, over the %u-byte limit for a model file", path,
                (intmax_t)st.st_size, AIC_MODEL_MAX_FILE_SIZE);
  }
  size_t size = (size_t)st.st_size;
  aic_model_file_t *m;
  int rc = alloc_bytes(&c, &m, size);
  if (rc != AIC_OK) {
    fclose(f);
    return rc;
  }
  size_t got = fread(m->bytes, 1, size, f);
  /* One byte more would mean the file grew after fstat: a half-written file, refuse it. */
  bool grew = got == size && fgetc(f) != EOF;
  bool error = ferror(f) != 0;
  fclose(f);
  if (got != size || grew || error) {
    aic_model_file_free(&m);
    return fail(&c, AIC_EIO, "%s: read %zu of %zu bytes%s", path, got, size,
                grew ? " (the file changed while being read)" : "");
  }
  rc = load_owned(&c, m, out);
  if (rc != AIC_OK && why && why_size > 0) {
    /* Name the file: the engine logs this line as is. */
    char inner[512];
    snprintf(inner, sizeof inner, "%s", why);
    snprintf(why, why_size, "%s: %s", path, inner);
  }
  return rc;
}

void aic_model_file_free(aic_model_file_t **mp) {
  if (!mp || !*mp) return;
  aic_model_file_t *m = *mp;
  free(m->bytes);
  free(m->arch);
  free(m->tensors);
  free(m->by_name);
  free(m->layers);
  free(m);
  *mp = NULL;
}

const char *aic_model_family(const aic_model_file_t *m) {
  return m->family;
}
uint16_t aic_model_id(const aic_model_file_t *m) {
  return m->id;
}
uint32_t aic_model_version(const aic_model_file_t *m) {
  return m->version;
}
unsigned aic_model_levels(const aic_model_file_t *m) {
  return m->levels;
}
const uint8_t *aic_model_sha256(const aic_model_file_t *m) {
  return m->sha256;
}
const char *aic_model_architecture(const aic_model_file_t *m) {
  return m->arch;
}
size_t aic_model_layer_count(const aic_model_file_t *m) {
  return m->layer_count;
}
const aic_layer_t *aic_model_layer(const aic_model_file_t *m, size_t i) {
  return i < m->layer_count ? &m->layers[i] : NULL;
}
size_t aic_model_tensor_count(const aic_model_file_t *m) {
  return m->tensor_count;
}
const aic_tensor_t *aic_model_tensor_at(const aic_model_file_t *m, size_t i) {
  return i < m->tensor_count ? &m->tensors[i] : NULL;
}

const aic_tensor_t *aic_model_tensor(const aic_model_file_t *m, const char *name) {
  if (!name || !m->by_name) return NULL;
  const aic_tensor_t *const *t =
      bsearch(name, m->by_name, m->tensor_count, sizeof *m->by_name, tensor_key_cmp);
  return t ? *t : NULL;
}

const aic_tensor_t *aic_layer_tensor(const aic_layer_t *layer, const char *role) {
  if (!layer || !role) return NULL;
  for (unsigned i = 0; i < layer->tensor_count; i++) {
    if (strcmp(layer->tensors[i].role, role) == 0) return layer->tensors[i].tensor;
  }
  return NULL;
}
