/* network.c — GyreNet: MLP, FNO (1-D/2-D) and the Ross et al. FCNN as a sequence of layers
 * over a backend's operation table (see gyre_net.h for the architectures and decisions).
 *
 * A network is a list of layers; the forward pass stores every layer's output act[i+1]
 * (act[0] is a copy of the input), the backward pass walks the list in reverse with one
 * gradient buffer per stored activation. Layer kinds: dense, conv (zero or circular
 * padding), Fourier block (spectral conv + pointwise conv, summed), activation, batch norm
 * (GyreBatchNorm, synchronised over a communicator), grid (append coordinate channels) and
 * zero-mean (subtract the spatial mean per sample and channel). Everything runs through
 * be->ops, so a CUDA backend serves the same code. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "gyre_net.h"
#include "gyre_train.h"

typedef enum { L_DENSE, L_CONV, L_FOURIER, L_ACT, L_BN, L_GRID, L_ZEROMEAN } LayerKind;

typedef struct {
  LayerKind      kind;
  int            cin, cout, k, dim, modes;
  GyrePadding    pad;
  GyreActivation act;
  GyreTensor     W, b, dW, db;     /* dense / conv; Fourier block: the pointwise conv */
  GyreTensor     Wr, Wi, dWr, dWi; /* Fourier block: spectral weights */
  GyreBatchNorm *bn;
  MPI_Comm       comm;
  GyreTensor     tmp;     /* Fourier block: pointwise output / input-gradient part */
  GyreTensor     aux;     /* grid: coordinates (dim, spatial...); zero-mean: ones (spatial) */
  int            pfirst;  /* index of the layer's first parameter (= the count before it) */
  int            inplace; /* ReLU after another layer: its output overwrites its input (the
                             backward pass needs only the output's sign), saving one stored
                             activation; act[i+1] is then a view of act[i] */
} Layer;

struct GyreNet_s {
  GyreBackend    *be;
  GyreNetType     type;
  int             nl, cap;
  Layer          *L;
  GyreTensor     *act, *grad; /* nl + 1 each */
  int             np, npcap;
  GyreTensor    **params, **grads;
  char          **names;
  int             nb, nbcap; /* non-trainable buffers (batch-norm running statistics) */
  GyreTensor    **bufs;
  char          **bnames;
  int             in_ndim; /* expected input rank */
  int             in_channels;
  int             dim; /* spatial dims (0 for the MLP) */
  int             has_forward;
  GyreNetGradHook hook; /* called during the backward pass as gradients become final */
  void           *hook_ctx;
  unsigned long   id; /* unique in the process (net_alloc): what a workspace's caches key on */
};

/* ---- helpers ---------------------------------------------------------------------- */
static double rng_uniform(uint64_t *s) /* splitmix64 -> [0, 1) */
{
  uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
  z          = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z          = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  z ^= z >> 31;
  return (double) (z >> 11) / 9007199254740992.0;
}

static int same_shape(const GyreTensor *t, int ndim, const int64_t *shape)
{
  if (!t->data || t->ndim != ndim) return 0;
  for (int d = 0; d < ndim; d++)
    if (t->shape[d] != shape[d]) return 0;
  return 1;
}

static GyreStatus ensure(GyreBackend *be, GyreTensor *t, int ndim, const int64_t *shape)
{
  if (same_shape(t, ndim, shape)) return GYRE_OK;
  GyreCall(GyreTensorDestroy(t));
  return GyreTensorCreate(be, ndim, shape, t);
}

/* y[0..n) = x[0..n) on the backend */
static GyreStatus copy_dev(GyreBackend *be, size_t n, const float *x, float *y)
{
  return be->ops->axpby(be, n, 1.0f, x, 0.0f, y); /* b = 0: y is not read */
}

static GyreStatus init_uniform(GyreBackend *be, GyreTensor *t, uint64_t *rng, double lo, double hi)
{
  float *h = malloc(t->size * sizeof(float) + 1);
  if (!h) return GyreStatusSet(GYRE_ERR_MEM, "GyreNet: out of memory (%zu floats)", t->size);
  for (size_t i = 0; i < t->size; i++)
    h[i] = (float) (lo + (hi - lo) * rng_uniform(rng));
  GyreStatus s = GyreTensorCopyFromHost(t, h);
  free(h);
  return s;
}

/* "<fmt % i>.<what>", e.g. "bn3.gamma" (malloc'ed) */
static GyreStatus tensor_name(const char *fmt, int i, const char *what, char **name)
{
  char buf[64];
  snprintf(buf, sizeof buf, fmt, i);
  size_t len = strlen(buf) + strlen(what) + 2;
  if (!(*name = malloc(len))) return GyreStatusSet(GYRE_ERR_MEM, "GyreNet: out of memory");
  snprintf(*name, len, "%s.%s", buf, what);
  return GYRE_OK;
}

static GyreStatus add_param(GyreNet *net, GyreTensor *p, GyreTensor *g, const char *fmt, int i,
                            const char *what)
{
  if (net->np == net->npcap) {
    int   cap = net->npcap ? 2 * net->npcap : 16;
    void *a   = realloc(net->params, cap * sizeof(*net->params));
    if (!a) return GyreStatusSet(GYRE_ERR_MEM, "GyreNet: out of memory");
    net->params = a;
    a           = realloc(net->grads, cap * sizeof(*net->grads));
    if (!a) return GyreStatusSet(GYRE_ERR_MEM, "GyreNet: out of memory");
    net->grads = a;
    a          = realloc(net->names, cap * sizeof(*net->names));
    if (!a) return GyreStatusSet(GYRE_ERR_MEM, "GyreNet: out of memory");
    net->names = a;
    net->npcap = cap;
  }
  char *nm;
  GyreCall(tensor_name(fmt, i, what, &nm));
  net->params[net->np] = p;
  net->grads[net->np]  = g;
  net->names[net->np]  = nm;
  net->np++;
  return GYRE_OK;
}

static GyreStatus add_buffer(GyreNet *net, GyreTensor *t, const char *fmt, int i, const char *what)
{
  if (net->nb == net->nbcap) {
    int   cap = net->nbcap ? 2 * net->nbcap : 16;
    void *a   = realloc(net->bufs, cap * sizeof(*net->bufs));
    if (!a) return GyreStatusSet(GYRE_ERR_MEM, "GyreNet: out of memory");
    net->bufs = a;
    a         = realloc(net->bnames, cap * sizeof(*net->bnames));
    if (!a) return GyreStatusSet(GYRE_ERR_MEM, "GyreNet: out of memory");
    net->bnames = a;
    net->nbcap  = cap;
  }
  char *nm;
  GyreCall(tensor_name(fmt, i, what, &nm));
  net->bufs[net->nb]   = t;
  net->bnames[net->nb] = nm;
  net->nb++;
  return GYRE_OK;
}

static GyreStatus net_alloc(GyreBackend *be, GyreNetType type, int cap, GyreNet **out)
{
  if (!be) return GyreStatusSet(GYRE_ERR_ARG, "GyreNet: no backend");
  GyreNet *net = calloc(1, sizeof(*net));
  if (!net) return GyreStatusSet(GYRE_ERR_MEM, "GyreNet: out of memory");
  net->L    = calloc(cap, sizeof(Layer));
  net->act  = calloc(cap + 1, sizeof(GyreTensor));
  net->grad = calloc(cap + 1, sizeof(GyreTensor));
  if (!net->L || !net->act || !net->grad) {
    free(net->L), free(net->act), free(net->grad), free(net);
    return GyreStatusSet(GYRE_ERR_MEM, "GyreNet: out of memory");
  }
  static unsigned long ids = 0; /* (networks are made on one thread at a time) */
#pragma omp atomic capture
  net->id   = ++ids;
  net->be   = be;
  net->type = type;
  net->cap  = cap;
  *out      = net;
  return GYRE_OK;
}

