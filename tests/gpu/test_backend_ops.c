/* test_backend_ops.c — the CUDA backend against the CPU backend, op by op and network by
 * network (the model: ggml's test-backend-ops). Every op of the table runs, forward and
 * backward, on the same random inputs on both backends; the results must agree by normalised
 * mean-square error NMSE = sum (cuda - cpu)^2 / sum cpu^2 below 1e-7 (fp32; tf32 and bf16
 * with the tolerances stated at their case). Outputs that an op overwrites are poisoned with
 * NaN on the device first, so an element it fails to write makes the NMSE NaN (a failure);
 * gradients that an op accumulates start from the same random values on both sides.
 *
 * Cases (one per argument): ops, nets, arena, precision, nccl, infer. Without a usable CUDA
 * device (or in a build without the CUDA backend) each case prints SKIPPED and the reason and
 * exits 77, which ctest reports as skipped. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "gyre_net.h"
#include "gyre_train.h"
#include "nn_test.h"
#if GYRE_HAVE_CUDA
#include "gyre_cuda.h"
#endif

#define TOL_FP32 1e-7

static GyreBackend *cpu, *gpu;
static uint64_t     rng = 12345;

/* the same tensor on both backends */
typedef struct {
  GyreTensor c, g;
} Pair;

static void pair_make(Pair *p, int nd, const int64_t *shape, double lo, double hi)
{
  CHECK(GyreTensorCreate(cpu, nd, shape, &p->c));
  CHECK(GyreTensorCreate(gpu, nd, shape, &p->g));
  float *h = malloc(sizeof(float) * p->c.size);
  for (size_t i = 0; i < p->c.size; i++)
    h[i] = (float) (lo + (hi - lo) * nn_uniform01(&rng));
  CHECK(GyreTensorCopyFromHost(&p->c, h));
  CHECK(GyreTensorCopyFromHost(&p->g, h));
  free(h);
}

/* an output: zero on the CPU, NaN on the device (an unwritten element shows) */
static void pair_out(Pair *p, int nd, const int64_t *shape)
{
  CHECK(GyreTensorCreate(cpu, nd, shape, &p->c));
  CHECK(GyreTensorCreate(gpu, nd, shape, &p->g));
  CHECK(GyreTensorFill(&p->g, NAN));
}

static void pair_free(Pair *p)
{
  GyreTensorDestroy(&p->c);
  GyreTensorDestroy(&p->g);
}

static double nmse_host(const float *a, const float *b, size_t n)
{
  double num = 0, den = 0;
  for (size_t i = 0; i < n; i++) {
    const double d = (double) b[i] - (double) a[i];
    num += d * d;
    den += (double) a[i] * a[i];
  }
  return den > 0 ? num / den : num;
}

static double pair_nmse(const Pair *p)
{
  float *a = malloc(sizeof(float) * p->c.size), *b = malloc(sizeof(float) * p->c.size);
  CHECK(GyreTensorCopyToHost(&p->c, a));
  CHECK(GyreTensorCopyToHost(&p->g, b));
  double e = nmse_host(a, b, p->c.size);
  free(a);
  free(b);
  return e;
}

static int checked = 0;
#define AGREE(what, p, tol)                                                                        \
  do {                                                                                             \
    double e_ = pair_nmse(p);                                                                      \
    checked++;                                                                                     \
    EXPECT(e_ < (tol), "%s: NMSE %.3g (tolerance %.0e)", what, e_, (double) (tol));                \
  } while (0)

#define BOTH(call_c, call_g) (CHECK(call_c), CHECK(call_g))

/* ---- elementwise, reductions, dense ------------------------------------------------------- */
/* batch norm's evaluation scale on the device (bn_invstd): the host's value, bitwise, with a
 * zero variance among them */
static void case_bn_invstd(void)
{
  int64_t C = 37;
  Pair    v, r;
  EXPECT(gpu->ops->bn_invstd != NULL, "the CUDA backend has no bn_invstd");
  if (!gpu->ops->bn_invstd) return;
  pair_make(&v, 1, &C, 0, 3);
  pair_out(&r, 1, &C);
  float *hv = malloc(sizeof(float) * (size_t) C), *hr = malloc(sizeof(float) * (size_t) C);
  CHECK(GyreTensorCopyToHost(&v.g, hv));
  hv[5] = 0.0f;
  CHECK(GyreTensorCopyFromHost(&v.g, hv));
  CHECK(gpu->ops->bn_invstd(gpu, (int) C, v.g.data, 1e-5f, r.g.data));
  CHECK(GyreTensorCopyToHost(&r.g, hr));
  int bad = 0;
  for (int64_t c = 0; c < C; c++)
    bad += hr[c] != (float) (1.0 / sqrt((double) hv[c] + (double) 1e-5f));
  checked++;
  EXPECT(!bad, "bn_invstd: %d of %d values differ from the host's", bad, (int) C);
  free(hv), free(hr);
  pair_free(&v), pair_free(&r);
}

static void case_elementwise(void)
{
  int64_t n = 100003;
  Pair    x, y;
  pair_make(&x, 1, &n, -2, 2);
  pair_make(&y, 1, &n, -2, 2);
  BOTH(cpu->ops->axpby(cpu, (size_t) n, 0.7f, x.c.data, -1.3f, y.c.data),
       gpu->ops->axpby(gpu, (size_t) n, 0.7f, x.g.data, -1.3f, y.g.data));
  AGREE("axpby", &y, TOL_FP32);
  CHECK(GyreTensorFill(&y.g, NAN)); /* b = 0: y is not read */
  BOTH(cpu->ops->axpby(cpu, (size_t) n, 2.5f, x.c.data, 0.0f, y.c.data),
       gpu->ops->axpby(gpu, (size_t) n, 2.5f, x.g.data, 0.0f, y.g.data));
  AGREE("axpby b=0 over NaN", &y, TOL_FP32);
  BOTH(cpu->ops->scale(cpu, (size_t) n, -0.3f, y.c.data),
       gpu->ops->scale(gpu, (size_t) n, -0.3f, y.g.data));
  AGREE("scale", &y, TOL_FP32);
  double dc, dg;
  BOTH(cpu->ops->dot(cpu, (size_t) n, x.c.data, y.c.data, &dc),
       gpu->ops->dot(gpu, (size_t) n, x.g.data, y.g.data, &dg));
  EXPECT(fabs(dc - dg) <= 1e-9 * fabs(dc) + 1e-12, "dot: cpu %.17g cuda %.17g", dc, dg);
  BOTH(GyreTensorFill(&y.c, 3.25f), GyreTensorFill(&y.g, 3.25f));
  AGREE("fill", &y, 1e-30);
  pair_free(&x);
  pair_free(&y);
}

static void case_dense(int M, int K, int N, int bias)
{
  int64_t xs[2] = {M, K}, ws[2] = {N, K}, bs[1] = {N}, ys[2] = {M, N};
  Pair    x, W, b, y, dy, dx, dW, db;
  char    what[96];
  pair_make(&x, 2, xs, -1, 1);
  pair_make(&W, 2, ws, -1, 1);
  pair_make(&b, 1, bs, -1, 1);
  pair_out(&y, 2, ys);
  pair_make(&dy, 2, ys, -1, 1);
  pair_out(&dx, 2, xs);
  pair_make(&dW, 2, ws, -1, 1);
  pair_make(&db, 1, bs, -1, 1);
  BOTH(cpu->ops->dense_forward(cpu, &x.c, &W.c, bias ? &b.c : NULL, &y.c),
       gpu->ops->dense_forward(gpu, &x.g, &W.g, bias ? &b.g : NULL, &y.g));
  snprintf(what, sizeof what, "dense forward M %d K %d N %d bias %d", M, K, N, bias);
  AGREE(what, &y, TOL_FP32);
  BOTH(cpu->ops->dense_backward(cpu, &x.c, &W.c, &dy.c, &dx.c, &dW.c, &db.c),
       gpu->ops->dense_backward(gpu, &x.g, &W.g, &dy.g, &dx.g, &dW.g, &db.g));
  snprintf(what, sizeof what, "dense backward dx M %d K %d N %d", M, K, N);
  AGREE(what, &dx, TOL_FP32);
  AGREE("dense backward dW (accumulated)", &dW, TOL_FP32);
  AGREE("dense backward db (accumulated)", &db, TOL_FP32);
  Pair *all[] = {&x, &W, &b, &y, &dy, &dx, &dW, &db};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
    pair_free(all[i]);
}

