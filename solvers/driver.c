/* driver.c — `gyre simulate`: the time-stepping driver.
 *
 * The story of a run:
 *   1. read the driver's options and create the model named by -model (solvers/registry.c);
 *   2. set up PETSc TS for the model's split right-hand side (solvers/timestepper.c);
 *   3. fix the clock: dt (-ts_dt, else the model's stable dt rounded so outputs (with an
 *      emulator: its strides) fall on steps, and the initial and end times and checkpoints
 *      too where they can, else the model's default), output and
 *      checkpoint intervals in whole steps;
 *      model time is always step * dt, never an accumulated sum;
 *   4. start: from a checkpoint (-restart FILE|auto), from a state another run stored
 *      (-initial_file FILE -initial_time T) or from the model's initial state;
 *   5. step the ensemble members in lock-step to -ts_max_time (absolute) — one TS step at a
 *      time, or with an emulator one stride at a time (solvers/emulator.c) — writing output
 *      records (solvers/output.c), checkpoints (solvers/checkpoint.c), a progress line, and
 *      watching for blow-up and for SIGTERM/SIGUSR1 (solvers/signals.c);
 *   6. write the final checkpoint, close the output with the end time in its provenance.
 *
 * Exit codes: 0 done; 1 an error (one line "gyre: error: ..."); GYRE_EXIT_CHECKPOINTED
 * (75) stopped by SIGTERM/SIGUSR1 after writing a checkpoint — resume with -restart auto. */
#include <ctype.h>
#include <math.h>
#include <time.h>
#include <unistd.h>
#include "gyre_run.h"

const char GyreSimulateHelp[] =
    "usage: gyre simulate -model l96|ns2d -output FILE [options]\n"
    "  -model NAME              physical model (l96: two-scale Lorenz-96; ns2d: 2-D "
    "Navier-Stokes)\n"
    "  -output FILE             CF NetCDF output (refused if it exists unless -output_overwrite)\n"
    "  -output_overwrite        replace an existing FILE (kept as FILE.replaced until the run\n"
    "                           ends; put back if it fails, its records then in FILE.failed)\n"
    "  -output_every T          model time between output records (model default; with an\n"
    "                           emulator, whole strides; a restart's: its checkpoint's)\n"
    "  -output_every_steps N    or: an output record every N steps\n"
    "  -output_precision single|double, -output_deflate 0-9, -output_stride r (2-D models)\n"
    "  -ts_max_time T           absolute model time to stop at; -ts_dt dt (default: the\n"
    "                           model's, or its stable step made to divide the run's times;\n"
    "                           a restart's: its checkpoint's);\n"
    "                           -ts_type any suitable\n"
    "  -seed S, -ensemble_size N  (member m uses seed S+m)\n"
    "  -checkpoint FILE -checkpoint_every T   checkpoints (also at the end and on "
    "SIGTERM/SIGUSR1);\n"
    "                           one run at a time on FILE: a lock on FILE.lock (another run\n"
    "                           waits GYRE_CHECKPOINT_LOCK_WAIT s, default 60, then stops)\n"
    "  -restart FILE|auto       continue a run (auto: from -checkpoint if it exists)\n"
    "  -initial_file FILE -initial_time T     start from the state FILE stored at time T\n"
    "  -closure none|polynomial|surrogate, -closure_field NAME   a term added to a component's "
    "RHS\n"
    "  -surrogate FILE [-surrogate_mode closure|emulator]   a model trained by gyre train:\n"
    "                           closure: its output added to a component's RHS at every\n"
    "                           evaluation (-surrogate_scale s; -surrogate_closure_eval step:\n"
    "                           once a time step, held through its stages); emulator: the\n"
    "                           network advances the state by its stride (lead x record\n"
    "                           spacing of its data)\n"
    "                           from the last T_in states (the first T_in-1 advances: physics);\n"
    "                           CNN/per-point MLP per rank with a halo, FNO gathered on 1 rank;\n"
    "                           -surrogate_threads T (1; 0: OMP_NUM_THREADS; at most 1024),\n"
    "                           -surrogate_backend cpu|cuda,\n"
    "                           -surrogate_precision fp32|tf32|bf16 (cpu: bf16 runs a CNN\n"
    "                           on AMX or AVX-512 BF16, where the CPU has it, one thread)\n"
    "  -surrogate_physics_every N   emulator: advances N, 2N, ... are physics advances (0)\n"
    "  -guard 0|1 -guard_sigma s -guard_band b -guard_cooldown n   the surrogate's guard: a\n"
    "                           bad step (emulator: advance) is redone without it, by physics\n"
    "                           (defaults 1, 6, 0.5, 10 steps or advances);\n"
    "                           -guard_fallback none|polynomial (with -closure_coeffs)\n"
    "  -quiet                   no progress line\n"
    "  exit status: 0 done, 1 error, 75 checkpointed after SIGTERM/SIGUSR1 (resume: -restart "
    "auto)\n";

static double WallTime(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double) ts.tv_sec + 1e-9 * (double) ts.tv_nsec;
}

/* The steps a time may take: origin plus whole multiples of quantum steps of dt; target: the
 * step a suggestion must stay at (-1: any). */
typedef struct {
  PetscReal dt;
  PetscInt  origin, quantum;
  double    target;
} StepLattice;

/* 1 where time T (model time) is on the lattice: within 1e-9 relative of a step (and a quarter
 * of a step, so that a run of 1e9 steps still tells them apart), at the target step where one
 * is set (a suggestion printed with too few digits may land on another). */
static int OnLattice(double T, const void *ctx)
{
  const StepLattice *g = ctx;
  double             n = round(T / g->dt);
  if (!(n >= 0 && n <= (double) PETSC_MAX_INT) || (g->target >= 0 && n != g->target)) return 0;
  return fabs(n * g->dt - T) <= PetscMin(1e-9 * PetscMax(fabs(T), g->dt), 0.25 * g->dt) &&
         ((PetscInt) n - g->origin) % g->quantum == 0;
}

/* Converts a model time T (an option's value) to whole steps of run->dt; an error unless it is
 * origin plus a whole number of quantum steps (quantum > 1: the emulator's advances), giving the
 * nearest times that are (at least one quantum past origin), printed so that they are accepted
 * when given back. */
