/* inference.c — GyreSurrogate: a loaded model applied to physical fields (gyre_model_file.h). */
#include "gyre_model_file.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct GyreSurrogate_s {
  GyreBackend      *be;
  GyreNet          *net;
  GyreModelMeta     meta;
  GyreNormalization norm;
  /* a per-point MLP: its normalisation per input and output feature, for the one-pass path
   * (GyreNetInferHost); aff_mem NULL otherwise */
  double       *aff_mem;
  GyreMLPAffine aff;
};

/* A per-point MLP's normalisation per feature: input feature k is channel k / S of the point's
 * channels, each with its stencil of S values (in_shape); output j is channel j. Nothing (the
 * general path) for another network or a normalisation that does not match: GyreSurrogateApply
 * then says what is wrong. */
static GyreStatus point_affine(GyreSurrogate *s)
{
  const GyreModelMeta *m = &s->meta;
  if (m->type != GYRE_NET_MLP || !m->per_point || s->norm.nin < 1 || m->mlp.inputs < 1 ||
      m->mlp.inputs % s->norm.nin || m->mlp.outputs < 1 || m->mlp.outputs > s->norm.nout)
    return GYRE_OK;
  const int K = m->mlp.inputs, N = m->mlp.outputs, S = K / s->norm.nin;
  double   *a = malloc(sizeof(double) * 2 * (size_t) (K + N));
  if (!a) return GyreStatusSet(GYRE_ERR_MEM, "GyreSurrogateLoad: out of memory");
  for (int k = 0; k < K; k++)
    a[k] = s->norm.in_mean[k / S], a[K + k] = 1.0 / s->norm.in_std[k / S];
  for (int j = 0; j < N; j++)
    a[2 * K + j] = s->norm.out_mean[j], a[2 * K + N + j] = s->norm.out_std[j];
  s->aff_mem = a;
  s->aff     = (GyreMLPAffine){a, a + K, a + 2 * K, a + 2 * K + N};
  return GYRE_OK;
}

GyreStatus GyreSurrogateLoad(MPI_Comm comm, const char *path, GyreBackend *backend,
                             GyreSurrogate **out)
{
  if (!out) return GyreStatusSet(GYRE_ERR_ARG, "GyreSurrogateLoad: NULL argument");
  GyreSurrogate *s = calloc(1, sizeof *s);
  if (!s) return GyreStatusSet(GYRE_ERR_MEM, "GyreSurrogateLoad: out of memory");
  GyreStatus st = GyreModelFileRead(comm, path, backend, &s->net, &s->meta, &s->norm);
  if (st) {
    free(s);
    return st;
  }
  s->be = backend;
  if ((st = point_affine(s))) {
    GyreSurrogateDestroy(&s);
    return st;
  }
  *out = s;
  return GYRE_OK;
}

/* The input shape for n samples: MLP (n, inputs); FNO/CNN (n, C, [ny,] nx). *cin and *pc: the
 * normalisation channels and the values per channel of one sample (an MLP applied per point
 * sees its channels, pc = 1; one applied to a whole field sees C * ny * nx features). */
static GyreStatus in_shape(const GyreSurrogate *s, int n, int bny, int bnx, int *nd, int64_t *sh,
                           int *cin, size_t *per_channel)
{
  const GyreModelMeta *m = &s->meta;
  size_t               pts =
      (size_t) (m->grid_nx > 0 ? m->grid_nx : 1) * (size_t) (m->grid_ny > 0 ? m->grid_ny : 1);
  int dim;
  if (m->type == GYRE_NET_MLP) {
    *nd = 2, sh[0] = n, sh[1] = m->mlp.inputs;
    if (m->per_point) { /* the point's channels, each with its stencil of S values */
      *cin = s->norm.nin, *per_channel = (size_t) m->mlp.inputs / (size_t) s->norm.nin;
      if ((size_t) m->mlp.inputs != *per_channel * (size_t) s->norm.nin)
        return GyreStatusSet(GYRE_ERR_FORMAT,
                             "surrogate: a per-point MLP with %d inputs does not match %d "
                             "channels (stencil %d)",
                             m->mlp.inputs, s->norm.nin, m->stencil);
    } else {
      *cin = s->norm.nin, *per_channel = pts;
      if ((size_t) m->mlp.inputs != (size_t) s->norm.nin * pts)
        return GyreStatusSet(GYRE_ERR_FORMAT,
                             "surrogate: a whole-field MLP with %d inputs does not match %d "
                             "channels x %zu grid points",
                             m->mlp.inputs, s->norm.nin, pts);
      if (m->mlp.outputs < 1 || (size_t) m->mlp.outputs % pts)
        return GyreStatusSet(GYRE_ERR_FORMAT,
                             "surrogate: a whole-field MLP with %d outputs is no whole number of "
                             "channels x %zu grid points",
                             m->mlp.outputs, pts);
    }
    return GYRE_OK;
  }
  if (m->type == GYRE_NET_FNO)
    dim = m->fno.dim, *cin = m->fno.in_channels;
  else
    dim = m->cnn.dim, *cin = m->cnn.in_channels;
  int gy = bnx > 0 ? bny : m->grid_ny, gx = bnx > 0 ? bnx : m->grid_nx; /* block or grid */
  if (bnx > 0 && m->type != GYRE_NET_CNN)
    return GyreStatusSet(GYRE_ERR_ARG, "surrogate: only a CNN applies to a block of the grid");
  if (gx < 1 || (dim == 2 && gy < 1))
    return GyreStatusSet(GYRE_ERR_ARG, "surrogate: a grid of %d x %d is unusable", gx, gy);
  sh[0] = n, sh[1] = *cin;
  if (dim == 2)
    *nd = 4, sh[2] = gy, sh[3] = gx;
  else
    *nd = 3, sh[2] = gx;
  *per_channel = (size_t) gx * (dim == 2 ? (size_t) gy : 1);
  return GYRE_OK;
}

