/* batchnorm.c — the batch-normalisation layer, synchronised over MPI ranks in training
 * (PyTorch's SyncBatchNorm). Semantics and decisions: gyre_train.h.
 *
 * The layer calls the backend table only. The per-channel reductions come back from the
 * backend as host doubles (count, sum, sumsq; sum dy, sum dy xhat); one MPI_Allreduce per
 * pass adds them over the communicator; the per-channel results (mean, invstd, the means of
 * dy and dy xhat) are computed on the host in double and copied to backend memory (C floats
 * each), where the elementwise ops read them.
 *
 * The variance is sumsq/count - mean^2 in double: for inputs whose mean is much larger than
 * their spread this loses digits (about log10((mean/std)^2) of the 16), which is harmless
 * for the normalised inputs and hidden activations a network sees. */
#include <math.h>
#include <stdlib.h>
#include "gyre_train.h"

GyreStatus GyreBatchNormCreate(GyreBackend *be, int channels, GyreBatchNorm **out)
{
  GyreBatchNorm *bn;
  int64_t        C = channels;

  *out = NULL;
  if (!be) return GyreStatusSet(GYRE_ERR_ARG, "batch norm: no backend");
  if (channels < 1)
    return GyreStatusSet(GYRE_ERR_ARG, "batch norm: %d channels (at least 1 expected)", channels);
  if (!(bn = calloc(1, sizeof *bn)))
    return GyreStatusSet(GYRE_ERR_MEM, "batch norm: out of memory");
  bn->be       = be;
  bn->channels = channels;
  bn->eps      = 1e-5f;
  bn->momentum = 0.1f;
  bn->hbuf     = malloc((4 * (size_t) C + 1) * sizeof *bn->hbuf);
  bn->fbuf     = malloc(4 * (size_t) C * sizeof *bn->fbuf);
  *out         = bn; /* from here GyreBatchNormDestroy frees whatever was made */
  if (!bn->hbuf || !bn->fbuf) {
    GyreBatchNormDestroy(out);
    return GyreStatusSet(GYRE_ERR_MEM, "batch norm: out of memory");
  }
  GyreTensor *t[] = {&bn->gamma,       &bn->beta, &bn->dgamma, &bn->dbeta, &bn->running_mean,
                     &bn->running_var, &bn->mean, &bn->invstd, &bn->mdy,   &bn->mdyx};
  for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
    GyreStatus s = GyreTensorCreate(be, 1, &C, t[i]);
    if (s) {
      GyreBatchNormDestroy(out);
      return s;
    }
  }
  GyreCall(GyreTensorFill(&bn->gamma, 1.0f));
  GyreCall(GyreTensorFill(&bn->running_var, 1.0f));
  GyreCall(GyreTensorFill(&bn->invstd, 1.0f));
  return GYRE_OK;
}

GyreStatus GyreBatchNormDestroy(GyreBatchNorm **pbn)
{
  GyreBatchNorm *bn;

  if (!pbn || !(bn = *pbn)) return GYRE_OK;
  GyreTensor *t[] = {&bn->gamma,       &bn->beta, &bn->dgamma, &bn->dbeta, &bn->running_mean,
                     &bn->running_var, &bn->mean, &bn->invstd, &bn->mdy,   &bn->mdyx};
  for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
    GyreTensorDestroy(t[i]);
  free(bn->hbuf);
  free(bn->fbuf);
  free(bn);
  *pbn = NULL;
  return GYRE_OK;
}

static GyreStatus bn_check(const GyreBatchNorm *bn, const char *what, const GyreTensor *x,
                           const GyreTensor *y)
{
  char sx[96];

  if (!x || !y) return GyreStatusSet(GYRE_ERR_ARG, "%s: NULL tensor", what);
  if (x->ndim < 2 || x->shape[1] != bn->channels)
    return GyreStatusSet(GYRE_ERR_ARG, "%s: input %s is not (N, %d, ...)", what,
                         GyreTensorShapeString(x, sx, sizeof sx), bn->channels);
  if (x->backend != bn->be || y->backend != bn->be)
    return GyreStatusSet(GYRE_ERR_ARG, "%s: tensors on another backend than the layer", what);
  return GyreTensorCheckSameShape(what, x, y);
}

