/* gyre_train.h — training building blocks of the surrogate library: the synchronised
 * batch-normalisation layer (surrogates/batchnorm.c) and the optimiser with its learning-rate
 * schedules and gradient clipping (surrogates/optimizer.c). Both run through a backend's
 * operation table (gyre_nn.h) only; MPI is the only communication (no PETSc). */
#ifndef GYRE_TRAIN_H
#define GYRE_TRAIN_H

#include <mpi.h>
#include "gyre_nn.h"

/* ---------------------------------------------------------------------------------------
 * Batch normalisation, synchronised over the ranks of a communicator (PyTorch's
 * BatchNorm{1,2}d with SyncBatchNorm semantics).
 *
 * In training the statistics of channel c are those of the GLOBAL batch: every rank sums
 * (count, sum x, sum x^2) over its own samples and the spatial points, one MPI_Allreduce
 * adds them, mean = sum/count and the BIASED variance var = sumsq/count - mean^2
 * normalises; the running statistics are updated with the UNBIASED variance as PyTorch
 * does: running_mean = (1 - momentum) running_mean + momentum mean,
 * running_var = (1 - momentum) running_var + momentum var count/(count - 1).
 * In evaluation the running statistics normalise. With MPI_COMM_SELF (or one rank) this is
 * plain BatchNorm. Ranks may hold different numbers of samples (the counts are summed).
 *
 * Parameter gradients (dgamma, dbeta) are this rank's contributions, ACCUMULATED (+=), like
 * every other layer's: the data-parallel trainer sums or averages them over ranks with the
 * rest of the gradients. The input gradient dx is overwritten and, in training, is the
 * gradient through the global statistics (the backward pass allreduces sum dy and
 * sum dy xhat), so that 2 ranks x b samples equal 1 rank x 2b samples. */
typedef struct {
  GyreBackend *be;
  int          channels;
  float        eps;      /* 1e-5 */
  float        momentum; /* 0.1 */
  /* parameters and their gradients, (C) each, backend memory */
  GyreTensor gamma, beta, dgamma, dbeta;
  /* running statistics (buffers saved in the model file), (C) each, backend memory */
  GyreTensor running_mean, running_var;
  long       num_batches_tracked;
  /* saved by the forward pass for the backward pass */
  GyreTensor mean, invstd; /* (C), backend memory */
  double     count;        /* global count per channel of the last training forward */
  int        training;     /* the mode of the last forward */
  /* scratch */
  GyreTensor mdy, mdyx; /* (C), backend memory */
  double    *hbuf;      /* host, 4 C + 1 doubles */
  float     *fbuf;      /* host, 4 C floats */
} GyreBatchNorm;

/* Creates a batch-normalisation layer of `channels` channels on a backend: gamma = 1,
 * beta = 0, running mean 0, running variance 1, eps 1e-5, momentum 0.1 (PyTorch's
 * defaults; change bn->eps and bn->momentum after creation if needed). Not collective. */
GyreStatus GyreBatchNormCreate(GyreBackend *be, int channels, GyreBatchNorm **bn);
/* Frees the layer; *bn becomes NULL. NULL-safe. */
GyreStatus GyreBatchNormDestroy(GyreBatchNorm **bn);
/* y = batch norm of x, x and y (N, C, ...) with C = bn->channels (y may not alias x).
 * training != 0: global batch statistics over comm (collective on comm: every rank of comm
 * must call it, in the same order as its other BN layers) and running-statistics update;
 * training == 0: running statistics, no communication. */
GyreStatus GyreBatchNormForward(GyreBatchNorm *bn, int training, MPI_Comm comm, const GyreTensor *x,
                                GyreTensor *y);
/* Evaluation-mode batch norm that changes nothing in bn (thread-safe, for inference): y from
 * the running statistics, exactly as GyreBatchNormForward with training = 0. invstd is the
 * caller's scratch tensor of shape (C). No communication. */
GyreStatus GyreBatchNormEval(const GyreBatchNorm *bn, const GyreTensor *x, GyreTensor *y,
                             GyreTensor *invstd);
/* GyreBatchNormEval's invstd alone (invstd (C): 1 / sqrt(running_var + eps), rounded as there),
 * for a caller that applies the normalisation itself (a convolution's conv_forward_post). */
