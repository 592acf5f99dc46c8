/* gyre_model.h — how a physical model describes itself to the time-stepping driver.
 *
 * A model file (solvers/model_<name>.c) owns physics only: options, its grid and state
 * layout, the right-hand side (split into an explicit part and, where it has stiff linear
 * terms, an implicit part with an exact solve, so PETSc's IMEX integrators apply), the
 * initial state, its invariants and the fields it offers for output. The driver
 * (solvers/driver.c) owns time stepping, output, checkpoints, signals and progress.
 *
 * Adding a model: write solvers/model_<name>.c with a GyreModelCreate_<Name>() that fills
 * the ops table, and add one line to solvers/registry.c. */
#ifndef GYRE_MODEL_H
#define GYRE_MODEL_H

#include <petscts.h>
#include <petscdmda.h>
#include "gyre_io.h"
#include "gyre_petsc.h"

#define GYRE_MAX_FIELDS 8
#define GYRE_MAX_DIMS 8
#define GYRE_MAX_INVARIANTS 4

typedef struct _p_GyreModel         *GyreModel;
typedef struct _p_GyreClosure       *GyreClosure;
typedef struct _p_GyreSurrogateEval *GyreSurrogateEval;

/* A field the model offers for output: a variable over (time, [member,] dims...). The local
 * block this rank writes is start[]/count[] over dims (set by the model in setup). */
typedef struct {
  GyreVarSpec spec; /* name, dims (model dims only: the driver adds time and member),
                       long_name, units, precision (default; -output_precision overrides) */
  size_t start[GYRE_IO_MAX_DIMS], count[GYRE_IO_MAX_DIMS];
  int    in_state; /* 1: part of the state (read back by -initial_file) */
} GyreOutputField;

typedef struct {
  /* Reads the model's options (-<model>_*). Collective. */
  PetscErrorCode (*setfromoptions)(GyreModel);
  /* Creates the grid and model->dm (the state's DMDA), model->dims and model->fields
   * (with each rank's output block). Collective. */
  PetscErrorCode (*setup)(GyreModel);
  /* Sets the model's default TS type and dt before TSSetFromOptions. Collective. */
  PetscErrorCode (*settsdefaults)(GyreModel, TS);
  /* Initial state of ensemble member `member` (seed = model->seed + member). Collective. */
  PetscErrorCode (*initialstate)(GyreModel, PetscInt member, Vec U);
  /* F = explicit (non-stiff) part of dU/dt at time t. Collective. */
  PetscErrorCode (*rhsexplicit)(GyreModel, PetscReal t, Vec U, Vec F);
  /* Optional: F = L U, the stiff linear part of dU/dt (e.g. viscosity). Collective. */
  PetscErrorCode (*rhsimplicit)(GyreModel, PetscReal t, Vec U, Vec F);
  /* Optional (with rhsimplicit): X = (shift I - L)^{-1} B exactly. Collective. */
  PetscErrorCode (*solveimplicit)(GyreModel, PetscReal shift, Vec B, Vec X);
  /* Optional: the largest stable dt for state U (CFL). Collective. */
  PetscErrorCode (*stabledt)(GyreModel, Vec U, PetscReal *dt);
  /* Invariants of U (model->ninvariants values: energy, enstrophy...). Collective. */
  PetscErrorCode (*invariants)(GyreModel, Vec U, PetscReal *inv);
  /* Fills this rank's block of output field i from the state U at time t (C order over
   * the field's count[]). Collective (a field may need communication). */
  PetscErrorCode (*outputfield)(GyreModel, PetscInt i, Vec U, PetscReal t, double *data);
  /* Sets U from the state fields stored in an open gyre file at record rec (member, or -1
   * when the file has no member dimension). Collective. */
  PetscErrorCode (*readstate)(GyreModel, GyreFile, size_t rec, PetscInt member, Vec U);
  /* A one-line description of every parameter that defines the run ("K=8 J=32 F=20 ..."),
   * stored in checkpoints and compared on restart. */
  PetscErrorCode (*describe)(GyreModel, char *buf, size_t len);
  PetscErrorCode (*destroy)(GyreModel);
} GyreModelOps;