static GyreStatus allreduce_sum(double *buf, int n, MPI_Comm comm, const char *what)
{
  int size, err;

  if (MPI_Comm_size(comm, &size) != MPI_SUCCESS)
    return GyreStatusSet(GYRE_ERR_MPI, "%s: MPI_Comm_size failed", what);
  if (size == 1) return GYRE_OK;
  err = MPI_Allreduce(MPI_IN_PLACE, buf, n, MPI_DOUBLE, MPI_SUM, comm);
  if (err != MPI_SUCCESS) {
    char msg[MPI_MAX_ERROR_STRING];
    int  len = 0;
    MPI_Error_string(err, msg, &len);
    return GyreStatusSet(GYRE_ERR_MPI, "%s: MPI_Allreduce failed: %s", what, msg);
  }
  return GYRE_OK;
}

GyreStatus GyreBatchNormForward(GyreBatchNorm *bn, int training, MPI_Comm comm, const GyreTensor *x,
                                GyreTensor *y)
{
  GyreBackend          *be = bn->be;
  const GyreBackendOps *op = be->ops;
  const int             C  = bn->channels;
  float *fm = bn->fbuf, *fi = bn->fbuf + C, *frm = bn->fbuf + 2 * C, *frv = bn->fbuf + 3 * C;

  GyreCall(bn_check(bn, "batch norm forward", x, y));
  if (x->data == y->data)
    return GyreStatusSet(GYRE_ERR_ARG, "batch norm forward: output aliases the input (the "
                                       "backward pass needs the input)");
  GyreCall(GyreTensorCopyToHost(&bn->running_mean, frm));
  GyreCall(GyreTensorCopyToHost(&bn->running_var, frv));
  bn->training = training != 0;
  if (training) {
    double *cnt = bn->hbuf, *sum = bn->hbuf + 1, *sumsq = bn->hbuf + 1 + C;
    double  n;

    GyreCall(op->bn_stats(be, x, sum, sumsq));
    cnt[0] = (double) (x->size / (size_t) C);
    GyreCall(allreduce_sum(bn->hbuf, 2 * C + 1, comm, "batch norm forward"));
    n = cnt[0];
    if (n <= 1)
      return GyreStatusSet(GYRE_ERR_ARG,
                           "batch norm forward: %g value(s) per channel in "
                           "training (more than 1 expected)",
                           n);
    for (int c = 0; c < C; c++) {
      double mean = sum[c] / n, var = sumsq[c] / n - mean * mean;
      if (var < 0) var = 0; /* rounding */
      if (!isfinite(mean) || !isfinite(var))
        return GyreStatusSet(GYRE_ERR_NAN,
                             "batch norm forward: channel %d has a non-finite "
                             "batch mean or variance",
                             c);
      fm[c]  = (float) mean;
      fi[c]  = (float) (1.0 / sqrt(var + (double) bn->eps));
      frm[c] = (float) ((1.0 - bn->momentum) * frm[c] + (double) bn->momentum * mean);
      frv[c] = (float) ((1.0 - bn->momentum) * frv[c] + (double) bn->momentum * var * n / (n - 1));
    }
    bn->count = n;
    bn->num_batches_tracked++;
    GyreCall(GyreTensorCopyFromHost(&bn->running_mean, frm));
    GyreCall(GyreTensorCopyFromHost(&bn->running_var, frv));
  } else {
    for (int c = 0; c < C; c++) {
      fm[c] = frm[c];
      fi[c] = (float) (1.0 / sqrt((double) frv[c] + (double) bn->eps));
    }
  }
  GyreCall(GyreTensorCopyFromHost(&bn->mean, fm));
  GyreCall(GyreTensorCopyFromHost(&bn->invstd, fi));
  return op->bn_forward(be, x, bn->mean.data, bn->invstd.data, bn->gamma.data, bn->beta.data, y);
}

static GyreStatus eval_invstd_host(const GyreBatchNorm *bn, GyreTensor *invstd);

