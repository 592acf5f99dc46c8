/* test_spectral.c — FFTW-MPI transforms on the plane's row slabs: exact coefficients of a
 * known mode, round trip, and spectral derivatives. */
#include "grid_check.h"

/* Fills v(x, y) = fn(x, y) on this rank's rows. */
static PetscErrorCode Fill(GyreGrid g, Vec v,
                           PetscReal (*fn)(PetscReal, PetscReal, PetscReal, PetscReal))
{
  const PetscReal *x, *y;
  PetscInt         nx, ys, ym;
  PetscReal        Lx, Ly;
  PetscScalar     *a;

  PetscFunctionBegin;
  PetscCall(GyreGridGetSizes(g, &nx, NULL, &Lx, &Ly));
  PetscCall(GyreGridGetOwnership(g, NULL, &ys, NULL, &ym));
  PetscCall(GyreGridGetCoordinates(g, &x, &y));
  PetscCall(VecGetArray(v, &a));
  for (PetscInt j = 0; j < ym; j++)
    for (PetscInt i = 0; i < nx; i++)
      a[j * nx + i] = fn(x[i], y[ys + j], Lx, Ly);
  PetscCall(VecRestoreArray(v, &a));
  PetscFunctionReturn(0);
}

static PetscReal Mode(PetscReal x, PetscReal y, PetscReal Lx, PetscReal Ly)
{
  return PetscCosReal(2 * PETSC_PI * 3 * x / Lx) * PetscSinReal(2 * PETSC_PI * 2 * y / Ly);
}

/* A smooth non-band-limited field and its x derivative. */
static PetscReal Smooth(PetscReal x, PetscReal y, PetscReal Lx, PetscReal Ly)
{
  return PetscExpReal(PetscSinReal(2 * PETSC_PI * x / Lx)) * PetscCosReal(2 * PETSC_PI * y / Ly) +
         0.3 * PetscSinReal(2 * PETSC_PI * (5 * x / Lx + 3 * y / Ly));
}
static PetscReal SmoothDx(PetscReal x, PetscReal y, PetscReal Lx, PetscReal Ly)
{
  const PetscReal k = 2 * PETSC_PI / Lx;
  return k * PetscCosReal(k * x) * PetscExpReal(PetscSinReal(k * x)) *
             PetscCosReal(2 * PETSC_PI * y / Ly) +
         0.3 * 5 * k * PetscCosReal(2 * PETSC_PI * (5 * x / Lx + 3 * y / Ly));
}
static PetscReal SmoothDy(PetscReal x, PetscReal y, PetscReal Lx, PetscReal Ly)
{
  const PetscReal k = 2 * PETSC_PI / Ly;
  return -k * PetscExpReal(PetscSinReal(2 * PETSC_PI * x / Lx)) * PetscSinReal(k * y) +
         0.3 * 3 * k * PetscCosReal(2 * PETSC_PI * (5 * x / Lx + 3 * y / Ly));
}

/* max over all ranks of |a - b| */
static PetscErrorCode MaxDiff(Vec a, Vec b, PetscReal *d)
{
  Vec w;

  PetscFunctionBegin;
  PetscCall(VecDuplicate(a, &w));
  PetscCall(VecWAXPY(w, -1.0, a, b));
  PetscCall(VecNorm(w, NORM_INFINITY, d));
  PetscCall(VecDestroy(&w));
  PetscFunctionReturn(0);
}

