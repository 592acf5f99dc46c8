/* closure_surrogate.c — a trained surrogate as a closure (-closure surrogate, or
 * `-surrogate model.nc -surrogate_mode closure`): at every right-hand-side evaluation the
 * network's output, in physical units, is added to the forced component's tendency.
 *
 * Supported now: an MLP applied at each grid point (per_point model files from `gyre train
 * -train_per_point 1`, with or without -train_stencil r), on 1-D and 2-D DMDA models. The
 * stencil comes from the DMDA's ghost points (DMGlobalToLocal): each rank evaluates its own
 * points and never gathers the field; a stencil wider than the model's ghost width is refused.
 *
 * On load the model file is checked against the run, each mismatch one error naming both
 * sides: trained as a closure; input fields are state components of this model (by name);
 * one output; grid size; grid spacing (when both are known); history 1. The network is loaded
 * once per run and evaluated with a workspace kept between calls; its cost is the
 * "GyreSurrogate" event of -log_view. */
#include <math.h>
#include <string.h>
#include "gyre_model.h"
#include "gyre_model_file.h"
#include "gyre_petsc.h"

typedef struct {
  GyreBackend      *be;
  GyreSurrogate    *s;
  GyreNetWorkspace *ws;
  char              path[PETSC_MAX_PATH_LEN];
  PetscInt          comp;                                 /* forced component, -1 until resolved */
  PetscInt          nin, in_comp[GYRE_DATA_MAX_CHANNELS]; /* input channels: DMDA components */
  PetscInt          r, dim;                               /* stencil half-width, spatial dims */
  float            *xin, *yout;                           /* host batches: (n, nin S), (n, 1) */
  PetscInt          cap;
} SurrogateClosure;

static PetscLogEvent GYRE_SURROGATE_EVENT = 0;

/* The guard's checks of one evaluation: outputs NaN/Inf or beyond sigma, inputs beyond sigma
 * (in units of the training statistics); the first reason found is kept in cl->trip. */
