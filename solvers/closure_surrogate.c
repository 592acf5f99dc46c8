/* closure_surrogate.c — a trained surrogate as a closure (-closure surrogate, or
 * `-surrogate model.nc -surrogate_mode closure`): at every right-hand-side evaluation the
 * network's output, in physical units, is added to the forced component's tendency.
 *
 * Supported: an MLP applied at each grid point (per_point model files from `gyre train
 * -train_per_point 1`, with or without -train_stencil r), its stencil from the DMDA's ghost
 * points; and a CNN (gyre train -net cnn, without zero-mean output) run on each rank's block
 * with a halo as wide as its receptive field, from a DMDA with the model's layout and that
 * stencil width: the interior of the block's output equals the whole-field network's, so the
 * result does not depend on the rank count, and no rank gathers the field; a network that
 * needs the whole field (an FNO, a whole-field MLP, a zero-mean CNN) is gathered on one rank
 * and says so on the log (solvers/surrogate_eval.c does all three). A receptive field wider
 * than a rank's subdomain is refused. -surrogate_scale s multiplies the output (ns2d's
 * subgrid_forcing S enters the coarse tendency as -S: -surrogate_scale -1).
 * -surrogate_closure_eval step evaluates the network once a time step, on the step's start
 * (its first stage; the driver restarts the TS at every step where the integrator might not
 * evaluate that stage afresh, e.g. an FSAL tableau's), and adds that term at every stage of the
 * step, as a parameterisation computed once a step does; the default, stage, evaluates it at
 * every right-hand side. With one stage a step (euler) both are the same.
 *
 * On load the model file is checked against the run, each mismatch one error naming both
 * sides: trained as a closure; input fields are state components of this model (by name);
 * one output; grid size; grid spacing (when both are known); history 1. The network is loaded
 * once per run and evaluated with a workspace kept between calls; its cost is the
 * "GyreSurrogate" event of -log_view. A model whose right-hand side holds U's and F's arrays
 * may hand them over (GyreModelClosureOwned: l96): a per-point network on a rank that owns the
 * whole grid then reads and adds through them (ApplyOwned), the same values without the two
 * array accesses of its own a call. */
#include <string.h>
#include "gyre_surrogate.h"
#include "gyre_petsc.h"

typedef struct {
  GyreSurrogateEval ev;
  PetscInt          comp;                                 /* forced component, -1 until resolved */
  PetscInt          nin, in_comp[GYRE_DATA_MAX_CHANNELS]; /* input channels: DMDA components */
  PetscInt          dof;                                  /* the model's components per point */
  PetscReal         scale;     /* F += scale * output (-surrogate_scale) */
  GyreClosure       fallback;  /* the guard's analytic fallback (-guard_fallback), or NULL */
  PetscInt          held_step; /* the step whose term `held` is (closure->steps_begun), or -1 */
  float            *held;      /* that term, this rank's points (-surrogate_closure_eval step) */
} SurrogateClosure;

/* The closure's term on this rank's points: from the state U (u NULL) or from its array u (a
 * per-point network on a rank owning the whole grid: GyreSurrogateEvalReadsState); with
 * -surrogate_closure_eval step, a later stage of a step takes the term its first made. */
