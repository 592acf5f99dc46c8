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
#include <stdlib.h>
#include <string.h>
#include "cpu_ops.h"

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define GYRE_INLINE __attribute__((always_inline, optimize("no-trapping-math")))
/* (the loops are not cloned for AVX2: GCC 12 leaves the backward loop's clone scalar and the
 * forward one's without FMA and latency-bound; both are written in intrinsics below. A
 * target_clones("arch=haswell") clone, as the forward loop had, is chosen only where
 * __builtin_cpu_is("haswell"): never on AMD or on later Intel cores.) */
#define GYRE_VEC_FN __attribute__((optimize("no-trapping-math")))
#else
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
  x = !(x >= -87.0f) ? -87.0f : x; /* NaN too (as _mm256_max_ps): (int32_t) NaN is undefined */
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

/* tanh without a libm call a value (glibc's tanhf took ~40 ns a value here, ~20x GELU's
 * vector loop): |x| < 0.625 Cephes' odd polynomial x + x^3 P(x^2), beyond it (1 - e) / (1 + e)
 * with e = exp(-2|x|), and x's sign; within 1.5 ulp of tanh (1 ulp of the correctly rounded
 * value; tests/nn_ops act, both paths); -0 stays -0 and
 * NaN stays NaN (the guard's NaN check needs it). Branch-free: GCC vectorises the loops. */
GYRE_INLINE static inline float tanh_fast(float x)
{
  const float a = fabsf(x), z = x * x;
  float       p = -5.70498872745e-3f;
  p             = p * z + 2.06390887954e-2f;
  p             = p * z - 5.37397155531e-2f;
  p             = p * z + 1.33314422036e-1f;
  p             = p * z - 3.33332819422e-1f;
  p             = p * z * x + x;
  /* beyond 9, 1 - e rounds to 1: the result is 1 (tanh(9) = 1 - 3e-8) */
  const float e = exp_neg_fast(-2.0f * (a > 9.0f ? 9.0f : a));
  const float t = a < 0.625f ? p : (1.0f - e) / (1.0f + e);
  return x == x ? copysignf(t, x) : x; /* (p has x's sign, but +0 for x = -0) */
}

GYRE_VEC_FN static void tanh_forward_range(const float *x, float *y, size_t n)
{
  for (size_t i = 0; i < n; i++)
    y[i] = tanh_fast(x[i]);
}

GYRE_VEC_FN static void tanh_backward_range(const float *x, const float *g, float *d, size_t n)
{
  for (size_t i = 0; i < n; i++) {
    const float t = tanh_fast(x[i]);
    d[i]          = g[i] * (1.0f - t * t);
  }
}

GYRE_VEC_FN static void gelu_forward_range(const float *x, float *y, size_t n)
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

#if defined(__GNUC__) && defined(__x86_64__)
#include "act_avx2.h"
/* The forward loop in AVX2 + FMA intrinsics, two vectors an iteration (independent chains: the
 * compiled loop above ran one, its latency unhidden, and without FMA); chosen at run time as the
 * backward one. */
__attribute__((target("avx2,fma"))) static void gelu_forward_avx2(const float *x, float *y,
                                                                  size_t n)
{
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256 g0 = gelu_avx2_vec(_mm256_loadu_ps(x + i));
    const __m256 g1 = gelu_avx2_vec(_mm256_loadu_ps(x + i + 8));
    _mm256_storeu_ps(y + i, g0), _mm256_storeu_ps(y + i + 8, g1);
  }
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(y + i, gelu_avx2_vec(_mm256_loadu_ps(x + i)));
  if (i < n) { /* the tail through the same lanes (zeros beyond n) */
    float tx[8] = {0}, ty[8];
    memcpy(tx, x + i, (n - i) * sizeof(float));
    gelu_forward_avx2(tx, ty, 8);
    memcpy(y + i, ty, (n - i) * sizeof(float));
  }
}

