/* test_metrics.c — the metric functions of validation/ on samples with known answers: the
 * exact W1 distance (equal and unequal sizes, ties), the centred ACC (1, -1, 0, exactly 1
 * for identical fields, NaN for a constant field) and the ensemble CRPS. */
#include <math.h>
#include <stdio.h>
#include "gyre_validation.h"

static int failures = 0;

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

  printf(failures ? "test_metrics: %d FAILED\n" : "test_metrics: ok\n", failures);
  return failures != 0;
}
