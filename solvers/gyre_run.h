/* gyre_run.h — the state of one `gyre simulate` run, shared by the driver's parts:
 * driver.c (the narrative), timestepper.c (TS set-up), output.c (the output file),
 * checkpoint.c (checkpoints and restart) and signals.c (preemption). Internal. */
#ifndef GYRE_RUN_H
#define GYRE_RUN_H

#include <limits.h>
#include "gyre_model.h"

typedef struct _p_GyreGuard    *GyreGuard;
typedef struct _p_GyreEmulator *GyreEmulator;

typedef struct {
  GyreModel model;
  TS        ts;
  Vec      *Us; /* one state per ensemble member, all advanced in lock-step */
  Vec       U;  /* the member being worked on (one of Us) */
  MPI_Comm  comm;

  /* options */
  char      output[PATH_MAX];
  PetscBool output_overwrite;
  PetscInt  output_deflate;
  char      output_precision[16]; /* "" = the model's default per field */
  char      checkpoint[PATH_MAX];
  char      restart[PATH_MAX];
  char      initial_file[PATH_MAX];
  PetscReal initial_time;
  PetscBool quiet;
  PetscReal dt, tmax;
  PetscBool dt_restart;            /* dt is the checkpoint's (a restart without -ts_dt) */
  PetscInt  restart_output_steps;  /* a restart at its checkpoint's dt (that one, or the same
                                    * -ts_dt): its steps between outputs (0: none, unknown) */
  PetscInt output_every_steps;     /* steps between output records */
  PetscInt checkpoint_every_steps; /* 0: only at the end (and on a signal) */

  /* the run's clock: model time is always step * dt */
  PetscInt  nsteps;            /* the absolute step of -ts_max_time */
  PetscInt  step_first;        /* the step of the first output record (initial time / dt) */
  PetscInt  member;            /* the member U is (0..ensemble_size-1) */
  PetscInt  step;              /* current step */
  PetscBool restart_each_step; /* TSRestartStep before every step (GyreRunSetUpTS says when) */

  /* output */
  GyreFile  out;
  PetscBool output_made;    /* this run has written to run->output (it may be closed since) */
  PetscBool failed_done;    /* GyreRunOutputFailed has dealt with the files (once: its note is in
                             * the run's error, which GyreSimulateFailed must not repeat) */
  char   *output_aside;     /* the file -output_overwrite replaces, aside until the end */
  char   *checkpoint_aside; /* and the checkpoint that went with it */
  int     varids[GYRE_MAX_FIELDS];
  double *buf;
  char   *command_line, *options;

  /* surrogates */
  PetscInt          advance_steps; /* steps per advance: 1, or the emulator's stride in steps */
  GyreEmulator      emulator;      /* -surrogate_mode emulator (emulator.c), or NULL */
  GyreSurrogateEval surrogate;     /* the learned closure's or the emulator's network, borrowed */
  GyreGuard         guard;         /* the surrogate's guard (guard.c), or NULL */

  int       checkpoint_lock; /* rank 0: the fd holding FILE.lock (GyreRunCheckpointLock), or -1 */
  double    wall_stepping;   /* seconds spent in time steps */
  PetscBool checkpoint_written; /* this run has written run->checkpoint */
  char      start_time[32];
} GyreRun;

/* timestepper.c */
PetscErrorCode GyreRunSetUpTS(GyreRun *run);
PetscErrorCode GyreRunDestroyTS(GyreRun *run);
/* Advances member run->member (run->U) by n physics steps of the TS from step run->step (the
 * clock exact: step * dt); restart: the TS is pointed at run->U and forgets its last stages
 * (a state the TS did not compute), which an ensemble's members do at every step (they share
 * the TS). Collective. */
PetscErrorCode GyreRunStepPhysics(GyreRun *run, PetscInt n, PetscBool restart);

/* emulator.c: -surrogate FILE -surrogate_mode emulator (run->emulator NULL otherwise) */
/* Loads the emulator and checks it against the model (mode, fields, grid, stride known);
 * *stride: its advance in model time (lead x record_dt), 0 without an emulator. Collective. */
