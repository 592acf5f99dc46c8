/* trainer.c — the data-parallel training loop (gyre_trainer.h). Read top to bottom, GyreTrain
 * is: open the data, build (or resume) the network and its normalisation, then for each epoch
 * train on the global batches, validate, check that the ranks agree, write the best model and
 * the checkpoint, print a progress line. */
#include "gyre_trainer.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "gyre_io.h"

void GyreTrainerOptionsDefault(GyreTrainerOptions *o)
{
  memset(o, 0, sizeof *o);
  GyreDatasetOptionsDefault(&o->data);
  o->net = GYRE_NET_MLP;
  GyreMLPOptionsDefault(&o->mlp);
  GyreFNOOptionsDefault(&o->fno);
  GyreCNNOptionsDefault(&o->cnn);
  GyreOptimizerOptionsDefault(&o->opt);
  o->loss   = GYRE_LOSS_MSE;
  o->epochs = 10;
}

/* Everything one training run holds. */
typedef struct {
  MPI_Comm                  comm;
  int                       rank, size;
  GyreBackend              *be;
  const GyreTrainerOptions *o;
  GyreDataset               ds;
  GyreDatasetInfo           info;
  GyreModelMeta            *meta;
  GyreNormalization         norm;
  GyreNet                  *net;
  GyreOptimizer            *opt;
  GyreGradSync             *sync;
  int                       np;
  GyreTensor *const        *params;
  char                      ckpt[4096];
  /* learning curve; an epoch stopped part-way (resume) */
  int     nepochs;
  long    partial_batches;
  double  partial_loss;
  double *c_epoch, *c_train, *c_val;
  /* per-step tensors */
  GyreTensor x, y, t, dy;
} Trainer;

static int exists(const char *path)
{
  struct stat sb;
  return stat(path, &sb) == 0;
}

/* ---- the network's shape from the data ---------------------------------------------- */

/* v with the fewest digits that read back as v */
static const char *shortest(double v, char *buf, size_t n)
{
  return GyreNumberFormat(v, NULL, NULL, buf, n);
}

/* What a resumed run must not change (GyreModelMeta.recipe): the options that act on the
 * weights' path, with gyre train's names; the schedule's own options only for that schedule.
 * -train_epochs may grow (a cosine schedule then ends later). */
static void describe_recipe(const GyreTrainerOptions *o, char *r, size_t n)
{
  const GyreOptimizerOptions *p = &o->opt;
  char                        a[32], b[32], c[32], d[32], e[32], g[32];
  int k = snprintf(r, n, "-train_loss %s; -train_batch %d; -train_seed %llu",
                   o->loss == GYRE_LOSS_REL_L2 ? "rel_l2" : "mse", o->data.batch,
                   (unsigned long long) o->seed);
  if (o->data.seed != o->seed && k > 0 && (size_t) k < n)
    k += snprintf(r + k, n - k, ",%llu", (unsigned long long) o->data.seed);
  if (k > 0 && (size_t) k < n)
    k += snprintf(r + k, n - k,
                  "; -train_optimizer %s; -train_lr %s; -train_betas %s,%s; -train_eps %s; "
                  "-train_weight_decay %s; -train_clip %s; -train_schedule %s",
                  p->type == GYRE_OPT_ADAMW ? "adamw" : "adam", shortest(p->lr, a, sizeof a),
                  shortest(p->beta1, b, sizeof b), shortest(p->beta2, c, sizeof c),
                  shortest(p->eps, d, sizeof d), shortest(p->weight_decay, e, sizeof e),
                  shortest(p->clip > 0 ? p->clip : 0, g, sizeof g),
                  p->schedule == GYRE_SCHED_STEP     ? "step"
                  : p->schedule == GYRE_SCHED_COSINE ? "cosine"
                                                     : "constant");
  if (k > 0 && (size_t) k < n && p->schedule == GYRE_SCHED_STEP)
    snprintf(r + k, n - k, "; -train_step_size %d; -train_step_gamma %s", p->step_size,
             shortest(p->step_gamma, a, sizeof a));
  else if (k > 0 && (size_t) k < n && p->schedule == GYRE_SCHED_COSINE)
    snprintf(r + k, n - k, "; -train_warmup %d; -train_min_lr %s", p->warmup,
             shortest(p->min_lr, a, sizeof a));
}

