/* backend_cuda.cu — the CUDA backend's operation table (gyre_nn.h), its state and the
 * memory, elementwise, reduction, loss, batch-norm and optimiser ops. Dense and convolution
 * are in dense_conv.cu, the spectral convolution in spectral.cu.
 *
 * Every op is queued on the backend's one compute stream, so ops run in the order called and
 * a caller never synchronises; ops that return a host value (dot, losses, batch-norm
 * statistics) wait for it. Device memory comes from an arena: blocks are taken with
 * cudaMalloc the first time a size is asked for (the first training step: the set-up) and
 * kept for reuse by size when freed, so later steps make no cudaMalloc
 * (GyreCUDAMallocCount; a test checks it). cuFFT's plans allocate nothing themselves: their
 * work area is one arena block (as PyTorch's caching allocator gives cuFFT its own). The
 * arena's in-use and peak bytes are what GyreBackendMemoryStats reports (PyTorch's
 * memory_allocated/max_memory_allocated).
 *
 * Training batches travel on a second stream (copy_from_host_async: the transfer overlaps
 * the previous step's backward pass); inference stages through pinned host memory
 * (host_alloc). GYRE_CUDA_PROFILE=1 records the device time of every op family (2: also each
 * implicit-GEMM launch by its shape) and prints
 * the table when the backend is destroyed.
 *
 * Numerics follow the CPU backend (surrogates/cpu/) op for op: reductions in double, the
 * same Adam arithmetic, GELU in its exact erf form; results agree with the CPU to float
 * rounding (tests/gpu: normalised mean-square error < 1e-7 at fp32). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cuda_internal.cuh"
#include "act.cuh"

/* ---- statuses ------------------------------------------------------------------------ */
static const char *base(const char *file)
{
  const char *s = strrchr(file, '/');
  return s ? s + 1 : file;
}

GyreStatus GyreCUDAStatus(cudaError_t e, const char *what, const char *file, int line)
{
  return GyreStatusSet(e == cudaErrorMemoryAllocation ? GYRE_ERR_MEM : GYRE_ERR_DEVICE,
                       "cuda backend: %s failed: %s (%s) [%s:%d]", what, cudaGetErrorString(e),
                       cudaGetErrorName(e), base(file), line);
}

static const char *cublas_text(cublasStatus_t e)
{
  switch (e) {
  case CUBLAS_STATUS_NOT_INITIALIZED:
    return "not initialised";
  case CUBLAS_STATUS_ALLOC_FAILED:
    return "allocation failed";
  case CUBLAS_STATUS_INVALID_VALUE:
    return "invalid value";
  case CUBLAS_STATUS_ARCH_MISMATCH:
    return "architecture mismatch";
  case CUBLAS_STATUS_MAPPING_ERROR:
    return "mapping error";
  case CUBLAS_STATUS_EXECUTION_FAILED:
    return "execution failed";
  case CUBLAS_STATUS_INTERNAL_ERROR:
    return "internal error";
  case CUBLAS_STATUS_NOT_SUPPORTED:
    return "not supported";
  default:
    return "unknown status";
  }
}

GyreStatus GyreCUBLASStatus(cublasStatus_t e, const char *what, const char *file, int line)
{
  return GyreStatusSet(e == CUBLAS_STATUS_ALLOC_FAILED ? GYRE_ERR_MEM : GYRE_ERR_DEVICE,
                       "cuda backend: cuBLAS %s failed: %s (status %d) [%s:%d]", what,
                       cublas_text(e), (int) e, base(file), line);
}

static GyreStatus fft_plan_destroy(CudaFFTPlan *p); /* (the plan cache, below) */

GyreStatus GyreCUFFTStatus(cufftResult e, const char *what, const char *file, int line)
{
  return GyreStatusSet(e == CUFFT_ALLOC_FAILED ? GYRE_ERR_MEM : GYRE_ERR_DEVICE,
                       "cuda backend: cuFFT %s failed (status %d) [%s:%d]", what, (int) e,
                       base(file), line);
}

/* ---- profiling (GYRE_CUDA_PROFILE=1) ------------------------------------------------------ */
static void prof_resolve(CudaCtx *c)
{
  if (!c->npairs) return;
  cudaEventSynchronize(c->pev[2 * (c->npairs - 1) + 1]);
  for (int i = 0; i < c->npairs; i++) {
    float ms = 0;
    if (cudaEventElapsedTime(&ms, c->pev[2 * i], c->pev[2 * i + 1]) == cudaSuccess) {
      c->ptab[c->pslot[i]].ms += ms;
      c->ptab[c->pslot[i]].calls++;
    }
  }
  c->npairs = 0;
}

const char *GyreCUDAProfName(GyreBackend *be, const char *fmt, ...)
{
  CudaCtx *c = cuda_ctx(be);
  char     n[64];
  va_list  ap;
  va_start(ap, fmt);
  vsnprintf(n, sizeof n, fmt, ap);
  va_end(ap);
  for (int i = 0; i < c->npnames; i++)
    if (!strcmp(c->pnames[i], n)) return c->pnames[i];
  if (c->npnames == GYRE_CUDA_PROF_NAMES) return NULL;
  memcpy(c->pnames[c->npnames], n, sizeof n);
  return c->pnames[c->npnames++];
}

CudaProf::CudaProf(GyreBackend *b, const char *name) : be(b), pair(-1)
{
  CudaCtx *c = cuda_ctx(b);
  if (!c->prof || !name) return;
  if (!c->pev) {
    c->pev   = (cudaEvent_t *) calloc(2 * GYRE_CUDA_PROF_PAIRS, sizeof(cudaEvent_t));
    c->pslot = (int *) calloc(GYRE_CUDA_PROF_PAIRS, sizeof(int));
    for (int i = 0; c->pev && i < 2 * GYRE_CUDA_PROF_PAIRS; i++)
      cudaEventCreate(&c->pev[i]);
  }
  if (!c->pev || !c->pslot) return;
  if (c->npairs == GYRE_CUDA_PROF_PAIRS) prof_resolve(c);
  int k = 0;
  while (k < c->nptab && strcmp(c->ptab[k].name, name))
    k++;
  if (k == c->nptab) {
    if (k == GYRE_CUDA_PROF_NAMES) return;
    c->ptab[c->nptab++].name = name;
  }
  pair           = c->npairs++;
  c->pslot[pair] = k;
  cudaEventRecord(c->pev[2 * pair], c->stream);
}

CudaProf::~CudaProf()
{
  if (pair >= 0) cudaEventRecord(cuda_ctx(be)->pev[2 * pair + 1], cuda_ctx(be)->stream);
}

static void prof_print(CudaCtx *c)
{
  double total = 0;
  prof_resolve(c);
  for (int i = 0; i < c->nptab; i++)
    total += c->ptab[i].ms;
  fprintf(stderr, "cuda profile (device time per op; nested scopes count in both):\n");
  for (int done = 0; done < c->nptab; done++) { /* largest first */
    int best = -1;
    for (int i = 0; i < c->nptab; i++)
      if (c->ptab[i].calls >= 0 && (best < 0 || c->ptab[i].ms > c->ptab[best].ms)) best = i;
    fprintf(stderr, "  %-32s %8ld calls %10.2f ms %8.4f ms/call %5.1f%%\n", c->ptab[best].name,
            c->ptab[best].calls, c->ptab[best].ms,
            c->ptab[best].calls ? c->ptab[best].ms / c->ptab[best].calls : 0.0,
            total > 0 ? 100.0 * c->ptab[best].ms / total : 0.0);
    c->ptab[best].calls = -1;
  }
}

