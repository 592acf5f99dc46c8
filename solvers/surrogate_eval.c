/* surrogate_eval.c — a trained surrogate evaluated on a model's distributed fields (see
 * gyre_surrogate.h): the load, the checks shared by closures and emulators (fields by name,
 * grid size and spacing), the three ways of evaluating (per point, per block with a halo, the
 * whole field gathered on rank 0) and the guard's value and invariant checks.
 *
 * Whole-field networks are gathered on ONE rank (rank 0): the fields these runs use (up to a
 * few hundred points on a side) fit one rank's memory many times over, and one gather is the
 * least communication; a larger run would split the batch of members over ranks. */
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <string.h>
#include "gyre_surrogate.h"
#include "gyre_petsc.h"

static PetscLogEvent GYRE_SURROGATE_EVENT = 0;

PetscErrorCode GyreSurrogateEvalCreate(GyreModel model, const char *path, GyreSurrogateEval *pev)
{
  GyreSurrogateEval ev;
  char              backend[16] = "cpu", precision[16] = "fp32";
  PetscInt          threads  = 1;
  PetscBool         trim_set = PETSC_FALSE;

  PetscFunctionBegin;
  PetscCall(PetscNew(&ev));
  *pev = ev;
  PetscCall(PetscStrncpy(ev->path, path, sizeof ev->path));
  PetscOptionsBegin(model->comm, NULL, "Surrogate (-surrogate FILE)", "surrogate");
  PetscCall(PetscOptionsString("-surrogate_backend", "cpu or cuda (one GPU per rank)", NULL,
                               backend, backend, sizeof backend, NULL));
  PetscCall(PetscOptionsString("-surrogate_precision", "GEMM arithmetic: fp32, tf32, bf16", NULL,
                               precision, precision, sizeof precision, NULL));
  PetscCall(PetscOptionsInt("-surrogate_threads", "CPU threads per rank for the network", NULL,
                            threads, &threads, NULL));
  PetscCall(PetscOptionsBool("-surrogate_trim_halo",
                             "a CNN block gets no halo in a dimension its rank owns whole (the "
                             "circular padding wraps it): fewer points, the same output up to "
                             "float rounding (default: on where bitwise the same, every layer "
                             "a circular convolution computed alike in any block, a batch norm "
                             "or an activation; else off)",
                             NULL, ev->trim_halo, &ev->trim_halo, &trim_set));
  PetscOptionsEnd();
  PetscCheck(threads >= 0 && threads <= 1024, model->comm, PETSC_ERR_ARG_OUTOFRANGE,
             "-surrogate_threads %" PetscInt_FMT ": expected 0 (OMP_NUM_THREADS) to 1024", threads);
  if (!GYRE_SURROGATE_EVENT)
    PetscCall(PetscLogEventRegister("GyreSurrogate", DM_CLASSID, &GYRE_SURROGATE_EVENT));
  PetscCallGyre(model->comm, GyreBackendCreate(backend, (int) threads, &ev->be));
  PetscCallGyre(model->comm, GyreBackendSetPrecision(ev->be, precision));
  PetscCallGyre(model->comm, GyreSurrogateLoad(model->comm, ev->path, ev->be, &ev->s));
  { /* the file's hash, for checkpoints (rank 0's, as the provenance's) */
    PetscMPIInt rank;
    GyreStatus  st = GYRE_OK;
    PetscCallMPI(MPI_Comm_rank(model->comm, &rank));
    if (rank == 0) st = GyreHashFile(ev->path, ev->sha256);
    PetscCallGyre(model->comm, GyreStatusAgree(model->comm, st));
    PetscCallMPI(MPI_Bcast(ev->sha256, sizeof ev->sha256, MPI_CHAR, 0, model->comm));
  }
  /* the CPU's bf16 runs a CNN's convolutions (AMX or AVX-512 BF16) and nothing else: said, or
   * refused */
  if (!strcmp(backend, "cpu") && !strcmp(precision, "bf16")) {
    PetscCheck(GyreNetConvChain(GyreSurrogateNet(ev->s)) > 0, model->comm, PETSC_ERR_ARG_WRONG,
               "-surrogate_precision bf16 with the cpu backend: surrogate '%s' is not a CNN of "
               "convolutions, activations and batch norms (the cpu backend's bf16 runs only "
               "those, on AMX or AVX-512 BF16): use fp32, or -surrogate_backend cuda",
               path);
    PetscCall(PetscPrintf(model->comm,
                          "surrogate: the CNN runs in bf16 on %s (products of bf16 values summed "
                          "in fp32)\n",
                          GyreCPUBF16Unit()));
  }
  ev->r = GyreSurrogateReceptiveRadius(ev->s);
  if (!trim_set)
    ev->trim_halo = GyreNetBlockExact(GyreSurrogateNet(ev->s)) ? PETSC_TRUE : PETSC_FALSE;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode GyreSurrogateEvalDestroy(GyreSurrogateEval *pev)
{
  GyreSurrogateEval ev = *pev;

  PetscFunctionBegin;
  if (!ev) PetscFunctionReturn(PETSC_SUCCESS);
  GyreNetWorkspaceDestroy(&ev->ws);
  GyreSurrogateDestroy(&ev->s);
  GyreBackendDestroy(&ev->be);
  PetscCall(VecDestroy(&ev->in));
  PetscCall(VecDestroy(&ev->out));
  PetscCall(VecDestroy(&ev->nat_in));
  PetscCall(VecDestroy(&ev->nat_out));
  PetscCall(VecDestroy(&ev->seq_in));
  PetscCall(VecDestroy(&ev->seq_out));
  PetscCall(VecScatterDestroy(&ev->to_zero_in));
  PetscCall(VecScatterDestroy(&ev->to_zero_out));
  PetscCall(DMDestroy(&ev->in_dm));
  PetscCall(DMDestroy(&ev->out_dm));
  PetscCall(PetscFree3(ev->xin, ev->yout, ev->y));
  PetscCall(PetscFree(ev->last));
  PetscCall(PetscFree(ev->gidx));
  PetscCall(PetscFree(ev->sidx));
  PetscCall(PetscFree3(ev->pidx, ev->voff, ev->pad));
  PetscCall(PetscFree(*pev));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode GyreSurrogateEvalFindFields(GyreSurrogateEval ev, GyreModel model, const char *list,
                                           const char *what, PetscInt max, PetscInt *n,
                                           PetscInt comp[])
{
  char     fields[256], *save = NULL;
  PetscInt dof;

  PetscFunctionBegin;
  PetscCall(DMDAGetInfo(model->dm, NULL, NULL, NULL, NULL, NULL, NULL, NULL, &dof, NULL, NULL, NULL,
                        NULL, NULL));
  PetscCall(PetscStrncpy(fields, list, sizeof fields));
  *n = 0;
  for (char *tok = strtok_r(fields, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    PetscInt c = -1;
    for (PetscInt k = 0; k < dof && c < 0; k++) {
      const char *name;
      PetscCall(DMDAGetFieldName(model->dm, k, &name));
      if (name && !strcmp(name, tok)) c = k;
    }
    PetscCheck(c >= 0, model->comm, PETSC_ERR_ARG_INCOMP,
               "surrogate '%s' takes %s field '%s', which is not a state component of model %s",
               ev->path, what, tok, model->name);
    PetscCheck(*n < max, model->comm, PETSC_ERR_ARG_OUTOFRANGE,
               "surrogate '%s': too many %s fields", ev->path, what);
    comp[(*n)++] = c;
  }
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

PetscErrorCode GyreSurrogateEvalCheckGrid(GyreSurrogateEval ev, GyreModel model, const char *field)
{
  const GyreModelMeta *m = GyreSurrogateMeta(ev->s);
  PetscInt             dim, M, N;
  const char          *xname = NULL, *yname = NULL;

  PetscFunctionBegin;
  PetscCall(DMDAGetInfo(model->dm, &dim, &M, &N, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
                        NULL, NULL));
  PetscInt ny = dim == 2 ? N : 1;
  PetscCheck(dim <= 2 && m->grid_nx == M && m->grid_ny == ny, model->comm, PETSC_ERR_ARG_INCOMP,
             "surrogate '%s' was trained on a %d x %d grid, the run's grid is %" PetscInt_FMT
             " x %" PetscInt_FMT,
             ev->path, m->grid_nx, m->grid_ny, M, ny);
  for (PetscInt f = 0; f < model->nfields; f++)
    if (!strcmp(model->fields[f].spec.name, field)) {
      xname = model->fields[f].spec.dims[model->fields[f].spec.ndims - 1];
      if (dim == 2) yname = model->fields[f].spec.dims[model->fields[f].spec.ndims - 2];
    }
  PetscReal dx = xname ? DimSpacing(model, xname) : 0, dy = yname ? DimSpacing(model, yname) : 0;
  PetscCheck(!(dx > 0 && m->dx > 0) || PetscAbsReal(dx - m->dx) <= 1e-9 * PetscAbsReal(dx),
             model->comm, PETSC_ERR_ARG_INCOMP,
             "surrogate '%s' was trained with grid spacing dx = %g, the run has dx = %g", ev->path,
             m->dx, (double) dx);
  PetscCheck(!(dy > 0 && m->dy > 0) || PetscAbsReal(dy - m->dy) <= 1e-9 * PetscAbsReal(dy),
             model->comm, PETSC_ERR_ARG_INCOMP,
             "surrogate '%s' was trained with grid spacing dy = %g, the run has dy = %g", ev->path,
             m->dy, (double) dy);
  ev->dim = dim;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* A DMDA with the model's layout (sizes, ownership) with dof components and stencil width w. */
static PetscErrorCode CreateLayout(GyreModel model, GyreSurrogateEval ev, PetscInt dof, PetscInt w,
                                   DM *dm)
{
  PetscInt        dim, M, N, mp, np;
  DMBoundaryType  bx, by;
  const PetscInt *lx, *ly;

  PetscFunctionBegin;
  PetscCall(
      DMDAGetInfo(model->dm, &dim, &M, &N, NULL, &mp, &np, NULL, NULL, NULL, &bx, &by, NULL, NULL));
  PetscCall(DMDAGetOwnershipRanges(model->dm, &lx, &ly, NULL));
  if (w > 0) { /* a halo: periodic, and no wider than any rank's subdomain */
    PetscCheck(bx == DM_BOUNDARY_PERIODIC && (dim == 1 || by == DM_BOUNDARY_PERIODIC), model->comm,
               PETSC_ERR_SUP, "surrogate '%s': a halo needs a periodic model grid", ev->path);
    PetscInt narrow = M;
    for (PetscInt i = 0; i < mp; i++)
      narrow = PetscMin(narrow, lx[i]);
    for (PetscInt j = 0; dim == 2 && j < np; j++)
      narrow = PetscMin(narrow, ly[j]);
    PetscCheck(w <= narrow, model->comm, PETSC_ERR_SUP,
               "surrogate '%s': the network's receptive field of %" PetscInt_FMT
               " points on each side is wider than the narrowest subdomain (%" PetscInt_FMT
               " points): use fewer ranks",
               ev->path, w, narrow);
  }
  if (dim == 1)
    PetscCall(DMDACreate1d(model->comm, bx, M, dof, w, lx, dm));
  else
    PetscCall(
        DMDACreate2d(model->comm, bx, by, DMDA_STENCIL_BOX, M, N, mp, np, dof, w, lx, ly, dm));
  PetscCall(DMSetUp(*dm));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static inline PetscInt Wrap(PetscInt v, PetscInt n)
{
  return v < 0 ? v + n : v >= n ? v - n : v;
}

PetscErrorCode GyreSurrogateEvalSetUp(GyreSurrogateEval ev, GyreModel model, PetscInt cin,
                                      PetscInt cout)
{
  const GyreModelMeta *m = GyreSurrogateMeta(ev->s);
  PetscInt             dim, M, N, xm, ym, nx, ny;

  PetscFunctionBegin;
  PetscCall(DMDAGetInfo(model->dm, &dim, &M, &N, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
                        NULL, NULL));
  ev->dim = dim, ev->cin = cin, ev->cout = cout;
  ev->kind = ev->r < 0                 ? GYRE_EVAL_WHOLE
             : m->type == GYRE_NET_CNN ? GYRE_EVAL_BLOCK
                                       : GYRE_EVAL_POINTS;
  PetscCheck(m->type != GYRE_NET_CNN || m->cnn.dim == dim, model->comm, PETSC_ERR_ARG_INCOMP,
             "surrogate '%s' is a %d-D CNN, model %s is %" PetscInt_FMT "-D", ev->path, m->cnn.dim,
             model->name, dim);
  PetscCheck(m->type != GYRE_NET_FNO || m->fno.dim == dim, model->comm, PETSC_ERR_ARG_INCOMP,
             "surrogate '%s' is a %d-D FNO, model %s is %" PetscInt_FMT "-D", ev->path, m->fno.dim,
             model->name, dim);
  if (ev->kind == GYRE_EVAL_POINTS) {
    PetscInt S = dim == 2 ? (2 * ev->r + 1) * (2 * ev->r + 1) : 2 * ev->r + 1;
    PetscCheck(m->mlp.inputs == cin * S, model->comm, PETSC_ERR_ARG_INCOMP,
               "surrogate '%s': %d inputs do not match %" PetscInt_FMT
               " fields x stencil %" PetscInt_FMT,
               ev->path, m->mlp.inputs, cin, S);
  }
  PetscCall(CreateLayout(model, ev, cin, ev->kind == GYRE_EVAL_WHOLE ? 0 : ev->r, &ev->in_dm));
  PetscCall(DMCreateGlobalVector(ev->in_dm, &ev->in));
  PetscCall(DMDAGetCorners(ev->in_dm, &ev->xs, &ev->ys, NULL, &ev->xm, &ev->ym, NULL));
  PetscCall(DMDAGetGhostCorners(ev->in_dm, &ev->gxs, &ev->gys, NULL, &ev->gxm, &ev->gym, NULL));
  if (dim == 1) ev->ys = ev->gys = 0, ev->ym = ev->gym = 1;
  xm = ev->xm, ym = ev->ym, nx = ev->gxm, ny = ev->gym;
  PetscInt n = xm * ym, nb = nx * ny, P = M * (dim == 2 ? N : 1);
  PetscInt S = ev->kind == GYRE_EVAL_POINTS
                   ? (dim == 2 ? (2 * ev->r + 1) * (2 * ev->r + 1) : 2 * ev->r + 1)
                   : 1;
  /* host buffers: the network's input and output, and this rank's channel-major output */
  PetscInt nxin  = ev->kind == GYRE_EVAL_POINTS  ? n * cin * S
                   : ev->kind == GYRE_EVAL_BLOCK ? nb * cin
                                                 : P * cin;
  PetscInt nyout = ev->kind == GYRE_EVAL_POINTS  ? n * cout
                   : ev->kind == GYRE_EVAL_BLOCK ? nb * cout
                                                 : P * cout;
  PetscCall(PetscMalloc3(nxin, &ev->xin, nyout, &ev->yout, n * cout, &ev->y));
  ev->nlast = ev->kind == GYRE_EVAL_POINTS ? 0 : n * cin; /* (a per-point network: no reuse) */
  if (ev->nlast) PetscCall(PetscMalloc1(ev->nlast, &ev->last));
  PetscCallMPI(MPI_Comm_size(model->comm, &ev->size));
  if (ev->kind != GYRE_EVAL_WHOLE) { /* the block: a halo only where this rank is not whole */
    PetscInt xs = ev->xs, ys = ev->ys, gxs = ev->gxs, gys = ev->gys;
    if (dim == 1) N = 1;
    PetscBool trim = ev->trim_halo, wx = xm == M, wy = ym == N;
    ev->whole = wx && wy ? PETSC_TRUE : PETSC_FALSE;
    ev->bxs = trim && wx ? xs : gxs, ev->bxm = trim && wx ? xm : nx;
    ev->bys = trim && wy ? ys : gys, ev->bym = trim && wy ? ym : ny;
  }
  if (ev->kind == GYRE_EVAL_POINTS) { /* the stencils' offsets in u (ApplyLocal) */
    PetscInt xs = ev->xs, ys = ev->ys, gxs = ev->gxs, gys = ev->gys, gxm = ev->gxm;
    PetscInt w = 2 * ev->r + 1, Mx = xm, Ny = ym;
    if (ev->whole) gxs = xs, gys = ys, gxm = xm; /* u: this rank's points, the whole grid */
    PetscCall(PetscMalloc1(nxin, &ev->gidx));
    /* channel-major stencils, offsets row-major from (-r, -r) (gyre_data.h) */
    for (PetscInt j = 0; j < ym; j++)
      for (PetscInt i = 0; i < xm; i++)
        for (PetscInt k = 0; k < S; k++) {
          PetscInt dx = k % w - ev->r, dy = dim == 2 ? k / w - ev->r : 0;
          PetscInt lx = xs + i + dx - gxs, ly = ys + j + dy - gys;
          if (ev->whole) lx = Wrap(lx, Mx), ly = dim == 2 ? Wrap(ly, Ny) : 0;
          for (PetscInt c = 0; c < cin; c++)
            ev->gidx[(j * xm + i) * cin * S + c * S + k] = (ly * gxm + lx) * cin + c;
        }
  }
  if (ev->kind == GYRE_EVAL_WHOLE) {
    PetscMPIInt size;
    PetscCall(CreateLayout(model, ev, cout, 0, &ev->out_dm));
    PetscCall(DMCreateGlobalVector(ev->out_dm, &ev->out));
    PetscCall(DMDACreateNaturalVector(ev->in_dm, &ev->nat_in));
    PetscCall(DMDACreateNaturalVector(ev->out_dm, &ev->nat_out));
    PetscCall(VecScatterCreateToZero(ev->nat_in, &ev->to_zero_in, &ev->seq_in));
    PetscCall(VecScatterCreateToZero(ev->nat_out, &ev->to_zero_out, &ev->seq_out));
    PetscCallMPI(MPI_Comm_size(model->comm, &size));
    PetscCall(PetscPrintf(model->comm,
                          "surrogate: %s needs the whole field: gathered on 1 rank (of %d); the "
                          "solver state stays distributed\n",
                          m->type == GYRE_NET_FNO   ? "FNO"
                          : m->type == GYRE_NET_MLP ? "a whole-field MLP"
                                                    : "a zero-mean CNN",
                          size));
  } else
    PetscCall(PetscInfo(
        NULL, "surrogate '%s': %s on each rank's points with a halo of %" PetscInt_FMT "%s\n",
        ev->path, ev->kind == GYRE_EVAL_BLOCK ? "CNN" : "per-point MLP", ev->r,
        ev->kind == GYRE_EVAL_BLOCK && ev->trim_halo
            ? " (none in a dimension the rank owns whole: -surrogate_trim_halo)"
            : ""));
  PetscCallGyre(model->comm, GyreNetWorkspaceCreate(GyreSurrogateNet(ev->s), &ev->ws));
  if (ev->kind == GYRE_EVAL_POINTS)
    PetscCallGyre(model->comm, GyreSurrogateHostCallInit(ev->s, ev->ws, &ev->direct));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode GyreSurrogateEvalGetInput(GyreSurrogateEval ev, PetscScalar **x)
{
  PetscFunctionBegin;
  PetscCall(VecGetArray(ev->in, x));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode GyreSurrogateEvalRestoreInput(GyreSurrogateEval ev, PetscScalar **x)
{
  PetscFunctionBegin;
  PetscCall(VecRestoreArray(ev->in, x));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Floats in order as unsigned integers (-Inf first, +Inf last; NaN never asked), and back */
static uint32_t FloatKey(float x)
{
  uint32_t u;
  memcpy(&u, &x, sizeof u);
  return u & 0x80000000u ? ~u : u | 0x80000000u;
}

static float KeyFloat(uint32_t k)
{
  const uint32_t u = k & 0x80000000u ? k & 0x7fffffffu : ~k;
  float          x;
  memcpy(&x, &u, sizeof x);
  return x;
}

/* The floats x with mean - bound <= x <= mean + bound in double arithmetic (the guard's test:
 * |x - mean| <= bound, mean and bound finite, as a model file's are): x - mean rounds
 * monotonically in x, so each side is one threshold, found by bisection over the floats in
 * order (32 steps; ulp steps from the nearest float took ~6e8 where a threshold is near 0).
 * Exactly [*lo, *hi]; empty when *lo > *hi. */
static void FloatRange(double mean, double bound, float *lo, float *hi)
{
  uint32_t a = FloatKey(-INFINITY), z = FloatKey(INFINITY);
  /* hi: the last float with x - mean <= bound (-Inf always is) */
  while (a < z) {
    const uint32_t m = a + (z - a + 1) / 2;
    if ((double) KeyFloat(m) - mean <= bound)
      a = m;
    else
      z = m - 1;
  }
  *hi = KeyFloat(a);
  /* lo: the first float with x - mean >= -bound (+Inf always is) */
  a = FloatKey(-INFINITY), z = FloatKey(INFINITY);
  while (a < z) {
    const uint32_t m = a + (z - a) / 2;
    if ((double) KeyFloat(m) - mean >= -bound)
      z = m;
    else
      a = m + 1;
  }
  *lo = KeyFloat(a);
}

/* Whether any of v[0..n) is outside [lo, hi] (a NaN is) and, in *nonfinite, whether any is NaN
 * or Inf (x - x is 0 for a finite x only). In floats, no branch a value: vectorised (a test
 * and branch a value, and the comparisons in double, were most of the guard's cost on l96's
 * small calls). */
static int Outside(const float *restrict v, PetscInt n, float lo, float hi, int *nonfinite)
{
  int out = 0, bad = 0;
  for (PetscInt i = 0; i < n; i++) {
    const float x = v[i];
    out |= !((x >= lo) & (x <= hi));
    bad |= !(x - x == 0);
  }
  *nonfinite |= bad;
  return out;
}

void GyreSurrogateEvalSetSigma(GyreSurrogateEval ev, PetscReal sigma)
{
  const GyreNormalization *nm = GyreSurrogateNormalization(ev->s);
  const double             sg = (double) sigma;
  for (PetscInt c = 0; c < ev->cin; c++)
    FloatRange(nm->in_mean[c], sg * nm->in_std[c], &ev->in_lo[c], &ev->in_hi[c]);
  for (PetscInt c = 0; c < ev->cout; c++)
    FloatRange(nm->out_mean[c], sg * nm->out_std[c], &ev->out_lo[c], &ev->out_hi[c]);
  ev->sigma = sigma;
}

/* The guard's checks of one evaluation: nx network inputs (channel-major blocks of per_in
 * values, channel (i / per_in) % cin; with ev->g_pad instead ApplyState's padded copy, channel
 * c's values in [vseg[c], vseg[c + 1]): the same values, so the same outcome) and ny outputs
 * (blocks of per_out values), each value against its channel's training mean +- sigma standard
 * deviations (as floats: the ranges GyreSurrogateEvalSetSigma set); the most severe reason found is
 * kept in ev->trip: NaN/Inf output, then output, then input out of range (a NaN input is out of
 * range). */
static void GuardValues(GyreSurrogateEval ev, PetscInt nx, PetscInt per_in, const float *y,
                        PetscInt ny, PetscInt per_out)
{
  int nan = 0, out = 0, in = 0, unused = 0;

  if (ev->cout == 1) per_out = ny; /* one channel: one block (a per-point network's are short) */
  if (ev->cin == 1) per_in = nx;
  /* block by block: one channel each, no index division a value */
  for (PetscInt b = 0; b * per_out < ny; b++) {
    const PetscInt c = b % ev->cout, end = PetscMin(ny, (b + 1) * per_out);
    out |= Outside(y + b * per_out, end - b * per_out, ev->out_lo[c], ev->out_hi[c], &nan);
  }
  if (ev->g_pad) /* the padded copy (ApplyState's view): the same values, each once or more */
    for (PetscInt c = 0; c < ev->cin; c++)
      in |= Outside(ev->pad + ev->vseg[c], ev->vseg[c + 1] - ev->vseg[c], ev->in_lo[c],
                    ev->in_hi[c], &unused);
  else
    for (PetscInt b = 0; b * per_in < nx; b++) {
      const PetscInt c = b % ev->cin, end = PetscMin(nx, (b + 1) * per_in);
      in |= Outside(ev->xin + b * per_in, end - b * per_in, ev->in_lo[c], ev->in_hi[c], &unused);
    }
  ev->trip = nan ? GYRE_GUARD_NAN : out ? GYRE_GUARD_OUTPUT : in ? GYRE_GUARD_INPUT : ev->trip;
}

/* The per-point network on the n points packed in ev->xin (xoff NULL), or read through the view
 * xoff of x (ApplyState's padded copy: only with the resolved call), its outputs to ev->y
 * (channel-major: one output channel's layout is the network's (point, channel) already) */
static PetscErrorCode ApplyPoints(GyreSurrogateEval ev, PetscInt n, const float *x, const int *xoff)
{
  float *out = ev->cout == 1 ? ev->y : ev->yout;

  PetscFunctionBegin;
  if (ev->direct.fn) /* (GyreSurrogateHostCallInit: the same values) */
    PetscCallGyre(PETSC_COMM_SELF, GyreNetHostRunView(&ev->direct, (size_t) n, x, xoff, out));
  else
    PetscCallGyre(PETSC_COMM_SELF,
                  GyreSurrogateApplyWorkspace(ev->s, ev->ws, ev->xin, out, (int) n));
  for (PetscInt c = 0; ev->cout > 1 && c < ev->cout; c++)
    for (PetscInt p = 0; p < n; p++)
      ev->y[c * n + p] = ev->yout[p * ev->cout + c];
  PetscFunctionReturn(PETSC_SUCCESS);
}

#if defined(__GNUC__) && defined(__x86_64__) && !defined(PETSC_USE_COMPLEX) &&                     \
    defined(PETSC_USE_REAL_DOUBLE)
#include <immintrin.h>
#define GYRE_EVAL_AVX2 1
__attribute__((target("avx2"))) static void ToFloatAVX2(const double *u, float *x, size_t n)
{
  size_t k = 0;
  for (; k + 4 <= n; k += 4)
    _mm_storeu_ps(x + k, _mm256_cvtpd_ps(_mm256_loadu_pd(u + k)));
  for (; k < n; k++)
    x[k] = (float) u[k];
}
__attribute__((target("avx2"))) static void AddScaledAVX2(double *f, const float *y, double s,
                                                          size_t n)
{
  const __m256d vs = _mm256_set1_pd(s);
  size_t        k  = 0;
  for (; k + 4 <= n; k += 4) /* (a product, then a sum: no contraction, as the plain loop) */
    _mm256_storeu_pd(f + k, _mm256_add_pd(_mm256_loadu_pd(f + k),
                                          _mm256_mul_pd(vs, _mm256_cvtps_pd(_mm_loadu_ps(y + k)))));
  for (; k < n; k++)
    f[k] += s * y[k];
}
#else
#define GYRE_EVAL_AVX2 0
#endif

void GyreSurrogateToFloat(const PetscScalar *u, float *x, PetscInt n)
{
#if GYRE_EVAL_AVX2
  if (GyreCPUHasAVX2FMA()) {
    ToFloatAVX2(u, x, (size_t) n);
    return;
  }
#endif
  for (PetscInt k = 0; k < n; k++)
    x[k] = (float) PetscRealPart(u[k]);
}

void GyreSurrogateAddScaled(PetscScalar *f, const float *y, PetscReal scale, PetscInt n)
{
#if GYRE_EVAL_AVX2
  if (GyreCPUHasAVX2FMA()) {
    AddScaledAVX2(f, y, scale, (size_t) n);
    return;
  }
#endif
  for (PetscInt k = 0; k < n; k++)
    f[k] += scale * y[k];
}

/* POINTS and BLOCK: the packed input (ev->in; src, where not NULL on a rank that owns the whole
 * grid: that array instead) with its ghost points, evaluated on this rank. A rank that owns the
 * whole grid reads its own points (periodic wrap) without a ghost exchange. */
static PetscErrorCode ApplyLocal(GyreSurrogateEval ev, const PetscScalar *src)
{
  PetscInt xs = ev->xs, ys = ev->ys, xm = ev->xm, ym = ev->ym, gxs = ev->gxs, gys = ev->gys;
  PetscInt gxm = ev->gxm, M, N, C = ev->cin, r = ev->r;
  Vec      Ul = NULL;
  const PetscScalar *u;

  PetscFunctionBegin;
  if (ev->whole) { /* u: this rank's points, the whole grid: (global) row length M */
    M = xm, N = ym, gxs = xs, gys = ys, gxm = xm;
    if (src)
      u = src;
    else
      PetscCall(VecGetArrayRead(ev->in, &u));
  } else { /* u: the ghosted local block, row length gxm */
    M = N = 0;
    PetscCall(DMGetLocalVector(ev->in_dm, &Ul));
    PetscCall(DMGlobalToLocalBegin(ev->in_dm, ev->in, INSERT_VALUES, Ul));
    PetscCall(DMGlobalToLocalEnd(ev->in_dm, ev->in, INSERT_VALUES, Ul));
    PetscCall(VecGetArrayRead(Ul, &u));
  }
  PetscInt n = xm * ym, nb = ev->bxm * ev->bym, w = 2 * r + 1, S = ev->dim == 2 ? w * w : w;
  /* the block is the rank's points themselves (a trimmed halo): read and written in place */
  const PetscBool inside = ev->bxs == xs && ev->bxm == xm && ev->bys == ys && ev->bym == ym;
  if (ev->kind == GYRE_EVAL_BLOCK && ev->whole && inside && C == 1) /* one channel: a copy */
    GyreSurrogateToFloat(u, ev->xin, n);
  else if (ev->kind == GYRE_EVAL_BLOCK && ev->whole && inside) /* channel-major, no wrap */
    for (PetscInt c = 0; c < C; c++)
      for (PetscInt p = 0; p < n; p++)
        ev->xin[c * n + p] = (float) PetscRealPart(u[p * C + c]);
  else if (ev->kind == GYRE_EVAL_BLOCK && ev->whole) /* the block, wrapped, channel-major */
    for (PetscInt c = 0; c < C; c++)
      for (PetscInt j = 0; j < ev->bym; j++) {
        const PetscScalar *row = u + (ev->dim == 2 ? Wrap(ev->bys + j, N) : 0) * M * C + c;
        float             *x   = ev->xin + c * nb + j * ev->bxm;
        for (PetscInt i = 0; i < ev->bxm; i++)
          x[i] = (float) PetscRealPart(row[Wrap(ev->bxs + i, M) * C]);
      }
  else if (ev->kind == GYRE_EVAL_BLOCK) /* the block from the ghosted one, channel-major */
    for (PetscInt c = 0; c < C; c++)
      for (PetscInt j = 0; j < ev->bym; j++) {
        const PetscScalar *row = u + ((ev->bys + j - gys) * gxm + (ev->bxs - gxs)) * C + c;
        float             *x   = ev->xin + c * nb + j * ev->bxm;
        for (PetscInt i = 0; i < ev->bxm; i++)
          x[i] = (float) PetscRealPart(row[i * C]);
      }
  else /* per point: the stencils by their offsets (set up once) */
    for (PetscInt i = 0, m = n * C * S; i < m; i++)
      ev->xin[i] = (float) PetscRealPart(u[ev->gidx[i]]);
  if (ev->whole && !src)
    PetscCall(VecRestoreArrayRead(ev->in, &u));
  else if (!ev->whole) {
    PetscCall(VecRestoreArrayRead(Ul, &u));
    PetscCall(DMRestoreLocalVector(ev->in_dm, &Ul));
  }
  if (ev->kind == GYRE_EVAL_BLOCK && inside) /* the output is the interior */
    PetscCallGyre(PETSC_COMM_SELF, GyreSurrogateApplyBlock(ev->s, ev->ws, ev->xin, ev->y, 1,
                                                           (int) ev->bym, (int) ev->bxm));
  else if (ev->kind == GYRE_EVAL_BLOCK) {
    PetscCallGyre(PETSC_COMM_SELF, GyreSurrogateApplyBlock(ev->s, ev->ws, ev->xin, ev->yout, 1,
                                                           (int) ev->bym, (int) ev->bxm));
    for (PetscInt c = 0; c < ev->cout; c++) /* the interior */
      for (PetscInt j = 0; j < ym; j++)
        PetscCall(PetscArraycpy(ev->y + c * n + j * xm,
                                ev->yout + c * nb + (j + ys - ev->bys) * ev->bxm + (xs - ev->bxs),
                                xm));
  } else {
    PetscCall(ApplyPoints(ev, n, ev->xin, NULL));
  }
  ev->g_pad     = PETSC_FALSE;
  ev->g_nx      = ev->kind == GYRE_EVAL_BLOCK ? nb * C : n * C * S;
  ev->g_per_in  = ev->kind == GYRE_EVAL_BLOCK ? nb : S;
  ev->g_y       = ev->y;
  ev->g_ny      = n * ev->cout;
  ev->g_per_out = n;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* WHOLE: gather the packed input on rank 0 (natural ordering), evaluate there, scatter the
 * output back to the owners. */
static PetscErrorCode ApplyWhole(GyreSurrogateEval ev)
{
  PetscInt           P, n, C = ev->cin, K = ev->cout;
  const PetscScalar *g;
  PetscScalar       *o;

  PetscFunctionBegin;
  PetscCall(DMDAGlobalToNaturalBegin(ev->in_dm, ev->in, INSERT_VALUES, ev->nat_in));
  PetscCall(DMDAGlobalToNaturalEnd(ev->in_dm, ev->in, INSERT_VALUES, ev->nat_in));
  PetscCall(
      VecScatterBegin(ev->to_zero_in, ev->nat_in, ev->seq_in, INSERT_VALUES, SCATTER_FORWARD));
  PetscCall(VecScatterEnd(ev->to_zero_in, ev->nat_in, ev->seq_in, INSERT_VALUES, SCATTER_FORWARD));
  PetscCall(VecGetLocalSize(ev->seq_in, &P));
  P /= C; /* the whole grid on rank 0, nothing elsewhere */
  PetscCall(VecGetArray(ev->seq_out, &o));
  ev->g_nx = ev->g_ny = 0; /* nothing to check on a rank without the field */
  ev->g_pad           = PETSC_FALSE;
  if (P > 0) {
    PetscCall(VecGetArrayRead(ev->seq_in, &g));
    for (PetscInt c = 0; c < C; c++)
      for (PetscInt p = 0; p < P; p++)
        ev->xin[c * P + p] = (float) PetscRealPart(g[p * C + c]);
    PetscCall(VecRestoreArrayRead(ev->seq_in, &g));
    PetscCallGyre(PETSC_COMM_SELF,
                  GyreSurrogateApplyWorkspace(ev->s, ev->ws, ev->xin, ev->yout, 1));
    ev->g_nx = P * C, ev->g_per_in = P, ev->g_y = ev->yout, ev->g_ny = P * K, ev->g_per_out = P;
    for (PetscInt c = 0; c < K; c++)
      for (PetscInt p = 0; p < P; p++)
        o[p * K + c] = ev->yout[c * P + p];
  }
  PetscCall(VecRestoreArray(ev->seq_out, &o));
  PetscCall(
      VecScatterBegin(ev->to_zero_out, ev->seq_out, ev->nat_out, INSERT_VALUES, SCATTER_REVERSE));
  PetscCall(
      VecScatterEnd(ev->to_zero_out, ev->seq_out, ev->nat_out, INSERT_VALUES, SCATTER_REVERSE));
  PetscCall(DMDANaturalToGlobalBegin(ev->out_dm, ev->nat_out, INSERT_VALUES, ev->out));
  PetscCall(DMDANaturalToGlobalEnd(ev->out_dm, ev->nat_out, INSERT_VALUES, ev->out));
  PetscCall(VecGetLocalSize(ev->out, &n));
  n /= K;
  PetscCall(VecGetArrayRead(ev->out, &g));
  for (PetscInt c = 0; c < K; c++)
    for (PetscInt p = 0; p < n; p++)
      ev->y[c * n + p] = (float) PetscRealPart(g[p * K + c]);
  PetscCall(VecRestoreArrayRead(ev->out, &g));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* GyreSurrogateEvalApply on ev->in, or (src not NULL: a rank owning the whole grid) on src, the
 * input's array itself */
static PetscErrorCode ApplyFrom(GyreSurrogateEval ev, const PetscScalar *src, const float **y)
{
  const PetscScalar *x;
  PetscBool          same;

  PetscFunctionBegin;
  PetscCall(PetscLogEventBegin(GYRE_SURROGATE_EVENT, ev->in, 0, 0, 0));
  /* the same input as the last evaluation's (on every rank: the evaluation is collective)
   * gives the same output, still in ev->y; not checked for a per-point network (its few points
   * a rank cost less than the compare, the copy and the agreement) */
  same = PETSC_FALSE;
  if (ev->kind != GYRE_EVAL_POINTS) {
    if (src)
      x = src;
    else
      PetscCall(VecGetArrayRead(ev->in, &x));
    same = ev->have_last && !memcmp(x, ev->last, sizeof(PetscScalar) * ev->nlast);
    if (!same) PetscCall(PetscArraycpy(ev->last, x, ev->nlast));
    if (!src) PetscCall(VecRestoreArrayRead(ev->in, &x));
    if (ev->size > 1)
      PetscCall(MPIU_Allreduce(MPI_IN_PLACE, &same, 1, MPIU_BOOL, MPI_LAND,
                               PetscObjectComm((PetscObject) ev->in)));
  }
  if (!same) {
    ev->have_last = PETSC_FALSE;
    if (ev->kind == GYRE_EVAL_WHOLE)
      PetscCall(ApplyWhole(ev));
    else
      PetscCall(ApplyLocal(ev, src));
    ev->have_last = PETSC_TRUE;
  }
  if (ev->sigma > 0 && !ev->trip && ev->g_ny > 0)
    GuardValues(ev, ev->g_nx, ev->g_per_in, ev->g_y, ev->g_ny, ev->g_per_out);
  PetscCall(PetscLogEventEnd(GYRE_SURROGATE_EVENT, ev->in, 0, 0, 0));
  *y = ev->y;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode GyreSurrogateEvalApply(GyreSurrogateEval ev, const float **y)
{
  PetscFunctionBegin;
  PetscCall(ApplyFrom(ev, NULL, y));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ApplyState's stencils (sidx: point p's feature k = c S + s at u[sidx[p K0 + k]]) as a view of
 * one padded copy of the input channels, where they are one (ev->pidx; else NULL): channel by
 * channel, each feature's n values over the points laid in the copy at the first place where
 * they already are or where they continue its end (a 1-D periodic stencil of radius r: n + 2r
 * values a channel, against n S packed). None where a channel's copy would pass 2 (n + S)
 * values (a 2-D stencil: a feature shifted in x leaves the grid's rows at their ends, where
 * its values wrap within the row): then the packed input. */
static PetscErrorCode BuildView(GyreSurrogateEval ev, PetscInt n, PetscInt C, PetscInt S)
{
  const PetscInt K0 = C * S, cap = 2 * (n + S);
  PetscInt      *idx, np         = 0;
  int           *off;
  PetscBool      fits = n > 0 && C * cap <= INT_MAX ? PETSC_TRUE : PETSC_FALSE;

  PetscFunctionBegin;
  PetscCall(PetscFree3(ev->pidx, ev->voff, ev->pad));
  ev->npad = 0;
  if (!fits) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(PetscMalloc2(C * cap, &idx, K0, &off));
  for (PetscInt c = 0; c < C && fits; c++) {
    const PetscInt seg = np;
    ev->vseg[c]        = seg;
    for (PetscInt s = 0, k = c * S; s < S && fits; s++, k++) {
      PetscInt o = seg; /* the first place the feature's values are, or continue, the copy */
      for (;; o++) {
        PetscInt p = 0, len = PetscMin(n, np - o);
        while (p < len && idx[o + p] == ev->sidx[p * K0 + k])
          p++;
        if (p == len) break; /* (o = np: appended whole) */
      }
      if (o + n - seg > cap)
        fits = PETSC_FALSE;
      else {
        for (PetscInt p = np - o; p < n; p++)
          idx[np++] = ev->sidx[p * K0 + k];
        off[k] = (int) o;
      }
    }
  }
  if (fits) {
    ev->vseg[C] = np;
    ev->npad    = np;
    PetscCall(PetscMalloc3(np, &ev->pidx, K0, &ev->voff, np, &ev->pad));
    PetscCall(PetscArraycpy(ev->pidx, idx, np));
    PetscCall(PetscArraycpy(ev->voff, off, K0));
  }
  PetscCall(PetscFree2(idx, off));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscBool GyreSurrogateEvalReadsState(GyreSurrogateEval ev)
{
  return ev->kind == GYRE_EVAL_POINTS && ev->whole ? PETSC_TRUE : PETSC_FALSE;
}

PetscErrorCode GyreSurrogateEvalApplyStateArray(GyreSurrogateEval ev, const PetscScalar *u,
                                                PetscInt dof, const PetscInt *comp, const float **y)
{
  const PetscInt n = ev->xm * ev->ym, C = ev->cin;

  PetscFunctionBegin;
  PetscCheck(GyreSurrogateEvalReadsState(ev), PETSC_COMM_SELF, PETSC_ERR_ARG_WRONGSTATE,
             "surrogate '%s': only a per-point network on a rank owning the whole grid reads "
             "the state's array",
             ev->path);
  const PetscInt S = ev->dim == 2 ? (2 * ev->r + 1) * (2 * ev->r + 1) : 2 * ev->r + 1,
                 m = n * C * S;
  PetscCall(PetscLogEventBegin(GYRE_SURROGATE_EVENT, 0, 0, 0, 0));
  PetscBool same = ev->sidx && ev->dof == dof ? PETSC_TRUE : PETSC_FALSE;
  for (PetscInt c = 0; same && c < C; c++)
    if (ev->in_comp[c] != comp[c]) same = PETSC_FALSE;
  if (!same) {
    /* gidx's offsets are into the packed channels (point q, channel c: q cin + c) */
    if (!ev->sidx) PetscCall(PetscMalloc1(m, &ev->sidx));
    ev->dof = dof;
    for (PetscInt c = 0; c < C; c++)
      ev->in_comp[c] = comp[c];
    for (PetscInt i = 0; i < m; i++)
      ev->sidx[i] = ev->gidx[i] / C * dof + comp[ev->gidx[i] % C];
    if (ev->direct.fn) PetscCall(BuildView(ev, n, C, S));
  }
  if (ev->pidx) { /* the padded copy (each value once or a few times), read through the view */
    for (PetscInt i = 0; i < ev->npad; i++)
      ev->pad[i] = (float) PetscRealPart(u[ev->pidx[i]]);
    PetscCall(ApplyPoints(ev, n, ev->pad, ev->voff));
  } else {
    for (PetscInt i = 0; i < m; i++)
      ev->xin[i] = (float) PetscRealPart(u[ev->sidx[i]]);
    PetscCall(ApplyPoints(ev, n, ev->xin, NULL));
  }
  ev->g_pad = ev->pidx ? PETSC_TRUE : PETSC_FALSE;
  ev->g_nx = m, ev->g_per_in = S, ev->g_y = ev->y, ev->g_ny = n * ev->cout, ev->g_per_out = n;
  if (ev->sigma > 0 && !ev->trip)
    GuardValues(ev, ev->g_nx, ev->g_per_in, ev->g_y, ev->g_ny, ev->g_per_out);
  PetscCall(PetscLogEventEnd(GYRE_SURROGATE_EVENT, 0, 0, 0, 0));
  *y = ev->y;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode GyreSurrogateEvalApplyState(GyreSurrogateEval ev, Vec U, PetscInt dof,
                                           const PetscInt *comp, const float **y)
{
  const PetscScalar *u;
  PetscInt           n = ev->xm * ev->ym, C = ev->cin;

  PetscFunctionBegin;
  PetscCall(VecGetArrayRead(U, &u));
  if (GyreSurrogateEvalReadsState(ev)) { /* the stencils straight from the state */
    const PetscErrorCode ierr = GyreSurrogateEvalApplyStateArray(ev, u, dof, comp, y);
    PetscCall(VecRestoreArrayRead(U, &u));
    PetscCall(ierr);
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  if (ev->kind == GYRE_EVAL_BLOCK && ev->whole && C == 1 && dof == 1) {
    /* the state is the input as it is, and this rank has all of it: read from its array, without
     * the copy into the evaluator's input (ApplyLocal reads a whole rank's points from an array) */
    const PetscErrorCode ierr = ApplyFrom(ev, u, y);
    PetscCall(VecRestoreArrayRead(U, &u));
    PetscCall(ierr);
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  PetscScalar *x; /* pack the channels, then Apply */
  PetscCall(GyreSurrogateEvalGetInput(ev, &x));
  if (C == 1 && dof == 1) /* the state itself */
    PetscCall(PetscArraycpy(x, u, n));
  else
    for (PetscInt p = 0; p < n; p++)
      for (PetscInt c = 0; c < C; c++)
        x[p * C + c] = u[p * dof + comp[c]];
  PetscCall(GyreSurrogateEvalRestoreInput(ev, &x));
  PetscCall(VecRestoreArrayRead(U, &u));
  PetscCall(GyreSurrogateEvalApply(ev, y));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode GyreSurrogateEvalGuardCheck(GyreSurrogateEval ev, GyreModel model, Vec U,
                                           PetscReal band, PetscInt *reason)
{
  PetscInt           r                              = ev->trip, dof, n;
  PetscReal          ms[GYRE_DATA_MAX_CHANNELS + 1] = {0};
  const PetscScalar *u;

  PetscFunctionBegin;
  /* the most severe reason over the ranks (the enum is in severity order; one rank: no MPI
   * call, a third of the guard's cost a step on l96) */
  *reason = r;
  if (ev->size > 1) PetscCall(MPIU_Allreduce(&r, reason, 1, MPIU_INT, MPI_MAX, model->comm));
  if (*reason || !ev->nband) PetscFunctionReturn(PETSC_SUCCESS);
  if (!ev->state_dof)
    PetscCall(DMDAGetInfo(model->dm, NULL, NULL, NULL, NULL, NULL, NULL, NULL, &ev->state_dof, NULL,
                          NULL, NULL, NULL, NULL));
  dof = ev->state_dof;
  PetscCall(VecGetLocalSize(U, &n));
  PetscCall(VecGetArrayRead(U, &u));
  for (PetscInt i = 0; i < n / dof; i++)
    for (PetscInt c = 0; c < ev->nband; c++) {
      PetscReal v = PetscRealPart(u[i * dof + ev->band_comp[c]]);
      ms[c] += v * v;
    }
  ms[ev->nband] = (PetscReal) (n / dof);
  PetscCall(VecRestoreArrayRead(U, &u));
  if (ev->size > 1)
    PetscCall(MPIU_Allreduce(MPI_IN_PLACE, ms, ev->nband + 1, MPIU_REAL, MPIU_SUM, model->comm));
  for (PetscInt c = 0; c < ev->nband; c++) {
    PetscReal m = ms[c] / ms[ev->nband];
    if (!(m >= ev->band_min[c] * (1 - band) && m <= ev->band_max[c] * (1 + band)))
      *reason = GYRE_GUARD_INVARIANT;
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}