static GyreStatus describe_model(Trainer *tr)
{
  const GyreTrainerOptions *o    = tr->o;
  const GyreDatasetInfo    *info = &tr->info;
  GyreModelMeta            *m    = tr->meta;
  size_t                    pts  = info->ny * info->nx;
  int                       dim  = info->nspatial;
  m->type                        = o->net;
  m->seed                        = o->seed;
  m->per_point                   = o->data.per_point;
  m->stencil                     = o->data.per_point ? o->data.stencil : 0;
  m->history                     = o->data.kind == GYRE_SAMPLE_EMULATOR ? o->data.history : 1;
  m->lead                        = o->data.kind == GYRE_SAMPLE_EMULATOR ? o->data.lead : 1;
  snprintf(m->mode, sizeof m->mode, "%s",
           o->data.kind == GYRE_SAMPLE_CLOSURE    ? "closure"
           : o->data.kind == GYRE_SAMPLE_EMULATOR ? "emulator"
                                                  : "operator");
  m->record_dt = info->record_dt, m->dx = info->dx, m->dy = info->dy;
  snprintf(m->precision, sizeof m->precision, "%s", GyreBackendPrecision(tr->be));
  m->val_loss_precision = m->val_loss_fp32 = NAN;
  m->grid_nx = (int) info->nx, m->grid_ny = dim == 2 ? (int) info->ny : 1;
  snprintf(m->input_fields, sizeof m->input_fields, "%s", info->input_fields);
  snprintf(m->output_fields, sizeof m->output_fields, "%s", info->output_fields);
  snprintf(m->units, sizeof m->units, "%s", info->units);
  snprintf(m->training_options, sizeof m->training_options, "%s",
           o->training_options ? o->training_options : "");
  snprintf(m->split, sizeof m->split, "%s", GyreDatasetSplitString(tr->ds));
  describe_recipe(o, m->recipe, sizeof m->recipe);
  if (o->net != GYRE_NET_MLP && o->data.per_point)
    return GyreStatusSet(GYRE_ERR_ARG,
                         "train: the %s takes whole fields, not per-point samples "
                         "(-train_per_point 0)",
                         o->net == GYRE_NET_FNO ? "FNO" : "CNN");
  switch (o->net) {
  case GYRE_NET_MLP:
    m->mlp = o->mlp;
    m->mlp.inputs =
        o->data.per_point ? info->nin * info->stencil_size : (int) ((size_t) info->nin * pts);
    m->mlp.outputs = o->data.per_point ? info->nout : (int) ((size_t) info->nout * pts);
    break;
  case GYRE_NET_FNO:
    m->fno     = o->fno;
    m->fno.dim = dim, m->fno.in_channels = info->nin, m->fno.out_channels = info->nout;
    /* the network's own condition (network.c), said here with the option's name */
    if ((size_t) m->fno.modes > info->nx / 2 + 1 ||
        (dim == 2 && 2 * (size_t) m->fno.modes > info->ny)) {
      const size_t most =
          dim == 2 && info->ny / 2 < info->nx / 2 + 1 ? info->ny / 2 : info->nx / 2 + 1;
      return GyreStatusSet(GYRE_ERR_ARG,
                           "train: -fno_modes %d does not fit the data's grid, %zu x %zu points "
                           "(modes <= X/2+1%s: at most %zu here)",
                           m->fno.modes, dim == 2 ? info->ny : (size_t) 1, info->nx,
                           dim == 2 ? " and 2 modes <= Y" : "", most);
    }
    break;
  case GYRE_NET_CNN:
    m->cnn     = o->cnn;
    m->cnn.dim = dim, m->cnn.in_channels = info->nin, m->cnn.out_channels = info->nout;
    m->cnn.comm = tr->comm;
    for (int l = 0; l < m->cnn.nlayers; l++) /* circular padding wraps the field at most once */
      if ((size_t) m->cnn.kernels[l] > info->nx ||
          (dim == 2 && (size_t) m->cnn.kernels[l] > info->ny))
        return GyreStatusSet(GYRE_ERR_ARG,
                             "train: the CNN's kernel %d of layer %d (-cnn_kernels) is wider than "
                             "the data's grid, %zu x %zu points",
                             m->cnn.kernels[l], l, info->nx, dim == 2 ? info->ny : (size_t) 1);
    break;
  default:
    return GyreStatusSet(GYRE_ERR_ARG, "train: unknown network type %d", (int) o->net);
  }
  /* lineage: the data files and their SHA-256 (rank 0 hashes, broadcasts) */
  int        n  = info->nfiles < GYRE_MODEL_MAX_LINEAGE ? info->nfiles : GYRE_MODEL_MAX_LINEAGE;
  GyreStatus st = GYRE_OK;
  m->nlineage   = n;
  for (int i = 0; i < n; i++) {
    snprintf(m->lineage_path[i], sizeof m->lineage_path[i], "%s", GyreDatasetFile(tr->ds, i));
    if (tr->rank == 0 && !st) st = GyreHashFile(m->lineage_path[i], m->lineage_sha256[i]);
  }
  GyreCall(GyreStatusAgree(tr->comm, st));
  MPI_Bcast(m->lineage_sha256, (int) sizeof m->lineage_sha256, MPI_CHAR, 0, tr->comm);
  return GYRE_OK;
}

static GyreStatus create_net(Trainer *tr, const GyreModelMeta *m, GyreNet **net)
{
  switch (m->type) {
  case GYRE_NET_MLP:
    return GyreNetCreateMLP(tr->be, &m->mlp, m->seed, net);
  case GYRE_NET_FNO:
    return GyreNetCreateFNO(tr->be, &m->fno, m->seed, net);
  default:
    return GyreNetCreateCNN(tr->be, &m->cnn, m->seed, net);
  }
}

