/* mlp.c — an MLP's inference in one pass (the mlp_forward op, gyre_nn.h): every dense layer
 * and its activation on blocks of 8 rows, the activations kept feature-major in two small
 * buffers (h[k][lane], lane = one row), so that a layer is broadcast weight x 8 rows by FMA and
 * nothing is transposed, allocated or dispatched per layer. A closure MLP on a rank's few points
 * (Lorenz-96: 8 sectors, 5 -> 32 -> 32 -> 1) spent most of a call in the layer-by-layer
 * plumbing (shapes, tensors, one op per layer, the dense kernel's horizontal sums).
 *
 * Each output is b_j + sum_k W_jk h_k accumulated in k order by FMA (on AVX2 + FMA; outputs past
 * the last full block of 8 in four chains over k mod 4, added pairwise at the end, so that one
 * output alone, e.g. a closure's, is not one long chain of FMA latencies; a plain multiply-add
 * in k order where the CPU lacks AVX2 + FMA), each lane on its own row: a row's result does not
 * depend on the call's row count, on where the row falls in its block (the last block is padded
 * with zeros) or on the thread count. Activations through GyreCPUActRange (GyreCPUActForward's
 * arithmetic). network.c uses it for GyreNetInfer (GYRE_MLP_FUSED=0 there: the layers one by
 * one, for comparisons) and GyreNetInferHost: a per-point surrogate's call (inference.c) passes
 * its normalisation (GyreMLPAffine), applied here on the block's way in and out with the same
 * double arithmetic as the surrogate's separate passes (bitwise their result), so that a
 * closure's call makes no tensor, copy or normalisation pass of its own. Where the CPU has AVX2
 * and FMA, each layer's activation is applied to its outputs in registers (act_avx2.h: the
 * activation loops' arithmetic) and a full block of 8 rows is read, normalised and written
 * back vector by vector (mlp_block8_avx2): bitwise the separate passes' result; where it has
 * AVX512F + VL the same code compiled for it (mlp_block8_avx512: the same arithmetic in fewer
 * instructions, GyreCPUMLPAVX512). The input may be a view (xoff): row r's feature k at
 * x[r + xoff[k]], a feature of a full block one load (a per-point closure's stencils read from
 * one padded copy of its field: solvers/surrogate_eval.c). */
#include <stdlib.h>
#include <string.h>
#include "cpu_ops.h"
#if defined(__GNUC__) && defined(__x86_64__)
#include <cpuid.h>
#endif

#define MLP_LANES 8
#define MLP_MAX GYRE_MLP_FUSED_MAX

typedef struct {
  int                 nl;
  const float *const *W, *const *b;
  const int           *K, *N, *act;
  int                  gelu_avx; /* GyreCPUGeluAVX2(), decided before the threads */
  const GyreMLPAffine *aff;      /* the normalisation on the way in and out, or NULL */
  const int           *xoff;     /* the input view (mlp_forward's xoff), or NULL: rows */
} Mlp;

/* one layer on a block: out[j][l] = b_j + sum_k W_jk in[k][l] (K inputs, N outputs) */
static void layer_generic(int K, int N, const float *W, const float *b, const float *in, float *out)
{
  for (int j = 0; j < N; j++) {
    float acc[MLP_LANES];
    for (int l = 0; l < MLP_LANES; l++)
      acc[l] = b ? b[j] : 0.0f;
    for (int k = 0; k < K; k++)
      for (int l = 0; l < MLP_LANES; l++)
        acc[l] += W[(size_t) j * K + k] * in[k * MLP_LANES + l];
    memcpy(out + j * MLP_LANES, acc, sizeof acc);
  }
}

/* the input normalised in the block, feature k's 8 lanes at a time (GyreMLPAffine) */
static void normalise_generic(int K, const GyreMLPAffine *a, float *h)
{
  for (int k = 0; k < K; k++) {
    const double m = a->in_mean[k], r = a->in_inv[k];
    for (int l = 0; l < MLP_LANES; l++)
      h[k * MLP_LANES + l] = (float) (((double) h[k * MLP_LANES + l] - m) * r);
  }
}

