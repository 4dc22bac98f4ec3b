/* libaic: the AuraLink AIC compression core. Include this for the whole public API. */
#ifndef AIC_AIC_H
#define AIC_AIC_H

#include "aic/adapt.h"
#include "aic/codec.h"
#include "aic/engine.h"
#include "aic/error.h"
#include "aic/frame.h"
#include "aic/log.h"
#include "aic/metrics.h"

#define AIC_VERSION_MAJOR 0
#define AIC_VERSION_MINOR 1
#define AIC_VERSION_PATCH 0
#define AIC_VERSION_STRING "0.1.0"

#ifdef __cplusplus
extern "C" {
#endif

/* The library's version string, e.g. "0.1.0". */
const char *aic_version(void);

#ifdef __cplusplus
}
#endif
#endif
