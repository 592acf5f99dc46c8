/* checkpoint.c — checkpoints: the state vector and the run's clock in a NetCDF file written
 * atomically (temporary file, fsync, rename), so a crash mid-write leaves the previous good
 * checkpoint in place. Each rank writes its own block of the state; nothing is gathered.
 *
 * Contents: variable `state` over (y, x, component) for a 2-D grid or (x, component) for
 * a ring, in the DMDA's natural ordering; global attributes gyre_checkpoint_* with the
 * model name, its parameters (describe()), dt, seed, ensemble size, member, step and time.
 * A restart refuses a checkpoint whose model, parameters, grid, dt, seed or ensemble size
 * differ from the run's, naming both values. */
#include "gyre_run.h"

typedef struct {
  PetscInt dim, M, N, dof, xs, ys, xm, ym;
} StateLayout;

static PetscErrorCode GetLayout(DM dm, StateLayout *l)
{
  PetscFunctionBegin;
  PetscCall(DMDAGetInfo(dm, &l->dim, &l->M, &l->N, NULL, NULL, NULL, NULL, &l->dof, NULL, NULL,
                        NULL, NULL, NULL));
  PetscCall(DMDAGetCorners(dm, &l->xs, &l->ys, NULL, &l->xm, &l->ym, NULL));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* start/count of this rank's block of `state`, and the number of dims */
static int StateBlock(const StateLayout *l, size_t *start, size_t *count)
{
  if (l->dim == 1) {
    start[0] = (size_t) l->xs, count[0] = (size_t) l->xm;
    start[1] = 0, count[1] = (size_t) l->dof;
    return 2;
  }
  start[0] = (size_t) l->ys, count[0] = (size_t) l->ym;
  start[1] = (size_t) l->xs, count[1] = (size_t) l->xm;
  start[2] = 0, count[2] = (size_t) l->dof;
  return 3;
}

PetscErrorCode GyreRunCheckpointWrite(GyreRun *run, const char *path)
{
  GyreModel          m  = run->model;
  GyreFileOptions    fo = {.overwrite = 1, .atomic = 1};
  GyreFile           f;
  StateLayout        l;
  size_t             start[3], count[3];
  const PetscScalar *u;
  int                varid;
  char               desc[512], buf[64];

  PetscFunctionBegin;
  PetscCall(GetLayout(m->dm, &l));
  PetscCallGyre(run->comm, GyreFileCreate(run->comm, path, &fo, &f));
  GyreDimSpec dx = {.name = "x", .len = (size_t) l.M};
  GyreDimSpec dy = {.name = "y", .len = (size_t) l.N};
  GyreDimSpec dc = {.name = "component", .len = (size_t) l.dof};
  if (l.dim == 2) PetscCallGyre(run->comm, GyreFileDefineDim(f, &dy));
  PetscCallGyre(run->comm, GyreFileDefineDim(f, &dx));
  PetscCallGyre(run->comm, GyreFileDefineDim(f, &dc));
  GyreVarSpec vs = {.name      = "state",
                    .long_name = "model state (DMDA natural ordering)",
                    .units     = "1",
                    .precision = GYRE_DOUBLE,
                    .has_time  = 0};
  vs.ndims       = StateBlock(&l, start, count);
  if (l.dim == 2) {
    vs.dims[0] = "y", vs.dims[1] = "x", vs.dims[2] = "component";
  } else {
    vs.dims[0] = "x", vs.dims[1] = "component";
  }
  PetscCallGyre(run->comm, GyreFileDefineVar(f, &vs, &varid));
  PetscCall((*m->ops.describe)(m, desc, sizeof desc));
  PetscCallGyre(run->comm, GyreFilePutAttText(f, "gyre_checkpoint_model", m->name));
  PetscCallGyre(run->comm, GyreFilePutAttText(f, "gyre_checkpoint_parameters", desc));
  PetscCallGyre(run->comm, GyreFilePutAttText(f, "gyre_checkpoint_output", run->output));
  PetscCallGyre(run->comm, GyreFilePutAttDouble(f, "gyre_checkpoint_dt", run->dt));
  PetscCallGyre(run->comm, GyreFilePutAttDouble(f, "gyre_checkpoint_seed", (double) m->seed));
  PetscCallGyre(run->comm, GyreFilePutAttDouble(f, "gyre_checkpoint_ensemble_size",
                                                (double) m->ensemble_size));
  PetscCallGyre(run->comm, GyreFilePutAttDouble(f, "gyre_checkpoint_member", (double) run->member));
  PetscCallGyre(run->comm, GyreFilePutAttDouble(f, "gyre_checkpoint_step", (double) run->step));
  PetscCallGyre(run->comm,
                GyreFilePutAttDouble(f, "gyre_checkpoint_step_first", (double) run->step_first));
  PetscCallGyre(run->comm, GyreFilePutAttDouble(f, "gyre_checkpoint_time", run->step * run->dt));
  PetscCall(PetscSNPrintf(buf, sizeof buf, "%d", 1));
  PetscCallGyre(run->comm, GyreFilePutAttText(f, "gyre_checkpoint_version", buf));
  PetscCallGyre(run->comm, GyreFileEndDef(f));
  PetscCall(VecGetArrayRead(run->U, &u));
  GyreStatus s = GyreFileWriteBlock(f, varid, 0, start, count, (const double *) u);
  PetscCall(VecRestoreArrayRead(run->U, &u));
  if (s != GYRE_OK) {
    GyreFileAbort(&f);
    PetscCallGyre(run->comm, s);
  }
  PetscCallGyre(run->comm, GyreFileClose(&f));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode CheckNumber(GyreRun *run, GyreFile f, const char *path, const char *att,
                                  double expect, const char *what)
{
  double v;

  PetscFunctionBegin;
  PetscCallGyre(run->comm, GyreFileGetAttDouble(f, att, &v));
  PetscCheck(v == expect, run->comm, PETSC_ERR_FILE_UNEXPECTED,
             "checkpoint '%s' belongs to another run: %s %g in the checkpoint, %g in this run",
             path, what, v, expect);
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode GyreRunCheckpointRead(GyreRun *run, const char *path)
{
  GyreModel    m = run->model;
  GyreFile     f;
  StateLayout  l;
  size_t       start[3], count[3], lens[GYRE_IO_MAX_DIMS];
  char         names[GYRE_IO_MAX_DIMS][64];
  int          ndims, has_time;
  char        *model = NULL, *params = NULL, desc[512];
  double       v;
  PetscScalar *u;

  PetscFunctionBegin;
  PetscCall(GetLayout(m->dm, &l));
  PetscCallGyre(run->comm, GyreFileOpen(run->comm, path, 0, &f));
  PetscCallGyre(run->comm, GyreFileGetAttText(f, "gyre_checkpoint_model", &model));
  PetscCallGyre(run->comm, GyreFileGetAttText(f, "gyre_checkpoint_parameters", &params));
  PetscCall((*m->ops.describe)(m, desc, sizeof desc));
  PetscBool same_model = (PetscBool) !strcmp(model, m->name);
  PetscBool same_par   = (PetscBool) !strcmp(params, desc);
  if (!same_model || !same_par) {
    char msg[1400];
    PetscCall(PetscSNPrintf(msg, sizeof msg,
                            "checkpoint '%s' belongs to another run: model %s (%s) in the "
                            "checkpoint, %s (%s) in this run",
                            path, model, params, m->name, desc));
    free(model);
    free(params);
    GyreFileClose(&f);
    SETERRQ(run->comm, PETSC_ERR_FILE_UNEXPECTED, "%s", msg);
  }
  free(model);
  free(params);
  PetscCall(CheckNumber(run, f, path, "gyre_checkpoint_dt", run->dt, "dt"));
  PetscCall(CheckNumber(run, f, path, "gyre_checkpoint_seed", (double) m->seed, "-seed"));
  PetscCall(CheckNumber(run, f, path, "gyre_checkpoint_ensemble_size", (double) m->ensemble_size,
                        "-ensemble_size"));
  PetscCallGyre(run->comm, GyreFileInqVar(f, "state", &ndims, names, lens, &has_time));
  int nd = StateBlock(&l, start, count);
  PetscCheck(ndims == nd && lens[nd - 1] == (size_t) l.dof &&
                 lens[0] == (size_t) (l.dim == 1 ? l.M : l.N) &&
                 (l.dim == 1 || lens[1] == (size_t) l.M),
             run->comm, PETSC_ERR_FILE_UNEXPECTED,
             "checkpoint '%s' holds a state on another grid than this run's (%" PetscInt_FMT
             " x %" PetscInt_FMT " points, %" PetscInt_FMT " components)",
             path, l.M, l.N, l.dof);
  PetscCall(VecGetArray(run->U, &u));
  GyreStatus s = GyreFileReadBlock(f, "state", 0, start, count, (double *) u);
  PetscCall(VecRestoreArray(run->U, &u));
  PetscCallGyre(run->comm, s);
  PetscCallGyre(run->comm, GyreFileGetAttDouble(f, "gyre_checkpoint_step", &v));
  run->step = (PetscInt) v;
  PetscCallGyre(run->comm, GyreFileGetAttDouble(f, "gyre_checkpoint_step_first", &v));
  run->step_first = (PetscInt) v;
  PetscCallGyre(run->comm, GyreFileGetAttDouble(f, "gyre_checkpoint_member", &v));
  run->member = (PetscInt) v;
  PetscCallGyre(run->comm, GyreFileClose(&f));
  PetscFunctionReturn(PETSC_SUCCESS);
}
