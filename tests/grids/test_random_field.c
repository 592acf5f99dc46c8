/* test_random_field.c — Gaussian random fields: identical whatever the number of ranks,
 * zero mean, the documented variance and spectrum, distinct seeds, and the same low modes
 * at every resolution. */
#include "grid_check.h"

/* Li et al.'s GaussianRF(2, s, alpha=2.5, tau=7): sigma = tau^(alpha - 1) = 7^1.5 */
static const PetscReal alpha_li = 2.5, tau_li = 7.0;
#define SIGMA_LI PetscPowReal(7.0, 1.5)

/* lambda_k = (|k|^2 + tau^2)^(-alpha/2) for integer wavenumbers (kx, ky) on Lx x Ly. */
static PetscReal Lambda(PetscInt kx, PetscInt ky, PetscReal Lx, PetscReal Ly, PetscReal alpha,
                        PetscReal tau)
{
  const PetscReal qx = 2 * PETSC_PI * kx / Lx, qy = 2 * PETSC_PI * ky / Ly;
  if (kx == 0 && ky == 0) return 0;
  return PetscPowReal(qx * qx + qy * qy + tau * tau, -alpha / 2);
}

/* Analytic variance sum_k 2 sigma^2 lambda_k^2 over the full n x n grid of wavenumbers, and
 * sum_k 8 sigma^4 lambda_k^4, the variance of one field's spatial mean of v^2. */
static void Moments(PetscInt n, PetscReal alpha, PetscReal tau, PetscReal sigma, PetscReal *var,
                    PetscReal *var_of_var)
{
  *var = *var_of_var = 0;
  for (PetscInt j = 0; j < n; j++)
    for (PetscInt i = 0; i < n; i++) {
      const PetscReal l2 = PetscSqr(
          Lambda(GyreSpectralWavenumber(i, n), GyreSpectralWavenumber(j, n), 1, 1, alpha, tau));
      *var += 2 * sigma * sigma * l2;
      *var_of_var += 8 * PetscPowReal(sigma, 4) * l2 * l2;
    }
}

/* The field on every rank count equals the one drawn on rank 0 alone, point by point. */
static PetscErrorCode CheckRankIndependence(PetscInt n, PetscInt64 seed, PetscReal *maxdiff,
                                            PetscReal *std)
{
  GyreGrid    g, gs = NULL;
  DM          dm;
  Vec         v, v0, vs = NULL;
  VecScatter  scatter;
  PetscMPIInt rank;
  PetscReal   diff = 0, vmax = 0, nrm;

  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_rank(PETSC_COMM_WORLD, &rank));
  PetscCall(GyreGridCreatePlane(PETSC_COMM_WORLD, n, n, 1, 1, 1, 1, 1, &g));
  PetscCall(GyreGridGetDM(g, &dm));
  PetscCall(DMCreateGlobalVector(dm, &v));
  PetscCall(GyreGridRandomField(g, alpha_li, tau_li, SIGMA_LI, seed, v));
  PetscCall(VecNorm(v, NORM_2, &nrm));
  *std = nrm / n;
  PetscCall(VecScatterCreateToZero(v, &scatter, &v0));
  PetscCall(VecScatterBegin(scatter, v, v0, INSERT_VALUES, SCATTER_FORWARD));
  PetscCall(VecScatterEnd(scatter, v, v0, INSERT_VALUES, SCATTER_FORWARD));
  if (rank == 0) {
    const PetscScalar *a, *b;
    DM                 dms;
    PetscCall(GyreGridCreatePlane(PETSC_COMM_SELF, n, n, 1, 1, 1, 1, 1, &gs));
    PetscCall(GyreGridGetDM(gs, &dms));
    PetscCall(DMCreateGlobalVector(dms, &vs));
    PetscCall(GyreGridRandomField(gs, alpha_li, tau_li, SIGMA_LI, seed, vs));
    PetscCall(VecGetArrayRead(v0, &a));
    PetscCall(VecGetArrayRead(vs, &b));
    for (PetscInt k = 0; k < n * n; k++) {
      diff = PetscMax(diff, PetscAbsScalar(a[k] - b[k]));
      vmax = PetscMax(vmax, PetscAbsScalar(b[k]));
    }
    PetscCall(VecRestoreArrayRead(vs, &b));
    PetscCall(VecRestoreArrayRead(v0, &a));
    diff /= vmax;
  }
  PetscCallMPI(MPI_Bcast(&diff, 1, MPIU_REAL, 0, PETSC_COMM_WORLD));
  *maxdiff = diff;
  PetscCall(VecDestroy(&vs));
  PetscCall(GyreGridDestroy(&gs));
  PetscCall(VecScatterDestroy(&scatter));
  PetscCall(VecDestroy(&v0));
  PetscCall(VecDestroy(&v));
  PetscCall(GyreGridDestroy(&g));
  PetscFunctionReturn(0);
}

