/* test_nn_batchnorm.c — the batch-normalisation layer (surrogates/batchnorm.c) and the CPU
 * ops under it (surrogates/cpu/batchnorm.c). Run on 1 and 2 ranks.
 *
 *  1. forward (training, 2-D and 1-D, and a 2-D batch large enough for threads): per-channel mean 0
 * and variance 1 of the output with gamma = 1, beta = 0 (to 1e-5), and the output with random
 * gamma, beta equals a double reference (to 1e-5 relative to the largest output);
 *  2. gradient: dx, dgamma, dbeta of L = sum w y against central finite differences of a
 *     double implementation of the whole layer (through the batch statistics); relative
 *     error <= 1e-4, while dropping the statistics terms (a classic bug) gives an error
 *     above 1e-2 — checked, so the tolerance is known to discriminate;
 *  3. SyncBatchNorm: the global batch (5 samples) is split unevenly over the ranks of
 *     MPI_COMM_WORLD; the outputs, input gradients, summed parameter gradients and running
 *     statistics equal those of one layer on the full batch over MPI_COMM_SELF (to 1e-5);
 *     the running statistics after one step equal PyTorch's formula (momentum 0.1, unbiased
 *     variance) in double; evaluation mode uses them;
 *  4. a wrong channel count is a GYRE_ERR_ARG naming the shape. */
#include <mpi.h>
#include <string.h>
#include "gyre_train.h"
#include "nn_train_check.h"

static int rank = 0, size = 1;

/* double reference of the training forward: x (N, C, S) */
static void ref_forward(int N, int C, int S, const double *x, const double *g, const double *b,
                        double eps, double *y, double *mean, double *var)
{
  for (int c = 0; c < C; c++) {
    double m = 0, v = 0;
    for (int n = 0; n < N; n++)
      for (int s = 0; s < S; s++)
        m += x[((size_t) n * C + c) * S + s];
    m /= (double) N * S;
    for (int n = 0; n < N; n++)
      for (int s = 0; s < S; s++) {
        double d = x[((size_t) n * C + c) * S + s] - m;
        v += d * d;
      }
    v /= (double) N * S;
    if (mean) mean[c] = m;
    if (var) var[c] = v;
    for (int n = 0; n < N; n++)
      for (int s = 0; s < S; s++) {
        size_t i = ((size_t) n * C + c) * S + s;
        y[i]     = g[c] * (x[i] - m) / sqrt(v + eps) + b[c];
      }
  }
}

static double ref_loss(int N, int C, int S, const double *x, const double *g, const double *b,
                       double eps, const double *w, double *ywork)
{
  double L = 0;
  ref_forward(N, C, S, x, g, b, eps, ywork, NULL, NULL);
  for (size_t i = 0; i < (size_t) N * C * S; i++)
    L += w[i] * ywork[i];
  return L;
}

static double max_abs(const double *a, size_t n)
{
  double m = 0;
  for (size_t i = 0; i < n; i++)
    m = fmax(m, fabs(a[i]));
  return m;
}

/* x (N, C, spatial...) with channel c of mean 2c - 1 and spread 2 + c */
static void make_input(float *x, int N, int C, int S, uint64_t seed)
{
  nn_fill_uniform(x, (size_t) N * C * S, seed, -1, 1);
  for (int n = 0; n < N; n++)
    for (int c = 0; c < C; c++)
      for (int s = 0; s < S; s++)
        x[((size_t) n * C + c) * S + s] =
            (float) (2.0 * c - 1.0 + (2.0 + c) * 1.7 * x[((size_t) n * C + c) * S + s]);
}

