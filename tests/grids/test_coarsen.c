/* test_coarsen.c — coarse-graining a plane by r = 2 and 4: subsample, block mean and the
 * spectral Gaussian filter, checked against closed forms; conservation; error cases. */
#include "grid_check.h"

static const PetscReal Lx = 2.0, Ly = 1.0;

typedef PetscReal (*Field)(PetscReal x, PetscReal y);

static PetscReal Wave(PetscReal x, PetscReal y) /* cos(2 pi (3x/Lx + 2y/Ly) + 0.3) */
{
  return PetscCosReal(2 * PETSC_PI * (3 * x / Lx + 2 * y / Ly) + 0.3);
}
static PetscReal Smooth(PetscReal x, PetscReal y)
{
  return 1.5 + PetscExpReal(PetscSinReal(2 * PETSC_PI * x / Lx)) *
                   PetscCosReal(2 * PETSC_PI * y / Ly + PetscSinReal(2 * PETSC_PI * x / Lx));
}
/* 0.5 + a resolved mode (2, 3) + two modes at or beyond the coarse Nyquist for r >= 2 */
static PetscReal Modes(PetscReal x, PetscReal y)
{
  return 0.5 + PetscCosReal(2 * PETSC_PI * 2 * x / Lx) * PetscCosReal(2 * PETSC_PI * 3 * y / Ly) +
         0.7 * PetscSinReal(2 * PETSC_PI * 9 * x / Lx) +
         0.2 * PetscCosReal(2 * PETSC_PI * 8 * y / Ly);
}

static PetscErrorCode Fill(GyreGrid g, Vec v, Field fn)
{
  const PetscReal *x, *y;
  PetscInt         nx, ys, ym;
  PetscScalar     *a;

  PetscFunctionBegin;
  PetscCall(GyreGridGetSizes(g, &nx, NULL, NULL, NULL));
  PetscCall(GyreGridGetOwnership(g, NULL, &ys, NULL, &ym));
  PetscCall(GyreGridGetCoordinates(g, &x, &y));
  PetscCall(VecGetArray(v, &a));
  for (PetscInt j = 0; j < ym; j++)
    for (PetscInt i = 0; i < nx; i++)
      a[j * nx + i] = fn(x[i], y[ys + j]);
  PetscCall(VecRestoreArray(v, &a));
  PetscFunctionReturn(0);
}

