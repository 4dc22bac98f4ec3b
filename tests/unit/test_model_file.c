/* The .aicm model file loader (docs/model-format.md) and SHA-256. Files are built in memory by
 * the small writer below, which follows the document rather than the loader, then broken one
 * field, one byte or one length at a time.
 *
 * With a path argument, the test instead loads that file and prints a summary of it (exit 0 if
 * it loads): tests/model/test_aicm_python.py checks files written by train/aicm.py that way. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aic/error.h"
#include "aic_test.h"
#include "core/sha256.h"
#include "nn/model_file.h"

/* ---- a writer that follows docs/model-format.md ---- */

enum { HDR = 128, ENTRY = 128, DIGEST = 96, MAX_SPECS = 16 };

typedef struct spec {
  const char *name;
  uint8_t dtype, rank, quant, axis;
  uint32_t dims[4];
  int32_t zero_point;
  unsigned scale_count;
  float scales[8];
} spec_t;

typedef struct built {
  uint8_t *b;
  size_t size;
  uint64_t psize;
  uint64_t table;                /* payload offsets */
  uint64_t data[MAX_SPECS];      /* payload offsets of each tensor's data */
  uint64_t data_size[MAX_SPECS]; /* bytes */
  uint64_t scales[MAX_SPECS];
} built_t;

static void put16(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
}
static void put32(uint8_t *p, uint32_t v) {
  put16(p, v);
  put16(p + 2, v >> 16);
}
static void put64(uint8_t *p, uint64_t v) {
  put32(p, (uint32_t)v);
  put32(p + 4, (uint32_t)(v >> 32));
}
static uint64_t align_up(uint64_t n, uint64_t a) {
  return (n + a - 1) / a * a;
}
static size_t dtype_bytes(uint8_t dtype) {
  static const size_t sizes[] = {0, 4, 1, 1, 2, 4, 2};
  return dtype < 7 ? sizes[dtype] : 1;
}

static void reseal(uint8_t *b, size_t size) {
  aic_sha256_t s;
  aic_sha256_init(&s);
  aic_sha256_update(&s, b, DIGEST);
  aic_sha256_update(&s, b + HDR, size - HDR);
  aic_sha256_final(&s, b + DIGEST);
}

/* Data bytes follow a pattern the test can check after loading. */
static uint8_t pattern(size_t tensor, size_t i) {
  return (uint8_t)(tensor * 31 + i * 7 + 1);
}

static void build(const char *arch, const spec_t *specs, size_t n, built_t *out) {
  memset(out, 0, sizeof *out);
  size_t arch_size = strlen(arch);
  out->table = align_up(arch_size, 64);
  uint64_t off = out->table + n * ENTRY;
  for (size_t i = 0; i < n; i++) {
    uint64_t count = 1;
    for (unsigned d = 0; d < specs[i].rank; d++) count *= specs[i].dims[d];
    out->data[i] = align_up(off, 64);
    out->data_size[i] = count * dtype_bytes(specs[i].dtype);
    off = out->data[i] + out->data_size[i];
    if (specs[i].scale_count) {
      out->scales[i] = align_up(off, 4);
      off = out->scales[i] + 4 * specs[i].scale_count;
    }
  }
  out->psize = off;
  out->size = HDR + off;
  uint8_t *b = out->b = calloc(1, out->size);
  if (!b) abort();
  memcpy(b, "AICM", 4);
  put16(b + 4, 1);
  put16(b + 6, HDR);
  memcpy(b + 8, "nic-rt", 6);
  put16(b + 24, 7);
  put16(b + 26, 4);
  put32(b + 28, 42);
  put64(b + 32, off);
  put32(b + 40, (uint32_t)arch_size);
  put32(b + 44, (uint32_t)out->table);
  put32(b + 48, (uint32_t)n);
  uint8_t *p = b + HDR;
  memcpy(p, arch, arch_size);
  for (size_t i = 0; i < n; i++) {
    const spec_t *s = &specs[i];
    uint8_t *e = p + out->table + i * ENTRY;
    memcpy(e, s->name, strlen(s->name));
    e[64] = s->dtype;
    e[65] = s->rank;
    e[66] = s->quant;
    e[67] = s->axis;
    for (unsigned d = 0; d < s->rank; d++) put32(e + 68 + 4 * d, s->dims[d]);
    put32(e + 84, (uint32_t)s->zero_point);
    put64(e + 88, out->data[i]);
    put64(e + 96, out->data_size[i]);
    put64(e + 104, out->scales[i]);
    put32(e + 112, s->scale_count);
    for (uint64_t j = 0; j < out->data_size[i]; j++) p[out->data[i] + j] = pattern(i, j);
    for (unsigned j = 0; j < s->scale_count; j++) {
      uint32_t bits;
      memcpy(&bits, &s->scales[j], 4);
      put32(p + out->scales[i] + 4 * j, bits);
    }
  }
  reseal(b, out->size);
}

static const char valid_arch[] =
    "layer name=enc type=conv2d in=3 out=4 kernel=3 stride=2 act=relu weight=enc.w bias=enc.b\n"
    "layer name=dec type=deconv2d in=4 out=3 kernel=3 stride=2 weight=dec.w bias=dec.b\n"
    "layer name=eb type=entropy_bottleneck in=4 out=4 cdf=eb.cdf scale_table=eb.scales\n";

static const spec_t valid_specs[] = {
    {"enc.w", AIC_DTYPE_I8, 4, AIC_QUANT_CHANNEL, 0, {4, 3, 3, 3}, 0, 4, {0.5f, 0.25f, 1, 2}},
    {"enc.b", AIC_DTYPE_I32, 1, AIC_QUANT_NONE, 0, {4}, 0, 0, {0}},
    {"dec.w", AIC_DTYPE_U8, 4, AIC_QUANT_TENSOR, 0, {4, 3, 3, 3}, 128, 1, {0.01f}},
    {"dec.b", AIC_DTYPE_F32, 1, AIC_QUANT_NONE, 0, {3}, 0, 0, {0}},
    {"eb.cdf", AIC_DTYPE_U16, 2, AIC_QUANT_NONE, 0, {2, 5}, 0, 0, {0}},
    {"eb.scales", AIC_DTYPE_I16, 2, AIC_QUANT_CHANNEL, 1, {2, 3}, -5, 3, {0.1f, 0.2f, 0.3f}},
};
enum { VALID_N = sizeof valid_specs / sizeof valid_specs[0] };

