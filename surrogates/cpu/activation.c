/* activation.c — elementwise activations on the CPU: ReLU, GELU (exact erf form, PyTorch's
 * default nn.GELU()), tanh; forward y = f(x) and backward dx = f'(x) dy (overwrite).
 * ReLU'(0) is taken as 0, as in PyTorch.
 *
 * GELU does not call libm's erff/expf (scalar calls: 60% of an MLP training step): erf is the
 * rational approximation of Eigen/TensorFlow (generic_fast_erf_float: x clamped to [-4, 4],
 * odd degree-13 numerator over even degree-8 denominator; absolute error below 5e-7 over the
 * float range) and exp(-x^2/2) a Cephes-style expf (2^n times a degree-6 polynomial of the
 * reduced argument; relative error below 2e-6), both branch-free so that the loops vectorise
 * (omp simd: GCC's -O2 cost model would not, for the runtime alias checks).
 * The two GELU loops are compiled with -fno-trapping-math (GCC's optimize attribute, these
 * functions only) so that GCC if-converts the clamps and vectorises them (SSE2: 4 floats). */
#include <math.h>
#include <stdint.h>
#include <string.h>
#include "cpu_ops.h"

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define GYRE_INLINE __attribute__((always_inline, optimize("no-trapping-math")))
/* the GELU forward loop is also compiled for AVX2 + FMA (Haswell and later), chosen at run
 * time (an ifunc), so a portable build still runs 8 lanes with FMA where the CPU has them */
#define GYRE_VEC_FN_AVX2                                                                           \
  __attribute__((optimize("no-trapping-math"), target_clones("arch=haswell", "default")))
/* (the backward loop is not cloned: GCC 12 leaves its Haswell clone scalar) */
#define GYRE_VEC_FN __attribute__((optimize("no-trapping-math")))
#else
#define GYRE_VEC_FN_AVX2
#define GYRE_VEC_FN
#define GYRE_INLINE
#endif

GYRE_INLINE static inline float erf_fast(float a)
{
  float x        = a;
  x              = x > 4.0f ? 4.0f : x;
  x              = x < -4.0f ? -4.0f : x;
  const float x2 = x * x;
  float       p  = -2.72614225801306e-10f;
  p              = p * x2 + 2.77068142495902e-08f;
  p              = p * x2 - 2.10102402082508e-06f;
  p              = p * x2 - 5.69250639462346e-05f;
  p              = p * x2 - 7.34990630326855e-04f;
  p              = p * x2 - 2.95459980854025e-03f;
  p              = p * x2 - 1.60960333262415e-02f;
  float q        = -1.45660718464996e-05f;
  q              = q * x2 - 2.13374055278905e-04f;
  q              = q * x2 - 1.68282697438203e-03f;
  q              = q * x2 - 7.37332916720468e-03f;
  q              = q * x2 - 1.42647390514189e-02f;
  return x * p / q;
}

/* exp(x) for x <= 0 (x < -87 gives exp(-87) ~ 1.6e-38 instead of a smaller number) */
GYRE_INLINE static inline float exp_neg_fast(float x)
{
  x = x < -87.0f ? -87.0f : x;
  /* n = nearest integer to x log2(e) (x <= 0: truncating t - 1/2 rounds; no floorf call, so
   * that the baseline SSE2 build vectorises too) */
  const float n   = (float) (int32_t) (x * 1.44269504088896341f - 0.5f);
  float       r   = x - n * 0.693359375f;
  r               = r + n * 2.12194440e-4f;
  float p         = 1.9875691500e-4f;
  p               = p * r + 1.3981999507e-3f;
  p               = p * r + 8.3334519073e-3f;
  p               = p * r + 4.1665795894e-2f;
  p               = p * r + 1.6666665459e-1f;
  p               = p * r + 5.0000001201e-1f;
  p               = p * r * r + r + 1.0f;
  const int32_t e = ((int32_t) n + 127) << 23;
  float         s;
  memcpy(&s, &e, sizeof s);
  return p * s;
}

GYRE_VEC_FN_AVX2 static void gelu_forward_range(const float *x, float *y, size_t n)
{
#pragma omp simd
  for (size_t i = 0; i < n; i++) {
    const float v = x[i];
    y[i]          = 0.5f * v * (1.0f + erf_fast(v * (float) 0.70710678118654752440));
  }
}

/* d/dx [x Phi(x)] = Phi(x) + x phi(x) */
GYRE_VEC_FN static void gelu_backward_range(const float *x, const float *g, float *d, size_t n)
{
#pragma omp simd
  for (size_t i = 0; i < n; i++) {
    const float v   = x[i];
    const float cdf = 0.5f * (1.0f + erf_fast(v * (float) 0.70710678118654752440));
    const float pdf = (float) 0.39894228040143267794 * exp_neg_fast(-0.5f * v * v);
    d[i]            = g[i] * (cdf + v * pdf);
  }
}

#define GELU_CHUNK 4096

GyreStatus GyreCPUActForward(GyreBackend *be, GyreActivation act, const GyreTensor *x,
                             GyreTensor *y)
{
  const size_t n  = x->size;
  const float *xd = x->data;
  float       *yd = y->data;

  switch (act) {
  case GYRE_ACT_RELU:
#pragma omp parallel for num_threads(be->threads) if (n > 65536)
    for (size_t i = 0; i < n; i++)
      yd[i] = xd[i] > 0.0f ? xd[i] : 0.0f;
    break;
  case GYRE_ACT_GELU:
#pragma omp parallel for num_threads(be->threads) if (n > 16384)
    for (size_t i = 0; i < n; i += GELU_CHUNK)
      gelu_forward_range(xd + i, yd + i, n - i < GELU_CHUNK ? n - i : GELU_CHUNK);
    break;
  case GYRE_ACT_TANH:
#pragma omp parallel for num_threads(be->threads) if (n > 16384)
    for (size_t i = 0; i < n; i++)
      yd[i] = tanhf(xd[i]);
    break;
  default:
    return GyreStatusSet(GYRE_ERR_ARG, "cpu act_forward: unknown activation %d", (int) act);
  }
  return GYRE_OK;
}

GyreStatus GyreCPUActBackward(GyreBackend *be, GyreActivation act, const GyreTensor *x,
                              const GyreTensor *dy, GyreTensor *dx)
{
  if (!dx) return GYRE_OK;
  const size_t n  = x->size;
  const float *xd = x->data, *g = dy->data;
  float       *d = dx->data;

  switch (act) {
  case GYRE_ACT_RELU:
#pragma omp parallel for num_threads(be->threads) if (n > 65536)
    for (size_t i = 0; i < n; i++)
      d[i] = xd[i] > 0.0f ? g[i] : 0.0f;
    break;
  case GYRE_ACT_GELU:
#pragma omp parallel for num_threads(be->threads) if (n > 16384)
    for (size_t i = 0; i < n; i += GELU_CHUNK)
      gelu_backward_range(xd + i, g + i, d + i, n - i < GELU_CHUNK ? n - i : GELU_CHUNK);
    break;
  case GYRE_ACT_TANH:
#pragma omp parallel for num_threads(be->threads) if (n > 16384)
    for (size_t i = 0; i < n; i++) {
      const float t = tanhf(xd[i]);
      d[i]          = g[i] * (1.0f - t * t);
    }
    break;
  default:
    return GyreStatusSet(GYRE_ERR_ARG, "cpu act_backward: unknown activation %d", (int) act);
  }
  return GYRE_OK;
}
