/* test_nn_trainer.c — the data-parallel trainer (surrogates/gyre_trainer.h) and its bucketed
 * gradient reduction (GyreGradSync), on small files written here. One case per argument:
 *   gradsync  buckets of a few floats: each bucket's sum over ranks, started from the backward
 *             hook order, equals the analytic sum; several buckets are cut;
 *   ranks     (2 ranks) rank 0 alone trains with global batch 2b, then 2 ranks x b train the
 *             same: weights, batch-norm statistics and optimiser moments agree to 1e-5 (CNN
 *             with synchronised batch norm on 2-D fields; per-point MLP closure on 1-D fields);
 *   resume    3 epochs in one go vs 1 epoch then resumed to 3: every weight, buffer and moment
 *             bitwise equal (FNO and CNN); "auto" resumes; a checkpoint of another network or
 *             other data is refused with a message naming both;
 *   learn     a per-point MLP closure y = sin(2x) + x/2 learns: validation loss falls 100x,
 *             the curve is stored, the best model is the epoch with the lowest loss;
 *   errors    impossible options, a NaN loss, no batch: one clear message each. */
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "gyre_io.h"
#include "gyre_model_file.h"
#include "gyre_trainer.h"
#include "nn_test.h"

static int          rank = 0, size = 1;
static GyreBackend *be;

/* ---- data files ----------------------------------------------------------------------- */

/* A gyre-like file: variables a, b (time, member, [y,] x); b a smooth local function of a. */
static GyreStatus WriteData(const char *path, int nmem, int nrec, int ny, int nx, double shift)
{
  GyreFileOptions o = {.overwrite = 1};
  GyreFile        f;
  GyreDimSpec     md = {.name = "member", .len = (size_t) nmem, .standard_name = "realization"};
  GyreDimSpec     yd = {.name = "y", .len = (size_t) ny}, xd = {.name = "x", .len = (size_t) nx};
  GyreVarSpec     va  = {.name = "a", .precision = GYRE_FLOAT, .has_time = 1};
  int             two = ny > 1, id[2];
  va.ndims            = two ? 3 : 2;
  va.dims[0] = "member", va.dims[1] = two ? "y" : "x", va.dims[2] = "x";
  GyreVarSpec vb = va;
  vb.name        = "b";
  GyreCall(GyreFileCreate(MPI_COMM_SELF, path, &o, &f));
  GyreCall(GyreFileDefineTime(f, GYRE_TIME_NONDIM, NULL));
  GyreCall(GyreFileDefineDim(f, &md));
  if (two) GyreCall(GyreFileDefineDim(f, &yd));
  GyreCall(GyreFileDefineDim(f, &xd));
  GyreCall(GyreFileDefineVar(f, &va, &id[0]));
  GyreCall(GyreFileDefineVar(f, &vb, &id[1]));
  GyreCall(GyreFileEndDef(f));
  size_t  n = (size_t) nmem * ny * nx;
  double *a = malloc(n * sizeof(double)), *b = malloc(n * sizeof(double));
  size_t  start[3] = {0, 0, 0}, count[3] = {(size_t) nmem, (size_t) (two ? ny : nx), (size_t) nx};
  for (int r = 0; r < nrec; r++) {
    for (int m = 0; m < nmem; m++)
      for (int y = 0; y < ny; y++)
        for (int x = 0; x < nx; x++) {
          double ph = 6.283185307179586 * x / nx, ps = 6.283185307179586 * y / ny,
                 t = 0.37 * r + 1.3 * m + shift;
          a[((size_t) m * ny + y) * nx + x] =
              sin(ph + t) + 0.5 * cos(2 * ps - 0.7 * t) + 0.3 * sin(3 * ph + ps + 2.1 * t);
        }
    for (size_t i = 0; i < n; i++)
      b[i] = sin(2 * a[i]) + 0.5 * a[i];
    GyreStatus st = GyreFileWriteTime(f, (size_t) r, 0.25 * r);
    if (!st) st = GyreFileWriteBlock(f, id[0], (size_t) r, start, count, a);
    if (!st) st = GyreFileWriteBlock(f, id[1], (size_t) r, start, count, b);
    if (st) {
      free(a), free(b);
      return st;
    }
  }
  free(a), free(b);
  return GyreFileClose(&f);
}