__attribute__((target("avx2,fma"))) static void tanh_forward_avx2(const float *x, float *y,
                                                                  size_t n)
{
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256 t0 = tanh_avx2(_mm256_loadu_ps(x + i)), t1 = tanh_avx2(_mm256_loadu_ps(x + i + 8));
    _mm256_storeu_ps(y + i, t0), _mm256_storeu_ps(y + i + 8, t1);
  }
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(y + i, tanh_avx2(_mm256_loadu_ps(x + i)));
  if (i < n) { /* the tail through the same lanes (zeros beyond n) */
    float tx[8] = {0}, ty[8];
    memcpy(tx, x + i, (n - i) * sizeof(float));
    _mm256_storeu_ps(ty, tanh_avx2(_mm256_loadu_ps(tx)));
    memcpy(y + i, ty, (n - i) * sizeof(float));
  }
}

/* The backward loop in AVX2 + FMA intrinsics (GCC 12 leaves a Haswell clone of the loop above
 * scalar), the same approximations term for term (FMA roundings aside); chosen at run time
 * where the CPU has AVX2 and FMA (GYRE_GELU_AVX2=0 turns it off, for comparisons). */
__attribute__((target("avx2,fma"))) static void gelu_backward_avx2(const float *x, const float *g,
                                                                   float *d, size_t n)
{
  size_t       i    = 0;
  const __m256 rs2  = _mm256_set1_ps((float) 0.70710678118654752440);
  const __m256 half = _mm256_set1_ps(0.5f), one = _mm256_set1_ps(1.0f);
  const __m256 pdfc = _mm256_set1_ps((float) 0.39894228040143267794);
  for (; i + 8 <= n; i += 8) {
    const __m256 v   = _mm256_loadu_ps(x + i);
    const __m256 erf = erf_avx2(_mm256_mul_ps(v, rs2));
    const __m256 cdf = _mm256_mul_ps(half, _mm256_add_ps(one, erf));
    /* exp(-v^2 / 2) as exp_neg_fast */
    const __m256 pdf = _mm256_mul_ps(
        pdfc, exp_neg_avx2(_mm256_mul_ps(_mm256_set1_ps(-0.5f), _mm256_mul_ps(v, v))));
    _mm256_storeu_ps(d + i, _mm256_mul_ps(_mm256_loadu_ps(g + i), _mm256_fmadd_ps(v, pdf, cdf)));
  }
  if (i < n) gelu_backward_range(x + i, g + i, d + i, n - i);
}

static int gelu_avx2(void)
{
  static int use = -1;
  if (use < 0) {
    const char *env = getenv("GYRE_GELU_AVX2");
    use             = GyreCPUHasAVX2FMA() && !(env && !strcmp(env, "0"));
  }
  return use;
}
#define GELU_BACKWARD(avx, x, g, d, n)                                                             \
  ((avx) ? gelu_backward_avx2(x, g, d, n) : gelu_backward_range(x, g, d, n))
#define GELU_FORWARD(avx, x, y, n)                                                                 \
  ((avx) ? gelu_forward_avx2(x, y, n) : gelu_forward_range(x, y, n))
#define TANH_FORWARD(avx, x, y, n)                                                                 \
  ((avx) ? tanh_forward_avx2(x, y, n) : tanh_forward_range(x, y, n))
#define RELU_FORWARD(avx, x, y, n)                                                                 \
  ((avx) ? relu_forward_avx2(x, y, n) : relu_forward_range(x, y, n))
#else
static int gelu_avx2(void)
{
  return 0;
}
#define GELU_BACKWARD(avx, x, g, d, n) gelu_backward_range(x, g, d, n)
#define GELU_FORWARD(avx, x, y, n) gelu_forward_range(x, y, n)
#define TANH_FORWARD(avx, x, y, n) tanh_forward_range(x, y, n)
#define RELU_FORWARD(avx, x, y, n) relu_forward_range(x, y, n)
#endif

#define GELU_CHUNK 4096

/* ReLU forward and backward, branch-free: written as comparisons (ReLU(NaN) = 0, ReLU(-0) = +0,
 * as before) under -fno-trapping-math so that GCC vectorises them as a compare and a mask; the
 * plain loops compiled to a compare and branch a value, mispredicted on half of a network's
 * activations (ReLU took a third of a small MLP's inference) */
