/* test_nn_model.c — the model file and inference API (surrogates/gyre_model_file.h).
 * One program, one case per argument:
 *   roundtrip_mlp, roundtrip_fno, roundtrip_cnn: weights (perturbed away from the seed's),
 *     normalisation and metadata survive write -> read bitwise; the loaded network's outputs
 *     equal the original's bitwise; roundtrip_cnn also: batch-norm running statistics
 *     changed by training-mode forwards survive the file bitwise (GyreNetBuffers), the loaded
 *     network's EVAL-mode outputs equal the original's bitwise (and differ from a network
 *     with default statistics), and a file missing a running_var variable fails clearly;
 *   corrupt: truncated file, flipped byte in the weights (checksum), NaN weight, wrong-shape
 *     weight, missing weight, wrong tensor count, unknown architecture, future format
 *     version, non-NetCDF file: each fails with its own message (checked by text);
 *   training: learning curve and Adam state (m, v, step) bitwise through a file; a file
 *     without them says so;
 *   inference: GyreSurrogateApply equals normalise -> forward -> de-normalise by hand, also
 *     from 4 threads at once (the const, thread-safe inference path). */
#define _GNU_SOURCE
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "gyre_io.h"
#include "gyre_model_file.h"
#include "cpu_ops.h"
#include <netcdf.h>

#include "nn_test.h"

static uint64_t rng_state = 12345;
static double   urand(void)
{
  return nn_uniform01(&rng_state);
}

/* moves every weight away from its seeded value so that a round trip must read the file */
static void perturb(GyreNet *net)
{
  int                n;
  GyreTensor *const *p, *const *g;
  const char *const *names;
  CHECK(GyreNetParameters(net, &n, &p, &g, &names));
  for (int i = 0; i < n; i++) {
    float *h = malloc(p[i]->size * sizeof(float));
    CHECK(GyreTensorCopyToHost(p[i], h));
    for (size_t k = 0; k < p[i]->size; k++)
      h[k] += (float) (0.1 * (urand() - 0.5));
    CHECK(GyreTensorCopyFromHost(p[i], h));
    free(h);
  }
}

static void fill_meta(GyreModelMeta *m, GyreNormalization *nm, int nin, int nout, int nx, int ny)
{
  /* fields that agree with the channels (history 2 where the count is even) */
  const int hist = nin % 2 ? 1 : 2;
  size_t    o    = 0;
  for (int c = 0; c < nin / hist; c++)
    o += (size_t) snprintf(m->input_fields + o, sizeof m->input_fields - o, "%sq_%d", c ? "," : "",
                           c);
  o = 0;
  for (int c = 0; c < nout; c++)
    o += (size_t) snprintf(m->output_fields + o, sizeof m->output_fields - o, "%sf_%d",
                           c ? "," : "", c);
  snprintf(m->units, sizeof m->units, "s-1;s-2");
  m->grid_nx = nx, m->grid_ny = ny;
  snprintf(m->training_options, sizeof m->training_options,
           "-epochs 3 -lr 1e-3\n-batch 8 -loss mse");
  snprintf(m->split, sizeof m->split, "val_fraction=0.2 seed=7 by=sample");
  snprintf(m->recipe, sizeof m->recipe, "-train_loss mse; -train_batch 8; -train_lr 0.001");
  m->nlineage = 2;
  snprintf(m->lineage_path[0], sizeof m->lineage_path[0], "/data/run a/train.nc");
  snprintf(m->lineage_sha256[0], 65, "%064d", 1);
  snprintf(m->lineage_path[1], sizeof m->lineage_path[1], "/data/val.nc");
  snprintf(m->lineage_sha256[1], 65, "ab%062d", 0);
  m->seed = 18446744073709551557ull;
  snprintf(m->mode, sizeof m->mode, "emulator");
  m->per_point = 1, m->history = hist, m->lead = 3;
  m->record_dt = 0.05, m->dx = 2 * M_PI / 64, m->dy = 1.0 / 3.0;
  /* trained in tf32: the validation loss at that precision and at fp32 (issue 6) */
  snprintf(m->precision, sizeof m->precision, "tf32");
  m->val_loss_precision = 0.0125, m->val_loss_fp32 = 0.0123;
  memset(nm, 0, sizeof *nm);
  nm->nin = nin, nm->nout = nout;
  for (int c = 0; c < nin; c++)
    nm->in_mean[c] = 0.1 * c - 0.3, nm->in_std[c] = 1.5 + c / 3.0;
  for (int c = 0; c < nout; c++)
    nm->out_mean[c] = 1e-11 * (c + 1), nm->out_std[c] = 3e-11 / 7;
  nm->has_band = 1;
  for (int c = 0; c < nin; c++)
    nm->in_ms_min[c] = 0.25 + c, nm->in_ms_max[c] = 9.5 + c / 7.0;
}

static int same_params(GyreNet *a, GyreNet *b)
{
  int                na, nb;
  GyreTensor *const *pa, *const *pb, *const *g;
  const char *const *sa, *const *sb;
  CHECK(GyreNetParameters(a, &na, &pa, &g, &sa));
  CHECK(GyreNetParameters(b, &nb, &pb, &g, &sb));
  if (na != nb) return 0;
  for (int i = 0; i < na; i++) {
    if (strcmp(sa[i], sb[i]) || pa[i]->size != pb[i]->size || pa[i]->ndim != pb[i]->ndim) return 0;
    float *x = malloc(pa[i]->size * 4), *y = malloc(pb[i]->size * 4);
    CHECK(GyreTensorCopyToHost(pa[i], x));
    CHECK(GyreTensorCopyToHost(pb[i], y));
    int same = !memcmp(x, y, pa[i]->size * 4);
    free(x), free(y);
    if (!same) return 0;
  }
  return 1;
}

static void check_meta(const GyreModelMeta *a, const GyreModelMeta *b)
{
  EXPECT(a->type == b->type, "type");
  if (a->type == GYRE_NET_MLP) EXPECT(!memcmp(&a->mlp, &b->mlp, sizeof a->mlp), "mlp options");
  if (a->type == GYRE_NET_FNO) EXPECT(!memcmp(&a->fno, &b->fno, sizeof a->fno), "fno options");
  if (a->type == GYRE_NET_CNN) {
    EXPECT(a->cnn.dim == b->cnn.dim && a->cnn.in_channels == b->cnn.in_channels &&
               a->cnn.out_channels == b->cnn.out_channels && a->cnn.nlayers == b->cnn.nlayers &&
               !memcmp(a->cnn.channels, b->cnn.channels, sizeof a->cnn.channels) &&
               !memcmp(a->cnn.kernels, b->cnn.kernels, sizeof a->cnn.kernels) &&
               a->cnn.batch_norm == b->cnn.batch_norm && a->cnn.zero_mean == b->cnn.zero_mean &&
               a->cnn.activation == b->cnn.activation,
           "cnn options");
  }
  EXPECT(a->seed == b->seed, "seed %llu %llu", (unsigned long long) a->seed,
         (unsigned long long) b->seed);
  EXPECT(!strcmp(a->input_fields, b->input_fields), "input_fields '%s'", b->input_fields);
  EXPECT(!strcmp(a->output_fields, b->output_fields), "output_fields '%s'", b->output_fields);
  EXPECT(!strcmp(a->units, b->units), "units '%s'", b->units);
  EXPECT(a->grid_nx == b->grid_nx && a->grid_ny == b->grid_ny, "grid");
  EXPECT(!strcmp(a->training_options, b->training_options), "training_options '%s'",
         b->training_options);
  EXPECT(!strcmp(a->split, b->split), "split '%s'", b->split);
  EXPECT(!strcmp(a->recipe, b->recipe), "recipe '%s'", b->recipe);
  EXPECT(!strcmp(a->mode, b->mode) && a->per_point == b->per_point && a->history == b->history &&
             a->lead == b->lead && a->record_dt == b->record_dt && a->dx == b->dx && a->dy == b->dy,
         "mode/per_point/history/lead/record_dt/dx/dy: '%s' %d %d %d %g %g %g", b->mode,
         b->per_point, b->history, b->lead, b->record_dt, b->dx, b->dy);
  EXPECT(!strcmp(a->precision, b->precision) && a->val_loss_precision == b->val_loss_precision &&
             a->val_loss_fp32 == b->val_loss_fp32,
         "precision '%s' %g %g", b->precision, b->val_loss_precision, b->val_loss_fp32);
  EXPECT(a->nlineage == b->nlineage, "nlineage %d", b->nlineage);
  for (int i = 0; i < a->nlineage && i < b->nlineage; i++) {
    EXPECT(!strcmp(a->lineage_path[i], b->lineage_path[i]), "lineage path '%s'",
           b->lineage_path[i]);
    EXPECT(!strcmp(a->lineage_sha256[i], b->lineage_sha256[i]), "lineage sha '%s'",
           b->lineage_sha256[i]);
  }
}