/* ---- the arena ------------------------------------------------------------------------ */
static size_t round_bytes(size_t b)
{
  return (b + 511) / 512 * 512; /* 512-byte classes: sizes recur exactly step after step */
}

static GyreStatus release_unused(CudaCtx *c)
{
  int         k     = 0;
  cudaError_t first = cudaSuccess; /* the table is compacted whatever a cudaFree says: no freed
                                      block may stay in it to be handed out again */
  for (int i = 0; i < c->nblocks; i++) {
    if (!c->blocks[i].used) {
      const cudaError_t e = cudaFree(c->blocks[i].ptr);
      if (first == cudaSuccess) first = e;
      c->gen++;
      continue;
    }
    c->blocks[k++] = c->blocks[i];
  }
  c->nblocks = k;
  if (first != cudaSuccess)
    return GyreCUDAStatus(first, "cudaFree (the arena's cached blocks)", __FILE__, __LINE__);
  return GYRE_OK;
}

GyreStatus GyreCUDAMalloc(GyreBackend *be, size_t bytes, void **ptr)
{
  CudaCtx     *c    = cuda_ctx(be);
  const size_t want = round_bytes(bytes ? bytes : 1);
  *ptr              = NULL;
  for (int i = 0; i < c->nblocks; i++)
    if (!c->blocks[i].used && c->blocks[i].bytes == want) {
      c->blocks[i].used = 1;
      *ptr              = c->blocks[i].ptr;
      c->in_use += want;
      if (c->in_use > c->peak) c->peak = c->in_use;
      return GYRE_OK;
    }
  if (c->nblocks == c->cap) {
    int        cap = c->cap ? 2 * c->cap : 256;
    CudaBlock *b   = (CudaBlock *) realloc(c->blocks, sizeof(CudaBlock) * (size_t) cap);
    if (!b) return GyreStatusSet(GYRE_ERR_MEM, "cuda backend: out of host memory (arena table)");
    c->blocks = b, c->cap = cap;
  }
  void       *p = NULL;
  cudaError_t e = cudaMalloc(&p, want);
  if (e == cudaErrorMemoryAllocation) { /* give back the cached blocks and try again */
    (void) cudaGetLastError();
    CU(cudaStreamSynchronize(c->stream));
    GyreCall(release_unused(c));
    e = cudaMalloc(&p, want);
  }
  if (e != cudaSuccess) {
    size_t fr = 0, tot = 0;
    (void) cudaGetLastError();
    cudaMemGetInfo(&fr, &tot);
    return GyreStatusSet(GYRE_ERR_MEM,
                         "cuda backend: out of device memory allocating %zu bytes (%.1f MiB) on "
                         "device %d: %.1f MiB free of %.1f MiB, %.1f MiB held by gyre (%s)",
                         bytes, bytes / 1048576.0, c->device, fr / 1048576.0, tot / 1048576.0,
                         c->in_use / 1048576.0, cudaGetErrorString(e));
  }
  c->mallocs++;
  c->blocks[c->nblocks++] = (CudaBlock){p, want, 1};
  c->in_use += want;
  if (c->in_use > c->peak) c->peak = c->in_use;
  *ptr = p;
  return GYRE_OK;
}

GyreStatus GyreCUDAFree(GyreBackend *be, void *ptr)
{
  CudaCtx *c = cuda_ctx(be);
  if (!ptr) return GYRE_OK;
  for (int i = c->nblocks - 1; i >= 0; i--)
    if (c->blocks[i].ptr == ptr && c->blocks[i].used) {
      c->blocks[i].used = 0; /* stream order keeps queued users safe: reuse is queued after */
      c->in_use -= c->blocks[i].bytes;
      c->gen++; /* but not a recorded graph's: it would write into the block's next owner */
      return GYRE_OK;
    }
  return GyreStatusSet(GYRE_ERR_INTERNAL, "cuda backend: free of %p, not memory of this backend",
                       ptr);
}

GyreStatus GyreCUDAScratch(GyreBackend *be, int s, size_t bytes, void **ptr)
{
  CudaCtx *c = cuda_ctx(be);
  if (c->scratch_bytes[s] < bytes) {
    if (c->scratch[s]) GyreCall(GyreCUDAFree(be, c->scratch[s]));
    c->scratch[s]       = NULL;
    c->scratch_bytes[s] = 0;
    GyreCall(GyreCUDAMalloc(be, bytes + bytes / 4, &c->scratch[s])); /* room to grow */
    c->scratch_bytes[s] = bytes + bytes / 4;
  }
  *ptr = c->scratch[s];
  return GYRE_OK;
}

GyreStatus GyreCUDAReduceBuffer(GyreBackend *be, size_t n, double **dev)
{
  CudaCtx *c = cuda_ctx(be);
  if (c->red_n < n) {
    double *dev0 = c->red, *host0 = c->red_host; /* forgotten first: never kept once freed */
    c->red = c->red_host = NULL;
    c->red_n             = 0;
    if (dev0) GyreCall(GyreCUDAFree(be, dev0));
    if (host0) CU(cudaFreeHost(host0));
    size_t m = n < 1024 ? 1024 : n;
    GyreCall(GyreCUDAMalloc(be, m * sizeof(double), (void **) &c->red));
    CU(cudaMallocHost((void **) &c->red_host, m * sizeof(double)));
    c->red_n = m;
  }
  CU(cudaMemsetAsync(c->red, 0, n * sizeof(double), c->stream));
  *dev = c->red;
  return GYRE_OK;
}

GyreStatus GyreCUDAReduceFetch(GyreBackend *be, size_t n, double *host)
{
  CudaCtx *c = cuda_ctx(be);
  CU(cudaMemcpyAsync(c->red_host, c->red, n * sizeof(double), cudaMemcpyDeviceToHost, c->stream));
  CU(cudaStreamSynchronize(c->stream));
  memcpy(host, c->red_host, n * sizeof(double));
  return GYRE_OK;
}

__global__ static void k_fill(float *x, size_t n, float v)
{
  GRID_STRIDE(i, n)
  x[i] = v;
}

GyreStatus GyreCUDAOnes(GyreBackend *be, size_t n, const float **ones)
{
  CudaCtx *c = cuda_ctx(be);
  if (c->ones_n < n) {
    if (c->ones) GyreCall(GyreCUDAFree(be, c->ones));
    c->ones   = NULL;
    c->ones_n = 0;
    size_t m  = n < 4096 ? 4096 : n;
    GyreCall(GyreCUDAMalloc(be, m * sizeof(float), (void **) &c->ones));
    k_fill<<<cuda_blocks(m, 256), 256, 0, c->stream>>>(c->ones, m, 1.0f);
    CU_LAUNCHED();
    c->ones_n = m;
  }
  *ones = c->ones;
  return GYRE_OK;
}

/* ---- memory ops --------------------------------------------------------------------- */
static GyreStatus cu_alloc(GyreBackend *be, size_t bytes, void **ptr)
{
  return GyreCUDAMalloc(be, bytes, ptr);
}

static GyreStatus cu_free(GyreBackend *be, void *ptr)
{
  return GyreCUDAFree(be, ptr);
}

static GyreStatus cu_copy_from_host(GyreBackend *be, void *dst, const void *src, size_t bytes)
{
  CudaCtx *c = cuda_ctx(be);
  if (!bytes) return GYRE_OK;
  /* from pageable memory the copy is staged before the call returns: src may be reused */
  CU(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, c->stream));
  return GYRE_OK;
}