static Layer *push(GyreNet *net, LayerKind kind)
{
  Layer *l  = &net->L[net->nl++];
  l->kind   = kind;
  l->pfirst = net->np;
  return l;
}

/* dense (dim 0) or conv (dim 1, 2) weights (cout, cin[, k[, k]]) and bias, PyTorch bounds */
static GyreStatus add_affine(GyreNet *net, Layer *l, int dim, int cin, int cout, int k,
                             uint64_t *rng, const char *fmt, int idx, GyreTensor *W, GyreTensor *b,
                             GyreTensor *dW, GyreTensor *db)
{
  int64_t shape[4] = {cout, cin, k, k};
  int     nd       = 2 + dim;
  int64_t bs[1]    = {cout};
  GyreCall(GyreTensorCreate(net->be, nd, shape, W));
  GyreCall(GyreTensorCreate(net->be, nd, shape, dW));
  GyreCall(GyreTensorCreate(net->be, 1, bs, b));
  GyreCall(GyreTensorCreate(net->be, 1, bs, db));
  double fan_in = cin;
  for (int d = 0; d < dim; d++)
    fan_in *= k;
  double bound = 1.0 / sqrt(fan_in);
  GyreCall(init_uniform(net->be, W, rng, -bound, bound));
  GyreCall(init_uniform(net->be, b, rng, -bound, bound));
  GyreCall(add_param(net, W, dW, fmt, idx, "W"));
  GyreCall(add_param(net, b, db, fmt, idx, "b"));
  (void) l;
  return GYRE_OK;
}

static GyreStatus add_dense(GyreNet *net, int cin, int cout, uint64_t *rng, const char *fmt,
                            int idx)
{
  Layer *l = push(net, L_DENSE);
  l->cin = cin, l->cout = cout;
  return add_affine(net, l, 0, cin, cout, 1, rng, fmt, idx, &l->W, &l->b, &l->dW, &l->db);
}

static GyreStatus add_conv(GyreNet *net, int dim, int cin, int cout, int k, GyrePadding pad,
                           uint64_t *rng, const char *fmt, int idx)
{
  Layer *l = push(net, L_CONV);
  l->cin = cin, l->cout = cout, l->k = k, l->dim = dim, l->pad = pad;
  return add_affine(net, l, dim, cin, cout, k, rng, fmt, idx, &l->W, &l->b, &l->dW, &l->db);
}

static void add_act(GyreNet *net, GyreActivation a)
{
  Layer *l = push(net, L_ACT);
  l->act   = a;
  /* GYRE_RELU_INPLACE=0 keeps ReLU's input (tests compare both ways) */
  const char *env = getenv("GYRE_RELU_INPLACE");
  l->inplace      = a == GYRE_ACT_RELU && net->nl > 1 && !(env && !strcmp(env, "0"));
}

/* ---- options ------------------------------------------------------------------------ */
void GyreMLPOptionsDefault(GyreMLPOptions *o)
{
  memset(o, 0, sizeof(*o));
  o->inputs = 1, o->outputs = 1, o->width = 64, o->depth = 2, o->activation = GYRE_ACT_GELU;
}

void GyreFNOOptionsDefault(GyreFNOOptions *o)
{
  memset(o, 0, sizeof(*o));
  o->dim = 2, o->in_channels = 1, o->out_channels = 1, o->width = 20, o->modes = 12;
  o->layers = 4, o->proj_width = 128, o->grid = 1;
}

void GyreCNNOptionsDefault(GyreCNNOptions *o)
{
  static const int ch[] = {128, 64, 32, 32, 32, 32, 32}, ks[] = {5, 5, 3, 3, 3, 3, 3, 3};
  memset(o, 0, sizeof(*o));
  o->dim = 2, o->in_channels = 1, o->out_channels = 1, o->nlayers = 8;
  for (int i = 0; i < 7; i++)
    o->channels[i] = ch[i];
  for (int i = 0; i < 8; i++)
    o->kernels[i] = ks[i];
  o->batch_norm = 1, o->zero_mean = 0, o->comm = MPI_COMM_SELF;
  o->activation = GYRE_ACT_RELU;
}

size_t GyreFNOParameterCountFormula(const GyreFNOOptions *o)
{
  size_t w = o->width, m = o->modes, cin = o->in_channels + (o->grid ? o->dim : 0);
  size_t spec = 2 * w * w * (o->dim == 2 ? 2 * m * m : m);
  return cin * w + w + o->layers * (spec + w * w + w) + w * o->proj_width + o->proj_width +
         (size_t) o->proj_width * o->out_channels + o->out_channels;
}

size_t GyreCNNParameterCountFormula(const GyreCNNOptions *o)
{
  size_t n   = 0;
  int    cin = o->in_channels;
  for (int i = 0; i < o->nlayers; i++) {
    int    cout = i == o->nlayers - 1 ? o->out_channels : o->channels[i];
    size_t kk   = o->dim == 2 ? (size_t) o->kernels[i] * o->kernels[i] : (size_t) o->kernels[i];
    n += (size_t) cin * cout * kk + cout;
    if (i < o->nlayers - 1 && o->batch_norm) n += 2 * (size_t) cout;
    cin = cout;
  }
  return n;
}

/* ---- creation ----------------------------------------------------------------------- */
GyreStatus GyreMLPOptionsCheck(const GyreMLPOptions *o)
{
  if (o->inputs < 1 || o->outputs < 1 || o->width < 1 || o->depth < 0)
    return GyreStatusSet(GYRE_ERR_ARG,
                         "MLP inputs %d, outputs %d, width %d must be >= 1 and depth %d >= 0",
                         o->inputs, o->outputs, o->width, o->depth);
  return GYRE_OK;
}

GyreStatus GyreFNOOptionsCheck(const GyreFNOOptions *o)
{
  if ((o->dim != 1 && o->dim != 2) || o->in_channels < 1 || o->out_channels < 1 || o->width < 1 ||
      o->modes < 1 || o->layers < 1 || o->proj_width < 1)
    return GyreStatusSet(GYRE_ERR_ARG,
                         "FNO dim %d must be 1 or 2; in_channels %d, out_channels %d, width %d, "
                         "modes %d, layers %d, proj_width %d must be >= 1",
                         o->dim, o->in_channels, o->out_channels, o->width, o->modes, o->layers,
                         o->proj_width);
  return GYRE_OK;
}

GyreStatus GyreCNNOptionsCheck(const GyreCNNOptions *o)
{
  if ((o->dim != 1 && o->dim != 2) || o->in_channels < 1 || o->out_channels < 1 || o->nlayers < 1 ||
      o->nlayers > GYRE_CNN_MAX_LAYERS)
    return GyreStatusSet(GYRE_ERR_ARG,
                         "CNN dim %d must be 1 or 2, in/out channels %d/%d >= 1, nlayers %d in "
                         "1..%d",
                         o->dim, o->in_channels, o->out_channels, o->nlayers, GYRE_CNN_MAX_LAYERS);
  for (int i = 0; i < o->nlayers; i++) {
    if (o->kernels[i] < 1 || o->kernels[i] % 2 == 0)
      return GyreStatusSet(GYRE_ERR_ARG, "CNN kernel %d of layer %d must be odd", o->kernels[i], i);
    if (i < o->nlayers - 1 && o->channels[i] < 1)
      return GyreStatusSet(GYRE_ERR_ARG, "CNN channels %d of layer %d must be >= 1", o->channels[i],
                           i);
  }
  return GYRE_OK;
}