static void test_forward(GyreBackend *be, int ndim, const int64_t *shape)
{
  int            N = (int) shape[0], C = (int) shape[1], S = 1;
  GyreBatchNorm *bn;
  GyreTensor     x, y;
  for (int d = 2; d < ndim; d++)
    S *= (int) shape[d];
  size_t  n  = (size_t) N * C * S;
  float  *hx = malloc(n * sizeof *hx), *hy = malloc(n * sizeof *hy), g[8], b[8];
  double *dx = calloc(n, sizeof *dx), *dy = calloc(n, sizeof *dy), dg[8], db[8];
  double  worst_mean = 0, worst_var = 0, worst_ref = 0;

  make_input(hx, N, C, S, 11 + ndim);
  CHECK(GyreBatchNormCreate(be, C, &bn));
  CHECK(GyreTensorCreate(be, ndim, shape, &x));
  CHECK(GyreTensorCreate(be, ndim, shape, &y));
  CHECK(GyreTensorCopyFromHost(&x, hx));

  /* gamma = 1, beta = 0: standardised channels */
  CHECK(GyreBatchNormForward(bn, 1, MPI_COMM_SELF, &x, &y));
  CHECK(GyreTensorCopyToHost(&y, hy));
  for (int c = 0; c < C; c++) {
    double m = 0, v = 0;
    for (int i = 0; i < N; i++)
      for (int s = 0; s < S; s++)
        m += hy[((size_t) i * C + c) * S + s];
    m /= (double) N * S;
    for (int i = 0; i < N; i++)
      for (int s = 0; s < S; s++)
        v += pow(hy[((size_t) i * C + c) * S + s] - m, 2);
    v /= (double) N * S;
    worst_mean = fmax(worst_mean, fabs(m));
    worst_var  = fmax(worst_var, fabs(v - 1));
  }
  EXPECT(worst_mean <= 1e-5, "%d-D forward: channel mean %.3g (<= 1e-5 expected)", ndim - 2,
         worst_mean);
  EXPECT(worst_var <= 1e-5, "%d-D forward: |channel variance - 1| %.3g (<= 1e-5 expected)",
         ndim - 2, worst_var);

  /* random gamma, beta against the double reference */
  nn_fill_uniform(g, (size_t) C, 5, 0.5, 1.5);
  nn_fill_uniform(b, (size_t) C, 6, -1, 1);
  for (int c = 0; c < C; c++) {
    dg[c] = g[c];
    db[c] = b[c];
  }
  CHECK(GyreTensorCopyFromHost(&bn->gamma, g));
  CHECK(GyreTensorCopyFromHost(&bn->beta, b));
  CHECK(GyreBatchNormForward(bn, 1, MPI_COMM_SELF, &x, &y));
  CHECK(GyreTensorCopyToHost(&y, hy));
  for (size_t i = 0; i < n; i++)
    dx[i] = hx[i];
  ref_forward(N, C, S, dx, dg, db, 1e-5, dy, NULL, NULL);
  for (size_t i = 0; i < n; i++)
    worst_ref = fmax(worst_ref, fabs(hy[i] - dy[i]));
  worst_ref /= max_abs(dy, n);
  EXPECT(worst_ref <= 1e-5, "%d-D forward vs double reference: %.3g (<= 1e-5 expected)", ndim - 2,
         worst_ref);
  if (rank == 0)
    printf("forward %d-D: |mean| %.2e, |var-1| %.2e, vs double reference %.2e\n", ndim - 2,
           worst_mean, worst_var, worst_ref);
  GyreTensorDestroy(&x);
  GyreTensorDestroy(&y);
  GyreBatchNormDestroy(&bn);
  free(hx);
  free(hy);
  free(dx);
  free(dy);
}

