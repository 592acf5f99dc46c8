/* dense.c — the CPU dense (fully connected) layer: y = x W^T + b with OpenBLAS sgemm
 * (row-major). x (M, K): the first dimension is the batch, the rest are flattened. */
#include <cblas.h>
#include <stdlib.h>
#include <string.h>
#include "cpu_ops.h"

GyreStatus GyreCPUDenseForward(GyreBackend *be, const GyreTensor *x, const GyreTensor *W,
                               const GyreTensor *b, GyreTensor *y)
{
  const int M = (int) x->shape[0], N = (int) W->shape[0], K = (int) (W->size / W->shape[0]);

  /* with a bias, y starts as b in every row and the GEMM adds x W^T (beta = 1): no separate
   * pass over y, and OpenBLAS does not clear y first (its beta = 0 path) */
  if (b)
    for (int m = 0; m < M; m++)
      memcpy(y->data + (size_t) m * N, b->data, sizeof(float) * (size_t) N);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, x->data, K, W->data, K,
              b ? 1.0f : 0.0f, y->data, N);
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
  /* db (N) += column sums of dy = dy^T ones (OpenBLAS's vectorised GEMV, float sums) */
  if (db) {
    float *ones = malloc(sizeof(float) * (size_t) (M > 0 ? M : 1));
    if (!ones) return GyreStatusSet(GYRE_ERR_MEM, "cpu dense_backward: out of memory");
    for (int m = 0; m < M; m++)
      ones[m] = 1.0f;
    cblas_sgemv(CblasRowMajor, CblasTrans, M, N, 1.0f, dy->data, N, ones, 1, 1.0f, db->data, 1);
    free(ones);
  }
  return GYRE_OK;
}
