/* gyre_nn.h — the surrogate library's core: float32 tensors and the backend interface.
 *
 * The library is standalone C (no PETSc): any C or Fortran model can link it. Tensors are
 * float32 in (N, C, X) for 1-D fields, (N, C, Y, X) for 2-D fields and (N, F) for dense
 * layers, row-major (X fastest). Every operation a network needs is an entry of a backend's
 * operation table (ggml's backend interface, libCEED's delegation): `surrogates/cpu/`
 * implements it with BLAS, FFTW and OpenMP; `surrogates/cuda/` (a later issue) implements
 * the same table, keeping device memory, streams and handles behind it. Layers and networks
 * call the table only, never a backend's functions directly.
 *
 * Conventions of the operation table:
 *  - forward ops write their output (overwrite); backward ops ACCUMULATE parameter
 *    gradients (dW += ..., db += ...) so that a batch may be processed in pieces, and
 *    OVERWRITE input gradients (dx = ...); a NULL gradient pointer means "not needed";
 *  - shapes are checked by the layer code before the call (GYRE_ERR_ARG naming both shapes);
 *    backends may assume consistent shapes;
 *  - every entry returns a GyreStatus; a backend failure (out of memory, a library status)
 *    is reported with a message naming the op and, for memory, the size asked for. */
#ifndef GYRE_NN_H
#define GYRE_NN_H

#include <stddef.h>
#include <stdint.h>
#include "gyre_status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define GYRE_TENSOR_MAX_DIMS 5

typedef struct GyreBackend_s GyreBackend;

typedef struct {
  float       *data; /* backend memory (host memory for the CPU backend) */
  int          ndim;
  int64_t      shape[GYRE_TENSOR_MAX_DIMS];
  size_t       size; /* number of elements */
  GyreBackend *backend;
} GyreTensor;

/* Per-feature affine maps around an MLP (the mlp_forward op), or per channel around a CNN
 * (conv_chain_forward): input feature (channel) k normalised as (float) (((double) x_k -
 * in_mean[k]) * in_inv[k]), output feature (channel) j back to physical units as (float)
 * ((double) h_j * out_std[j] + out_mean[j]): the arithmetic of GyreSurrogateApply's own
 * normalisation passes, so a surrogate's result is the same either way. */
typedef struct {
  const double *in_mean, *in_inv;   /* K_0 values each */
  const double *out_mean, *out_std; /* N_{nl-1} values each */
} GyreMLPAffine;

/* ---- tensors (surrogates/tensor.c) ---- */
/* Allocates a zeroed tensor of the given shape on a backend. */
GyreStatus GyreTensorCreate(GyreBackend *be, int ndim, const int64_t *shape, GyreTensor *t);
/* Frees the memory; t becomes an empty tensor (data NULL, size 0). NULL-safe. */
GyreStatus GyreTensorDestroy(GyreTensor *t);
GyreStatus GyreTensorCopyFromHost(GyreTensor *t, const float *host); /* t->size floats */
/* The same through the backend's copy stream where it has one (copy_from_host_async): host
 * must stay unchanged until an op queued after it has returned a host value (a loss). */
GyreStatus GyreTensorCopyFromHostAsync(GyreTensor *t, const float *host);
GyreStatus GyreTensorCopyToHost(const GyreTensor *t, float *host);
GyreStatus GyreTensorFill(GyreTensor *t, float value);
/* "(2, 3, 64, 64)" into buf, for messages. */
const char *GyreTensorShapeString(const GyreTensor *t, char *buf, size_t len);
/* GYRE_ERR_ARG naming `what` and both shapes unless a and b have the same shape. */
GyreStatus GyreTensorCheckSameShape(const char *what, const GyreTensor *a, const GyreTensor *b);

typedef enum { GYRE_PAD_ZERO = 0, GYRE_PAD_CIRCULAR = 1 } GyrePadding;

/* one layer of conv_chain_forward: a convolution (weights, bias or NULL, padding), then its
 * activation (< 0: none) and evaluation-mode batch norm (mean NULL: none), as conv_forward_post's
 * arguments */
typedef struct {
  const GyreTensor *W, *b;
  GyrePadding       pad;
  int               act;
  const float      *mean, *invstd, *gamma, *beta;
} GyreConvPostLayer;
typedef enum { GYRE_ACT_RELU = 0, GYRE_ACT_GELU = 1, GYRE_ACT_TANH = 2 } GyreActivation;