/* ---- convolution ---------------------------------------------------------------------------- */
/* case_conv's tolerance (fp32's, but in case_precision) and the NMSE of its last y, dx, dW */
static double conv_tol = TOL_FP32, conv_nmse[3];
static void   case_conv(int dim, int N, int Cin, int Cout, int Y, int X, int K, GyrePadding pad,
                        int bias)
{
  int64_t xs[4], ws[4], ys[4], bs[1] = {Cout};
  int     nd = dim == 2 ? 4 : 3;
  if (dim == 2) {
    int64_t a[4] = {N, Cin, Y, X}, w[4] = {Cout, Cin, K, K}, o[4] = {N, Cout, Y, X};
    memcpy(xs, a, sizeof a), memcpy(ws, w, sizeof w), memcpy(ys, o, sizeof o);
  } else {
    int64_t a[3] = {N, Cin, X}, w[3] = {Cout, Cin, K}, o[3] = {N, Cout, X};
    memcpy(xs, a, sizeof a), memcpy(ws, w, sizeof w), memcpy(ys, o, sizeof o);
  }
  Pair x, W, b, y, dy, dx, dW, db;
  char what[128];
  pair_make(&x, nd, xs, -1, 1);
  pair_make(&W, nd, ws, -1, 1);
  pair_make(&b, 1, bs, -1, 1);
  pair_out(&y, nd, ys);
  pair_make(&dy, nd, ys, -1, 1);
  pair_out(&dx, nd, xs);
  pair_make(&dW, nd, ws, -1, 1);
  pair_make(&db, 1, bs, -1, 1);
  snprintf(what, sizeof what, "conv%dd N %d Cin %d Cout %d %dx%d K %d %s bias %d", dim, N, Cin,
           Cout, Y, X, K, pad == GYRE_PAD_CIRCULAR ? "circular" : "zero", bias);
  BOTH(cpu->ops->conv_forward(cpu, &x.c, &W.c, bias ? &b.c : NULL, pad, &y.c),
       gpu->ops->conv_forward(gpu, &x.g, &W.g, bias ? &b.g : NULL, pad, &y.g));
  AGREE(what, &y, conv_tol);
  BOTH(cpu->ops->conv_backward(cpu, &x.c, &W.c, &dy.c, pad, &dx.c, &dW.c, &db.c),
       gpu->ops->conv_backward(gpu, &x.g, &W.g, &dy.g, pad, &dx.g, &dW.g, &db.g));
  strcat(what, " backward");
  AGREE(what, &dx, conv_tol);
  AGREE(what, &dW, conv_tol);
  AGREE(what, &db, conv_tol);
  conv_nmse[0] = pair_nmse(&y), conv_nmse[1] = pair_nmse(&dx), conv_nmse[2] = pair_nmse(&dW);
  Pair *all[] = {&x, &W, &b, &y, &dy, &dx, &dW, &db};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
    pair_free(all[i]);
}

/* ---- spectral convolution ---------------------------------------------------------------------
 */
static void case_spectral(int dim, int N, int Cin, int Cout, int Y, int X, int MY, int MX)
{
  int64_t xs[4], ws[4], ys[4];
  int     nd = dim == 2 ? 4 : 3, wd;
  if (dim == 2) {
    int64_t a[4] = {N, Cin, Y, X}, w[4] = {2 * Cin, Cout, MY, MX}, o[4] = {N, Cout, Y, X};
    memcpy(xs, a, sizeof a), memcpy(ws, w, sizeof w), memcpy(ys, o, sizeof o);
    wd = 4;
  } else {
    int64_t a[3] = {N, Cin, X}, w[3] = {Cin, Cout, MX}, o[3] = {N, Cout, X};
    memcpy(xs, a, sizeof a), memcpy(ws, w, sizeof w), memcpy(ys, o, sizeof o);
    wd = 3;
  }
  Pair x, Wr, Wi, y, dy, dx, dWr, dWi;
  char what[128];
  pair_make(&x, nd, xs, -1, 1);
  pair_make(&Wr, wd, ws, -1, 1);
  pair_make(&Wi, wd, ws, -1, 1);
  pair_out(&y, nd, ys);
  pair_make(&dy, nd, ys, -1, 1);
  pair_out(&dx, nd, xs);
  pair_make(&dWr, wd, ws, -1, 1);
  pair_make(&dWi, wd, ws, -1, 1);
  snprintf(what, sizeof what, "spectral%dd N %d Cin %d Cout %d %dx%d modes %dx%d", dim, N, Cin,
           Cout, Y, X, MY, MX);
  BOTH(cpu->ops->spectral_forward(cpu, &x.c, &Wr.c, &Wi.c, &y.c),
       gpu->ops->spectral_forward(gpu, &x.g, &Wr.g, &Wi.g, &y.g));
  AGREE(what, &y, TOL_FP32);
  BOTH(cpu->ops->spectral_backward(cpu, &x.c, &Wr.c, &Wi.c, &dy.c, &dx.c, &dWr.c, &dWi.c),
       gpu->ops->spectral_backward(gpu, &x.g, &Wr.g, &Wi.g, &dy.g, &dx.g, &dWr.g, &dWi.g));
  strcat(what, " backward");
  AGREE(what, &dx, TOL_FP32);
  AGREE(what, &dWr, TOL_FP32);
  AGREE(what, &dWi, TOL_FP32);
  Pair *all[] = {&x, &Wr, &Wi, &y, &dy, &dx, &dWr, &dWi};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
    pair_free(all[i]);
}

/* ---- activations, losses, batch norm, Adam ------------------------------------------------------
 */
static void case_act(void)
{
  int64_t     s[4]    = {3, 5, 17, 19};
  const char *names[] = {"relu", "gelu", "tanh"};
  for (int a = 0; a < 3; a++) {
    Pair x, y, dy, dx;
    char what[64];
    pair_make(&x, 4, s, -4, 4);
    pair_out(&y, 4, s);
    pair_make(&dy, 4, s, -1, 1);
    pair_out(&dx, 4, s);
    BOTH(cpu->ops->act_forward(cpu, (GyreActivation) a, &x.c, &y.c),
         gpu->ops->act_forward(gpu, (GyreActivation) a, &x.g, &y.g));
    snprintf(what, sizeof what, "%s forward", names[a]);
    AGREE(what, &y, TOL_FP32);
    BOTH(cpu->ops->act_backward(cpu, (GyreActivation) a, &x.c, &dy.c, &dx.c),
         gpu->ops->act_backward(gpu, (GyreActivation) a, &x.g, &dy.g, &dx.g));
    snprintf(what, sizeof what, "%s backward", names[a]);
    AGREE(what, &dx, TOL_FP32);
    pair_free(&x), pair_free(&y), pair_free(&dy), pair_free(&dx);
  }
}

