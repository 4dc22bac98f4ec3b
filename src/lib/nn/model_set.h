/* The learned models an engine has loaded, and a pool of runners for each.
 *
 * A model file is loaded and its network checked once (aic_nic_create on a probe runner); a
 * model that fails either is left out and the reason kept, so the engine can report the neural
 * path as unavailable and carry on with the classical codecs.
 *
 * Runners hold scratch memory and convolution plans for one frame size; creating plans costs
 * milliseconds per layer, so runners are pooled and reused across frames, sessions and
 * threads: aic_model_set_acquire hands out an idle runner (one last used at the same size when
 * there is one) or makes a new one, aic_model_set_release puts it back. The set is thread-safe. */
#ifndef AIC_NN_MODEL_SET_H
#define AIC_NN_MODEL_SET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nn/model_file.h"
#include "nn/nic.h"

#define AIC_MODEL_SET_MAX 4

typedef struct aic_model_set aic_model_set_t;

typedef struct aic_model_entry_info {
  char family[16];   /* "nic-rt" */
  char id[32];       /* family and the first 12 hex digits of the file's SHA-256 */
  uint16_t model_id; /* the id the bitstream carries */
  uint32_t version;
  unsigned levels;
  const char *impl; /* "dnnl" or "ref": what its convolutions run on */
} aic_model_entry_info_t;

/* Loads `<dir>/nic-rt.aicm` and `<dir>/nic-hq.aicm` (those present). Never fails for a missing
 * or bad model: *out gets a set that may be empty, and `why` the reasons models were left out
 * ("" when every file found loaded; "no model files in DIR" when none was there).
 * Returns 0, AIC_EINVAL (NULL arguments) or AIC_ENOMEM. */
int aic_model_set_load(const char *dir, const aic_nic_settings_t *settings, aic_model_set_t **out,
                       char *why, size_t why_size);
void aic_model_set_free(aic_model_set_t **set);

size_t aic_model_set_count(const aic_model_set_t *set);
/* Entry i's description (0 <= i < count). */
void aic_model_set_info(const aic_model_set_t *set, size_t i, aic_model_entry_info_t *info);
/* Index of the model with this bitstream model id and version, or -1. */
int aic_model_set_find(const aic_model_set_t *set, uint16_t model_id, uint32_t version);
/* Index of the model of this family, or -1. */
int aic_model_set_find_family(const aic_model_set_t *set, const char *family);

/* A runner of entry i, ready for width x height frames as far as the pool knows. Returns 0,
 * AIC_EINVAL or AIC_ENOMEM (or the runner's creation error). Give it back with release. */
int aic_model_set_acquire(aic_model_set_t *set, size_t i, int width, int height, aic_nic_t **nic);
void aic_model_set_release(aic_model_set_t *set, size_t i, aic_nic_t *nic, int width, int height);

/* Frames of fewer pixels than this do not count for the estimate: their fixed costs (padding
 * to the latent grid, the hyperprior's floor) would make large frames look slow. */
#define AIC_MODEL_SET_TIMED_MIN_PIXELS 16384

/* Records that entry i encoded a frame of `pixels` pixels in `ms` (steady state: without
 * building plans). Frames below AIC_MODEL_SET_TIMED_MIN_PIXELS, bad indices and non-positive
 * times are ignored. */
void aic_model_set_note_encode(aic_model_set_t *set, size_t i, size_t pixels, double ms);

/* The expected milliseconds of entry i encoding a frame of `pixels` pixels, from the frames it
 * has encoded (time per pixel, averaged with the recent frames weighing most), or -1 when it
 * has encoded none that count yet. */
double aic_model_set_encode_estimate(const aic_model_set_t *set, size_t i, size_t pixels);

/* A caller that ruled entry i out on its estimate says so here. Every
 * AIC_MODEL_SET_RETIME_SKIPS-th time this returns true instead: the caller should then use the
 * entry anyway, so that its estimate follows the machine (it was measured under another load,
 * or by an older runtime) instead of ruling the entry out for good on old figures. At most one
 * frame in that many pays for it. False for bad arguments. */
#define AIC_MODEL_SET_RETIME_SKIPS 50
bool aic_model_set_retime_due(aic_model_set_t *set, size_t i);

#endif