static char *Path(const char *name)
{
  static char buf[64][256]; /* a ring: each case uses fewer than 64 names */
  static int  k = 0;
  char       *p = buf[k++ % 64];
  snprintf(p, 256, "nn_trainer_%s_np%d_%s", getenv("GYRE_TEST_TAG") ? getenv("GYRE_TEST_TAG") : "t",
           size, name);
  return p;
}

/* rank 0 writes, everyone waits */
static void Data(const char *path, int nmem, int nrec, int ny, int nx, double shift)
{
  GyreStatus st = rank == 0 ? WriteData(path, nmem, nrec, ny, nx, shift) : GYRE_OK;
  CHECK(GyreStatusAgree(MPI_COMM_WORLD, st));
}

static void Remove(const char *path)
{
  MPI_Barrier(MPI_COMM_WORLD);
  if (rank == 0) unlink(path);
}

/* ---- options --------------------------------------------------------------------------- */

static GyreTrainerOptions Options(const char *data, GyreNetType net, const char *out)
{
  GyreTrainerOptions o;
  GyreTrainerOptionsDefault(&o);
  o.data.pattern = data;
  o.data.kind    = GYRE_SAMPLE_CLOSURE;
  o.data.ninputs = 1, o.data.inputs[0] = "a";
  o.data.ntargets = 1, o.data.targets[0] = "b";
  o.data.batch = 8;
  o.data.seed  = 11;
  o.net        = net;
  o.seed       = 5;
  o.epochs     = 3;
  o.out        = out;
  o.opt.lr     = 3e-3;
  o.mlp.width  = 16;
  o.fno.width = 6, o.fno.modes = 3, o.fno.proj_width = 8;
  o.cnn.nlayers     = 3;
  o.cnn.channels[0] = 6, o.cnn.channels[1] = 4;
  o.cnn.kernels[0] = 5, o.cnn.kernels[1] = 3, o.cnn.kernels[2] = 3;
  o.cnn.activation = GYRE_ACT_TANH;
  o.bucket_bytes   = 256; /* several buckets even for small networks */
  return o;
}

/* every float variable of a model file, concatenated (parameters, buffers, moments) */
typedef struct {
  int     n;
  char    names[256][64];
  float  *v[256];
  size_t  len[256];
  double *curve, *train; /* validation (else training) loss; training loss */
  int     nep;
} Dump;

static void Load(const char *path, Dump *d)
{
  GyreNet          *net;
  GyreModelMeta    *m = malloc(sizeof *m);
  GyreNormalization nm;
  GyreModelTraining rec = {0};
  GyreOptimizer    *opt = NULL;
  memset(d, 0, sizeof *d);
  CHECK(GyreModelFileRead(MPI_COMM_SELF, path, be, &net, m, &nm));
  int                np, nb;
  GyreTensor *const *p, *const *g, *const *bt;
  const char *const *names, *const *bnames;
  CHECK(GyreNetParameters(net, &np, &p, &g, &names));
  CHECK(GyreNetBuffers(net, &nb, &bt, &bnames));
  GyreOptimizerOptions oo;
  GyreOptimizerOptionsDefault(&oo);
  CHECK(GyreOptimizerCreate(be, np, p, g, &oo, &opt));
  rec.opt     = opt;
  int has_opt = GyreModelFileReadTraining(MPI_COMM_SELF, path, net, &rec) == GYRE_OK;
  if (!has_opt) {
    rec.opt = NULL;
    CHECK(GyreModelFileReadTraining(MPI_COMM_SELF, path, net, &rec));
  }
  for (int i = 0; i < np + nb; i++) {
    const GyreTensor *t = i < np ? p[i] : bt[i - np];
    snprintf(d->names[d->n], 64, "%s", i < np ? names[i] : bnames[i - np]);
    d->len[d->n] = t->size;
    d->v[d->n]   = malloc(t->size * sizeof(float));
    CHECK(GyreTensorCopyToHost(t, d->v[d->n]));
    d->n++;
  }
  if (has_opt) {
    size_t n  = GyreOptimizerStateSize(opt);
    float *mm = malloc(n * sizeof(float)), *vv = malloc(n * sizeof(float));
    CHECK(GyreOptimizerGetState(opt, mm, vv, NULL));
    snprintf(d->names[d->n], 64, "adam.m"), d->len[d->n] = n, d->v[d->n++] = mm;
    snprintf(d->names[d->n], 64, "adam.v"), d->len[d->n] = n, d->v[d->n++] = vv;
  }
  d->nep   = rec.nepochs;
  d->curve = rec.val_loss ? rec.val_loss : rec.train_loss;
  d->train = rec.train_loss;
  free(rec.epoch);
  GyreOptimizerDestroy(&opt);
  GyreNetDestroy(&net);
  free(m);
}

