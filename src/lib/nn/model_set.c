#include "nn/model_set.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "aic/error.h"

/* Idle runners kept per model; more concurrent frames than this create and drop extra ones. */
#define POOL_MAX 8

typedef struct idle_runner {
  aic_nic_t *nic;
  int width, height; /* the size it last ran at */
} idle_runner_t;

typedef struct entry {
  aic_model_file_t *file;
  aic_model_entry_info_t info;
  idle_runner_t idle[POOL_MAX];
  size_t idle_count;
  double encode_ms_per_px; /* 0: no frame timed yet */
  unsigned skipped;        /* times ruled out on the estimate since it was last measured */
} entry_t;

struct aic_model_set {
  aic_nic_settings_t settings;
  pthread_mutex_t lock;
  entry_t entries[AIC_MODEL_SET_MAX];
  size_t count;
};

static const char *const families[] = {"nic-rt", "nic-hq"};

/* Messages are cut at the buffer's end; a path may be long. */
static void set_msg(char *msg, size_t msg_size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_msg(char *msg, size_t msg_size, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, msg_size, fmt, ap);
  va_end(ap);
}

static void append_why(char *why, size_t why_size, const char *msg) {
  if (!why || !why_size) return;
  size_t n = strlen(why);
  if (n + 1 >= why_size) return;
  snprintf(why + n, why_size - n, "%s%s", n ? "; " : "", msg);
}

/* Loads one file and checks that a runner can be built from it; 0 or an AIC_E* code with the
 * reason in msg. */
static int load_entry(const char *path, const char *family, const aic_nic_settings_t *s, entry_t *e,
                      char *msg, size_t msg_size) {
  char why[256] = "";
  int rc = aic_model_load_file(path, &e->file, why, sizeof why);
  if (rc) {
    set_msg(msg, msg_size, "%s", why);
    return rc;
  }
  if (strcmp(aic_model_family(e->file), family) != 0) {
    set_msg(msg, msg_size, "%s: holds family '%s', expected '%s'", path, aic_model_family(e->file),
            family);
    aic_model_file_free(&e->file);
    return AIC_ECORRUPT;
  }
  aic_nic_t *probe = NULL;
  rc = aic_nic_create(e->file, s, &probe, why, sizeof why);
  if (rc) {
    set_msg(msg, msg_size, "%s: cannot run this network: %s", path, why);
    aic_model_file_free(&e->file);
    return rc;
  }
  aic_model_entry_info_t *info = &e->info;
  memset(info, 0, sizeof *info);
  snprintf(info->family, sizeof info->family, "%s", family);
  const uint8_t *d = aic_model_sha256(e->file);
  snprintf(info->id, sizeof info->id, "%s-%02x%02x%02x%02x%02x%02x", family, d[0], d[1], d[2], d[3],
           d[4], d[5]);
  info->model_id = aic_model_id(e->file);
  info->version = aic_model_version(e->file);
  info->levels = aic_model_levels(e->file);
  info->impl = aic_nic_impl(probe) == AIC_NN_IMPL_DNNL ? "dnnl" : "ref";
  e->idle[0] = (idle_runner_t){probe, 0, 0};
  e->idle_count = 1;
  return AIC_OK;
}

int aic_model_set_load(const char *dir, const aic_nic_settings_t *settings, aic_model_set_t **out,
                       char *why, size_t why_size) {
  if (why && why_size) why[0] = '\0';
  if (!dir || !out) return AIC_EINVAL;
  *out = NULL;
  aic_model_set_t *set = calloc(1, sizeof *set);
  if (!set) return AIC_ENOMEM;
  if (settings)
    set->settings = *settings;
  else
    aic_nic_settings_default(&set->settings);
  if (pthread_mutex_init(&set->lock, NULL) != 0) {
    free(set);
    return AIC_ENOMEM;
  }
  size_t found = 0;
  for (size_t f = 0; f < sizeof families / sizeof families[0]; f++) {
    char path[4096];
    if (snprintf(path, sizeof path, "%s/%s.aicm", dir, families[f]) >= (int)sizeof path) continue;
    struct stat st;
    if (stat(path, &st) != 0 && errno == ENOENT) continue;
    found++;
    char msg[512];
    int rc =
        load_entry(path, families[f], &set->settings, &set->entries[set->count], msg, sizeof msg);
    if (rc == AIC_ENOMEM) {
      aic_model_set_free(&set);
      return rc;
    }
    if (rc)
      append_why(why, why_size, msg);
    else
      set->count++;
  }
  if (found == 0) {
    char msg[512];
    set_msg(msg, sizeof msg, "no model files (nic-rt.aicm, nic-hq.aicm) in %s", dir);
    append_why(why, why_size, msg);
  }
  *out = set;
  return AIC_OK;
}

