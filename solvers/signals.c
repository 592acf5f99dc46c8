/* signals.c — preemption: SIGTERM or SIGUSR1 (what Slurm sends before a time limit or a
 * requeue) asks the run to write its checkpoint and exit with GYRE_EXIT_CHECKPOINTED. The
 * handler only records the signal; the driver polls it once per step, agreed over all
 * ranks in the same reduction that spreads a blow-up found on any rank. */
#include <signal.h>
#include "gyre_run.h"

static volatile sig_atomic_t gyre_signal_received = 0;

static void Handler(int sig)
{
  gyre_signal_received = sig;
}

PetscErrorCode GyreSignalsInstall(void)
{
  struct sigaction sa;

  PetscFunctionBegin;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = Handler;
  sa.sa_flags   = SA_RESTART; /* a blocking read/write in NetCDF or MPI resumes, not EINTR */
  sigemptyset(&sa.sa_mask);
  PetscCheck(sigaction(SIGTERM, &sa, NULL) == 0 && sigaction(SIGUSR1, &sa, NULL) == 0,
             PETSC_COMM_SELF, PETSC_ERR_SYS, "cannot install the SIGTERM/SIGUSR1 handlers");
  /* a log piped into a reader that ends early (gyre simulate ... | head) does not kill the run
   * (PETSc's handler aborted it, its output left 'running'): the writes to the closed pipe
   * fail, the run goes on to its end */
  sa.sa_handler = SIG_IGN;
  PetscCheck(sigaction(SIGPIPE, &sa, NULL) == 0, PETSC_COMM_SELF, PETSC_ERR_SYS,
             "cannot ignore SIGPIPE");
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode GyreSignalsPoll(MPI_Comm comm, PetscInt local_bad, int *signum,
                               PetscInt *bad_component)
{
  /* MAX of (signal, bad component + 1): 0 means none on any rank */
  PetscInt in[2] = {(PetscInt) gyre_signal_received, local_bad + 1}, out[2];

  PetscFunctionBegin;
  PetscCallMPI(MPI_Allreduce(in, out, 2, MPIU_INT, MPI_MAX, comm));
  *signum        = (int) out[0];
  *bad_component = out[1] - 1;
  PetscFunctionReturn(PETSC_SUCCESS);
}

int GyreSignalsReceived(void)
{
  return (int) gyre_signal_received;
}