/* ---- resuming ----------------------------------------------------------------------- */

/* The checkpoint must describe the network these options build, trained on the same data. */
static GyreStatus check_checkpoint(Trainer *tr, const char *path, const GyreModelMeta *c)
{
  const GyreModelMeta *m = tr->meta;
  char                 a[512], b[512];
  int                  i = 0;
  switch (GyreModelCompareTraining(c, m, &i)) {
  case GYRE_TRAINING_OTHER_NET:
    return GyreStatusSet(GYRE_ERR_ARG,
                         "train: checkpoint '%s' holds a different network, %s, than the options "
                         "describe, %s: resume with the options it was trained with",
                         path, GyreModelArchString(c, a, sizeof a),
                         GyreModelArchString(m, b, sizeof b));
  case GYRE_TRAINING_OTHER_TASK:
    return GyreStatusSet(GYRE_ERR_ARG,
                         "train: checkpoint '%s' was trained as %s %s -> %s (history %d, lead %d), "
                         "the options ask for %s %s -> %s (history %d, lead %d)",
                         path, c->mode, c->input_fields, c->output_fields, c->history, c->lead,
                         m->mode, m->input_fields, m->output_fields, m->history, m->lead);
  case GYRE_TRAINING_OTHER_NFILES:
    return GyreStatusSet(GYRE_ERR_ARG,
                         "train: checkpoint '%s' was trained on %d data files, the options give %d",
                         path, c->nlineage, m->nlineage);
  case GYRE_TRAINING_OTHER_DATA:
    return GyreStatusSet(GYRE_ERR_ARG,
                         "train: checkpoint '%s' was trained on '%s' (sha256 %.12s...), but "
                         "'%s' has sha256 %.12s...: not the same data",
                         path, c->lineage_path[i], c->lineage_sha256[i], m->lineage_path[i],
                         m->lineage_sha256[i]);
  case GYRE_TRAINING_OTHER_SPLIT: /* the same data: -train_val_fraction changed */
    return GyreStatusSet(GYRE_ERR_ARG,
                         "train: checkpoint '%s' was trained with the split '%s', the options "
                         "give '%s': resume with the -train_val_fraction it was trained with",
                         path, c->split, m->split);
  case GYRE_TRAINING_OTHER_RECIPE: { /* a resume that would not end as one run would */
    char ia[256], ib[256];
    GyreModelRecipeDiff(c->recipe, m->recipe, ia, ib, sizeof ia);
    return GyreStatusSet(GYRE_ERR_ARG,
                         "train: checkpoint '%s' was trained with %s, the options give %s: resume "
                         "with the options it was trained with (or train afresh)",
                         path, ia, ib);
  }
  default:
    return GYRE_OK;
  }
}

/* Copies every parameter and buffer of src into dst (same architecture). */
static GyreStatus copy_weights(GyreNet *src, GyreNet *dst)
{
  for (int kind = 0; kind < 2; kind++) {
    int                ns, nd;
    GyreTensor *const *ps, *const *pd, *const *g;
    const char *const *names;
    if (kind == 0) {
      GyreCall(GyreNetParameters(src, &ns, &ps, &g, &names));
      GyreCall(GyreNetParameters(dst, &nd, &pd, &g, &names));
    } else {
      GyreCall(GyreNetBuffers(src, &ns, &ps, &names));
      GyreCall(GyreNetBuffers(dst, &nd, &pd, &names));
    }
    if (ns != nd)
      return GyreStatusSet(GYRE_ERR_INTERNAL, "train: %d vs %d tensors in a resumed network", ns,
                           nd);
    for (int i = 0; i < ns; i++) {
      GyreCall(GyreTensorCheckSameShape("train: resumed tensor", ps[i], pd[i]));
      float *h = malloc(ps[i]->size * sizeof(float) + 1);
      if (!h) return GyreStatusSet(GYRE_ERR_MEM, "train: out of memory");
      GyreStatus st = GyreTensorCopyToHost(ps[i], h);
      if (!st) st = GyreTensorCopyFromHost(pd[i], h);
      free(h);
      GyreCall(st);
    }
  }
  return GYRE_OK;
}

