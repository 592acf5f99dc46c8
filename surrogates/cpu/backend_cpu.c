/* backend_cpu.c — the CPU backend's operation table: host memory, OpenMP threads, BLAS for
 * GEMM, FFTW for FFTs. The ops themselves live one family per file (dense.c, conv.c,
 * spectral.c, activation.c, loss.c); memory and elementwise ops are here. */
#include <stdlib.h>
#include <string.h>
#include "cpu_ops.h"

GyreStatus GyreCPUAlloc(GyreBackend *be, size_t bytes, void **ptr)
{
  /* 64-byte alignment for vector loads; at least one byte so that a NULL means failure */
  size_t n = (bytes + 63) / 64 * 64;
  *ptr     = aligned_alloc(64, n ? n : 64);
  if (!*ptr)
    return GyreStatusSet(GYRE_ERR_MEM, "cpu backend: out of memory allocating %zu bytes", bytes);
  return GYRE_OK;
}

GyreStatus GyreCPUFree(GyreBackend *be, void *ptr)
{
  free(ptr);
  return GYRE_OK;
}

GyreStatus GyreCPUCopy(GyreBackend *be, void *dst, const void *src, size_t bytes)
{
  if (bytes) memcpy(dst, src, bytes);
  return GYRE_OK;
}

GyreStatus GyreCPUFill(GyreBackend *be, float *x, size_t n, float value)
{
  CPU_PARALLEL_FOR(n, 65536, i, x[i] = value);
  return GYRE_OK;
}

GyreStatus GyreCPUAxpby(GyreBackend *be, size_t n, float a, const float *x, float b, float *y)
{
  if (b == 0.0f) { /* y is not read (BLAS's beta = 0): stale NaN cannot leak */
    CPU_PARALLEL_FOR(n, 65536, i, y[i] = a * x[i]);
    return GYRE_OK;
  }
  CPU_PARALLEL_FOR(n, 65536, i, y[i] = a * x[i] + b * y[i]);
  return GYRE_OK;
}

GyreStatus GyreCPUDot(GyreBackend *be, size_t n, const float *x, const float *y, double *result)
{
  double s = 0;
#pragma omp parallel for num_threads(be->threads) reduction(+ : s) if (n > 65536)
  for (size_t i = 0; i < n; i++)
    s += (double) x[i] * (double) y[i];
  *result = s;
  return GYRE_OK;
}

GyreStatus GyreCPUScale(GyreBackend *be, size_t n, float s, float *x)
{
  CPU_PARALLEL_FOR(n, 65536, i, x[i] *= s);
  return GYRE_OK;
}

int GyreCPUHasAVX2FMA(void)
{
#if defined(__GNUC__) && defined(__x86_64__)
  static int use = -1; /* (relaxed atomics: callers may be threads) */
  int        u   = __atomic_load_n(&use, __ATOMIC_RELAXED);
  if (u < 0) {
    __builtin_cpu_init();
    u = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    __atomic_store_n(&use, u, __ATOMIC_RELAXED);
  }
  return u;
#else
  return 0;
#endif
}

#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>
/* GyreCPUAffine's loops: 4 values a ymm vector, 8 a zmm one, in double; the tail as the scalar
 * loop */
__attribute__((target("avx2"))) static size_t affine_avx2(int mode, const float *x, float *y,
                                                          size_t n, double a, double b)
{
  const __m256d va = _mm256_set1_pd(a), vb = _mm256_set1_pd(b);
  size_t        k = 0;
  for (; k + 4 <= n; k += 4) {
    const __m256d v = _mm256_cvtps_pd(_mm_loadu_ps(x + k));
    const __m256d r =
        mode ? _mm256_add_pd(_mm256_mul_pd(v, vb), va) : _mm256_mul_pd(_mm256_sub_pd(v, va), vb);
    _mm_storeu_ps(y + k, _mm256_cvtpd_ps(r));
  }
  return k;
}
__attribute__((target("avx512f"))) static size_t affine_avx512(int mode, const float *x, float *y,
                                                               size_t n, double a, double b)
{
  const __m512d va = _mm512_set1_pd(a), vb = _mm512_set1_pd(b);
  size_t        k = 0;
  for (; k + 8 <= n; k += 8) {
    const __m512d v = _mm512_cvtps_pd(_mm256_loadu_ps(x + k));
    _mm256_storeu_ps(y + k, _mm512_cvtpd_ps(mode ? _mm512_add_pd(_mm512_mul_pd(v, vb), va)
                                                 : _mm512_mul_pd(_mm512_sub_pd(v, va), vb)));
  }
  return k;
}
#endif

