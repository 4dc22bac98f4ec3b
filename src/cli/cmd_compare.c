/* aic compare: objective quality of B against A. PSNR covers every sample; SSIM and MS-SSIM
 * are measured on luma, as aic_frame_quality does, so the figures match what encode reports. */
#include <stdlib.h>
#include <string.h>

#include "aic/aic.h"
#include "commands.h"
#include "io_png.h"
#include "io_y4m.h"
#include "util.h"

static const char usage_text[] =
    "Usage: aic compare A B\n"
    "\n"
    "Prints PSNR (dB, over every sample; 100 for identical inputs), SSIM and MS-SSIM (on\n"
    "luma) of B against A, both .png or both .y4m of the same size. Y4M clips are compared\n"
    "frame by frame and the means printed; they must hold the same number of frames.\n"
    "A PNG with alpha against one without is compared as RGBA with an opaque alpha.\n"
    "\n"
    "Options:\n"
    "  -h, --help   this text\n";

typedef struct scores {
  double psnr;
  double ssim;
  double msssim;
  int msssim_ok;
} scores_t;

/* The luma plane of a picture: the Y plane of 4:2:0, BT.601 from R, G, B rounded as
 * aic_frame_quality rounds it. Returns a pointer into `f` or into *scratch. */
static const uint8_t *luma_of(const aic_frame_t *f, uint8_t *scratch) {
  if (f->pix_fmt == AIC_PIX_I420 || f->pix_fmt == AIC_PIX_NV12) return f->data;
  size_t bpp = f->pix_fmt == AIC_PIX_RGBA ? 4 : 3, n = (size_t)f->width * f->height;
  const uint8_t *p = f->data;
  for (size_t i = 0; i < n; i++, p += bpp)
    scratch[i] = (uint8_t)((299u * p[0] + 587u * p[1] + 114u * p[2] + 500u) / 1000u);
  return scratch;
}

static int score_frames(const aic_frame_t *a, const aic_frame_t *b, scores_t *s) {
  int err = aic_frame_quality(a, b, &s->psnr, &s->ssim);
  if (err) {
    cli_error("cannot measure quality: %s", aic_strerror(err));
    return -1;
  }
  size_t n = (size_t)a->width * a->height;
  uint8_t *scratch = malloc(2 * n);
  if (!scratch) {
    cli_error("out of memory");
    return -1;
  }
  const uint8_t *la = luma_of(a, scratch), *lb = luma_of(b, scratch + n);
  s->msssim_ok =
      aic_msssim_plane(la, a->width, lb, b->width, a->width, a->height, &s->msssim) == AIC_OK;
  free(scratch);
  return 0;
}

static void print_scores(const scores_t *s) {
  printf("psnr   %.4f dB\n", s->psnr);
  printf("ssim   %.6f\n", s->ssim);
  if (s->msssim_ok)
    printf("msssim %.6f\n", s->msssim);
  else
    printf("msssim n/a\n");
}

/* Widens an RGB24 picture to RGBA with alpha 255, as a lossy codec returns RGBA input. */
static int widen_to_rgba(cli_image_t *img) {
  size_t n = (size_t)img->width * img->height;
  uint8_t *p = malloc(n * 4);
  if (!p) {
    cli_error("out of memory");
    return -1;
  }
  for (size_t i = 0; i < n; i++) {
    memcpy(p + 4 * i, img->data + 3 * i, 3);
    p[4 * i + 3] = 255;
  }
  free(img->data);
  img->data = p;
  img->size = n * 4;
  img->fmt = AIC_PIX_RGBA;
  return 0;
}

static aic_frame_t picture_frame(const cli_image_t *img) {
  return (aic_frame_t){.type = AIC_FRAME_VIDEO,
                       .pix_fmt = img->fmt,
                       .width = img->width,
                       .height = img->height,
                       .data = img->data,
                       .size = img->size};
}