static void check_norm(const GyreNormalization *a, const GyreNormalization *b)
{
  EXPECT(a->nin == b->nin && a->nout == b->nout, "norm channels %d %d", b->nin, b->nout);
  EXPECT(!memcmp(a->in_mean, b->in_mean, sizeof(double) * a->nin) &&
             !memcmp(a->in_std, b->in_std, sizeof(double) * a->nin) &&
             !memcmp(a->out_mean, b->out_mean, sizeof(double) * a->nout) &&
             !memcmp(a->out_std, b->out_std, sizeof(double) * a->nout),
         "norm values differ");
  EXPECT(a->has_band == b->has_band &&
             !memcmp(a->in_ms_min, b->in_ms_min, sizeof(double) * a->nin) &&
             !memcmp(a->in_ms_max, b->in_ms_max, sizeof(double) * a->nin),
         "mean-square band differs");
}

static void roundtrip(GyreBackend *be, const char *path, GyreNet *net, const GyreModelMeta *meta,
                      const GyreNormalization *norm, int nd, const int64_t *xs)
{
  perturb(net);
  CHECK(GyreModelFileWrite(MPI_COMM_SELF, path, net, meta, norm, NULL));
  GyreNet          *net2;
  GyreModelMeta    *m2 = malloc(sizeof *m2);
  GyreNormalization n2;
  CHECK(GyreModelFileRead(MPI_COMM_SELF, path, be, &net2, m2, &n2));
  EXPECT(same_params(net, net2), "weights differ after the round trip");
  check_meta(meta, m2);
  check_norm(norm, &n2);
  GyreTensor x = {0}, y1 = {0}, y2 = {0};
  int        ynd;
  int64_t    ys[4];
  CHECK(GyreTensorCreate(be, nd, xs, &x));
  float *h = malloc(x.size * 4);
  for (size_t i = 0; i < x.size; i++)
    h[i] = (float) (2 * urand() - 1);
  CHECK(GyreTensorCopyFromHost(&x, h));
  CHECK(GyreNetOutputShape(net, nd, xs, &ynd, ys));
  CHECK(GyreTensorCreate(be, ynd, ys, &y1));
  CHECK(GyreTensorCreate(be, ynd, ys, &y2));
  CHECK(GyreNetForward(net, &x, &y1, 0));
  CHECK(GyreTensorCopyFromHost(&x, h));
  CHECK(GyreNetForward(net2, &x, &y2, 0));
  float *a = malloc(y1.size * 4), *b = malloc(y1.size * 4);
  CHECK(GyreTensorCopyToHost(&y1, a));
  CHECK(GyreTensorCopyToHost(&y2, b));
  EXPECT(!memcmp(a, b, y1.size * 4), "outputs of the loaded network differ");
  printf("%s: %zu parameters, %zu outputs: weights, metadata, normalisation and outputs bitwise "
         "equal\n",
         path, GyreNetParameterCount(net), y1.size);
  free(a), free(b), free(h), free(m2);
  GyreTensorDestroy(&x), GyreTensorDestroy(&y1), GyreTensorDestroy(&y2);
  GyreNetDestroy(&net2);
  unlink(path);
}

static void mlp_setup(GyreMLPOptions *o)
{
  GyreMLPOptionsDefault(o);
  o->inputs = 5, o->outputs = 3, o->width = 16, o->depth = 2, o->activation = GYRE_ACT_GELU;
}

/* two MLPs of mlp_setup's shape on be: a as it is, b of depth and width (o: b's options) */
static void two_mlps(GyreBackend *be, int depth, int width, GyreMLPOptions *o, GyreNet **a,
                     GyreNet **b)
{
  mlp_setup(o);
  CHECK(GyreNetCreateMLP(be, o, 9, a));
  o->depth = depth, o->width = width;
  CHECK(GyreNetCreateMLP(be, o, 10, b));
}

static void test_roundtrip_mlp(GyreBackend *be)
{
  GyreModelMeta    *m = calloc(1, sizeof *m);
  GyreNormalization nm;
  m->type = GYRE_NET_MLP;
  mlp_setup(&m->mlp);
  fill_meta(m, &nm, 5, 3, 1, 1);
  GyreNet *net;
  CHECK(GyreNetCreateMLP(be, &m->mlp, m->seed, &net));
  int64_t xs[2] = {7, 5};
  roundtrip(be, "nn_model_mlp.nc", net, m, &nm, 2, xs);
  GyreNetDestroy(&net);
  free(m);
}

/* GyreModelRecipeDiff names the first item that differs, as each recipe gives it, whatever the
 * order; an unknown recipe ("") matches any */
static void test_recipe_diff(void)
{
  const char *a = "-train_loss mse; -train_batch 8; -train_lr 0.001";
  char        ia[64], ib[64];
  EXPECT(!GyreModelRecipeDiff(a, a, ia, ib, sizeof ia), "a recipe differs from itself");
  EXPECT(!GyreModelRecipeDiff(a, "-train_lr 0.001; -train_loss mse; -train_batch 8", ia, ib,
                              sizeof ia),
         "the order of the items counts");
  EXPECT(!GyreModelRecipeDiff(a, "", ia, ib, sizeof ia) &&
             !GyreModelRecipeDiff("", a, ia, ib, sizeof ia),
         "an unknown recipe differs");
  EXPECT(GyreModelRecipeDiff(a, "-train_loss mse; -train_batch 16; -train_lr 0.001", ia, ib,
                             sizeof ia) &&
             !strcmp(ia, "-train_batch 8") && !strcmp(ib, "-train_batch 16"),
         "batch: '%s' '%s'", ia, ib);
  /* a prefix of another option's name is another option */
  EXPECT(GyreModelRecipeDiff("-train_lr 0.001", "-train_lr_x 0.001; -train_lr 0.002", ia, ib,
                             sizeof ia) &&
             !strcmp(ia, "-train_lr 0.001") && !strcmp(ib, "-train_lr 0.002"),
         "prefix: '%s' '%s'", ia, ib);
  EXPECT(GyreModelRecipeDiff(a, "-train_loss mse; -train_batch 8; -train_lr 0.001; -train_clip 1",
                             ia, ib, sizeof ia) &&
             !strcmp(ia, "no -train_clip") && !strcmp(ib, "-train_clip 1"),
         "missing: '%s' '%s'", ia, ib);
}

static void test_roundtrip_fno(GyreBackend *be)
{
  GyreModelMeta    *m = calloc(1, sizeof *m);
  GyreNormalization nm;
  m->type = GYRE_NET_FNO;
  GyreFNOOptionsDefault(&m->fno);
  m->fno.dim = 2, m->fno.in_channels = 2, m->fno.out_channels = 1, m->fno.width = 6;
  m->fno.modes = 3, m->fno.proj_width = 8;
  fill_meta(m, &nm, 2, 1, 16, 12);
  GyreNet *net;
  CHECK(GyreNetCreateFNO(be, &m->fno, m->seed, &net));
  int64_t xs[4] = {2, 2, 12, 16};
  roundtrip(be, "nn_model_fno.nc", net, m, &nm, 4, xs);
  GyreNetDestroy(&net);
  free(m);
}

