/* backend.c — choosing a backend by name at run time (-surrogate_backend cpu|cuda). */
#include <stdlib.h>
#include <string.h>
#include <cblas.h>
#include "gyre_nn.h"

GyreStatus GyreBackendCreate(const char *name, int threads, GyreBackend **be)
{
  GyreBackend *b;

  *be = NULL;
  if (!name || strcmp(name, "cpu")) {
    if (name && !strcmp(name, "cuda"))
      return GyreStatusSet(GYRE_ERR_ARG, "backend 'cuda': the CUDA backend is not built "
                                         "(it arrives with the GPU issue); use cpu");
    return GyreStatusSet(GYRE_ERR_ARG, "unknown backend '%s' (known: cpu)", name ? name : "");
  }
  if (!(b = calloc(1, sizeof *b))) return GyreStatusSet(GYRE_ERR_MEM, "out of memory");
  if (threads <= 0) {
    const char *env = getenv("OMP_NUM_THREADS");
    threads         = env ? atoi(env) : 1;
    if (threads <= 0) threads = 1;
  }
  /* the CPU ops thread over the batch themselves (OpenMP, `threads`) and call BLAS inside
   * those threads: OpenBLAS's own pool would oversubscribe the cores */
  openblas_set_num_threads(1);
  b->ops     = GyreBackendOpsCPU();
  b->threads = threads;
  *be        = b;
  return GYRE_OK;
}

GyreStatus GyreBackendDestroy(GyreBackend **be)
{
  if (!be || !*be) return GYRE_OK;
  free(*be);
  *be = NULL;
  return GYRE_OK;
}
