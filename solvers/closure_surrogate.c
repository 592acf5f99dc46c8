/* closure_surrogate.c — a trained surrogate as a closure (-closure surrogate, or
 * `-surrogate model.nc -surrogate_mode closure`): at every right-hand-side evaluation the
 * network's output, in physical units, is added to the forced component's tendency.
 *
 * Supported: an MLP applied at each grid point (per_point model files from `gyre train
 * -train_per_point 1`, with or without -train_stencil r), its stencil from the DMDA's ghost
 * points; and a CNN (gyre train -net cnn, without zero-mean output) run on each rank's block
 * with a halo as wide as its receptive field, from a DMDA with the model's layout and that
 * stencil width: the interior of the block's output equals the whole-field network's, so the
 * result does not depend on the rank count, and no rank gathers the field. A receptive field
 * wider than a rank's subdomain, an FNO or a whole-field MLP (they need the whole field) are
 * refused for now. -surrogate_scale s multiplies the output (ns2d's subgrid_forcing S enters
 * the coarse tendency as -S: -surrogate_scale -1).
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
  PetscBool         cnn;      /* a CNN on the subdomain with a halo of r (its receptive radius) */
  DM                halo;     /* the model's layout with stencil width r (CNN) */
  PetscReal         scale;    /* F += scale * output (-surrogate_scale) */
  GyreClosure       fallback; /* the guard's analytic fallback (-guard_fallback), or NULL */
} SurrogateClosure;

static PetscLogEvent GYRE_SURROGATE_EVENT = 0;

/* The guard's checks of one evaluation: outputs NaN/Inf or beyond sigma, inputs beyond sigma
 * (in units of the training statistics); the first reason found is kept in cl->trip. */