static void test_roundtrip_cnn(GyreBackend *be)
{
  GyreModelMeta    *m = calloc(1, sizeof *m);
  GyreNormalization nm;
  m->type = GYRE_NET_CNN;
  GyreCNNOptionsDefault(&m->cnn);
  m->cnn.in_channels = 2, m->cnn.out_channels = 2, m->cnn.zero_mean = 1;
  int ch[7] = {6, 5, 4, 4, 4, 4, 4};
  memcpy(m->cnn.channels, ch, sizeof ch);
  fill_meta(m, &nm, 2, 2, 8, 8);
  GyreNet *net;
  CHECK(GyreNetCreateCNN(be, &m->cnn, m->seed, &net));
  int64_t xs[4] = {3, 2, 8, 8};
  roundtrip(be, "nn_model_cnn.nc", net, m, &nm, 4, xs);
  GyreNetDestroy(&net);
  free(m);
}

/* eval-mode forward of net on host input h (shape xs), output to host out (caller frees) */
static float *eval_out(GyreBackend *be, GyreNet *net, int nd, const int64_t *xs, const float *h,
                       size_t *ny)
{
  GyreTensor x = {0}, y = {0};
  int        ynd;
  int64_t    ys[4];
  CHECK(GyreTensorCreate(be, nd, xs, &x));
  CHECK(GyreTensorCopyFromHost(&x, h));
  CHECK(GyreNetOutputShape(net, nd, xs, &ynd, ys));
  CHECK(GyreTensorCreate(be, ynd, ys, &y));
  CHECK(GyreNetForward(net, &x, &y, 0));
  float *o = malloc(y.size * 4);
  CHECK(GyreTensorCopyToHost(&y, o));
  *ny = y.size;
  GyreTensorDestroy(&x), GyreTensorDestroy(&y);
  return o;
}

static void           expect_fail(GyreBackend *be, const char *path, const char *what, ...);
static unsigned char *slurp(const char *path, size_t *n);
static void           spit(const char *path, const unsigned char *b, size_t n);

/* batch-norm running statistics (non-trainable buffers) through the model file */
static void test_cnn_buffers(GyreBackend *be)
{
  const char       *path = "nn_model_cnn_bn.nc", *bad = "nn_model_cnn_bn_bad.nc";
  GyreModelMeta    *m = calloc(1, sizeof *m);
  GyreNormalization nm;
  m->type = GYRE_NET_CNN;
  GyreCNNOptionsDefault(&m->cnn);
  m->cnn.in_channels = 2, m->cnn.out_channels = 2, m->cnn.activation = GYRE_ACT_TANH;
  int ch[7] = {6, 5, 4, 4, 4, 4, 4};
  memcpy(m->cnn.channels, ch, sizeof ch);
  fill_meta(m, &nm, 2, 2, 8, 8);
  GyreNet *net, *fresh;
  CHECK(GyreNetCreateCNN(be, &m->cnn, m->seed, &net));
  CHECK(GyreNetCreateCNN(be, &m->cnn, m->seed, &fresh));
  perturb(net);
  { /* the same perturbed parameters, default running statistics */
    int                n, n2;
    GyreTensor *const *p, *const *p2, *const *g;
    const char *const *names;
    CHECK(GyreNetParameters(net, &n, &p, &g, &names));
    CHECK(GyreNetParameters(fresh, &n2, &p2, &g, &names));
    for (int i = 0; i < n && i < n2; i++) {
      float *h = malloc(p[i]->size * 4);
      CHECK(GyreTensorCopyToHost(p[i], h));
      CHECK(GyreTensorCopyFromHost(p2[i], h));
      free(h);
    }
  }
  int                nb;
  GyreTensor *const *bt;
  const char *const *bn;
  CHECK(GyreNetBuffers(net, &nb, &bt, &bn));
  EXPECT(nb == 14, "CNN with 7 batch-norm layers has %d buffers, want 14", nb);
  EXPECT(nb >= 2 && !strcmp(bn[0], "bn0.running_mean") && !strcmp(bn[1], "bn0.running_var") &&
             !strcmp(bn[nb - 1], "bn6.running_var"),
         "buffer names %s, %s, ..., %s", nb ? bn[0] : "-", nb > 1 ? bn[1] : "-",
         nb ? bn[nb - 1] : "-");
  int64_t xs[4] = {3, 2, 8, 8};
  size_t  nx    = 3 * 2 * 8 * 8;
  float  *h     = malloc(nx * 4);
  { /* two training-mode forwards change the running statistics */
    GyreTensor x = {0}, y = {0};
    int        ynd;
    int64_t    ys[4];
    CHECK(GyreTensorCreate(be, 4, xs, &x));
    CHECK(GyreNetOutputShape(net, 4, xs, &ynd, ys));
    CHECK(GyreTensorCreate(be, ynd, ys, &y));
    for (int it = 0; it < 2; it++) {
      for (size_t i = 0; i < nx; i++)
        h[i] = (float) (3 * urand() - 1);
      CHECK(GyreTensorCopyFromHost(&x, h));
      CHECK(GyreNetForward(net, &x, &y, 1));
    }
    GyreTensorDestroy(&x), GyreTensorDestroy(&y);
  }
  int nondefault = 0;
  for (int i = 0; i < nb; i++) {
    float *b = malloc(bt[i]->size * 4);
    CHECK(GyreTensorCopyToHost(bt[i], b));
    for (size_t k = 0; k < bt[i]->size; k++)
      nondefault += b[k] != (i % 2 ? 1.0f : 0.0f);
    free(b);
  }
  EXPECT(nondefault > 0, "training forwards left the running statistics at their defaults");
  CHECK(GyreModelFileWrite(MPI_COMM_SELF, path, net, m, &nm, NULL));
  GyreNet          *net2 = NULL;
  GyreModelMeta    *m2   = malloc(sizeof *m2);
  GyreNormalization n2;
  CHECK(GyreModelFileRead(MPI_COMM_SELF, path, be, &net2, m2, &n2));
  EXPECT(same_params(net, net2), "weights differ after the round trip");
  int                nb2;
  GyreTensor *const *bt2;
  const char *const *bn2;
  CHECK(GyreNetBuffers(net2, &nb2, &bt2, &bn2));
  EXPECT(nb2 == nb, "loaded network has %d buffers, want %d", nb2, nb);
  for (int i = 0; i < nb && i < nb2; i++) {
    float *a = malloc(bt[i]->size * 4), *b = malloc(bt[i]->size * 4);
    CHECK(GyreTensorCopyToHost(bt[i], a));
    CHECK(GyreTensorCopyToHost(bt2[i], b));
    EXPECT(bt[i]->size == bt2[i]->size && !memcmp(a, b, bt[i]->size * 4),
           "buffer %s differs after the round trip", bn[i]);
    free(a), free(b);
  }
  for (size_t i = 0; i < nx; i++)
    h[i] = (float) (2 * urand() - 1);
  size_t ny, ny2, ny3;
  float *y1 = eval_out(be, net, 4, xs, h, &ny), *y2 = eval_out(be, net2, 4, xs, h, &ny2);
  float *y3 = eval_out(be, fresh, 4, xs, h, &ny3);
  EXPECT(ny == ny2 && !memcmp(y1, y2, ny * 4),
         "eval-mode outputs of the loaded CNN differ from the original's");
  EXPECT(ny == ny3 && memcmp(y1, y3, ny * 4),
         "eval-mode outputs do not depend on the running statistics (test is vacuous)");
  printf("%s: %d buffers (running statistics, %d values off default) and eval-mode outputs "
         "(%zu) bitwise equal after the round trip\n",
         path, nb, nondefault, ny);
  free(y1), free(y2), free(y3);
  { /* the MLP has no buffers */
    GyreMLPOptions mo;
    GyreNet       *mlp;
    mlp_setup(&mo);
    CHECK(GyreNetCreateMLP(be, &mo, 1, &mlp));
    int n0 = -1;
    CHECK(GyreNetBuffers(mlp, &n0, NULL, NULL));
    EXPECT(n0 == 0, "MLP has %d buffers", n0);
    GyreNetDestroy(&mlp);
  }
  { /* a file whose bn6.running_var variable is gone (renamed) */
    size_t         len  = 0;
    unsigned char *file = slurp(path, &len);
    spit(bad, file, len);
    free(file);
    int nc, varid, e;
    e = nc_open(bad, NC_WRITE, &nc);
    if (!e) e = nc_redef(nc);
    if (!e) e = nc_inq_varid(nc, "bn6.running_var", &varid);
    if (!e) e = nc_rename_var(nc, varid, "bn6.renamed");
    if (!e) e = nc_enddef(nc);
    if (!e) e = nc_close(nc);
    EXPECT(!e, "renaming bn6.running_var: %s", nc_strerror(e));
    expect_fail(be, bad, "missing buffer", "buffer (not trained) 'bn6.running_var' (4)",
                "is missing", NULL);
    unlink(bad);
  }
  free(h), free(m2), free(m);
  GyreNetDestroy(&net2), GyreNetDestroy(&net), GyreNetDestroy(&fresh);
  unlink(path);
}