static void case_loss(void)
{
  int64_t s[3] = {7, 3, 1001};
  Pair    p, t, g;
  double  lc, lg;
  pair_make(&p, 3, s, -1, 1);
  pair_make(&t, 3, s, -1, 1);
  pair_out(&g, 3, s);
  BOTH(cpu->ops->mse_loss(cpu, &p.c, &t.c, &lc, &g.c),
       gpu->ops->mse_loss(gpu, &p.g, &t.g, &lg, &g.g));
  EXPECT(fabs(lc - lg) <= 1e-12 * fabs(lc), "mse loss: cpu %.17g cuda %.17g", lc, lg);
  AGREE("mse gradient", &g, TOL_FP32);
  CHECK(GyreTensorFill(&g.g, NAN));
  BOTH(cpu->ops->rel_l2_loss(cpu, &p.c, &t.c, &lc, &g.c),
       gpu->ops->rel_l2_loss(gpu, &p.g, &t.g, &lg, &g.g));
  EXPECT(fabs(lc - lg) <= 1e-12 * fabs(lc), "rel_l2 loss: cpu %.17g cuda %.17g", lc, lg);
  AGREE("rel_l2 gradient", &g, TOL_FP32);
  /* a zero target sample: the same error on both */
  CHECK(GyreTensorFill(&t.g, 0.0f));
  GyreStatus st = gpu->ops->rel_l2_loss(gpu, &p.g, &t.g, &lg, &g.g);
  EXPECT(st == GYRE_ERR_NAN && strstr(GyreStatusMessage(), "zero norm"),
         "rel_l2 with a zero target: status %d '%s'", (int) st, GyreStatusMessage());
  pair_free(&p), pair_free(&t), pair_free(&g);
}

static void case_batchnorm(void)
{
  const int C    = 6;
  int64_t   s[4] = {4, C, 9, 7}, cs[1] = {C};
  Pair      x, y, dy, dx, mean, invstd, gamma, beta, mdy, mdyx;
  double    sc[C], sqc[C], sg[C], sqg[C];
  pair_make(&x, 4, s, -2, 3);
  pair_out(&y, 4, s);
  pair_make(&dy, 4, s, -1, 1);
  pair_out(&dx, 4, s);
  pair_make(&mean, 1, cs, -0.5, 0.5);
  pair_make(&invstd, 1, cs, 0.5, 2);
  pair_make(&gamma, 1, cs, 0.5, 1.5);
  pair_make(&beta, 1, cs, -0.5, 0.5);
  pair_make(&mdy, 1, cs, -0.1, 0.1);
  pair_make(&mdyx, 1, cs, -0.1, 0.1);
  BOTH(cpu->ops->bn_stats(cpu, &x.c, sc, sqc), gpu->ops->bn_stats(gpu, &x.g, sg, sqg));
  for (int c = 0; c < C; c++)
    EXPECT(fabs(sc[c] - sg[c]) <= 1e-9 * (fabs(sc[c]) + 1) &&
               fabs(sqc[c] - sqg[c]) <= 1e-9 * (fabs(sqc[c]) + 1),
           "bn_stats channel %d: cpu %.17g %.17g cuda %.17g %.17g", c, sc[c], sqc[c], sg[c],
           sqg[c]);
  BOTH(
      cpu->ops->bn_forward(cpu, &x.c, mean.c.data, invstd.c.data, gamma.c.data, beta.c.data, &y.c),
      gpu->ops->bn_forward(gpu, &x.g, mean.g.data, invstd.g.data, gamma.g.data, beta.g.data, &y.g));
  AGREE("bn_forward", &y, TOL_FP32);
  BOTH(cpu->ops->bn_backward_stats(cpu, &x.c, mean.c.data, invstd.c.data, &dy.c, sc, sqc),
       gpu->ops->bn_backward_stats(gpu, &x.g, mean.g.data, invstd.g.data, &dy.g, sg, sqg));
  for (int c = 0; c < C; c++)
    EXPECT(fabs(sc[c] - sg[c]) <= 1e-6 * (fabs(sc[c]) + 1) &&
               fabs(sqc[c] - sqg[c]) <= 1e-6 * (fabs(sqc[c]) + 1),
           "bn_backward_stats channel %d: cpu %.17g %.17g cuda %.17g %.17g", c, sc[c], sqc[c],
           sg[c], sqg[c]);
  BOTH(cpu->ops->bn_backward(cpu, &x.c, mean.c.data, invstd.c.data, gamma.c.data, &dy.c, mdy.c.data,
                             mdyx.c.data, &dx.c),
       gpu->ops->bn_backward(gpu, &x.g, mean.g.data, invstd.g.data, gamma.g.data, &dy.g, mdy.g.data,
                             mdyx.g.data, &dx.g));
  AGREE("bn_backward", &dx, TOL_FP32);
  Pair *all[] = {&x, &y, &dy, &dx, &mean, &invstd, &gamma, &beta, &mdy, &mdyx};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
    pair_free(all[i]);
}

static void case_adam(void)
{
  int64_t n = 4099;
  for (int dec = 0; dec < 2; dec++) {
    Pair p, g, m, v;
    pair_make(&p, 1, &n, -1, 1);
    pair_make(&g, 1, &n, -1, 1);
    pair_out(&m, 1, &n);
    pair_out(&v, 1, &n);
    BOTH(GyreTensorFill(&m.g, 0), GyreTensorFill(&v.g, 0));
    for (long t = 1; t <= 3; t++)
      BOTH(cpu->ops->adam_update(cpu, (size_t) n, p.c.data, g.c.data, m.c.data, v.c.data, 1e-2, 0.9,
                                 0.999, 1e-8, 0.01, dec, t),
           gpu->ops->adam_update(gpu, (size_t) n, p.g.data, g.g.data, m.g.data, v.g.data, 1e-2, 0.9,
                                 0.999, 1e-8, 0.01, dec, t));
    AGREE(dec ? "adamw parameters" : "adam parameters", &p, 1e-12);
    AGREE("adam first moment", &m, 1e-12);
    AGREE("adam second moment", &v, 1e-12);
    pair_free(&p), pair_free(&g), pair_free(&m), pair_free(&v);
  }
}

