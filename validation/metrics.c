/* metrics.c — the metric functions of gyre compare, pure and unit-tested: the exact
 * Wasserstein-1 distance of two sorted samples, the centred anomaly correlation and the
 * ensemble CRPS, the histogram of a sorted sample.
 *
 * Decisions:
 * - W1 is computed from the sorted samples exactly (no histogram): for equal sizes the mean
 *   of |a_(i) - b_(i)|, otherwise the integral of |F_a - F_b| with the empirical CDFs kept as
 *   integer counts, so no rounding enters the CDFs.
 * - The ACC divides by sqrt(saa * sbb) (one square root), so identical fields give exactly 1. */
#include "gyre_validation.h"
#include <math.h>

double GyreMetricW1Sorted(size_t na, const double *a, size_t nb, const double *b)
{
  double w = 0, prev = 0;
  size_t i = 0, j = 0;

  if (!na || !nb) return NAN;
  if (na == nb) {
    for (size_t k = 0; k < na; k++)
      w += fabs(a[k] - b[k]);
    return w / (double) na;
  }
  while (i < na || j < nb) {
    double x = (j >= nb || (i < na && a[i] <= b[j])) ? a[i] : b[j];
    /* between prev and x, F_a = i/na and F_b = j/nb */
    if (i + j > 0) w += fabs((double) i * (double) nb - (double) j * (double) na) * (x - prev);
    while (i < na && a[i] == x)
      i++;
    while (j < nb && b[j] == x)
      j++;
    prev = x;
  }
  return w / ((double) na * (double) nb);
}

double GyreMetricACC(size_t n, const double *a, const double *b)
{
  double ma = 0, mb = 0, sab = 0, saa = 0, sbb = 0, r;

  if (!n) return NAN;
  for (size_t i = 0; i < n; i++)
    ma += a[i], mb += b[i];
  ma /= (double) n, mb /= (double) n;
  for (size_t i = 0; i < n; i++) {
    double da = a[i] - ma, db = b[i] - mb;
    sab += da * db, saa += da * da, sbb += db * db;
  }
  if (!(saa > 0) || !(sbb > 0)) return NAN;
  r = sab / sqrt(saa * sbb);
  return r > 1 ? 1 : r < -1 ? -1 : r;
}

double GyreMetricCRPSSorted(size_t m, const double *x, double y)
{
  double spread = 0, err = 0;

  if (!m) return NAN;
  for (size_t i = 0; i < m; i++) {
    err += fabs(x[i] - y);
    /* sum_ij |x_i - x_j| = 2 sum_i (2i - m + 1) x_(i), i from 0, for sorted x */
    spread += (2.0 * (double) i - (double) m + 1.0) * x[i];
  }
  return err / (double) m - spread / ((double) m * (double) m);
}

void GyreMetricHistogramSorted(size_t n, const double *x, size_t nbins, const double *edges,
                               double *density)
{
  size_t i = 0;

  for (size_t b = 0; b < nbins; b++) {
    size_t cnt = 0;
    while (i < n && x[i] < edges[b])
      i++; /* below the first edge */
    while (i < n && (x[i] < edges[b + 1] || (b + 1 == nbins && x[i] == edges[b + 1])))
      i++, cnt++;
    density[b] = n ? (double) cnt / ((double) n * (edges[b + 1] - edges[b])) : NAN;
  }
}
