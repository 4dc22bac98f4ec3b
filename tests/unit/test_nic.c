/* The learned-codec runner (src/lib/nn/nic.h) and its reference convolution.
 *
 *   test_nic [MODEL_DIR VECTOR_DIR]      defaults <source>/models and <source>/tests/data/nn
 *
 * Without models only the model-free tests run (convolution kernels, argument checks) and the
 * test prints "SKIP: no model in DIR". For every family whose <MODEL_DIR>/<family>.aicm exists:
 *  - the test vectors of export.py (<VECTOR_DIR>/<family>/q*): exactly the integer
 *    hyper-synthesis, the rANS bytes and decoding them; within a tolerance the latents from the
 *    picture and the reconstruction (tests/data/nn/README.md);
 *  - encode -> decode round trips at every level and odd sizes, REF against AUTO, damaged
 *    payloads, damaged models (edited and resealed in memory), and the model rewritten with
 *    f32 layers (the exporter keeps a layer in f32 when int8 costs too much);
 *  - nic-rt: the time per stage of one 640x360 frame with the reference kernels (printed;
 *    AIC_NIC_NO_TIMING=1 skips it, e.g. under the sanitizers; AIC_NIC_QUICK=1 also skips the
 *    round trips of frames wider than 200, and runs the families after nic-rt on oneDNN
 *    only, without the REF-against-AUTO and thread checks). */
#include <dirent.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aic/convert.h"
#include "aic/error.h"
#include "aic_test.h"
#include "core/buf.h"
#include "core/sha256.h"
#include "entropy/latent_coder.h"
#include "nn/conv.h"
#include "nn/model_file.h"
#include "nn/nic.h"
#include "nn/nic_internal.h" /* white box: the runner's tables and latest latents */

static const char *model_dir, *vector_dir;
static const char *const families[] = {"nic-rt", "nic-hq"};

/* ---- helpers ---- */

static uint64_t rng_next(uint64_t *s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static uint8_t *read_file(const char *path, size_t *size) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  uint8_t *data = NULL;
  size_t cap = 0, n = 0;
  for (;;) {
    if (n == cap) {
      cap = cap ? cap * 2 : 65536;
      uint8_t *p = realloc(data, cap);
      if (!p) break;
      data = p;
    }
    size_t got = fread(data + n, 1, cap - n, f);
    n += got;
    if (got == 0) break;
  }
  fclose(f);
  *size = n;
  return data;
}

static bool file_exists(const char *path) {
  FILE *f = fopen(path, "rb");
  if (f) fclose(f);
  return f != NULL;
}

static double psnr(const uint8_t *a, const uint8_t *b, size_t n) {
  double se = 0;
  for (size_t i = 0; i < n; i++) se += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
  return se == 0 ? 99.0 : 10.0 * log10(255.0 * 255.0 * (double)n / se);
}

/* A picture with structure at every scale, so that the latents are not all zero. */
static uint8_t *test_picture(int w, int h, uint64_t seed) {
  uint8_t *p = malloc((size_t)w * h * 3);
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      for (int c = 0; c < 3; c++) {
        double v = 128 + 70 * sin(0.05 * x + 1.3 * c) * cos(0.07 * y) + 30 * ((x / 8 + y / 8) % 2) +
                   (double)(rng_next(&seed) % 21) - 10;
        p[((size_t)y * w + x) * 3 + c] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
      }
  return p;
}

static aic_model_file_t *load_model(const char *family) {
  char path[1024], why[512];
  snprintf(path, sizeof path, "%s/%s.aicm", model_dir, family);
  if (!file_exists(path)) return NULL;
  aic_model_file_t *m = NULL;
  int rc = aic_model_load_file(path, &m, why, sizeof why);
  if (rc != AIC_OK) fprintf(stderr, "%s: %s\n", path, why);
  CHECK_EQ_INT(rc, AIC_OK);
  return m;
}

/* Plain rounding of y, as the exported vectors (coding.encode_latents) were made with;
 * check_deadzone tests the default. */
static aic_nic_t *make_nic(const aic_model_file_t *m, aic_nn_impl_t impl) {
  aic_nic_settings_t s;
  aic_nic_settings_default(&s);
  s.impl = impl;
  s.y_deadzone = 0.0f;
  s.y_deadzone_per_bit = 0.0f;
  aic_nic_t *nic = NULL;
  char why[512] = "";
  int rc = aic_nic_create(m, &s, &nic, why, sizeof why);
  if (rc != AIC_OK) fprintf(stderr, "aic_nic_create: %d %s\n", rc, why);
  CHECK_EQ_INT(rc, AIC_OK);
  return nic;
}

/* ---- the reference convolution against the definition ---- */

static void naive_conv(const aic_nn_conv_desc_t *d, const void *src, void *dst) {
  const int K = d->kernel, P = K / 2, oh = aic_nn_conv_out(d->in_h, d->stride),
            ow = aic_nn_conv_out(d->in_w, d->stride);
  for (int oy = 0; oy < oh; oy++)
    for (int ox = 0; ox < ow; ox++)
      for (int o = 0; o < d->out_ch; o++) {
        int64_t ai = 0;
        double af = 0;
        for (int i = 0; i < d->in_ch; i++)
          for (int ky = 0; ky < K; ky++)
            for (int kx = 0; kx < K; kx++) {
              int y = oy * d->stride + ky - P, x = ox * d->stride + kx - P;
              if (y < 0 || x < 0 || y >= d->in_h || x >= d->in_w) continue;
              size_t si = ((size_t)y * d->in_w + x) * d->in_ch + i;
              size_t wi = (((size_t)o * d->in_ch + i) * K + ky) * K + kx;
              if (d->kind == AIC_NN_CONV_F32)
                af += (double)((const float *)src)[si] * ((const float *)d->weight)[wi];
              else if (d->kind == AIC_NN_CONV_U8S8)
                ai += ((const uint8_t *)src)[si] * ((const int8_t *)d->weight)[wi];
              else
                ai += ((const int8_t *)src)[si] * ((const int8_t *)d->weight)[wi];
            }
        size_t di = ((size_t)oy * ow + ox) * d->out_ch + o;
        if (d->kind == AIC_NN_CONV_F32)
          ((float *)dst)[di] = (float)(af + (d->bias ? ((const float *)d->bias)[o] : 0));
        else
          ((int32_t *)dst)[di] = (int32_t)(ai + (d->bias ? ((const int32_t *)d->bias)[o] : 0));
      }
}