static void test_gradient(GyreBackend *be, int ndim, const int64_t *shape)
{
  int            N = (int) shape[0], C = (int) shape[1], S = 1;
  GyreBatchNorm *bn;
  GyreTensor     x, y, w, dx;
  for (int d = 2; d < ndim; d++)
    S *= (int) shape[d];
  size_t  n  = (size_t) N * C * S;
  float  *hx = malloc(n * sizeof *hx), *hw = malloc(n * sizeof *hw), *hdx = malloc(n * sizeof *hdx);
  float   g[8], b[8], hdg[8], hdb[8], inv[8];
  double *xd = malloc(n * sizeof *xd), *wd = malloc(n * sizeof *wd), *yw = malloc(n * sizeof *yw);
  double *fd = malloc(n * sizeof *fd), gd[8], bd[8], fdg[8], fdb[8], var[8];
  double  h = 1e-6, eps = 1e-5, err_x = 0, err_naive = 0, err_g = 0, err_b = 0;

  make_input(hx, N, C, S, 21 + ndim);
  nn_fill_uniform(hw, n, 22, -1, 1);
  nn_fill_uniform(g, (size_t) C, 23, 0.5, 1.5);
  nn_fill_uniform(b, (size_t) C, 24, -1, 1);
  for (size_t i = 0; i < n; i++) {
    xd[i] = hx[i];
    wd[i] = hw[i];
  }
  for (int c = 0; c < C; c++) {
    gd[c] = g[c];
    bd[c] = b[c];
  }

  /* the layer: dy = w */
  CHECK(GyreBatchNormCreate(be, C, &bn));
  CHECK(GyreTensorCreate(be, ndim, shape, &x));
  CHECK(GyreTensorCreate(be, ndim, shape, &y));
  CHECK(GyreTensorCreate(be, ndim, shape, &w));
  CHECK(GyreTensorCreate(be, ndim, shape, &dx));
  CHECK(GyreTensorCopyFromHost(&x, hx));
  CHECK(GyreTensorCopyFromHost(&w, hw));
  CHECK(GyreTensorCopyFromHost(&bn->gamma, g));
  CHECK(GyreTensorCopyFromHost(&bn->beta, b));
  CHECK(GyreBatchNormForward(bn, 1, MPI_COMM_SELF, &x, &y));
  CHECK(GyreBatchNormBackward(bn, MPI_COMM_SELF, &x, &w, &dx));
  CHECK(GyreTensorCopyToHost(&dx, hdx));
  CHECK(GyreTensorCopyToHost(&bn->dgamma, hdg));
  CHECK(GyreTensorCopyToHost(&bn->dbeta, hdb));
  CHECK(GyreTensorCopyToHost(&bn->invstd, inv));

  /* central differences of the double layer */
  for (size_t i = 0; i < n; i++) {
    double x0 = xd[i], lp, lm;
    xd[i]     = x0 + h;
    lp        = ref_loss(N, C, S, xd, gd, bd, eps, wd, yw);
    xd[i]     = x0 - h;
    lm        = ref_loss(N, C, S, xd, gd, bd, eps, wd, yw);
    xd[i]     = x0;
    fd[i]     = (lp - lm) / (2 * h);
  }
  for (int c = 0; c < C; c++) {
    double p0 = gd[c];
    gd[c]     = p0 + h;
    fdg[c]    = ref_loss(N, C, S, xd, gd, bd, eps, wd, yw);
    gd[c]     = p0 - h;
    fdg[c]    = (fdg[c] - ref_loss(N, C, S, xd, gd, bd, eps, wd, yw)) / (2 * h);
    gd[c]     = p0;
    p0        = bd[c];
    bd[c]     = p0 + h;
    fdb[c]    = ref_loss(N, C, S, xd, gd, bd, eps, wd, yw);
    bd[c]     = p0 - h;
    fdb[c]    = (fdb[c] - ref_loss(N, C, S, xd, gd, bd, eps, wd, yw)) / (2 * h);
    bd[c]     = p0;
  }
  ref_forward(N, C, S, xd, gd, bd, eps, yw, NULL, var);
  for (size_t i = 0; i < n; i++) {
    int c = (int) (i / (size_t) S) % C;
    err_x = fmax(err_x, fabs(hdx[i] - fd[i]));
    /* the gradient without the statistics terms: what a bug that forgets them gives */
    err_naive = fmax(err_naive, fabs(gd[c] / sqrt(var[c] + eps) * wd[i] - fd[i]));
  }
  err_x /= max_abs(fd, n);
  err_naive /= max_abs(fd, n);
  for (int c = 0; c < C; c++) {
    err_g = fmax(err_g, fabs(hdg[c] - fdg[c]) / max_abs(fdg, (size_t) C));
    err_b = fmax(err_b, fabs(hdb[c] - fdb[c]) / max_abs(fdb, (size_t) C));
  }
  EXPECT(err_x <= 1e-4, "%d-D gradient: dx vs finite differences %.3g (<= 1e-4 expected)", ndim - 2,
         err_x);
  EXPECT(err_naive > 1e-2,
         "%d-D gradient: the test cannot tell a gradient without the "
         "statistics terms (error %.3g)",
         ndim - 2, err_naive);
  EXPECT(err_g <= 1e-4, "%d-D gradient: dgamma vs finite differences %.3g", ndim - 2, err_g);
  EXPECT(err_b <= 1e-4, "%d-D gradient: dbeta vs finite differences %.3g", ndim - 2, err_b);

  /* accumulation: a second backward adds the same parameter gradients */
  {
    float hdg2[8];
    CHECK(GyreBatchNormBackward(bn, MPI_COMM_SELF, &x, &w, &dx));
    CHECK(GyreTensorCopyToHost(&bn->dgamma, hdg2));
    for (int c = 0; c < C; c++)
      EXPECT(fabsf(hdg2[c] - 2 * hdg[c]) <= 1e-5f * fabsf(hdg[c]) + 1e-6f,
             "dgamma does not accumulate: %g after two passes, %g after one", hdg2[c], hdg[c]);
  }
  if (rank == 0)
    printf("gradient %d-D: dx %.2e, dgamma %.2e, dbeta %.2e (tolerance 1e-4; without the "
           "statistics terms: %.2e)\n",
           ndim - 2, err_x, err_g, err_b, err_naive);
  GyreTensorDestroy(&x);
  GyreTensorDestroy(&y);
  GyreTensorDestroy(&w);
  GyreTensorDestroy(&dx);
  GyreBatchNormDestroy(&bn);
  free(hx);
  free(hw);
  free(hdx);
  free(xd);
  free(wd);
  free(yw);
  free(fd);
}

