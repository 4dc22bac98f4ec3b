/* The subcommands of aic. Each takes the arguments after its name and returns an exit code
 * (CLI_EXIT_*), having reported any failure as one "aic: ..." line on stderr. */
#ifndef AIC_CLI_COMMANDS_H
#define AIC_CLI_COMMANDS_H

#include "aic/engine.h"

int cli_cmd_encode(aic_engine_t *engine, int argc, char **argv);
int cli_cmd_decode(aic_engine_t *engine, int argc, char **argv);
int cli_cmd_info(aic_engine_t *engine, int argc, char **argv);
int cli_cmd_compare(int argc, char **argv);

#endif