#if defined(__GNUC__) && defined(__x86_64__)
#include "act_avx2.h"
/* activation act (< 0: none) of 8 output vectors in registers: act_avx2_vec, the AVX2 loops'
 * arithmetic (activation.c) */
#define MLP_ACT8(act, a0, a1, a2, a3, a4, a5, a6, a7)                                              \
  do {                                                                                             \
    if ((act) >= 0) {                                                                              \
      a0 = act_avx2_vec(act, a0), a1 = act_avx2_vec(act, a1), a2 = act_avx2_vec(act, a2);          \
      a3 = act_avx2_vec(act, a3), a4 = act_avx2_vec(act, a4), a5 = act_avx2_vec(act, a5);          \
      a6 = act_avx2_vec(act, a6), a7 = act_avx2_vec(act, a7);                                      \
    }                                                                                              \
  } while (0)

/* one layer on a block by FMA; act (< 0: none) applied to the outputs before they are stored
 * (bitwise the separate pass: the same lanes through the same arithmetic) */
__attribute__((target("avx2,fma"), always_inline)) static inline void
layer_avx2_body(int K, int N, const float *W, const float *b, int act, const float *in, float *out)
{
  int j = 0;
  /* eight outputs at a time: eight independent FMA chains (four left the FMA units waiting on
   * the previous FMA's latency) */
  for (; j + 8 <= N; j += 8) {
    const float *w0 = W + (size_t) j * K, *w1 = w0 + K, *w2 = w1 + K, *w3 = w2 + K, *w4 = w3 + K,
                *w5 = w4 + K, *w6 = w5 + K, *w7 = w6 + K;
    __m256 a0, a1, a2, a3, a4, a5, a6, a7;
    if (b) {
      a0 = _mm256_broadcast_ss(b + j), a1 = _mm256_broadcast_ss(b + j + 1);
      a2 = _mm256_broadcast_ss(b + j + 2), a3 = _mm256_broadcast_ss(b + j + 3);
      a4 = _mm256_broadcast_ss(b + j + 4), a5 = _mm256_broadcast_ss(b + j + 5);
      a6 = _mm256_broadcast_ss(b + j + 6), a7 = _mm256_broadcast_ss(b + j + 7);
    } else
      a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = _mm256_setzero_ps();
    for (int k = 0; k < K; k++) {
      const __m256 h = _mm256_loadu_ps(in + k * MLP_LANES);
      a0             = _mm256_fmadd_ps(_mm256_broadcast_ss(w0 + k), h, a0);
      a1             = _mm256_fmadd_ps(_mm256_broadcast_ss(w1 + k), h, a1);
      a2             = _mm256_fmadd_ps(_mm256_broadcast_ss(w2 + k), h, a2);
      a3             = _mm256_fmadd_ps(_mm256_broadcast_ss(w3 + k), h, a3);
      a4             = _mm256_fmadd_ps(_mm256_broadcast_ss(w4 + k), h, a4);
      a5             = _mm256_fmadd_ps(_mm256_broadcast_ss(w5 + k), h, a5);
      a6             = _mm256_fmadd_ps(_mm256_broadcast_ss(w6 + k), h, a6);
      a7             = _mm256_fmadd_ps(_mm256_broadcast_ss(w7 + k), h, a7);
    }
    switch (act) { /* (one switch for the 8, outside act_avx2_vec) */
    case GYRE_ACT_RELU:
      MLP_ACT8(GYRE_ACT_RELU, a0, a1, a2, a3, a4, a5, a6, a7);
      break;
    case GYRE_ACT_GELU:
      MLP_ACT8(GYRE_ACT_GELU, a0, a1, a2, a3, a4, a5, a6, a7);
      break;
    case GYRE_ACT_TANH:
      MLP_ACT8(GYRE_ACT_TANH, a0, a1, a2, a3, a4, a5, a6, a7);
      break;
    }
    float *o = out + j * MLP_LANES;
    _mm256_storeu_ps(o, a0), _mm256_storeu_ps(o + 8, a1), _mm256_storeu_ps(o + 16, a2);
    _mm256_storeu_ps(o + 24, a3), _mm256_storeu_ps(o + 32, a4), _mm256_storeu_ps(o + 40, a5);
    _mm256_storeu_ps(o + 48, a6), _mm256_storeu_ps(o + 56, a7);
  }
  for (; j < N; j++) { /* the last N % 8 one at a time: four chains over k mod 4 */
    const float *w  = W + (size_t) j * K;
    __m256       a0 = _mm256_set1_ps(b ? b[j] : 0.0f), a1 = _mm256_setzero_ps(), a2 = a1, a3 = a1;
    int          k = 0;
    for (; k + 4 <= K; k += 4) {
      const float *h = in + k * MLP_LANES;
      a0             = _mm256_fmadd_ps(_mm256_broadcast_ss(w + k), _mm256_loadu_ps(h), a0);
      a1             = _mm256_fmadd_ps(_mm256_broadcast_ss(w + k + 1), _mm256_loadu_ps(h + 8), a1);
      a2             = _mm256_fmadd_ps(_mm256_broadcast_ss(w + k + 2), _mm256_loadu_ps(h + 16), a2);
      a3             = _mm256_fmadd_ps(_mm256_broadcast_ss(w + k + 3), _mm256_loadu_ps(h + 24), a3);
    }
    for (; k < K; k++)
      a0 = _mm256_fmadd_ps(_mm256_broadcast_ss(w + k), _mm256_loadu_ps(in + k * MLP_LANES), a0);
    _mm256_storeu_ps(out + j * MLP_LANES, act_avx2_vec(act, _mm256_add_ps(_mm256_add_ps(a0, a1),
                                                                          _mm256_add_ps(a2, a3))));
  }
}

