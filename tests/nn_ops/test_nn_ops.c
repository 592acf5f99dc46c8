/* test_nn_ops.c — forward and gradient checks of the CPU backend's network ops, modelled on
 * ggml's test-backend-ops. Usage: test_nn_ops dense|act|mlp|loss|conv|chain|spectral|knobs.
 * For every case:
 *  1. forward: the float op against a direct double-precision reference (direct sums, a
 *     direct DFT for the spectral convolution) — pins the forward semantics;
 *  2. gradients: objective L = sum(w .* y) with random w (for losses L = loss); the analytic
 *     gradient of every input and parameter against central finite differences
 *     (L(v + e) - L(v - e)) / (v_+ - v_-) with L summed in double and v_+ - v_- the actual
 *     float step; the relative error norm ||g - g_fd|| / ||g_fd|| must be below 1e-3;
 *  3. accumulation: a second backward doubles dW, db (accumulate) and leaves dx unchanged
 *     (overwrite, even from garbage);
 *  4. threads: 1 and 4 OpenMP threads give the same results.
 *  5. mlp: the fused MLP inference (mlp_forward) against a double reference and the layers one
 *     by one; a row's result independent of the call's rows and threads (bitwise).
 * Prints the worst errors; exits non-zero on any failure. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cpu_ops.h"
#include "gyre_nn.h"

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif
#define FD_TOL 1e-3
#define FWD_TOL 1e-5

static int          failures = 0;
static GyreBackend *be1, *be4;
static double       worst_fwd = 0, worst_fd = 0, worst_acc = 0, worst_thr = 0;

#define CHECK(call)                                                                                \
  do {                                                                                             \
    GyreStatus s_ = (call);                                                                        \
    if (s_ != GYRE_OK) {                                                                           \
      fprintf(stderr, "FAIL %s:%d: %s -> %d: %s\n", __FILE__, __LINE__, #call, (int) s_,           \
              GyreStatusMessage());                                                                \
      exit(1);                                                                                     \
    }                                                                                              \
  } while (0)

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static double   urand(void) /* uniform in [-1, 1) */
{
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return (double) (rng_state >> 11) / 9007199254740992.0 * 2.0 - 1.0;
}

static void tensor(GyreTensor *t, int ndim, int64_t a, int64_t b, int64_t c, int64_t d)
{
  int64_t sh[4] = {a, b, c, d};
  CHECK(GyreTensorCreate(be1, ndim, sh, t));
}
static void randomize(GyreTensor *t, double lo_abs)
{
  for (size_t k = 0; k < t->size; k++) {
    double v = urand();
    if (lo_abs > 0) v = (v < 0 ? -1 : 1) * (lo_abs + (1 - lo_abs) * fabs(v));
    t->data[k] = (float) v;
  }
}
static void zero(GyreTensor *t)
{
  if (t && t->data) memset(t->data, 0, sizeof(float) * t->size);
}

static void report(const char *name, const char *what, double err, double tol, double *worst)
{
  int bad = !(err <= tol);
  if (err > *worst) *worst = err;
  if (bad) {
    failures++;
    printf("FAIL %-40s %-10s rel err %.3e (tol %.1e)\n", name, what, err, tol);
  } else
    printf("ok   %-40s %-10s rel err %.3e\n", name, what, err);
}

/* relative error norm of float a against double ref */
static double rel_err(size_t n, const float *a, const double *ref)
{
  double num = 0, den = 0;
  for (size_t k = 0; k < n; k++) {
    num += (a[k] - ref[k]) * (a[k] - ref[k]);
    den += ref[k] * ref[k];
  }
  return den > 0 ? sqrt(num / den) : sqrt(num);
}
static double rel_err_f(size_t n, const float *a, const float *b)
{
  double num = 0, den = 0;
  for (size_t k = 0; k < n; k++) {
    num += ((double) a[k] - b[k]) * ((double) a[k] - b[k]);
    den += (double) b[k] * b[k];
  }
  return den > 0 ? sqrt(num / den) : sqrt(num);
}

/* ---- one op case ---- */
typedef enum { OP_DENSE, OP_ACT, OP_CONV, OP_SPEC } OpKind;
typedef struct {
  char           name[96];
  OpKind         kind;
  GyreActivation act;
  GyrePadding    pad;
  int            has_b;
  double         eps;
  GyreTensor     x, W, b, Wr, Wi, y, w, dx, dW, db, dWr, dWi;
} Case;

static void forward(GyreBackend *be, Case *c)
{
  switch (c->kind) {
  case OP_DENSE:
    CHECK(GyreCPUDenseForward(be, &c->x, &c->W, c->has_b ? &c->b : NULL, &c->y));
    break;
  case OP_ACT:
    CHECK(GyreCPUActForward(be, c->act, &c->x, &c->y));
    break;
  case OP_CONV:
    CHECK(GyreCPUConvForward(be, &c->x, &c->W, c->has_b ? &c->b : NULL, c->pad, &c->y));
    break;
  case OP_SPEC:
    CHECK(GyreCPUSpectralForward(be, &c->x, &c->Wr, &c->Wi, &c->y));
    break;
  }
}
static void backward(GyreBackend *be, Case *c)
{
  switch (c->kind) {
  case OP_DENSE:
    CHECK(GyreCPUDenseBackward(be, &c->x, &c->W, &c->w, &c->dx, &c->dW, c->has_b ? &c->db : NULL));
    break;
  case OP_ACT:
    CHECK(GyreCPUActBackward(be, c->act, &c->x, &c->w, &c->dx));
    break;
  case OP_CONV:
    CHECK(GyreCPUConvBackward(be, &c->x, &c->W, &c->w, c->pad, &c->dx, &c->dW,
                              c->has_b ? &c->db : NULL));
    break;
  case OP_SPEC:
    CHECK(GyreCPUSpectralBackward(be, &c->x, &c->Wr, &c->Wi, &c->w, &c->dx, &c->dWr, &c->dWi));
    break;
  }
}
static double objective(Case *c)
{
  double L = 0;
  forward(be1, c);
  for (size_t k = 0; k < c->y.size; k++)
    L += (double) c->w.data[k] * c->y.data[k];
  return L;
}

/* the (parameter, gradient) pairs of a case */
static int params(Case *c, GyreTensor **p, GyreTensor **g, const char **nm)
{
  int n = 0;
  p[n] = &c->x, g[n] = &c->dx, nm[n++] = "dx";
  if (c->kind == OP_DENSE || c->kind == OP_CONV) {
    p[n] = &c->W, g[n] = &c->dW, nm[n++] = "dW";
    if (c->has_b) p[n] = &c->b, g[n] = &c->db, nm[n++] = "db";
  }
  if (c->kind == OP_SPEC) {
    p[n] = &c->Wr, g[n] = &c->dWr, nm[n++] = "dWr";
    p[n] = &c->Wi, g[n] = &c->dWi, nm[n++] = "dWi";
  }
  return n;
}

static void make_grads(Case *c)
{
  GyreTensor *p[6], *g[6];
  const char *nm[6];
  int         n = params(c, p, g, nm);
  for (int k = 0; k < n; k++)
    CHECK(GyreTensorCreate(be1, p[k]->ndim, p[k]->shape, g[k]));
  CHECK(GyreTensorCreate(be1, c->y.ndim, c->y.shape, &c->w));
  randomize(&c->w, 0);
}

/* 2.-4. for a case whose forward reference has been checked */
static void check_gradients(Case *c, int full_fd)
{
  GyreTensor *p[6], *g[6];
  const char *nm[6];
  int         np = params(c, p, g, nm);
  float      *g1[6];

  /* analytic gradients; dx prefilled with garbage (overwrite), parameter grads zeroed */
  for (int k = 0; k < np; k++)
    zero(g[k]);
  for (size_t k = 0; k < c->dx.size; k++)
    c->dx.data[k] = 1234.5f;
  backward(be1, c);
  for (int k = 0; k < np; k++) {
    g1[k] = malloc(sizeof(float) * g[k]->size);
    memcpy(g1[k], g[k]->data, sizeof(float) * g[k]->size);
  }

  /* finite differences (every element, or 3 random directions for large cases) */
  for (int k = 0; k < np; k++) {
    GyreTensor *t = p[k];
    if (full_fd) {
      double *fd = malloc(sizeof(double) * t->size);
      for (size_t j = 0; j < t->size; j++) {
        const float v = t->data[j], vp = (float) (v + c->eps), vm = (float) (v - c->eps);
        t->data[j] = vp;
        double Lp  = objective(c);
        t->data[j] = vm;
        double Lm  = objective(c);
        t->data[j] = v;
        fd[j]      = (Lp - Lm) / ((double) vp - (double) vm);
      }
      report(c->name, nm[k], rel_err(t->size, g1[k], fd), FD_TOL, &worst_fd);
      free(fd);
    } else {
      /* directional derivatives along random v: <g, v> against (L(p + e v) - L(p - e v)) / 2e */
      float *save = malloc(sizeof(float) * t->size), *v = malloc(sizeof(float) * t->size);
      double num = 0, den = 0;
      memcpy(save, t->data, sizeof(float) * t->size);
      for (int r = 0; r < 3; r++) {
        double Lpm[2], gstep = 0;
        for (size_t j = 0; j < t->size; j++)
          v[j] = (float) urand();
        for (int sgn = 0; sgn < 2; sgn++) {
          for (size_t j = 0; j < t->size; j++)
            t->data[j] = save[j] + (sgn ? -1 : 1) * (float) c->eps * v[j];
          Lpm[sgn] = objective(c);
        }
        /* <g, p+ - p-> with the actual float steps (these ops are linear in each argument) */
        for (size_t j = 0; j < t->size; j++) {
          float pp = save[j] + (float) c->eps * v[j], pm = save[j] - (float) c->eps * v[j];
          gstep += (double) g1[k][j] * ((double) pp - (double) pm);
        }
        const double dL = Lpm[0] - Lpm[1];
        num += (dL - gstep) * (dL - gstep);
        den += gstep * gstep;
      }
      memcpy(t->data, save, sizeof(float) * t->size);
      report(c->name, nm[k], sqrt(num / den), FD_TOL, &worst_fd);
      free(save);
      free(v);
    }
  }

  /* accumulation: second backward without zeroing */
  for (size_t k = 0; k < c->dx.size; k++)
    c->dx.data[k] = -777.0f;
  backward(be1, c);
  {
    double e = 0;
    for (int k = 0; k < np; k++) {
      float *want = malloc(sizeof(float) * g[k]->size);
      for (size_t j = 0; j < g[k]->size; j++)
        want[j] = g[k] == &c->dx ? g1[k][j] : 2.0f * g1[k][j];
      double ek = rel_err_f(g[k]->size, g[k]->data, want);
      if (ek > e) e = ek;
      free(want);
    }
    report(c->name, "accumulate", e, 1e-6, &worst_acc);
  }

  /* threads: 4 threads give the same forward and gradients */
  {
    float *y1 = malloc(sizeof(float) * c->y.size);
    double e  = 0;
    forward(be1, c);
    memcpy(y1, c->y.data, sizeof(float) * c->y.size);
    forward(be4, c);
    e = rel_err_f(c->y.size, c->y.data, y1);
    for (int k = 0; k < np; k++)
      zero(g[k]);
    backward(be4, c);
    for (int k = 0; k < np; k++) {
      double ek = rel_err_f(g[k]->size, g[k]->data, g1[k]);
      if (ek > e) e = ek;
    }
    report(c->name, "threads", e, 1e-5, &worst_thr);
    free(y1);
  }
  for (int k = 0; k < np; k++)
    free(g1[k]);
}

static void destroy_case(Case *c)
{
  GyreTensor *all[] = {&c->x, &c->W,  &c->b,  &c->Wr, &c->Wi,  &c->y,
                       &c->w, &c->dx, &c->dW, &c->db, &c->dWr, &c->dWi};
  for (size_t k = 0; k < sizeof all / sizeof *all; k++)
    GyreTensorDestroy(all[k]);
}

