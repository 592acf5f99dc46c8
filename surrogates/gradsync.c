/* gradsync.c — bucketed gradient summation over MPI ranks for data-parallel training
 * (gyre_train.h: GyreGradSync). Buckets are cut from the end of the parameter list; each is
 * packed into a host buffer and reduced with one MPI_Iallreduce started from the network's
 * backward hook as soon as its gradients are final. */
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "gyre_io.h"
#include "gyre_train.h"

typedef struct {
  int         lo, hi; /* parameters [lo, hi) */
  size_t      count;  /* floats */
  float      *buf;    /* host */
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
  Bucket            *b; /* b[0] holds the last parameters */
};

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
  for (int i = 0; i < g->nb && !st; i++) {
    if (g->b[i].count > INT_MAX)
      st = GyreStatusSet(GYRE_ERR_ARG,
                         "GyreGradSync: a gradient of %zu values is too large for "
                         "one MPI call",
                         g->b[i].count);
    else if (g->size > 1 && !(g->b[i].buf = malloc(g->b[i].count * sizeof(float))))
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

static GyreStatus start(GyreGradSync *g, Bucket *k)
{
  size_t off = 0;
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
  if (g->size == 1) return GYRE_OK;
  for (int i = 0; i < g->nb && g->b[i].lo >= first; i++)
    if (!g->b[i].started) GyreCall(start(g, &g->b[i]));
  /* let the started reductions progress while the backward pass continues */
  for (int i = 0; i < g->nb && g->b[i].started; i++) {
    int done;
    MPI_Test(&g->b[i].req, &done, MPI_STATUS_IGNORE);
  }
  return GYRE_OK;
}

GyreStatus GyreGradSyncFinish(GyreGradSync *g)
{
  if (g->size == 1) return GYRE_OK;
  GyreStatus st = GYRE_OK;
  for (int i = 0; i < g->nb && !st; i++)
    if (!g->b[i].started) st = start(g, &g->b[i]);
  for (int i = 0; i < g->nb; i++) {
    Bucket *k = &g->b[i];
    if (!k->started) continue;
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

GyreStatus GyreGradSyncDestroy(GyreGradSync **pg)
{
  if (!pg || !*pg) return GYRE_OK;
  GyreGradSync *g = *pg;
  for (int i = 0; i < g->nb; i++) {
    if (g->b[i].started) MPI_Wait(&g->b[i].req, MPI_STATUS_IGNORE);
    free(g->b[i].buf);
  }
  free(g->b);
  free(g);
  *pg = NULL;
  return GYRE_OK;
}
