/* dense.c — the CPU dense (fully connected) layer: y = x W^T + b with OpenBLAS sgemm
 * (row-major). x (M, K): the first dimension is the batch, the rest are flattened. */
#include <cblas.h>
#include <stdlib.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include "cpu_ops.h"

GyreStatus GyreCPUDenseForward(GyreBackend *be, const GyreTensor *x, const GyreTensor *W,
                               const GyreTensor *b, GyreTensor *y)
{
  const int M = (int) x->shape[0], N = (int) W->shape[0], K = (int) (W->size / W->shape[0]);

  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, x->data, K, W->data, K, 0.0f,
              y->data, N);
  if (b) {
    const float *bd = b->data;
    float       *yd = y->data;
#pragma omp parallel for num_threads(be->threads) if ((size_t) M * N > 65536)
    for (int m = 0; m < M; m++)
      for (int n = 0; n < N; n++)
        yd[(size_t) m * N + n] += bd[n];
  }
  return GYRE_OK;
}

GyreStatus GyreCPUDenseBackward(GyreBackend *be, const GyreTensor *x, const GyreTensor *W,
                                const GyreTensor *dy, GyreTensor *dx, GyreTensor *dW,
                                GyreTensor *db)
{
  const int M = (int) x->shape[0], N = (int) W->shape[0], K = (int) (W->size / W->shape[0]);

  /* dx (M, K) = dy (M, N) W (N, K), overwritten */
  if (dx)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, K, N, 1.0f, dy->data, N, W->data, K,
                0.0f, dx->data, K);
  /* dW (N, K) += dy^T (N, M) x (M, K) */
  if (dW)
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, N, K, M, 1.0f, dy->data, N, x->data, K,
                1.0f, dW->data, K);
  /* db (N) += column sums of dy, in double, row by row (contiguous, vectorised; each column
   * summed in row order as before); threads take slices of the columns */
  if (db) {
    const float *g  = dy->data;
    float       *bd = db->data;
    int          nt = be->threads > 1 && (size_t) M * N > 65536 ? be->threads : 1;
#pragma omp parallel num_threads(nt)
    {
      int t = 0, T = 1;
#ifdef _OPENMP
      t = omp_get_thread_num(), T = omp_get_num_threads();
#endif
      int     n0 = (int) ((long) N * t / T), n1 = (int) ((long) N * (t + 1) / T);
      double *s = calloc((size_t) (n1 > n0 ? n1 - n0 : 1), sizeof(double));
      if (s) {
        for (int m = 0; m < M; m++) {
          const float *row = g + (size_t) m * N + n0;
          for (int n = 0; n < n1 - n0; n++)
            s[n] += row[n];
        }
        for (int n = n0; n < n1; n++)
          bd[n] += (float) s[n - n0];
      } else /* no scratch: the strided sum */
        for (int n = n0; n < n1; n++) {
          double c = 0;
          for (int m = 0; m < M; m++)
            c += g[(size_t) m * N + n];
          bd[n] += (float) c;
        }
      free(s);
    }
  }
  return GYRE_OK;
}