/* ---- dense ---- */
static void test_dense(int M, int K, int N, int has_b)
{
  Case c = {0};
  snprintf(c.name, sizeof c.name, "dense M%d K%d N%d%s", M, K, N, has_b ? " +b" : "");
  c.kind = OP_DENSE, c.has_b = has_b, c.eps = 1e-2;
  tensor(&c.x, 2, M, K, 0, 0), randomize(&c.x, 0);
  tensor(&c.W, 2, N, K, 0, 0), randomize(&c.W, 0);
  tensor(&c.b, 1, N, 0, 0, 0), randomize(&c.b, 0);
  tensor(&c.y, 2, M, N, 0, 0);
  forward(be1, &c);
  double *ref = malloc(sizeof(double) * M * N);
  for (int m = 0; m < M; m++)
    for (int n = 0; n < N; n++) {
      double s = has_b ? c.b.data[n] : 0;
      for (int k = 0; k < K; k++)
        s += (double) c.x.data[m * K + k] * c.W.data[n * K + k];
      ref[m * N + n] = s;
    }
  report(c.name, "forward", rel_err(c.y.size, c.y.data, ref), FWD_TOL, &worst_fwd);
  free(ref);
  make_grads(&c);
  check_gradients(&c, 1);
  destroy_case(&c);
}

/* A row's result must not depend on how many rows the call has (a closure's points split over
 * 1, 2 or 4 ranks): 1 and 3 rows give the first rows of an 8-row call, bitwise. */
static void test_dense_rows(void)
{
  const int  K = 13, N = 19;
  GyreTensor x = {0}, W = {0}, b = {0}, y8 = {0}, y = {0};
  tensor(&x, 2, 8, K, 0, 0), randomize(&x, 0);
  tensor(&W, 2, N, K, 0, 0), randomize(&W, 0);
  tensor(&b, 1, N, 0, 0, 0), randomize(&b, 0);
  tensor(&y8, 2, 8, N, 0, 0);
  CHECK(be1->ops->dense_forward(be1, &x, &W, &b, &y8));
  for (int M = 1; M <= 3; M += 2) {
    GyreTensor xm = x;
    xm.shape[0] = M, xm.size = (size_t) M * K;
    tensor(&y, 2, M, N, 0, 0);
    CHECK(be1->ops->dense_forward(be1, &xm, &W, &b, &y));
    if (memcmp(y.data, y8.data, sizeof(float) * (size_t) M * N)) {
      failures++;
      printf("FAIL dense rows: %d rows differ from the first rows of an 8-row call\n", M);
    } else
      printf("ok   dense rows: %d rows = the first rows of an 8-row call (bitwise)\n", M);
    GyreTensorDestroy(&y);
  }
  GyreTensor *all[] = {&x, &W, &b, &y8};
  for (size_t k = 0; k < 4; k++)
    GyreTensorDestroy(all[k]);
}

/* ---- activations ---- */
static void test_act(GyreActivation act)
{
  static const char *names[] = {"relu", "gelu", "tanh"};
  Case               c       = {0};
  snprintf(c.name, sizeof c.name, "act %s", names[act]);
  c.kind = OP_ACT, c.act = act, c.eps = act == GYRE_ACT_RELU ? 1e-2 : 1e-3;
  tensor(&c.x, 4, 2, 3, 4, 5);
  randomize(&c.x, act == GYRE_ACT_RELU ? 0.05 : 0);
  for (size_t k = 0; k < c.x.size; k++)
    c.x.data[k] *= 3.0f; /* cover the tails */
  tensor(&c.y, 4, 2, 3, 4, 5);
  forward(be1, &c);
  double *ref = malloc(sizeof(double) * c.x.size);
  for (size_t k = 0; k < c.x.size; k++) {
    double v = c.x.data[k];
    ref[k]   = act == GYRE_ACT_RELU   ? (v > 0 ? v : 0)
               : act == GYRE_ACT_GELU ? 0.5 * v * (1 + erf(v / sqrt(2.0)))
                                      : tanh(v);
  }
  report(c.name, "forward", rel_err(c.y.size, c.y.data, ref), FWD_TOL, &worst_fwd);
  free(ref);
  make_grads(&c);
  check_gradients(&c, 1);
  destroy_case(&c);
}

/* tanh value by value (the CPU backend's own approximation, not libm's tanhf): over a sweep of
 * magnitudes from 1e-44 (denormals) to 20 (both signs, the polynomial's and the exponential's
 * ranges and the switch between them), each value within 2 ulp of double tanh (the ulp of the
 * float spacing at the exact value; the worst printed); -0, +-Inf and NaN exact (tanh(-0) =
 * -0, +-1, NaN). Run with the AVX2 path and without it (ctest nn_ops_act_portable). */
static void test_tanh_values(void)
{
  const size_t n = 200003;
  GyreTensor   x = {0}, y = {0};
  tensor(&x, 1, (int64_t) n + 4, 0, 0, 0), tensor(&y, 1, (int64_t) n + 4, 0, 0, 0);
  for (size_t k = 0; k < n; k++) { /* log-spaced magnitudes, alternating signs */
    double m  = pow(10.0, -44.0 + 45.30103 * (double) k / (double) (n - 1));
    x.data[k] = (float) (k % 2 ? -m : m);
  }
  x.data[n] = -0.0f, x.data[n + 1] = INFINITY, x.data[n + 2] = -INFINITY, x.data[n + 3] = NAN;
  CHECK(be1->ops->act_forward(be1, GYRE_ACT_TANH, &x, &y));
  double worst = 0;
  for (size_t k = 0; k < n; k++) {
    const double r   = tanh((double) x.data[k]);
    const float  f   = (float) fabs(r); /* the float spacing on the side of f where |r| lies */
    const double ulp = (double) f > fabs(r) ? (double) f - nextafterf(f, 0.0f)
                                            : nextafterf(f, INFINITY) - (double) f;
    const double e   = fabs((double) y.data[k] - r) / ulp;
    if (e > worst) worst = e;
  }
  printf("     act tanh: worst %.2f ulp over %zu values from 1e-44 to 20\n", worst, n);
  if (!(worst <= 2)) failures++, printf("FAIL act tanh values: %.2f ulp (at most 2)\n", worst);
  if (!(signbit(y.data[n]) && y.data[n] == 0.0f && y.data[n + 1] == 1.0f &&
        y.data[n + 2] == -1.0f && isnan(y.data[n + 3])))
    failures++, printf("FAIL act tanh of -0, +-Inf, NaN: %g %g %g %g\n", y.data[n], y.data[n + 1],
                       y.data[n + 2], y.data[n + 3]);
  GyreTensorDestroy(&x), GyreTensorDestroy(&y);
}

/* ReLU's special values (the AVX2 loop's mask and the portable loop, ctest nn_ops_act_portable,
 * alike): x where x > 0, else +0, bitwise: -0 -> +0, NaN -> +0, +-Inf, denormals; 19 values
 * (two vectors and a tail) */
static void test_relu_values(void)
{
  const float in[19] = {-0.0f,   0.0f,    NAN,   -NAN,  INFINITY, -INFINITY, 1e-45f,
                        -1e-45f, 3.0f,    -3.0f, 1e38f, -1e38f,   0.5f,      -0.5f,
                        2e-38f,  -2e-38f, 7.0f,  -0.0f, NAN};
  GyreTensor  x = {0}, y = {0};
  int         bad = 0;
  tensor(&x, 1, 19, 0, 0, 0), tensor(&y, 1, 19, 0, 0, 0);
  memcpy(x.data, in, sizeof in);
  CHECK(be1->ops->act_forward(be1, GYRE_ACT_RELU, &x, &y));
  for (int k = 0; k < 19; k++) {
    const float want = in[k] > 0.0f ? in[k] : 0.0f;
    bad += memcmp(&want, &y.data[k], sizeof want) != 0;
  }
  printf("%s act relu values: -0, NaN, +-Inf, denormals (bitwise)\n", bad ? "FAIL" : "ok  ");
  failures += bad != 0;
  GyreTensorDestroy(&x), GyreTensorDestroy(&y);
}

/* Each value's activation must not depend on where it falls in the call (the vector loops work
 * in blocks of 16 and 8 with a padded tail): every prefix length 1..41 gives the values of one
 * 41-value call, bitwise. */
static void test_act_positions(GyreActivation act)
{
  static const char *names[] = {"relu", "gelu", "tanh"};
  GyreTensor         x = {0}, y = {0}, yn = {0};
  int                bad = 0;
  tensor(&x, 1, 41, 0, 0, 0), randomize(&x, 0);
  for (size_t k = 0; k < x.size; k++)
    x.data[k] *= 5.0f;
  tensor(&y, 1, 41, 0, 0, 0);
  CHECK(be1->ops->act_forward(be1, act, &x, &y));
  for (int n = 1; n <= 41 && !bad; n++) {
    GyreTensor xn = x;
    xn.shape[0] = n, xn.size = (size_t) n;
    tensor(&yn, 1, n, 0, 0, 0);
    CHECK(be1->ops->act_forward(be1, act, &xn, &yn));
    bad = memcmp(yn.data, y.data, sizeof(float) * (size_t) n) != 0;
    GyreTensorDestroy(&yn);
  }
  printf("%s act %s positions: calls of 1..41 values = one 41-value call (bitwise)\n",
         bad ? "FAIL" : "ok  ", names[act]);
  failures += bad;
  GyreTensorDestroy(&x), GyreTensorDestroy(&y);
}

/* ---- the fused MLP (mlp_forward) ---- */
/* nl dense layers of widths w[0] -> w[1] -> ... -> w[nl], activation act (none after the last),
 * biases when has_b; M rows. Checks: against a double-precision reference; against the layers
 * one by one (dense_forward + act_forward); every row = the same row called alone (bitwise: a
 * closure's points split over ranks); 4 threads = 1 thread (bitwise). */
