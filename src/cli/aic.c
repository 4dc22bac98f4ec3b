/* aic: the command-line tool of AuraLink AIC. This file only dispatches: each subcommand lives
 * in its own cmd_*.c, each file format in its own io_*.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aic/aic.h"
#include "commands.h"
#include "util.h"

static void usage(FILE *out) {
  fprintf(out,
          "Usage: aic COMMAND [OPTIONS] ...\n"
          "\n"
          "Commands:\n"
          "  encode   IN OUT.aic      compress a .png, .y4m, .wav (or a raw frame)\n"
          "  decode   IN.aic OUT      restore into .png, .y4m, .wav or .raw\n"
          "  info     FILE.aic        frames, codecs, format, sizes, bits per pixel or kbps\n"
          "  compare  A B             PSNR, SSIM and MS-SSIM of two .png or two .y4m\n"
          "  bench                    see make bench\n"
          "  version                  print the library version\n"
          "\n"
          "aic COMMAND --help documents each command. Exit status: 0 success, 1 failure,\n"
          "2 usage error. Errors are one line on stderr starting with \"aic:\".\n");
}

static int needs_engine(const char *cmd) {
  return strcmp(cmd, "encode") == 0 || strcmp(cmd, "decode") == 0 || strcmp(cmd, "info") == 0;
}

static int run_with_engine(const char *cmd, int argc, char **argv) {
  aic_engine_t *engine;
  aic_engine_settings_t settings;
  aic_engine_settings_default(&settings);
  /* The learned models: AIC_MODELS_DIR, else the folder this build was configured with. */
  const char *models = getenv("AIC_MODELS_DIR");
  settings.models_dir = models ? models : AIC_DEFAULT_MODELS_DIR;
  const char *threads = getenv("AIC_NN_THREADS");
  if (threads && atoi(threads) >= 1 && atoi(threads) <= 64) settings.nn_threads = atoi(threads);
  if (aic_engine_create(&settings, &engine) != AIC_OK) {
    cli_error("cannot create the engine");
    return CLI_EXIT_FAIL;
  }
  int rc;
  if (strcmp(cmd, "encode") == 0)
    rc = cli_cmd_encode(engine, argc, argv);
  else if (strcmp(cmd, "decode") == 0)
    rc = cli_cmd_decode(engine, argc, argv);
  else
    rc = cli_cmd_info(engine, argc, argv);
  aic_engine_free(&engine);
  return rc;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    usage(stderr);
    return CLI_EXIT_USAGE;
  }
  const char *cmd = argv[1];
  if (cli_is_help(cmd) || strcmp(cmd, "help") == 0) {
    usage(stdout);
    return CLI_EXIT_OK;
  }
  if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
    printf("aic %s\n", aic_version());
    return CLI_EXIT_OK;
  }
  if (needs_engine(cmd)) return run_with_engine(cmd, argc - 2, argv + 2);
  if (strcmp(cmd, "compare") == 0) return cli_cmd_compare(argc - 2, argv + 2);
  if (strcmp(cmd, "bench") == 0) {
    if (argc > 2 && cli_is_help(argv[2])) {
      printf("Usage: aic bench\n\nNot implemented here: run `make bench`.\n");
      return CLI_EXIT_OK;
    }
    cli_error("bench is not part of the command line yet: see make bench");
    return CLI_EXIT_FAIL;
  }
  cli_error("unknown command '%s' (see aic --help)", cmd);
  return CLI_EXIT_USAGE;
}