/* Runs the checks for one stride r; prints the measured errors. */
static PetscErrorCode CheckStride(GyreGrid fine, PetscInt r)
{
  const PetscInt   nx = 32, ny = 32, ncx = nx / r, ncy = ny / r;
  GyreCoarsen      sub, blk, gau;
  GyreGrid         coarse;
  DM               dmf, dmc;
  Vec              f, c;
  PetscInt         ysf, ymf, ysc, ymc, cnx, cny;
  const PetscReal *xc, *yc;
  const PetscReal  dxf = Lx / nx, dyf = Ly / ny;
  PetscReal        e_sub = 0, e_blk = 0, e_gau = 0, e_cons, e_mean, If, Ic, Ifs, Ics;
  PetscScalar     *a;

  PetscFunctionBegin;
  PetscCall(GyreCoarsenCreate(fine, r, GYRE_COARSEN_SUBSAMPLE, &sub));
  PetscCall(GyreCoarsenCreate(fine, r, GYRE_COARSEN_BLOCK, &blk));
  PetscCall(GyreCoarsenCreate(fine, r, GYRE_COARSEN_GAUSSIAN, &gau));
  PetscCall(GyreCoarsenGetCoarseGrid(sub, &coarse));
  PetscCall(GyreGridGetSizes(coarse, &cnx, &cny, NULL, NULL));
  PetscCall(GyreGridGetOwnership(fine, NULL, &ysf, NULL, &ymf));
  PetscCall(GyreGridGetOwnership(coarse, NULL, &ysc, NULL, &ymc));
  PetscCheck(cnx == ncx && cny == ncy && ysc * r == ysf && ymc * r == ymf, PETSC_COMM_SELF,
             PETSC_ERR_PLIB, "coarse %dx%d rows [%d,+%d) for fine rows [%d,+%d), r=%d", (int) cnx,
             (int) cny, (int) ysc, (int) ymc, (int) ysf, (int) ymf, (int) r);
  PetscCall(GyreGridGetCoordinates(coarse, &xc, &yc));
  PetscCall(GyreGridGetDM(fine, &dmf));
  PetscCall(GyreGridGetDM(coarse, &dmc));
  PetscCall(DMCreateGlobalVector(dmf, &f));
  PetscCall(DMCreateGlobalVector(dmc, &c));

  /* subsample picks fine point (r ic, r jc) exactly: f = i + 1000 j */
  PetscCall(VecGetArray(f, &a));
  for (PetscInt j = 0; j < ymf; j++)
    for (PetscInt i = 0; i < nx; i++)
      a[j * nx + i] = i + 1000.0 * (ysf + j);
  PetscCall(VecRestoreArray(f, &a));
  PetscCall(GyreCoarsenApply(sub, f, c));
  PetscCall(VecGetArray(c, &a));
  for (PetscInt jc = 0; jc < ymc; jc++)
    for (PetscInt ic = 0; ic < ncx; ic++)
      e_sub = PetscMax(e_sub, PetscAbsReal(PetscRealPart(a[jc * ncx + ic]) -
                                           (r * ic + 1000.0 * r * (ysc + jc))));
  PetscCall(VecRestoreArray(c, &a));
  PetscCall(GlobalMax(PETSC_COMM_WORLD, &e_sub));
  CHECK_SMALL("subsample error", e_sub, 0);

  /* block mean of cos(theta_x i + theta_y j + phase): the block centre's value times the
   * Dirichlet factors sin(r t/2)/(r sin(t/2)) */
  {
    const PetscReal tx = 2 * PETSC_PI * 3 / nx, ty = 2 * PETSC_PI * 2 / ny;
    const PetscReal Fx = PetscSinReal(r * tx / 2) / (r * PetscSinReal(tx / 2));
    const PetscReal Fy = PetscSinReal(r * ty / 2) / (r * PetscSinReal(ty / 2));
    PetscCall(Fill(fine, f, Wave));
    PetscCall(GyreCoarsenApply(blk, f, c));
    PetscCall(VecGetArray(c, &a));
    for (PetscInt jc = 0; jc < ymc; jc++)
      for (PetscInt ic = 0; ic < ncx; ic++) {
        const PetscReal want =
            Fx * Fy * Wave(xc[ic] + 0.5 * (r - 1) * dxf, yc[ysc + jc] + 0.5 * (r - 1) * dyf);
        e_blk = PetscMax(e_blk, PetscAbsReal(PetscRealPart(a[jc * ncx + ic]) - want));
      }
    PetscCall(VecRestoreArray(c, &a));
    PetscCall(GlobalMax(PETSC_COMM_WORLD, &e_blk));
    CHECK_SMALL("block mean of a Fourier mode", e_blk, 1e-14);
  }
  /* block mean conserves the integral of any field */
  PetscCall(Fill(fine, f, Smooth));
  PetscCall(GyreCoarsenApply(blk, f, c));
  PetscCall(GyreGridIntegrate(fine, f, &If));
  PetscCall(GyreGridIntegrate(coarse, c, &Ic));
  e_cons = PetscAbsReal(Ic - If) / PetscAbsReal(If);
  CHECK_SMALL("block mean: relative change of the integral", e_cons, 1e-14);

  /* Gaussian: the resolved mode (2, 3) scaled by exactly G(k), the others removed */
  {
    const PetscReal kx = 2 * PETSC_PI * 2 / Lx, ky = 2 * PETSC_PI * 3 / Ly;
    const PetscReal Dx = 2 * Lx / ncx, Dy = 2 * Ly / ncy;
    const PetscReal G = PetscExpReal(-(kx * kx * Dx * Dx + ky * ky * Dy * Dy) / 24);
    PetscCall(Fill(fine, f, Modes));
    PetscCall(GyreCoarsenApply(gau, f, c));
    PetscCall(VecGetArray(c, &a));
    for (PetscInt jc = 0; jc < ymc; jc++)
      for (PetscInt ic = 0; ic < ncx; ic++) {
        const PetscReal want =
            0.5 + G * PetscCosReal(kx * xc[ic]) * PetscCosReal(ky * yc[ysc + jc]);
        e_gau = PetscMax(e_gau, PetscAbsReal(PetscRealPart(a[jc * ncx + ic]) - want));
      }
    PetscCall(VecRestoreArray(c, &a));
    PetscCall(GlobalMax(PETSC_COMM_WORLD, &e_gau));
    CHECK_SMALL("Gaussian filter of single modes", e_gau, 1e-14);
    PetscCall(PetscPrintf(PETSC_COMM_WORLD, "  r=%d: G(k=(2,3)) = %.15f\n", (int) r, (double) G));
  }
  /* Gaussian keeps the mean of any field */
  PetscCall(Fill(fine, f, Smooth));
  PetscCall(GyreCoarsenApply(gau, f, c));
  PetscCall(GyreGridIntegrate(fine, f, &Ifs));
  PetscCall(GyreGridIntegrate(coarse, c, &Ics));
  e_mean = PetscAbsReal(Ics - Ifs) / PetscAbsReal(Ifs);
  CHECK_SMALL("Gaussian: relative change of the mean", e_mean, 1e-14);

  PetscCall(PetscPrintf(PETSC_COMM_WORLD,
                        "  r=%d: coarse %dx%d; subsample error %.1e, block-mean error %.1e, block "
                        "integral change %.1e (integral %.15f), Gaussian error %.1e, Gaussian mean "
                        "change %.1e\n",
                        (int) r, (int) ncx, (int) ncy, (double) e_sub, (double) e_blk,
                        (double) e_cons, (double) If, (double) e_gau, (double) e_mean));
  PetscCall(VecDestroy(&c));
  PetscCall(VecDestroy(&f));
  PetscCall(GyreCoarsenDestroy(&gau));
  PetscCall(GyreCoarsenDestroy(&blk));
  PetscCall(GyreCoarsenDestroy(&sub));
  PetscFunctionReturn(0);
}

