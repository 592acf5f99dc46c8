/* test_nn_optimizer.c — the backend's adam_update (surrogates/cpu/adam.c) and the optimiser
 * (surrogates/optimizer.c). Serial.
 *
 *  1. adam_update over 10 steps with fresh random gradients against a double implementation
 *     of PyTorch's Adam (L2 weight decay) and AdamW (decoupled decay): parameters and both
 *     moments to 1e-6 relative, normwise (max |a - ref| / max |ref|; for the moments per
 *     decade of gradient size, the gradients spanning four decades).
 *     The op takes its hyperparameters as float (gyre_nn.h), so the reference uses the
 *     float-rounded values; the distance to the reference with double betas is printed;
 *  2. the optimiser (Adam, cosine schedule with warm-up, clipping on) over two parameter
 *     tensors minimises a quadratic: the loss falls at least 100x;
 *  3. schedules: exact learning rates at chosen epochs for step and cosine-with-warm-up,
 *     through GyreOptimizerScheduleLR and the optimiser's SetEpoch/GetLR;
 *  4. clipping: a gradient of norm 13 (3, 4 | 12 over two tensors) clipped to 6.5 is scaled
 *     by exactly 6.5 / (13 + 1e-6); clipping to 20 leaves it bit for bit; the norm of a large
 *     random gradient equals a double sum;
 *  5. state: GetState/SetState into a fresh optimiser continues bit for bit like the
 *     original (resume);
 *  6. impossible options are GYRE_ERR_ARG naming the option. */
#include <string.h>
#include "gyre_train.h"
#include "nn_train_check.h"

/* PyTorch's single-tensor Adam, in double */
static void ref_adam(size_t n, double *p, const double *g0, double *m, double *v, double lr,
                     double b1, double b2, double eps, double wd, int decoupled, long t)
{
  double bc1 = 1 - pow(b1, (double) t), bc2 = 1 - pow(b2, (double) t);
  for (size_t i = 0; i < n; i++) {
    double g = g0[i];
    if (decoupled)
      p[i] *= 1 - lr * wd;
    else
      g += wd * p[i];
    m[i] = b1 * m[i] + (1 - b1) * g;
    v[i] = b2 * v[i] + (1 - b2) * g * g;
    p[i] -= lr / bc1 * m[i] / (sqrt(v[i]) / sqrt(bc2) + eps);
  }
}

static void test_adam_update(GyreBackend *be, int decoupled)
{
  const size_t n  = 1000;
  const double lr = 1e-2, b1 = 0.9, b2 = 0.999, eps = 1e-8, wd = decoupled ? 0.1 : 0.01;
  float       *p = malloc(n * sizeof *p), *g = malloc(n * sizeof *g), *m = calloc(n, sizeof *m),
        *v   = calloc(n, sizeof *v);
  double *pd = malloc(n * sizeof *pd), *gd = malloc(n * sizeof *gd), *md = calloc(n, sizeof *md),
         *vd = calloc(n, sizeof *vd);
  double *pe = malloc(n * sizeof *pe), *me = calloc(n, sizeof *me), *ve = calloc(n, sizeof *ve);
  double  ep = 0, em = 0, ev = 0, e64 = 0;

  nn_fill_uniform(p, n, 41, -2, 2);
  for (size_t i = 0; i < n; i++)
    pd[i] = pe[i] = p[i];
  for (long t = 1; t <= 10; t++) {
    /* gradients spanning four decades, both signs */
    nn_fill_uniform(g, n, 100 + (uint64_t) t, -1, 1);
    for (size_t i = 0; i < n; i++) {
      g[i] *= (float) pow(10.0, (double) (i % 4) - 2.0);
      gd[i] = g[i];
    }
    CHECK(be->ops->adam_update(be, n, p, g, m, v, lr, b1, b2, eps, wd, decoupled, t));
    /* the reference: PyTorch's algorithm in double with the same (double) hyperparameters */
    ref_adam(n, pd, gd, md, vd, lr, b1, b2, eps, wd, decoupled, t);
    ref_adam(n, pe, gd, me, ve, lr, b1, b2, eps, wd, decoupled, t);
  }
  /* normwise: the largest error over the largest reference value, for the moments within
   * each decade of gradient sizes (elementwise relative errors of moments that cancel to
   * near zero measure float rounding of the cancellation, not the algorithm) */
  {
    double pmax = 0, pemax = 0, dp = 0, dpe = 0;
    for (size_t i = 0; i < n; i++) {
      pmax  = fmax(pmax, fabs(pd[i]));
      pemax = fmax(pemax, fabs(pe[i]));
      dp    = fmax(dp, fabs(p[i] - pd[i]));
      dpe   = fmax(dpe, fabs(p[i] - pe[i]));
    }
    ep  = dp / pmax;
    e64 = dpe / pemax;
    for (size_t k = 0; k < 4; k++) {
      double mmax = 0, vmax = 0, dm = 0, dv = 0;
      for (size_t i = k; i < n; i += 4) {
        mmax = fmax(mmax, fabs(md[i]));
        vmax = fmax(vmax, fabs(vd[i]));
        dm   = fmax(dm, fabs(m[i] - md[i]));
        dv   = fmax(dv, fabs(v[i] - vd[i]));
      }
      em = fmax(em, dm / mmax);
      ev = fmax(ev, dv / vmax);
    }
  }
  EXPECT(ep <= 1e-6, "%s: parameters differ from PyTorch's algorithm by %.3g relative",
         decoupled ? "AdamW" : "Adam", ep);
  EXPECT(em <= 1e-6 && ev <= 1e-6, "%s: moments differ by %.3g (m), %.3g (v) relative",
         decoupled ? "AdamW" : "Adam", em, ev);
  printf("adam_update %s (wd %g), 10 steps: p %.2e, m %.2e, v %.2e relative to the double "
         "reference (p %.2e with the betas in double)\n",
         decoupled ? "AdamW" : "Adam ", wd, ep, em, ev, e64);
  free(p);
  free(g);
  free(m);
  free(v);
  free(pd);
  free(gd);
  free(md);
  free(vd);
  free(pe);
  free(me);
  free(ve);
}