GYRE_VEC_FN static void relu_forward_range(const float *x, float *y, size_t n)
{
#pragma omp simd
  for (size_t i = 0; i < n; i++)
    y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}
GYRE_VEC_FN static void relu_backward_range(const float *x, const float *g, float *d, size_t n)
{
#pragma omp simd
  for (size_t i = 0; i < n; i++)
    d[i] = x[i] > 0.0f ? g[i] : 0.0f;
}
#if defined(__GNUC__) && defined(__x86_64__)
/* the forward loop 8 lanes a vector (the baseline build's loop is SSE2, 4): x where x > 0
 * (ordered), else +0: bitwise relu_forward_range's */
__attribute__((target("avx2,fma"))) static void relu_forward_avx2(const float *x, float *y,
                                                                  size_t n)
{
  size_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(y + i, relu_avx2_vec(_mm256_loadu_ps(x + i)));
  relu_forward_range(x + i, y + i, n - i);
}
#endif

int GyreCPUGeluAVX2(void)
{
  return gelu_avx2();
}

void GyreCPUActRange(GyreActivation act, int avx, const float *x, float *y, size_t n)
{
  switch (act) {
  case GYRE_ACT_RELU:
    RELU_FORWARD(avx, x, y, n);
    break;
  case GYRE_ACT_GELU:
    GELU_FORWARD(avx, x, y, n);
    break;
  case GYRE_ACT_TANH:
    TANH_FORWARD(avx, x, y, n);
    break;
  }
}

GyreStatus GyreCPUActForward(GyreBackend *be, GyreActivation act, const GyreTensor *x,
                             GyreTensor *y)
{
  const size_t n  = x->size;
  const float *xd = x->data;
  float       *yd = y->data;

  if (act != GYRE_ACT_RELU && act != GYRE_ACT_GELU && act != GYRE_ACT_TANH)
    return GyreStatusSet(GYRE_ERR_ARG, "cpu act_forward: unknown activation %d", (int) act);
  /* chunks of GELU_CHUNK values over the threads, each through GyreCPUActRange (the one-pass
   * MLP's path too) */
  const size_t nc  = (n + GELU_CHUNK - 1) / GELU_CHUNK;
  const int    avx = gelu_avx2(); /* decided before the threads start */
  CPU_PARALLEL_FOR(nc, 4, c, const size_t i = c * GELU_CHUNK; GyreCPUActRange(
                       act, avx, xd + i, yd + i, n - i < GELU_CHUNK ? n - i : GELU_CHUNK));
  return GYRE_OK;
}

GyreStatus GyreCPUActBackward(GyreBackend *be, GyreActivation act, const GyreTensor *x,
                              const GyreTensor *dy, GyreTensor *dx)
{
  if (!dx) return GYRE_OK;
  const size_t n  = x->size;
  const float *xd = x->data, *g = dy->data;
  float       *d = dx->data;

  const size_t nc = (n + GELU_CHUNK - 1) / GELU_CHUNK;

  switch (act) {
  case GYRE_ACT_RELU:
    CPU_PARALLEL_FOR(nc, 16, c, const size_t i = c * GELU_CHUNK; relu_backward_range(
                         xd + i, g + i, d + i, n - i < GELU_CHUNK ? n - i : GELU_CHUNK));
    break;
  case GYRE_ACT_GELU: {
    const int avx = gelu_avx2(); /* decided before the threads start */
    CPU_PARALLEL_FOR(nc, 4, c, const size_t i = c * GELU_CHUNK; GELU_BACKWARD(
                         avx, xd + i, g + i, d + i, n - i < GELU_CHUNK ? n - i : GELU_CHUNK));
    break;
  }
  case GYRE_ACT_TANH:
    CPU_PARALLEL_FOR(nc, 16, c, const size_t i = c * GELU_CHUNK; tanh_backward_range(
                         xd + i, g + i, d + i, n - i < GELU_CHUNK ? n - i : GELU_CHUNK));
    break;
  default:
    return GyreStatusSet(GYRE_ERR_ARG, "cpu act_backward: unknown activation %d", (int) act);
  }
  return GYRE_OK;
}
