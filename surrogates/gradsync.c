/* gradsync.c — bucketed gradient summation over MPI ranks for data-parallel training
 * (gyre_train.h: GyreGradSync). Buckets are cut from the end of the parameter list; each is
 * packed into a buffer and reduced as soon as its gradients are final (from the network's
 * backward hook):
 *  - MPI (the CPU backend, or CUDA without NCCL): a host buffer, one MPI_Iallreduce;
 *  - NCCL (the CUDA backend where libnccl.so.2 loads on every rank): a device buffer, one
 *    in-place ncclAllReduce queued on the compute stream after the backward kernels that
 *    wrote the bucket; the NCCL id is made on rank 0 and broadcast over MPI.
 * A single rank sums nothing, unless GYRE_NCCL=force (the NCCL path's test on one GPU). */
#include <limits.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "gyre_io.h"
#include "gyre_train.h"
#if GYRE_HAVE_CUDA
#include "gyre_cuda.h"
#endif

typedef struct {
  int         lo, hi; /* parameters [lo, hi) */
  size_t      count;  /* floats */
  float      *buf;    /* host (MPI) or device (NCCL) */
  MPI_Request req;
  int         started;
} Bucket;

struct GyreGradSync_s {
  MPI_Comm           comm;
  int                size;
  GyreBackend       *be;
  int                n;
  GyreTensor *const *grads;
  int                nb;
  Bucket            *b;      /* b[0] holds the last parameters */
  int                active; /* sums over ranks: size > 1, or NCCL forced */
  char               transport[160];
#if GYRE_HAVE_CUDA
  GyreNCCL *nccl;
#endif
};

#if GYRE_HAVE_CUDA
/* NCCL for a CUDA backend where every rank can load it (collective); else MPI, said why */
static GyreStatus nccl_setup(GyreGradSync *g, int force)
{
  char        why[160] = "";
  const char *env      = getenv("GYRE_NCCL");
  int         ok, all, rank;
  GyreCall(GyreCUDANCCLOpen(g->be, &g->nccl, why, sizeof why));
  if (env && !strcmp(env, "0")) { /* GYRE_NCCL=0: MPI */
    GyreCUDANCCLFinalize(&g->nccl);
    snprintf(why, sizeof why, "NCCL off (GYRE_NCCL=0)");
  }
  ok = g->nccl != NULL;
  MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_MIN, g->comm);
  if (!all) {
    GyreCUDANCCLFinalize(&g->nccl);
    snprintf(g->transport, sizeof g->transport, "MPI (%s)",
             ok ? "NCCL missing on another rank" : why);
    return GYRE_OK;
  }
  unsigned char id[GYRE_NCCL_ID_BYTES];
  GyreStatus    st = GYRE_OK;
  MPI_Comm_rank(g->comm, &rank);
  if (rank == 0) st = GyreCUDANCCLUniqueId(g->nccl, id);
  if ((st = GyreStatusAgree(g->comm, st)) != GYRE_OK) return st;
  MPI_Bcast(id, GYRE_NCCL_ID_BYTES, MPI_BYTE, 0, g->comm);
  GyreCall(GyreCUDANCCLCommInit(g->nccl, g->size, id, rank));
  snprintf(g->transport, sizeof g->transport, "NCCL all-reduce on the device (%d rank%s%s)",
           g->size, g->size > 1 ? "s" : "", force && g->size == 1 ? ", forced" : "");
  return GYRE_OK;
}
#endif

GyreStatus GyreGradSyncCreate(MPI_Comm comm, GyreBackend *be, int n, GyreTensor *const *grads,
                              size_t bucket_bytes, GyreGradSync **out)
{
  *out            = NULL;
  GyreGradSync *g = calloc(1, sizeof *g);
  if (!g) return GyreStatusSet(GYRE_ERR_MEM, "GyreGradSync: out of memory");
  g->comm = comm, g->be = be, g->n = n, g->grads = grads;
  MPI_Comm_size(comm, &g->size);
  if (!bucket_bytes) bucket_bytes = (size_t) 4 << 20;
  size_t cap = bucket_bytes / sizeof(float);
  if (cap < 1) cap = 1;
  g->b = calloc((size_t) (n > 0 ? n : 1), sizeof(Bucket));
  if (!g->b) {
    free(g);
    return GyreStatusSet(GYRE_ERR_MEM, "GyreGradSync: out of memory");
  }
  for (int hi = n; hi > 0;) {
    Bucket *k = &g->b[g->nb++];
    k->hi     = hi;
    k->lo     = hi;
    while (k->lo > 0 && (k->count == 0 || k->count + grads[k->lo - 1]->size <= cap))
      k->count += grads[--k->lo]->size;
    hi = k->lo;
  }
  GyreStatus st = GYRE_OK;
  g->active     = g->size > 1;
  snprintf(g->transport, sizeof g->transport, "MPI_Iallreduce on host buffers");
#if GYRE_HAVE_CUDA
  const char *env   = getenv("GYRE_NCCL");
  const int   force = env && !strcmp(env, "force");
  if (!strcmp(be->ops->name, "cuda") && (g->size > 1 || force)) {
    st = GyreStatusAgree(comm, nccl_setup(g, force));
    if (g->nccl) g->active = 1;
  }
#endif
  if (g->size == 1 && !g->active) snprintf(g->transport, sizeof g->transport, "none (1 rank)");
  for (int i = 0; i < g->nb && !st; i++) {
    if (g->b[i].count > INT_MAX)
      st = GyreStatusSet(GYRE_ERR_ARG,
                         "GyreGradSync: a gradient of %zu values is too large for "
                         "one MPI call",
                         g->b[i].count);
#if GYRE_HAVE_CUDA
    else if (g->nccl)
      st = be->ops->alloc(be, g->b[i].count * sizeof(float), (void **) &g->b[i].buf);
#endif
    else if (g->active && !(g->b[i].buf = malloc(g->b[i].count * sizeof(float))))
      st = GyreStatusSet(GYRE_ERR_MEM, "GyreGradSync: out of memory (%zu bytes)",
                         g->b[i].count * sizeof(float));
  }
  /* every rank must cut the same buckets */
  uint64_t mine[2] = {(uint64_t) g->nb, (uint64_t) n}, lo[2], hi[2];
  for (int i = 0; i < g->nb; i++) /* unsigned: wraps, never overflows */
    mine[1] = mine[1] * 31u + (uint64_t) g->b[i].count;
  MPI_Allreduce(mine, lo, 2, MPI_UINT64_T, MPI_MIN, comm);
  MPI_Allreduce(mine, hi, 2, MPI_UINT64_T, MPI_MAX, comm);
  if (!st && (lo[0] != hi[0] || lo[1] != hi[1]))
    st = GyreStatusSet(GYRE_ERR_ARG, "GyreGradSync: the ranks hold different parameter lists");
  if ((st = GyreStatusAgree(comm, st)) != GYRE_OK) {
    GyreGradSyncDestroy(&g);
    return st;
  }
  *out = g;
  return GYRE_OK;
}