/* L = sum_i d_i (p_i - t_i)^2 / 2 over two tensors; writes the gradients */
static double quad_loss(GyreTensor *const *P, GyreTensor *const *G, float *const *tgt,
                        float *const *d, float *hp, float *hg)
{
  double L = 0;
  for (int k = 0; k < 2; k++) {
    CHECK(GyreTensorCopyToHost(P[k], hp));
    for (size_t i = 0; i < P[k]->size; i++) {
      double r = (double) hp[i] - tgt[k][i];
      L += 0.5 * d[k][i] * r * r;
      hg[i] = (float) (d[k][i] * r);
    }
    CHECK(GyreTensorCopyFromHost(G[k], hg));
  }
  return L;
}

static void test_quadratic(GyreBackend *be)
{
  int64_t              s0[2] = {4, 5}, s1[1] = {7};
  GyreTensor           p0, p1, g0, g1;
  GyreTensor          *P[2] = {&p0, &p1}, *G[2] = {&g0, &g1};
  float                t0[20], t1[7], d0[20], d1[7], hp[20], hg[20];
  float               *tgt[2] = {t0, t1}, *d[2] = {d0, d1};
  GyreOptimizerOptions opt;
  GyreOptimizer       *o;
  double               L0, L = 0, gn;

  CHECK(GyreTensorCreate(be, 2, s0, &p0));
  CHECK(GyreTensorCreate(be, 1, s1, &p1));
  CHECK(GyreTensorCreate(be, 2, s0, &g0));
  CHECK(GyreTensorCreate(be, 1, s1, &g1));
  nn_fill_uniform(t0, 20, 51, -1, 1);
  nn_fill_uniform(t1, 7, 52, -1, 1);
  nn_fill_uniform(d0, 20, 53, 0.5, 2);
  nn_fill_uniform(d1, 7, 54, 0.5, 2);
  GyreOptimizerOptionsDefault(&opt);
  opt.lr       = 0.1;
  opt.schedule = GYRE_SCHED_COSINE;
  opt.warmup   = 2;
  opt.epochs   = 20;
  opt.min_lr   = 1e-4;
  opt.clip     = 1.0;
  CHECK(GyreOptimizerCreate(be, 2, P, G, &opt, &o));
  L0 = quad_loss(P, G, tgt, d, hp, hg);
  for (int e = 0; e < opt.epochs; e++) {
    CHECK(GyreOptimizerSetEpoch(o, e));
    for (int it = 0; it < 20; it++) {
      CHECK(GyreOptimizerZeroGrad(o));
      L = quad_loss(P, G, tgt, d, hp, hg);
      CHECK(GyreOptimizerStep(o, &gn));
    }
  }
  L = quad_loss(P, G, tgt, d, hp, hg);
  EXPECT(L <= L0 / 100, "quadratic: loss %.3g -> %.3g (a fall of 100x expected)", L0, L);
  printf("quadratic (Adam, cosine warm-up, clip 1): loss %.3e -> %.3e (%.0fx)\n", L0, L, L0 / L);
  GyreOptimizerDestroy(&o);
  EXPECT(o == NULL, "destroy does not clear the handle");
  GyreTensorDestroy(&p0);
  GyreTensorDestroy(&p1);
  GyreTensorDestroy(&g0);
  GyreTensorDestroy(&g1);
}