static GyreStatus cu_copy_to_host(GyreBackend *be, void *dst, const void *src, size_t bytes)
{
  CudaCtx *c = cuda_ctx(be);
  if (!bytes) return GYRE_OK;
  CU(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, c->stream));
  CU(cudaStreamSynchronize(c->stream));
  return GYRE_OK;
}

static GyreStatus cu_copy_to_host_async(GyreBackend *be, void *dst, const void *src, size_t bytes)
{
  CudaCtx *c = cuda_ctx(be);
  if (!bytes) return GYRE_OK;
  CU(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, c->stream));
  return GYRE_OK;
}

static GyreStatus cu_fill(GyreBackend *be, float *x, size_t n, float v)
{
  CUDA_PROF(be, "fill");
  if (!n) return GYRE_OK;
  k_fill<<<cuda_blocks(n, 256), 256, 0, cuda_ctx(be)->stream>>>(x, n, v);
  CU_LAUNCHED();
  return GYRE_OK;
}

/* ---- elementwise and reductions ------------------------------------------------------ */
__global__ static void k_axpby(size_t n, float a, const float *x, float b, float *y)
{
  if (b == 0.0f) {
    GRID_STRIDE(i, n) y[i] = a * x[i];
  } else {
    GRID_STRIDE(i, n) y[i] = a * x[i] + b * y[i];
  }
}

static GyreStatus cu_axpby(GyreBackend *be, size_t n, float a, const float *x, float b, float *y)
{
  CUDA_PROF(be, "axpby");
  if (!n) return GYRE_OK;
  k_axpby<<<cuda_blocks(n, 256), 256, 0, cuda_ctx(be)->stream>>>(n, a, x, b, y);
  CU_LAUNCHED();
  return GYRE_OK;
}

__global__ static void k_scale(size_t n, float s, float *x)
{
  GRID_STRIDE(i, n) x[i] *= s;
}

static GyreStatus cu_scale(GyreBackend *be, size_t n, float s, float *x)
{
  CUDA_PROF(be, "scale");
  if (!n) return GYRE_OK;
  k_scale<<<cuda_blocks(n, 256), 256, 0, cuda_ctx(be)->stream>>>(n, s, x);
  CU_LAUNCHED();
  return GYRE_OK;
}

/* block-wide double sum of v into *out (atomic) */
__device__ static void block_sum_add(double v, double *out)
{
  __shared__ double sh[32];
  for (int o = 16; o > 0; o >>= 1)
    v += __shfl_down_sync(0xffffffffu, v, o);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  if (!lane) sh[warp] = v;
  __syncthreads();
  if (!warp) {
    const int nw = (blockDim.x + 31) >> 5;
    v            = lane < nw ? sh[lane] : 0.0;
    for (int o = 16; o > 0; o >>= 1)
      v += __shfl_down_sync(0xffffffffu, v, o);
    if (!lane) atomicAdd(out, v);
  }
  __syncthreads();
}

__global__ static void k_dot(size_t n, const float *x, const float *y, double *out)
{
  double s = 0;
  GRID_STRIDE(i, n) s += (double) x[i] * (double) y[i];
  block_sum_add(s, out);
}

static unsigned reduce_blocks(size_t n)
{
  size_t b = (n + 1023) / 1024;
  return (unsigned) (b < 1 ? 1 : b > 1024 ? 1024 : b);
}

static GyreStatus cu_dot(GyreBackend *be, size_t n, const float *x, const float *y, double *r)
{
  CUDA_PROF(be, "dot");
  double *d;
  GyreCall(GyreCUDAReduceBuffer(be, 1, &d));
  if (n) {
    k_dot<<<reduce_blocks(n), 256, 0, cuda_ctx(be)->stream>>>(n, x, y, d);
    CU_LAUNCHED();
  }
  return GyreCUDAReduceFetch(be, 1, r);
}

/* ---- activations -------------------------------------------------------------------- */
__global__ static void k_act_fwd(int act, size_t n, const float *x, float *y)
{
  GRID_STRIDE(i, n)
  {
    y[i] = gyre_act_value(act, x[i]);
  }
}

__global__ static void k_act_bwd(int act, size_t n, const float *x, const float *g, float *d)
{
  GRID_STRIDE(i, n)
  {
    const float v = x[i];
    float       f;
    if (act == GYRE_ACT_RELU)
      f = v > 0.0f ? 1.0f : 0.0f;
    else if (act == GYRE_ACT_GELU)
      f = 0.5f * (1.0f + erff(v * 0.70710678118654752440f)) +
          v * 0.39894228040143267794f * expf(-0.5f * v * v);
    else {
      const float t = tanhf(v);
      f             = 1.0f - t * t;
    }
    d[i] = act == GYRE_ACT_RELU ? (v > 0.0f ? g[i] : 0.0f) : g[i] * f;
  }
}

static GyreStatus check_act(GyreActivation a, const char *op)
{
  if (a != GYRE_ACT_RELU && a != GYRE_ACT_GELU && a != GYRE_ACT_TANH)
    return GyreStatusSet(GYRE_ERR_ARG, "cuda %s: unknown activation %d", op, (int) a);
  return GYRE_OK;
}

static GyreStatus cu_act_forward(GyreBackend *be, GyreActivation a, const GyreTensor *x,
                                 GyreTensor *y)
{
  CUDA_PROF(be, "activation forward");
  GyreCall(check_act(a, "act_forward"));
  k_act_fwd<<<cuda_blocks(x->size, 256), 256, 0, cuda_ctx(be)->stream>>>((int) a, x->size, x->data,
                                                                         y->data);
  CU_LAUNCHED();
  return GYRE_OK;
}

static GyreStatus cu_act_backward(GyreBackend *be, GyreActivation a, const GyreTensor *x,
                                  const GyreTensor *dy, GyreTensor *dx)
{
  CUDA_PROF(be, "activation backward");
  if (!dx) return GYRE_OK;
  GyreCall(check_act(a, "act_backward"));
  k_act_bwd<<<cuda_blocks(x->size, 256), 256, 0, cuda_ctx(be)->stream>>>((int) a, x->size, x->data,
                                                                         dy->data, dx->data);
  CU_LAUNCHED();
  return GYRE_OK;
}

/* ---- losses -------------------------------------------------------------------------- */
__global__ static void k_sqdiff(size_t n, const float *p, const float *t, double *out)
{
  double s = 0;
  GRID_STRIDE(i, n)
  {
    const double d = (double) p[i] - (double) t[i];
    s += d * d;
  }
  block_sum_add(s, out);
}

__global__ static void k_mse_grad(size_t n, double scale, const float *p, const float *t, float *g)
{
  GRID_STRIDE(i, n) g[i] = (float) (scale * ((double) p[i] - (double) t[i]));
}

static GyreStatus cu_mse_loss(GyreBackend *be, const GyreTensor *pred, const GyreTensor *target,
                              double *loss, GyreTensor *dpred)
{
  CUDA_PROF(be, "loss");
  CudaCtx     *c = cuda_ctx(be);
  const size_t n = pred->size;
  double      *d, s;
  GyreCall(GyreCUDAReduceBuffer(be, 1, &d));
  k_sqdiff<<<reduce_blocks(n), 256, 0, c->stream>>>(n, pred->data, target->data, d);
  CU_LAUNCHED();
  if (dpred) {
    k_mse_grad<<<cuda_blocks(n, 256), 256, 0, c->stream>>>(n, 2.0 / (double) n, pred->data,
                                                           target->data, dpred->data);
    CU_LAUNCHED();
  }
  GyreCall(GyreCUDAReduceFetch(be, 1, &s));
  *loss = s / (double) n;
  return GYRE_OK;
}

