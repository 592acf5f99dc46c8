/* gyre_cli.h — the subcommands of the `gyre` executable that live in their own files. */
#ifndef GYRE_CLI_H
#define GYRE_CLI_H
#include <petscsys.h>

/* `gyre train` (cli/train.c): the options of GyreTrainHelp, then the trainer. *exitcode: 0, or
 * GYRE_EXIT_CHECKPOINTED after a signal. Collective. */
extern const char GyreTrainHelp[];
PetscErrorCode    GyreTrainCommand(MPI_Comm comm, int argc, char **argv, int *exitcode);
/* Releases the training's checkpoint lock (its FILE.lock removed) after the command's error */
void GyreTrainFailed(void);

/* `gyre compare` (cli/compare.c): the options of GyreCompareHelp, then the validation library's
 * GyreCompare. Collective. */
extern const char GyreCompareHelp[];
PetscErrorCode    GyreCompareCommand(MPI_Comm comm, int argc, char **argv);

/* `gyre report` (cli/report.c): checks its arguments and runs validation/report.py on rank 0.
 * Collective. */
extern const char GyreReportHelp[];
PetscErrorCode    GyreReportCommand(MPI_Comm comm, int argc, char **argv);

/* `gyre submit` (cli/submit.c): an experiment's pipeline as Slurm jobs, or -status of one.
 * Not PETSc, not MPI (a login-node command that forks sbatch): argv[0] is "submit". Returns the
 * exit status (errors printed as one line). */
int GyreSubmitCommand(int argc, char **argv);

#endif