static void case_ops(void)
{
  case_elementwise();
  case_bn_invstd();
  case_dense(37, 19, 23, 1);
  case_dense(1024, 64, 64, 0);
  case_dense(5, 3, 1, 1);
  /* the convolution algorithms: the implicit GEMM, the shift-GEMM, im2col one sample at a time
   * (a tiny chunk budget), im2col in chunks as large as allowed, the FFT (the circular cases with
   * an even number of rows; the others by the implicit GEMM) */
  const char *algo[5][2] = {{"implicit", "1024"},
                            {"shift", "1024"},
                            {"im2col", "0.001"},
                            {"im2col", "1024"},
                            {"fft", "1024"}};
  for (int a = 0; a < 5; a++) {
    setenv("GYRE_CUDA_CONV", algo[a][0], 1);
    setenv("GYRE_CUDA_IM2COL_MB", algo[a][1], 1);
    if (a == 2) { /* and the 1x1 convolutions by cuBLAS (a GEMM a sample for dW) */
      setenv("GYRE_CUDA_PW", "gemm", 1);
      setenv("GYRE_CUDA_PW_DW", "loop", 1);
    } else {
      unsetenv("GYRE_CUDA_PW");
      unsetenv("GYRE_CUDA_PW_DW");
    }
    for (int pad = 0; pad < 2; pad++) {
      case_conv(1, 3, 4, 5, 1, 17, 5, (GyrePadding) pad, 1);
      case_conv(1, 1, 4, 5, 1, 28, 5, (GyrePadding) pad, 1); /* 32 padded positions */
      case_conv(1, 2, 3, 2, 1, 9, 1, (GyrePadding) pad, 1);
      case_conv(2, 2, 3, 4, 9, 11, 3, (GyrePadding) pad, 1);
      case_conv(2, 3, 9, 6, 8, 8, 5, (GyrePadding) pad, 0);
      case_conv(2, 4, 7, 5, 6, 10, 1, (GyrePadding) pad, 1);
      /* several tiles of the implicit GEMM each way: 924 padded positions, a reduction of
       * 297 (not a multiple of its step), 70 output channels (two column tiles) */
      case_conv(2, 2, 33, 70, 20, 19, 3, (GyrePadding) pad, 1);
      /* more than 128 output channels (two 128-wide column tiles), and as many input channels
       * (the adjoint's columns; a weight-gradient reduction of 1170, ten row tiles) */
      case_conv(2, 1, 5, 130, 9, 7, 3, (GyrePadding) pad, 1);
      case_conv(2, 1, 130, 3, 7, 9, 3, (GyrePadding) pad, 0);
      /* 33-64 output channels (the 64-wide tile; its weight gradient in 3 position chunks) */
      case_conv(2, 2, 17, 48, 11, 13, 3, (GyrePadding) pad, 1);
    }
    /* 1x1 at FNO sizes: several position chunks per sample, a partial last tile, the
     * projection's 20 -> 128 and back */
    case_conv(2, 3, 20, 24, 37, 41, 1, GYRE_PAD_ZERO, 1);
    case_conv(2, 2, 20, 128, 16, 33, 1, GYRE_PAD_ZERO, 1);
    case_conv(2, 2, 128, 1, 16, 33, 1, GYRE_PAD_ZERO, 1);
    /* circular with an even number of rows (GYRE_CUDA_CONV=fft: through the FFT; run.sh's
     * ops+fft), kernels of 5 and 3, odd and even widths */
    case_conv(2, 2, 24, 16, 16, 12, 5, GYRE_PAD_CIRCULAR, 1);
    case_conv(2, 3, 12, 10, 10, 15, 3, GYRE_PAD_CIRCULAR, 1);
  }
  /* an unknown algorithm, or fft with no kernel size: one error naming the variable and its
   * value, nothing computed */
  for (int bad = 0; bad < 2; bad++) {
    const char *val = bad ? "fft:0" : "bogus";
    char        want[64];
    snprintf(want, sizeof want, "GYRE_CUDA_CONV=%s", val);
    setenv("GYRE_CUDA_CONV", val, 1);
    int64_t xs[4] = {1, 2, 5, 5}, ws[4] = {3, 2, 3, 3}, ys[4] = {1, 3, 5, 5};
    Pair    x, W, y;
    pair_make(&x, 4, xs, -1, 1);
    pair_make(&W, 4, ws, -1, 1);
    pair_out(&y, 4, ys);
    GyreStatus st = gpu->ops->conv_forward(gpu, &x.g, &W.g, NULL, GYRE_PAD_ZERO, &y.g);
    EXPECT(st == GYRE_ERR_ARG && strstr(GyreStatusMessage(), want),
           "%s was not refused with a message naming it", want);
    pair_free(&x), pair_free(&W), pair_free(&y);
  }
  unsetenv("GYRE_CUDA_CONV");
  unsetenv("GYRE_CUDA_IM2COL_MB");
  unsetenv("GYRE_CUDA_PW");
  unsetenv("GYRE_CUDA_PW_DW");
  case_spectral(1, 3, 4, 5, 1, 32, 1, 17); /* every mode, Nyquist included */
  case_spectral(1, 2, 3, 2, 1, 15, 1, 5);  /* odd length */
  case_spectral(2, 2, 3, 4, 16, 20, 5, 11);
  case_spectral(2, 3, 2, 3, 12, 9, 6, 5); /* 2 MY = Y, odd X */
  /* every mode kept (2 MY = Y, MX = X / 2 + 1: the forward transform is then one batched 2-D
   * cuFFT transform), even and odd X; and wide enough for the tiled mode products */
  case_spectral(2, 2, 3, 4, 12, 10, 6, 6);
  case_spectral(2, 3, 2, 3, 8, 9, 4, 5);
  case_spectral(2, 2, 40, 32, 8, 8, 4, 5);
  case_act();
  case_loss();
  case_batchnorm();
  case_adam();
  printf("ops: %d comparisons\n", checked);
}

/* ---- whole networks: a few training steps on both backends ---------------------------------- */
static double train_steps(GyreBackend *be, GyreNet *net, int nd, const int64_t *xs, const float *xh,
                          const float *th, int steps, float *weights)
{
  int                ny, n;
  int64_t            ys[5];
  GyreTensor         x, y, t, dy;
  GyreTensor *const *params, *const *grads;
  const char *const   *names;
  GyreOptimizer       *opt;
  GyreOptimizerOptions oo;
  double               loss = 0;
  CHECK(GyreNetOutputShape(net, nd, xs, &ny, ys));
  CHECK(GyreTensorCreate(be, nd, xs, &x));
  CHECK(GyreTensorCreate(be, ny, ys, &y));
  CHECK(GyreTensorCreate(be, ny, ys, &t));
  CHECK(GyreTensorCreate(be, ny, ys, &dy));
  CHECK(GyreTensorCopyFromHost(&x, xh));
  CHECK(GyreTensorCopyFromHost(&t, th));
  CHECK(GyreNetParameters(net, &n, &params, &grads, &names));
  GyreOptimizerOptionsDefault(&oo);
  oo.type = GYRE_OPT_ADAMW, oo.weight_decay = 1e-2, oo.clip = 1.0;
  CHECK(GyreOptimizerCreate(be, n, params, grads, &oo, &opt));
  for (int s = 0; s < steps; s++) {
    CHECK(GyreNetZeroGrad(net));
    CHECK(GyreNetForward(net, &x, &y, 1));
    CHECK(be->ops->mse_loss(be, &y, &t, &loss, &dy));
    CHECK(GyreNetBackward(net, &dy, NULL));
    CHECK(GyreOptimizerStep(opt, NULL));
  }
  size_t off = 0;
  for (int i = 0; i < n; i++) {
    CHECK(GyreTensorCopyToHost(params[i], weights + off));
    off += params[i]->size;
  }
  GyreOptimizerDestroy(&opt);
  GyreTensorDestroy(&x), GyreTensorDestroy(&y), GyreTensorDestroy(&t), GyreTensorDestroy(&dy);
  return loss;
}

static void compare_net(const char *name, GyreNet *nc, GyreNet *ng, int nd, const int64_t *xs,
                        int steps)
{
  int     ny;
  int64_t ys[5];
  size_t  nx = 1, nt = 1, np = GyreNetParameterCount(nc) + 16;
  CHECK(GyreNetOutputShape(nc, nd, xs, &ny, ys));
  for (int d = 0; d < nd; d++)
    nx *= (size_t) xs[d];
  for (int d = 0; d < ny; d++)
    nt *= (size_t) ys[d];
  float *xh = malloc(sizeof(float) * nx), *th = malloc(sizeof(float) * nt);
  float *wc = calloc(np, sizeof(float)), *wg = calloc(np, sizeof(float));
  for (size_t i = 0; i < nx; i++)
    xh[i] = (float) (2 * nn_uniform01(&rng) - 1);
  for (size_t i = 0; i < nt; i++)
    th[i] = (float) (2 * nn_uniform01(&rng) - 1);
  double lc = train_steps(cpu, nc, nd, xs, xh, th, steps, wc);
  double lg = train_steps(gpu, ng, nd, xs, xh, th, steps, wg);
  double e  = nmse_host(wc, wg, GyreNetParameterCount(nc));
  checked++;
  EXPECT(fabs(lc - lg) <= 1e-4 * fabs(lc), "%s: loss after %d steps cpu %.9g cuda %.9g", name,
         steps, lc, lg);
  EXPECT(e < 1e-9, "%s: weights after %d AdamW steps NMSE %.3g", name, steps, e);
  printf("%s: %d steps, loss cpu %.9g cuda %.9g, weights NMSE %.3g\n", name, steps, lc, lg, e);
  free(xh), free(th), free(wc), free(wg);
}

