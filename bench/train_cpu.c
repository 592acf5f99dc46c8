/* train_cpu.c — the training benchmark's gyre side: `bench_train_cpu`, run by
 * bench/train_cpu.sh (issue 3, section 6: CPU, at 1 and 2 threads) and bench/train_gpu.sh
 * (issue 6, section 4: -backend cuda, 64^2 and 256^2) next to bench/train_cpu.py (the same
 * networks in PyTorch), each case in a process of its own so that its peak memory is its own.
 * (The name is the CPU benchmark's, kept so that the bundle carried to the GPU machine and
 * `make bench` do not change.)
 *
 * One case = one architecture on one backend at one thread count: a training loop of forward
 * (training mode), MSE loss, backward and one Adam step (PyTorch's defaults: lr 1e-3, betas
 * (0.9, 0.999), eps 1e-8), on random data from a fixed seed, through the library's public API
 * only (GyreBackendCreate, GyreNetCreate*, GyreNetForward/Backward, GyreOptimizer*; the loss is
 * the backend's mse_loss op, as the trainer calls it):
 *
 *   fno   FNO-2D of Li et al. 2021: 1 input channel (+ 2 grid channels), width 20, modes 12,
 *         4 Fourier layers, projection 128, 1 output channel; S x S (-size, 64); batch 20;
 *   fcnn  Ross et al. 2023 FCNN (8 circular convs 5,5,3,3,3,3,3,3, channels
 *         128,64,32,32,32,32,32,1, ReLU then BatchNorm2d); 1 input channel; S x S; batch 64;
 *   mlp   8 inputs, 3 hidden layers of 64, GELU, 8 outputs; batch 1024 (-size unused).
 *
 * Data: NBATCH = 4 batches of inputs and targets, cycled, every value uniform in [-1, 1) from
 * splitmix64 seeded with -seed (default 42): value k of the stream (k = 0, 1, ...; the inputs
 * of batch 0, its targets, the inputs of batch 1, ...) is 2 u - 1 with u = (z >> 40) 2^-24 and
 * z the k-th splitmix64 output; exactly representable in float32, so bench/train_cpu.py
 * generates the same numbers with numpy (both print the sum of the data as a check). All
 * NBATCH batches are copied to the backend (device memory with cuda) before timing.
 *
 * Timing: -warmup iterations (default 2) are not timed (plans, first-touch memory, scratch
 * allocations); then the timed loop runs at least -iters iterations and at least -min_time
 * seconds. The clock is read after GyreBackendSynchronize (all queued GPU work done; a no-op
 * on the CPU). samples/s = batch x timed iterations / wall time. Peak memory is getrusage's
 * ru_maxrss of this process at the end (KiB), MPI initialisation included (the batch-norm layer
 * needs MPI; a singleton run, no mpiexec); with -backend cuda also the backend's peak device
 * memory (GyreBackendMemoryStats, as torch.cuda.max_memory_allocated).
 *
 * Threads: GyreBackendCreate("cpu", T): the CPU ops thread with OpenMP over T threads and call
 * OpenBLAS single-threaded inside them (the backend sets OpenBLAS to 1 thread: its own pool
 * would oversubscribe the cores); FFTW single-threaded plans inside the OpenMP threads.
 * With -backend cuda, T defaults to 0 (the backend's default).
 *
 * Usage: bench_train_cpu -arch fno|fcnn|mlp [-backend cpu|cuda] [-size S] [-threads T]
 *                        [-iters N] [-warmup W] [-min_time S] [-seed S] [-batch B]
 *                        [-precision fp32|tf32|bf16]
 * (-batch: another batch size than the architecture's above, and -precision the backend's
 * precision, both for studies of one backend; the tables use the defaults: PyTorch runs them.
 * -precision adds precision=P to the line.)
 * Prints one machine-readable line:
 *   TRAIN fw=gyre arch=fno threads=1 batch=20 params=... iters=... seconds=...
 *         samples_per_s=... cpu_per_wall=... peak_rss_kb=... loss_first=... loss_last=...
 *         data_sum=...
 * and, with -backend cuda or a -size other than 64, at its end
 *         backend=cuda size=256 peak_device_bytes=...
 * (without them the line is the CPU benchmark's, unchanged).
 *
 * Data-parallel (more than one MPI rank: one rank a GPU with -backend cuda, the backend picks
 * the device by the local rank): every rank trains its own batch of the same size (its data
 * from -seed + rank), the gradients averaged as gyre train does (GyreGradSync: NCCL on the
 * devices where it loads, else MPI, in buckets during the backward pass). samples/s counts
 * every rank's samples over the slowest rank's time; the line gets ranks=P and
 * sync=<transport>, and the weights are checked identical on every rank at the end (a
 * difference is an error). bench/train_gpu.sh divides by P times the one-rank figure: the
 * data-parallel efficiency. */