/* Mean over nseeds fields of: the spatial mean of v^2 (*var) and, per band, the mean of
 * |d_k|^2 / (2 sigma^2 lambda_k^2) over the full-grid modes (*q_low: |kx|,|ky| < n/8, *q_high:
 * the rest), with the mode counts. */
static PetscErrorCode Statistics(PetscInt n, PetscReal alpha, PetscReal tau, PetscReal sigma,
                                 PetscInt nseeds, PetscReal *var, PetscReal *q_low,
                                 PetscReal *q_high, PetscReal *count_low, PetscReal *count_high,
                                 PetscReal *max_abs_mean)
{
  GyreGrid      g;
  GyreSpectral  sp;
  DM            dm;
  Vec           v;
  fftw_complex *d;
  PetscInt      ys, ym, nkx;
  PetscReal     sums[5] = {0, 0, 0, 0, 0};

  PetscFunctionBegin;
  PetscCall(GyreGridCreatePlane(PETSC_COMM_WORLD, n, n, 1, 1, 1, 1, 1, &g));
  PetscCall(GyreGridGetDM(g, &dm));
  PetscCall(DMCreateGlobalVector(dm, &v));
  PetscCall(GyreSpectralCreate(g, &sp));
  PetscCall(GyreSpectralAllocCoefficients(sp, &d));
  PetscCall(GyreSpectralGetLocalSize(sp, &ys, &ym, &nkx));
  *max_abs_mean = 0;
  for (PetscInt s = 0; s < nseeds; s++) {
    PetscReal   nrm;
    PetscScalar sum;
    PetscCall(GyreGridRandomField(g, alpha, tau, sigma, 1000 + s, v));
    PetscCall(VecNorm(v, NORM_2, &nrm));
    PetscCall(VecSum(v, &sum));
    *max_abs_mean = PetscMax(*max_abs_mean, PetscAbsScalar(sum) / (n * n));
    *var += nrm * nrm / (n * n) / nseeds;
    PetscCall(GyreSpectralForward(sp, v, d));
    for (PetscInt j = 0; j < ym; j++) {
      const PetscInt ky = GyreSpectralWavenumber(ys + j, n);
      for (PetscInt i = 0; i < nkx; i++) {
        const PetscInt  kx  = GyreSpectralWavenumber(i, n);
        const PetscReal w   = (i == 0 || 2 * i == n) ? 1 : 2; /* the mirrored half */
        const double   *c   = (const double *) &d[j * nkx + i];
        const PetscReal l   = Lambda(kx, ky, 1, 1, alpha, tau);
        const PetscBool low = (PetscBool) (8 * PetscAbsInt(kx) < n && 8 * PetscAbsInt(ky) < n);
        if (kx == 0 && ky == 0) continue;
        sums[low ? 0 : 1] += w * (c[0] * c[0] + c[1] * c[1]) / (2 * sigma * sigma * l * l);
        if (s == 0) sums[low ? 2 : 3] += w;
      }
    }
  }
  PetscCall(MPIU_Allreduce(MPI_IN_PLACE, sums, 4, MPIU_REAL, MPIU_SUM, PETSC_COMM_WORLD));
  *count_low  = sums[2];
  *count_high = sums[3];
  *q_low      = sums[0] / sums[2] / nseeds;
  *q_high     = sums[1] / sums[3] / nseeds;
  fftw_free(d);
  PetscCall(GyreSpectralDestroy(&sp));
  PetscCall(VecDestroy(&v));
  PetscCall(GyreGridDestroy(&g));
  PetscFunctionReturn(0);
}

