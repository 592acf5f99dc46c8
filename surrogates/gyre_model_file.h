/* gyre_model_file.h — the surrogate model file (NetCDF-4) and the inference API.
 *
 * File layout (format version 1), written atomically (io's atomic option):
 *  global attributes: gyre_model_format_version = 1, architecture = "mlp"|"fno"|"cnn" and
 *    every option of that architecture as "<arch>_<option>" (numbers; the CNN's channels and
 *    kernels as comma-separated text), input_fields, output_fields, units, grid_nx, grid_ny,
 *    training_options, split, mode, per_point, stencil, history, lead, record_dt, dx, dy
 *    (optional on read: "", 1, 0, 1, 1, 0, 0, 0), precision, val_loss_precision,
 *    val_loss_fp32 (optional: "fp32", NaN, NaN), lineage ("path sha256:<hex>; ..."), seed,
 * gyre_version, gyre_git_commit, parameter_count (parameters only), nparameters, nbuffers,
 *    weights_sha256 (SHA-256 of all parameters, then all buffers, as little-endian float32
 *    in list order; verified on load);
 *  variables: one float32 variable per parameter, named as GyreNetParameters names it
 *    ("lift.W", "conv3.b", ...) in its natural shape over dimensions "<name>_d0", ...;
 *    one float32 variable per non-trainable buffer (GyreNetBuffers: the CNN's batch-norm
 *    running statistics "bn<i>.running_mean", "bn<i>.running_var"; none for MLP/FNO) the
 *    same way, long_name "network buffer (not trained)"; names, shapes and count are checked
 *    on load (a file without nbuffers holds none);
 *    norm_in_mean, norm_in_std (norm_in), norm_out_mean, norm_out_std (norm_out), double.
 *
 *  optional (GyreModelTraining): learning curve curve_epoch, curve_train_loss and
 *    curve_val_loss over dimension "epoch" (double); optimiser state "adam_m.<param>" and
 *    "adam_v.<param>" (float32, the parameter's dimensions) and attribute optimizer_step.
 *    Attributes has_learning_curve, has_val_loss, has_optimizer_state (0/1) say which;
 *    partial_epoch_batches and partial_epoch_loss (optional, 0) record an epoch stopped
 *    part-way.
 *
 * A loaded CNN therefore evaluates (eval mode) exactly as the one written. Not saved: the
 * batch-norm num_batches_tracked counter (unused by the forward pass). */
#ifndef GYRE_MODEL_FILE_H
#define GYRE_MODEL_FILE_H

#include <mpi.h>
#include <stdio.h>
#include <stdint.h>
#include "gyre_data.h"
#include "gyre_net.h"
#include "gyre_status.h"
#include "gyre_train.h"

#define GYRE_MODEL_FORMAT_VERSION 1
#define GYRE_MODEL_MAX_LINEAGE 8

/* Everything about a model besides its weights and normalisation. Strings are NUL-terminated
 * (empty allowed). The architecture options must be those the network was created with. */
typedef struct {
  GyreNetType    type;
  GyreMLPOptions mlp; /* used when type == GYRE_NET_MLP */
  GyreFNOOptions fno; /* ... FNO */
  GyreCNNOptions cnn; /* ... CNN (comm is not stored; a loaded CNN gets MPI_COMM_SELF) */
  uint64_t       seed;
  char           input_fields[256];  /* e.g. "q_upper,q_lower" */
  char           output_fields[256]; /* e.g. "q_subgrid_forcing" */
  char           units[256];         /* e.g. "s-2" */
  int            grid_nx, grid_ny;
  char           training_options[4096];
  char           split[256]; /* split description */
  /* the training's recipe, what a resumed run must not change: "-train_loss mse; -train_batch
   * 32; -train_seed 0; -train_optimizer adam; -train_lr 0.001; ..." (the options that act, with
   * gyre train's names; "" when unknown: files written before it existed) */
  char recipe[512];
  /* how the model was trained, for the solver that loads it (issue 4's checks) */
  char mode[16];    /* "closure" | "emulator" | "operator" ("" when unknown) */
  int  per_point;   /* MLP: 1 = applied at each grid point to its channels; 0 = to a whole
                       field flattened to (C * ny * nx) features */
  int stencil;      /* per-point MLP: neighbours r on each side of the point; its inputs are
                       channel-major, (2r + 1)^dims values per channel (gyre_data.h) */
  int    history;   /* input steps per variable (channels = variables x history); 1 */
  int    lead;      /* emulator: records ahead of the newest input; 1 */
  double record_dt; /* model time between the training data's records (0: unknown) */
  double dx, dy;    /* grid spacing of the training data (0: unknown) */
  /* the GEMMs' arithmetic in training ("fp32", "tf32", "bf16"; "" when unknown: fp32) and,
   * for tf32/bf16, the saved model's validation loss at that precision and at fp32: the
   * change the reduced precision makes (NaN when not measured) */
  char   precision[8];
  double val_loss_precision, val_loss_fp32;
  int    nlineage; /* dataset files */
  char   lineage_path[GYRE_MODEL_MAX_LINEAGE][512];
  char   lineage_sha256[GYRE_MODEL_MAX_LINEAGE][65];
} GyreModelMeta;

