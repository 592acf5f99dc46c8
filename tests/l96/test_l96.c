/* test_l96.c — the Lorenz-96 model (solvers/model_l96.c) and the closures (solvers/closure.c)
 * driven through the model's ops table with this program's own TS (classic RK4).
 *
 *  1. energy: F = 0 and no damping conserve sum X^2/2 + sum Y^2/2 to RK4's error: the largest
 *     deviation over t <= 0.5 is small and falls with dt at order >= 3.5;
 *  2. rhs: the right-hand side at a hand-made state (K = 4 or 2*ranks, J = 3, the fast ring
 *     wrapping across sectors and ranks) equals a direct serial evaluation; the output fields
 *     X, Y and coupling of that state;
 *  3. ranks: 200 RK4 steps of the default system (K = 8, J = 32) on all ranks equal BITWISE a
 *     1-rank run on PETSC_COMM_SELF in the same program;
 *  4. closure: one_scale with -closure polynomial adds sum a_i X^i; one_scale without a closure;
 *  5. bad options give clear errors;
 *  6. readstate reads back, bitwise, a state written to a gyre file with the output fields.
 * Run on 1, 2 and 4 ranks. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "gyre_model.h"

static PetscInt nfail = 0;

/* Prints one measured check on rank 0 and counts it when it fails. */
#define CHECK(cond, ...)                                                                           \
  do {                                                                                             \
    PetscBool ok_ = (cond) ? PETSC_TRUE : PETSC_FALSE;                                             \
    PetscCall(PetscPrintf(PETSC_COMM_WORLD, "%s  ", ok_ ? "ok  " : "FAIL"));                       \
    PetscCall(PetscPrintf(PETSC_COMM_WORLD, __VA_ARGS__));                                         \
    PetscCall(PetscPrintf(PETSC_COMM_WORLD, "\n"));                                                \
    if (!ok_) nfail++;                                                                             \
  } while (0)

/* ---- model set-up through the registry, with options from a private database ---- */