GyreStatus GyreNetCreateMLP(GyreBackend *be, const GyreMLPOptions *o, uint64_t seed, GyreNet **out)
{
  *out = NULL;
  GyreCall(GyreMLPOptionsCheck(o));
  GyreNet *net;
  GyreCall(net_alloc(be, GYRE_NET_MLP, 2 * o->depth + 1, &net));
  net->in_ndim = 2, net->in_channels = o->inputs, net->dim = 0;
  uint64_t   rng = seed;
  GyreStatus s   = GYRE_OK;
  int        cin = o->inputs;
  for (int i = 0; i < o->depth && !s; i++) {
    s = add_dense(net, cin, o->width, &rng, "dense%d", i);
    add_act(net, o->activation);
    cin = o->width;
  }
  if (!s) s = add_dense(net, cin, o->outputs, &rng, "dense%d", o->depth);
  if (s) GyreNetDestroy(&net);
  *out = net;
  return s;
}

static GyreStatus add_grid(GyreNet *net, int dim)
{
  Layer *l = push(net, L_GRID);
  l->dim   = dim;
  return GYRE_OK;
}

GyreStatus GyreNetCreateFNO(GyreBackend *be, const GyreFNOOptions *o, uint64_t seed, GyreNet **out)
{
  *out = NULL;
  GyreCall(GyreFNOOptionsCheck(o));
  GyreNet *net;
  GyreCall(net_alloc(be, GYRE_NET_FNO, 2 * o->layers + 5, &net));
  net->in_ndim = 2 + o->dim, net->in_channels = o->in_channels, net->dim = o->dim;
  uint64_t   rng = seed;
  GyreStatus s   = GYRE_OK;
  int        cin = o->in_channels, w = o->width, m = o->modes;
  if (o->grid) {
    add_grid(net, o->dim);
    cin += o->dim;
  }
  s = add_conv(net, o->dim, cin, w, 1, GYRE_PAD_ZERO, &rng, "lift", 0);
  for (int i = 0; i < o->layers && !s; i++) {
    Layer *l = push(net, L_FOURIER);
    l->cin = l->cout = w, l->dim = o->dim, l->modes = m, l->k = 1;
    int64_t  sh2[5] = {2, w, w, m, m}, sh1[3] = {w, w, m};
    int      nd = o->dim == 2 ? 5 : 3;
    int64_t *sh = o->dim == 2 ? sh2 : sh1;
    if (!s) s = GyreTensorCreate(be, nd, sh, &l->Wr);
    if (!s) s = GyreTensorCreate(be, nd, sh, &l->Wi);
    if (!s) s = GyreTensorCreate(be, nd, sh, &l->dWr);
    if (!s) s = GyreTensorCreate(be, nd, sh, &l->dWi);
    double scale = 1.0 / ((double) w * w);
    if (!s) s = init_uniform(be, &l->Wr, &rng, 0.0, scale);
    if (!s) s = init_uniform(be, &l->Wi, &rng, 0.0, scale);
    if (!s) s = add_param(net, &l->Wr, &l->dWr, "fourier%d", i, "Wr");
    if (!s) s = add_param(net, &l->Wi, &l->dWi, "fourier%d", i, "Wi");
    if (!s)
      s = add_affine(net, l, o->dim, w, w, 1, &rng, "pointwise%d", i, &l->W, &l->b, &l->dW, &l->db);
    if (i < o->layers - 1) add_act(net, GYRE_ACT_GELU);
  }
  if (!s) s = add_conv(net, o->dim, w, o->proj_width, 1, GYRE_PAD_ZERO, &rng, "proj%d", 1);
  add_act(net, GYRE_ACT_GELU);
  if (!s)
    s = add_conv(net, o->dim, o->proj_width, o->out_channels, 1, GYRE_PAD_ZERO, &rng, "proj%d", 2);
  if (s) GyreNetDestroy(&net);
  *out = net;
  return s;
}

GyreStatus GyreNetCreateCNN(GyreBackend *be, const GyreCNNOptions *o, uint64_t seed, GyreNet **out)
{
  *out = NULL;
  GyreCall(GyreCNNOptionsCheck(o));
  GyreNet *net;
  GyreCall(net_alloc(be, GYRE_NET_CNN, 3 * o->nlayers + 1, &net));
  net->in_ndim = 2 + o->dim, net->in_channels = o->in_channels, net->dim = o->dim;
  uint64_t   rng = seed;
  GyreStatus s   = GYRE_OK;
  int        cin = o->in_channels;
  for (int i = 0; i < o->nlayers && !s; i++) {
    int last = i == o->nlayers - 1, cout = last ? o->out_channels : o->channels[i];
    s = add_conv(net, o->dim, cin, cout, o->kernels[i], GYRE_PAD_CIRCULAR, &rng, "conv%d", i);
    if (!last) {
      add_act(net, o->activation);
      if (o->batch_norm && !s) {
        Layer *l = push(net, L_BN);
        l->cin = l->cout = cout, l->comm = o->comm;
        s = GyreBatchNormCreate(be, cout, &l->bn);
        if (!s) s = add_param(net, &l->bn->gamma, &l->bn->dgamma, "bn%d", i, "gamma");
        if (!s) s = add_param(net, &l->bn->beta, &l->bn->dbeta, "bn%d", i, "beta");
        if (!s) s = add_buffer(net, &l->bn->running_mean, "bn%d", i, "running_mean");
        if (!s) s = add_buffer(net, &l->bn->running_var, "bn%d", i, "running_var");
      }
    }
    cin = cout;
  }
  if (!s && o->zero_mean) push(net, L_ZEROMEAN)->dim = o->dim;
  if (s) GyreNetDestroy(&net);
  *out = net;
  return s;
}

GyreStatus GyreNetDestroy(GyreNet **pnet)
{
  if (!pnet || !*pnet) return GYRE_OK;
  GyreNet *net = *pnet;
  for (int i = 0; i < net->nl; i++) {
    Layer      *l   = &net->L[i];
    GyreTensor *t[] = {&l->W,  &l->b,   &l->dW,  &l->db,  &l->Wr,
                       &l->Wi, &l->dWr, &l->dWi, &l->tmp, &l->aux};
    for (size_t j = 0; j < sizeof t / sizeof t[0]; j++)
      GyreTensorDestroy(t[j]);
    GyreBatchNormDestroy(&l->bn);
  }
  for (int i = 0; i <= net->cap; i++) {
    if (i == 0 || i > net->nl || !net->L[i - 1].inplace) GyreTensorDestroy(&net->act[i]);
    GyreTensorDestroy(&net->grad[i]);
  }
  for (int i = 0; i < net->np; i++)
    free(net->names[i]);
  free(net->names), free(net->params), free(net->grads);
  for (int i = 0; i < net->nb; i++)
    free(net->bnames[i]);
  free(net->bnames), free(net->bufs);
  free(net->L), free(net->act), free(net->grad), free(net);
  *pnet = NULL;
  return GYRE_OK;
}

/* ---- shapes ------------------------------------------------------------------------- */
static GyreStatus layer_shape(const Layer *l, int nd, const int64_t *in, int64_t *out)
{
  memcpy(out, in, nd * sizeof(int64_t));
  int need = l->kind == L_DENSE ? 2 : 2 + l->dim;
  if (l->kind == L_DENSE || l->kind == L_CONV || l->kind == L_FOURIER || l->kind == L_GRID ||
      l->kind == L_ZEROMEAN) {
    if (nd != need)
      return GyreStatusSet(GYRE_ERR_ARG, "GyreNet: a layer expects a %d-dimensional input, got %d",
                           need, nd);
  }
  switch (l->kind) {
  case L_DENSE:
  case L_CONV:
  case L_FOURIER:
    if (in[1] != l->cin)
      return GyreStatusSet(GYRE_ERR_ARG, "GyreNet: a layer expects %d input channels, got %lld",
                           l->cin, (long long) in[1]);
    out[1] = l->cout;
    if (l->kind == L_FOURIER) {
      int64_t X = in[nd - 1];
      if (l->modes > X / 2 + 1 || (l->dim == 2 && 2 * l->modes > in[2]))
        return GyreStatusSet(GYRE_ERR_ARG,
                             "GyreNet: %d Fourier modes do not fit a grid of %lld x %lld points "
                             "(need modes <= X/2+1 and 2 modes <= Y)",
                             l->modes, (long long) (l->dim == 2 ? in[2] : 1), (long long) X);
    }
    break;
  case L_BN:
    if (nd < 2 || in[1] != l->cin)
      return GyreStatusSet(GYRE_ERR_ARG, "GyreNet: batch norm expects %d channels", l->cin);
    break;
  case L_GRID:
    out[1] = in[1] + l->dim;
    break;
  default:
    break;
  }
  return GYRE_OK;
}

