/* solver.c — the ns2d solver benchmark (issue 2, section 8): `bench_solver`, run by
 * bench/solver.sh on 1 and then 2 MPI ranks (`make bench`).
 *
 * For each grid size (-bench_sizes 256,1024) it measures, in the same run, against references
 * measured in the same run:
 *
 *  rhs   RHS evaluations per second: one evaluation is the model's explicit part E(w) and its
 *        implicit part L w (ops.rhsexplicit + ops.rhsimplicit on the initial vorticity),
 *        called as the driver calls them (solvers/timestepper.c; no closure).
 *  steps PETSc TS steps per second through the driver's own TS set-up (GyreRunSetUpTS: the
 *        model's default TSARKIMEX 3 with the exact implicit solve, the CFL step).
 *  bw    achieved bytes/s of the RHS over the bytes/s of a plain copy (memcpy, as VecCopy)
 *        of arrays the size of the state (see CopyCtx below). Bytes per RHS evaluation are
 *        counted globally (the same on any number of ranks) with R = 8 nx ny (a real field)
 *        and S = 16 ny (nx/2+1) (its half spectrum): every pass of the pseudo-spectral
 *        algorithm over a whole array counts that array once when read and once when written:
 *          explicit  forward FFT of w                       R + S
 *                    4 spectral multiplies (u, v, w_x, w_y)  4 (S + S)
 *                    4 inverse FFTs                          4 (S + R)
 *                    product u w_x + v w_y                   4R + R
 *                    forward FFT of the product              R + S
 *                    2/3-rule mask (writes only)             S
 *                    inverse FFT                             S + R
 *                    F = f - A                               2R + R
 *          implicit  forward FFT, scale by -nu k^2, inverse  (R + S) + 2S + (S + R)
 *          total     17 R + 20 S   (about 37 R: 19.5 MB at 256^2, 311 MB at 1024^2)
 *        NOT counted: FFTW's internal passes (a 2-D transform too big for cache makes at least
 *        two, plus the MPI transposes on 2 ranks), the staging copies of grids/spectral.c
 *        (Vec <-> FFTW buffer, normalisation) and MPI messages. So the figure is the minimum
 *        traffic of the algorithm; the memory traffic really generated is larger. A copy
 *        counts 2R (read + write; write-allocate is not counted, as for the RHS).
 *  out   share of wall time spent in output when writing every 100 steps: the time of one
 *        record written the driver's way (GyreRunOutputWrite: ops.outputfield + the parallel
 *        NetCDF write of the float32 vorticity + its time value; the file's close amortised
 *        over -bench_records records; its creation, once per run, excluded) over that time
 *        plus the time of 100 TS steps (from the steps figure).
 *  nc    NetCDF write bytes/s over raw write() bytes/s of the same bytes: K float32 records
 *        of the nx x ny vorticity (K so that they hold -bench_write_mb MiB, default 32: 128
 *        records at 256^2, 8 at 1024^2), each rank its own hyperslab, collective (io/:
 *        GyreFileCreate, define time/y/x/variable as the model does, K x (GyreFileWriteTime +
 *        GyreFileWriteBlock), GyreFileClose), against each rank pwrite()-ing the same float32
 *        bytes at the same offsets of a file in the same directory (open, K pwrites, close; rank
 *        0 creates it). Both are timed from open/create to close on every rank, payload bytes
 *        only, and both are fsync'd: NetCDF-4/HDF5 over MPI-IO fsyncs the file when it is
 *        closed, whatever we ask (strace shows two fsync() per file), so the raw file is
 *        fsync'd before its close too (and the NetCDF file once more after its close, a
 *        no-op). -bench_fsync 0 drops the explicit fsyncs: then only the NetCDF file is synced,
 *        which is not a fair comparison. The NetCDF path converts double -> float inside the
 *        library: that is its cost. Best of -bench_trials trials each (file-system timings on
 *        the VM of RESULTS.md have 10x outliers), alternating, each trial starting with
 *        neither file present.
 *
 * Every compute figure is the best of 5 timed loops (TimeBest). The CPU time / wall time of
 * those loops is printed: well below 1 means other processes shared the cores.
 * Strong scaling (RHS rate on 2 ranks over twice the rate on 1 rank) is computed by
 * bench/solver.sh from the machine-readable "BENCH ..." lines printed here.
 *
 * Options: -bench_sizes 256,1024  -bench_min_time 5 (seconds per timed measurement, best of 5)
 *          -bench_dir DIR (scratch files, default .)  -bench_records 10  -bench_trials 9
 *          -bench_write_mb 32  -bench_fsync 1  and any ns2d/TS option (-ns2d_nu, -ts_type ...). */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>