static void test_conv_ref_matches_definition(void) {
  static const int sizes[][2] = {{1, 1}, {3, 5}, {7, 4}, {9, 9}, {2, 13}};
  static const int channels[][2] = {{1, 1}, {3, 17}, {24, 5}, {33, 8}, {64, 4}};
  uint64_t seed = 7;
  int cases = 0;
  for (int kind = AIC_NN_CONV_U8S8; kind <= AIC_NN_CONV_F32; kind++)
    for (int k = 1; k <= 7; k += 2)
      for (int stride = 1; stride <= 2; stride++)
        for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++)
          for (size_t ci = 0; ci < sizeof channels / sizeof channels[0]; ci++) {
            aic_nn_conv_desc_t d = {.kind = (aic_nn_conv_kind_t)kind,
                                    .in_ch = channels[ci][0],
                                    .out_ch = channels[ci][1],
                                    .kernel = k,
                                    .stride = stride,
                                    .in_h = sizes[si][0],
                                    .in_w = sizes[si][1]};
            const bool f32 = kind == AIC_NN_CONV_F32;
            const size_t es = f32 ? 4 : 1;
            size_t nin = (size_t)d.in_h * d.in_w * d.in_ch;
            size_t nw = (size_t)d.out_ch * d.in_ch * k * k;
            size_t nout = (size_t)aic_nn_conv_out(d.in_h, stride) *
                          aic_nn_conv_out(d.in_w, stride) * d.out_ch;
            uint8_t *src = malloc(nin * es), *w = malloc(nw * es);
            int32_t *bias = malloc((size_t)d.out_ch * 4);
            void *a = malloc(nout * 4), *b = malloc(nout * 4), *c = malloc(nout * 4);
            for (size_t i = 0; i < nin; i++) {
              uint64_t r = rng_next(&seed);
              if (f32)
                ((float *)src)[i] = (float)((int)(r % 2001) - 1000) / 250.0f;
              else if (kind == AIC_NN_CONV_U8S8)
                src[i] = (uint8_t)r;
              else
                src[i] = (uint8_t)(int8_t)((int)(r % 255) - 127);
            }
            for (size_t i = 0; i < nw; i++) {
              uint64_t r = rng_next(&seed);
              if (f32)
                ((float *)w)[i] = (float)((int)(r % 2001) - 1000) / 1000.0f;
              else
                w[i] = (uint8_t)(int8_t)((int)(r % 256) - 128); /* -128 too */
            }
            for (int o = 0; o < d.out_ch; o++) {
              uint64_t r = rng_next(&seed);
              if (f32)
                ((float *)bias)[o] = (float)((int)(r % 200) - 100) / 10.0f;
              else
                bias[o] = (int32_t)(r % 200001) - 100000;
            }
            d.weight = w;
            d.bias = (cases % 3 == 0) ? NULL : bias;
            naive_conv(&d, src, a);
            CHECK_EQ_INT(aic_nn_conv_ref(&d, src, b), AIC_OK);
            aic_nn_conv_plan_t *plan = NULL;
            CHECK_EQ_INT(aic_nn_conv_plan_create(&d, AIC_NN_IMPL_REF, 1, &plan), AIC_OK);
            CHECK_EQ_INT(aic_nn_conv_plan_impl(plan), AIC_NN_IMPL_REF);
            memset(w, 0x55, nw * es); /* the plan must have copied what it needs */
            CHECK_EQ_INT(aic_nn_conv_run(plan, src, c), AIC_OK);
            CHECK_EQ_INT(aic_nn_conv_run(plan, src, c), AIC_OK); /* a plan runs again */
            aic_nn_conv_plan_free(&plan);
            CHECK(plan == NULL);
            for (size_t i = 0; i < nout; i++) {
              if (f32) {
                float x = ((float *)a)[i], y = ((float *)b)[i], z = ((float *)c)[i];
                if (!(fabsf(x - y) <= 1e-4f * (1 + fabsf(x))) || y != z) {
                  CHECK_NEAR(x, y, 1e-4 * (1 + fabsf(x)));
                  CHECK(y == z);
                  break;
                }
              } else if (((int32_t *)a)[i] != ((int32_t *)b)[i] ||
                         ((int32_t *)b)[i] != ((int32_t *)c)[i]) {
                fprintf(stderr, "kind %d k %d s %d %dx%d %d->%d at %zu: %d %d %d\n", kind, k,
                        stride, d.in_h, d.in_w, d.in_ch, d.out_ch, i, ((int32_t *)a)[i],
                        ((int32_t *)b)[i], ((int32_t *)c)[i]);
                CHECK(0);
                break;
              }
            }
            free(src), free(w), free(bias), free(a), free(b), free(c);
            cases++;
          }
  CHECK(cases > 0);
}

static void test_conv_bad_desc(void) {
  int8_t w[9] = {0};
  aic_nn_conv_desc_t d = {.kind = AIC_NN_CONV_U8S8,
                          .in_ch = 1,
                          .out_ch = 1,
                          .kernel = 3,
                          .stride = 1,
                          .in_h = 4,
                          .in_w = 4,
                          .weight = w};
  aic_nn_conv_plan_t *p = (aic_nn_conv_plan_t *)&d;
  CHECK_EQ_INT(aic_nn_conv_plan_create(NULL, AIC_NN_IMPL_REF, 1, &p), AIC_EINVAL);
  CHECK(p == NULL);
  CHECK_EQ_INT(aic_nn_conv_plan_create(&d, AIC_NN_IMPL_REF, 0, &p), AIC_EINVAL);
  aic_nn_conv_desc_t bad[6];
  for (int i = 0; i < 6; i++) bad[i] = d;
  bad[0].kernel = 2;
  bad[1].kernel = 9;
  bad[2].stride = 3;
  bad[3].in_h = 0;
  bad[4].weight = NULL;
  bad[5].in_ch = 65536; /* int32 sums could overflow */
  for (int i = 0; i < 6; i++) {
    CHECK_EQ_INT(aic_nn_conv_plan_create(&bad[i], AIC_NN_IMPL_REF, 1, &p), AIC_EINVAL);
    uint8_t src[16] = {0};
    int32_t dst[16];
    CHECK_EQ_INT(aic_nn_conv_ref(&bad[i], src, dst), AIC_EINVAL);
  }
  CHECK_EQ_INT(aic_nn_conv_run(NULL, w, w), AIC_EINVAL);
  aic_nn_conv_plan_free(NULL);
}

static void test_null_args(void) {
  aic_nic_t *nic = (aic_nic_t *)&nic;
  char why[64];
  CHECK_EQ_INT(aic_nic_create(NULL, NULL, &nic, why, sizeof why), AIC_EINVAL);
  CHECK(nic == NULL);
  CHECK_EQ_INT(aic_nic_create(NULL, NULL, NULL, why, sizeof why), AIC_EINVAL);
  aic_nic_free(NULL);
  aic_nic_free(&nic);
  CHECK_EQ_INT(aic_nic_levels(NULL), 0);
  aic_nic_shape_t shape;
  CHECK_EQ_INT(aic_nic_shape(NULL, 8, 8, &shape), AIC_EINVAL);
  uint8_t rgb[12] = {0};
  aic_buf_t out = {0};
  int32_t lat[4];
  CHECK_EQ_INT(aic_nic_encode(NULL, rgb, 6, 2, 2, 0, &out), AIC_EINVAL);
  CHECK_EQ_INT(aic_nic_decode(NULL, rgb, 12, 2, 2, 0, rgb, 6), AIC_EINVAL);
  CHECK_EQ_INT(aic_nic_analyze(NULL, rgb, 6, 2, 2, 0, lat, lat), AIC_EINVAL);
  CHECK_EQ_INT(aic_nic_scale_index(NULL, lat, 2, 2, 0, rgb), AIC_EINVAL);
  CHECK_EQ_INT(aic_nic_synthesize(NULL, lat, 2, 2, 0, rgb, 6), AIC_EINVAL);
  aic_nic_timing_t t;
  aic_nic_last_timing(NULL, &t);
  CHECK(t.analysis_ms == 0 && t.synthesis_ms == 0);
}

/* ---- with a model ---- */

typedef struct vector {
  char dir[1024];
  char family[32], sha[65], input[256], psnr[32];
  unsigned level;
  int width, height;
  int y_shape[3], z_shape[3];
} vector_t;

static int read_vector(const char *dir, vector_t *v) {
  char path[1200], line[512];
  memset(v, 0, sizeof *v);
  if (snprintf(v->dir, sizeof v->dir, "%s", dir) >= (int)sizeof v->dir ||
      snprintf(path, sizeof path, "%s/vector.txt", v->dir) >= (int)sizeof path)
    return -1;
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  int fields = 0;
  while (fgets(line, sizeof line, f)) {
    line[strcspn(line, "\n")] = '\0';
    char *eq = strchr(line, '=');
    if (!eq) continue;
    *eq = '\0';
    const char *k = line, *val = eq + 1;
    if (!strcmp(k, "family")) fields += snprintf(v->family, sizeof v->family, "%s", val) > 0;
    if (!strcmp(k, "model_sha256")) fields += snprintf(v->sha, sizeof v->sha, "%s", val) > 0;
    if (!strcmp(k, "input")) fields += snprintf(v->input, sizeof v->input, "%s", val) > 0;
    if (!strcmp(k, "psnr")) snprintf(v->psnr, sizeof v->psnr, "%s", val);
    if (!strcmp(k, "level")) fields += sscanf(val, "%u", &v->level);
    if (!strcmp(k, "width")) fields += sscanf(val, "%d", &v->width);
    if (!strcmp(k, "height")) fields += sscanf(val, "%d", &v->height);
    if (!strcmp(k, "y_shape"))
      fields += sscanf(val, "%dx%dx%d", &v->y_shape[0], &v->y_shape[1], &v->y_shape[2]) == 3;
    if (!strcmp(k, "z_shape"))
      fields += sscanf(val, "%dx%dx%d", &v->z_shape[0], &v->z_shape[1], &v->z_shape[2]) == 3;
  }
  fclose(f);
  return fields == 8 ? 0 : -1;
}

static uint8_t *vector_file(const vector_t *v, const char *name, size_t want) {
  char path[1400];
  snprintf(path, sizeof path, "%s/%s", v->dir, name);
  size_t size = 0;
  uint8_t *data = read_file(path, &size);
  if (!data || (want && size != want)) {
    fprintf(stderr, "%s: missing or %zu bytes instead of %zu\n", path, size, want);
    CHECK(0);
    free(data);
    return NULL;
  }
  return data;
}

static int32_t *read_i16(const vector_t *v, const char *name, size_t n) {
  uint8_t *b = vector_file(v, name, n * 2);
  if (!b) return NULL;
  int32_t *out = malloc(n * sizeof *out);
  for (size_t i = 0; i < n; i++) out[i] = (int16_t)(uint16_t)(b[2 * i] | b[2 * i + 1] << 8);
  free(b);
  return out;
}

