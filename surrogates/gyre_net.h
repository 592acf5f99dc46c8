/* gyre_net.h — networks of the surrogate library: MLP, FNO (1-D and 2-D, Li et al. 2021)
 * and the FCNN of Ross et al. 2023, as sequences of layers over a backend's operation
 * table (gyre_nn.h). Standalone C (no PETSc); MPI only for synchronised batch norm.
 *
 * A network owns its parameters and their gradients (backend memory), a flat list of them
 * with names and natural shapes (dense W (out, in), conv W (out, in, ky, kx) or (out, in, k),
 * spectral Wr/Wi (2, in, out, my, mx) or (in, out, m), biases (out), batch-norm gamma/beta
 * (C)), usable by GyreOptimizer and by the model file. The forward pass keeps what the
 * backward pass needs (every layer's output, a copy of the input); the backward pass
 * ACCUMULATES parameter gradients (zero them with GyreNetZeroGrad or the optimiser) and
 * OVERWRITES the input gradient.
 *
 * Initialisation is deterministic from a seed (splitmix64, parameter by parameter in list
 * order) with PyTorch's default bounds: dense and conv weights and biases uniform in
 * [-1/sqrt(fan_in), 1/sqrt(fan_in)) (kaiming_uniform with a = sqrt(5)), fan_in = in k^dim;
 * spectral weights (1/(Cin Cout)) uniform[0, 1) for real and imaginary parts (Li et al.);
 * batch norm gamma 1, beta 0.
 *
 * Architectures (decisions written here):
 *  MLP: x (N, F) -> [dense -> act] x depth -> dense -> y (N, outputs). depth = number of
 *       hidden layers (>= 0).
 *  FNO: x (N, Cin, Y, X) [2-D] or (N, Cin, X) [1-D]; the grid coordinates are appended as
 *       extra channels (2-D: x then y, each i/n in [0, 1); 1-D: x), Li et al.'s get_grid
 *       uses linspace(0, 1) which includes 1; we use the periodic [0, 1) the brief asks for;
 *       lift: pointwise conv (Cin + grid) -> width; 4 Fourier layers, each spectral conv +
 *       pointwise conv summed, GELU after all but the last; projection: pointwise
 *       width -> 128, GELU, pointwise 128 -> Cout. Li et al.'s nn.Linear on the channel
 *       dimension equals our pointwise conv (same parameter count, shape (out, in, 1, 1)).
 *  CNN: Ross et al. 2023 FCNN (pyqg_parameterization_benchmarks): 8 circular-padded convs,
 *       kernels 5,5,3,3,3,3,3,3, channels 128,64,32,32,32,32,32,Cout; each hidden layer is
 *       conv -> ReLU -> BatchNorm2d (their order); the last layer is a conv only; optional
 *       zero-mean output (subtract the spatial mean per sample and channel). Batch norm is
 *       synchronised over the options' communicator. `channels`/`kernels` may be overridden
 *       (tests use small channels); the default is the paper's. */
#ifndef GYRE_NET_H
#define GYRE_NET_H

#include <mpi.h>
#include "gyre_nn.h"

typedef enum { GYRE_NET_MLP = 0, GYRE_NET_FNO = 1, GYRE_NET_CNN = 2 } GyreNetType;

#define GYRE_CNN_MAX_LAYERS 16

typedef struct {
  int            inputs;     /* input features F */
  int            outputs;    /* output features */
  int            width;      /* hidden width; 64 */
  int            depth;      /* hidden layers; 2 */
  GyreActivation activation; /* GELU */
} GyreMLPOptions;

typedef struct {
  int dim;         /* 1 or 2; 2 */
  int in_channels; /* Cin, without the grid channels */
  int out_channels;
  int width;      /* 20 (Li et al. 2-D) */
  int modes;      /* kept modes per dimension: 12 (2-D: modes in ky (each sign) and kx) */
  int layers;     /* Fourier layers; 4 */
  int proj_width; /* 128 */
  int grid;       /* append grid coordinates; 1 */
} GyreFNOOptions;