GyreStatus GyreBatchNormEvalInvstd(const GyreBatchNorm *bn, GyreTensor *invstd);
/* Backward of the last forward: x is that forward's input, dy the gradient of y; writes dx
 * (may be NULL, may alias dy) and accumulates dgamma, dbeta. Collective on comm after a
 * training forward (allreduces sum dy, sum dy xhat); no communication after an evaluation
 * forward (dx = gamma invstd dy). */
GyreStatus GyreBatchNormBackward(GyreBatchNorm *bn, MPI_Comm comm, const GyreTensor *x,
                                 const GyreTensor *dy, GyreTensor *dx);

/* ---------------------------------------------------------------------------------------
 * Optimiser: Adam or AdamW over a list of parameter tensors and their gradient tensors,
 * with a learning-rate schedule by epoch and gradient clipping by global norm.
 *
 * The gyre train options map onto GyreOptimizerOptions: -train_optimizer adam|adamw,
 * -train_lr, -train_betas b1,b2, -train_eps, -train_weight_decay, -train_schedule
 * constant|step|cosine, -train_step_size k, -train_step_gamma, -train_warmup,
 * -train_min_lr, -train_clip (0: no clipping); the library itself reads no options.
 *
 * Schedules (epoch e = 0, 1, ...; the learning rate used during epoch e):
 *  constant: lr;
 *  step:     lr gamma^floor(e / step_size)                      (torch StepLR);
 *  cosine:   e < W (warm-up epochs): lr (e + 1) / W             (linear warm-up);
 *            W <= e < E (total epochs): min_lr + (lr - min_lr) (1 + cos(pi (e - W) / (E - W))) / 2
 *            (torch CosineAnnealingLR with T_max = E - W, eta_min = min_lr);  e >= E: min_lr.
 * Clipping (torch clip_grad_norm_): norm = sqrt(sum over all gradients of g^2), in double;
 * when norm > max_norm every gradient is scaled by max_norm / (norm + 1e-6).
 * In data-parallel training call the step after the gradients are averaged over ranks:
 * every rank then computes the same norm and takes the same step, with no communication. */
typedef enum { GYRE_OPT_ADAM = 0, GYRE_OPT_ADAMW = 1 } GyreOptimizerType;
typedef enum {
  GYRE_SCHED_CONSTANT = 0,
  GYRE_SCHED_STEP     = 1,
  GYRE_SCHED_COSINE   = 2
} GyreScheduleType;

typedef struct {
  GyreOptimizerType type;         /* adam */
  double            lr;           /* 1e-3 */
  double            beta1, beta2; /* 0.9, 0.999 */
  double            eps;          /* 1e-8 */
  double            weight_decay; /* 0 (Adam: L2 added to the gradient; AdamW: decoupled) */
  GyreScheduleType  schedule;     /* constant */
  int               step_size;    /* step: epochs between decays (>= 1); 30 */
  double            step_gamma;   /* step: factor; 0.1 */
  int               warmup;       /* cosine: warm-up epochs; 0 */
  int               epochs;       /* cosine: total epochs E (> warmup); 100 */
  double            min_lr;       /* cosine: final learning rate; 0 */
  double            clip;         /* max global gradient norm; <= 0: no clipping */
} GyreOptimizerOptions;

typedef struct GyreOptimizer_s GyreOptimizer;

/* PyTorch's defaults (Adam, lr 1e-3, betas (0.9, 0.999), eps 1e-8, no decay, constant). */
void GyreOptimizerOptionsDefault(GyreOptimizerOptions *opt);
/* GYRE_ERR_ARG with a message naming the option when an option is impossible. */
GyreStatus GyreOptimizerOptionsCheck(const GyreOptimizerOptions *opt);
/* The learning rate of the schedule during epoch `epoch` (0-based). */
double GyreOptimizerScheduleLR(const GyreOptimizerOptions *opt, int epoch);
/* Creates an optimiser over nparams parameters params[i] with gradients grads[i] (same
 * shapes, same backend). The optimiser keeps the pointers (the caller keeps the tensors
 * alive and in place) and owns the moments m, v (zero) and the step count (0). The learning
 * rate starts at the schedule's epoch-0 value. Not collective. */
GyreStatus GyreOptimizerCreate(GyreBackend *be, int nparams, GyreTensor *const *params,
                               GyreTensor *const *grads, const GyreOptimizerOptions *opt,
                               GyreOptimizer **o);