/* rank r of `size` holds samples [lo, hi) of N */
static void my_slice(int N, int *lo, int *hi)
{
  *lo = (int) ((long) N * rank / size);
  *hi = (int) ((long) N * (rank + 1) / size);
}

static void test_sync(GyreBackend *be)
{
  const int      N = 5, C = 3, Y = 4, X = 6, S = Y * X;
  int            lo, hi;
  size_t         n  = (size_t) N * C * S;
  float         *hx = malloc(n * sizeof *hx), *hw = malloc(n * sizeof *hw);
  float         *yf = malloc(n * sizeof *yf), *dxf = malloc(n * sizeof *dxf);
  float         *yl = malloc(n * sizeof *yl), *dxl = malloc(n * sizeof *dxl);
  float          g[3], b[3], dgf[3], dbf[3], dgl[3], dbl[3], rmf[3], rvf[3], rml[3], rvl[3];
  double         xd[5 * 3 * 24], yd[5 * 3 * 24], one[3] = {1, 1, 1}, zero[3] = {0, 0, 0};
  double         mean[3], var[3], err = 0, err_grad = 0, err_run = 0, err_torch = 0, err_eval = 0;
  GyreBatchNorm *full, *mine;
  GyreTensor     xF, yF, wF, dxF, xL, yL, wL, dxL;

  my_slice(N, &lo, &hi);
  int64_t shF[4] = {N, C, Y, X}, shL[4] = {hi - lo, C, Y, X};
  size_t  off = (size_t) lo * C * S, nl = (size_t) (hi - lo) * C * S;

  make_input(hx, N, C, S, 31);
  nn_fill_uniform(hw, n, 32, -1, 1);
  nn_fill_uniform(g, C, 33, 0.5, 1.5);
  nn_fill_uniform(b, C, 34, -1, 1);

  /* the full batch on this rank alone */
  CHECK(GyreBatchNormCreate(be, C, &full));
  CHECK(GyreTensorCreate(be, 4, shF, &xF));
  CHECK(GyreTensorCreate(be, 4, shF, &yF));
  CHECK(GyreTensorCreate(be, 4, shF, &wF));
  CHECK(GyreTensorCreate(be, 4, shF, &dxF));
  CHECK(GyreTensorCopyFromHost(&xF, hx));
  CHECK(GyreTensorCopyFromHost(&wF, hw));
  CHECK(GyreTensorCopyFromHost(&full->gamma, g));
  CHECK(GyreTensorCopyFromHost(&full->beta, b));
  CHECK(GyreBatchNormForward(full, 1, MPI_COMM_SELF, &xF, &yF));
  CHECK(GyreBatchNormBackward(full, MPI_COMM_SELF, &xF, &wF, &dxF));
  CHECK(GyreTensorCopyToHost(&yF, yf));
  CHECK(GyreTensorCopyToHost(&dxF, dxf));
  CHECK(GyreTensorCopyToHost(&full->dgamma, dgf));
  CHECK(GyreTensorCopyToHost(&full->dbeta, dbf));
  CHECK(GyreTensorCopyToHost(&full->running_mean, rmf));
  CHECK(GyreTensorCopyToHost(&full->running_var, rvf));

  /* this rank's slice, statistics over MPI_COMM_WORLD */
  CHECK(GyreBatchNormCreate(be, C, &mine));
  CHECK(GyreTensorCreate(be, 4, shL, &xL));
  CHECK(GyreTensorCreate(be, 4, shL, &yL));
  CHECK(GyreTensorCreate(be, 4, shL, &wL));
  CHECK(GyreTensorCreate(be, 4, shL, &dxL));
  CHECK(GyreTensorCopyFromHost(&xL, hx + off));
  CHECK(GyreTensorCopyFromHost(&wL, hw + off));
  CHECK(GyreTensorCopyFromHost(&mine->gamma, g));
  CHECK(GyreTensorCopyFromHost(&mine->beta, b));
  CHECK(GyreBatchNormForward(mine, 1, MPI_COMM_WORLD, &xL, &yL));
  CHECK(GyreBatchNormBackward(mine, MPI_COMM_WORLD, &xL, &wL, &dxL));
  CHECK(GyreTensorCopyToHost(&yL, yl));
  CHECK(GyreTensorCopyToHost(&dxL, dxl));
  CHECK(GyreTensorCopyToHost(&mine->dgamma, dgl));
  CHECK(GyreTensorCopyToHost(&mine->dbeta, dbl));
  CHECK(GyreTensorCopyToHost(&mine->running_mean, rml));
  CHECK(GyreTensorCopyToHost(&mine->running_var, rvl));
  MPI_Allreduce(MPI_IN_PLACE, dgl, C, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
  MPI_Allreduce(MPI_IN_PLACE, dbl, C, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);

  for (size_t i = 0; i < nl; i++) {
    err      = fmax(err, fabs(yl[i] - yf[off + i]));
    err_grad = fmax(err_grad, fabs(dxl[i] - dxf[off + i]));
  }
  for (int c = 0; c < C; c++) {
    err_grad = fmax(err_grad, fabs(dgl[c] - dgf[c]) / fmax(1, fabs(dgf[c])));
    err_grad = fmax(err_grad, fabs(dbl[c] - dbf[c]) / fmax(1, fabs(dbf[c])));
    err_run  = fmax(err_run, fabs(rml[c] - rmf[c]));
    err_run  = fmax(err_run, fabs(rvl[c] - rvf[c]));
  }
  /* PyTorch's running statistics after one step from (0, 1), momentum 0.1 */
  for (size_t i = 0; i < n; i++)
    xd[i] = hx[i];
  ref_forward(N, C, S, xd, one, zero, 1e-5, yd, mean, var);
  for (int c = 0; c < C; c++) {
    double m = (double) N * S, rm = 0.9 * 0.0 + 0.1 * mean[c],
           rv = 0.9 * 1.0 + 0.1 * var[c] * m / (m - 1);
    err_torch = fmax(err_torch, fabs(rml[c] - rm) / fabs(rm));
    err_torch = fmax(err_torch, fabs(rvl[c] - rv) / fabs(rv));
  }
  /* evaluation: the running statistics normalise, no communication */
  CHECK(GyreBatchNormForward(mine, 0, MPI_COMM_WORLD, &xL, &yL));
  CHECK(GyreTensorCopyToHost(&yL, yl));
  for (size_t i = 0; i < nl; i++) {
    int    c   = (int) ((off + i) / (size_t) S) % C;
    double ref = g[c] * (hx[off + i] - (double) rml[c]) / sqrt((double) rvl[c] + 1e-5) + b[c];
    err_eval   = fmax(err_eval, fabs(yl[i] - ref));
  }
  MPI_Allreduce(MPI_IN_PLACE, &err, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
  MPI_Allreduce(MPI_IN_PLACE, &err_grad, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
  MPI_Allreduce(MPI_IN_PLACE, &err_eval, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
  EXPECT(err <= 1e-5, "sync: %d-rank outputs differ from the full batch by %.3g", size, err);
  EXPECT(err_grad <= 1e-5, "sync: %d-rank gradients differ from the full batch by %.3g", size,
         err_grad);
  EXPECT(err_run <= 1e-6, "sync: %d-rank running statistics differ from the full batch by %.3g",
         size, err_run);
  EXPECT(err_torch <= 1e-6,
         "sync: running statistics differ from PyTorch's formula by %.3g "
         "(relative)",
         err_torch);
  EXPECT(err_eval <= 1e-5, "eval forward differs from the running-statistics formula by %.3g",
         err_eval);
  EXPECT(mine->num_batches_tracked == 1, "num_batches_tracked %ld", mine->num_batches_tracked);
  if (rank == 0)
    printf("sync on %d rank(s), samples %d..%d on rank 0: outputs %.2e, gradients %.2e, running "
           "stats %.2e (vs PyTorch formula %.2e), eval %.2e\n",
           size, lo, hi - 1, err, err_grad, err_run, err_torch, err_eval);

  GyreTensor *ts[] = {&xF, &yF, &wF, &dxF, &xL, &yL, &wL, &dxL};
  for (int i = 0; i < 8; i++)
    GyreTensorDestroy(ts[i]);
  GyreBatchNormDestroy(&full);
  GyreBatchNormDestroy(&mine);
  free(hx);
  free(hw);
  free(yf);
  free(dxf);
  free(yl);
  free(dxl);
}

static void test_errors(GyreBackend *be)
{
  GyreBatchNorm *bn;
  GyreTensor     x, y;
  int64_t        sh[3] = {2, 4, 8};
  GyreStatus     s;

  CHECK(GyreBatchNormCreate(be, 3, &bn));
  CHECK(GyreTensorCreate(be, 3, sh, &x));
  CHECK(GyreTensorCreate(be, 3, sh, &y));
  s = GyreBatchNormForward(bn, 1, MPI_COMM_SELF, &x, &y);
  EXPECT(s == GYRE_ERR_ARG && strstr(GyreStatusMessage(), "(2, 4, 8)"),
         "wrong channel count: status %d, message '%s'", (int) s, GyreStatusMessage());
  {
    GyreBatchNorm *none;
    EXPECT(GyreBatchNormCreate(be, 0, &none) == GYRE_ERR_ARG && none == NULL,
           "0 channels accepted");
  }
  GyreBatchNormDestroy(&bn);
  GyreTensorDestroy(&x);
  GyreTensorDestroy(&y);
}

int main(int argc, char **argv)
{
  GyreBackend  *be;
  const int64_t sh2[4] = {4, 3, 5, 6}, sh1[3] = {3, 2, 17}, big[4] = {9, 2, 64, 64};
  const int64_t gs2[4] = {3, 2, 4, 5}, gs1[3] = {4, 2, 7};

  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  if (size > 5) {
    if (rank == 0) fprintf(stderr, "test_nn_batchnorm: at most 5 ranks (5 samples)\n");
    MPI_Finalize();
    return 1;
  }
  CHECK(GyreBackendCreate("cpu", 2, &be));
  test_forward(be, 4, sh2);
  test_forward(be, 3, sh1);
  test_forward(be, 4, big); /* large enough for the threaded paths */
  test_gradient(be, 4, gs2);
  test_gradient(be, 3, gs1);
  test_sync(be);
  test_errors(be);
  GyreBackendDestroy(&be);
  MPI_Allreduce(MPI_IN_PLACE, &nn_failures, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  if (rank == 0) printf("%s: %d failure(s)\n", nn_failures ? "FAIL" : "PASS", nn_failures);
  MPI_Finalize();
  return nn_failures ? 1 : 0;
}