static PetscErrorCode TimeToSteps(GyreRun *run, const char *opt, PetscReal T, PetscInt origin,
                                  PetscInt quantum, PetscInt *steps)
{
  MPI_Comm          comm = run->comm;
  const StepLattice g    = {run->dt, origin, quantum, -1};
  PetscReal         dt = run->dt, n = round(T / dt);
  PetscBool         dt_given, T_given;
  char              Ts[32], dts[32];

  PetscFunctionBegin;
  PetscCall(PetscOptionsHasName(NULL, NULL, "-ts_dt", &dt_given));
  PetscCall(PetscOptionsHasName(NULL, NULL, opt, &T_given));
  GyreNumberFormat(T, NULL, NULL, Ts, sizeof Ts); /* C's %g: PETSc's prints 1 as "1." */
  GyreNumberFormat(dt, NULL, NULL, dts, sizeof dts);
  PetscCheck(T >= 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "%s %s must not be negative", opt, Ts);
  PetscCheck(n <= (PetscReal) PETSC_MAX_INT, comm, PETSC_ERR_ARG_OUTOFRANGE,
             "%s %s is %.3g time steps of dt = %s, more than a run counts (%d): give a larger "
             "-ts_dt or a shorter %s",
             opt, Ts, (double) n, dts, (int) PETSC_MAX_INT, opt);
  if (!OnLattice(T, &g)) {
    const PetscReal q = quantum * dt, t0 = origin * dt, k = PetscFloorReal((T - t0) / q);
    const PetscReal lo = t0 + k * q, hi = t0 + (k + 1) * q;
    StepLattice     glo = g, ghi = g; /* each suggestion printed to stay at its own step */
    char mess[2 * PETSC_MAX_PATH_LEN + 512], what[PETSC_MAX_PATH_LEN + 384], a[32], b[32];
    glo.target = (double) origin + k * quantum, ghi.target = glo.target + quantum;
    int len;
    if (quantum == 1)
      snprintf(what, sizeof what, "time steps dt = %s", dts);
    else {
      char stride[PETSC_MAX_PATH_LEN + 256];
      PetscCall(GyreEmulatorDescribeStride(run, stride, sizeof stride));
      snprintf(what, sizeof what, "the emulator's advances (%s)", stride);
    }
    len = snprintf(mess, sizeof mess, "%s %s%s is not %s%s%sa whole number of %s: give ", opt, Ts,
                   T_given ? "" : " (the default)", origin ? "the initial time " : "",
                   origin ? GyreNumberFormat(t0, NULL, NULL, a, sizeof a) : "",
                   origin ? " plus " : "", what);
    if (lo > t0 && len < (int) sizeof mess)
      len += snprintf(mess + len, sizeof mess - len, "%s or ",
                      GyreNumberFormat(lo, OnLattice, &glo, a, sizeof a));
    if (len < (int) sizeof mess)
      snprintf(mess + len, sizeof mess - len, "%s%s",
               GyreNumberFormat(hi, OnLattice, &ghi, b, sizeof b),
               dt_given || quantum > 1 ? ""
               : run->dt_restart       ? " (dt of the checkpoint this run continues)"
                                       : " (dt chosen by the model; -ts_dt sets it)");
    SETERRQ(comm, PETSC_ERR_ARG_INCOMP, "%s", mess);
  }
  *steps = (PetscInt) n;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* v by C's %g (6 digits, as the progress line; PETSc's %g prints 1 as "1.") */
static const char *FormatG(double v, char buf[32])
{
  snprintf(buf, 32, "%g", v);
  return buf;
}

/* The first state component (or -1) with a NaN/Inf or beyond the model's bound on this rank. */
static PetscErrorCode LocalBlowUp(GyreRun *run, Vec U, PetscInt *bad)
{
  const PetscScalar *u;
  PetscInt           n, dof;
  PetscReal          bound = run->model->bound;

  PetscFunctionBegin;
  *bad = -1;
  PetscCall(DMDAGetInfo(run->model->dm, NULL, NULL, NULL, NULL, NULL, NULL, NULL, &dof, NULL, NULL,
                        NULL, NULL, NULL));
  PetscCall(VecGetLocalSize(U, &n));
  PetscCall(VecGetArrayRead(U, &u));
  for (PetscInt i = 0; i < n; i++) {
    PetscReal v = PetscRealPart(u[i]);
    if (!isfinite(v) || (bound > 0 && PetscAbsReal(v) > bound)) {
      *bad = i % dof;
      break;
    }
  }
  PetscCall(VecRestoreArrayRead(U, &u));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* An error naming the member and variable where some rank's local (member * dof + variable,
 * or -1) is an initial state beyond the model's bound. Collective. */
static PetscErrorCode RefuseBadInitialState(GyreRun *run, PetscInt local)
{
  GyreModel   m     = run->model;
  const char *field = NULL;
  PetscInt    bad, dof;

  PetscFunctionBegin;
  PetscCallMPI(MPIU_Allreduce(&local, &bad, 1, MPIU_INT, MPI_MAX, run->comm));
  if (bad < 0) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(DMDAGetInfo(m->dm, NULL, NULL, NULL, NULL, NULL, NULL, NULL, &dof, NULL, NULL, NULL,
                        NULL, NULL));
  PetscCall(DMDAGetFieldName(m->dm, bad % dof, &field));
  char bound[32];
  SETERRQ(run->comm, PETSC_ERR_USER_INPUT,
          "the initial state of member %" PetscInt_FMT
          ": variable %s is NaN, Inf or beyond the model's bound %s%s%s%s",
          bad / dof, field && field[0] ? field : "state", FormatG(m->bound, bound),
          run->initial_file[0] ? " (-initial_file '" : "",
          run->initial_file[0] ? run->initial_file : "", run->initial_file[0] ? "')" : "");
}