static GyreStatus resume(Trainer *tr, const char *path)
{
  GyreNet          *loaded = NULL;
  GyreModelMeta    *c      = malloc(sizeof *c);
  GyreModelTraining rec    = {0};
  if (!c) return GyreStatusSet(GYRE_ERR_MEM, "train: out of memory");
  GyreStatus st = GyreModelFileRead(tr->comm, path, tr->be, &loaded, c, &tr->norm);
  if (!st) st = check_checkpoint(tr, path, c);
  if (!st) st = copy_weights(loaded, tr->net);
  if (!st) {
    rec.opt = tr->opt;
    st      = GyreModelFileReadTraining(tr->comm, path, loaded, &rec);
  }
  if (!st && rec.partial_batches == 0 && (rec.nepochs < 1 || !rec.train_loss))
    st = GyreStatusSet(GYRE_ERR_FORMAT, "train: checkpoint '%s' has no learning curve", path);
  if (!st && rec.partial_batches > tr->info.nbatches)
    st = GyreStatusSet(GYRE_ERR_ARG,
                       "train: checkpoint '%s' stopped after batch %ld of an epoch, but the "
                       "options give %lld batches per epoch",
                       path, rec.partial_batches, (long long) tr->info.nbatches);
  if (!st && rec.nepochs > tr->o->epochs)
    st = GyreStatusSet(GYRE_ERR_ARG,
                       "train: checkpoint '%s' has already run %d epochs, more than "
                       "-train_epochs %d",
                       path, rec.nepochs, tr->o->epochs);
  if (!st) {
    tr->nepochs         = rec.nepochs;
    tr->partial_batches = rec.partial_batches;
    tr->partial_loss    = rec.partial_loss;
    for (int i = 0; i < rec.nepochs; i++) {
      tr->c_epoch[i] = rec.epoch[i];
      tr->c_train[i] = rec.train_loss[i];
      tr->c_val[i]   = rec.val_loss ? rec.val_loss[i] : NAN;
    }
  }
  free(rec.epoch), free(rec.train_loss), free(rec.val_loss);
  GyreNetDestroy(&loaded);
  free(c);
  return st;
}

/* ---- one epoch ---------------------------------------------------------------------- */

static GyreStatus ensure(GyreBackend *be, GyreTensor *t, int nd, const int64_t *shape)
{
  if (t->data && t->ndim == nd && !memcmp(t->shape, shape, (size_t) nd * sizeof(int64_t)))
    return GYRE_OK;
  GyreTensorDestroy(t);
  return GyreTensorCreate(be, nd, shape, t);
}

/* Loads a normalised batch into x and t (flattened to (n, features) for a whole-field MLP) and
 * sizes y and dy. */
static GyreStatus load_batch(Trainer *tr, const GyreBatch *b)
{
  int64_t xs[4], ts[4];
  int     nd = b->ndim;
  memcpy(xs, b->in_shape, sizeof xs);
  memcpy(ts, b->out_shape, sizeof ts);
  if (tr->meta->type == GYRE_NET_MLP && nd > 2) {
    for (int d = 2; d < nd; d++)
      xs[1] *= xs[d], ts[1] *= ts[d];
    nd = 2;
  }
  GyreCall(ensure(tr->be, &tr->x, nd, xs));
  GyreCall(ensure(tr->be, &tr->t, nd, ts));
  int     ynd;
  int64_t ys[GYRE_TENSOR_MAX_DIMS];
  GyreCall(GyreNetOutputShape(tr->net, nd, xs, &ynd, ys));
  GyreCall(ensure(tr->be, &tr->y, ynd, ys));
  GyreCall(ensure(tr->be, &tr->dy, ynd, ys));
  GyreCall(GyreTensorCheckSameShape("train: network output vs target", &tr->y, &tr->t));
  /* on a GPU the transfers overlap with the previous step's backward pass, still running; the
   * host batch is not reused before the loss (a host value, after the copies) returns */
  GyreCall(GyreTensorCopyFromHostAsync(&tr->x, b->input));
  GyreCall(GyreTensorCopyFromHostAsync(&tr->t, b->target));
  return GYRE_OK;
}

static GyreStatus loss(Trainer *tr, double *value, GyreTensor *dpred)
{
  const GyreBackendOps *op = tr->be->ops;
  if (tr->o->loss == GYRE_LOSS_REL_L2) return op->rel_l2_loss(tr->be, &tr->y, &tr->t, value, dpred);
  return op->mse_loss(tr->be, &tr->y, &tr->t, value, dpred);
}

/* The forward half of a step on this rank's slice b of a global batch of B samples: loss and
 * its gradient scaled by n_r / B. *contrib receives n_r / B times the local loss (the global
 * batch loss is the sum over ranks). */
static GyreStatus forward_step(Trainer *tr, GyreBatch *b, int B, double *contrib)
{
  GyreNormalizationApply(&tr->norm, b);
  GyreCall(load_batch(tr, b));
  GyreCall(GyreNetForward(tr->net, &tr->x, &tr->y, 1));
  double l;
  GyreCall(loss(tr, &l, &tr->dy));
  double w = (double) b->n / (double) B;
  GyreCall(tr->be->ops->scale(tr->be, tr->dy.size, (float) w, tr->dy.data));
  *contrib = w * l;
  return GYRE_OK;
}

/* Trains epoch `epoch` from global batch `first` (> 0 when resuming an epoch stopped
 * part-way), *sum holding the batch losses so far. Returns with *done = the batches done when
 * the stop callback fired (*stopped = its value), or *done = all of them. */