/* per sample s (blockIdx.y): out[2 s] += sum (p - t)^2, out[2 s + 1] += sum t^2 */
__global__ static void k_rel_sums(size_t per, const float *p, const float *t, double *out)
{
  const size_t s  = blockIdx.y;
  const float *ps = p + s * per, *ts = t + s * per;
  double       dd = 0, tt = 0;
  for (size_t i = blockIdx.x * (size_t) blockDim.x + threadIdx.x; i < per;
       i += (size_t) gridDim.x * blockDim.x) {
    const double d = (double) ps[i] - (double) ts[i];
    dd += d * d;
    tt += (double) ts[i] * (double) ts[i];
  }
  block_sum_add(dd, out + 2 * s);
  block_sum_add(tt, out + 2 * s + 1);
}

/* dpred_s = scale[s] (p - t), scale in device doubles after the 2N sums */
__global__ static void k_rel_grad(size_t per, size_t n, const double *scale, const float *p,
                                  const float *t, float *g)
{
  GRID_STRIDE(i, n) g[i] = (float) (scale[i / per] * ((double) p[i] - (double) t[i]));
}

static GyreStatus cu_rel_l2_loss(GyreBackend *be, const GyreTensor *pred, const GyreTensor *target,
                                 double *loss, GyreTensor *dpred)
{
  CudaCtx      *c   = cuda_ctx(be);
  const int64_t N   = pred->shape[0];
  const size_t  per = pred->size / (size_t) N;
  double       *d, total = 0;
  double       *h   = (double *) malloc(sizeof(double) * 3 * (size_t) N);
  int64_t       bad = -1;
  if (!h) return GyreStatusSet(GYRE_ERR_MEM, "cuda rel_l2_loss: out of host memory");
  GyreStatus st = GyreCUDAReduceBuffer(be, 3 * (size_t) N, &d);
  if (!st) {
    unsigned bx = (unsigned) ((per + 1023) / 1024);
    dim3     grid(bx < 1 ? 1 : bx > 256 ? 256 : bx, (unsigned) N);
    k_rel_sums<<<grid, 256, 0, c->stream>>>(per, pred->data, target->data, d);
    cudaError_t e = cudaGetLastError();
    st            = e ? GyreCUDAStatus(e, "k_rel_sums", __FILE__, __LINE__)
                      : GyreCUDAReduceFetch(be, 2 * (size_t) N, h);
  }
  for (int64_t s = 0; !st && s < N; s++) {
    const double dd = h[2 * s], tt = h[2 * s + 1];
    if (tt == 0) {
      if (bad < 0) bad = s;
      continue;
    }
    const double nd = sqrt(dd), nt = sqrt(tt);
    total += nd / nt;
    h[2 * N + s] = nd > 0 ? 1.0 / ((double) N * nd * nt) : 0.0;
  }
  if (!st && bad >= 0)
    st = GyreStatusSet(GYRE_ERR_NAN,
                       "cuda rel_l2_loss: target sample %lld has zero norm (relative L2 loss "
                       "undefined)",
                       (long long) bad);
  if (!st && dpred) {
    /* the N scales go after the sums in the same device buffer */
    cudaError_t e = cudaMemcpyAsync(d + 2 * N, h + 2 * N, sizeof(double) * (size_t) N,
                                    cudaMemcpyHostToDevice, c->stream);
    if (!e) {
      k_rel_grad<<<cuda_blocks(pred->size, 256), 256, 0, c->stream>>>(
          per, pred->size, d + 2 * N, pred->data, target->data, dpred->data);
      e = cudaGetLastError();
    }
    /* h is pageable: the copy is staged before cudaMemcpyAsync returns, h may be freed */
    if (e) st = GyreCUDAStatus(e, "rel_l2_loss gradient", __FILE__, __LINE__);
  }
  free(h);
  if (!st) *loss = total / (double) N;
  return st;
}

/* ---- batch normalisation ---------------------------------------------------------------- */
/* channel sums over x (N, C, S): blockIdx.y = channel, blocks along n*S; mode 0: sum x and
 * sum x^2; mode 1: sum dy and sum dy xhat with xhat = (x - mean[c]) invstd[c] */
__global__ static void k_bn_sums(int mode, int N, int C, size_t S, const float *x, const float *dy,
                                 const float *mean, const float *invstd, double *out)
{
  const int    ch = blockIdx.y;
  const size_t M  = (size_t) N * S;
  double       a = 0, b = 0;
  const float  mu = mode ? mean[ch] : 0.0f, is = mode ? invstd[ch] : 0.0f;
  for (size_t j = blockIdx.x * (size_t) blockDim.x + threadIdx.x; j < M;
       j += (size_t) gridDim.x * blockDim.x) {
    const size_t n = j / S, s = j - n * S, i = (n * C + ch) * S + s;
    const float  v = x[i];
    if (!mode) {
      a += v;
      b += (double) v * v;
    } else {
      const float g = dy[i], xh = (v - mu) * is;
      a += g;
      b += (double) g * xh;
    }
  }
  block_sum_add(a, out + ch);
  block_sum_add(b, out + C + ch);
}

static void bn_shape(const GyreTensor *x, int *N, int *C, size_t *S)
{
  *N = (int) x->shape[0];
  *C = (int) x->shape[1];
  *S = x->size / ((size_t) *N * (size_t) *C);
}

static GyreStatus bn_sums(GyreBackend *be, int mode, const GyreTensor *x, const float *dy,
                          const float *mean, const float *invstd, double *o1, double *o2)
{
  CUDA_PROF(be, "batch norm statistics");
  int    N, C;
  size_t S;
  bn_shape(x, &N, &C, &S);
  double  *d;
  double  *h  = (double *) malloc(sizeof(double) * 2 * (size_t) C);
  unsigned bx = (unsigned) (((size_t) N * S + 4095) / 4096);
  if (!h) return GyreStatusSet(GYRE_ERR_MEM, "cuda batch norm: out of host memory");
  GyreStatus st = GyreCUDAReduceBuffer(be, 2 * (size_t) C, &d);
  if (!st) {
    dim3 grid(bx < 1 ? 1 : bx > 512 ? 512 : bx, (unsigned) C);
    k_bn_sums<<<grid, 256, 0, cuda_ctx(be)->stream>>>(mode, N, C, S, x->data, dy, mean, invstd, d);
    cudaError_t e = cudaGetLastError();
    st = e ? GyreCUDAStatus(e, "k_bn_sums", __FILE__, __LINE__) : GyreCUDAReduceFetch(be, 2 * C, h);
  }
  if (!st) {
    memcpy(o1, h, sizeof(double) * (size_t) C);
    memcpy(o2, h + C, sizeof(double) * (size_t) C);
  }
  free(h);
  return st;
}

static GyreStatus cu_bn_stats(GyreBackend *be, const GyreTensor *x, double *sum, double *sumsq)
{
  return bn_sums(be, 0, x, NULL, NULL, NULL, sum, sumsq);
}

static GyreStatus cu_bn_backward_stats(GyreBackend *be, const GyreTensor *x, const float *mean,
                                       const float *invstd, const GyreTensor *dy, double *sdy,
                                       double *sdyx)
{
  return bn_sums(be, 1, x, dy->data, mean, invstd, sdy, sdyx);
}