static void expect_lr(const char *what, double got, double want)
{
  EXPECT(fabs(got - want) <= 1e-15 * fabs(want), "%s: lr %.17g, %.17g expected", what, got, want);
}

static void test_schedules(GyreBackend *be)
{
  GyreOptimizerOptions opt;
  GyreOptimizer       *o;
  int64_t              sh[1] = {3};
  GyreTensor           p, g, *P = &p, *G = &g;
  char                 what[64];

  /* step: lr 0.1, gamma 0.5 every 3 epochs */
  GyreOptimizerOptionsDefault(&opt);
  opt.lr         = 0.1;
  opt.schedule   = GYRE_SCHED_STEP;
  opt.step_size  = 3;
  opt.step_gamma = 0.5;
  {
    int    ep[]   = {0, 2, 3, 5, 6, 8, 9, 30};
    double want[] = {0.1, 0.1, 0.05, 0.05, 0.025, 0.025, 0.0125, 0.1 / 1024};
    for (int i = 0; i < 8; i++) {
      snprintf(what, sizeof what, "step schedule, epoch %d", ep[i]);
      expect_lr(what, GyreOptimizerScheduleLR(&opt, ep[i]), want[i]);
    }
  }
  /* cosine: lr 1e-3, 5 warm-up epochs, 25 epochs, min 1e-5 */
  GyreOptimizerOptionsDefault(&opt);
  opt.lr       = 1e-3;
  opt.schedule = GYRE_SCHED_COSINE;
  opt.warmup   = 5;
  opt.epochs   = 25;
  opt.min_lr   = 1e-5;
  {
    int    ep[]   = {0, 1, 4, 5, 10, 15, 24, 25, 40};
    double want[] = {2e-4,
                     4e-4,
                     1e-3,
                     1e-3,
                     1e-5 + 0.99e-3 * (1 + sqrt(0.5)) / 2,
                     1e-5 + 0.99e-3 / 2,
                     1e-5 + 0.99e-3 * (1 + cos(3.14159265358979323846 * 19 / 20)) / 2,
                     1e-5,
                     1e-5};
    for (int i = 0; i < 9; i++) {
      snprintf(what, sizeof what, "cosine schedule, epoch %d", ep[i]);
      expect_lr(what, GyreOptimizerScheduleLR(&opt, ep[i]), want[i]);
    }
    /* the same through an optimiser */
    CHECK(GyreTensorCreate(be, 1, sh, &p));
    CHECK(GyreTensorCreate(be, 1, sh, &g));
    CHECK(GyreOptimizerCreate(be, 1, &P, &G, &opt, &o));
    expect_lr("optimizer at creation", GyreOptimizerGetLR(o), 2e-4);
    CHECK(GyreOptimizerSetEpoch(o, 15));
    expect_lr("optimizer, epoch 15", GyreOptimizerGetLR(o), want[5]);
    GyreOptimizerDestroy(&o);
    GyreTensorDestroy(&p);
    GyreTensorDestroy(&g);
  }
  GyreOptimizerOptionsDefault(&opt);
  opt.lr = 3e-4;
  expect_lr("constant schedule, epoch 7", GyreOptimizerScheduleLR(&opt, 7), 3e-4);
  printf("schedules: step and cosine-with-warm-up learning rates at 17 epochs exact to 1e-15\n");
}

