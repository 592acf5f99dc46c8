/* act_avx2.h — the activations' AVX2 + FMA arithmetic on 8 lanes (erf_fast, exp_neg_fast and
 * tanh_fast of activation.c term for term, FMA roundings aside), shared by activation.c's loops
 * and mlp.c's layers, which apply an activation to a layer's outputs while they are still in
 * registers: the same function of the same values, so bitwise the loops' result. Callers
 * compile these into target("avx2,fma") functions and call them only where the CPU has AVX2
 * and FMA (GyreCPUGeluAVX2). erf and GELU also on 16 lanes (AVX-512F: mlp.c's GELU on two
 * outputs a register), the same arithmetic lane for lane. */
#ifndef GYRE_ACT_AVX2_H
#define GYRE_ACT_AVX2_H
#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>
#include "gyre_nn.h"

/* erf_fast's rational approximation, its coefficients in Horner order (the numerator's after
 * its leading -2.72614225801306e-10, the denominator's after -1.45660718464996e-05), X applied
 * to each: one list for every vector width below */
#define GYRE_ERF_P(X, ps)                                                                          \
  X(ps, p_, 2.77068142495902e-08f)                                                                 \
  X(ps, p_, -2.10102402082508e-06f)                                                                \
  X(ps, p_, -5.69250639462346e-05f)                                                                \
  X(ps, p_, -7.34990630326855e-04f)                                                                \
  X(ps, p_, -2.95459980854025e-03f) X(ps, p_, -1.60960333262415e-02f)
#define GYRE_ERF_Q(X, ps)                                                                          \
  X(ps, q_, -2.13374055278905e-04f)                                                                \
  X(ps, q_, -1.68282697438203e-03f)                                                                \
  X(ps, q_, -7.37332916720468e-03f) X(ps, q_, -1.42647390514189e-02f)
#define GYRE_ERF_STEP(ps, a, c) a = ps##_fmadd_ps(a, t2_, ps##_set1_ps(c));
/* erf_fast of t on W-bit vectors (ps: _mm256 or _mm512), term for term: the clamp to [-4, 4],
 * the same rational approximation, Horner by FMA */
#define GYRE_ERF_VEC(ps, t)                                                                         \
  do {                                                                                              \
    t                       = ps##_min_ps(ps##_max_ps(t, ps##_set1_ps(-4.0f)), ps##_set1_ps(4.0f)); \
    const __typeof__(t) t2_ = ps##_mul_ps(t, t);                                                    \
    __typeof__(t)       p_  = ps##_set1_ps(-2.72614225801306e-10f),                                 \
                  q_        = ps##_set1_ps(-1.45660718464996e-05f);                                 \
    GYRE_ERF_P(GYRE_ERF_STEP, ps)                                                                   \
    GYRE_ERF_Q(GYRE_ERF_STEP, ps)                                                                   \
    t = ps##_div_ps(ps##_mul_ps(t, p_), q_);                                                        \
  } while (0)

/* erf_fast of t on 8 lanes */
__attribute__((target("avx2,fma"), always_inline)) static inline __m256 erf_avx2(__m256 t)
{
  GYRE_ERF_VEC(_mm256, t);
  return t;
}

/* exp_neg_fast in AVX2 + FMA, term for term (FMA roundings aside): exp(e) for e <= 0 */
__attribute__((target("avx2,fma"), always_inline)) static inline __m256 exp_neg_avx2(__m256 e)
{
  const __m256 half = _mm256_set1_ps(0.5f);
  e                 = _mm256_max_ps(e, _mm256_set1_ps(-87.0f));
  const __m256i ni  = _mm256_cvttps_epi32(
       _mm256_sub_ps(_mm256_mul_ps(e, _mm256_set1_ps(1.44269504088896341f)), half));
  const __m256 nf = _mm256_cvtepi32_ps(ni);
  __m256       r  = _mm256_fnmadd_ps(nf, _mm256_set1_ps(0.693359375f), e);
  r               = _mm256_fmadd_ps(nf, _mm256_set1_ps(2.12194440e-4f), r);
  __m256 ep       = _mm256_set1_ps(1.9875691500e-4f);
  ep              = _mm256_fmadd_ps(ep, r, _mm256_set1_ps(1.3981999507e-3f));
  ep              = _mm256_fmadd_ps(ep, r, _mm256_set1_ps(8.3334519073e-3f));
  ep              = _mm256_fmadd_ps(ep, r, _mm256_set1_ps(4.1665795894e-2f));
  ep              = _mm256_fmadd_ps(ep, r, _mm256_set1_ps(1.6666665459e-1f));
  ep              = _mm256_fmadd_ps(ep, r, _mm256_set1_ps(5.0000001201e-1f));
  ep = _mm256_add_ps(_mm256_fmadd_ps(_mm256_mul_ps(ep, r), r, r), _mm256_set1_ps(1.0f));
  const __m256 sc =
      _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(ni, _mm256_set1_epi32(127)), 23));
  return _mm256_mul_ps(ep, sc);
}

