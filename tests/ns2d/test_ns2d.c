/* test_ns2d.c — tests of the 2-D Navier–Stokes model (solvers/model_ns2d.c) through its ops
 * table, time-stepped with a PETSc TS set up as the driver does (an explicit RHS function;
 * for TSARKIMEX also F = Udot - L U with a shell Jacobian shift I - L whose exact inverse is
 * the model's solveimplicit, applied as a PCSHELL under SNES ksponly / KSP preonly).
 *
 * Usage: test_ns2d -test NAME, NAME one of
 *   taylor_green   w = cos 2 pi x cos 2 pi y with f = 0 decays as exp(-8 pi^2 nu t): error at
 *                  t = 1 on 32^2 <= 1e-10; exact invariants and CFL step of the initial state
 *   ranks          a 64^2 GRF run (20 fixed steps) equals a 1-rank reference computed on
 *                  PETSC_COMM_SELF in the same program to 1e-10 relative
 *   conservation   nu = 0, f = 0: RK4 keeps energy and enstrophy to 1e-6 relative
 *   rhs            explicit and implicit RHS of a sum of Fourier modes equal the analytic
 *                  Jacobian and Laplacian to 1e-12; solveimplicit inverts shift I - L to 1e-12
 *   subgrid        subgrid_forcing of a field resolved on the coarse grid, subsample
 *                  coarsening, is 0 to 1e-12; for a GRF it is nonzero with mean 0; a grid not
 *                  divisible by the stride is a clear error
 *   grf            the GRF initial state has the analytic standard deviation within 10%
 *   readstate      readstate loads a (record, member) of a file exactly; a coarse file is
 *                  refused naming both grid sizes; describe names every parameter
 * Each prints its measured numbers and fails (non-zero exit) when a check fails. */
#include <math.h>
#include <string.h>
#include "gyre_model.h"
#include "gyre_grid.h"

#define TWO_PI (2.0 * PETSC_PI)

static int failures = 0;