static void Free(Dump *d)
{
  for (int i = 0; i < d->n; i++)
    free(d->v[i]);
  if (d->curve != d->train) free(d->curve);
  free(d->train);
}

/* max over variables of max |a - b| / max |a| */
static double Compare(const Dump *a, const Dump *b, const char *what)
{
  double worst = 0;
  EXPECT(a->n == b->n, "%s: %d vs %d variables", what, a->n, b->n);
  for (int i = 0; i < a->n && i < b->n; i++) {
    double dm = 0, am = 1e-30;
    for (size_t k = 0; k < a->len[i]; k++) {
      dm = fmax(dm, fabs((double) a->v[i][k] - b->v[i][k]));
      am = fmax(am, fabs((double) a->v[i][k]));
    }
    if (dm / am > worst) worst = dm / am;
    if (dm / am > 1e-5) printf("  %s: %s differs by %.3g (relative)\n", what, a->names[i], dm / am);
  }
  return worst;
}

/* Two checkpoints of the same training: *w the largest relative difference of their tensors;
 * returns whether their learning curves (validation and training loss) are bitwise equal. */
static int SameRun(const char *pa, const char *pb, const char *tag, double *w)
{
  Dump a, b;
  Load(pa, &a);
  Load(pb, &b);
  *w       = Compare(&a, &b, tag);
  int same = a.nep == b.nep;
  for (int i = 0; i < a.nep && same; i++)
    same = a.curve[i] == b.curve[i] && a.train[i] == b.train[i];
  Free(&a), Free(&b);
  return same;
}

/* ---- cases ---------------------------------------------------------------------------- */

static void TestGradSync(void)
{
  int64_t       shapes[5][2] = {{3, 4}, {4, 1}, {7, 5}, {2, 2}, {1, 1}};
  GyreTensor    g[5], *gp[5];
  GyreGradSync *gs;
  for (int i = 0; i < 5; i++) {
    CHECK(GyreTensorCreate(be, 2, shapes[i], &g[i]));
    gp[i] = &g[i];
  }
  for (int round = 0; round < 2; round++) {
    size_t bytes = round ? 0 : 40; /* 10 floats: several buckets; then the 4 MiB default */
    CHECK(GyreGradSyncCreate(MPI_COMM_WORLD, be, 5, gp, bytes, &gs));
    int nb = GyreGradSyncBuckets(gs);
    EXPECT(round ? nb == 1 : nb >= 3, "bucket_bytes %zu: %d buckets", bytes, nb);
    for (int i = 0; i < 5; i++) {
      float v[64];
      for (size_t k = 0; k < g[i].size; k++)
        v[k] = (float) (rank + 1) * (float) (i * 100 + (int) k);
      CHECK(GyreTensorCopyFromHost(&g[i], v));
    }
    /* the backward order: the last parameters become final first */
    for (int first = 4; first >= 0; first -= 2)
      CHECK(GyreGradSyncReady(gs, first));
    CHECK(GyreGradSyncFinish(gs));
    double ranks = size * (size + 1) / 2.0;
    for (int i = 0; i < 5; i++) {
      float v[64];
      CHECK(GyreTensorCopyToHost(&g[i], v));
      for (size_t k = 0; k < g[i].size; k++)
        EXPECT(v[k] == (float) (ranks * (i * 100 + (int) k)), "grad %d[%zu] = %g, expected %g", i,
               k, v[k], ranks * (i * 100 + (int) k));
    }
    CHECK(GyreGradSyncDestroy(&gs));
  }
  for (int i = 0; i < 5; i++)
    GyreTensorDestroy(&g[i]);
}

/* trains on comm (rank 0 alone when solo) */
static void Train(MPI_Comm comm, GyreTrainerOptions *o, GyreTrainerResult *r)
{
  CHECK(GyreTrain(comm, be, o, r));
}