static void case_nets(void)
{
  GyreNet *nc, *ng;
  {
    GyreMLPOptions o;
    GyreMLPOptionsDefault(&o);
    o.inputs = 8, o.outputs = 8, o.width = 64, o.depth = 3;
    int64_t xs[2] = {256, 8};
    BOTH(GyreNetCreateMLP(cpu, &o, 7, &nc), GyreNetCreateMLP(gpu, &o, 7, &ng));
    compare_net("mlp 8-64-64-64-8 gelu", nc, ng, 2, xs, 5);
    GyreNetDestroy(&nc), GyreNetDestroy(&ng);
  }
  {
    GyreCNNOptions o;
    GyreCNNOptionsDefault(&o);
    o.in_channels = 2, o.out_channels = 2;
    int ch[7] = {16, 8, 8, 8, 8, 8, 8};
    memcpy(o.channels, ch, sizeof ch);
    int64_t xs[4] = {4, 2, 16, 16};
    BOTH(GyreNetCreateCNN(cpu, &o, 9, &nc), GyreNetCreateCNN(gpu, &o, 9, &ng));
    compare_net("fcnn (small channels, batch norm)", nc, ng, 4, xs, 3);
    GyreNetDestroy(&nc), GyreNetDestroy(&ng);
  }
  for (int dim = 1; dim <= 2; dim++) {
    GyreFNOOptions o;
    GyreFNOOptionsDefault(&o);
    o.dim = dim, o.in_channels = 1, o.out_channels = 1, o.width = 12, o.modes = 6;
    int64_t xs2[4] = {3, 1, 24, 24}, xs1[3] = {5, 1, 40};
    BOTH(GyreNetCreateFNO(cpu, &o, 11, &nc), GyreNetCreateFNO(gpu, &o, 11, &ng));
    compare_net(dim == 2 ? "fno2d width 12 modes 6" : "fno1d width 12 modes 6", nc, ng,
                dim == 2 ? 4 : 3, dim == 2 ? xs2 : xs1, 3);
    GyreNetDestroy(&nc), GyreNetDestroy(&ng);
  }
}

#if GYRE_HAVE_CUDA
/* the arena: after the first step no cudaMalloc; out of memory names the size */
static void case_arena(void)
{
  GyreFNOOptions o;
  GyreNet       *net;
  GyreFNOOptionsDefault(&o);
  o.in_channels = 1, o.out_channels = 1, o.width = 16, o.modes = 8;
  int64_t xs[4] = {4, 1, 32, 32};
  float  *xh = calloc(4 * 32 * 32, sizeof(float)), *th = calloc(4 * 32 * 32, sizeof(float));
  float  *w;
  for (int i = 0; i < 4 * 32 * 32; i++)
    xh[i] = (float) sin(0.01 * i), th[i] = (float) cos(0.02 * i);
  CHECK(GyreNetCreateFNO(gpu, &o, 3, &net));
  w = calloc(GyreNetParameterCount(net) + 16, sizeof(float));
  train_steps(gpu, net, 4, xs, xh, th, 1, w);
  long after_one = GyreCUDAMallocCount(gpu);
  train_steps(gpu, net, 4, xs, xh, th, 5, w);
  long   after_six = GyreCUDAMallocCount(gpu);
  size_t in_use, peak;
  CHECK(GyreBackendMemoryStats(gpu, &in_use, &peak));
  EXPECT(after_six == after_one, "cudaMalloc calls: %ld after the first step, %ld after 5 more",
         after_one, after_six);
  EXPECT(peak > 0 && in_use <= peak, "memory stats: in use %zu, peak %zu", in_use, peak);
  printf("arena: %ld cudaMalloc calls in set-up and step 1, none in the next 5; peak %.2f MiB\n",
         after_one, peak / 1048576.0);
  GyreNetDestroy(&net);
  /* the batch copies through the copy stream: into a tensor just created (its zero fill is
   * queued on the compute stream) and read by the next op, for several rounds of the ring */
  for (int round = 0; round < 6; round++) {
    int64_t    n = 50000 + round;
    GyreTensor a, b;
    float     *h = malloc(sizeof(float) * n), *r = malloc(sizeof(float) * n);
    for (int64_t i = 0; i < n; i++)
      h[i] = (float) (i % 977) + 0.25f * round;
    CHECK(GyreTensorCreate(gpu, 1, &n, &a));
    CHECK(GyreTensorCreate(gpu, 1, &n, &b));
    CHECK(GyreTensorCopyFromHostAsync(&a, h));
    CHECK(gpu->ops->axpby(gpu, (size_t) n, 2.0f, a.data, 0.0f, b.data));
    CHECK(GyreTensorCopyToHost(&b, r));
    int bad = 0;
    for (int64_t i = 0; i < n; i++)
      bad += r[i] != 2.0f * h[i];
    EXPECT(!bad, "async copy round %d: %d of %lld values wrong", round, bad, (long long) n);
    GyreTensorDestroy(&a), GyreTensorDestroy(&b);
    free(h), free(r);
  }
  /* out of device memory: the size asked for is in the message */
  void      *p  = NULL;
  GyreStatus st = gpu->ops->alloc(gpu, (size_t) 1 << 50, &p);
  EXPECT(st == GYRE_ERR_MEM && strstr(GyreStatusMessage(), "out of device memory") &&
             strstr(GyreStatusMessage(), "1125899906842624 bytes"),
         "a 1 PiB allocation: status %d '%s'", (int) st, GyreStatusMessage());
  printf("out of memory: %s\n", GyreStatusMessage());
  free(xh), free(th), free(w);
}

/* tf32 and bf16 GEMMs: close to fp32 within their mantissas (tolerances stated) */
static void case_precision(void)
{
  const char *prec[] = {"tf32", "bf16"};
  double      tol[]  = {1e-5, 1e-3}; /* NMSE ~ (2^-11)^2 x K-ish and (2^-8)^2 x ... */
  int64_t     xs[2] = {512, 256}, ws[2] = {128, 256}, ys[2] = {512, 128};
  for (int k = 0; k < 2; k++) {
    Pair x, W, y;
    pair_make(&x, 2, xs, -1, 1);
    pair_make(&W, 2, ws, -1, 1);
    pair_out(&y, 2, ys);
    CHECK(GyreBackendSetPrecision(gpu, prec[k]));
    BOTH(cpu->ops->dense_forward(cpu, &x.c, &W.c, NULL, &y.c),
         gpu->ops->dense_forward(gpu, &x.g, &W.g, NULL, &y.g));
    double e = pair_nmse(&y);
    printf("precision %s: dense (512 x 256) x (256 x 128) NMSE against fp32 %.3g (tolerance "
           "%.0e)\n",
           prec[k], e, tol[k]);
    EXPECT(e < tol[k] && e > 0, "%s dense: NMSE %.3g", prec[k], e);
    /* bf16 keeps 8 mantissa bits against tf32's 11: its rounding must show (about 64x) */
    if (k == 1) EXPECT(e > 5e-7, "bf16 dense: NMSE %.3g, as small as tf32's: not bf16", e);
    pair_free(&x), pair_free(&W), pair_free(&y);
  }
  /* a 5x5 convolution in tf32, forward and backward, by the shift-GEMM (cuBLAS on the tensor
   * cores) and by the implicit GEMM (tf32's default: its tensor-core variant, tf32 products);
   * in bf16 by the shift-GEMM and by auto's choice at a batch of 2 (im2col: one GEMM of the
   * whole kernel); each within its precision's tolerance, with its rounding showing (bf16's
   * above tf32's) */
  const char  *algo[2][2] = {{"shift", "implicit"}, {"shift", "auto"}};
  const double least[2]   = {0, 5e-7};
  for (int k = 0; k < 2; k++) {
    conv_tol = tol[k];
    CHECK(GyreBackendSetPrecision(gpu, prec[k]));
    for (int a = 0; a < 2; a++) {
      setenv("GYRE_CUDA_CONV", algo[k][a], 1);
      case_conv(2, 2, 16, 48, 12, 13, 5, GYRE_PAD_ZERO, 1);
      printf("precision %s: conv 5x5 16 -> 48 (%s), NMSE against fp32: y %.3g, dx %.3g, dW %.3g "
             "(tolerance %.0e)\n",
             prec[k], algo[k][a], conv_nmse[0], conv_nmse[1], conv_nmse[2], tol[k]);
      EXPECT(conv_nmse[0] > least[k], "%s conv (%s): NMSE %.3g: not %s's rounding", prec[k],
             algo[k][a], conv_nmse[0], prec[k]);
    }
  }
  conv_tol = TOL_FP32;
  unsetenv("GYRE_CUDA_CONV");
  CHECK(GyreBackendSetPrecision(gpu, "fp32"));
  GyreStatus st = GyreBackendSetPrecision(cpu, "tf32");
  EXPECT(st == GYRE_ERR_ARG && strstr(GyreStatusMessage(), "needs tensor cores"),
         "cpu tf32: status %d '%s'", (int) st, GyreStatusMessage());
  /* the CPU's bf16 (a CNN's inference on AMX or AVX-512 BF16): accepted where the CPU has one,
   * else refused naming them */
  st = GyreBackendSetPrecision(cpu, "bf16");
  EXPECT(st == GYRE_OK || (st == GYRE_ERR_ARG && strstr(GyreStatusMessage(), "needs AVX-512 BF16")),
         "cpu bf16: status %d '%s'", (int) st, GyreStatusMessage());
  CHECK(GyreBackendSetPrecision(cpu, "fp32"));
}