static void test_mlp(int nl, const int *w, GyreActivation act, int has_b, int M)
{
  static const char *names[] = {"relu", "gelu", "tanh"};
  char               name[64];
  GyreTensor         W[8], b[8], x = {0}, y = {0}, y4 = {0}, yr = {0}, h[9];
  const GyreTensor  *Wp[8], *bp[8];
  int                acts[8], bad_rows = 0;
  int                len = snprintf(name, sizeof name, "mlp %d", w[0]);
  for (int i = 1; i <= nl && len < (int) sizeof name; i++) /* every width: 5-8-8-1 */
    len += snprintf(name + len, sizeof name - (size_t) len, "-%d", w[i]);
  if (len < (int) sizeof name)
    snprintf(name + len, sizeof name - (size_t) len, " %s%s M=%d", names[act],
             has_b ? "" : " nobias", M);
  for (int i = 0; i < nl; i++) {
    tensor(&W[i], 2, w[i + 1], w[i], 0, 0), randomize(&W[i], 0);
    for (size_t k = 0; k < W[i].size; k++) /* PyTorch's init scale: activations O(1) */
      W[i].data[k] *= (float) (1.7 / sqrt((double) w[i]));
    tensor(&b[i], 1, w[i + 1], 0, 0, 0), randomize(&b[i], 0);
    Wp[i] = &W[i], bp[i] = has_b ? &b[i] : NULL, acts[i] = i + 1 < nl ? (int) act : -1;
  }
  tensor(&x, 2, M, w[0], 0, 0), randomize(&x, 0);
  tensor(&y, 2, M, w[nl], 0, 0), tensor(&y4, 2, M, w[nl], 0, 0);
  CHECK(be1->ops->mlp_forward(be1, nl, Wp, bp, acts, NULL, (size_t) M, x.data, NULL, y.data, NULL));
  CHECK(
      be4->ops->mlp_forward(be4, nl, Wp, bp, acts, NULL, (size_t) M, x.data, NULL, y4.data, NULL));
  /* double reference */
  double *ref = NULL;
  {
    double *cur = malloc(sizeof(double) * (size_t) M * w[0]);
    for (size_t k = 0; k < x.size; k++)
      cur[k] = x.data[k];
    for (int i = 0; i < nl; i++) {
      double *nxt = malloc(sizeof(double) * (size_t) M * w[i + 1]);
      for (int m = 0; m < M; m++)
        for (int j = 0; j < w[i + 1]; j++) {
          double s = has_b ? b[i].data[j] : 0;
          for (int k = 0; k < w[i]; k++)
            s += (double) W[i].data[(size_t) j * w[i] + k] * cur[(size_t) m * w[i] + k];
          if (acts[i] >= 0)
            s = act == GYRE_ACT_RELU   ? (s > 0 ? s : 0)
                : act == GYRE_ACT_GELU ? 0.5 * s * (1 + erf(s / sqrt(2.0)))
                                       : tanh(s);
          nxt[(size_t) m * w[i + 1] + j] = s;
        }
      free(cur);
      cur = nxt;
    }
    ref = cur;
  }
  report(name, "forward", rel_err(y.size, y.data, ref), FWD_TOL, &worst_fwd);
  free(ref);
  /* the layers one by one */
  tensor(&h[0], 2, M, w[0], 0, 0);
  memcpy(h[0].data, x.data, sizeof(float) * x.size);
  for (int i = 0; i < nl; i++) {
    tensor(&h[i + 1], 2, M, w[i + 1], 0, 0);
    CHECK(be1->ops->dense_forward(be1, &h[i], &W[i], bp[i], &h[i + 1]));
    if (acts[i] >= 0) CHECK(be1->ops->act_forward(be1, act, &h[i + 1], &h[i + 1]));
  }
  report(name, "vs layers", rel_err_f(y.size, y.data, h[nl].data), FWD_TOL, &worst_fwd);
  /* rows alone */
  tensor(&yr, 2, 1, w[nl], 0, 0);
  for (int m = 0; m < M && !bad_rows; m++) {
    CHECK(be1->ops->mlp_forward(be1, nl, Wp, bp, acts, NULL, 1, x.data + (size_t) m * w[0], NULL,
                                yr.data, NULL));
    bad_rows = memcmp(yr.data, y.data + (size_t) m * w[nl], sizeof(float) * w[nl]) != 0;
  }
  int bad_thr = memcmp(y.data, y4.data, sizeof(float) * y.size) != 0;
  printf("%s %-40s each row = the row alone, 4 threads = 1 (bitwise)\n",
         bad_rows || bad_thr ? "FAIL" : "ok  ", name);
  failures += bad_rows + bad_thr;
  /* a plan: made at the first call, used by the second, which reads the layers from it alone
   * (NULL W, b and act), bitwise the calls without one; a layer that does not fit is refused
   * and leaves no plan */
  {
    void  *plan = NULL;
    float *yp   = calloc(y.size, sizeof(float));
    CHECK(be4->ops->mlp_forward(be4, nl, Wp, bp, acts, NULL, (size_t) M, x.data, NULL, yp, &plan));
    int bad_plan = !plan || memcmp(yp, y.data, sizeof(float) * y.size) != 0;
    memset(yp, 0, sizeof(float) * y.size);
    CHECK(be4->ops->mlp_forward(be4, nl, NULL, NULL, NULL, NULL, (size_t) M, x.data, NULL, yp,
                                &plan));
    bad_plan |= memcmp(yp, y.data, sizeof(float) * y.size) != 0;
    be4->ops->mlp_plan_free(be4, plan);
    int saved = acts[0];
    plan = NULL, acts[0] = 99;
    bad_plan |= be4->ops->mlp_forward(be4, nl, Wp, bp, acts, NULL, (size_t) M, x.data, NULL, yp,
                                      &plan) == GYRE_OK ||
                plan;
    acts[0] = saved;
    printf("%s %-40s with a plan = without (bitwise), a bad layer refused\n",
           bad_plan ? "FAIL" : "ok  ", name);
    failures += bad_plan;
    free(yp);
  }
  /* with the normalisation on the way (GyreMLPAffine): bitwise the same as normalising x,
   * running the MLP and mapping y back in separate passes (GyreSurrogateApply's general path) */
  {
    double *a = malloc(sizeof(double) * 2 * (size_t) (w[0] + w[nl]));
    for (int k = 0; k < w[0]; k++)
      a[k] = 0.3 * (k % 3) - 0.2, a[w[0] + k] = 1.0 / (0.5 + 0.25 * (k % 4));
    for (int j = 0; j < w[nl]; j++)
      a[2 * w[0] + j] = 1.5 - 0.1 * j, a[2 * w[0] + w[nl] + j] = 0.7 + 0.2 * j;
    const GyreMLPAffine aff = {a, a + w[0], a + 2 * w[0], a + 2 * w[0] + w[nl]};
    float              *xn  = malloc(sizeof(float) * x.size);
    for (size_t i = 0; i < x.size; i++) {
      const int k = (int) (i % (size_t) w[0]);
      xn[i]       = (float) (((double) x.data[i] - aff.in_mean[k]) * aff.in_inv[k]);
    }
    CHECK(be1->ops->mlp_forward(be1, nl, Wp, bp, acts, NULL, (size_t) M, xn, NULL, y.data, NULL));
    for (size_t i = 0; i < y.size; i++) {
      const int j = (int) (i % (size_t) w[nl]);
      y.data[i]   = (float) ((double) y.data[i] * aff.out_std[j] + aff.out_mean[j]);
    }
    CHECK(be4->ops->mlp_forward(be4, nl, Wp, bp, acts, &aff, (size_t) M, x.data, NULL, y4.data,
                                NULL));
    int bad_aff = memcmp(y.data, y4.data, sizeof(float) * y.size) != 0;
    printf("%s %-40s normalised on the way = in separate passes (bitwise)\n",
           bad_aff ? "FAIL" : "ok  ", name);
    failures += bad_aff;
    /* through an input view (xoff): the features feature-major in reversed order, row m's
     * feature k at xv[m + off[k]], off[k] = (w0 - 1 - k) M: bitwise the rows' call, planned
     * and not; and the AVX-512 form (where the CPU has it) = the AVX2 one (GYRE_CPU_AVX512=0) */
    {
      float *xv = malloc(sizeof(float) * x.size), *yv = calloc(y.size, sizeof(float));
      int   *off = malloc(sizeof(int) * (size_t) w[0]), bad_view = 0;
      void  *plan = NULL;
      for (int k = 0; k < w[0]; k++) {
        off[k] = (w[0] - 1 - k) * M;
        for (int m = 0; m < M; m++)
          xv[off[k] + m] = x.data[(size_t) m * w[0] + k];
      }
      CHECK(be1->ops->mlp_forward(be1, nl, Wp, bp, acts, &aff, (size_t) M, xv, off, yv, NULL));
      bad_view |= memcmp(yv, y4.data, sizeof(float) * y.size) != 0;
      memset(yv, 0, sizeof(float) * y.size);
      CHECK(be4->ops->mlp_forward(be4, nl, Wp, bp, acts, &aff, (size_t) M, xv, off, yv, &plan));
      CHECK(be4->ops->mlp_forward(be4, nl, NULL, NULL, NULL, &aff, (size_t) M, xv, off, yv, &plan));
      bad_view |= memcmp(yv, y4.data, sizeof(float) * y.size) != 0;
      be4->ops->mlp_plan_free(be4, plan);
      /* every form the CPU has (GYRE_CPU_AVX512=2, 1: AVX-512, its GELU on zmm and on 8
       * lanes), rows and view, against the AVX2 form (=0) */
      char       *saved   = getenv("GYRE_CPU_AVX512") ? strdup(getenv("GYRE_CPU_AVX512")) : NULL;
      float      *y0      = calloc(y.size, sizeof(float));
      int         bad_z   = 0;
      const char *forms[] = {"0", "1", "2"};
      setenv("GYRE_CPU_AVX512", "0", 1);
      CHECK(be1->ops->mlp_forward(be1, nl, Wp, bp, acts, &aff, (size_t) M, x.data, NULL, y0, NULL));
      bad_z |= GyreCPUMLPAVX512() != 0;
      unsetenv("GYRE_CPU_AVX512");
      const int z = GyreCPUMLPAVX512();
      for (int f = 1; f <= 2; f++) {
        setenv("GYRE_CPU_AVX512", forms[f], 1);
        memset(yv, 0, sizeof(float) * y.size);
        CHECK(
            be1->ops->mlp_forward(be1, nl, Wp, bp, acts, &aff, (size_t) M, x.data, NULL, yv, NULL));
        bad_z |= memcmp(yv, y0, sizeof(float) * y.size) != 0;
        memset(yv, 0, sizeof(float) * y.size);
        CHECK(be1->ops->mlp_forward(be1, nl, Wp, bp, acts, &aff, (size_t) M, xv, off, yv, NULL));
        bad_z |= memcmp(yv, y0, sizeof(float) * y.size) != 0;
      }
      if (saved)
        setenv("GYRE_CPU_AVX512", saved, 1), free(saved);
      else
        unsetenv("GYRE_CPU_AVX512");
      printf("%s %-40s through an input view = rows (bitwise)\n", bad_view ? "FAIL" : "ok  ", name);
      printf("%s %-40s %s = AVX2 (bitwise, rows and view)\n", bad_z ? "FAIL" : "ok  ", name,
             z ? "AVX-512 (8 lanes; GELU on zmm)" : "(no AVX-512 here: AVX2 only)");
      free(y0);
      failures += bad_view + bad_z;
      free(xv), free(yv), free(off);
    }
    free(xn), free(a);
  }
  for (int i = 0; i < nl; i++)
    GyreTensorDestroy(&W[i]), GyreTensorDestroy(&b[i]);
  for (int i = 0; i <= nl; i++)
    GyreTensorDestroy(&h[i]);
  GyreTensorDestroy(&x), GyreTensorDestroy(&y), GyreTensorDestroy(&y4), GyreTensorDestroy(&yr);
}

/* ---- losses ---- */
static void test_loss(int rel)
{
  const char *name = rel ? "loss rel_l2 (4,3,5,6)" : "loss mse (4,3,5,6)";
  GyreTensor  p, t, g, g2;
  double      loss, ref = 0;
  tensor(&p, 4, 4, 3, 5, 6), randomize(&p, 0);
  tensor(&t, 4, 4, 3, 5, 6), randomize(&t, 0);
  tensor(&g, 4, 4, 3, 5, 6), tensor(&g2, 4, 4, 3, 5, 6);
  const size_t n = p.size, per = n / 4;
  for (size_t k = 0; k < n; k++)
    g.data[k] = 99.0f; /* overwrite */
  if (rel)
    CHECK(GyreCPURelL2Loss(be1, &p, &t, &loss, &g));
  else
    CHECK(GyreCPUMSELoss(be1, &p, &t, &loss, &g));
  if (rel) {
    for (int s = 0; s < 4; s++) {
      double dd = 0, tt = 0;
      for (size_t k = s * per; k < (s + 1) * per; k++) {
        dd += ((double) p.data[k] - t.data[k]) * ((double) p.data[k] - t.data[k]);
        tt += (double) t.data[k] * t.data[k];
      }
      ref += sqrt(dd) / sqrt(tt) / 4;
    }
  } else {
    for (size_t k = 0; k < n; k++)
      ref += ((double) p.data[k] - t.data[k]) * ((double) p.data[k] - t.data[k]) / n;
  }
  report(name, "forward", fabs(loss - ref) / fabs(ref), 1e-12, &worst_fwd);
  double *fd = calloc(n, sizeof(double));
  for (size_t k = 0; k < n; k++) {
    const float v = p.data[k], vp = v + 1e-3f, vm = v - 1e-3f;
    double      Lp, Lm;
    p.data[k] = vp;
    CHECK(rel ? GyreCPURelL2Loss(be1, &p, &t, &Lp, NULL) : GyreCPUMSELoss(be1, &p, &t, &Lp, NULL));
    p.data[k] = vm;
    CHECK(rel ? GyreCPURelL2Loss(be1, &p, &t, &Lm, NULL) : GyreCPUMSELoss(be1, &p, &t, &Lm, NULL));
    p.data[k] = v;
    fd[k]     = (Lp - Lm) / ((double) vp - (double) vm);
  }
  report(name, "dpred", rel_err(n, g.data, fd), FD_TOL, &worst_fd);
  free(fd);
  /* threads */
  double loss4;
  CHECK(rel ? GyreCPURelL2Loss(be4, &p, &t, &loss4, &g2)
            : GyreCPUMSELoss(be4, &p, &t, &loss4, &g2));
  double e = fmax(fabs(loss4 - loss) / loss, rel_err_f(n, g2.data, g.data));
  report(name, "threads", e, 1e-6, &worst_thr);
  if (rel) {
    /* a zero-norm target sample is an error, not a NaN */
    memset(t.data + per, 0, sizeof(float) * per);
    GyreStatus st = GyreCPURelL2Loss(be1, &p, &t, &loss, &g);
    printf("%s %-40s zero target -> %d: %s\n", st == GYRE_ERR_NAN ? "ok  " : "FAIL", name, (int) st,
           GyreStatusMessage());
    if (st != GYRE_ERR_NAN) failures++;
  }
  GyreTensorDestroy(&p), GyreTensorDestroy(&t), GyreTensorDestroy(&g), GyreTensorDestroy(&g2);
}

