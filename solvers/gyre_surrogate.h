/* gyre_surrogate.h — a trained surrogate evaluated on a model's distributed fields, shared by
 * the learned closure (closure_surrogate.c), the emulator (emulator.c) and the guard
 * (guard.c). Internal to solvers/.
 *
 * The caller fills a packed input vector (the model's layout and ownership, one component per
 * network input channel) and gets the network's output channels on this rank's own points.
 * How the network is evaluated depends on what one output point depends on
 * (GyreSurrogateReceptiveRadius):
 *   POINTS  a per-point MLP: each point's stencil of r neighbours from the ghost points of a
 *           DMDA of stencil width r;
 *   BLOCK   a CNN: each rank's block with a halo of its receptive radius r (periodic ghosts);
 *           the interior equals the whole-field network's, so no rank gathers the field;
 *   WHOLE   a network that needs the whole field (FNO, whole-field MLP, zero-mean CNN): the
 *           field is gathered on rank 0 (DMDA natural ordering, VecScatterCreateToZero),
 *           evaluated there and the output scattered back; the solver state stays
 *           distributed. Set-up says so on the log.
 * All three give the same result on any rank count. For BLOCK and WHOLE an input identical
 * (bitwise) to the last one's reuses its output without evaluating the network again (POINTS
 * evaluates at every call: cheaper than the check on its few points). The cost is the
 * "GyreSurrogate" event of -log_view. */
#ifndef GYRE_SURROGATE_H
#define GYRE_SURROGATE_H

#include "gyre_model.h"
#include "gyre_model_file.h"

typedef enum { GYRE_EVAL_POINTS, GYRE_EVAL_BLOCK, GYRE_EVAL_WHOLE } GyreEvalKind;

struct _p_GyreSurrogateEval {
  GyreBackend      *be;
  GyreSurrogate    *s;
  GyreNetWorkspace *ws;
  char              path[PETSC_MAX_PATH_LEN];
  char              sha256[65]; /* the model file's (a checkpoint records which model it ran) */
  PetscInt          dim, r;     /* spatial dims; receptive radius (-1: the whole field) */
  PetscInt          cin, cout;  /* network input and output channels */
  GyreEvalKind      kind;
  DM                in_dm;  /* the model's layout, dof cin, stencil width r (0 for WHOLE) */
  DM                out_dm; /* WHOLE: the model's layout, dof cout */
  Vec               in, out, nat_in, nat_out, seq_in, seq_out; /* out .. seq_out: WHOLE */
  VecScatter        to_zero_in, to_zero_out;
  float            *xin, *yout, *y; /* host buffers: network input, output, this rank's y */
  PetscInt          cap;
  /* POINTS and BLOCK: whole: this rank owns the whole (periodic) grid, its ghosts are its own
   * points and no ghost exchange is needed; BLOCK: the block the CNN sees, in global indices
   * (bxs, bys) and size bxm x bym: the owned points with a halo of r (with -surrogate_trim_halo
   * only in each dimension this rank does not own whole: one it owns whole needs none, the
   * network's circular padding is the periodic wrap; the values agree to float rounding, and
   * bitwise where GyreNetBlockExact, but not through the GEMM convolutions, which change shape) */
  PetscInt  xs, ys, xm, ym, gxs, gys, gxm, gym; /* this rank's corners in in_dm (1-D: y 0, 1) */
  PetscBool whole, trim_halo; /* trim_halo: -surrogate_trim_halo (default: where the network
                               * is computed alike in any block, GyreNetBlockExact) */
  PetscInt bxs, bys, bxm, bym;
  /* POINTS: xin[i] = u[gidx[i]], u this rank's points (whole) or its ghosted local block: the
   * stencils' offsets, computed once */
  PetscInt *gidx;
  /* GyreSurrogateEvalApplyState: the input channels are components in_comp[] of a state with
   * dof components a point; POINTS on a rank that owns the whole grid: xin[i] = u[sidx[i]]
   * straight from the state, evaluated at every call (no reuse check: on a per-point network's
   * few points, comparing and keeping the input cost more than the evaluations it saved) */
  PetscInt  dof, in_comp[GYRE_DATA_MAX_CHANNELS];
  PetscInt *sidx;
  /* ... and, where the stencils allow it (1-D: every feature's values over the points are a run
   * of one padded copy of the channels), read through an input view (mlp_forward's xoff) of
   * that copy instead of xin: pad[i] = u[pidx[i]], npad values, channel c's in [vseg[c],
   * vseg[c + 1]); point p's feature k is pad[p + voff[k]]. pidx NULL: xin by sidx. */
  PetscInt *pidx, npad, vseg[GYRE_DATA_MAX_CHANNELS + 1];
  int      *voff;
  float    *pad;
  /* POINTS: the per-point network's one-pass call resolved once (fn NULL: none; then
   * GyreSurrogateApplyWorkspace) */
  GyreNetHostCall direct;
  /* BLOCK and WHOLE: the last evaluation's packed input (n cin values) and, in y, its output;
   * an identical input (e.g. the output's diagnostic, then the next step's first stage on the
   * same state) reuses it. have_last: the cache is valid. The guard's arguments of that
   * evaluation (GuardValues) are kept to repeat its checks on a reuse. */
  PetscScalar *last;
  PetscInt     nlast;
  PetscBool    have_last;
  PetscMPIInt  size;
  PetscInt     g_nx, g_per_in, g_ny, g_per_out;
  const float *g_y;
  PetscBool    g_pad; /* the inputs checked are pad's channel segments (vseg), not xin */

