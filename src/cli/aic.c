/* aic: the command-line tool of AuraLink AIC. This first version handles raw frames and the
 * lossless codecs; image, video and audio containers join with the lossy codecs. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aic/aic.h"

static void usage(FILE *out) {
  fprintf(out,
          "Usage:\n"
          "  aic encode --format FMT --size WxH [--codec zstd|zlib] RAW OUT.aic\n"
          "      FMT: i420, nv12, rgb24, rgba; RAW holds one tightly packed frame\n"
          "  aic decode IN.aic OUT.raw\n"
          "  aic info FILE.aic\n"
          "  aic version\n");
}

static int read_all(const char *path, uint8_t **data, size_t *size) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "aic: cannot open %s: %s\n", path, strerror(errno));
    return -1;
  }
  uint8_t *buf = NULL;
  size_t n = 0, cap = 0;
  for (;;) {
    if (n == cap) {
      cap = cap ? cap * 2 : 1 << 16;
      uint8_t *p = realloc(buf, cap);
      if (!p) {
        free(buf);
        fclose(f);
        fprintf(stderr, "aic: out of memory reading %s\n", path);
        return -1;
      }
      buf = p;
    }
    size_t got = fread(buf + n, 1, cap - n, f);
    n += got;
    if (got == 0) break;
  }
  int failed = ferror(f);
  fclose(f);
  if (failed) {
    free(buf);
    fprintf(stderr, "aic: error reading %s\n", path);
    return -1;
  }
  *data = buf;
  *size = n;
  return 0;
}

static int write_all(const char *path, const uint8_t *data, size_t size) {
  FILE *f = fopen(path, "wb");
  if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0) {
    fprintf(stderr, "aic: cannot write %s: %s\n", path, strerror(errno));
    return -1;
  }
  return 0;
}

static int parse_format(const char *s, aic_pixel_format_t *fmt) {
  static const struct {
    const char *name;
    aic_pixel_format_t fmt;
  } names[] = {{"i420", AIC_PIX_I420},
               {"nv12", AIC_PIX_NV12},
               {"rgb24", AIC_PIX_RGB24},
               {"rgba", AIC_PIX_RGBA}};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (strcmp(s, names[i].name) == 0) {
      *fmt = names[i].fmt;
      return 0;
    }
  return -1;
}

static int cmd_encode(aic_engine_t *engine, int argc, char **argv) {
  aic_frame_t frame = {.type = AIC_FRAME_VIDEO};
  aic_encode_params_t params;
  aic_encode_params_default(&params);
  params.mode = AIC_MODE_LOSSLESS;
  const char *paths[2] = {0};
  int npaths = 0;
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(a, "--format") == 0 && v) {
      if (parse_format(v, &frame.pix_fmt) != 0) {
        fprintf(stderr, "aic: unknown format '%s'\n", v);
        return 2;
      }
      i++;
    } else if (strcmp(a, "--size") == 0 && v) {
      if (sscanf(v, "%ux%u", &frame.width, &frame.height) != 2) {
        fprintf(stderr, "aic: --size wants WxH, got '%s'\n", v);
        return 2;
      }
      i++;
    } else if (strcmp(a, "--codec") == 0 && v) {
      if (strcmp(v, "zstd") == 0)
        params.codec_preference = AIC_CODEC_ZSTD;
      else if (strcmp(v, "zlib") == 0)
        params.codec_preference = AIC_CODEC_ZLIB;
      else {
        fprintf(stderr, "aic: codec '%s' is not available\n", v);
        return 2;
      }
      i++;
    } else if (a[0] == '-' || npaths == 2) {
      usage(stderr);
      return 2;
    } else {
      paths[npaths++] = a;
    }
  }
  if (npaths != 2) {
    usage(stderr);
    return 2;
  }
  uint8_t *raw;
  if (read_all(paths[0], &raw, &frame.size) != 0) return 1;
  frame.data = raw;
  aic_encode_result_t res;
  char why[256];
  int rc = aic_engine_compress(engine, NULL, &frame, &params, &res, why, sizeof why);
  free(raw);
  if (rc) {
    fprintf(stderr, "aic: %s\n", why[0] ? why : aic_strerror(rc));
    return 1;
  }
  rc = write_all(paths[1], res.bitstream, res.bitstream_size);
  if (rc == 0)
    printf("%s: %zu -> %zu bytes (ratio %.4f), PSNR %.2f dB, SSIM %.6f, %.2f ms\n",
           aic_codec_name(res.codec), res.original_size, res.bitstream_size, res.ratio, res.psnr_db,
           res.ssim, res.encode_ms);
  aic_encode_result_clear(&res);
  return rc ? 1 : 0;
}

static int cmd_decode(aic_engine_t *engine, int argc, char **argv) {
  if (argc != 2) {
    usage(stderr);
    return 2;
  }
  uint8_t *bs;
  size_t size;
  if (read_all(argv[0], &bs, &size) != 0) return 1;
  aic_decoded_frame_t dec;
  char why[256];
  int rc = aic_engine_decompress(engine, NULL, bs, size, &dec, why, sizeof why);
  free(bs);
  if (rc) {
    fprintf(stderr, "aic: %s\n", why[0] ? why : aic_strerror(rc));
    return 1;
  }
  rc = write_all(argv[1], dec.frame.data, dec.frame.size);
  aic_decoded_frame_clear(&dec);
  return rc ? 1 : 0;
}

static int cmd_info(aic_engine_t *engine, int argc, char **argv) {
  if (argc != 1) {
    usage(stderr);
    return 2;
  }
  uint8_t *bs;
  size_t size;
  if (read_all(argv[0], &bs, &size) != 0) return 1;
  aic_bitstream_info_t info;
  char why[256];
  int rc = aic_bitstream_probe(engine, bs, size, &info, why, sizeof why);
  free(bs);
  if (rc) {
    fprintf(stderr, "aic: %s: %s\n", argv[0], why[0] ? why : aic_strerror(rc));
    return 1;
  }
  const aic_frame_t *f = &info.frame;
  printf("codec:      %s\n", aic_codec_name(info.codec));
  printf("frame type: %s\n", aic_frame_type_name(f->type));
  if (f->type == AIC_FRAME_AUDIO)
    printf("audio:      %s, %u Hz, %u channels\n", aic_audio_format_name(f->audio_fmt),
           f->sample_rate, f->channels);
  else
    printf("picture:    %s %ux%u\n", aic_pixel_format_name(f->pix_fmt), f->width, f->height);
  printf("keyframe:   %s\n", info.keyframe ? "yes" : "no");
  printf("sizes:      %zu bytes raw, %zu bytes bitstream (ratio %.4f)\n", f->size, size,
         f->size ? (double)size / (double)f->size : 0.0);
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0) {
    usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  if (strcmp(argv[1], "version") == 0 || strcmp(argv[1], "--version") == 0) {
    printf("aic %s\n", aic_version());
    return 0;
  }
  aic_engine_t *engine;
  if (aic_engine_create(NULL, &engine) != AIC_OK) {
    fprintf(stderr, "aic: cannot create the engine\n");
    return 1;
  }
  int rc;
  if (strcmp(argv[1], "encode") == 0)
    rc = cmd_encode(engine, argc - 2, argv + 2);
  else if (strcmp(argv[1], "decode") == 0)
    rc = cmd_decode(engine, argc - 2, argv + 2);
  else if (strcmp(argv[1], "info") == 0)
    rc = cmd_info(engine, argc - 2, argv + 2);
  else {
    usage(stderr);
    rc = 2;
  }
  aic_engine_free(&engine);
  return rc;
}