/* ---- convolution ---- */
/* The direct forward (few output channels, AVX2 + FMA) sums each output in the same order
 * wherever it lies in the block: x (N, Cin, Y, X) padded by `pad`, and the same x extended by a
 * border of B >= the kernel's radius (its periodic extension for circular padding, zeros for
 * zero padding) convolved with zero padding, give bitwise the same values on x's points (a
 * rank's block with a halo against the whole grid; -surrogate_trim_halo against the default).
 * Only where the default takes the direct forward. */
static void test_conv_direct_block(int Cin, int Cout, int Y, int X, int K, GyrePadding pad)
{
  const char *algo = getenv("GYRE_CONV_ALGO");
  if (!GyreCPUHasAVX2FMA() || (algo && *algo && strcmp(algo, "direct"))) {
    printf("skip conv direct block: the direct forward is not the default here\n");
    return;
  }
  const int  B = K / 2 + 2, Yb = Y + 2 * B, Xb = X + 2 * B, N = 2;
  GyreTensor x, xb, W, b, y, yb;
  tensor(&x, 4, N, Cin, Y, X), tensor(&xb, 4, N, Cin, Yb, Xb), tensor(&W, 4, Cout, Cin, K, K);
  tensor(&b, 1, Cout, 0, 0, 0), tensor(&y, 4, N, Cout, Y, X), tensor(&yb, 4, N, Cout, Yb, Xb);
  randomize(&x, 0), randomize(&W, 0), randomize(&b, 0);
  for (int c = 0; c < N * Cin; c++)
    for (int r = 0; r < Yb; r++)
      for (int q = 0; q < Xb; q++) {
        const int ys = r - B, xs = q - B, in = ys >= 0 && ys < Y && xs >= 0 && xs < X;
        xb.data[((size_t) c * Yb + r) * Xb + q] =
            pad == GYRE_PAD_CIRCULAR
                ? x.data[((size_t) c * Y + (ys + Y * B) % Y) * X + (xs + X * B) % X]
            : in ? x.data[((size_t) c * Y + ys) * X + xs]
                 : 0.0f;
      }
  CHECK(GyreCPUConvForward(be1, &x, &W, &b, pad, &y));
  CHECK(GyreCPUConvForward(be1, &xb, &W, &b, GYRE_PAD_ZERO, &yb));
  long differ = 0;
  for (int c = 0; c < N * Cout; c++)
    for (int r = 0; r < Y; r++)
      for (int q = 0; q < X; q++)
        differ += memcmp(&y.data[((size_t) c * Y + r) * X + q],
                         &yb.data[((size_t) c * Yb + r + B) * Xb + q + B], sizeof(float)) != 0;
  printf("%s conv direct block C%d->%d %dx%d K%d %s: %ld of %zu values differ from the extended "
         "block's\n",
         differ ? "FAIL" : "ok  ", Cin, Cout, Y, X, K, pad == GYRE_PAD_ZERO ? "zero" : "circ",
         differ, y.size);
  failures += differ != 0;
  GyreTensorDestroy(&x), GyreTensorDestroy(&xb), GyreTensorDestroy(&W);
  GyreTensorDestroy(&b), GyreTensorDestroy(&y), GyreTensorDestroy(&yb);
}

/* conv_forward_post: the convolution, then the activation act (< 0: none) and, with bn, batch
 * norm's evaluation, in one op, bitwise the three ops one after the other (conv_forward,
 * act_forward, bn_forward), where the layer is direct (the default's choice for it, AVX2 + FMA;
 * GELU and tanh where their loops run AVX2 too); elsewhere declined (done = 0, y untouched). */
static void test_conv_post(int Cin, int Cout, int Y, int X, int K, GyrePadding pad, int act, int bn)
{
  const char *algo   = getenv("GYRE_CONV_ALGO");
  const int   forced = algo && !strcmp(algo, "direct"), dflt = !algo || !*algo;
  const int   direct = GyreCPUHasAVX2FMA() && (forced || (dflt && Cout <= 8 && K > 1));
  const int   expect = direct && (act < 0 || act == GYRE_ACT_RELU || GyreCPUGeluAVX2());
  const int   N      = 2;
  GyreTensor  x, W, b, y, ref, st;
  tensor(&x, 4, N, Cin, Y, X), tensor(&W, 4, Cout, Cin, K, K), tensor(&b, 1, Cout, 0, 0, 0);
  tensor(&y, 4, N, Cout, Y, X), tensor(&ref, 4, N, Cout, Y, X), tensor(&st, 1, 4 * Cout, 0, 0, 0);
  randomize(&x, 0), randomize(&W, 0), randomize(&b, 0), randomize(&st, 0);
  float *mean = st.data, *invstd = st.data + Cout, *gamma = st.data + 2 * Cout;
  float *beta = st.data + 3 * Cout;
  for (int c = 0; c < Cout; c++)
    invstd[c] = 0.5f + fabsf(invstd[c]) * 3.0f;
  CHECK(GyreCPUConvForward(be1, &x, &W, &b, pad, &ref));
  if (act >= 0) CHECK(GyreCPUActForward(be1, (GyreActivation) act, &ref, &ref));
  if (bn) CHECK(GyreCPUBNForward(be1, &ref, mean, invstd, gamma, beta, &ref));
  for (size_t i = 0; i < y.size; i++)
    y.data[i] = 12345.0f;
  int done = -1;
  CHECK(GyreCPUConvForwardPost(be1, &x, &W, &b, pad, act, bn ? mean : NULL, bn ? invstd : NULL,
                               bn ? gamma : NULL, bn ? beta : NULL, &y, &done));
  long differ = 0;
  for (size_t i = 0; i < y.size; i++)
    differ += done ? memcmp(&y.data[i], &ref.data[i], sizeof(float)) != 0 : y.data[i] != 12345.0f;
  const int bad = done != expect || differ;
  printf("%s conv post C%d->%d %dx%d K%d %s act %d bn %d: %s, %ld of %zu values %s\n",
         bad ? "FAIL" : "ok  ", Cin, Cout, Y, X, K, pad == GYRE_PAD_ZERO ? "zero" : "circ", act, bn,
         done ? "fused" : "declined", differ, y.size,
         done ? "differ from the ops one by one" : "of y changed");
  failures += bad;
  GyreTensorDestroy(&x), GyreTensorDestroy(&W), GyreTensorDestroy(&b);
  GyreTensorDestroy(&y), GyreTensorDestroy(&ref), GyreTensorDestroy(&st);
}

static void test_conv(int dims, int N, int Cin, int Cout, int Y, int X, int KY, int KX,
                      GyrePadding pad, int has_b, int full_fd)
{
  Case c = {0};
  if (dims == 1) Y = 1, KY = 1;
  snprintf(c.name, sizeof c.name, "conv%dd %s N%d C%d->%d %dx%d K%dx%d%s", dims,
           pad == GYRE_PAD_ZERO ? "zero" : "circ", N, Cin, Cout, Y, X, KY, KX, has_b ? " +b" : "");
  c.kind = OP_CONV, c.pad = pad, c.has_b = has_b;
  c.eps = full_fd ? 1e-2 : 1e-1; /* linear in each argument: a large step is exact */
  if (dims == 1) {
    tensor(&c.x, 3, N, Cin, X, 0), tensor(&c.W, 3, Cout, Cin, KX, 0);
    tensor(&c.y, 3, N, Cout, X, 0);
  } else {
    tensor(&c.x, 4, N, Cin, Y, X), tensor(&c.W, 4, Cout, Cin, KY, KX);
    tensor(&c.y, 4, N, Cout, Y, X);
  }
  tensor(&c.b, 1, Cout, 0, 0, 0);
  randomize(&c.x, 0), randomize(&c.W, 0), randomize(&c.b, 0);
  forward(be1, &c);
  double   *ref = malloc(sizeof(double) * c.y.size);
  const int PY = (KY - 1) / 2, PX = (KX - 1) / 2;
  for (int n = 0; n < N; n++)
    for (int o = 0; o < Cout; o++)
      for (int y = 0; y < Y; y++)
        for (int x = 0; x < X; x++) {
          double s = has_b ? c.b.data[o] : 0;
          for (int i = 0; i < Cin; i++)
            for (int ky = 0; ky < KY; ky++)
              for (int kx = 0; kx < KX; kx++) {
                int ys = y + ky - PY, xs = x + kx - PX;
                if (pad == GYRE_PAD_CIRCULAR) ys = (ys % Y + Y) % Y, xs = (xs % X + X) % X;
                if (ys < 0 || ys >= Y || xs < 0 || xs >= X) continue;
                s += (double) c.W.data[((o * Cin + i) * KY + ky) * KX + kx] *
                     c.x.data[((size_t) (n * Cin + i) * Y + ys) * X + xs];
              }
          ref[((size_t) (n * Cout + o) * Y + y) * X + x] = s;
        }
  report(c.name, "forward", rel_err(c.y.size, c.y.data, ref), FWD_TOL, &worst_fwd);
  free(ref);
  make_grads(&c);
  check_gradients(&c, full_fd);
  destroy_case(&c);
}

/* ---- conv_chain_forward in bf16 (AMX, or AVX-512 BF16) ---- */
/* fp32 -> bf16 -> fp32, round to nearest even, a subnormal as a zero of its sign (as the chain
 * rounds inputs, weights and the activations between layers: VCVTNEPS2BF16's rounding) */
static float bf16_round(float f)
{
  uint32_t u;
  memcpy(&u, &f, 4);
  u = !(u & 0x7f800000u) ? u & 0x80000000u : (u + 0x7fffu + ((u >> 16) & 1u)) & 0xffff0000u;
  memcpy(&f, &u, 4);
  return f;
}

typedef struct {
  int        Cin, Cout, K, act, bn;
  GyreTensor W, b, st; /* st: mean, invstd, gamma, beta */
} ChainLayer;

/* the chain's reference: inputs and weights rounded to bf16, the sums in double, then the bias,
 * activation and batch norm in float as the op applies them; the activations rounded to bf16
 * between layers. bound[i]: |error| allowed at output i from the sums' fp32 rounding (2^-18 of
 * the sum of the products' magnitudes; the last layer's only, so meaningful for n = 1) */