/* tanh_fast in AVX2 + FMA, term for term (FMA roundings aside), chosen with GELU's loops (a
 * tanh network's activations were most of its inference) */
__attribute__((target("avx2,fma"), always_inline)) static inline __m256 tanh_avx2(__m256 x)
{
  const __m256 sign = _mm256_set1_ps(-0.0f), one = _mm256_set1_ps(1.0f);
  const __m256 a = _mm256_andnot_ps(sign, x), z = _mm256_mul_ps(x, x);
  __m256       p = _mm256_set1_ps(-5.70498872745e-3f);
  p              = _mm256_fmadd_ps(p, z, _mm256_set1_ps(2.06390887954e-2f));
  p              = _mm256_fmadd_ps(p, z, _mm256_set1_ps(-5.37397155531e-2f));
  p              = _mm256_fmadd_ps(p, z, _mm256_set1_ps(1.33314422036e-1f));
  p              = _mm256_fmadd_ps(p, z, _mm256_set1_ps(-3.33332819422e-1f));
  p              = _mm256_fmadd_ps(_mm256_mul_ps(p, z), x, x);
  const __m256 e =
      exp_neg_avx2(_mm256_mul_ps(_mm256_set1_ps(-2.0f), _mm256_min_ps(a, _mm256_set1_ps(9.0f))));
  const __m256 q = _mm256_div_ps(_mm256_sub_ps(one, e), _mm256_add_ps(one, e));
  __m256       t = _mm256_blendv_ps(q, p, _mm256_cmp_ps(a, _mm256_set1_ps(0.625f), _CMP_LT_OQ));
  t              = _mm256_or_ps(_mm256_andnot_ps(sign, t), _mm256_and_ps(sign, x)); /* x's sign */
  return _mm256_blendv_ps(x, t, _mm256_cmp_ps(x, x, _CMP_ORD_Q)); /* NaN stays NaN */
}

/* GELU (x Phi(x), Phi by erf_avx2) of 8 lanes */
__attribute__((target("avx2,fma"), always_inline)) static inline __m256 gelu_avx2_vec(__m256 v)
{
  const __m256 e = erf_avx2(_mm256_mul_ps(v, _mm256_set1_ps((float) 0.70710678118654752440)));
  return _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(0.5f), v),
                       _mm256_add_ps(_mm256_set1_ps(1.0f), e));
}

/* erf_avx2 and gelu_avx2_vec on 16 lanes (AVX-512F), term for term: the same arithmetic lane for
 * lane (mlp.c's GELU on two outputs' 8 lanes a register) */
__attribute__((target("avx512f"), always_inline)) static inline __m512 erf_avx512(__m512 t)
{
  GYRE_ERF_VEC(_mm512, t);
  return t;
}
__attribute__((target("avx512f"), always_inline)) static inline __m512 gelu_avx512_vec(__m512 v)
{
  const __m512 e = erf_avx512(_mm512_mul_ps(v, _mm512_set1_ps((float) 0.70710678118654752440)));
  return _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(0.5f), v),
                       _mm512_add_ps(_mm512_set1_ps(1.0f), e));
}

/* ReLU of 8 lanes: v where v > 0 (ordered), else +0 (ReLU(NaN) = 0, ReLU(-0) = +0) */
__attribute__((target("avx2,fma"), always_inline)) static inline __m256 relu_avx2_vec(__m256 v)
{
  return _mm256_and_ps(v, _mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_GT_OQ));
}

/* activation act (GyreActivation; anything else: none) of 8 lanes */
__attribute__((target("avx2,fma"), always_inline)) static inline __m256 act_avx2_vec(int    act,
                                                                                     __m256 v)
{
  switch (act) {
  case GYRE_ACT_RELU:
    return relu_avx2_vec(v);
  case GYRE_ACT_GELU:
    return gelu_avx2_vec(v);
  case GYRE_ACT_TANH:
    return tanh_avx2(v);
  default:
    return v;
  }
}
#endif
#endif /* GYRE_ACT_AVX2_H */
