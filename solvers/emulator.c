/* emulator.c — a trained emulator advancing the state (`-surrogate FILE -surrogate_mode
 * emulator`): where the driver advances the state, the network maps the last T_in states
 * (its -train_history) to the state one stride later, the stride being what it was trained
 * for: lead x record_dt of its training data. It plugs in at the driver, not inside a model.
 *
 * Decisions:
 *  - The run advances in strides: dt divides the stride (the model's own dt rounded down to
 *    divide it, or -ts_dt), and the output interval, the checkpoint interval and the run's
 *    length must be whole strides (else one error naming both sides).
 *  - Each member keeps a history of its last T_in states at stride spacing. A run starts
 *    (or restarts from a checkpoint, which does not store the history) with one state, so its
 *    first T_in - 1 advances are physics advances that fill the history; the log says so.
 *  - A physics advance is stride/dt steps of the solver's own TS (any closure of -closure
 *    included). With -surrogate_physics_every N every N-th advance (counted from the initial
 *    time) is one; N = 1 is the physics run.
 *  - The network predicts every state component (its output fields must be exactly the
 *    model's state components); its inputs are state components at the T_in history states,
 *    channel v T_in + h (h = 0 the oldest, gyre_data.h).
 *  - The guard (guard.c) checks each advance with the network: NaN/Inf or out-of-range
 *    outputs, inputs beyond -guard_sigma, and each predicted component's mean square against
 *    the training band of its input channels (min/max over the history) widened by
 *    -guard_band. A trip rolls the advance back and redoes it with physics; the network stays
 *    off for -guard_cooldown advances.
 *  - The network is evaluated as gyre_surrogate.h says: a CNN per rank with a halo, an FNO or
 *    whole-field MLP gathered on one rank. The output file is that of a physics run (same
 *    variables and times) whose provenance names the emulator (output.c). */
#include <math.h>
#include <string.h>
#include "gyre_run.h"
#include "gyre_io.h"
#include "gyre_surrogate.h"
#include "gyre_petsc.h"

struct _p_GyreEmulator {
  GyreSurrogateEval ev;
  PetscInt          T;                                    /* history: input states */
  PetscInt          nin, in_comp[GYRE_DATA_MAX_CHANNELS]; /* input variables: components */
  PetscInt          nout, out_comp[GYRE_DATA_MAX_CHANNELS];
  PetscInt          physics_every; /* 0: never */
  PetscReal         stride;        /* model time per advance */
  Vec              *hist;          /* member m's h-th oldest state: hist[m T + h] */
  PetscInt         *nfilled;       /* states in member m's history */
  PetscBool        *physics_last;  /* member m's last advance was physics: the TS may go on */
};