static void build_valid(built_t *v) {
  build(valid_arch, valid_specs, VALID_N, v);
}

/* File offset of field `f` of tensor entry `i`. */
static size_t entry_at(const built_t *v, size_t i, size_t f) {
  return HDR + (size_t)v->table + i * ENTRY + f;
}

/* Loads a copy of `v` with `n` bytes at `off` replaced by the little-endian `value`, the digest
 * recomputed; expects `err` and a reason containing `want`. */
static void expect_patch(const built_t *v, size_t off, uint64_t value, size_t n, int err,
                         const char *want) {
  uint8_t *b = malloc(v->size);
  if (!b) abort();
  memcpy(b, v->b, v->size);
  for (size_t i = 0; i < n; i++) b[off + i] = (uint8_t)(value >> (8 * i));
  reseal(b, v->size);
  aic_model_file_t *m = (aic_model_file_t *)1;
  char why[512] = "";
  int rc = aic_model_load_memory(b, v->size, &m, why, sizeof why);
  if (rc != err || !strstr(why, want) || m != NULL) {
    fprintf(stderr, "patch at %zu = %llu: rc %d (want %d), why \"%s\" (want \"%s\")\n", off,
            (unsigned long long)value, rc, err, why, want);
    CHECK(false);
  }
  aic_model_file_free(&m);
  free(b);
}

static void expect_arch(const char *arch, const char *want) {
  built_t v;
  build(arch, valid_specs, VALID_N, &v);
  aic_model_file_t *m = NULL;
  char why[512] = "";
  int rc = aic_model_load_memory(v.b, v.size, &m, why, sizeof why);
  if (rc != AIC_ECORRUPT || !strstr(why, want) || m) {
    fprintf(stderr, "arch \"%.60s\": rc %d, why \"%s\" (want \"%s\")\n", arch, rc, why, want);
    CHECK(false);
  }
  aic_model_file_free(&m);
  free(v.b);
}

/* ---- SHA-256 ---- */

static void hex(const uint8_t *d, size_t n, char *out) {
  for (size_t i = 0; i < n; i++) sprintf(out + 2 * i, "%02x", d[i]);
}

static bool sha_is(const void *data, size_t n, const char *want) {
  uint8_t d[32];
  char h[65];
  aic_sha256(data, n, d);
  hex(d, 32, h);
  if (strcmp(h, want) != 0) fprintf(stderr, "sha256 %s, want %s\n", h, want);
  return strcmp(h, want) == 0;
}