typedef struct {
  int            dim; /* 1 or 2; 2 */
  int            in_channels;
  int            out_channels;
  int            nlayers;                       /* 8 */
  int            channels[GYRE_CNN_MAX_LAYERS]; /* output channels of layers 0..nlayers-2 */
  int            kernels[GYRE_CNN_MAX_LAYERS];  /* kernel sizes (odd) of layers 0..nlayers-1 */
  int            batch_norm;                    /* 1 */
  int            zero_mean;                     /* 0 */
  GyreActivation activation;                    /* RELU (tests use a smooth one) */
  MPI_Comm       comm;                          /* batch-norm communicator; MPI_COMM_SELF */
} GyreCNNOptions;

typedef struct GyreNet_s GyreNet;

/* Defaults as documented above (in/out sizes 1). */
void GyreMLPOptionsDefault(GyreMLPOptions *o);
void GyreFNOOptionsDefault(GyreFNOOptions *o);
void GyreCNNOptionsDefault(GyreCNNOptions *o); /* Ross et al. FCNN */

/* Create a network on a backend with parameters initialised from seed. Not collective.
 * GYRE_ERR_ARG naming the option for impossible options. */
/* Whether an architecture's sizes can make a network (every size >= 1, CNN kernels odd, ...):
 * GYRE_ERR_ARG naming them where not. The constructors check this first. Not collective. */
GyreStatus GyreMLPOptionsCheck(const GyreMLPOptions *o);
GyreStatus GyreFNOOptionsCheck(const GyreFNOOptions *o);
GyreStatus GyreCNNOptionsCheck(const GyreCNNOptions *o);
GyreStatus GyreNetCreateMLP(GyreBackend *be, const GyreMLPOptions *o, uint64_t seed, GyreNet **net);
GyreStatus GyreNetCreateFNO(GyreBackend *be, const GyreFNOOptions *o, uint64_t seed, GyreNet **net);
GyreStatus GyreNetCreateCNN(GyreBackend *be, const GyreCNNOptions *o, uint64_t seed, GyreNet **net);
/* Frees everything; *net becomes NULL. NULL-safe. */
GyreStatus GyreNetDestroy(GyreNet **net);

/* The output shape for an input shape (GYRE_ERR_ARG naming the shapes if x does not fit). */
GyreStatus GyreNetOutputShape(const GyreNet *net, int ndim, const int64_t *xshape, int *yndim,
                              int64_t *yshape);
/* y = net(x). y must have the output shape (GyreNetOutputShape). train != 0: training mode
 * (batch norm uses and synchronises the batch statistics: collective on the CNN's comm).
 * Keeps what the backward pass needs; x may change after the call. Not thread-safe. */
GyreStatus GyreNetForward(GyreNet *net, const GyreTensor *x, GyreTensor *y, int train);
/* Inference on a const network: y = net(x) in evaluation mode (batch norm from its running
 * statistics), bitwise equal to GyreNetForward(net, x, y, 0) (at fp32: with the CPU backend at
 * bf16 a convolution chain, GyreNetConvChain, runs in bf16 instead), keeping its intermediates in
 * the workspace (not those of an activation or batch norm that ran inside its convolution:
 * GyreNetWorkspaceFusedLayers) and changing nothing in the network. Thread-safe: threads may
 * infer with the same network at once, each with its own workspace. No communication. */
typedef struct GyreNetWorkspace_s GyreNetWorkspace;
GyreStatus                        GyreNetWorkspaceCreate(const GyreNet *net, GyreNetWorkspace **ws);
GyreStatus                        GyreNetWorkspaceDestroy(GyreNetWorkspace **ws);
GyreStatus GyreNetInfer(const GyreNet *net, GyreNetWorkspace *ws, const GyreTensor *x,
                        GyreTensor *y);
