/* gyre_trainer.h — the data-parallel trainer of the surrogate library (surrogates/trainer.c):
 * `gyre train` is this function with its options read from the command line.
 *
 * One epoch: the dataset draws the epoch's permutation from the global seed; every global batch
 * of B samples is split over the ranks (rank r reads its contiguous slice, n_r samples; the
 * last partial batch of the epoch is DROPPED); each rank normalises its slice with the stored
 * statistics, runs forward and backward, scales its loss gradient by n_r / B, and the gradients
 * are summed over ranks in buckets started during the backward pass (GyreGradSync). Every rank
 * then takes the same optimiser step (clipping included), so the weights stay identical on all
 * ranks: the trainer checks this at the end of every epoch (a hash of the weights) and stops with
 * an error if they differ. The result depends on B and the seeds, not on the rank count (up to
 * the order of floating-point sums: 2 ranks x b agree with 1 rank x 2b to about 1e-6).
 * The training loss of a global batch is summed over the ranks at every step (with the stop
 * flag, in one small MPI_Allreduce), so the epoch's loss is the same however often the run
 * was stopped and resumed.
 * The training loss of a global batch is summed over the ranks at every step (with the stop
 * flag, in one small MPI_Allreduce), so the epoch's loss is the same however often the run
 * was stopped and resumed.
 * After each epoch: the validation loss (every validation sample, evaluation mode, the same
 * loss as training) on rank 0's progress line, the learning curve, the best model (lowest
 * validation loss; training loss without validation data) written to `out`, and a resumable
 * checkpoint (weights, batch-norm statistics, normalisation, curve, optimiser state) written to
 * `checkpoint`, both atomically. Resuming from the checkpoint of epoch k with the same options
 * gives the same weights, bitwise, as the uninterrupted run on the same rank count.
 *
 * Networks and samples: an MLP takes per-point closure samples (its inputs are one grid
 * point's channels; per_point = 1), or whole fields flattened to C * ny * nx features (per_point
 * = 0); the FNO and the CNN take (N, C, [ny,] nx) fields of 1 or 2 spatial dimensions. Input and
 * output channel counts come from the dataset. */
#ifndef GYRE_TRAINER_H
#define GYRE_TRAINER_H

#include <mpi.h>
#include <stdio.h>
#include "gyre_data.h"
#include "gyre_model_file.h"
#include "gyre_net.h"
#include "gyre_train.h"

typedef enum { GYRE_LOSS_MSE = 0, GYRE_LOSS_REL_L2 = 1 } GyreLossType;

typedef struct {
  GyreDatasetOptions   data; /* files, sample kind, variables, split, batch, data seed */
  GyreNetType          net;
  GyreMLPOptions       mlp; /* inputs/outputs are set from the dataset */
  GyreFNOOptions       fno; /* in/out channels and dim are set from the dataset */
  GyreCNNOptions       cnn; /* in/out channels, dim and comm are set by the trainer */
  GyreOptimizerOptions opt; /* opt.epochs is set to `epochs` for the cosine schedule */
  GyreLossType         loss;
  int                  epochs;     /* total epochs (>= 1) */
  int                  early_stop; /* stop after this many epochs without a better validation
                                      loss; 0: never */
  int epochs_per_run;              /* run at most this many epochs in this call, then return
                                      (resume later); 0: no limit. For time-limited jobs;
                                      the schedule still spans `epochs` */
  uint64_t    seed;                /* weight initialisation */
  const char *out;                 /* the best model (required) */
  const char *checkpoint;          /* the resumable checkpoint; NULL: <out without .nc>.ckpt.nc */
  const char *resume;              /* NULL, a checkpoint to resume from, or "auto" (resume from
                                      `checkpoint` when it exists, start afresh otherwise) */
  size_t      bucket_bytes;        /* gradient bucket size; 0: 4 MiB */
  const char *training_options;    /* text stored in the model file (the options) */
  FILE       *log;                 /* progress lines on rank 0; NULL: silent */
  /* Preemption: polled after every step on every rank (NULL: never); returns 0, or the
   * number of the signal that asks to stop (the CLI: SIGTERM or SIGUSR1). A nonzero value on
   * any rank stops training after that step: the checkpoint is written with the epoch's
   * position (resuming continues the epoch at the next batch, with the uninterrupted result),
   * the log names the signal (the largest number over the ranks) and GyreTrain returns
   * GYRE_OK with result->interrupted = that number. */
  int (*stop)(void *ctx);
  void *stop_ctx;
} GyreTrainerOptions;

typedef struct {
  int     epochs_run;    /* epochs in the learning curve (including resumed ones) */
  int     start_epoch;   /* first epoch run by this call (> 0 after a resume) */
  int     best_epoch;    /* 0-based epoch of the best model */
  double  best_loss;     /* its validation loss (training loss without validation data) */
  double  train_loss;    /* of the last epoch */
  double  val_loss;      /* of the last epoch (NaN without validation data) */
  double  samples_per_s; /* training samples per second over this call's epochs */
  int     stopped_early;
  int     interrupted; /* the stop callback's signal number when it stopped training, else 0 */
  int     buckets;     /* gradient buckets (MPI calls) per step */
  int64_t ntrain, nval;
  int     started; /* training began (data, network and any checkpoint accepted): set also when
                    * the call then fails, where a failure before it has changed no file */
} GyreTrainerResult;

/* Defaults: MLP of GyreMLPOptionsDefault, FNO/CNN defaults, Adam lr 1e-3, MSE, 10 epochs, no
 * early stop, seed 0, dataset defaults. */
void GyreTrainerOptionsDefault(GyreTrainerOptions *o);

/* The checkpoint file of a training: o->checkpoint when given, else o->out with ".nc"
 * replaced by ".ckpt.nc". Not collective. buf: at least n bytes. */
void GyreTrainerCheckpointPath(const GyreTrainerOptions *o, char *buf, size_t n);

/* Trains a network as described above. Collective on comm; every rank returns the same status
 * (one message naming what was wrong: a dataset error, an impossible option, a checkpoint that
 * does not match the options or the data, NaN in the loss). be: the backend each rank
 * computes on. */
GyreStatus GyreTrain(MPI_Comm comm, GyreBackend *be, const GyreTrainerOptions *o,
                     GyreTrainerResult *result);

#endif