/* ---- corrupt files ---- */

static unsigned char *slurp(const char *path, size_t *n)
{
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  *n = (size_t) ftell(f);
  fseek(f, 0, SEEK_SET);
  unsigned char *b = malloc(*n);
  if (fread(b, 1, *n, f) != *n) *n = 0;
  fclose(f);
  return b;
}
static void spit(const char *path, const unsigned char *b, size_t n)
{
  FILE *f = fopen(path, "wb");
  fwrite(b, 1, n, f);
  fclose(f);
}

/* reads path, expecting failure with a message containing each of the NULL-terminated texts */
static void expect_fail(GyreBackend *be, const char *path, const char *what, ...)
{
  GyreNet          *net = NULL;
  GyreModelMeta    *m   = malloc(sizeof *m);
  GyreNormalization nm;
  GyreStatus        s   = GyreModelFileRead(MPI_COMM_SELF, path, be, &net, m, &nm);
  const char       *msg = GyreStatusMessage();
  EXPECT(s != GYRE_OK, "%s: read succeeded", what);
  EXPECT(net == NULL, "%s: a network was returned", what);
  EXPECT(strstr(msg, path) != NULL, "%s: message does not name the path: %s", what, msg);
  va_list ap;
  va_start(ap, what);
  for (const char *t; (t = va_arg(ap, const char *));)
    EXPECT(strstr(msg, t) != NULL, "%s: message lacks '%s': %s", what, t, msg);
  va_end(ap);
  printf("%-22s -> %s\n", what, msg);
  if (net) GyreNetDestroy(&net);
  free(m);
}

static void write_mlp(GyreBackend *be, const char *path, int depth, int width)
{
  GyreModelMeta    *m = calloc(1, sizeof *m);
  GyreNormalization nm;
  m->type = GYRE_NET_MLP;
  mlp_setup(&m->mlp);
  m->mlp.depth = depth, m->mlp.width = width;
  fill_meta(m, &nm, 5, 3, 1, 1);
  GyreNet *net;
  CHECK(GyreNetCreateMLP(be, &m->mlp, 3, &net));
  perturb(net);
  CHECK(GyreModelFileWrite(MPI_COMM_SELF, path, net, m, &nm, NULL));
  GyreNetDestroy(&net);
  free(m);
}

/* offset of the first parameter's (dense0.W) float32 data in the file */
static long find_weights(GyreBackend *be, const char *path, const unsigned char *file, size_t n)
{
  GyreNet          *net;
  GyreModelMeta    *m = malloc(sizeof *m);
  GyreNormalization nm;
  CHECK(GyreModelFileRead(MPI_COMM_SELF, path, be, &net, m, &nm));
  int                np;
  GyreTensor *const *p, *const *g;
  const char *const *names;
  CHECK(GyreNetParameters(net, &np, &p, &g, &names));
  float *h = malloc(p[0]->size * 4);
  CHECK(GyreTensorCopyToHost(p[0], h));
  unsigned char *at = memmem(file, n, h, p[0]->size * 4);
  free(h), free(m);
  GyreNetDestroy(&net);
  return at ? (long) (at - file) : -1;
}

static void amend(const char *path, const char *name, const char *value)
{
  const char *names[1] = {name}, *values[1] = {value};
  CHECK(GyreFileAmendAttributes(MPI_COMM_SELF, path, 1, names, values));
}

static void test_corrupt(GyreBackend *be)
{
  const char *good = "nn_model_good.nc", *bad = "nn_model_bad.nc";
  write_mlp(be, good, 2, 16);
  size_t         n    = 0;
  unsigned char *file = slurp(good, &n);
  long           off  = find_weights(be, good, file, n);
  EXPECT(off >= 0, "dense0.W's data not found in the file");
  if (off < 0) return;

  spit(bad, file, n / 2);
  expect_fail(be, bad, "truncated", "cannot be opened as NetCDF-4", NULL);

  unsigned char *c = malloc(n);
  memcpy(c, file, n);
  c[off + 4 * 17] ^= 0x01; /* lowest mantissa bit of element 17: finite, slightly changed */
  spit(bad, c, n);
  expect_fail(be, bad, "flipped bit", "checksum mismatch", "corrupt", NULL);

  memcpy(c, file, n);
  const unsigned char qnan[4] = {0x00, 0x00, 0xc0, 0x7f};
  memcpy(c + off + 4 * 5, qnan, 4);
  spit(bad, c, n);
  expect_fail(be, bad, "NaN weight", "weight 'dense0.W' is not finite", NULL);

  /* an architecture attribute changed alone: refused before anything is allocated (a width of
   * 1e9 would be gigabytes), against the parameter count the writer stored */
  spit(bad, file, n);
  amend(bad, "mlp_width", "1000000000");
  expect_fail(be, bad, "huge width", "width 1000000000", "disagree with its parameter_count 419",
              "corrupt", NULL);

  /* changed with the parameter count to match: the weights' shapes and count disagree
   * (5 inputs, 3 outputs, depth 2: 17 * 6 + 17 * 18 + 3 * 18 = 462; depth 3: 691) */
  spit(bad, file, n);
  amend(bad, "mlp_width", "17");
  amend(bad, "parameter_count", "462");
  expect_fail(be, bad, "wrong shape", "weight 'dense0.W' has shape (16, 5)",
              "architecture needs (17, 5)", NULL);

  spit(bad, file, n);
  amend(bad, "mlp_depth", "3");
  amend(bad, "parameter_count", "691");
  expect_fail(be, bad, "wrong tensor count", "holds 6 parameter tensors", "has 8", NULL);

  /* one attribute changed: the good file with ATTRIBUTE = VALUE, refused with MESSAGE */
  static const struct {
    const char *attribute, *value, *what, *message;
  } one[] = {
      {"grid_nx", "-4", "negative grid", "grid -4 x 1"},
      {"record_dt", "nan", "NaN record spacing", "record_dt nan"},
      {"architecture", "transformer", "unknown architecture", "unknown architecture 'transformer'"},
      {"mlp_activation", "swish", "unknown activation", "unknown activation 'swish'"},
      {"gyre_model_format_version", "2", "future version", "format version 2 is not supported"},
      {"mlp_width", "-2", "negative width",
       "its architecture is impossible (MLP inputs 5, outputs 3, width -2 must be >= 1"},
      {"mode", "banana", "unknown mode", "mode 'banana' (expected closure, emulator or operator)"},
      {"precision", "fp8", "unknown precision", "precision 'fp8' (expected fp32, tf32 or bf16)"},
  };
  for (size_t k = 0; k < sizeof one / sizeof one[0]; k++) {
    spit(bad, file, n);
    amend(bad, one[k].attribute, one[k].value);
    expect_fail(be, bad, one[k].what, one[k].message, NULL);
  }

  /* missing variable: a depth-0 MLP (dense0 (3, 5) only) claimed to have depth 1, width 3 */
  write_mlp(be, bad, 0, 3);
  amend(bad, "mlp_depth", "1");
  amend(bad, "mlp_width", "3");
  amend(bad, "nparameters", "4");
  amend(bad, "parameter_count", "30");
  expect_fail(be, bad, "missing weight", "weight 'dense1.W' (3, 3)", "is missing", NULL);

  { /* a batch norm's running variance below zero (every output would be NaN); the file's
     * checksum is right, as the writer made it */
    GyreModelMeta    *m = calloc(1, sizeof *m);
    GyreNormalization nm;
    GyreNet          *cnn;
    m->type = GYRE_NET_CNN;
    GyreCNNOptionsDefault(&m->cnn);
    m->cnn.in_channels = 1, m->cnn.out_channels = 1, m->cnn.nlayers = 2;
    m->cnn.channels[0] = 2, m->cnn.kernels[0] = 3, m->cnn.kernels[1] = 3;
    fill_meta(m, &nm, 1, 1, 8, 8);
    CHECK(GyreNetCreateCNN(be, &m->cnn, 5, &cnn));
    int                nb;
    GyreTensor *const *bt;
    const char *const *bnames;
    CHECK(GyreNetBuffers(cnn, &nb, &bt, &bnames));
    for (int i = 0; i < nb; i++)
      if (strstr(bnames[i], "running_var")) {
        const float v[2] = {0.5f, -0.25f};
        CHECK(GyreTensorCopyFromHost(bt[i], v));
      }
    CHECK(GyreModelFileWrite(MPI_COMM_SELF, bad, cnn, m, &nm, NULL));
    expect_fail(be, bad, "negative variance", "buffer 'bn0.running_var' holds a negative variance",
                "-0.25 at index 1", NULL);
    GyreNetDestroy(&cnn);
    free(m);
  }

  spit(bad, (const unsigned char *) "this is not a NetCDF file\n", 26);
  expect_fail(be, bad, "not NetCDF", "cannot be opened as NetCDF-4", NULL);

  expect_fail(be, "nn_model_does_not_exist.nc", "missing file", "cannot be opened", NULL);

  /* the good file still loads */
  GyreNet          *net;
  GyreModelMeta    *m = malloc(sizeof *m);
  GyreNormalization nm;
  CHECK(GyreModelFileRead(MPI_COMM_SELF, good, be, &net, m, &nm));
  GyreNetDestroy(&net);
  free(m), free(c), free(file);
  unlink(good), unlink(bad);
}

