/* The .aicm model file of the learned codec (layout byte by byte in docs/model-format.md): a
 * versioned header, an architecture text, a tensor table and the tensor data, sealed by a
 * SHA-256. The loader trusts nothing in the file: every field is checked against the bytes
 * present before it is used, so a truncated, corrupted, hostile or newer file is refused with a
 * reason and the engine can fall back to the classical codecs.
 *
 * A loaded model is immutable: any number of threads may read it at once. */
#ifndef AIC_NN_MODEL_FILE_H
#define AIC_NN_MODEL_FILE_H

#include <stddef.h>
#include <stdint.h>

#define AIC_MODEL_FORMAT_VERSION 1
#define AIC_MODEL_HEADER_SIZE 128
#define AIC_MODEL_TENSOR_ENTRY_SIZE 128
#define AIC_MODEL_MAX_FILE_SIZE (64u << 20) /* whole file, header included */
#define AIC_MODEL_MAX_ARCH_SIZE (1u << 20)
#define AIC_MODEL_MAX_TENSORS 4096
#define AIC_MODEL_MAX_LAYERS 1024
#define AIC_MODEL_MAX_LEVELS 64
#define AIC_MODEL_MAX_NAME 63   /* tensor and layer names */
#define AIC_MODEL_MAX_TOKEN 31  /* family, layer type, activation, tensor role */
#define AIC_MODEL_MAX_FAMILY 15 /* fits the 16-byte header field with its NUL */
#define AIC_MODEL_MAX_RANK 4
#define AIC_MODEL_MAX_LAYER_TENSORS 8
#define AIC_MODEL_DATA_ALIGN 64 /* tensor data, for aligned SIMD loads */

typedef struct aic_model_file aic_model_file_t;

/* Element types; the values are the file's dtype codes. */
typedef enum aic_dtype {
  AIC_DTYPE_F32 = 1,
  AIC_DTYPE_I8 = 2,
  AIC_DTYPE_U8 = 3,
  AIC_DTYPE_I16 = 4,
  AIC_DTYPE_I32 = 5,
  AIC_DTYPE_U16 = 6,
} aic_dtype_t;

/* Quantization of a tensor: real = scale * (q - zero_point). */
typedef enum aic_quant {
  AIC_QUANT_NONE = 0,    /* f32 values, or plain integers (entropy tables, integer biases) */
  AIC_QUANT_TENSOR = 1,  /* one scale */
  AIC_QUANT_CHANNEL = 2, /* one scale per index of dims[axis] */
} aic_quant_t;

typedef struct aic_tensor {
  char name[AIC_MODEL_MAX_NAME + 1];
  aic_dtype_t dtype;
  unsigned rank;                     /* 1..4 */
  uint32_t dims[AIC_MODEL_MAX_RANK]; /* outermost first; dims[rank..3] are 1 */
  size_t count;                      /* elements: the product of dims */
  size_t size;                       /* bytes of data: count * aic_dtype_size(dtype) */
  const void *data;                  /* row-major, little-endian, AIC_MODEL_DATA_ALIGN aligned */
  aic_quant_t quant;
  unsigned axis;       /* the channel axis of AIC_QUANT_CHANNEL, else 0 */
  size_t scale_count;  /* 0 (none), 1 (tensor) or dims[axis] (channel) */
  const float *scales; /* finite and > 0; NULL when scale_count is 0 */
  int32_t zero_point;  /* within the dtype's range; 0 when not quantized */
} aic_tensor_t;

/* A tensor a layer uses, under the role the engine knows it by ("weight", "bias", "beta"). */
typedef struct aic_layer_tensor {
  char role[AIC_MODEL_MAX_TOKEN + 1];
  const aic_tensor_t *tensor; /* never NULL: the loader resolves every reference */
} aic_layer_tensor_t;

/* One line of the architecture text. The loader checks syntax, ranges and tensor references;
 * whether it knows a type or activation is the engine's business. */
typedef struct aic_layer {
  char name[AIC_MODEL_MAX_NAME + 1];
  char type[AIC_MODEL_MAX_TOKEN + 1]; /* "conv2d", "deconv2d", "gdn", ... */
  char act[AIC_MODEL_MAX_TOKEN + 1];  /* "none" unless given */
  uint32_t in, out;                   /* channels, 1..65536 */
  uint32_t kernel, stride;            /* 1..31 and 1..16; 1 unless given */
  unsigned tensor_count;
  aic_layer_tensor_t tensors[AIC_MODEL_MAX_LAYER_TENSORS]; /* in the order of the text */
} aic_layer_t;

/* Bytes per element of `dtype`, 0 for an unknown one. */
size_t aic_dtype_size(aic_dtype_t dtype);
/* "f32", "i8", ...; "?" for an unknown dtype. */
const char *aic_dtype_name(aic_dtype_t dtype);

/* Loads and checks the model file at `path`. On success *out owns everything it points to
 * (free it with aic_model_file_free); on failure *out is NULL and `why` (if non-NULL) says
 * exactly what failed. Returns 0, AIC_EINVAL (NULL path or out), AIC_EIO (cannot open or read,
 * not a regular file), AIC_ELIMIT (file over AIC_MODEL_MAX_FILE_SIZE), AIC_ENOMEM,
 * AIC_ECORRUPT (bad magic, truncated, checksum mismatch, any field out of bounds) or
 * AIC_EUNSUPPORTED (a format version newer than this loader, or a big-endian host). */
int aic_model_load_file(const char *path, aic_model_file_t **out, char *why, size_t why_size);

/* As aic_model_load_file, from `size` bytes at `data`. The bytes are copied into an aligned
 * buffer the model owns (so that tensor data is AIC_MODEL_DATA_ALIGN aligned whatever the
 * caller's buffer): the caller keeps `data` and may free it as soon as the call returns, on
 * success or failure. AIC_EIO is not returned. */
int aic_model_load_memory(const uint8_t *data, size_t size, aic_model_file_t **out, char *why,
                          size_t why_size);

/* Frees the model and sets *m to NULL. Accepts NULL and a pointer to NULL. Every tensor, layer
 * and string obtained from the model dies with it. */
void aic_model_file_free(aic_model_file_t **m);

/* Header fields. `m` must be a loaded model. */
const char *aic_model_family(const aic_model_file_t *m); /* "nic-rt", "nic-hq", ... */
uint16_t aic_model_id(const aic_model_file_t *m);        /* >= 1 */
uint32_t aic_model_version(const aic_model_file_t *m);
unsigned aic_model_levels(const aic_model_file_t *m); /* quality levels, 1..64 */
/* The file's SHA-256 (docs/model-format.md says what it covers): identifies the exact model. */
const uint8_t *aic_model_sha256(const aic_model_file_t *m);

/* The architecture text as stored, NUL-terminated, and its parsed lines. */
const char *aic_model_architecture(const aic_model_file_t *m);
size_t aic_model_layer_count(const aic_model_file_t *m);
/* NULL when i >= aic_model_layer_count(m). */
const aic_layer_t *aic_model_layer(const aic_model_file_t *m, size_t i);
/* The tensor the layer uses under `role`, or NULL. */
const aic_tensor_t *aic_layer_tensor(const aic_layer_t *layer, const char *role);

/* Tensors in file order; NULL when i >= aic_model_tensor_count(m). */
size_t aic_model_tensor_count(const aic_model_file_t *m);
const aic_tensor_t *aic_model_tensor_at(const aic_model_file_t *m, size_t i);
/* The tensor called `name`, or NULL (also for a NULL name). O(log n). */
const aic_tensor_t *aic_model_tensor(const aic_model_file_t *m, const char *name);

#endif