/* layer_avx2_body as a function (mlp_block's layers; mlp_block8_avx2 inlines the body) */
__attribute__((target("avx2,fma"))) static void
layer_avx2(int K, int N, const float *W, const float *b, int act, const float *in, float *out)
{
  layer_avx2_body(K, N, W, b, act, in, out);
}

/* input feature k's 8 lanes v normalised: normalise_generic's double arithmetic (exact
 * conversions, a subtraction and a multiplication, one rounding to float) four lanes a vector */
__attribute__((target("avx2,fma"), always_inline)) static inline __m256
normalise_vec_avx2(const GyreMLPAffine *a, int k, __m256 v)
{
  const __m256d m = _mm256_set1_pd(a->in_mean[k]), r = _mm256_set1_pd(a->in_inv[k]);
  const __m256d lo = _mm256_mul_pd(_mm256_sub_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(v)), m), r);
  const __m256d hi =
      _mm256_mul_pd(_mm256_sub_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)), m), r);
  return _mm256_set_m128(_mm256_cvtpd_ps(hi), _mm256_cvtpd_ps(lo));
}

/* normalise_generic on 8 lanes at a time */
__attribute__((target("avx2,fma"))) static void normalise_avx2(int K, const GyreMLPAffine *a,
                                                               float *h)
{
  for (int k = 0; k < K; k++)
    _mm256_storeu_ps(h + k * MLP_LANES,
                     normalise_vec_avx2(a, k, _mm256_loadu_ps(h + k * MLP_LANES)));
}

/* a layer, its activation act applied in registers where the activations run AVX2 too (act
 * < 0: none, or the caller's pass) */
#define MLP_LAYER(avx, K, N, W, b, act, in, out)                                                   \
  ((avx) ? layer_avx2(K, N, W, b, act, in, out) : layer_generic(K, N, W, b, in, out))
#define MLP_NORMALISE(avx, K, a, h) ((avx) ? normalise_avx2(K, a, h) : normalise_generic(K, a, h))
#else
#define MLP_LAYER(avx, K, N, W, b, act, in, out) layer_generic(K, N, W, b, in, out)
#define MLP_NORMALISE(avx, K, a, h) normalise_generic(K, a, h)
#endif