PetscErrorCode GyreEmulatorCreate(GyreRun *run, PetscReal *stride);
/* With dt fixed: the stride in whole steps (run->advance_steps); a dt that does not divide it
 * is an error naming both and a dt that does. Also allocates the history buffers. The driver
 * then makes every interval whole strides. Collective. */
PetscErrorCode GyreEmulatorSetUpStep(GyreRun *run);
/* "surrogate 'F' advances by 0.1 = 20 steps of dt = 0.005, lead 2 x record spacing 0.05 of its
 * training data" (the steps once known) for messages. */
PetscErrorCode GyreEmulatorDescribeStride(GyreRun *run, char *buf, size_t len);
/* Starts every member's history at its current state (a start or a restart). */
PetscErrorCode GyreEmulatorStart(GyreRun *run);
/* Advances member run->member by one stride: the network, or a physics advance (history
 * still filling, -surrogate_physics_every, guard cooldown, or a guard trip). Collective. */
PetscErrorCode GyreEmulatorAdvance(GyreRun *run);
PetscErrorCode GyreEmulatorDestroy(GyreRun *run);
/* "emulator (advance 0.05 = 10 steps, history 2, -surrogate_physics_every 0)" for provenance. */
PetscErrorCode GyreEmulatorDescribe(GyreRun *run, char *buf, size_t len);

/* output.c */
PetscErrorCode GyreRunOutputCreate(GyreRun *run);
/* Continues the output of a checkpointed run: checks the file is this run's (model,
 * parameters, dt, record nrec_keep-1 at time t_last), keeps its first nrec_keep records
 * (a fresh parallel-created copy) and opens it for appending. Collective. */
PetscErrorCode GyreRunOutputOpenForRestart(GyreRun *run, size_t nrec_keep, double t_last);
/* Writes the record of run->step (if it is an output step) for every member. Collective. */
PetscErrorCode GyreRunOutputWrite(GyreRun *run);
/* Closes the output, finished (the run's end: the files it replaced are removed) or not
 * (stopped by a signal, to be continued: they stay, for the next leg). Collective. */
PetscErrorCode GyreRunOutputClose(GyreRun *run, PetscBool finished);
/* The output of a run that failed: closes it (interrupted) and, where it replaced a file,
 * moves it and the run's checkpoint to PATH.failed and puts the earlier files back; says
 * which in note ("" where there was no output). Collective. */
PetscErrorCode GyreRunOutputFailed(GyreRun *run, char *note, size_t len);
/* The same renames by this rank alone, where its error ends the job (MPI_Abort) and the output
 * cannot be closed: the earlier files back, the run's unclosed records as PATH.failed; note as
 * GyreRunOutputFailed's ("" where nothing was replaced). Not collective. */
void GyreRunOutputAbandon(GyreRun *run, char *note, size_t len);
/* The record index of step (or -1 when step is not an output step). */
PetscInt GyreRunOutputRecord(const GyreRun *run, PetscInt step);

/* checkpoint.c */
/* One run at a time on a checkpoint: rank 0 takes an exclusive flock(2) on FILE.lock beside
 * -checkpoint FILE and holds it for the run's life (the kernel lets go when the process ends,
 * however it ends; GyreCheckpointUnlock removes the file as the run ends). Held by another process,
 * it waits up to GYRE_CHECKPOINT_LOCK_WAIT seconds (default 60: a requeued job whose earlier step
 * is still finishing its checkpoint), saying so, then stops with one error naming the holder's pid.
 * Where the file system has no flock (or FILE.lock cannot be made) nothing is locked. Collective;
 * nothing without -checkpoint. */
PetscErrorCode GyreRunCheckpointLock(GyreRun *run);
/* The same for any checkpoint path (gyre train's): who names the command in the waiting line,
 * opt the option in the error; *lockfd: rank 0's fd holding the lock, or -1 */
PetscErrorCode GyreCheckpointLock(MPI_Comm comm, const char *path, const char *who, const char *opt,
                                  int *lockfd);
/* Lets go of the lock GyreCheckpointLock took (lockfd >= 0: rank 0's; else nothing) and removes
 * path.lock, so that a run that ends leaves no lock file beside its checkpoint (a waiter, whose
 * file is then gone, locks the one at the path afresh). A run that dies without it leaves the
 * file, unlocked: harmless, the next run locks it. */
