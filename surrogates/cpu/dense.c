/* dense.c — the CPU dense (fully connected) layer: y = x W^T + b with OpenBLAS sgemm
 * (row-major), or a direct kernel for small layers. x (M, K): the first dimension is the batch, the
 * rest are flattened. */
#include <cblas.h>
#include <stdlib.h>
#include <string.h>
#include "cpu_ops.h"

/* Small layers (M N K <= DENSE_DIRECT_MACS, e.g. a closure MLP on a rank's few points): a
 * direct kernel instead of sgemm, whose set-up (about 3,500 instructions a call in OpenBLAS)
 * was most of such a call's cost. Each output is its own dot product in a fixed order, so a
 * row's result does not depend on how many rows the call has: on AVX2 + FMA, x[m, 8i + l] W[n,
 * 8i + l] summed per lane l over i by FMA, the 8 lanes then added pairwise (hadd), plus the
 * bias; elsewhere a plain loop over k. Not bitwise sgemm's (the order of the sums differs, by
 * float rounding). GYRE_DENSE_DIRECT=0 turns it off (comparisons). */
#define DENSE_DIRECT_MACS 32768

static void dense_direct_generic(int M, int N, int K, const float *x, const float *W,
                                 const float *b, float *y)
{
  for (int m = 0; m < M; m++)
    for (int n = 0; n < N; n++) {
      float s = 0.0f;
      for (int k = 0; k < K; k++)
        s += x[(size_t) m * K + k] * W[(size_t) n * K + k];
      y[(size_t) m * N + n] = b ? s + b[n] : s;
    }
}

#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>

/* the 8 lanes of each of a[0..7] summed: lane j of the result is the sum of a[j]'s lanes */
__attribute__((target("avx2,fma"), always_inline)) static inline __m256 hsum8x8(const __m256 *a)
{
  const __m256 t0 = _mm256_hadd_ps(a[0], a[1]), t1 = _mm256_hadd_ps(a[2], a[3]);
  const __m256 t2 = _mm256_hadd_ps(a[4], a[5]), t3 = _mm256_hadd_ps(a[6], a[7]);
  const __m256 u0 = _mm256_hadd_ps(t0, t1), u1 = _mm256_hadd_ps(t2, t3);
  /* u0 = [s0 s1 s2 s3 | s0' s1' s2' s3'] (low and high halves of the 8 lanes), u1 likewise */
  return _mm256_add_ps(_mm256_permute2f128_ps(u0, u1, 0x20), _mm256_permute2f128_ps(u0, u1, 0x31));
}

__attribute__((target("avx2,fma"))) static void
dense_direct_avx2(int M, int N, int K, const float *x, const float *W, const float *b, float *y)
{
  /* the last K % 8 columns through masked loads (zeros beyond K) */
  const int     kt = K & ~7, rem = K - kt;
  const __m256i mask =
      _mm256_cmpgt_epi32(_mm256_set1_epi32(rem), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  int n = 0;
  /* blocks of 8 outputs, the rows inside (the 8 weight rows' addresses set up once a block) */
  for (; n + 8 <= N; n += 8) {
    const float *w0 = W + (size_t) n * K, *w1 = w0 + K, *w2 = w1 + K, *w3 = w2 + K, *w4 = w3 + K,
                *w5 = w4 + K, *w6 = w5 + K, *w7 = w6 + K;
    const __m256 bn = b ? _mm256_loadu_ps(b + n) : _mm256_setzero_ps();
    for (int m = 0; m < M; m++) {
      const float *xm = x + (size_t) m * K;
      /* eight accumulators in registers (written out: GCC -O2 keeps an array of them in memory) */
      __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0,
             a7 = a0;
#define DENSE_FMA8(LOAD, k, xv)                                                                    \
  do {                                                                                             \
    a0 = _mm256_fmadd_ps(LOAD(w0 + (k)), xv, a0);                                                  \
    a1 = _mm256_fmadd_ps(LOAD(w1 + (k)), xv, a1);                                                  \
    a2 = _mm256_fmadd_ps(LOAD(w2 + (k)), xv, a2);                                                  \
    a3 = _mm256_fmadd_ps(LOAD(w3 + (k)), xv, a3);                                                  \
    a4 = _mm256_fmadd_ps(LOAD(w4 + (k)), xv, a4);                                                  \
    a5 = _mm256_fmadd_ps(LOAD(w5 + (k)), xv, a5);                                                  \
    a6 = _mm256_fmadd_ps(LOAD(w6 + (k)), xv, a6);                                                  \
    a7 = _mm256_fmadd_ps(LOAD(w7 + (k)), xv, a7);                                                  \
  } while (0)
#define DENSE_LOADU(p) _mm256_loadu_ps(p)
#define DENSE_LOADM(p) _mm256_maskload_ps(p, mask)
      for (int k = 0; k < kt; k += 8) {
        const __m256 xv = _mm256_loadu_ps(xm + k);
        DENSE_FMA8(DENSE_LOADU, k, xv);
      }
      if (rem) {
        const __m256 xv = _mm256_maskload_ps(xm + kt, mask);
        DENSE_FMA8(DENSE_LOADM, kt, xv);
      }
#undef DENSE_FMA8
#undef DENSE_LOADU
#undef DENSE_LOADM
      const __m256 acc[8] = {a0, a1, a2, a3, a4, a5, a6, a7};
      __m256       s      = hsum8x8(acc);
      if (b) s = _mm256_add_ps(s, bn);
      _mm256_storeu_ps(y + (size_t) m * N + n, s);
    }
  }
  for (; n < N; n++) /* the last N % 8 outputs one at a time, the same order */
    for (int m = 0; m < M; m++) {
      const float *xm  = x + (size_t) m * K;
      __m256       acc = _mm256_setzero_ps();
      for (int k = 0; k < kt; k += 8)
        acc =
            _mm256_fmadd_ps(_mm256_loadu_ps(W + (size_t) n * K + k), _mm256_loadu_ps(xm + k), acc);
      if (rem)
        acc = _mm256_fmadd_ps(_mm256_maskload_ps(W + (size_t) n * K + kt, mask),
                              _mm256_maskload_ps(xm + kt, mask), acc);
      __m256      one[8] = {acc, acc, acc, acc, acc, acc, acc, acc};
      const float s = _mm256_cvtss_f32(hsum8x8(one)); /* the pairwise order of the blocks above */
      y[(size_t) m * N + n] = b ? s + b[n] : s;
    }
}

#define DENSE_DIRECT(M, N, K, x, W, b, y)                                                          \
  (GyreCPUHasAVX2FMA() ? dense_direct_avx2(M, N, K, x, W, b, y)                                    \
                       : dense_direct_generic(M, N, K, x, W, b, y))
#else
#define DENSE_DIRECT(M, N, K, x, W, b, y) dense_direct_generic(M, N, K, x, W, b, y)
#endif

static int dense_direct_enabled(void)
{
  static int use = -1;
  if (use < 0) {
    const char *env = getenv("GYRE_DENSE_DIRECT");
    use             = !(env && !strcmp(env, "0"));
  }
  return use;
}

GyreStatus GyreCPUDenseForward(GyreBackend *be, const GyreTensor *x, const GyreTensor *W,
                               const GyreTensor *b, GyreTensor *y)
{
  const int M = (int) x->shape[0], N = (int) W->shape[0], K = (int) (W->size / W->shape[0]);

  if ((size_t) M * N * K <= DENSE_DIRECT_MACS && dense_direct_enabled()) {
    DENSE_DIRECT(M, N, K, x->data, W->data, b ? b->data : NULL, y->data);
    return GYRE_OK;
  }
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