static PetscErrorCode Term(GyreClosure cl, SurrogateClosure *sc, Vec U, const PetscScalar *u,
                           const float **y)
{
  PetscFunctionBegin;
  if (cl->once_a_step && cl->in_step && sc->held_step == cl->steps_begun) {
    *y = sc->held; /* a later stage of the step: the term its first right-hand side made */
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  if (u)
    PetscCall(GyreSurrogateEvalApplyStateArray(sc->ev, u, sc->dof, sc->in_comp, y));
  else
    PetscCall(GyreSurrogateEvalApplyState(sc->ev, U, sc->dof, sc->in_comp, y));
  if (cl->once_a_step && cl->in_step) {
    const PetscInt n = sc->ev->xm * sc->ev->ym;
    if (!sc->held) PetscCall(PetscMalloc1(n, &sc->held));
    PetscCall(PetscArraycpy(sc->held, *y, n));
    sc->held_step = cl->steps_begun;
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* f += scale x y on this rank's points (f: F's array, dof values a point) */
static void AddTerm(const SurrogateClosure *sc, PetscScalar *f, const float *y)
{
  /* (the loop's invariants held: f may alias sc as far as the compiler knows) */
  const PetscInt n = sc->ev->xm * sc->ev->ym, dof = sc->dof; /* (the evaluator's layout is the
                                                              * model's) */
  const PetscReal scale = sc->scale;
  PetscScalar    *fc    = f + sc->comp;
  if (dof == 1)
    GyreSurrogateAddScaled(fc, y, scale, n);
  else
    for (PetscInt p = 0; p < n; p++)
      fc[p * dof] += scale * y[p];
}

/* F += scale x network(U) on this rank's points (gyre_surrogate.h: per point, per block with a
 * halo, or the whole field gathered on one rank). Collective. */
static PetscErrorCode Apply(GyreClosure cl, GyreModel model, PetscReal t, Vec U, Vec F)
{
  SurrogateClosure *sc = (SurrogateClosure *) cl->ctx;
  PetscScalar      *f;
  const float      *y;

  PetscFunctionBegin;
  if (sc->ev->disabled) { /* the guard's physics fallback: no closure, or an analytic one */
    if (sc->fallback) PetscCall((*sc->fallback->apply)(sc->fallback, model, t, U, F));
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  if (sc->comp < 0) PetscCall(GyreClosureFindComponent(cl, model, &sc->comp));
  PetscCall(Term(cl, sc, U, NULL, &y));
  PetscCall(VecGetArray(F, &f));
  AddTerm(sc, f, y);
  PetscCall(VecRestoreArray(F, &f));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Apply from the arrays of U and F a model's right-hand side holds (apply_owned): where the
 * network reads the state's array (a per-point network on a rank owning the whole grid) and the
 * guard has not switched it off; else *done = PETSC_FALSE (Apply then runs) */
static PetscErrorCode ApplyOwned(GyreClosure cl, GyreModel model, PetscReal t, const PetscScalar *u,
                                 PetscScalar *f, PetscBool *done)
{
  SurrogateClosure *sc = (SurrogateClosure *) cl->ctx;
  const float      *y;

  PetscFunctionBegin;
  *done = PETSC_FALSE;
  if (sc->ev->disabled || sc->comp < 0 || !GyreSurrogateEvalReadsState(sc->ev))
    PetscFunctionReturn(PETSC_SUCCESS); /* (the first call resolves comp through Apply) */
  PetscCall(Term(cl, sc, NULL, u, &y));
  AddTerm(sc, f, y);
  *done = PETSC_TRUE;
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode Destroy(GyreClosure cl)
{
  SurrogateClosure *sc = (SurrogateClosure *) cl->ctx;

  PetscFunctionBegin;
  if (!sc) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(GyreClosureDestroy(&sc->fallback));
  PetscCall(GyreSurrogateEvalDestroy(&sc->ev));
  PetscCall(PetscFree(sc->held));
  cl->surrogate = NULL;
  PetscCall(PetscFree(cl->ctx));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Every check of the model file against this run (same outcome on every rank). */
static PetscErrorCode CheckAgainstRun(GyreClosure cl, GyreModel model, SurrogateClosure *sc)
{
  GyreSurrogateEval    ev   = sc->ev;
  const GyreModelMeta *m    = GyreSurrogateMeta(ev->s);
  const char          *path = ev->path;

  PetscFunctionBegin;
  PetscCheck(!m->mode[0] || !strcmp(m->mode, "closure"), model->comm, PETSC_ERR_ARG_INCOMP,
             "surrogate '%s' was trained as an %s, not a closure (-surrogate_mode %s)", path,
             m->mode, m->mode);
  PetscCheck(m->history == 1, model->comm, PETSC_ERR_ARG_INCOMP,
             "surrogate '%s' takes %d past steps; a closure takes the current state (history 1)",
             path, m->history);
  PetscCall(GyreSurrogateEvalFindFields(ev, model, m->input_fields, "input", GYRE_DATA_MAX_CHANNELS,
                                        &sc->nin, sc->in_comp));
  /* the channels agree with the fields and the network (checked on load, model_file.c): what
   * is left is the number of predicted fields */
  const GyreNormalization *nm = GyreSurrogateNormalization(ev->s);
  PetscCheck(nm->nout == 1, model->comm, PETSC_ERR_ARG_INCOMP,
             "surrogate '%s' predicts %d fields (%s); a closure adds one tendency, to %s: train "
             "it with one -train_targets field",
             path, nm->nout, m->output_fields, cl->field);
  PetscCall(GyreSurrogateEvalCheckGrid(ev, model, cl->field));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode GyreClosureCreate_Surrogate(GyreClosure cl, GyreModel model)
{
  SurrogateClosure *sc;
  char              path[PETSC_MAX_PATH_LEN] = "", fallback[32] = "none", when[16] = "stage";

  PetscFunctionBegin;
  PetscCall(PetscNew(&sc));
  cl->ctx         = sc;
  cl->apply       = Apply;
  cl->apply_owned = ApplyOwned;
  cl->destroy     = Destroy;
  sc->comp        = -1;
  sc->held_step   = -1;
  /* -surrogate: listed by -help in the closure's block (GyreClosureCreateFromOptions) */
  PetscCall(PetscOptionsGetString(NULL, NULL, "-surrogate", path, sizeof path, NULL));
  PetscOptionsBegin(model->comm, NULL, "Surrogate closure (-closure surrogate)", "closure");
  sc->scale = 1;
  PetscCall(PetscOptionsReal("-surrogate_scale", "F += scale x output (ns2d's S enters as -S)",
                             NULL, sc->scale, &sc->scale, NULL));
  PetscCall(PetscOptionsString("-guard_fallback",
                               "the guard's fallback: none or polynomial "
                               "(with -closure_coeffs)",
                               NULL, fallback, fallback, sizeof fallback, NULL));
  PetscCall(PetscOptionsString("-surrogate_closure_eval",
                               "stage (the network at every right-hand side) or step (once a "
                               "time step, its term held through the step's stages)",
                               NULL, when, when, sizeof when, NULL));
  PetscOptionsEnd();
  PetscCheck(!strcmp(when, "stage") || !strcmp(when, "step"), model->comm, PETSC_ERR_ARG_OUTOFRANGE,
             "-surrogate_closure_eval %s: expected stage or step", when);
  cl->once_a_step = !strcmp(when, "step");
  PetscCheck(path[0], model->comm, PETSC_ERR_USER_INPUT,
             "-closure surrogate needs -surrogate FILE (a model file from gyre train)");
  PetscCall(GyreSurrogateEvalCreate(model, path, &sc->ev));
  cl->surrogate = sc->ev;
  if (!cl->field[0]) { /* default: the first input field is the forced one */
    const char *in  = GyreSurrogateMeta(sc->ev->s)->input_fields;
    size_t      len = strcspn(in, ",");
    PetscCall(PetscStrncpy(cl->field, in, PetscMin(len + 1, sizeof cl->field)));
  }
  PetscCall(CheckAgainstRun(cl, model, sc));
  PetscCheck(!strcmp(fallback, "none") || !strcmp(fallback, "polynomial"), model->comm,
             PETSC_ERR_ARG_OUTOFRANGE, "-guard_fallback %s: expected none or polynomial", fallback);
  if (!strcmp(fallback, "polynomial")) { /* the same forced field, -closure_coeffs */
    PetscCall(PetscNew(&sc->fallback));
    PetscCall(PetscStrncpy(sc->fallback->name, "polynomial", sizeof sc->fallback->name));
    sc->fallback->option = "-guard_fallback";
    PetscCall(PetscStrncpy(sc->fallback->field, cl->field, sizeof sc->fallback->field));
    PetscCall(GyreClosureCreate_Polynomial(sc->fallback, model));
  }
  PetscCall(GyreSurrogateEvalSetUp(sc->ev, model, sc->nin, 1));
  PetscCall(DMDAGetInfo(model->dm, NULL, NULL, NULL, NULL, NULL, NULL, NULL, &sc->dof, NULL, NULL,
                        NULL, NULL, NULL));
  { /* the guard's invariant: each input field's mean square within the training band */
    const GyreNormalization *nm = GyreSurrogateNormalization(sc->ev->s);
    sc->ev->nband               = nm->has_band ? sc->nin : 0;
    for (PetscInt c = 0; c < sc->ev->nband; c++) {
      sc->ev->band_comp[c] = sc->in_comp[c];
      sc->ev->band_min[c]  = nm->in_ms_min[c];
      sc->ev->band_max[c]  = nm->in_ms_max[c];
    }
  }
  PetscCall(PetscInfo(NULL, "surrogate closure '%s' loaded: %s -> %s, stencil %" PetscInt_FMT "\n",
                      path, GyreSurrogateMeta(sc->ev->s)->input_fields,
                      GyreSurrogateMeta(sc->ev->s)->output_fields, sc->ev->r));
  PetscFunctionReturn(PETSC_SUCCESS);
}
