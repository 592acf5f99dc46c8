/* backend.c — choosing a backend by name at run time (-surrogate_backend cpu|cuda). */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cblas.h>
#include "gyre_nn.h"
#if GYRE_HAVE_CUDA
#include "cuda/gyre_cuda.h"
#endif

const char *GyreBackendsBuilt(void)
{
#if GYRE_HAVE_CUDA
  return "cpu, cuda";
#else
  return "cpu";
#endif
}

static int default_threads(int threads)
{
  if (threads <= 0) {
    const char *env = getenv("OMP_NUM_THREADS");
    threads         = env ? atoi(env) : 1;
    if (threads <= 0) threads = 1;
  }
  return threads;
}

/* The backends' knobs (README: the CPU backend's own knobs and the GYRE_CUDA_* ones) and the
 * values each takes, '|' between them: "fft:#" is "fft:" and a whole number from 1 (digits
 * only, as the code reads it with atoi), "#" a finite number > 0 up to 1e9 (decimal: digits, a
 * point, an exponent). Unset or empty is the default. The code reading a knob treats an
 * unknown value as its default, so a misspelt one (GYRE_CPU_AVX512=yes) would compare the
 * default with itself in silence: every backend's creation refuses it instead, with one error
 * naming it. */
static const struct {
  const char *name, *values;
} knobs[] = {
    {"GYRE_MLP_FUSED", "0|1"},
    {"GYRE_DENSE_DIRECT", "0|1"},
    {"GYRE_CPU_AVX512", "0|1|2"},
    {"GYRE_GELU_AVX2", "0|1"},
    {"GYRE_CPU_AMX", "0|1"},
    {"GYRE_RELU_INPLACE", "0|1"},
    {"GYRE_CONV_ALGO", "im2col|shift|direct|fft"},
    {"GYRE_NCCL", "0|1|force"},
    {"GYRE_CUDA_CONV", "auto|implicit|shift|im2col|direct|fft|fft:#"},
    {"GYRE_CUDA_POST", "0|1"},
    {"GYRE_CUDA_PROFILE", "0|1|2"},
    {"GYRE_CUDA_GRAPH", "0|1"},
    {"GYRE_CUDA_PW", "gemm"},
    {"GYRE_CUDA_PW_DW", "loop"},
    {"GYRE_CUDA_IM2COL_MB", "#"},
    {"GYRE_CUDA_IGEMM_BN", "64|128"},
    {"GYRE_CUDA_IGEMM_TN", "4|8"},
    {"GYRE_CUDA_IGEMM_TC", "0|3"},
    {"GYRE_CUDA_IGEMM_DW_BK", "8|32"},
    {"GYRE_CUDA_IGEMM_DW_HOIST", "0|1"},
    {"GYRE_CUDA_IGEMM_SPLIT", "0|1"},
    {"GYRE_CUDA_MODES_TILED", "0|1"},
    {"GYRE_CUDA_TWIDDLE", "0|1"},
};

/* whether v is a number as "#" takes it (whole: as "fft:#" does) */
static int knob_number_ok(const char *v, int whole)
{
  char *end;
  if (whole) {
    if (strspn(v, "0123456789") != strlen(v) || !*v) return 0;
    errno        = 0;
    const long n = strtol(v, &end, 10);
    return !errno && n >= 1 && n <= INT_MAX;
  }
  if (!isdigit((unsigned char) v[0]) && v[0] != '.') return 0; /* (no blank, sign, inf, nan) */
  if (strspn(v, "0123456789.eE+-") != strlen(v)) return 0;     /* (no hexadecimal) */
  const double x = strtod(v, &end);
  return !*end && isfinite(x) && x > 0 && x <= 1e9;
}

/* The table's next value from *a (n characters; *last: no '|' after it); *a moves past it */
static const char *knob_next(const char **a, size_t *n, int *last)
{
  const char *v = *a, *bar = strchr(v, '|');
  *n = bar ? (size_t) (bar - v) : strlen(v), *last = !bar;
  *a = v + *n + (bar ? 1 : 0);
  return v;
}

/* whether v is one of values (the table's form above) */
static int knob_value_ok(const char *v, const char *values)
{
  size_t n;
  int    last;
  for (const char *a = values; *a;) {
    const char *t = knob_next(&a, &n, &last);
    if (n && t[n - 1] == '#') { /* a number, after the prefix before '#' */
      if (!strncmp(v, t, n - 1) && knob_number_ok(v + n - 1, n > 1)) return 1;
    } else if (strlen(v) == n && !strncmp(v, t, n))
      return 1;
  }
  return 0;
}