GyreStatus GyreSurrogateApplyWorkspace(const GyreSurrogate *s, GyreNetWorkspace *ws,
                                       const float *in, float *out, int n)
{
  return GyreSurrogateApplyBlock(s, ws, in, out, n, 0, 0);
}

GyreStatus GyreSurrogateHostCallInit(const GyreSurrogate *s, GyreNetWorkspace *ws,
                                     GyreNetHostCall *d)
{
  if (!s || !ws || !d)
    return GyreStatusSet(GYRE_ERR_ARG, "GyreSurrogateHostCallInit: NULL argument");
  *d = (GyreNetHostCall){0};
  return s->aff_mem ? GyreNetHostCallInit(s->net, ws, &s->aff, d) : GYRE_OK;
}

GyreStatus GyreSurrogateApplyBlock(const GyreSurrogate *s, GyreNetWorkspace *ws, const float *in,
                                   float *out, int n, int ny, int nx)
{
  if (!s || !ws || !in || !out || n < 1)
    return GyreStatusSet(GYRE_ERR_ARG, "GyreSurrogateApply: NULL argument or n = %d < 1", n);
  /* a per-point MLP in one pass, normalised on the way (its rows are read and written block by
   * block, on several threads: not where out overlaps in, which the general path stages) */
  const uintptr_t in_at = (uintptr_t) in, out_at = (uintptr_t) out;
  if (s->aff_mem && nx <= 0 &&
      (in_at + sizeof(float) * (size_t) n * (size_t) s->meta.mlp.inputs <= out_at ||
       out_at + sizeof(float) * (size_t) n * (size_t) s->meta.mlp.outputs <= in_at)) {
    int done = 0;
    GyreCall(GyreNetInferHost(s->net, ws, (size_t) n, in, out, &s->aff, &done));
    if (done) return GYRE_OK;
  }
  int     nd = 0, cin = 0, ynd = 0;
  int64_t sh[4], ysh[4];
  size_t  pc = 1;
  GyreCall(in_shape(s, n, ny, nx, &nd, sh, &cin, &pc));
  if (s->meta.type == GYRE_NET_MLP) /* (n, outputs): no pass over the layers */
    ynd = 2, ysh[0] = n, ysh[1] = s->meta.mlp.outputs;
  else
    GyreCall(GyreNetOutputShape(s->net, nd, sh, &ynd, ysh));
  int    cout = (int) ysh[1];
  size_t ypc  = 1;
  for (int k = 2; k < ynd; k++)
    ypc *= (size_t) ysh[k];
  if (s->meta.type == GYRE_NET_MLP && !s->meta.per_point) { /* (n, Cout * points) */
    ypc  = pc;
    cout = (int) (ysh[1] / (int64_t) pc);
  }
  if (cin > s->norm.nin || cout > s->norm.nout)
    return GyreStatusSet(GYRE_ERR_FORMAT,
                         "surrogate: the normalisation has %d input / %d target channels, the "
                         "network %d / %d",
                         s->norm.nin, s->norm.nout, cin, cout);
  /* normalised, one channel's block of pc values at a time (channel (b % cin)), by the
   * reciprocal of the standard deviation (a division a value was most of a small call) */
  double inv[GYRE_DATA_MAX_CHANNELS];
  if (cin > GYRE_DATA_MAX_CHANNELS)
    return GyreStatusSet(GYRE_ERR_FORMAT, "surrogate: %d input channels (at most %d)", cin,
                         GYRE_DATA_MAX_CHANNELS);
  for (int c = 0; c < cin; c++)
    inv[c] = 1.0 / s->norm.in_std[c];
  const int host = s->be->ops == GyreBackendOpsCPU();
  if (host && s->meta.type == GYRE_NET_CNN) { /* a chain in one op, normalised inside it */
    GyreTensor xv = {.data = (float *) in, .ndim = nd, .size = 1, .backend = s->be};
    GyreTensor yv = {.data = out, .ndim = ynd, .size = 1, .backend = s->be};
    for (int k = 0; k < nd; k++)
      xv.shape[k] = sh[k], xv.size *= (size_t) sh[k];
    for (int k = 0; k < ynd; k++)
      yv.shape[k] = ysh[k], yv.size *= (size_t) ysh[k];
    const GyreMLPAffine aff  = {s->norm.in_mean, inv, s->norm.out_mean, s->norm.out_std};
    int                 done = 0;
    if (in_at + sizeof(float) * xv.size <= out_at || out_at + sizeof(float) * yv.size <= in_at)
      GyreCall(GyreNetInferChain(s->net, ws, &xv, &yv, &aff, &done));
    if (done) return GYRE_OK;
  }
  GyreTensor *x, *y;
  float      *h, *hy;
  GyreCall(GyreNetWorkspaceIO(ws, nd, sh, ynd, ysh, &x, &y, &h, &hy));
  /* the CPU backend's tensors are host memory: normalised straight into x, and out from y */
  float *xh = host ? x->data : h;
  if (cin == 1) pc = x->size; /* one channel: one block (a per-point MLP's blocks are short) */
  for (size_t b = 0, nb = x->size / pc, c = 0; b < nb; b++, c = c + 1 == (size_t) cin ? 0 : c + 1) {
    GyreCPUAffine(0, in + b * pc, xh + b * pc, pc, s->norm.in_mean[c], inv[c], 0);
  }
  if (host) /* the tensors are host memory: no copies */
    GyreCall(GyreNetInfer(s->net, ws, x, y));
  else /* through the pinned staging, the copies and the layers one graph where recorded */
    GyreCall(GyreNetInferStaged(s->net, ws, h, x, y, hy));
  const float *yh = host ? y->data : hy;
  if (cout == 1) ypc = y->size;
  for (size_t b = 0, nb = y->size / ypc; b < nb; b++) { /* back to physical units */
    const int c = (int) (b % (size_t) cout);
    GyreCPUAffine(1, yh + b * ypc, out + b * ypc, ypc, s->norm.out_mean[c], s->norm.out_std[c], 0);
  }
  return GYRE_OK;
}

