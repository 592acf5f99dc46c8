/* dense.c — the CPU dense (fully connected) layer: y = x W^T + b with OpenBLAS sgemm
 * (row-major). x (M, K): the first dimension is the batch, the rest are flattened. */
#include <cblas.h>
#include <stdlib.h>
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
  /* db (N) += column sums of dy, in double */
  if (db) {
    const float *g  = dy->data;
    float       *bd = db->data;
#pragma omp parallel for num_threads(be->threads) if ((size_t) M * N > 65536)
    for (int n = 0; n < N; n++) {
      double s = 0;
      for (int m = 0; m < M; m++)
        s += g[(size_t) m * N + n];
      bd[n] += (float) s;
    }
  }
  return GYRE_OK;
}