__global__ static void k_bn_fwd(size_t n, int C, size_t S, const float *x, const float *mean,
                                const float *invstd, const float *gamma, const float *beta,
                                float *y)
{
  GRID_STRIDE(i, n)
  {
    const int c = (int) ((i / S) % (size_t) C);
    y[i]        = gamma[c] * ((x[i] - mean[c]) * invstd[c]) + beta[c];
  }
}

static GyreStatus cu_bn_forward(GyreBackend *be, const GyreTensor *x, const float *mean,
                                const float *invstd, const float *gamma, const float *beta,
                                GyreTensor *y)
{
  CUDA_PROF(be, "batch norm");
  int    N, C;
  size_t S;
  bn_shape(x, &N, &C, &S);
  k_bn_fwd<<<cuda_blocks(x->size, 256), 256, 0, cuda_ctx(be)->stream>>>(
      x->size, C, S, x->data, mean, invstd, gamma, beta, y->data);
  CU_LAUNCHED();
  return GYRE_OK;
}

/* invstd[c] = 1 / sqrt(var[c] + eps) in double, rounded once: the host's value, bitwise (IEEE
 * square root and division on both) */
__global__ static void k_bn_invstd(int C, const float *var, float eps, float *invstd)
{
  GRID_STRIDE(c, (size_t) C)
  invstd[c] = (float) (1.0 / sqrt((double) var[c] + (double) eps));
}

static GyreStatus cu_bn_invstd(GyreBackend *be, int C, const float *var, float eps, float *invstd)
{
  k_bn_invstd<<<cuda_blocks((size_t) C, 128), 128, 0, cuda_ctx(be)->stream>>>(C, var, eps, invstd);
  CU_LAUNCHED();
  return GYRE_OK;
}

/* ---- CUDA graphs (GYRE_CUDA_GRAPH=1): an inference's kernels recorded once, then launched as
 * one graph a call (network.c: infer_graph) ---------------------------------------------------- */
/* a recorded graph and the backend's generation (CudaCtx.gen) when its recording began */
typedef struct {
  cudaGraphExec_t exec;
  unsigned long   gen;
} CudaGraph;

static GyreStatus cu_capture_begin(GyreBackend *be, int *started)
{
  static int on = -1;
  if (on < 0) on = cuda_env_int("GYRE_CUDA_GRAPH", 0) == 1;
  CudaCtx *c = cuda_ctx(be);
  *started   = 0;
  if (!on || c->prof) return GYRE_OK; /* the profile's events and waits are not recorded */
  if (cudaStreamBeginCapture(c->stream, cudaStreamCaptureModeThreadLocal) != cudaSuccess) {
    (void) cudaGetLastError(); /* no recording: the work runs as without graphs */
    return GYRE_OK;
  }
  c->capture_gen = c->gen;
  *started       = 1;
  return GYRE_OK;
}

static GyreStatus cu_capture_end(GyreBackend *be, void **graph)
{
  CudaCtx        *c = cuda_ctx(be);
  cudaGraph_t     g = NULL;
  cudaGraphExec_t e = NULL;
  *graph            = NULL;
  cudaError_t err   = cudaStreamEndCapture(c->stream, &g);
  if (err == cudaSuccess && g) err = cudaGraphInstantiate(&e, g, 0);
  if (g) cudaGraphDestroy(g);
  /* not recordable (an op synchronised, say): no graph. Memory given up while recording makes
   * the graph stale at once (its generation is the recording's start): graph_launch refuses
   * it, and the workspace records again */
  if (err != cudaSuccess || !e) {
    (void) cudaGetLastError();
    if (e) cudaGraphExecDestroy(e);
    return GYRE_OK;
  }
  CudaGraph *cg = (CudaGraph *) malloc(sizeof *cg);
  if (!cg) {
    cudaGraphExecDestroy(e);
    return GyreStatusSet(GYRE_ERR_MEM, "cuda backend: out of host memory (a graph)");
  }
  cg->exec = e, cg->gen = c->capture_gen;
  *graph = cg;
  return GYRE_OK;
}

static GyreStatus cu_graph_launch(GyreBackend *be, void *graph, int *launched)
{
  CudaCtx         *c  = cuda_ctx(be);
  const CudaGraph *cg = (const CudaGraph *) graph;
  *launched           = 0;
  if (cg->gen != c->gen) return GYRE_OK; /* stale: memory or a plan it uses was given up */
  CU(cudaGraphLaunch(cg->exec, c->stream));
  *launched = 1;
  return GYRE_OK;
}

static void cu_graph_free(GyreBackend *be, void *graph)
{
  (void) be;
  CudaGraph *cg = (CudaGraph *) graph;
  if (!cg) return;
  cudaGraphExecDestroy(cg->exec);
  free(cg);
}

__global__ static void k_bn_bwd(size_t n, int C, size_t S, const float *x, const float *mean,
                                const float *invstd, const float *gamma, const float *dy,
                                const float *mdy, const float *mdyx, float *dx)
{
  GRID_STRIDE(i, n)
  {
    const int   c  = (int) ((i / S) % (size_t) C);
    const float xh = (x[i] - mean[c]) * invstd[c];
    dx[i]          = gamma[c] * invstd[c] * (dy[i] - mdy[c] - xh * mdyx[c]);
  }
}

static GyreStatus cu_bn_backward(GyreBackend *be, const GyreTensor *x, const float *mean,
                                 const float *invstd, const float *gamma, const GyreTensor *dy,
                                 const float *mdy, const float *mdyx, GyreTensor *dx)
{
  CUDA_PROF(be, "batch norm");
  int    N, C;
  size_t S;
  bn_shape(x, &N, &C, &S);
  k_bn_bwd<<<cuda_blocks(x->size, 256), 256, 0, cuda_ctx(be)->stream>>>(
      x->size, C, S, x->data, mean, invstd, gamma, dy->data, mdy, mdyx, dx->data);
  CU_LAUNCHED();
  return GYRE_OK;
}

/* per-channel sums of a (N, C, S) into out[c] (device doubles, accumulated) */
GyreStatus GyreCUDAChannelSums(GyreBackend *be, int N, int C, size_t S, const float *a, double *out)
{
  unsigned bx = (unsigned) (((size_t) N * S + 4095) / 4096);
  dim3     grid(bx < 1 ? 1 : bx > 512 ? 512 : bx, (unsigned) C);
  /* mode 0's second sum (squares) lands in out[C..2C): the caller gives 2C doubles */
  k_bn_sums<<<grid, 256, 0, cuda_ctx(be)->stream>>>(0, N, C, S, a, NULL, NULL, NULL, out);
  CU_LAUNCHED();
  return GYRE_OK;
}

/* ---- optimiser (the CPU's arithmetic, surrogates/cpu/adam.c) ------------------------------ */
__global__ static void k_adam(size_t n, float *p, const float *g, float *m, float *v,
                              float step_size, float bc2_sqrt, float decay, float l2, int decoupled,
                              float w1, float w2, float b2, float eps)
{
  GRID_STRIDE(i, n)
  {
    float pi = p[i], gi = g[i];
    if (l2 != 0.0f) gi = __fadd_rn(gi, __fmul_rn(l2, pi));
    if (decoupled) pi = __fmul_rn(pi, decay);
    const float mi    = __fadd_rn(m[i], __fmul_rn(w1, __fsub_rn(gi, m[i])));
    const float vi    = __fadd_rn(__fmul_rn(v[i], b2), __fmul_rn(__fmul_rn(w2, gi), gi));
    const float denom = __fadd_rn(__fdiv_rn(sqrtf(vi), bc2_sqrt), eps);
    m[i]              = mi;
    v[i]              = vi;
    p[i]              = __fsub_rn(pi, __fmul_rn(step_size, __fdiv_rn(mi, denom)));
  }
}