/* rows [r0, r0 + nr) of x (row length K_0, or the view m->xoff) -> y (row length N_last),
 * nr <= MLP_LANES */
static void mlp_block(const Mlp *m, int avx, const float *x, size_t r0, int nr, float *y)
{
  float                h[2][MLP_MAX * MLP_LANES];
  int                  K0 = m->K[0], cur = 0;
  const float         *xb = m->xoff ? x : x + r0 * (size_t) K0; /* (rows: the block's first) */
  const GyreMLPAffine *a  = m->aff;
  if (m->xoff) { /* the view: row r's feature k at x[r + xoff[k]] */
    if (nr < MLP_LANES) memset(h[0], 0, sizeof(float) * (size_t) K0 * MLP_LANES);
    for (int k = 0; k < K0; k++)
      for (int l = 0; l < nr; l++)
        h[0][k * MLP_LANES + l] = x[r0 + (size_t) l + (size_t) m->xoff[k]];
  } else if (nr == MLP_LANES) /* a full block: the lane loop unrolled (the transpose was a third
                               * of a small closure call's own work) */
    for (int k = 0; k < K0; k++)
      for (int l = 0; l < MLP_LANES; l++)
        h[0][k * MLP_LANES + l] = xb[(size_t) l * K0 + k];
  else {
    memset(h[0], 0, sizeof(float) * (size_t) K0 * MLP_LANES); /* padded lanes: zeros */
    for (int l = 0; l < nr; l++)
      for (int k = 0; k < K0; k++)
        h[0][k * MLP_LANES + l] = xb[(size_t) l * K0 + k];
  }
  if (a) /* normalised on the way in (GyreMLPAffine's arithmetic; padded lanes too: unused) */
    MLP_NORMALISE(avx, K0, a, h[0]);
  const int inreg = avx && m->gelu_avx; /* the activations in the layers' registers */
  for (int i = 0; i < m->nl; i++) {
    MLP_LAYER(avx, m->K[i], m->N[i], m->W[i], m->b[i], inreg ? m->act[i] : -1, h[cur], h[1 - cur]);
    cur = 1 - cur;
    if (m->act[i] >= 0 && !inreg)
      GyreCPUActRange((GyreActivation) m->act[i], m->gelu_avx, h[cur], h[cur],
                      (size_t) m->N[i] * MLP_LANES);
  }
  const int N  = m->N[m->nl - 1];
  float    *yb = y + r0 * (size_t) N;
  if (a) /* back to physical units */
    for (int j = 0; j < N; j++) {
      const double mj = a->out_mean[j], sj = a->out_std[j];
      for (int l = 0; l < nr; l++)
        yb[(size_t) l * N + j] = (float) ((double) h[cur][j * MLP_LANES + l] * sj + mj);
    }
  else if (nr == MLP_LANES)
    for (int j = 0; j < N; j++)
      for (int l = 0; l < MLP_LANES; l++)
        yb[(size_t) l * N + j] = h[cur][j * MLP_LANES + l];
  else
    for (int l = 0; l < nr; l++)
      for (int j = 0; j < N; j++)
        yb[(size_t) l * N + j] = h[cur][j * MLP_LANES + l];
}

#if defined(__GNUC__) && defined(__x86_64__)
/* GELU of n consecutive 8-lane vectors of h in place, two a zmm register (gelu_avx512_vec: the
 * same arithmetic lane for lane as gelu_avx2_vec), an odd last one on 8 lanes */
__attribute__((target("avx2,fma,avx512f,avx512vl"))) static void gelu_pairs_avx512(float *h, int n)
{
  int j = 0;
  for (; j + 2 <= n; j += 2)
    _mm512_storeu_ps(h + j * MLP_LANES, gelu_avx512_vec(_mm512_loadu_ps(h + j * MLP_LANES)));
  if (j < n) _mm256_storeu_ps(h + j * MLP_LANES, gelu_avx2_vec(_mm256_loadu_ps(h + j * MLP_LANES)));
}

