/* tensor.c — float32 tensors on a backend: creation, host copies, shape checks. */
#include <stdio.h>
#include <string.h>
#include "gyre_nn.h"

GyreStatus GyreTensorCreate(GyreBackend *be, int ndim, const int64_t *shape, GyreTensor *t)
{
  size_t n = 1;

  memset(t, 0, sizeof *t);
  if (!be || ndim < 1 || ndim > GYRE_TENSOR_MAX_DIMS)
    return GyreStatusSet(GYRE_ERR_ARG, "tensor: %d dimensions (1 to %d expected)", ndim,
                         GYRE_TENSOR_MAX_DIMS);
  for (int d = 0; d < ndim; d++) {
    if (shape[d] <= 0)
      return GyreStatusSet(GYRE_ERR_ARG, "tensor: dimension %d has length %lld", d,
                           (long long) shape[d]);
    t->shape[d] = shape[d];
    n *= (size_t) shape[d];
  }
  GyreCall(be->ops->alloc(be, n * sizeof(float), (void **) &t->data));
  t->ndim    = ndim;
  t->size    = n;
  t->backend = be;
  return be->ops->fill(be, t->data, n, 0.0f);
}

GyreStatus GyreTensorDestroy(GyreTensor *t)
{
  if (!t || !t->data) return GYRE_OK;
  GyreCall(t->backend->ops->free(t->backend, t->data));
  memset(t, 0, sizeof *t);
  return GYRE_OK;
}

GyreStatus GyreTensorCopyFromHost(GyreTensor *t, const float *host)
{
  return t->backend->ops->copy_from_host(t->backend, t->data, host, t->size * sizeof(float));
}

GyreStatus GyreTensorCopyFromHostAsync(GyreTensor *t, const float *host)
{
  const GyreBackendOps *op = t->backend->ops;
  if (op->copy_from_host_async)
    return op->copy_from_host_async(t->backend, t->data, host, t->size * sizeof(float));
  return GyreTensorCopyFromHost(t, host);
}

GyreStatus GyreTensorCopyToHost(const GyreTensor *t, float *host)
{
  return t->backend->ops->copy_to_host(t->backend, host, t->data, t->size * sizeof(float));
}

GyreStatus GyreTensorFill(GyreTensor *t, float value)
{
  return t->backend->ops->fill(t->backend, t->data, t->size, value);
}

const char *GyreTensorShapeString(const GyreTensor *t, char *buf, size_t len)
{
  size_t off = (size_t) snprintf(buf, len, "(");
  for (int d = 0; d < t->ndim && off < len; d++)
    off +=
        (size_t) snprintf(buf + off, len - off, "%s%lld", d ? ", " : "", (long long) t->shape[d]);
  if (off < len) snprintf(buf + off, len - off, ")");
  return buf;
}

GyreStatus GyreTensorCheckSameShape(const char *what, const GyreTensor *a, const GyreTensor *b)
{
  int same = a->ndim == b->ndim;
  for (int d = 0; same && d < a->ndim; d++)
    same = a->shape[d] == b->shape[d];
  if (!same) {
    char sa[96], sb[96];
    return GyreStatusSet(GYRE_ERR_ARG, "%s: shapes %s and %s differ", what,
                         GyreTensorShapeString(a, sa, sizeof sa),
                         GyreTensorShapeString(b, sb, sizeof sb));
  }
  return GYRE_OK;
}