static GyreStatus cu_adam_update(GyreBackend *be, size_t n, float *p, const float *g, float *m,
                                 float *v, double lr, double beta1, double beta2, double eps,
                                 double weight_decay, int decoupled, long t)
{
  CUDA_PROF(be, "adam");
  if (t < 1) return GyreStatusSet(GYRE_ERR_ARG, "cuda adam_update: step %ld (1-based expected)", t);
  if (!n) return GYRE_OK;
  const double bc1 = 1.0 - pow(beta1, (double) t), bc2 = 1.0 - pow(beta2, (double) t);
  k_adam<<<cuda_blocks(n, 256), 256, 0, cuda_ctx(be)->stream>>>(
      n, p, g, m, v, (float) (lr / bc1), (float) sqrt(bc2),
      decoupled ? (float) (1.0 - lr * weight_decay) : 1.0f, decoupled ? 0.0f : (float) weight_decay,
      decoupled, (float) (1.0 - beta1), (float) (1.0 - beta2), (float) beta2, (float) eps);
  CU_LAUNCHED();
  return GYRE_OK;
}

static GyreStatus cu_host_alloc(GyreBackend *be, size_t bytes, void **ptr)
{
  cudaError_t e = cudaMallocHost(ptr, bytes ? bytes : 1);
  if (e != cudaSuccess) {
    (void) cudaGetLastError();
    *ptr = NULL;
    return GyreStatusSet(GYRE_ERR_MEM, "cuda backend: could not pin %zu bytes of host memory: %s",
                         bytes, cudaGetErrorString(e));
  }
  return GYRE_OK;
}

static GyreStatus cu_host_free(GyreBackend *be, void *ptr)
{
  if (ptr) CU(cudaFreeHost(ptr));
  return GYRE_OK;
}

/* Host to a staging buffer on the copy stream (overlapping what `stream` still runs), then
 * staging to dst on `stream` after it: dst is written in stream order, so a tensor just
 * allocated (and zero-filled on `stream`) or still read by queued ops is safe. */
static GyreStatus cu_copy_from_host_async(GyreBackend *be, void *dst, const void *src, size_t bytes)
{
  CUDA_PROF(be, "batch copy");
  CudaCtx  *c = cuda_ctx(be);
  const int i = c->stage_next;
  if (!bytes) return GYRE_OK;
  c->stage_next = (i + 1) % GYRE_CUDA_STAGES;
  if (c->stage_bytes[i] < bytes) { /* rare: both streams idle first */
    CU(cudaStreamSynchronize(c->stream));
    CU(cudaStreamSynchronize(c->copy_stream));
    if (c->stage[i]) CU(cudaFree(c->stage[i]));
    c->stage[i]       = NULL;
    c->stage_bytes[i] = 0;
    cudaError_t e     = cudaMalloc(&c->stage[i], bytes);
    if (e != cudaSuccess) {
      (void) cudaGetLastError();
      return GyreStatusSet(GYRE_ERR_MEM,
                           "cuda backend: out of device memory allocating %zu bytes (batch "
                           "staging buffer): %s",
                           bytes, cudaGetErrorString(e));
    }
    c->mallocs++;
    c->stage_bytes[i] = bytes;
  }
  CU(cudaStreamWaitEvent(c->copy_stream, c->stage_free[i], 0));
  CU(cudaMemcpyAsync(c->stage[i], src, bytes, cudaMemcpyHostToDevice, c->copy_stream));
  CU(cudaEventRecord(c->copied, c->copy_stream));
  CU(cudaStreamWaitEvent(c->stream, c->copied, 0));
  CU(cudaMemcpyAsync(dst, c->stage[i], bytes, cudaMemcpyDeviceToDevice, c->stream));
  CU(cudaEventRecord(c->stage_free[i], c->stream));
  return GYRE_OK;
}

/* ---- the rest of the table ------------------------------------------------------------- */
static GyreStatus cu_synchronize(GyreBackend *be)
{
  CU(cudaStreamSynchronize(cuda_ctx(be)->stream));
  return GYRE_OK;
}

static GyreStatus cu_memory_stats(GyreBackend *be, size_t *in_use, size_t *peak)
{
  *in_use = cuda_ctx(be)->in_use;
  *peak   = cuda_ctx(be)->peak;
  return GYRE_OK;
}

static GyreStatus cu_set_precision(GyreBackend *be, const char *p)
{
  CudaCtx *c = cuda_ctx(be);
  if (!strcmp(p, "fp32")) {
    c->compute = CUBLAS_COMPUTE_32F;
    CUBLAS(cublasSetMathMode(c->blas, CUBLAS_PEDANTIC_MATH));
  } else if (!strcmp(p, "tf32")) {
    c->compute = CUBLAS_COMPUTE_32F_FAST_TF32;
    CUBLAS(cublasSetMathMode(c->blas, CUBLAS_TF32_TENSOR_OP_MATH));
  } else if (!strcmp(p, "bf16")) { /* operands converted to bfloat16 in GyreCUDAGemm */
    c->compute = CUBLAS_COMPUTE_32F_FAST_16BF;
    CUBLAS(cublasSetMathMode(c->blas, CUBLAS_DEFAULT_MATH));
  } else
    return GyreStatusSet(GYRE_ERR_ARG, "cuda backend: precision '%s' (fp32, tf32 or bf16)", p);
  snprintf(c->precision, sizeof c->precision, "%s", p);
  return GYRE_OK;
}

static const GyreBackendOps cuda_ops = {
    /* .name */ "cuda",
    cu_alloc,
    cu_free,
    cu_copy_from_host,
    cu_copy_to_host,
    cu_fill,
    cu_axpby,
    cu_dot,
    GyreCUDADenseForward,
    GyreCUDADenseBackward,
    GyreCUDAConvForward,
    GyreCUDAConvBackward,
    GyreCUDASpectralForward,
    GyreCUDASpectralBackward,
    cu_act_forward,
    cu_act_backward,
    cu_mse_loss,
    cu_rel_l2_loss,
    cu_bn_stats,
    cu_bn_forward,
    cu_bn_backward_stats,
    cu_bn_backward,
    cu_adam_update,
    cu_scale,
    cu_synchronize,
    cu_memory_stats,
    cu_set_precision,
    cu_host_alloc,
    cu_host_free,
    cu_copy_from_host_async,
    NULL, /* mlp_forward: the layers one by one */
    cu_bn_invstd,
    cu_capture_begin,
    cu_capture_end,
    cu_graph_launch,
    cu_graph_free,
    NULL, /* conv_block_exact: never (the implicit GEMM's split depends on the output's size) */
    GyreCUDAConvForwardPost,
    cu_copy_to_host_async,
};

/* ---- creation ---------------------------------------------------------------------------- */
static int local_rank(void)
{
  const char *v[] = {"OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "SLURM_LOCALID",
                     "MV2_COMM_WORLD_LOCAL_RANK", "PMI_LOCAL_RANK"};
  for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
    const char *s = getenv(v[i]);
    if (s && *s) return atoi(s);
  }
  return 0;
}