int main(int argc, char **argv)
{
  const PetscInt nseeds = 16;
  PetscMPIInt    size;
  PetscReal      diff64, diff48, std64, std48, var64, vv64, var128, vv128, zvar, seeddiff, same_lo;
  PetscReal      var, q_low, q_high, n_low, n_high, mean_li, mean_flat, z_low, z_high;
  PetscReal      fvar, fq_low, fq_high, fn_low, fn_high, fz_low, fz_high;

  PetscCall(PetscInitialize(&argc, &argv, NULL, NULL));
  PetscCallMPI(MPI_Comm_size(PETSC_COMM_WORLD, &size));

  /* identical on any number of ranks: compared with the serial field on rank 0 */
  PetscCall(CheckRankIndependence(64, 42, &diff64, &std64));
  PetscCall(CheckRankIndependence(48, 7, &diff48, &std48));
  CHECK_SMALL("64^2 field: max |parallel - serial| / max |v|", diff64, 1e-12);
  CHECK_SMALL("48^2 field: max |parallel - serial| / max |v|", diff48, 1e-12);

  /* Li et al.'s parameters: analytic standard deviation on 64^2 */
  Moments(64, alpha_li, tau_li, SIGMA_LI, &var64, &vv64);
  PetscCall(PetscPrintf(PETSC_COMM_WORLD,
                        "GRF on %d ranks: parallel vs serial max relative difference %.1e (64^2), "
                        "%.1e (48^2)\n"
                        "Li et al. (alpha 2.5, tau 7, sigma 7^1.5) on 64^2: analytic std %.6f, "
                        "one sample (seed 42) std %.6f\n",
                        size, (double) diff64, (double) diff48, (double) PetscSqrtReal(var64),
                        (double) std64));
  CHECK_CLOSE("Li et al. analytic std on 64^2", PetscSqrtReal(var64), 0.26, 0.01);

  /* variance and spectrum over nseeds fields on 128^2, Li et al.'s parameters */
  Moments(128, alpha_li, tau_li, SIGMA_LI, &var128, &vv128);
  var = 0;
  PetscCall(Statistics(128, alpha_li, tau_li, SIGMA_LI, nseeds, &var, &q_low, &q_high, &n_low,
                       &n_high, &mean_li));
  zvar   = (var - var128) / PetscSqrtReal(vv128 / nseeds);
  z_low  = (q_low - 1) / PetscSqrtReal(2 / (n_low * nseeds));
  z_high = (q_high - 1) / PetscSqrtReal(2 / (n_high * nseeds));
  PetscCall(PetscPrintf(PETSC_COMM_WORLD,
                        "128^2, %d seeds: mean of spatial variance %.6f vs analytic %.6f "
                        "(z = %.2f, estimator std %.6f); normalised mode power low band %.4f "
                        "(z = %.2f), high band %.4f (z = %.2f); max |mean| %.1e\n",
                        (int) nseeds, (double) var, (double) var128, (double) zvar,
                        (double) PetscSqrtReal(vv128 / nseeds), (double) q_low, (double) z_low,
                        (double) q_high, (double) z_high, (double) mean_li));
  CHECK_SMALL("|z| of the sample variance", PetscAbsReal(zvar), 4.5);
  CHECK_SMALL("|z| of the low-band mode power", PetscAbsReal(z_low), 4.5);
  CHECK_SMALL("|z| of the high-band mode power", PetscAbsReal(z_high), 4.5);
  CHECK_SMALL("|spatial mean| (Li parameters)", mean_li, 1e-14);

  /* a flat spectrum (alpha 1, tau 3, sigma 1): many modes carry the variance */
  {
    PetscReal fvv, fvar_exact, fz;
    Moments(128, 1.0, 3.0, 1.0, &fvar_exact, &fvv);
    fvar = 0;
    PetscCall(
        Statistics(128, 1.0, 3.0, 1.0, 4, &fvar, &fq_low, &fq_high, &fn_low, &fn_high, &mean_flat));
    fz      = (fvar - fvar_exact) / PetscSqrtReal(fvv / 4);
    fz_low  = (fq_low - 1) / PetscSqrtReal(2 / (fn_low * 4));
    fz_high = (fq_high - 1) / PetscSqrtReal(2 / (fn_high * 4));
    PetscCall(PetscPrintf(PETSC_COMM_WORLD,
                          "128^2, 4 seeds, alpha 1, tau 3, sigma 1: variance %.6e vs analytic "
                          "%.6e (relative %.2e, z = %.2f); mode power low %.4f (z = %.2f), "
                          "high %.4f (z = %.2f); max |mean| %.1e\n",
                          (double) fvar, (double) fvar_exact,
                          (double) ((fvar - fvar_exact) / fvar_exact), (double) fz, (double) fq_low,
                          (double) fz_low, (double) fq_high, (double) fz_high, (double) mean_flat));
    CHECK_SMALL("|z| of the flat-spectrum variance", PetscAbsReal(fz), 4.5);
    CHECK_SMALL("|z| of the flat low-band mode power", PetscAbsReal(fz_low), 4.5);
    CHECK_SMALL("|z| of the flat high-band mode power", PetscAbsReal(fz_high), 4.5);
    CHECK_SMALL("|spatial mean| (flat)", mean_flat, 1e-14);
  }

  /* different seeds give different fields; the same seed gives the same low modes at 32^2
   * and 64^2 */
  {
    GyreGrid      g32, g64;
    GyreSpectral  s32, s64;
    DM            dm;
    Vec           a, b, c;
    fftw_complex *d32, *d64;
    PetscReal     na, nd, lo[2] = {0, 0};
    PetscInt      ys32, ym32, nk32, ys64, ym64, nk64;
    PetscCall(GyreGridCreatePlane(PETSC_COMM_WORLD, 64, 64, 1, 1, 1, 1, 1, &g64));
    PetscCall(GyreGridCreatePlane(PETSC_COMM_WORLD, 32, 32, 1, 1, 1, 1, 1, &g32));
    /* a dof-3 plane draws the same field into a Vec of its scalar layout */
    {
      GyreGrid  g3;
      DM        dm1;
      Vec       v1, v3;
      PetscReal d3;
      PetscCall(GyreGridCreatePlane(PETSC_COMM_WORLD, 32, 32, 1, 1, 3, 1, 1, &g3));
      PetscCall(GyreGridGetScalarDM(g3, &dm1));
      PetscCall(DMCreateGlobalVector(dm1, &v3));
      PetscCall(GyreGridGetDM(g32, &dm));
      PetscCall(DMCreateGlobalVector(dm, &v1));
      PetscCall(GyreGridRandomField(g3, alpha_li, tau_li, SIGMA_LI, 5, v3));
      PetscCall(GyreGridRandomField(g32, alpha_li, tau_li, SIGMA_LI, 5, v1));
      PetscCall(VecAXPY(v3, -1.0, v1));
      PetscCall(VecNorm(v3, NORM_INFINITY, &d3));
      CHECK_SMALL("dof-3 vs dof-1 plane field", d3, 0);
      PetscCall(VecDestroy(&v3));
      PetscCall(VecDestroy(&v1));
      PetscCall(GyreGridDestroy(&g3));
    }
    PetscCall(GyreGridGetDM(g64, &dm));
    PetscCall(DMCreateGlobalVector(dm, &a));
    PetscCall(VecDuplicate(a, &b));
    PetscCall(GyreGridRandomField(g64, alpha_li, tau_li, SIGMA_LI, 1, a));
    PetscCall(GyreGridRandomField(g64, alpha_li, tau_li, SIGMA_LI, 2, b));
    PetscCall(VecNorm(a, NORM_2, &na));
    PetscCall(VecAXPY(b, -1.0, a));
    PetscCall(VecNorm(b, NORM_2, &nd));
    seeddiff = nd / na;
    CHECK_SMALL("seeds 1 and 2 must differ: -||v1 - v2|| / ||v1||", -seeddiff, -0.5);

    PetscCall(GyreGridGetDM(g32, &dm));
    PetscCall(DMCreateGlobalVector(dm, &c));
    PetscCall(GyreGridRandomField(g32, alpha_li, tau_li, SIGMA_LI, 1, c));
    PetscCall(GyreSpectralCreate(g64, &s64));
    PetscCall(GyreSpectralCreate(g32, &s32));
    PetscCall(GyreSpectralAllocCoefficients(s64, &d64));
    PetscCall(GyreSpectralAllocCoefficients(s32, &d32));
    PetscCall(GyreSpectralForward(s64, a, d64));
    PetscCall(GyreSpectralForward(s32, c, d32));
    PetscCall(GyreSpectralGetLocalSize(s64, &ys64, &ym64, &nk64));
    PetscCall(GyreSpectralGetLocalSize(s32, &ys32, &ym32, &nk32));
    /* mode (kx 1..3, ky 2): row 2 is the third row of both grids */
    if (ys64 <= 2 && 2 < ys64 + ym64 && ys32 <= 2 && 2 < ys32 + ym32)
      for (PetscInt i = 1; i <= 3; i++) {
        const double *p = (const double *) &d64[(2 - ys64) * nk64 + i];
        const double *q = (const double *) &d32[(2 - ys32) * nk32 + i];
        lo[0]           = PetscMax(lo[0], PetscAbsReal(p[0] - q[0]) + PetscAbsReal(p[1] - q[1]));
        lo[1]           = PetscMax(lo[1], PetscAbsReal(p[0]) + PetscAbsReal(p[1]));
      }
    PetscCall(MPIU_Allreduce(MPI_IN_PLACE, lo, 2, MPIU_REAL, MPIU_MAX, PETSC_COMM_WORLD));
    same_lo = lo[0] / lo[1];
    CHECK_SMALL("same seed, 32^2 vs 64^2: relative difference of modes (1..3, 2)", same_lo, 1e-13);
    PetscCall(PetscPrintf(PETSC_COMM_WORLD,
                          "seeds 1 vs 2: ||v1 - v2|| / ||v1|| = %.3f; 32^2 vs 64^2 low modes "
                          "relative difference %.1e\n",
                          (double) seeddiff, (double) same_lo));
    fftw_free(d32);
    fftw_free(d64);
    PetscCall(GyreSpectralDestroy(&s32));
    PetscCall(GyreSpectralDestroy(&s64));
    PetscCall(VecDestroy(&c));
    PetscCall(VecDestroy(&b));
    PetscCall(VecDestroy(&a));
    PetscCall(GyreGridDestroy(&g32));
    PetscCall(GyreGridDestroy(&g64));
  }
  PetscCall(PetscFinalize());
  return 0;
}
