/* optimizer.c — Adam/AdamW over a list of parameter tensors, learning-rate schedules by
 * epoch and gradient clipping by global norm. Semantics and decisions: gyre_train.h.
 *
 * The optimiser calls the backend table only: adam_update per tensor, dot for the gradient
 * norm (double), scale for clipping, fill for zeroing. The moments live in backend memory,
 * one (m, v) pair per parameter tensor; the step count is shared (PyTorch keeps one per
 * tensor, but they are always equal when every parameter is stepped together). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "gyre_train.h"

static const double gyre_pi = 3.14159265358979323846;

struct GyreOptimizer_s {
  GyreBackend         *be;
  GyreOptimizerOptions opt;
  int                  n;
  GyreTensor         **p, **g;
  GyreTensor          *m, *v;
  long                 step;
  double               lr;
};

void GyreOptimizerOptionsDefault(GyreOptimizerOptions *o)
{
  memset(o, 0, sizeof *o);
  o->type         = GYRE_OPT_ADAM;
  o->lr           = 1e-3;
  o->beta1        = 0.9;
  o->beta2        = 0.999;
  o->eps          = 1e-8;
  o->weight_decay = 0;
  o->schedule     = GYRE_SCHED_CONSTANT;
  o->step_size    = 30;
  o->step_gamma   = 0.1;
  o->warmup       = 0;
  o->epochs       = 100;
  o->min_lr       = 0;
  o->clip         = 0;
}

GyreStatus GyreOptimizerOptionsCheck(const GyreOptimizerOptions *o)
{
  if (o->type != GYRE_OPT_ADAM && o->type != GYRE_OPT_ADAMW)
    return GyreStatusSet(GYRE_ERR_ARG, "-train_optimizer: unknown type %d (adam, adamw)",
                         (int) o->type);
  if (!(o->lr > 0) || !isfinite(o->lr))
    return GyreStatusSet(GYRE_ERR_ARG, "-train_lr %g: a positive learning rate expected", o->lr);
  if (!(o->beta1 >= 0 && o->beta1 < 1) || !(o->beta2 >= 0 && o->beta2 < 1))
    return GyreStatusSet(GYRE_ERR_ARG, "-train_betas %g,%g: each in [0, 1) expected", o->beta1,
                         o->beta2);
  if (!(o->eps > 0)) return GyreStatusSet(GYRE_ERR_ARG, "-train_eps %g: positive expected", o->eps);
  if (!(o->weight_decay >= 0))
    return GyreStatusSet(GYRE_ERR_ARG, "-train_weight_decay %g: >= 0 expected", o->weight_decay);
  switch (o->schedule) {
  case GYRE_SCHED_CONSTANT:
    break;
  case GYRE_SCHED_STEP:
    if (o->step_size < 1)
      return GyreStatusSet(GYRE_ERR_ARG, "-train_step_size %d: at least 1 epoch expected",
                           o->step_size);
    if (!(o->step_gamma > 0))
      return GyreStatusSet(GYRE_ERR_ARG, "-train_step_gamma %g: positive expected", o->step_gamma);
    break;
  case GYRE_SCHED_COSINE:
    if (o->warmup < 0)
      return GyreStatusSet(GYRE_ERR_ARG, "-train_warmup %d: >= 0 expected", o->warmup);
    if (o->epochs <= o->warmup)
      return GyreStatusSet(GYRE_ERR_ARG,
                           "cosine schedule: %d epochs with %d warm-up epochs "
                           "(more epochs than warm-up expected)",
                           o->epochs, o->warmup);
    if (!(o->min_lr >= 0) || o->min_lr > o->lr)
      return GyreStatusSet(GYRE_ERR_ARG, "-train_min_lr %g: in [0, -train_lr %g] expected",
                           o->min_lr, o->lr);
    break;
  default:
    return GyreStatusSet(GYRE_ERR_ARG,
                         "-train_schedule: unknown schedule %d (constant, step, "
                         "cosine)",
                         (int) o->schedule);
  }
  if (!(o->clip >= 0) && !(o->clip <= 0)) return GyreStatusSet(GYRE_ERR_ARG, "-train_clip: NaN");
  return GYRE_OK;
}

double GyreOptimizerScheduleLR(const GyreOptimizerOptions *o, int epoch)
{
  if (epoch < 0) epoch = 0;
  switch (o->schedule) {
  case GYRE_SCHED_STEP:
    return o->lr * pow(o->step_gamma, (double) (epoch / o->step_size));
  case GYRE_SCHED_COSINE:
    if (epoch < o->warmup) return o->lr * (double) (epoch + 1) / (double) o->warmup;
    if (epoch >= o->epochs) return o->min_lr;
    return o->min_lr + (o->lr - o->min_lr) *
                           (1.0 + cos(gyre_pi * (double) (epoch - o->warmup) /
                                      (double) (o->epochs - o->warmup))) /
                           2.0;
  default:
    return o->lr;
  }
}

GyreStatus GyreOptimizerCreate(GyreBackend *be, int nparams, GyreTensor *const *params,
                               GyreTensor *const *grads, const GyreOptimizerOptions *opt,
                               GyreOptimizer **out)
{
  GyreOptimizer *o;
  GyreStatus     s;

  *out = NULL;
  if (!be || nparams < 0 || (nparams > 0 && (!params || !grads)) || !opt)
    return GyreStatusSet(GYRE_ERR_ARG, "optimizer: no backend, parameters or options");
  GyreCall(GyreOptimizerOptionsCheck(opt));
  for (int i = 0; i < nparams; i++) {
    char what[64];
    if (!params[i] || !grads[i] || !params[i]->data || !grads[i]->data)
      return GyreStatusSet(GYRE_ERR_ARG, "optimizer: parameter %d or its gradient is empty", i);
    if (params[i]->backend != be || grads[i]->backend != be)
      return GyreStatusSet(GYRE_ERR_ARG, "optimizer: parameter %d is on another backend", i);
    snprintf(what, sizeof what, "optimizer: parameter %d and its gradient", i);
    GyreCall(GyreTensorCheckSameShape(what, params[i], grads[i]));
  }
  if (!(o = calloc(1, sizeof *o))) return GyreStatusSet(GYRE_ERR_MEM, "optimizer: out of memory");
  o->be  = be;
  o->opt = *opt;
  o->n   = nparams;
  o->lr  = GyreOptimizerScheduleLR(opt, 0);
  o->p   = calloc((size_t) nparams + 1, sizeof *o->p);
  o->g   = calloc((size_t) nparams + 1, sizeof *o->g);
  o->m   = calloc((size_t) nparams + 1, sizeof *o->m);
  o->v   = calloc((size_t) nparams + 1, sizeof *o->v);
  *out   = o;
  if (!o->p || !o->g || !o->m || !o->v) {
    GyreOptimizerDestroy(out);
    return GyreStatusSet(GYRE_ERR_MEM, "optimizer: out of memory");
  }
  for (int i = 0; i < nparams; i++) {
    o->p[i] = params[i];
    o->g[i] = grads[i];
    if ((s = GyreTensorCreate(be, params[i]->ndim, params[i]->shape, &o->m[i])) ||
        (s = GyreTensorCreate(be, params[i]->ndim, params[i]->shape, &o->v[i]))) {
      GyreOptimizerDestroy(out);
      return s;
    }
  }
  return GYRE_OK;
}

GyreStatus GyreOptimizerDestroy(GyreOptimizer **po)
{
  GyreOptimizer *o;

  if (!po || !(o = *po)) return GYRE_OK;
  for (int i = 0; i < o->n; i++) {
    if (o->m) GyreTensorDestroy(&o->m[i]);
    if (o->v) GyreTensorDestroy(&o->v[i]);
  }
  free(o->p);
  free(o->g);
  free(o->m);
  free(o->v);
  free(o);
  *po = NULL;
  return GYRE_OK;
}

GyreStatus GyreOptimizerSetEpoch(GyreOptimizer *o, int epoch)
{
  o->lr = GyreOptimizerScheduleLR(&o->opt, epoch);
  return GYRE_OK;
}

double GyreOptimizerGetLR(const GyreOptimizer *o)
{
  return o->lr;
}

static GyreStatus grad_norm(GyreOptimizer *o, double *norm)
{
  double sum = 0;
  for (int i = 0; i < o->n; i++) {
    double d;
    GyreCall(o->be->ops->dot(o->be, o->g[i]->size, o->g[i]->data, o->g[i]->data, &d));
    sum += d;
  }
  *norm = sqrt(sum);
  return GYRE_OK;
}

GyreStatus GyreOptimizerClipGradients(GyreOptimizer *o, double max_norm, double *norm)
{
  double nrm;

  GyreCall(grad_norm(o, &nrm));
  if (norm) *norm = nrm;
  if (!isfinite(nrm))
    return GyreStatusSet(GYRE_ERR_NAN, "optimizer: the gradient norm is not finite (%g)", nrm);
  if (max_norm > 0 && nrm > max_norm) {
    float s = (float) (max_norm / (nrm + 1e-6));
    for (int i = 0; i < o->n; i++)
      GyreCall(o->be->ops->scale(o->be, o->g[i]->size, s, o->g[i]->data));
  }
  return GYRE_OK;
}

GyreStatus GyreOptimizerStep(GyreOptimizer *o, double *gradnorm)
{
  const GyreOptimizerOptions *op = &o->opt;

  if (op->clip > 0 || gradnorm) GyreCall(GyreOptimizerClipGradients(o, op->clip, gradnorm));
  o->step++;
  for (int i = 0; i < o->n; i++)
    GyreCall(o->be->ops->adam_update(
        o->be, o->p[i]->size, o->p[i]->data, o->g[i]->data, o->m[i].data, o->v[i].data, o->lr,
        op->beta1, op->beta2, op->eps, op->weight_decay, op->type == GYRE_OPT_ADAMW, o->step));
  return GYRE_OK;
}

GyreStatus GyreOptimizerZeroGrad(GyreOptimizer *o)
{
  for (int i = 0; i < o->n; i++)
    GyreCall(GyreTensorFill(o->g[i], 0.0f));
  return GYRE_OK;
}

size_t GyreOptimizerStateSize(const GyreOptimizer *o)
{
  size_t n = 0;
  for (int i = 0; i < o->n; i++)
    n += o->p[i]->size;
  return n;
}

GyreStatus GyreOptimizerGetState(const GyreOptimizer *o, float *m, float *v, long *step)
{
  size_t off = 0;
  for (int i = 0; i < o->n; i++) {
    if (m) GyreCall(GyreTensorCopyToHost(&o->m[i], m + off));
    if (v) GyreCall(GyreTensorCopyToHost(&o->v[i], v + off));
    off += o->p[i]->size;
  }
  if (step) *step = o->step;
  return GYRE_OK;
}

GyreStatus GyreOptimizerSetState(GyreOptimizer *o, const float *m, const float *v, long step)
{
  size_t off = 0;
  if (step < 0)
    return GyreStatusSet(GYRE_ERR_ARG, "optimizer state: step %ld (>= 0 expected)", step);
  for (int i = 0; i < o->n; i++) {
    if (m) GyreCall(GyreTensorCopyFromHost(&o->m[i], m + off));
    if (v) GyreCall(GyreTensorCopyFromHost(&o->v[i], v + off));
    off += o->p[i]->size;
  }
  o->step = step;
  return GYRE_OK;
}
