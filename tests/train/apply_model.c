/* apply_model.c — scores a trained closure on held-out data through the inference API, as a
 * solver would call it (GyreSurrogateLoad / GyreSurrogateApply, physical units in and out).
 *
 *   apply_model MODEL DATA INPUT TARGET MEMBER
 *
 * For every record of ensemble member MEMBER of DATA (variables (time, member, k)), applies the
 * model to INPUT (at each point k, with the model's stencil of neighbours, periodic) and
 * compares with TARGET. Prints one line
 *   "mse_model <m> mse_zero <z> ratio <m/z> records <n> points <p>"
 * where mse_zero is the error of the zero closure (predicting 0). Exit 1 on any error. */
#include <stdio.h>
#include <stdlib.h>
#include "gyre_io.h"
#include "gyre_model_file.h"

static int die(const char *what)
{
  fprintf(stderr, "apply_model: %s: %s\n", what, GyreStatusMessage());
  MPI_Abort(MPI_COMM_WORLD, 1);
  return 1;
}

int main(int argc, char **argv)
{
  MPI_Init(&argc, &argv);
  if (argc != 6) {
    fprintf(stderr, "usage: apply_model MODEL DATA INPUT TARGET MEMBER\n");
    MPI_Abort(MPI_COMM_WORLD, 2);
  }
  GyreBackend   *be;
  GyreSurrogate *s;
  GyreFile       f;
  if (GyreBackendCreate("cpu", 1, &be)) return die("backend");
  if (GyreSurrogateLoad(MPI_COMM_SELF, argv[1], be, &s)) return die("load");
  if (GyreFileOpen(MPI_COMM_SELF, argv[2], 0, &f)) return die("open");
  int    nd, ht;
  char   dn[GYRE_IO_MAX_DIMS][64];
  size_t len[GYRE_IO_MAX_DIMS], nrec;
  if (GyreFileInqVar(f, argv[3], &nd, dn, len, &ht) || nd != 2) return die("input variable");
  if (GyreFileGetTimes(f, &nrec, NULL)) return die("times");
  size_t  K = len[1], start[2] = {(size_t) atoi(argv[5]), 0}, count[2] = {1, K};
  double *x = malloc(K * sizeof(double)), *t = malloc(K * sizeof(double));
  long    rad = GyreSurrogateMeta(s)->stencil, w = 2 * rad + 1; /* X_{k-rad..k+rad} */
  float  *in = malloc(K * (size_t) w * sizeof(float)), *out = malloc(K * sizeof(float));
  double  em = 0, ez = 0;
  for (size_t r = 0; r < nrec; r++) {
    if (GyreFileReadBlock(f, argv[3], r, start, count, x)) return die("read input");
    if (GyreFileReadBlock(f, argv[4], r, start, count, t)) return die("read target");
    for (size_t k = 0; k < K; k++)
      for (long o = -rad; o <= rad; o++)
        in[k * (size_t) w + (size_t) (o + rad)] = (float) x[(size_t) ((long) k + o + (long) K) % K];
    /* a per-point MLP: the K points are K samples of one channel and its stencil */
    if (GyreSurrogateApply(s, in, out, (int) K)) return die("apply");
    for (size_t k = 0; k < K; k++) {
      em += (out[k] - t[k]) * (out[k] - t[k]);
      ez += t[k] * t[k];
    }
  }
  double n = (double) nrec * (double) K;
  printf("mse_model %.6g mse_zero %.6g ratio %.6g records %zu points %zu\n", em / n, ez / n,
         em / ez, nrec, K);
  GyreFileClose(&f);
  GyreSurrogateDestroy(&s);
  GyreBackendDestroy(&be);
  free(x), free(t), free(in), free(out);
  MPI_Finalize();
  return 0;
}