static void test_clipping(GyreBackend *be)
{
  int64_t              s0[1] = {2}, s1[1] = {1}, sb[1] = {100003};
  GyreTensor           p0, p1, g0, g1, pb, gb;
  GyreTensor          *P[2] = {&p0, &p1}, *G[2] = {&g0, &g1};
  GyreOptimizerOptions opt;
  GyreOptimizer       *o;
  float                a[2] = {3, 4}, c[1] = {12}, ra[2], rc[1];
  double               norm;

  GyreOptimizerOptionsDefault(&opt);
  CHECK(GyreTensorCreate(be, 1, s0, &p0));
  CHECK(GyreTensorCreate(be, 1, s1, &p1));
  CHECK(GyreTensorCreate(be, 1, s0, &g0));
  CHECK(GyreTensorCreate(be, 1, s1, &g1));
  CHECK(GyreOptimizerCreate(be, 2, P, G, &opt, &o));
  CHECK(GyreTensorCopyFromHost(&g0, a));
  CHECK(GyreTensorCopyFromHost(&g1, c));
  CHECK(GyreOptimizerClipGradients(o, 20.0, &norm));
  CHECK(GyreTensorCopyToHost(&g0, ra));
  CHECK(GyreTensorCopyToHost(&g1, rc));
  EXPECT(norm == 13.0, "clip: norm %.17g, 13 expected", norm);
  EXPECT(!memcmp(ra, a, sizeof a) && !memcmp(rc, c, sizeof c), "clip to 20 changed a gradient "
                                                               "of norm 13");
  CHECK(GyreOptimizerClipGradients(o, 6.5, &norm));
  CHECK(GyreTensorCopyToHost(&g0, ra));
  CHECK(GyreTensorCopyToHost(&g1, rc));
  {
    float s = (float) (6.5 / (13.0 + 1e-6));
    EXPECT(norm == 13.0 && ra[0] == 3 * s && ra[1] == 4 * s && rc[0] == 12 * s,
           "clip to 6.5: norm %.17g, gradient (%.9g, %.9g | %.9g), (%.9g, %.9g | %.9g) expected",
           norm, ra[0], ra[1], rc[0], 3 * s, 4 * s, 12 * s);
    printf("clipping: norm %.17g; clipped to 6.5: (%.9g, %.9g | %.9g), new norm %.9g\n", norm,
           ra[0], ra[1], rc[0], sqrt(ra[0] * ra[0] + ra[1] * ra[1] + rc[0] * rc[0]));
  }
  GyreOptimizerDestroy(&o);

  /* a large random gradient: the norm against a double sum */
  {
    float *h   = malloc((size_t) sb[0] * sizeof *h);
    double ref = 0;
    CHECK(GyreTensorCreate(be, 1, sb, &pb));
    CHECK(GyreTensorCreate(be, 1, sb, &gb));
    nn_fill_uniform(h, (size_t) sb[0], 61, -1, 1);
    for (int64_t i = 0; i < sb[0]; i++)
      ref += (double) h[i] * h[i];
    ref = sqrt(ref);
    CHECK(GyreTensorCopyFromHost(&gb, h));
    GyreTensor *Pb = &pb, *Gb = &gb;
    CHECK(GyreOptimizerCreate(be, 1, &Pb, &Gb, &opt, &o));
    CHECK(GyreOptimizerClipGradients(o, 0, &norm));
    EXPECT(fabs(norm - ref) <= 1e-12 * ref, "norm %.17g, double sum %.17g", norm, ref);
    GyreOptimizerDestroy(&o);
    GyreTensorDestroy(&pb);
    GyreTensorDestroy(&gb);
    free(h);
  }
  GyreTensorDestroy(&p0);
  GyreTensorDestroy(&p1);
  GyreTensorDestroy(&g0);
  GyreTensorDestroy(&g1);
}