static PetscErrorCode Progress(GyreRun *run, double wall0, PetscInt step0, PetscBool last)
{
  static double last_print = 0;
  double        now        = WallTime();
  GyreModel     m          = run->model;

  PetscFunctionBegin;
  if (run->quiet || (!last && now - last_print < 2.0)) PetscFunctionReturn(PETSC_SUCCESS);
  last_print  = now;
  double rate = (run->step - step0) / PetscMax(now - wall0, 1e-9);
  PetscCall(PetscPrintf(run->comm,
                        "[simulate] step %" PetscInt_FMT "/%" PetscInt_FMT
                        "  t = %.6g  %.0f steps/s%s  ETA %.1f s\n",
                        run->step, run->nsteps, (double) (run->step * run->dt), rate,
                        m->ensemble_size > 1 ? " (all members)" : "",
                        (run->nsteps - run->step) / PetscMax(rate, 1e-9)));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Initial state of the current member: a stored state (-initial_file) or the model's own. */
static PetscErrorCode InitialState(GyreRun *run)
{
  GyreModel m = run->model;

  PetscFunctionBegin;
  if (run->initial_file[0]) {
    GyreFile  f;
    size_t    rec;
    PetscBool readable;
    PetscCall(PetscTestFile(run->initial_file, 'r', &readable));
    PetscCheck(readable, run->comm, PETSC_ERR_FILE_OPEN, "-initial_file '%s' cannot be read",
               run->initial_file);
    PetscCallGyre(run->comm, GyreFileOpen(run->comm, run->initial_file, 0, &f));
    GyreStatus s =
        GyreFileFindTime(f, run->initial_time, 1e-9 * PetscMax(1.0, run->initial_time), &rec);
    if (s != GYRE_OK) GyreFileClose(&f);
    PetscCallGyre(run->comm, s);
    PetscCheck(m->ops.readstate, run->comm, PETSC_ERR_SUP, "model %s cannot start from a file",
               m->name);
    PetscCall((*m->ops.readstate)(m, f, rec, run->member, run->U));
    if (run->member == 1 && m->nfields > 0) { /* (said once, at the second member) */
      char   names[GYRE_IO_MAX_DIMS][64];
      size_t lens[GYRE_IO_MAX_DIMS];
      int    nd = 0, has_time, members = 0;
      if (GyreFileInqVar(f, m->fields[0].spec.name, &nd, names, lens, &has_time) == GYRE_OK)
        for (int d = 0; d < nd; d++)
          members |= !strcmp(names[d], "member");
      if (!members)
        PetscCall(
            PetscFPrintf(run->comm, PETSC_STDERR,
                         "gyre: warning: -initial_file '%s' holds one state: all %" PetscInt_FMT
                         " members start from it and, the model being deterministic, stay "
                         "identical (-seed perturbs only the model's own initial states)\n",
                         run->initial_file, m->ensemble_size));
    }
    PetscCallGyre(run->comm, GyreFileClose(&f));
  } else {
    PetscCall((*m->ops.initialstate)(m, run->member, run->U));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The members' states held at once on each node (a state and a Vec's bookkeeping, ~2 KiB, a
 * member on each rank), against the node's memory: an -ensemble_size that cannot fit is one
 * error, not a run killed for memory. Collective. */
static PetscErrorCode CheckEnsembleMemory(GyreRun *run, Vec proto)
{
  PetscInt    n;
  MPI_Comm    node;
  double      need, mem;
  PetscMPIInt nranks;

  PetscFunctionBegin;
  PetscCall(VecGetLocalSize(proto, &n));
  need = (double) run->model->ensemble_size * (8.0 * (double) n + 2048.0);
  PetscCallMPI(MPI_Comm_split_type(run->comm, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node));
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &need, 1, MPI_DOUBLE, MPI_SUM, node));
  PetscCallMPI(MPI_Comm_size(node, &nranks));
  PetscCallMPI(MPI_Comm_free(&node));
  mem = (double) sysconf(_SC_PHYS_PAGES) * (double) sysconf(_SC_PAGESIZE);
  PetscCheck(mem <= 0 || need <= mem, run->comm, PETSC_ERR_MEM,
             "-ensemble_size %" PetscInt_FMT " needs about %.3g GiB for its states on a node (%d "
             "rank(s)), which has %.3g GiB of memory: run fewer members per job, or on more nodes",
             run->model->ensemble_size, need / 1073741824.0, nranks, mem / 1073741824.0);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The largest g of which every positive t[i] is a whole multiple (to 1e-9 of the largest):
 * Euclid's algorithm on reals; 0 where they share none coarser than the tolerance (a time
 * within it of 0 shares none). */
static double CommonDivisor(int n, const double *t)
{
  double g = 0, big = 0;
  for (int i = 0; i < n; i++)
    big = fmax(big, t[i]);
  for (int i = 0; i < n; i++) {
    double a = fmax(g, t[i]), b = fmin(g, t[i]);
    if (!(t[i] > 0)) continue;
    if (t[i] <= 1e-9 * big) return 0;
    if (g == 0) {
      g = t[i];
      continue;
    }
    while (b > 1e-9 * big) {
      const double r = fabs(a - round(a / b) * b);
      a = b, b = r;
    }
    g = a;
  }
  return g > 1e-9 * big ? g : 0;
}

/* 1 where every positive time t[i] is a whole number of steps dt (OnLattice's tolerance) */
static int AllOnLattice(double dt, int n, const double *t)
{
  const StepLattice g = {dt, 0, 1, -1};
  for (int i = 0; i < n; i++)
    if (t[i] > 0 && !OnLattice(t[i], &g)) return 0;
  return 1;
}

/* the checkpoint a restart reads (-restart FILE, or auto: -checkpoint's file) */
static const char *RestartPath(const GyreRun *run)
{
  return strcmp(run->restart, "auto") ? run->restart : run->checkpoint;
}

/* dt: -ts_dt; else a restart's, the checkpoint's; else the model's stable dt rounded down to
 * divide the output interval (t[0]), and, where that does not divide the run's other times
 * t[1..n-1] (in order: the initial time, the end, the checkpoint interval), rounded down to
 * divide as many of them as it can, taken in that order, at most 10 times the steps each (a
 * time left out gets its error, with suggestions, from TimeToSteps); else the model's default
 * (set in settsdefaults). */