static void TestRanks(void)
{
  if (size != 2) {
    printf("ranks: needs 2 ranks, skipped on %d\n", size);
    return;
  }
  const char *d2 = Path("ranks2d.nc"), *d1 = Path("ranks1d.nc");
  Data(d2, 4, 6, 8, 8, 0.0);
  Data(d1, 3, 20, 1, 16, 0.0);
  struct {
    const char *data, *tag;
    GyreNetType net;
    int         per_point, batch;
  } runs[] = {{d2, "cnn", GYRE_NET_CNN, 0, 4}, {d1, "mlp", GYRE_NET_MLP, 1, 64}};
  for (int k = 0; k < 2; k++) {
    char solo[128], both[128], cs[160], cb[160];
    snprintf(solo, sizeof solo, "%s", Path(runs[k].tag));
    strcat(solo, "_solo.nc");
    snprintf(both, sizeof both, "%s", Path(runs[k].tag));
    strcat(both, "_both.nc");
    snprintf(cs, sizeof cs, "%s.ckpt", solo);
    snprintf(cb, sizeof cb, "%s.ckpt", both);
    GyreTrainerOptions o = Options(runs[k].data, runs[k].net, solo);
    o.data.per_point     = runs[k].per_point;
    o.data.batch         = runs[k].batch;
    o.checkpoint         = cs;
    GyreTrainerResult r1 = {0}, r2 = {0};
    if (rank == 0) Train(MPI_COMM_SELF, &o, &r1);
    MPI_Barrier(MPI_COMM_WORLD);
    o.out        = both;
    o.checkpoint = cb;
    Train(MPI_COMM_WORLD, &o, &r2);
    if (rank == 0) {
      Dump a, b;
      Load(cs, &a);
      Load(cb, &b);
      double w = Compare(&a, &b, runs[k].tag);
      printf("ranks %s: 1 rank x %d vs 2 ranks x %d: max relative difference %.3g over %d "
             "tensors (%d buckets); val loss %.6g vs %.6g\n",
             runs[k].tag, runs[k].batch, runs[k].batch / 2, w, a.n, r2.buckets, r1.val_loss,
             r2.val_loss);
      EXPECT(w <= 1e-5, "%s: 2 ranks differ from 1 rank by %.3g", runs[k].tag, w);
      EXPECT(fabs(r1.val_loss - r2.val_loss) <= 1e-5 * fabs(r1.val_loss), "%s: val loss %g vs %g",
             runs[k].tag, r1.val_loss, r2.val_loss);
      EXPECT(r2.buckets >= 2, "%s: %d buckets", runs[k].tag, r2.buckets);
      Free(&a), Free(&b);
    }
    Remove(solo), Remove(both), Remove(cs), Remove(cb);
  }
  Remove(d1), Remove(d2);
}

/* the stop callback: true on the last rank every 3rd step */
static int stop_calls = 0;
static int StopEvery3(void *ctx)
{
  (void) ctx;
  return rank == size - 1 && ++stop_calls % 3 == 0 ? SIGUSR1 : 0;
}