/* ---- the backend operation table ---- */
typedef struct {
  const char *name; /* "cpu", "cuda" */

  /* memory */
  GyreStatus (*alloc)(GyreBackend *, size_t bytes, void **ptr);
  GyreStatus (*free)(GyreBackend *, void *ptr);
  GyreStatus (*copy_from_host)(GyreBackend *, void *dst, const void *src, size_t bytes);
  GyreStatus (*copy_to_host)(GyreBackend *, void *dst, const void *src, size_t bytes);
  GyreStatus (*fill)(GyreBackend *, float *x, size_t n, float value);

  /* elementwise and reductions (n elements) */
  /* y = a x + b y; b == 0: y is overwritten, not read (as BLAS's beta = 0) */
  GyreStatus (*axpby)(GyreBackend *, size_t n, float a, const float *x, float b, float *y);
  /* *result = sum of x*y, accumulated in double */
  GyreStatus (*dot)(GyreBackend *, size_t n, const float *x, const float *y, double *result);

  /* dense: x (M, K), W (N, K), b (N) or NULL -> y (M, N) = x W^T + b */
  GyreStatus (*dense_forward)(GyreBackend *, const GyreTensor *x, const GyreTensor *W,
                              const GyreTensor *b, GyreTensor *y);
  /* dx = dy W;  dW += dy^T x;  db += column sums of dy */
  GyreStatus (*dense_backward)(GyreBackend *, const GyreTensor *x, const GyreTensor *W,
                               const GyreTensor *dy, GyreTensor *dx, GyreTensor *dW,
                               GyreTensor *db);

  /* convolution, 1-D (x (N, Cin, X), W (Cout, Cin, K)) or 2-D (x (N, Cin, Y, X),
   * W (Cout, Cin, KY, KX)), stride 1, odd kernels, "same" output size with zero or circular
   * padding of (K-1)/2; b (Cout) or NULL. A pointwise (1x1) convolution is K = 1. */
  GyreStatus (*conv_forward)(GyreBackend *, const GyreTensor *x, const GyreTensor *W,
                             const GyreTensor *b, GyrePadding pad, GyreTensor *y);
  GyreStatus (*conv_backward)(GyreBackend *, const GyreTensor *x, const GyreTensor *W,
                              const GyreTensor *dy, GyrePadding pad, GyreTensor *dx, GyreTensor *dW,
                              GyreTensor *db);

  /* spectral convolution (Li et al. 2021): real FFT of x over its spatial dims, keep the
   * lowest modes, multiply by complex weights, inverse real FFT.
   *  1-D: x (N, Cin, X); Wr, Wi (Cin, Cout, M) for modes kx = 0..M-1 (M <= X/2+1).
   *  2-D: x (N, Cin, Y, X); Wr, Wi (2, Cin, Cout, MY, MX): block 0 for ky = 0..MY-1,
   *       block 1 for ky = Y-MY..Y-1 (the negative ky), kx = 0..MX-1 (MX <= X/2+1,
   *       2 MY <= Y), as in Li et al.'s SpectralConv2d (weights1, weights2).
   * y_hat[n, o, k] = sum_i x_hat[n, i, k] (Wr + i Wi)[i, o, k]; modes not kept are zero;
   * normalisation as numpy/torch rfft/irfft ("backward": the inverse divides by the size). */
  GyreStatus (*spectral_forward)(GyreBackend *, const GyreTensor *x, const GyreTensor *Wr,
                                 const GyreTensor *Wi, GyreTensor *y);
  GyreStatus (*spectral_backward)(GyreBackend *, const GyreTensor *x, const GyreTensor *Wr,
                                  const GyreTensor *Wi, const GyreTensor *dy, GyreTensor *dx,
                                  GyreTensor *dWr, GyreTensor *dWi);

  /* activations (elementwise on any shape): y = f(x); dx = f'(x) dy. GELU is the exact
   * erf form (PyTorch's default). */
  GyreStatus (*act_forward)(GyreBackend *, GyreActivation, const GyreTensor *x, GyreTensor *y);
  GyreStatus (*act_backward)(GyreBackend *, GyreActivation, const GyreTensor *x,
                             const GyreTensor *dy, GyreTensor *dx);

  /* losses over all elements of pred/target (N, ...):
   *  MSE: mean (pred - target)^2;
   *  relative L2 (Li et al. LpLoss): mean over samples n of ||pred_n - target_n|| /
   *  ||target_n||. *loss in double; dpred = d loss / d pred (overwrite). */
  GyreStatus (*mse_loss)(GyreBackend *, const GyreTensor *pred, const GyreTensor *target,
                         double *loss, GyreTensor *dpred);
  GyreStatus (*rel_l2_loss)(GyreBackend *, const GyreTensor *pred, const GyreTensor *target,
                            double *loss, GyreTensor *dpred);

  /* batch normalisation over x (N, C, ...) per channel c, in three steps so that the caller
   * can sum the statistics over MPI ranks in between (PyTorch's SyncBatchNorm):
   *  bn_stats: sum[c] = sum of x, sumsq[c] = sum of x^2 over n and space (double, C each);
   *  bn_forward: y = gamma[c] (x - mean[c]) invstd[c] + beta[c];
   *  bn_backward_stats: sdy[c] = sum dy, sdyx[c] = sum dy xhat, xhat = (x - mean) invstd;
   *  bn_backward: dx = gamma invstd (dy - mdy[c] - xhat mdyx[c]) with mdy, mdyx the global
   *  means of dy and dy xhat. (dgamma += sdyx, dbeta += sdy are the caller's.)
   * The float arrays of length C (mean, invstd, gamma, beta, mdy, mdyx) are backend memory;
   * the double arrays (sum, sumsq, sdy, sdyx) are host memory, ready for MPI_Allreduce. */
  GyreStatus (*bn_stats)(GyreBackend *, const GyreTensor *x, double *sum, double *sumsq);
  GyreStatus (*bn_forward)(GyreBackend *, const GyreTensor *x, const float *mean,
                           const float *invstd, const float *gamma, const float *beta,
                           GyreTensor *y);
  GyreStatus (*bn_backward_stats)(GyreBackend *, const GyreTensor *x, const float *mean,
                                  const float *invstd, const GyreTensor *dy, double *sdy,
                                  double *sdyx);
  GyreStatus (*bn_backward)(GyreBackend *, const GyreTensor *x, const float *mean,
                            const float *invstd, const float *gamma, const GyreTensor *dy,
                            const float *mdy, const float *mdyx, GyreTensor *dx);

  /* optimiser: one fused Adam/AdamW update of n parameters p with gradient g and moments
   * m, v at step t (1-based); hyperparameters in double, as PyTorch holds them (a float
   * 0.999 would shift 1 - beta2 by 1.3e-5): weight_decay is L2 added to g (Adam, decoupled = 0) or
   * applied to p as p -= lr wd p (AdamW, decoupled = 1); bias-corrected as in PyTorch. */
  GyreStatus (*adam_update)(GyreBackend *, size_t n, float *p, const float *g, float *m, float *v,
                            double lr, double beta1, double beta2, double eps, double weight_decay,
                            int decoupled, long t);
  /* x *= s (gradient clipping) */
  GyreStatus (*scale)(GyreBackend *, size_t n, float s, float *x);

  /* optional (NULL: not provided) */
  /* wait until every queued operation has finished (timings) */
  GyreStatus (*synchronize)(GyreBackend *);
  /* bytes of backend memory in use now and at most since creation (tensors and the backend's
   * own buffers; as torch.cuda.memory_allocated / max_memory_allocated) */
  GyreStatus (*memory_stats)(GyreBackend *, size_t *in_use, size_t *peak);
  /* the GEMMs' arithmetic: "fp32", "tf32", "bf16" (NULL: fp32 only) */
  GyreStatus (*set_precision)(GyreBackend *, const char *precision);
  /* host memory for staging copies (CUDA: pinned, so copies run at full speed) */
  GyreStatus (*host_alloc)(GyreBackend *, size_t bytes, void **ptr);
  GyreStatus (*host_free)(GyreBackend *, void *ptr);
  /* a copy to the device through the copy stream: the transfer overlaps with work queued
   * before it (the previous training step's backward pass) and dst is written in order with
   * the ops; src must stay unchanged until an op after it has returned a host value */
  GyreStatus (*copy_from_host_async)(GyreBackend *, void *dst, const void *src, size_t bytes);
  /* an MLP's inference in one pass: nl dense layers, layer i h_{i+1} = act_i(h_i W_i^T + b_i)
   * (act_i < 0: none; b_i may be NULL), h_0 = x (M, K_0), y (M, N_{nl-1}) = h_nl; every width
   * (K_0 and each N_i) at most GYRE_MLP_FUSED_MAX. x and y are host arrays: only a backend
   * whose tensors are host memory provides it. With aff (NULL: none) h_0 is x normalised and y
   * h_nl back in physical units, per feature (GyreMLPAffine). Each row's result depends on that
   * row only (not on M or the thread count). Not bitwise the layers one by one (the sums'
   * order). plan (NULL: none): the backend's checked copy of the layers' shapes and pointers,
   * made at the first call (*plan NULL) and used by the later ones, which then skip the checks
   * and read W, b and act from it (a closure's call on a few points is mostly its plumbing); the
   * caller keeps it for these layers only and frees it with mlp_plan_free. M = 0 runs nothing
   * (a call that only makes the plan). xoff (NULL: x is M rows of K_0) is an input view: row r's
   * feature k is x[r + xoff[k]] (a per-point network's stencil read from one padded copy of the
   * field, a feature of 8 consecutive rows one load; the caller keeps every r + xoff[k], r < M,
   * inside x; an offset may be negative where x points past the array's start). */
  GyreStatus (*mlp_forward)(GyreBackend *, int nl, const GyreTensor *const *W,
                            const GyreTensor *const *b, const int *act, const GyreMLPAffine *aff,
                            size_t M, const float *x, const int *xoff, float *y, void **plan);
  /* invstd[c] = (float) (1 / sqrt((double) var[c] + (double) eps)), c < C, on the backend
   * (batch norm's evaluation: no round trip through the host; NULL: computed on the host) */
  GyreStatus (*bn_invstd)(GyreBackend *, int C, const float *var, float eps, float *invstd);
  /* CUDA graphs (NULL: none): capture_begin starts recording the work queued on the backend
   * (*started = 0 where graphs are off: GYRE_CUDA_GRAPH unset, profiling, or no recording
   * possible), capture_end stops it and makes *graph (NULL where the capture failed: the work
   * must then be run again uncaptured), graph_launch queues a recorded graph again (*launched
   * = 0, nothing queued, where it is stale: memory or a plan it uses was given up since its
   * recording), graph_free frees one */
  GyreStatus (*capture_begin)(GyreBackend *, int *started);
  GyreStatus (*capture_end)(GyreBackend *, void **graph);
  GyreStatus (*graph_launch)(GyreBackend *, void *graph, int *launched);
  void (*graph_free)(GyreBackend *, void *graph);
  /* 1 where conv_forward of a dim-D layer Cin -> Cout with a k-wide kernel computes each output
   * as the same sum in the same order wherever the point lies in the input (its value then
   * depends on the k x k neighbourhood only, not on the block's size), else 0; NULL: never (the
   * CUDA backend's: its implicit GEMM splits the reduction by the size of the output) */
  int (*conv_block_exact)(GyreBackend *, int dim, int Cin, int Cout, int k);
  /* conv_forward followed, on each output while it is in registers, by the activation act (< 0:
   * none) and then, where mean != NULL, evaluation-mode batch norm with the backend's
   * bn_forward arithmetic (the CPU's (v - mean[c]) (gamma[c] invstd[c]) + beta[c]; the arrays as
   * bn_forward's): the backend's conv_forward, act_forward and bn_forward one after the other
   * (bitwise on the CPU; on CUDA up to the compiler's contractions), without their passes over y
   * (inference; a CNN's conv -> ReLU -> batch norm). *done = 0, nothing run, where the backend
   * does not compute this layer so (the caller then runs the three ops). NULL: never */
  GyreStatus (*conv_forward_post)(GyreBackend *, const GyreTensor *x, const GyreTensor *W,
                                  const GyreTensor *b, GyrePadding pad, int act, const float *mean,
                                  const float *invstd, const float *gamma, const float *beta,
                                  GyreTensor *y, int *done);
  /* a copy from the backend to host memory from host_alloc, queued after the ops before it and
   * not waited for: dst holds the values once GyreBackendSynchronize has returned (recordable in
   * a CUDA graph, unlike copy_to_host, which waits). NULL: only copy_to_host */
  GyreStatus (*copy_to_host_async)(GyreBackend *, void *dst, const void *src, size_t bytes);
  /* n convolutions one after the other from x to y, each followed by its activation and batch
   * norm as conv_forward_post's (layers[i]), in one op: a whole CNN's inference at the backend's
   * reduced precision (the CPU backend's "bf16": AMX tiles or AVX-512 BF16, products of bf16 values
   * summed in fp32, the activations rounded to bf16 between layers; cpu/conv_amx.c). *done = 0,
   * nothing run, where the backend declines (at fp32 it always does). *cache: the backend's state
   * for the chain (its packed weights and buffers), kept by the caller between calls (NULL at
   * first; remade where the chain or its parameters changed), freed by chain_cache_free. aff (NULL:
   * none): x in physical units, normalised per input channel on the way in, and y put back in
   * physical units per output channel (GyreMLPAffine's arithmetic, bitwise). The batch norm's
   * arithmetic is the op's own (the CPU's: one fused multiply-add, where conv_forward_post
   * rounds three times). NULL: never */
  GyreStatus (*conv_chain_forward)(GyreBackend *, int n, const GyreConvPostLayer *layers,
                                   const GyreMLPAffine *aff, const GyreTensor *x, GyreTensor *y,
                                   void **cache, int *done);
  void (*chain_cache_free)(GyreBackend *, void *cache);
  /* 1 where conv_chain_forward runs chains at the backend's present precision and computes each
   * output point alike in any block (as conv_block_exact for one layer), else 0. NULL: never */
  int (*conv_chain_exact)(GyreBackend *);
  void (*mlp_plan_free)(GyreBackend *, void *plan); /* (mlp_forward's plan; NULL-safe) */
} GyreBackendOps;