/* ---- training record: learning curve and optimiser state ---- */

static GyreOptimizer *make_opt(GyreBackend *be, GyreNet *net)
{
  int                n;
  GyreTensor *const *p, *const *g;
  const char *const *names;
  CHECK(GyreNetParameters(net, &n, &p, &g, &names));
  GyreOptimizerOptions oo;
  GyreOptimizerOptionsDefault(&oo);
  GyreOptimizer *o;
  CHECK(GyreOptimizerCreate(be, n, p, g, &oo, &o));
  return o;
}

static void test_training(GyreBackend *be)
{
  const char       *path = "nn_model_training.nc";
  GyreModelMeta    *m    = calloc(1, sizeof *m);
  GyreNormalization nm;
  m->type = GYRE_NET_MLP;
  mlp_setup(&m->mlp);
  fill_meta(m, &nm, 5, 3, 1, 1);
  GyreNet *net;
  CHECK(GyreNetCreateMLP(be, &m->mlp, 4, &net));
  GyreOptimizer     *o = make_opt(be, net);
  int                n;
  GyreTensor *const *p, *const *g;
  const char *const *names;
  CHECK(GyreNetParameters(net, &n, &p, &g, &names));
  for (int step = 0; step < 3; step++) { /* random gradients, three Adam steps */
    for (int i = 0; i < n; i++) {
      float *h = malloc(g[i]->size * 4);
      for (size_t k = 0; k < g[i]->size; k++)
        h[k] = (float) (urand() - 0.5);
      CHECK(GyreTensorCopyFromHost(g[i], h));
      free(h);
    }
    CHECK(GyreOptimizerStep(o, NULL));
  }
  double            ep[3] = {0, 1, 2}, tl[3] = {1.5, 0.7, 0.31}, vl[3] = {1.7, 0.9, 1.0 / 3};
  GyreModelTraining tr = {.nepochs = 3, .epoch = ep, .train_loss = tl, .val_loss = vl, .opt = o};
  CHECK(GyreModelFileWrite(MPI_COMM_SELF, path, net, m, &nm, &tr));

  GyreNet          *net2;
  GyreModelMeta    *m2 = malloc(sizeof *m2);
  GyreNormalization n2;
  CHECK(GyreModelFileRead(MPI_COMM_SELF, path, be, &net2, m2, &n2));
  EXPECT(same_params(net, net2), "weights differ");
  GyreOptimizer    *o2  = make_opt(be, net2);
  GyreModelTraining tr2 = {.opt = o2};
  CHECK(GyreModelFileReadTraining(MPI_COMM_SELF, path, net2, &tr2));
  EXPECT(tr2.nepochs == 3 && tr2.epoch && tr2.train_loss && tr2.val_loss, "curve missing");
  if (tr2.nepochs == 3 && tr2.val_loss)
    EXPECT(!memcmp(ep, tr2.epoch, sizeof ep) && !memcmp(tl, tr2.train_loss, sizeof tl) &&
               !memcmp(vl, tr2.val_loss, sizeof vl),
           "learning curve differs");
  size_t ns = GyreOptimizerStateSize(o);
  EXPECT(ns == GyreOptimizerStateSize(o2), "state sizes");
  float *a = malloc(ns * 4), *b = malloc(ns * 4), *c = malloc(ns * 4), *d = malloc(ns * 4);
  long   s1, s2;
  CHECK(GyreOptimizerGetState(o, a, b, &s1));
  CHECK(GyreOptimizerGetState(o2, c, d, &s2));
  EXPECT(s1 == 3 && s2 == 3 && tr2.step == 3, "steps %ld %ld %ld", s1, s2, tr2.step);
  EXPECT(!memcmp(a, c, ns * 4) && !memcmp(b, d, ns * 4), "optimiser moments differ");
  printf("training record: 3-epoch curve and Adam state (%zu m + %zu v, step %ld) bitwise equal\n",
         ns, ns, s2);
  free(tr2.epoch), free(tr2.train_loss), free(tr2.val_loss);

  /* a file without a training record: the optimiser asked for is missing */
  CHECK(GyreModelFileWrite(MPI_COMM_SELF, path, net, m, &nm, NULL));
  GyreModelTraining tr3 = {.opt = o2};
  GyreStatus        st  = GyreModelFileReadTraining(MPI_COMM_SELF, path, net2, &tr3);
  EXPECT(st != GYRE_OK && strstr(GyreStatusMessage(), "holds no optimiser state"),
         "no-state file: %s", GyreStatusMessage());
  EXPECT(tr3.nepochs == 0 && !tr3.epoch, "no curve expected");
  tr3.opt = NULL;
  CHECK(GyreModelFileReadTraining(MPI_COMM_SELF, path, net2, &tr3));
  EXPECT(tr3.nepochs == 0 && tr3.step == -1, "no record expected");

  free(a), free(b), free(c), free(d), free(m), free(m2);
  GyreOptimizerDestroy(&o), GyreOptimizerDestroy(&o2);
  GyreNetDestroy(&net), GyreNetDestroy(&net2);
  unlink(path);
}

/* ---- inference ---- */

typedef struct {
  const GyreSurrogate *s;
  const float         *in, *want;
  int                  n;
  size_t               ysize;
  int                  own_workspace;
  int                  bad; /* applications that differ from want */
} ApplyJob;

static void *apply_thread(void *arg)
{
  ApplyJob         *j   = arg;
  float            *out = malloc(j->ysize * sizeof(float));
  GyreNetWorkspace *ws  = NULL;
  if (j->own_workspace && GyreNetWorkspaceCreate(GyreSurrogateNet(j->s), &ws)) j->bad = 3;
  for (int rep = 0; rep < 3 && !j->bad; rep++) {
    GyreStatus st = ws ? GyreSurrogateApplyWorkspace(j->s, ws, j->in, out, j->n)
                       : GyreSurrogateApply(j->s, j->in, out, j->n);
    if (st || memcmp(out, j->want, j->ysize * sizeof(float))) j->bad++;
  }
  GyreNetWorkspaceDestroy(&ws);
  free(out);
  return NULL;
}