/* the NCCL path on one rank (GYRE_NCCL=force): the sum over one rank leaves the gradients */
static void case_nccl(void)
{
  int64_t       n = 70001, m = 5;
  GyreTensor    a, b, ha[2];
  GyreGradSync *gs;
  setenv("GYRE_NCCL", "force", 1);
  CHECK(GyreTensorCreate(gpu, 1, &n, &a));
  CHECK(GyreTensorCreate(gpu, 1, &m, &b));
  float *h = malloc(sizeof(float) * n), *r = malloc(sizeof(float) * n);
  for (int64_t i = 0; i < n; i++)
    h[i] = (float) nn_uniform01(&rng);
  CHECK(GyreTensorCopyFromHost(&a, h));
  CHECK(GyreTensorCopyFromHost(&b, h));
  ha[0]                = a;
  ha[1]                = b;
  GyreTensor *grads[2] = {&ha[0], &ha[1]};
  CHECK(GyreGradSyncCreate(MPI_COMM_WORLD, gpu, 2, grads, 4096, &gs));
  const char *tr = GyreGradSyncTransport(gs);
  printf("nccl: %s, %d buckets\n", tr, GyreGradSyncBuckets(gs));
  if (!strstr(tr, "NCCL all-reduce")) {
    printf("SKIPPED: NCCL could not be loaded here: %s\n", tr);
    GyreGradSyncDestroy(&gs);
    free(h), free(r);
    exit(77);
  }
  CHECK(GyreGradSyncReady(gs, 1));
  CHECK(GyreGradSyncFinish(gs));
  CHECK(GyreTensorCopyToHost(&ha[0], r));
  EXPECT(!memcmp(h, r, sizeof(float) * n), "NCCL sum over one rank changed the gradients");
  CHECK(GyreTensorCopyToHost(&ha[1], r));
  EXPECT(!memcmp(h, r, sizeof(float) * m), "NCCL sum over one rank changed the gradients");
  GyreGradSyncDestroy(&gs);
  GyreTensorDestroy(&ha[0]), GyreTensorDestroy(&ha[1]);
  free(h), free(r);
}
#endif

/* The closure's cost on the GPU (bench/coupling measures it on the CPU): network `what` (o) on
 * one side x side field (ns2d's 64^2 with the closure's halo, as one rank evaluates it), the
 * input copied to the device and the output back as the solver's coupling does, milliseconds a
 * call on the CPU backend (1 thread) and on CUDA in fp32, tf32 and bf16. No goal here:
 * bench/RESULTS.md compares it with the coupling benchmark's per-call figure (the rest of
 * that is the solver's side: packing, halo, normalisation). */
static void infer_latency(const char *what, const GyreCNNOptions *o, int side)
{
  int64_t           xs[4] = {1, 1, side, side};
  size_t            n     = (size_t) side * side;
  float            *h = malloc(sizeof(float) * n), *r = malloc(sizeof(float) * n);
  GyreNet          *net[2];
  GyreTensor        x[2], y[2];
  GyreNetWorkspace *ws[2];
  for (size_t i = 0; i < n; i++)
    h[i] = (float) nn_uniform01(&rng) - 0.5f;
  BOTH(GyreNetCreateCNN(cpu, o, 5, &net[0]), GyreNetCreateCNN(gpu, o, 5, &net[1]));
  /* 0: CPU; 1..3: CUDA; 4, 5: CUDA with the activations and batch norms as ops of their own
   * (GYRE_CUDA_POST=0), not in the convolutions' epilogue */
  const char *prec[] = {"fp32", "fp32", "tf32", "bf16", "fp32", "tf32"};
  double      ms[6], staged[3];
  for (int k = 0; k < 6; k++) {
    int b = k > 0;
    if (k == 4) setenv("GYRE_CUDA_POST", "0", 1);
    if (k <= 1) {
      CHECK(GyreNetWorkspaceCreate(net[b], &ws[b]));
      CHECK(GyreTensorCreate(b ? gpu : cpu, 4, xs, &x[b]));
      CHECK(GyreTensorCreate(b ? gpu : cpu, 4, xs, &y[b]));
    }
    if (b) CHECK(GyreBackendSetPrecision(gpu, prec[k]));
    int    reps = b ? 50 : 3;
    double t0   = 0;
    for (int it = -2; it < reps; it++) { /* two calls to warm up (plans, workspaces) */
      if (it == 0) t0 = MPI_Wtime();
      CHECK(GyreTensorCopyFromHost(&x[b], h));
      CHECK(GyreNetInfer(net[b], ws[b], &x[b], &y[b]));
      CHECK(GyreTensorCopyToHost(&y[b], r));
    }
    ms[k] = 1e3 * (MPI_Wtime() - t0) / reps;
  }
  unsetenv("GYRE_CUDA_POST");
  /* the coupling's call (GyreSurrogateApplyBlock): through the workspace's pinned staging by
   * GyreNetInferStaged, one graph launch a call with GYRE_CUDA_GRAPH=1 */
  for (int k = 0; k < 3; k++) {
    GyreNetWorkspace *w;
    GyreTensor       *xg, *yg;
    float            *hin, *hout;
    CHECK(GyreBackendSetPrecision(gpu, prec[k + 1]));
    CHECK(GyreNetWorkspaceCreate(net[1], &w));
    CHECK(GyreNetWorkspaceIO(w, 4, xs, 4, xs, &xg, &yg, &hin, &hout));
    double t0 = 0;
    for (int it = -2; it < 50; it++) {
      if (it == 0) t0 = MPI_Wtime();
      memcpy(hin, h, sizeof(float) * n);
      CHECK(GyreNetInferStaged(net[1], w, hin, xg, yg, hout));
      memcpy(r, hout, sizeof(float) * n);
    }
    staged[k] = 1e3 * (MPI_Wtime() - t0) / 50;
    GyreNetWorkspaceDestroy(&w);
  }
  CHECK(GyreBackendSetPrecision(gpu, "fp32"));
  printf("closure latency, %s on one %d^2 field (copies included): cpu %.2f ms, cuda fp32 %.3f "
         "ms, tf32 %.3f ms, bf16 %.3f ms; without the fused epilogue (GYRE_CUDA_POST=0) fp32 "
         "%.3f ms, tf32 %.3f ms\n",
         what, side, ms[0], ms[1], ms[2], ms[3], ms[4], ms[5]);
  printf("closure latency, %s on one %d^2 field staged (GyreNetInferStaged, pinned, copies in "
         "the graph where recorded): cuda fp32 %.3f ms, tf32 %.3f ms, bf16 %.3f ms\n",
         what, side, staged[0], staged[1], staged[2]);
  for (int b = 0; b < 2; b++) {
    GyreTensorDestroy(&x[b]), GyreTensorDestroy(&y[b]);
    GyreNetWorkspaceDestroy(&ws[b]), GyreNetDestroy(&net[b]);
  }
  free(h), free(r);
}