/* Prints a check on rank 0 and counts a failure. */
static PetscErrorCode Check(MPI_Comm comm, PetscBool ok, const char *what, double value,
                            const char *op, double bound)
{
  PetscFunctionBegin;
  PetscCall(
      PetscPrintf(comm, "%s %-58s %.3e %s %.3e\n", ok ? "ok  " : "FAIL", what, value, op, bound));
  if (!ok) failures++;
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode CheckLE(MPI_Comm comm, const char *what, double value, double bound)
{
  return Check(comm, (PetscBool) (value <= bound), what, value, "<=", bound);
}

static PetscErrorCode CheckGE(MPI_Comm comm, const char *what, double value, double bound)
{
  return Check(comm, (PetscBool) (value >= bound), what, value, ">=", bound);
}

/* Creates the ns2d model on comm from the options string opts, with output stride r. */
static PetscErrorCode ModelCreate(MPI_Comm comm, const char *opts, PetscInt r, GyreModel *model)
{
  GyreModel m;

  PetscFunctionBegin;
  PetscCall(PetscOptionsInsertString(NULL, opts));
  PetscCall(GyreModelCreate(comm, "ns2d", &m));
  m->output_stride = r;
  m->seed          = 1234;
  PetscCall((*m->ops.setfromoptions)(m));
  PetscCall((*m->ops.setup)(m));
  *model = m;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ---- a TS wired by the driver's own GyreModelSetUpTS ------------------------------------- */

/* Advances U by nsteps fixed steps of size dt with TSARKIMEX (subtype) or, for type TSRK,
 * classic RK4 on the summed right-hand side. Collective. */
static PetscErrorCode Integrate(GyreModel m, TSType type, TSARKIMEXType subtype, PetscReal dt,
                                PetscInt nsteps, Vec U)
{
  TS        ts;
  TSAdapt   adapt;
  PetscReal t;
  PetscInt  steps;

  PetscFunctionBegin;
  PetscCall(TSCreate(m->comm, &ts));
  PetscCall(TSSetDM(ts, m->dm));
  PetscCall(TSSetType(ts, type));
  PetscCall(TSSetTimeStep(ts, dt));
  PetscCall(TSSetMaxSteps(ts, nsteps));
  PetscCall(TSSetMaxTime(ts, 1e30));
  PetscCall(TSSetExactFinalTime(ts, TS_EXACTFINALTIME_MATCHSTEP));
  PetscCall(TSGetAdapt(ts, &adapt));
  PetscCall(TSAdaptSetType(adapt, TSADAPTNONE));
  if (!strcmp(type, TSARKIMEX))
    PetscCall(TSARKIMEXSetType(ts, subtype));
  else
    PetscCall(TSRKSetType(ts, TSRK4));
  PetscCall(GyreModelSetUpTS(m, ts));
  PetscCall(TSSolve(ts, U));
  PetscCall(TSGetSolveTime(ts, &t));
  PetscCall(TSGetStepNumber(ts, &steps));
  PetscCheck(steps == nsteps && PetscAbsReal(t - nsteps * dt) <= 1e-12 * (1 + t), m->comm,
             PETSC_ERR_PLIB,
             "TS took %" PetscInt_FMT " steps to t = %g, expected %" PetscInt_FMT " steps to %g",
             steps, (double) t, nsteps, (double) (nsteps * dt));
  PetscCall(TSDestroy(&ts));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ---- helpers over this rank's block -------------------------------------------------------- */

typedef PetscReal (*FieldFn)(PetscReal x, PetscReal y, void *ctx);

/* Sets U(x, y) = fn(x, y) on the model's grid (uniform points i/nx, j/ny). */
static PetscErrorCode SetField(GyreModel m, FieldFn fn, void *ctx, Vec U)
{
  PetscScalar **u;
  PetscInt      xs, ys, xm, ym, nx, ny;

  PetscFunctionBegin;
  PetscCall(DMDAGetInfo(m->dm, NULL, &nx, &ny, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
                        NULL));
  PetscCall(DMDAGetCorners(m->dm, &xs, &ys, NULL, &xm, &ym, NULL));
  PetscCall(DMDAVecGetArray(m->dm, U, &u));
  for (PetscInt j = ys; j < ys + ym; j++)
    for (PetscInt i = xs; i < xs + xm; i++)
      u[j][i] = fn((PetscReal) i / nx, (PetscReal) j / ny, ctx);
  PetscCall(DMDAVecRestoreArray(m->dm, U, &u));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* max |U - fn| and max |fn| over the grid. Collective. */
static PetscErrorCode FieldError(GyreModel m, Vec U, FieldFn fn, void *ctx, PetscReal *err,
                                 PetscReal *ref)
{
  Vec V;

  PetscFunctionBegin;
  PetscCall(VecDuplicate(U, &V));
  PetscCall(SetField(m, fn, ctx, V));
  PetscCall(VecNorm(V, NORM_INFINITY, ref));
  PetscCall(VecAXPY(V, -1.0, U));
  PetscCall(VecNorm(V, NORM_INFINITY, err));
  PetscCall(VecDestroy(&V));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ---- (1) Taylor–Green decay --------------------------------------------------------------- */

typedef struct {
  PetscReal amp;
} TGCtx;

static PetscReal TaylorGreen(PetscReal x, PetscReal y, void *ctx)
{
  return ((TGCtx *) ctx)->amp * PetscCosReal(TWO_PI * x) * PetscCosReal(TWO_PI * y);
}

static PetscErrorCode TestTaylorGreen(MPI_Comm comm)
{
  const PetscReal nu = 1e-2, tend = 1.0;
  const PetscInt  nsteps = 100;
  GyreModel       m;
  Vec             U;
  PetscReal       inv[2], dt, err, ref;
  TGCtx           tg = {.amp = 1};

  PetscFunctionBegin;
  PetscCall(ModelCreate(
      comm, "-grid_nx 32 -ns2d_nu 1e-2 -ns2d_forcing none -ns2d_init taylor_green", 1, &m));
  PetscCall(DMCreateGlobalVector(m->dm, &U));
  PetscCall((*m->ops.initialstate)(m, 0, U));
  PetscCall(FieldError(m, U, TaylorGreen, &tg, &err, &ref));
  PetscCall(CheckLE(comm, "initial state - cos 2pi x cos 2pi y", err, 1e-15));

  /* psi = w / (8 pi^2): |u|^2 = (cos^2 x sin^2 y + sin^2 x cos^2 y) / (16 pi^2) */
  PetscCall((*m->ops.invariants)(m, U, inv));
  PetscCall(CheckLE(comm, "energy - 1/(64 pi^2) (relative)",
                    PetscAbsReal(inv[0] * 64 * PETSC_PI * PETSC_PI - 1), 1e-13));
  PetscCall(CheckLE(comm, "enstrophy - 1/8 (relative)", PetscAbsReal(inv[1] * 8 - 1), 1e-13));
  /* max |u| = 1/(4 pi) at grid points: dt = cfl dx 4 pi = 0.5 (1/32) 4 pi = pi / 16 */
  PetscCall((*m->ops.stabledt)(m, U, &dt));
  PetscCall(
      CheckLE(comm, "stabledt - pi/16 (relative)", PetscAbsReal(dt / (PETSC_PI / 16) - 1), 1e-13));

  PetscCall(Integrate(m, TSARKIMEX, TSARKIMEX4, tend / nsteps, nsteps, U));
  tg.amp = PetscExpReal(-8 * PETSC_PI * PETSC_PI * nu * tend);
  PetscCall(FieldError(m, U, TaylorGreen, &tg, &err, &ref));
  PetscCall(PetscPrintf(comm, "     ARKIMEX4, dt = %g, t = %g: amplitude %.15f (exact %.15f)\n",
                        (double) (tend / nsteps), (double) tend, (double) ref, (double) tg.amp));
  PetscCall(CheckLE(comm, "Taylor-Green max error vs exp(-8 pi^2 nu t) at t = 1", err, 1e-10));

  PetscCall(VecDestroy(&U));
  PetscCall(GyreModelDestroy(&m));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ---- (2) rank independence ------------------------------------------------------------------ */

/* max |A - B| over comm's grid and max |B|, A on comm, B the full-grid reference on SELF. */
static PetscErrorCode CompareToReference(GyreModel m, Vec A, GyreModel mref, Vec B, PetscReal *diff,
                                         PetscReal *bmax)
{
  const PetscScalar **a, **b;
  PetscInt            xs, ys, xm, ym;
  PetscReal           loc[2] = {0, 0};

  PetscFunctionBegin;
  PetscCall(DMDAGetCorners(m->dm, &xs, &ys, NULL, &xm, &ym, NULL));
  PetscCall(DMDAVecGetArrayRead(m->dm, A, &a));
  PetscCall(DMDAVecGetArrayRead(mref->dm, B, &b));
  for (PetscInt j = ys; j < ys + ym; j++)
    for (PetscInt i = xs; i < xs + xm; i++) {
      loc[0] = PetscMax(loc[0], PetscAbsReal(a[j][i] - b[j][i]));
      loc[1] = PetscMax(loc[1], PetscAbsReal(b[j][i]));
    }
  PetscCall(DMDAVecRestoreArrayRead(mref->dm, B, &b));
  PetscCall(DMDAVecRestoreArrayRead(m->dm, A, &a));
  PetscCall(MPIU_Allreduce(MPI_IN_PLACE, loc, 2, MPIU_REAL, MPIU_MAX, m->comm));
  *diff = loc[0];
  *bmax = loc[1];
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode TestRanks(MPI_Comm comm)
{
  const char     *opts   = "-grid_nx 64 -ns2d_nu 1e-3 -ns2d_forcing li -ns2d_init grf";
  const PetscInt  nsteps = 20;
  const PetscReal dt     = 0.01;
  GyreModel       m, mref;
  Vec             U, Uref;
  PetscReal       diff, bmax, inv[2], invref[2], dtcfl;
  PetscMPIInt     size;

  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_size(comm, &size));
  PetscCall(ModelCreate(PETSC_COMM_SELF, opts, 1, &mref));
  PetscCall(ModelCreate(comm, opts, 1, &m));
  PetscCall(DMCreateGlobalVector(mref->dm, &Uref));
  PetscCall(DMCreateGlobalVector(m->dm, &U));
  PetscCall((*mref->ops.initialstate)(mref, 0, Uref));
  PetscCall((*m->ops.initialstate)(m, 0, U));
  PetscCall(CompareToReference(m, U, mref, Uref, &diff, &bmax));
  PetscCall(PetscPrintf(comm, "     %d ranks vs 1-rank reference, 64^2 GRF, max|w0| = %.4f\n",
                        (int) size, (double) bmax));
  PetscCall(CheckLE(comm, "initial GRF: max|w - w_ref| / max|w_ref|", diff / bmax, 1e-14));
  PetscCall((*m->ops.stabledt)(m, U, &dtcfl));
  PetscCall(CheckGE(comm, "fixed dt 0.01 is within the CFL step", dtcfl, dt));

  PetscCall(Integrate(mref, TSARKIMEX, TSARKIMEX3, dt, nsteps, Uref));
  PetscCall(Integrate(m, TSARKIMEX, TSARKIMEX3, dt, nsteps, U));
  PetscCall(CompareToReference(m, U, mref, Uref, &diff, &bmax));
  PetscCall(PetscPrintf(comm, "     after %d ARKIMEX3 steps of %g: max|w| = %.6f\n", (int) nsteps,
                        (double) dt, (double) bmax));
  PetscCall(CheckLE(comm, "final: max|w - w_ref| / max|w_ref|", diff / bmax, 1e-10));
  PetscCall((*m->ops.invariants)(m, U, inv));
  PetscCall((*mref->ops.invariants)(mref, Uref, invref));
  PetscCall(
      PetscPrintf(comm, "     energy %.12e enstrophy %.12e\n", (double) inv[0], (double) inv[1]));
  PetscCall(CheckLE(comm, "final energy vs reference (relative)",
                    PetscAbsReal(inv[0] / invref[0] - 1), 1e-10));
  PetscCall(CheckLE(comm, "final enstrophy vs reference (relative)",
                    PetscAbsReal(inv[1] / invref[1] - 1), 1e-10));

  PetscCall(VecDestroy(&U));
  PetscCall(VecDestroy(&Uref));
  PetscCall(GyreModelDestroy(&m));
  PetscCall(GyreModelDestroy(&mref));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ---- (3) conservation ------------------------------------------------------------------------ */

static PetscErrorCode TestConservation(MPI_Comm comm)
{
  const PetscInt nsteps = 40;
  GyreModel      m;
  Vec            U;
  PetscReal      inv0[2], inv1[2], dt;

  PetscFunctionBegin;
  PetscCall(ModelCreate(comm, "-grid_nx 32 -ns2d_nu 0 -ns2d_forcing none -ns2d_init grf", 1, &m));
  PetscCall(DMCreateGlobalVector(m->dm, &U));
  PetscCall((*m->ops.initialstate)(m, 0, U));
  PetscCall((*m->ops.invariants)(m, U, inv0));
  PetscCall((*m->ops.stabledt)(m, U, &dt));
  dt /= 4; /* CFL 0.125: the drift is RK4 error, O(dt^4) */
  PetscCall(Integrate(m, TSRK, NULL, dt, nsteps, U));
  PetscCall((*m->ops.invariants)(m, U, inv1));
  PetscCall(PetscPrintf(comm,
                        "     RK4, 32^2 GRF, nu = 0, f = 0: %d CFL steps of %.4f (t = %.3f)\n"
                        "     energy %.12e -> %.12e, enstrophy %.12e -> %.12e\n",
                        (int) nsteps, (double) dt, (double) (nsteps * dt), (double) inv0[0],
                        (double) inv1[0], (double) inv0[1], (double) inv1[1]));
  PetscCall(CheckLE(comm, "energy drift (relative)", PetscAbsReal(inv1[0] / inv0[0] - 1), 1e-6));
  PetscCall(CheckLE(comm, "enstrophy drift (relative)", PetscAbsReal(inv1[1] / inv0[1] - 1), 1e-6));
  PetscCall(VecDestroy(&U));
  PetscCall(GyreModelDestroy(&m));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ---- (4) the right-hand side against analytic derivatives -------------------------------------
 */

/* w = sum_n A_n cos(theta_n), theta_n = 2 pi (p_n x + q_n y) + phi_n */
typedef struct {
  PetscInt  n;
  PetscReal p[4], q[4], A[4], phi[4], nu;
  PetscBool forcing;
} Modes;

static const Modes TestModes = {.n       = 4,
                                .p       = {1, 3, 0, 2},
                                .q       = {2, -1, 2, 2},
                                .A       = {1.0, 0.5, -0.7, 0.25},
                                .phi     = {0.3, 1.1, 0.2, 0.0},
                                .nu      = 1e-3,
                                .forcing = PETSC_TRUE};

static PetscReal ModesField(PetscReal x, PetscReal y, void *ctx)
{
  const Modes *md = (const Modes *) ctx;
  PetscReal    w  = 0;
  for (PetscInt k = 0; k < md->n; k++)
    w += md->A[k] * PetscCosReal(TWO_PI * (md->p[k] * x + md->q[k] * y) + md->phi[k]);
  return w;
}

/* -u.grad w + f with u = psi_y, v = -psi_x, psi_n = w_n / (4 pi^2 (p^2 + q^2)) */
static PetscReal ModesExplicit(PetscReal x, PetscReal y, void *ctx)
{
  const Modes *md = (const Modes *) ctx;
  PetscReal    u = 0, v = 0, wx = 0, wy = 0;
  for (PetscInt k = 0; k < md->n; k++) {
    const PetscReal s  = PetscSinReal(TWO_PI * (md->p[k] * x + md->q[k] * y) + md->phi[k]);
    const PetscReal k2 = 4 * PETSC_PI * PETSC_PI * (md->p[k] * md->p[k] + md->q[k] * md->q[k]);
    wx += -md->A[k] * TWO_PI * md->p[k] * s;
    wy += -md->A[k] * TWO_PI * md->q[k] * s;
    u += -md->A[k] * TWO_PI * md->q[k] * s / k2; /* psi_y */
    v += md->A[k] * TWO_PI * md->p[k] * s / k2;  /* -psi_x */
  }
  return -(u * wx + v * wy) +
         (md->forcing ? 0.1 * (PetscSinReal(TWO_PI * (x + y)) + PetscCosReal(TWO_PI * (x + y)))
                      : 0.0);
}

/* nu Lap w */
static PetscReal ModesImplicit(PetscReal x, PetscReal y, void *ctx)
{
  const Modes *md = (const Modes *) ctx;
  PetscReal    l  = 0;
  for (PetscInt k = 0; k < md->n; k++) {
    const PetscReal k2 = 4 * PETSC_PI * PETSC_PI * (md->p[k] * md->p[k] + md->q[k] * md->q[k]);
    l +=
        -md->nu * k2 * md->A[k] * PetscCosReal(TWO_PI * (md->p[k] * x + md->q[k] * y) + md->phi[k]);
  }
  return l;
}

static PetscErrorCode TestRHS(MPI_Comm comm)
{
  Modes     md = TestModes;
  GyreModel m;
  Vec       U, F, X;
  PetscReal err, ref, shift = 37.5;

  PetscFunctionBegin;
  PetscCall(ModelCreate(comm, "-grid_nx 32 -ns2d_nu 1e-3 -ns2d_forcing li -ns2d_init grf", 1, &m));
  PetscCall(DMCreateGlobalVector(m->dm, &U));
  PetscCall(VecDuplicate(U, &F));
  PetscCall(VecDuplicate(U, &X));
  PetscCall(SetField(m, ModesField, &md, U));

  PetscCall((*m->ops.rhsexplicit)(m, 0.0, U, F));
  PetscCall(FieldError(m, F, ModesExplicit, &md, &err, &ref));
  PetscCall(PetscPrintf(comm, "     4 modes up to |k| = 3 on 32^2, max|-u.grad w + f| = %.4f\n",
                        (double) ref));
  PetscCall(CheckLE(comm, "rhsexplicit vs analytic Jacobian (relative max)", err / ref, 1e-12));

  PetscCall((*m->ops.rhsimplicit)(m, 0.0, U, F));
  PetscCall(FieldError(m, F, ModesImplicit, &md, &err, &ref));
  PetscCall(CheckLE(comm, "rhsimplicit vs nu Lap w (relative max)", err / ref, 1e-12));

  /* (shift I - L) X = U: solve, then apply */
  PetscCall((*m->ops.solveimplicit)(m, shift, U, X));
  PetscCall((*m->ops.rhsimplicit)(m, 0.0, X, F));
  PetscCall(VecAXPBY(F, shift, -1.0, X));
  PetscCall(FieldError(m, F, ModesField, &md, &err, &ref));
  PetscCall(CheckLE(comm, "(shift - L) solveimplicit(U) vs U (relative max)", err / ref, 1e-12));

  /* without forcing the field's own advection only */
  md.forcing = PETSC_FALSE;
  PetscCall(GyreModelDestroy(&m));
  PetscCall(ModelCreate(comm, "-ns2d_forcing none", 1, &m));
  PetscCall((*m->ops.rhsexplicit)(m, 0.0, U, F));
  PetscCall(FieldError(m, F, ModesExplicit, &md, &err, &ref));
  PetscCall(CheckLE(comm, "rhsexplicit, forcing none (relative max)", err / ref, 1e-12));

  PetscCall(VecDestroy(&U));
  PetscCall(VecDestroy(&F));
  PetscCall(VecDestroy(&X));
  PetscCall(GyreModelDestroy(&m));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ---- (5) subgrid forcing -------------------------------------------------------------------- */

/* Output field i of the model for state U: max |value|, domain mean, and (when fn) max |value -
 * fn| at the stored grid's points. Collective. */
static PetscErrorCode OutputStats(GyreModel m, PetscInt i, Vec U, FieldFn fn, void *ctx,
                                  PetscReal *vmax, PetscReal *mean, PetscReal *err)
{
  GyreOutputField *f = &m->fields[i];
  size_t           n = f->count[0] * f->count[1];
  double          *data;
  PetscReal        loc[2] = {0, 0}, sum = 0;

  PetscFunctionBegin;
  PetscCall(PetscMalloc1(n + 1, &data));
  PetscCall((*m->ops.outputfield)(m, i, U, 0.0, data));
  for (size_t j = 0; j < f->count[0]; j++)
    for (size_t k = 0; k < f->count[1]; k++) {
      const double    d  = data[j * f->count[1] + k];
      const PetscReal xv = m->dims[1].values[f->start[1] + k];
      const PetscReal yv = m->dims[0].values[f->start[0] + j];
      loc[0]             = PetscMax(loc[0], PetscAbsReal(d));
      if (fn) loc[1] = PetscMax(loc[1], PetscAbsReal(d - fn(xv, yv, ctx)));
      sum += d;
    }
  PetscCall(MPIU_Allreduce(MPI_IN_PLACE, loc, 2, MPIU_REAL, MPIU_MAX, m->comm));
  PetscCall(MPIU_Allreduce(MPI_IN_PLACE, &sum, 1, MPIU_REAL, MPIU_SUM, m->comm));
  *vmax = loc[0];
  *mean = sum / (PetscReal) (m->dims[0].len * m->dims[1].len);
  if (err) *err = loc[1];
  PetscCall(PetscFree(data));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* records the message of the first error, to check the text of an expected error */
static PetscErrorCode RecordError(MPI_Comm comm, int line, const char *fun, const char *file,
                                  PetscErrorCode n, PetscErrorType p, const char *mess, void *ctx)
{
  if (p == PETSC_ERROR_INITIAL) PetscStrncpy((char *) ctx, mess, 256);
  return n;
}

static PetscErrorCode TestSubgrid(MPI_Comm comm)
{
  /* resolved on the 16^2 coarse grid and under its 2/3 cutoff (|k| <= 5), products too */
  const Modes    low = {.n = 2, .p = {1, 2}, .q = {1, -1}, .A = {1.0, 0.5}, .phi = {0.3, 0.7}};
  GyreModel      m;
  Vec            U, F;
  PetscReal      vmax, mean, err, amax;
  char           msg[256] = "";
  PetscErrorCode ierr;

  PetscFunctionBegin;
  /* a field the coarse grid resolves, subsampled: S = 0 */
  PetscCall(ModelCreate(comm,
                        "-grid_nx 64 -ns2d_nu 1e-3 -ns2d_forcing none -ns2d_init grf "
                        "-output_coarsen subsample",
                        4, &m));
  PetscCall(CheckLE(comm, "stride 4 stores 2 fields (vorticity, subgrid_forcing)",
                    (double) PetscAbsInt(m->nfields - 2), 0));
  PetscCall(CheckLE(comm, "stored grid is 16 x 16",
                    (double) (PetscAbsInt((PetscInt) m->dims[0].len - 16) +
                              PetscAbsInt((PetscInt) m->dims[1].len - 16)),
                    0));
  PetscCall(DMCreateGlobalVector(m->dm, &U));
  PetscCall(VecDuplicate(U, &F));
  PetscCall(SetField(m, ModesField, (void *) &low, U));
  PetscCall((*m->ops.rhsexplicit)(m, 0.0, U, F));
  PetscCall(VecNorm(F, NORM_INFINITY, &amax));
  PetscCall(OutputStats(m, 0, U, ModesField, (void *) &low, &vmax, &mean, &err));
  PetscCall(CheckLE(comm, "subsample: stored vorticity vs field at coarse points", err, 1e-13));
  PetscCall(OutputStats(m, 1, U, NULL, NULL, &vmax, &mean, NULL));
  PetscCall(
      PetscPrintf(comm, "     2 low modes, 64^2 -> 16^2, max|u.grad w| = %.4f\n", (double) amax));
  PetscCall(CheckLE(comm, "subsample, resolved field: max|subgrid_forcing|", vmax, 1e-12));
  PetscCall(GyreModelDestroy(&m));

  /* a GRF: nonzero subgrid forcing with zero mean (gaussian and block preserve the mean) */
  for (int c = 0; c < 2; c++) {
    const char *type = c == 0 ? "gaussian" : "block";
    char        opts[128], what[96];

    PetscCall(PetscSNPrintf(opts, sizeof opts, "-output_coarsen %s", type));
    PetscCall(ModelCreate(comm, opts, 4, &m));
    PetscCall((*m->ops.initialstate)(m, 0, U));
    PetscCall((*m->ops.rhsexplicit)(m, 0.0, U, F));
    PetscCall(VecNorm(F, NORM_INFINITY, &amax));
    PetscCall(OutputStats(m, 1, U, NULL, NULL, &vmax, &mean, NULL));
    PetscCall(PetscPrintf(comm,
                          "     GRF 64^2 -> 16^2 %s: max|u.grad w| = %.4f, max|S| = %.4e, "
                          "mean S = %.3e\n",
                          type, (double) amax, (double) vmax, (double) mean));
    PetscCall(PetscSNPrintf(what, sizeof what, "%s, GRF: max|S| / max|u.grad w|", type));
    PetscCall(CheckGE(comm, what, vmax / amax, 1e-3));
    PetscCall(PetscSNPrintf(what, sizeof what, "%s, GRF: |mean S| / max|S|", type));
    PetscCall(CheckLE(comm, what, PetscAbsReal(mean) / vmax, 1e-12));
    PetscCall(GyreModelDestroy(&m));
  }
  PetscCall(VecDestroy(&U));
  PetscCall(VecDestroy(&F));

  /* a grid not divisible by the stride */
  PetscCall(PetscOptionsInsertString(NULL, "-grid_nx 64"));
  PetscCall(GyreModelCreate(comm, "ns2d", &m));
  m->output_stride = 3;
  PetscCall((*m->ops.setfromoptions)(m));
  PetscCall(PetscPushErrorHandler(RecordError, msg));
  ierr = (*m->ops.setup)(m);
  PetscCall(PetscPopErrorHandler());
  PetscCall(GyreModelDestroy(&m));
  PetscCall(PetscPrintf(comm, "     expected error: %s\n", msg));
  PetscCall(Check(
      comm,
      (PetscBool) (ierr != 0 && strstr(msg, "grid 64x64 is not divisible by -output_stride 3")),
      "64^2 with -output_stride 3 fails with the divisibility message", (double) ierr, "!=", 0));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ---- (6) GRF statistics --------------------------------------------------------------------- */

static PetscErrorCode TestGRF(MPI_Comm comm)
{
  const PetscInt  n = 32, members = 128;
  const PetscReal alpha = 2.5, tau = 7, sigma = PetscPowReal(tau, alpha - 1);
  GyreModel       m;
  Vec             U;
  PetscReal       var = 0, vexact = 0, sum, nrm, maxmean = 0, std, stdexact;

  PetscFunctionBegin;
  PetscCall(
      ModelCreate(comm, "-grid_nx 32 -ns2d_init grf -ns2d_grf_alpha 2.5 -ns2d_grf_tau 7", 1, &m));
  PetscCall(DMCreateGlobalVector(m->dm, &U));
  for (PetscInt k = 0; k < members; k++) {
    PetscCall((*m->ops.initialstate)(m, k, U));
    PetscCall(VecSum(U, &sum));
    PetscCall(VecNorm(U, NORM_2, &nrm));
    maxmean = PetscMax(maxmean, PetscAbsReal(sum) / (n * n));
    var += nrm * nrm / (n * n) / members;
  }
  /* Li et al.: variance = sum over the grid's modes k != 0 of 2 sigma^2 lambda_k^2,
   * lambda_k = (4 pi^2 |k|^2 + tau^2)^(-alpha/2) */
  for (PetscInt i = -n / 2; i < n / 2; i++)
    for (PetscInt j = -n / 2; j < n / 2; j++) {
      if (!i && !j) continue;
      const PetscReal lam = PetscPowReal(
          4 * PETSC_PI * PETSC_PI * (PetscReal) (i * i + j * j) + tau * tau, -alpha / 2);
      vexact += 2 * sigma * sigma * lam * lam;
    }
  std      = PetscSqrtReal(var);
  stdexact = PetscSqrtReal(vexact);
  PetscCall(PetscPrintf(comm,
                        "     %d members on 32^2: std %.5f, analytic %.5f (sigma = 7^1.5 = %.4f)\n",
                        (int) members, (double) std, (double) stdexact, (double) sigma));
  PetscCall(CheckLE(comm, "GRF std vs analytic (relative)", PetscAbsReal(std / stdexact - 1), 0.1));
  PetscCall(CheckLE(comm, "GRF max |domain mean| over members", maxmean, 1e-14));
  PetscCall(VecDestroy(&U));
  PetscCall(GyreModelDestroy(&m));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ---- (7) readstate -------------------------------------------------------------------------- */

/* Writes `vorticity` of model m (output field 0, double precision) for nrec records of
 * nmem members (no member dimension when nmem = 0), member k of record r being the initial
 * state of member 2 r + k. Collective. */
static PetscErrorCode WriteVorticity(GyreModel m, const char *path, size_t nrec, PetscInt nmem)
{
  GyreFileOptions  fo = {.overwrite = 1};
  GyreFile         f;
  GyreOutputField *fld    = &m->fields[0];
  GyreVarSpec      spec   = fld->spec;
  GyreDimSpec      member = {.name          = "member",
                             .len           = (size_t) nmem,
                             .standard_name = "realization",
                             .long_name     = "ensemble member"};
  size_t           start[3], count[3];
  int              varid, nd = nmem ? 1 : 0;
  double          *data;
  Vec              U;

  PetscFunctionBegin;
  PetscCallGyre(m->comm, GyreFileCreate(m->comm, path, &fo, &f));
  PetscCallGyre(m->comm, GyreFileDefineTime(f, GYRE_TIME_NONDIM, NULL));
  if (nmem) PetscCallGyre(m->comm, GyreFileDefineDim(f, &member));
  for (PetscInt d = 0; d < m->ndims; d++)
    PetscCallGyre(m->comm, GyreFileDefineDim(f, &m->dims[d]));
  if (nmem) {
    spec.dims[2] = spec.dims[1], spec.dims[1] = spec.dims[0], spec.dims[0] = "member";
    spec.ndims = 3;
  }
  spec.precision = GYRE_DOUBLE;
  PetscCallGyre(m->comm, GyreFileDefineVar(f, &spec, &varid));
  PetscCallGyre(m->comm, GyreFileEndDef(f));
  PetscCall(DMCreateGlobalVector(m->dm, &U));
  PetscCall(PetscMalloc1(fld->count[0] * fld->count[1] + 1, &data));
  for (size_t r = 0; r < nrec; r++) {
    PetscCallGyre(m->comm, GyreFileWriteTime(f, r, (double) r));
    for (PetscInt k = 0; k < PetscMax(nmem, 1); k++) {
      PetscCall((*m->ops.initialstate)(m, 2 * (PetscInt) r + k, U));
      PetscCall((*m->ops.outputfield)(m, 0, U, (PetscReal) r, data));
      start[0] = (size_t) k, count[0] = 1;
      start[nd] = fld->start[0], count[nd] = fld->count[0];
      start[nd + 1] = fld->start[1], count[nd + 1] = fld->count[1];
      PetscCallGyre(m->comm, GyreFileWriteBlock(f, varid, r, start, count, data));
    }
  }
  PetscCallGyre(m->comm, GyreFileClose(&f));
  PetscCall(PetscFree(data));
  PetscCall(VecDestroy(&U));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode TestReadState(MPI_Comm comm)
{
  GyreModel      m, mc;
  Vec            U, V;
  GyreFile       f;
  PetscReal      diff, vmax;
  PetscMPIInt    size;
  char           path[64], cpath[64], msg[256] = "", desc[256];
  PetscErrorCode ierr;

  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_size(comm, &size));
  PetscCall(PetscSNPrintf(path, sizeof path, "ns2d_readstate_np%d.nc", (int) size));
  PetscCall(PetscSNPrintf(cpath, sizeof cpath, "ns2d_readstate_coarse_np%d.nc", (int) size));
  PetscCall(ModelCreate(comm, "-grid_nx 32 -ns2d_init grf -ns2d_nu 1e-3 -ns2d_forcing li", 1, &m));
  PetscCall((*m->ops.describe)(m, desc, sizeof desc));
  PetscCall(PetscPrintf(comm, "     describe: %s\n", desc));
  PetscCall(Check(comm,
                  (PetscBool) !strcmp(desc, "nx=32 ny=32 nu=0.001 forcing=li init=grf alpha=2.5 "
                                            "tau=7 stride=1 coarsen=none"),
                  "describe names every parameter", 0, "==", 0));
  PetscCall(DMCreateGlobalVector(m->dm, &U));
  PetscCall(VecDuplicate(U, &V));

  /* an ensemble file: record 1, member 1 holds the initial state of member 3 */
  PetscCall(WriteVorticity(m, path, 2, 2));
  PetscCallGyre(comm, GyreFileOpen(comm, path, 0, &f));
  PetscCall((*m->ops.readstate)(m, f, 1, 1, V));
  PetscCallGyre(comm, GyreFileClose(&f));
  PetscCall((*m->ops.initialstate)(m, 3, U));
  PetscCall(VecNorm(U, NORM_INFINITY, &vmax));
  PetscCall(VecAXPY(V, -1.0, U));
  PetscCall(VecNorm(V, NORM_INFINITY, &diff));
  PetscCall(CheckLE(comm, "readstate(record 1, member 1) - member 3 state (max abs)", diff, 0));
  PetscCall(CheckGE(comm, "the state read is not zero (max abs)", vmax, 0.1));

  /* a file without a member dimension, member -1 */
  PetscCall(WriteVorticity(m, path, 1, 0));
  PetscCallGyre(comm, GyreFileOpen(comm, path, 0, &f));
  PetscCall((*m->ops.readstate)(m, f, 0, -1, V));
  PetscCallGyre(comm, GyreFileClose(&f));
  PetscCall((*m->ops.initialstate)(m, 0, U));
  PetscCall(VecAXPY(V, -1.0, U));
  PetscCall(VecNorm(V, NORM_INFINITY, &diff));
  PetscCall(CheckLE(comm, "readstate(record 0, no member) - member 0 state", diff, 0));

  /* a coarse (stride 2) file cannot restart a 32^2 run */
  PetscCall(ModelCreate(comm, "-output_coarsen subsample", 2, &mc));
  PetscCall(WriteVorticity(mc, cpath, 1, 0));
  PetscCall(GyreModelDestroy(&mc));
  PetscCallGyre(comm, GyreFileOpen(comm, cpath, 0, &f));
  PetscCall(PetscPushErrorHandler(RecordError, msg));
  ierr = (*m->ops.readstate)(m, f, 0, -1, V);
  PetscCall(PetscPopErrorHandler());
  PetscCallGyre(comm, GyreFileClose(&f));
  PetscCall(PetscPrintf(comm, "     expected error: %s\n", msg));
  PetscCall(Check(
      comm,
      (PetscBool) (ierr != 0 && strstr(msg, "16x16") && strstr(msg, "32x32") && strstr(msg, cpath)),
      "a 16^2 file read by a 32^2 run fails naming both sizes", (double) ierr, "!=", 0));

  PetscCall(VecDestroy(&U));
  PetscCall(VecDestroy(&V));
  PetscCall(GyreModelDestroy(&m));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static const struct {
  const char *name;
  PetscErrorCode (*run)(MPI_Comm);
} Tests[] = {
    {"taylor_green", TestTaylorGreen},  {"ranks", TestRanks},
    {"conservation", TestConservation}, {"rhs", TestRHS},
    {"subgrid", TestSubgrid},           {"grf", TestGRF},
    {"readstate", TestReadState},
};

int main(int argc, char **argv)
{
  const char *names    = "taylor_green, ranks, conservation, rhs, subgrid, grf or readstate";
  char        test[64] = "";
  PetscBool   set, found = PETSC_FALSE;
  MPI_Comm    comm;

  PetscCall(PetscInitialize(&argc, &argv, NULL, "ns2d model tests: -test NAME"));
  comm = PETSC_COMM_WORLD;
  PetscCall(PetscOptionsGetString(NULL, NULL, "-test", test, sizeof test, &set));
  PetscCheck(set, comm, PETSC_ERR_ARG_WRONG, "-test NAME is required: %s", names);
  for (size_t k = 0; k < sizeof Tests / sizeof Tests[0]; k++)
    if (!strcmp(test, Tests[k].name)) {
      PetscCall(Tests[k].run(comm));
      found = PETSC_TRUE;
    }
  PetscCheck(found, comm, PETSC_ERR_ARG_UNKNOWN_TYPE, "unknown -test %s: %s", test, names);
  PetscCall(PetscPrintf(comm, "%s: %s\n", test, failures ? "FAILED" : "passed"));
  PetscCall(PetscFinalize());
  return failures ? 1 : 0;
}