void GyreCPUAffine(int mode, const float *x, float *y, size_t n, double a, double b, int wide)
{
  size_t k = 0;
#if defined(__GNUC__) && defined(__x86_64__)
  static int z  = -1; /* (relaxed atomics: callers may be threads) */
  int        zu = __atomic_load_n(&z, __ATOMIC_RELAXED);
  if (wide && zu < 0) {
    __builtin_cpu_init();
    zu = __builtin_cpu_supports("avx512f");
    __atomic_store_n(&z, zu, __ATOMIC_RELAXED);
  }
  if (wide && zu)
    k = affine_avx512(mode, x, y, n, a, b);
  else if (GyreCPUHasAVX2FMA())
    k = affine_avx2(mode, x, y, n, a, b);
#else
  (void) wide;
#endif
  for (; k < n; k++)
    y[k] = mode ? (float) ((double) x[k] * b + a) : (float) (((double) x[k] - a) * b);
}

/* fp32; bf16 where the CPU has AMX or AVX-512 BF16 (a CNN's inference: conv_amx.c); tf32 is the
 * tensor cores' */
static GyreStatus cpu_set_precision(GyreBackend *be, const char *precision)
{
  (void) be;
  if (!strcmp(precision, "fp32") || (!strcmp(precision, "bf16") && GyreCPUBF16Kind() > 0))
    return GYRE_OK;
  if (!strcmp(precision, "bf16"))
    return GyreStatusSet(GYRE_ERR_ARG,
                         "precision 'bf16' on the cpu backend needs AVX-512 BF16 (AMD Zen 4 and "
                         "later, Intel Cooper Lake) or Intel AMX (AMX-BF16 with AVX-512 BF16, "
                         "and a kernel that allows the tiles): this machine has neither; use "
                         "fp32, or -surrogate_backend cuda");
  return GyreStatusSet(GYRE_ERR_ARG,
                       "precision '%s' needs tensor cores: the cpu backend computes in fp32 (or "
                       "bf16 with AMX or AVX-512 BF16; use -surrogate_backend cuda)",
                       precision);
}

static const GyreBackendOps cpu_ops = {
    .name               = "cpu",
    .alloc              = GyreCPUAlloc,
    .free               = GyreCPUFree,
    .copy_from_host     = GyreCPUCopy,
    .copy_to_host       = GyreCPUCopy,
    .fill               = GyreCPUFill,
    .axpby              = GyreCPUAxpby,
    .dot                = GyreCPUDot,
    .dense_forward      = GyreCPUDenseForward,
    .dense_backward     = GyreCPUDenseBackward,
    .conv_forward       = GyreCPUConvForward,
    .conv_backward      = GyreCPUConvBackward,
    .conv_block_exact   = GyreCPUConvBlockExact,
    .conv_forward_post  = GyreCPUConvForwardPost,
    .spectral_forward   = GyreCPUSpectralForward,
    .spectral_backward  = GyreCPUSpectralBackward,
    .act_forward        = GyreCPUActForward,
    .act_backward       = GyreCPUActBackward,
    .mse_loss           = GyreCPUMSELoss,
    .rel_l2_loss        = GyreCPURelL2Loss,
    .bn_stats           = GyreCPUBNStats,
    .bn_forward         = GyreCPUBNForward,
    .bn_backward_stats  = GyreCPUBNBackwardStats,
    .bn_backward        = GyreCPUBNBackward,
    .adam_update        = GyreCPUAdamUpdate,
    .scale              = GyreCPUScale,
    .mlp_forward        = GyreCPUMLPForward,
    .set_precision      = cpu_set_precision,
    .conv_chain_forward = GyreCPUConvChainForward,
    .chain_cache_free   = GyreCPUConvChainCacheFree,
    .conv_chain_exact   = GyreCPUConvChainExact,
    .mlp_plan_free      = GyreCPUMLPPlanFree,
};

const GyreBackendOps *GyreBackendOpsCPU(void)
{
  return &cpu_ops;
}