struct _p_GyreModel {
  char         name[32];
  MPI_Comm     comm;
  GyreModelOps ops;
  void        *data; /* the model's own context */

  /* set by the driver before setfromoptions/setup */
  PetscInt    output_stride; /* store output coarsened by this factor (1: as computed) */
  PetscInt    seed;
  PetscInt    ensemble_size;
  GyreClosure closure; /* term added to the explicit RHS, or NULL */
  /* During the timestepper's explicit right-hand side: closure_in_rhs, the model may add the
   * closure itself (GyreModelClosureOwned); closure_added, it did */
  PetscBool closure_in_rhs, closure_added;

  /* set by the model in setup */
  DM              dm;         /* the state's DMDA (component names set with DMDASetFieldName) */
  GyreTimeKind    timekind;   /* GYRE_TIME_NONDIM for non-dimensional models */
  const char     *time_units; /* for GYRE_TIME_PHYSICAL */
  PetscInt        ndims;
  GyreDimSpec     dims[GYRE_MAX_DIMS]; /* output dimensions (not time, not member) */
  PetscInt        nfields;
  GyreOutputField fields[GYRE_MAX_FIELDS];
  PetscInt        ninvariants;
  const char     *invariant_names[GYRE_MAX_INVARIANTS];
  PetscReal       default_output_every; /* model time between outputs, 0: every step */
  PetscReal       bound;                /* |state| beyond this is a blow-up (0: only NaN/Inf) */
  const char     *no_closure; /* why this configuration takes no closure (NULL: it takes one) */
};

/* A closure: a term added to the right-hand side of the field it forces. "none", analytic
 * closures and (later) surrogates plug into the same seam. */
struct _p_GyreClosure {
  char        name[32];
  char        field[32]; /* the forced state component */
  const char *option;    /* the option that asked for it: -closure, or -guard_fallback */
  void       *ctx;
  /* F += closure term for state U at time t. Collective. */
  PetscErrorCode (*apply)(GyreClosure, GyreModel, PetscReal t, Vec U, Vec F);
  /* Optional (NULL: none): apply's term added to f from arrays a model's right-hand side already
   * holds (GyreModelClosureOwned): u and f this rank's points of U and F, dof values a point,
   * contiguous in the global vectors' order (a 1-D DMDA's ghosted local array from its first
   * owned point is; a 2-D one's is not, its ghost columns split the rows: pass the global
   * vector's array there); two Vec array accesses a call fewer (on l96's 8 sectors each pair
   * cost ~3% of a step). *done = PETSC_FALSE where it added nothing (the caller then calls
   * apply); the same outcome on every rank. */
  PetscErrorCode (*apply_owned)(GyreClosure, GyreModel, PetscReal t, const PetscScalar *u,
                                PetscScalar *f, PetscBool *done);
  PetscErrorCode (*destroy)(GyreClosure);
  /* A learned closure's surrogate (solvers/gyre_surrogate.h: its guard state), NULL for the
   * others. Owned by ctx. */
  GyreSurrogateEval surrogate;
  /* The driver's count of time steps begun (GyreRunStepPhysics, before each TSStep, every
   * member's), and whether a step is under way: a closure evaluated once a step
   * (-surrogate_closure_eval step) holds its term through that step's stages. */
  PetscInt  steps_begun;
  PetscBool in_step;
  /* Set by such a closure: the driver restarts the TS at every step where the step's first
   * stage might not evaluate the right-hand side afresh at its start (GyreRunSetUpTS: an FSAL
   * Runge-Kutta tableau, 3bs 5dp 5bs, would reuse the last stage's, made with the term held
   * from the step before). */
  PetscBool once_a_step;
};

/* Why the guard rejected a step (or an emulator's advance) with the surrogate. The evaluation's
 * reasons are numbered by severity, so that the most severe over the ranks is their MPI_MAX. */
typedef enum {
  GYRE_GUARD_NONE      = 0,
  GYRE_GUARD_INPUT     = 1, /* an input beyond -guard_sigma of the training inputs */
  GYRE_GUARD_OUTPUT    = 2, /* an output beyond -guard_sigma of the training targets */
  GYRE_GUARD_NAN       = 3, /* the network's output is NaN or Inf */
  GYRE_GUARD_INVARIANT = 4  /* a field's mean square outside the training band (-guard_band) */
} GyreGuardReason;