GyreStatus GyreOptimizerDestroy(GyreOptimizer **o);
/* Sets the learning rate to the schedule's value for epoch `epoch`; call at the start of
 * each epoch. */
GyreStatus GyreOptimizerSetEpoch(GyreOptimizer *o, int epoch);
/* The learning rate that the next step uses. */
double GyreOptimizerGetLR(const GyreOptimizer *o);
/* Global gradient norm (double); when max_norm > 0 and norm > max_norm, scales every
 * gradient by max_norm / (norm + 1e-6). *norm (may be NULL) receives the norm before
 * clipping. */
GyreStatus GyreOptimizerClipGradients(GyreOptimizer *o, double max_norm, double *norm);
/* One optimiser step: clips the gradients when opt.clip > 0, then one Adam/AdamW update
 * of every parameter (step count + 1). *gradnorm (may be NULL) receives the gradient
 * norm before clipping (computed only when clipping or when asked for). */
GyreStatus GyreOptimizerStep(GyreOptimizer *o, double *gradnorm);
/* Sets every gradient to zero. */
GyreStatus GyreOptimizerZeroGrad(GyreOptimizer *o);
/* The number of parameter values (the length of each moment array of the state). */
size_t GyreOptimizerStateSize(const GyreOptimizer *o);
/* The optimiser state as host arrays, for the model file / checkpoint: m and v (each
 * GyreOptimizerStateSize floats, the parameters in creation order, each tensor in its
 * row-major order) and the step count. Any pointer may be NULL. */
GyreStatus GyreOptimizerGetState(const GyreOptimizer *o, float *m, float *v, long *step);
/* Restores the state written by GyreOptimizerGetState (resuming a run). */
GyreStatus GyreOptimizerSetState(GyreOptimizer *o, const float *m, const float *v, long step);

/* ---------------------------------------------------------------------------------------
 * Gradient averaging for data-parallel training (surrogates/gradsync.c), PyTorch DDP's
 * bucketing: the parameter list is cut, from its END (the last layers' gradients are final
 * first in the backward pass), into buckets of contiguous parameters of about bucket_bytes
 * each. Connected to the network's backward hook (GyreNetSetGradHook with GyreGradSyncReady),
 * a bucket is packed into one host buffer and its MPI_Iallreduce (MPI_SUM) started as soon as
 * all its gradients are final, while the backward pass goes on; GyreGradSyncFinish starts what
 * is left, waits and writes the sums back. So a step makes one call per bucket.
 *
 * The operation is a SUM: the trainer scales each rank's loss gradient by n_r / N (its share
 * of the global batch), so the summed gradient is exactly the gradient of the global batch's
 * mean loss, also through synchronised batch norm, whatever the rank count and however the
 * samples are spread. MPI returns the same sum on every rank, so every rank takes the same
 * optimiser step and the weights stay identical (the trainer checks it every epoch).
 * With one rank nothing is communicated or copied. */
typedef struct GyreGradSync_s GyreGradSync;

/* Sets up the buckets over n gradient tensors (kept by pointer; bucket_bytes 0: 4 MiB).
 * Collective on comm (every rank must pass the same tensor sizes). */
GyreStatus GyreGradSyncCreate(MPI_Comm comm, GyreBackend *be, int n, GyreTensor *const *grads,
                              size_t bucket_bytes, GyreGradSync **gs);
/* Gradients [first, n) are final: starts the reduction of every bucket lying inside that
 * range that has not started. Matches GyreNetGradHook (ctx = the GyreGradSync). */
GyreStatus GyreGradSyncReady(void *gs, int first);
/* Starts the buckets not yet started, waits for all and writes the sums into the gradient
 * tensors. Collective on comm; every rank must call it once per step. */
GyreStatus GyreGradSyncFinish(GyreGradSync *gs);
/* The number of buckets (MPI calls per step). */
int GyreGradSyncBuckets(const GyreGradSync *gs);
/* How the sums travel, for the log: "NCCL all-reduce on the device (2 ranks)",
 * "MPI_Iallreduce on host buffers", "MPI (NCCL not loaded (...))", "none (1 rank)". */
const char *GyreGradSyncTransport(const GyreGradSync *gs);
GyreStatus  GyreGradSyncDestroy(GyreGradSync **gs);

#endif
