/* model_ns2d.c — 2-D incompressible Navier–Stokes in vorticity form on the unit torus, the
 * Fourier Neural Operator benchmark of Li et al. (2021):
 *
 *   dw/dt + u.grad w = nu Lap w + f,   Lap psi = -w,   u = (psi_y, -psi_x),
 *   f = 0.1 (sin 2 pi (x + y) + cos 2 pi (x + y))          (-ns2d_forcing li, the default)
 *
 * METHOD: pseudo-spectral on FFTW-MPI (GyreSpectral, row slabs shared with the DMDA), chosen
 * over finite differences with an Arakawa Jacobian because
 *  - the Poisson solve is exact and costs one division per Fourier mode (no multigrid, no
 *    null-space handling), derivatives are spectrally accurate, and the Taylor–Green decay is
 *    reproduced to round-off and time-stepping error;
 *  - it is the method of Li et al.'s data generator (ns_2d.py), so our data match theirs.
 * The nonlinear term is dealiased with Orszag's 2/3 rule: velocity and vorticity gradient are
 * truncated to the modes with 3|kx| < nx and 3|ky| < ny before the pointwise product, and the
 * product is truncated the same way. Truncating both makes the product alias-free, so the
 * explicit term is an exact Galerkin projection and conserves energy and enstrophy (up to
 * time-stepping error) when nu = 0 and f = 0 (Li et al. truncate the product only).
 *
 * TIME SPLIT: the state is the vorticity in physical space on the grid's DMDA (dof 1).
 *   rhsexplicit    E(w) = -u.grad w + f                     (the driver adds any closure)
 *   rhsimplicit    L w  = nu Lap w                          (spectral, exact)
 *   solveimplicit  X = (shift I - nu Lap)^{-1} B            (one division per mode, exact)
 * so PETSc's IMEX Runge–Kutta methods treat viscosity implicitly at no more cost than an
 * explicit step: a 1024^2 run is limited by the advective CFL condition, not by diffusion
 * (at 1024^2 with nu = 1e-3, nu |k_max|^2 dt is ~10 at the CFL step, beyond an explicit
 * scheme's stability limit of ~3). The default integrator is TSARKIMEX 3 (Kennedy–Carpenter
 * ARK3(2)4L[2]SA: third order, L-stable implicit part, 4 stages); any explicit -ts_type also
 * works (the driver then sums E + L w, and the viscous term limits dt). stabledt returns the CFL
 * step -ns2d_cfl dx / max|u| (1e10 for a fluid at rest); the step settsdefaults sets assumes max|u|
 * = 1.
 *
 * OPTIONS: -grid_nx, -grid_ny (default 64; -grid_ny defaults to -grid_nx), -ns2d_nu (1e-3),
 * -ns2d_forcing li|none, -ns2d_init grf|taylor_green, -ns2d_grf_alpha (2.5), -ns2d_grf_tau (7),
 * -ns2d_cfl (0.5), -output_coarsen subsample|block|gaussian (with -output_stride r > 1).
 *
 * INITIAL STATE (member m): grf draws the Gaussian random field of Li et al.'s
 * GaussianRF(2, s, alpha, tau): N(0, sigma^2 (-Lap + tau^2 I)^(-alpha)) with
 * sigma = tau^(alpha - 1) (7^1.5 for the defaults), mean zero, seed = (driver's -seed) + m, the
 * same on any number of ranks (GyreGridRandomField). Its standard deviation is
 * sqrt(sum_k 2 sigma^2 (4 pi^2 |k|^2 + tau^2)^(-alpha)) = 0.262 at 64^2 (Li et al.'s
 * normalisation; tests/ns2d checks it). taylor_green is w = cos 2 pi x cos 2 pi y, which with
 * f = 0 decays as exp(-8 pi^2 nu t) (an exact solution: psi is proportional to w).
 *
 * OUTPUT: dimensions y, x of the STORED grid (units "1", the unit torus) and
 *   vorticity(y, x)        the state (single precision by default);
 *   subgrid_forcing(y, x)  only with -output_stride r > 1, where the run is computed on the
 *                          fine grid and stored coarse-grained by r (Li et al.: computed at
 *                          256^2, stored at 64^2). With C the coarse-graining,
 *                          w_bar = C(w) and u_bar the velocity of w_bar (coarse Poisson solve),
 *                            S = C(u.grad w) - u_bar.grad w_bar,
 *                          both advection terms dealiased on their own grid. The coarse-grained
 *                          equation reads dw_bar/dt + u_bar.grad w_bar = nu Lap w_bar + C(f) - S,
 *                          so a closure for a coarse model adds -S to its tendency (the sign
 *                          convention of Ross et al. 2023). It is what a CNN closure learns.
 * The default coarsening is gaussian (a spectral Gaussian filter of width 2 coarse cells,
 * truncated at the coarse Nyquist, then subsampled): it is the filter of the subgrid-closure
 * literature (Ross et al. 2023, Guan et al. 2022), and because the filtered field has no
 * modes above the coarse Nyquist, subsampling it aliases nothing and it preserves the mean.
 * -output_coarsen subsample reproduces Li et al.'s stored stride exactly; block averages.
 *
 * INVARIANTS: energy = 0.5 mean |u|^2 and enstrophy = 0.5 mean w^2 over the unit torus (the
 * area-weighted integrals), computed exactly from the Fourier coefficients (Parseval). */