static void sha_hex(const aic_model_file_t *m, char out[65]) {
  const uint8_t *d = aic_model_sha256(m);
  for (int i = 0; i < 32; i++) sprintf(out + 2 * i, "%02x", d[i]);
}

static bool all_g_s_int8(const aic_nic_t *nic) {
  for (size_t i = 0; i < nic->g_s.count; i++)
    if (!nic->layers[nic->g_s.first + i].int8) return false;
  return true;
}

/* Differences between two latent tensors: count and largest. */
static size_t latent_diff(const int32_t *a, const int32_t *b, size_t n, int *max_abs) {
  size_t d = 0;
  *max_abs = 0;
  for (size_t i = 0; i < n; i++)
    if (a[i] != b[i]) {
      d++;
      int e = abs(a[i] - b[i]);
      if (e > *max_abs) *max_abs = e;
    }
  return d;
}

static void check_vector(const aic_model_file_t *m, aic_nic_t *nic, const vector_t *v) {
  char sha[65];
  sha_hex(m, sha);
  if (strcmp(sha, v->sha) != 0) {
    fprintf(stderr, "%s: made for model %.16s..., this model is %.16s...: not comparing\n", v->dir,
            v->sha, sha);
    CHECK(0);
    return;
  }
  aic_nic_shape_t s;
  CHECK_EQ_INT(aic_nic_shape(nic, v->width, v->height, &s), AIC_OK);
  CHECK(s.y_c == v->y_shape[0] && s.y_h == v->y_shape[1] && s.y_w == v->y_shape[2]);
  CHECK(s.z_c == v->z_shape[0] && s.z_h == v->z_shape[1] && s.z_w == v->z_shape[2]);
  const size_t ny = (size_t)s.y_c * s.y_h * s.y_w, nz = (size_t)s.z_c * s.z_h * s.z_w;
  const size_t npix = (size_t)v->width * v->height * 3;
  int32_t *y_hat = read_i16(v, "y_hat.i16", ny), *z_hat = read_i16(v, "z_hat.i16", nz);
  uint8_t *index = vector_file(v, "index.u8", ny), *recon = vector_file(v, "recon.rgb", npix);
  uint8_t *input = vector_file(v, v->input, npix);
  size_t z_size = 0, y_size = 0;
  uint8_t *z_rans = vector_file(v, "z.rans", 0), *y_rans = vector_file(v, "y.rans", 0);
  if (!y_hat || !z_hat || !index || !recon || !input || !z_rans || !y_rans) goto done;
  {
    char p[1400];
    snprintf(p, sizeof p, "%s/z.rans", v->dir);
    free(read_file(p, &z_size));
    snprintf(p, sizeof p, "%s/y.rans", v->dir);
    free(read_file(p, &y_size));
  }
  /* exact: the integer hyper-synthesis */
  uint8_t *idx = malloc(ny);
  CHECK_EQ_INT(aic_nic_scale_index(nic, z_hat, v->width, v->height, v->level, idx), AIC_OK);
  size_t idx_diff = 0;
  for (size_t i = 0; i < ny; i++) idx_diff += idx[i] != index[i];
  CHECK_EQ_INT(idx_diff, 0);
  /* exact: the rANS bytes */
  aic_buf_t zb = {0}, yb = {0};
  const aic_cdf_table_t *zt = nic->z_tables + (size_t)v->level * nic->Mz;
  CHECK_EQ_INT(aic_entropy_encode_factorized(zt, nic->Mz, z_hat, nz / nic->Mz, &zb), AIC_OK);
  CHECK_EQ_INT(aic_entropy_encode_indexed(nic->y_tables, NIC_Y_TABLES, index, y_hat, ny, &yb),
               AIC_OK);
  CHECK(zb.size == z_size && memcmp(zb.data, z_rans, z_size) == 0);
  CHECK(yb.size == y_size && memcmp(yb.data, y_rans, y_size) == 0);
  /* exact: decoding them, alone and as a payload */
  int32_t *lat = malloc((ny > nz ? ny : nz) * sizeof *lat);
  CHECK_EQ_INT(aic_entropy_decode_factorized(zt, nic->Mz, z_rans, z_size, lat, nz / nic->Mz),
               AIC_OK);
  CHECK(memcmp(lat, z_hat, nz * sizeof *lat) == 0);
  CHECK_EQ_INT(
      aic_entropy_decode_indexed(nic->y_tables, NIC_Y_TABLES, index, y_rans, y_size, lat, ny),
      AIC_OK);
  CHECK(memcmp(lat, y_hat, ny * sizeof *lat) == 0);
  uint8_t *payload = malloc(4 + z_size + y_size);
  for (int i = 0; i < 4; i++) payload[i] = (uint8_t)(z_size >> (8 * i));
  memcpy(payload + 4, z_rans, z_size);
  memcpy(payload + 4 + z_size, y_rans, y_size);
  uint8_t *pix = malloc(npix), *pix2 = malloc(npix);
  CHECK_EQ_INT(aic_nic_decode(nic, payload, 4 + z_size + y_size, v->width, v->height, v->level, pix,
                              (size_t)v->width * 3),
               AIC_OK);
  CHECK(memcmp(nic->frame.y_hat, y_hat, ny * 4) == 0);
  CHECK(memcmp(nic->frame.z_hat, z_hat, nz * 4) == 0);
  /* tolerant: the reconstruction of y_hat */
  CHECK_EQ_INT(
      aic_nic_synthesize(nic, y_hat, v->width, v->height, v->level, pix2, (size_t)v->width * 3),
      AIC_OK);
  CHECK(memcmp(pix, pix2, npix) == 0);
  double p_recon = psnr(pix2, recon, npix), p_input = psnr(pix2, input, npix);
  size_t px_diff = 0;
  for (size_t i = 0; i < npix; i++) px_diff += pix2[i] != recon[i];
  CHECK(p_recon >= 40.0);
  /* tolerant: the latents from the picture */
  int32_t *ya = malloc(ny * sizeof *ya), *za = malloc(nz * sizeof *za);
  CHECK_EQ_INT(
      aic_nic_analyze(nic, input, (size_t)v->width * 3, v->width, v->height, v->level, ya, za),
      AIC_OK);
  int ymax, zmax;
  size_t yd = latent_diff(ya, y_hat, ny, &ymax), zd = latent_diff(za, z_hat, nz, &zmax);
  /* An int8 encoder in C and PyTorch's simulation of it differ by float rounding (sum order,
   * acc * scale vs (q * s) * (w * sw)); a value on a rounding boundary may move by one. The
   * 100x60 vector has only 64 z values, where 1 % is less than one: up to 2 may move there. */
  CHECK(yd * 100 <= ny && ymax <= 1);
  CHECK((zd * 100 <= nz || zd <= 2) && zmax <= 1);
  printf(
      "%s q%u: scale index exact (%zu symbols), z.rans %zu B and y.rans %zu B exact; "
      "analyze: y %zu/%zu differ (%.3f%%, max %d), z %zu/%zu differ (%.3f%%, max %d); "
      "synthesis vs recon.rgb %.2f dB (%zu of %zu values differ), vs input %.2f dB "
      "(the exporter's: %s)\n",
      v->family, v->level, ny, z_size, y_size, yd, ny, 100.0 * yd / ny, ymax, zd, nz,
      100.0 * zd / nz, zmax, p_recon, px_diff, npix, p_input, v->psnr);
  free(ya), free(za), free(pix), free(pix2), free(payload), free(lat), free(idx);
  aic_buf_free(&zb);
  aic_buf_free(&yb);
done:
  free(y_hat), free(z_hat), free(index), free(recon), free(input), free(z_rans), free(y_rans);
}

static int check_vectors(const aic_model_file_t *m, aic_nic_t *nic, const char *family) {
  char dir[1024];
  snprintf(dir, sizeof dir, "%s/%s", vector_dir, family);
  DIR *d = opendir(dir);
  if (!d) return 0;
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] != 'q') continue;
    char sub[1300];
    snprintf(sub, sizeof sub, "%s/%s", dir, e->d_name);
    vector_t v;
    if (read_vector(sub, &v) != 0) continue;
    check_vector(m, nic, &v);
    n++;
  }
  closedir(d);
  return n;
}

/* encode -> decode at every level: the decoder's latents are the encoder's, and the pixels
 * are synthesize(y_hat) exactly. */