/* mlp_block on a full block of 8 rows where the layers and activations run AVX2: the rows'
 * features read straight into the feature-major block (eight scalar loads a feature: AVX2's gather
 * instruction, one a feature, was a quarter of a closure call's time on the Xeon of
 * bench/RESULTS.md, 476 -> 355 TSC ticks a call on l96's 8 points; through a view, one load a
 * feature), normalised in registers, and the outputs back to physical units 8 lanes a vector:
 * the same arithmetic as mlp_block's loops (the output's product and sum rounded as they are
 * there, below), so bitwise its result. pairs: each GELU after its layer's stores, two outputs a
 * zmm register (gelu_pairs_avx512; only from mlp_block8_avx512). */
__attribute__((target("avx2,fma"), always_inline)) static inline void
mlp_block8_body(const Mlp *m, const float *x, size_t r0, float *yb, int pairs)
{
  float                h[2][MLP_MAX * MLP_LANES] __attribute__((aligned(32)));
  const int            K0 = m->K[0], N = m->N[m->nl - 1];
  const GyreMLPAffine *a   = m->aff;
  int                  cur = 0;
  if (m->xoff) /* the view: feature k of the 8 rows is 8 consecutive values, one load */
    for (int k = 0; k < K0; k++) {
      const __m256 v = _mm256_loadu_ps(x + r0 + m->xoff[k]);
      _mm256_store_ps(h[0] + k * MLP_LANES, a ? normalise_vec_avx2(a, k, v) : v);
    }
  else {
    const float *xb = x + r0 * (size_t) K0;
    for (int k = 0; k < K0; k++) {
      const __m256 v =
          _mm256_setr_ps(xb[k], xb[K0 + k], xb[2 * K0 + k], xb[3 * K0 + k], xb[4 * K0 + k],
                         xb[5 * K0 + k], xb[6 * K0 + k], xb[7 * K0 + k]);
      _mm256_store_ps(h[0] + k * MLP_LANES, a ? normalise_vec_avx2(a, k, v) : v);
    }
  }
  for (int i = 0; i < m->nl; i++, cur = 1 - cur)
    if (pairs && m->act[i] == GYRE_ACT_GELU) { /* the GELU two outputs a zmm register, after */
      layer_avx2_body(m->K[i], m->N[i], m->W[i], m->b[i], -1, h[cur], h[1 - cur]);
      gelu_pairs_avx512(h[1 - cur], m->N[i]);
    } else
      layer_avx2_body(m->K[i], m->N[i], m->W[i], m->b[i], m->act[i], h[cur], h[1 - cur]);
  for (int j = 0; j < N; j++) {
    __m256 v = _mm256_load_ps(h[cur] + j * MLP_LANES);
    if (a) { /* (float) ((double) h sj + mj) with the product rounded before the sum, as the
              * scalar loops (the build never fuses them: -ffp-contract=off); the barrier keeps
              * a compiler that would fuse intrinsics from doing it here */
      const __m256d sj = _mm256_set1_pd(a->out_std[j]), mj = _mm256_set1_pd(a->out_mean[j]);
      __m256d       lo = _mm256_mul_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(v)), sj);
      __m256d       hi = _mm256_mul_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)), sj);
      __asm__("" : "+x"(lo), "+x"(hi));
      v = _mm256_set_m128(_mm256_cvtpd_ps(_mm256_add_pd(hi, mj)),
                          _mm256_cvtpd_ps(_mm256_add_pd(lo, mj)));
    }
    if (N == 1)
      _mm256_storeu_ps(yb, v);
    else {
      float t[MLP_LANES];
      _mm256_storeu_ps(t, v);
      for (int l = 0; l < MLP_LANES; l++)
        yb[(size_t) l * N + j] = t[l];
    }
  }
}

__attribute__((target("avx2,fma"))) static void mlp_block8_avx2(const Mlp *m, const float *x,
                                                                size_t r0, float *yb)
{
  mlp_block8_body(m, x, r0, yb, 0);
}

