/* test_nn_data.c — the surrogate dataset reader (surrogates/gyre_data.h) on small files
 * written here with io's writer. Run on 1 and 2 ranks. Every value written is exact in
 * float32 and encodes (file, variable, record, member, point), so a sample read back is
 * compared exactly with the formula. */
#include "gyre_data.h"
#include "gyre_io.h"
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int  failures = 0, rank = 0, size = 1;
static char prefix[64];

#define CHECK(cond, ...)                                                                           \
  do {                                                                                             \
    if (!(cond)) {                                                                                 \
      if (failures++ < 20) {                                                                       \
        fprintf(stderr, "[%d] FAIL %s:%d: %s: ", rank, __FILE__, __LINE__, #cond);                 \
        fprintf(stderr, __VA_ARGS__);                                                              \
        fputc('\n', stderr);                                                                       \
      }                                                                                            \
    }                                                                                              \
  } while (0)
#define CHECK_OK(expr)                                                                             \
  do {                                                                                             \
    GyreStatus s_ = (expr);                                                                        \
    CHECK(s_ == GYRE_OK, "status %d: %s", (int) s_, GyreStatusMessage());                          \
  } while (0)
#define CHECK_MSG(expr, code, part)                                                                \
  do {                                                                                             \
    GyreStatus s_ = (expr);                                                                        \
    CHECK(s_ == (code), "status %d, expected %d (%s)", (int) s_, (int) (code),                     \
          GyreStatusMessage());                                                                    \
    CHECK(strstr(GyreStatusMessage(), (part)) != NULL, "message '%s' lacks '%s'",                  \
          GyreStatusMessage(), (part));                                                            \
    if (rank == 0 && s_ == (code)) printf("  error as expected: %s\n", GyreStatusMessage());       \
  } while (0)

/* 1-D files: value of variable v of file f at record r, point k (exact in float32). */
static double V1(int f, int v, int r, int k)
{
  return 10000.0 * f + 1000.0 * v + 10.0 * r + 0.25 * k + 1.0;
}
/* 2-D ensemble file: variable v, record r, member m, point (y, x). */
static double V2(int v, int r, int m, int y, int x)
{
  return 100000.0 * v + 1000.0 * r + 100.0 * m + 10.0 * y + x + 0.5;
}

enum { K = 8, NREC1 = 20, NREC2 = 6, NMEM = 4, NY = 4, NX = 5 };

static char *Path(const char *name)
{
  static char buf[8][128];
  static int  i = 0;
  i             = (i + 1) % 8;
  snprintf(buf[i], sizeof buf[i], "%s%s", prefix, name);
  return buf[i];
}

/* Writes a 1-D file on MPI_COMM_SELF (rank 0): X(time,k), coupling(time,k). nan_rec >= 0 puts
 * NaN at (nan_rec, 5) of X. */
static GyreStatus Write1D(const char *path, int f, int nrec, int k, int nan_rec)
{
  GyreFileOptions o = {.overwrite = 1};
  GyreFile        file;
  GyreDimSpec     kd = {.name = "k", .len = (size_t) k};
  GyreVarSpec     vx = {
          .name = "X", .ndims = 1, .dims = {"k"}, .precision = GYRE_DOUBLE, .has_time = 1};
  GyreVarSpec vc = vx;
  int         id[2];
  vc.name = "coupling";
  GyreCall(GyreFileCreate(MPI_COMM_SELF, path, &o, &file));
  GyreCall(GyreFileDefineTime(file, GYRE_TIME_NONDIM, NULL));
  GyreCall(GyreFileDefineDim(file, &kd));
  GyreCall(GyreFileDefineVar(file, &vx, &id[0]));
  GyreCall(GyreFileDefineVar(file, &vc, &id[1]));
  GyreCall(GyreFileEndDef(file));
  double buf[64];
  size_t start = 0, count = (size_t) k;
  for (int r = 0; r < nrec; r++) {
    GyreCall(GyreFileWriteTime(file, (size_t) r, 0.1 * r));
    for (int v = 0; v < 2; v++) {
      for (int i = 0; i < k; i++)
        buf[i] = V1(f, v, r, i);
      if (v == 0 && r == nan_rec) buf[5] = NAN;
      GyreCall(GyreFileWriteBlock(file, id[v], (size_t) r, &start, &count, buf));
    }
  }
  return GyreFileClose(&file);
}

/* vort(time, member, y, x) and psi (same shape). */
static GyreStatus Write2D(const char *path)
{
  GyreFileOptions o = {.overwrite = 1};
  GyreFile        file;
  GyreDimSpec     md = {.name = "member", .len = NMEM, .standard_name = "realization"};
  GyreDimSpec     yd = {.name = "y", .len = NY}, xd = {.name = "x", .len = NX};
  GyreVarSpec     vv = {.name      = "vort",
                        .ndims     = 3,
                        .dims      = {"member", "y", "x"},
                        .precision = GYRE_FLOAT,
                        .has_time  = 1};
  GyreVarSpec     vp = vv;
  int             id[2];
  vp.name = "psi";
  GyreCall(GyreFileCreate(MPI_COMM_SELF, path, &o, &file));
  GyreCall(GyreFileDefineTime(file, GYRE_TIME_NONDIM, NULL));
  GyreCall(GyreFileDefineDim(file, &md));
  GyreCall(GyreFileDefineDim(file, &yd));
  GyreCall(GyreFileDefineDim(file, &xd));
  GyreCall(GyreFileDefineVar(file, &vv, &id[0]));
  GyreCall(GyreFileDefineVar(file, &vp, &id[1]));
  GyreCall(GyreFileEndDef(file));
  double buf[NMEM * NY * NX];
  size_t start[3] = {0, 0, 0}, count[3] = {NMEM, NY, NX};
  for (int r = 0; r < NREC2; r++) {
    GyreCall(GyreFileWriteTime(file, (size_t) r, 0.5 * r));
    for (int v = 0; v < 2; v++) {
      for (int m = 0; m < NMEM; m++)
        for (int y = 0; y < NY; y++)
          for (int x = 0; x < NX; x++)
            buf[(m * NY + y) * NX + x] = V2(v, r, m, y, x);
      GyreCall(GyreFileWriteBlock(file, id[v], (size_t) r, start, count, buf));
    }
  }
  return GyreFileClose(&file);
}

static GyreDatasetOptions Opts(const char *pattern, GyreSampleKind kind)
{
  GyreDatasetOptions o;
  GyreDatasetOptionsDefault(&o);
  o.pattern = pattern;
  o.kind    = kind;
  o.batch   = 4;
  return o;
}

static GyreDatasetOptions Ring(GyreSampleKind kind)
{
  GyreDatasetOptions o = Opts(Path("ring.nc"), kind);
  o.ninputs            = 1;
  o.inputs[0]          = "X";
  o.ntargets           = 1;
  o.targets[0]         = "coupling";
  return o;
}

static GyreDatasetOptions Ens(GyreSampleKind kind)
{
  GyreDatasetOptions o = Opts(Path("ens.nc"), kind);
  o.ninputs            = 1;
  o.inputs[0]          = "vort";
  o.val_fraction       = 0.25;
  return o;
}

/* ---- sample assembly ---- */
static void TestAssembly(void)
{
  GyreDataset     ds;
  GyreDatasetInfo in;
  GyreBatch       b = {0};
  /* closure per field, split by time block: records 0..15 train, 16..19 validation */
  GyreDatasetOptions o = Ring(GYRE_SAMPLE_CLOSURE);
  CHECK_OK(GyreDatasetCreate(MPI_COMM_WORLD, &o, &ds));
  GyreDatasetGetInfo(ds, &in);
  CHECK(in.ntrain == 16 && in.nval == 4 && in.nin == 1 && in.nout == 1 && in.nx == K,
        "closure sizes %lld %lld", (long long) in.ntrain, (long long) in.nval);
  for (int split = 0; split < 2; split++) {
    int64_t n = split ? in.nval : in.ntrain;
    CHECK_OK(GyreDatasetReadSamples(ds, (GyreSplit) split, 0, n, &b));
    CHECK(b.ndim == 3 && b.in_shape[0] == n && b.in_shape[1] == 1 && b.in_shape[2] == K,
          "closure shape");
    int bad = 0;
    for (int i = 0; i < n; i++)
      for (int k = 0; k < K; k++) {
        int r = split ? 16 + i : i;
        bad += b.input[i * K + k] != (float) V1(0, 0, r, k);
        bad += b.target[i * K + k] != (float) V1(0, 1, r, k);
      }
    CHECK(bad == 0, "closure split %d: %d values differ", split, bad);
  }
  if (rank == 0) printf("closure split: %s\n", GyreDatasetSplitString(ds));
  GyreDatasetDestroy(&ds);

  /* closure per point: (N, C) samples */
  o.per_point = 1;
  CHECK_OK(GyreDatasetCreate(MPI_COMM_WORLD, &o, &ds));
  GyreDatasetGetInfo(ds, &in);
  CHECK(in.ntrain == 16 * K && in.nval == 4 * K, "per-point sizes");
  CHECK_OK(GyreDatasetReadSamples(ds, GYRE_SPLIT_TRAIN, 0, in.ntrain, &b));
  CHECK(b.ndim == 2 && b.in_shape[1] == 1, "per-point shape");
  int bad = 0;
  for (int i = 0; i < in.ntrain; i++)
    bad += b.input[i] != (float) V1(0, 0, i / K, i % K) ||
           b.target[i] != (float) V1(0, 1, i / K, i % K);
  CHECK(bad == 0, "per-point: %d samples differ", bad);
  GyreDatasetDestroy(&ds);

  /* per point with a stencil of 2 on the ring: X_{k-2..k+2}, periodic */
  o.stencil = 2;
  CHECK_OK(GyreDatasetCreate(MPI_COMM_WORLD, &o, &ds));
  GyreDatasetGetInfo(ds, &in);
  CHECK(in.ntrain == 16 * K && in.stencil_size == 5 && in.nin == 1, "stencil sizes");
  CHECK_OK(GyreDatasetReadSamples(ds, GYRE_SPLIT_TRAIN, 0, in.ntrain, &b));
  CHECK(b.ndim == 2 && b.in_shape[1] == 5 && b.out_shape[1] == 1, "stencil shape");
  bad = 0;
  for (int i = 0; i < in.ntrain; i++) {
    for (int sft = -2; sft <= 2; sft++)
      bad += b.input[i * 5 + sft + 2] != (float) V1(0, 0, i / K, ((i % K) + sft + K) % K);
    bad += b.target[i] != (float) V1(0, 1, i / K, i % K);
  }
  CHECK(bad == 0, "stencil 1-D: %d values differ", bad);
  GyreDatasetDestroy(&ds);
  o.stencil = 0;

  /* per point with a 3 x 3 stencil on the 2-D ensemble (vort -> psi), against the per-point
   * samples without one; then normalised: every stencil value with its channel's statistics */
  {
    GyreDatasetOptions e = Ens(GYRE_SAMPLE_CLOSURE);
    e.ntargets = 1, e.targets[0] = "psi", e.per_point = 1;
    GyreDataset     a, st;
    GyreDatasetInfo ia, is;
    GyreBatch       ba = {0};
    CHECK_OK(GyreDatasetCreate(MPI_COMM_WORLD, &e, &a));
    e.stencil = 1;
    CHECK_OK(GyreDatasetCreate(MPI_COMM_WORLD, &e, &st));
    GyreDatasetGetInfo(a, &ia);
    GyreDatasetGetInfo(st, &is);
    CHECK(is.ntrain == ia.ntrain && is.stencil_size == 9, "stencil 2-D sizes");
    CHECK_OK(GyreDatasetReadSamples(a, GYRE_SPLIT_TRAIN, 0, ia.ntrain, &ba));
    CHECK_OK(GyreDatasetReadSamples(st, GYRE_SPLIT_TRAIN, 0, is.ntrain, &b));
    CHECK(b.in_shape[1] == 9, "stencil 2-D shape");
    const int np = NY * NX;
    bad          = 0;
    for (int i = 0; i < is.ntrain; i++) {
      int f = i / np, px = (i % np) % NX, py = (i % np) / NX;
      for (int dy = -1; dy <= 1; dy++)
        for (int dx = -1; dx <= 1; dx++) {
          int nb = f * np + ((py + dy + NY) % NY) * NX + (px + dx + NX) % NX;
          bad += b.input[i * 9 + (dy + 1) * 3 + dx + 1] != ba.input[nb];
        }
      bad += b.target[i] != ba.target[i];
    }
    CHECK(bad == 0, "stencil 2-D: %d values differ from the neighbours' samples", bad);
    GyreNormalization nm;
    CHECK_OK(GyreDatasetComputeNormalization(st, &nm));
    GyreNormalizationApply(&nm, &b);
    bad = 0;
    for (int i = 0; i < is.ntrain; i++)
      for (int k = 0; k < 9; k++) {
        int   f = i / np, px = (i % np) % NX, py = (i % np) / NX, dy = k / 3 - 1, dx = k % 3 - 1;
        int   nb   = f * np + ((py + dy + NY) % NY) * NX + (px + dx + NX) % NX;
        float want = (float) (((double) ba.input[nb] - nm.in_mean[0]) / nm.in_std[0]);
        bad += b.input[i * 9 + k] != want;
      }
    CHECK(bad == 0, "stencil 2-D normalised: %d values differ", bad);
    GyreBatchFree(&ba);
    GyreDatasetDestroy(&a);
    GyreDatasetDestroy(&st);
  }

  /* emulator history 2, stride (lead) 2 on the 1-D file, split by time: train t = 1..13
   * (t + 2 <= 15), validation t = 17 (t - 1 >= 16, t + 2 <= 19) */
  o          = Ring(GYRE_SAMPLE_EMULATOR);
  o.ntargets = 0;
  o.history  = 2;
  o.lead     = 2;
  CHECK_OK(GyreDatasetCreate(MPI_COMM_WORLD, &o, &ds));
  GyreDatasetGetInfo(ds, &in);
  CHECK(in.ntrain == 13 && in.nval == 1 && in.nin == 2 && in.nout == 1,
        "emulator 1-D sizes %lld %lld", (long long) in.ntrain, (long long) in.nval);
  for (int split = 0; split < 2; split++) {
    int64_t n = split ? in.nval : in.ntrain;
    CHECK_OK(GyreDatasetReadSamples(ds, (GyreSplit) split, 0, n, &b));
    bad = 0;
    for (int i = 0; i < n; i++) {
      int t = split ? 17 : 1 + i;
      for (int k = 0; k < K; k++) {
        bad += b.input[(i * 2 + 0) * K + k] != (float) V1(0, 0, t - 1, k); /* oldest */
        bad += b.input[(i * 2 + 1) * K + k] != (float) V1(0, 0, t, k);
        bad += b.target[i * K + k] != (float) V1(0, 0, t + 2, k);
      }
    }
    CHECK(bad == 0, "emulator 1-D split %d: %d values differ", split, bad);
  }
  if (rank == 0) printf("emulator time split: %s\n", GyreDatasetSplitString(ds));
  GyreDatasetDestroy(&ds);

  /* emulator history 2, lead 2 on the ensemble: t = 1..3 per member; members 0-2 train,
   * member 3 validation; 2 variables -> 4 input channels */
  o            = Ens(GYRE_SAMPLE_EMULATOR);
  o.ninputs    = 2;
  o.inputs[1]  = "psi";
  o.ntargets   = 1;
  o.targets[0] = "vort";
  o.history    = 2;
  o.lead       = 2;
  CHECK_OK(GyreDatasetCreate(MPI_COMM_WORLD, &o, &ds));
  GyreDatasetGetInfo(ds, &in);
  CHECK(in.ntrain == 9 && in.nval == 3 && in.nin == 4 && in.nspatial == 2, "emulator 2-D sizes");
  for (int split = 0; split < 2; split++) {
    int64_t n = split ? in.nval : in.ntrain;
    CHECK_OK(GyreDatasetReadSamples(ds, (GyreSplit) split, 0, n, &b));
    CHECK(b.ndim == 4 && b.in_shape[1] == 4 && b.in_shape[2] == NY && b.in_shape[3] == NX,
          "2-D shape");
    bad = 0;
    for (int i = 0; i < n; i++) {
      int m = split ? 3 : i / 3, t = 1 + i % 3;
      for (int c = 0; c < 4; c++)
        for (int p = 0; p < NY * NX; p++)
          bad += b.input[(i * 4 + c) * NY * NX + p] !=
                 (float) V2(c / 2, t - 1 + c % 2, m, p / NX, p % NX);
      for (int p = 0; p < NY * NX; p++)
        bad += b.target[i * NY * NX + p] != (float) V2(0, t + 2, m, p / NX, p % NX);
    }
    CHECK(bad == 0, "emulator 2-D split %d: %d values differ", split, bad);
  }
  if (rank == 0) printf("emulator member split: %s\n", GyreDatasetSplitString(ds));
  GyreDatasetDestroy(&ds);

  /* operator: vort at record 0 -> psi at the last record, one sample per member */
  o            = Ens(GYRE_SAMPLE_OPERATOR);
  o.ntargets   = 1;
  o.targets[0] = "psi";
  CHECK_OK(GyreDatasetCreate(MPI_COMM_WORLD, &o, &ds));
  GyreDatasetGetInfo(ds, &in);
  CHECK(in.ntrain == 3 && in.nval == 1, "operator sizes");
  for (int split = 0; split < 2; split++) {
    int64_t n = split ? in.nval : in.ntrain;
    CHECK_OK(GyreDatasetReadSamples(ds, (GyreSplit) split, 0, n, &b));
    bad = 0;
    for (int i = 0; i < n; i++) {
      int m = split ? 3 : i;
      for (int p = 0; p < NY * NX; p++) {
        bad += b.input[i * NY * NX + p] != (float) V2(0, 0, m, p / NX, p % NX);
        bad += b.target[i * NY * NX + p] != (float) V2(1, NREC2 - 1, m, p / NX, p % NX);
      }
    }
    CHECK(bad == 0, "operator split %d: %d values differ", split, bad);
  }
  GyreDatasetDestroy(&ds);

  /* several files: the glob is sorted and split by file */
  o              = Ring(GYRE_SAMPLE_CLOSURE);
  o.pattern      = Path("multi_*.nc");
  o.val_fraction = 0.34;
  CHECK_OK(GyreDatasetCreate(MPI_COMM_WORLD, &o, &ds));
  GyreDatasetGetInfo(ds, &in);
  CHECK(in.nfiles == 3 && in.ntrain == 2 * NREC1 && in.nval == NREC1, "multi-file sizes");
  CHECK(strstr(GyreDatasetFile(ds, 2), "multi_2.nc") != NULL, "sorted files");
  CHECK_OK(GyreDatasetReadSamples(ds, GYRE_SPLIT_VAL, 0, in.nval, &b));
  bad = 0;
  for (int i = 0; i < in.nval; i++)
    bad += b.input[i * K + 3] != (float) V1(2, 0, i, 3);
  CHECK(bad == 0, "multi-file validation is the last file");
  if (rank == 0) printf("multi-file split: %s\n", GyreDatasetSplitString(ds));
  GyreDatasetDestroy(&ds);
  GyreBatchFree(&b);
}

/* ---- normalisation ---- */
static void TestStats(void)
{
  GyreDataset        ds;
  GyreNormalization  nm;
  GyreDatasetOptions o = Ring(GYRE_SAMPLE_CLOSURE);
  CHECK_OK(GyreDatasetCreate(MPI_COMM_WORLD, &o, &ds));
  CHECK_OK(GyreDatasetComputeNormalization(ds, &nm));
  for (int v = 0; v < 2; v++) {
    double s = 0, sq = 0, n = 0;
    for (int r = 0; r < 16; r++)
      for (int k = 0; k < K; k++)
        s += V1(0, v, r, k), sq += V1(0, v, r, k) * V1(0, v, r, k), n++;
    double mean = s / n, sd = sqrt(sq / n - mean * mean);
    double gm = v ? nm.out_mean[0] : nm.in_mean[0], gs = v ? nm.out_std[0] : nm.in_std[0];
    CHECK(fabs(gm - mean) <= 1e-6 * fabs(mean) && fabs(gs - sd) <= 1e-6 * sd,
          "closure stats var %d: %.10g %.10g vs %.10g %.10g", v, gm, gs, mean, sd);
    if (rank == 0)
      printf("stats var %d: mean %.9g std %.9g (direct %.9g %.9g)\n", v, gm, gs, mean, sd);
  }
  GyreDatasetDestroy(&ds);

  /* emulator on the ensemble (history 2): each channel over training members and times */
  o         = Ens(GYRE_SAMPLE_EMULATOR);
  o.history = 2;
  o.lead    = 2;
  CHECK_OK(GyreDatasetCreate(MPI_COMM_WORLD, &o, &ds));
  CHECK_OK(GyreDatasetComputeNormalization(ds, &nm));
  CHECK(nm.nin == 2 && nm.nout == 1, "channels");
  for (int c = 0; c < 3; c++) {
    double s = 0, sq = 0, n = 0;
    for (int m = 0; m < 3; m++)
      for (int t = 1; t <= 3; t++)
        for (int p = 0; p < NY * NX; p++) {
          int    r = c < 2 ? t - 1 + c : t + 2;
          double x = V2(0, r, m, p / NX, p % NX);
          s += x, sq += x * x, n++;
        }
    double mean = s / n, sd = sqrt(sq / n - mean * mean);
    double gm = c < 2 ? nm.in_mean[c] : nm.out_mean[0], gs = c < 2 ? nm.in_std[c] : nm.out_std[0];
    CHECK(fabs(gm - mean) <= 1e-6 * fabs(mean) && fabs(gs - sd) <= 1e-6 * sd,
          "emulator stats channel %d: %.10g %.10g vs %.10g %.10g", c, gm, gs, mean, sd);
  }
  GyreDatasetDestroy(&ds);
}

/* ---- batches ---- */
static int SameBatch(const GyreBatch *a, const GyreBatch *b)
{
  if (a->n != b->n || a->ndim != b->ndim) return 0;
  size_t ni = (size_t) a->n, no = (size_t) a->n;
  for (int d = 1; d < a->ndim; d++)
    ni *= (size_t) a->in_shape[d], no *= (size_t) a->out_shape[d];
  return !memcmp(a->input, b->input, ni * sizeof(float)) &&
         !memcmp(a->target, b->target, no * sizeof(float)) &&
         !memcmp(a->index, b->index, (size_t) a->n * sizeof(int64_t));
}

static void TestBatches(void)
{
  GyreDataset        ds, solo;
  GyreDatasetInfo    in;
  GyreDatasetOptions o = Ring(GYRE_SAMPLE_CLOSURE);
  o.per_point          = 1;
  o.batch              = 10;
  o.seed               = 1234;
  CHECK_OK(GyreDatasetCreate(MPI_COMM_WORLD, &o, &ds));
  CHECK_OK(GyreDatasetCreate(MPI_COMM_SELF, &o, &solo)); /* the 1-rank reference */
  GyreDatasetGetInfo(ds, &in);
  CHECK(in.nbatches == 12, "128 samples / batch 10 = 12 full batches (8 dropped), got %lld",
        (long long) in.nbatches);
  int64_t *p0 = malloc(128 * sizeof(int64_t)), *p1 = malloc(128 * sizeof(int64_t));
  GyreDatasetEpochPermutation(ds, 0, p0);
  GyreDatasetEpochPermutation(ds, 1, p1);
  int  differ = memcmp(p0, p1, 128 * sizeof(int64_t)) != 0, isperm = 1;
  char seen[128] = {0};
  for (int i = 0; i < 128; i++)
    seen[p1[i]]++;
  for (int i = 0; i < 128; i++)
    isperm &= seen[i] == 1;
  CHECK(differ && isperm, "epoch permutations: differ %d, permutation %d", differ, isperm);
  for (long epoch = 0; epoch < 2; epoch++) {
    CHECK_OK(GyreDatasetStartEpoch(ds, epoch));
    CHECK_OK(GyreDatasetStartEpoch(solo, epoch));
    GyreBatch *b, *s;
    int        nb = 0;
    for (;;) {
      CHECK_OK(GyreDatasetNextBatch(ds, &b));
      CHECK_OK(GyreDatasetNextBatch(solo, &s));
      if (!b || !s) {
        CHECK(!b && !s, "batch counts differ");
        break;
      }
      nb++;
      /* gather this batch's slices in rank order */
      int n = b->n, counts[64], displs[64];
      MPI_Allgather(&n, 1, MPI_INT, counts, 1, MPI_INT, MPI_COMM_WORLD);
      int tot = 0, mn = 1 << 30, mx = 0;
      for (int r = 0; r < size; r++) {
        displs[r] = tot, tot += counts[r];
        mn = counts[r] < mn ? counts[r] : mn, mx = counts[r] > mx ? counts[r] : mx;
      }
      CHECK(tot == 10 && mx - mn <= 1, "slice sizes: total %d, min %d max %d", tot, mn, mx);
      int64_t idx[10];
      float   x[10], y[10];
      MPI_Allgatherv(b->index, n, MPI_INT64_T, idx, counts, displs, MPI_INT64_T, MPI_COMM_WORLD);
      MPI_Allgatherv(b->input, n, MPI_FLOAT, x, counts, displs, MPI_FLOAT, MPI_COMM_WORLD);
      MPI_Allgatherv(b->target, n, MPI_FLOAT, y, counts, displs, MPI_FLOAT, MPI_COMM_WORLD);
      CHECK(s->n == 10 && !memcmp(idx, s->index, sizeof idx) && !memcmp(x, s->input, sizeof x) &&
                !memcmp(y, s->target, sizeof y),
            "epoch %ld batch %d: union over %d ranks differs from the 1-rank batch", epoch, nb,
            size);
      int bad = 0;
      for (int i = 0; i < 10; i++)
        bad += x[i] != (float) V1(0, 0, (int) (idx[i] / K), (int) (idx[i] % K));
      CHECK(bad == 0, "batch values do not match their samples");
    }
    CHECK(nb == 12, "epoch %ld: %d batches", epoch, nb);
  }
  free(p0);
  free(p1);
  GyreDatasetDestroy(&ds);
  GyreDatasetDestroy(&solo);

  /* prefetch gives the same batches as reading in the foreground (2-D emulator) */
  GyreDataset a, c;
  o          = Ens(GYRE_SAMPLE_EMULATOR);
  o.history  = 2;
  o.lead     = 1;
  o.batch    = 3;
  o.seed     = 99;
  o.prefetch = 1;
  CHECK_OK(GyreDatasetCreate(MPI_COMM_WORLD, &o, &a));
  o.prefetch = 0;
  CHECK_OK(GyreDatasetCreate(MPI_COMM_WORLD, &o, &c));
  int nb = 0;
  for (long epoch = 0; epoch < 3; epoch++) {
    CHECK_OK(GyreDatasetStartEpoch(a, epoch));
    CHECK_OK(GyreDatasetStartEpoch(c, epoch));
    GyreBatch *ba, *bc;
    for (;;) {
      CHECK_OK(GyreDatasetNextBatch(a, &ba));
      CHECK_OK(GyreDatasetNextBatch(c, &bc));
      if (!ba || !bc) {
        CHECK(!ba && !bc, "prefetch batch counts differ");
        break;
      }
      CHECK(ba->batch == bc->batch && SameBatch(ba, bc), "prefetch batch %ld differs", ba->batch);
      nb++;
    }
  }
  CHECK(nb == 3 * 4, "12 training samples / batch 3 over 3 epochs: %d batches", nb);
  GyreDatasetDestroy(&a);
  GyreDatasetDestroy(&c);
}

/* ---- bad inputs ---- */
static void TestErrors(void)
{
  GyreDataset        ds = NULL;
  GyreDatasetOptions o  = Ring(GYRE_SAMPLE_CLOSURE);
  char               msg[256];
  o.pattern = Path("nomatch_*.nc");
  snprintf(msg, sizeof msg, "dataset: no file matches '%s'", o.pattern);
  CHECK_MSG(GyreDatasetCreate(MPI_COMM_WORLD, &o, &ds), GYRE_ERR_IO, msg);
  o.pattern = Path("missing.nc");
  snprintf(msg, sizeof msg, "dataset: file '%s' does not exist", o.pattern);
  CHECK_MSG(GyreDatasetCreate(MPI_COMM_WORLD, &o, &ds), GYRE_ERR_IO, msg);
  o           = Ring(GYRE_SAMPLE_CLOSURE);
  o.inputs[0] = "Z";
  snprintf(msg, sizeof msg, "dataset: variable 'Z' not found in '%s'", Path("ring.nc"));
  CHECK_MSG(GyreDatasetCreate(MPI_COMM_WORLD, &o, &ds), GYRE_ERR_FORMAT, msg);
  o         = Ring(GYRE_SAMPLE_CLOSURE);
  o.pattern = Path("grid_*.nc");
  CHECK_MSG(GyreDatasetCreate(MPI_COMM_WORLD, &o, &ds), GYRE_ERR_FORMAT,
            "dataset: grid mismatch: variable 'X'");
  CHECK(strstr(GyreStatusMessage(), "(k=9)") && strstr(GyreStatusMessage(), "(k=8)"),
        "grid message names both shapes");
  o          = Ring(GYRE_SAMPLE_EMULATOR);
  o.pattern  = Path("short.nc");
  o.ntargets = 0;
  o.history  = 2;
  snprintf(msg, sizeof msg, "dataset: history 2 + lead 1 needs 3 records but '%s' has 2",
           Path("short.nc"));
  CHECK_MSG(GyreDatasetCreate(MPI_COMM_WORLD, &o, &ds), GYRE_ERR_ARG, msg);
  /* NaN at record 3, index 5 of X: found by the statistics pass and by a read */
  o         = Ring(GYRE_SAMPLE_CLOSURE);
  o.pattern = Path("nan.nc");
  CHECK_OK(GyreDatasetCreate(MPI_COMM_WORLD, &o, &ds));
  GyreNormalization nm;
  snprintf(msg, sizeof msg, "NaN in '%s' variable 'X' at record 3, index [5]", Path("nan.nc"));
  CHECK_MSG(GyreDatasetComputeNormalization(ds, &nm), GYRE_ERR_NAN, msg);
  GyreBatch b = {0};
  CHECK_MSG(GyreDatasetReadSamples(ds, GYRE_SPLIT_TRAIN, 0, 16, &b), GYRE_ERR_NAN, msg);
  GyreBatchFree(&b);
  GyreDatasetDestroy(&ds);
}

int main(int argc, char **argv)
{
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  snprintf(prefix, sizeof prefix, "nn_data_np%d_", size);
  double     t0 = MPI_Wtime();
  GyreStatus st = GYRE_OK;
  if (rank == 0) {
    if (st == GYRE_OK) st = Write1D(Path("ring.nc"), 0, NREC1, K, -1);
    for (int f = 0; f < 3 && st == GYRE_OK; f++) {
      char name[32];
      snprintf(name, sizeof name, "multi_%d.nc", f);
      st = Write1D(Path(name), f, NREC1, K, -1);
    }
    if (st == GYRE_OK) st = Write2D(Path("ens.nc"));
    if (st == GYRE_OK) st = Write1D(Path("grid_0.nc"), 0, 4, K, -1);
    if (st == GYRE_OK) st = Write1D(Path("grid_1.nc"), 0, 4, K + 1, -1);
    if (st == GYRE_OK) st = Write1D(Path("short.nc"), 0, 2, K, -1);
    if (st == GYRE_OK) st = Write1D(Path("nan.nc"), 0, NREC1, K, 3);
    if (st != GYRE_OK) fprintf(stderr, "writing test files: %s\n", GyreStatusMessage());
  }
  MPI_Bcast(&st, 1, MPI_INT, 0, MPI_COMM_WORLD);
  if (st != GYRE_OK) MPI_Abort(MPI_COMM_WORLD, 1);
  TestAssembly();
  TestStats();
  TestBatches();
  TestErrors();
  int all = 0;
  MPI_Allreduce(&failures, &all, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  if (rank == 0)
    printf("test_nn_data on %d ranks: %s (%d failures, %.2f s)\n", size, all ? "FAIL" : "ok", all,
           MPI_Wtime() - t0);
  MPI_Finalize();
  return all != 0;
}