int main(int argc, char **argv)
{
  const PetscInt  nx = 32, ny = 16;
  const PetscReal Lx = 1.0, Ly = 2.0;
  GyreGrid        g;
  GyreSpectral    sp;
  DM              dm;
  Vec             f, back, want, deriv;
  fftw_complex   *coef, *dcoef;
  PetscInt        ys, ym, nkx;
  PetscReal       err_mode = 0, err_others = 0, err_round, err_dx, err_dy;
  PetscMPIInt     size;

  PetscCall(PetscInitialize(&argc, &argv, NULL, NULL));
  PetscCallMPI(MPI_Comm_size(PETSC_COMM_WORLD, &size));
  PetscCall(GyreGridCreatePlane(PETSC_COMM_WORLD, nx, ny, Lx, Ly, 1, 1, 1, &g));
  PetscCall(GyreGridGetDM(g, &dm));
  PetscCall(DMCreateGlobalVector(dm, &f));
  PetscCall(VecDuplicate(f, &back));
  PetscCall(VecDuplicate(f, &want));
  PetscCall(VecDuplicate(f, &deriv));
  PetscCall(GyreSpectralCreate(g, &sp));
  PetscCall(GyreSpectralGetLocalSize(sp, &ys, &ym, &nkx));
  {
    PetscInt gys, gym;
    PetscCall(GyreGridGetOwnership(g, NULL, &gys, NULL, &gym));
    PetscCheck(ys == gys && ym == gym && nkx == nx / 2 + 1, PETSC_COMM_SELF, PETSC_ERR_PLIB,
               "spectral block rows [%d,+%d) x %d differ from the grid's [%d,+%d)", (int) ys,
               (int) ym, (int) nkx, (int) gys, (int) gym);
  }
  PetscCheck(GyreSpectralWavenumber(0, 8) == 0 && GyreSpectralWavenumber(3, 8) == 3 &&
                 GyreSpectralWavenumber(4, 8) == 4 && GyreSpectralWavenumber(5, 8) == -3 &&
                 GyreSpectralWavenumber(7, 8) == -1 && GyreSpectralWavenumber(3, 5) == -2,
             PETSC_COMM_SELF, PETSC_ERR_PLIB, "wavenumber convention");
  PetscCall(GyreSpectralAllocCoefficients(sp, &coef));
  PetscCall(GyreSpectralAllocCoefficients(sp, &dcoef));

  /* cos(2 pi 3x/Lx) sin(2 pi 2y/Ly) = coefficients -i/4 at (kx 3, ky 2), +i/4 at (3, -2) */
  PetscCall(Fill(g, f, Mode));
  PetscCall(GyreSpectralForward(sp, f, coef));
  for (PetscInt j = 0; j < ym; j++)
    for (PetscInt i = 0; i < nkx; i++) {
      const double  *c  = (const double *) &coef[j * nkx + i];
      const PetscInt ky = GyreSpectralWavenumber(ys + j, ny);
      PetscReal      re = 0, im = 0;
      if (i == 3 && ky == 2) im = -0.25;
      if (i == 3 && ky == -2) im = 0.25;
      if (re != 0 || im != 0)
        err_mode = PetscMax(err_mode, PetscAbsReal(c[0] - re) + PetscAbsReal(c[1] - im));
      else
        err_others = PetscMax(err_others, PetscAbsReal(c[0]) + PetscAbsReal(c[1]));
    }
  PetscCall(GlobalMax(PETSC_COMM_WORLD, &err_mode));
  PetscCall(GlobalMax(PETSC_COMM_WORLD, &err_others));
  CHECK_SMALL("error of the two expected coefficients", err_mode, 1e-15);
  CHECK_SMALL("largest other coefficient", err_others, 1e-14);

  /* a constant c has out[0][0] = c */
  PetscCall(VecSet(f, 2.5));
  PetscCall(GyreSpectralForward(sp, f, coef));
  if (ys == 0) CHECK_CLOSE("mean coefficient of 2.5", ((double *) coef)[0], 2.5, 1e-15);

  /* round trip of a non-band-limited field */
  PetscCall(Fill(g, f, Smooth));
  PetscCall(GyreSpectralForward(sp, f, coef));
  PetscCall(GyreSpectralInverse(sp, coef, back));
  PetscCall(MaxDiff(f, back, &err_round));
  CHECK_SMALL("inverse(forward(f)) - f", err_round, 1e-14);

  /* derivatives: multiply by i k (physical 2 pi n/L), Nyquist zeroed */
  for (int dir = 0; dir < 2; dir++) {
    for (PetscInt j = 0; j < ym; j++) {
      const PetscInt ky = GyreSpectralWavenumber(ys + j, ny);
      for (PetscInt i = 0; i < nkx; i++) {
        const PetscInt  kx = GyreSpectralWavenumber(i, nx);
        const PetscInt  n = dir == 0 ? kx : ky, N = dir == 0 ? nx : ny;
        const PetscReal k = 2 * PETSC_PI * n / (dir == 0 ? Lx : Ly) * (2 * n == N ? 0 : 1);
        const double   *c = (const double *) &coef[j * nkx + i];
        double         *d = (double *) &dcoef[j * nkx + i];
        d[0]              = -k * c[1];
        d[1]              = k * c[0];
      }
    }
    PetscCall(GyreSpectralInverse(sp, dcoef, deriv));
    PetscCall(Fill(g, want, dir == 0 ? SmoothDx : SmoothDy));
    PetscCall(MaxDiff(want, deriv, dir == 0 ? &err_dx : &err_dy));
  }
  CHECK_SMALL("spectral d/dx error", err_dx, 1e-12);
  CHECK_SMALL("spectral d/dy error", err_dy, 1e-12);

  PetscCall(PetscPrintf(PETSC_COMM_WORLD,
                        "spectral %dx%d on %d ranks: mode coefficient error %.1e, largest other "
                        "%.1e, round trip %.1e, d/dx %.1e, d/dy %.1e\n",
                        (int) nx, (int) ny, size, (double) err_mode, (double) err_others,
                        (double) err_round, (double) err_dx, (double) err_dy));
  fftw_free(coef);
  fftw_free(dcoef);
  PetscCall(GyreSpectralDestroy(&sp));
  PetscCall(VecDestroy(&deriv));
  PetscCall(VecDestroy(&want));
  PetscCall(VecDestroy(&back));
  PetscCall(VecDestroy(&f));
  PetscCall(GyreGridDestroy(&g));
  PetscCall(PetscFinalize());
  return 0;
}