/* 1 where GyreNetInfer's output at a point is computed alike in any block containing the
 * point's receptive field (bitwise the same values on a rank's block with a halo as on the
 * whole field, or on a block whose circular padding stands in for the periodic halo): every
 * layer a circular convolution the backend computes exactly so (conv_block_exact, or the whole
 * chain in one op: conv_chain_exact, the CPU's bf16), a batch norm or an activation. 0 otherwise
 * (dense, spectral, coordinate or zero-mean layers, zero padding, a GEMM convolution). */
int GyreNetBlockExact(const GyreNet *net);
/* The number of convolutions where net is a chain of them, each followed by at most an
 * activation and then a batch norm (a CNN that GyreNetInfer can run in one backend op,
 * conv_chain_forward: the CPU backend's bf16); 0 otherwise. */
int GyreNetConvChain(const GyreNet *net);
/* The number of GyreNetInfer calls on ws that ran as one launch of a recorded CUDA graph
 * (GYRE_CUDA_GRAPH=1 on the CUDA backend; 0 elsewhere): for tests and diagnostics. */
long GyreNetWorkspaceGraphLaunches(const GyreNetWorkspace *ws);
/* The layers that the last GyreNetInfer call on ws ran inside the convolution before them (an
 * activation and a batch norm applied to its outputs in registers: the backend's
 * conv_forward_post; 0 where the backend declined, as CUDA does for the FFT convolution): for
 * tests and diagnostics. */
int GyreNetWorkspaceFusedLayers(const GyreNetWorkspace *ws);
/* An MLP's inference in one pass on host arrays, x (M, inputs) -> y (M, outputs), through the
 * backend's mlp_forward with the normalisation aff (NULL: none) on the way in and out: no tensor,
 * copy or pass per layer (a closure's few points a call). *done = 0, nothing run, where the
 * network or the backend has no such path (not an MLP, a width beyond GYRE_MLP_FUSED_MAX, a
 * device backend, GYRE_MLP_FUSED=0): the caller then goes through GyreNetInfer. */
GyreStatus GyreNetInferHost(const GyreNet *net, GyreNetWorkspace *ws, size_t M, const float *x,
                            float *y, const GyreMLPAffine *aff, int *done);
/* GyreNetInferHost's call resolved once, for a caller that makes many small ones (a closure):
 * the backend's mlp_forward, its plan for net's layers (made here, kept in ws) and aff.
 * GyreNetHostRun(d, M, x, y) then computes GyreNetInferHost(net, ws, M, x, y, aff), bitwise,
 * without the lookups in between. d->fn = NULL where GyreNetInferHost would say *done = 0 or
 * the backend keeps no plan. ws keeps the plan for net from then on (another network given ws
 * runs layer by layer); d is valid while ws and aff live. */
typedef struct {
  GyreStatus (*fn)(GyreBackend *, int, const GyreTensor *const *, const GyreTensor *const *,
                   const int *, const GyreMLPAffine *, size_t, const float *, const int *, float *,
                   void **);
  GyreBackend         *be;
  const GyreMLPAffine *aff;
  void                *plan; /* ws's (its pointer, not its address: one load less a call) */
} GyreNetHostCall;
GyreStatus GyreNetHostCallInit(const GyreNet *net, GyreNetWorkspace *ws, const GyreMLPAffine *aff,
                               GyreNetHostCall *d);
static inline GyreStatus GyreNetHostRun(const GyreNetHostCall *d, size_t M, const float *x,
                                        float *y)
{
  void *plan = d->plan; /* (made: the op only reads it) */
  return d->fn(d->be, 0, NULL, NULL, NULL, d->aff, M, x, NULL, y, &plan);
}
/* GyreNetHostRun on an input view (mlp_forward's xoff): row r's feature k is x[r + xoff[k]] */
static inline GyreStatus GyreNetHostRunView(const GyreNetHostCall *d, size_t M, const float *x,
                                            const int *xoff, float *y)
{
  void *plan = d->plan;
  return d->fn(d->be, 0, NULL, NULL, NULL, d->aff, M, x, xoff, y, &plan);
}
/* A CNN that the backend runs in one op (GyreNetConvChain, conv_chain_forward: the CPU backend's
 * bf16) on x (N, C, ...) into y (GyreNetOutputShape's shape, else one error), in physical units
 * with the normalisation aff (NULL: none) applied inside the op on the way in and out (bitwise
 * the same as normalising x before GyreNetInfer and y after it). *done = 0, nothing run, where
 * the backend does not run it so: the caller then normalises and goes through GyreNetInfer. */
