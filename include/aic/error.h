/* Error codes of libaic. Every function returns 0 on success or one of these (negative). */
#ifndef AIC_ERROR_H
#define AIC_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

enum {
  AIC_OK = 0,
  AIC_EINVAL = -1,       /* an argument is malformed or out of range */
  AIC_ENOMEM = -2,       /* an allocation failed */
  AIC_ECORRUPT = -3,     /* a bitstream or file is truncated, corrupted or of the wrong version */
  AIC_EUNSUPPORTED = -4, /* a codec, format or feature is not available in this build */
  AIC_ELIMIT = -5,       /* a configured limit (size, count) was exceeded */
  AIC_EQUALITY = -6,     /* no codec met the quality floor */
  AIC_ECODEC = -7,       /* a codec library reported a failure */
  AIC_EIO = -8,          /* reading or writing a file failed */
  AIC_ENOTFOUND = -9,    /* a named item (session, model) does not exist */
  AIC_ESTATE = -10,      /* the call is not valid in the object's current state */
};

/* A static, human-readable description of an AIC_E* code ("unknown error" for others). */
const char *aic_strerror(int err);

#ifdef __cplusplus
}
#endif
#endif