int main(int argc, char **argv)
{
  GyreGrid        fine, fine2;
  GyreCoarsen     cg = NULL;
  GyreCoarsenType t;
  PetscErrorCode  ierr;
  PetscMPIInt     size;

  PetscCall(PetscInitialize(&argc, &argv, NULL, NULL));
  PetscCallMPI(MPI_Comm_size(PETSC_COMM_WORLD, &size));
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "coarsen 32x32 (Lx=%g, Ly=%g) on %d ranks\n", (double) Lx,
                        (double) Ly, size));
  PetscCall(GyreGridCreatePlane(PETSC_COMM_WORLD, 32, 32, Lx, Ly, 1, 1, 4, &fine));
  PetscCall(CheckStride(fine, 2));
  PetscCall(CheckStride(fine, 4));

  /* a dof-2 fine plane coarsens its dof-1 Vecs exactly like the dof-1 plane */
  {
    GyreGrid    fine_d2, coarse1, coarse2;
    GyreCoarsen g1, g2;
    DM          dm1, dmc1, dmc2;
    Vec         f, c1, c2;
    PetscReal   d;
    PetscCall(GyreGridCreatePlane(PETSC_COMM_WORLD, 32, 32, Lx, Ly, 2, 1, 4, &fine_d2));
    PetscCall(GyreCoarsenCreate(fine, 2, GYRE_COARSEN_GAUSSIAN, &g1));
    PetscCall(GyreCoarsenCreate(fine_d2, 2, GYRE_COARSEN_GAUSSIAN, &g2));
    PetscCall(GyreGridGetScalarDM(fine_d2, &dm1));
    PetscCall(DMCreateGlobalVector(dm1, &f));
    PetscCall(Fill(fine, f, Smooth));
    PetscCall(GyreCoarsenGetCoarseGrid(g1, &coarse1));
    PetscCall(GyreCoarsenGetCoarseGrid(g2, &coarse2));
    PetscCall(GyreGridGetDM(coarse1, &dmc1));
    PetscCall(GyreGridGetDM(coarse2, &dmc2));
    PetscCall(DMCreateGlobalVector(dmc1, &c1));
    PetscCall(DMCreateGlobalVector(dmc2, &c2));
    PetscCall(GyreCoarsenApply(g1, f, c1));
    PetscCall(GyreCoarsenApply(g2, f, c2));
    PetscCall(VecAXPY(c2, -1.0, c1));
    PetscCall(VecNorm(c2, NORM_INFINITY, &d));
    CHECK_SMALL("dof-2 vs dof-1 fine plane, Gaussian coarsening", d, 0);
    PetscCall(VecDestroy(&c2));
    PetscCall(VecDestroy(&c1));
    PetscCall(VecDestroy(&f));
    PetscCall(GyreCoarsenDestroy(&g2));
    PetscCall(GyreCoarsenDestroy(&g1));
    PetscCall(GyreGridDestroy(&fine_d2));
  }

  PetscCall(GyreCoarsenTypeFromString("Gaussian", &t));
  PetscCheck(t == GYRE_COARSEN_GAUSSIAN, PETSC_COMM_SELF, PETSC_ERR_PLIB, "type from string");

  /* errors: a stride that does not divide the grid; slabs that are not a multiple of r */
  PetscCall(PetscPushErrorHandler(PetscReturnErrorHandler, NULL));
  ierr = GyreCoarsenCreate(fine, 3, GYRE_COARSEN_BLOCK, &cg);
  PetscCall(PetscPopErrorHandler());
  PetscCheck(ierr == PETSC_ERR_ARG_INCOMP && !cg, PETSC_COMM_SELF, PETSC_ERR_PLIB,
             "stride 3 on 32x32 gave error %d", (int) ierr);
  PetscCall(PetscPushErrorHandler(PetscReturnErrorHandler, NULL));
  ierr = GyreCoarsenTypeFromString("median", &t);
  PetscCall(PetscPopErrorHandler());
  PetscCheck(ierr == PETSC_ERR_ARG_UNKNOWN_TYPE, PETSC_COMM_SELF, PETSC_ERR_PLIB,
             "unknown type gave error %d", (int) ierr);
  /* 12 rows, row multiple 1: slabs of 12 (1 rank), 6 (2 ranks), 3 (4 ranks); r = 4 */
  PetscCall(GyreGridCreatePlane(PETSC_COMM_WORLD, 12, 12, 1.0, 1.0, 1, 1, 1, &fine2));
  PetscCall(PetscPushErrorHandler(PetscReturnErrorHandler, NULL));
  ierr = GyreCoarsenCreate(fine2, 4, GYRE_COARSEN_SUBSAMPLE, &cg);
  PetscCall(PetscPopErrorHandler());
  PetscCheck(size == 1 ? (ierr == 0 && cg) : (ierr == PETSC_ERR_ARG_INCOMP && !cg), PETSC_COMM_SELF,
             PETSC_ERR_PLIB, "12 rows on %d ranks with r=4 gave error %d", size, (int) ierr);
  PetscCall(GyreCoarsenDestroy(&cg));
  PetscCall(GyreGridDestroy(&fine2));
  PetscCall(GyreGridDestroy(&fine));
  PetscCall(PetscFinalize());
  return 0;
}