extern "C" int GyreCUDAAvailable(char *why, size_t len)
{
  int         n = 0;
  cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess || n == 0) {
    if (why)
      snprintf(why, len, "no CUDA device: %s",
               e != cudaSuccess ? cudaGetErrorString(e) : "the runtime sees 0 devices");
    (void) cudaGetLastError();
    return 0;
  }
  if (why && len) why[0] = 0;
  return 1;
}

static void ctx_destroy(CudaCtx *c)
{
  if (!c) return;
  if (c->stream) cudaStreamSynchronize(c->stream);
  if (c->prof && c->pev) {
    prof_print(c);
    for (int i = 0; i < 2 * GYRE_CUDA_PROF_PAIRS; i++)
      cudaEventDestroy(c->pev[i]);
  }
  free(c->pev);
  free(c->pslot);
  for (int i = 0; i < c->nplans; i++)
    fft_plan_destroy(&c->plans[i]);
  for (int i = 0; i < c->nblocks; i++)
    cudaFree(c->blocks[i].ptr);
  free(c->blocks);
  if (c->red_host) cudaFreeHost(c->red_host);
  if (c->blas) cublasDestroy(c->blas);
  if (c->copied) cudaEventDestroy(c->copied);
  if (c->copy_stream) cudaStreamSynchronize(c->copy_stream);
  for (int i = 0; i < GYRE_CUDA_STAGES; i++) {
    if (c->stage[i]) cudaFree(c->stage[i]);
    if (c->stage_free[i]) cudaEventDestroy(c->stage_free[i]);
  }
  if (c->stream) cudaStreamDestroy(c->stream);
  if (c->copy_stream) cudaStreamDestroy(c->copy_stream);
  free(c);
}

extern "C" GyreStatus GyreCUDABackendInit(GyreBackend *be)
{
  char why[256];
  int  n = 0;
  if (!GyreCUDAAvailable(why, sizeof why))
    return GyreStatusSet(GYRE_ERR_ARG, "backend 'cuda': %s", why);
  CU(cudaGetDeviceCount(&n));
  CudaCtx *c = (CudaCtx *) calloc(1, sizeof *c);
  if (!c) return GyreStatusSet(GYRE_ERR_MEM, "cuda backend: out of host memory");
  c->device = local_rank() % n;
  c->prof   = cuda_env_int("GYRE_CUDA_PROFILE", 0);
  if (c->prof < 0) c->prof = 0;
  GyreStatus st = GYRE_OK;
#define INIT(call)                                                                                 \
  do {                                                                                             \
    if (!st) st = (call);                                                                          \
  } while (0)
  cudaError_t e = cudaSetDevice(c->device);
  if (!e) e = cudaGetDeviceProperties(&c->prop, c->device);
  if (!e) e = cudaStreamCreateWithFlags(&c->stream, cudaStreamNonBlocking);
  if (!e) e = cudaStreamCreateWithFlags(&c->copy_stream, cudaStreamNonBlocking);
  if (!e) e = cudaEventCreateWithFlags(&c->copied, cudaEventDisableTiming);
  for (int i = 0; i < GYRE_CUDA_STAGES && !e; i++)
    e = cudaEventCreateWithFlags(&c->stage_free[i], cudaEventDisableTiming);
  if (e) st = GyreCUDAStatus(e, "device set-up", __FILE__, __LINE__);
  if (!st) {
    cublasStatus_t b = cublasCreate(&c->blas);
    if (!b) b = cublasSetStream(c->blas, c->stream);
    if (b) st = GyreCUBLASStatus(b, "cublasCreate", __FILE__, __LINE__);
  }
  be->ctx = c;
  be->ops = &cuda_ops;
  /* one host thread drives the device: the CPU-side threads option does not apply */
  be->threads = 1;
  INIT(cu_set_precision(be, "fp32"));
#undef INIT
  if (st) {
    ctx_destroy(c);
    be->ctx = NULL;
    be->ops = NULL;
  }
  return st;
}

extern "C" void GyreCUDABackendFinalize(GyreBackend *be)
{
  ctx_destroy(cuda_ctx(be));
  be->ctx = NULL;
}

extern "C" long GyreCUDAMallocCount(const GyreBackend *be)
{
  return ((const CudaCtx *) be->ctx)->mallocs;
}

extern "C" const char *GyreCUDADeviceString(const GyreBackend *be, char *buf, size_t len)
{
  const CudaCtx *c = (const CudaCtx *) be->ctx;
  snprintf(buf, len, "%s (device %d, sm_%d%d, %.1f GiB, %s)", c->prop.name, c->device,
           c->prop.major, c->prop.minor, c->prop.totalGlobalMem / 1073741824.0, c->precision);
  return buf;
}

extern "C" GyreStatus GyreCUDASetPrecision(GyreBackend *be, const char *precision)
{
  return cu_set_precision(be, precision);
}

/* ---- GEMM and FFT plans -------------------------------------------------------------------- */
/* elements spanned by a column-major rows x cols matrix with leading dimension ld, batch of
 * them `stride` apart */
static size_t bf16_span(int rows, int cols, int ld, long long stride, int batch)
{
  return (size_t) (batch > 1 ? (long long) (batch - 1) * stride : 0) +
         (size_t) ld * (size_t) (cols - 1) + (size_t) rows;
}

__global__ static void k_to_bf16(size_t n, const float *x, __nv_bfloat16 *y)
{
  GRID_STRIDE(i, n) y[i] = __float2bfloat16_rn(x[i]);
}

