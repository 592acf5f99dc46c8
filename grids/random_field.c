/* random_field.c — Gaussian random fields N(0, sigma^2 (-Lap + tau^2 I)^(-alpha)) on a plane,
 * identical on any number of ranks.
 *
 * Li et al.'s GaussianRF: v(x) = Re sum_k c_k e^{i k.x} over the full nx x ny grid of
 * wavenumbers, c_k = sqrt(2) sigma lambda_k xi_k, lambda_k = (|k|^2 + tau^2)^(-alpha/2),
 * lambda_0 = 0, xi_k = a + i b with a, b independent N(0, 1). Since
 * Re sum_k c_k e^{ik.x} = sum_k d_k e^{ik.x} with d_k = (c_k + conj(c_{-k}))/2 (indices
 * mod n), we build the Hermitian d_k for this rank's half-spectrum block and call the
 * un-normalised inverse transform. Var v(x) = sum_k 2 sigma^2 lambda_k^2.
 *
 * xi_k comes from a counter-based generator: splitmix64's finaliser hashes (seed, signed
 * kx, signed ky) into two uniforms, Box-Muller makes the pair (a, b). Every mode is
 * computed on its own, so no rank needs another's numbers, and because the key is the
 * signed wavenumber (not the array index) the same seed gives the same low modes at every
 * resolution with the same extents. */
#include "grid_impl.h"
#include <stdint.h>

/* splitmix64's output function (Steele, Lea & Flood 2014). */
static uint64_t Mix64(uint64_t z)
{
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

#define GOLDEN 0x9e3779b97f4a7c15ULL

/* Two independent standard normals for mode (kx, ky) of stream seed. */
static void ModeNormals(PetscInt64 seed, PetscInt kx, PetscInt ky, PetscReal *a, PetscReal *b)
{
  uint64_t        h     = Mix64((uint64_t) seed + GOLDEN);
  const PetscReal two53 = 1.0 / 9007199254740992.0; /* 2^-53 */
  PetscReal       u1, u2, rad;

  h   = Mix64(h ^ Mix64((uint64_t) (int64_t) kx + 2 * GOLDEN));
  h   = Mix64(h ^ Mix64((uint64_t) (int64_t) ky + 3 * GOLDEN));
  u1  = (PetscReal) ((Mix64(h + GOLDEN) >> 11) + 1) * two53; /* (0, 1] */
  u2  = (PetscReal) (Mix64(h + 2 * GOLDEN) >> 11) * two53;   /* [0, 1) */
  rad = PetscSqrtReal(-2.0 * PetscLogReal(u1));
  *a  = rad * PetscCosReal(2.0 * PETSC_PI * u2);
  *b  = rad * PetscSinReal(2.0 * PETSC_PI * u2);
}

/* c_k for the mode at array indices (i, j) of an nx x ny grid with extents Lx x Ly. */
static void Coefficient(GyreGrid g, PetscReal alpha, PetscReal tau, PetscReal sigma,
                        PetscInt64 seed, PetscInt i, PetscInt j, PetscReal c[2])
{
  const PetscInt kx = GyreSpectralWavenumber(i, g->nx), ky = GyreSpectralWavenumber(j, g->ny);
  PetscReal      qx, qy, lambda, a, b;

  if (kx == 0 && ky == 0) {
    c[0] = c[1] = 0.0;
    return;
  }
  qx     = 2.0 * PETSC_PI * (PetscReal) kx / g->Lx;
  qy     = 2.0 * PETSC_PI * (PetscReal) ky / g->Ly;
  lambda = PetscPowReal(qx * qx + qy * qy + tau * tau, -0.5 * alpha);
  ModeNormals(seed, kx, ky, &a, &b);
  c[0] = PETSC_SQRT2 * sigma * lambda * a;
  c[1] = PETSC_SQRT2 * sigma * lambda * b;
}

PetscErrorCode GyreGridRandomField(GyreGrid grid, PetscReal alpha, PetscReal tau, PetscReal sigma,
                                   PetscInt64 seed, Vec v)
{
  GyreGrid      g;
  GyreSpectral  sp;
  fftw_complex *d;
  double       *z;
  PetscInt      ys, ym, nkx;

  PetscFunctionBegin;
  PetscCheck(grid->type == GYRE_GRID_PLANE, grid->comm, PETSC_ERR_ARG_WRONG,
             "Gaussian random fields are drawn on planes, not rings");
  PetscCheck(tau > 0 || alpha <= 0 || grid->nx * grid->ny > 1, grid->comm, PETSC_ERR_ARG_OUTOFRANGE,
             "random field needs tau > 0 or a non-trivial grid");
  PetscCall(GyreGridGetScalarGrid_Private(grid, &g));
  PetscCall(GyreSpectralCreate(g, &sp));
  PetscCall(GyreSpectralAllocCoefficients(sp, &d));
  PetscCall(GyreSpectralGetLocalSize(sp, &ys, &ym, &nkx));
  z = (double *) d; /* (re, im) pairs, whatever fftw_complex's C type */
  for (PetscInt jl = 0; jl < ym; jl++) {
    const PetscInt j = ys + jl, jm = (g->ny - j) % g->ny;
    for (PetscInt i = 0; i < nkx; i++) {
      const PetscInt im = (g->nx - i) % g->nx;
      PetscReal      cp[2], cm[2];
      Coefficient(g, alpha, tau, sigma, seed, i, j, cp);
      Coefficient(g, alpha, tau, sigma, seed, im, jm, cm);
      z[2 * (jl * nkx + i)]     = 0.5 * (cp[0] + cm[0]);
      z[2 * (jl * nkx + i) + 1] = 0.5 * (cp[1] - cm[1]);
    }
  }
  PetscCall(GyreSpectralInverse(sp, d, v));
  fftw_free(d);
  PetscCall(GyreSpectralDestroy(&sp));
  PetscFunctionReturn(0);
}