static GyreStatus train_epoch(Trainer *tr, int epoch, long first, double *sum, long *done,
                              int *stopped)
{
  *stopped = 0;
  GyreCall(GyreOptimizerSetEpoch(tr->opt, epoch));
  GyreCall(GyreDatasetStartEpochAt(tr->ds, epoch, first));
  for (long k = first;; k++) {
    GyreBatch *b  = NULL;
    double     c  = 0;
    GyreStatus st = GyreDatasetNextBatch(tr->ds, &b);
    *done         = k;
    if (!st && b) st = forward_step(tr, b, tr->o->data.batch, &c);
    if (!st && b && !isfinite(c))
      st = GyreStatusSet(GYRE_ERR_NAN,
                         "train: the loss is %s in epoch %d, batch %ld (learning rate %g): lower "
                         "-train_lr or check the data",
                         isnan(c) ? "NaN" : "Inf", epoch + 1, k, GyreOptimizerGetLR(tr->opt));
    /* the ranks agree before the backward pass starts its collective reductions */
    GyreCall(GyreStatusAgree(tr->comm, st));
    if (!b) break;
    st = GyreOptimizerZeroGrad(tr->opt);
    if (!st) st = GyreNetBackward(tr->net, &tr->dy, NULL);
    /* always finished, so that every rank has started every bucket's reduction */
    GyreStatus sf = GyreGradSyncFinish(tr->sync);
    GyreCall(GyreStatusAgree(tr->comm, st ? st : sf));
    GyreCall(GyreOptimizerStep(tr->opt, NULL));
    /* the global batch loss and the stop flag, in one reduction */
    int    lstop = tr->o->stop ? tr->o->stop(tr->o->stop_ctx) : 0;
    double v[2]  = {c, lstop != 0 ? 1.0 : 0.0};
    MPI_Allreduce(MPI_IN_PLACE, v, 2, MPI_DOUBLE, MPI_SUM, tr->comm);
    *sum += v[0];
    if (v[1] != 0) {
      /* the stop value (the CLI: the signal's number), the largest over the ranks */
      int code = lstop > 0 ? lstop : 0;
      MPI_Allreduce(MPI_IN_PLACE, &code, 1, MPI_INT, MPI_MAX, tr->comm);
      *done    = k + 1;
      *stopped = code > 0 ? code : 1;
      /* the prefetch thread may be reading the next batch (HDF5 underneath): it must end
       * before the checkpoint is written, HDF5 not being thread-safe (a SIGUSR1 mid-epoch
       * crashed 5 runs in 8 without this); its batch is not needed */
      (void) GyreDatasetWait(tr->ds);
      return GYRE_OK;
    }
  }
  return GYRE_OK;
}

/* The mean loss over every validation sample (evaluation mode); NaN without validation data.
 * Rank r evaluates a contiguous share of the samples in chunks. */
static GyreStatus validate(Trainer *tr, double *val_loss)
{
  int64_t nval = tr->info.nval;
  *val_loss    = NAN;
  if (nval == 0) return GYRE_OK;
  int64_t    lo = nval * tr->rank / tr->size, hi = nval * (tr->rank + 1) / tr->size;
  int64_t    chunk = tr->info.rank_batch > 64 ? tr->info.rank_batch : 64;
  double     sum   = 0;
  GyreBatch  b     = {0};
  GyreStatus st    = GYRE_OK;
  for (int64_t s = lo; s < hi && !st; s += chunk) {
    int64_t n = hi - s < chunk ? hi - s : chunk;
    double  l = 0;
    st        = GyreDatasetReadSamples(tr->ds, GYRE_SPLIT_VAL, s, n, &b);
    if (!st) GyreNormalizationApply(&tr->norm, &b);
    if (!st) st = load_batch(tr, &b);
    if (!st) st = GyreNetForward(tr->net, &tr->x, &tr->y, 0);
    if (!st) st = loss(tr, &l, NULL);
    sum += l * (double) n;
  }
  GyreBatchFree(&b);
  GyreCall(GyreStatusAgree(tr->comm, st));
  MPI_Allreduce(MPI_IN_PLACE, &sum, 1, MPI_DOUBLE, MPI_SUM, tr->comm);
  *val_loss = sum / (double) nval;
  return GYRE_OK;
}

/* FNV-1a of every parameter's bytes: the ranks must hold identical weights. */
static GyreStatus check_ranks_agree(Trainer *tr, int epoch)
{
  uint64_t h = 1469598103934665603ULL;
  for (int i = 0; i < tr->np; i++) {
    size_t n = tr->params[i]->size;
    float *v = malloc(n * sizeof(float) + 1);
    if (!v) return GyreStatusSet(GYRE_ERR_MEM, "train: out of memory");
    GyreStatus st = GyreTensorCopyToHost(tr->params[i], v);
    for (size_t k = 0; k < n * sizeof(float) && !st; k++)
      h = (h ^ ((const unsigned char *) v)[k]) * 1099511628211ULL;
    free(v);
    GyreCall(st);
  }
  uint64_t mn, mx;
  MPI_Allreduce(&h, &mn, 1, MPI_UINT64_T, MPI_MIN, tr->comm);
  MPI_Allreduce(&h, &mx, 1, MPI_UINT64_T, MPI_MAX, tr->comm);
  if (mn != mx)
    return GyreStatusSet(GYRE_ERR_INTERNAL,
                         "train: the ranks' weights differ after epoch %d (the gradient "
                         "reduction gave different sums): a bug or a faulty MPI",
                         epoch);
  return GYRE_OK;
}

