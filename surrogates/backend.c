/* backend.c — choosing a backend by name at run time (-surrogate_backend cpu|cuda). */
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

GyreStatus GyreBackendCreate(const char *name, int threads, GyreBackend **be)
{
  GyreBackend *b;

  *be = NULL;
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
