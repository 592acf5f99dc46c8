/* nccl.cu — NCCL for the CUDA backend's gradient sums, loaded at run time.
 *
 * libnccl.so.2 is opened with dlopen (GYRE_NCCL_LIBRARY names another file) and its five
 * entry points used here are declared below with NCCL's stable C ABI (ncclUniqueId is 128
 * bytes, ncclFloat32 = 7, ncclSum = 0), so that gyre builds without NCCL's headers and a run
 * without NCCL falls back to MPI with the reason logged. Rank 0 makes the unique id, the caller
 * (surrogates/gradsync.c) broadcasts it over MPI; the reductions run on the backend's compute
 * stream, in order with the backward pass that produced the gradients. Every NCCL status is
 * checked. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cuda_internal.cuh"

typedef struct {
  char internal[128];
} NcclUniqueId;
typedef void *NcclComm;
typedef int   NcclResult;

struct GyreNCCL_s {
  void    *lib;
  NcclComm comm;
  CudaCtx *cu;
  NcclResult (*get_unique_id)(NcclUniqueId *);
  NcclResult (*comm_init_rank)(NcclComm *, int, NcclUniqueId, int);
  NcclResult (*all_reduce)(const void *, void *, size_t, int, int, NcclComm, cudaStream_t);
  NcclResult (*comm_destroy)(NcclComm);
  const char *(*error_string)(NcclResult);
};

static GyreStatus nccl_status(GyreNCCL *g, NcclResult r, const char *what)
{
  return GyreStatusSet(GYRE_ERR_DEVICE, "cuda backend: NCCL %s failed: %s (status %d)", what,
                       g->error_string ? g->error_string(r) : "?", r);
}

extern "C" GyreStatus GyreCUDANCCLOpen(GyreBackend *be, GyreNCCL **out, char *why, size_t len)
{
  const char *name = getenv("GYRE_NCCL_LIBRARY");
  GyreNCCL   *g    = (GyreNCCL *) calloc(1, sizeof *g);
  *out             = NULL;
  if (!g) return GyreStatusSet(GYRE_ERR_MEM, "cuda backend: out of host memory (NCCL)");
  g->cu  = cuda_ctx(be);
  g->lib = dlopen(name && *name ? name : "libnccl.so.2", RTLD_NOW | RTLD_LOCAL);
  if (g->lib) {
    *(void **) &g->get_unique_id  = dlsym(g->lib, "ncclGetUniqueId");
    *(void **) &g->comm_init_rank = dlsym(g->lib, "ncclCommInitRank");
    *(void **) &g->all_reduce     = dlsym(g->lib, "ncclAllReduce");
    *(void **) &g->comm_destroy   = dlsym(g->lib, "ncclCommDestroy");
    *(void **) &g->error_string   = dlsym(g->lib, "ncclGetErrorString");
  }
  if (!(g->lib && g->get_unique_id && g->comm_init_rank && g->all_reduce && g->comm_destroy)) {
    const char *e = dlerror();
    snprintf(why, len, "NCCL not loaded (%s)", e ? e : "an entry point is missing");
    if (g->lib) dlclose(g->lib);
    free(g);
    return GYRE_OK;
  }
  snprintf(why, len, "NCCL loaded from %s", name && *name ? name : "libnccl.so.2");
  *out = g;
  return GYRE_OK;
}

extern "C" int GyreCUDANCCLProbe(char *where, size_t len)
{
  const char *name = getenv("GYRE_NCCL_LIBRARY");
  void       *lib  = dlopen(name && *name ? name : "libnccl.so.2", RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    const char *e = dlerror();
    snprintf(where, len, "%s", e ? e : "not found");
    return 0;
  }
  snprintf(where, len, "%s", name && *name ? name : "libnccl.so.2");
  dlclose(lib);
  return 1;
}

extern "C" GyreStatus GyreCUDANCCLUniqueId(GyreNCCL *g, void *id)
{
  NcclUniqueId u;
  memset(&u, 0, sizeof u);
  NcclResult r = g->get_unique_id(&u);
  if (r) return nccl_status(g, r, "ncclGetUniqueId");
  memcpy(id, &u, sizeof u);
  return GYRE_OK;
}

extern "C" GyreStatus GyreCUDANCCLCommInit(GyreNCCL *g, int nranks, const void *id, int rank)
{
  NcclUniqueId u;
  memcpy(&u, id, sizeof u);
  NcclResult r = g->comm_init_rank(&g->comm, nranks, u, rank);
  return r ? nccl_status(g, r, "ncclCommInitRank") : GYRE_OK;
}

extern "C" GyreStatus GyreCUDANCCLAllReduceSum(GyreNCCL *g, float *dev, size_t n)
{
  NcclResult r =
      g->all_reduce(dev, dev, n, /* ncclFloat32 */ 7, /* ncclSum */ 0, g->comm, g->cu->stream);
  return r ? nccl_status(g, r, "ncclAllReduce") : GYRE_OK;
}

extern "C" GyreStatus GyreCUDANCCLSynchronize(GyreNCCL *g)
{
  CU(cudaStreamSynchronize(g->cu->stream));
  return GYRE_OK;
}

extern "C" void GyreCUDANCCLFinalize(GyreNCCL **pg)
{
  if (!pg || !*pg) return;
  GyreNCCL *g = *pg;
  if (g->comm) g->comm_destroy(g->comm);
  dlclose(g->lib);
  free(g);
  *pg = NULL;
}