static PetscErrorCode GuardValues(GyreClosure cl, SurrogateClosure *sc, PetscInt nx, PetscInt ny)
{
  const GyreNormalization *nm  = GyreSurrogateNormalization(sc->s);
  const double             sg  = (double) cl->guard_sigma;
  PetscInt                 per = nx / (ny * sc->nin); /* stencil values per channel */

  PetscFunctionBegin;
  for (PetscInt p = 0; p < ny && !cl->trip; p++) {
    double y = sc->yout[p];
    if (!isfinite(y))
      cl->trip = GYRE_GUARD_NAN;
    else if (fabs(y - nm->out_mean[0]) > sg * nm->out_std[0])
      cl->trip = GYRE_GUARD_OUTPUT;
  }
  for (PetscInt i = 0; i < nx && !cl->trip; i++) {
    PetscInt c = (i / per) % sc->nin;
    if (!(fabs(sc->xin[i] - nm->in_mean[c]) <= sg * nm->in_std[c])) cl->trip = GYRE_GUARD_INPUT;
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* After a step: the reason recorded during it on any rank, else the invariant check of U's
 * input fields (spatial mean square against the training band widened by `band`). Collective. */
static PetscErrorCode GuardCheck(GyreClosure cl, GyreModel model, Vec U, PetscReal band,
                                 PetscInt *reason)
{
  SurrogateClosure        *sc                             = (SurrogateClosure *) cl->ctx;
  const GyreNormalization *nm                             = GyreSurrogateNormalization(sc->s);
  PetscInt                 r                              = cl->trip, dof, n;
  PetscReal                ms[GYRE_DATA_MAX_CHANNELS + 1] = {0};
  const PetscScalar       *u;

  PetscFunctionBegin;
  PetscCall(MPIU_Allreduce(&r, reason, 1, MPIU_INT, MPI_MAX, model->comm));
  if (*reason || !nm->has_band) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(DMDAGetInfo(model->dm, NULL, NULL, NULL, NULL, NULL, NULL, NULL, &dof, NULL, NULL, NULL,
                        NULL, NULL));
  PetscCall(VecGetLocalSize(U, &n));
  PetscCall(VecGetArrayRead(U, &u));
  for (PetscInt i = 0; i < n / dof; i++)
    for (PetscInt c = 0; c < sc->nin; c++) {
      PetscReal v = PetscRealPart(u[i * dof + sc->in_comp[c]]);
      ms[c] += v * v;
    }
  ms[sc->nin] = (PetscReal) (n / dof);
  PetscCall(VecRestoreArrayRead(U, &u));
  PetscCall(MPIU_Allreduce(MPI_IN_PLACE, ms, sc->nin + 1, MPIU_REAL, MPIU_SUM, model->comm));
  for (PetscInt c = 0; c < sc->nin; c++) {
    double m = ms[c] / ms[sc->nin];
    if (!(m >= nm->in_ms_min[c] * (1 - band) && m <= nm->in_ms_max[c] * (1 + band)))
      *reason = GYRE_GUARD_INVARIANT;
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode Apply(GyreClosure cl, GyreModel model, PetscReal t, Vec U, Vec F)
{
  SurrogateClosure  *sc = (SurrogateClosure *) cl->ctx;
  Vec                Ul;
  const PetscScalar *u;
  PetscScalar       *f;
  PetscInt           xs, ys, xm, ym, gxs, gys, gxm, gym, dof;

  PetscFunctionBegin;
  (void) t;
  if (cl->disabled) PetscFunctionReturn(PETSC_SUCCESS); /* the guard's physics fallback */
  if (sc->comp < 0) PetscCall(GyreClosureFindComponent(cl, model, &sc->comp));
  PetscCall(PetscLogEventBegin(GYRE_SURROGATE_EVENT, U, F, 0, 0));
  PetscCall(DMDAGetInfo(model->dm, NULL, NULL, NULL, NULL, NULL, NULL, NULL, &dof, NULL, NULL, NULL,
                        NULL, NULL));
  PetscCall(DMDAGetCorners(model->dm, &xs, &ys, NULL, &xm, &ym, NULL));
  PetscCall(DMDAGetGhostCorners(model->dm, &gxs, &gys, NULL, &gxm, &gym, NULL));
  if (sc->dim == 1) ys = gys = 0, ym = gym = 1;
  PetscInt n = xm * ym, w = 2 * sc->r + 1, S = sc->dim == 2 ? w * w : w;
  if (n > sc->cap) {
    PetscCall(PetscFree2(sc->xin, sc->yout));
    PetscCall(PetscMalloc2(n * sc->nin * S, &sc->xin, n, &sc->yout));
    sc->cap = n;
  }
  PetscCall(DMGetLocalVector(model->dm, &Ul));
  PetscCall(DMGlobalToLocalBegin(model->dm, U, INSERT_VALUES, Ul));
  PetscCall(DMGlobalToLocalEnd(model->dm, U, INSERT_VALUES, Ul));
  PetscCall(VecGetArrayRead(Ul, &u));
  /* inputs: channel-major stencils, offsets row-major from (-r, -r) (gyre_data.h) */
  for (PetscInt j = 0; j < ym; j++)
    for (PetscInt i = 0; i < xm; i++) {
      float *x = sc->xin + (j * xm + i) * sc->nin * S;
      for (PetscInt c = 0; c < sc->nin; c++)
        for (PetscInt k = 0; k < S; k++) {
          PetscInt dx = k % w - sc->r, dy = sc->dim == 2 ? k / w - sc->r : 0;
          PetscInt lx = xs + i + dx - gxs, ly = ys + j + dy - gys;
          x[c * S + k] = (float) PetscRealPart(u[(ly * gxm + lx) * dof + sc->in_comp[c]]);
        }
    }
  PetscCall(VecRestoreArrayRead(Ul, &u));
  PetscCall(DMRestoreLocalVector(model->dm, &Ul));
  PetscCallGyre(PETSC_COMM_SELF,
                GyreSurrogateApplyWorkspace(sc->s, sc->ws, sc->xin, sc->yout, (int) n));
  if (cl->guard_sigma > 0 && !cl->trip) PetscCall(GuardValues(cl, sc, n * sc->nin * S, n));
  PetscCall(VecGetArray(F, &f));
  for (PetscInt p = 0; p < n; p++)
    f[p * dof + sc->comp] += sc->yout[p];
  PetscCall(VecRestoreArray(F, &f));
  PetscCall(PetscLogEventEnd(GYRE_SURROGATE_EVENT, U, F, 0, 0));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode Destroy(GyreClosure cl)
{
  SurrogateClosure *sc = (SurrogateClosure *) cl->ctx;

  PetscFunctionBegin;
  if (!sc) PetscFunctionReturn(PETSC_SUCCESS);
  GyreNetWorkspaceDestroy(&sc->ws);
  GyreSurrogateDestroy(&sc->s);
  GyreBackendDestroy(&sc->be);
  PetscCall(PetscFree2(sc->xin, sc->yout));
  PetscCall(PetscFree(cl->ctx));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The spacing of the model's output dimension `name` (0 when it has no coordinate values). */
static PetscReal DimSpacing(GyreModel model, const char *name)
{
  for (PetscInt d = 0; d < model->ndims; d++)
    if (model->dims[d].name && !strcmp(model->dims[d].name, name) && model->dims[d].values &&
        model->dims[d].len > 1)
      return (PetscReal) (model->dims[d].values[1] - model->dims[d].values[0]);
  return 0;
}

/* Every check of the model file against this run (same outcome on every rank). */
static PetscErrorCode CheckAgainstRun(GyreClosure cl, GyreModel model, SurrogateClosure *sc)
{
  const GyreModelMeta *m    = GyreSurrogateMeta(sc->s);
  const char          *path = sc->path;
  PetscInt             M, N, dim, sw, dof;
  char                 fields[256], *save = NULL;

  PetscFunctionBegin;
  PetscCall(DMDAGetInfo(model->dm, &dim, &M, &N, NULL, NULL, NULL, NULL, &dof, &sw, NULL, NULL,
                        NULL, NULL));
  PetscCheck(!m->mode[0] || !strcmp(m->mode, "closure"), model->comm, PETSC_ERR_ARG_INCOMP,
             "surrogate '%s' was trained as an %s, not a closure (-surrogate_mode %s)", path,
             m->mode, m->mode);
  PetscCheck(m->type == GYRE_NET_MLP && m->per_point, model->comm, PETSC_ERR_SUP,
             "surrogate '%s': a closure from a %s model is not supported yet; closures take a "
             "per-point MLP (gyre train -net mlp -train_per_point 1 [-train_stencil r])",
             path,
             m->type == GYRE_NET_MLP   ? "whole-field MLP"
             : m->type == GYRE_NET_FNO ? "FNO"
                                       : "CNN");
  PetscCheck(m->history == 1, model->comm, PETSC_ERR_ARG_INCOMP,
             "surrogate '%s' takes %d past steps; a closure takes the current state (history 1)",
             path, m->history);
  /* the input fields, by name, among the state's components */
  PetscCall(PetscStrncpy(fields, m->input_fields, sizeof fields));
  sc->nin = 0;
  for (char *tok = strtok_r(fields, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    PetscInt c = -1;
    for (PetscInt k = 0; k < dof && c < 0; k++) {
      const char *name;
      PetscCall(DMDAGetFieldName(model->dm, k, &name));
      if (name && !strcmp(name, tok)) c = k;
    }
    PetscCheck(c >= 0, model->comm, PETSC_ERR_ARG_INCOMP,
               "surrogate '%s' takes input field '%s', which is not a state component of model "
               "%s",
               path, tok, model->name);
    PetscCheck(sc->nin < GYRE_DATA_MAX_CHANNELS, model->comm, PETSC_ERR_ARG_OUTOFRANGE,
               "surrogate '%s': too many input fields", path);
    sc->in_comp[sc->nin++] = c;
  }
  const GyreNormalization *nm = GyreSurrogateNormalization(sc->s);
  PetscCheck(sc->nin == nm->nin && nm->nout == 1 && m->mlp.outputs == 1, model->comm,
             PETSC_ERR_ARG_INCOMP,
             "surrogate '%s' has %d input and %d output channels; a closure of one component "
             "takes the %" PetscInt_FMT " named input fields and gives 1 output",
             path, nm->nin, nm->nout, sc->nin);
  /* the grid */
  PetscInt ny = dim == 2 ? N : 1;
  PetscCheck(dim <= 2 && m->grid_nx == M && m->grid_ny == ny, model->comm, PETSC_ERR_ARG_INCOMP,
             "surrogate '%s' was trained on a %d x %d grid, the run's grid is %" PetscInt_FMT
             " x %" PetscInt_FMT,
             path, m->grid_nx, m->grid_ny, M, ny);
  {
    const char *xname = NULL, *yname = NULL;
    for (PetscInt f = 0; f < model->nfields; f++)
      if (!strcmp(model->fields[f].spec.name, cl->field)) {
        xname = model->fields[f].spec.dims[model->fields[f].spec.ndims - 1];
        if (dim == 2) yname = model->fields[f].spec.dims[model->fields[f].spec.ndims - 2];
      }
    PetscReal dx = xname ? DimSpacing(model, xname) : 0, dy = yname ? DimSpacing(model, yname) : 0;
    PetscCheck(!(dx > 0 && m->dx > 0) || PetscAbsReal(dx - m->dx) <= 1e-9 * PetscAbsReal(dx),
               model->comm, PETSC_ERR_ARG_INCOMP,
               "surrogate '%s' was trained with grid spacing dx = %g, the run has dx = %g", path,
               m->dx, (double) dx);
    PetscCheck(!(dy > 0 && m->dy > 0) || PetscAbsReal(dy - m->dy) <= 1e-9 * PetscAbsReal(dy),
               model->comm, PETSC_ERR_ARG_INCOMP,
               "surrogate '%s' was trained with grid spacing dy = %g, the run has dy = %g", path,
               m->dy, (double) dy);
  }
  sc->dim = dim, sc->r = m->stencil;
  PetscInt S = dim == 2 ? (2 * sc->r + 1) * (2 * sc->r + 1) : 2 * sc->r + 1;
  PetscCheck(m->mlp.inputs == sc->nin * S, model->comm, PETSC_ERR_ARG_INCOMP,
             "surrogate '%s': %d inputs do not match %" PetscInt_FMT
             " fields x stencil %" PetscInt_FMT,
             path, m->mlp.inputs, sc->nin, S);
  PetscCheck(sc->r <= sw, model->comm, PETSC_ERR_SUP,
             "surrogate '%s' needs a stencil of %" PetscInt_FMT
             " neighbours, wider than model %s's halo of %" PetscInt_FMT,
             path, sc->r, model->name, sw);
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode GyreClosureCreate_Surrogate(GyreClosure cl, GyreModel model)
{
  SurrogateClosure *sc;
  char              backend[16] = "cpu";
  PetscInt          threads     = 1;

  PetscFunctionBegin;
  PetscCall(PetscNew(&sc));
  cl->ctx         = sc;
  cl->apply       = Apply;
  cl->destroy     = Destroy;
  cl->guard_check = GuardCheck;
  sc->comp        = -1;
  PetscOptionsBegin(model->comm, NULL, "Surrogate closure (-closure surrogate)", "closure");
  PetscCall(PetscOptionsString("-surrogate", "model file from gyre train", NULL, sc->path, sc->path,
                               sizeof sc->path, NULL));
  PetscCall(PetscOptionsString("-surrogate_backend", "cpu (cuda: issue 6)", NULL, backend, backend,
                               sizeof backend, NULL));
  PetscCall(PetscOptionsInt("-surrogate_threads", "CPU threads per rank for the network", NULL,
                            threads, &threads, NULL));
  PetscOptionsEnd();
  PetscCheck(sc->path[0], model->comm, PETSC_ERR_USER_INPUT,
             "-closure surrogate needs -surrogate FILE (a model file from gyre train)");
  if (!GYRE_SURROGATE_EVENT)
    PetscCall(PetscLogEventRegister("GyreSurrogate", DM_CLASSID, &GYRE_SURROGATE_EVENT));
  PetscCallGyre(model->comm, GyreBackendCreate(backend, (int) threads, &sc->be));
  PetscCallGyre(model->comm, GyreSurrogateLoad(model->comm, sc->path, sc->be, &sc->s));
  if (!cl->field[0]) { /* default: the first input field is the forced one */
    const char *in  = GyreSurrogateMeta(sc->s)->input_fields;
    size_t      len = strcspn(in, ",");
    PetscCall(PetscStrncpy(cl->field, in, PetscMin(len + 1, sizeof cl->field)));
  }
  PetscCall(CheckAgainstRun(cl, model, sc));
  PetscCallGyre(model->comm, GyreNetWorkspaceCreate(GyreSurrogateNet(sc->s), &sc->ws));
  PetscCall(PetscInfo(NULL, "surrogate closure '%s' loaded: %s -> %s, stencil %" PetscInt_FMT "\n",
                      sc->path, GyreSurrogateMeta(sc->s)->input_fields,
                      GyreSurrogateMeta(sc->s)->output_fields, sc->r));
  PetscFunctionReturn(PETSC_SUCCESS);
}