void           GyreCheckpointUnlock(const char *path, int lockfd);
PetscErrorCode GyreRunCheckpointWrite(GyreRun *run, const char *path);
/* Loads every member's state and run->step from a checkpoint after checking it belongs to
 * this run. Collective. */
PetscErrorCode GyreRunCheckpointRead(GyreRun *run, const char *path);
/* The dt of the checkpoint at path where it is this run's (model, parameters, use of a
 * surrogate; read on every rank and agreed), else 0 (then its checks say why when it is read),
 * and its steps between output records (0 where unknown). Collective. */
PetscErrorCode GyreRunCheckpointStep(GyreRun *run, const char *path, double *dt,
                                     PetscInt *output_steps);

/* guard.c: the guard of a learned closure (NULL without one, or with -guard 0) */
PetscErrorCode GyreGuardCreate(GyreRun *run);
PetscErrorCode GyreGuardDestroy(GyreRun *run);
/* Before member run->member takes step run->step + 1: the surrogate on or off (cooldown),
 * a backup of the state. */
PetscErrorCode GyreGuardBeginStep(GyreRun *run);
/* After it: *redo = PETSC_TRUE when the guard tripped (the state is rolled back and the
 * surrogate off: the caller steps again). The event is logged and kept. Collective. */
PetscErrorCode GyreGuardEndStep(GyreRun *run, PetscBool *redo);
/* A diagnostic output field of member `member` that the surrogate makes (l96 one_scale's
 * coupling, ns2d's subgrid forcing), written outside a step: GyreGuardOutputBegin turns the
 * surrogate on or off as the member's next step has it (cooldown); after the field is made,
 * GyreGuardOutputRedo sets *redo where the evaluation tripped the guard (NaN/Inf or out of range,
 * on any rank), the surrogate then off, so that the caller makes the field again with the physics
 * fallback, as the step would; GyreGuardOutputEnd restores the surrogate's state. No event is
 * recorded: no step is redone. Without a guard they do nothing. Redo is collective. */
PetscErrorCode GyreGuardOutputBegin(GyreRun *run, PetscInt member);
PetscErrorCode GyreGuardOutputRedo(GyreRun *run, PetscBool *redo);
PetscErrorCode GyreGuardOutputEnd(GyreRun *run);
/* The events and a summary as text for the output file (malloc'ed, PetscFree them; NULL
 * without a guard); prints the summary. Collective. */
PetscErrorCode GyreGuardSummary(GyreRun *run, char **events, char **summary);
/* The guard's state in a checkpoint, so that a restarted run continues as the interrupted one
 * would (each member's cooldown) and its summary counts every leg's events: Define in the
 * file's define mode (variables guard_off_until(member) and guard_event(guard_events, field)),
 * Write after it (the file aborted where it fails), Read on a restart (nothing where the checkpoint
 * has none, or the run no guard). Without a guard they do nothing. Collective. */
PetscErrorCode GyreGuardCheckpointDefine(GyreRun *run, GyreFile f, int varid[2]);
/* The guard's settings in words ("none" without a surrogate, "off" with -guard 0, else sigma,
 * band, cooldown and a closure's polynomial fallback): a checkpoint records them, and a restart
 * with others is another run */
PetscErrorCode GyreGuardDescribe(const GyreRun *run, char *buf, size_t n);
PetscErrorCode GyreGuardCheckpointWrite(GyreRun *run, GyreFile *f, const int varid[2]);
PetscErrorCode GyreGuardCheckpointRead(GyreRun *run, GyreFile f, const char *path);

/* signals.c */
/* Installs handlers for SIGTERM and SIGUSR1 that request a checkpoint-and-exit. */
PetscErrorCode GyreSignalsInstall(void);
/* The signal received on any rank since installation (0 if none), agreed over comm, merged
 * with this rank's blow-up component (-1 if none) in one reduction. Collective. */
PetscErrorCode GyreSignalsPoll(MPI_Comm comm, PetscInt local_bad, int *signum,
                               PetscInt *bad_component);

/* The signal this rank has received since installation (0 if none); not collective. */
int GyreSignalsReceived(void);

/* The command line joined with shell quoting (malloc'ed). */
PetscErrorCode GyreCommandLine(int argc, char **argv, char **line);

#endif