#include "gyre_run.h"

#define MAX_SIZES 8
#define RHS_R 17 /* real-field passes per RHS evaluation (see the top) */
#define RHS_S 20 /* half-spectrum passes per RHS evaluation */

typedef struct {
  PetscInt n;
  double   rhs_per_s, rhs_bytes, rhs_Bps, copy_Bps;
  double   steps_per_s, record_s, out_share;
  PetscInt write_records;
  double   nc_Bps, raw_Bps;
} Result;

typedef struct {
  MPI_Comm  comm;
  double    min_time;
  char      dir[PATH_MAX];
  PetscInt  records, trials; /* output records per output test; trials of the write test */
  PetscReal write_mb;        /* payload of the write test */
  PetscBool fsync;
  double    cpu, wall; /* CPU and wall seconds inside the timed compute loops (TimeBest) */
} Bench;

static double Now(void)
{
  return MPI_Wtime();
}

/* CPU seconds of this process (user + system). */
static double CPUTime(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double) ts.tv_sec + 1e-9 * (double) ts.tv_nsec;
}

/* A timed operation: repetition k of it. */
typedef PetscErrorCode (*TimedFn)(void *ctx, PetscInt k);

/* Seconds per repetition of fn: the best of `trials` timed loops of equal length that together
 * fill about min_time (at least minreps repetitions each), after one warm-up call. Ranks agree
 * on the repetition count (the slowest rank's first call) and every loop runs between
 * barriers, so the time is the slowest rank's. Collective. */
static PetscErrorCode TimeBest(Bench *b, TimedFn fn, void *ctx, double min_time, PetscInt trials,
                               PetscInt minreps, double *per_rep)
{
  MPI_Comm comm = b->comm;
  double   t0, t1, c0, best = PETSC_MAX_REAL;
  PetscInt reps, k = 0;

  PetscFunctionBegin;
  PetscCall(fn(ctx, k++)); /* warm-up: first touch, FFTW buffers */
  t0 = Now();
  PetscCall(fn(ctx, k++));
  t1 = Now() - t0;
  PetscCallMPI(MPIU_Allreduce(MPI_IN_PLACE, &t1, 1, MPI_DOUBLE, MPI_MAX, comm));
  reps = (PetscInt) PetscCeilReal(min_time / (double) trials / PetscMax(t1, 1e-9));
  reps = PetscMin(PetscMax(reps, minreps), 10000000);
  for (PetscInt trial = 0; trial < trials; trial++) {
    PetscCallMPI(MPI_Barrier(comm));
    t0 = Now();
    c0 = CPUTime();
    for (PetscInt i = 0; i < reps; i++)
      PetscCall(fn(ctx, k++));
    PetscCallMPI(MPI_Barrier(comm));
    t1 = Now() - t0;
    b->cpu += CPUTime() - c0;
    b->wall += t1;
    best = PetscMin(best, t1);
  }
  *per_rep = best / (double) reps;
  PetscFunctionReturn(PETSC_SUCCESS);
}

typedef struct {
  GyreModel m;
  Vec       U, F, G;
} RHSCtx;