#define GYRE_MLP_FUSED_MAX 128

struct GyreBackend_s {
  const GyreBackendOps *ops;
  void                 *ctx; /* the backend's own state (threads, plans, handles) */
  int                   threads;
  char                  precision[8]; /* "fp32" (GyreBackendSetPrecision) */
};

/* ---- backends (surrogates/backend.c) ---- */
/* Creates the backend named "cpu" (or "cuda" where built); threads <= 0: the default
 * (OMP_NUM_THREADS or 1). GYRE_ERR_ARG naming the known backends otherwise, or naming a knob of
 * the environment with a value it does not take (GyreBackendCheckEnv). */
GyreStatus GyreBackendCreate(const char *name, int threads, GyreBackend **be);
/* GYRE_ERR_ARG naming the first of the backends' knobs (GYRE_CPU_AVX512, GYRE_CUDA_CONV, ...)
 * whose value in the environment is not one it takes; GYRE_OK where each is unset, empty or
 * known. */
GyreStatus GyreBackendCheckEnv(void);
GyreStatus GyreBackendDestroy(GyreBackend **be);
/* Waits for the backend's queued work (a no-op for the CPU backend). */
GyreStatus GyreBackendSynchronize(GyreBackend *be);
/* Backend memory in use and its peak, in bytes; 0 and 0 where the backend does not count
 * (the CPU backend: use the process's peak RSS). */
