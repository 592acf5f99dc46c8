/* cpu_ops.h — the CPU backend operations (files under surrogates/cpu), assembled into the
 * operation table by backend_cpu.c. Internal to the CPU backend. Semantics: gyre_nn.h. */
#ifndef GYRE_CPU_OPS_H
#define GYRE_CPU_OPS_H
#include "gyre_nn.h"

/* CPU_PARALLEL_FOR(N, THRESHOLD, I, BODY...): BODY for I in [0, N) (size_t), over the
 * backend's threads where N > THRESHOLD and more than one thread is configured, otherwise as a
 * plain loop. An OpenMP region whose if clause is false still builds a team of one (about
 * 2,000 instructions a call in libgomp): that dominated small inference calls, e.g. a closure
 * MLP on the 8 sectors of a Lorenz-96 rank. The caller's backend variable must be named be. */
#define CPU_PARALLEL_FOR(N, THRESHOLD, I, ...)                                                     \
  do {                                                                                             \
    const size_t cpu_for_n_ = (N);                                                                 \
    if (be->threads > 1 && cpu_for_n_ > (size_t) (THRESHOLD)) {                                    \
      _Pragma("omp parallel for num_threads(be->threads)") for (size_t I = 0; I < cpu_for_n_; I++) \
      {                                                                                            \
        __VA_ARGS__;                                                                               \
      }                                                                                            \
    } else {                                                                                       \
      for (size_t I = 0; I < cpu_for_n_; I++) {                                                    \
        __VA_ARGS__;                                                                               \
      }                                                                                            \
    }                                                                                              \
  } while (0)

/* (GyreCPUHasAVX2FMA: gyre_nn.h) */
/* backend_cpu.c: memory, elementwise, reductions */
GyreStatus GyreCPUAlloc(GyreBackend *, size_t bytes, void **ptr);
GyreStatus GyreCPUFree(GyreBackend *, void *ptr);
GyreStatus GyreCPUCopy(GyreBackend *, void *dst, const void *src, size_t bytes);
GyreStatus GyreCPUFill(GyreBackend *, float *x, size_t n, float value);
GyreStatus GyreCPUAxpby(GyreBackend *, size_t n, float a, const float *x, float b, float *y);
GyreStatus GyreCPUDot(GyreBackend *, size_t n, const float *x, const float *y, double *result);

/* dense.c */
GyreStatus GyreCPUDenseForward(GyreBackend *, const GyreTensor *x, const GyreTensor *W,
                               const GyreTensor *b, GyreTensor *y);
GyreStatus GyreCPUDenseBackward(GyreBackend *, const GyreTensor *x, const GyreTensor *W,
                                const GyreTensor *dy, GyreTensor *dx, GyreTensor *dW,
                                GyreTensor *db);
/* conv.c */
GyreStatus GyreCPUConvForward(GyreBackend *, const GyreTensor *x, const GyreTensor *W,
                              const GyreTensor *b, GyrePadding pad, GyreTensor *y);
GyreStatus GyreCPUConvBackward(GyreBackend *, const GyreTensor *x, const GyreTensor *W,
                               const GyreTensor *dy, GyrePadding pad, GyreTensor *dx,
                               GyreTensor *dW, GyreTensor *db);
int        GyreCPUConvBlockExact(GyreBackend *, int dim, int Cin, int Cout, int k);
GyreStatus GyreCPUConvForwardPost(GyreBackend *, const GyreTensor *x, const GyreTensor *W,
                                  const GyreTensor *b, GyrePadding pad, int act, const float *mean,
                                  const float *invstd, const float *gamma, const float *beta,
                                  GyreTensor *y, int *done);
/* conv_amx.c: conv_chain_forward in bf16 on AMX or AVX-512 BF16 (declined unless the precision is
 * bf16); whether this CPU and system run it, and how (decided once: the CPU's features, the
 * kernel's permission, GYRE_CPU_AMX) */
GyreStatus GyreCPUConvChainForward(GyreBackend *, int n, const GyreConvPostLayer *layers,
                                   const GyreMLPAffine *aff, const GyreTensor *x, GyreTensor *y,
                                   void **cache, int *done);
void       GyreCPUConvChainCacheFree(GyreBackend *, void *cache);
int        GyreCPUHasAMXBF16(void);
int        GyreCPUBF16Kind(void);
int        GyreCPUConvChainExact(GyreBackend *);
/* conv_fft.c: a 2-D circular convolution with an even number of rows as the spectral convolution
 * of every mode (GYRE_CONV_ALGO=fft); the backward leaves db to the caller */