GyreStatus GyreNetOutputShape(const GyreNet *net, int ndim, const int64_t *xshape, int *yndim,
                              int64_t *yshape)
{
  if (ndim != net->in_ndim || xshape[1] != net->in_channels)
    return GyreStatusSet(GYRE_ERR_ARG,
                         "GyreNet: the input must be %d-dimensional with %d channels/features, got "
                         "%d dimensions with %lld",
                         net->in_ndim, net->in_channels, ndim,
                         ndim > 1 ? (long long) xshape[1] : -1LL);
  int64_t a[GYRE_TENSOR_MAX_DIMS], b[GYRE_TENSOR_MAX_DIMS];
  memcpy(a, xshape, ndim * sizeof(int64_t));
  for (int i = 0; i < net->nl; i++) {
    GyreCall(layer_shape(&net->L[i], ndim, a, b));
    memcpy(a, b, ndim * sizeof(int64_t));
  }
  *yndim = ndim;
  memcpy(yshape, a, ndim * sizeof(int64_t));
  return GYRE_OK;
}

/* ---- forward / backward ------------------------------------------------------------- */
static size_t spatial(const GyreTensor *t)
{
  size_t s = 1;
  for (int d = 2; d < t->ndim; d++)
    s *= (size_t) t->shape[d];
  return s;
}

/* out = in - spatial mean per (n, c); ones is a tensor of `spatial` ones */
static GyreStatus zero_mean(GyreBackend *be, const GyreTensor *in, const GyreTensor *ones,
                            GyreTensor *out)
{
  size_t S = spatial(in), NC = in->size / S;
  GyreCall(copy_dev(be, in->size, in->data, out->data));
  for (size_t j = 0; j < NC; j++) {
    double sum;
    GyreCall(be->ops->dot(be, S, in->data + j * S, ones->data, &sum));
    GyreCall(
        be->ops->axpby(be, S, (float) (-sum / (double) S), ones->data, 1.0f, out->data + j * S));
  }
  return GYRE_OK;
}

/* Where a layer's forward pass keeps its scratch: the layer's own tensors (GyreNetForward) or a
 * workspace's (GyreNetInfer, which changes nothing in the network). */
typedef struct {
  GyreTensor *tmp, *aux, *bn_invstd; /* bn_invstd != NULL: pure evaluation-mode batch norm */
} Scratch;

static GyreStatus layer_forward(const GyreNet *net, const Layer *l, const GyreTensor *x,
                                GyreTensor *y, int train, Scratch sc)
{
  GyreBackend *be = net->be;
  switch (l->kind) {
  case L_DENSE:
    return be->ops->dense_forward(be, x, &l->W, &l->b, y);
  case L_CONV:
    return be->ops->conv_forward(be, x, &l->W, &l->b, l->pad, y);
  case L_FOURIER:
    GyreCall(ensure(be, sc.tmp, y->ndim, y->shape));
    GyreCall(be->ops->spectral_forward(be, x, &l->Wr, &l->Wi, y));
    GyreCall(be->ops->conv_forward(be, x, &l->W, &l->b, GYRE_PAD_ZERO, sc.tmp));
    return be->ops->axpby(be, y->size, 1.0f, sc.tmp->data, 1.0f, y->data);
  case L_ACT:
    return be->ops->act_forward(be, l->act, x, y);
  case L_BN:
    if (sc.bn_invstd) {
      int64_t c = l->bn->channels;
      GyreCall(ensure(be, sc.bn_invstd, 1, &c));
      return GyreBatchNormEval(l->bn, x, y, sc.bn_invstd);
    }
    return GyreBatchNormForward(l->bn, train, l->comm, x, y);
  case L_GRID: {
    size_t  S = spatial(x), N = (size_t) x->shape[0], C = (size_t) x->shape[1];
    int64_t gs[4] = {l->dim, 1, 1, 1};
    for (int d = 2; d < x->ndim; d++)
      gs[d - 1] = x->shape[d];
    if (!same_shape(sc.aux, x->ndim - 1, gs)) {
      GyreCall(ensure(be, sc.aux, x->ndim - 1, gs));
      float *h = malloc(sc.aux->size * sizeof(float));
      if (!h) return GyreStatusSet(GYRE_ERR_MEM, "GyreNet: out of memory");
      int64_t X = x->shape[x->ndim - 1], Y = x->ndim == 4 ? x->shape[2] : 1;
      for (int64_t j = 0; j < Y; j++)
        for (int64_t i = 0; i < X; i++) {
          h[j * X + i] = (float) ((double) i / (double) X);                      /* channel x */
          if (l->dim == 2) h[S + j * X + i] = (float) ((double) j / (double) Y); /* channel y */
        }
      GyreStatus s = GyreTensorCopyFromHost(sc.aux, h);
      free(h);
      GyreCall(s);
    }
    GyreCall(be->ops->fill(be, y->data, y->size, 0.0f));
    for (size_t n = 0; n < N; n++) {
      float *yn = y->data + n * (C + l->dim) * S;
      GyreCall(be->ops->axpby(be, C * S, 1.0f, x->data + n * C * S, 1.0f, yn));
      GyreCall(be->ops->axpby(be, l->dim * S, 1.0f, sc.aux->data, 1.0f, yn + C * S));
    }
    return GYRE_OK;
  }
  case L_ZEROMEAN: {
    int64_t S = (int64_t) spatial(x);
    if (!same_shape(sc.aux, 1, &S)) {
      GyreCall(ensure(be, sc.aux, 1, &S));
      GyreCall(GyreTensorFill(sc.aux, 1.0f));
    }
    return zero_mean(be, x, sc.aux, y);
  }
  }
  return GyreStatusSet(GYRE_ERR_INTERNAL, "GyreNet: unknown layer kind %d", (int) l->kind);
}

/* dx may be NULL (not needed) */
static GyreStatus layer_backward(GyreNet *net, Layer *l, const GyreTensor *x, const GyreTensor *dy,
                                 GyreTensor *dx)
{
  GyreBackend *be = net->be;
  switch (l->kind) {
  case L_DENSE:
    return be->ops->dense_backward(be, x, &l->W, dy, dx, &l->dW, &l->db);
  case L_CONV:
    return be->ops->conv_backward(be, x, &l->W, dy, l->pad, dx, &l->dW, &l->db);
  case L_FOURIER:
    GyreCall(be->ops->spectral_backward(be, x, &l->Wr, &l->Wi, dy, dx, &l->dWr, &l->dWi));
    GyreCall(be->ops->conv_backward(be, x, &l->W, dy, GYRE_PAD_ZERO, dx ? &l->tmp : NULL, &l->dW,
                                    &l->db));
    if (dx) GyreCall(be->ops->axpby(be, dx->size, 1.0f, l->tmp.data, 1.0f, dx->data));
    return GYRE_OK;
  case L_ACT:
    return dx ? be->ops->act_backward(be, l->act, x, dy, dx) : GYRE_OK;
  case L_BN:
    return GyreBatchNormBackward(l->bn, l->comm, x, dy, dx);
  case L_GRID: {
    if (!dx) return GYRE_OK;
    size_t S = spatial(x), N = (size_t) x->shape[0], C = (size_t) x->shape[1];
    for (size_t n = 0; n < N; n++)
      GyreCall(copy_dev(be, C * S, dy->data + n * (C + l->dim) * S, dx->data + n * C * S));
    return GYRE_OK;
  }
  case L_ZEROMEAN:
    return dx ? zero_mean(be, dy, &l->aux, dx) : GYRE_OK;
  }
  return GyreStatusSet(GYRE_ERR_INTERNAL, "GyreNet: unknown layer kind %d", (int) l->kind);
}