GyreStatus GyreBatchNormEvalInvstd(const GyreBatchNorm *bn, GyreTensor *invstd)
{
  GyreBackend *be = bn->be;
  GyreCall(GyreTensorCheckSameShape("batch norm evaluation: invstd vs channels", invstd,
                                    &bn->running_var));
  if (be->ops->bn_invstd) /* on the device: no copy to the host and back (a sync each) */
    return be->ops->bn_invstd(be, bn->channels, bn->running_var.data, bn->eps, invstd->data);
  return eval_invstd_host(bn, invstd);
}

GyreStatus GyreBatchNormEval(const GyreBatchNorm *bn, const GyreTensor *x, GyreTensor *y,
                             GyreTensor *invstd)
{
  GyreBackend *be = bn->be;
  GyreCall(bn_check(bn, "batch norm evaluation", x, y));
  GyreCall(GyreBatchNormEvalInvstd(bn, invstd));
  return be->ops->bn_forward(be, x, bn->running_mean.data, invstd->data, bn->gamma.data,
                             bn->beta.data, y);
}

/* invstd = 1 / sqrt(running_var + eps) through the host */
static GyreStatus eval_invstd_host(const GyreBatchNorm *bn, GyreTensor *invstd)
{
  const int C = bn->channels;
  float    *h = malloc((size_t) C * sizeof(float));
  if (!h) return GyreStatusSet(GYRE_ERR_MEM, "batch norm evaluation: out of memory");
  GyreStatus st = GyreTensorCopyToHost(&bn->running_var, h);
  for (int c = 0; c < C; c++) /* as GyreBatchNormForward's evaluation branch */
    h[c] = (float) (1.0 / sqrt((double) h[c] + (double) bn->eps));
  if (!st) st = GyreTensorCopyFromHost(invstd, h);
  free(h);
  return st;
}

GyreStatus GyreBatchNormBackward(GyreBatchNorm *bn, MPI_Comm comm, const GyreTensor *x,
                                 const GyreTensor *dy, GyreTensor *dx)
{
  GyreBackend          *be  = bn->be;
  const GyreBackendOps *op  = be->ops;
  const int             C   = bn->channels;
  double               *sdy = bn->hbuf, *sdyx = bn->hbuf + C;
  float                *f1 = bn->fbuf, *f2 = bn->fbuf + C;

  GyreCall(bn_check(bn, "batch norm backward", x, dy));
  if (dx) GyreCall(GyreTensorCheckSameShape("batch norm backward", x, dx));

  /* local sums; the parameter gradients take this rank's part */
  GyreCall(op->bn_backward_stats(be, x, bn->mean.data, bn->invstd.data, dy, sdy, sdyx));
  for (int c = 0; c < C; c++) {
    f1[c] = (float) sdy[c];
    f2[c] = (float) sdyx[c];
  }
  GyreCall(GyreTensorCopyFromHost(&bn->mdy, f1));
  GyreCall(GyreTensorCopyFromHost(&bn->mdyx, f2));
  GyreCall(op->axpby(be, (size_t) C, 1.0f, bn->mdy.data, 1.0f, bn->dbeta.data));
  GyreCall(op->axpby(be, (size_t) C, 1.0f, bn->mdyx.data, 1.0f, bn->dgamma.data));

  if (bn->training) {
    /* the input gradient goes through the global statistics */
    GyreCall(allreduce_sum(bn->hbuf, 2 * C, comm, "batch norm backward"));
    for (int c = 0; c < C; c++) {
      f1[c] = (float) (sdy[c] / bn->count);
      f2[c] = (float) (sdyx[c] / bn->count);
    }
    GyreCall(GyreTensorCopyFromHost(&bn->mdy, f1));
    GyreCall(GyreTensorCopyFromHost(&bn->mdyx, f2));
  } else {
    /* fixed running statistics: dx = gamma invstd dy */
    GyreCall(GyreTensorFill(&bn->mdy, 0.0f));
    GyreCall(GyreTensorFill(&bn->mdyx, 0.0f));
  }
  if (!dx) return GYRE_OK;
  return op->bn_backward(be, x, bn->mean.data, bn->invstd.data, bn->gamma.data, dy, bn->mdy.data,
                         bn->mdyx.data, dx);
}