static PetscErrorCode ChooseTimeStep(GyreRun *run, int n, const double *t)
{
  GyreModel m = run->model;
  PetscBool set;
  double    restart_dt = 0;

  PetscFunctionBegin;
  PetscCall(PetscOptionsHasName(NULL, NULL, "-ts_dt", &set));
  PetscCall(TSGetTimeStep(run->ts, &run->dt));
  if (n > 1) { /* (-restart FILE, or auto with -checkpoint's file; every model, l96 too) */
    PetscCall(
        GyreRunCheckpointStep(run, RestartPath(run), &restart_dt, &run->restart_output_steps));
    if (set) { /* -ts_dt: its dt; the checkpoint's output records where that is the checkpoint's
                * (another dt is refused when the checkpoint is read) */
      if (restart_dt != run->dt) run->restart_output_steps = 0;
      restart_dt = 0;
    }
  }
  run->dt_restart = restart_dt > 0 ? PETSC_TRUE : PETSC_FALSE;
  if (restart_dt > 0)
    run->dt = restart_dt; /* a restart continues at its dt */
  else if (!set && m->ops.stabledt) {
    PetscReal dtmax;
    PetscInt  var;
    run->member = 0;
    PetscCall(InitialState(run));
    /* the bound first: a state beyond it has no meaningful stable step */
    PetscCall(LocalBlowUp(run, run->U, &var));
    PetscCall(RefuseBadInitialState(run, var));
    PetscCall((*m->ops.stabledt)(m, run->U, &dtmax));
    run->dt             = PetscMin(dtmax, run->dt);
    const double stable = run->dt;
    if (t[0] > 0) run->dt = t[0] / PetscCeilReal(t[0] / stable * (1 - 1e-12));
    if (!AllOnLattice(run->dt, n, t)) {
      double fit[4] = {t[0]}, dt0 = run->dt;
      int    nfit = 1;
      for (int i = 1; i < n && i < 4; i++) {
        fit[nfit] = t[i];
        if (!(t[i] > 0) || AllOnLattice(run->dt, nfit + 1, fit)) {
          nfit++;
          continue;
        }
        const double g = CommonDivisor(nfit + 1, fit);
        /* one division of the anchor (the output interval, else the first time), so that
         * its multiples land on it */
        double anchor = fit[0];
        for (int k = 1; k <= nfit && !(anchor > 0); k++)
          anchor = fit[k];
        const double dt =
            g > 0 ? anchor / (round(anchor / g) * PetscCeilReal(g / stable * (1 - 1e-12))) : 0;
        if (dt >= 0.1 * dt0 && AllOnLattice(dt, nfit + 1, fit)) run->dt = dt, nfit++;
      }
    }
  }
  char dts[32]; /* C's %g: PETSc's would print "inf." */
  snprintf(dts, sizeof dts, "%g", (double) run->dt);
  PetscCheck(run->dt > 0 && isfinite((double) run->dt), run->comm, PETSC_ERR_ARG_OUTOFRANGE,
             set ? "-ts_dt %s must be a finite positive number"
                 : "the time step %s (the model's stable step for the initial state) is not a "
                   "finite positive number: give -ts_dt",
             dts);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The run, kept after GyreSimulate returns an error so that GyreSimulateFailed can close
 * its output (one run per process) */
static GyreRun gyre_run_live;

PetscErrorCode GyreSimulateFailed(void)
{
  GyreRun *run = &gyre_run_live;
  char     note[4 * PATH_MAX + 256];

  PetscFunctionBegin;
  if (!run->output_made && !run->output_aside && !run->checkpoint_aside)
    PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(GyreRunOutputFailed(run, note, sizeof note));
  if (note[0]) PetscCall(PetscFPrintf(run->comm, PETSC_STDERR, "gyre: %s\n", note));
  PetscFunctionReturn(PETSC_SUCCESS);
}

void GyreSimulateAbandon(void)
{
  char note[4 * PATH_MAX + 256];
  GyreRunOutputAbandon(&gyre_run_live, note, sizeof note);
  if (note[0]) fprintf(stderr, "gyre: %s\n", note);
}

PetscErrorCode GyreSimulate(MPI_Comm comm, int argc, char **argv, int *exitcode)
{
  GyreRun  *run = &gyre_run_live;
  GyreModel m;
  char      modelname[32] = "", precision[16] = "";
  PetscBool help, resumed                     = PETSC_FALSE;
  PetscReal output_every = -1, checkpoint_every = 0, tmax = 1.0, emulator_stride = 0;
  PetscInt  output_every_steps = 0, ensemble_size = 1, seed = 0, stride = 1;
  PetscBool every_set = PETSC_FALSE, steps_set = PETSC_FALSE, itime_set = PETSC_FALSE;
  PetscInt  checkpoint_every_steps = 0;

  PetscFunctionBegin;
  *exitcode = 0;
  PetscCall(PetscMemzero(run, sizeof *run));
  run->checkpoint_lock = -1;
  run->comm            = comm;
  PetscCall(PetscOptionsHasHelp(NULL, &help));

  /* 1. options */
  PetscOptionsBegin(comm, NULL, "gyre simulate: run a physical model", "simulate");
  PetscCall(PetscOptionsString("-model", "physical model", "", modelname, modelname,
                               sizeof modelname, NULL));
  PetscCall(PetscOptionsString("-output", "output file", "", run->output, run->output,
                               sizeof run->output, NULL));
  PetscCall(PetscOptionsBool("-output_overwrite", "replace an existing output file", "",
                             run->output_overwrite, &run->output_overwrite, NULL));
  PetscCall(PetscOptionsString("-output_precision", "single or double (default: per field)", "",
                               precision, precision, sizeof precision, NULL));
  PetscCall(PetscOptionsInt("-output_deflate", "deflate level 0-9", "", run->output_deflate,
                            &run->output_deflate, NULL));
  PetscCall(PetscOptionsReal("-output_every", "model time between output records", "", output_every,
                             &output_every, &every_set));
  PetscCall(PetscOptionsInt("-output_every_steps", "steps between output records", "",
                            output_every_steps, &output_every_steps, &steps_set));
  PetscCall(PetscOptionsInt("-output_stride", "store output coarsened by this factor", "", stride,
                            &stride, NULL));
  PetscCall(
      PetscOptionsReal("-ts_max_time", "absolute model time to stop at", "", tmax, &tmax, NULL));
  PetscCall(PetscOptionsString("-checkpoint", "checkpoint file", "", run->checkpoint,
                               run->checkpoint, sizeof run->checkpoint, NULL));
  PetscCall(PetscOptionsReal("-checkpoint_every", "model time between checkpoints", "",
                             checkpoint_every, &checkpoint_every, NULL));
  PetscCall(PetscOptionsString("-restart", "checkpoint to continue from, or auto", "", run->restart,
                               run->restart, sizeof run->restart, NULL));
  PetscCall(PetscOptionsString("-initial_file", "start from a state stored in this file", "",
                               run->initial_file, run->initial_file, sizeof run->initial_file,
                               NULL));
  PetscCall(PetscOptionsReal("-initial_time", "time of the stored state to start from", "",
                             run->initial_time, &run->initial_time, &itime_set));
  PetscCall(PetscOptionsInt("-ensemble_size", "number of ensemble members", "", ensemble_size,
                            &ensemble_size, NULL));
  PetscCall(
      PetscOptionsInt("-seed", "random seed (member m uses seed + m)", "", seed, &seed, NULL));
  PetscCall(PetscOptionsBool("-quiet", "no progress line", "", run->quiet, &run->quiet, NULL));
  PetscOptionsEnd();
  PetscCall(PetscStrncpy(run->output_precision, precision, sizeof run->output_precision));

  if (!modelname[0]) {
    if (help) {
      PetscCall(GyreModelListPrint(comm));
      PetscFunctionReturn(PETSC_SUCCESS);
    }
    SETERRQ(comm, PETSC_ERR_USER_INPUT, "no -model given: gyre simulate -model l96|ns2d ...");
  }
  PetscCheck(help || run->output[0], comm, PETSC_ERR_USER_INPUT,
             "no -output FILE given: gyre simulate -model %s -output run.nc ...", modelname);
  /* the names as given, for messages where a link was followed ("'o.nc' (a link to 'x.nc')") */
  char named[2][2 * PATH_MAX + 32];
  snprintf(named[0], sizeof named[0], "'%.*s'", PATH_MAX, run->output);
  snprintf(named[1], sizeof named[1], "'%.*s'", PATH_MAX, run->checkpoint);
  { /* an -output or -checkpoint that is a symbolic link: the file it points at, so that the
     * earlier file is moved aside and the new one made there (-output_overwrite), and the link
     * stays a link to the run's file */
    char       *path[2] = {run->output, run->checkpoint};
    const char *opt[2]  = {"-output", "-checkpoint"};
    PetscMPIInt rank;
    PetscCallMPI(MPI_Comm_rank(comm, &rank));
    for (int i = 0; i < 2; i++) {
      char to[PATH_MAX] = "";
      int  r            = 0;
      if (rank == 0 && path[i][0]) r = GyreFileFollowLink(path[i], to, sizeof to);
      PetscCallMPI(MPI_Bcast(&r, 1, MPI_INT, 0, comm));
      PetscCheck(r >= 0, comm, PETSC_ERR_USER_INPUT,
                 "%s '%s' is a symbolic link that loops or points at too long a name", opt[i],
                 path[i]);
      if (!r) continue;
      PetscCallMPI(MPI_Bcast(to, sizeof to, MPI_CHAR, 0, comm));
      PetscCall(PetscInfo(NULL, "%s '%s' is a link to '%s': the run writes there\n", opt[i],
                          path[i], to));
      snprintf(named[i], sizeof named[i], "'%s' (a link to '%s')", path[i], to);
      PetscCall(PetscStrncpy(path[i], to, PATH_MAX));
    }
  }
  { /* the output never replaces one of the run's own inputs, nor is it the checkpoint
     * (-output_overwrite or not) */
    char        model_file[PETSC_MAX_PATH_LEN] = "";
    const char *restart                        = strcmp(run->restart, "auto") ? run->restart : "";
    const char *in[4]  = {run->initial_file, model_file, run->checkpoint, restart};
    const char *opt[4] = {"-initial_file", "-surrogate", "-checkpoint", "-restart"};
    PetscCall(PetscOptionsGetString(NULL, NULL, "-surrogate", model_file, sizeof model_file, NULL));
    for (int i = 0; i < 4 && run->output[0]; i++)
      PetscCheck(!in[i][0] || !GyreFilesSame(run->output, in[i]), comm, PETSC_ERR_USER_INPUT,
                 "-output %s is the %s %s%s%s: choose another -output", named[0], opt[i],
                 i == 2 ? "" : "'", i == 2 ? named[1] : in[i], i == 2 ? "" : "'");
    for (int i = 0; i < 2 && run->checkpoint[0]; i++) /* nor is the checkpoint an input */
      PetscCheck(!in[i][0] || !GyreFilesSame(run->checkpoint, in[i]), comm, PETSC_ERR_USER_INPUT,
                 "-checkpoint %s is the %s '%s': choose another -checkpoint", named[1], opt[i],
                 in[i]);
  }
  PetscCheck(ensemble_size >= 1, comm, PETSC_ERR_ARG_OUTOFRANGE,
             "-ensemble_size %" PetscInt_FMT " must be at least 1", ensemble_size);
  PetscCheck(stride >= 1, comm, PETSC_ERR_ARG_OUTOFRANGE,
             "-output_stride %" PetscInt_FMT " must be at least 1", stride);
  PetscCheck(run->output_deflate >= 0 && run->output_deflate <= 9, comm, PETSC_ERR_ARG_OUTOFRANGE,
             "-output_deflate %" PetscInt_FMT " must be between 0 and 9", run->output_deflate);
  PetscCheck(!precision[0] || !strcmp(precision, "single") || !strcmp(precision, "double"), comm,
             PETSC_ERR_ARG_OUTOFRANGE, "-output_precision %s: expected single or double",
             precision);
  PetscCheck(strcmp(run->restart, "auto") || run->checkpoint[0], comm, PETSC_ERR_USER_INPUT,
             "-restart auto needs -checkpoint FILE (the checkpoint to resume from)");
  PetscCheck(!every_set || output_every > 0, comm, PETSC_ERR_ARG_OUTOFRANGE,
             "-output_every %g must be > 0", (double) output_every);
  PetscCheck(!steps_set || output_every_steps >= 1, comm, PETSC_ERR_ARG_OUTOFRANGE,
             "-output_every_steps %" PetscInt_FMT " must be at least 1", output_every_steps);
  PetscCheck(!every_set || !steps_set, comm, PETSC_ERR_USER_INPUT,
             "-output_every and -output_every_steps both given: give one");
  PetscCheck(checkpoint_every >= 0, comm, PETSC_ERR_ARG_OUTOFRANGE,
             "-checkpoint_every %g must be >= 0 (0: at the end and on a signal only)",
             (double) checkpoint_every);
  PetscCheck(!itime_set || run->initial_file[0], comm, PETSC_ERR_USER_INPUT,
             "-initial_time %g needs -initial_file FILE (the file holding that state)",
             (double) run->initial_time);
  PetscCheck(!run->initial_file[0] || !run->restart[0] || !strcmp(run->restart, "auto"), comm,
             PETSC_ERR_USER_INPUT,
             "-restart %s and -initial_file %s: a restart continues from its checkpoint; give one",
             run->restart, run->initial_file);
  PetscCheck(checkpoint_every <= 0 || run->checkpoint[0], comm, PETSC_ERR_USER_INPUT,
             "-checkpoint_every %g needs -checkpoint FILE (where to write them)",
             (double) checkpoint_every);

  /* the model */
  PetscCall(GyreModelCreate(comm, modelname, &run->model));
  m                = run->model;
  m->seed          = seed;
  m->ensemble_size = ensemble_size;
  m->output_stride = stride;
  if (m->ops.setfromoptions) PetscCall((*m->ops.setfromoptions)(m));
  PetscCall((*m->ops.setup)(m));
  PetscCall(GyreClosureCreateFromOptions(m, &m->closure));
  run->surrogate     = m->closure ? m->closure->surrogate : NULL;
  run->advance_steps = 1;
  PetscCall(GyreEmulatorCreate(run, &emulator_stride)); /* -surrogate_mode emulator */
  {
    Vec proto;
    PetscCall(DMGetGlobalVector(m->dm, &proto));
    PetscCall(CheckEnsembleMemory(run, proto));
    PetscCall(VecDuplicateVecs(proto, m->ensemble_size, &run->Us));
    PetscCall(DMRestoreGlobalVector(m->dm, &proto));
    run->U = run->Us[0];
  }

  /* the guard's options read and checked here, before any file is touched (and listed by
   * -help) */
  PetscCall(GyreGuardCreate(run));

  /* 2. time stepper */
  PetscCall(GyreRunSetUpTS(run));
  if (help) goto cleanup;

  /* 3. the clock (a restart's dt and records from its checkpoint: this run's alone from here) */
  PetscCall(GyreRunCheckpointLock(run));
  if (output_every < 0) output_every = m->default_output_every;
  if (!every_set && !steps_set && emulator_stride > 0) /* the default: whole strides */
    output_every =
        emulator_stride * PetscMax(1, PetscCeilReal(output_every / emulator_stride - 1e-9));
  /* an emulator's stride is the natural interval: dt divides it, outputs are whole strides */
  {
    const double times[] = {emulator_stride > 0      ? emulator_stride
                            : output_every_steps > 0 ? 0
                                                     : output_every,
                            run->initial_time, tmax, checkpoint_every};
    /* (an emulator's times are whole strides: its dt only divides the stride) */
    PetscCall(ChooseTimeStep(run, emulator_stride > 0 ? 1 : 4, times));
  }
  /* an emulator advances by whole strides: dt divides them, and every interval is whole
   * strides (their suggestions too) */
  if (run->emulator) PetscCall(GyreEmulatorSetUpStep(run));
  if (run->restart_output_steps > 0) { /* a restart continues its checkpoint's records */
    const PetscInt    K = run->restart_output_steps;
    const StepLattice g = {run->dt, 0, 1, (double) K};
    const double      T = (double) K * run->dt;
    char              given[48], Ts[32], dts[32];
    if (steps_set ? output_every_steps != K : every_set && !OnLattice(output_every, &g)) {
      if (steps_set)
        snprintf(given, sizeof given, "-output_every_steps %lld", (long long) output_every_steps);
      else
        snprintf(given, sizeof given, "-output_every %s",
                 GyreNumberFormat(output_every, NULL, NULL, Ts, sizeof Ts));
      SETERRQ(comm, PETSC_ERR_ARG_INCOMP,
              "%s: checkpoint '%s' continues a run with an output record every %s (%" PetscInt_FMT
              " steps of dt = %s); a restart keeps that: give -output_every %s (or "
              "-output_every_steps %" PetscInt_FMT "), or leave it out",
              given, RestartPath(run), GyreNumberFormat(T, OnLattice, &g, Ts, sizeof Ts), K,
              FormatG(run->dt, dts), Ts, K);
    }
    output_every_steps = K; /* (also without -output_every: not the model's default) */
  }
  if (output_every_steps > 0) {
    const PetscInt q = run->advance_steps, lo = output_every_steps / q * q;
    char           los[48] = "";
    if (lo > 0) snprintf(los, sizeof los, "%lld or ", (long long) lo);
    PetscCheck(output_every_steps % q == 0, comm, PETSC_ERR_ARG_INCOMP,
               "-output_every_steps %" PetscInt_FMT " is not a whole number of the emulator's "
               "advances (%" PetscInt_FMT " steps each): give %s%" PetscInt_FMT,
               output_every_steps, q, los, lo + q);
    run->output_every_steps = output_every_steps;
  } else if (output_every > 0)
    PetscCall(TimeToSteps(run, "-output_every", output_every, 0, run->advance_steps,
                          &run->output_every_steps));
  else
    run->output_every_steps = 1;
  PetscCheck(run->output_every_steps > 0, comm, PETSC_ERR_ARG_OUTOFRANGE,
             "-output_every must be at least one time step (dt = %g)", (double) run->dt);
  PetscCheck(tmax >= run->initial_time, comm, PETSC_ERR_ARG_OUTOFRANGE,
             "-ts_max_time %g is before the initial time %g", (double) tmax,
             (double) run->initial_time);
  PetscCall(TimeToSteps(run, "-initial_time", run->initial_time, 0, 1, &run->step_first));
  /* whole steps now; whole strides from the initial time once it is known (a checkpoint's):
   * an emulator's end time is checked then only, so that the times it suggests are strides
   * (whole steps' suggestions would be refused in their turn) */
  if (run->advance_steps > 1 && tmax / run->dt < (PetscReal) PETSC_MAX_INT)
    run->nsteps = (PetscInt) round(tmax / run->dt);
  else
    PetscCall(TimeToSteps(run, "-ts_max_time", tmax, 0, 1, &run->nsteps));
  if (checkpoint_every > 0)
    PetscCall(TimeToSteps(run, "-checkpoint_every", checkpoint_every, 0, run->advance_steps,
                          &checkpoint_every_steps));
  PetscCheck(checkpoint_every <= 0 || checkpoint_every_steps > 0, comm, PETSC_ERR_ARG_OUTOFRANGE,
             "-checkpoint_every %g is less than a time step (dt = %g)", (double) checkpoint_every,
             (double) run->dt);
  PetscCall(TSSetTimeStep(run->ts, run->dt));
  PetscCall(TSSetMaxTime(run->ts, (run->nsteps + 1) * run->dt));

  /* provenance */
  PetscCall(GyreCommandLine(argc, argv, &run->command_line));
  PetscCall(PetscOptionsGetAll(NULL, &run->options));
  GyreTimeNowISO(run->start_time);

  /* 4. start (a checkpoint written during or after the run that cannot be is an error now,
   * before the output is made or appended to) */
  if (run->checkpoint[0]) PetscCallGyre(comm, GyreFileCheckReplaceable(comm, run->checkpoint));
  {
    char      path[PATH_MAX] = "";
    PetscBool exists         = PETSC_FALSE;
    if (!strcmp(run->restart, "auto")) {
      PetscCall(PetscTestFile(run->checkpoint, 'r', &exists));
      if (exists)
        PetscCall(PetscStrncpy(path, run->checkpoint, sizeof path));
      else if (!run->output_overwrite) {
        /* a fresh start: a requeued job whose checkpoint went missing stops here, named */
        PetscBool out_exists = PETSC_FALSE;
        PetscCall(PetscTestFile(run->output, '\0', &out_exists));
        PetscCheck(!out_exists, comm, PETSC_ERR_FILE_OPEN,
                   "output '%s' exists but its checkpoint '%s' does not (-restart auto): give the "
                   "checkpoint back, remove the output, or give -output_overwrite",
                   run->output, run->checkpoint);
      }
    } else if (run->restart[0]) {
      PetscCall(PetscTestFile(run->restart, 'r', &exists));
      PetscCheck(exists, comm, PETSC_ERR_FILE_OPEN, "cannot read restart file '%s'", run->restart);
      PetscCall(PetscStrncpy(path, run->restart, sizeof path));
    }
    if (path[0]) {
      PetscCall(GyreRunCheckpointRead(run, path));
      PetscCheck(run->step <= run->nsteps, comm, PETSC_ERR_ARG_OUTOFRANGE,
                 "checkpoint '%s' is at t = %g, beyond -ts_max_time %g", path,
                 (double) (run->step * run->dt), (double) tmax);
      PetscCall(TimeToSteps(run, "-ts_max_time", tmax, run->step_first, run->advance_steps,
                            &run->nsteps)); /* the run's length: whole strides */
      PetscInt rec = (run->step - run->step_first) / run->output_every_steps;
      PetscCall(GyreRunOutputOpenForRestart(
          run, (size_t) rec + 1,
          (double) (run->step_first + rec * run->output_every_steps) * run->dt));
      resumed = PETSC_TRUE;
      char ts[32]; /* C's %g: PETSc's prints 1 as "1." */
      if (!run->quiet)
        PetscCall(PetscPrintf(comm,
                              "[simulate] resuming at step %" PetscInt_FMT " (t = %s) from %s\n",
                              run->step, FormatG(run->step * run->dt, ts), path));
    } else {
      /* a fresh run replaces an existing checkpoint only with -output_overwrite (it may be
       * another run's, or any file) */
      PetscBool ckpt_exists = PETSC_FALSE;
      if (run->checkpoint[0]) PetscCall(PetscTestFile(run->checkpoint, '\0', &ckpt_exists));
      PetscCheck(!ckpt_exists || run->output_overwrite, comm, PETSC_ERR_FILE_OPEN,
                 "-checkpoint '%s' exists and this run starts afresh: continue from it with "
                 "-restart auto, remove it, or give -output_overwrite to replace it",
                 run->checkpoint);
      /* the initial states before the output is made: a bad -initial_file (missing, without
       * the time or the variables) is an error that leaves an existing file as it was */
      PetscCall(TimeToSteps(run, "-ts_max_time", tmax, run->step_first, run->advance_steps,
                            &run->nsteps)); /* the run's length: whole strides */
      run->step = run->step_first;
      PetscInt dof, local = -1; /* member * dof + variable of a state beyond the bound */
      PetscCall(DMDAGetInfo(m->dm, NULL, NULL, NULL, NULL, NULL, NULL, NULL, &dof, NULL, NULL, NULL,
                            NULL, NULL));
      for (run->member = 0; run->member < m->ensemble_size; run->member++) {
        PetscInt var;
        run->U = run->Us[run->member];
        PetscCall(InitialState(run));
        PetscCall(LocalBlowUp(run, run->U, &var));
        if (var >= 0 && local < 0) local = run->member * dof + var;
      }
      PetscCall(RefuseBadInitialState(run, local));
      PetscCall(GyreRunOutputCreate(run));
    }
  }
  PetscCall(GyreSignalsInstall());

  /* 5. step every member in lock-step, so outputs and checkpoints hold all members at one time */
  if (!resumed) PetscCall(GyreRunOutputWrite(run));
  PetscCall(GyreEmulatorStart(run)); /* its history starts at the current state */
  PetscCall(TSSetStepNumber(run->ts, run->step));
  {
    double   wall0 = WallTime();
    PetscInt step0 = run->step, test_fail_step = -1;
    { /* GYRE_TEST_FAIL_RANK_STEP=R:S: rank R raises an error at step S, *:S every rank (each
       * on its own): the tests' way to reach the exit path of an error on one rank alone */
      const char *e = getenv("GYRE_TEST_FAIL_RANK_STEP");
      int         r = -1, s = -1;
      PetscMPIInt rank;
      PetscCallMPI(MPI_Comm_rank(comm, &rank));
      if (e && e[0] == '*' && sscanf(e + 1, ":%d", &s) == 1) /* *:S: every rank, each alone */
        test_fail_step = s;
      else if (e && sscanf(e, "%d:%d", &r, &s) == 2 && r == rank)
        test_fail_step = s;
    }

    while (run->step < run->nsteps) {
      double   t0 = WallTime();
      int      sig;
      PetscInt bad = -1, localbad = -1;

      /* the tests' error on one rank alone, at the first step at or past S (an emulator's
       * stride may step over S) */
      if (test_fail_step >= 0 && run->step >= test_fail_step)
        SETERRQ(PETSC_COMM_SELF, PETSC_ERR_LIB,
                "GYRE_TEST_FAIL_RANK_STEP: an error on this rank alone at step %" PetscInt_FMT,
                run->step);
      for (run->member = 0; run->member < m->ensemble_size; run->member++) {
        run->U = run->Us[run->member];
        if (run->emulator) { /* one stride: the network or physics (emulator.c) */
          PetscCall(GyreEmulatorAdvance(run));
          continue;
        }
        /* the first step: the TS has not computed the state (an ensemble restarts always) */
        PetscBool redo, restart = run->step == step0 ? PETSC_TRUE : PETSC_FALSE;
        PetscCall(GyreGuardBeginStep(run));
        PetscCall(GyreRunStepPhysics(run, 1, restart));
        PetscCall(GyreGuardEndStep(run, &redo));
        if (redo) PetscCall(GyreRunStepPhysics(run, 1, PETSC_TRUE)); /* the physics fallback */
      }
      run->step += run->advance_steps;
      run->wall_stepping += WallTime() - t0;

      for (PetscInt e = 0; e < m->ensemble_size && localbad < 0; e++) {
        PetscCall(LocalBlowUp(run, run->Us[e], &localbad));
        if (localbad >= 0) run->member = e;
      }
      PetscCall(GyreSignalsPoll(comm, localbad, &sig, &bad));
      /* every option is read by now (the solvers' too, at their first solve): one misspelt
       * shows at the start of a long job's log, not only at its end */
      if (run->step - step0 <= run->advance_steps)
        PetscCall(GyreOptionsWarnUnused(comm, "simulate"));
      if (bad >= 0) {
        const char *field = NULL;
        PetscCall(DMDAGetFieldName(m->dm, bad, &field));
        char note[4 * PATH_MAX + 256], ts[32], bs[32];
        PetscCall(GyreRunOutputFailed(run, note, sizeof note));
        SETERRQ(comm, PETSC_ERR_FP,
                "blow-up at step %" PetscInt_FMT " (t = %s): variable %s is NaN, Inf or beyond "
                "%s; %s",
                run->step, FormatG(run->step * run->dt, ts), field && field[0] ? field : "state",
                FormatG(m->bound, bs), note);
      }
      PetscCall(GyreRunOutputWrite(run));
      if (checkpoint_every_steps > 0 && run->checkpoint[0] &&
          (run->step - run->step_first) % checkpoint_every_steps == 0) {
        PetscCall(GyreRunCheckpointWrite(run, run->checkpoint));
        run->checkpoint_written = PETSC_TRUE;
      }
      if (sig) {
        char path[PATH_MAX + 8], ts[32];
        if (run->checkpoint[0])
          PetscCall(PetscStrncpy(path, run->checkpoint, sizeof path));
        else
          PetscCall(PetscSNPrintf(path, sizeof path, "%s.ckpt", run->output));
        PetscCall(GyreRunCheckpointWrite(run, path));
        PetscCall(GyreRunOutputClose(run, PETSC_FALSE));
        PetscCall(PetscPrintf(comm,
                              "[simulate] signal %d at step %" PetscInt_FMT
                              " (t = %s): checkpoint written to %s; exiting with status %d "
                              "(resume with -restart auto -checkpoint %s)\n",
                              sig, run->step, FormatG(run->step * run->dt, ts), path,
                              GYRE_EXIT_CHECKPOINTED, path));
        *exitcode = GYRE_EXIT_CHECKPOINTED;
        goto cleanup;
      }
      PetscCall(Progress(run, wall0, step0, run->step == run->nsteps));
    }
  }

  /* 6. finish */
  if (run->checkpoint[0]) PetscCall(GyreRunCheckpointWrite(run, run->checkpoint));
  PetscCall(GyreRunOutputClose(run, PETSC_TRUE));
  char tend[32];
  if (!run->quiet)
    PetscCall(PetscPrintf(
        comm, "[simulate] done: %s (t = %s, %" PetscInt_FMT " member(s), %.3g s stepping)\n",
        run->output, FormatG(run->nsteps * run->dt, tend), m->ensemble_size, run->wall_stepping));

cleanup:
  GyreCheckpointUnlock(run->checkpoint, run->checkpoint_lock); /* (the lock and its file) */
  PetscCall(GyreGuardDestroy(run));
  PetscCall(GyreEmulatorDestroy(run));
  PetscCall(GyreRunDestroyTS(run));
  if (run->Us) PetscCall(VecDestroyVecs(run->model->ensemble_size, &run->Us));
  PetscCall(GyreModelDestroy(&run->model));
  PetscCall(PetscFree(run->buf));
  PetscCall(PetscFree(run->command_line));
  PetscCall(PetscFree(run->options));
  PetscFunctionReturn(PETSC_SUCCESS);
}
PetscErrorCode GyreCommandLine(int argc, char **argv, char **line)
{
  size_t len = 16;
  char  *s, *p;

  PetscFunctionBegin;
  for (int i = 0; i < argc; i++)
    len += 4 * strlen(argv[i]) + 3;
  PetscCall(PetscMalloc1(len, &s));
  p = s;
  p += sprintf(p, "gyre");
  for (int i = 0; i < argc; i++) {
    const char *a    = argv[i]; /* argv[0] is the subcommand */
    PetscBool   safe = a[0] ? PETSC_TRUE : PETSC_FALSE;
    for (const char *c = a; *c; c++)
      if (!(isalnum((unsigned char) *c) || strchr("-_./=:,+@%", *c))) safe = PETSC_FALSE;
    *p++ = ' ';
    if (safe) {
      p += sprintf(p, "%s", a);
      continue;
    }
    *p++ = '\'';
    for (const char *c = a; *c; c++) {
      if (*c == '\'')
        p += sprintf(p, "'\\''");
      else
        *p++ = *c;
    }
    *p++ = '\'';
  }
  *p    = 0;
  *line = s;
  PetscFunctionReturn(PETSC_SUCCESS);
}