/* The output tensor must have the shape the network gives x. */
static GyreStatus check_output(const GyreNet *net, const GyreTensor *x, const GyreTensor *y,
                               const char *who)
{
  int     nd;
  int64_t ys[GYRE_TENSOR_MAX_DIMS];
  GyreCall(GyreNetOutputShape(net, x->ndim, x->shape, &nd, ys));
  if (!same_shape(y, nd, ys)) {
    char       a[96], b[96];
    GyreTensor want = *y;
    want.ndim       = nd;
    memcpy(want.shape, ys, sizeof ys);
    return GyreStatusSet(GYRE_ERR_ARG, "%s: the output tensor is %s, expected %s", who,
                         GyreTensorShapeString(y, a, sizeof a),
                         GyreTensorShapeString(&want, b, sizeof b));
  }
  return GYRE_OK;
}

/* Runs the layers from x into act[0..nl] (act[0] a copy of x) and copies the result to y;
 * scratch from the layers (ws NULL) or from the workspace arrays. */
static GyreStatus run_layers(const GyreNet *net, GyreTensor *act, GyreTensor *tmp, GyreTensor *aux,
                             GyreTensor *bnis, const GyreTensor *x, GyreTensor *y, int train)
{
  GyreBackend *be = net->be;
  int          nd = x->ndim;
  GyreCall(ensure(be, &act[0], x->ndim, x->shape));
  GyreCall(copy_dev(be, x->size, x->data, act[0].data));
  int64_t a[GYRE_TENSOR_MAX_DIMS], b[GYRE_TENSOR_MAX_DIMS];
  memcpy(a, x->shape, nd * sizeof(int64_t));
  for (int i = 0; i < net->nl; i++) {
    const Layer *l  = &net->L[i];
    Scratch      sc = tmp ? (Scratch){&tmp[i], &aux[i], &bnis[i]}
                          : (Scratch){(GyreTensor *) &l->tmp, (GyreTensor *) &l->aux, NULL};
    GyreCall(layer_shape(l, nd, a, b));
    if (l->inplace) { /* act[i+1] is a view of act[i] */
      act[i + 1] = act[i];
      GyreCall(be->ops->act_forward(be, l->act, &act[i + 1], &act[i + 1]));
    } else {
      GyreCall(ensure(be, &act[i + 1], nd, b));
      GyreCall(layer_forward(net, l, &act[i], &act[i + 1], train, sc));
    }
    memcpy(a, b, nd * sizeof(int64_t));
  }
  return copy_dev(be, y->size, act[net->nl].data, y->data);
}

GyreStatus GyreNetForward(GyreNet *net, const GyreTensor *x, GyreTensor *y, int train)
{
  GyreCall(check_output(net, x, y, "GyreNetForward"));
  net->has_forward = 0;
  GyreCall(run_layers(net, net->act, NULL, NULL, NULL, x, y, train));
  net->has_forward = 1;
  return GYRE_OK;
}

struct GyreNetWorkspace_s {
  GyreBackend   *be;
  int            nl;
  unsigned char *view; /* view[i]: act[i] is a view of act[i-1] (an in-place ReLU) */
  GyreTensor    *act, *tmp, *aux, *bnis; /* nl + 1, nl, nl, nl */
  GyreTensor     x, y;                   /* a caller's input and output (GyreNetWorkspaceIO) */
  float         *host;                   /* a caller's host staging: x's values, then y's */
  size_t         host_len;
  int            fused; /* an MLP the backend runs in one pass (mlp_forward): its dense layers */
  /* the fused layers' tensors and activations (fused_layers) for the network whose id is fnet
   * (not its address: a network made where a destroyed one was would match), kept between calls
   * (a closure's call is a few hundred instructions of arithmetic) */
  unsigned long     fnet;
  const GyreTensor *fW[64], *fb[64];
  int               fact[64];
  void             *fplan;   /* mlp_forward's plan for these layers (NULL until the first call) */
  int               fpinned; /* a GyreNetHostCall holds fplan: no other network's layers here */
  /* a CUDA graph of GyreNetInfer's work (infer_graph), for the call it was recorded for: the
   * network, the input and output (data and shape), the precision; graph_off once a recording
   * failed; glaunches: the graph launches so far */
  void         *graph;
  unsigned long gnet; /* the network's id (net_alloc) */
  long          glaunches;
  int           fused_last; /* layers the last call ran inside a convolution (conv_forward_post) */
  void         *chain;      /* conv_chain_forward's state (the backend's) */
  const float  *gx, *ghin;  /* ghin, ghout: the host staging it copies from and to (or NULL) */
  float        *gy, *ghout;
  int           gnd, graph_off;
  int64_t       gsh[GYRE_TENSOR_MAX_DIMS];
  char          gprec[8];
};

/* A convolution at layer i and the activation and batch norm after it (either may be missing):
 * the group's last layer (i where layer i is no convolution) */
static int conv_group(const GyreNet *net, int i, int *act, const Layer **bn)
{
  int k = i;
  *act = -1, *bn = NULL;
  if (net->L[i].kind != L_CONV) return i;
  if (k + 1 < net->nl && net->L[k + 1].kind == L_ACT) *act = (int) net->L[++k].act;
  if (k + 1 < net->nl && net->L[k + 1].kind == L_BN) *bn = &net->L[++k];
  return k;
}

/* The layers conv_forward_post could run from layer i (conv_group where the backend has the op).
 * Returns the group's last layer (i: nothing to fuse). */
static int post_group(const GyreNet *net, int i, int *act, const Layer **bn)
{
  *act = -1, *bn = NULL;
  return net->be->ops->conv_forward_post ? conv_group(net, i, act, bn) : i;
}

/* Layers i..k (post_group) as conv_forward_post's arguments (the batch norm's 1/sqrt(var + eps)
 * into ws->bnis[k]) */
static GyreStatus post_layer(const GyreNet *net, GyreNetWorkspace *ws, int i, int k, int act,
                             const Layer *bn, GyreConvPostLayer *p)
{
  const Layer *l = &net->L[i];
  *p             = (GyreConvPostLayer){.W = &l->W, .b = &l->b, .pad = l->pad, .act = act};
  if (bn) {
    int64_t c = bn->bn->channels;
    GyreCall(ensure(net->be, &ws->bnis[k], 1, &c));
    GyreCall(GyreBatchNormEvalInvstd(bn->bn, &ws->bnis[k]));
    p->mean = bn->bn->running_mean.data, p->invstd = ws->bnis[k].data;
    p->gamma = bn->bn->gamma.data, p->beta = bn->bn->beta.data;
  }
  return GYRE_OK;
}

/* Layers i..k (post_group) by conv_forward_post into out; *done = 0 where the backend declined */
static GyreStatus infer_conv_post(const GyreNet *net, GyreNetWorkspace *ws, int i, int k, int act,
                                  const Layer *bn, const GyreTensor *in, GyreTensor *out, int *done)
{
  GyreBackend      *be = net->be;
  GyreConvPostLayer p;
  GyreCall(post_layer(net, ws, i, k, act, bn, &p));
  return be->ops->conv_forward_post(be, in, p.W, p.b, p.pad, p.act, p.mean, p.invstd, p.gamma,
                                    p.beta, out, done);
}