/* what, the same network on both backends (nc, ng), inferred on an input of shape xs drawn in
 * [lo, hi]: the outputs (shape ys) agree; the networks are destroyed */
static void infer_agree(const char *what, GyreNet *nc, GyreNet *ng, int nd, const int64_t *xs,
                        const int64_t *ys, double lo, double hi)
{
  GyreNetWorkspace *wc, *wg;
  Pair              x, y;
  BOTH(GyreNetWorkspaceCreate(nc, &wc), GyreNetWorkspaceCreate(ng, &wg));
  pair_make(&x, nd, xs, lo, hi);
  pair_out(&y, nd, ys);
  BOTH(GyreNetInfer(nc, wc, &x.c, &y.c), GyreNetInfer(ng, wg, &x.g, &y.g));
  AGREE(what, &y, TOL_FP32);
  pair_free(&x), pair_free(&y);
  GyreNetWorkspaceDestroy(&wc), GyreNetWorkspaceDestroy(&wg);
  GyreNetDestroy(&nc), GyreNetDestroy(&ng);
}

/* Repeated inference on workspaces kept between calls (the coupling's pattern): workspace 0
 * on (2, 1, 32, 32) and workspace 1 on (2, 1, 48, 48), in runs of 3 calls: 0, 1, 0, 1, each
 * call with new input values. Every call's output agrees with the CPU's. With
 * GYRE_CUDA_GRAPH=1 a workspace's second call of a run is recorded as a CUDA graph and the third
 * is its launch; the first call of workspace 0's second run finds its graph stale (workspace 1's
 * larger calls gave up the scratch memory it used) and runs plainly: at least 4 launches in
 * all. The networks are destroyed. */
static void infer_repeat(const char *what, GyreNet *nc, GyreNet *ng)
{
  GyreNetWorkspace *wc[2], *wg[2];
  Pair              x[2], y[2];
  char              w[160];
  float            *h = malloc(sizeof(float) * 2 * 48 * 48);
  for (int k = 0; k < 2; k++) {
    int64_t s[4] = {2, 1, k ? 48 : 32, k ? 48 : 32};
    BOTH(GyreNetWorkspaceCreate(nc, &wc[k]), GyreNetWorkspaceCreate(ng, &wg[k]));
    pair_make(&x[k], 4, s, -1, 1);
    pair_out(&y[k], 4, s);
  }
  for (int run = 0; run < 4; run++) {
    const int k = run % 2;
    for (int call = 0; call < 3; call++) {
      for (size_t i = 0; i < x[k].c.size; i++)
        h[i] = (float) nn_uniform01(&rng) * 2.0f - 1.0f;
      BOTH(GyreTensorCopyFromHost(&x[k].c, h), GyreTensorCopyFromHost(&x[k].g, h));
      BOTH(GyreNetInfer(nc, wc[k], &x[k].c, &y[k].c), GyreNetInfer(ng, wg[k], &x[k].g, &y[k].g));
      snprintf(w, sizeof w, "%s, workspace %d, run %d, call %d", what, k, run + 1, call + 1);
      AGREE(w, &y[k], TOL_FP32);
    }
  }
  const long launches = GyreNetWorkspaceGraphLaunches(wg[0]) + GyreNetWorkspaceGraphLaunches(wg[1]);
  const char *g       = getenv("GYRE_CUDA_GRAPH");
  printf("%s: %ld of 12 calls were CUDA graph launches (GYRE_CUDA_GRAPH=%s)\n", what, launches,
         g ? g : "unset");
  const char *prof = getenv("GYRE_CUDA_PROFILE"); /* profiling records no graphs */
  if (g && !strcmp(g, "1") && !(prof && atoi(prof) > 0))
    EXPECT(launches >= 4, "%s: %ld graph launches (4 expected)", what, launches);
  else if (!(g && !strcmp(g, "1")))
    EXPECT(launches == 0, "%s: %ld graph launches without GYRE_CUDA_GRAPH=1", what, launches);
  free(h);
  for (int k = 0; k < 2; k++) {
    pair_free(&x[k]), pair_free(&y[k]);
    GyreNetWorkspaceDestroy(&wc[k]), GyreNetWorkspaceDestroy(&wg[k]);
  }
  GyreNetDestroy(&nc), GyreNetDestroy(&ng);
}

/* A CNN's inference with each convolution's ReLU and batch norm in the convolution's epilogue
 * (conv_forward_post): the batch norms' running statistics set far from (0, 1), the same on
 * both backends; CUDA agrees with the CPU, ran the 4 layers inside the convolutions (unless
 * GYRE_CUDA_CONV=fft, whose convolutions have no epilogue, or GYRE_CUDA_POST=0), and agrees
 * within float rounding with its own ops one by one (GYRE_CUDA_POST=0). */
static void infer_fused(void)
{
  GyreCNNOptions o;
  GyreCNNOptionsDefault(&o);
  o.in_channels = 1, o.out_channels = 1, o.nlayers = 3, o.channels[0] = o.channels[1] = 8;
  o.kernels[0] = 5, o.kernels[1] = o.kernels[2] = 3;
  GyreNet *nc, *ng;
  BOTH(GyreNetCreateCNN(cpu, &o, 7, &nc), GyreNetCreateCNN(gpu, &o, 7, &ng));
  int                n = 0, m = 0;
  GyreTensor *const *tc, *const *tg;
  const char *const *names;
  BOTH(GyreNetBuffers(nc, &n, &tc, &names), GyreNetBuffers(ng, &m, &tg, &names));
  EXPECT(n == 4 && m == 4, "fused inference: %d and %d batch-norm buffers (4 expected)", n, m);
  float h[64];
  for (int i = 0; i < n && i < m; i++) {
    const int var = strstr(names[i], "running_var") != NULL;
    for (size_t k = 0; k < tc[i]->size && k < 64; k++)
      h[k] = var ? 0.2f + 1.8f * (float) nn_uniform01(&rng) : (float) nn_uniform01(&rng) - 0.5f;
    BOTH(GyreTensorCopyFromHost(tc[i], h), GyreTensorCopyFromHost(tg[i], h));
  }
  int64_t           xs[4] = {2, 1, 40, 40};
  GyreNetWorkspace *wc, *wg;
  Pair              x, y;
  BOTH(GyreNetWorkspaceCreate(nc, &wc), GyreNetWorkspaceCreate(ng, &wg));
  pair_make(&x, 4, xs, -1, 1);
  pair_out(&y, 4, xs);
  BOTH(GyreNetInfer(nc, wc, &x.c, &y.c), GyreNetInfer(ng, wg, &x.g, &y.g));
  AGREE("cnn inference, relu and batch norm fused", &y, TOL_FP32);
  const int   fused = GyreNetWorkspaceFusedLayers(wg);
  const char *conv = getenv("GYRE_CUDA_CONV"), *post = getenv("GYRE_CUDA_POST");
  const int   want = !(post && !strcmp(post, "0")) && !(conv && !strncmp(conv, "fft", 3));
  printf("cnn inference: %d layers ran inside the convolutions on CUDA (cpu %d)\n", fused,
         GyreNetWorkspaceFusedLayers(wc));
  EXPECT(fused == (want ? 4 : 0), "cnn inference: %d layers fused on CUDA (%d expected)", fused,
         want ? 4 : 0);
  if (want) { /* against CUDA's ops one by one */
    const size_t N = y.g.size;
    float       *a = malloc(sizeof(float) * N), *b = malloc(sizeof(float) * N);
    CHECK(GyreTensorCopyToHost(&y.g, a));
    setenv("GYRE_CUDA_POST", "0", 1);
    CHECK(GyreNetInfer(ng, wg, &x.g, &y.g));
    EXPECT(GyreNetWorkspaceFusedLayers(wg) == 0, "GYRE_CUDA_POST=0 still fused %d layers",
           GyreNetWorkspaceFusedLayers(wg));
    unsetenv("GYRE_CUDA_POST");
    CHECK(GyreTensorCopyToHost(&y.g, b));
    double err = 0, most = 0;
    for (size_t i = 0; i < N; i++)
      err = fmax(err, fabs((double) a[i] - b[i])), most = fmax(most, fabs((double) b[i]));
    printf("cnn inference: fused against the ops one by one on CUDA, max difference %.2e of the "
           "largest value\n",
           err / most);
    EXPECT(err <= 1e-6 * most, "cnn inference: fused and unfused differ by %.3g (largest %.3g)",
           err, most);
    free(a), free(b);
  }
  pair_free(&x), pair_free(&y);
  GyreNetWorkspaceDestroy(&wc), GyreNetWorkspaceDestroy(&wg);
  GyreNetDestroy(&nc), GyreNetDestroy(&ng);
}