/* Rank 0 writes path (atomically); every rank gets the status. */
static GyreStatus write_model(Trainer *tr, const char *path, int with_state, long partial_batches,
                              double partial_loss)
{
  GyreStatus st = GYRE_OK;
  if (tr->rank == 0) {
    GyreModelTraining rec = {.nepochs         = tr->nepochs,
                             .epoch           = tr->c_epoch,
                             .train_loss      = tr->c_train,
                             .val_loss        = tr->info.nval > 0 ? tr->c_val : NULL,
                             .opt             = with_state ? tr->opt : NULL,
                             .partial_batches = partial_batches,
                             .partial_loss    = partial_loss};
    st = GyreModelFileWrite(MPI_COMM_SELF, path, tr->net, tr->meta, &tr->norm, &rec);
  }
  return GyreStatusAgree(tr->comm, st);
}

static void hms(double s, char *buf, size_t len)
{
  long t = s > 0 && s < 1e9 ? (long) (s + 0.5) : 0;
  if (t >= 3600)
    snprintf(buf, len, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
  else
    snprintf(buf, len, "%ld:%02ld", t / 60, t % 60);
}

/* ---- the driver ----------------------------------------------------------------------- */

static GyreStatus check_options(const GyreTrainerOptions *o)
{
  if (!o->out || !o->out[0])
    return GyreStatusSet(GYRE_ERR_ARG, "train: no output model file "
                                       "(-train_out) given");
  if (o->epochs < 1) return GyreStatusSet(GYRE_ERR_ARG, "train: -train_epochs %d < 1", o->epochs);
  if (o->epochs_per_run < 0)
    return GyreStatusSet(GYRE_ERR_ARG, "train: -train_epochs_per_run %d < 0", o->epochs_per_run);
  if (o->early_stop < 0)
    return GyreStatusSet(GYRE_ERR_ARG, "train: -train_early_stop %d < 0", o->early_stop);
  GyreOptimizerOptions opt = o->opt;
  opt.epochs               = o->epochs;
  if (opt.schedule == GYRE_SCHED_COSINE && opt.warmup >= opt.epochs)
    return GyreStatusSet(GYRE_ERR_ARG, "train: -train_warmup %d must be below -train_epochs %d",
                         opt.warmup, opt.epochs);
  return GyreOptimizerOptionsCheck(&opt);
}

static GyreStatus run(Trainer *tr, GyreTrainerResult *res)
{
  const GyreTrainerOptions *o = tr->o;

  /* 1. the data: files, split, batches */
  GyreCall(GyreDatasetCreate(tr->comm, &o->data, &tr->ds));
  GyreCall(GyreDatasetGetInfo(tr->ds, &tr->info));
  if (tr->info.nbatches < 1)
    return GyreStatusSet(GYRE_ERR_ARG,
                         "train: %lld training samples do not fill one global batch of %d "
                         "(-train_batch)",
                         (long long) tr->info.ntrain, o->data.batch);
  res->ntrain = tr->info.ntrain, res->nval = tr->info.nval;

  /* 2. the network, its optimiser and the gradient reduction */
  GyreCall(describe_model(tr));
  GyreCall(create_net(tr, tr->meta, &tr->net));
  GyreTensor *const *grads;
  const char *const *names;
  GyreCall(GyreNetParameters(tr->net, &tr->np, &tr->params, &grads, &names));
  GyreOptimizerOptions opt = o->opt;
  opt.epochs               = o->epochs;
  GyreCall(GyreOptimizerCreate(tr->be, tr->np, tr->params, grads, &opt, &tr->opt));
  GyreCall(GyreGradSyncCreate(tr->comm, tr->be, tr->np, grads, o->bucket_bytes, &tr->sync));
  GyreCall(GyreNetSetGradHook(tr->net, GyreGradSyncReady, tr->sync));
  res->buckets = GyreGradSyncBuckets(tr->sync);
  size_t ne    = (size_t) o->epochs;
  tr->c_epoch  = malloc(ne * sizeof(double));
  tr->c_train  = malloc(ne * sizeof(double));
  tr->c_val    = malloc(ne * sizeof(double));
  if (!tr->c_epoch || !tr->c_train || !tr->c_val)
    return GyreStatusSet(GYRE_ERR_MEM, "train: out of memory");

  /* 3. a fresh start (normalisation from the training data) or a resumed run */
  const char *from = NULL;
  if (o->resume && !strcmp(o->resume, "auto")) {
    int e = tr->rank == 0 ? exists(tr->ckpt) : 0;
    MPI_Bcast(&e, 1, MPI_INT, 0, tr->comm);
    if (e) from = tr->ckpt;
  } else if (o->resume && o->resume[0])
    from = o->resume;
  if (from)
    GyreCall(resume(tr, from));
  else
    GyreCall(GyreDatasetComputeNormalization(tr->ds, &tr->norm));

  int    best_epoch = -1, since_best = 0;
  double best = INFINITY;
  for (int e = 0; e < tr->nepochs; e++) {
    double l = tr->info.nval > 0 ? tr->c_val[e] : tr->c_train[e];
    if (l < best) best = l, best_epoch = e;
  }
  since_best = best_epoch >= 0 ? tr->nepochs - 1 - best_epoch : 0;
  FILE *log  = tr->rank == 0 ? o->log : NULL;
  if (log) {
    fprintf(log,
            "train: %s, %zu parameters, %s -> %s on %d x %d points; %lld training and %lld "
            "validation samples, global batch %d over %d rank(s), %lld steps per epoch, %d "
            "gradient bucket(s)\n",
            tr->meta->type == GYRE_NET_MLP   ? "mlp"
            : tr->meta->type == GYRE_NET_FNO ? "fno"
                                             : "cnn",
            GyreNetParameterCount(tr->net), tr->meta->input_fields, tr->meta->output_fields,
            tr->meta->grid_nx, tr->meta->grid_ny, (long long) tr->info.ntrain,
            (long long) tr->info.nval, o->data.batch, tr->size, (long long) tr->info.nbatches,
            res->buckets);
    fprintf(log, "train: backend %s, gradient sums: %s\n", tr->be->ops->name,
            GyreGradSyncTransport(tr->sync));
    if (from)
      fprintf(log, "train: resumed from '%s' after epoch %d%s (best so far: epoch %d)\n", from,
              tr->nepochs, tr->partial_batches ? " and part of the next" : "", best_epoch + 1);
    fflush(log);
  }

  /* 4. the epochs */
  res->start_epoch = tr->nepochs;
  res->started     = 1;
  double t_train = 0, t_all = 0;
  int    ran  = 0;
  int    last = o->epochs;
  if (o->epochs_per_run > 0 && tr->nepochs + o->epochs_per_run < last)
    last = tr->nepochs + o->epochs_per_run;
  /* a training whose last -train_early_stop epochs brought no better loss, resumed (a requeued
   * job run again after it had stopped early, or -train_epochs raised): it stops here, as the
   * uninterrupted run does (it trained on, changing the finished model) */
  if (from && o->early_stop > 0 && since_best >= o->early_stop && tr->nepochs < o->epochs &&
      !tr->partial_batches) {
    res->stopped_early = 1, last = tr->nepochs;
    if (log)
      fprintf(log,
              "train: early stop: no better %s loss in the %d epochs after epoch %d of '%s' "
              "(-train_early_stop %d): nothing more to do (a larger -train_early_stop trains "
              "on)\n",
              tr->info.nval > 0 ? "validation" : "training", since_best, best_epoch + 1, from,
              o->early_stop);
  }
  for (int e = tr->nepochs; e < last; e++) {
    double t0 = MPI_Wtime(), tl, vl, sum = 0;
    long   first = 0, done = 0;
    int    stopped = 0;
    if (tr->partial_batches > 0) { /* resuming an epoch stopped part-way */
      first = tr->partial_batches, sum = tr->partial_loss;
      tr->partial_batches = 0, tr->partial_loss = 0;
    }
    GyreCall(train_epoch(tr, e, first, &sum, &done, &stopped));
    if (stopped) {
      res->interrupted = stopped;
      GyreCall(write_model(tr, tr->ckpt, 1, done, sum));
      if (log)
        fprintf(log,
                "train: stopped by signal %d (%s) in epoch %d after batch %ld of %lld; "
                "checkpoint in '%s': resume with -train_resume auto\n",
                stopped, stopped > 0 && stopped < 65 ? strsignal(stopped) : "a stop request", e + 1,
                done, (long long) tr->info.nbatches, tr->ckpt);
      break;
    }
    tl        = sum / (double) tr->info.nbatches;
    double t1 = MPI_Wtime();
    GyreCall(validate(tr, &vl));
    double vl32 = NAN;
    if (strcmp(GyreBackendPrecision(tr->be), "fp32") && tr->info.nval > 0) {
      /* tf32/bf16: the same weights' validation loss in fp32, the change recorded */
      char prec[8];
      snprintf(prec, sizeof prec, "%s", GyreBackendPrecision(tr->be));
      GyreCall(GyreBackendSetPrecision(tr->be, "fp32"));
      GyreStatus st = validate(tr, &vl32);
      GyreCall(GyreBackendSetPrecision(tr->be, prec));
      GyreCall(st);
    }
    GyreCall(check_ranks_agree(tr, e + 1));
    tr->c_epoch[e] = e + 1, tr->c_train[e] = tl, tr->c_val[e] = vl;
    tr->nepochs   = e + 1;
    double score  = tr->info.nval > 0 ? vl : tl;
    int    better = score < best;
    if (better) {
      best = score, best_epoch = e, since_best = 0;
      tr->meta->val_loss_precision = vl, tr->meta->val_loss_fp32 = vl32;
      GyreCall(write_model(tr, o->out, 0, 0, 0));
    } else
      since_best++;
    GyreCall(write_model(tr, tr->ckpt, 1, 0, 0));
    double t2 = MPI_Wtime();
    t_train += t1 - t0, t_all += t2 - t0, ran++;
    if (log) {
      char   eta[32];
      double rate = (double) tr->info.nbatches * o->data.batch / (t1 - t0);
      hms(t_all / ran * (last - e - 1), eta, sizeof eta);
      char v32[48] = "";
      if (!isnan(vl32)) snprintf(v32, sizeof v32, " (fp32 %.4e)", vl32);
      char vs[32] = "-"; /* (no validation samples: the training loss decides) */
      if (tr->info.nval > 0) snprintf(vs, sizeof vs, "%.4e", vl);
      fprintf(log, "epoch %d/%d  train %.4e  val %s%s  lr %.3g  %.0f samples/s  ETA %s%s\n", e + 1,
              o->epochs, tl, vs, v32, GyreOptimizerGetLR(tr->opt), rate, eta,
              better ? "  (best, saved)" : "");
      fflush(log);
    }
    if (o->early_stop > 0 && since_best >= o->early_stop && e + 1 < o->epochs) {
      res->stopped_early = 1;
      if (log)
        fprintf(log, "train: early stop: no better %s loss for %d epochs\n",
                tr->info.nval > 0 ? "validation" : "training", o->early_stop);
      break;
    }
  }
  if (best_epoch < 0) /* resumed at the last epoch with nothing better: the best model exists */
    best_epoch = tr->nepochs - 1;
  res->epochs_run    = tr->nepochs;
  res->best_epoch    = best_epoch;
  res->best_loss     = best;
  res->train_loss    = tr->nepochs ? tr->c_train[tr->nepochs - 1] : NAN;
  res->val_loss      = tr->nepochs ? tr->c_val[tr->nepochs - 1] : NAN;
  res->samples_per_s = t_train > 0 ? (double) ran * tr->info.nbatches * o->data.batch / t_train : 0;
  if (log && tr->nepochs < o->epochs && !res->stopped_early && !res->interrupted)
    fprintf(log,
            "train: stopped after epoch %d of %d (-train_epochs_per_run %d): resume with "
            "-train_resume %s\n",
            tr->nepochs, o->epochs, o->epochs_per_run, tr->ckpt);
  if (log) {
    fprintf(log, "train: best model (epoch %d, %s loss %.4e) in '%s'; checkpoint in '%s'\n",
            best_epoch + 1, tr->info.nval > 0 ? "validation" : "training", best, o->out, tr->ckpt);
    fflush(log);
  }
  return GYRE_OK;
}

void GyreTrainerCheckpointPath(const GyreTrainerOptions *o, char *buf, size_t n)
{
  if (o->checkpoint && o->checkpoint[0]) {
    snprintf(buf, n, "%s", o->checkpoint);
    return;
  }
  size_t len = strlen(o->out);
  if (len > 3 && !strcmp(o->out + len - 3, ".nc")) len -= 3;
  snprintf(buf, n, "%.*s.ckpt.nc", (int) len, o->out);
}

GyreStatus GyreTrain(MPI_Comm comm, GyreBackend *be, const GyreTrainerOptions *o,
                     GyreTrainerResult *res)
{
  GyreTrainerResult dummy;
  if (!res) res = &dummy;
  memset(res, 0, sizeof *res);
  GyreCall(GyreStatusAgree(comm, check_options(o)));
  /* the CPU backend's bf16 is a CNN's inference; its training would be fp32 labelled bf16 */
  if (!strcmp(be->ops->name, "cpu") && strcmp(GyreBackendPrecision(be), "fp32"))
    return GyreStatusSet(GYRE_ERR_ARG,
                         "train: the cpu backend trains in fp32 (its precision is %s: bf16 is "
                         "for a CNN's inference)",
                         GyreBackendPrecision(be));
  Trainer tr = {0};
  tr.comm = comm, tr.be = be, tr.o = o;
  MPI_Comm_rank(comm, &tr.rank);
  MPI_Comm_size(comm, &tr.size);
  GyreTrainerCheckpointPath(o, tr.ckpt, sizeof tr.ckpt);
  if (GyreFilesSame(tr.ckpt, o->out)) /* ./m.nc and m.nc too */
    return GyreStatusSet(GYRE_ERR_ARG, "train: the checkpoint and the model file are both '%s'",
                         o->out);
  tr.meta = calloc(1, sizeof *tr.meta);
  if (!tr.meta) return GyreStatusSet(GYRE_ERR_MEM, "train: out of memory");
  GyreStatus st = run(&tr, res);
  /* every rank has agreed on st: clean up */
  GyreTensorDestroy(&tr.x), GyreTensorDestroy(&tr.y), GyreTensorDestroy(&tr.t);
  GyreTensorDestroy(&tr.dy);
  GyreGradSyncDestroy(&tr.sync);
  GyreOptimizerDestroy(&tr.opt);
  GyreNetDestroy(&tr.net);
  GyreDatasetDestroy(&tr.ds);
  free(tr.c_epoch), free(tr.c_train), free(tr.c_val);
  free(tr.meta);
  return st;
}