/* The whole network, a chain of conv groups (GyreNetConvChain > 0), by conv_chain_forward; *done
 * = 0 where the backend declines */
static GyreStatus infer_chain(const GyreNet *net, GyreNetWorkspace *ws, const GyreMLPAffine *aff,
                              const GyreTensor *x, GyreTensor *y, int *done)
{
  GyreConvPostLayer p[64];
  int               n = 0, act;
  const Layer      *bn;
  *done = 0;
  for (int i = 0, k; i < net->nl; i = k + 1, n++) {
    k = conv_group(net, i, &act, &bn);
    GyreCall(post_layer(net, ws, i, k, act, bn, &p[n]));
  }
  GyreCall(net->be->ops->conv_chain_forward(net->be, n, p, aff, x, y, &ws->chain, done));
  if (*done) ws->fused_last = net->nl - n;
  return GYRE_OK;
}

/* whether the backend runs net on x into y as one chain (conv_chain_forward, sample by sample,
 * each read before its output is written: y may be x for one sample, not for more, where a
 * sample's output could overwrite the next one's input) */
static int chain_runs(const GyreNet *net, const GyreTensor *x, const GyreTensor *y)
{
  const GyreBackendOps *op = net->be->ops;
  return net->nl >= 1 && (y->data != x->data || x->shape[0] == 1) && op->conv_chain_forward &&
         op->conv_chain_exact && op->conv_chain_exact(net->be) && GyreNetConvChain(net) > 0;
}

/* GyreNetInfer's layers: as run_layers (bitwise), but reading x itself (no copy kept for a
 * backward pass), the last layer writing y, and a convolution with the activation and batch norm
 * after it in one op where the backend has one (conv_forward_post): two passes over the
 * activations fewer a layer. run_layers itself where x would be written in place (an in-place
 * first layer) or y is x. */
static GyreStatus run_infer(const GyreNet *net, GyreNetWorkspace *ws, const GyreTensor *x,
                            GyreTensor *y)
{
  GyreBackend *be = net->be;
  const int    nd = x->ndim, nl = net->nl;
  if (chain_runs(net, x, y)) { /* a chain the backend runs whole */
    int done;
    GyreCall(infer_chain(net, ws, NULL, x, y, &done));
    if (done) return GYRE_OK;
  }
  if (nl < 1 || net->L[0].inplace || y->data == x->data)
    return run_layers(net, ws->act, ws->tmp, ws->aux, ws->bnis, x, y, 0);
  int64_t a[GYRE_TENSOR_MAX_DIMS], b[GYRE_TENSOR_MAX_DIMS];
  memcpy(a, x->shape, nd * sizeof(int64_t));
  const GyreTensor *in = x;
  for (int i = 0, k; i < nl; i = k + 1) {
    const Layer *l = &net->L[i], *bn;
    int          act, done = 0;
    GyreCall(layer_shape(l, nd, a, b)); /* (an activation or a batch norm keeps the shape) */
    memcpy(a, b, nd * sizeof(int64_t));
    k = post_group(net, i, &act, &bn);
    if (k > i) {
      GyreTensor *out = k == nl - 1 ? y : &ws->act[i + 1];
      if (out != y) GyreCall(ensure(be, out, nd, b));
      GyreCall(infer_conv_post(net, ws, i, k, act, bn, in, out, &done));
      if (done) {
        ws->fused_last += k - i;
        in = out;
        continue;
      }
      k = i; /* declined: layer by layer */
    }
    if (l->inplace) { /* on the previous layer's output (never x: see above), or into y */
      GyreTensor *out = i == nl - 1 ? y : (GyreTensor *) in;
      GyreCall(be->ops->act_forward(be, l->act, in, out));
      in = out;
      continue;
    }
    GyreTensor *out = i == nl - 1 ? y : &ws->act[i + 1];
    if (out != y) GyreCall(ensure(be, out, nd, b));
    GyreCall(layer_forward(net, l, in, out, 0, (Scratch){&ws->tmp[i], &ws->aux[i], &ws->bnis[i]}));
    in = out;
  }
  return GYRE_OK;
}

GyreStatus GyreNetWorkspaceIO(GyreNetWorkspace *ws, int nd, const int64_t *xs, int ynd,
                              const int64_t *ys, GyreTensor **x, GyreTensor **y, float **host,
                              float **host_out)
{
  GyreCall(ensure(ws->be, &ws->x, nd, xs));
  GyreCall(ensure(ws->be, &ws->y, ynd, ys));
  size_t need = ws->x.size + ws->y.size;
  if (need > ws->host_len) { /* the backend's staging memory: pinned on CUDA */
    void *h = NULL;
    GyreCall(GyreBackendHostAlloc(ws->be, need * sizeof(float), &h));
    GyreBackendHostFree(ws->be, ws->host);
    ws->host = h, ws->host_len = need;
  }
  *x = &ws->x, *y = &ws->y, *host = ws->host, *host_out = ws->host + ws->x.size;
  return GYRE_OK;
}

/* The number of dense layers if the backend can run net in one mlp_forward call (dense layers,
 * each followed by at most one activation, every width <= GYRE_MLP_FUSED_MAX), else 0.
 * GYRE_MLP_FUSED=0 says 0 (the layers one by one, for comparisons). */
static int fusable_mlp(const GyreNet *net)
{
  const char *env = getenv("GYRE_MLP_FUSED");
  int         nd  = 0;
  if (!net->be->ops->mlp_forward || (env && !strcmp(env, "0")) || net->nl < 1) return 0;
  for (int i = 0; i < net->nl; i++) {
    const Layer *l = &net->L[i];
    if (l->kind == L_DENSE && l->cin <= GYRE_MLP_FUSED_MAX && l->cout <= GYRE_MLP_FUSED_MAX)
      nd++;
    else if (!(l->kind == L_ACT && i > 0 && net->L[i - 1].kind == L_DENSE))
      return 0;
  }
  return nd <= 64 ? nd : 0;
}

/* The dense layers of a fusable MLP (fusable_mlp) for mlp_forward: weights, biases (NULL
 * where none) and each one's activation (-1: none); the count */
static int fused_layers(const GyreNet *net, const GyreTensor **W, const GyreTensor **b, int *act)
{
  int n = 0;
  for (int i = 0; i < net->nl; i++) {
    const Layer *l = &net->L[i];
    if (l->kind == L_DENSE)
      W[n] = &l->W, b[n] = l->b.data ? &l->b : NULL, act[n++] = -1;
    else
      act[n - 1] = (int) l->act;
  }
  return n;
}

/* ws was made for net (GyreNetWorkspaceCreate): its layer count and backend; else one error
 * naming the caller */
static GyreStatus ws_check(const GyreNet *net, const GyreNetWorkspace *ws, const char *who)
{
  if (!ws || ws->nl != net->nl || ws->be != net->be)
    return GyreStatusSet(GYRE_ERR_ARG, "%s: the workspace was not made for this network", who);
  return GYRE_OK;
}

/* ws's fused layers for net (fused_layers, kept between calls): 0 where net has no such path,
 * or where ws's plan is held by a resolved call (GyreNetHostCallInit) for another network (that
 * network then runs layer by layer: the call's plan stays) */
static int host_layers(const GyreNet *net, GyreNetWorkspace *ws)
{
  if (!ws->fused) return 0;
  if (ws->fnet != net->id) { /* (the network's layers do not change: its tensors are its own) */
    if (ws->fpinned || fusable_mlp(net) != ws->fused) return 0;
    fused_layers(net, ws->fW, ws->fb, ws->fact);
    ws->fnet = net->id;
    if (ws->be->ops->mlp_plan_free) ws->be->ops->mlp_plan_free(ws->be, ws->fplan);
    ws->fplan = NULL; /* (another network's) */
  }
  return 1;
}