static void TestResume(void)
{
  const char *d2 = Path("resume.nc"), *other = Path("resume_other.nc");
  Data(d2, 3, 6, 8, 8, 0.0);
  Data(other, 3, 6, 8, 8, 0.5);
  GyreNetType nets[2] = {GYRE_NET_FNO, GYRE_NET_CNN};
  for (int k = 0; k < 2; k++) {
    const char *tag = k ? "cnn" : "fno";
    char        full[128], part[128], cfull[160], cpart[160];
    snprintf(full, sizeof full, "%s_full.nc", Path(tag));
    snprintf(part, sizeof part, "%s_part.nc", Path(tag));
    snprintf(cfull, sizeof cfull, "%s.ckpt", full);
    snprintf(cpart, sizeof cpart, "%s.ckpt", part);
    GyreTrainerOptions o = Options(d2, nets[k], full);
    o.checkpoint         = cfull;
    o.data.batch         = 4;
    o.opt.schedule       = GYRE_SCHED_COSINE; /* the learning rate depends on the epoch */
    o.opt.warmup         = 1;
    GyreTrainerResult r  = {0};
    Train(MPI_COMM_WORLD, &o, &r);
    o.out = part, o.checkpoint = cpart, o.epochs_per_run = 1; /* as if stopped after epoch 1 */
    Train(MPI_COMM_WORLD, &o, &r);
    EXPECT(r.epochs_run == 1, "%s: %d epochs", tag, r.epochs_run);
    o.epochs_per_run = 0, o.resume = "auto";
    Train(MPI_COMM_WORLD, &o, &r);
    EXPECT(r.start_epoch == 1 && r.epochs_run == 3, "%s: resumed at %d, ran %d", tag, r.start_epoch,
           r.epochs_run);
    if (rank == 0) {
      double w    = 0;
      int    same = SameRun(cfull, cpart, tag, &w);
      printf("resume %s: max difference %.3g; curves %s\n", tag, w, same ? "equal" : "DIFFER");
      EXPECT(w == 0 && same, "%s: resumed run differs (%.3g)", tag, w);
    }
    /* stopped mid-epoch (as by SIGUSR1 on the last rank only) every 3 steps (also after the last
     * batch of an epoch) and resumed until done: bitwise the uninterrupted run, training losses
     * included */
    {
      char cstop[200], stopped_out[160];
      snprintf(stopped_out, sizeof stopped_out, "%s_stop.nc", Path(tag));
      snprintf(cstop, sizeof cstop, "%s.ckpt", stopped_out);
      GyreTrainerOptions so = o;
      so.out = stopped_out, so.checkpoint = cstop, so.resume = "auto";
      so.stop = StopEvery3, so.stop_ctx = NULL;
      int legs = 0, stops = 0, signum = 0;
      stop_calls = 0;
      do {
        Train(MPI_COMM_WORLD, &so, &r);
        stops += r.interrupted != 0;
        if (r.interrupted && r.interrupted != SIGUSR1) signum = r.interrupted;
      } while (r.interrupted && ++legs < 50);
      /* every rank learns the last rank's signal */
      EXPECT(signum == 0, "%s: interrupted by %d on rank %d, expected SIGUSR1 (%d)", tag, signum,
             rank, SIGUSR1);
      if (rank == 0) {
        double w    = 0;
        int    same = SameRun(cfull, cstop, tag, &w);
        printf("resume %s: stopped %d times mid-epoch and resumed: max difference %.3g, curves "
               "%s\n",
               tag, stops, w, same ? "equal" : "DIFFER");
        EXPECT(stops >= 2 && w == 0 && same, "%s: %d stops, difference %.3g", tag, stops, w);
      }
      Remove(stopped_out), Remove(cstop);
    }
    /* a checkpoint of another network, or trained on other data, is refused */
    GyreTrainerOptions bad = o;
    bad.resume             = cpart;
    bad.out                = Path("bad.nc");
    bad.checkpoint         = Path("bad.ckpt");
    if (nets[k] == GYRE_NET_FNO)
      bad.fno.width = 7;
    else
      bad.cnn.channels[0] = 5;
    GyreStatus st = GyreTrain(MPI_COMM_WORLD, be, &bad, &r);
    EXPECT(st == GYRE_ERR_ARG && strstr(GyreStatusMessage(), "different network"),
           "%s: other network: %d '%s'", tag, (int) st, GyreStatusMessage());
    bad              = o;
    bad.resume       = cpart;
    bad.out          = Path("bad.nc");
    bad.checkpoint   = Path("bad.ckpt");
    bad.data.pattern = other;
    st               = GyreTrain(MPI_COMM_WORLD, be, &bad, &r);
    EXPECT(st == GYRE_ERR_ARG && strstr(GyreStatusMessage(), "not the same data"),
           "%s: other data: %d '%s'", tag, (int) st, GyreStatusMessage());
    if (rank == 0) printf("resume %s: refused: %s\n", tag, GyreStatusMessage());
    Remove(full), Remove(part), Remove(cfull), Remove(cpart);
  }
  Remove(d2), Remove(other);
}