GyreStatus GyreNetInferChain(const GyreNet *net, GyreNetWorkspace *ws, const GyreTensor *x,
                             GyreTensor *y, const GyreMLPAffine *aff, int *done);
/* Input and output tensors of the given shapes and host staging for them (the backend's
 * host_alloc memory: pinned on CUDA), *host of x's size and *host_out of y's, kept in the
 * workspace between calls (made again when a shape changes, the staging when it must grow): a
 * caller that infers at every time step allocates nothing after the first call. */
GyreStatus GyreNetWorkspaceIO(GyreNetWorkspace *ws, int nd, const int64_t *xshape, int ynd,
                              const int64_t *yshape, GyreTensor **x, GyreTensor **y, float **host,
                              float **host_out);
/* GyreNetInfer from and to the host: x <- hin, y = net(x), hout <- y; returns once hout holds
 * y. hin and hout should be GyreNetWorkspaceIO's staging (pinned): on a backend that records
 * graphs (CUDA, GYRE_CUDA_GRAPH=1) a call like the previous one is then one graph launch, the
 * two copies included, and one wait, instead of a copy, the layers' launches and a copy that
 * waits (a closure's call at every stage is mostly such fixed costs). Elsewhere the same as
 * GyreTensorCopyFromHost, GyreNetInfer and GyreTensorCopyToHost. */
GyreStatus GyreNetInferStaged(const GyreNet *net, GyreNetWorkspace *ws, const float *hin,
                              GyreTensor *x, GyreTensor *y, float *hout);
/* Backward of the last forward: dy has y's shape; accumulates the parameter gradients and
 * writes dx (x's shape) unless dx is NULL. Collective on the CNN's comm after a training
 * forward. */
GyreStatus GyreNetBackward(GyreNet *net, const GyreTensor *dy, GyreTensor *dx);
/* A hook called by GyreNetBackward each time the gradients of parameters [first, n) (in
 * GyreNetParameters order) have become final, with first decreasing from call to call: the
 * data-parallel trainer starts averaging a bucket of gradients as soon as its backward is done
 * (GyreGradSync). A failure stops the backward pass and is returned by it. NULL: no hook. */
typedef GyreStatus (*GyreNetGradHook)(void *ctx, int first);
GyreStatus GyreNetSetGradHook(GyreNet *net, GyreNetGradHook hook, void *ctx);
/* Sets all parameter gradients to zero. */
GyreStatus GyreNetZeroGrad(GyreNet *net);
/* The flat parameter list: n tensors, their gradients and names ("lift.W", "fourier0.Wr",
 * "conv3.b", "bn2.gamma", ...). The arrays belong to the network. */
GyreStatus GyreNetParameters(GyreNet *net, int *n, GyreTensor *const **params,
                             GyreTensor *const **grads, const char *const **names);
/* The flat list of non-trainable buffers (saved in the model file, not trained): n tensors
 * and their names, the CNN's batch-norm running statistics "bn<i>.running_mean" and
 * "bn<i>.running_var" (C) each, in layer order; none for the MLP and FNO (n = 0). The
 * arrays belong to the network. */
GyreStatus GyreNetBuffers(GyreNet *net, int *n, GyreTensor *const **tensors,
                          const char *const **names);
/* Total number of parameter floats (a complex spectral weight counts 2, as Li et al.). */
size_t GyreNetParameterCount(const GyreNet *net);
/* The architecture. */
GyreNetType GyreNetGetType(const GyreNet *net);

/* Closed-form parameter counts, for checks and messages. */
size_t GyreFNOParameterCountFormula(const GyreFNOOptions *o);
size_t GyreCNNParameterCountFormula(const GyreCNNOptions *o);

#endif