static void check_round_trips(const aic_model_file_t *m, aic_nic_t *nic, const char *family) {
  static const int sizes[][2] = {{1, 1}, {7, 3}, {3, 5}, {100, 60}, {257, 131}, {641, 359}};
  for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
    const int w = sizes[si][0], h = sizes[si][1];
    const bool big = w > 300;
    /* Sanitizer builds run ~20x slower: the small sizes cover the same code. */
    if (w > 200 && getenv("AIC_NIC_QUICK")) continue;
    uint8_t *rgb = test_picture(w, h, (uint64_t)si), *out = malloc((size_t)w * h * 3),
            *ref = malloc((size_t)w * h * 3);
    aic_nic_shape_t s;
    CHECK_EQ_INT(aic_nic_shape(nic, w, h, &s), AIC_OK);
    const size_t ny = (size_t)s.y_c * s.y_h * s.y_w, nz = (size_t)s.z_c * s.z_h * s.z_w;
    int32_t *y = malloc(ny * 4), *z = malloc(nz * 4);
    for (unsigned level = big ? aic_nic_levels(nic) - 1 : 0; level < aic_nic_levels(nic); level++) {
      aic_buf_t pay = {0};
      CHECK_EQ_INT(aic_nic_encode(nic, rgb, (size_t)w * 3, w, h, level, &pay), AIC_OK);
      memcpy(y, nic->frame.y_hat, ny * 4);
      memcpy(z, nic->frame.z_hat, nz * 4);
      memset(out, 0, (size_t)w * h * 3);
      CHECK_EQ_INT(aic_nic_decode(nic, pay.data, pay.size, w, h, level, out, (size_t)w * 3),
                   AIC_OK);
      CHECK(memcmp(y, nic->frame.y_hat, ny * 4) == 0);
      CHECK(memcmp(z, nic->frame.z_hat, nz * 4) == 0);
      CHECK_EQ_INT(aic_nic_synthesize(nic, y, w, h, level, ref, (size_t)w * 3), AIC_OK);
      CHECK(memcmp(out, ref, (size_t)w * h * 3) == 0);
      double p = psnr(out, rgb, (size_t)w * h * 3);
      CHECK(p > 5.0 && p <= 99.0);
      if (si >= 3)
        printf("%s %dx%d q%u: %zu bytes (%.3f bpp), %.2f dB\n", family, w, h, level, pay.size,
               8.0 * pay.size / ((double)w * h), p);
      aic_buf_free(&pay);
    }
    free(rgb), free(out), free(ref), free(y), free(z);
  }
  (void)m;
}

/* The same payload decoded by a REF runner and an AUTO one. */
static void check_impls(const aic_model_file_t *m, aic_nic_t *ref) {
  aic_nic_t *aut = make_nic(m, AIC_NN_IMPL_AUTO);
  if (!aut) return;
  CHECK_EQ_INT(aic_nic_impl(ref), AIC_NN_IMPL_REF);
  const int w = 100, h = 60;
  uint8_t *rgb = test_picture(w, h, 99), *a = malloc(w * h * 3), *b = malloc(w * h * 3);
  aic_nic_shape_t s;
  aic_nic_shape(ref, w, h, &s);
  const size_t ny = (size_t)s.y_c * s.y_h * s.y_w;
  for (unsigned level = 0; level < aic_nic_levels(ref); level++) {
    aic_buf_t pa = {0}, pb = {0};
    CHECK_EQ_INT(aic_nic_encode(ref, rgb, w * 3, w, h, level, &pa), AIC_OK);
    CHECK_EQ_INT(aic_nic_encode(aut, rgb, w * 3, w, h, level, &pb), AIC_OK);
    CHECK_EQ_INT(aic_nic_decode(ref, pa.data, pa.size, w, h, level, a, w * 3), AIC_OK);
    CHECK_EQ_INT(aic_nic_decode(aut, pa.data, pa.size, w, h, level, b, w * 3), AIC_OK);
    CHECK(memcmp(ref->frame.y_hat, aut->frame.y_hat, ny * 4) == 0);
    if (all_g_s_int8(ref)) CHECK(memcmp(a, b, (size_t)w * h * 3) == 0);
    /* and the other runner's payload decodes too */
    CHECK_EQ_INT(aic_nic_decode(ref, pb.data, pb.size, w, h, level, a, w * 3), AIC_OK);
    aic_buf_free(&pa);
    aic_buf_free(&pb);
  }
  free(rgb), free(a), free(b);
  aic_nic_free(&aut);
  CHECK(aut == NULL);
}

/* Runners with 1, 2 and 3 threads (oneDNN's and the per-element passes', nic_par.c), with
 * int8 layers run whole or in bands of rows (band_kib: 1 KiB makes bands of one or two rows,
 * many per thread; 64 a few; 0 none), write the same payload and decode it to the same pixels:
 * threads and bands split the work, never the arithmetic. The frame is large enough for the
 * passes to split (NIC_PAR_MIN_WORK), and of odd size, so that bands meet the crop of a
 * depth-to-space and the ceil rule of a stride-2 convolution at the bottom. */
static void check_threads(const aic_model_file_t *m, aic_nn_impl_t impl) {
  const bool quick = getenv("AIC_NIC_QUICK") != NULL;
  const int w = quick ? 130 : 257, h = quick ? 71 : 131;
  static const struct {
    int threads, band_kib;
  } runs[] = {{1, 0}, {1, 1}, {2, 1}, {3, 64}, {1, 64}, {2, 0}, {2, 64}, {3, 1}, {3, 256}};
  enum { RUNS = sizeof runs / sizeof runs[0], QUICK_RUNS = 4 }; /* sanitizers: the first 4 */
  const int nruns = quick ? QUICK_RUNS : RUNS;
  uint8_t *rgb = test_picture(w, h, 17), *out[RUNS];
  aic_buf_t pay[RUNS] = {{0}};
  for (int t = 0; t < nruns; t++) {
    out[t] = malloc((size_t)w * h * 3);
    aic_nic_settings_t s;
    aic_nic_settings_default(&s);
    s.impl = impl;
    s.threads = runs[t].threads;
    s.band_kib = runs[t].band_kib;
    aic_nic_t *nic = NULL;
    CHECK_EQ_INT(aic_nic_create(m, &s, &nic, NULL, 0), AIC_OK);
    if (!nic) continue;
    const unsigned level = aic_nic_levels(nic) - 1;
    CHECK_EQ_INT(aic_nic_encode(nic, rgb, (size_t)w * 3, w, h, level, &pay[t]), AIC_OK);
    CHECK_EQ_INT(aic_nic_decode(nic, pay[0].data, pay[0].size, w, h, level, out[t], (size_t)w * 3),
                 AIC_OK);
    aic_nic_free(&nic);
    if (t == 0) continue;
    if (!(pay[t].size == pay[0].size && memcmp(pay[t].data, pay[0].data, pay[0].size) == 0) ||
        memcmp(out[t], out[0], (size_t)w * h * 3) != 0)
      fprintf(stderr, "  threads %d, band_kib %d: differs from threads 1, unbanded\n",
              runs[t].threads, runs[t].band_kib);
    CHECK(pay[t].size == pay[0].size && memcmp(pay[t].data, pay[0].data, pay[0].size) == 0);
    CHECK(memcmp(out[t], out[0], (size_t)w * h * 3) == 0);
  }
  for (int t = 0; t < nruns; t++) {
    aic_buf_free(&pay[t]);
    free(out[t]);
  }
  free(rgb);
}

/* The I420 entry points are the RGB ones with aic_picture_from_i420 before and
 * aic_picture_to_i420 after: the same payload and the same bytes out, on 1 and 2 threads (the
 * conversions split by rows), at an odd size (chroma of a half block at the right and bottom). */
static aic_frame_t rgb_frame(int w, int h, const uint8_t *rgb) {
  return (aic_frame_t){.type = AIC_FRAME_VIDEO,
                       .pix_fmt = AIC_PIX_RGB24,
                       .width = (uint32_t)w,
                       .height = (uint32_t)h,
                       .data = rgb,
                       .size = (size_t)w * h * 3};
}