static void chain_reference(int n, ChainLayer *L, GyrePadding pad, int N, int Y, int X,
                            const float *x, float *y, double *bound)
{
  const int avx = GyreCPUGeluAVX2();
  size_t    big = 0;
  for (int l = 0; l < n; l++)
    if ((size_t) (L[l].Cin > L[l].Cout ? L[l].Cin : L[l].Cout) > big)
      big = (size_t) (L[l].Cin > L[l].Cout ? L[l].Cin : L[l].Cout);
  const size_t plane = (size_t) Y * X;
  float *cur = malloc(sizeof(float) * big * plane), *nxt = malloc(sizeof(float) * big * plane);
  for (int s = 0; s < N; s++) {
    for (size_t i = 0; i < (size_t) L[0].Cin * plane; i++)
      cur[i] = bf16_round(x[(size_t) s * L[0].Cin * plane + i]);
    for (int l = 0; l < n; l++) {
      const ChainLayer *c  = &L[l];
      const int         KY = Y == 1 ? 1 : c->K, KX = c->K, PY = (KY - 1) / 2, PX = (KX - 1) / 2;
      const float      *mean = c->st.data, *invstd = mean + c->Cout, *gamma = invstd + c->Cout,
                  *beta = gamma + c->Cout;
      for (int o = 0; o < c->Cout; o++)
        for (int yy = 0; yy < Y; yy++)
          for (int xx = 0; xx < X; xx++) {
            double sum = 0, mag = fabs(c->b.data[o]);
            for (int i = 0; i < c->Cin; i++)
              for (int ky = 0; ky < KY; ky++)
                for (int kx = 0; kx < KX; kx++) {
                  int ys = yy + ky - PY, xs = xx + kx - PX;
                  if (pad == GYRE_PAD_CIRCULAR) ys = (ys % Y + Y) % Y, xs = (xs % X + X) % X;
                  if (ys < 0 || ys >= Y || xs < 0 || xs >= X) continue;
                  const double t =
                      (double) bf16_round(c->W.data[((o * c->Cin + i) * KY + ky) * KX + kx]) *
                      cur[(size_t) i * plane + (size_t) ys * X + xs];
                  sum += t, mag += fabs(t);
                }
            float v = (float) sum + c->b.data[o];
            if (c->act >= 0) GyreCPUActRange((GyreActivation) c->act, avx, &v, &v, 1);
            double gain = c->act == GYRE_ACT_GELU ? 1.2 : 1.0;
            if (c->bn) {
              const float sc = gamma[o] * invstd[o]; /* v sc + (beta - mean sc), fused */
              v              = fmaf(v, sc, fmaf(-mean[o], sc, beta[o]));
              gain *= fabs(sc);
            }
            const size_t k = (size_t) o * plane + (size_t) yy * X + xx;
            if (l < n - 1)
              nxt[k] = bf16_round(v);
            else {
              y[(size_t) s * c->Cout * plane + k]     = v;
              bound[(size_t) s * c->Cout * plane + k] = 4e-6 * mag * gain + 1e-6 * fabs(v);
            }
          }
      float *t = cur;
      cur = nxt, nxt = t;
    }
  }
  free(cur), free(nxt);
}

/* the chain's layers as conv_chain_forward takes them */
static void chain_layers(int n, ChainLayer *L, GyrePadding pad, GyreConvPostLayer *p)
{
  for (int l = 0; l < n; l++) {
    const float *st = L[l].st.data;
    const int    C  = L[l].Cout;
    p[l]            = (GyreConvPostLayer){.W = &L[l].W, .b = &L[l].b, .pad = pad, .act = L[l].act};
    if (L[l].bn)
      p[l].mean = st, p[l].invstd = st + C, p[l].gamma = st + 2 * C, p[l].beta = st + 3 * C;
  }
}

/* the chain run by conv_chain_forward on x (N, Cin0, Y, X) into y */
static int chain_run(GyreBackend *be, int n, ChainLayer *L, GyrePadding pad, const GyreTensor *x,
                     GyreTensor *y)
{
  GyreConvPostLayer p[8];
  chain_layers(n, L, pad, p);
  int   done  = -1;
  void *cache = NULL;
  CHECK(GyreCPUConvChainForward(be, n, p, NULL, x, y, &cache, &done));
  GyreCPUConvChainCacheFree(be, cache);
  return done;
}

/* conv_chain_forward at bf16 (where AMX or AVX-512 BF16 runs it): against chain_reference (one
 * layer: within the fp32 sums' rounding of each value; more: the normwise error 1e-3, rounding at
 * the same places), against the fp32 ops (normwise 2e-2: bf16's rounding, and not bitwise: bf16 was
 * used), and a point's value independent of the block (the chain on x padded circularly, and on x
 * extended by its periodic extension with zero padding: bitwise the same on x's points). spec: n
 * layers of {Cin, Cout, K, act, bn}. */
static void test_chain(GyreBackend *bf, int dims, int N, int Y, int X, GyrePadding pad, int n,
                       const int (*spec)[5])
{
  ChainLayer L[8];
  char       name[160];
  int        off = snprintf(name, sizeof name, "chain%dd %s N%d %dx%d", dims,
                     pad == GYRE_PAD_ZERO ? "zero" : "circ", N, Y, X);
  if (dims == 1) Y = 1;
  for (int l = 0; l < n; l++) {
    ChainLayer *c = &L[l];
    c->Cin = spec[l][0], c->Cout = spec[l][1], c->K = spec[l][2], c->act = spec[l][3];
    c->bn = spec[l][4];
    off += snprintf(name + off, sizeof name - off, " %d->%d k%d a%d%s", c->Cin, c->Cout, c->K,
                    c->act, c->bn ? " bn" : "");
    if (dims == 1)
      tensor(&c->W, 3, c->Cout, c->Cin, c->K, 0);
    else
      tensor(&c->W, 4, c->Cout, c->Cin, c->K, c->K);
    tensor(&c->b, 1, c->Cout, 0, 0, 0), tensor(&c->st, 1, 4 * c->Cout, 0, 0, 0);
    randomize(&c->W, 0), randomize(&c->b, 0), randomize(&c->st, 0);
    const double scale = 1.0 / sqrt((double) c->Cin * c->K * (dims == 1 ? 1 : c->K));
    for (size_t i = 0; i < c->W.size; i++)
      c->W.data[i] *= (float) (2 * scale);
    for (int o = 0; o < c->Cout; o++)
      c->st.data[c->Cout + o] = 0.5f + fabsf(c->st.data[c->Cout + o]) * 1.5f;
  }
  const int  C0 = L[0].Cin, Cn = L[n - 1].Cout;
  GyreTensor x, y, y32, t;
  if (dims == 1)
    tensor(&x, 3, N, C0, X, 0), tensor(&y, 3, N, Cn, X, 0), tensor(&y32, 3, N, Cn, X, 0);
  else
    tensor(&x, 4, N, C0, Y, X), tensor(&y, 4, N, Cn, Y, X), tensor(&y32, 4, N, Cn, Y, X);
  randomize(&x, 0);
  int done = chain_run(bf, n, L, pad, &x, &y), bad = !done;
  /* the reference */
  float  *ref   = malloc(sizeof(float) * y.size);
  double *bound = malloc(sizeof(double) * y.size);
  chain_reference(n, L, pad, N, Y, X, x.data, ref, bound);
  double worst = 0, num = 0, den = 0;
  long   over = 0;
  for (size_t i = 0; i < y.size; i++) {
    const double e = fabs((double) y.data[i] - ref[i]);
    if (e / (bound[i] + 1e-30) > worst) worst = e / (bound[i] + 1e-30);
    over += !(e <= bound[i]);
    num += e * e, den += (double) ref[i] * ref[i];
  }
  const double nerr = sqrt(num / den);
  if (n == 1)
    bad |= over != 0;
  else
    bad |= !(nerr <= 1e-5);
  /* the fp32 ops one by one */
  GyreTensor *in = &x;
  for (int l = 0; l < n; l++) {
    GyreTensor *out = &y32;
    if (l < n - 1) {
      out = malloc(sizeof *out);
      if (dims == 1)
        tensor(out, 3, N, L[l].Cout, X, 0);
      else
        tensor(out, 4, N, L[l].Cout, Y, X);
    }
    CHECK(GyreCPUConvForward(be1, in, &L[l].W, &L[l].b, pad, out));
    if (L[l].act >= 0) CHECK(GyreCPUActForward(be1, (GyreActivation) L[l].act, out, out));
    if (L[l].bn) {
      const float *st = L[l].st.data;
      const int    C  = L[l].Cout;
      CHECK(GyreCPUBNForward(be1, out, st, st + C, st + 2 * C, st + 3 * C, out));
    }
    if (in != &x) GyreTensorDestroy(in), free(in);
    in = out;
  }
  const double e32 = rel_err_f(y.size, y.data, y32.data);
  bad |= !(e32 <= 2e-2) || e32 == 0;
  /* the block: x's periodic extension by the chain's radius and more, with zero padding (one
   * layer with zero padding: x amid zeros, which are that padding; deeper, the zeros would pass
   * through the layers' bias and batch norm) */
  long differ = 0;
  if (pad == GYRE_PAD_CIRCULAR || n == 1) {
    int B = 3; /* (odd beyond the radius: the tiles' pixel groups shift by one) */
    for (int l = 0; l < n; l++)
      B += L[l].K / 2;
    const int  Yb = dims == 1 ? 1 : Y + 2 * B, Xb = X + 2 * B, By = dims == 1 ? 0 : B;
    GyreTensor xb, yb;
    if (dims == 1)
      tensor(&xb, 3, N, C0, Xb, 0), tensor(&yb, 3, N, Cn, Xb, 0);
    else
      tensor(&xb, 4, N, C0, Yb, Xb), tensor(&yb, 4, N, Cn, Yb, Xb);
    for (int c = 0; c < N * C0; c++)
      for (int r = 0; r < Yb; r++)
        for (int q = 0; q < Xb; q++)
          xb.data[((size_t) c * Yb + r) * Xb + q] =
              pad == GYRE_PAD_CIRCULAR
                  ? x.data[((size_t) c * Y + ((r - By) % Y + Y) % Y) * X + ((q - B) % X + X) % X]
              : r >= By && r < By + Y && q >= B && q < B + X
                  ? x.data[((size_t) c * Y + r - By) * X + q - B]
                  : 0.0f;
    done &= chain_run(bf, n, L, GYRE_PAD_ZERO, &xb, &yb);
    for (int c = 0; c < N * Cn; c++)
      for (int r = 0; r < Y; r++)
        for (int q = 0; q < X; q++)
          differ += memcmp(&y.data[((size_t) c * Y + r) * X + q],
                           &yb.data[((size_t) c * Yb + r + By) * Xb + q + B], sizeof(float)) != 0;
    bad |= differ != 0 || !done;
    GyreTensorDestroy(&xb), GyreTensorDestroy(&yb);
  }
  /* the cache kept between calls: the same values again; remade when a weight changes in place */
  {
    void      *cache = NULL;
    GyreTensor y2;
    if (dims == 1)
      tensor(&y2, 3, N, Cn, X, 0);
    else
      tensor(&y2, 4, N, Cn, Y, X);
    GyreConvPostLayer p[8];
    chain_layers(n, L, pad, p);
    int d1, d2;
    CHECK(GyreCPUConvChainForward(bf, n, p, NULL, &x, &y2, &cache, &d1));
    CHECK(GyreCPUConvChainForward(bf, n, p, NULL, &x, &y2, &cache, &d2));
    const int same = !memcmp(y.data, y2.data, sizeof(float) * y.size);
    L[0].W.data[0] += 0.75f, L[n - 1].b.data[0] += 0.75f; /* (the bias: the output moves) */
    CHECK(GyreCPUConvChainForward(bf, n, p, NULL, &x, &y2, &cache, &d2));
    const int moved = memcmp(y.data, y2.data, sizeof(float) * y.size) != 0;
    chain_run(bf, n, L, pad, &x, &y32); /* a fresh cache */
    const int fresh = !memcmp(y32.data, y2.data, sizeof(float) * y.size);
    L[0].W.data[0] -= 0.75f, L[n - 1].b.data[0] -= 0.75f;
    /* another input shape with the same cache: remade (as a fresh cache's) */
    GyreTensor x3, y3, y4;
    if (dims == 1)
      tensor(&x3, 3, N + 1, C0, X + 1, 0), tensor(&y3, 3, N + 1, Cn, X + 1, 0),
          tensor(&y4, 3, N + 1, Cn, X + 1, 0);
    else
      tensor(&x3, 4, N + 1, C0, Y, X + 1), tensor(&y3, 4, N + 1, Cn, Y, X + 1),
          tensor(&y4, 4, N + 1, Cn, Y, X + 1);
    randomize(&x3, 0);
    CHECK(GyreCPUConvChainForward(bf, n, p, NULL, &x3, &y3, &cache, &d2));
    chain_run(bf, n, L, pad, &x3, &y4);
    const int reshaped = d2 && !memcmp(y3.data, y4.data, sizeof(float) * y3.size);
    /* with a normalisation (GyreMLPAffine, per channel) in the op: bitwise x normalised before it
     * and y put back after it, as GyreSurrogateApplyBlock's own passes (inference.c) */
    double am[64], ai[64], om[64], os[64];
    for (int c = 0; c < 64; c++)
      am[c] = 0.3 * c - 1.1, ai[c] = 1.0 / (0.7 + 0.2 * c), om[c] = 2.0 - 0.4 * c,
      os[c] = 0.5 + 0.3 * c;
    const GyreMLPAffine aff   = {am, ai, om, os};
    const size_t        plane = x.size / ((size_t) N * C0), yplane = y.size / ((size_t) N * Cn);
    for (size_t i = 0; i < x3.size && i < x.size; i++) /* x3: x normalised (x3 is larger) */
      x3.data[i] = (float) (((double) x.data[i] - am[i / plane % C0]) * ai[i / plane % C0]);
    GyreTensor xn = x3;
    xn.ndim = x.ndim, memcpy(xn.shape, x.shape, sizeof x.shape), xn.size = x.size;
    CHECK(GyreCPUConvChainForward(bf, n, p, NULL, &xn, &y2, &cache, &d1));
    for (size_t i = 0; i < y2.size; i++)
      y2.data[i] = (float) ((double) y2.data[i] * os[i / yplane % Cn] + om[i / yplane % Cn]);
    CHECK(GyreCPUConvChainForward(bf, n, p, &aff, &x, &y32, &cache, &d2));
    const int normal = d1 && d2 && !memcmp(y2.data, y32.data, sizeof(float) * y.size);
    if (!same || !moved || !fresh || !d1 || !reshaped || !normal) {
      printf("FAIL %s: with a cache kept: %s, after a weight changed: %s, %s a fresh cache's; "
             "another shape: %s; normalised in the op: %s\n",
             name, same ? "the same" : "DIFFERENT", moved ? "changed" : "UNCHANGED",
             fresh ? "equal to" : "NOT", reshaped ? "as a fresh cache" : "NOT as a fresh cache",
             normal ? "as outside" : "NOT as outside");
      failures++;
    }
    GyreTensorDestroy(&x3), GyreTensorDestroy(&y3), GyreTensorDestroy(&y4);
    GyreCPUConvChainCacheFree(bf, cache);
    GyreTensorDestroy(&y2);
  }
  char blk[64] = "the extended block not compared (zero padding, several layers)";
  if (pad == GYRE_PAD_CIRCULAR || n == 1)
    snprintf(blk, sizeof blk, "%ld values differ from the extended block's", differ);
  printf("%s %s: %s; against the bf16 reference: %s %.3g, against fp32 %.3g; %s\n",
         bad ? "FAIL" : "ok  ", name, done ? "run" : "DECLINED",
         n == 1 ? "worst error / bound" : "normwise", n == 1 ? worst : nerr, e32, blk);
  if (n == 1 && over) printf("     %ld values over their bound\n", over);
  failures += bad;
  free(ref), free(bound);
  for (int l = 0; l < n; l++)
    GyreTensorDestroy(&L[l].W), GyreTensorDestroy(&L[l].b), GyreTensorDestroy(&L[l].st);
  GyreTensorDestroy(&x), GyreTensorDestroy(&y), GyreTensorDestroy(&y32);
  (void) t;
}