void aic_model_set_free(aic_model_set_t **set) {
  if (!set || !*set) return;
  aic_model_set_t *s = *set;
  for (size_t i = 0; i < s->count; i++) {
    for (size_t k = 0; k < s->entries[i].idle_count; k++) aic_nic_free(&s->entries[i].idle[k].nic);
    aic_model_file_free(&s->entries[i].file);
  }
  pthread_mutex_destroy(&s->lock);
  free(s);
  *set = NULL;
}

size_t aic_model_set_count(const aic_model_set_t *set) {
  return set ? set->count : 0;
}

void aic_model_set_info(const aic_model_set_t *set, size_t i, aic_model_entry_info_t *info) {
  if (!set || i >= set->count || !info) return;
  *info = set->entries[i].info;
}

int aic_model_set_find(const aic_model_set_t *set, uint16_t model_id, uint32_t version) {
  for (size_t i = 0; set && i < set->count; i++)
    if (set->entries[i].info.model_id == model_id && set->entries[i].info.version == version)
      return (int)i;
  return -1;
}

int aic_model_set_find_family(const aic_model_set_t *set, const char *family) {
  for (size_t i = 0; set && family && i < set->count; i++)
    if (strcmp(set->entries[i].info.family, family) == 0) return (int)i;
  return -1;
}

int aic_model_set_acquire(aic_model_set_t *set, size_t i, int width, int height, aic_nic_t **nic) {
  if (!set || i >= set->count || !nic) return AIC_EINVAL;
  *nic = NULL;
  entry_t *e = &set->entries[i];
  pthread_mutex_lock(&set->lock);
  if (e->idle_count > 0) {
    /* Prefer a runner already sized for this frame: it has its plans. */
    size_t pick = e->idle_count - 1;
    for (size_t k = 0; k < e->idle_count; k++)
      if (e->idle[k].width == width && e->idle[k].height == height) pick = k;
    *nic = e->idle[pick].nic;
    e->idle[pick] = e->idle[--e->idle_count];
  }
  pthread_mutex_unlock(&set->lock);
  if (*nic) return AIC_OK;
  char why[256];
  return aic_nic_create(e->file, &set->settings, nic, why, sizeof why);
}

void aic_model_set_release(aic_model_set_t *set, size_t i, aic_nic_t *nic, int width, int height) {
  if (!nic) return;
  if (!set || i >= set->count) {
    aic_nic_free(&nic);
    return;
  }
  entry_t *e = &set->entries[i];
  pthread_mutex_lock(&set->lock);
  if (e->idle_count < POOL_MAX) {
    e->idle[e->idle_count++] = (idle_runner_t){nic, width, height};
    nic = NULL;
  }
  pthread_mutex_unlock(&set->lock);
  aic_nic_free(&nic);
}

void aic_model_set_note_encode(aic_model_set_t *set, size_t i, size_t pixels, double ms) {
  if (!set || i >= set->count || pixels < AIC_MODEL_SET_TIMED_MIN_PIXELS || !(ms > 0.0)) return;
  const double per_px = ms / (double)pixels;
  entry_t *e = &set->entries[i];
  pthread_mutex_lock(&set->lock);
  /* Half the weight on the newest frame: follows a change of machine load within a few frames
   * without letting one descheduled frame decide. */
  e->encode_ms_per_px = e->encode_ms_per_px > 0.0 ? 0.5 * (e->encode_ms_per_px + per_px) : per_px;
  e->skipped = 0;
  pthread_mutex_unlock(&set->lock);
}

bool aic_model_set_retime_due(aic_model_set_t *set, size_t i) {
  if (!set || i >= set->count) return false;
  entry_t *e = &set->entries[i];
  pthread_mutex_lock(&set->lock);
  const bool due = ++e->skipped >= AIC_MODEL_SET_RETIME_SKIPS;
  if (due) e->skipped = 0;
  pthread_mutex_unlock(&set->lock);
  return due;
}

double aic_model_set_encode_estimate(const aic_model_set_t *set, size_t i, size_t pixels) {
  if (!set || i >= set->count) return -1.0;
  aic_model_set_t *s = (aic_model_set_t *)set; /* the lock only: nothing else changes */
  pthread_mutex_lock(&s->lock);
  const double per_px = set->entries[i].encode_ms_per_px;
  pthread_mutex_unlock(&s->lock);
  return per_px > 0.0 ? per_px * (double)pixels : -1.0;
}