/* Every check of the model file against the run (same outcome on every rank). */
static PetscErrorCode CheckAgainstRun(GyreEmulator e, GyreModel model)
{
  GyreSurrogateEval        ev = e->ev;
  const GyreModelMeta     *m  = GyreSurrogateMeta(ev->s);
  const GyreNormalization *nm = GyreSurrogateNormalization(ev->s);
  PetscInt                 dof;
  const char              *first;

  PetscFunctionBegin;
  PetscCall(DMDAGetInfo(model->dm, NULL, NULL, NULL, NULL, NULL, NULL, NULL, &dof, NULL, NULL, NULL,
                        NULL, NULL));
  PetscCheck(!strcmp(m->mode, "emulator"), model->comm, PETSC_ERR_ARG_INCOMP,
             "surrogate '%s' was trained as %s%s, not an emulator (gyre train -train_mode "
             "emulator); -surrogate_mode emulator needs one",
             ev->path, m->mode[0] ? "a " : "", m->mode[0] ? m->mode : "an unknown kind");
  e->T = m->history;
  PetscCall(GyreSurrogateEvalFindFields(ev, model, m->input_fields, "input", GYRE_DATA_MAX_CHANNELS,
                                        &e->nin, e->in_comp));
  PetscCall(GyreSurrogateEvalFindFields(ev, model, m->output_fields, "output",
                                        GYRE_DATA_MAX_CHANNELS, &e->nout, e->out_comp));
  { /* the outputs: every state component, once */
    PetscBool seen[GYRE_DATA_MAX_CHANNELS] = {PETSC_FALSE}, all = e->nout == dof;
    for (PetscInt k = 0; k < e->nout && all; k++) {
      if (seen[e->out_comp[k]]) all = PETSC_FALSE;
      seen[e->out_comp[k]] = PETSC_TRUE;
    }
    PetscCall(DMDAGetFieldName(model->dm, 0, &first));
    PetscCheck(all, model->comm, PETSC_ERR_ARG_INCOMP,
               "surrogate '%s' predicts %s; an emulator of model %s must predict each of its "
               "%" PetscInt_FMT " state components (%s%s) once",
               ev->path, m->output_fields, model->name, dof, first, dof > 1 ? ", ..." : "");
  }
  PetscCheck(nm->nin == e->nin * e->T && nm->nout == e->nout, model->comm, PETSC_ERR_ARG_INCOMP,
             "surrogate '%s' has %d input and %d output channels; %" PetscInt_FMT
             " input fields x history %" PetscInt_FMT " and %" PetscInt_FMT " outputs expected",
             ev->path, nm->nin, nm->nout, e->nin, e->T, e->nout);
  PetscCheck(m->record_dt > 0 && m->lead >= 1, model->comm, PETSC_ERR_ARG_INCOMP,
             "surrogate '%s' does not record its stride (the training data's record spacing is "
             "unknown): it cannot be run as an emulator",
             ev->path);
  e->stride = (PetscReal) (m->lead * m->record_dt);
  PetscCall(GyreSurrogateEvalCheckGrid(ev, model, model->fields[0].spec.name));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode GyreEmulatorCreate(GyreRun *run, PetscReal *stride)
{
  GyreModel    model                    = run->model;
  char         path[PETSC_MAX_PATH_LEN] = "", mode[16] = "closure";
  GyreEmulator e;

  PetscFunctionBegin;
  *stride       = 0;
  run->emulator = NULL;
  /* (listed by -help in the closure's block, GyreClosureCreateFromOptions: read here quietly) */
  PetscCall(PetscOptionsGetString(NULL, NULL, "-surrogate", path, sizeof path, NULL));
  PetscCall(PetscOptionsGetString(NULL, NULL, "-surrogate_mode", mode, sizeof mode, NULL));
  if (strcmp(mode, "emulator")) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCheck(path[0], model->comm, PETSC_ERR_USER_INPUT,
             "-surrogate_mode emulator needs -surrogate FILE (a model file from gyre train "
             "-train_mode emulator)");
  PetscCall(PetscNew(&e));
  run->emulator = e;
  PetscOptionsBegin(model->comm, NULL, "Emulator (-surrogate_mode emulator)", "surrogate");
  PetscCall(PetscOptionsInt("-surrogate_physics_every",
                            "every N-th advance is a physics advance (0: none)", NULL,
                            e->physics_every, &e->physics_every, NULL));
  PetscOptionsEnd();
  PetscCheck(e->physics_every >= 0, model->comm, PETSC_ERR_ARG_OUTOFRANGE,
             "-surrogate_physics_every %" PetscInt_FMT " must be >= 0 (0: never)",
             e->physics_every);
  PetscCall(GyreSurrogateEvalCreate(model, path, &e->ev));
  PetscCall(CheckAgainstRun(e, model));
  PetscCall(GyreSurrogateEvalSetUp(e->ev, model, e->nin * e->T, e->nout));
  { /* the guard's invariant: each predicted component's mean square within the band of its
       input channels (over the history), where it is an input */
    const GyreNormalization *nm = GyreSurrogateNormalization(e->ev->s);
    for (PetscInt k = 0; k < e->nout && nm->has_band; k++)
      for (PetscInt v = 0; v < e->nin; v++) {
        if (e->in_comp[v] != e->out_comp[k]) continue;
        PetscInt b          = e->ev->nband++;
        e->ev->band_comp[b] = e->out_comp[k];
        e->ev->band_min[b]  = nm->in_ms_min[v * e->T];
        e->ev->band_max[b]  = nm->in_ms_max[v * e->T];
        for (PetscInt h = 1; h < e->T; h++) {
          e->ev->band_min[b] = PetscMin(e->ev->band_min[b], nm->in_ms_min[v * e->T + h]);
          e->ev->band_max[b] = PetscMax(e->ev->band_max[b], nm->in_ms_max[v * e->T + h]);
        }
      }
  }
  run->surrogate = e->ev;
  *stride        = e->stride;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode GyreEmulatorDescribeStride(GyreRun *run, char *buf, size_t len)
{
  GyreEmulator         e = run->emulator;
  const GyreModelMeta *m = GyreSurrogateMeta(e->ev->s);
  char                 a[32], b[32], c[32];

  PetscFunctionBegin;
  /* C's %g throughout: PETSc's prints 1 as "1." */
  snprintf(buf, len, "surrogate '%s' advances by %s", e->ev->path,
           GyreNumberFormat(e->stride, NULL, NULL, a, sizeof a));
  if (run->advance_steps > 0 && strlen(buf) < len)
    snprintf(buf + strlen(buf), len - strlen(buf), " = %" PetscInt_FMT " steps of dt = %s",
             run->advance_steps, GyreNumberFormat(run->dt, NULL, NULL, b, sizeof b));
  if (strlen(buf) < len)
    snprintf(buf + strlen(buf), len - strlen(buf),
             ", lead %d x record spacing %s of its training data", m->lead,
             GyreNumberFormat(m->record_dt, NULL, NULL, c, sizeof c));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* A time step that divides the stride: into n steps (n < 0: any number). */
typedef struct {
  PetscReal stride;
  double    n;
} StrideSplit;

/* 1 where a time step dt divides the stride to 1e-9 (into the intended number of steps). */
static int DividesStride(double dt, const void *ctx)
{
  const StrideSplit *s = ctx;
  double             n = round(s->stride / dt);
  return n >= 1 && (s->n < 0 || n == s->n) && fabs(n * dt - s->stride) <= 1e-9 * s->stride;
}

PetscErrorCode GyreEmulatorSetUpStep(GyreRun *run)
{
  GyreEmulator         e   = run->emulator;
  const GyreModelMeta *m   = GyreSurrogateMeta(e->ev->s);
  StrideSplit          any = {e->stride, -1};

  PetscFunctionBegin;
  run->advance_steps = 0; /* not yet known: the description leaves the steps out */
  if (!DividesStride(run->dt, &any)) {
    /* the largest dt below the given one that divides the record spacing (so the stride and
     * the times of the training data's records) */
    const PetscReal   per = PetscCeilReal(m->record_dt / run->dt), fit = m->record_dt / per;
    const StrideSplit to = {e->stride, per * m->lead};
    char              stride[PETSC_MAX_PATH_LEN + 256], dts[32], fits[32];
    PetscCall(GyreEmulatorDescribeStride(run, stride, sizeof stride));
    SETERRQ(run->comm, PETSC_ERR_ARG_INCOMP,
            "%s; the run's time step dt = %s does not divide it: give -ts_dt %s (or leave -ts_dt "
            "out: the run then chooses one that does)",
            stride, GyreNumberFormat(run->dt, NULL, NULL, dts, sizeof dts),
            GyreNumberFormat(fit, DividesStride, &to, fits, sizeof fits));
  }
  /* a dt given with a few digits less than the stride over a whole number of steps is taken
   * as that, exactly: it would otherwise shift the output times and fail long run lengths by
   * rounding. One that is it to round-off (0.005 for 0.15/30) is kept bit for bit, so that a
   * physics run at the same -ts_dt and its checkpoints are the same run. */
  run->advance_steps = (PetscInt) round(e->stride / run->dt);
  if (PetscAbsReal(run->advance_steps * run->dt - e->stride) > 1e-12 * e->stride)
    run->dt = e->stride / (PetscReal) run->advance_steps;
  PetscCall(VecDuplicateVecs(run->Us[0], run->model->ensemble_size * e->T, &e->hist));
  PetscCall(PetscCalloc2(run->model->ensemble_size, &e->nfilled, run->model->ensemble_size,
                         &e->physics_last));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode GyreEmulatorStart(GyreRun *run)
{
  GyreEmulator e = run->emulator;

  PetscFunctionBegin;
  if (!e) PetscFunctionReturn(PETSC_SUCCESS);
  for (PetscInt m = 0; m < run->model->ensemble_size; m++) {
    PetscCall(VecCopy(run->Us[m], e->hist[m * e->T + e->T - 1]));
    e->nfilled[m]      = 1;
    e->physics_last[m] = PETSC_FALSE;
  }
  PetscCall(PetscPrintf(run->comm,
                        "surrogate: emulator '%s' advances by %g (%" PetscInt_FMT
                        " steps of dt = %g) from %" PetscInt_FMT " past state(s)",
                        e->ev->path, (double) e->stride, run->advance_steps, (double) run->dt,
                        e->T));
  if (e->T > 1)
    PetscCall(PetscPrintf(run->comm,
                          "; its history is filled by physics: the first %" PetscInt_FMT
                          " advance(s) are physics advances",
                          e->T - 1));
  if (e->physics_every > 0)
    PetscCall(PetscPrintf(run->comm,
                          "; advances %lld, %lld, ... are physics advances "
                          "(-surrogate_physics_every)",
                          (long long) e->physics_every, 2 * (long long) e->physics_every));
  PetscCall(PetscPrintf(run->comm, "\n"));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* run->U = the network's next state from member run->member's history. Collective. */
static PetscErrorCode NetworkAdvance(GyreRun *run)
{
  GyreEmulator e    = run->emulator;
  Vec         *hist = e->hist + run->member * e->T;
  PetscInt     dof, n, C = e->nin * e->T;
  PetscScalar *x, *u;
  const float *y;

  PetscFunctionBegin;
  PetscCall(DMDAGetInfo(run->model->dm, NULL, NULL, NULL, NULL, NULL, NULL, NULL, &dof, NULL, NULL,
                        NULL, NULL, NULL));
  PetscCall(VecGetLocalSize(run->U, &n));
  n /= dof;
  PetscCall(GyreSurrogateEvalGetInput(e->ev, &x));
  for (PetscInt h = 0; h < e->T; h++) { /* channel v T + h: variable v at history state h */
    const PetscScalar *s;
    PetscCall(VecGetArrayRead(hist[h], &s));
    for (PetscInt p = 0; p < n; p++)
      for (PetscInt v = 0; v < e->nin; v++)
        x[p * C + v * e->T + h] = s[p * dof + e->in_comp[v]];
    PetscCall(VecRestoreArrayRead(hist[h], &s));
  }
  PetscCall(GyreSurrogateEvalRestoreInput(e->ev, &x));
  PetscCall(GyreSurrogateEvalApply(e->ev, &y));
  PetscCall(VecGetArray(run->U, &u));
  for (PetscInt k = 0; k < e->nout; k++)
    for (PetscInt p = 0; p < n; p++)
      u[p * dof + e->out_comp[k]] = y[k * n + p];
  PetscCall(VecRestoreArray(run->U, &u));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode GyreEmulatorAdvance(GyreRun *run)
{
  GyreEmulator e       = run->emulator;
  PetscInt     m       = run->member;
  PetscInt     a       = (run->step - run->step_first) / run->advance_steps + 1; /* this advance */
  PetscBool    physics = e->nfilled[m] < e->T || (e->physics_every > 0 && a % e->physics_every == 0)
                             ? PETSC_TRUE
                             : PETSC_FALSE;
  PetscBool    restart = !e->physics_last[m]; /* the TS did not compute run->U */

  PetscFunctionBegin;
  if (!physics) {
    PetscCall(GyreGuardBeginStep(run)); /* the cooldown may switch the network off */
    physics = e->ev->disabled;
    if (!physics) {
      PetscBool redo;
      PetscCall(NetworkAdvance(run));
      PetscCall(GyreGuardEndStep(run, &redo)); /* a trip: rolled back, redone with physics */
      physics = redo;
      restart = PETSC_TRUE;
    }
  }
  if (physics) PetscCall(GyreRunStepPhysics(run, run->advance_steps, restart));
  e->physics_last[m] = physics;
  { /* the new state becomes the newest of the history */
    Vec *hist = e->hist + m * e->T, oldest = hist[0];
    for (PetscInt h = 0; h < e->T - 1; h++)
      hist[h] = hist[h + 1];
    hist[e->T - 1] = oldest;
    PetscCall(VecCopy(run->U, oldest));
    e->nfilled[m] = PetscMin(e->T, e->nfilled[m] + 1);
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode GyreEmulatorDestroy(GyreRun *run)
{
  GyreEmulator e = run->emulator;

  PetscFunctionBegin;
  if (!e) PetscFunctionReturn(PETSC_SUCCESS);
  if (e->hist) PetscCall(VecDestroyVecs(run->model->ensemble_size * e->T, &e->hist));
  PetscCall(PetscFree2(e->nfilled, e->physics_last));
  PetscCall(GyreSurrogateEvalDestroy(&e->ev));
  run->surrogate = NULL;
  PetscCall(PetscFree(run->emulator));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode GyreEmulatorDescribe(GyreRun *run, char *buf, size_t len)
{
  GyreEmulator e = run->emulator;

  PetscFunctionBegin;
  PetscCall(PetscSNPrintf(buf, len,
                          "emulator (advance %g = %" PetscInt_FMT " steps, history %" PetscInt_FMT
                          ", -surrogate_physics_every %" PetscInt_FMT ")",
                          (double) e->stride, run->advance_steps, e->T, e->physics_every));
  PetscFunctionReturn(PETSC_SUCCESS);
}