GyreStatus GyreCUDAGemm(GyreBackend *be, cublasOperation_t ta, cublasOperation_t tb, int m, int n,
                        int k, float alpha, const float *A, int lda, long long sa, const float *B,
                        int ldb, long long sb, float beta, float *C, int ldc, long long sc,
                        int batch)
{
  CudaCtx *c = cuda_ctx(be);
  if (m <= 0 || n <= 0) return GYRE_OK;
  if (k <= 0) { /* C = beta C */
    if (beta == 1.0f) return GYRE_OK;
    return GyreStatusSet(GYRE_ERR_INTERNAL, "cuda gemm: k = 0 with beta != 1");
  }
  if (c->compute == CUBLAS_COMPUTE_32F) {
    if (batch <= 1)
      CUBLAS(cublasSgemm(c->blas, ta, tb, m, n, k, &alpha, A, lda, B, ldb, &beta, C, ldc));
    else
      CUBLAS(cublasSgemmStridedBatched(c->blas, ta, tb, m, n, k, &alpha, A, lda, sa, B, ldb, sb,
                                       &beta, C, ldc, sc, batch));
    return GYRE_OK;
  }
  if (c->compute == CUBLAS_COMPUTE_32F_FAST_TF32) {
    if (batch <= 1)
      CUBLAS(cublasGemmEx(c->blas, ta, tb, m, n, k, &alpha, A, CUDA_R_32F, lda, B, CUDA_R_32F, ldb,
                          &beta, C, CUDA_R_32F, ldc, c->compute, CUBLAS_GEMM_DEFAULT));
    else
      CUBLAS(cublasGemmStridedBatchedEx(c->blas, ta, tb, m, n, k, &alpha, A, CUDA_R_32F, lda, sa, B,
                                        CUDA_R_32F, ldb, sb, &beta, C, CUDA_R_32F, ldc, sc, batch,
                                        c->compute, CUBLAS_GEMM_DEFAULT));
    return GYRE_OK;
  }
  /* bf16: the operands rounded to bfloat16 (tensor cores), fp32 accumulation and output */
  const size_t spanA =
      bf16_span(ta == CUBLAS_OP_N ? m : k, ta == CUBLAS_OP_N ? k : m, lda, sa, batch);
  const size_t spanB =
      bf16_span(tb == CUBLAS_OP_N ? k : n, tb == CUBLAS_OP_N ? n : k, ldb, sb, batch);
  __nv_bfloat16 *A16, *B16;
  GyreCall(GyreCUDAScratch(be, 4, spanA * sizeof(__nv_bfloat16), (void **) &A16));
  GyreCall(GyreCUDAScratch(be, 5, spanB * sizeof(__nv_bfloat16), (void **) &B16));
  k_to_bf16<<<cuda_blocks(spanA, 256), 256, 0, c->stream>>>(spanA, A, A16);
  CU_LAUNCHED();
  k_to_bf16<<<cuda_blocks(spanB, 256), 256, 0, c->stream>>>(spanB, B, B16);
  CU_LAUNCHED();
  if (batch <= 1)
    CUBLAS(cublasGemmEx(c->blas, ta, tb, m, n, k, &alpha, A16, CUDA_R_16BF, lda, B16, CUDA_R_16BF,
                        ldb, &beta, C, CUDA_R_32F, ldc, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
  else
    CUBLAS(cublasGemmStridedBatchedEx(c->blas, ta, tb, m, n, k, &alpha, A16, CUDA_R_16BF, lda, sa,
                                      B16, CUDA_R_16BF, ldb, sb, &beta, C, CUDA_R_32F, ldc, sc,
                                      batch, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
  return GYRE_OK;
}

/* the directions made of a cached plan destroyed (all of them, the first failure returned) */
static GyreStatus fft_plan_destroy(CudaFFTPlan *p)
{
  cufftResult r = CUFFT_SUCCESS, q;
  if ((p->made & CUDA_FFT_R2C) && (q = cufftDestroy(p->r2c)) != CUFFT_SUCCESS) r = q;
  if ((p->made & CUDA_FFT_C2R) && (q = cufftDestroy(p->c2r)) != CUFFT_SUCCESS) r = q;
  p->made = 0;
  return r == CUFFT_SUCCESS ? GYRE_OK : GyreCUFFTStatus(r, "cufftDestroy", __FILE__, __LINE__);
}

/* every made plan pointed at the shared work area (after it moved) */
static GyreStatus fft_work_point(CudaCtx *c)
{
  for (int i = 0; i < c->nplans; i++) {
    if (c->plans[i].made & CUDA_FFT_R2C) CUFFT(cufftSetWorkArea(c->plans[i].r2c, c->fft_work));
    if (c->plans[i].made & CUDA_FFT_C2R) CUFFT(cufftSetWorkArea(c->plans[i].c2r, c->fft_work));
  }
  return GYRE_OK;
}

/* the shared work area grown to ws bytes: every made plan moved to the new block first, so
 * that should a move fail the old block stays allocated (no plan can point at memory the arena
 * hands out again); then the old block goes back to the arena, stream-ordered */
static GyreStatus fft_work_grow(GyreBackend *be, CudaCtx *c, size_t ws)
{
  void *old = c->fft_work, *grown = NULL;
  GyreCall(GyreCUDAMalloc(be, ws, &grown));
  c->fft_work = grown, c->fft_work_bytes = ws;
  GyreCall(fft_work_point(c));
  return old ? GyreCUDAFree(be, old) : GYRE_OK;
}

/* direction dir of p made, its work area the shared one from the arena (grown to the plan's
 * need first: every made plan is pointed at the new block, then the old one goes back to the
 * arena, stream-ordered). One area serves every plan because they all run on the one compute
 * stream, one after another (as PyTorch shares its cuFFT work space); a handle that cannot be
 * planned, given the stream or its work area is destroyed */
static GyreStatus fft_plan_make(GyreBackend *be, CudaCtx *c, CudaFFTPlan *p, int dir)
{
  int n = p->n, ny = p->ny, nh = n / 2 + 1, dims[2] = {ny, n}, re[2] = {ny, n}, cx[2] = {ny, nh};
  const int   rank = ny > 1 ? 2 : 1, *d = ny > 1 ? dims : &n;
  cufftHandle h;
  size_t      ws   = 0;
  const char *what = "cufftCreate";
  cufftResult r    = cufftCreate(&h);
  if (r != CUFFT_SUCCESS) return GyreCUFFTStatus(r, what, __FILE__, __LINE__);
  if ((r = cufftSetAutoAllocation(h, 0)) != CUFFT_SUCCESS)
    what = "cufftSetAutoAllocation";
  else if ((r = dir == CUDA_FFT_R2C
                    ? cufftMakePlanMany(h, rank, (int *) d, ny > 1 ? re : &n, 1, ny * n,
                                        ny > 1 ? cx : &nh, 1, ny * nh, CUFFT_R2C, p->batch, &ws)
                    : cufftMakePlanMany(h, rank, (int *) d, ny > 1 ? cx : &nh, 1, ny * nh,
                                        ny > 1 ? re : &n, 1, ny * n, CUFFT_C2R, p->batch, &ws)) !=
           CUFFT_SUCCESS)
    what = "cufftMakePlanMany";
  else if ((r = cufftSetStream(h, c->stream)) != CUFFT_SUCCESS)
    what = "cufftSetStream";
  if (r != CUFFT_SUCCESS) {
    cufftDestroy(h);
    return GyreCUFFTStatus(r, what, __FILE__, __LINE__);
  }
  GyreStatus st = ws > c->fft_work_bytes ? fft_work_grow(be, c, ws) : GYRE_OK;
  if (st == GYRE_OK && ws > 0 && (r = cufftSetWorkArea(h, c->fft_work)) != CUFFT_SUCCESS)
    st = GyreCUFFTStatus(r, "cufftSetWorkArea", __FILE__, __LINE__);
  if (st != GYRE_OK) {
    cufftDestroy(h);
    return st;
  }
  if (dir == CUDA_FFT_R2C)
    p->r2c = h;
  else
    p->c2r = h;
  p->made |= dir;
  return GYRE_OK;
}

GyreStatus GyreCUDAFFTPlan(GyreBackend *be, int ny, int n, int batch, int dir, CudaFFTPlan **plan)
{
  CudaCtx     *c = cuda_ctx(be);
  CudaFFTPlan *p = NULL;
  for (int i = 0; i < c->nplans && !p; i++)
    if (c->plans[i].n == n && c->plans[i].ny == ny && c->plans[i].batch == batch) p = &c->plans[i];
  if (!p) {
    if (c->nplans == GYRE_CUDA_PLANS) { /* full: drop the oldest, compacted whatever happens */
      CU(cudaStreamSynchronize(c->stream));
      c->gen++; /* first: a graph using the plan is stale even if a destroy fails */
      CudaFFTPlan old = c->plans[0];
      memmove(c->plans, c->plans + 1, sizeof(CudaFFTPlan) * (GYRE_CUDA_PLANS - 1));
      c->nplans--;
      GyreCall(fft_plan_destroy(&old));
    }
    p = &c->plans[c->nplans++];
    memset(p, 0, sizeof *p);
    p->n = n, p->ny = ny, p->batch = batch;
  }
  if (!(p->made & dir)) GyreCall(fft_plan_make(be, c, p, dir));
  *plan = p;
  return GYRE_OK;
}