GyreStatus GyreSurrogateApply(const GyreSurrogate *s, const float *in, float *out, int n)
{
  if (!s) return GyreStatusSet(GYRE_ERR_ARG, "GyreSurrogateApply: NULL surrogate");
  GyreNetWorkspace *ws = NULL;
  GyreCall(GyreNetWorkspaceCreate(s->net, &ws));
  GyreStatus st = GyreSurrogateApplyWorkspace(s, ws, in, out, n);
  GyreNetWorkspaceDestroy(&ws);
  return st;
}

int GyreSurrogateReceptiveRadius(const GyreSurrogate *s)
{
  const GyreModelMeta *m = &s->meta;
  if (m->type == GYRE_NET_MLP) return m->per_point ? m->stencil : -1;
  if (m->type != GYRE_NET_CNN || m->cnn.zero_mean) return -1;
  int r = 0;
  for (int i = 0; i < m->cnn.nlayers; i++)
    r += (m->cnn.kernels[i] - 1) / 2;
  return r;
}

const GyreModelMeta *GyreSurrogateMeta(const GyreSurrogate *s)
{
  return &s->meta;
}
const GyreNormalization *GyreSurrogateNormalization(const GyreSurrogate *s)
{
  return &s->norm;
}
const GyreNet *GyreSurrogateNet(const GyreSurrogate *s)
{
  return s->net;
}

GyreStatus GyreSurrogateDestroy(GyreSurrogate **ps)
{
  if (!ps || !*ps) return GYRE_OK;
  GyreSurrogate *s = *ps;
  GyreNetDestroy(&s->net);
  free(s->aff_mem);
  free(s);
  *ps = NULL;
  return GYRE_OK;
}