static void test_inference(GyreBackend *be)
{
  const char *path = "nn_model_inference.nc";
  /* a 2-D CNN (fields), an MLP (per-point) and a 2-D FNO (the FFTW plan cache shared by the
   * threads) */
  const char *kname[4] = {"cnn", "mlp", "fno", "mlp 2 channels x stencil 3"};
  for (int kind = 0; kind < 4; kind++) {
    GyreModelMeta    *m = calloc(1, sizeof *m);
    GyreNormalization nm;
    GyreNet          *net;
    int               nd;
    int64_t           xs[4];
    if (kind == 0) {
      m->type = GYRE_NET_CNN;
      GyreCNNOptionsDefault(&m->cnn);
      m->cnn.in_channels = 2, m->cnn.out_channels = 2;
      int ch[7] = {6, 5, 4, 4, 4, 4, 4};
      memcpy(m->cnn.channels, ch, sizeof ch);
      fill_meta(m, &nm, 2, 2, 8, 6);
      CHECK(GyreNetCreateCNN(be, &m->cnn, 9, &net));
      nd = 4, xs[0] = 3, xs[1] = 2, xs[2] = 6, xs[3] = 8;
    } else if (kind == 1) {
      m->type = GYRE_NET_MLP;
      mlp_setup(&m->mlp);
      fill_meta(m, &nm, 5, 3, 1, 1);
      CHECK(GyreNetCreateMLP(be, &m->mlp, 9, &net));
      nd = 2, xs[0] = 11, xs[1] = 5;
    } else if (kind == 3) { /* per point: 2 channels, each a stencil of 3 (inputs channel
                             * major), one output of 2 normalised targets; 7 rows (a block of 8
                             * partly filled) */
      m->type = GYRE_NET_MLP;
      mlp_setup(&m->mlp);
      m->mlp.inputs = 6, m->mlp.outputs = 1;
      fill_meta(m, &nm, 2, 1, 8, 1); /* a 1-D grid of 8 points */
      snprintf(m->mode, sizeof m->mode, "closure");
      m->stencil = 1;
      CHECK(GyreNetCreateMLP(be, &m->mlp, 9, &net));
      nd = 2, xs[0] = 7, xs[1] = 6;
    } else {
      m->type = GYRE_NET_FNO;
      GyreFNOOptionsDefault(&m->fno);
      m->fno.in_channels = 2, m->fno.out_channels = 1, m->fno.width = 6, m->fno.modes = 3;
      m->fno.proj_width = 8;
      fill_meta(m, &nm, 2, 1, 12, 10);
      CHECK(GyreNetCreateFNO(be, &m->fno, 9, &net));
      nd = 4, xs[0] = 3, xs[1] = 2, xs[2] = 10, xs[3] = 12;
    }
    perturb(net);
    GyreTensor x = {0}, y = {0};
    int        ynd;
    int64_t    ys[4];
    CHECK(GyreTensorCreate(be, nd, xs, &x));
    CHECK(GyreNetOutputShape(net, nd, xs, &ynd, ys));
    CHECK(GyreTensorCreate(be, ynd, ys, &y));
    for (int rep = 0; kind == 0 && rep < 2; rep++) { /* batch norm's running statistics away
                                                      * from (0, 1): two training forwards */
      float *t = malloc(x.size * 4);
      for (size_t i = 0; i < x.size; i++)
        t[i] = (float) (0.7 + 1.5 * sin(0.37 * (double) (i + 3 * rep)));
      CHECK(GyreTensorCopyFromHost(&x, t));
      free(t);
      CHECK(GyreNetForward(net, &x, &y, 1));
    }
    CHECK(GyreModelFileWrite(MPI_COMM_SELF, path, net, m, &nm, NULL));
    GyreSurrogate *s;
    CHECK(GyreSurrogateLoad(MPI_COMM_SELF, path, be, &s));
    int    cin = kind == 3 ? 2 : (int) xs[1], cout = (int) ys[1];
    size_t per = x.size / ((size_t) xs[0] * cin), yper = y.size / ((size_t) ys[0] * cout);
    float *phys = malloc(x.size * 4), *h = malloc(x.size * 4);
    float *want = malloc(y.size * 4), *got = malloc(y.size * 4);
    for (size_t i = 0; i < x.size; i++) {
      int c   = (int) ((i / per) % cin);
      phys[i] = (float) (nm.in_mean[c] + nm.in_std[c] * (2 * urand() - 1));
      h[i]    = (float) (((double) phys[i] - nm.in_mean[c]) / nm.in_std[c]);
    }
    CHECK(GyreTensorCopyFromHost(&x, h));
    CHECK(GyreNetForward(net, &x, &y, 0));
    CHECK(GyreTensorCopyToHost(&y, want));
    for (size_t i = 0; i < y.size; i++) {
      int c   = (int) ((i / yper) % cout);
      want[i] = (float) ((double) want[i] * nm.out_std[c] + nm.out_mean[c]);
    }
    /* an MLP's Apply runs the one-pass mlp_forward where the backend has it: not bitwise the
     * layers one by one (the sums' order), so within a tolerance here; bitwise below with the
     * one-pass path off (GYRE_MLP_FUSED=0). Every other comparison is bitwise against Apply's
     * own first result (ref). */
    const int onepass = m->type == GYRE_NET_MLP && be->ops->mlp_forward;
    float    *ref     = malloc(y.size * 4);
    for (int rep = 0; rep < 2; rep++) { /* twice: reuses its buffers */
      CHECK(GyreSurrogateApply(s, phys, got, (int) xs[0]));
      if (rep == 0) memcpy(ref, got, y.size * 4);
      double worst = 0; /* the largest error over its tolerance */
      for (size_t i = 0; onepass && i < y.size; i++) {
        const int c = (int) ((i / yper) % cout);
        worst =
            fmax(worst, fabs((double) got[i] - want[i]) / (1e-5 * (fabs(want[i]) + nm.out_std[c])));
      }
      EXPECT(onepass ? worst <= 1 : !memcmp(want, got, y.size * 4),
             "%s: Apply differs from manual (%.3g of the tolerance)", kname[kind], worst);
      EXPECT(!memcmp(ref, got, y.size * 4), "%s: a second Apply differs from the first",
             kname[kind]);
    }
    if (onepass) { /* the layers one by one: bitwise the manual forward */
      GyreNetWorkspace *ws;
      setenv("GYRE_MLP_FUSED", "0", 1);
      CHECK(GyreNetWorkspaceCreate(GyreSurrogateNet(s), &ws));
      unsetenv("GYRE_MLP_FUSED");
      CHECK(GyreSurrogateApplyWorkspace(s, ws, phys, got, (int) xs[0]));
      EXPECT(!memcmp(want, got, y.size * 4), "%s: Apply with GYRE_MLP_FUSED=0 differs from manual",
             kname[kind]);
      GyreNetWorkspaceDestroy(&ws);
    }
    { /* the one-pass call resolved once (a closure's, GyreSurrogateHostCallInit): bitwise
       * Apply's result; none for a network without the one-pass path */
      GyreNetWorkspace *ws;
      GyreNetHostCall   d;
      CHECK(GyreNetWorkspaceCreate(GyreSurrogateNet(s), &ws));
      CHECK(GyreSurrogateHostCallInit(s, ws, &d));
      EXPECT(!d.fn == !onepass, "%s: a resolved one-pass call %s", kname[kind],
             d.fn ? "where there is no one-pass path" : "missing");
      memset(got, 0, y.size * 4);
      if (d.fn) CHECK(GyreNetHostRun(&d, (size_t) xs[0], phys, got));
      EXPECT(!d.fn || !memcmp(ref, got, y.size * 4), "%s: the resolved call differs from Apply",
             kname[kind]);
      GyreNetWorkspaceDestroy(&ws);
    }
    if (kind == 0) { /* the CNN's hidden layers: conv -> ReLU -> batch norm in one op where the
                      * backend has it (the CPU's direct convolution: channels <= 8, AVX2 + FMA) */
      GyreNetWorkspace *ws;
      CHECK(GyreNetWorkspaceCreate(GyreSurrogateNet(s), &ws));
      CHECK(GyreSurrogateApplyWorkspace(s, ws, phys, got, (int) xs[0]));
      const char *algo   = getenv("GYRE_CONV_ALGO");
      const int   fused  = GyreNetWorkspaceFusedLayers(ws);
      const int   expect = GyreCPUHasAVX2FMA() && (!algo || !*algo || !strcmp(algo, "direct"))
                               ? 2 * (m->cnn.nlayers - 1)
                               : 0;
      EXPECT(!memcmp(want, got, y.size * 4) && fused == expect,
             "cnn: %d layers fused (expected %d), output %s", fused, expect,
             memcmp(want, got, y.size * 4) ? "differs" : "equal");
      printf("inference cnn: %d activation and batch-norm layers run inside their convolutions, "
             "output bitwise the layers one by one\n",
             fused);
      GyreNetWorkspaceDestroy(&ws);
    }
    /* at bf16 where it runs (AMX or AVX-512 BF16): the chain normalises in its own op
     * (GyreNetInferChain); bitwise normalising before GyreNetInfer and after it */
    if (kind == 0) {
      GyreBackend *bf;
      CHECK(GyreBackendCreate("cpu", 1, &bf));
      if (GyreBackendSetPrecision(bf, "bf16") == GYRE_OK) {
        GyreSurrogate    *sb;
        GyreNetWorkspace *ws;
        GyreTensor        xb = {0}, yb = {0};
        CHECK(GyreSurrogateLoad(MPI_COMM_SELF, path, bf, &sb));
        CHECK(GyreNetWorkspaceCreate(GyreSurrogateNet(sb), &ws));
        CHECK(GyreTensorCreate(bf, nd, xs, &xb));
        CHECK(GyreTensorCreate(bf, ynd, ys, &yb));
        memcpy(xb.data, h, x.size * 4);
        CHECK(GyreNetInfer(GyreSurrogateNet(sb), ws, &xb, &yb));
        float *wantb = malloc(y.size * 4), *io = malloc(x.size * 4);
        for (size_t i = 0; i < y.size; i++) {
          int c    = (int) ((i / yper) % cout);
          wantb[i] = (float) ((double) yb.data[i] * nm.out_std[c] + nm.out_mean[c]);
        }
        CHECK(GyreSurrogateApplyWorkspace(sb, ws, phys, got, (int) xs[0]));
        EXPECT(!memcmp(wantb, got, y.size * 4), "cnn at bf16: Apply differs from manual");
        memcpy(io, phys, x.size * 4); /* in place: the general path, the same values */
        CHECK(GyreSurrogateApplyWorkspace(sb, ws, io, io, (int) xs[0]));
        EXPECT(!memcmp(wantb, io, y.size * 4), "cnn at bf16: Apply in place differs");
        { /* an output tensor of the wrong shape: one error naming both shapes, nothing run */
          GyreTensor    yw   = yb;
          int           done = -1;
          GyreMLPAffine aff  = {0};
          yw.shape[ynd - 1]++;
          GyreStatus st = GyreNetInferChain(GyreSurrogateNet(sb), ws, &xb, &yw, &aff, &done);
          EXPECT(st != GYRE_OK && done == 0 && strstr(GyreStatusMessage(), "GyreNetInferChain") &&
                     strstr(GyreStatusMessage(), "expected"),
                 "GyreNetInferChain with a wrong output shape: status %d, done %d, '%s'", (int) st,
                 done, GyreStatusMessage());
        }
        printf("inference cnn at bf16 (%s): Apply normalising in the chain's op equals "
               "normalise -> GyreNetInfer -> de-normalise, bitwise (and in place); a wrong "
               "output shape refused\n",
               GyreCPUBF16Unit());
        free(wantb), free(io);
        GyreTensorDestroy(&xb), GyreTensorDestroy(&yb);
        GyreNetWorkspaceDestroy(&ws);
        CHECK(GyreSurrogateDestroy(&sb));
      } else
        printf("inference cnn at bf16: not run (%s)\n", GyreStatusMessage());
      GyreBackendDestroy(&bf);
    }
    if (m->type == GYRE_NET_MLP) { /* in place: the output over the input (fewer outputs) */
      float *io = malloc(x.size * 4);
      memcpy(io, phys, x.size * 4);
      CHECK(GyreSurrogateApply(s, io, io, (int) xs[0]));
      EXPECT(!memcmp(ref, io, y.size * 4), "%s: Apply in place differs", kname[kind]);
      free(io);
    }
    /* thread safety: 4 threads apply the same surrogate at once, two with their own
     * workspaces, two with temporary ones, 3 times each; every result equals the serial one */
    {
      ApplyJob  job[4];
      pthread_t th[4];
      for (int t = 0; t < 4; t++) {
        job[t] = (ApplyJob){s, phys, ref, (int) xs[0], y.size, t % 2, 0};
        pthread_create(&th[t], NULL, apply_thread, &job[t]);
      }
      int bad = 0;
      for (int t = 0; t < 4; t++) {
        pthread_join(th[t], NULL);
        bad += job[t].bad;
      }
      EXPECT(bad == 0, "%s: %d of 12 concurrent applications differ from the serial result",
             kname[kind], bad);
      printf("inference %s: 4 threads x 3 concurrent applications equal the serial result\n",
             kname[kind]);
    }
    double maxabs = 0;
    for (size_t i = 0; i < y.size; i++)
      maxabs = fmax(maxabs, fabs(got[i]));
    printf("inference %s: %zu outputs equal normalise -> forward -> de-normalise %s "
           "(max |out| %.3g)\n",
           kname[kind], y.size,
           onepass ? "within 1e-5 (one pass), bitwise with GYRE_MLP_FUSED=0" : "bitwise", maxabs);
    free(phys), free(h), free(want), free(got), free(ref);
    GyreTensorDestroy(&x), GyreTensorDestroy(&y);
    CHECK(GyreSurrogateDestroy(&s));
    EXPECT(s == NULL, "destroy");
    GyreNetDestroy(&net);
    free(m);
  }
  { /* the one-pass path with a workspace made for another network: refused, one error */
    GyreMLPOptions o;
    GyreNet       *a, *b;
    two_mlps(be, 3, 16, &o, &a, &b);
    GyreNetWorkspace *ws;
    CHECK(GyreNetWorkspaceCreate(a, &ws));
    float       in[5] = {0}, out[3];
    int         done  = 1;
    GyreStatus  st    = GyreNetInferHost(b, ws, 1, in, out, NULL, &done);
    const char *msg   = GyreStatusMessage();
    EXPECT(st != GYRE_OK && !done && strstr(msg, "not made for this network"),
           "GyreNetInferHost with another network's workspace: %s",
           st == GYRE_OK ? "accepted" : msg);
    printf("one-pass inference, another network's workspace -> %s\n", msg);
    GyreNetHostCall d = {0};
    st                = GyreNetHostCallInit(b, ws, NULL, &d);
    EXPECT(st != GYRE_OK && !d.fn && strstr(GyreStatusMessage(), "not made for this network"),
           "GyreNetHostCallInit with another network's workspace: %s",
           st == GYRE_OK ? "accepted" : GyreStatusMessage());
    printf("resolved call, another network's workspace -> %s\n", GyreStatusMessage());
    st = GyreSurrogateHostCallInit(NULL, ws, &d);
    EXPECT(st != GYRE_OK && strstr(GyreStatusMessage(), "NULL argument"),
           "GyreSurrogateHostCallInit without a surrogate: %s",
           st == GYRE_OK ? "accepted" : GyreStatusMessage());
    GyreNetWorkspaceDestroy(&ws);
    GyreNetDestroy(&b);
    /* the same network (same depth) on another backend: both entry points refuse the workspace
     * made for a (its backend's memory, its recorded work), one error each */
    GyreBackend *be2;
    CHECK(GyreBackendCreate("cpu", 1, &be2));
    o.depth = 2;
    CHECK(GyreNetCreateMLP(be2, &o, 9, &b));
    CHECK(GyreNetWorkspaceCreate(a, &ws));
    done = 1;
    st   = GyreNetInferHost(b, ws, 1, in, out, NULL, &done);
    EXPECT(st != GYRE_OK && !done && strstr(GyreStatusMessage(), "not made for this network"),
           "GyreNetInferHost with another backend's workspace: %s",
           st == GYRE_OK ? "accepted" : GyreStatusMessage());
    GyreTensor    tx, ty;
    const int64_t xs[2] = {1, o.inputs}, ys[2] = {1, o.outputs};
    CHECK(GyreTensorCreate(be2, 2, xs, &tx));
    CHECK(GyreTensorCreate(be2, 2, ys, &ty));
    st = GyreNetInfer(b, ws, &tx, &ty);
    EXPECT(st != GYRE_OK && strstr(GyreStatusMessage(), "GyreNetInfer: the workspace was not made"),
           "GyreNetInfer with another backend's workspace: %s",
           st == GYRE_OK ? "accepted" : GyreStatusMessage());
    printf("inference, a workspace of another backend -> %s\n", GyreStatusMessage());
    st = GyreNetInferStaged(b, ws, in, &tx, &ty, out);
    EXPECT(st != GYRE_OK &&
               strstr(GyreStatusMessage(), "GyreNetInferStaged: the workspace was not made"),
           "GyreNetInferStaged with another backend's workspace: %s",
           st == GYRE_OK ? "accepted" : GyreStatusMessage());
    GyreTensorDestroy(&tx), GyreTensorDestroy(&ty);
    GyreNetWorkspaceDestroy(&ws);
    GyreNetDestroy(&a), GyreNetDestroy(&b);
    GyreBackendDestroy(&be2);
  }
  { /* a resolved one-pass call (GyreNetHostCallInit) keeps its plan when its workspace is then
     * given another network of the same depth (allowed: the same layer count and backend):
     * that network runs layer by layer, its own result, and the call still gives the first
     * network's, bitwise (its plan was freed under it before: a use after free) */
    GyreMLPOptions o;
    GyreNet       *a, *b;
    two_mlps(be, 2, 7, &o, &a, &b);
    GyreNetWorkspace *ws, *wb;
    GyreNetHostCall   d;
    CHECK(GyreNetWorkspaceCreate(a, &ws));
    CHECK(GyreNetWorkspaceCreate(b, &wb));
    CHECK(GyreNetHostCallInit(a, ws, NULL, &d));
    float in[2 * 5], ya[2 * 3], ya2[2 * 3], yb[2 * 3], yb2[2 * 3];
    for (int i = 0; i < 10; i++)
      in[i] = 0.3f * (float) i - 1.1f;
    int done = 0, bad = 0;
    if (d.fn) {
      CHECK(GyreNetHostRun(&d, 2, in, ya));
      CHECK(GyreNetInferHost(b, wb, 2, in, yb, NULL, &done)); /* b's own workspace */
      GyreTensor    tx, ty;
      const int64_t xs[2] = {2, 5}, ys[2] = {2, 3};
      CHECK(GyreTensorCreate(be, 2, xs, &tx));
      CHECK(GyreTensorCreate(be, 2, ys, &ty));
      CHECK(GyreTensorCopyFromHost(&tx, in));
      CHECK(GyreNetInfer(b, ws, &tx, &ty)); /* b on a's workspace: layer by layer */
      CHECK(GyreTensorCopyToHost(&ty, yb2));
      CHECK(GyreNetHostRun(&d, 2, in, ya2));
      bad = !done || memcmp(ya, ya2, sizeof ya) != 0;
      for (int i = 0; i < 6; i++) /* b: one pass against layer by layer (the sums' order) */
        bad |= fabs((double) yb[i] - yb2[i]) > 1e-5 * (1 + fabs((double) yb[i]));
      GyreTensorDestroy(&tx), GyreTensorDestroy(&ty);
    }
    EXPECT(!bad, "a resolved call after its workspace served another network: %s",
           !done ? "b's one-pass call did not run" : "a's or b's result changed");
    printf("one-pass call resolved, its workspace then given another network -> %s\n",
           d.fn ? (bad ? "wrong" : "both results kept") : "no one-pass path (not checked)");
    GyreNetWorkspaceDestroy(&ws), GyreNetWorkspaceDestroy(&wb);
    GyreNetDestroy(&a), GyreNetDestroy(&b);
  }
  { /* GyreNetInferStaged through the workspace's staging (the coupling's call): on the CPU
     * backend (no graphs) the copies and GyreNetInfer, bitwise, call after call; NULL staging
     * refused */
    GyreCNNOptions o;
    GyreNet       *net;
    GyreCNNOptionsDefault(&o);
    o.in_channels = 2, o.out_channels = 1, o.nlayers = 2, o.channels[0] = 4, o.kernels[0] = 3;
    o.kernels[1] = 3;
    CHECK(GyreNetCreateCNN(be, &o, 4, &net));
    GyreNetWorkspace *ws, *wr;
    CHECK(GyreNetWorkspaceCreate(net, &ws));
    CHECK(GyreNetWorkspaceCreate(net, &wr));
    const int64_t xs[4] = {1, 2, 9, 7}, ys[4] = {1, 1, 9, 7};
    GyreTensor   *x, *y, tx, ty;
    float        *hin, *hout, want[63];
    CHECK(GyreTensorCreate(be, 4, xs, &tx));
    CHECK(GyreTensorCreate(be, 4, ys, &ty));
    for (int call = 0; call < 3; call++) {
      CHECK(GyreNetWorkspaceIO(ws, 4, xs, 4, ys, &x, &y, &hin, &hout));
      for (int i = 0; i < 126; i++)
        hin[i] = (float) sin(0.37 * i + call);
      CHECK(GyreTensorCopyFromHost(&tx, hin));
      CHECK(GyreNetInfer(net, wr, &tx, &ty));
      CHECK(GyreTensorCopyToHost(&ty, want));
      CHECK(GyreNetInferStaged(net, ws, hin, x, y, hout));
      EXPECT(!memcmp(want, hout, sizeof want),
             "GyreNetInferStaged call %d differs from "
             "GyreNetInfer",
             call + 1);
    }
    GyreStatus st = GyreNetInferStaged(net, ws, NULL, x, y, hout);
    EXPECT(st == GYRE_ERR_ARG && strstr(GyreStatusMessage(), "NULL host staging"),
           "GyreNetInferStaged without staging: %s",
           st == GYRE_OK ? "accepted" : GyreStatusMessage());
    GyreTensorDestroy(&tx), GyreTensorDestroy(&ty);
    GyreNetWorkspaceDestroy(&ws), GyreNetWorkspaceDestroy(&wr);
    GyreNetDestroy(&net);
  }
  { /* a whole-field MLP (one channel on a 2 x 2 grid: 4 inputs) with 6 outputs, no whole
     * number of fields: refused when loaded, with one error naming the counts */
    GyreModelMeta    *m = calloc(1, sizeof *m);
    GyreNormalization nm;
    GyreNet          *net;
    m->type = GYRE_NET_MLP;
    mlp_setup(&m->mlp);
    fill_meta(m, &nm, 1, 1, 2, 2);
    m->per_point = 0, m->history = 1, m->mlp.inputs = 4, m->mlp.outputs = 6;
    CHECK(GyreNetCreateMLP(be, &m->mlp, 9, &net));
    CHECK(GyreModelFileWrite(MPI_COMM_SELF, path, net, m, &nm, NULL));
    GyreSurrogate *s   = NULL;
    GyreStatus     st  = GyreSurrogateLoad(MPI_COMM_SELF, path, be, &s);
    const char    *msg = GyreStatusMessage();
    EXPECT(st != GYRE_OK && strstr(msg, "gives 6 outputs") && strstr(msg, "make 4 and 4"),
           "a whole-field MLP with 6 outputs on 4 points: %s", st == GYRE_OK ? "loaded" : msg);
    printf("whole-field MLP, 6 outputs on 4 points -> %s\n", msg);
    GyreSurrogateDestroy(&s);
    GyreNetDestroy(&net);
    free(m);
  }
  unlink(path);
}

int main(int argc, char **argv)
{
  MPI_Init(&argc, &argv);
  if (argc != 2) {
    fprintf(stderr,
            "usage: %s roundtrip_mlp|roundtrip_fno|roundtrip_cnn|corrupt|inference|training\n",
            argv[0]);
    MPI_Abort(MPI_COMM_WORLD, 2);
  }
  GyreBackend *be;
  CHECK(GyreBackendCreate("cpu", 1, &be));
  const char *c     = argv[1];
  int         known = 1;
  if (!strcmp(c, "roundtrip_mlp"))
    test_roundtrip_mlp(be), test_recipe_diff();
  else if (!strcmp(c, "roundtrip_fno"))
    test_roundtrip_fno(be);
  else if (!strcmp(c, "roundtrip_cnn"))
    test_roundtrip_cnn(be), test_cnn_buffers(be);
  else if (!strcmp(c, "corrupt"))
    test_corrupt(be);
  else if (!strcmp(c, "inference"))
    test_inference(be);
  else if (!strcmp(c, "training"))
    test_training(be);
  else
    known = 0;
  return nn_test_finish(c, known, be);
}