GyreStatus GyreNetInferHost(const GyreNet *net, GyreNetWorkspace *ws, size_t M, const float *x,
                            float *y, const GyreMLPAffine *aff, int *done)
{
  *done = 0;
  GyreCall(ws_check(net, ws, "GyreNetInferHost"));
  if (M < 1 || !host_layers(net, ws)) return GYRE_OK;
  *done = 1;
  return net->be->ops->mlp_forward(net->be, ws->fused, ws->fW, ws->fb, ws->fact, aff, M, x, NULL, y,
                                   ws->be->ops->mlp_plan_free ? &ws->fplan : NULL);
}

GyreStatus GyreNetHostCallInit(const GyreNet *net, GyreNetWorkspace *ws, const GyreMLPAffine *aff,
                               GyreNetHostCall *d)
{
  if (!net || !d) return GyreStatusSet(GYRE_ERR_ARG, "GyreNetHostCallInit: NULL argument");
  *d = (GyreNetHostCall){0};
  GyreCall(ws_check(net, ws, "GyreNetHostCallInit"));
  if (!ws->be->ops->mlp_plan_free || !host_layers(net, ws)) return GYRE_OK;
  float none = 0; /* the plan made by a call on no rows */
  GyreCall(ws->be->ops->mlp_forward(ws->be, ws->fused, ws->fW, ws->fb, ws->fact, aff, 0, &none,
                                    NULL, &none, &ws->fplan));
  if (!ws->fplan) return GYRE_OK; /* (a backend that made none: no resolved call) */
  ws->fpinned = 1;
  *d          = (GyreNetHostCall){ws->be->ops->mlp_forward, ws->be, aff, ws->fplan};
  return GYRE_OK;
}

GyreStatus GyreNetInferChain(const GyreNet *net, GyreNetWorkspace *ws, const GyreTensor *x,
                             GyreTensor *y, const GyreMLPAffine *aff, int *done)
{
  *done = 0;
  GyreCall(ws_check(net, ws, "GyreNetInferChain"));
  if (!chain_runs(net, x, y)) return GYRE_OK;
  GyreCall(check_output(net, x, y, "GyreNetInferChain"));
  ws->fused_last = 0;
  return infer_chain(net, ws, aff, x, y, done);
}

/* y = net(x) by GyreNetInferHost (the backend's mlp_forward on the tensors' host memory); *done
 * = 0 (nothing run) if x or y does not have the plain (M, K) -> (M, N) shapes: the layers one by
 * one then (which accept or refuse it as without the fused path) */
static GyreStatus infer_fused(const GyreNet *net, GyreNetWorkspace *ws, const GyreTensor *x,
                              GyreTensor *y, int *done)
{
  const Layer *first = &net->L[0], *last = &net->L[net->nl - 1];
  if (last->kind == L_ACT) last--;
  const int64_t M = x->ndim >= 1 ? x->shape[0] : 0;
  *done           = 0;
  if (!(x->ndim == 2 && x->shape[1] == first->cin && y->ndim == 2 && y->shape[0] == M &&
        y->shape[1] == last->cout))
    return GYRE_OK;
  return GyreNetInferHost(net, ws, (size_t) M, x->data, y->data, NULL, done);
}

GyreStatus GyreNetWorkspaceCreate(const GyreNet *net, GyreNetWorkspace **out)
{
  GyreNetWorkspace *w = calloc(1, sizeof *w);
  if (!w) return GyreStatusSet(GYRE_ERR_MEM, "GyreNetWorkspaceCreate: out of memory");
  w->be    = net->be;
  w->nl    = net->nl;
  w->fused = fusable_mlp(net);
  w->view  = calloc((size_t) net->nl + 1, 1);
  for (int i = 1; w->view && i <= net->nl; i++)
    w->view[i] = (unsigned char) net->L[i - 1].inplace;
  w->act  = calloc((size_t) net->nl + 1, sizeof(GyreTensor));
  w->tmp  = calloc((size_t) net->nl + 1, sizeof(GyreTensor));
  w->aux  = calloc((size_t) net->nl + 1, sizeof(GyreTensor));
  w->bnis = calloc((size_t) net->nl + 1, sizeof(GyreTensor));
  if (!w->act || !w->tmp || !w->aux || !w->bnis || !w->view) {
    GyreNetWorkspaceDestroy(&w);
    return GyreStatusSet(GYRE_ERR_MEM, "GyreNetWorkspaceCreate: out of memory");
  }
  *out = w;
  return GYRE_OK;
}

GyreStatus GyreNetWorkspaceDestroy(GyreNetWorkspace **pw)
{
  if (!pw || !*pw) return GYRE_OK;
  GyreNetWorkspace *w = *pw;
  for (int i = 0; i <= w->nl; i++) {
    if (w->act && !(w->view && w->view[i])) GyreTensorDestroy(&w->act[i]);
    if (w->tmp) GyreTensorDestroy(&w->tmp[i]);
    if (w->aux) GyreTensorDestroy(&w->aux[i]);
    if (w->bnis) GyreTensorDestroy(&w->bnis[i]);
  }
  free(w->act), free(w->tmp), free(w->aux), free(w->bnis), free(w->view);
  GyreTensorDestroy(&w->x), GyreTensorDestroy(&w->y);
  GyreBackendHostFree(w->be, w->host);
  if (w->graph) w->be->ops->graph_free(w->be, w->graph);
  if (w->chain) w->be->ops->chain_cache_free(w->be, w->chain);
  if (w->fplan) w->be->ops->mlp_plan_free(w->be, w->fplan);
  free(w);
  *pw = NULL;
  return GYRE_OK;
}

/* GyreNetInfer's layers as a graph where the backend records them (CUDA, GYRE_CUDA_GRAPH=1): a
 * call like the previous one (the same network, input and output, data and shape, and
 * precision, and host staging) is recorded once, then launched as one graph (a launch instead
 * of one a kernel). With host staging (hin and hout, not NULL: GyreNetInferStaged) the graph
 * also copies x from hin before the layers and y to hout after them.
 * The first call of a kind runs plainly (its first-use allocations, plans and tables are made
 * outside a recording), and so does a call whose graph the backend finds stale (memory it used
 * was given up since: the next call records again); one whose recording fails runs plainly,
 * and the workspace stops trying. *done: the layers have run (queued). The weights and running
 * statistics are read at each launch. */
static GyreStatus infer_graph(const GyreNet *net, GyreNetWorkspace *ws, const GyreTensor *x,
                              GyreTensor *y, const float *hin, float *hout, int *done)
{
  GyreBackend *be = net->be;
  *done           = 0;
  if (!be->ops->capture_begin || ws->graph_off) return GYRE_OK;
  const int same = ws->gnet == net->id && ws->gx == x->data && ws->gy == y->data &&
                   ws->ghin == hin && ws->ghout == hout && ws->gnd == x->ndim &&
                   !memcmp(ws->gsh, x->shape, sizeof(int64_t) * (size_t) x->ndim) &&
                   !strcmp(ws->gprec, be->precision);
  if (same && ws->graph) {
    GyreCall(be->ops->graph_launch(be, ws->graph, done));
    if (*done) {
      ws->glaunches++;
      return GYRE_OK;
    }
    be->ops->graph_free(be, ws->graph); /* stale: plainly now, recorded again at the next */
    ws->graph = NULL;
    return GYRE_OK;
  }
  if (!same) { /* a new kind of call: plainly this time, recorded at the next like it */
    if (ws->graph) be->ops->graph_free(be, ws->graph);
    ws->graph = NULL, ws->gnet = net->id, ws->gx = x->data, ws->gy = y->data, ws->gnd = x->ndim;
    ws->ghin = hin, ws->ghout = hout;
    memcpy(ws->gsh, x->shape, sizeof(int64_t) * (size_t) x->ndim);
    snprintf(ws->gprec, sizeof ws->gprec, "%s", be->precision);
    return GYRE_OK;
  }
  int started = 0;
  GyreCall(be->ops->capture_begin(be, &started));
  if (!started) {
    ws->graph_off = 1;
    return GYRE_OK;
  }
  GyreStatus st =
      hin ? be->ops->copy_from_host(be, x->data, hin, x->size * sizeof(float)) : GYRE_OK;
  if (st == GYRE_OK) st = run_infer(net, ws, x, y);
  if (st == GYRE_OK && hout)
    st = be->ops->copy_to_host_async(be, hout, y->data, y->size * sizeof(float));
  void *g = NULL;
  GyreCall(be->ops->capture_end(be, &g));
  if (st != GYRE_OK || !g) { /* nothing ran: the caller runs the layers plainly */
    if (g) be->ops->graph_free(be, g);
    ws->graph_off = 1;
    return GYRE_OK;
  }
  ws->graph = g;
  GyreCall(be->ops->graph_launch(be, g, done));
  ws->glaunches += *done; /* not launched (stale at once): the caller runs the layers */
  return GYRE_OK;
}

