/* coarsen.c — coarse-graining a fine plane onto a coarse one by a factor r, rank-locally.
 *
 * The coarse plane's row slabs are the fine slabs divided by r (GyreGridCreatePlaneWithBlock
 * with block0/r), so coarse row jc lives on the rank that owns fine rows rJ..rJ+r-1 and no
 * coarse-graining needs communication except the Gaussian filter's FFTs. Coarse point (ic, jc)
 * sits at fine point (rI, rJ) (same extents, x_I = ic Lx/(nx/r)).
 *  - subsample: fine value at (rI, rJ) (Li et al.'s stored stride);
 *  - block: mean of the r x r fine points [rI, rI+r) x [rJ, rJ+r) — conserves the integral;
 *  - gaussian: G(k) = exp(-(kx^2 Dx^2 + ky^2 Dy^2)/24) with physical wavenumbers 2 pi n/L
 *    and D = 2 coarse spacings, modes with 2|n| >= coarse n in either direction zeroed
 *    (at and beyond the coarse Nyquist), inverse FFT on the fine grid, then subsample. */
#include "grid_impl.h"

const char *const GyreCoarsenTypes[] = {"subsample",       "block",         "gaussian",
                                        "GyreCoarsenType", "GYRE_COARSEN_", NULL};

struct _p_GyreCoarsen {
  GyreGrid        fine;   /* borrowed */
  GyreGrid        fine1;  /* borrowed: dof-1 layout of the fine plane */
  GyreGrid        coarse; /* owned */
  PetscInt        r;
  GyreCoarsenType type;
  GyreSpectral    sp;     /* gaussian: fine-grid transforms */
  fftw_complex   *coef;   /* gaussian: this rank's fine coefficients */
  PetscReal      *filter; /* gaussian: G(k) per local coefficient (0 beyond coarse Nyquist) */
  Vec             work;   /* gaussian: the filtered fine field */
};

PetscErrorCode GyreCoarsenTypeFromString(const char *s, GyreCoarsenType *type)
{
  PetscBool match;

  PetscFunctionBegin;
  for (int t = 0; t < 3; t++) {
    PetscCall(PetscStrcasecmp(s, GyreCoarsenTypes[t], &match));
    if (match) {
      *type = (GyreCoarsenType) t;
      PetscFunctionReturn(0);
    }
  }
  SETERRQ(PETSC_COMM_SELF, PETSC_ERR_ARG_UNKNOWN_TYPE,
          "unknown coarsening \"%s\": expected subsample, block or gaussian", s);
}

/* Fills cg->filter for this rank's block of fine coefficients. */
static PetscErrorCode BuildGaussianFilter(GyreCoarsen cg)
{
  GyreGrid        f   = cg->fine1;
  const PetscInt  ncx = f->nx / cg->r, ncy = f->ny / cg->r;
  const PetscReal Dx = 2.0 * f->Lx / (PetscReal) ncx, Dy = 2.0 * f->Ly / (PetscReal) ncy;
  PetscInt        ys, ym, nkx;

  PetscFunctionBegin;
  PetscCall(GyreSpectralGetLocalSize(cg->sp, &ys, &ym, &nkx));
  PetscCall(PetscMalloc1(PetscMax(1, ym * nkx), &cg->filter));
  for (PetscInt j = 0; j < ym; j++) {
    const PetscInt  ny_ = GyreSpectralWavenumber(ys + j, f->ny);
    const PetscReal ky  = 2.0 * PETSC_PI * (PetscReal) ny_ / f->Ly;
    for (PetscInt i = 0; i < nkx; i++) {
      const PetscInt  nx_ = GyreSpectralWavenumber(i, f->nx);
      const PetscReal kx  = 2.0 * PETSC_PI * (PetscReal) nx_ / f->Lx;
      const PetscBool cut = (2 * PetscAbsInt(nx_) >= ncx || 2 * PetscAbsInt(ny_) >= ncy);
      cg->filter[j * nkx + i] =
          cut ? 0.0 : PetscExpReal(-(kx * kx * Dx * Dx + ky * ky * Dy * Dy) / 24.0);
    }
  }
  PetscFunctionReturn(0);
}

PetscErrorCode GyreCoarsenCreate(GyreGrid fine, PetscInt r, GyreCoarsenType type, GyreCoarsen *cg)
{
  GyreCoarsen c;
  PetscInt    sw, cblock, crows_min;
  PetscMPIInt size;

  PetscFunctionBegin;
  *cg = NULL;
  PetscCheck(fine->type == GYRE_GRID_PLANE, fine->comm, PETSC_ERR_ARG_WRONG,
             "coarse-graining needs a plane, not a ring");
  PetscCheck(r >= 1, fine->comm, PETSC_ERR_ARG_OUTOFRANGE,
             "the coarsening stride must be >= 1, got r=%" PetscInt_FMT, r);
  PetscCheck(type >= GYRE_COARSEN_SUBSAMPLE && type <= GYRE_COARSEN_GAUSSIAN, fine->comm,
             PETSC_ERR_ARG_OUTOFRANGE, "unknown coarsening type %d", (int) type);
  PetscCheck(fine->nx % r == 0 && fine->ny % r == 0, fine->comm, PETSC_ERR_ARG_INCOMP,
             "grid nx=%" PetscInt_FMT " ny=%" PetscInt_FMT
             " is not divisible by the stride r=%" PetscInt_FMT,
             fine->nx, fine->ny, r);
  PetscCheck(fine->block0 % r == 0, fine->comm, PETSC_ERR_ARG_INCOMP,
             "the fine grid's row slabs of %" PetscInt_FMT
             " rows are not a multiple of the stride r=%" PetscInt_FMT
             ": create the fine plane with row_multiple %" PetscInt_FMT,
             fine->block0, r, r);
  PetscCallMPI(MPI_Comm_size(fine->comm, &size));
  cblock    = fine->block0 / r;
  crows_min = PetscMin(cblock, fine->ny / r - (PetscInt) (size - 1) * cblock);
  sw        = PetscMax(1, PetscMin(fine->sw, crows_min));
  PetscCall(PetscNew(&c));
  c->fine = fine;
  c->r    = r;
  c->type = type;
  PetscCall(GyreGridGetScalarGrid_Private(fine, &c->fine1));
  PetscCall(GyreGridCreatePlaneWithBlock(fine->comm, fine->nx / r, fine->ny / r, fine->Lx, fine->Ly,
                                         1, sw, cblock, &c->coarse));
  if (type == GYRE_COARSEN_GAUSSIAN) {
    PetscCall(GyreSpectralCreate(c->fine1, &c->sp));
    PetscCall(GyreSpectralAllocCoefficients(c->sp, &c->coef));
    PetscCall(DMCreateGlobalVector(c->fine1->dm, &c->work));
    PetscCall(BuildGaussianFilter(c));
  }
  *cg = c;
  PetscFunctionReturn(0);
}