GyreStatus GyreBackendMemoryStats(GyreBackend *be, size_t *in_use, size_t *peak);
/* The GEMMs' arithmetic (-surrogate_precision): "fp32" everywhere; "tf32" and "bf16" (tensor
 * cores, fp32 accumulation) on the CUDA backend; "bf16" on the CPU backend where the CPU has AMX
 * or AVX-512 BF16 (GyreCPUBF16Unit)
 * (a CNN's inference only: conv_chain_forward; everything else in fp32). GYRE_ERR_ARG naming the
 * backend otherwise. */
GyreStatus GyreBackendSetPrecision(GyreBackend *be, const char *precision);
/* Where the CPU backend's bf16 runs on this machine: "AMX" (Intel Sapphire Rapids and later),
 * "AVX-512 BF16" (AMD Zen 4 and later, Intel Cooper Lake; or with AMX where GYRE_CPU_AMX=0: the
 * same products by VDPBF16PS, pixels in the vector lanes), or NULL (nowhere: bf16 refused). */
const char *GyreCPUBF16Unit(void);
/* The precision set ("fp32" unless GyreBackendSetPrecision changed it). */
const char *GyreBackendPrecision(const GyreBackend *be);
/* Host staging memory from the backend (pinned on CUDA; malloc otherwise) and its release. */
GyreStatus GyreBackendHostAlloc(GyreBackend *be, size_t bytes, void **ptr);
void       GyreBackendHostFree(GyreBackend *be, void *ptr);
/* Names of the backends built, e.g. "cpu" or "cpu, cuda". */
const char *GyreBackendsBuilt(void);
/* The CPU backend's table (surrogates/cpu/backend_cpu.c). */
const GyreBackendOps *GyreBackendOpsCPU(void);
/* Whether this CPU runs AVX2 and FMA (the hand-written kernels' condition, and any caller's that
 * vectorises by hand; decided once, thread-safe; 0 where the compiler is not GCC-compatible on
 * x86-64) */
int GyreCPUHasAVX2FMA(void);
/* y[k] = (float) (((double) x[k] - a) * b) (mode 0: a surrogate's normalisation) or (float)
 * ((double) x[k] * b + a) (mode 1: back to physical units), k < n, in double with each operation
 * rounded (no contraction), bitwise the same however it is vectorised: 4 values a vector with
 * AVX2, 8 with AVX-512 where wide (for callers already running zmm or AMX code, whose clock the
 * wider vectors do not lower further), else one by one. y may be x. */
void GyreCPUAffine(int mode, const float *x, float *y, size_t n, double a, double b, int wide);

#ifdef __cplusplus
}
#endif
#endif