/* mlp_block8_avx2 compiled for AVX-512 (AVX512F and VL; GyreCPUMLPAVX512): the same arithmetic
 * lane for lane, so bitwise its result, in fewer instructions (a closure's call on 8 points is
 * mostly instructions issued once each): each weight's broadcast folded into its FMA (an
 * embedded broadcast), 32 vector registers for the activations' constants, and with pairs
 * (GyreCPUMLPAVX512() = 2) each GELU on two outputs' 8 lanes a zmm register. */
__attribute__((target("avx2,fma,avx512f,avx512vl"))) static void
mlp_block8_avx512(const Mlp *m, const float *x, size_t r0, float *yb, int pairs)
{
  if (pairs)
    mlp_block8_body(m, x, r0, yb, 1);
  else
    mlp_block8_body(m, x, r0, yb, 0);
}
#endif

/* mlp_forward's plan (gyre_nn.h): the layers checked, their pointers and shapes, the Mlp over
 * them (its aff set per call) and the CPU's choices, made once */
typedef struct {
  Mlp          m;
  const float *W[64], *b[64];
  int          K[64], N[64], act[64];
  int          avx, avx512; /* avx512: GyreCPUMLPAVX512() when the plan was made */
} Plan;

static GyreStatus plan_init(Plan *p, int nl, const GyreTensor *const *W, const GyreTensor *const *b,
                            const int *act)
{
  if (nl < 1 || nl > 64 || !W || !b || !act)
    return GyreStatusSet(GYRE_ERR_ARG, "cpu mlp_forward: %d layers%s", nl,
                         !W || !b || !act ? " (no weights, biases or activations given)" : "");
  for (int i = 0; i < nl; i++) {
    p->N[i] = (int) W[i]->shape[0];
    p->K[i] =
        (int) (W[i]->ndim == 2 ? W[i]->shape[1] : (int64_t) (W[i]->size / (size_t) W[i]->shape[0]));
    if (p->K[i] > MLP_MAX || p->N[i] > MLP_MAX || (i > 0 && p->K[i] != p->N[i - 1]) ||
        (b[i] && b[i]->size != (size_t) p->N[i]) ||
        (act[i] >= 0 && act[i] != GYRE_ACT_RELU && act[i] != GYRE_ACT_GELU &&
         act[i] != GYRE_ACT_TANH))
      return GyreStatusSet(GYRE_ERR_ARG, "cpu mlp_forward: layer %d (%d -> %d) does not fit", i,
                           p->K[i], p->N[i]);
    p->W[i] = W[i]->data, p->b[i] = b[i] ? b[i]->data : NULL, p->act[i] = act[i];
  }
  p->m      = (Mlp){nl, p->W, p->b, p->K, p->N, p->act, GyreCPUGeluAVX2(), NULL, NULL};
  p->avx    = GyreCPUHasAVX2FMA();
  p->avx512 = p->avx ? GyreCPUMLPAVX512() : 0;
  return GYRE_OK;
}

int GyreCPUMLPAVX512(void)
{
#if defined(__GNUC__) && defined(__x86_64__)
  static int  cpu = -1; /* (relaxed atomics: callers may be threads) */
  int         u   = __atomic_load_n(&cpu, __ATOMIC_RELAXED);
  const char *e   = getenv("GYRE_CPU_AVX512"); /* read at each plan: tests compare the forms */
  if (u < 0) {
    unsigned a = 0, b = 0, c = 0, d = 0;
    __builtin_cpu_init();
    /* zmm arithmetic lowers the clock of Intel cores before Sapphire Rapids (Skylake-SP,
     * Cascade Lake: for the solver's work after the call too); AMD's and Sapphire Rapids'
     * (AVX512-FP16: CPUID leaf 7 EDX bit 23, read directly, as compilers before GCC 12 and
     * clang 15 do not name it) do not */
    const int fp16 = __get_cpuid_count(7, 0, &a, &b, &c, &d) && (d >> 23 & 1u);
    u              = !__builtin_cpu_supports("avx512f") || !__builtin_cpu_supports("avx512vl") ? 0
                     : __builtin_cpu_is("amd") || fp16                                         ? 2
                                                                                               : 1;
    __atomic_store_n(&cpu, u, __ATOMIC_RELAXED);
  }
  /* GYRE_CPU_AVX512=0|1|2: at most that form (AVX2, 8 lanes, GELU on zmm), where the CPU has
   * AVX-512 at all */
  if (e && (!strcmp(e, "0") || !strcmp(e, "1") || !strcmp(e, "2"))) return u ? e[0] - '0' : 0;
  return u;
#else
  return 0;
#endif
}

