/* gyre_data.h — training data for surrogates: samples assembled from gyre NetCDF files,
 * the train/validation split, normalisation statistics and data-parallel batches.
 *
 * A dataset is one or many gyre files (a glob(3) pattern, expanded on rank 0, sorted,
 * broadcast). Each file holds variables (time, [member,] [y,] x); every (file, member) is an
 * independent trajectory. Three sample kinds:
 *   closure   inputs at record t            -> targets at record t (per field, or per point:
 *             per_point = 1 gives (N, C S) samples, one per spatial point, where S =
 *             (2 stencil + 1)^dims values of each channel around the point (periodic wrap,
 *             offsets row-major from (-r, -r), the point itself in the middle; S = 1 with
 *             stencil 0): feature c S + s is channel c at offset s);
 *   emulator  inputs at t-history+1 .. t    -> targets (default: the inputs) at t + lead;
 *   operator  inputs at record op_t0        -> targets at record op_t1, one per trajectory.
 * Samples are float32 (N, C, [Y,] X), C = variables x history, channel c = v*history + h with
 * h = 0 the oldest step (t - history + 1) and h = history-1 the newest (t).
 *
 * Split (no leakage): with >= 2 trajectories (ensemble members, or files), the LAST
 * round(val_fraction * ntraj) trajectories (at least 1) are validation; with one trajectory,
 * the last round(val_fraction * nrec) records (at least 1) of each trajectory are a
 * contiguous validation block and a sample belongs to a split only if every record it touches
 * (history and lead included) lies in that split's block; samples straddling the boundary
 * are dropped. Never shuffled neighbours. GyreDatasetSplitString() describes it.
 *
 * Batches: GyreDatasetStartEpoch draws a permutation of the training samples from the seed
 * and the epoch with a counter-based generator (no communication: every rank computes the
 * same one); global batch b is samples perm[b*B .. b*B+B-1]; rank r reads the contiguous
 * slice r of it (sizes differ by at most 1). The last partial batch is DROPPED. So the union
 * over ranks of each batch does not depend on the rank count. */
#ifndef GYRE_DATA_H
#define GYRE_DATA_H

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>
#include "gyre_status.h"

#define GYRE_DATA_MAX_VARS 8
#define GYRE_DATA_MAX_CHANNELS 64

typedef struct GyreDataset_s *GyreDataset;

typedef enum {
  GYRE_SAMPLE_CLOSURE  = 0,
  GYRE_SAMPLE_EMULATOR = 1,
  GYRE_SAMPLE_OPERATOR = 2
} GyreSampleKind;

typedef enum { GYRE_SPLIT_TRAIN = 0, GYRE_SPLIT_VAL = 1 } GyreSplit;

typedef struct {
  const char    *pattern; /* a path or glob(3) pattern */
  GyreSampleKind kind;
  int            ninputs, ntargets; /* emulator: ntargets 0 means targets = inputs */
  const char    *inputs[GYRE_DATA_MAX_VARS], *targets[GYRE_DATA_MAX_VARS];
  int            history;      /* emulator: input steps T_in >= 1 (default 1) */
  int            lead;         /* emulator: k >= 1 records ahead (default 1) */
  long           op_t0, op_t1; /* operator: records (default 0 and -1 = the last) */
  int            per_point;    /* closure: 1 = one sample per spatial point, (N, C S) */
  int            stencil;      /* per_point: neighbours r on each side (0: the point alone) */
  double         val_fraction; /* default 0.2; 0 = no validation data */
  uint64_t       seed;         /* global seed of the epoch permutations */
  int            batch;        /* global batch size B (>= number of ranks) */
  int            prefetch;     /* 1 (default): read the next batch in a background thread */
} GyreDatasetOptions;

/* Per-channel statistics of inputs and targets over the TRAINING samples (population std;
 * a channel with std < 1e-12 |mean| + 1e-30 gets std 1), and the band of the inputs' mean
 * squares. Stored in the model file. */
typedef struct {
  int    nin, nout;
  double in_mean[GYRE_DATA_MAX_CHANNELS], in_std[GYRE_DATA_MAX_CHANNELS];
  double out_mean[GYRE_DATA_MAX_CHANNELS], out_std[GYRE_DATA_MAX_CHANNELS];
  double count; /* values per channel that went into the statistics */
  /* the band of each input channel's mean square (energy / enstrophy-like) over the training
   * fields: min and max over the samples of the spatial mean of x^2 (the guard's invariant
   * check); has_band 0 when unknown (model files written before it was stored) */
  double in_ms_min[GYRE_DATA_MAX_CHANNELS], in_ms_max[GYRE_DATA_MAX_CHANNELS];
  int    has_band;
} GyreNormalization;

