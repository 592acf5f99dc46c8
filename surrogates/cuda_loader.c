/* cuda_loader.c — the CUDA backend as a module loaded at run time.
 *
 * The CUDA backend (surrogates/cuda/) is built as its own shared module, libgyre_cuda.so,
 * linked with the CUDA runtime (static), cuBLAS and cuFFT; this file gives the rest of gyre the
 * functions of gyre_cuda.h and opens the module the first time one of them is called. A
 * process that never asks for the CUDA backend therefore never loads the CUDA libraries (their
 * start-up costs about 150 MiB of resident memory) and a gyre built with CUDA runs on a node
 * without them, where asking for `-surrogate_backend cuda` is one clear error saying why.
 *
 * The module is GYRE_CUDA_MODULE where that is set (that file only), else where the build put
 * it, next to the executable or in ../lib. It resolves gyre's own functions (GyreStatusSet, ...)
 * from the executable, which exports them (CMake ENABLE_EXPORTS). */
#include <string.h>
#include "gyre_nn.h"
#if GYRE_HAVE_CUDA
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include "gyre_cuda.h"

static void          *module;
static char           module_why[768];
static pthread_once_t module_once = PTHREAD_ONCE_INIT;

static int try_open(const char *path)
{
  if (!path || !*path || module) return module != NULL;
  module = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!module) {
    const char *e = dlerror();
    size_t      n = strlen(module_why);
    snprintf(module_why + n, sizeof module_why - n, "%s%s", n ? "; " : "", e ? e : path);
  }
  return module != NULL;
}

static void open_module(void)
{
  char        exe[512], dir[600];
  const char *named = getenv("GYRE_CUDA_MODULE");
  if (named && *named) { /* a module named by the user is the only one tried */
    if (!try_open(named) && access(named, R_OK))
      snprintf(module_why, sizeof module_why, "GYRE_CUDA_MODULE=%s: no such file", named);
    return;
  }
#ifdef GYRE_CUDA_MODULE_PATH
  if (access(GYRE_CUDA_MODULE_PATH, R_OK) == 0 && try_open(GYRE_CUDA_MODULE_PATH)) return;
#endif
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n > 0) {
    exe[n]    = 0;
    char *end = strrchr(exe, '/');
    if (end) *end = 0;
    snprintf(dir, sizeof dir, "%s/libgyre_cuda.so", exe);
    if (access(dir, R_OK) == 0 && try_open(dir)) return;
    snprintf(dir, sizeof dir, "%s/../lib/libgyre_cuda.so", exe);
    if (access(dir, R_OK) == 0 && try_open(dir)) return;
  }
  if (!module_why[0])
    snprintf(module_why, sizeof module_why,
             "libgyre_cuda.so not found (set GYRE_CUDA_MODULE to its path)");
}

static void *entry(const char *name)
{
  pthread_once(&module_once, open_module);
  return module ? dlsym(module, name) : NULL;
}

/* the module's function `name` of type `type`, or NULL (the reason in module_why) */
#define ENTRY(type, name) ((type) entry(#name))

static GyreStatus not_loaded(void)
{
  return GyreStatusSet(GYRE_ERR_ARG, "backend 'cuda': the CUDA module could not be loaded: %s",
                       module_why[0] ? module_why : "an entry point is missing");
}

GyreStatus GyreCUDABackendInit(GyreBackend *be)
{
  GyreStatus (*f)(GyreBackend *) = ENTRY(GyreStatus(*)(GyreBackend *), GyreCUDABackendInit);
  return f ? f(be) : not_loaded();
}

void GyreCUDABackendFinalize(GyreBackend *be)
{
  void (*f)(GyreBackend *) = ENTRY(void (*)(GyreBackend *), GyreCUDABackendFinalize);
  if (f) f(be);
}

int GyreCUDAAvailable(char *why, size_t len)
{
  int (*f)(char *, size_t) = ENTRY(int (*)(char *, size_t), GyreCUDAAvailable);
  if (f) return f(why, len);
  if (why && len) snprintf(why, len, "the CUDA module could not be loaded: %s", module_why);
  return 0;
}

long GyreCUDAMallocCount(const GyreBackend *be)
{
  long (*f)(const GyreBackend *) = ENTRY(long (*)(const GyreBackend *), GyreCUDAMallocCount);
  return f ? f(be) : 0;
}

const char *GyreCUDADeviceString(const GyreBackend *be, char *buf, size_t len)
{
  const char *(*f)(const GyreBackend *, char *, size_t) =
      ENTRY(const char *(*) (const GyreBackend *, char *, size_t), GyreCUDADeviceString);
  if (f) return f(be, buf, len);
  snprintf(buf, len, "none (%s)", module_why);
  return buf;
}

GyreStatus GyreCUDASetPrecision(GyreBackend *be, const char *precision)
{
  GyreStatus (*f)(GyreBackend *, const char *) =
      ENTRY(GyreStatus(*)(GyreBackend *, const char *), GyreCUDASetPrecision);
  return f ? f(be, precision) : not_loaded();
}

int GyreCUDANCCLProbe(char *where, size_t len)
{
  int (*f)(char *, size_t) = ENTRY(int (*)(char *, size_t), GyreCUDANCCLProbe);
  if (f) return f(where, len);
  snprintf(where, len, "the CUDA module could not be loaded: %s", module_why);
  return 0;
}

GyreStatus GyreCUDANCCLOpen(GyreBackend *be, GyreNCCL **nccl, char *why, size_t len)
{
  GyreStatus (*f)(GyreBackend *, GyreNCCL **, char *, size_t) =
      ENTRY(GyreStatus(*)(GyreBackend *, GyreNCCL **, char *, size_t), GyreCUDANCCLOpen);
  if (f) return f(be, nccl, why, len);
  *nccl = NULL;
  snprintf(why, len, "the CUDA module could not be loaded: %s", module_why);
  return GYRE_OK;
}

GyreStatus GyreCUDANCCLUniqueId(GyreNCCL *nccl, void *id)
{
  GyreStatus (*f)(GyreNCCL *, void *) =
      ENTRY(GyreStatus(*)(GyreNCCL *, void *), GyreCUDANCCLUniqueId);
  return f ? f(nccl, id) : not_loaded();
}

GyreStatus GyreCUDANCCLCommInit(GyreNCCL *nccl, int nranks, const void *id, int rank)
{
  GyreStatus (*f)(GyreNCCL *, int, const void *, int) =
      ENTRY(GyreStatus(*)(GyreNCCL *, int, const void *, int), GyreCUDANCCLCommInit);
  return f ? f(nccl, nranks, id, rank) : not_loaded();
}

GyreStatus GyreCUDANCCLAllReduceSum(GyreNCCL *nccl, float *dev, size_t n)
{
  GyreStatus (*f)(GyreNCCL *, float *, size_t) =
      ENTRY(GyreStatus(*)(GyreNCCL *, float *, size_t), GyreCUDANCCLAllReduceSum);
  return f ? f(nccl, dev, n) : not_loaded();
}

GyreStatus GyreCUDANCCLSynchronize(GyreNCCL *nccl)
{
  GyreStatus (*f)(GyreNCCL *) = ENTRY(GyreStatus(*)(GyreNCCL *), GyreCUDANCCLSynchronize);
  return f ? f(nccl) : not_loaded();
}

void GyreCUDANCCLFinalize(GyreNCCL **nccl)
{
  void (*f)(GyreNCCL **) = ENTRY(void (*)(GyreNCCL **), GyreCUDANCCLFinalize);
  if (f) f(nccl);
}
#endif
