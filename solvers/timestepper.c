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

/* What the TS callbacks need; composed on the TS and destroyed with it. */
typedef struct {
  GyreModel model;
  Vec       work;  /* scratch for L U in the summed right-hand side */
  PetscReal shift; /* of the last IJacobian call */
  Mat       J;     /* shell: shift I - L */
} Stepper;

static PetscErrorCode RHSExplicit(TS ts, PetscReal t, Vec U, Vec F, void *ctx)
{
  GyreModel m = ((Stepper *) ctx)->model;

  PetscFunctionBegin;
  m->closure_in_rhs = PETSC_TRUE, m->closure_added = PETSC_FALSE;
  PetscCall((*m->ops.rhsexplicit)(m, t, U, F));
  m->closure_in_rhs = PETSC_FALSE;
  if (m->closure && !m->closure_added) PetscCall((*m->closure->apply)(m->closure, m, t, U, F));
  m->closure_added = PETSC_FALSE;
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode RHSFull(TS ts, PetscReal t, Vec U, Vec F, void *ctx)
{
  Stepper  *s = (Stepper *) ctx;
  GyreModel m = s->model;

  PetscFunctionBegin;
  PetscCall(RHSExplicit(ts, t, U, F, ctx));
  PetscCall((*m->ops.rhsimplicit)(m, t, U, s->work));
  PetscCall(VecAXPY(F, 1.0, s->work));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* F = Udot - L U */
static PetscErrorCode IFunction(TS ts, PetscReal t, Vec U, Vec Udot, Vec F, void *ctx)
{
  GyreModel m = ((Stepper *) ctx)->model;

  PetscFunctionBegin;
  PetscCall((*m->ops.rhsimplicit)(m, t, U, F));
  PetscCall(VecAYPX(F, -1.0, Udot));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode IJacobian(TS ts, PetscReal t, Vec U, Vec Udot, PetscReal shift, Mat A, Mat P,
                                void *ctx)
{
  PetscFunctionBegin;
  ((Stepper *) ctx)->shift = shift;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* y = (shift I - L) x */
static PetscErrorCode JacobianMult(Mat A, Vec x, Vec y)
{
  Stepper *s;

  PetscFunctionBegin;
  PetscCall(MatShellGetContext(A, &s));
  PetscCall((*s->model->ops.rhsimplicit)(s->model, 0.0, x, y));
  PetscCall(VecAXPBY(y, s->shift, -1.0, x));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* y = (shift I - L)^{-1} x, exactly */
static PetscErrorCode JacobianSolve(PC pc, Vec x, Vec y)
{
  Stepper *s;

  PetscFunctionBegin;
  PetscCall(PCShellGetContext(pc, &s));
  PetscCall((*s->model->ops.solveimplicit)(s->model, s->shift, x, y));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode StepperDestroy(void *ctx)
{
  Stepper *s = (Stepper *) ctx;

  PetscFunctionBegin;
  PetscCall(VecDestroy(&s->work));
  PetscCall(MatDestroy(&s->J));
  PetscCall(PetscFree(s));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode GyreModelSetUpTS(GyreModel m, TS ts)
{
  PetscBool      split = m->ops.rhsimplicit && m->ops.solveimplicit ? PETSC_TRUE : PETSC_FALSE;
  PetscBool      imex, expl;
  Stepper       *s;
  PetscContainer container;

  PetscFunctionBegin;
  PetscCall(PetscNew(&s));
  s->model = m;
  PetscCall(PetscContainerCreate(m->comm, &container));
  PetscCall(PetscContainerSetPointer(container, s));
  PetscCall(PetscContainerSetUserDestroy(container, StepperDestroy));
  PetscCall(PetscObjectCompose((PetscObject) ts, "gyre_stepper", (PetscObject) container));
  PetscCall(PetscContainerDestroy(&container));
  PetscCall(DMCreateGlobalVector(m->dm, &s->work));

  PetscCall(PetscObjectTypeCompareAny((PetscObject) ts, &imex, TSARKIMEX, TSROSW, ""));
  PetscCall(PetscObjectTypeCompareAny((PetscObject) ts, &expl, TSEULER, TSRK, TSSSP, TSMPRK, ""));
  if (imex && split) {
    SNES     snes;
    KSP      ksp;
    PC       pc;
    PetscInt nloc, nglob;

    PetscCall(TSSetRHSFunction(ts, NULL, RHSExplicit, s));
    PetscCall(TSSetIFunction(ts, NULL, IFunction, s));
    PetscCall(VecGetLocalSize(s->work, &nloc));
    PetscCall(VecGetSize(s->work, &nglob));
    PetscCall(MatCreateShell(m->comm, nloc, nloc, nglob, nglob, s, &s->J));
    PetscCall(MatShellSetOperation(s->J, MATOP_MULT, (void (*)(void)) JacobianMult));
    PetscCall(TSSetIJacobian(ts, s->J, s->J, IJacobian, s));
    PetscCall(TSGetSNES(ts, &snes));
    PetscCall(SNESSetType(snes, SNESKSPONLY));
    PetscCall(SNESGetKSP(snes, &ksp));
    PetscCall(KSPSetType(ksp, KSPPREONLY));
    PetscCall(KSPGetPC(ksp, &pc));
    PetscCall(PCSetType(pc, PCSHELL));
    PetscCall(PCShellSetContext(pc, s));
    PetscCall(PCShellSetApply(pc, JacobianSolve));
    PetscCall(PCShellSetName(pc, "exact solve of (shift I - L) from the model"));
  } else if (imex) {
    TSType type;
    PetscCall(TSGetType(ts, &type));
    SETERRQ(m->comm, PETSC_ERR_SUP,
            "-ts_type %s is an IMEX integrator but model %s has no stiff part: use an explicit "
            "one (rk, ssp, euler)",
            type, m->name);
  } else if (expl) {
    PetscCall(TSSetRHSFunction(ts, NULL, split ? RHSFull : RHSExplicit, s));
  } else {
    TSType type;
    PetscCall(TSGetType(ts, &type));
    SETERRQ(m->comm, PETSC_ERR_SUP,
            "-ts_type %s is not supported by gyre simulate: use an explicit integrator (rk, "
            "ssp, euler)%s",
            type, split ? " or an IMEX one (arkimex, rosw)" : "");
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode GyreRunSetUpTS(GyreRun *run)
{
  GyreModel m = run->model;
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
  PetscCall(GyreModelSetUpTS(m, run->ts));
  /* every step restarts the TS where an ensemble's members share it, and where a closure is
   * evaluated once a step (its term made at the step's first stage, at the step's start) unless
   * the integrator is a Runge-Kutta tableau that is not FSAL: an FSAL one (3bs, 5dp, 5bs)
   * would take its first stage from the step before's last, and the other integrators are
   * restarted too rather than relied on to evaluate the first stage afresh */
  run->restart_each_step = m->ensemble_size > 1;
  if (m->closure && m->closure->once_a_step && !run->restart_each_step) {
    PetscBool rk, fsal = PETSC_FALSE;
    PetscCall(PetscObjectTypeCompare((PetscObject) run->ts, TSRK, &rk));
    if (rk) {
      PetscCall(TSSetUp(run->ts));
      PetscCall(TSRKGetTableau(run->ts, NULL, NULL, NULL, NULL, NULL, NULL, NULL, &fsal));
    }
    run->restart_each_step = !rk || fsal;
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode GyreRunDestroyTS(GyreRun *run)
{
  PetscFunctionBegin;
  PetscCall(TSDestroy(&run->ts));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode GyreRunStepPhysics(GyreRun *run, PetscInt n, PetscBool restart)
{
  GyreClosure cl = run->model->closure;

  PetscFunctionBegin;
  for (PetscInt k = 0; k < n; k++) {
    if ((restart && k == 0) || run->restart_each_step) {
      PetscCall(TSSetSolution(run->ts, run->U));
      PetscCall(TSSetTimeStep(run->ts, run->dt));
      PetscCall(TSRestartStep(run->ts));
    }
    PetscCall(TSSetTime(run->ts, (run->step + k) * run->dt)); /* the exact clock */
    if (cl) cl->steps_begun++, cl->in_step = PETSC_TRUE;      /* (-surrogate_closure_eval step) */
    PetscCall(TSStep(run->ts));
    if (cl) cl->in_step = PETSC_FALSE;
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}
