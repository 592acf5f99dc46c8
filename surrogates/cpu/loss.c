/* loss.c — training losses on the CPU, accumulated in double:
 *  MSE: mean over all elements of (pred - target)^2; dpred = 2 (pred - target) / size;
 *  relative L2 (Li et al.'s LpLoss, p = 2, size_average): mean over samples n of
 *  r_n = ||pred_n - target_n||_2 / ||target_n||_2; dpred_n = (pred_n - target_n) /
 *  (N ||pred_n - target_n|| ||target_n||), taken as 0 where pred_n == target_n (the
 *  subgradient). A target sample of zero norm makes the loss undefined: GYRE_ERR_NAN naming
 *  the sample (LpLoss would return Inf/NaN silently). */
#include <math.h>
#include <stdlib.h>
#include "cpu_ops.h"

GyreStatus GyreCPUMSELoss(GyreBackend *be, const GyreTensor *pred, const GyreTensor *target,
                          double *loss, GyreTensor *dpred)
{
  const size_t n = pred->size;
  const float *p = pred->data, *t = target->data;
  double       s = 0;

#pragma omp parallel for num_threads(be->threads) reduction(+ : s) if (n > 65536)
  for (size_t i = 0; i < n; i++) {
    const double d = (double) p[i] - (double) t[i];
    s += d * d;
  }
  *loss = s / (double) n;
  if (dpred) {
    float       *g     = dpred->data;
    const double scale = 2.0 / (double) n;
#pragma omp parallel for num_threads(be->threads) if (n > 65536)
    for (size_t i = 0; i < n; i++)
      g[i] = (float) (scale * ((double) p[i] - (double) t[i]));
  }
  return GYRE_OK;
}

GyreStatus GyreCPURelL2Loss(GyreBackend *be, const GyreTensor *pred, const GyreTensor *target,
                            double *loss, GyreTensor *dpred)
{
  const int64_t N   = pred->shape[0];
  const size_t  per = pred->size / (size_t) N;
  const float  *p = pred->data, *t = target->data;
  double        total = 0;
  int64_t       bad   = -1;

#pragma omp parallel for num_threads(be->threads) reduction(+ : total) if (pred->size > 65536)
  for (int64_t s = 0; s < N; s++) {
    const float *ps = p + (size_t) s * per, *ts = t + (size_t) s * per;
    double       dd = 0, tt = 0;
    for (size_t i = 0; i < per; i++) {
      const double d = (double) ps[i] - (double) ts[i];
      dd += d * d;
      tt += (double) ts[i] * (double) ts[i];
    }
    if (tt == 0) {
#pragma omp critical(gyre_rel_l2_bad)
      if (bad < 0 || s < bad) bad = s;
      continue;
    }
    const double nd = sqrt(dd), nt = sqrt(tt);
    total += nd / nt;
    if (dpred) {
      float       *gs    = dpred->data + (size_t) s * per;
      const double scale = nd > 0 ? 1.0 / ((double) N * nd * nt) : 0.0;
      for (size_t i = 0; i < per; i++)
        gs[i] = (float) (scale * ((double) ps[i] - (double) ts[i]));
    }
  }
  if (bad >= 0)
    return GyreStatusSet(GYRE_ERR_NAN,
                         "cpu rel_l2_loss: target sample %lld has zero norm (relative L2 loss "
                         "undefined)",
                         (long long) bad);
  *loss = total / (double) N;
  return GYRE_OK;
}