#include <math.h>
#include <string.h>
#include "gyre_model.h"
#include "gyre_grid.h"

typedef enum { NS2D_FORCING_LI = 0, NS2D_FORCING_NONE = 1 } NS2DForcing;
static const char *const NS2DForcingNames[] = {"li", "none", "NS2DForcing", "NS2D_FORCING_", NULL};
typedef enum { NS2D_INIT_GRF = 0, NS2D_INIT_TAYLOR_GREEN = 1 } NS2DInit;
static const char *const NS2DInitNames[] = {"grf", "taylor_green", "NS2DInit", "NS2D_INIT_", NULL};
static const char *const NS2DCoarsenNames[]     = {"subsample", "block", "gaussian", NULL};
static const GyreCoarsenType NS2DCoarsenTypes[] = {GYRE_COARSEN_SUBSAMPLE, GYRE_COARSEN_BLOCK,
                                                   GYRE_COARSEN_GAUSSIAN};

/* Returned by stabledt for a fluid at rest (no CFL limit). */
#define NS2D_DT_UNLIMITED 1.0e10

/* One resolution's spectral machinery: the fine (computational) grid, or the coarse grid of
 * the stored output. */
typedef struct {
  GyreGrid      grid; /* owned for the fine grid, borrowed from the GyreCoarsen for the coarse */
  DM            dm;   /* borrowed from grid */
  GyreSpectral  sp;
  PetscInt      nx, ny, ys, ym, nkx;
  PetscReal     Lx, Ly;
  fftw_complex *what, *c;        /* coefficients of w; scratch */
  Vec           u, v, wx, wy, p; /* physical scratch fields */
} NS2DSpace;

/* The factors of a spectral operator applied to the coefficients of w. */
typedef enum {
  NS2D_OP_U,     /* u = psi_y            (dealiased) */
  NS2D_OP_V,     /* v = -psi_x           (dealiased) */
  NS2D_OP_WX,    /* w_x                  (dealiased) */
  NS2D_OP_WY,    /* w_y                  (dealiased) */
  NS2D_OP_UFULL, /* psi_y, all modes (CFL) */
  NS2D_OP_VFULL, /* -psi_x, all modes (CFL) */
} NS2DOp;

typedef struct {
  PetscInt    nx, ny;
  PetscReal   nu, cfl, alpha, tau, sigma;
  NS2DForcing forcing;
  NS2DInit    init;
  PetscInt    coarsen_index; /* into NS2DCoarsenNames */
  NS2DSpace   fine, coarse;  /* coarse: only with output_stride > 1 */
  GyreCoarsen cg;
  Vec         f;                  /* forcing on the fine grid (NULL for none) */
  Vec         work;               /* fine scratch */
  Vec         wbar, abar, cadv;   /* coarse scratch */
  double     *xvals, *yvals;      /* coordinates of the stored grid */
  PetscInt    sxs, sys, sxm, sym; /* this rank's block of the stored grid */
} NS2D;

enum { NS2D_FIELD_VORTICITY = 0, NS2D_FIELD_SUBGRID = 1 };

/* ---- spectral machinery ---------------------------------------------------------------- */

