/* libFuzzer target: any config file must load or be refused with a message. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static char path[64];
  if (!path[0]) snprintf(path, sizeof path, "/tmp/aic-fuzz-config-%ld.conf", (long)getpid());
  FILE *f = fopen(path, "wb");
  if (!f) abort();
  fwrite(data, 1, size, f);
  fclose(f);
  char *argv[] = {"aicd", "--config", path, NULL};
  char *envp[] = {NULL};
  aicd_config_t cfg;
  char why[512];
  FILE *out = fopen("/dev/null", "w");
  int rc = aicd_config_load(&cfg, 3, argv, envp, out, why, sizeof why);
  fclose(out);
  unlink(path);
  if (rc != AICD_CONFIG_OK && why[0] == '\0') abort();
  return 0;
}