/* one 3x3 layer Cin -> 1 on a Y x X field whose last input channel has a NaN at (r0, q0): NaNs
 * at the 9 outputs whose kernels cover it, none outside rows rlo .. rhi or beyond qmax columns */
static void nan_reach(GyreBackend *bf, int Cin, int Y, int X, int r0, int q0, int rlo, int rhi,
                      int qmax, const char *what)
{
  ChainLayer L1 = {.Cin = Cin, .Cout = 1, .K = 3, .act = -1};
  tensor(&L1.W, 4, 1, Cin, 3, 3), tensor(&L1.b, 1, 1, 0, 0, 0), tensor(&L1.st, 1, 4, 0, 0, 0);
  randomize(&L1.W, 0.1), randomize(&L1.b, 0);
  GyreTensor x, y;
  tensor(&x, 4, 1, Cin, Y, X), tensor(&y, 4, 1, 1, Y, X);
  randomize(&x, 0);
  x.data[((size_t) (Cin - 1) * Y + r0) * X + q0] = NAN;
  const int done                                 = chain_run(bf, 1, &L1, GYRE_PAD_CIRCULAR, &x, &y);
  long      nans = 0, reached = 0, far = 0;
  for (int r = 0; r < Y; r++)
    for (int q = 0; q < X; q++) {
      const int nan = isnan(y.data[r * X + q]), dr = abs(r - r0), dq = abs(q - q0);
      nans += nan, reached += nan && dr <= 1 && dq <= 1;
      far += nan && (r < rlo || r > rhi || dq > qmax);
    }
  const int bad = !done || reached != 9 || far;
  printf("%s chain: one NaN in the input (%s) gives NaNs at the 9 points it reaches (%ld) and "
         "%ld others near, %ld further\n",
         bad ? "FAIL" : "ok  ", what, reached, nans - reached - far, far);
  failures += bad;
  GyreTensorDestroy(&L1.W), GyreTensorDestroy(&L1.b), GyreTensorDestroy(&L1.st);
  GyreTensorDestroy(&x), GyreTensorDestroy(&y);
}

/* subnormal inputs read as zeros wherever they lie (the vector conversions flush them; the
 * scalar one, for a row's last columns and the padding, must too): one layer Cin -> 1 with a K x K
 * kernel of weights 2^100 on a field of the largest subnormals, which rounded as numbers would be
 * the smallest normal bf16 (products ~1e-8): every output 0, in every column */
static void subnormal_zero(GyreBackend *bf, int Cin, int K)
{
  ChainLayer L1 = {.Cin = Cin, .Cout = 1, .K = K, .act = -1};
  tensor(&L1.W, 4, 1, Cin, K, K), tensor(&L1.b, 1, 1, 0, 0, 0), tensor(&L1.st, 1, 4, 0, 0, 0);
  for (size_t k = 0; k < L1.W.size; k++)
    L1.W.data[k] = 0x1p100f;
  GyreTensor     x, y;
  const uint32_t sub = 0x007fc000u;
  tensor(&x, 4, 1, Cin, 3, 20), tensor(&y, 4, 1, 1, 3, 20);
  for (size_t k = 0; k < x.size; k++)
    memcpy(&x.data[k], &sub, 4);
  const int done    = chain_run(bf, 1, &L1, GYRE_PAD_CIRCULAR, &x, &y);
  long      nonzero = 0;
  for (size_t k = 0; k < y.size; k++)
    nonzero += y.data[k] != 0.0f;
  const int bad = !done || nonzero;
  printf("%s chain: subnormal inputs read as zeros in every column (%d -> 1, %dx%d kernel): %ld "
         "of %zu outputs not 0\n",
         bad ? "FAIL" : "ok  ", Cin, K, K, nonzero, y.size);
  failures += bad;
  GyreTensorDestroy(&L1.W), GyreTensorDestroy(&L1.b), GyreTensorDestroy(&L1.st);
  GyreTensorDestroy(&x), GyreTensorDestroy(&y);
}

/* the bf16 chain where AMX or AVX-512 BF16 runs it (else 77: ctest's skip, with the refusal's
 * message checked) */
static int test_chains(void)
{
  GyreBackend *bf;
  CHECK(GyreBackendCreate("cpu", 1, &bf));
  if (GyreBackendSetPrecision(bf, "bf16") != GYRE_OK) {
    const int named = strstr(GyreStatusMessage(), "AMX") && strstr(GyreStatusMessage(), "AVX-512");
    printf("%s chain: bf16 refused on this machine: %s\n", named ? "skip" : "FAIL",
           GyreStatusMessage());
    GyreBackendDestroy(&bf);
    if (!named) failures++;
    return !named ? 1 : 77;
  }
  const int R = GYRE_ACT_RELU, G = GYRE_ACT_GELU, T = GYRE_ACT_TANH;
  /* the ns2d closure's small CNN: 1 -> 8 (5x5) -> 8 (3x3) -> 1 (3x3), ReLU and batch norm */
  const int small[3][5] = {{1, 8, 5, R, 1}, {8, 8, 3, R, 1}, {8, 1, 3, -1, 0}};
  for (int l = 0; l < 3; l++)
    test_chain(bf, 2, 1, 20, 64, GYRE_PAD_CIRCULAR, 1, &small[l]);
  test_chain(bf, 2, 1, 24, 64, GYRE_PAD_CIRCULAR, 3, small);
  test_chain(bf, 2, 2, 9, 13, GYRE_PAD_CIRCULAR, 3, small); /* rows narrower than a tile */
  test_chain(bf, 2, 1, 7, 37, GYRE_PAD_ZERO, 3, small);     /* an odd number of blocks */
  /* more than 16 output channels (two tiles, three), more than 32 products a kernel row (chunks),
   * GELU and tanh, no batch norm, a 1x1 kernel */
  const int wide[3][5] = {{3, 20, 3, G, 0}, {20, 33, 3, T, 1}, {33, 2, 1, -1, 0}};
  for (int l = 0; l < 3; l++)
    test_chain(bf, 2, 1, 6, 23, GYRE_PAD_ZERO, 1, &wide[l]);
  test_chain(bf, 2, 2, 11, 18, GYRE_PAD_CIRCULAR, 3, wide);
  /* one input channel (two input rows a stored pixel) with an odd kernel, 5 output channels (8
   * columns a pixel, 2 pixels a tile row), into a 2-channel layer */
  const int one_ch[2][5] = {{1, 5, 3, T, 0}, {5, 2, 3, R, 1}};
  test_chain(bf, 2, 1, 6, 23, GYRE_PAD_ZERO, 1, one_ch);
  test_chain(bf, 2, 2, 7, 21, GYRE_PAD_CIRCULAR, 2, one_ch);
  const int deep[4][5] = {
      {2, 40, 5, R, 1}, {40, 16, 3, R, 1}, {16, 17, 5, G, 1}, {17, 1, 3, -1, 0}};
  test_chain(bf, 2, 1, 10, 40, GYRE_PAD_CIRCULAR, 4, deep);
  /* 1-D */
  const int one[2][5] = {{2, 8, 5, R, 1}, {8, 3, 3, T, 0}};
  test_chain(bf, 1, 3, 1, 50, GYRE_PAD_CIRCULAR, 2, one);
  test_chain(bf, 1, 1, 1, 9, GYRE_PAD_ZERO, 2, one);
  /* rows narrower than a tile row's pixels (1 output channel: up to 8 pixels a tile row), from
   * 1, 2 and 4 channels; a 3-layer CNN on a field 3 wide */
  for (int X = 1; X <= 7; X++)
    for (int ci = 1; ci <= 4; ci *= 2) {
      const int narrow[1][5] = {{ci, 1, 3, -1, 0}};
      test_chain(bf, 2, 1, 5, X, X % 2 ? GYRE_PAD_CIRCULAR : GYRE_PAD_ZERO, 1, narrow);
    }
  const int thin[3][5] = {{1, 4, 5, R, 1}, {4, 4, 3, R, 1}, {4, 1, 3, -1, 0}};
  test_chain(bf, 2, 1, 32, 3, GYRE_PAD_CIRCULAR, 3, thin);
  /* a 1-channel first layer with a kernel so wide (17) that its run is stored padded to 32
   * channels (not two input rows a pixel) */
  const int wide1[2][5] = {{1, 4, 17, R, 1}, {4, 1, 3, -1, 0}};
  test_chain(bf, 2, 1, 20, 24, GYRE_PAD_CIRCULAR, 2, wide1);
  /* a 1-channel first layer of 7 x 7 (rows in pairs, its last row in column pairs on the planar
   * path), alone with zero padding on rows narrower than 16, and into a 3-channel layer */
  const int k7[2][5] = {{1, 3, 7, T, 0}, {3, 2, 3, R, 1}};
  test_chain(bf, 2, 2, 11, 13, GYRE_PAD_ZERO, 1, k7);
  test_chain(bf, 2, 1, 14, 37, GYRE_PAD_CIRCULAR, 2, k7);
  /* one output channel on fields at least 16 x 16: 16 output rows a tile's columns (conv_amx.c's
   * tr layers): sizes not multiples of 16 (the last band and block shifted back), a hidden
   * 1-channel layer, a run of several chunks (20 and 33 channels), a kernel of 5 rows, GELU */
  const int rows1[3][5] = {{2, 1, 3, R, 1}, {1, 3, 3, T, 0}, {3, 1, 5, -1, 0}};
  test_chain(bf, 2, 1, 19, 37, GYRE_PAD_ZERO, 3, rows1);
  test_chain(bf, 2, 2, 33, 16, GYRE_PAD_CIRCULAR, 3, rows1);
  const int rows2[2][5] = {{3, 20, 3, G, 1}, {20, 1, 3, G, 1}};
  test_chain(bf, 2, 1, 16, 21, GYRE_PAD_CIRCULAR, 2, rows2);
  const int rows3[1][5] = {{33, 1, 3, -1, 0}};
  test_chain(bf, 2, 1, 17, 18, GYRE_PAD_ZERO, 1, rows3);
  /* a NaN in the input reaches the output (the guard's test of the network's output): a tile row
   * is at most 8 pixels, and a 1-channel first layer reads its kernel rows in pairs, the odd last
   * with a zero weight: one row above too (conv_amx.c); with one output channel on a 32 x 32
   * field (a tr layer), also the other output rows of the 16-row band whose input rows hold it
   * (0 x NaN: rows 0-15, which read input rows 0-17; the band 16-31 reads rows 16-31 and 0-1),
   * in its columns. These are AMX's bounds. The planar path (AVX-512 BF16) reaches only the
   * kernels' points and, from a 1-channel first layer with an odd kernel, the point a column left
   * of the top row's reach (its last row's odd column pair: 0 x NaN) */
  if (!strcmp(GyreCPUBF16Unit(), "AMX")) {
    nan_reach(bf, 1, 8, 16, 3, 5, 1, 4, 8, "one channel in and out, 8 x 16");
    nan_reach(bf, 2, 32, 32, 10, 5, 0, 15, 1, "two channels in, one out, 32 x 32");
  } else {
    nan_reach(bf, 1, 8, 16, 3, 5, 2, 4, 2, "one channel in and out, 8 x 16");
    nan_reach(bf, 2, 32, 32, 10, 5, 9, 11, 1, "two channels in, one out, 32 x 32");
  }
  subnormal_zero(bf, 2, 1); /* (two channels a pair: a row's last 4 columns converted alone) */
  subnormal_zero(bf, 1, 3); /* (two rows a pixel, the padding columns converted alone) */
  /* at fp32 the op declines */
  {
    GyreTensor x, y;
    ChainLayer L1 = {.Cin = 1, .Cout = 8, .K = 3, .act = R};
    tensor(&L1.W, 4, 8, 1, 3, 3), tensor(&L1.b, 1, 8, 0, 0, 0), tensor(&L1.st, 1, 32, 0, 0, 0);
    tensor(&x, 4, 1, 1, 8, 16), tensor(&y, 4, 1, 8, 8, 16);
    const int done = chain_run(be1, 1, &L1, GYRE_PAD_CIRCULAR, &x, &y);
    printf("%s chain at fp32: %s\n", done ? "FAIL" : "ok  ", done ? "run" : "declined");
    failures += done != 0;
    GyreTensorDestroy(&L1.W), GyreTensorDestroy(&L1.b), GyreTensorDestroy(&L1.st);
    GyreTensorDestroy(&x), GyreTensorDestroy(&y);
  }
  GyreBackendDestroy(&bf);
  return 0;
}

