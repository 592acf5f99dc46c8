/* test_metrics.c — the metric functions of validation/ on samples with known answers: the
 * exact W1 distance (equal and unequal sizes, ties), the centred ACC (1, -1, 0, exactly 1
 * for identical fields, NaN for a constant field), the ensemble CRPS, the histogram density,
 * the log10 spectral RMSE and the isotropic spectra of single Fourier modes (the peak in the
 * right shell, Parseval's totals, a domain of length 2 pi). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include "gyre_validation.h"

static int failures = 0;

static const double kTwoPi = 6.283185307179586476925;

static void Check(const char *what, double got, double want, double tol)
{
  int ok = isnan(want) ? isnan(got) : fabs(got - want) <= tol;
  printf("%-44s %.17g (expected %.17g) %s\n", what, got, want, ok ? "ok" : "FAIL");
  failures += !ok;
}

int main(void)
{
  /* W1 */
  const double a[3] = {0, 1, 2}, b[3] = {1, 2, 3}, c[1] = {0}, d[2] = {1, 3};
  const double e[2] = {0, 1}, f[4] = {0, 0, 1, 1}, g[4] = {-1, 0, 0, 5}, h[2] = {0, 2};
  Check("W1 {0,1,2} vs {1,2,3}", GyreMetricW1Sorted(3, a, 3, b), 1, 0);
  Check("W1 {0} vs {1,3}", GyreMetricW1Sorted(1, c, 2, d), 2, 1e-15);
  Check("W1 {1,3} vs {0}", GyreMetricW1Sorted(2, d, 1, c), 2, 1e-15);
  Check("W1 {0,1} vs {0,0,1,1} (same distribution)", GyreMetricW1Sorted(2, e, 4, f), 0, 0);
  /* F_g - F_h: -1..0: 1/4, 0..2: |3/4 - 1/2|, 2..5: |3/4 - 1| -> 1/4 + 1/2 + 3/4 */
  Check("W1 {-1,0,0,5} vs {0,2}", GyreMetricW1Sorted(4, g, 2, h), 1.5, 1e-15);
  Check("W1 of a sample with itself", GyreMetricW1Sorted(4, g, 4, g), 0, 0);
  Check("W1 of an empty sample", GyreMetricW1Sorted(0, a, 3, b), NAN, 0);

  /* ACC */
  const double x[4] = {1, 2, 3, 4}, y[4] = {2, 4, 6, 8}, z[4] = {4, 3, 2, 1};
  const double p[4] = {1, 0, -1, 0}, q[4] = {0, 1, 0, -1}, k[4] = {5, 5, 5, 5};
  const double s[5] = {0.1, -0.37, 2.5, 1e-3, -7.25}, t[5] = {10.1, 9.63, 12.5, 10.001, 2.75};
  Check("ACC of a linear pair", GyreMetricACC(4, x, y), 1, 1e-15);
  Check("ACC of a reversed pair", GyreMetricACC(4, x, z), -1, 1e-15);
  Check("ACC of orthogonal anomalies", GyreMetricACC(4, p, q), 0, 1e-15);
  Check("ACC of identical fields (exactly 1)", GyreMetricACC(5, s, s), 1, 0);
  Check("ACC is centred: field + 10", GyreMetricACC(5, s, t), 1, 1e-14);
  Check("ACC with a constant field", GyreMetricACC(4, x, k), NAN, 0);

  /* CRPS: one member -> |x - y|; {0,1} against 0 -> integral of (F - H)^2 = 1/4 */
  const double one[1] = {2}, two[2] = {0, 1}, three[3] = {-1, 0, 4};
  Check("CRPS of one member", GyreMetricCRPSSorted(1, one, -0.5), 2.5, 0);
  Check("CRPS {0,1} vs 0", GyreMetricCRPSSorted(2, two, 0), 0.25, 1e-15);
  /* mean|x - 1| = (2 + 1 + 3)/3 = 2; pairs |.|: 1, 5, 4 -> sum_ij = 20; 20/18 */
  Check("CRPS {-1,0,4} vs 1", GyreMetricCRPSSorted(3, three, 1), 2 - 20.0 / 18, 1e-15);

  /* histogram: bins [0,1) [1,2]; -1 and 3 outside */
  const double hs[7] = {-1, 0, 0.5, 1, 1, 2, 3}, he[3] = {0, 1, 2};
  double       hd[2];
  GyreMetricHistogramSorted(7, hs, 2, he, hd);
  Check("histogram density [0,1)", hd[0], 2.0 / 7, 1e-15);
  Check("histogram density [1,2] (right edge in)", hd[1], 3.0 / 7, 1e-15);

  /* log10 spectral RMSE: shell 0 skipped; TEST = 4 REF -> log10 4 */
  const double sr[4] = {123, 1, 10, 100}, st4[4] = {0, 4, 40, 400}, sz[4] = {0, 0, 0, 0};
  Check("log RMSE of identical spectra", GyreMetricLogSpectrumRMSE(4, sr, sr), 0, 0);
  Check("log RMSE of 4 x REF", GyreMetricLogSpectrumRMSE(4, sr, st4), log10(4.0), 1e-15);
  Check("log RMSE with REF zero", GyreMetricLogSpectrumRMSE(4, sz, st4), NAN, 0);

  /* spectra of single modes on 16 x 16 */
  {
    enum { NY = 16, NX = 16 };
    struct {
      const char *what;
      int         ky, kx, shell;
      double      len;
    } modes[3] = {{"cos(2 pi 3 x)", 0, 3, 3, 1},
                  {"sin(2 pi (4 y + 3 x)), |k| = 5", 4, 3, 5, 1},
                  {"cos(3 x) on [0, 2 pi)^2", 0, 3, 3, kTwoPi}};
    double       w[NY * NX], ke[16], ens[16], etot, ztot;
    GyreSpectrum sp;
    for (int m = 0; m < 3; m++) {
      char   what[128];
      size_t peak = 0;
      double k2   = (kTwoPi / modes[m].len) * (kTwoPi / modes[m].len) *
                  (modes[m].kx * modes[m].kx + modes[m].ky * modes[m].ky);
      if (GyreSpectrumCreate(NY, NX, modes[m].len, modes[m].len, &sp) != GYRE_OK) return 1;
      for (int j = 0; j < NY; j++)
        for (int i = 0; i < NX; i++) {
          double ph     = kTwoPi * ((double) modes[m].ky * j / NY + (double) modes[m].kx * i / NX);
          w[j * NX + i] = m == 1 ? sin(ph) : cos(ph);
        }
      GyreSpectrumApply(sp, w, ke, ens, &etot, &ztot);
      for (size_t sh = 1; sh < GyreSpectrumShells(sp); sh++)
        if (ens[sh] > ens[peak]) peak = sh;
      snprintf(what, sizeof what, "%s: peak shell", modes[m].what);
      Check(what, (double) peak, modes[m].shell, 0);
      snprintf(what, sizeof what, "%s: shells", modes[m].what);
      Check(what, (double) GyreSpectrumShells(sp), 9, 0);
      snprintf(what, sizeof what, "%s: wavenumber of the peak", modes[m].what);
      Check(what, GyreSpectrumWavenumber(sp, peak), sqrt(k2), 1e-12);
      snprintf(what, sizeof what, "%s: Z(peak) = mean(w^2)/2 = 1/4", modes[m].what);
      Check(what, ens[peak], 0.25, 1e-14);
      snprintf(what, sizeof what, "%s: E(peak) = Z / |k|^2", modes[m].what);
      Check(what, ke[peak], 0.25 / k2, 1e-14 / k2);
      snprintf(what, sizeof what, "%s: total energy", modes[m].what);
      Check(what, etot, 0.25 / k2, 1e-14 / k2);
      snprintf(what, sizeof what, "%s: total enstrophy", modes[m].what);
      Check(what, ztot, 0.25, 1e-14);
      GyreSpectrumDestroy(&sp);
    }
  }

  printf(failures ? "test_metrics: %d FAILED\n" : "test_metrics: ok\n", failures);
  return failures != 0;
}
