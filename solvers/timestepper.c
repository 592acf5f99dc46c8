/* timestepper.c — PETSc TS set up for a model's split right-hand side.
 *
 * A model gives an explicit part E(U) (plus a closure C(U)) and, optionally, a stiff linear
 * part L U with an exact solve of (shift I - L) X = B. With an IMEX integrator (-ts_type
 * arkimex or rosw) the TS sees
 *     RHS function    G(t, U)          = E(U) + C(U)
 *     implicit        F(t, U, Udot)    = Udot - L U,  dF/dU + shift dF/dUdot = shift I - L
 * and the stage solve is one application of the model's exact solve (SNES ksponly, KSP
 * preonly, PCSHELL). With an explicit integrator (rk, ssp, euler, ...) the RHS is
 * E(U) + C(U) + L U. The step is fixed (TSAdapt none): output times are exact multiples
 * of dt. */
#include "gyre_run.h"

static PetscErrorCode RHSExplicit(TS ts, PetscReal t, Vec U, Vec F, void *ctx)
{
  GyreRun  *run = (GyreRun *) ctx;
  GyreModel m   = run->model;

  PetscFunctionBegin;
  PetscCall((*m->ops.rhsexplicit)(m, t, U, F));
  if (m->closure) PetscCall((*m->closure->apply)(m->closure, m, t, U, F));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode RHSFull(TS ts, PetscReal t, Vec U, Vec F, void *ctx)
{
  GyreRun  *run = (GyreRun *) ctx;
  GyreModel m   = run->model;

  PetscFunctionBegin;
  PetscCall(RHSExplicit(ts, t, U, F, ctx));
  PetscCall((*m->ops.rhsimplicit)(m, t, U, run->work));
  PetscCall(VecAXPY(F, 1.0, run->work));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* F = Udot - L U */
static PetscErrorCode IFunction(TS ts, PetscReal t, Vec U, Vec Udot, Vec F, void *ctx)
{
  GyreRun  *run = (GyreRun *) ctx;
  GyreModel m   = run->model;

  PetscFunctionBegin;
  PetscCall((*m->ops.rhsimplicit)(m, t, U, F));
  PetscCall(VecAYPX(F, -1.0, Udot));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode IJacobian(TS ts, PetscReal t, Vec U, Vec Udot, PetscReal shift, Mat A, Mat P,
                                void *ctx)
{
  GyreRun *run = (GyreRun *) ctx;

  PetscFunctionBegin;
  run->shift = shift;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* y = (shift I - L) x */
static PetscErrorCode JacobianMult(Mat A, Vec x, Vec y)
{
  GyreRun *run;

  PetscFunctionBegin;
  PetscCall(MatShellGetContext(A, &run));
  PetscCall((*run->model->ops.rhsimplicit)(run->model, 0.0, x, y));
  PetscCall(VecAXPBY(y, run->shift, -1.0, x));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* y = (shift I - L)^{-1} x, exactly */
static PetscErrorCode JacobianSolve(PC pc, Vec x, Vec y)
{
  GyreRun *run;

  PetscFunctionBegin;
  PetscCall(PCShellGetContext(pc, &run));
  PetscCall((*run->model->ops.solveimplicit)(run->model, run->shift, x, y));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode GyreRunSetUpTS(GyreRun *run)
{
  GyreModel m     = run->model;
  PetscBool split = m->ops.rhsimplicit && m->ops.solveimplicit ? PETSC_TRUE : PETSC_FALSE;
  PetscBool imex, expl;
  TSAdapt   adapt;

  PetscFunctionBegin;
  PetscCall(TSCreate(run->comm, &run->ts));
  PetscCall(TSSetDM(run->ts, m->dm));
  PetscCall(TSSetProblemType(run->ts, TS_NONLINEAR));
  PetscCall((*m->ops.settsdefaults)(m, run->ts));
  PetscCall(TSSetExactFinalTime(run->ts, TS_EXACTFINALTIME_MATCHSTEP));
  PetscCall(TSSetFromOptions(run->ts));
  /* fixed steps whatever -ts_adapt_type says: outputs land on multiples of dt */
  PetscCall(TSGetAdapt(run->ts, &adapt));
  PetscCall(TSAdaptSetType(adapt, TSADAPTNONE));

  PetscCall(PetscObjectTypeCompareAny((PetscObject) run->ts, &imex, TSARKIMEX, TSROSW, ""));
  PetscCall(
      PetscObjectTypeCompareAny((PetscObject) run->ts, &expl, TSEULER, TSRK, TSSSP, TSMPRK, ""));
  PetscCall(DMCreateGlobalVector(m->dm, &run->work));
  if (imex && split) {
    SNES     snes;
    KSP      ksp;
    PC       pc;
    PetscInt nloc, nglob;

    PetscCall(TSSetRHSFunction(run->ts, NULL, RHSExplicit, run));
    PetscCall(TSSetIFunction(run->ts, NULL, IFunction, run));
    PetscCall(VecGetLocalSize(run->work, &nloc));
    PetscCall(VecGetSize(run->work, &nglob));
    PetscCall(MatCreateShell(run->comm, nloc, nloc, nglob, nglob, run, &run->J));
    PetscCall(MatShellSetOperation(run->J, MATOP_MULT, (void (*)(void)) JacobianMult));
    PetscCall(TSSetIJacobian(run->ts, run->J, run->J, IJacobian, run));
    PetscCall(TSGetSNES(run->ts, &snes));
    PetscCall(SNESSetType(snes, SNESKSPONLY));
    PetscCall(SNESGetKSP(snes, &ksp));
    PetscCall(KSPSetType(ksp, KSPPREONLY));
    PetscCall(KSPGetPC(ksp, &pc));
    PetscCall(PCSetType(pc, PCSHELL));
    PetscCall(PCShellSetContext(pc, run));
    PetscCall(PCShellSetApply(pc, JacobianSolve));
    PetscCall(PCShellSetName(pc, "exact solve of (shift I - L) from the model"));
  } else if (imex) {
    /* no stiff part: everything is explicit, the implicit side is zero */
    PetscCall(TSSetRHSFunction(run->ts, NULL, RHSExplicit, run));
  } else if (expl) {
    PetscCall(TSSetRHSFunction(run->ts, NULL, split ? RHSFull : RHSExplicit, run));
  } else {
    TSType type;
    PetscCall(TSGetType(run->ts, &type));
    SETERRQ(run->comm, PETSC_ERR_SUP,
            "-ts_type %s is not supported by gyre simulate: use an explicit integrator (rk, "
            "ssp, euler) or an IMEX one (arkimex, rosw)",
            type);
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode GyreRunDestroyTS(GyreRun *run)
{
  PetscFunctionBegin;
  PetscCall(TSDestroy(&run->ts));
  PetscCall(MatDestroy(&run->J));
  PetscCall(VecDestroy(&run->work));
  PetscFunctionReturn(PETSC_SUCCESS);
}