/* Optional training record. Writing: nepochs values of epoch/train_loss (and val_loss unless
 * NULL); opt != NULL saves its state (GyreOptimizerGetState). Reading
 * (GyreModelFileReadTraining): the arrays are malloc'ed (caller frees; NULL when absent) and
 * opt != NULL gets the saved state (GyreOptimizerSetState). */
typedef struct {
  int            nepochs;
  double        *epoch, *train_loss, *val_loss;
  GyreOptimizer *opt;
  long           step; /* reading: the saved optimiser step (-1 if none) */
  /* an epoch (number nepochs) stopped part-way (a signal): its global batches done and the sum
   * of their batch losses; 0 and 0 for a checkpoint at the end of an epoch */
  long   partial_batches;
  double partial_loss;
} GyreModelTraining;

/* Writes net, meta and norm to path atomically (replacing an existing file). Collective on
 * comm (use MPI_COMM_SELF from one rank). GYRE_ERR_ARG if meta's architecture does not
 * describe net (type or parameter count). */
GyreStatus GyreModelFileWrite(MPI_Comm comm, const char *path, GyreNet *net,
                              const GyreModelMeta *meta, const GyreNormalization *norm,
                              const GyreModelTraining *train /* may be NULL */);
/* Reads a model file: rebuilds the network on backend from the architecture attributes and
 * loads every weight, checking names, shapes, count and the weights' SHA-256. *net, *meta
 * and *norm are set only on success. Every failure gives one message naming the path:
 * not a NetCDF file / truncated, future format version, unknown architecture, missing or
 * wrong-shaped weight, NaN weight, checksum mismatch. Collective on comm. */
GyreStatus GyreModelFileRead(MPI_Comm comm, const char *path, GyreBackend *backend, GyreNet **net,
                             GyreModelMeta *meta, GyreNormalization *norm);

/* Reads the training record of a model file whose network (GyreModelFileRead) is net:
 * train->opt (if not NULL, created on net's parameters) gets the optimiser state; GYRE_ERR_FORMAT
 * when it was asked for and the file has none. Collective on comm. */
GyreStatus GyreModelFileReadTraining(MPI_Comm comm, const char *path, GyreNet *net,
                                     GyreModelTraining *train);

/* "mlp (inputs 1, outputs 1, width 32, depth 2, gelu; 1409 parameters)": the architecture in
 * words, for messages and `gyre info`. Returns buf. */
const char *GyreModelArchString(const GyreModelMeta *meta, char *buf, size_t len);
/* Whether two models come from the same training, and if not the first thing that differs:
 * the network (type and every architecture option), the task (mode, fields, per-point, stencil,
 * history, lead), the data (the number of files, then the first file whose SHA-256 differs, in
 * *file; the paths may differ), the validation split, the recipe (GyreModelRecipeDiff). Shared by a
 * resumed training's check of its checkpoint and by `gyre train`'s check that -train_out is that
 * training's model. */
typedef enum {
  GYRE_TRAINING_SAME = 0,
  GYRE_TRAINING_OTHER_NET,
  GYRE_TRAINING_OTHER_TASK,
  GYRE_TRAINING_OTHER_NFILES,
  GYRE_TRAINING_OTHER_DATA,
  GYRE_TRAINING_OTHER_SPLIT,
  GYRE_TRAINING_OTHER_RECIPE /* the recipe (not compared where either is unknown) */
} GyreTrainingDiff;
GyreTrainingDiff GyreModelCompareTraining(const GyreModelMeta *a, const GyreModelMeta *b,
                                          int *file /* may be NULL */);