int GyreNetConvChain(const GyreNet *net)
{
  int          n = 0, act;
  const Layer *bn;
  for (int i = 0; i < net->nl; i = conv_group(net, i, &act, &bn) + 1, n++)
    if (net->L[i].kind != L_CONV || net->L[i].k % 2 == 0 || n == 64) return 0;
  return n;
}

int GyreNetBlockExact(const GyreNet *net)
{
  const GyreBackendOps *op = net->be->ops;
  /* a chain the backend runs in one op (GyreNetInfer: conv_chain_forward), exact as a whole */
  const int chain = GyreNetConvChain(net) > 0 && op->conv_chain_forward && op->conv_chain_exact &&
                    op->conv_chain_exact(net->be);
  if (net->nl < 1) return 0;
  for (int i = 0; i < net->nl; i++) {
    const Layer *l = &net->L[i];
    if (l->kind == L_BN || l->kind == L_ACT) continue;
    if (l->kind != L_CONV || l->pad != GYRE_PAD_CIRCULAR ||
        !(chain ||
          (op->conv_block_exact && op->conv_block_exact(net->be, l->dim, l->cin, l->cout, l->k))))
      return 0;
  }
  return 1;
}

long GyreNetWorkspaceGraphLaunches(const GyreNetWorkspace *ws)
{
  return ws ? ws->glaunches : 0;
}

int GyreNetWorkspaceFusedLayers(const GyreNetWorkspace *ws)
{
  return ws ? ws->fused_last : 0;
}

GyreStatus GyreNetInfer(const GyreNet *net, GyreNetWorkspace *ws, const GyreTensor *x,
                        GyreTensor *y)
{
  GyreCall(ws_check(net, ws, "GyreNetInfer"));
  ws->fused_last = 0;
  if (ws->fused) {
    int done = 0;
    GyreCall(infer_fused(net, ws, x, y, &done));
    if (done) return GYRE_OK;
  }
  GyreCall(check_output(net, x, y, "GyreNetInfer"));
  int done = 0;
  GyreCall(infer_graph(net, ws, x, y, NULL, NULL, &done));
  if (done) return GYRE_OK;
  return run_infer(net, ws, x, y);
}

GyreStatus GyreNetInferStaged(const GyreNet *net, GyreNetWorkspace *ws, const float *hin,
                              GyreTensor *x, GyreTensor *y, float *hout)
{
  GyreCall(ws_check(net, ws, "GyreNetInferStaged"));
  GyreBackend *be = net->be;
  if (!hin || !hout) return GyreStatusSet(GYRE_ERR_ARG, "GyreNetInferStaged: NULL host staging");
  /* the copies in the graph; otherwise (not recorded yet, or no graphs) the three plainly. Once
   * tried with staging, the layers go by run_infer: GyreNetInfer's own graph would take the
   * workspace's recording for a call without staging */
  const int staged = !ws->fused && be->ops->copy_to_host_async && be->ops->capture_begin;
  if (staged) {
    int done = 0;
    GyreCall(check_output(net, x, y, "GyreNetInferStaged"));
    ws->fused_last = 0;
    GyreCall(infer_graph(net, ws, x, y, hin, hout, &done));
    if (done) return GyreBackendSynchronize(be);
  }
  GyreCall(GyreTensorCopyFromHost(x, hin));
  GyreCall(staged ? run_infer(net, ws, x, y) : GyreNetInfer(net, ws, x, y));
  return GyreTensorCopyToHost(y, hout);
}

GyreStatus GyreNetBackward(GyreNet *net, const GyreTensor *dy, GyreTensor *dx)
{
  if (!net->has_forward)
    return GyreStatusSet(GYRE_ERR_ARG,
                         "GyreNetBackward: no successful forward pass to go back through");
  GyreCall(GyreTensorCheckSameShape("GyreNetBackward: dy vs the output", dy, &net->act[net->nl]));
  if (dx) GyreCall(GyreTensorCheckSameShape("GyreNetBackward: dx vs the input", dx, &net->act[0]));
  /* the gradients of the intermediate activations live in two buffers used in turn (layer i
   * reads one and writes the other), each as large as the largest activation: the memory of
   * two activations, not of all of them */
  int64_t most = 1;
  for (int i = 1; i < net->nl; i++)
    if ((int64_t) net->act[i].size > most) most = (int64_t) net->act[i].size;
  for (int k = 0; k < 2 && net->nl > 1; k++)
    if ((int64_t) net->grad[k].size < most) GyreCall(ensure(net->be, &net->grad[k], 1, &most));
  const GyreTensor *g = dy;
  GyreTensor        view[2];
  int               ready = net->np; /* parameters [ready, np) have final gradients */
  for (int i = net->nl - 1; i >= 0; i--) {
    GyreTensor *gi = dx;
    if (i > 0) { /* a view of buffer i % 2 with the shape of act[i] */
      gi          = &view[i % 2];
      *gi         = net->act[i];
      gi->data    = net->grad[i % 2].data;
      gi->backend = net->grad[i % 2].backend;
    }
    GyreCall(layer_backward(net, &net->L[i], &net->act[i], g, gi));
    g = gi;
    if (net->hook && net->L[i].pfirst < ready) {
      ready = net->L[i].pfirst;
      GyreCall(net->hook(net->hook_ctx, ready));
    }
  }
  return GYRE_OK;
}

GyreStatus GyreNetSetGradHook(GyreNet *net, GyreNetGradHook hook, void *ctx)
{
  net->hook     = hook;
  net->hook_ctx = ctx;
  return GYRE_OK;
}

GyreStatus GyreNetZeroGrad(GyreNet *net)
{
  for (int i = 0; i < net->np; i++)
    GyreCall(GyreTensorFill(net->grads[i], 0.0f));
  return GYRE_OK;
}

GyreStatus GyreNetParameters(GyreNet *net, int *n, GyreTensor *const **params,
                             GyreTensor *const **grads, const char *const **names)
{
  if (n) *n = net->np;
  if (params) *params = net->params;
  if (grads) *grads = net->grads;
  if (names) *names = (const char *const *) net->names;
  return GYRE_OK;
}

GyreStatus GyreNetBuffers(GyreNet *net, int *n, GyreTensor *const **tensors,
                          const char *const **names)
{
  if (n) *n = net->nb;
  if (tensors) *tensors = net->bufs;
  if (names) *names = (const char *const *) net->bnames;
  return GYRE_OK;
}

size_t GyreNetParameterCount(const GyreNet *net)
{
  size_t n = 0;
  for (int i = 0; i < net->np; i++)
    n += net->params[i]->size;
  return n;
}

GyreNetType GyreNetGetType(const GyreNet *net)
{
  return net->type;
}
