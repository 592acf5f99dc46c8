/* batchnorm.c — the CPU backend's batch-normalisation ops (semantics: gyre_nn.h).
 *
 * x is (N, C, ...): per channel c the reduction runs over the batch n and all spatial
 * points. Sums are accumulated in double, per thread, over (n, c) blocks so that the work
 * is spread over threads whether C is large (a CNN) or 1 (a single field); the per-thread
 * partial sums are then added in thread order (deterministic for a fixed thread count).
 *
 * Pointer conventions (all backends): the float arrays of length C (mean, invstd, gamma,
 * beta, mdy, mdyx) are backend memory; the double arrays of length C that the reductions
 * return (sum, sumsq, sdy, sdyx) are host memory, ready for MPI_Allreduce. */
#include <stdlib.h>
#include <string.h>
#include "cpu_ops.h"
#ifdef _OPENMP
#include <omp.h>
#endif

/* N, C and the spatial size S of an (N, C, ...) tensor */
static void bn_dims(const GyreTensor *x, int64_t *N, int64_t *C, int64_t *S)
{
  *N = x->shape[0];
  *C = x->ndim > 1 ? x->shape[1] : 1;
  *S = 1;
  for (int d = 2; d < x->ndim; d++)
    *S *= x->shape[d];
}

/* Per-channel sums over (n, space) of f1 and f2, where
 *   mode 0: f1 = x, f2 = x^2                          (bn_stats)
 *   mode 1: f1 = dy, f2 = dy (x - mean) invstd        (bn_backward_stats) */
static GyreStatus bn_reduce(GyreBackend *be, const char *op, int mode, const GyreTensor *x,
                            const GyreTensor *dy, const float *mean, const float *invstd,
                            double *s1, double *s2)
{
  int64_t N, C, S;
  int     nt = be->threads > 0 ? be->threads : 1;
  double *part;

  bn_dims(x, &N, &C, &S);
  if (N * S < 4096) nt = 1; /* not worth a thread team */
  part = calloc((size_t) nt * 2 * (size_t) C, sizeof *part);
  if (!part)
    return GyreStatusSet(GYRE_ERR_MEM, "cpu %s: out of memory allocating %zu bytes", op,
                         (size_t) nt * 2 * (size_t) C * sizeof *part);

#pragma omp parallel num_threads(nt)
  {
#ifdef _OPENMP
    int tid = omp_get_thread_num();
#else
    int tid = 0;
#endif
    double *p1 = part + (size_t) tid * 2 * (size_t) C, *p2 = p1 + C;
#pragma omp for collapse(2) schedule(static)
    for (int64_t n = 0; n < N; n++)
      for (int64_t c = 0; c < C; c++) {
        const float *xp = x->data + (n * C + c) * S;
        double       a = 0, b = 0;
        if (mode == 0) {
          for (int64_t s = 0; s < S; s++) {
            double v = xp[s];
            a += v;
            b += v * v;
          }
        } else {
          const float *dp = dy->data + (n * C + c) * S;
          double       m = mean[c], is = invstd[c];
          for (int64_t s = 0; s < S; s++) {
            double g = dp[s];
            a += g;
            b += g * ((xp[s] - m) * is);
          }
        }
        p1[c] += a;
        p2[c] += b;
      }
  }
  for (int64_t c = 0; c < C; c++) {
    s1[c] = 0;
    s2[c] = 0;
  }
  for (int t = 0; t < nt; t++)
    for (int64_t c = 0; c < C; c++) {
      s1[c] += part[(size_t) t * 2 * C + c];
      s2[c] += part[(size_t) t * 2 * C + C + c];
    }
  free(part);
  return GYRE_OK;
}

GyreStatus GyreCPUBNStats(GyreBackend *be, const GyreTensor *x, double *sum, double *sumsq)
{
  return bn_reduce(be, "bn_stats", 0, x, NULL, NULL, NULL, sum, sumsq);
}

GyreStatus GyreCPUBNBackwardStats(GyreBackend *be, const GyreTensor *x, const float *mean,
                                  const float *invstd, const GyreTensor *dy, double *sdy,
                                  double *sdyx)
{
  return bn_reduce(be, "bn_backward_stats", 1, x, dy, mean, invstd, sdy, sdyx);
}

GyreStatus GyreCPUBNForward(GyreBackend *be, const GyreTensor *x, const float *mean,
                            const float *invstd, const float *gamma, const float *beta,
                            GyreTensor *y)
{
  int64_t N, C, S;

  bn_dims(x, &N, &C, &S);
#pragma omp parallel for collapse(2) num_threads(be->threads) if (N * C * S > 65536)
  for (int64_t n = 0; n < N; n++)
    for (int64_t c = 0; c < C; c++) {
      const float *xp = x->data + (n * C + c) * S;
      float       *yp = y->data + (n * C + c) * S;
      float        sc = gamma[c] * invstd[c], m = mean[c], b = beta[c];
      for (int64_t s = 0; s < S; s++)
        yp[s] = (xp[s] - m) * sc + b;
    }
  return GYRE_OK;
}

GyreStatus GyreCPUBNBackward(GyreBackend *be, const GyreTensor *x, const float *mean,
                             const float *invstd, const float *gamma, const GyreTensor *dy,
                             const float *mdy, const float *mdyx, GyreTensor *dx)
{
  int64_t N, C, S;

  bn_dims(x, &N, &C, &S);
#pragma omp parallel for collapse(2) num_threads(be->threads) if (N * C * S > 65536)
  for (int64_t n = 0; n < N; n++)
    for (int64_t c = 0; c < C; c++) {
      const float *xp = x->data + (n * C + c) * S;
      const float *dp = dy->data + (n * C + c) * S;
      float       *op = dx->data + (n * C + c) * S; /* may alias dy: read before write */
      float        m = mean[c], is = invstd[c], sc = gamma[c] * invstd[c];
      float        a = mdy[c], b = mdyx[c];
      for (int64_t s = 0; s < S; s++) {
        float xhat = (xp[s] - m) * is;
        op[s]      = sc * (dp[s] - a - xhat * b);
      }
    }
  return GYRE_OK;
}