static void TestLearn(void)
{
  const char *d = Path("learn.nc"), *out = Path("learn_model.nc"), *ck = Path("learn.ckpt");
  Data(d, 4, 40, 1, 16, 0.0);
  GyreTrainerOptions o = Options(d, GYRE_NET_MLP, out);
  o.checkpoint         = ck;
  o.data.per_point     = 1;
  o.data.batch         = 64;
  o.epochs             = 12;
  o.mlp.width          = 32;
  o.opt.lr             = 1e-2;
  o.opt.schedule       = GYRE_SCHED_STEP;
  o.opt.step_size      = 6;
  o.opt.step_gamma     = 0.3;
  o.log                = rank == 0 ? stdout : NULL;
  GyreTrainerResult r  = {0};
  Train(MPI_COMM_WORLD, &o, &r);
  if (rank == 0) {
    Dump c;
    Load(ck, &c);
    double first = c.curve[0], best = INFINITY;
    int    bi = -1;
    for (int i = 0; i < c.nep; i++)
      if (c.curve[i] < best) best = c.curve[i], bi = i;
    printf("learn: validation loss %.4g after epoch 1, best %.4g at epoch %d (zero closure: ~1)\n",
           first, best, bi + 1);
    EXPECT(c.nep == 12, "%d epochs in the curve", c.nep);
    EXPECT(best < 1e-2, "best validation loss %g >= 1e-2 (the zero closure scores ~1)", best);
    EXPECT(bi == r.best_epoch && best == r.best_loss, "best epoch %d vs %d", bi, r.best_epoch);
    Free(&c);
    /* the best model file holds the curve up to the best epoch */
    Dump m;
    Load(out, &m);
    EXPECT(m.nep == bi + 1, "best model: %d epochs in its curve, expected %d", m.nep, bi + 1);
    Free(&m);
  }
  Remove(d), Remove(out), Remove(ck);
}

static void TestErrors(void)
{
  const char *d = Path("err.nc");
  Data(d, 2, 6, 1, 16, 0.0);
  GyreTrainerResult  r;
  GyreTrainerOptions o = Options(d, GYRE_NET_MLP, Path("err_model.nc"));
  o.data.per_point     = 1;
  struct {
    const char *what, *needle;
    void (*set)(GyreTrainerOptions *);
  } cases[] = {
      {"no output", "-train_out", NULL},
      {"epochs 0", "-train_epochs 0", NULL},
      {"fno per point", "whole fields", NULL},
      {"batch too large", "do not fill one global batch", NULL},
      {"checkpoint = out", "both", NULL},
      {"missing variable", "variable 'nope' not found", NULL},
      {"NaN loss", "the loss is", NULL},
  };
  for (int k = 0; k < (int) (sizeof cases / sizeof cases[0]); k++) {
    GyreTrainerOptions b = o;
    b.epochs             = 1;
    switch (k) {
    case 0:
      b.out = NULL;
      break;
    case 1:
      b.epochs = 0;
      break;
    case 2:
      b.net = GYRE_NET_FNO;
      break;
    case 3:
      b.data.batch = 100000;
      break;
    case 4:
      b.checkpoint = b.out;
      break;
    case 5:
      b.data.targets[0] = "nope";
      break;
    case 6:
      b.opt.lr = 1e30, b.opt.eps = 1e-30;
      break;
    }
    GyreStatus st = GyreTrain(MPI_COMM_WORLD, be, &b, &r);
    EXPECT(st != GYRE_OK && strstr(GyreStatusMessage(), cases[k].needle),
           "%s: status %d, message '%s' lacks '%s'", cases[k].what, (int) st, GyreStatusMessage(),
           cases[k].needle);
    if (rank == 0) printf("errors: %s -> %s\n", cases[k].what, GyreStatusMessage());
  }
  Remove(d), Remove(Path("err_model.nc")), Remove(Path("err_model.ckpt.nc"));
}

int main(int argc, char **argv)
{
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  const char *c = argc > 1 ? argv[1] : "";
  CHECK(GyreBackendCreate("cpu", 1, &be));
  int known = 1;
  if (!strcmp(c, "gradsync"))
    TestGradSync();
  else if (!strcmp(c, "ranks"))
    TestRanks();
  else if (!strcmp(c, "resume"))
    TestResume();
  else if (!strcmp(c, "learn"))
    TestLearn();
  else if (!strcmp(c, "errors"))
    TestErrors();
  else
    known = 0;
  int all = failures;
  MPI_Allreduce(MPI_IN_PLACE, &all, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  failures = all;
  return nn_test_finish(c, known, be);
}