  /* the guard (guard.c): disabled, the caller uses its physics fallback; sigma > 0: Apply
   * records in trip (the most severe GyreGuardReason since it was reset to 0) an output NaN/Inf or
   * beyond sigma training standard deviations of the targets, or an input beyond sigma of
   * the inputs; GyreSurrogateEvalGuardCheck adds the invariant band of the state components
   * band_comp[] (mean square within [band_min (1 - b), band_max (1 + b)]). */
  PetscBool disabled;
  PetscReal sigma;
  PetscInt  trip;
  /* the floats within sigma of each channel's training mean (GuardValues) */
  float     in_lo[GYRE_DATA_MAX_CHANNELS], in_hi[GYRE_DATA_MAX_CHANNELS];
  float     out_lo[GYRE_DATA_MAX_CHANNELS], out_hi[GYRE_DATA_MAX_CHANNELS];
  PetscInt  nband, band_comp[GYRE_DATA_MAX_CHANNELS];
  PetscInt  state_dof; /* the model's components a point (0: not read yet) */
  PetscReal band_min[GYRE_DATA_MAX_CHANNELS], band_max[GYRE_DATA_MAX_CHANNELS];
};

/* The guard's sigma (> 0; ev set up), and each channel's float range within sigma standard
 * deviations of its training mean, which Apply checks every input and output against. */
void GyreSurrogateEvalSetSigma(GyreSurrogateEval ev, PetscReal sigma);
/* Loads the model file path once (-surrogate_backend, -surrogate_threads). Collective. */
PetscErrorCode GyreSurrogateEvalCreate(GyreModel model, const char *path, GyreSurrogateEval *ev);
PetscErrorCode GyreSurrogateEvalDestroy(GyreSurrogateEval *ev);
/* The comma-separated field names of list (the model file's input or output fields, `what`
 * says which) as state components of the model: *n of them in comp[] (at most max). Each name
 * that is not a state component is one error naming the file and the model. Collective. */
PetscErrorCode GyreSurrogateEvalFindFields(GyreSurrogateEval ev, GyreModel model, const char *list,
                                           const char *what, PetscInt max, PetscInt *n,
                                           PetscInt comp[]);
/* Checks the model file's grid size and spacing against the model's (spacing from the output
 * dimensions of the model field `field`, where both are known); one error naming both sides.
 * Collective. */
PetscErrorCode GyreSurrogateEvalCheckGrid(GyreSurrogateEval ev, GyreModel model, const char *field);
/* Chooses how to evaluate (POINTS, BLOCK, WHOLE) for cin input and cout output channels and
 * creates the DMDAs and scatters. Collective. */
PetscErrorCode GyreSurrogateEvalSetUp(GyreSurrogateEval ev, GyreModel model, PetscInt cin,
                                      PetscInt cout);
/* The packed input on this rank's points: x[p * cin + c] is channel c at owned point p (the
 * model's local ordering). Not collective. */
PetscErrorCode GyreSurrogateEvalGetInput(GyreSurrogateEval ev, PetscScalar **x);
PetscErrorCode GyreSurrogateEvalRestoreInput(GyreSurrogateEval ev, PetscScalar **x);
/* Evaluates the network on the packed input: *y (owned by ev, valid until the next call) holds
 * channel c of owned point p at y[c * n + p], n the number of owned points. Records guard trips
 * when ev->sigma > 0. Collective. */
PetscErrorCode GyreSurrogateEvalApply(GyreSurrogateEval ev, const float **y);
/* The network on the state U (dof components a point, the input channels its components
 * comp[0..cin)): *y as GyreSurrogateEvalApply's. Where this rank owns the whole grid and the
 * network is applied per point, the stencils are gathered straight from U into the network's
 * input (offsets set up on the first call); where it owns the whole grid, the network takes a
 * block and its one input channel is the state itself, the block is read from U's array;
 * otherwise the channels are packed (GetInput) and GyreSurrogateEvalApply runs. The same values
 * every way. Collective. */
/* x[k] = (float) u[k] and f[k] += scale * y[k] for k < n: the closure's conversions each call,
 * 4 values a vector where the CPU has AVX2 and FMA (the same arithmetic as the plain loops,
 * bitwise) */
void           GyreSurrogateToFloat(const PetscScalar *u, float *x, PetscInt n);
void           GyreSurrogateAddScaled(PetscScalar *f, const float *y, PetscReal scale, PetscInt n);
PetscErrorCode GyreSurrogateEvalApplyState(GyreSurrogateEval ev, Vec U, PetscInt dof,
                                           const PetscInt *comp, const float **y);
/* PETSC_TRUE where GyreSurrogateEvalApplyState reads the stencils straight from the state (a
 * per-point network on a rank that owns the whole grid: only on one rank, so the answer is the
 * same on every rank); then GyreSurrogateEvalApplyStateArray does the same from u, U's own array
 * (a closure that holds it saves an array access); elsewhere that is an error. Not collective
 * (a per-point network's evaluation is this rank's alone). */
PetscBool      GyreSurrogateEvalReadsState(GyreSurrogateEval ev);
PetscErrorCode GyreSurrogateEvalApplyStateArray(GyreSurrogateEval ev, const PetscScalar *u,
                                                PetscInt dof, const PetscInt *comp,
                                                const float **y);
/* After a step with the surrogate: the trip recorded on any rank, else the invariant band of
 * U's components band_comp[] widened by band. Collective. */
PetscErrorCode GyreSurrogateEvalGuardCheck(GyreSurrogateEval ev, GyreModel model, Vec U,
                                           PetscReal band, PetscInt *reason);

#endif
