/* libFuzzer target: any bytes handed to the .aicm model loader must give a clean refusal with a
 * reason, or a model whose every tensor, scale and layer reference lies inside it; never a
 * crash, a leak or undefined behaviour.
 * The first input byte is a mode: odd means "repair the SHA-256 first", so that the fuzzer gets
 * past the digest to the header fields, the tensor table and the architecture text. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aic/error.h"
/* libaic keeps src/lib private to itself; the loader's headers need nothing from that path. */
#include "../src/lib/core/sha256.h"
#include "../src/lib/nn/model_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Header layout of docs/model-format.md: the digest at 96..127 covers 0..95 and the payload. */
static void repair_digest(uint8_t *b, size_t size) {
  if (size < AIC_MODEL_HEADER_SIZE) return;
  aic_sha256_t s;
  aic_sha256_init(&s);
  aic_sha256_update(&s, b, 96);
  aic_sha256_update(&s, b + AIC_MODEL_HEADER_SIZE, size - AIC_MODEL_HEADER_SIZE);
  aic_sha256_final(&s, b + 96);
}

/* Reads every byte the model hands out, so that ASan sees any pointer outside its buffer. */
static unsigned touch(const aic_model_file_t *m) {
  unsigned sum = 0;
  for (size_t i = 0; i < aic_model_tensor_count(m); i++) {
    const aic_tensor_t *t = aic_model_tensor_at(m, i);
    if (aic_model_tensor(m, t->name) != t) abort(); /* names are unique and found */
    if (t->size != t->count * aic_dtype_size(t->dtype)) abort();
    if ((uintptr_t)t->data % AIC_MODEL_DATA_ALIGN != 0) abort();
    for (size_t j = 0; j < t->size; j++) sum += ((const uint8_t *)t->data)[j];
    for (size_t j = 0; j < t->scale_count; j++) {
      if (!(t->scales[j] > 0.0f)) abort();
    }
  }
  for (size_t i = 0; i < aic_model_layer_count(m); i++) {
    const aic_layer_t *l = aic_model_layer(m, i);
    for (unsigned j = 0; j < l->tensor_count; j++) {
      if (aic_layer_tensor(l, l->tensors[j].role) != l->tensors[j].tensor) abort();
      sum += ((const uint8_t *)l->tensors[j].tensor->data)[0];
    }
  }
  sum += (unsigned)strlen(aic_model_architecture(m)) + (unsigned)strlen(aic_model_family(m));
  return sum;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1 || size > (1u << 20)) return 0;
  size_t n = size - 1;
  uint8_t *b = malloc(n ? n : 1);
  if (!b) return 0;
  memcpy(b, data + 1, n);
  if (data[0] & 1) repair_digest(b, n);

  aic_model_file_t *m = NULL;
  char why[256];
  int rc = aic_model_load_memory(b, n, &m, why, sizeof why);
  if (rc == AIC_OK) {
    if (!m || why[0] != '\0') abort();
    volatile unsigned sink = touch(m);
    (void)sink;
    aic_model_file_free(&m);
    if (m) abort();
  } else if (m || why[0] == '\0' ||
             (rc != AIC_ECORRUPT && rc != AIC_EUNSUPPORTED && rc != AIC_ELIMIT)) {
    abort(); /* every refusal must say why, and be one of the documented errors */
  }
  free(b);
  return 0;
}