static void test_sha256_fips_vectors(void) {
  CHECK(sha_is("abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
  const char *m448 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  CHECK(sha_is(m448, strlen(m448),
               "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"));
  char *a = malloc(1000000);
  if (!a) abort();
  memset(a, 'a', 1000000);
  CHECK(sha_is(a, 1000000, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"));
  /* The same million bytes fed in uneven pieces exercise the block buffering. */
  aic_sha256_t s;
  aic_sha256_init(&s);
  for (size_t off = 0, step = 1; off < 1000000; off += step, step = step % 97 + 1) {
    aic_sha256_update(&s, a + off, off + step > 1000000 ? 1000000 - off : step);
  }
  uint8_t d[32];
  char h[65];
  aic_sha256_final(&s, d);
  hex(d, 32, h);
  CHECK(strcmp(h, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0") == 0);
  free(a);
  CHECK(sha_is(NULL, 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
}

/* Every length 0..199 crosses each padding case (55, 56, 63, 64 bytes...). The expected value
 * is Python's: sha256(b"".join(sha256(bytes((i*13+L) & 255 for i in range(L))).digest()
 * for L in range(200))). */
static void test_sha256_padding_boundaries(void) {
  uint8_t acc[200 * 32], msg[200];
  for (size_t len = 0; len < 200; len++) {
    for (size_t i = 0; i < len; i++) msg[i] = (uint8_t)((i * 13 + len) & 255);
    aic_sha256(msg, len, acc + 32 * len);
  }
  CHECK(
      sha_is(acc, sizeof acc, "7653aa4a04e58949e24544631ff6a38254d29d35d915325ea514a6bf0b549620"));
}

/* ---- valid files ---- */

static void test_valid_file_loads(void) {
  built_t v;
  build_valid(&v);
  aic_model_file_t *m = NULL;
  char why[256] = "stale";
  int rc = aic_model_load_memory(v.b, v.size, &m, why, sizeof why);
  CHECK_EQ_INT(rc, AIC_OK);
  CHECK(strcmp(why, "") == 0);
  if (!m) {
    fprintf(stderr, "why: %s\n", why);
    free(v.b);
    return;
  }
  CHECK(strcmp(aic_model_family(m), "nic-rt") == 0);
  CHECK_EQ_INT(aic_model_id(m), 7);
  CHECK_EQ_INT(aic_model_version(m), 42);
  CHECK_EQ_INT(aic_model_levels(m), 4);
  CHECK(memcmp(aic_model_sha256(m), v.b + DIGEST, 32) == 0);
  CHECK(strcmp(aic_model_architecture(m), valid_arch) == 0);
  CHECK_EQ_INT(aic_model_tensor_count(m), VALID_N);
  CHECK(aic_model_tensor_at(m, VALID_N) == NULL);
  for (size_t i = 0; i < VALID_N; i++) {
    const spec_t *s = &valid_specs[i];
    const aic_tensor_t *t = aic_model_tensor(m, s->name);
    CHECK(t != NULL && t == aic_model_tensor_at(m, i));
    if (!t) continue;
    CHECK(strcmp(t->name, s->name) == 0);
    CHECK_EQ_INT(t->dtype, s->dtype);
    CHECK_EQ_INT(t->rank, s->rank);
    size_t count = 1;
    for (unsigned d = 0; d < 4; d++) {
      CHECK_EQ_INT(t->dims[d], d < s->rank ? s->dims[d] : 1);
      count *= t->dims[d];
    }
    CHECK_EQ_INT(t->count, count);
    CHECK_EQ_INT(t->size, count * aic_dtype_size(t->dtype));
    CHECK_EQ_INT((uintptr_t)t->data % AIC_MODEL_DATA_ALIGN, 0);
    bool same = true;
    for (size_t j = 0; j < t->size; j++) same &= ((const uint8_t *)t->data)[j] == pattern(i, j);
    CHECK(same);
    CHECK_EQ_INT(t->quant, s->quant);
    CHECK_EQ_INT(t->axis, s->axis);
    CHECK_EQ_INT(t->zero_point, s->zero_point);
    CHECK_EQ_INT(t->scale_count, s->scale_count);
    CHECK((t->scales == NULL) == (s->scale_count == 0));
    for (unsigned j = 0; j < t->scale_count; j++) CHECK(t->scales[j] == s->scales[j]);
  }
  CHECK(aic_model_tensor(m, "enc") == NULL);
  CHECK(aic_model_tensor(m, "") == NULL);
  CHECK(aic_model_tensor(m, NULL) == NULL);

  CHECK_EQ_INT(aic_model_layer_count(m), 3);
  CHECK(aic_model_layer(m, 3) == NULL);
  const aic_layer_t *enc = aic_model_layer(m, 0), *dec = aic_model_layer(m, 1),
                    *eb = aic_model_layer(m, 2);
  if (enc && dec && eb) {
    CHECK(strcmp(enc->name, "enc") == 0 && strcmp(enc->type, "conv2d") == 0);
    CHECK(strcmp(enc->act, "relu") == 0);
    CHECK(enc->in == 3 && enc->out == 4 && enc->kernel == 3 && enc->stride == 2);
    CHECK_EQ_INT(enc->tensor_count, 2);
    CHECK(strcmp(enc->tensors[0].role, "weight") == 0);
    CHECK(enc->tensors[0].tensor == aic_model_tensor(m, "enc.w"));
    CHECK(aic_layer_tensor(enc, "bias") == aic_model_tensor(m, "enc.b"));
    CHECK(aic_layer_tensor(enc, "gamma") == NULL);
    CHECK(strcmp(dec->act, "none") == 0); /* the default */
    CHECK(strcmp(eb->type, "entropy_bottleneck") == 0);
    CHECK(eb->kernel == 1 && eb->stride == 1);
    CHECK(aic_layer_tensor(eb, "scale_table") == aic_model_tensor(m, "eb.scales"));
  }
  aic_model_file_free(&m);
  CHECK(m == NULL);
  aic_model_file_free(&m);
  aic_model_file_free(NULL);
  free(v.b);
}

static void test_caller_buffer_not_kept(void) {
  built_t v;
  build_valid(&v);
  /* An odd address: the loader's copy must be aligned anyway. */
  uint8_t *odd = malloc(v.size + 1);
  if (!odd) abort();
  memcpy(odd + 1, v.b, v.size);
  aic_model_file_t *m = NULL;
  CHECK_EQ_INT(aic_model_load_memory(odd + 1, v.size, &m, NULL, 0), AIC_OK);
  memset(odd, 0xff, v.size + 1);
  free(odd);
  const aic_tensor_t *t = m ? aic_model_tensor(m, "dec.b") : NULL;
  CHECK(t != NULL);
  if (t) {
    CHECK_EQ_INT((uintptr_t)t->data % 64, 0);
    CHECK_EQ_INT(((const uint8_t *)t->data)[0], pattern(3, 0));
  }
  aic_model_file_free(&m);
  free(v.b);
}

static void test_load_file(void) {
  built_t v;
  build_valid(&v);
  char path[] = "/tmp/aic_model_testXXXXXX";
  int fd = mkstemp(path);
  CHECK(fd >= 0);
  if (fd < 0) return;
  CHECK(write(fd, v.b, v.size) == (ssize_t)v.size);
  close(fd);
  aic_model_file_t *m = NULL;
  char why[512];
  CHECK_EQ_INT(aic_model_load_file(path, &m, why, sizeof why), AIC_OK);
  CHECK(m && aic_model_tensor(m, "eb.cdf") != NULL);
  aic_model_file_free(&m);

  /* A damaged file names itself in the reason. */
  FILE *f = fopen(path, "r+b");
  CHECK(f != NULL);
  if (f) {
    fseek(f, (long)v.size - 1, SEEK_SET);
    fputc(v.b[v.size - 1] ^ 0x40, f);
    fclose(f);
  }
  CHECK_EQ_INT(aic_model_load_file(path, &m, why, sizeof why), AIC_ECORRUPT);
  CHECK(m == NULL && strstr(why, path) == why && strstr(why, "SHA-256 mismatch"));
  unlink(path);
  CHECK_EQ_INT(aic_model_load_file(path, &m, why, sizeof why), AIC_EIO);
  CHECK(strstr(why, "cannot open") != NULL);
  CHECK_EQ_INT(aic_model_load_file("/tmp", &m, why, sizeof why), AIC_EIO);
  CHECK(strstr(why, "not a regular file") != NULL);
  /* A sparse file over the limit is refused from its size, before anything is allocated. */
  char big[] = "/tmp/aic_model_testXXXXXX";
  fd = mkstemp(big);
  CHECK(fd >= 0);
  if (fd >= 0) {
    CHECK(ftruncate(fd, (off_t)AIC_MODEL_MAX_FILE_SIZE + 1) == 0);
    close(fd);
    CHECK_EQ_INT(aic_model_load_file(big, &m, why, sizeof why), AIC_ELIMIT);
    CHECK(strstr(why, "67108865 bytes, over the 67108864-byte limit") != NULL);
    unlink(big);
  }
  free(v.b);
}

static void test_arguments(void) {
  built_t v;
  build_valid(&v);
  aic_model_file_t *m = NULL;
  char why[128];
  CHECK_EQ_INT(aic_model_load_memory(v.b, v.size, NULL, why, sizeof why), AIC_EINVAL);
  CHECK(why[0] != '\0');
  CHECK_EQ_INT(aic_model_load_memory(NULL, 10, &m, why, sizeof why), AIC_EINVAL);
  CHECK_EQ_INT(aic_model_load_memory(NULL, 0, &m, why, sizeof why), AIC_ECORRUPT);
  CHECK_EQ_INT(aic_model_load_file(NULL, &m, why, sizeof why), AIC_EINVAL);
  CHECK_EQ_INT(aic_model_load_file("x", NULL, why, sizeof why), AIC_EINVAL);
  CHECK_EQ_INT(aic_model_load_memory(v.b, (size_t)AIC_MODEL_MAX_FILE_SIZE + 1, &m, why, sizeof why),
               AIC_ELIMIT);
  /* Without room for a reason, or with very little, loading still works and still refuses. */
  CHECK_EQ_INT(aic_model_load_memory(v.b, v.size, &m, NULL, 0), AIC_OK);
  aic_model_file_free(&m);
  CHECK_EQ_INT(aic_model_load_memory(v.b, v.size - 1, &m, why, 1), AIC_ECORRUPT);
  CHECK(why[0] == '\0');
  CHECK_EQ_INT(aic_model_load_memory(v.b, v.size - 1, &m, why, 8), AIC_ECORRUPT);
  CHECK(strlen(why) == 7);
  CHECK(m == NULL);
  CHECK_EQ_INT(aic_dtype_size((aic_dtype_t)0), 0);
  CHECK(strcmp(aic_dtype_name((aic_dtype_t)9), "?") == 0);
  CHECK(strcmp(aic_dtype_name(AIC_DTYPE_U16), "u16") == 0);
  free(v.b);
}

/* ---- damage ---- */

static void test_every_truncation_refused(void) {
  built_t v;
  build_valid(&v);
  int bad = 0;
  for (size_t n = 0; n < v.size; n++) {
    aic_model_file_t *m = (aic_model_file_t *)1;
    char why[256] = "";
    int rc = aic_model_load_memory(v.b, n, &m, why, sizeof why);
    if (rc != AIC_ECORRUPT || m != NULL || why[0] == '\0') {
      if (bad++ < 5) fprintf(stderr, "truncated to %zu: rc %d why \"%s\"\n", n, rc, why);
    }
  }
  CHECK_EQ_INT(bad, 0);
  uint8_t *longer = calloc(1, v.size + 1);
  if (!longer) abort();
  memcpy(longer, v.b, v.size);
  aic_model_file_t *m = NULL;
  char why[256];
  CHECK_EQ_INT(aic_model_load_memory(longer, v.size + 1, &m, why, sizeof why), AIC_ECORRUPT);
  CHECK(strstr(why, "1 bytes of trailing data") != NULL);
  CHECK_EQ_INT(aic_model_load_memory(v.b, v.size - 10, &m, why, sizeof why), AIC_ECORRUPT);
  CHECK(strstr(why, "truncated") != NULL);
  CHECK_EQ_INT(aic_model_load_memory(v.b, 100, &m, why, sizeof why), AIC_ECORRUPT);
  CHECK(strstr(why, "shorter than the 128-byte header") != NULL);
  free(longer);
  free(v.b);
}

static void test_every_byte_corruption_refused(void) {
  built_t v;
  build_valid(&v);
  static const uint8_t flips[] = {0x01, 0x10, 0x80, 0xff};
  int bad = 0;
  for (size_t pos = 0; pos < v.size; pos++) {
    for (size_t k = 0; k < sizeof flips; k++) {
      v.b[pos] ^= flips[k];
      aic_model_file_t *m = (aic_model_file_t *)1;
      char why[256] = "";
      int rc = aic_model_load_memory(v.b, v.size, &m, why, sizeof why);
      v.b[pos] ^= flips[k];
      /* Bytes 4..5 hold the version: a larger one reads as a newer format. */
      bool ok = (rc == AIC_ECORRUPT || (rc == AIC_EUNSUPPORTED && (pos == 4 || pos == 5))) &&
                m == NULL && why[0] != '\0';
      if (!ok && bad++ < 5) {
        fprintf(stderr, "byte %zu ^ 0x%02x: rc %d why \"%s\"\n", pos, flips[k], rc, why);
      }
    }
  }
  CHECK_EQ_INT(bad, 0);
  free(v.b);
}

/* With the digest recomputed, damage reaches the field checks: the loader must then refuse or
 * give a model whose every tensor lies within the file. Reserved bytes must always refuse. */
static void test_resealed_corruptions(void) {
  built_t v;
  build_valid(&v);
  uint8_t *b = malloc(v.size);
  if (!b) abort();
  int bad = 0, refused = 0, total = 0;
  for (size_t pos = 0; pos < v.size; pos++) {
    if (pos >= DIGEST && pos < HDR) continue;
    for (int flip = 1; flip < 256; flip <<= 1) {
      memcpy(b, v.b, v.size);
      b[pos] ^= (uint8_t)flip;
      reseal(b, v.size);
      aic_model_file_t *m = NULL;
      char why[256] = "";
      int rc = aic_model_load_memory(b, v.size, &m, why, sizeof why);
      total++;
      bool reserved = (pos >= 52 && pos < DIGEST);
      for (size_t i = 0; i < VALID_N; i++) {
        reserved |= pos >= entry_at(&v, i, 116) && pos < entry_at(&v, i, 128);
      }
      if (rc != AIC_OK) {
        refused++;
        if (why[0] == '\0' && bad++ < 5) fprintf(stderr, "byte %zu: no reason\n", pos);
        continue;
      }
      if (reserved && bad++ < 5) fprintf(stderr, "reserved byte %zu ^ %d accepted\n", pos, flip);
      /* Touch every byte handed out, for the sanitizers to see any that is not the model's. */
      unsigned sum = 0;
      for (size_t i = 0; i < aic_model_tensor_count(m); i++) {
        const aic_tensor_t *t = aic_model_tensor_at(m, i);
        for (size_t j = 0; j < t->size; j++) sum += ((const uint8_t *)t->data)[j];
        for (size_t j = 0; j < t->scale_count; j++) sum += t->scales[j] > 0;
        CHECK(t->size == t->count * aic_dtype_size(t->dtype) && t->size <= v.psize);
      }
      CHECK(sum > 0);
      aic_model_file_free(&m);
    }
  }
  CHECK_EQ_INT(bad, 0);
  /* Most single-bit changes of structure are caught; data and scale bytes are free to change. */
  CHECK(refused > total / 10);
  free(b);
  free(v.b);
}

static void test_magic_and_version(void) {
  built_t v;
  build_valid(&v);
  expect_patch(&v, 3, 'X', 1, AIC_ECORRUPT, "not an AICM model file: magic is 41 49 43 58");
  expect_patch(&v, 4, 2, 2, AIC_EUNSUPPORTED, "model format version 2 is newer");
  expect_patch(&v, 4, 0, 2, AIC_ECORRUPT, "version 0 is invalid");
  expect_patch(&v, 6, 64, 2, AIC_ECORRUPT, "header size 64");
  expect_patch(&v, 6, 256, 2, AIC_ECORRUPT, "header size 256");
  /* A newer version is reported as such even when it is shorter than our header. */
  aic_model_file_t *m = NULL;
  char why[256];
  uint8_t v2[8] = {'A', 'I', 'C', 'M', 9, 0, 64, 0};
  CHECK_EQ_INT(aic_model_load_memory(v2, sizeof v2, &m, why, sizeof why), AIC_EUNSUPPORTED);
  CHECK(strstr(why, "version 9") != NULL);
  v.b[100] ^= 1;
  CHECK_EQ_INT(aic_model_load_memory(v.b, v.size, &m, why, sizeof why), AIC_ECORRUPT);
  CHECK(strstr(why, "SHA-256 mismatch") != NULL);
  free(v.b);
}

static void test_header_fields(void) {
  built_t v;
  build_valid(&v);
  expect_patch(&v, 8, 0, 1, AIC_ECORRUPT, "model family is empty");
  expect_patch(&v, 8, 'N', 1, AIC_ECORRUPT, "model family has the byte 0x4e at position 0");
  expect_patch(&v, 20, 'x', 1, AIC_ECORRUPT, "model family 'nic-rt' is followed by the nonzero");
  {
    built_t w;
    build_valid(&w);
    memset(w.b + 8, 'a', 16);
    expect_patch(&w, 8, 'a', 1, AIC_ECORRUPT, "not NUL-terminated within its 16 bytes");
    free(w.b);
  }
  expect_patch(&v, 24, 0, 2, AIC_ECORRUPT, "model id 0 is reserved");
  expect_patch(&v, 26, 0, 2, AIC_ECORRUPT, "0 quality levels, outside 1..64");
  expect_patch(&v, 26, 65, 2, AIC_ECORRUPT, "65 quality levels");
  expect_patch(&v, 53, 1, 1, AIC_ECORRUPT, "reserved header byte 53 is 0x01");
  expect_patch(&v, 95, 0x80, 1, AIC_ECORRUPT, "reserved header byte 95");
  expect_patch(&v, 40, 0, 4, AIC_ECORRUPT, "architecture text of 0 bytes");
  expect_patch(&v, 40, v.psize + 1, 4, AIC_ECORRUPT, "within the payload");
  expect_patch(&v, 40, AIC_MODEL_MAX_ARCH_SIZE + 1, 4, AIC_ECORRUPT, "must be 1..1048576");
  expect_patch(&v, 48, 0, 4, AIC_ECORRUPT, "0 tensors, outside 1..4096");
  expect_patch(&v, 48, 4097, 4, AIC_ECORRUPT, "4097 tensors");
  expect_patch(&v, 48, 1000, 4, AIC_ECORRUPT, "tensor table [");
  expect_patch(&v, 44, v.table + 4, 4, AIC_ECORRUPT, "must start at a multiple of 8");
  expect_patch(&v, 44, 0xfffffff8u, 4, AIC_ECORRUPT, "lie within the payload");
  /* The table over the architecture text. */
  expect_patch(&v, 44, 0, 4, AIC_ECORRUPT,
               "tensor table [0, 768) overlaps the architecture text [0, 253)");
  /* Fewer tensors than entries: the rest of the table lies unused, but the references in the
   * architecture text now dangle. */
  expect_patch(&v, 48, 2, 4, AIC_ECORRUPT, "tensor 'dec.w' (role 'weight') is not in the tensor");
  free(v.b);
}

static void test_tensor_bounds(void) {
  built_t v;
  build_valid(&v);
  char want[160];
  /* The reason names the tensor and both ends, as an operator needs to see it. */
  uint64_t off = align_up(v.psize, 64);
  snprintf(want, sizeof want, "tensor 'enc.w': data [%llu, %llu) outside payload of %llu bytes",
           (unsigned long long)off, (unsigned long long)(off + v.data_size[0]),
           (unsigned long long)v.psize);
  expect_patch(&v, entry_at(&v, 0, 88), off, 8, AIC_ECORRUPT, want);
  /* The last tensor's data running one byte past the end. */
  /* Data starting inside the payload and running past its end. */
  off = v.psize / 64 * 64;
  snprintf(want, sizeof want, "tensor 'enc.w': data [%llu, %llu) outside payload",
           (unsigned long long)off, (unsigned long long)(off + v.data_size[0]));
  expect_patch(&v, entry_at(&v, 0, 88), off, 8, AIC_ECORRUPT, want);
  /* Offsets that would wrap around. */
  expect_patch(&v, entry_at(&v, 0, 88), UINT64_MAX - 63, 8, AIC_ECORRUPT,
               "data [18446744073709551552, 18446744073709551615) outside payload");
  expect_patch(&v, entry_at(&v, 0, 104), UINT64_MAX - 3, 8, AIC_ECORRUPT, "scales [");
  expect_patch(&v, entry_at(&v, 0, 88), v.data[0] + 1, 8, AIC_ECORRUPT, "is not a multiple of 64");
  expect_patch(&v, entry_at(&v, 0, 104), v.scales[0] + 2, 8, AIC_ECORRUPT, "scale offset");
  /* Two tensors on the same bytes, in either order. */
  expect_patch(&v, entry_at(&v, 1, 88), v.data[0], 8, AIC_ECORRUPT, "tensor 'enc.w' data");
  expect_patch(&v, entry_at(&v, 1, 88), v.data[0], 8, AIC_ECORRUPT, "overlaps");
  expect_patch(&v, entry_at(&v, 3, 88), v.data[2], 8, AIC_ECORRUPT, "tensor 'dec.w' data");
  /* Data over the table, over the architecture text, and scales over data. */
  expect_patch(&v, entry_at(&v, 1, 88), v.table, 8, AIC_ECORRUPT,
               "the tensor table [256, 1024) overlaps tensor 'enc.b' data [256, 272)");
  expect_patch(&v, entry_at(&v, 1, 88), 0, 8, AIC_ECORRUPT,
               "the architecture text [0, 253) overlaps tensor 'enc.b' data [0, 16)");
  /* dec.b's first four data bytes happen to read as a valid scale. */
  expect_patch(&v, entry_at(&v, 2, 104), v.data[3], 8, AIC_ECORRUPT,
               "tensor 'dec.b' data [1344, 1356) overlaps tensor 'dec.w' scales [1344, 1348)");
  expect_patch(&v, entry_at(&v, 2, 104), v.scales[0] + 4, 8, AIC_ECORRUPT, "overlaps tensor");
  free(v.b);
}

static void test_tensor_dims(void) {
  built_t v;
  build_valid(&v);
  expect_patch(&v, entry_at(&v, 0, 65), 0, 1, AIC_ECORRUPT, "tensor 'enc.w': rank 0 outside 1..4");
  expect_patch(&v, entry_at(&v, 0, 65), 5, 1, AIC_ECORRUPT, "rank 5");
  expect_patch(&v, entry_at(&v, 0, 72), 0, 4, AIC_ECORRUPT, "tensor 'enc.w': dimension 1 is 0");
  expect_patch(&v, entry_at(&v, 1, 72), 1, 4, AIC_ECORRUPT,
               "dimension 1 is 1 but must be 0 beyond rank 1");
  expect_patch(&v, entry_at(&v, 0, 68), 0xffffffffffffffffull, 8, AIC_ECORRUPT,
               "more than the payload's");
  expect_patch(&v, entry_at(&v, 0, 76), 0xffffffffffffffffull, 8, AIC_ECORRUPT,
               "more than the payload's");
  expect_patch(&v, entry_at(&v, 0, 68), 5, 4, AIC_ECORRUPT,
               "tensor 'enc.w': data size 108 but i8 5x3x3x3 needs 135 bytes");
  expect_patch(&v, entry_at(&v, 0, 96), 109, 8, AIC_ECORRUPT, "data size 109");
  expect_patch(&v, entry_at(&v, 0, 96), 0, 8, AIC_ECORRUPT, "data size 0");
  /* Reinterpreting the i8 weights as f32 changes the size the dims need. */
  expect_patch(&v, entry_at(&v, 0, 64), AIC_DTYPE_I16, 1, AIC_ECORRUPT, "needs 216 bytes");
  expect_patch(&v, entry_at(&v, 0, 64), 0, 1, AIC_ECORRUPT, "unknown dtype 0");
  expect_patch(&v, entry_at(&v, 0, 64), 7, 1, AIC_ECORRUPT, "unknown dtype 7");
  /* Rank 4 on a rank-1 tensor: the zero dims beyond the old rank are now inside it. */
  expect_patch(&v, entry_at(&v, 1, 65), 4, 1, AIC_ECORRUPT, "tensor 'enc.b': dimension 1 is 0");
  /* One dim larger than the whole payload is refused before the next multiplies it. */
  expect_patch(&v, entry_at(&v, 0, 68), 65536 | 65536ull << 32, 8, AIC_ECORRUPT,
               "dimensions 0..0 already hold 65536 elements, more than the payload's 1496 bytes");
  free(v.b);
}

static void test_tensor_quantization(void) {
  built_t v;
  build_valid(&v);
  expect_patch(&v, entry_at(&v, 3, 66), 1, 1, AIC_ECORRUPT,
               "tensor 'dec.b': an f32 tensor cannot be quantized");
  expect_patch(&v, entry_at(&v, 0, 66), 3, 1, AIC_ECORRUPT, "unknown quantization mode 3");
  expect_patch(&v, entry_at(&v, 0, 67), 4, 1, AIC_ECORRUPT, "quantization axis 4 outside");
  expect_patch(&v, entry_at(&v, 0, 67), 1, 1, AIC_ECORRUPT,
               "4 scales for the 3 channels of axis 1");
  expect_patch(&v, entry_at(&v, 0, 112), 3, 4, AIC_ECORRUPT, "3 scales for the 4 channels");
  expect_patch(&v, entry_at(&v, 2, 112), 2, 4, AIC_ECORRUPT, "needs axis 0 and 1 scale");
  expect_patch(&v, entry_at(&v, 2, 67), 1, 1, AIC_ECORRUPT, "not axis 1");
  expect_patch(&v, entry_at(&v, 1, 112), 1, 4, AIC_ECORRUPT, "not quantized, yet");
  expect_patch(&v, entry_at(&v, 1, 84), 3, 4, AIC_ECORRUPT, "zero point 3");
  expect_patch(&v, entry_at(&v, 2, 84), 256, 4, AIC_ECORRUPT,
               "zero point 256 outside the u8 range [0, 255]");
  expect_patch(&v, entry_at(&v, 2, 84), (uint32_t)-1, 4, AIC_ECORRUPT, "zero point -1");
  expect_patch(&v, entry_at(&v, 0, 84), 128, 4, AIC_ECORRUPT, "the i8 range [-128, 127]");
  expect_patch(&v, entry_at(&v, 5, 84), (uint32_t)-32769, 4, AIC_ECORRUPT, "i16 range");
  /* Scales must be finite and positive. */
  size_t s0 = HDR + (size_t)v.scales[0];
  expect_patch(&v, s0, 0x7fc00000u, 4, AIC_ECORRUPT, "tensor 'enc.w': scale 0 is nan");
  expect_patch(&v, s0 + 4, 0x7f800000u, 4, AIC_ECORRUPT, "scale 1 is inf");
  expect_patch(&v, s0 + 8, 0xbf800000u, 4, AIC_ECORRUPT, "scale 2 is -1");
  expect_patch(&v, s0 + 12, 0, 4, AIC_ECORRUPT, "scale 3 is 0");
  expect_patch(&v, s0 + 12, 0x80000000u, 4, AIC_ECORRUPT, "scale 3 is -0");
  expect_patch(&v, entry_at(&v, 4, 116), 1, 1, AIC_ECORRUPT,
               "tensor 'eb.cdf': reserved byte 116 of its table entry is 0x01");
  expect_patch(&v, entry_at(&v, 4, 127), 9, 1, AIC_ECORRUPT, "reserved byte 127");
  free(v.b);
}

static void test_tensor_names(void) {
  built_t v;
  build_valid(&v);
  expect_patch(&v, entry_at(&v, 1, 0), 0, 1, AIC_ECORRUPT, "tensor #1: name is empty");
  expect_patch(&v, entry_at(&v, 1, 3), ' ', 1, AIC_ECORRUPT,
               "tensor #1: name has the byte 0x20 at position 3");
  expect_patch(&v, entry_at(&v, 1, 2), 0xc3, 1, AIC_ECORRUPT, "byte 0xc3");
  expect_patch(&v, entry_at(&v, 1, 40), 'x', 1, AIC_ECORRUPT,
               "name 'enc.b' is followed by the nonzero byte 0x78 at position 40");
  /* Two tensors called enc.w: the second entry renamed. */
  expect_patch(&v, entry_at(&v, 1, 4), 'w', 1, AIC_ECORRUPT,
               "tensor name 'enc.w' appears twice (entries #0 and #1)");
  free(v.b);

  /* Longest legal name, then one byte more. */
  char name63[64], arch[160];
  memset(name63, 'n', 63);
  name63[63] = '\0';
  spec_t s = {name63, AIC_DTYPE_U8, 1, 0, 0, {3}, 0, 0, {0}};
  snprintf(arch, sizeof arch, "layer name=a/b-c_d.e type=t in=1 out=1 x=%s\n", name63);
  build(arch, &s, 1, &v);
  aic_model_file_t *m = NULL;
  char why[256];
  CHECK_EQ_INT(aic_model_load_memory(v.b, v.size, &m, why, sizeof why), AIC_OK);
  CHECK(m && aic_model_tensor(m, name63) != NULL);
  aic_model_file_free(&m);
  expect_patch(&v, entry_at(&v, 0, 63), 'n', 1, AIC_ECORRUPT, "not NUL-terminated within its 64");
  free(v.b);
}

static void test_architecture_text(void) {
  static const struct {
    const char *arch, *want;
  } cases[] = {
      {"layer name=a type=t in=1 out=1", "does not end with a newline"},
      {"layer name=a type=t in=1 out=1\n\n", "architecture line 2 is empty"},
      {"\n", "architecture line 1 is empty"},
      {"layer  name=a type=t in=1 out=1\n", "line 1: stray space at column 7"},
      {" layer name=a type=t in=1 out=1\n", "stray space at column 1"},
      {"layer name=a type=t in=1 out=1 \n", "stray space at column 31"},
      {"layer name=a type=t in=1 out=1\r\n", "byte 0x0d at offset 30 is not printable ASCII"},
      {"layer name=a type=t\tin=1 out=1\n", "byte 0x09"},
      {"layer name=\x80 type=t in=1 out=1\n", "byte 0x80"},
      {"node name=a type=t in=1 out=1\n", "record 'node' is not 'layer'"},
      {"layer\n", "line 1: no name="},
      {"layer name=a type=t in=1\n", "no out="},
      {"layer name=a in=1 out=1\n", "no type="},
      {"layer name=a type=t in=01 out=1\n", "in=01 is not a number in 1..65536"},
      {"layer name=a type=t in=0 out=1\n", "in=0 is not a number"},
      {"layer name=a type=t in=65537 out=1\n", "in=65537"},
      {"layer name=a type=t in=1 out=99999999999\n", "out=99999999999"},
      {"layer name=a type=t in=1 out=-1\n", "out=-1"},
      {"layer name=a type=t in=1 out=1 kernel=32\n", "kernel=32 is not a number in 1..31"},
      {"layer name=a type=t in=1 out=1 stride=17\n", "stride=17"},
      {"layer name=a type=Conv in=1 out=1\n", "type=Conv is not a lowercase identifier"},
      {"layer name=a type=t in=1 out=1 act=re.lu\n", "act=re.lu"},
      {"layer name=a type=t in=1 out=1 act=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n", "act=aaaa"},
      {"layer name=a name=b type=t in=1 out=1\n", "key 'name' given twice"},
      {"layer name=a type=t in=1 out=1 in=2\n", "key 'in' given twice"},
      {"layer name=a type=t in=1 out=1 weight=nope\n",
       "architecture line 1: tensor 'nope' (role 'weight') is not in the tensor table"},
      {"layer name=a type=t in=1 out=1 w=enc.w w=enc.b\n", "key 'w' given twice"},
      {"layer name=a type=t in=1 out=1 a=enc.w b=enc.w c=enc.w d=enc.w e=enc.w f=enc.w g=enc.w "
       "h=enc.w i=enc.w\n",
       "more than 8 tensors in one layer"},
      {"layer name=a type=t in=1 out=1 =x\n", "'=x' is not key=value"},
      {"layer name=a type=t in=1 out=1 k=\n", "'k=' is not key=value"},
      {"layer name=a type=t in=1 out=1 1k=enc.w\n", "'1k=enc.w' is not key=value"},
      {"layer name=a type=t in=1 out=1 Weight=enc.w\n", "is not key=value"},
      {"layer name=a type=t in=1 out=1 weight\n", "'weight' is not key=value"},
      {"layer name=a type=t in=1 out=1 w=enc.w=x\n", "is not key=value"},
      {"layer name=a type=t in=1 out=1 w=enc.w x\n", "'x' is not key=value"},
      {"layer name=a b type=t in=1 out=1\n", "'b' is not key=value"},
      {"layer name=a type=t in=1 out=1\nlayer name=b type=t in=1 out=1\n"
       "layer name=a type=t in=1 out=1\n",
       "architecture lines 1 and 3 both name a layer 'a'"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    expect_arch(cases[i].arch, cases[i].want);

  /* A value of 64 characters, and the layer limit. */
  char arch[256];
  snprintf(arch, sizeof arch, "layer name=%064d type=t in=1 out=1\n", 0);
  expect_arch(arch, "is not key=value");
  static const char line[] = "layer name=a type=t in=1 out=1\n";
  size_t n = AIC_MODEL_MAX_LAYERS + 1;
  char *many = malloc(n * (sizeof line - 1) + 1);
  if (!many) abort();
  for (size_t i = 0; i < n; i++) memcpy(many + i * (sizeof line - 1), line, sizeof line - 1);
  many[n * (sizeof line - 1)] = '\0';
  expect_arch(many, "1025 lines, over the limit of 1024 layers");
  free(many);

  /* A full-size architecture of distinct layers loads. */
  many = malloc(AIC_MODEL_MAX_LAYERS * 48 + 1);
  if (!many) abort();
  size_t used = 0;
  for (int i = 0; i < AIC_MODEL_MAX_LAYERS; i++) {
    used += (size_t)sprintf(many + used, "layer name=l%d type=t in=%d out=1 w=enc.w\n", i, i + 1);
  }
  built_t v;
  build(many, valid_specs, VALID_N, &v);
  aic_model_file_t *m = NULL;
  char why[256];
  CHECK_EQ_INT(aic_model_load_memory(v.b, v.size, &m, why, sizeof why), AIC_OK);
  CHECK(m && aic_model_layer_count(m) == AIC_MODEL_MAX_LAYERS);
  CHECK(m && aic_model_layer(m, 1023)->in == 1024);
  aic_model_file_free(&m);
  free(v.b);
  free(many);
}

/* ---- a file from elsewhere (tests/model/test_aicm_python.py) ---- */

static int describe_file(const char *path) {
  aic_model_file_t *m = NULL;
  char why[512];
  int rc = aic_model_load_file(path, &m, why, sizeof why);
  if (rc != AIC_OK) {
    printf("refused %d %s\n", rc, why);
    return EXIT_FAILURE;
  }
  char h[65];
  hex(aic_model_sha256(m), 32, h);
  printf("model family=%s id=%u version=%u levels=%u layers=%zu tensors=%zu sha256=%s\n",
         aic_model_family(m), aic_model_id(m), aic_model_version(m), aic_model_levels(m),
         aic_model_layer_count(m), aic_model_tensor_count(m), h);
  for (size_t i = 0; i < aic_model_layer_count(m); i++) {
    const aic_layer_t *l = aic_model_layer(m, i);
    printf("layer %s type=%s in=%u out=%u kernel=%u stride=%u act=%s", l->name, l->type, l->in,
           l->out, l->kernel, l->stride, l->act);
    for (unsigned j = 0; j < l->tensor_count; j++) {
      printf(" %s=%s", l->tensors[j].role, l->tensors[j].tensor->name);
    }
    printf("\n");
  }
  int status = EXIT_SUCCESS;
  for (size_t i = 0; i < aic_model_tensor_count(m); i++) {
    const aic_tensor_t *t = aic_model_tensor_at(m, i);
    uint8_t d[32];
    aic_sha256(t->data, t->size, d);
    hex(d, 32, h);
    printf("tensor %s dtype=%s dims=", t->name, aic_dtype_name(t->dtype));
    for (unsigned k = 0; k < t->rank; k++) printf(k ? "x%u" : "%u", t->dims[k]);
    static const char *const quant[] = {"none", "tensor", "channel"};
    printf(" quant=%s axis=%u zero_point=%d scales=", quant[t->quant], t->axis, t->zero_point);
    for (size_t k = 0; k < t->scale_count; k++) printf(k ? ",%.9g" : "%.9g", t->scales[k]);
    printf(" data_sha256=%s\n", h);
    if ((uintptr_t)t->data % AIC_MODEL_DATA_ALIGN != 0 || aic_model_tensor(m, t->name) != t) {
      status = EXIT_FAILURE;
    }
  }
  aic_model_file_free(&m);
  return status;
}

int main(int argc, char **argv) {
  if (argc > 1) return describe_file(argv[1]);
  RUN(test_sha256_fips_vectors);
  RUN(test_sha256_padding_boundaries);
  RUN(test_valid_file_loads);
  RUN(test_caller_buffer_not_kept);
  RUN(test_load_file);
  RUN(test_arguments);
  RUN(test_every_truncation_refused);
  RUN(test_every_byte_corruption_refused);
  RUN(test_resealed_corruptions);
  RUN(test_magic_and_version);
  RUN(test_header_fields);
  RUN(test_tensor_bounds);
  RUN(test_tensor_dims);
  RUN(test_tensor_quantization);
  RUN(test_tensor_names);
  RUN(test_architecture_text);
  return aic_test_finish();
}