static int gs_nccl(const GyreGradSync *g)
{
#if GYRE_HAVE_CUDA
  return g->nccl != NULL;
#else
  (void) g;
  return 0;
#endif
}

static GyreStatus start(GyreGradSync *g, Bucket *k)
{
  size_t off = 0;
#if GYRE_HAVE_CUDA
  if (g->nccl) { /* pack on the device, sum in place; all queued on the compute stream */
    for (int i = k->lo; i < k->hi; i++) {
      GyreCall(
          g->be->ops->axpby(g->be, g->grads[i]->size, 1.0f, g->grads[i]->data, 0.0f, k->buf + off));
      off += g->grads[i]->size;
    }
    GyreCall(GyreCUDANCCLAllReduceSum(g->nccl, k->buf, k->count));
    k->started = 1;
    return GYRE_OK;
  }
#endif
  for (int i = k->lo; i < k->hi; i++) {
    GyreCall(GyreTensorCopyToHost(g->grads[i], k->buf + off));
    off += g->grads[i]->size;
  }
  int err =
      MPI_Iallreduce(MPI_IN_PLACE, k->buf, (int) k->count, MPI_FLOAT, MPI_SUM, g->comm, &k->req);
  if (err != MPI_SUCCESS)
    return GyreStatusSet(GYRE_ERR_MPI, "GyreGradSync: MPI_Iallreduce failed (error %d)", err);
  k->started = 1;
  return GYRE_OK;
}

GyreStatus GyreGradSyncReady(void *ctx, int first)
{
  GyreGradSync *g = ctx;
  if (!g->active) return GYRE_OK;
  for (int i = 0; i < g->nb && g->b[i].lo >= first; i++)
    if (!g->b[i].started) GyreCall(start(g, &g->b[i]));
  /* let the started reductions progress while the backward pass continues */
  for (int i = 0; i < g->nb && g->b[i].started && !gs_nccl(g); i++) {
    int done;
    MPI_Test(&g->b[i].req, &done, MPI_STATUS_IGNORE);
  }
  return GYRE_OK;
}

GyreStatus GyreGradSyncFinish(GyreGradSync *g)
{
  if (!g->active) return GYRE_OK;
  GyreStatus st = GYRE_OK;
  for (int i = 0; i < g->nb && !st; i++)
    if (!g->b[i].started) st = start(g, &g->b[i]);
  for (int i = 0; i < g->nb; i++) {
    Bucket *k = &g->b[i];
    if (!k->started) continue;
#if GYRE_HAVE_CUDA
    if (g->nccl) { /* unpack on the device (stream order: after the sum) */
      size_t off = 0;
      k->started = 0;
      for (int j = k->lo; j < k->hi && !st; j++) {
        st = g->be->ops->axpby(g->be, g->grads[j]->size, 1.0f, k->buf + off, 0.0f,
                               g->grads[j]->data);
        off += g->grads[j]->size;
      }
      continue;
    }
#endif
    int err    = MPI_Wait(&k->req, MPI_STATUS_IGNORE);
    k->started = 0;
    if (err != MPI_SUCCESS && !st)
      st = GyreStatusSet(GYRE_ERR_MPI, "GyreGradSync: MPI_Wait failed (error %d)", err);
    size_t off = 0;
    for (int j = k->lo; j < k->hi && !st; j++) {
      st = GyreTensorCopyFromHost(g->grads[j], k->buf + off);
      off += g->grads[j]->size;
    }
  }
  return st;
}

int GyreGradSyncBuckets(const GyreGradSync *g)
{
  return g->nb;
}

const char *GyreGradSyncTransport(const GyreGradSync *g)
{
  return g->transport;
}

GyreStatus GyreGradSyncDestroy(GyreGradSync **pg)
{
  if (!pg || !*pg) return GYRE_OK;
  GyreGradSync *g = *pg;
  for (int i = 0; i < g->nb; i++) {
#if GYRE_HAVE_CUDA
    if (g->nccl) {
      if (g->b[i].buf) g->be->ops->free(g->be, g->b[i].buf);
      continue;
    }
#endif
    if (g->b[i].started) MPI_Wait(&g->b[i].req, MPI_STATUS_IGNORE);
    free(g->b[i].buf);
  }
#if GYRE_HAVE_CUDA
  GyreCUDANCCLFinalize(&g->nccl);
#endif
  free(g->b);
  free(g);
  *pg = NULL;
  return GYRE_OK;
}