PetscErrorCode GyreCoarsenDestroy(GyreCoarsen *cg)
{
  GyreCoarsen c;

  PetscFunctionBegin;
  if (!cg || !*cg) PetscFunctionReturn(0);
  c = *cg;
  PetscCall(VecDestroy(&c->work));
  PetscCall(PetscFree(c->filter));
  if (c->coef) fftw_free(c->coef);
  PetscCall(GyreSpectralDestroy(&c->sp));
  PetscCall(GyreGridDestroy(&c->coarse));
  PetscCall(PetscFree(c));
  *cg = NULL;
  PetscFunctionReturn(0);
}

PetscErrorCode GyreCoarsenGetCoarseGrid(GyreCoarsen cg, GyreGrid *coarse)
{
  PetscFunctionBegin;
  *coarse = cg->coarse;
  PetscFunctionReturn(0);
}

/* Checks that v is a dof-1 Vec with this rank's block of grid g. */
static PetscErrorCode CheckVec(GyreGrid g, Vec v, const char *which)
{
  PetscInt n, nlocal;

  PetscFunctionBegin;
  PetscCall(VecGetSize(v, &n));
  PetscCall(VecGetLocalSize(v, &nlocal));
  PetscCheck(n == g->nx * g->ny && nlocal == g->xm * g->ym, PETSC_COMM_SELF, PETSC_ERR_ARG_SIZ,
             "coarse-graining expects a dof-1 Vec of the %s %" PetscInt_FMT " x %" PetscInt_FMT
             " plane (%" PetscInt_FMT " entries here); got %" PetscInt_FMT " (%" PetscInt_FMT
             " here)",
             which, g->nx, g->ny, g->xm * g->ym, n, nlocal);
  PetscFunctionReturn(0);
}

PetscErrorCode GyreCoarsenApply(GyreCoarsen cg, Vec fine, Vec coarse)
{
  const PetscInt     r = cg->r, nx = cg->fine1->nx, ncx = cg->coarse->nx, ymc = cg->coarse->ym;
  const PetscScalar *f;
  PetscScalar       *c;
  Vec                src = fine;

  PetscFunctionBegin;
  PetscCall(CheckVec(cg->fine1, fine, "fine"));
  PetscCall(CheckVec(cg->coarse, coarse, "coarse"));
  if (cg->type == GYRE_COARSEN_GAUSSIAN) {
    PetscInt ym, nkx;
    PetscCall(GyreSpectralGetLocalSize(cg->sp, NULL, &ym, &nkx));
    PetscCall(GyreSpectralForward(cg->sp, fine, cg->coef));
    double *z = (double *) cg->coef; /* (re, im) pairs, whatever fftw_complex's C type */
    for (PetscInt k = 0; k < ym * nkx; k++) {
      z[2 * k] *= cg->filter[k];
      z[2 * k + 1] *= cg->filter[k];
    }
    PetscCall(GyreSpectralInverse(cg->sp, cg->coef, cg->work));
    src = cg->work;
  }
  /* local coarse row jc - ys_c comes from local fine rows r (jc - ys_c) ... + r - 1 */
  PetscCall(VecGetArrayRead(src, &f));
  PetscCall(VecGetArrayWrite(coarse, &c));
  if (cg->type == GYRE_COARSEN_BLOCK) {
    const PetscReal w = 1.0 / (PetscReal) (r * r);
    for (PetscInt jc = 0; jc < ymc; jc++)
      for (PetscInt ic = 0; ic < ncx; ic++) {
        PetscScalar sum = 0;
        for (PetscInt b = 0; b < r; b++)
          for (PetscInt a = 0; a < r; a++)
            sum += f[(r * jc + b) * nx + r * ic + a];
        c[jc * ncx + ic] = sum * w;
      }
  } else {
    for (PetscInt jc = 0; jc < ymc; jc++)
      for (PetscInt ic = 0; ic < ncx; ic++)
        c[jc * ncx + ic] = f[r * jc * nx + r * ic];
  }
  PetscCall(VecRestoreArrayWrite(coarse, &c));
  PetscCall(VecRestoreArrayRead(src, &f));
  PetscFunctionReturn(0);
}