/* ---- registry (solvers/registry.c) ---- */
/* Creates the model registered under name; a clear error lists the known models. */
PetscErrorCode GyreModelCreate(MPI_Comm comm, const char *name, GyreModel *model);
PetscErrorCode GyreModelDestroy(GyreModel *model);
/* Prints the registered model names, one per line. */
PetscErrorCode GyreModelListPrint(MPI_Comm comm);

/* ---- closures (solvers/closure.c) ---- */
/* Creates the closure named by -closure none|polynomial|surrogate for model (reads -closure_*;
 * -surrogate FILE [-surrogate_mode closure] means -closure surrogate).
 * *closure is NULL for none. Collective. */
PetscErrorCode GyreClosureCreateFromOptions(GyreModel model, GyreClosure *closure);
PetscErrorCode GyreClosureDestroy(GyreClosure *closure);
/* Index of closure->field among the components of the model's DMDA (the first component's name
 * is filled in when no field was named). Collective (the error is raised on every rank). */
PetscErrorCode GyreClosureFindComponent(GyreClosure cl, GyreModel model, PetscInt *comp);
/* From inside the model's explicit right-hand side, while it holds this rank's points of U and
 * F as arrays u and f (dof values a point, the global vectors' order): adds the closure's term
 * to f where the closure can from arrays (apply_owned) and the timestepper asked for it
 * (closure_in_rhs), and says so (closure_added: the timestepper then does not add it again);
 * else nothing. Collective where the closure is. */
PetscErrorCode GyreModelClosureOwned(GyreModel model, PetscReal t, const PetscScalar *u,
                                     PetscScalar *f);
/* The closure types (solvers/closure.c, solvers/closure_surrogate.c). */
PetscErrorCode GyreClosureCreate_Surrogate(GyreClosure cl, GyreModel model);
PetscErrorCode GyreClosureCreate_Polynomial(GyreClosure cl, GyreModel model);

/* ---- time stepping (solvers/timestepper.c) ---- */
/* Gives a TS (its type already chosen, e.g. after TSSetFromOptions) the model's right-hand
 * side, with the model's closure added to the explicit part: IMEX types (arkimex, rosw) get
 * the explicit part as RHS function and the stiff part L as IFunction Udot - L U, whose
 * stage solves are the model's exact solve (SNES ksponly, KSP preonly, PCSHELL); explicit
 * types (euler, rk, ssp, mprk) get the sum. Other types are refused. Collective. */
PetscErrorCode GyreModelSetUpTS(GyreModel model, TS ts);

/* ---- the driver (solvers/driver.c) ---- */
/* `gyre simulate`: runs the model named by -model with every option of the database.
 * Returns the process exit code in *exitcode (0, or GYRE_EXIT_CHECKPOINTED). Collective. */
PetscErrorCode GyreSimulate(MPI_Comm comm, int argc, char **argv, int *exitcode);
/* After GyreSimulate failed on every rank: closes the output the run had made and, where it
 * replaced a file (-output_overwrite), puts that file back and keeps the failed run's records
 * as PATH.failed; says so on stderr. Collective. */
PetscErrorCode GyreSimulateFailed(void);
/* After GyreSimulate failed on this rank alone, before the job is aborted: where the run was
 * replacing a file (-output_overwrite), puts it back (GyreRunOutputAbandon) and says so on
 * stderr. Not collective. */
void GyreSimulateAbandon(void);
/* The usage text of `gyre simulate` (printed first by -help). */
extern const char GyreSimulateHelp[];
/* Exit code of a run stopped by SIGTERM/SIGUSR1 after writing its checkpoint. Not 0, so that
 * Slurm `afterok` dependants do not start on partial data. */
#define GYRE_EXIT_CHECKPOINTED 75

/* Model constructors, one per model file. */
PetscErrorCode GyreModelCreate_L96(GyreModel);
PetscErrorCode GyreModelCreate_NS2D(GyreModel);

#endif