/* GyreNetInferStaged (the coupling's call: input and output through the workspace's pinned
 * staging) on 6 calls of new values: each agrees with the CPU's GyreNetInfer; a first call of a
 * kind runs plainly, so with GYRE_CUDA_GRAPH=1 calls 2-6 are graph launches (the copies
 * recorded with the layers), without it none; hout is the device's y bitwise. Then one call on
 * another shape and one like the first six: each a new kind after the one before, plainly, and
 * both agree. The networks are destroyed. */
static void infer_staged(const char *what, GyreNet *nc, GyreNet *ng)
{
  int64_t           s[2][4] = {{1, 1, 40, 40}, {1, 1, 24, 56}};
  GyreNetWorkspace *wc, *wg;
  GyreTensor       *xg, *yg, xc, yc;
  float            *hin, *hout;
  char              w[160];
  BOTH(GyreNetWorkspaceCreate(nc, &wc), GyreNetWorkspaceCreate(ng, &wg));
  float *ref = malloc(sizeof(float) * 40 * 40);
  for (int call = 0; call < 8; call++) {
    const int k = call == 6;
    CHECK(GyreTensorCreate(cpu, 4, s[k], &xc));
    CHECK(GyreTensorCreate(cpu, 4, s[k], &yc));
    CHECK(GyreNetWorkspaceIO(wg, 4, s[k], 4, s[k], &xg, &yg, &hin, &hout));
    for (size_t i = 0; i < xc.size; i++)
      hin[i] = (float) nn_uniform01(&rng) * 2.0f - 1.0f;
    CHECK(GyreTensorCopyFromHost(&xc, hin));
    CHECK(GyreNetInfer(nc, wc, &xc, &yc));
    CHECK(GyreNetInferStaged(ng, wg, hin, xg, yg, hout));
    CHECK(GyreTensorCopyToHost(&yc, ref));
    const double e = nmse_host(ref, hout, yc.size);
    snprintf(w, sizeof w, "%s, staged call %d", what, call + 1);
    checked++;
    EXPECT(e < TOL_FP32, "%s: NMSE %.3g (tolerance %.0e)", w, e, TOL_FP32);
    CHECK(GyreTensorCopyToHost(yg, ref));
    EXPECT(!memcmp(ref, hout, sizeof(float) * yc.size), "%s: hout is not the device's y", w);
    GyreTensorDestroy(&xc), GyreTensorDestroy(&yc);
  }
  const long  launches = GyreNetWorkspaceGraphLaunches(wg);
  const char *g        = getenv("GYRE_CUDA_GRAPH");
  const char *prof     = getenv("GYRE_CUDA_PROFILE");
  printf("%s: %ld of 8 staged calls were CUDA graph launches (GYRE_CUDA_GRAPH=%s)\n", what,
         launches, g ? g : "unset");
  if (g && !strcmp(g, "1") && !(prof && atoi(prof) > 0))
    EXPECT(launches == 5, "%s: %ld staged graph launches (5 expected)", what, launches);
  else if (!(g && !strcmp(g, "1")))
    EXPECT(launches == 0, "%s: %ld graph launches without GYRE_CUDA_GRAPH=1", what, launches);
  free(ref);
  GyreNetWorkspaceDestroy(&wc), GyreNetWorkspaceDestroy(&wg);
  GyreNetDestroy(&nc), GyreNetDestroy(&ng);
}

/* inference on a const network (the coupling path): CPU and CUDA agree */
static void case_infer(void)
{
  GyreCNNOptions o;
  GyreMLPOptions m;
  GyreNet       *nc, *ng;
  GyreCNNOptionsDefault(&o);
  o.in_channels = 1, o.out_channels = 1;
  int ch[7] = {16, 8, 8, 8, 8, 8, 8};
  memcpy(o.channels, ch, sizeof ch);
  int64_t xs[4] = {2, 1, 32, 32}, ys[4] = {2, 1, 32, 32};
  BOTH(GyreNetCreateCNN(cpu, &o, 5, &nc), GyreNetCreateCNN(gpu, &o, 5, &ng));
  infer_agree("fcnn inference", nc, ng, 4, xs, ys, -1, 1);
  BOTH(GyreNetCreateCNN(cpu, &o, 6, &nc), GyreNetCreateCNN(gpu, &o, 6, &ng));
  infer_repeat("fcnn inference", nc, ng);
  BOTH(GyreNetCreateCNN(cpu, &o, 8, &nc), GyreNetCreateCNN(gpu, &o, 8, &ng));
  infer_staged("fcnn inference", nc, ng);
  /* a closure MLP on 13 points: the CPU runs it in one pass (mlp_forward), CUDA layer by layer */
  GyreMLPOptionsDefault(&m);
  m.inputs = 5, m.outputs = 1, m.width = 32, m.depth = 2;
  int64_t mx[2] = {13, 5}, my[2] = {13, 1};
  BOTH(GyreNetCreateMLP(cpu, &m, 3, &nc), GyreNetCreateMLP(gpu, &m, 3, &ng));
  infer_agree("mlp 5-32-32-1 inference (cpu one pass)", nc, ng, 2, mx, my, -2, 2);
  infer_fused();
  GyreCNNOptions f;
  GyreCNNOptionsDefault(&f); /* Ross et al.'s FCNN: halo 10 */
  infer_latency("FCNN", &f, 84);
  /* bench/coupling.sh's small CNN (3 layers, 8 channels, kernels 5, 3, 3: halo 4) */
  f.nlayers = 3, f.channels[0] = f.channels[1] = 8;
  f.kernels[0] = 5, f.kernels[1] = f.kernels[2] = 3;
  infer_latency("small CNN", &f, 72);
}

int main(int argc, char **argv)
{
  MPI_Init(&argc, &argv);
  const char *c        = argc > 1 ? argv[1] : "ops";
  char        why[256] = "this build has no CUDA backend (configured without nvcc)";
#if GYRE_HAVE_CUDA
  if (GyreCUDAAvailable(why, sizeof why)) {
    CHECK(GyreBackendCreate("cpu", 1, &cpu));
    CHECK(GyreBackendCreate("cuda", 0, &gpu));
    char dev[256];
    printf("%s: CPU against %s\n", c, GyreCUDADeviceString(gpu, dev, sizeof dev));
  }
#endif
  if (!gpu) {
    printf("%s: SKIPPED: %s\n", c, why);
    MPI_Finalize();
    return 77;
  }
  int known = 1;
  if (!strcmp(c, "ops"))
    case_ops();
  else if (!strcmp(c, "nets"))
    case_nets();
  else if (!strcmp(c, "infer"))
    case_infer();
#if GYRE_HAVE_CUDA
  else if (!strcmp(c, "arena"))
    case_arena();
  else if (!strcmp(c, "precision"))
    case_precision();
  else if (!strcmp(c, "nccl"))
    case_nccl();
#endif
  else
    known = 0;
  GyreBackendDestroy(&cpu);
  return nn_test_finish(c, known, gpu);
}