/* the MLP of plan p on rows x -> y (M rows) */
static GyreStatus plan_run(GyreBackend *be, const Plan *p, const GyreMLPAffine *aff, size_t M,
                           const float *x, const int *xoff, float *y)
{
  Mlp m            = p->m;
  m.aff            = aff;
  m.xoff           = xoff;
  const int    avx = p->avx, Nl = m.N[m.nl - 1];
  const size_t nb = (M + MLP_LANES - 1) / MLP_LANES;
#if defined(__GNUC__) && defined(__x86_64__)
  if (avx && m.gelu_avx) { /* full blocks by mlp_block8_avx2 or _avx512, the last partial one
                            * as below */
    const int z = p->avx512;
    if (M == MLP_LANES) { /* (a closure's 8 points: no loop) */
      if (z)
        mlp_block8_avx512(&m, x, 0, y, z == 2);
      else
        mlp_block8_avx2(&m, x, 0, y);
      return GYRE_OK;
    }
    CPU_PARALLEL_FOR(
        nb, 64, blk, const size_t r0 = blk * MLP_LANES; if (M - r0 >= MLP_LANES) {
          if (z)
            mlp_block8_avx512(&m, x, r0, y + r0 * (size_t) Nl, z == 2);
          else
            mlp_block8_avx2(&m, x, r0, y + r0 * (size_t) Nl);
        } else mlp_block(&m, avx, x, r0, (int) (M - r0), y));
    return GYRE_OK;
  }
#endif
  CPU_PARALLEL_FOR(nb, 64, blk, const size_t r0 = blk * MLP_LANES;
                   mlp_block(&m, avx, x, r0, (int) (M - r0 < MLP_LANES ? M - r0 : MLP_LANES), y));
  return GYRE_OK;
}

/* the call without a plan yet: the layers checked into one (kept where the caller keeps it);
 * apart from the planned call, whose frame then stays small */
#if defined(__GNUC__)
__attribute__((noinline))
#endif
static GyreStatus
forward_unplanned(GyreBackend *be, int nl, const GyreTensor *const *W, const GyreTensor *const *b,
                  const int *act, const GyreMLPAffine *aff, size_t M, const float *x,
                  const int *xoff, float *y, void **plan)
{
  Plan here, *p = plan ? malloc(sizeof *p) : &here;
  if (!p) return GyreStatusSet(GYRE_ERR_MEM, "cpu mlp_forward: out of memory");
  const GyreStatus st = plan_init(p, nl, W, b, act);
  if (st != GYRE_OK) {
    if (p != &here) free(p);
    return st;
  }
  if (plan) *plan = p;
  return plan_run(be, p, aff, M, x, xoff, y);
}

GyreStatus GyreCPUMLPForward(GyreBackend *be, int nl, const GyreTensor *const *W,
                             const GyreTensor *const *b, const int *act, const GyreMLPAffine *aff,
                             size_t M, const float *x, const int *xoff, float *y, void **plan)
{
  if (!x || !y) return GyreStatusSet(GYRE_ERR_ARG, "cpu mlp_forward: NULL input or output");
  if (plan && *plan) return plan_run(be, (const Plan *) *plan, aff, M, x, xoff, y);
  return forward_unplanned(be, nl, W, b, act, aff, M, x, xoff, y, plan);
}

void GyreCPUMLPPlanFree(GyreBackend *be, void *plan)
{
  (void) be;
  free(plan);
}