int        GyreCPUConvFFTApplies(const GyreTensor *x, const GyreTensor *W, GyrePadding pad);
GyreStatus GyreCPUConvForwardFFT(GyreBackend *, const GyreTensor *x, const GyreTensor *W,
                                 const GyreTensor *b, GyrePadding pad, GyreTensor *y);
GyreStatus GyreCPUConvBackwardFFT(GyreBackend *, const GyreTensor *x, const GyreTensor *W,
                                  const GyreTensor *dy, GyrePadding pad, GyreTensor *dx,
                                  GyreTensor *dW);
/* spectral.c */
GyreStatus GyreCPUSpectralForward(GyreBackend *, const GyreTensor *x, const GyreTensor *Wr,
                                  const GyreTensor *Wi, GyreTensor *y);
GyreStatus GyreCPUSpectralBackward(GyreBackend *, const GyreTensor *x, const GyreTensor *Wr,
                                   const GyreTensor *Wi, const GyreTensor *dy, GyreTensor *dx,
                                   GyreTensor *dWr, GyreTensor *dWi);
/* activation.c */
GyreStatus GyreCPUActForward(GyreBackend *, GyreActivation, const GyreTensor *x, GyreTensor *y);
GyreStatus GyreCPUActBackward(GyreBackend *, GyreActivation, const GyreTensor *x,
                              const GyreTensor *dy, GyreTensor *dx);
/* y = f(x) on n values in this thread, the same arithmetic as GyreCPUActForward (an unknown
 * activation leaves y as it is: the callers check it); avx: GyreCPUGeluAVX2(), decided by the
 * caller before any threads start (its first call reads the environment and the CPU) */
void GyreCPUActRange(GyreActivation act, int avx, const float *x, float *y, size_t n);
int  GyreCPUGeluAVX2(void);
/* mlp.c */
/* 2 where the one-pass MLP runs its AVX-512 form with each GELU on two outputs a zmm register
 * (AVX512F + VL on AMD, or on Intel with AVX512-FP16), 1 where it runs that form on 8 lanes
 * (other AVX-512 CPUs: no zmm arithmetic), 0 where it runs AVX2 (no AVX-512, or GYRE_CPU_AVX512
 * set to 0); bitwise the same results (mlp.c) */
int        GyreCPUMLPAVX512(void);
GyreStatus GyreCPUMLPForward(GyreBackend *, int nl, const GyreTensor *const *W,
                             const GyreTensor *const *b, const int *act, const GyreMLPAffine *aff,
                             size_t M, const float *x, const int *xoff, float *y, void **plan);
void       GyreCPUMLPPlanFree(GyreBackend *, void *plan);
/* loss.c */
GyreStatus GyreCPUMSELoss(GyreBackend *, const GyreTensor *pred, const GyreTensor *target,
                          double *loss, GyreTensor *dpred);
GyreStatus GyreCPURelL2Loss(GyreBackend *, const GyreTensor *pred, const GyreTensor *target,
                            double *loss, GyreTensor *dpred);
/* batchnorm.c */
GyreStatus GyreCPUBNStats(GyreBackend *, const GyreTensor *x, double *sum, double *sumsq);
GyreStatus GyreCPUBNForward(GyreBackend *, const GyreTensor *x, const float *mean,
                            const float *invstd, const float *gamma, const float *beta,
                            GyreTensor *y);
GyreStatus GyreCPUBNBackwardStats(GyreBackend *, const GyreTensor *x, const float *mean,
                                  const float *invstd, const GyreTensor *dy, double *sdy,
                                  double *sdyx);
GyreStatus GyreCPUBNBackward(GyreBackend *, const GyreTensor *x, const float *mean,
                             const float *invstd, const float *gamma, const GyreTensor *dy,
                             const float *mdy, const float *mdyx, GyreTensor *dx);
/* adam.c */
GyreStatus GyreCPUAdamUpdate(GyreBackend *, size_t n, float *p, const float *g, float *m, float *v,
                             double lr, double beta1, double beta2, double eps, double weight_decay,
                             int decoupled, long t);
/* backend_cpu.c */
GyreStatus GyreCPUScale(GyreBackend *, size_t n, float s, float *x);
#endif