static int compare_png(const char *pa, const char *pb, const aic_frame_limits_t *limits) {
  cli_image_t a = {0}, b = {0};
  int rc = CLI_EXIT_FAIL;
  if (cli_png_read(pa, limits, &a) != 0 || cli_png_read(pb, limits, &b) != 0) goto out;
  if (a.width != b.width || a.height != b.height) {
    cli_error("%s is %ux%u but %s is %ux%u", pa, a.width, a.height, pb, b.width, b.height);
    goto out;
  }
  if (a.fmt != b.fmt && widen_to_rgba(a.fmt == AIC_PIX_RGB24 ? &a : &b) != 0) goto out;
  aic_frame_t fa = picture_frame(&a), fb = picture_frame(&b);
  scores_t s;
  if (score_frames(&fa, &fb, &s) != 0) goto out;
  print_scores(&s);
  rc = CLI_EXIT_OK;
out:
  free(a.data);
  free(b.data);
  return rc;
}

static int compare_y4m(const char *pa, const char *pb, const aic_frame_limits_t *limits) {
  cli_y4m_reader_t ra = {0}, rb = {0};
  uint8_t *buf = NULL;
  int rc = CLI_EXIT_FAIL;
  if (cli_y4m_open(&ra, pa, limits) != 0 || cli_y4m_open(&rb, pb, limits) != 0) goto out;
  if (ra.width != rb.width || ra.height != rb.height) {
    cli_error("%s is %ux%u but %s is %ux%u", pa, ra.width, ra.height, pb, rb.width, rb.height);
    goto out;
  }
  buf = malloc(2 * ra.frame_size);
  if (!buf) {
    cli_error("out of memory");
    goto out;
  }
  aic_frame_t fa = {.type = AIC_FRAME_VIDEO,
                    .pix_fmt = AIC_PIX_I420,
                    .width = ra.width,
                    .height = ra.height,
                    .data = buf,
                    .size = ra.frame_size};
  aic_frame_t fb = fa;
  fb.data = buf + ra.frame_size;
  scores_t sum = {0, 0, 0, 1};
  uint32_t frames = 0;
  for (;;) {
    int ga = cli_y4m_read_frame(&ra, buf), gb = cli_y4m_read_frame(&rb, buf + ra.frame_size);
    if (ga < 0 || gb < 0) goto out;
    if (ga != gb) {
      cli_error("%s has %s frames than %s", pa, ga ? "more" : "fewer", pb);
      goto out;
    }
    if (ga == 0) break;
    scores_t s;
    if (score_frames(&fa, &fb, &s) != 0) goto out;
    sum.psnr += s.psnr;
    sum.ssim += s.ssim;
    sum.msssim += s.msssim;
    sum.msssim_ok &= s.msssim_ok;
    frames++;
  }
  if (frames == 0) {
    cli_error("%s and %s hold no frames", pa, pb);
    goto out;
  }
  scores_t mean = {sum.psnr / frames, sum.ssim / frames, sum.msssim / frames, sum.msssim_ok};
  printf("frames %u\n", frames);
  print_scores(&mean);
  rc = CLI_EXIT_OK;
out:
  free(buf);
  cli_y4m_close(&ra);
  cli_y4m_close(&rb);
  return rc;
}

int cli_cmd_compare(int argc, char **argv) {
  const char *paths[2];
  int n = 0;
  for (int i = 0; i < argc; i++) {
    if (cli_is_help(argv[i])) {
      fputs(usage_text, stdout);
      return CLI_EXIT_OK;
    }
    if (argv[i][0] == '-' && argv[i][1] != '\0') {
      cli_error("compare: unknown option '%s' (see aic compare --help)", argv[i]);
      return CLI_EXIT_USAGE;
    }
    if (n == 2) {
      cli_error("compare: too many arguments (see aic compare --help)");
      return CLI_EXIT_USAGE;
    }
    paths[n++] = argv[i];
  }
  if (n != 2) {
    cli_error("compare wants two files (see aic compare --help)");
    return CLI_EXIT_USAGE;
  }
  aic_frame_limits_t limits;
  aic_frame_limits_default(&limits);
  if (cli_has_ext(paths[0], ".png") && cli_has_ext(paths[1], ".png"))
    return compare_png(paths[0], paths[1], &limits);
  if (cli_has_ext(paths[0], ".y4m") && cli_has_ext(paths[1], ".y4m"))
    return compare_y4m(paths[0], paths[1], &limits);
  cli_error("compare takes two .png or two .y4m files");
  return CLI_EXIT_USAGE;
}