GyreStatus GyreBackendCheckEnv(void)
{
  for (size_t i = 0; i < sizeof knobs / sizeof knobs[0]; i++) {
    const char *v = getenv(knobs[i].name);
    if (v && *v && !knob_value_ok(v, knobs[i].values)) {
      char        took[128] = "";
      const char *a         = knobs[i].values;
      size_t      n;
      int         last;
      for (int k = 0; *a; k++) { /* "0, 1 or 2" */
        const char  *t   = knob_next(&a, &n, &last);
        const size_t len = strlen(took);
        const int    num = n && t[n - 1] == '#';
        snprintf(took + len, sizeof took - len, "%s%.*s%s",
                 k == 0 ? ""
                 : last ? " or "
                        : ", ",
                 (int) (n - (size_t) num), t,
                 !num     ? ""
                 : n == 1 ? "a number > 0 (up to 1e9)"
                          : "N (a whole number N >= 1)");
      }
      return GyreStatusSet(GYRE_ERR_ARG,
                           "environment variable %s=%s: it takes %s (unset: the default)",
                           knobs[i].name, v, took);
    }
  }
  return GYRE_OK;
}

GyreStatus GyreBackendCreate(const char *name, int threads, GyreBackend **be)
{
  GyreBackend *b;

  *be = NULL;
  GyreCall(GyreBackendCheckEnv());
  if (!name || (strcmp(name, "cpu") && strcmp(name, "cuda")))
    return GyreStatusSet(GYRE_ERR_ARG, "unknown backend '%s' (built: %s)", name ? name : "",
                         GyreBackendsBuilt());
#if !GYRE_HAVE_CUDA
  if (!strcmp(name, "cuda"))
    return GyreStatusSet(GYRE_ERR_ARG, "backend 'cuda': this build of gyre has no CUDA backend "
                                       "(configured without nvcc: GYRE_ENABLE_CUDA); use cpu");
#endif
  if (!(b = calloc(1, sizeof *b))) return GyreStatusSet(GYRE_ERR_MEM, "out of memory");
  b->threads = default_threads(threads);
  snprintf(b->precision, sizeof b->precision, "fp32");
  /* the CPU ops thread over the batch themselves (OpenMP, `threads`) and call BLAS inside
   * those threads: OpenBLAS's own pool would oversubscribe the cores */
  openblas_set_num_threads(1);
#if GYRE_HAVE_CUDA
  if (!strcmp(name, "cuda")) {
    GyreStatus st = GyreCUDABackendInit(b);
    if (st) {
      free(b);
      return st;
    }
    *be = b;
    return GYRE_OK;
  }
#endif
  b->ops = GyreBackendOpsCPU();
  *be    = b;
  return GYRE_OK;
}

GyreStatus GyreBackendDestroy(GyreBackend **be)
{
  if (!be || !*be) return GYRE_OK;
#if GYRE_HAVE_CUDA
  if ((*be)->ops && !strcmp((*be)->ops->name, "cuda")) GyreCUDABackendFinalize(*be);
#endif
  free(*be);
  *be = NULL;
  return GYRE_OK;
}

GyreStatus GyreBackendSynchronize(GyreBackend *be)
{
  return be && be->ops->synchronize ? be->ops->synchronize(be) : GYRE_OK;
}

GyreStatus GyreBackendMemoryStats(GyreBackend *be, size_t *in_use, size_t *peak)
{
  *in_use = *peak = 0;
  return be && be->ops->memory_stats ? be->ops->memory_stats(be, in_use, peak) : GYRE_OK;
}

GyreStatus GyreBackendSetPrecision(GyreBackend *be, const char *precision)
{
  if (!precision ||
      (strcmp(precision, "fp32") && strcmp(precision, "tf32") && strcmp(precision, "bf16")))
    return GyreStatusSet(GYRE_ERR_ARG, "precision '%s': expected fp32, tf32 or bf16",
                         precision ? precision : "");
  if (be->ops->set_precision)
    GyreCall(be->ops->set_precision(be, precision));
  else if (strcmp(precision, "fp32"))
    return GyreStatusSet(GYRE_ERR_ARG,
                         "precision '%s' needs tensor cores: the %s backend computes in fp32 "
                         "only (use -surrogate_backend cuda)",
                         precision, be->ops->name);
  snprintf(be->precision, sizeof be->precision, "%s", precision);
  return GYRE_OK;
}

const char *GyreBackendPrecision(const GyreBackend *be)
{
  return be->precision[0] ? be->precision : "fp32";
}

GyreStatus GyreBackendHostAlloc(GyreBackend *be, size_t bytes, void **ptr)
{
  if (be->ops->host_alloc) return be->ops->host_alloc(be, bytes, ptr);
  *ptr = malloc(bytes ? bytes : 1);
  if (!*ptr) return GyreStatusSet(GYRE_ERR_MEM, "out of host memory allocating %zu bytes", bytes);
  return GYRE_OK;
}

void GyreBackendHostFree(GyreBackend *be, void *ptr)
{
  if (!ptr) return;
  if (be->ops->host_free)
    be->ops->host_free(be, ptr);
  else
    free(ptr);
}