#include <math.h>
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include "gyre_net.h"
#include "gyre_train.h"

#define NBATCH 4

/* ends the run with status code: on one rank after MPI_Finalize (one line on stderr, no
 * launcher banner), on several by MPI_Abort (the other ranks may be waiting in a collective) */
static void stop(int code)
{
  int n = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &n);
  if (n > 1) MPI_Abort(MPI_COMM_WORLD, code);
  MPI_Finalize();
  exit(code);
}

static void die(GyreStatus s, const char *what)
{
  fprintf(stderr, "bench_train_cpu: %s failed: %s\n", what, GyreStatusMessage());
  stop((int) s ? (int) s : 1);
}
#define CALL(expr)                                                                                 \
  do {                                                                                             \
    GyreStatus s_ = (expr);                                                                        \
    if (s_ != GYRE_OK) die(s_, #expr);                                                             \
  } while (0)

static uint64_t splitmix64(uint64_t *state)
{
  uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);
  z          = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z          = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

/* n values uniform in [-1, 1), exactly representable in float32 */
static void fill_uniform(float *h, size_t n, uint64_t *state)
{
  for (size_t i = 0; i < n; i++)
    h[i] = 2.0f * ((float) (splitmix64(state) >> 40) * 0x1.0p-24f) - 1.0f;
}

static double wall_now(void)
{
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + 1e-9 * t.tv_nsec;
}

static double cpu_now(void)
{
  struct timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return t.tv_sec + 1e-9 * t.tv_nsec;
}

static const char *arg_str(int argc, char **argv, const char *name, const char *def)
{
  for (int i = 1; i < argc - 1; i++)
    if (!strcmp(argv[i], name)) return argv[i + 1];
  return def;
}

int main(int argc, char **argv)
{
  MPI_Init(&argc, &argv);
  int rank, nranks;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &nranks);
  const char *arch     = arg_str(argc, argv, "-arch", "fno");
  const char *backend  = arg_str(argc, argv, "-backend", "cpu");
  int         cpu      = !strcmp(backend, "cpu");
  int         size     = atoi(arg_str(argc, argv, "-size", "64"));
  int         threads  = atoi(arg_str(argc, argv, "-threads", cpu ? "1" : "0"));
  int         iters    = atoi(arg_str(argc, argv, "-iters", "5"));
  int         warmup   = atoi(arg_str(argc, argv, "-warmup", "2"));
  double      min_time = atof(arg_str(argc, argv, "-min_time", "0"));
  uint64_t    seed     = strtoull(arg_str(argc, argv, "-seed", "42"), NULL, 10);
  uint64_t    dseed    = seed + (uint64_t) rank; /* each rank's data (rank 0: PyTorch's) */
  const char *bstr     = arg_str(argc, argv, "-batch", NULL);
  const int   batch_in = bstr ? atoi(bstr) : 0; /* 0: the architecture's */
  const char *prec     = arg_str(argc, argv, "-precision", NULL);

  if (size < 8) {
    fprintf(stderr, "bench_train_cpu: -size %d: at least 8\n", size);
    stop(2);
  }
  if (bstr && batch_in < 1) {
    fprintf(stderr, "bench_train_cpu: -batch %s: at least 1\n", bstr);
    stop(2);
  }
  GyreBackend *be;
  CALL(GyreBackendCreate(backend, threads, &be));
  if (prec) CALL(GyreBackendSetPrecision(be, prec));

  /* the network and its data shapes */
  GyreNet *net   = NULL;
  int      batch = 0, xnd = 0, ynd;
  int64_t  xs[4], ys[4];
  if (!strcmp(arch, "fno")) {
    GyreFNOOptions o;
    GyreFNOOptionsDefault(&o); /* dim 2, width 20, modes 12, 4 layers, proj 128, grid */
    o.in_channels = 1, o.out_channels = 1;
    batch = batch_in ? batch_in : 20, xnd = 4, xs[0] = batch, xs[1] = 1, xs[2] = size, xs[3] = size;
    CALL(GyreNetCreateFNO(be, &o, seed, &net));
  } else if (!strcmp(arch, "fcnn")) {
    GyreCNNOptions o;
    GyreCNNOptionsDefault(&o); /* Ross et al. 2023 FCNN */
    o.in_channels = 1, o.out_channels = 1;
    batch = batch_in ? batch_in : 64, xnd = 4, xs[0] = batch, xs[1] = 1, xs[2] = size, xs[3] = size;
    CALL(GyreNetCreateCNN(be, &o, seed, &net));
  } else if (!strcmp(arch, "mlp")) {
    GyreMLPOptions o;
    GyreMLPOptionsDefault(&o);
    o.inputs = 8, o.outputs = 8, o.width = 64, o.depth = 3, o.activation = GYRE_ACT_GELU;
    batch = batch_in ? batch_in : 1024, xnd = 2, xs[0] = batch, xs[1] = 8;
    CALL(GyreNetCreateMLP(be, &o, seed, &net));
  } else {
    fprintf(stderr, "bench_train_cpu: unknown -arch '%s' (fno, fcnn, mlp)\n", arch);
    stop(2);
  }
  CALL(GyreNetOutputShape(net, xnd, xs, &ynd, ys));

  /* NBATCH batches of inputs and targets, in stream order x0, y0, x1, y1, ... */
  GyreTensor x[NBATCH], t[NBATCH], pred, dpred;
  uint64_t   rng      = dseed;
  double     data_sum = 0;
  for (int b = 0; b < NBATCH; b++) {
    CALL(GyreTensorCreate(be, xnd, xs, &x[b]));
    CALL(GyreTensorCreate(be, ynd, ys, &t[b]));
    GyreTensor *pair[2] = {&x[b], &t[b]};
    for (int k = 0; k < 2; k++) {
      float *h = malloc(pair[k]->size * sizeof(float));
      if (!h) die(GYRE_ERR_MEM, "malloc");
      fill_uniform(h, pair[k]->size, &rng);
      for (size_t i = 0; i < pair[k]->size; i++)
        data_sum += h[i];
      CALL(GyreTensorCopyFromHost(pair[k], h));
      free(h);
    }
  }
  CALL(GyreTensorCreate(be, ynd, ys, &pred));
  CALL(GyreTensorCreate(be, ynd, ys, &dpred));

  /* Adam with PyTorch's defaults over the network's parameters */
  int                np;
  GyreTensor *const *params, *const *grads;
  const char *const *names;
  CALL(GyreNetParameters(net, &np, &params, &grads, &names));
  GyreOptimizerOptions oo;
  GyreOptimizerOptionsDefault(&oo);
  GyreOptimizer *opt;
  CALL(GyreOptimizerCreate(be, np, params, grads, &oo, &opt));
  /* more than one rank: the gradients summed in buckets during the backward pass, each rank's
   * loss gradient scaled by 1/P (equal batches: the global batch's mean loss) */
  GyreGradSync *sync = NULL;
  if (nranks > 1) {
    CALL(GyreGradSyncCreate(MPI_COMM_WORLD, be, np, grads, 0, &sync));
    CALL(GyreNetSetGradHook(net, GyreGradSyncReady, sync));
  }

  /* one training step on batch b */
  double loss_first = NAN, loss = NAN;
  int    step = 0;
#define TRAIN_STEP()                                                                               \
  do {                                                                                             \
    int b = step++ % NBATCH;                                                                       \
    CALL(GyreOptimizerZeroGrad(opt));                                                              \
    CALL(GyreNetForward(net, &x[b], &pred, 1));                                                    \
    CALL(be->ops->mse_loss(be, &pred, &t[b], &loss, &dpred));                                      \
    if (sync) CALL(be->ops->scale(be, dpred.size, 1.0f / nranks, dpred.data));                     \
    CALL(GyreNetBackward(net, &dpred, NULL));                                                      \
    if (sync) CALL(GyreGradSyncFinish(sync));                                                      \
    CALL(GyreOptimizerStep(opt, NULL));                                                            \
    if (isnan(loss_first)) loss_first = loss;                                                      \
  } while (0)

  for (int i = 0; i < warmup; i++)
    TRAIN_STEP();
  CALL(GyreBackendSynchronize(be));
  MPI_Barrier(MPI_COMM_WORLD);
  int    done = 0;
  double w0 = wall_now(), c0 = cpu_now(), w1;
  do {
    TRAIN_STEP();
    done++;
    CALL(GyreBackendSynchronize(be));
    w1 = wall_now();
    /* every rank stops after the same step (rank 0's clock decides) */
    int more = done < iters || w1 - w0 < min_time;
    if (nranks > 1) MPI_Bcast(&more, 1, MPI_INT, 0, MPI_COMM_WORLD);
    if (!more) break;
  } while (1);
  double c1 = cpu_now(), wall = w1 - w0;
  if (nranks > 1) { /* the slowest rank's time; the weights the same everywhere */
    MPI_Allreduce(MPI_IN_PLACE, &wall, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    double sum[2] = {0, 0};
    for (int i = 0; i < np; i++) {
      float *h = malloc(params[i]->size * sizeof(float));
      if (!h) die(GYRE_ERR_MEM, "malloc");
      CALL(GyreTensorCopyToHost(params[i], h));
      for (size_t k = 0; k < params[i]->size; k++)
        sum[0] += h[k], sum[1] += fabs((double) h[k]) * (double) (k % 7 + 1);
      free(h);
    }
    double lo[2], hi[2];
    MPI_Allreduce(sum, lo, 2, MPI_DOUBLE, MPI_MIN, MPI_COMM_WORLD);
    MPI_Allreduce(sum, hi, 2, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    if (lo[0] != hi[0] || lo[1] != hi[1]) {
      if (!rank)
        fprintf(stderr,
                "bench_train_cpu: the weights differ between the ranks after %d steps "
                "(sums %.17g .. %.17g)\n",
                step, lo[0], hi[0]);
      MPI_Abort(MPI_COMM_WORLD, 3);
    }
  }
  size_t dev_in_use, dev_peak;
  CALL(GyreBackendMemoryStats(be, &dev_in_use, &dev_peak));

  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  if (!rank) {
    printf("TRAIN fw=gyre arch=%s threads=%d batch=%d params=%zu iters=%d seconds=%.4f "
           "samples_per_s=%.6g cpu_per_wall=%.3f peak_rss_kb=%ld loss_first=%.6g loss_last=%.6g "
           "data_sum=%.6f",
           arch, threads, batch, GyreNetParameterCount(net), done, wall,
           (double) nranks * batch * done / wall, (c1 - c0) / wall, ru.ru_maxrss, loss_first, loss,
           data_sum);
    if (!cpu || size != 64)
      printf(" backend=%s size=%d peak_device_bytes=%zu", backend, size, dev_peak);
    if (prec) printf(" precision=%s", prec);
    if (nranks > 1) { /* the transport's words joined by '_' (one key=value field) */
      char how[160];
      snprintf(how, sizeof how, "%s", GyreGradSyncTransport(sync));
      for (char *c = how; *c; c++)
        if (*c == ' ') *c = '_';
      printf(" ranks=%d sync=%s", nranks, how);
    }
    printf("\n");
  }

  GyreGradSyncDestroy(&sync);
  GyreOptimizerDestroy(&opt);
  for (int b = 0; b < NBATCH; b++) {
    GyreTensorDestroy(&x[b]);
    GyreTensorDestroy(&t[b]);
  }
  GyreTensorDestroy(&pred);
  GyreTensorDestroy(&dpred);
  GyreNetDestroy(&net);
  GyreBackendDestroy(&be);
  MPI_Finalize();
  return 0;
}