/* ---- spectral convolution ---- */
static void test_spectral(int dims, int N, int Cin, int Cout, int Y, int X, int MY, int MX)
{
  Case c = {0};
  if (dims == 1) Y = 1, MY = 1;
  const int nb = dims == 1 ? 1 : 2;
  snprintf(c.name, sizeof c.name, "spectral%dd N%d C%d->%d %dx%d modes %dx%d", dims, N, Cin, Cout,
           Y, X, MY, MX);
  c.kind = OP_SPEC, c.eps = 1e-2;
  if (dims == 1) {
    tensor(&c.x, 3, N, Cin, X, 0), tensor(&c.y, 3, N, Cout, X, 0);
    tensor(&c.Wr, 3, Cin, Cout, MX, 0), tensor(&c.Wi, 3, Cin, Cout, MX, 0);
  } else {
    /* (2, Cin, Cout, MY, MX) held as (2 Cin, Cout, MY, MX): GYRE_TENSOR_MAX_DIMS is 4 */
    tensor(&c.x, 4, N, Cin, Y, X), tensor(&c.y, 4, N, Cout, Y, X);
    tensor(&c.Wr, 4, 2 * Cin, Cout, MY, MX), tensor(&c.Wi, 4, 2 * Cin, Cout, MY, MX);
  }
  randomize(&c.x, 0), randomize(&c.Wr, 0), randomize(&c.Wi, 0);
  forward(be1, &c);
  /* direct DFT reference: x_hat on the kept modes, y = 1/(XY) sum c_kx Re(F e^{+i phi}) */
  double   *ref = calloc(c.y.size, sizeof(double));
  const int nm  = nb * MY * MX;
  double   *xr = malloc(sizeof(double) * Cin * nm), *xi = malloc(sizeof(double) * Cin * nm);
  for (int n = 0; n < N; n++) {
    for (int i = 0; i < Cin; i++)
      for (int m = 0; m < nm; m++) {
        const int b = m / (MY * MX), r = (m / MX) % MY, kx = m % MX, ky = b ? Y - MY + r : r;
        double    sr = 0, si = 0;
        for (int y = 0; y < Y; y++)
          for (int x = 0; x < X; x++) {
            double ph = -2 * M_PI * ((double) ky * y / Y + (double) kx * x / X);
            double v  = c.x.data[((size_t) (n * Cin + i) * Y + y) * X + x];
            sr += v * cos(ph), si += v * sin(ph);
          }
        xr[i * nm + m] = sr, xi[i * nm + m] = si;
      }
    for (int o = 0; o < Cout; o++)
      for (int m = 0; m < nm; m++) {
        const int b = m / (MY * MX), r = (m / MX) % MY, kx = m % MX, ky = b ? Y - MY + r : r;
        double    Fr = 0, Fi = 0;
        for (int i = 0; i < Cin; i++) {
          size_t w  = ((size_t) (b * Cin + i) * Cout + o) * MY * MX + r * MX + kx;
          double wr = c.Wr.data[w], wi = c.Wi.data[w];
          Fr += xr[i * nm + m] * wr - xi[i * nm + m] * wi;
          Fi += xr[i * nm + m] * wi + xi[i * nm + m] * wr;
        }
        const double ck = (kx == 0 || 2 * kx == X) ? 1 : 2;
        for (int y = 0; y < Y; y++)
          for (int x = 0; x < X; x++) {
            double ph = 2 * M_PI * ((double) ky * y / Y + (double) kx * x / X);
            ref[((size_t) (n * Cout + o) * Y + y) * X + x] +=
                ck * (Fr * cos(ph) - Fi * sin(ph)) / ((double) X * Y);
          }
      }
  }
  report(c.name, "forward", rel_err(c.y.size, c.y.data, ref), FWD_TOL, &worst_fwd);
  free(ref), free(xr), free(xi);
  make_grads(&c);
  check_gradients(&c, 1);
  destroy_case(&c);
}

/* concurrent calls (the inference API is thread-safe): 4 threads each run a spectral
 * convolution of a shape not seen before (planning concurrently, through the plan cache);
 * the results equal the serial ones bitwise */
static void test_spectral_concurrent(void)
{
  enum { T = 4 };
  GyreTensor x[T], Wr[T], Wi[T], yp[T], ys[T];
  int        bad = 0;
  for (int t = 0; t < T; t++) {
    tensor(&x[t], 4, 2, 2, 6, 20 + t), randomize(&x[t], 0);
    tensor(&Wr[t], 4, 4, 2, 2, 3), randomize(&Wr[t], 0);
    tensor(&Wi[t], 4, 4, 2, 2, 3), randomize(&Wi[t], 0);
    tensor(&yp[t], 4, 2, 2, 6, 20 + t), tensor(&ys[t], 4, 2, 2, 6, 20 + t);
  }
#pragma omp parallel for num_threads(T)
  for (int t = 0; t < T; t++)
    if (GyreCPUSpectralForward(be1, &x[t], &Wr[t], &Wi[t], &yp[t]) != GYRE_OK) bad = 1;
  for (int t = 0; t < T; t++) {
    CHECK(GyreCPUSpectralForward(be1, &x[t], &Wr[t], &Wi[t], &ys[t]));
    if (memcmp(yp[t].data, ys[t].data, sizeof(float) * ys[t].size)) bad = 1;
    GyreTensorDestroy(&x[t]), GyreTensorDestroy(&Wr[t]), GyreTensorDestroy(&Wi[t]);
    GyreTensorDestroy(&yp[t]), GyreTensorDestroy(&ys[t]);
  }
  printf("%s %-40s concurrent calls equal serial ones\n", bad ? "FAIL" : "ok  ",
         "spectral2d 4 threads, new shapes");
  failures += bad;
}

/* the backends' knobs (GyreBackendCheckEnv): every value the README gives each one is taken,
 * and a value it does not take is one error naming the variable and the value */