static void test_state(GyreBackend *be)
{
  int64_t              sh[2] = {3, 7};
  GyreTensor           pa, ga, pb, gb, *PA = &pa, *GA = &ga, *PB = &pb, *GB = &gb;
  GyreOptimizerOptions opt;
  GyreOptimizer       *a, *b;
  float                hp[21], hg[21], m[21], v[21], ra[21], rb[21];
  long                 step;

  GyreOptimizerOptionsDefault(&opt);
  opt.type         = GYRE_OPT_ADAMW;
  opt.weight_decay = 0.05;
  opt.clip         = 0.5;
  CHECK(GyreTensorCreate(be, 2, sh, &pa));
  CHECK(GyreTensorCreate(be, 2, sh, &ga));
  CHECK(GyreTensorCreate(be, 2, sh, &pb));
  CHECK(GyreTensorCreate(be, 2, sh, &gb));
  nn_fill_uniform(hp, 21, 71, -1, 1);
  CHECK(GyreTensorCopyFromHost(&pa, hp));
  CHECK(GyreOptimizerCreate(be, 1, &PA, &GA, &opt, &a));
  for (int t = 0; t < 5; t++) {
    nn_fill_uniform(hg, 21, 80 + (uint64_t) t, -1, 1);
    CHECK(GyreTensorCopyFromHost(&ga, hg));
    CHECK(GyreOptimizerStep(a, NULL));
  }
  EXPECT(GyreOptimizerStateSize(a) == 21, "state size %zu", GyreOptimizerStateSize(a));
  CHECK(GyreOptimizerGetState(a, m, v, &step));
  EXPECT(step == 5, "step %ld after 5 steps", step);
  /* "resume": a fresh optimiser with the saved parameters and state */
  CHECK(GyreTensorCopyToHost(&pa, hp));
  CHECK(GyreTensorCopyFromHost(&pb, hp));
  CHECK(GyreOptimizerCreate(be, 1, &PB, &GB, &opt, &b));
  CHECK(GyreOptimizerSetState(b, m, v, step));
  for (int t = 5; t < 10; t++) {
    nn_fill_uniform(hg, 21, 80 + (uint64_t) t, -1, 1);
    CHECK(GyreTensorCopyFromHost(&ga, hg));
    CHECK(GyreTensorCopyFromHost(&gb, hg));
    CHECK(GyreOptimizerStep(a, NULL));
    CHECK(GyreOptimizerStep(b, NULL));
  }
  CHECK(GyreTensorCopyToHost(&pa, ra));
  CHECK(GyreTensorCopyToHost(&pb, rb));
  EXPECT(!memcmp(ra, rb, sizeof ra), "resumed optimiser differs from the uninterrupted one");
  printf("state: get/set after 5 steps, 5 more steps: resumed %s uninterrupted\n",
         memcmp(ra, rb, sizeof ra) ? "DIFFERS FROM" : "bitwise equal to");
  GyreOptimizerDestroy(&a);
  GyreOptimizerDestroy(&b);
  GyreTensorDestroy(&pa);
  GyreTensorDestroy(&ga);
  GyreTensorDestroy(&pb);
  GyreTensorDestroy(&gb);
}

static void test_options(void)
{
  GyreOptimizerOptions opt;
  GyreStatus           s;

  GyreOptimizerOptionsDefault(&opt);
  EXPECT(GyreOptimizerOptionsCheck(&opt) == GYRE_OK, "defaults rejected: %s", GyreStatusMessage());
  opt.schedule = GYRE_SCHED_COSINE;
  opt.warmup   = 10;
  opt.epochs   = 10;
  s            = GyreOptimizerOptionsCheck(&opt);
  EXPECT(s == GYRE_ERR_ARG && strstr(GyreStatusMessage(), "warm-up"),
         "cosine with epochs == warm-up: status %d '%s'", (int) s, GyreStatusMessage());
  GyreOptimizerOptionsDefault(&opt);
  opt.lr = -1;
  s      = GyreOptimizerOptionsCheck(&opt);
  EXPECT(s == GYRE_ERR_ARG && strstr(GyreStatusMessage(), "-train_lr"),
         "negative lr: status %d '%s'", (int) s, GyreStatusMessage());
}

int main(void)
{
  GyreBackend *be;

  CHECK(GyreBackendCreate("cpu", 2, &be));
  test_adam_update(be, 0);
  test_adam_update(be, 1);
  test_quadratic(be);
  test_schedules(be);
  test_clipping(be);
  test_state(be);
  test_options();
  GyreBackendDestroy(&be);
  printf("%s: %d failure(s)\n", nn_failures ? "FAIL" : "PASS", nn_failures);
  return nn_failures ? 1 : 0;
}
