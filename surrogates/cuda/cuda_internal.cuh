/* cuda_internal.cuh — the CUDA backend's state and helpers, shared by its .cu files.
 * Internal to surrogates/cuda/. */
#ifndef GYRE_CUDA_INTERNAL_CUH
#define GYRE_CUDA_INTERNAL_CUH
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cuda_bf16.h>
#include <cufft.h>
#include <stdint.h>
#include <stdlib.h>
#include "grid_stride.cuh"
#include "gyre_cuda.h"
#include "gyre_nn.h"

/* one block of the arena: device memory kept for reuse once freed */
typedef struct {
  void  *ptr;
  size_t bytes;
  int    used;
} CudaBlock;

typedef struct {
  int         n, ny, batch; /* real transforms of (ny, n) (ny = 1: 1-D), `batch` of them */
  int         made;         /* CUDA_FFT_R2C | CUDA_FFT_C2R: the directions made so far */
  cufftHandle r2c, c2r;
} CudaFFTPlan;
#define CUDA_FFT_R2C 1
#define CUDA_FFT_C2R 2

#define GYRE_CUDA_PLANS 32 /* 1-D and 2-D (the FFT convolution: one a layer shape) */
#define GYRE_CUDA_STAGES 4
#define GYRE_CUDA_PROF_NAMES 96
#define GYRE_CUDA_PROF_PAIRS 4096

typedef struct {
  int            device;
  cudaDeviceProp prop;
  cudaStream_t   stream;      /* every op runs on this stream, in order */
  cudaStream_t   copy_stream; /* host-to-device batch copies (prefetch) */
  cudaEvent_t    copied;      /* the last such copy, waited for by `stream` */
  /* a ring of device staging buffers for those copies (cudaMalloc'ed apart from the arena):
   * the copy stream fills one while `stream` computes, `stream` then moves it to the tensor;
   * stage_free[i] is recorded on `stream` once it has read buffer i */
  void               *stage[GYRE_CUDA_STAGES];
  size_t              stage_bytes[GYRE_CUDA_STAGES];
  cudaEvent_t         stage_free[GYRE_CUDA_STAGES];
  int                 stage_next;
  cublasHandle_t      blas;
  cublasComputeType_t compute; /* CUBLAS_COMPUTE_32F, _FAST_TF32 or _FAST_16BF */
  char                precision[8];
  /* the arena: blocks from cudaMalloc, reused by exact size once freed */
  CudaBlock *blocks;
  int        nblocks, cap;
  long       mallocs;
  size_t     in_use, peak;
  /* scratch for ops (grown, never shrunk; a grown slot returns its old block to the arena) */
  void *scratch[8]; /* 0-3: the ops' (see each); 4, 5: bf16 GEMM operands (4 also the spectral
                     * op's twiddles); 6: the implicit convolution's offsets; 7: the FFT
                     * convolution's spectral weights */
  size_t scratch_bytes[8];
  /* reductions: device doubles and their pinned host mirror */
  double *red, *red_host;
  size_t  red_n;
  /* a device vector of ones (column sums by GEMV) */
  float      *ones;
  size_t      ones_n;
  CudaFFTPlan plans[GYRE_CUDA_PLANS];
  int         nplans;
  /* the plans' one work area (cuFFT's own allocation is off: cufftSetAutoAllocation), an arena
   * block as large as the largest plan needs, so that it counts in in_use and peak and the
   * plans make no cudaMalloc of their own; every made plan points at it */
  void  *fft_work;
  size_t fft_work_bytes;
  /* bumped whenever device memory or an FFT plan that recorded work may use is given up (an
   * arena block freed or released, a plan dropped): a CUDA graph recorded before is stale */
  unsigned long gen, capture_gen;
  /* GYRE_CUDA_PROFILE=1: device time per op family, printed when the backend is destroyed;
   * 2: also each implicit-GEMM launch by its shape (names made at run time, kept in pnames) */
  int  prof;
  char pnames[GYRE_CUDA_PROF_NAMES][64];
  int  npnames;
  struct {
    const char *name;
    double      ms;
    long        calls;
  } ptab[GYRE_CUDA_PROF_NAMES];
  int          nptab;
  cudaEvent_t *pev;   /* pairs: start, end */
  int         *pslot; /* the name of each pair */
  int          npairs;
} CudaCtx;

static inline CudaCtx *cuda_ctx(GyreBackend *be)
{
  return (CudaCtx *) be->ctx;
}