static void check_i420(const aic_model_file_t *m) {
  const int w = 37, h = 23;
  size_t n420;
  aic_pixel_format_size(AIC_PIX_I420, w, h, &n420);
  uint8_t *rgb = test_picture(w, h, 9), *i420 = malloc(n420), *rec = malloc((size_t)w * h * 3);
  uint8_t *want = malloc(n420), *got = malloc(n420);
  const aic_frame_t pic = rgb_frame(w, h, rgb);
  CHECK_EQ_INT(aic_picture_to_i420(&pic, i420), AIC_OK);
  for (int threads = 1; threads <= 2; threads++) {
    aic_nic_settings_t s;
    aic_nic_settings_default(&s);
    s.threads = threads;
    aic_nic_t *nic = NULL;
    CHECK_EQ_INT(aic_nic_create(m, &s, &nic, NULL, 0), AIC_OK);
    if (!nic) break;
    const unsigned level = aic_nic_levels(nic) / 2;
    aic_buf_t a = {0}, b = {0};
    CHECK_EQ_INT(aic_picture_from_i420(i420, w, h, AIC_PIX_RGB24, rec), AIC_OK);
    CHECK_EQ_INT(aic_nic_encode(nic, rec, (size_t)w * 3, w, h, level, &a), AIC_OK);
    CHECK_EQ_INT(aic_nic_encode_i420(nic, i420, w, h, level, &b), AIC_OK);
    CHECK(a.size == b.size && memcmp(a.data, b.data, a.size) == 0);
    aic_nic_timing_t t;
    aic_nic_last_timing(nic, &t);
    CHECK(t.convert_ms >= 0 && t.analysis_ms > 0);
    CHECK_EQ_INT(aic_nic_decode(nic, a.data, a.size, w, h, level, rec, (size_t)w * 3), AIC_OK);
    const aic_frame_t dec = rgb_frame(w, h, rec);
    CHECK_EQ_INT(aic_picture_to_i420(&dec, want), AIC_OK);
    CHECK_EQ_INT(aic_nic_decode_i420(nic, a.data, a.size, w, h, level, got), AIC_OK);
    CHECK(memcmp(want, got, n420) == 0);
    /* bad arguments, and a damaged payload, change nothing and say so */
    CHECK_EQ_INT(aic_nic_encode_i420(nic, NULL, w, h, level, &b), AIC_EINVAL);
    CHECK_EQ_INT(aic_nic_encode_i420(nic, i420, 0, h, level, &b), AIC_EINVAL);
    CHECK_EQ_INT(aic_nic_encode_i420(nic, i420, w, h, aic_nic_levels(nic), &b), AIC_EINVAL);
    CHECK_EQ_INT(aic_nic_decode_i420(nic, a.data, a.size, w, h, level, NULL), AIC_EINVAL);
    CHECK_EQ_INT(aic_nic_decode_i420(nic, a.data, 3, w, h, level, got), AIC_ECORRUPT);
    aic_buf_free(&a);
    aic_buf_free(&b);
    aic_nic_free(&nic);
  }
  free(rgb), free(i420), free(rec), free(want), free(got);
}