/* The first item in which two recipes differ: ia and ib get it as each gives it ("-train_loss
 * mse" and "-train_loss rel_l2"; "no -train_clip" where one lacks it). Returns 0 where they are
 * the same or either is "". */
int GyreModelRecipeDiff(const char *a, const char *b, char *ia, char *ib, size_t n);
/* Validates a model file (GyreModelFileRead: every check, the weights' checksum included;
 * the training record) and prints what it holds to out: architecture, fields, units, grid,
 * how it was trained, normalisation, split, learning curve, optimiser state, lineage and
 * provenance. Collective on comm (rank 0 prints); the status says whether the file is valid. */
GyreStatus GyreModelFilePrint(MPI_Comm comm, const char *path, FILE *out);

/* ---- inference ---------------------------------------------------------------------- */

typedef struct GyreSurrogate_s GyreSurrogate;

/* Loads a model file (GyreModelFileRead). Collective on comm. */
GyreStatus GyreSurrogateLoad(MPI_Comm comm, const char *path, GyreBackend *backend,
                             GyreSurrogate **s);
/* out = denorm(net(norm(in))) for n samples in host float32, in evaluation mode. MLP:
 * in (n, inputs), out (n, outputs); FNO/CNN 2-D: in (n, Cin, grid_ny, grid_nx),
 * out (n, Cout, grid_ny, grid_nx); 1-D: (n, C, grid_nx). Inputs are normalised per channel
 * with the input statistics, outputs de-normalised with the target statistics (a whole-field
 * MLP's features are channel-major, C blocks of grid points).
 * Thread-safe: the surrogate is not changed (GyreNetInfer); any number of threads may apply
 * one surrogate at once. GyreSurrogateApply makes a temporary workspace per call;
 * GyreSurrogateApplyWorkspace uses the caller's (one per thread, GyreNetWorkspaceCreate on
 * GyreSurrogateNet), which keeps its buffers between calls. */
GyreStatus GyreSurrogateApply(const GyreSurrogate *s, const float *in_physical, float *out_physical,
                              int n);
GyreStatus GyreSurrogateApplyWorkspace(const GyreSurrogate *s, GyreNetWorkspace *ws,
                                       const float *in_physical, float *out_physical, int n);
/* GyreSurrogateApplyWorkspace's one-pass path for a per-point MLP (GyreNetInferHost with the
 * surrogate's normalisation) resolved once (GyreNetHostCallInit): GyreNetHostRun(d, n, in, out)
 * then computes GyreSurrogateApplyWorkspace(s, ws, in, out, n), bitwise, for in and out that
 * do not overlap. d->fn = NULL where that path does not run (another network, a device
 * backend, GYRE_MLP_FUSED=0): use GyreSurrogateApplyWorkspace. */
GyreStatus GyreSurrogateHostCallInit(const GyreSurrogate *s, GyreNetWorkspace *ws,
                                     GyreNetHostCall *d);
/* A CNN applied to a block of ny x nx points (1-D: ny = 1) instead of the whole grid: in
 * (n, Cin, ny, nx), out (n, Cout, ny, nx). A solver passes its subdomain with a halo as wide
 * as the receptive field (GyreSurrogateReceptiveRadius) and keeps the interior, which then
 * equals the whole-field result. Thread-safe like GyreSurrogateApply. */
GyreStatus GyreSurrogateApplyBlock(const GyreSurrogate *s, GyreNetWorkspace *ws,
                                   const float *in_physical, float *out_physical, int n, int ny,
                                   int nx);
/* Points on each side that one output point depends on: a CNN's sum of (k - 1) / 2 over its
 * layers; 0 for a per-point MLP without stencil; -1 for networks that need the whole field
 * (FNO, whole-field MLP, a CNN with zero-mean output). */
int                      GyreSurrogateReceptiveRadius(const GyreSurrogate *s);
const GyreModelMeta     *GyreSurrogateMeta(const GyreSurrogate *s);
const GyreNormalization *GyreSurrogateNormalization(const GyreSurrogate *s);
const GyreNet           *GyreSurrogateNet(const GyreSurrogate *s);
/* NULL-safe; *s becomes NULL. */
GyreStatus GyreSurrogateDestroy(GyreSurrogate **s);

#endif