/* status checks: one message naming the call, the library's text and the source line */
GyreStatus GyreCUDAStatus(cudaError_t e, const char *what, const char *file, int line);
GyreStatus GyreCUBLASStatus(cublasStatus_t e, const char *what, const char *file, int line);
GyreStatus GyreCUFFTStatus(cufftResult e, const char *what, const char *file, int line);
#define CU(call)                                                                                   \
  do {                                                                                             \
    cudaError_t e_ = (call);                                                                       \
    if (e_ != cudaSuccess) return GyreCUDAStatus(e_, #call, __FILE__, __LINE__);                   \
  } while (0)
#define CUBLAS(call)                                                                               \
  do {                                                                                             \
    cublasStatus_t e_ = (call);                                                                    \
    if (e_ != CUBLAS_STATUS_SUCCESS) return GyreCUBLASStatus(e_, #call, __FILE__, __LINE__);       \
  } while (0)
#define CUFFT(call)                                                                                \
  do {                                                                                             \
    cufftResult e_ = (call);                                                                       \
    if (e_ != CUFFT_SUCCESS) return GyreCUFFTStatus(e_, #call, __FILE__, __LINE__);                \
  } while (0)
/* a kernel launch: the launch error, if any */
#define CU_LAUNCHED() CU(cudaGetLastError())

/* device memory from the arena; the size asked for is in the out-of-memory message */
GyreStatus GyreCUDAMalloc(GyreBackend *be, size_t bytes, void **ptr);
GyreStatus GyreCUDAFree(GyreBackend *be, void *ptr);
/* scratch slot s (0..3 for the ops; 4, 5: bf16 GEMM operands) of at least `bytes`, valid until the
 * next call for the same slot */
GyreStatus GyreCUDAScratch(GyreBackend *be, int s, size_t bytes, void **ptr);
/* n zeroed device doubles for a reduction (scratch of its own) */
GyreStatus GyreCUDAReduceBuffer(GyreBackend *be, size_t n, double **dev);
/* copies the n reduction doubles to host (synchronises the stream) */
GyreStatus GyreCUDAReduceFetch(GyreBackend *be, size_t n, double *host);
/* a device vector of at least n ones */
GyreStatus GyreCUDAOnes(GyreBackend *be, size_t n, const float **ones);

/* column-major GEMM (cuBLAS's convention) in the backend's precision, fp32 in and out:
 * C (m x n) = alpha op(A) op(B) + beta C, optionally strided-batched (batch > 1) */
GyreStatus GyreCUDAGemm(GyreBackend *be, cublasOperation_t ta, cublasOperation_t tb, int m, int n,
                        int k, float alpha, const float *A, int lda, long long sa, const float *B,
                        int ldb, long long sb, float beta, float *C, int ldc, long long sc,
                        int batch);
/* the cached plan of `batch` real transforms of length n (ny = 1) or of (ny, n) planes, with
 * direction `dir` (CUDA_FFT_R2C or CUDA_FFT_C2R) made where it is not yet: each direction is
 * made on its first use, its work area the plans' shared arena block (fft_work) */
GyreStatus GyreCUDAFFTPlan(GyreBackend *be, int ny, int n, int batch, int dir, CudaFFTPlan **plan);

/* an integer knob from the environment (GYRE_CUDA_*): its value, or dflt where unset or empty */
static inline int cuda_env_int(const char *name, int dflt)
{
  const char *s = getenv(name);
  return s && *s ? atoi(s) : dflt;
}

/* grid size for n elements at `threads` per block, capped for grid-stride loops */
static inline unsigned cuda_blocks(size_t n, int threads)
{
  size_t b = (n + (size_t) threads - 1) / (size_t) threads;
  if (b > 65535u * 8u) b = 65535u * 8u;
  return (unsigned) (b ? b : 1);
}

/* GYRE_CUDA_PROFILE=1: the device time of the enclosing scope, under `name` (events on the
 * stream: no synchronisation; resolved in batches and at the end) */
struct CudaProf {
  GyreBackend *be;
  int          pair;
  CudaProf(GyreBackend *be, const char *name);
  ~CudaProf();
};
#define CUDA_PROF_CAT2(a, b) a##b
#define CUDA_PROF_CAT(a, b) CUDA_PROF_CAT2(a, b)
#define CUDA_PROF(be, name) CudaProf CUDA_PROF_CAT(cuda_prof_, __LINE__)(be, name)
/* a profile name made at run time (printf-style), kept by the backend; NULL where its table is
 * full (a scope named NULL records nothing) */
const char *GyreCUDAProfName(GyreBackend *be, const char *fmt, ...);

/* the ops of each file */
GyreStatus GyreCUDADenseForward(GyreBackend *, const GyreTensor *x, const GyreTensor *W,
                                const GyreTensor *b, GyreTensor *y);
GyreStatus GyreCUDADenseBackward(GyreBackend *, const GyreTensor *x, const GyreTensor *W,
                                 const GyreTensor *dy, GyreTensor *dx, GyreTensor *dW,
                                 GyreTensor *db);
GyreStatus GyreCUDAConvForward(GyreBackend *, const GyreTensor *x, const GyreTensor *W,
                               const GyreTensor *b, GyrePadding pad, GyreTensor *y);
GyreStatus GyreCUDAConvForwardPost(GyreBackend *, const GyreTensor *x, const GyreTensor *W,
                                   const GyreTensor *b, GyrePadding pad, int act, const float *mean,
                                   const float *invstd, const float *gamma, const float *beta,
                                   GyreTensor *y, int *done);
GyreStatus GyreCUDAConvBackward(GyreBackend *, const GyreTensor *x, const GyreTensor *W,
                                const GyreTensor *dy, GyrePadding pad, GyreTensor *dx,
                                GyreTensor *dW, GyreTensor *db);
GyreStatus GyreCUDASpectralForward(GyreBackend *, const GyreTensor *x, const GyreTensor *Wr,
                                   const GyreTensor *Wi, GyreTensor *y);
GyreStatus GyreCUDASpectralBackward(GyreBackend *, const GyreTensor *x, const GyreTensor *Wr,
                                    const GyreTensor *Wi, const GyreTensor *dy, GyreTensor *dx,
                                    GyreTensor *dWr, GyreTensor *dWi);
/* per-channel sums over (N, C, S) tensors: out[c] += sum over n, s of f(a, b) (double) */
GyreStatus GyreCUDAChannelSums(GyreBackend *be, int N, int C, size_t S, const float *a,
                               double *out);
#endif