static PetscErrorCode ModelSetUp(MPI_Comm comm, PetscInt seed, GyreModel *model)
{
  GyreModel m;

  PetscFunctionBegin;
  PetscCall(GyreModelCreate(comm, "l96", &m));
  *model  = m;
  m->seed = seed;
  /* the driver's order: the closure exists before the grid, and finds its field at first use */
  PetscCall((*m->ops.setfromoptions)(m));
  PetscCall(GyreClosureCreateFromOptions(m, &m->closure));
  PetscCall((*m->ops.setup)(m));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Creates and sets up an l96 model with the options in opts (only). *err is the set-up's
 * error code (0 on success); errors are returned, not raised, under PetscReturnErrorHandler. */
static PetscErrorCode ModelCreateWith(MPI_Comm comm, const char *opts, GyreModel *model,
                                      PetscErrorCode *err)
{
  PetscOptions o;

  PetscFunctionBegin;
  *model = NULL;
  *err   = PETSC_SUCCESS;
  PetscCall(PetscOptionsCreate(&o));
  PetscCall(PetscOptionsInsertString(o, opts));
  PetscCall(PetscOptionsPush(o));
  *err = ModelSetUp(comm, 42, model);
  PetscCall(PetscOptionsPop());
  PetscCall(PetscOptionsDestroy(&o));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode ModelCreateOk(MPI_Comm comm, const char *opts, GyreModel *model)
{
  PetscErrorCode err = PETSC_SUCCESS;

  PetscFunctionBegin;
  PetscCall(ModelCreateWith(comm, opts, model, &err));
  PetscCall(err);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The driver's RHS: the model's explicit part plus the closure. */
static PetscErrorCode RHS(TS ts, PetscReal t, Vec U, Vec F, void *ctx)
{
  GyreModel m = (GyreModel) ctx;

  PetscFunctionBegin;
  PetscCall((*m->ops.rhsexplicit)(m, t, U, F));
  if (m->closure) PetscCall((*m->closure->apply)(m->closure, m, t, U, F));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Largest relative energy deviation |E(t) - E(0)| / E(0) seen after each step. */
typedef struct {
  GyreModel m;
  PetscReal e0, maxdev;
} EnergyMonitor;

static PetscErrorCode MonitorEnergy(TS ts, PetscInt step, PetscReal t, Vec U, void *ctx)
{
  EnergyMonitor *em = (EnergyMonitor *) ctx;
  PetscReal      e;

  PetscFunctionBegin;
  PetscCall((*em->m->ops.invariants)(em->m, U, &e));
  em->maxdev = PetscMax(em->maxdev, PetscAbsReal(e - em->e0) / em->e0);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* nsteps steps of the model's default TS (RK4) with step dt (0: the model's default) from U,
 * with the energy monitor em (or NULL). */
static PetscErrorCode Run(GyreModel m, PetscReal dt, PetscInt nsteps, Vec U, EnergyMonitor *em)
{
  TS       ts;
  PetscInt steps;

  PetscFunctionBegin;
  PetscCall(TSCreate(m->comm, &ts));
  PetscCall(TSSetProblemType(ts, TS_NONLINEAR));
  PetscCall(TSSetRHSFunction(ts, NULL, RHS, m));
  PetscCall((*m->ops.settsdefaults)(m, ts));
  if (dt > 0) PetscCall(TSSetTimeStep(ts, dt));
  PetscCall(TSSetMaxSteps(ts, nsteps));
  PetscCall(TSSetMaxTime(ts, 1e30));
  PetscCall(TSSetExactFinalTime(ts, TS_EXACTFINALTIME_MATCHSTEP));
  if (em) PetscCall(TSMonitorSet(ts, MonitorEnergy, em, NULL));
  PetscCall(TSSolve(ts, U));
  PetscCall(TSGetStepNumber(ts, &steps));
  PetscCheck(steps == nsteps, m->comm, PETSC_ERR_PLIB,
             "TS took %" PetscInt_FMT " steps, %" PetscInt_FMT " asked", steps, nsteps);
  PetscCall(TSDestroy(&ts));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ---- 1. energy conservation with F = 0 and no damping ---- */

/* The largest relative energy deviation over t in [0, T] with step dt. The horizon is short
 * because the fast variables are chaotic: over t = 1 the trajectories computed with different
 * steps part, and the error constant with them, which blurs the observed order. */
static PetscErrorCode EnergyDeviation(PetscReal T, PetscReal dt, PetscReal *dev, PetscReal *E0)
{
  GyreModel     m;
  Vec           U;
  EnergyMonitor em;

  PetscFunctionBegin;
  PetscCall(ModelCreateOk(PETSC_COMM_WORLD, "-l96_F 0 -l96_damping 0", &m));
  PetscCall(DMCreateGlobalVector(m->dm, &U));
  PetscCall((*m->ops.initialstate)(m, 0, U));
  em.m      = m;
  em.maxdev = 0;
  PetscCall((*m->ops.invariants)(m, U, &em.e0));
  PetscCall(Run(m, dt, (PetscInt) (T / dt + 0.5), U, &em));
  *dev = em.maxdev;
  *E0  = em.e0;
  PetscCall(VecDestroy(&U));
  PetscCall(GyreModelDestroy(&m));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode TestEnergy(void)
{
  const PetscReal T = 0.5, dt[3] = {1e-3, 5e-4, 2.5e-4};
  PetscReal       dev[3], e0     = 0;

  PetscFunctionBegin;
  for (int i = 0; i < 3; i++)
    PetscCall(EnergyDeviation(T, dt[i], &dev[i], &e0));
  CHECK(e0 > 10, "energy: initial energy %.6f (F=0, no damping)", (double) e0);
  CHECK(dev[0] < 1e-5, "energy: max relative deviation over t<=%g at dt=%g: %.3e (< 1e-5)",
        (double) T, (double) dt[0], (double) dev[0]);
  for (int i = 1; i < 3; i++)
    CHECK(PetscLog2Real(dev[i - 1] / dev[i]) >= 3.5,
          "energy: at dt=%g: %.3e, observed order %.2f (>= 3.5)", (double) dt[i], (double) dev[i],
          (double) PetscLog2Real(dev[i - 1] / dev[i]));
  CHECK(dev[2] < 1e-8, "energy: at dt=%g: %.3e (< 1e-8)", (double) dt[2], (double) dev[2]);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ---- 2. the right-hand side at a hand-made state ---- */

static double HandX(PetscInt k)
{
  return 1.0 + 0.7 * k - 0.3 * k * k;
}
static double HandY(PetscInt n) /* n = k*J + j-1 on the fast ring */
{
  return 0.1 * (double) (n % 7) - 0.25 + 0.013 * (double) n;
}

static PetscErrorCode SetHandState(GyreModel m, PetscInt J, Vec U)
{
  PetscScalar **u;
  PetscInt      xs, xm, dof;

  PetscFunctionBegin;
  PetscCall(DMDAGetInfo(m->dm, NULL, NULL, NULL, NULL, NULL, NULL, NULL, &dof, NULL, NULL, NULL,
                        NULL, NULL));
  PetscCall(DMDAGetCorners(m->dm, &xs, NULL, NULL, &xm, NULL, NULL));
  PetscCall(DMDAVecGetArrayDOF(m->dm, U, &u));
  for (PetscInt k = xs; k < xs + xm; k++) {
    u[k][0] = HandX(k);
    for (PetscInt j = 1; j < dof; j++)
      u[k][j] = HandY(k * J + j - 1);
  }
  PetscCall(DMDAVecRestoreArrayDOF(m->dm, U, &u));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* max over ranks of |a - b| / max(1, |b|) */
static PetscErrorCode MaxRelErr(MPI_Comm comm, PetscReal local, PetscReal *global)
{
  PetscFunctionBegin;
  PetscCall(MPIU_Allreduce(&local, global, 1, MPIU_REAL, MPIU_MAX, comm));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode TestRHS(PetscBool damping)
{
  const PetscInt  J = 3;
  const PetscReal F = 7.5, h = 1.3, b = 9, c = 11, hcb = h * c / b;
  PetscMPIInt     size;
  PetscInt        K, N, xs, xm;
  char            opts[256];
  GyreModel       m;
  Vec             U, Fv;
  PetscScalar   **f;
  PetscReal       err = 0, gerr, ferr = 0, gferr, scale = 0, gscale;
  double         *X, *Y, *out;

  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_size(PETSC_COMM_WORLD, &size));
  K = size <= 2 ? 4 : 2 * size;
  N = K * J;
  PetscCall(PetscSNPrintf(opts, sizeof opts,
                          "-l96_K %" PetscInt_FMT " -l96_J %" PetscInt_FMT
                          " -l96_F %g -l96_h %g -l96_b %g -l96_c %g -l96_damping %d",
                          K, J, (double) F, (double) h, (double) b, (double) c, (int) damping));
  PetscCall(ModelCreateOk(PETSC_COMM_WORLD, opts, &m));
  PetscCall(DMCreateGlobalVector(m->dm, &U));
  PetscCall(VecDuplicate(U, &Fv));
  PetscCall(SetHandState(m, J, U));
  PetscCall((*m->ops.rhsexplicit)(m, 0.0, U, Fv));

  /* direct serial evaluation of the formulas on the flat fast ring n = k*J + j-1 */
  PetscCall(PetscMalloc2(K, &X, N, &Y));
  for (PetscInt k = 0; k < K; k++)
    X[k] = HandX(k);
  for (PetscInt n = 0; n < N; n++)
    Y[n] = HandY(n);
  PetscCall(DMDAGetCorners(m->dm, &xs, NULL, NULL, &xm, NULL, NULL));
  PetscCall(DMDAVecGetArrayDOF(m->dm, Fv, &f));
  for (PetscInt k = xs; k < xs + xm; k++) {
    double sum = 0, fx;
    for (PetscInt j = 0; j < J; j++)
      sum += Y[k * J + j];
    fx = -X[(k - 1 + K) % K] * (X[(k - 2 + K) % K] - X[(k + 1) % K]) + F - hcb * sum;
    if (damping) fx -= X[k];
    err   = PetscMax(err, PetscAbsReal(f[k][0] - fx) / PetscMax(1.0, PetscAbsReal(fx)));
    scale = PetscMax(scale, PetscAbsReal(fx));
    for (PetscInt j = 1; j <= J; j++) {
      PetscInt n  = k * J + j - 1;
      double   fy = -c * b * Y[(n + 1) % N] * (Y[(n + 2) % N] - Y[(n - 1 + N) % N]) + hcb * X[k];
      if (damping) fy -= c * Y[n];
      err   = PetscMax(err, PetscAbsReal(f[k][j] - fy) / PetscMax(1.0, PetscAbsReal(fy)));
      scale = PetscMax(scale, PetscAbsReal(fy));
    }
  }
  PetscCall(DMDAVecRestoreArrayDOF(m->dm, Fv, &f));
  PetscCall(MaxRelErr(PETSC_COMM_WORLD, err, &gerr));
  PetscCall(MaxRelErr(PETSC_COMM_WORLD, scale, &gscale));
  CHECK(gerr <= 1e-14,
        "rhs (K=%" PetscInt_FMT " J=3, damping=%d): max error vs direct evaluation %.2e (<= 1e-14 "
        "relative to max(1,|f|)), max |f| = %.1f",
        K, (int) damping, (double) gerr, (double) gscale);

  /* output fields of the same state: X, Y and the exact coupling -(hc/b) sum_j Y */
  if (damping) {
    PetscInt total = 0, gtotal;
    CHECK(m->nfields == 3 && !strcmp(m->fields[0].spec.name, "X") &&
              !strcmp(m->fields[1].spec.name, "Y") && !strcmp(m->fields[2].spec.name, "coupling"),
          "output: two_scale offers X, Y, coupling");
    PetscCall(PetscMalloc1(xm * J, &out));
    for (PetscInt i = 0; i < m->nfields; i++) {
      const GyreOutputField *fl = &m->fields[i];
      PetscCall((*m->ops.outputfield)(m, i, U, 0.0, out));
      if (i == 0) total = (PetscInt) fl->count[0];
      for (PetscInt k = xs; k < xs + xm; k++) {
        double sum = 0;
        for (PetscInt j = 0; j < J; j++)
          sum += Y[k * J + j];
        if (i == 0) ferr = PetscMax(ferr, PetscAbsReal(out[k - xs] - X[k]));
        if (i == 2) ferr = PetscMax(ferr, PetscAbsReal(out[k - xs] + hcb * sum));
        for (PetscInt j = 0; j < J && i == 1; j++)
          ferr = PetscMax(ferr, PetscAbsReal(out[(k - xs) * J + j] - Y[k * J + j]));
      }
      ferr = PetscMax(ferr, fl->start[0] == (size_t) xs && fl->count[0] == (size_t) xm ? 0 : 1);
    }
    PetscCall(PetscFree(out));
    PetscCallMPI(MPI_Allreduce(&total, &gtotal, 1, MPIU_INT, MPI_SUM, PETSC_COMM_WORLD));
    PetscCall(MaxRelErr(PETSC_COMM_WORLD, ferr, &gferr));
    CHECK(gferr <= 1e-15 && gtotal == K,
          "output: X, Y, coupling blocks match the state (max error %.1e), blocks cover "
          "%" PetscInt_FMT " of %" PetscInt_FMT " sectors",
          (double) gferr, gtotal, K);
  }
  PetscCall(PetscFree2(X, Y));
  PetscCall(VecDestroy(&Fv));
  PetscCall(VecDestroy(&U));
  PetscCall(GyreModelDestroy(&m));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ---- 3. bitwise identical on any number of ranks ---- */

static PetscErrorCode TestRanks(void)
{
  GyreModel          mref, m;
  Vec                Uref, U, U0, Useq;
  VecScatter         sc;
  PetscMPIInt        rank, size;
  PetscInt           n, nequal = 0, nchanged = 0;
  PetscReal          dt;
  TS                 ts;
  TSType             type;
  TSRKType           rktype;
  char               desc[256];
  int                same = 0;
  const PetscScalar *a, *b, *c;

  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_rank(PETSC_COMM_WORLD, &rank));
  PetscCallMPI(MPI_Comm_size(PETSC_COMM_WORLD, &size));
  /* the 1-rank reference (computed redundantly on every rank) */
  PetscCall(ModelCreateOk(PETSC_COMM_SELF, "", &mref));
  PetscCall(DMCreateGlobalVector(mref->dm, &Uref));
  PetscCall(DMCreateGlobalVector(mref->dm, &U0));
  PetscCall((*mref->ops.initialstate)(mref, 0, U0));
  PetscCall(VecCopy(U0, Uref));
  PetscCall(Run(mref, 0, 200, Uref, NULL));

  /* the same on all ranks */
  PetscCall(ModelCreateOk(PETSC_COMM_WORLD, "", &m));
  PetscCall((*m->ops.describe)(m, desc, sizeof desc));
  CHECK(!strcmp(desc, "mode=two_scale K=8 J=32 F=20 h=1 b=10 c=10 damping=1"), "describe: \"%s\"",
        desc);
  PetscCall(TSCreate(PETSC_COMM_WORLD, &ts));
  PetscCall((*m->ops.settsdefaults)(m, ts));
  PetscCall(TSGetType(ts, &type));
  PetscCall(TSRKGetType(ts, &rktype));
  PetscCall(TSGetTimeStep(ts, &dt));
  CHECK(!strcmp(type, TSRK) && !strcmp(rktype, TSRK4) && dt == 0.001 &&
            m->default_output_every == 0.005,
        "defaults: two_scale TS %s/%s dt %g output every %g", type, rktype, (double) dt,
        (double) m->default_output_every);
  PetscCall(TSDestroy(&ts));

  PetscCall(DMCreateGlobalVector(m->dm, &U));
  PetscCall((*m->ops.initialstate)(m, 0, U));
  PetscCall(Run(m, 0, 200, U, NULL));
  PetscCall(VecScatterCreateToZero(U, &sc, &Useq));
  PetscCall(VecScatterBegin(sc, U, Useq, INSERT_VALUES, SCATTER_FORWARD));
  PetscCall(VecScatterEnd(sc, U, Useq, INSERT_VALUES, SCATTER_FORWARD));
  if (rank == 0) {
    PetscCall(VecGetSize(Uref, &n));
    PetscCall(VecGetArrayRead(Useq, &a));
    PetscCall(VecGetArrayRead(Uref, &b));
    PetscCall(VecGetArrayRead(U0, &c));
    same = !memcmp(a, b, (size_t) n * sizeof(PetscScalar));
    for (PetscInt i = 0; i < n; i++) {
      nequal += !memcmp(&a[i], &b[i], sizeof(PetscScalar));
      nchanged += b[i] != c[i];
    }
    PetscCall(VecRestoreArrayRead(U0, &c));
    PetscCall(VecRestoreArrayRead(Uref, &b));
    PetscCall(VecRestoreArrayRead(Useq, &a));
  }
  PetscCallMPI(MPI_Bcast(&same, 1, MPI_INT, 0, PETSC_COMM_WORLD));
  PetscCallMPI(MPI_Bcast(&nequal, 1, MPIU_INT, 0, PETSC_COMM_WORLD));
  PetscCallMPI(MPI_Bcast(&nchanged, 1, MPIU_INT, 0, PETSC_COMM_WORLD));
  PetscCall(VecGetSize(U, &n));
  CHECK(nchanged == n, "ranks: 200 steps changed %" PetscInt_FMT " of %" PetscInt_FMT " values",
        nchanged, n);
  CHECK(same,
        "ranks: state after 200 steps on %d ranks equals the 1-rank run bitwise (%" PetscInt_FMT
        " of %" PetscInt_FMT " values identical)",
        (int) size, nequal, n);
  PetscCall(VecScatterDestroy(&sc));
  PetscCall(VecDestroy(&Useq));
  PetscCall(VecDestroy(&U));
  PetscCall(VecDestroy(&U0));
  PetscCall(VecDestroy(&Uref));
  PetscCall(GyreModelDestroy(&m));
  PetscCall(GyreModelDestroy(&mref));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ---- 4. one_scale with and without a polynomial closure ---- */

static PetscErrorCode TestClosure(PetscBool with_closure)
{
  const PetscReal a[4] = {0.31, -1.27, 0.053, -0.0021}, F = 8;
  PetscMPIInt     size;
  PetscInt        K, xs, xm;
  char            opts[256];
  GyreModel       m;
  Vec             U, Fv;
  PetscScalar   **f;
  PetscReal       err = 0, gerr, cerr = 0, gcerr, dt;
  TS              ts;
  double         *out;

  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_size(PETSC_COMM_WORLD, &size));
  K = size <= 2 ? 5 : 2 * size + 1;
  PetscCall(PetscSNPrintf(
      opts, sizeof opts, "-l96_mode one_scale -l96_K %" PetscInt_FMT " -l96_F %g %s", K, (double) F,
      with_closure ? "-closure polynomial -closure_coeffs 0.31,-1.27,0.053,-0.0021" : ""));
  PetscCall(ModelCreateOk(PETSC_COMM_WORLD, opts, &m));
  PetscCall(TSCreate(PETSC_COMM_WORLD, &ts));
  PetscCall((*m->ops.settsdefaults)(m, ts));
  PetscCall(TSGetTimeStep(ts, &dt));
  PetscCall(TSDestroy(&ts));
  CHECK(dt == 0.005 && m->nfields == 2,
        "defaults: one_scale dt %g, %" PetscInt_FMT " output fields (X, coupling)", (double) dt,
        m->nfields);

  PetscCall(DMCreateGlobalVector(m->dm, &U));
  PetscCall(VecDuplicate(U, &Fv));
  PetscCall(SetHandState(m, 1, U));
  PetscCall(RHS(NULL, 0.0, U, Fv, m));
  CHECK(with_closure ? (m->closure && !strcmp(m->closure->field, "X")) : !m->closure,
        "closure: %s, forced field %s", with_closure ? "polynomial" : "none",
        m->closure ? m->closure->field : "-");
  PetscCall(DMDAGetCorners(m->dm, &xs, NULL, NULL, &xm, NULL, NULL));
  PetscCall(PetscMalloc1(xm, &out));
  PetscCall((*m->ops.outputfield)(m, 1, U, 0.0, out)); /* coupling */
  PetscCall(DMDAVecGetArrayDOF(m->dm, Fv, &f));
  for (PetscInt k = xs; k < xs + xm; k++) {
    double x = HandX(k), poly = 0, fx;
    for (PetscInt i = 0; i < 4 && with_closure; i++)
      poly += a[i] * pow(x, (double) i);
    fx   = -HandX((k - 1 + K) % K) * (HandX((k - 2 + K) % K) - HandX((k + 1) % K)) - x + F + poly;
    err  = PetscMax(err, PetscAbsReal(f[k][0] - fx) / PetscMax(1.0, PetscAbsReal(fx)));
    cerr = PetscMax(cerr, PetscAbsReal(out[k - xs] - poly) / PetscMax(1.0, PetscAbsReal(poly)));
  }
  PetscCall(DMDAVecRestoreArrayDOF(m->dm, Fv, &f));
  PetscCall(MaxRelErr(PETSC_COMM_WORLD, err, &gerr));
  PetscCall(MaxRelErr(PETSC_COMM_WORLD, cerr, &gcerr));
  CHECK(gerr <= 1e-14,
        "closure: one_scale RHS%s (K=%" PetscInt_FMT
        ") vs direct evaluation: max error %.2e (<= 1e-14)",
        with_closure ? " + sum a_i X^i" : " without closure", K, (double) gerr);
  CHECK(gcerr <= 1e-14, "closure: coupling output equals the closure term%s: max error %.2e",
        with_closure ? "" : " (0)", (double) gcerr);
  PetscCall(PetscFree(out));
  PetscCall(VecDestroy(&Fv));
  PetscCall(VecDestroy(&U));
  PetscCall(GyreModelDestroy(&m));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ---- 6. readstate: a state written with the model's output fields reads back bitwise ---- */

/* Writes the model's output fields of U0 (t = 0) and U1 (t = 0.01) as records 0 and 1 of a
 * gyre file, as the driver does. Collective. */
static PetscErrorCode WriteStates(GyreModel m, const char *path, Vec U0, Vec U1)
{
  GyreFile        f;
  GyreFileOptions o = {.overwrite = 1};
  int             varid[GYRE_MAX_FIELDS];
  PetscInt        xs, xm, J = m->ndims > 1 ? (PetscInt) m->dims[1].len : 1;
  double         *buf;

  PetscFunctionBegin;
  PetscCall(DMDAGetCorners(m->dm, &xs, NULL, NULL, &xm, NULL, NULL));
  PetscCall(PetscMalloc1(xm * J + 1, &buf));
  PetscCallGyre(m->comm, GyreFileCreate(m->comm, path, &o, &f));
  PetscCallGyre(m->comm, GyreFileDefineTime(f, m->timekind, NULL));
  for (PetscInt d = 0; d < m->ndims; d++)
    PetscCallGyre(m->comm, GyreFileDefineDim(f, &m->dims[d]));
  for (PetscInt i = 0; i < m->nfields; i++)
    PetscCallGyre(m->comm, GyreFileDefineVar(f, &m->fields[i].spec, &varid[i]));
  PetscCallGyre(m->comm, GyreFileEndDef(f));
  for (size_t rec = 0; rec < 2; rec++) {
    PetscReal t = rec ? 0.01 : 0.0;
    PetscCallGyre(m->comm, GyreFileWriteTime(f, rec, t));
    for (PetscInt i = 0; i < m->nfields; i++) {
      PetscCall((*m->ops.outputfield)(m, i, rec ? U1 : U0, t, buf));
      PetscCallGyre(m->comm, GyreFileWriteBlock(f, varid[i], rec, m->fields[i].start,
                                                m->fields[i].count, buf));
    }
  }
  PetscCallGyre(m->comm, GyreFileClose(&f));
  PetscCall(PetscFree(buf));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode TestReadState(void)
{
  GyreModel      m, m1, mk;
  Vec            U0, U1, V, W;
  GyreFile       f;
  PetscMPIInt    rank, size;
  PetscBool      eq0, eq1, eqx;
  char           path[64], *msg = NULL;
  PetscErrorCode err;
  double        *x1, *xw;
  PetscInt       xs, xm;

  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_rank(PETSC_COMM_WORLD, &rank));
  PetscCallMPI(MPI_Comm_size(PETSC_COMM_WORLD, &size));
  PetscCall(PetscSNPrintf(path, sizeof path, "l96_readstate_np%d.nc", (int) size));
  PetscCall(ModelCreateOk(PETSC_COMM_WORLD, "", &m));
  PetscCall(DMCreateGlobalVector(m->dm, &U0));
  PetscCall(VecDuplicate(U0, &U1));
  PetscCall(VecDuplicate(U0, &V));
  PetscCall((*m->ops.initialstate)(m, 0, U0));
  PetscCall(VecCopy(U0, U1));
  PetscCall(Run(m, 0, 10, U1, NULL));
  PetscCall(WriteStates(m, path, U0, U1));

  /* two_scale: record 1 (no member dimension: member -1 and member 0 alike) and record 0 */
  PetscCallGyre(PETSC_COMM_WORLD, GyreFileOpen(PETSC_COMM_WORLD, path, 0, &f));
  PetscCall((*m->ops.readstate)(m, f, 1, -1, V));
  PetscCall(VecEqual(V, U1, &eq1));
  PetscCall((*m->ops.readstate)(m, f, 0, 0, V));
  PetscCall(VecEqual(V, U0, &eq0));
  CHECK(eq0 && eq1, "readstate: X and Y of records 0 and 1 read back bitwise (%s, %s)",
        eq0 ? "equal" : "differ", eq1 ? "equal" : "differ");

  /* one_scale starts from the X of a two_scale file (forecasts from a truth run) */
  PetscCall(ModelCreateOk(PETSC_COMM_WORLD, "-l96_mode one_scale", &m1));
  PetscCall(DMCreateGlobalVector(m1->dm, &W));
  PetscCall((*m1->ops.readstate)(m1, f, 1, 0, W));
  PetscCall(DMDAGetCorners(m->dm, &xs, NULL, NULL, &xm, NULL, NULL));
  PetscCall(PetscMalloc2(xm, &x1, xm, &xw));
  PetscCall((*m->ops.outputfield)(m, 0, U1, 0.01, x1));
  PetscCall((*m1->ops.outputfield)(m1, 0, W, 0.01, xw));
  eqx = (PetscBool) !memcmp(x1, xw, (size_t) xm * sizeof(double));
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &eqx, 1, MPIU_BOOL, MPI_LAND, PETSC_COMM_WORLD));
  CHECK(eqx, "readstate: one_scale reads X of a two_scale file bitwise");
  PetscCall(PetscFree2(x1, xw));

  /* a file of another size: a clear error */
  PetscCall(ModelCreateOk(PETSC_COMM_WORLD, "-l96_K 12", &mk));
  PetscCall(VecDestroy(&V));
  PetscCall(DMCreateGlobalVector(mk->dm, &V));
  PetscCall(PetscPushErrorHandler(PetscReturnErrorHandler, NULL));
  err = (*mk->ops.readstate)(mk, f, 1, -1, V);
  PetscCall(PetscPopErrorHandler());
  if (err) PetscCall(PetscErrorMessage(err, NULL, &msg));
  CHECK(err && msg && strstr(msg, "variable X has 8 sectors, this run has -l96_K 12"),
        "readstate: wrong K: error \"%s\"", msg ? msg : "(none)");

  PetscCallGyre(PETSC_COMM_WORLD, GyreFileClose(&f));
  if (rank == 0) (void) remove(path);
  PetscCall(VecDestroy(&W));
  PetscCall(VecDestroy(&V));
  PetscCall(VecDestroy(&U1));
  PetscCall(VecDestroy(&U0));
  PetscCall(GyreModelDestroy(&mk));
  PetscCall(GyreModelDestroy(&m1));
  PetscCall(GyreModelDestroy(&m));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ---- 5. bad options ---- */

static PetscErrorCode ExpectError(const char *opts, const char *expect)
{
  GyreModel      m;
  PetscErrorCode err = PETSC_SUCCESS;
  char          *msg = NULL;

  PetscFunctionBegin;
  PetscCall(PetscPushErrorHandler(PetscReturnErrorHandler, NULL));
  PetscCall(ModelCreateWith(PETSC_COMM_WORLD, opts, &m, &err));
  PetscCall(PetscPopErrorHandler());
  if (!err) { /* errors found at the first right-hand side (the closure's field) */
    Vec U, F;
    PetscCall(DMCreateGlobalVector(m->dm, &U));
    PetscCall(VecDuplicate(U, &F));
    PetscCall(VecSet(U, 1.0));
    PetscCall(PetscPushErrorHandler(PetscReturnErrorHandler, NULL));
    err = RHS(NULL, 0.0, U, F, m);
    PetscCall(PetscPopErrorHandler());
    PetscCall(VecDestroy(&F));
    PetscCall(VecDestroy(&U));
  }
  if (err) PetscCall(PetscErrorMessage(err, NULL, &msg));
  CHECK(err && msg && strstr(msg, expect), "bad options \"%s\": error \"%s\"", opts,
        msg ? msg : "(none)");
  PetscCall(GyreModelDestroy(&m));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode TestBadOptions(void)
{
  PetscMPIInt size;

  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_size(PETSC_COMM_WORLD, &size));
  PetscCall(ExpectError("-l96_mode bogus", "choose two_scale or one_scale"));
  PetscCall(ExpectError("-closure bogus", "choose none, polynomial or surrogate"));
  PetscCall(ExpectError("-closure polynomial", "-closure_coeffs a0,a1,...,an"));
  PetscCall(ExpectError("-closure polynomial -closure_coeffs 1 -closure_field Q",
                        "'Q' is not a state component of model l96 (components: X, Y_1,"));
  PetscCall(ExpectError("-l96_K 3", "at least 4 sectors"));
  if (size > 2) PetscCall(ExpectError("-l96_K 6", "at least 2 sectors per rank"));
  PetscFunctionReturn(PETSC_SUCCESS);
}

int main(int argc, char **argv)
{
  PetscInt gfail;

  PetscCall(PetscInitialize(&argc, &argv, NULL, NULL));
  PetscCall(TestEnergy());
  PetscCall(TestRHS(PETSC_TRUE));
  PetscCall(TestRHS(PETSC_FALSE));
  PetscCall(TestRanks());
  PetscCall(TestClosure(PETSC_TRUE));
  PetscCall(TestClosure(PETSC_FALSE));
  PetscCall(TestBadOptions());
  PetscCall(TestReadState());
  PetscCallMPI(MPI_Allreduce(&nfail, &gfail, 1, MPIU_INT, MPI_MAX, PETSC_COMM_WORLD));
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "l96: %s (%" PetscInt_FMT " failed)\n",
                        gfail ? "FAILED" : "all passed", gfail));
  PetscCall(PetscFinalize());
  return gfail ? 1 : 0;
}