/* One RHS evaluation as the driver makes it: the explicit and the implicit part. */
static PetscErrorCode RHS(void *ctx, PetscInt k)
{
  RHSCtx *c = (RHSCtx *) ctx;

  PetscFunctionBegin;
  PetscCall((*c->m->ops.rhsexplicit)(c->m, 0.0, c->U, c->F));
  PetscCall((*c->m->ops.rhsimplicit)(c->m, 0.0, c->U, c->G));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The copy reference: memcpy (PetscArraycpy, what VecCopy does) of this rank's part of a
 * state-sized array, cycling through COPY_POOL arrays, about as many as the RHS touches (the
 * model's scratch fields and spectra, FFTW's buffers, U, F, G), so that the copy works on as
 * much memory as the RHS does: 8 MiB at 256^2 (inside the 32 MiB L3 of the machine of
 * RESULTS.md, like the RHS), 128 MiB at 1024^2 (main memory, like the RHS). The arrays start
 * on 4 KiB boundaries of one block: glibc's memcpy (rep movsb) on this AMD EPYC is up to 10x
 * slower for some relative placements of source and destination (measured: 256 KiB copies at
 * 6 GB/s with dst - src = 16 mod 4096, 70 GB/s with 0, 64 or 2160), and PetscMalloc'd Vecs sit
 * wherever malloc puts them (measured: a 256 KiB VecCopy took 7 us or 55 us depending on the
 * allocation history), so the reference must not be that accident. */
#define COPY_POOL 16
typedef struct {
  char   *block;
  double *a[COPY_POOL];
  size_t  n;
} CopyCtx;

static PetscErrorCode Copy(void *ctx, PetscInt k)
{
  CopyCtx *c = (CopyCtx *) ctx;

  PetscFunctionBegin;
  PetscCall(PetscArraycpy(c->a[(k + 1) % COPY_POOL], c->a[k % COPY_POOL], c->n));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* (a) + (b): RHS evaluations/s and bytes/s, and the copy reference. Collective. */
static PetscErrorCode BenchRHS(Bench *b, GyreModel m, Vec U, Result *r)
{
  RHSCtx       rc = {.m = m, .U = U};
  CopyCtx      cc;
  const double R = 8.0 * (double) r->n * (double) r->n;
  const double S = 16.0 * (double) r->n * (double) (r->n / 2 + 1);
  double       t;

  PetscFunctionBegin;
  PetscCall(VecDuplicate(U, &rc.F));
  PetscCall(VecDuplicate(U, &rc.G));
  PetscCall(TimeBest(b, RHS, &rc, b->min_time, 5, 1, &t));
  r->rhs_per_s = 1.0 / t;
  r->rhs_bytes = RHS_R * R + RHS_S * S;
  r->rhs_Bps   = r->rhs_bytes * r->rhs_per_s;
  PetscCall(VecDestroy(&rc.F));
  PetscCall(VecDestroy(&rc.G));

  /* the reference: a plain copy of state-sized arrays, same ranks */
  {
    PetscInt     nloc;
    const size_t page = 4096;
    size_t       stride;
    uintptr_t    p;

    PetscCall(VecGetLocalSize(U, &nloc));
    cc.n   = (size_t) nloc;
    stride = (cc.n * sizeof(double) + page - 1) / page * page;
    PetscCall(PetscMalloc1(COPY_POOL * stride + page, &cc.block));
    p = ((uintptr_t) cc.block + page - 1) / page * page;
    for (int i = 0; i < COPY_POOL; i++) {
      cc.a[i] = (double *) (p + (size_t) i * stride);
      for (size_t j = 0; j < cc.n; j++)
        cc.a[i][j] = (double) j; /* first touch */
    }
    PetscCall(TimeBest(b, Copy, &cc, 0.5 * b->min_time, 5, COPY_POOL, &t));
    r->copy_Bps = 2.0 * R / t;
    PetscCall(PetscFree(cc.block));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode Step(void *ctx, PetscInt k)
{
  PetscFunctionBegin;
  PetscCall(TSStep((TS) ctx));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* (a) TS steps/s and (c) the output share, both through the driver's own code. Collective. */
static PetscErrorCode BenchStepsAndOutput(Bench *b, GyreModel m, Vec U0, Result *r)
{
  GyreRun   run_, *run = &run_;
  PetscReal dtmax;
  double    t0, t, twrite = 0;

  PetscFunctionBegin;
  PetscCall(PetscMemzero(run, sizeof *run));
  run->comm  = b->comm;
  run->model = m;
  PetscCall(VecDuplicate(U0, &run->U));
  PetscCall(VecCopy(U0, run->U));
  run->Us = &run->U; /* one ensemble member */
  PetscCall(GyreRunSetUpTS(run));
  /* TSStep needs a bound; the driver sets the max time from -ts_max_time, we only step */
  PetscCall(TSSetMaxSteps(run->ts, PETSC_MAX_INT - 1));
  PetscCall(TSGetTimeStep(run->ts, &run->dt));
  PetscCall((*m->ops.stabledt)(m, run->U, &dtmax));
  run->dt = PetscMin(run->dt, dtmax);
  PetscCall(TSSetSolution(run->ts, run->U));
  PetscCall(TSSetTime(run->ts, 0.0));
  PetscCall(TSSetTimeStep(run->ts, run->dt));
  PetscCall(TimeBest(b, Step, run->ts, b->min_time, 5, 1, &t));
  r->steps_per_s = 1.0 / t;

  /* output every 100 steps, the driver's way (solvers/output.c) */
  PetscCall(PetscSNPrintf(run->output, sizeof run->output, "%s/bench_output_%" PetscInt_FMT ".nc",
                          b->dir, r->n));
  run->output_overwrite   = PETSC_TRUE;
  run->output_every_steps = 100;
  run->step_first         = 0;
  PetscCall(PetscStrallocpy("bench_solver", &run->command_line));
  PetscCall(PetscOptionsGetAll(NULL, &run->options));
  GyreTimeNowISO(run->start_time);
  PetscCall(GyreRunOutputCreate(run));
  for (PetscInt k = 0; k < b->records; k++) {
    run->step = 100 * k;
    PetscCallMPI(MPI_Barrier(b->comm));
    t0 = Now();
    PetscCall(GyreRunOutputWrite(run));
    PetscCallMPI(MPI_Barrier(b->comm));
    twrite += Now() - t0;
  }
  t0 = Now();
  PetscCall(GyreRunOutputClose(run, PETSC_TRUE));
  PetscCallMPI(MPI_Barrier(b->comm));
  twrite += Now() - t0;
  {
    PetscMPIInt rank;
    PetscCallMPI(MPI_Comm_rank(b->comm, &rank));
    if (rank == 0) (void) unlink(run->output);
  }
  r->record_s  = twrite / (double) b->records;
  r->out_share = r->record_s / (r->record_s + 100.0 / r->steps_per_s);

  PetscCall(GyreRunDestroyTS(run));
  PetscCall(VecDestroy(&run->U));
  PetscCall(PetscFree(run->buf));
  PetscCall(PetscFree(run->command_line));
  PetscCall(PetscFree(run->options));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* fsync()s a closed file by path (every rank: its own dirty pages). */
static PetscErrorCode FsyncPath(const char *path)
{
  int fd;

  PetscFunctionBegin;
  fd = open(path, O_RDONLY);
  PetscCheck(fd >= 0, PETSC_COMM_SELF, PETSC_ERR_FILE_OPEN, "cannot open '%s' to fsync it", path);
  PetscCheck(fsync(fd) == 0, PETSC_COMM_SELF, PETSC_ERR_FILE_WRITE, "cannot fsync '%s'", path);
  close(fd);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* K float32 records of the model's vorticity field (its dimensions, its variable spec and
 * this rank's block) through io/: NetCDF-4, collective, each rank its hyperslab. Collective.
 * Returns the wall time from create to close. */
static PetscErrorCode WriteNetCDF(Bench *b, GyreModel m, PetscInt K, const double *block,
                                  const char *path, double *seconds)
{
  const GyreOutputField *fld = &m->fields[0];
  GyreFile               f;
  GyreFileOptions        fo = {.overwrite = 1};
  int                    varid;
  double                 t0;

  PetscFunctionBegin;
  PetscCallMPI(MPI_Barrier(b->comm));
  t0 = Now();
  PetscCallGyre(b->comm, GyreFileCreate(b->comm, path, &fo, &f));
  PetscCallGyre(b->comm, GyreFileDefineTime(f, m->timekind, m->time_units));
  for (PetscInt d = 0; d < m->ndims; d++)
    PetscCallGyre(b->comm, GyreFileDefineDim(f, &m->dims[d]));
  PetscCallGyre(b->comm, GyreFileDefineVar(f, &fld->spec, &varid));
  PetscCallGyre(b->comm, GyreFileEndDef(f));
  for (PetscInt k = 0; k < K; k++) {
    PetscCallGyre(b->comm, GyreFileWriteTime(f, (size_t) k, (double) k));
    PetscCallGyre(b->comm, GyreFileWriteBlock(f, varid, (size_t) k, fld->start, fld->count, block));
  }
  PetscCallGyre(b->comm, GyreFileClose(&f));
  if (b->fsync) PetscCall(FsyncPath(path));
  PetscCallMPI(MPI_Barrier(b->comm));
  *seconds = Now() - t0;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The same float32 bytes with raw pwrite(): each rank its block of each record (whole rows:
 * the plane is split in row slabs) at the offset it has in a plain (time, y, x) array.
 * Collective. Returns the wall time from open to close. */
static PetscErrorCode WriteRaw(Bench *b, GyreModel m, PetscInt K, const float *block,
                               const char *path, double *seconds)
{
  const GyreOutputField *fld = &m->fields[0];
  const size_t           ny = m->dims[0].len, nx = m->dims[1].len;
  const size_t           len = sizeof(float) * fld->count[0] * fld->count[1];
  PetscMPIInt            rank;
  int                    fd = -1;
  double                 t0;

  PetscFunctionBegin;
  PetscCheck(fld->count[1] == nx, b->comm, PETSC_ERR_SUP,
             "bench: the raw write assumes row slabs (each rank owns whole rows)");
  PetscCallMPI(MPI_Comm_rank(b->comm, &rank));
  PetscCallMPI(MPI_Barrier(b->comm));
  t0 = Now();
  if (rank == 0) {
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0666);
    PetscCheck(fd >= 0, PETSC_COMM_SELF, PETSC_ERR_FILE_OPEN, "cannot create '%s'", path);
  }
  PetscCallMPI(MPI_Barrier(b->comm));
  if (rank != 0) {
    fd = open(path, O_WRONLY);
    PetscCheck(fd >= 0, PETSC_COMM_SELF, PETSC_ERR_FILE_OPEN, "cannot open '%s'", path);
  }
  for (PetscInt k = 0; k < K; k++) {
    const off_t off = (off_t) (sizeof(float) * (((size_t) k * ny + fld->start[0]) * nx));
    PetscCheck(pwrite(fd, block, len, off) == (ssize_t) len, PETSC_COMM_SELF, PETSC_ERR_FILE_WRITE,
               "cannot write %zu bytes to '%s'", len, path);
  }
  if (b->fsync)
    PetscCheck(fsync(fd) == 0, PETSC_COMM_SELF, PETSC_ERR_FILE_WRITE, "cannot fsync '%s'", path);
  close(fd);
  PetscCallMPI(MPI_Barrier(b->comm));
  *seconds = Now() - t0;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* (d) NetCDF write bytes/s over raw write() bytes/s, best of b->trials each, alternating.
 * Collective. */
static PetscErrorCode BenchWrite(Bench *b, GyreModel m, Vec U, Result *r)
{
  const size_t nloc = m->fields[0].count[0] * m->fields[0].count[1];
  double      *block, best_nc = PETSC_MAX_REAL, best_raw = PETSC_MAX_REAL, t = 0;
  float       *fblock;
  char         ncpath[PATH_MAX], rawpath[PATH_MAX];
  PetscMPIInt  rank;

  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_rank(b->comm, &rank));
  PetscCall(PetscMalloc2(nloc + 1, &block, nloc + 1, &fblock));
  PetscCall((*m->ops.outputfield)(m, 0, U, 0.0, block)); /* this rank's block, C order */
  for (size_t k = 0; k < nloc; k++)
    fblock[k] = (float) block[k];
  PetscCall(
      PetscSNPrintf(ncpath, sizeof ncpath, "%s/bench_write_%" PetscInt_FMT ".nc", b->dir, r->n));
  PetscCall(
      PetscSNPrintf(rawpath, sizeof rawpath, "%s/bench_write_%" PetscInt_FMT ".raw", b->dir, r->n));
  r->write_records =
      (PetscInt) PetscCeilReal(b->write_mb * 1048576.0 / (4.0 * (double) r->n * (double) r->n));
  r->write_records = PetscMax(r->write_records, 1);
  for (PetscInt k = 0; k < b->trials; k++) {
    /* both start from no file: the blocks of the last trial are freed outside the timing */
    if (rank == 0) {
      (void) unlink(ncpath);
      (void) unlink(rawpath);
    }
    PetscCallMPI(MPI_Barrier(b->comm));
    PetscCall(WriteRaw(b, m, r->write_records, fblock, rawpath, &t));
    best_raw = PetscMin(best_raw, t);
    PetscCall(WriteNetCDF(b, m, r->write_records, block, ncpath, &t));
    best_nc = PetscMin(best_nc, t);
  }
  {
    const double bytes = 4.0 * (double) r->n * (double) r->n * (double) r->write_records;
    r->nc_Bps          = bytes / best_nc;
    r->raw_Bps         = bytes / best_raw;
  }
  PetscCallMPI(MPI_Barrier(b->comm));
  if (rank == 0) {
    (void) unlink(ncpath);
    (void) unlink(rawpath);
  }
  PetscCall(PetscFree2(block, fblock));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode BenchSize(Bench *b, PetscInt n, Result *r)
{
  GyreModel m;
  Vec       U;
  char      val[32];

  PetscFunctionBegin;
  r->n = n;
  PetscCall(PetscSNPrintf(val, sizeof val, "%" PetscInt_FMT, n));
  PetscCall(PetscOptionsSetValue(NULL, "-grid_nx", val));
  PetscCall(PetscOptionsSetValue(NULL, "-grid_ny", val));
  PetscCall(GyreModelCreate(b->comm, "ns2d", &m));
  PetscCall((*m->ops.setfromoptions)(m));
  PetscCall((*m->ops.setup)(m));
  PetscCall(DMCreateGlobalVector(m->dm, &U));
  PetscCall((*m->ops.initialstate)(m, 0, U));

  PetscCall(BenchRHS(b, m, U, r));
  PetscCall(BenchWrite(b, m, U, r));
  PetscCall(BenchStepsAndOutput(b, m, U, r));

  PetscCall(VecDestroy(&U));
  PetscCall(GyreModelDestroy(&m));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static const char *Met(PetscBool ok)
{
  return ok ? "yes" : "NO";
}

/* cpu_share: the smallest share of the wall time of the timed compute loops (RHS, copy, TS
 * steps) that any rank spent on a core (1: the machine was ours; clearly less: other
 * processes competed and the figures are low). */
static PetscErrorCode Report(Bench *b, PetscMPIInt size, PetscInt nsizes, const Result *res,
                             double cpu_share)
{
  PetscFunctionBegin;
  PetscCall(PetscPrintf(b->comm,
                        "\nns2d on %d MPI rank(s); bytes per RHS = 17 R + 20 S (R = 8 n^2, "
                        "S = 16 n (n/2+1)); output every 100 steps (%" PetscInt_FMT
                        " records timed); write test %g MiB float32 per trial, %s\n",
                        size, b->records, (double) b->write_mb,
                        b->fsync ? "both fsync'd" : "raw not fsync'd (unfair)"));
  PetscCall(PetscPrintf(b->comm, "%-6s %9s %8s %9s %9s %6s %4s %8s %9s %7s %4s %9s %9s %6s %4s\n",
                        "n", "rhs/s", "MB/rhs", "rhs GB/s", "copy GB/s", "ratio", "met", "steps/s",
                        "record ms", "out %", "met", "nc MB/s", "raw MB/s", "ratio", "met"));
  for (PetscInt i = 0; i < nsizes; i++) {
    const Result *r  = &res[i];
    const double  bw = r->rhs_Bps / r->copy_Bps, wr = r->nc_Bps / r->raw_Bps;
    PetscCall(PetscPrintf(
        b->comm,
        "%-6" PetscInt_FMT
        " %9.3g %8.1f %9.2f %9.2f %6.4f %4s %8.3g %9.2f %7.3f %4s %9.0f %9.0f %6.4f %4s\n",
        r->n, r->rhs_per_s, r->rhs_bytes / 1e6, r->rhs_Bps / 1e9, r->copy_Bps / 1e9, bw,
        Met(bw >= 0.4), r->steps_per_s, 1e3 * r->record_s, 100 * r->out_share,
        Met(r->out_share <= 0.05), r->nc_Bps / 1e6, r->raw_Bps / 1e6, wr, Met(wr >= 0.5)));
  }
  PetscCall(PetscPrintf(b->comm,
                        "CPU time / wall time in the compute loops, slowest-served rank: %.3f%s\n",
                        cpu_share,
                        cpu_share < 0.9 ? "  WARNING: other processes took CPU time; figures "
                                          "are unreliable, rerun on a quiet machine"
                                        : ""));
  /* machine-readable lines for bench/solver.sh */
  for (PetscInt i = 0; i < nsizes; i++) {
    const Result *r = &res[i];
    PetscCall(PetscPrintf(
        b->comm,
        "BENCH np=%d n=%" PetscInt_FMT " rhs_per_s=%.6g rhs_bytes=%.6g rhs_Bps=%.6g copy_Bps=%.6g "
        "steps_per_s=%.6g record_s=%.6g out_share=%.6g nc_Bps=%.6g "
        "raw_Bps=%.6g cpu_share=%.4g\n",
        size, r->n, r->rhs_per_s, r->rhs_bytes, r->rhs_Bps, r->copy_Bps, r->steps_per_s,
        r->record_s, r->out_share, r->nc_Bps, r->raw_Bps, cpu_share));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

int main(int argc, char **argv)
{
  Bench     b = {.min_time = 5.0, .records = 10, .trials = 9, .write_mb = 32, .fsync = PETSC_TRUE};
  PetscInt  sizes[MAX_SIZES] = {256, 1024}, nsizes = MAX_SIZES;
  PetscBool set;
  PetscMPIInt size;
  Result      res[MAX_SIZES];
  double      cpu_share;

  PetscCall(PetscInitialize(&argc, &argv, NULL,
                            "bench_solver: ns2d RHS rate, bandwidth, output share and NetCDF "
                            "write rate (see bench/solver.c)\n"));
  b.comm = PETSC_COMM_WORLD;
  PetscCall(PetscStrncpy(b.dir, ".", sizeof b.dir));
  PetscOptionsBegin(b.comm, NULL, "gyre solver benchmark", "bench");
  PetscCall(
      PetscOptionsIntArray("-bench_sizes", "grid sizes n (n x n)", NULL, sizes, &nsizes, &set));
  if (!set) nsizes = 2;
  PetscCall(PetscOptionsReal("-bench_min_time", "seconds per timed measurement (best of 5 loops)",
                             NULL, b.min_time, &b.min_time, NULL));
  PetscCall(PetscOptionsString("-bench_dir", "directory of the scratch files", NULL, b.dir, b.dir,
                               sizeof b.dir, NULL));
  PetscCall(PetscOptionsInt("-bench_records", "records written per output/write test", NULL,
                            b.records, &b.records, NULL));
  PetscCall(PetscOptionsInt("-bench_trials", "trials of the write test (best kept)", NULL, b.trials,
                            &b.trials, NULL));
  PetscCall(PetscOptionsReal("-bench_write_mb", "MiB written per trial of the write test", NULL,
                             b.write_mb, &b.write_mb, NULL));
  PetscCall(PetscOptionsBool("-bench_fsync", "fsync the raw file like MPI-IO does the NetCDF one",
                             NULL, b.fsync, &b.fsync, NULL));
  PetscOptionsEnd();
  PetscCheck(b.records >= 1 && b.trials >= 1, b.comm, PETSC_ERR_ARG_OUTOFRANGE,
             "-bench_records and -bench_trials must be at least 1");
  PetscCallMPI(MPI_Comm_size(b.comm, &size));

  for (PetscInt i = 0; i < nsizes; i++) {
    PetscCall(BenchSize(&b, sizes[i], &res[i]));
    PetscCall(
        PetscPrintf(b.comm, "[bench] %d rank(s), %" PetscInt_FMT "^2 done\n", size, sizes[i]));
  }
  cpu_share = b.cpu / b.wall;
  PetscCallMPI(MPIU_Allreduce(MPI_IN_PLACE, &cpu_share, 1, MPI_DOUBLE, MPI_MIN, b.comm));
  PetscCall(Report(&b, size, nsizes, res, cpu_share));
  PetscCall(PetscFinalize());
  return 0;
}
