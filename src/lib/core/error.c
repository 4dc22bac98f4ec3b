#include "aic/error.h"

const char *aic_strerror(int err) {
  switch (err) {
    case AIC_OK: return "success";
    case AIC_EINVAL: return "invalid argument";
    case AIC_ENOMEM: return "out of memory";
    case AIC_ECORRUPT: return "corrupt or truncated data";
    case AIC_EUNSUPPORTED: return "not supported by this build";
    case AIC_ELIMIT: return "limit exceeded";
    case AIC_EQUALITY: return "quality floor not met";
    case AIC_ECODEC: return "codec failure";
    case AIC_EIO: return "input/output error";
    case AIC_ENOTFOUND: return "not found";
    case AIC_ESTATE: return "invalid state";
    default: return "unknown error";
  }
}