static void check_damaged_payloads(aic_nic_t *nic, const char *family) {
  const int w = 24, h = 20;
  const unsigned level = aic_nic_levels(nic) - 1;
  uint8_t *rgb = test_picture(w, h, 5), *out = malloc(w * h * 3);
  aic_buf_t pay = {0};
  CHECK_EQ_INT(aic_nic_encode(nic, rgb, w * 3, w, h, level, &pay), AIC_OK);
  const size_t n = pay.size;
  uint8_t *p = malloc(n + 8);
  size_t trunc_ok = 0, flips_ok = 0, flips = 0;
  for (size_t len = 0; len < n; len++) {
    memcpy(p, pay.data, len);
    int rc = aic_nic_decode(nic, len ? p : NULL, len, w, h, level, out, w * 3);
    CHECK(rc == AIC_OK || rc == AIC_ECORRUPT);
    trunc_ok += rc == AIC_OK;
  }
  CHECK_EQ_INT(trunc_ok, 0);
  for (size_t bit = 0; bit < n * 8; bit++) {
    memcpy(p, pay.data, n);
    p[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    int rc = aic_nic_decode(nic, p, n, w, h, level, out, w * 3);
    CHECK(rc == AIC_OK || rc == AIC_ECORRUPT);
    flips_ok += rc == AIC_OK;
    flips++;
  }
  const uint32_t z_size = (uint32_t)pay.data[0] | (uint32_t)pay.data[1] << 8 |
                          (uint32_t)pay.data[2] << 16 | (uint32_t)pay.data[3] << 24;
  const uint32_t lies[] = {
      0,           1,           z_size - 1, z_size + 1, (uint32_t)n - 4, (uint32_t)n - 3,
      (uint32_t)n, 0x7fffffffu, 0xffffffffu};
  for (size_t i = 0; i < sizeof lies / sizeof lies[0]; i++) {
    memcpy(p, pay.data, n);
    for (int k = 0; k < 4; k++) p[k] = (uint8_t)(lies[i] >> (8 * k));
    int rc = aic_nic_decode(nic, p, n, w, h, level, out, w * 3);
    if (lies[i] > n - 4) CHECK_EQ_INT(rc, AIC_ECORRUPT);
    CHECK(rc == AIC_OK || rc == AIC_ECORRUPT);
  }
  /* trailing bytes, another size, another level */
  memcpy(p, pay.data, n);
  p[n] = 0;
  CHECK_EQ_INT(aic_nic_decode(nic, p, n + 1, w, h, level, out, w * 3), AIC_ECORRUPT);
  int rc = aic_nic_decode(nic, p, n, w + 40, h + 40, level, out, w * 3);
  CHECK_EQ_INT(rc, AIC_EINVAL); /* stride too small for that width */
  uint8_t *big = malloc((size_t)(w + 40) * (h + 40) * 3);
  rc = aic_nic_decode(nic, p, n, w + 40, h + 40, level, big, (w + 40) * 3);
  CHECK(rc == AIC_OK || rc == AIC_ECORRUPT);
  rc = aic_nic_decode(nic, p, n, w, h, 0, out, w * 3);
  CHECK(rc == AIC_OK || rc == AIC_ECORRUPT);
  CHECK_EQ_INT(aic_nic_decode(nic, p, n, w, h, aic_nic_levels(nic), out, w * 3), AIC_EINVAL);
  /* the runner still works after all that */
  CHECK_EQ_INT(aic_nic_decode(nic, pay.data, n, w, h, level, out, w * 3), AIC_OK);
  printf(
      "%s: damaged %zu-byte payload: all %zu truncations refused, %zu of %zu bit flips "
      "refused\n",
      family, n, n, flips - flips_ok, flips);
  free(big), free(p), free(rgb), free(out);
  aic_buf_free(&pay);
}

/* ---- damaged models: valid files (digest resealed) whose network is wrong ---- */

static uint32_t get32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void reseal(uint8_t *b, size_t size) {
  aic_sha256_t s;
  aic_sha256_init(&s);
  aic_sha256_update(&s, b, 96);
  aic_sha256_update(&s, b + 128, size - 128);
  aic_sha256_final(&s, b + 96);
}

/* Replaces `from` in the architecture text by `to` (same length). */
static bool patch_arch(uint8_t *b, const char *from, const char *to) {
  const size_t text = get32(b + 40), n = strlen(from);
  for (size_t i = 128; i + n <= 128 + text; i++)
    if (memcmp(b + i, from, n) == 0) {
      memcpy(b + i, to, n);
      return true;
    }
  return false;
}

/* The table entry (file offset) of tensor `name`. */
static uint8_t *entry(uint8_t *b, const char *name) {
  const size_t table = 128 + get32(b + 44), count = get32(b + 48);
  for (size_t i = 0; i < count; i++)
    if (strcmp((const char *)b + table + i * 128, name) == 0) return b + table + i * 128;
  return NULL;
}

static uint8_t *tensor_data(uint8_t *b, const char *name) {
  uint8_t *e = entry(b, name);
  return e ? b + 128 + get32(e + 88) : NULL;
}

static void put32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static void check_damaged_models(const char *family) {
  char path[1024];
  snprintf(path, sizeof path, "%s/%s.aicm", model_dir, family);
  size_t size;
  uint8_t *orig = read_file(path, &size), *b = malloc(size);
  if (!orig || !b) {
    CHECK(0);
    free(orig), free(b);
    return;
  }
  enum { ARCH, DTYPE, I32, CDF0 };
  static const struct {
    int how;
    const char *a, *b;
    uint32_t v;
  } cases[] = {
      {ARCH, "type=gdn_lite", "type=gdn_litf", 0},                         /* unknown layer type */
      {ARCH, "weight=g_a.2.weight", "weight=g_a.0.weight", 0},             /* wrong-shaped tensor */
      {ARCH, "gamma=g_a.1.gamma", "gammb=g_a.1.gamma", 0},                 /* missing role */
      {ARCH, "type=depth_to_space in=12", "type=depth_to_spacf in=12", 0}, /* last up */
      {ARCH, "act=relu", "act=tanh", 0},                                   /* unknown activation */
      {ARCH, "layer name=h_a.abs type=abs", "layer name=h_a.abs type=abz", 0},
      {ARCH, "stride=2 act=none weight=g_a.2", "stride=1 act=none weight=g_a.2", 0},
      {DTYPE, "g_a.0.bias", NULL, 5}, /* f32 -> i32, same size */
      {DTYPE, "gain.y", NULL, 5},
      {I32, "z.count", NULL, 7},              /* the cdf no longer matches the counts */
      {I32, "h_s.0.shift", NULL, 0},          /* shift out of range */
      {I32, "h_s.in.mult", NULL, 5},          /* multiplier out of range */
      {I32, "h_s.1.bias", NULL, 0x7fffff00u}, /* accumulator overflow */
      {CDF0, "y.cdf", NULL, 0},               /* a table that is not a CDF */
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    memcpy(b, orig, size);
    bool patched = false;
    if (cases[i].how == ARCH) {
      patched = patch_arch(b, cases[i].a, cases[i].b);
    } else if (cases[i].how == DTYPE) {
      uint8_t *e = entry(b, cases[i].a);
      if (e) e[64] = (uint8_t)cases[i].v, patched = true;
    } else if (cases[i].how == I32) {
      uint8_t *d = tensor_data(b, cases[i].a);
      if (d) put32(d, cases[i].v), patched = true;
    } else {
      uint8_t *d = tensor_data(b, cases[i].a);
      if (d) put32(d + 4, 0), patched = true; /* cdf[1] = 0 = cdf[0] */
    }
    if (!patched) {
      fprintf(stderr, "%s: case %zu: '%s' not found in the model\n", family, i, cases[i].a);
      CHECK(0);
      continue;
    }
    reseal(b, size);
    aic_model_file_t *m = NULL;
    char why[512] = "";
    int rc = aic_model_load_memory(b, size, &m, why, sizeof why);
    CHECK_EQ_INT(rc, AIC_OK);
    if (rc != AIC_OK) {
      fprintf(stderr, "%s: case %zu: %s\n", family, i, why);
      continue;
    }
    aic_nic_t *nic = (aic_nic_t *)&nic;
    why[0] = '\0';
    rc = aic_nic_create(m, NULL, &nic, why, sizeof why);
    CHECK_EQ_INT(rc, AIC_ECORRUPT);
    CHECK(nic == NULL && why[0] != '\0');
    if (i < 3 || rc != AIC_ECORRUPT) printf("%s: damaged model refused: %s\n", family, why);
    aic_nic_free(&nic);
    aic_model_file_free(&m);
  }
  /* and the untouched bytes still build */
  aic_model_file_t *m = NULL;
  CHECK_EQ_INT(aic_model_load_memory(orig, size, &m, NULL, 0), AIC_OK);
  aic_nic_t *nic = NULL;
  CHECK_EQ_INT(aic_nic_create(m, NULL, &nic, NULL, 0), AIC_OK);
  aic_nic_free(&nic);
  aic_model_file_free(&m);
  free(orig), free(b);
}

/* ---- float layers: the model rewritten with some int8 layers turned back into f32 ---- */

static void put64(uint8_t *p, uint64_t v) {
  put32(p, (uint32_t)v);
  put32(p + 4, (uint32_t)(v >> 32));
}

static size_t align(size_t n, size_t a) {
  return (n + a - 1) / a * a;
}

/* Whether layer `name` (one with an in_scale) becomes f32. */
typedef bool (*choose_fn)(const char *name);

/* The weight / gamma tensor of a chosen layer, or NULL. */
static const aic_layer_t *converted_by(const aic_model_file_t *m, const aic_tensor_t *t,
                                       choose_fn choose) {
  for (size_t i = 0; i < aic_model_layer_count(m); i++) {
    const aic_layer_t *l = aic_model_layer(m, i);
    if (!aic_layer_tensor(l, "in_scale") || !choose(l->name)) continue;
    if (aic_layer_tensor(l, "weight") == t || aic_layer_tensor(l, "gamma") == t) return l;
  }
  return NULL;
}

/* A valid .aicm (docs/model-format.md) with the same header fields and tensors, where the
 * chosen layers' int8 weights are f32 (q * scale) and their in_scale references are gone. */
static uint8_t *float_variant(const aic_model_file_t *m, choose_fn choose, size_t *size) {
  /* the architecture text without " in_scale=..." on chosen layers */
  const char *arch = aic_model_architecture(m);
  char *text = malloc(strlen(arch) + 1), *t = text;
  for (const char *line = arch; *line;) {
    const char *end = strchr(line, '\n') + 1;
    char name[80];
    sscanf(line, "layer name=%79s", name);
    const char *cut = strstr(line, " in_scale=");
    if (cut && cut < end && choose(name)) {
      memcpy(t, line, (size_t)(cut - line));
      t += cut - line;
      const char *after = strpbrk(cut + 1, " \n");
      memcpy(t, after, (size_t)(end - after));
      t += end - after;
    } else {
      memcpy(t, line, (size_t)(end - line));
      t += end - line;
    }
    line = end;
  }
  const size_t arch_size = (size_t)(t - text), n = aic_model_tensor_count(m);
  /* layout */
  size_t *data = malloc(n * sizeof *data), *scales = malloc(n * sizeof *scales);
  size_t off = align(arch_size, 64) + n * 128;
  for (size_t i = 0; i < n; i++) {
    const aic_tensor_t *x = aic_model_tensor_at(m, i);
    const size_t bytes = converted_by(m, x, choose) ? x->count * 4 : x->size;
    data[i] = align(off, 64);
    off = data[i] + bytes;
    scales[i] = 0;
    if (x->scale_count && !converted_by(m, x, choose)) {
      scales[i] = align(off, 4);
      off = scales[i] + x->scale_count * 4;
    }
  }
  *size = 128 + off;
  uint8_t *b = calloc(1, *size), *p = b + 128;
  memcpy(b, "AICM", 4);
  b[4] = 1, b[6] = 128;
  memcpy(b + 8, aic_model_family(m), strlen(aic_model_family(m)));
  b[24] = (uint8_t)aic_model_id(m), b[25] = (uint8_t)(aic_model_id(m) >> 8);
  b[26] = (uint8_t)aic_model_levels(m);
  put32(b + 28, aic_model_version(m));
  put64(b + 32, off);
  put32(b + 40, (uint32_t)arch_size);
  put32(b + 44, (uint32_t)align(arch_size, 64));
  put32(b + 48, (uint32_t)n);
  memcpy(p, text, arch_size);
  for (size_t i = 0; i < n; i++) {
    const aic_tensor_t *x = aic_model_tensor_at(m, i);
    const bool conv = converted_by(m, x, choose) != NULL;
    uint8_t *e = p + align(arch_size, 64) + i * 128;
    memcpy(e, x->name, strlen(x->name));
    e[64] = conv ? AIC_DTYPE_F32 : (uint8_t)x->dtype;
    e[65] = (uint8_t)x->rank;
    e[66] = conv ? 0 : (uint8_t)x->quant;
    e[67] = conv ? 0 : (uint8_t)x->axis;
    for (unsigned k = 0; k < x->rank; k++) put32(e + 68 + 4 * k, x->dims[k]);
    put32(e + 84, conv ? 0 : (uint32_t)x->zero_point);
    put64(e + 88, data[i]);
    put64(e + 96, conv ? x->count * 4 : x->size);
    if (conv) {
      const size_t per = x->count / x->dims[0];
      float *f = (float *)(p + data[i]); /* 64-byte aligned in a calloc'd buffer + 128 */
      for (size_t k = 0; k < x->count; k++)
        f[k] = (float)((const int8_t *)x->data)[k] * x->scales[k / per];
    } else {
      memcpy(p + data[i], x->data, x->size);
      if (scales[i]) {
        put64(e + 104, scales[i]);
        put32(e + 112, (uint32_t)x->scale_count);
        memcpy(p + scales[i], x->scales, x->scale_count * 4);
      }
    }
  }
  reseal(b, *size);
  free(text), free(data), free(scales);
  return b;
}

static bool choose_all(const char *name) {
  (void)name;
  return true;
}

/* Every kind of transition: float pixels in, f32 GDN and IGDN between int8 convolutions, an
 * f32 conv after |y|, a float last layer. */
static bool choose_some(const char *name) {
  static const char *const some[] = {"g_a.0", "g_a.3", "h_a.0", "h_a.2", "g_s.1", "g_s.6"};
  for (size_t i = 0; i < sizeof some / sizeof some[0]; i++)
    if (strcmp(name, some[i]) == 0) return true;
  return false;
}

/* The float variants run end to end, decode what they encode, and stay close to the int8
 * model: their weights are the int8 ones, only the activations are no longer quantized. */
static void check_float_layers(const aic_model_file_t *m8, aic_nic_t *nic8, const char *family,
                               aic_nn_impl_t impl) {
  const choose_fn choices[] = {choose_all, choose_some};
  const char *const names[] = {"all f32", "some f32"};
  const int w = 100, h = 60;
  uint8_t *rgb = test_picture(w, h, 3), *a = malloc(w * h * 3), *b = malloc(w * h * 3);
  aic_nic_shape_t s;
  aic_nic_shape(nic8, w, h, &s);
  const size_t ny = (size_t)s.y_c * s.y_h * s.y_w, nz = (size_t)s.z_c * s.z_h * s.z_w;
  int32_t *y8 = malloc(ny * 4), *z8 = malloc(nz * 4), *y = malloc(ny * 4), *z = malloc(nz * 4);
  const unsigned level = aic_nic_levels(nic8) - 1;
  CHECK_EQ_INT(aic_nic_analyze(nic8, rgb, w * 3, w, h, level, y8, z8), AIC_OK);
  CHECK_EQ_INT(aic_nic_synthesize(nic8, y8, w, h, level, a, w * 3), AIC_OK);
  for (size_t v = 0; v < 2; v++) {
    size_t size;
    uint8_t *file = float_variant(m8, choices[v], &size);
    aic_model_file_t *m = NULL;
    char why[512] = "";
    int rc = aic_model_load_memory(file, size, &m, why, sizeof why);
    free(file);
    CHECK_EQ_INT(rc, AIC_OK);
    if (rc != AIC_OK) {
      fprintf(stderr, "%s %s: %s\n", family, names[v], why);
      continue;
    }
    aic_nic_t *nic = make_nic(m, impl);
    if (nic) {
      size_t f32 = 0;
      for (size_t i = 0; i < nic->layer_count; i++) f32 += !nic->layers[i].int8;
      CHECK(f32 > 0);
      CHECK_EQ_INT(aic_nic_analyze(nic, rgb, w * 3, w, h, level, y, z), AIC_OK);
      int ymax, zmax;
      size_t yd = latent_diff(y, y8, ny, &ymax), zd = latent_diff(z, z8, nz, &zmax);
      CHECK_EQ_INT(aic_nic_synthesize(nic, y8, w, h, level, b, w * 3), AIC_OK);
      double p = psnr(a, b, (size_t)w * h * 3);
      /* Float activations against int8 ones, same weights: the smoke models give 46-49 dB and
       * 0.1-0.2 % of y moved by one; the bounds leave room for trained models. */
      CHECK(p >= 30.0);
      CHECK(yd * 10 <= ny && ymax <= 2);
      aic_buf_t pay = {0};
      CHECK_EQ_INT(aic_nic_encode(nic, rgb, w * 3, w, h, level, &pay), AIC_OK);
      CHECK_EQ_INT(aic_nic_decode(nic, pay.data, pay.size, w, h, level, b, w * 3), AIC_OK);
      CHECK(memcmp(nic->frame.y_hat, y, ny * 4) == 0);
      aic_buf_free(&pay);
      printf(
          "%s %s (%zu float layers) against int8: y %.1f%% differ (max %d), z %.1f%% (max %d), "
          "synthesis %.2f dB\n",
          family, names[v], f32, 100.0 * yd / ny, ymax, 100.0 * zd / nz, zmax, p);
      aic_nic_free(&nic);
    }
    aic_model_file_free(&m);
  }
  free(rgb), free(a), free(b), free(y8), free(z8), free(y), free(z);
}

/* impl DNNL and the AIC_NN_IMPL override, whether or not oneDNN is there. */
static void check_impl_choice(const aic_model_file_t *m) {
  const bool dnnl = aic_nn_dnnl_available() == AIC_OK;
  aic_nic_settings_t s;
  aic_nic_settings_default(&s);
  aic_nic_t *nic = NULL;
  s.impl = AIC_NN_IMPL_DNNL;
  CHECK_EQ_INT(aic_nic_create(m, &s, &nic, NULL, 0), dnnl ? AIC_OK : AIC_EUNSUPPORTED);
  if (nic) CHECK_EQ_INT(aic_nic_impl(nic), AIC_NN_IMPL_DNNL);
  aic_nic_free(&nic);
  s.impl = AIC_NN_IMPL_AUTO;
  setenv("AIC_NN_IMPL", "dnnl", 1);
  CHECK_EQ_INT(aic_nic_create(m, &s, &nic, NULL, 0), dnnl ? AIC_OK : AIC_EUNSUPPORTED);
  aic_nic_free(&nic);
  setenv("AIC_NN_IMPL", "ref", 1);
  CHECK_EQ_INT(aic_nic_create(m, &s, &nic, NULL, 0), AIC_OK);
  if (nic) CHECK_EQ_INT(aic_nic_impl(nic), AIC_NN_IMPL_REF);
  aic_nic_free(&nic);
  unsetenv("AIC_NN_IMPL");
  CHECK_EQ_INT(aic_nic_create(m, &s, &nic, NULL, 0), AIC_OK);
  if (nic) CHECK_EQ_INT(aic_nic_impl(nic), dnnl ? AIC_NN_IMPL_DNNL : AIC_NN_IMPL_REF);
  aic_nic_free(&nic);
  s.threads = 0;
  CHECK_EQ_INT(aic_nic_create(m, &s, &nic, NULL, 0), AIC_EINVAL);
  s.threads = 1;
  s.band_kib = -1;
  CHECK_EQ_INT(aic_nic_create(m, &s, &nic, NULL, 0), AIC_EINVAL);
  s.band_kib = 256;
  const float bad_deadzones[] = {-0.01f, 0.5f, NAN};
  for (size_t i = 0; i < sizeof bad_deadzones / sizeof bad_deadzones[0]; i++) {
    s.y_deadzone = bad_deadzones[i];
    CHECK_EQ_INT(aic_nic_create(m, &s, &nic, NULL, 0), AIC_EINVAL);
  }
  s.y_deadzone = AIC_NIC_Y_DEADZONE_DEFAULT;
  const float bad_per_bit[] = {-0.01f, 1.5f, NAN};
  for (size_t i = 0; i < sizeof bad_per_bit / sizeof bad_per_bit[0]; i++) {
    s.y_deadzone_per_bit = bad_per_bit[i];
    CHECK_EQ_INT(aic_nic_create(m, &s, &nic, NULL, 0), AIC_EINVAL);
  }
  s.y_deadzone_per_bit = AIC_NIC_Y_DEADZONE_PER_BIT_DEFAULT;
  s.impl = (aic_nn_impl_t)7;
  CHECK_EQ_INT(aic_nic_create(m, &s, &nic, NULL, 0), AIC_EINVAL);
  CHECK(nic == NULL);
}

/* The default deadzone against plain rounding (make_nic's runner, same impl), through what
 * each payload decodes to: y values move only from +-1 to 0, never anything else; z does not
 * move; the payload is no larger. */
static void check_deadzone(const aic_model_file_t *m, aic_nic_t *plain, aic_nn_impl_t impl) {
  aic_nic_settings_t s;
  aic_nic_settings_default(&s);
  s.impl = impl;
  aic_nic_t *dz = NULL;
  CHECK_EQ_INT(aic_nic_create(m, &s, &dz, NULL, 0), AIC_OK);
  if (!dz) return;
  const int w = 100, h = 60;
  const unsigned level = aic_nic_levels(plain) / 2;
  aic_nic_shape_t sh;
  CHECK_EQ_INT(aic_nic_shape(plain, w, h, &sh), AIC_OK);
  const size_t ny = (size_t)sh.y_c * sh.y_h * sh.y_w, nz = (size_t)sh.z_c * sh.z_h * sh.z_w;
  uint8_t *rgb = test_picture(w, h, 5), *pix = malloc((size_t)w * h * 3);
  int32_t *y0 = malloc(ny * 4), *z0 = malloc(nz * 4);
  aic_buf_t p0 = {0}, p1 = {0};
  CHECK_EQ_INT(aic_nic_encode(plain, rgb, w * 3, w, h, level, &p0), AIC_OK);
  CHECK_EQ_INT(aic_nic_encode(dz, rgb, w * 3, w, h, level, &p1), AIC_OK);
  CHECK(p1.size <= p0.size);
  CHECK_EQ_INT(aic_nic_decode(plain, p0.data, p0.size, w, h, level, pix, w * 3), AIC_OK);
  memcpy(y0, plain->frame.y_hat, ny * 4);
  memcpy(z0, plain->frame.z_hat, nz * 4);
  CHECK_EQ_INT(aic_nic_decode(plain, p1.data, p1.size, w, h, level, pix, w * 3), AIC_OK);
  const int32_t *y1 = plain->frame.y_hat;
  size_t zeroed = 0, other = 0;
  for (size_t i = 0; i < ny; i++) {
    if (y0[i] == y1[i]) continue;
    if ((y0[i] == 1 || y0[i] == -1) && y1[i] == 0)
      zeroed++;
    else
      other++;
  }
  CHECK_EQ_INT(other, 0);
  CHECK(zeroed > 0);
  CHECK(memcmp(z0, plain->frame.z_hat, nz * 4) == 0);
  printf("deadzone %.2f + %.2f a bit: %zu of %zu y values 1 -> 0, payload %zu -> %zu bytes\n",
         (double)AIC_NIC_Y_DEADZONE_DEFAULT, (double)AIC_NIC_Y_DEADZONE_PER_BIT_DEFAULT, zeroed,
         ny, p0.size, p1.size);
  aic_buf_free(&p0);
  aic_buf_free(&p1);
  free(rgb), free(pix), free(y0), free(z0);
  aic_nic_free(&dz);
}

static void check_args(aic_nic_t *nic) {
  uint8_t rgb[3 * 16] = {0};
  int32_t lat[4096];
  aic_buf_t out = {0};
  const unsigned L = aic_nic_levels(nic);
  CHECK_EQ_INT(aic_nic_encode(nic, rgb, 12, 4, 4, L, &out), AIC_EINVAL);
  CHECK_EQ_INT(aic_nic_encode(nic, rgb, 11, 4, 4, 0, &out), AIC_EINVAL);
  CHECK_EQ_INT(aic_nic_encode(nic, rgb, 12, 0, 4, 0, &out), AIC_EINVAL);
  CHECK_EQ_INT(aic_nic_encode(nic, rgb, 12, 4, AIC_NIC_MAX_DIM + 1, 0, &out), AIC_EINVAL);
  CHECK_EQ_INT(aic_nic_encode(nic, NULL, 12, 4, 4, 0, &out), AIC_EINVAL);
  CHECK_EQ_INT(aic_nic_encode(nic, rgb, 12, 4, 4, 0, NULL), AIC_EINVAL);
  CHECK_EQ_INT(out.size, 0);
  CHECK_EQ_INT(aic_nic_analyze(nic, rgb, 12, 4, 4, 0, NULL, lat), AIC_EINVAL);
  CHECK_EQ_INT(aic_nic_scale_index(nic, lat, 4, 4, L, rgb), AIC_EINVAL);
  CHECK_EQ_INT(aic_nic_synthesize(nic, NULL, 4, 4, 0, rgb, 12), AIC_EINVAL);
  CHECK_EQ_INT(aic_nic_decode(nic, NULL, 0, 4, 4, 0, rgb, 12), AIC_ECORRUPT);
  aic_nic_shape_t s;
  CHECK_EQ_INT(aic_nic_shape(nic, 640, 360, &s), AIC_OK);
  CHECK(s.y_h == 23 && s.y_w == 40 && s.z_h == 6 && s.z_w == 10);
  CHECK_EQ_INT(aic_nic_shape(nic, 1, 1, &s), AIC_OK);
  CHECK(s.y_h == 1 && s.y_w == 1 && s.z_h == 1 && s.z_w == 1);
  /* appends, and keeps what was there */
  CHECK_EQ_INT(aic_buf_reserve(&out, 3), AIC_OK);
  memcpy(out.data, "abc", 3);
  out.size = 3;
  CHECK_EQ_INT(aic_nic_encode(nic, rgb, 12, 4, 4, 0, &out), AIC_OK);
  CHECK(out.size > 7 && memcmp(out.data, "abc", 3) == 0);
  CHECK_EQ_INT(aic_nic_decode(nic, out.data + 3, out.size - 3, 4, 4, 0, rgb, 12), AIC_OK);
  aic_buf_free(&out);
  aic_nic_settings_t st;
  aic_nic_settings_default(&st);
  CHECK(st.impl == AIC_NN_IMPL_AUTO && st.threads == 1 && st.band_kib == 256);
}

static void print_timing(const aic_model_file_t *m, const char *family, aic_nn_impl_t impl) {
  aic_nic_t *nic = make_nic(m, impl);
  if (!nic) return;
  const int w = 640, h = 360;
  uint8_t *rgb = test_picture(w, h, 1), *out = malloc((size_t)w * h * 3);
  const unsigned level = aic_nic_levels(nic) - 1;
  aic_nic_timing_t best_e = {1e9, 1e9, 1e9, 1e9, 0, 0}, best_d = {1e9, 1e9, 1e9, 1e9, 0, 0}, t;
  size_t bytes = 0;
  for (int run = 0; run < 3; run++) { /* run 0 builds the plans */
    aic_buf_t pay = {0};
    CHECK_EQ_INT(aic_nic_encode(nic, rgb, w * 3, w, h, level, &pay), AIC_OK);
    aic_nic_last_timing(nic, &t);
    if (run > 0 && t.analysis_ms + t.hyper_ms + t.entropy_ms <
                       best_e.analysis_ms + best_e.hyper_ms + best_e.entropy_ms)
      best_e = t;
    CHECK_EQ_INT(aic_nic_decode(nic, pay.data, pay.size, w, h, level, out, w * 3), AIC_OK);
    aic_nic_last_timing(nic, &t);
    if (run > 0 && t.entropy_ms + t.hyper_ms + t.synthesis_ms <
                       best_d.entropy_ms + best_d.hyper_ms + best_d.synthesis_ms)
      best_d = t;
    bytes = pay.size;
    aic_buf_free(&pay);
  }
  printf(
      "%s 640x360 q%u %s (best of 2 after a warm-up, %zu bytes): encode analysis %.1f ms, "
      "hyper %.1f ms, entropy %.2f ms = %.1f ms; decode entropy %.2f ms, hyper %.1f ms, "
      "synthesis %.1f ms = %.1f ms\n",
      family, level, aic_nic_impl(nic) == AIC_NN_IMPL_REF ? "REF" : "DNNL (1 thread)", bytes,
      best_e.analysis_ms, best_e.hyper_ms, best_e.entropy_ms,
      best_e.analysis_ms + best_e.hyper_ms + best_e.entropy_ms, best_d.entropy_ms, best_d.hyper_ms,
      best_d.synthesis_ms, best_d.entropy_ms + best_d.hyper_ms + best_d.synthesis_ms);
  free(rgb), free(out);
  aic_nic_free(&nic);
}

static int families_tested;

static void test_families(void) {
  for (size_t f = 0; f < sizeof families / sizeof families[0]; f++) {
    aic_model_file_t *m = load_model(families[f]);
    if (!m) continue;
    families_tested++;
    /* Sanitizer builds (AIC_NIC_QUICK): the reference kernels, instrumented, run nic-rt only;
     * the larger families run on oneDNN there (nic-hq, 9x nic-rt's MACs, took ~8 minutes in
     * the instrumented C reference). The unsanitized build runs everything on both. */
    const bool light = f > 0 && getenv("AIC_NIC_QUICK") != NULL;
    const aic_nn_impl_t impl = light ? AIC_NN_IMPL_AUTO : AIC_NN_IMPL_REF;
    aic_nic_t *nic = make_nic(m, impl);
    if (nic) {
      check_args(nic);
      int vectors = check_vectors(m, nic, families[f]);
      if (!vectors) printf("%s: no test vectors under %s\n", families[f], vector_dir);
      check_round_trips(m, nic, families[f]);
      check_deadzone(m, nic, impl);
      if (!light) {
        check_impls(m, nic);
        check_threads(m, AIC_NN_IMPL_REF);
      }
      if (aic_nn_dnnl_available() == AIC_OK) check_threads(m, AIC_NN_IMPL_DNNL);
      check_damaged_payloads(nic, families[f]);
      if (f == 0) check_i420(m);
      check_float_layers(m, nic, families[f], impl);
      aic_nic_free(&nic);
    }
    check_damaged_models(families[f]);
    check_impl_choice(m);
    if (strcmp(families[f], "nic-rt") == 0 && !getenv("AIC_NIC_NO_TIMING")) {
      print_timing(m, families[f], AIC_NN_IMPL_REF);
      if (aic_nn_dnnl_available() == AIC_OK) print_timing(m, families[f], AIC_NN_IMPL_DNNL);
    }
    aic_model_file_free(&m);
  }
}

int main(int argc, char **argv) {
  /* The source tree is where this file is (CMake compiles it by absolute path). */
  static char src[1024], models[1100], vectors[1100];
  snprintf(src, sizeof src, "%s", __FILE__);
  char *cut = strstr(src, "/tests/unit/test_nic.c");
  if (cut)
    *cut = '\0';
  else
    snprintf(src, sizeof src, ".");
  snprintf(models, sizeof models, "%s/models", src);
  snprintf(vectors, sizeof vectors, "%s/tests/data/nn", src);
  model_dir = argc > 1 ? argv[1] : models;
  vector_dir = argc > 2 ? argv[2] : vectors;

  RUN(test_conv_ref_matches_definition);
  RUN(test_conv_bad_desc);
  RUN(test_null_args);
  RUN(test_families);
  if (!families_tested) printf("SKIP: no model in %s\n", model_dir);
  return aic_test_finish();
}