static void test_env_knobs(void)
{
  static const struct {
    const char *name, *good[8], *bad[4];
  } k[] = {
      {"GYRE_MLP_FUSED", {"0", "1", ""}, {"yes", "00", " 0"}},
      {"GYRE_DENSE_DIRECT", {"0", "1"}, {"off"}},
      {"GYRE_CPU_AVX512", {"0", "1", "2"}, {"3", "-1", "2x"}},
      {"GYRE_GELU_AVX2", {"0", "1"}, {"no"}},
      {"GYRE_CPU_AMX", {"0", "1"}, {"2"}},
      {"GYRE_RELU_INPLACE", {"0", "1"}, {"false"}},
      {"GYRE_CONV_ALGO", {"im2col", "shift", "direct", "fft"}, {"bogus", "FFT", "fft:5"}},
      {"GYRE_NCCL", {"0", "1", "force"}, {"on"}},
      {"GYRE_CUDA_CONV",
       {"auto", "implicit", "shift", "im2col", "direct", "fft", "fft:25", "fft:1"},
       {"fft:0", "fft:1e3", "fft: 5", "fft:2.5"}},
      {"GYRE_CUDA_POST", {"0", "1"}, {"off"}},
      {"GYRE_CUDA_PROFILE", {"0", "1", "2"}, {"yes"}},
      {"GYRE_CUDA_GRAPH", {"0", "1"}, {"2"}},
      {"GYRE_CUDA_PW", {"gemm"}, {"kernel"}},
      {"GYRE_CUDA_PW_DW", {"loop"}, {"1"}},
      {"GYRE_CUDA_IM2COL_MB", {"1024", "0.001", "64", "1e3"}, {"0", "inf", "0x10", " 5"}},
      {"GYRE_CUDA_IM2COL_MB", {".5"}, {"1e400", "-1", "1e", "big"}},
      {"GYRE_CUDA_CONV", {"fft:2147483647"}, {"fft:2147483648", "fft:+5", "fft:0x10", "gemm"}},
      {"GYRE_CUDA_IGEMM_BN", {"64", "128"}, {"32"}},
      {"GYRE_CUDA_IGEMM_TN", {"4", "8"}, {"16"}},
      {"GYRE_CUDA_IGEMM_TC", {"0", "3"}, {"1"}},
      {"GYRE_CUDA_IGEMM_DW_BK", {"8", "32"}, {"16"}},
      {"GYRE_CUDA_IGEMM_DW_HOIST", {"0", "1"}, {"yes"}},
      {"GYRE_CUDA_IGEMM_SPLIT", {"0", "1"}, {"no"}},
      {"GYRE_CUDA_MODES_TILED", {"0", "1"}, {"-1"}},
      {"GYRE_CUDA_TWIDDLE", {"0", "1"}, {"table"}},
  };
  int checked = 0;
  for (size_t i = 0; i < sizeof k / sizeof k[0]; i++) {
    char *saved = getenv(k[i].name) ? strdup(getenv(k[i].name)) : NULL;
    for (int g = 0; g < 8 && k[i].good[g]; g++, checked++) {
      setenv(k[i].name, k[i].good[g], 1);
      if (GyreBackendCheckEnv() != GYRE_OK) {
        fprintf(stderr, "FAIL knobs: %s=%s refused: %s\n", k[i].name, k[i].good[g],
                GyreStatusMessage());
        failures++;
      }
    }
    for (int b = 0; b < 4 && k[i].bad[b]; b++, checked++) {
      char want[96];
      snprintf(want, sizeof want, "environment variable %s=%s: it takes ", k[i].name, k[i].bad[b]);
      setenv(k[i].name, k[i].bad[b], 1);
      GyreBackend     *x     = NULL;
      const GyreStatus st    = GyreBackendCheckEnv();
      const int        named = st == GYRE_ERR_ARG && strstr(GyreStatusMessage(), want);
      if (!named || GyreBackendCreate("cpu", 1, &x) != GYRE_ERR_ARG || x) {
        fprintf(stderr, "FAIL knobs: %s=%s not refused as expected (%s)\n", k[i].name, k[i].bad[b],
                st ? GyreStatusMessage() : "taken");
        failures++;
      }
    }
    if (saved)
      setenv(k[i].name, saved, 1), free(saved);
    else
      unsetenv(k[i].name);
  }
  printf("knobs: %d values of %zu knobs checked\n", checked, sizeof k / sizeof k[0]);
}

int main(int argc, char **argv)
{
  const char *what = argc > 1 ? argv[1] : "all";
  int         all  = !strcmp(what, "all");
  CHECK(GyreBackendCreate("cpu", 1, &be1));
  CHECK(GyreBackendCreate("cpu", 4, &be4));

  if (all || !strcmp(what, "dense")) {
    test_dense(4, 5, 3, 1);
    test_dense(7, 3, 6, 0);
    test_dense(1, 9, 2, 1);
    /* the direct kernel of small layers (M N K <= 32768: full blocks of 8 outputs and of 8
     * columns, a K tail, an N tail, both) and sgemm beyond */
    test_dense(8, 32, 32, 1);
    test_dense(8, 5, 32, 1);
    test_dense(8, 32, 1, 0);
    test_dense(5, 13, 19, 1);
    test_dense(64, 40, 24, 1);
    test_dense(256, 32, 32, 1);
    test_dense_rows();
  }
  if (all || !strcmp(what, "knobs")) test_env_knobs();
  if (all || !strcmp(what, "act"))
    for (int a = 0; a < 3; a++) {
      test_act((GyreActivation) a);
      test_act_positions((GyreActivation) a);
    }
  if (all || !strcmp(what, "act")) test_tanh_values(), test_relu_values();
  if (all || !strcmp(what, "mlp")) {
    /* the l96 closure (5 -> 32 -> 32 -> 1 on 8 sectors); blocks of 8 outputs and a tail; rows
     * not a multiple of 8; the widest layers (128); enough rows for the threads */
    const int l96[] = {5, 32, 32, 1}, odd[] = {7, 13, 3}, wide[] = {128, 128, 64, 2},
              deep[] = {3, 9, 17, 8, 4, 1}, w8[] = {5, 8, 8, 1}, mixed[] = {12, 16, 10, 20, 3};
    test_mlp(3, l96, GYRE_ACT_GELU, 1, 8);
    test_mlp(3, l96, GYRE_ACT_GELU, 1, 13);
    test_mlp(2, odd, GYRE_ACT_RELU, 0, 5);
    test_mlp(2, odd, GYRE_ACT_TANH, 1, 1);
    test_mlp(3, wide, GYRE_ACT_GELU, 1, 11);
    test_mlp(5, deep, GYRE_ACT_TANH, 1, 21);
    test_mlp(3, l96, GYRE_ACT_GELU, 1, 1000);
    /* the l96-closure experiment's width (8); inputs over 8 and over 16, groups of 8 outputs
     * with tails of 2 and 4 */
    test_mlp(3, w8, GYRE_ACT_GELU, 1, 8);
    test_mlp(3, w8, GYRE_ACT_RELU, 1, 19);
    test_mlp(4, mixed, GYRE_ACT_GELU, 1, 16);
    test_mlp(4, mixed, GYRE_ACT_RELU, 0, 9);
  }
  if (all || !strcmp(what, "loss")) {
    test_loss(0);
    test_loss(1);
  }
  if (all || !strcmp(what, "conv")) {
    const int K[] = {1, 3, 5};
    for (int p = 0; p < 2; p++)
      for (int k = 0; k < 3; k++) {
        test_conv(1, 3, 2, 3, 1, 7, 1, K[k], (GyrePadding) p, 1, 1);
        test_conv(2, 3, 2, 3, 5, 6, K[k], K[k], (GyrePadding) p, 1, 1);
      }
    test_conv(2, 3, 2, 2, 6, 5, 3, 5, GYRE_PAD_CIRCULAR, 0, 1);
    test_conv(2, 2, 3, 2, 4, 7, 5, 3, GYRE_PAD_ZERO, 0, 1);
    /* circular with an even number of rows (GYRE_CONV_ALGO=fft runs these through the FFT) */
    test_conv(2, 2, 5, 4, 8, 6, 5, 5, GYRE_PAD_CIRCULAR, 1, 1);
    test_conv(2, 2, 3, 2, 4, 9, 3, 1, GYRE_PAD_CIRCULAR, 1, 1);
    test_conv(2, 2, 16, 3, 16, 12, 5, 5, GYRE_PAD_CIRCULAR, 1, 0);
    /* the direct forward's register blocks (Cout <= 8, by default where AVX2 + FMA): groups
     * of 4 output channels and a narrower last one (8, 5, 3), blocks of 2, 4 or 8 vectors of 8
     * columns with the last block shifted back (X not a multiple of the block), a masked last
     * vector, rows narrower than a block (half blocks) or than half a block (single vectors: X
     * = 11 with 1 channel), the kernel's width unrolled (3, 5) or not (7) */
    test_conv(2, 2, 3, 8, 5, 29, 3, 3, GYRE_PAD_CIRCULAR, 1, 0);
    test_conv(2, 1, 2, 5, 6, 53, 5, 5, GYRE_PAD_ZERO, 1, 0);
    test_conv(2, 2, 4, 3, 4, 37, 3, 7, GYRE_PAD_CIRCULAR, 0, 0);
    test_conv(2, 1, 8, 1, 7, 11, 3, 3, GYRE_PAD_ZERO, 1, 1);
    test_conv(1, 2, 5, 2, 1, 70, 1, 5, GYRE_PAD_CIRCULAR, 1, 0);
    test_conv(2, 1, 8, 1, 5, 45, 3, 3, GYRE_PAD_CIRCULAR, 1, 0); /* 1 channel: half blocks */
    test_conv(2, 1, 3, 2, 4, 20, 3, 3, GYRE_PAD_ZERO, 1, 0);     /* 2 channels: half blocks */
    test_conv_direct_block(1, 8, 9, 21, 5, GYRE_PAD_CIRCULAR);
    test_conv_direct_block(8, 8, 7, 30, 3, GYRE_PAD_ZERO);
    test_conv_direct_block(8, 1, 12, 64, 3, GYRE_PAD_CIRCULAR);
    test_conv_direct_block(8, 1, 5, 45, 3, GYRE_PAD_CIRCULAR);
    /* the convolution with its activation and batch norm in one op (a CNN's inference) */
    test_conv_post(1, 8, 9, 21, 5, GYRE_PAD_CIRCULAR, GYRE_ACT_RELU, 1);
    test_conv_post(8, 8, 7, 30, 3, GYRE_PAD_ZERO, GYRE_ACT_GELU, 1);
    test_conv_post(8, 5, 6, 13, 3, GYRE_PAD_CIRCULAR, GYRE_ACT_TANH, 0);
    test_conv_post(8, 1, 12, 64, 3, GYRE_PAD_CIRCULAR, -1, 1);
    test_conv_post(3, 3, 5, 29, 3, GYRE_PAD_CIRCULAR, GYRE_ACT_RELU, 0);
    test_conv_post(4, 16, 5, 11, 3, GYRE_PAD_CIRCULAR, GYRE_ACT_RELU, 1); /* 16: GEMMs */
    test_conv_post(4, 3, 5, 11, 1, GYRE_PAD_CIRCULAR, GYRE_ACT_RELU, 1);  /* 1 x 1: GEMM */
    /* kernels as wide as the grid or wider (im2col's shifted rows entirely padding; circular
     * padding wrapping more than once) */
    for (int p = 0; p < 2; p++) {
      test_conv(2, 2, 2, 3, 2, 2, 5, 5, (GyrePadding) p, 1, 1);
      test_conv(1, 2, 2, 2, 1, 1, 1, 3, (GyrePadding) p, 1, 1);
      test_conv(1, 1, 3, 2, 1, 2, 1, 7, (GyrePadding) p, 0, 1);
    }
    /* large enough for the im2col to work in blocks of rows (under GYRE_CONV_ALGO=im2col; by
     * default 48 channels take the shift-GEMM): directional derivatives */
    test_conv(2, 2, 48, 2, 3, 1100, 5, 5, GYRE_PAD_CIRCULAR, 1, 0);
    test_conv(2, 2, 48, 2, 3, 1100, 5, 5, GYRE_PAD_ZERO, 1, 0);
  }
  int skipped = 0;
  if (all || !strcmp(what, "chain")) skipped = test_chains() == 77;
  if (all || !strcmp(what, "spectral")) {
    test_spectral(1, 3, 2, 3, 1, 16, 1, 4);
    test_spectral(1, 3, 2, 3, 1, 16, 1, 9); /* M = X/2 + 1 (Nyquist kept) */
    test_spectral(1, 3, 2, 3, 1, 15, 1, 8); /* odd X, M = X/2 + 1 */
    test_spectral(1, 2, 3, 2, 1, 15, 1, 1); /* only the mean */
    test_spectral(2, 3, 2, 3, 8, 8, 2, 3);
    test_spectral(2, 3, 2, 3, 8, 8, 4, 5);  /* 2 MY = Y, MX = X/2 + 1 */
    test_spectral(2, 3, 2, 2, 7, 9, 3, 5);  /* odd Y and X, MX = X/2 + 1 */
    test_spectral(2, 2, 2, 3, 6, 10, 1, 6); /* MX = X/2 + 1, even X */
    test_spectral(2, 2, 1, 2, 6, 5, 1, 1);
    test_spectral_concurrent();
  }
  printf("worst: forward %.3e  gradient(FD) %.3e  accumulate %.3e  threads %.3e\n", worst_fwd,
         worst_fd, worst_acc, worst_thr);
  GyreBackendDestroy(&be1);
  GyreBackendDestroy(&be4);
  if (failures) {
    printf("%d check(s) FAILED\n", failures);
    return 1;
  }
  if (skipped && !strcmp(what, "chain")) {
    printf("skipped: this machine does not run bf16 on the CPU (no AMX, no AVX-512 BF16)\n");
    return 77;
  }
  printf("all checks passed\n");
  return 0;
}