static PetscErrorCode NS2DSpaceCreate(GyreGrid grid, NS2DSpace *s)
{
  PetscFunctionBegin;
  s->grid = grid;
  PetscCall(GyreGridGetDM(grid, &s->dm));
  PetscCall(GyreGridGetSizes(grid, &s->nx, &s->ny, &s->Lx, &s->Ly));
  PetscCall(GyreSpectralCreate(grid, &s->sp));
  PetscCall(GyreSpectralGetLocalSize(s->sp, &s->ys, &s->ym, &s->nkx));
  PetscCall(GyreSpectralAllocCoefficients(s->sp, &s->what));
  PetscCall(GyreSpectralAllocCoefficients(s->sp, &s->c));
  PetscCall(DMCreateGlobalVector(s->dm, &s->u));
  PetscCall(VecDuplicate(s->u, &s->v));
  PetscCall(VecDuplicate(s->u, &s->wx));
  PetscCall(VecDuplicate(s->u, &s->wy));
  PetscCall(VecDuplicate(s->u, &s->p));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode NS2DSpaceDestroy(NS2DSpace *s)
{
  PetscFunctionBegin;
  if (s->what) fftw_free(s->what);
  if (s->c) fftw_free(s->c);
  s->what = s->c = NULL;
  PetscCall(GyreSpectralDestroy(&s->sp));
  PetscCall(VecDestroy(&s->u));
  PetscCall(VecDestroy(&s->v));
  PetscCall(VecDestroy(&s->wx));
  PetscCall(VecDestroy(&s->wy));
  PetscCall(VecDestroy(&s->p));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* 1 if the mode survives the 2/3-rule truncation (3|k| < n in both directions). */
static inline int NS2DKept(PetscInt kx, PetscInt ky, PetscInt nx, PetscInt ny)
{
  return 3 * PetscAbsInt(kx) < nx && 3 * PetscAbsInt(ky) < ny;
}

/* 1 if the mode is a Nyquist mode (its derivative is set to zero). */
static inline int NS2DNyquist(PetscInt kx, PetscInt ky, PetscInt nx, PetscInt ny)
{
  return (nx % 2 == 0 && 2 * PetscAbsInt(kx) == nx) || (ny % 2 == 0 && 2 * PetscAbsInt(ky) == ny);
}

/* out = (i a_k) what_k, a_k the real factor of operator op; then out to physical space. */
static PetscErrorCode NS2DApply(NS2DSpace *s, NS2DOp op, Vec out)
{
  const double *wh = (const double *) s->what;
  double       *c  = (double *) s->c;
  const double  tx = 2 * PETSC_PI / s->Lx, ty = 2 * PETSC_PI / s->Ly;

  PetscFunctionBegin;
  for (PetscInt j = 0; j < s->ym; j++) {
    const PetscInt ky  = GyreSpectralWavenumber(s->ys + j, s->ny);
    const double   kyp = ty * (double) ky;
    for (PetscInt i = 0; i < s->nkx; i++) {
      const PetscInt kx  = i;
      const double   kxp = tx * (double) kx, k2 = kxp * kxp + kyp * kyp;
      const size_t   q = 2 * ((size_t) j * (size_t) s->nkx + (size_t) i);
      double         a = 0;
      int            keep;

      if (op == NS2D_OP_UFULL || op == NS2D_OP_VFULL)
        keep = !NS2DNyquist(kx, ky, s->nx, s->ny);
      else
        keep = NS2DKept(kx, ky, s->nx, s->ny);
      if (keep) {
        switch (op) {
        case NS2D_OP_U:
        case NS2D_OP_UFULL:
          a = k2 > 0 ? kyp / k2 : 0;
          break;
        case NS2D_OP_V:
        case NS2D_OP_VFULL:
          a = k2 > 0 ? -kxp / k2 : 0;
          break;
        case NS2D_OP_WX:
          a = kxp;
          break;
        case NS2D_OP_WY:
          a = kyp;
          break;
        }
      }
      c[q]     = -a * wh[q + 1];
      c[q + 1] = a * wh[q];
    }
  }
  PetscCall(GyreSpectralInverse(s->sp, s->c, out));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* A = P(u_P . grad w_P): the dealiased advection term of w (P: 2/3-rule truncation).
 * Collective. */
static PetscErrorCode NS2DAdvection(NS2DSpace *s, Vec w, Vec A)
{
  const PetscScalar *u, *v, *wx, *wy;
  PetscScalar       *a;
  PetscInt           n;
  double            *c;

  PetscFunctionBegin;
  PetscCall(GyreSpectralForward(s->sp, w, s->what));
  PetscCall(NS2DApply(s, NS2D_OP_U, s->u));
  PetscCall(NS2DApply(s, NS2D_OP_V, s->v));
  PetscCall(NS2DApply(s, NS2D_OP_WX, s->wx));
  PetscCall(NS2DApply(s, NS2D_OP_WY, s->wy));
  PetscCall(VecGetLocalSize(s->p, &n));
  PetscCall(VecGetArrayRead(s->u, &u));
  PetscCall(VecGetArrayRead(s->v, &v));
  PetscCall(VecGetArrayRead(s->wx, &wx));
  PetscCall(VecGetArrayRead(s->wy, &wy));
  PetscCall(VecGetArrayWrite(s->p, &a));
  for (PetscInt k = 0; k < n; k++)
    a[k] = u[k] * wx[k] + v[k] * wy[k];
  PetscCall(VecRestoreArrayWrite(s->p, &a));
  PetscCall(VecRestoreArrayRead(s->wy, &wy));
  PetscCall(VecRestoreArrayRead(s->wx, &wx));
  PetscCall(VecRestoreArrayRead(s->v, &v));
  PetscCall(VecRestoreArrayRead(s->u, &u));

  PetscCall(GyreSpectralForward(s->sp, s->p, s->c));
  c = (double *) s->c;
  for (PetscInt j = 0; j < s->ym; j++) {
    const PetscInt ky = GyreSpectralWavenumber(s->ys + j, s->ny);
    for (PetscInt i = 0; i < s->nkx; i++) {
      const size_t q = 2 * ((size_t) j * (size_t) s->nkx + (size_t) i);
      if (!NS2DKept(i, ky, s->nx, s->ny)) c[q] = c[q + 1] = 0;
    }
  }
  PetscCall(GyreSpectralInverse(s->sp, s->c, A));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ---- options and set-up ----------------------------------------------------------------- */

static PetscErrorCode NS2DSetFromOptions(GyreModel m)
{
  NS2D *ns = (NS2D *) m->data;

  PetscFunctionBegin;
  PetscOptionsBegin(m->comm, NULL, "2-D Navier-Stokes on the unit torus (-model ns2d)", "ns2d");
  PetscCall(PetscOptionsInt("-grid_nx", "grid points in x", NULL, ns->nx, &ns->nx, NULL));
  ns->ny = ns->nx;
  PetscCall(PetscOptionsInt("-grid_ny", "grid points in y (default: -grid_nx)", NULL, ns->ny,
                            &ns->ny, NULL));
  PetscCall(PetscOptionsReal("-ns2d_nu", "kinematic viscosity", NULL, ns->nu, &ns->nu, NULL));
  PetscCall(PetscOptionsEnum("-ns2d_forcing", "forcing: li (Li et al. 2021) or none", NULL,
                             NS2DForcingNames, (PetscEnum) ns->forcing, (PetscEnum *) &ns->forcing,
                             NULL));
  PetscCall(PetscOptionsEnum("-ns2d_init", "initial vorticity: grf or taylor_green", NULL,
                             NS2DInitNames, (PetscEnum) ns->init, (PetscEnum *) &ns->init, NULL));
  PetscCall(PetscOptionsReal("-ns2d_grf_alpha", "Gaussian random field smoothness alpha", NULL,
                             ns->alpha, &ns->alpha, NULL));
  PetscCall(PetscOptionsReal("-ns2d_grf_tau", "Gaussian random field inverse length tau", NULL,
                             ns->tau, &ns->tau, NULL));
  PetscCall(PetscOptionsReal("-ns2d_cfl", "CFL number of the default time step", NULL, ns->cfl,
                             &ns->cfl, NULL));
  PetscCall(PetscOptionsEList(
      "-output_coarsen", "coarse-graining of the stored fields with -output_stride > 1", NULL,
      NS2DCoarsenNames, 3, NS2DCoarsenNames[ns->coarsen_index], &ns->coarsen_index, NULL));
  PetscOptionsEnd();

  PetscCheck(ns->nx >= 4 && ns->ny >= 4, m->comm, PETSC_ERR_ARG_OUTOFRANGE,
             "ns2d grid %" PetscInt_FMT "x%" PetscInt_FMT
             " is too small: -grid_nx and -grid_ny must be at least 4",
             ns->nx, ns->ny);
  PetscCheck(ns->nu >= 0, m->comm, PETSC_ERR_ARG_OUTOFRANGE, "-ns2d_nu %g must not be negative",
             (double) ns->nu);
  PetscCheck(ns->cfl > 0, m->comm, PETSC_ERR_ARG_OUTOFRANGE, "-ns2d_cfl %g must be positive",
             (double) ns->cfl);
  PetscCheck(ns->tau > 0 && ns->alpha > 1, m->comm, PETSC_ERR_ARG_OUTOFRANGE,
             "-ns2d_grf_alpha %g must exceed 1 and -ns2d_grf_tau %g must be positive",
             (double) ns->alpha, (double) ns->tau);
  ns->sigma = PetscPowReal(ns->tau, ns->alpha - 1);
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode NS2DSetUp(GyreModel m)
{
  NS2D            *ns = (NS2D *) m->data;
  const PetscInt   r  = m->output_stride;
  GyreGrid         fine, stored;
  const PetscReal *x, *y;
  PetscInt         nxs, nys;

  PetscFunctionBegin;
  PetscCheck(r >= 1, m->comm, PETSC_ERR_ARG_OUTOFRANGE,
             "-output_stride %" PetscInt_FMT " must be at least 1", r);
  PetscCheck(ns->nx % r == 0 && ns->ny % r == 0, m->comm, PETSC_ERR_ARG_INCOMP,
             "grid %" PetscInt_FMT "x%" PetscInt_FMT
             " is not divisible by -output_stride %" PetscInt_FMT,
             ns->nx, ns->ny, r);
  PetscCheck(r == 1 || (ns->nx / r >= 4 && ns->ny / r >= 4), m->comm, PETSC_ERR_ARG_OUTOFRANGE,
             "-output_stride %" PetscInt_FMT " leaves a %" PetscInt_FMT "x%" PetscInt_FMT
             " stored grid: it must be at least 4x4",
             r, ns->nx / r, ns->ny / r);
  if (r == 1) { /* (read, so not called misspelt: said to do nothing) */
    PetscBool set;
    PetscCall(PetscOptionsHasName(NULL, NULL, "-output_coarsen", &set));
    if (set)
      PetscCall(PetscFPrintf(m->comm, PETSC_STDERR,
                             "gyre: warning: option -output_coarsen does nothing with "
                             "-output_stride 1 (the fields are stored at the computed "
                             "resolution)\n"));
  }

  PetscCall(GyreGridCreatePlane(m->comm, ns->nx, ns->ny, 1.0, 1.0, 1, 1, r, &fine));
  PetscCall(NS2DSpaceCreate(fine, &ns->fine));
  PetscCall(GyreGridGetDM(fine, &m->dm));
  PetscCall(PetscObjectReference((PetscObject) m->dm)); /* the registry destroys model->dm */
  PetscCall(DMDASetFieldName(m->dm, 0, "vorticity"));
  PetscCall(DMCreateGlobalVector(m->dm, &ns->work));

  if (ns->forcing == NS2D_FORCING_LI) {
    PetscScalar **f;
    PetscInt      xs, ys, xm, ym;

    PetscCall(GyreGridGetCoordinates(fine, &x, &y));
    PetscCall(GyreGridGetOwnership(fine, &xs, &ys, &xm, &ym));
    PetscCall(VecDuplicate(ns->work, &ns->f));
    PetscCall(DMDAVecGetArray(m->dm, ns->f, &f));
    for (PetscInt j = ys; j < ys + ym; j++)
      for (PetscInt i = xs; i < xs + xm; i++) {
        const PetscReal s = 2 * PETSC_PI * (x[i] + y[j]);
        f[j][i]           = 0.1 * (PetscSinReal(s) + PetscCosReal(s));
      }
    PetscCall(DMDAVecRestoreArray(m->dm, ns->f, &f));
  }

  stored = fine;
  if (r > 1) {
    GyreGrid coarse;
    DM       dmc;

    PetscCall(GyreCoarsenCreate(fine, r, NS2DCoarsenTypes[ns->coarsen_index], &ns->cg));
    PetscCall(GyreCoarsenGetCoarseGrid(ns->cg, &coarse));
    PetscCall(NS2DSpaceCreate(coarse, &ns->coarse));
    PetscCall(GyreGridGetDM(coarse, &dmc));
    PetscCall(DMCreateGlobalVector(dmc, &ns->wbar));
    PetscCall(VecDuplicate(ns->wbar, &ns->abar));
    PetscCall(VecDuplicate(ns->wbar, &ns->cadv));
    stored = coarse;
  }

  PetscCall(GyreGridGetSizes(stored, &nxs, &nys, NULL, NULL));
  PetscCall(GyreGridGetOwnership(stored, &ns->sxs, &ns->sys, &ns->sxm, &ns->sym));
  PetscCall(GyreGridGetCoordinates(stored, &x, &y));
  PetscCall(PetscMalloc2(nxs, &ns->xvals, nys, &ns->yvals));
  for (PetscInt i = 0; i < nxs; i++)
    ns->xvals[i] = (double) x[i];
  for (PetscInt j = 0; j < nys; j++)
    ns->yvals[j] = (double) y[j];

  m->timekind                     = GYRE_TIME_NONDIM;
  m->ndims                        = 2;
  m->dims[0]                      = (GyreDimSpec){.name      = "y",
                                                  .len       = (size_t) nys,
                                                  .values    = ns->yvals,
                                                  .units     = "1",
                                                  .axis      = "Y",
                                                  .long_name = "y coordinate on the unit torus"};
  m->dims[1]                      = (GyreDimSpec){.name      = "x",
                                                  .len       = (size_t) nxs,
                                                  .values    = ns->xvals,
                                                  .units     = "1",
                                                  .axis      = "X",
                                                  .long_name = "x coordinate on the unit torus"};
  m->fields[NS2D_FIELD_VORTICITY] = (GyreOutputField){
      .spec     = {.name      = "vorticity",
                   .ndims     = 2,
                   .dims      = {"y", "x"},
                   .long_name = "vorticity",
                   .units     = "1",
                   .comment   = r > 1 ? "non-dimensional vorticity dv/dx - du/dy, computed on the "
                                        "fine grid and coarse-grained by -output_stride with "
                                        "-output_coarsen (see the gyre_model_parameters attribute)"
                                      : "non-dimensional vorticity dv/dx - du/dy",
                   .precision = GYRE_FLOAT,
                   .has_time  = 1},
      .start    = {(size_t) ns->sys, (size_t) ns->sxs},
      .count    = {(size_t) ns->sym, (size_t) ns->sxm},
      .in_state = 1,
  };
  m->nfields = 1;
  if (r > 1) {
    m->fields[NS2D_FIELD_SUBGRID] = (GyreOutputField){
        .spec     = {.name      = "subgrid_forcing",
                     .ndims     = 2,
                     .dims      = {"y", "x"},
                     .long_name = "subgrid vorticity forcing S = C(u.grad w) - u_bar.grad w_bar",
                     .units     = "1",
                     .comment   = "C: the coarse-graining of the stored fields; w_bar = "
                                      "C(w), u_bar its velocity. The coarse-grained "
                                      "vorticity obeys dw_bar/dt + u_bar.grad w_bar = nu "
                                      "Lap w_bar + C(f) - S, so a coarse model's closure "
                                      "adds -S to its tendency (Ross et al. 2023 "
                                      "convention). Both advection terms are dealiased "
                                      "pseudo-spectrally (2/3 rule) on their own grid.",
                     .precision = GYRE_FLOAT,
                     .has_time  = 1},
        .start    = {(size_t) ns->sys, (size_t) ns->sxs},
        .count    = {(size_t) ns->sym, (size_t) ns->sxm},
        .in_state = 0,
    };
    m->nfields = 2;
  }
  m->ninvariants          = 2;
  m->invariant_names[0]   = "energy";
  m->invariant_names[1]   = "enstrophy";
  m->default_output_every = 1.0; /* Li et al. record every time unit */
  m->bound                = 1e4;
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode NS2DSetTSDefaults(GyreModel m, TS ts)
{
  NS2D *ns = (NS2D *) m->data;

  PetscFunctionBegin;
  PetscCall(TSSetType(ts, TSARKIMEX));
  PetscCall(TSARKIMEXSetType(ts, TSARKIMEX3));
  /* the CFL step for max|u| = 1 (stabledt gives the step for an actual state) */
  PetscCall(TSSetTimeStep(ts, ns->cfl * PetscMin(1.0 / ns->nx, 1.0 / ns->ny)));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ---- physics ---------------------------------------------------------------------------- */

static PetscErrorCode NS2DInitialState(GyreModel m, PetscInt member, Vec U)
{
  NS2D *ns = (NS2D *) m->data;

  PetscFunctionBegin;
  if (ns->init == NS2D_INIT_GRF) {
    PetscCall(GyreGridRandomField(ns->fine.grid, ns->alpha, ns->tau, ns->sigma,
                                  (PetscInt64) m->seed + member, U));
  } else {
    const PetscReal *x, *y;
    PetscScalar    **w;
    PetscInt         xs, ys, xm, ym;

    PetscCall(GyreGridGetCoordinates(ns->fine.grid, &x, &y));
    PetscCall(GyreGridGetOwnership(ns->fine.grid, &xs, &ys, &xm, &ym));
    PetscCall(DMDAVecGetArray(m->dm, U, &w));
    for (PetscInt j = ys; j < ys + ym; j++)
      for (PetscInt i = xs; i < xs + xm; i++)
        w[j][i] = PetscCosReal(2 * PETSC_PI * x[i]) * PetscCosReal(2 * PETSC_PI * y[j]);
    PetscCall(DMDAVecRestoreArray(m->dm, U, &w));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode NS2DRHSExplicit(GyreModel m, PetscReal t, Vec U, Vec F)
{
  NS2D *ns = (NS2D *) m->data;

  PetscFunctionBegin;
  PetscCall(NS2DAdvection(&ns->fine, U, F));
  if (ns->f)
    PetscCall(VecAYPX(F, -1.0, ns->f)); /* F = f - u.grad w */
  else
    PetscCall(VecScale(F, -1.0));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* out_k = g(k) in_k for every coefficient of this rank, g a real function of |k|^2. */
static PetscErrorCode NS2DScaleModes(NS2DSpace *s, PetscReal nu, PetscReal shift, PetscBool solve)
{
  double      *c  = (double *) s->what;
  const double tx = 2 * PETSC_PI / s->Lx, ty = 2 * PETSC_PI / s->Ly;

  PetscFunctionBegin;
  for (PetscInt j = 0; j < s->ym; j++) {
    const double kyp = ty * (double) GyreSpectralWavenumber(s->ys + j, s->ny);
    for (PetscInt i = 0; i < s->nkx; i++) {
      const double kxp = tx * (double) i, k2 = kxp * kxp + kyp * kyp;
      const size_t q = 2 * ((size_t) j * (size_t) s->nkx + (size_t) i);
      const double g = solve ? 1.0 / (shift + nu * k2) : -nu * k2;
      c[q] *= g;
      c[q + 1] *= g;
    }
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode NS2DRHSImplicit(GyreModel m, PetscReal t, Vec U, Vec F)
{
  NS2D *ns = (NS2D *) m->data;

  PetscFunctionBegin;
  PetscCall(GyreSpectralForward(ns->fine.sp, U, ns->fine.what));
  PetscCall(NS2DScaleModes(&ns->fine, ns->nu, 0, PETSC_FALSE));
  PetscCall(GyreSpectralInverse(ns->fine.sp, ns->fine.what, F));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode NS2DSolveImplicit(GyreModel m, PetscReal shift, Vec B, Vec X)
{
  NS2D *ns = (NS2D *) m->data;

  PetscFunctionBegin;
  PetscCheck(shift > 0, m->comm, PETSC_ERR_ARG_OUTOFRANGE,
             "ns2d: (shift I - nu Lap) is singular for shift %g (the mean mode): the implicit "
             "solve needs a positive shift",
             (double) shift);
  PetscCall(GyreSpectralForward(ns->fine.sp, B, ns->fine.what));
  PetscCall(NS2DScaleModes(&ns->fine, ns->nu, shift, PETSC_TRUE));
  PetscCall(GyreSpectralInverse(ns->fine.sp, ns->fine.what, X));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode NS2DStableDt(GyreModel m, Vec U, PetscReal *dt)
{
  NS2D              *ns = (NS2D *) m->data;
  NS2DSpace         *s  = &ns->fine;
  const PetscScalar *u, *v;
  PetscReal          umax2 = 0, umax;
  PetscInt           n;

  PetscFunctionBegin;
  PetscCall(GyreSpectralForward(s->sp, U, s->what));
  PetscCall(NS2DApply(s, NS2D_OP_UFULL, s->u));
  PetscCall(NS2DApply(s, NS2D_OP_VFULL, s->v));
  PetscCall(VecGetLocalSize(s->u, &n));
  PetscCall(VecGetArrayRead(s->u, &u));
  PetscCall(VecGetArrayRead(s->v, &v));
  for (PetscInt k = 0; k < n; k++)
    umax2 = PetscMax(umax2, u[k] * u[k] + v[k] * v[k]);
  PetscCall(VecRestoreArrayRead(s->v, &v));
  PetscCall(VecRestoreArrayRead(s->u, &u));
  PetscCall(MPIU_Allreduce(MPI_IN_PLACE, &umax2, 1, MPIU_REAL, MPIU_MAX, m->comm));
  umax = PetscSqrtReal(umax2);
  if (umax > 0)
    *dt = PetscMin(ns->cfl * PetscMin(s->Lx / s->nx, s->Ly / s->ny) / umax, NS2D_DT_UNLIMITED);
  else
    *dt = NS2D_DT_UNLIMITED;
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode NS2DInvariants(GyreModel m, Vec U, PetscReal *inv)
{
  NS2D        *ns = (NS2D *) m->data;
  NS2DSpace   *s  = &ns->fine;
  const double tx = 2 * PETSC_PI / s->Lx, ty = 2 * PETSC_PI / s->Ly;
  PetscReal    sum[2] = {0, 0};
  double      *c;

  PetscFunctionBegin;
  PetscCall(GyreSpectralForward(s->sp, U, s->what));
  c = (double *) s->what;
  for (PetscInt j = 0; j < s->ym; j++) {
    const double kyp = ty * (double) GyreSpectralWavenumber(s->ys + j, s->ny);
    for (PetscInt i = 0; i < s->nkx; i++) {
      /* the half spectrum: kx and -kx both stand for column i, except kx = 0 and Nyquist */
      const double wgt = (i == 0 || 2 * i == s->nx) ? 1.0 : 2.0;
      const double kxp = tx * (double) i, k2 = kxp * kxp + kyp * kyp;
      const size_t q  = 2 * ((size_t) j * (size_t) s->nkx + (size_t) i);
      const double a2 = c[q] * c[q] + c[q + 1] * c[q + 1];
      if (k2 > 0) sum[0] += wgt * a2 / k2; /* |u_k|^2 = |w_k|^2 / |k|^2 */
      sum[1] += wgt * a2;
    }
  }
  PetscCall(MPIU_Allreduce(MPI_IN_PLACE, sum, 2, MPIU_REAL, MPIU_SUM, m->comm));
  /* mean over the torus = sum over modes (Parseval; the domain has area Lx Ly = 1) */
  inv[0] = 0.5 * sum[0];
  inv[1] = 0.5 * sum[1];
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Copies this rank's block of a dof-1 global Vec of the stored grid into data (C order y, x). */
static PetscErrorCode NS2DCopyBlock(NS2D *ns, DM dm, Vec v, double *data)
{
  const PetscScalar **a;

  PetscFunctionBegin;
  PetscCall(DMDAVecGetArrayRead(dm, v, &a));
  for (PetscInt j = 0; j < ns->sym; j++)
    for (PetscInt i = 0; i < ns->sxm; i++)
      data[j * ns->sxm + i] = (double) a[ns->sys + j][ns->sxs + i];
  PetscCall(DMDAVecRestoreArrayRead(dm, v, &a));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode NS2DOutputField(GyreModel m, PetscInt i, Vec U, PetscReal t, double *data)
{
  NS2D *ns = (NS2D *) m->data;

  PetscFunctionBegin;
  PetscCheck(i >= 0 && i < m->nfields, m->comm, PETSC_ERR_ARG_OUTOFRANGE,
             "ns2d has %" PetscInt_FMT " output fields, asked for field %" PetscInt_FMT, m->nfields,
             i);
  if (!ns->cg) { /* stored as computed: the vorticity itself */
    PetscCall(NS2DCopyBlock(ns, m->dm, U, data));
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  PetscCall(GyreCoarsenApply(ns->cg, U, ns->wbar));
  if (i == NS2D_FIELD_VORTICITY) {
    PetscCall(NS2DCopyBlock(ns, ns->coarse.dm, ns->wbar, data));
  } else {
    /* S = C(u.grad w) - u_bar.grad w_bar */
    PetscCall(NS2DAdvection(&ns->fine, U, ns->work));
    PetscCall(GyreCoarsenApply(ns->cg, ns->work, ns->cadv));
    PetscCall(NS2DAdvection(&ns->coarse, ns->wbar, ns->abar));
    PetscCall(VecAXPY(ns->cadv, -1.0, ns->abar));
    PetscCall(NS2DCopyBlock(ns, ns->coarse.dm, ns->cadv, data));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode NS2DReadState(GyreModel m, GyreFile file, size_t rec, PetscInt member, Vec U)
{
  NS2D    *ns = (NS2D *) m->data;
  int      ndims, has_time, off;
  char     dimnames[GYRE_IO_MAX_DIMS][64];
  size_t   lens[GYRE_IO_MAX_DIMS], start[GYRE_IO_MAX_DIMS] = {0}, count[GYRE_IO_MAX_DIMS] = {0};
  PetscInt xs, ys, xm, ym;
  PetscScalar **w;
  double       *buf;

  PetscFunctionBegin;
  PetscCallGyre(m->comm, GyreFileInqVar(file, "vorticity", &ndims, dimnames, lens, &has_time));
  off = ndims - 2; /* a file of one member has no member dimension (as l96's) */
  PetscCheck(has_time && (off == 0 || off == 1), m->comm, PETSC_ERR_FILE_UNEXPECTED,
             "%s: variable vorticity has %d non-time dimensions%s, expected (time, [member,] y, "
             "x)",
             GyreFilePath(file), ndims, has_time ? "" : " and no time");
  PetscCheck(lens[off] == (size_t) ns->ny && lens[off + 1] == (size_t) ns->nx, m->comm,
             PETSC_ERR_FILE_UNEXPECTED,
             "%s: vorticity is stored on a %zux%zu grid but this run computes on %" PetscInt_FMT
             "x%" PetscInt_FMT " (-grid_nx x -grid_ny): a state must be read at the "
             "computational resolution (a file written with -output_stride > 1 holds a coarse "
             "copy)",
             GyreFilePath(file), lens[off + 1], lens[off], ns->nx, ns->ny);
  if (off) {
    if (member < 0) member = 0;
    PetscCheck((size_t) member < lens[0], m->comm, PETSC_ERR_FILE_UNEXPECTED,
               "%s: vorticity has %zu members, this run -ensemble_size %" PetscInt_FMT
               " (member m starts from the file's member m): give -ensemble_size %zu at most",
               GyreFilePath(file), lens[0], m->ensemble_size, lens[0]);
    start[0] = (size_t) member;
    count[0] = 1;
  }
  PetscCall(GyreGridGetOwnership(ns->fine.grid, &xs, &ys, &xm, &ym));
  start[off]     = (size_t) ys;
  count[off]     = (size_t) ym;
  start[off + 1] = (size_t) xs;
  count[off + 1] = (size_t) xm;
  PetscCall(PetscMalloc1(xm * ym + 1, &buf));
  PetscCallGyre(m->comm, GyreFileReadBlock(file, "vorticity", rec, start, count, buf));
  PetscCall(DMDAVecGetArray(m->dm, U, &w));
  for (PetscInt j = 0; j < ym; j++)
    for (PetscInt i = 0; i < xm; i++)
      w[ys + j][xs + i] = buf[j * xm + i];
  PetscCall(DMDAVecRestoreArray(m->dm, U, &w));
  PetscCall(PetscFree(buf));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode NS2DDescribe(GyreModel m, char *buf, size_t len)
{
  NS2D *ns = (NS2D *) m->data;
  char  init[96];

  PetscFunctionBegin;
  if (ns->init == NS2D_INIT_GRF)
    PetscCall(PetscSNPrintf(init, sizeof init, "grf alpha=%.10g tau=%.10g", (double) ns->alpha,
                            (double) ns->tau));
  else
    PetscCall(PetscStrncpy(init, NS2DInitNames[ns->init], sizeof init));
  PetscCall(PetscSNPrintf(buf, len,
                          "nx=%" PetscInt_FMT " ny=%" PetscInt_FMT
                          " nu=%.10g forcing=%s init=%s stride=%" PetscInt_FMT " coarsen=%s",
                          ns->nx, ns->ny, (double) ns->nu, NS2DForcingNames[ns->forcing], init,
                          m->output_stride,
                          m->output_stride > 1 ? NS2DCoarsenNames[ns->coarsen_index] : "none"));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode NS2DDestroy(GyreModel m)
{
  NS2D *ns = (NS2D *) m->data;

  PetscFunctionBegin;
  if (!ns) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(VecDestroy(&ns->f));
  PetscCall(VecDestroy(&ns->work));
  PetscCall(VecDestroy(&ns->wbar));
  PetscCall(VecDestroy(&ns->abar));
  PetscCall(VecDestroy(&ns->cadv));
  PetscCall(NS2DSpaceDestroy(&ns->coarse)); /* the coarse grid belongs to the GyreCoarsen */
  PetscCall(GyreCoarsenDestroy(&ns->cg));
  PetscCall(NS2DSpaceDestroy(&ns->fine));
  PetscCall(GyreGridDestroy(&ns->fine.grid));
  PetscCall(PetscFree2(ns->xvals, ns->yvals));
  PetscCall(PetscFree(m->data));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Fills the ops table and the defaults of the 2-D Navier–Stokes model (see the top of this
 * file). Not collective. */
PetscErrorCode GyreModelCreate_NS2D(GyreModel m)
{
  NS2D *ns;

  PetscFunctionBegin;
  PetscCall(PetscNew(&ns));
  ns->nx            = 64;
  ns->ny            = 64;
  ns->nu            = 1e-3;
  ns->cfl           = 0.5;
  ns->alpha         = 2.5;
  ns->tau           = 7;
  ns->forcing       = NS2D_FORCING_LI;
  ns->init          = NS2D_INIT_GRF;
  ns->coarsen_index = 2; /* gaussian */
  m->data           = ns;

  m->ops.setfromoptions = NS2DSetFromOptions;
  m->ops.setup          = NS2DSetUp;
  m->ops.settsdefaults  = NS2DSetTSDefaults;
  m->ops.initialstate   = NS2DInitialState;
  m->ops.rhsexplicit    = NS2DRHSExplicit;
  m->ops.rhsimplicit    = NS2DRHSImplicit;
  m->ops.solveimplicit  = NS2DSolveImplicit;
  m->ops.stabledt       = NS2DStableDt;
  m->ops.invariants     = NS2DInvariants;
  m->ops.outputfield    = NS2DOutputField;
  m->ops.readstate      = NS2DReadState;
  m->ops.describe       = NS2DDescribe;
  m->ops.destroy        = NS2DDestroy;
  PetscFunctionReturn(PETSC_SUCCESS);
}