/* A batch on this rank: n samples in host float32, input (n, cin, [ny,] nx) and target
 * (n, cout, [ny,] nx), or (n, cin) / (n, cout) for per-point closure samples. index[i] is the
 * sample's position in its split's sample list (identifies it across rank counts). */
typedef struct {
  int      n, ndim; /* ndim of input/target arrays, batch dimension included */
  int64_t  in_shape[4], out_shape[4];
  float   *input, *target;
  int64_t *index;
  long     epoch, batch;           /* which global batch this is (-1 for GyreDatasetReadSamples) */
  size_t   cap_n, cap_in, cap_out; /* allocated samples, input and target floats */
} GyreBatch;

typedef struct {
  int     nfiles, ntraj;
  int     nin, nout; /* channels */
  int     nspatial;  /* 1 or 2 */
  size_t  ny, nx;    /* ny = 1 for 1-D fields */
  int64_t ntrain, nval;
  int64_t nbatches;     /* full global batches per epoch (last partial one dropped) */
  int     rank_batch;   /* samples this rank reads per batch */
  int     stencil_size; /* S: values per channel of a per-point sample (1 for fields) */
  /* from the first file, for the model file: the time between records (its time variable's
   * first two values; 0 with one record), the grid spacing (first two values of the x and y
   * coordinate variables; 0 where absent) and "name [units], ..." of the inputs and targets */
  double record_dt, dx, dy;
  char   input_fields[256], output_fields[256], units[256];
} GyreDatasetInfo;

/* Defaults: closure, history 1, lead 1, op_t0 0, op_t1 -1, val 0.2, batch 32,
 * seed 0, prefetch 1. */
void GyreDatasetOptionsDefault(GyreDatasetOptions *opts);

/* Expands the pattern, opens the files, checks variables and grids, builds the split.
 * Collective on comm; every rank gets the same status. Errors (one line each): no file
 * matching, a missing file or variable, mismatched grids between files or variables, a
 * history + lead longer than a file's records, an impossible option. */
GyreStatus GyreDatasetCreate(MPI_Comm comm, const GyreDatasetOptions *opts, GyreDataset *ds);
/* Sizes and shapes. Not collective. */
GyreStatus GyreDatasetGetInfo(GyreDataset ds, GyreDatasetInfo *info);
/* The split, in words, for the model file ("by member: train members 0-2 of ..."). */
const char *GyreDatasetSplitString(GyreDataset ds);
/* Sorted list of the files: path of file i (0 <= i < nfiles). */
const char *GyreDatasetFile(GyreDataset ds, int i);

/* Per-channel mean/std of inputs and targets over the training samples, in one parallel
 * pass: rank r reads a contiguous share of the training samples and count/sum/sumsq are
 * summed with MPI_Allreduce in double. NaN/Inf: GYRE_ERR_NAN naming file, variable, record
 * and index. Collective. */
GyreStatus GyreDatasetComputeNormalization(GyreDataset ds, GyreNormalization *norm);
/* (x - mean) / std per channel of the batch's input and target, in place; the values of a
 * sample are channel-major (nin blocks of equal length). Not collective. */
void GyreNormalizationApply(const GyreNormalization *norm, GyreBatch *batch);

/* Reads samples [start, start + count) of a split's list (no shuffle; validation uses this)
 * into batch (grown as needed). Not collective. */
GyreStatus GyreDatasetReadSamples(GyreDataset ds, GyreSplit split, int64_t start, int64_t count,
                                  GyreBatch *batch);
/* The epoch's permutation of the ntrain training samples (perm has ntrain entries). Pure. */
GyreStatus GyreDatasetEpochPermutation(GyreDataset ds, long epoch, int64_t *perm);
/* Starts an epoch: draws its permutation and (prefetch) starts reading batch 0. Not
 * collective, but every rank must call it with the same epoch. */
GyreStatus GyreDatasetStartEpoch(GyreDataset ds, long epoch);
/* The same, starting at global batch `first` of the epoch (resuming an epoch stopped part-way:
 * the batches are those an uninterrupted epoch would read from there on). */
GyreStatus GyreDatasetStartEpochAt(GyreDataset ds, long epoch, int64_t first);
/* *batch = this rank's slice of the next global batch, or NULL at the end of the epoch. The
 * batch stays valid until the next call; with prefetch the following batch is being read
 * meanwhile; the caller may change its arrays (normalise in place). Not collective; the status
 * is this rank's (use GyreStatusAgree). */
GyreStatus GyreDatasetNextBatch(GyreDataset ds, GyreBatch **batch);
/* Waits for a background read to finish (call before using NetCDF elsewhere). */
GyreStatus GyreDatasetWait(GyreDataset ds);
/* Frees a batch from GyreDatasetReadSamples. */
void GyreBatchFree(GyreBatch *batch);
/* Waits for the background read, closes the files. *ds = NULL. Not collective. */
GyreStatus GyreDatasetDestroy(GyreDataset *ds);

#endif
