#include "aic/aic.h"

const char *aic_version(void) {
  return AIC_VERSION_STRING;
}