static PetscErrorCode GuardValues(GyreClosure cl, SurrogateClosure *sc, const float *y, PetscInt nx,
                                  PetscInt ny, PetscInt per)
{
  const GyreNormalization *nm = GyreSurrogateNormalization(sc->s);
  const double             sg = (double) cl->guard_sigma;

  PetscFunctionBegin;
  for (PetscInt p = 0; p < ny && !cl->trip; p++) {
    double v = y[p];
    if (!isfinite(v))
      cl->trip = GYRE_GUARD_NAN;
    else if (fabs(v - nm->out_mean[0]) > sg * nm->out_std[0])
      cl->trip = GYRE_GUARD_OUTPUT;
  }
  for (PetscInt i = 0; i < nx && !cl->trip; i++) {
    PetscInt c = (i / per) % sc->nin; /* channel-major blocks of per values */
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

/* This rank's block of a DMDA: owned corners, ghosted corners, dof (1-D: y extents 1). */
typedef struct {
  PetscInt xs, ys, xm, ym, gxs, gys, gxm, gym, dof;
} Block;

/* U with the ghost points of dm (its layout equals the model's), its array and block; give
 * them back with RestoreGhosted. Collective. */
static PetscErrorCode GetGhosted(DM dm, PetscInt dim, Vec U, Block *b, Vec *Ul,
                                 const PetscScalar **u)
{
  PetscFunctionBegin;
  PetscCall(DMDAGetInfo(dm, NULL, NULL, NULL, NULL, NULL, NULL, NULL, &b->dof, NULL, NULL, NULL,
                        NULL, NULL));
  PetscCall(DMDAGetCorners(dm, &b->xs, &b->ys, NULL, &b->xm, &b->ym, NULL));
  PetscCall(DMDAGetGhostCorners(dm, &b->gxs, &b->gys, NULL, &b->gxm, &b->gym, NULL));
  if (dim == 1) b->ys = b->gys = 0, b->ym = b->gym = 1;
  PetscCall(DMGetLocalVector(dm, Ul));
  PetscCall(DMGlobalToLocalBegin(dm, U, INSERT_VALUES, *Ul));
  PetscCall(DMGlobalToLocalEnd(dm, U, INSERT_VALUES, *Ul));
  PetscCall(VecGetArrayRead(*Ul, u));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode RestoreGhosted(DM dm, Vec *Ul, const PetscScalar **u)
{
  PetscFunctionBegin;
  PetscCall(VecRestoreArrayRead(*Ul, u));
  PetscCall(DMRestoreLocalVector(dm, Ul));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Sizes the host buffers for nx inputs and ny outputs. */
static PetscErrorCode Reserve(SurrogateClosure *sc, PetscInt nx, PetscInt ny)
{
  PetscFunctionBegin;
  if (nx + ny <= sc->cap) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(PetscFree2(sc->xin, sc->yout));
  PetscCall(PetscMalloc2(nx, &sc->xin, ny, &sc->yout));
  sc->cap = nx + ny;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* F += scale x network(U) on this rank's points. A per-point MLP takes each point's stencil
 * from the model's ghost points; a CNN runs on the rank's block with a halo of its receptive
 * radius (periodic ghosts of the halo DMDA) and the interior of its output is kept, which
 * equals the whole-field network's. Collective (ghost exchange). */
static PetscErrorCode Apply(GyreClosure cl, GyreModel model, PetscReal t, Vec U, Vec F)
{
  SurrogateClosure  *sc = (SurrogateClosure *) cl->ctx;
  DM                 dm = sc->cnn ? sc->halo : model->dm;
  Vec                Ul;
  const PetscScalar *u;
  PetscScalar       *f;
  Block              b;

  PetscFunctionBegin;
  (void) t;
  if (cl->disabled) { /* the guard's physics fallback: no closure, or an analytic one */
    if (sc->fallback) PetscCall((*sc->fallback->apply)(sc->fallback, model, t, U, F));
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  if (sc->comp < 0) PetscCall(GyreClosureFindComponent(cl, model, &sc->comp));
  PetscCall(PetscLogEventBegin(GYRE_SURROGATE_EVENT, U, F, 0, 0));
  PetscCall(GetGhosted(dm, sc->dim, U, &b, &Ul, &u));
  PetscInt n = b.xm * b.ym, nb = b.gxm * b.gym, w = 2 * sc->r + 1;
  PetscInt S = sc->cnn ? nb : (sc->dim == 2 ? w * w : w); /* input values per channel */
  PetscCall(Reserve(sc, (sc->cnn ? 1 : n) * sc->nin * S, sc->cnn ? nb + n : n));
  if (sc->cnn) /* the block with its halo, channel-major */
    for (PetscInt c = 0; c < sc->nin; c++)
      for (PetscInt p = 0; p < nb; p++)
        sc->xin[c * nb + p] = (float) PetscRealPart(u[p * b.dof + sc->in_comp[c]]);
  else /* per point: channel-major stencils, offsets row-major from (-r, -r) (gyre_data.h) */
    for (PetscInt j = 0; j < b.ym; j++)
      for (PetscInt i = 0; i < b.xm; i++) {
        float *x = sc->xin + (j * b.xm + i) * sc->nin * S;
        for (PetscInt c = 0; c < sc->nin; c++)
          for (PetscInt k = 0; k < S; k++) {
            PetscInt dx = k % w - sc->r, dy = sc->dim == 2 ? k / w - sc->r : 0;
            PetscInt lx = b.xs + i + dx - b.gxs, ly = b.ys + j + dy - b.gys;
            x[c * S + k] = (float) PetscRealPart(u[(ly * b.gxm + lx) * b.dof + sc->in_comp[c]]);
          }
      }
  PetscCall(RestoreGhosted(dm, &Ul, &u));
  float *y = sc->yout; /* this rank's n outputs */
  if (sc->cnn) {
    PetscCallGyre(PETSC_COMM_SELF, GyreSurrogateApplyBlock(sc->s, sc->ws, sc->xin, sc->yout, 1,
                                                           (int) b.gym, (int) b.gxm));
    y = sc->yout + nb; /* the interior, contiguous */
    for (PetscInt j = 0; j < b.ym; j++)
      for (PetscInt i = 0; i < b.xm; i++)
        y[j * b.xm + i] = sc->yout[(j + b.ys - b.gys) * b.gxm + (i + b.xs - b.gxs)];
  } else
    PetscCallGyre(PETSC_COMM_SELF,
                  GyreSurrogateApplyWorkspace(sc->s, sc->ws, sc->xin, sc->yout, (int) n));
  if (cl->guard_sigma > 0 && !cl->trip)
    PetscCall(GuardValues(cl, sc, y, (sc->cnn ? 1 : n) * sc->nin * S, n, S));
  PetscCall(VecGetArray(F, &f));
  for (PetscInt p = 0; p < n; p++)
    f[p * b.dof + sc->comp] += sc->scale * y[p];
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
  PetscCall(GyreClosureDestroy(&sc->fallback));
  PetscCall(DMDestroy(&sc->halo));
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
  PetscCheck(GyreSurrogateReceptiveRadius(sc->s) >= 0, model->comm, PETSC_ERR_SUP,
             "surrogate '%s': a closure from a %s model is not supported yet; closures take a "
             "per-point MLP (gyre train -net mlp -train_per_point 1 [-train_stencil r]) or a "
             "CNN without zero-mean output, evaluated on each rank's subdomain with a halo",
             path,
             m->type == GYRE_NET_MLP   ? "whole-field MLP"
             : m->type == GYRE_NET_FNO ? "FNO (it needs the whole field)"
                                       : "zero-mean CNN (it needs the whole field)");
  sc->cnn = m->type == GYRE_NET_CNN ? PETSC_TRUE : PETSC_FALSE;
  PetscCheck(!sc->cnn || m->cnn.dim == dim, model->comm, PETSC_ERR_ARG_INCOMP,
             "surrogate '%s' is a %d-D CNN, model %s is %" PetscInt_FMT "-D", path, m->cnn.dim,
             model->name, dim);
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
  PetscCheck(sc->nin == nm->nin && nm->nout == 1 &&
                 (sc->cnn ? m->cnn.out_channels == 1 : m->mlp.outputs == 1),
             model->comm, PETSC_ERR_ARG_INCOMP,
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
  sc->dim = dim, sc->r = GyreSurrogateReceptiveRadius(sc->s);
  if (sc->cnn) PetscFunctionReturn(PETSC_SUCCESS); /* its halo: CreateHalo */
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

/* The CNN's halo: a DMDA with the model's layout (sizes, ownership, dof) and stencil width r. */
static PetscErrorCode CreateHalo(GyreModel model, SurrogateClosure *sc)
{
  PetscInt        dim, M, N, mp, np, dof;
  DMBoundaryType  bx, by;
  const PetscInt *lx, *ly;

  PetscFunctionBegin;
  PetscCall(
      DMDAGetInfo(model->dm, &dim, &M, &N, NULL, &mp, &np, NULL, &dof, NULL, &bx, &by, NULL, NULL));
  PetscCall(DMDAGetOwnershipRanges(model->dm, &lx, &ly, NULL));
  PetscCheck(bx == DM_BOUNDARY_PERIODIC && (dim == 1 || by == DM_BOUNDARY_PERIODIC), model->comm,
             PETSC_ERR_SUP, "surrogate '%s': a CNN closure needs a periodic model grid", sc->path);
  PetscInt narrow = M;
  for (PetscInt i = 0; i < mp; i++)
    narrow = PetscMin(narrow, lx[i]);
  for (PetscInt j = 0; dim == 2 && j < np; j++)
    narrow = PetscMin(narrow, ly[j]);
  PetscCheck(sc->r <= narrow, model->comm, PETSC_ERR_SUP,
             "surrogate '%s': the CNN's receptive field of %" PetscInt_FMT
             " points on each side is wider than the narrowest subdomain (%" PetscInt_FMT
             " points): use fewer ranks",
             sc->path, sc->r, narrow);
  if (dim == 1)
    PetscCall(DMDACreate1d(model->comm, DM_BOUNDARY_PERIODIC, M, dof, sc->r, lx, &sc->halo));
  else
    PetscCall(DMDACreate2d(model->comm, DM_BOUNDARY_PERIODIC, DM_BOUNDARY_PERIODIC,
                           DMDA_STENCIL_BOX, M, N, mp, np, dof, sc->r, lx, ly, &sc->halo));
  PetscCall(DMSetUp(sc->halo));
  PetscCall(PetscInfo(
      NULL, "surrogate '%s': CNN on each rank's subdomain with a halo of %" PetscInt_FMT "\n",
      sc->path, sc->r));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode GyreClosureCreate_Surrogate(GyreClosure cl, GyreModel model)
{
  SurrogateClosure *sc;
  char              backend[16] = "cpu", fallback[32] = "none";
  PetscInt          threads = 1;

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
  sc->scale = 1;
  PetscCall(PetscOptionsReal("-surrogate_scale", "F += scale x output (ns2d's S enters as -S)",
                             NULL, sc->scale, &sc->scale, NULL));
  PetscCall(PetscOptionsString("-guard_fallback",
                               "the guard's fallback: none or polynomial "
                               "(with -closure_coeffs)",
                               NULL, fallback, fallback, sizeof fallback, NULL));
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
  PetscCheck(!strcmp(fallback, "none") || !strcmp(fallback, "polynomial"), model->comm,
             PETSC_ERR_ARG_OUTOFRANGE, "-guard_fallback %s: expected none or polynomial", fallback);
  if (!strcmp(fallback, "polynomial")) { /* the same forced field, -closure_coeffs */
    PetscCall(PetscNew(&sc->fallback));
    PetscCall(PetscStrncpy(sc->fallback->name, "polynomial", sizeof sc->fallback->name));
    PetscCall(PetscStrncpy(sc->fallback->field, cl->field, sizeof sc->fallback->field));
    PetscCall(GyreClosureCreate_Polynomial(sc->fallback, model));
  }
  if (sc->cnn) PetscCall(CreateHalo(model, sc));
  PetscCallGyre(model->comm, GyreNetWorkspaceCreate(GyreSurrogateNet(sc->s), &sc->ws));
  PetscCall(PetscInfo(NULL, "surrogate closure '%s' loaded: %s -> %s, stencil %" PetscInt_FMT "\n",
                      sc->path, GyreSurrogateMeta(sc->s)->input_fields,
                      GyreSurrogateMeta(sc->s)->output_fields, sc->r));
  PetscFunctionReturn(PETSC_SUCCESS);
}
