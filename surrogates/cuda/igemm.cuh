/* igemm.cuh — the implicit-GEMM convolution's kernel (k_igemm), its operand and output functors,
 * the layout kernels around it (padding, widening, unpadding with the chunks' sum, the im2col
 * offsets, the adjoint's flipped weights) and the convolution geometry they read (dense_conv.cu's
 * implicit-GEMM section describes them).
 * A header of its own so that tests/nn_cuda_emu runs the kernel on the CPU, every tile variant, by
 * emulating CUDA's threads and shared memory (no GPU needed): the tile logic, the swizzle, the
 * row offsets held in shared memory and the reduction chunks are checked in every build. */
#ifndef GYRE_IGEMM_CUH
#define GYRE_IGEMM_CUH
#include <type_traits>
#include "act.cuh"
#include "grid_stride.cuh"
#include "op_shapes.h"
#ifdef __CUDACC__
#include <mma.h> /* the tensor cores' fragments (the emulation brings its own) */
#endif

/* ---- convolution geometry ----------------------------------------------------------------- */
typedef struct {
  GyreConvShape s; /* N, Cin, Cout, Y, X, KY, KX, PY, PX, circ */
  int           K; /* KY KX */
  int           Yp, Xp;
  size_t        P;  /* Y X */
  size_t        Pp; /* Yp Xp */
  size_t        m;  /* N Yp Xp: rows of the padded grid */
  size_t        L;  /* channel stride of the padded layout: m + the largest offset */
} ConvGeom;

/* An inference convolution's epilogue (conv_forward_post): its output channel c's value after
 * the bias, through an activation (act < 0: none) and then a batch norm's evaluation (mean
 * NULL: none), as act_forward and bn_forward compute them one after the other. The default
 * leaves the value as it is (a plain convolution). */
struct ConvPost {
  int              act  = -1;
  const float     *mean = nullptr, *invstd = nullptr, *gamma = nullptr, *beta = nullptr;
  __device__ float operator()(int c, float v) const
  {
    if (act >= 0) v = gyre_act_value(act, v);
    if (mean) v = gamma[c] * ((v - mean[c]) * invstd[c]) + beta[c];
    return v;
  }
};

/* ---- the layout kernels of the implicit GEMM (and of the other algorithms: k_pad, k_unpad) ----
 */

/* out (C, L): the padded tall layout of in (N, C, Y, X); rows past m are zero */
__global__ static void k_pad(ConvGeom g, int C, const float *in, float *out)
{
  const size_t n_all = (size_t) C * g.L;
  GRID_STRIDE(i, n_all)
  {
    const size_t c = i / g.L, q = i - c * g.L;
    float        v = 0.0f;
    if (q < g.m) {
      const size_t n = q / g.Pp, r = q - n * g.Pp;
      int          sy = (int) (r / g.Xp) - g.s.PY, sx = (int) (r % g.Xp) - g.s.PX;
      int          ok = 1;
      if (g.s.circ) {
        sy = (sy % g.s.Y + g.s.Y) % g.s.Y;
        sx = (sx % g.s.X + g.s.X) % g.s.X;
      } else
        ok = sy >= 0 && sy < g.s.Y && sx >= 0 && sx < g.s.X;
      if (ok) v = in[((n * C + c) * g.s.Y + sy) * g.s.X + sx];
    }
    out[i] = v;
  }
}

/* out (C, m): in (N, C, Y, X) on the padded grid's rows without any shift: valid positions
 * (y < Y, x < X) hold in, the others zero (dy widened for dW) */
__global__ static void k_widen(ConvGeom g, int C, const float *in, float *out)
{
  const size_t n_all = (size_t) C * g.m;
  GRID_STRIDE(i, n_all)
  {
    const size_t c = i / g.m, q = i - c * g.m, n = q / g.Pp, r = q - n * g.Pp;
    const int    yy = (int) (r / g.Xp), xx = (int) (r % g.Xp);
    out[i] = yy < g.s.Y && xx < g.s.X ? in[((n * C + c) * g.s.Y + yy) * g.s.X + xx] : 0.0f;
  }
}

/* out (N, C, Y, X) = the valid rows of w (C, m) (+ b[c]); z > 1: the sum of z such (z, C, m)
 * partial outputs (the implicit GEMM's reduction chunks) */
__global__ static void k_unpad(ConvGeom g, int C, int z, const float *w, const float *b, float *out,
                               ConvPost post)
{
  const size_t n_all = (size_t) g.s.N * C * g.P;
  GRID_STRIDE(i, n_all)
  {
    const size_t s = i % g.P, nc = i / g.P, c = nc % C, n = nc / C;
    const size_t q = c * g.m + n * g.Pp + (s / g.s.X) * g.Xp + s % g.s.X;
    float        v = w[q];
    for (int k = 1; k < z; k++)
      v += w[(size_t) k * C * g.m + q];
    out[i] = post((int) c, v + (b ? b[c] : 0.0f));
  }
}

/* Wt[(i Cout + o) K + k] = W[(o Cin + i) K + K - 1 - k]: the adjoint's weights, (Cin, Cout, K) */
__global__ static void k_flip_t(int Cout, int Cin, int K, const float *W, float *Wt)
{
  const size_t n_all = (size_t) Cout * Cin * K;
  GRID_STRIDE(j, n_all)
  {
    const size_t k = j % K, oi = j / K, i = oi % Cin, o = oi / Cin;
    Wt[((i * Cout) + o) * K + (K - 1 - k)] = W[j];
  }
}

/* jt[j] = (j / K) L + off_{j % K}: the offset of im2col column j in the tall layout */
__global__ static void k_igemm_offsets(ConvGeom g, int C, long long *jt)
{
  GRID_STRIDE(j, (size_t) C * g.K)
  {
    const size_t i = j / g.K, k = j % g.K;
    jt[j] = (long long) (i * g.L + (k / g.s.KX) * g.Xp + k % g.s.KX);
  }
}

#define IG_BM 128
#define IG_BK 8   /* the steps of the reduction, but for the weight gradient's option */
#define IG_PADA 4 /* row padding: the K-fast tile stores of 8 steps hit 32 distinct banks */
/* and of 32 steps: a warp stores one row's 32 steps kk, the element of row r at r ^ IG_SW(kk)
 * (the 4-row stride alone leaves 8 banks: 4-way conflicts); 0 for kk < 8, so the tiles of 8
 * steps are as before (not applied to them); the products undo it (kk is a constant there) */
#define IG_SW(kk) (((kk) >> 3) & 3)

/* the operands, fetched by (row, column) of the GEMM; the kernel checks the ranges */
struct IgShifted { /* A[q, j] = xp[jt[j] + q] */
  const float     *xp;
  const long long *jt;
  __device__ float operator()(int q, int j) const
  {
    return xp[jt[j] + q];
  }
};
/* A^T[j, q] = xp[jt[j] + q], read along q (k fastest); in steps of 32 the row's offset jt[j]
 * is fetched once a block (base) and each element from it (at) */
struct IgShiftedT {
  const float     *xp;
  const long long *jt;
  __device__ float operator()(int j, int q) const
  {
    return xp[jt[j] + q];
  }
  __device__ long long base(int j) const
  {
    return jt[j];
  }
  __device__ float at(long long b, int q) const
  {
    return xp[b + q];
  }
};
struct IgRows { /* B[k, n] = w[n ld + k] */
  const float     *w;
  size_t           ld;
  __device__ float operator()(int k, int n) const
  {
    return w[(size_t) n * ld + k];
  }
};
/* C[q, o] to y (N, Co, Y, X) where q is a valid position of the padded grid, + b[o] */
struct IgToGrid {
  ConvGeom        g;
  int             Co;
  const float    *b;
  float          *y;
  ConvPost        post = {}; /* (conv_forward_post) */
  __device__ void operator()(int q, int o, float v) const
  {
    const int n = q / (int) g.Pp, r = q - n * (int) g.Pp, yy = r / g.Xp, xx = r - yy * g.Xp;
    if (yy < g.s.Y && xx < g.s.X)
      y[(((size_t) n * Co + o) * g.s.Y + yy) * g.s.X + xx] = post(o, v + (b ? b[o] : 0.0f));
  }
};
/* C[r, o] (R rows) of the reduction chunk z = blockIdx.z to part[z][o R + r] */
struct IgToPart {
  int             R, Co;
  float          *part;
  __device__ void operator()(int r, int o, float v) const
  {
    part[((size_t) blockIdx.z * Co + o) * R + r] = v;
  }
};

/* element e of a tile: (row mm, step kk) of A, (step kk, column nn) of B */
#define IG_A_AT(e, mm, kk)                                                                         \
  const int mm = AKF ? (e) / BK : (e) % IG_BM, kk = AKF ? (e) % BK : (e) / IG_BM
#define IG_B_AT(e, nn, kk) const int nn = (e) / BK, kk = (e) % BK

/* blocks of T threads a multiprocessor should hold at least, for the registers a thread: 8 x 8
 * a thread 128 (256 threads) or 170 (128: at 128 it spilled); steps of 32 (their loads in
 * flight take 24-40 registers) 128 or 170; else 85 or 102 (left to itself ptxas takes 141-167
 * and 105-117, one or two blocks a multiprocessor, for no fewer spills) */
#define IG_MIN_BLOCKS(T, TN, BK) ((TN) == 8 || (BK) > 8 ? ((T) == 256 ? 2 : 3) : (T) == 256 ? 3 : 5)
/* the tensor-core variants (TC > 0) hold fragments: 128 or 170 registers */
#define IG_MIN_BLOCKS_TC(T, TN, BK, TC) ((TC) ? ((T) == 256 ? 2 : 3) : IG_MIN_BLOCKS(T, TN, BK))

/* The products of a step of 8 on the tensor cores (TC = 1: tf32, each operand rounded to 10
 * bits of mantissa; TC = 3: each operand split into its tf32 part and the tf32 rounding of the
 * rest, a b = a_lo b_hi + a_hi b_lo + a_hi b_hi: three products, each product within ~2^-22 of
 * the exact one (fp32's own rounding is 2^-24), accumulated in fp32), instead of k_igemm's
 * FFMA micro-tile. The block's T / 32 warps tile its 128 x BN: 4 along the rows (32 each, two
 * 16-row fragments), T / 128 along the columns (BN / (T / 128) each, FN 16-column fragments);
 * the shared-memory tiles are the fragments' operands as they are (A column-major: As[k][m];
 * B row-major: Bs[k][n]; their row strides, 132 and BN + 4, multiples of 4 as wmma requires,
 * every fragment's first element 32-byte aligned). The results leave through a 16 x 16 staging
 * tile a warp, each element to the output functor. */
template <int BN, int T, int TC> struct IgTensor {
  static constexpr int WN = T / 128, WCOL = BN / WN, FN = WCOL / 16;
  static_assert(T % 128 == 0 && BN % (16 * WN) == 0, "warps tile 128 x BN in 16 x 16 fragments");
  static_assert(TC == 1 || TC == 3, "TC: 1 (tf32) or 3 (three tf32 products)");
  using FragA = nvcuda::wmma::fragment<nvcuda::wmma::matrix_a, 16, 16, 8,
                                       nvcuda::wmma::precision::tf32, nvcuda::wmma::col_major>;
  using FragB = nvcuda::wmma::fragment<nvcuda::wmma::matrix_b, 16, 16, 8,
                                       nvcuda::wmma::precision::tf32, nvcuda::wmma::row_major>;
  using FragC = nvcuda::wmma::fragment<nvcuda::wmma::accumulator, 16, 16, 8, float>;
  FragC      c[2][FN];
  int        wm, wn; /* the warp's 32-row band and column band */
  __device__ IgTensor() : wm((threadIdx.x / 32) % 4), wn(threadIdx.x / 128)
  {
#pragma unroll
    for (int i = 0; i < 2; i++)
#pragma unroll
      for (int j = 0; j < FN; j++)
        nvcuda::wmma::fill_fragment(c[i][j], 0.0f);
  }
  /* hi = the tf32 rounding of f's values, lo (TC = 3) that of the rest */
  template <class F> __device__ static void split(F &hi, F &lo)
  {
#pragma unroll
    for (int t = 0; t < hi.num_elements; t++) {
      const float v = hi.x[t], h = nvcuda::wmma::__float_to_tf32(v);
      hi.x[t] = h;
      if constexpr (TC == 3) lo.x[t] = nvcuda::wmma::__float_to_tf32(v - h);
    }
  }
  /* c += A B over the step: A (128 x 8) at as (column-major, lda), B (8 x BN) at bs (row-major) */
  __device__ void step(const float *as, int lda, const float *bs, int ldb)
  {
    FragA a[2], al[TC == 3 ? 2 : 1];
    FragB b[FN], bl[TC == 3 ? FN : 1];
#pragma unroll
    for (int i = 0; i < 2; i++) {
      nvcuda::wmma::load_matrix_sync(a[i], as + wm * 32 + i * 16, lda);
      split(a[i], al[TC == 3 ? i : 0]);
    }
#pragma unroll
    for (int j = 0; j < FN; j++) {
      nvcuda::wmma::load_matrix_sync(b[j], bs + wn * WCOL + j * 16, ldb);
      split(b[j], bl[TC == 3 ? j : 0]);
    }
#pragma unroll
    for (int i = 0; i < 2; i++)
#pragma unroll
      for (int j = 0; j < FN; j++) {
        if constexpr (TC == 3) { /* the small products first */
          nvcuda::wmma::mma_sync(c[i][j], al[i], b[j], c[i][j]);
          nvcuda::wmma::mma_sync(c[i][j], a[i], bl[j], c[i][j]);
        }
        nvcuda::wmma::mma_sync(c[i][j], a[i], b[j], c[i][j]);
      }
  }
  /* every valid element (m0 + row, n0 + column) of the warp's fragments to ep, through the
   * warp's staging tile st (256 floats, column-major: a warp's lanes take 16 consecutive rows
   * of two columns) */
  template <class EP>
  __device__ void write(float *st, int m0, int n0, int M, int N, const EP &ep) const
  {
    const int lane = threadIdx.x % 32;
#pragma unroll
    for (int i = 0; i < 2; i++)
#pragma unroll
      for (int j = 0; j < FN; j++) {
        nvcuda::wmma::store_matrix_sync(st, c[i][j], 16, nvcuda::wmma::mem_col_major);
        __syncwarp();
#pragma unroll
        for (int e = lane; e < 256; e += 32) {
          const int m = m0 + wm * 32 + i * 16 + e % 16, n = n0 + wn * WCOL + j * 16 + e / 16;
          if (m < M && n < N) ep(m, n, st[e]);
        }
        __syncwarp(); /* every lane has read st before the next fragment overwrites it */
      }
  }
};

/* C (M x N) = sum over k in [z kchunk, min(Kd, (z + 1) kchunk)) of A(m, k) B(k, n), written
 * by ep; tiles of IG_BM x BN, 16 BN / TN threads, each 8 x TN of the tile (rows tx 4 + 0..3
 * and 64 + tx 4 + 0..3, columns ty 4 + 0..3 and for TN = 8 BN / 2 + ty 4 + 0..3: a warp's
 * float4 reads from shared memory are conflict-free), in steps of BK (8: two buffers, the next
 * step's loads in flight during this step's products; 32: one buffer, 32 consecutive elements
 * a warp when reading along k). AKF: A's tile read with k fastest (its rows contiguous along k:
 * FA = IgShiftedT, in steps of 32 with the rows' offsets fetched once a block into shared
 * memory; HOIST holds them in steps of 8 too: GYRE_CUDA_IGEMM_DW_HOIST=1), else m fastest
 * (its columns contiguous). TC > 0 (steps of 8, offsets not held): the products on the
 * tensor cores (IgTensor), the same staging. */
template <int BN, int TN, int BK, class FA, class FB, class EP, bool AKF,
          bool HOIST = AKF && (BK > 8), int TC = 0>
__global__ static void __launch_bounds__(16 * BN / TN, IG_MIN_BLOCKS_TC(16 * BN / TN, TN, BK, TC))
    k_igemm(int M, int N, int Kd, int kchunk, FA fa, FB fb, EP ep)
{
  constexpr int T = 16 * BN / TN, RA = BK * IG_BM / T, RB = BK * BN / T, NB = BK == 8 ? 2 : 1;
  __shared__ __align__(32) float As[NB][BK][IG_BM + IG_PADA];
  __shared__ __align__(32) float Bs[NB][BK][BN + IG_PADA];
  static_assert(!HOIST || AKF, "the rows' offsets are held for A read along k only");
  static_assert(TC == 0 || (BK == 8 && !HOIST), "the tensor cores: steps of 8, offsets not held");
  __shared__ long long rowb[HOIST ? IG_BM : 1]; /* HOIST: the rows' offsets held */
  __shared__ __align__(32) float Cs[TC ? T / 32 : 1][TC ? 256 : 1]; /* TC: warps' staging */
  const int                      tid = threadIdx.x, tx = tid % 16, ty = tid / 16;
  const int                      m0 = blockIdx.x * IG_BM, n0 = blockIdx.y * BN;
  const int                      kb = blockIdx.z * kchunk, ke = min(Kd, kb + kchunk);
  const int                      nk = ke > kb ? (ke - kb + BK - 1) / BK : 0;
  float                          acc[TC ? 1 : 8][TC ? 1 : TN], ra[RA], rb[RB];
  using Tensor = std::conditional_t<TC == 0, int, IgTensor<BN, T, TC>>;
  Tensor tens{};
  if constexpr (TC == 0)
    for (int i = 0; i < 8; i++)
      for (int j = 0; j < TN; j++)
        acc[i][j] = 0.0f;
  if constexpr (HOIST) {
    for (int i = tid; i < IG_BM; i += T)
      rowb[i] = m0 + i < M ? fa.base(m0 + i) : 0;
    __syncthreads();
  }
  auto load = [&](int k0) {
#pragma unroll
    for (int r = 0; r < RA; r++) {
      IG_A_AT(tid + T * r, mm, kk);
      const bool in = m0 + mm < M && k0 + kk < ke;
      if constexpr (HOIST)
        ra[r] = in ? fa.at(rowb[mm], k0 + kk) : 0.0f;
      else
        ra[r] = in ? fa(m0 + mm, k0 + kk) : 0.0f;
    }
#pragma unroll
    for (int r = 0; r < RB; r++) {
      IG_B_AT(tid + T * r, nn, kk);
      rb[r] = n0 + nn < N && k0 + kk < ke ? fb(k0 + kk, n0 + nn) : 0.0f;
    }
  };
  auto store = [&](int buf) {
#pragma unroll
    for (int r = 0; r < RA; r++) {
      IG_A_AT(tid + T * r, mm, kk);
      As[buf][kk][BK > 8 ? mm ^ IG_SW(kk) : mm] = ra[r];
    }
#pragma unroll
    for (int r = 0; r < RB; r++) {
      IG_B_AT(tid + T * r, nn, kk);
      Bs[buf][kk][BK > 8 ? nn ^ IG_SW(kk) : nn] = rb[r];
    }
  };
  if (nk > 0) {
    load(kb);
    store(0);
  }
  __syncthreads();
  for (int t = 0; t < nk; t++) {
    const int cur = NB == 2 ? t & 1 : 0;
    if (t + 1 < nk) load(kb + (t + 1) * BK);
    if constexpr (TC > 0)
      tens.step(&As[cur][0][0], IG_BM + IG_PADA, &Bs[cur][0][0], BN + IG_PADA);
    else {
#pragma unroll
      for (int kk = 0; kk < BK; kk++) {
        const float4 a0   = *(const float4 *) &As[cur][kk][tx * 4];
        const float4 a1   = *(const float4 *) &As[cur][kk][64 + tx * 4];
        float        a[8] = {a0.x, a0.y, a0.z, a0.w, a1.x, a1.y, a1.z, a1.w}, bb[TN];
#pragma unroll
        for (int h = 0; h < TN / 4; h++) {
          const float4 b = *(const float4 *) &Bs[cur][kk][BN / 2 * h + ty * 4];
          bb[4 * h] = b.x, bb[4 * h + 1] = b.y, bb[4 * h + 2] = b.z, bb[4 * h + 3] = b.w;
        }
        if constexpr (BK > 8) { /* undo the stores' swizzle (IG_SW): a constant permutation */
          const int   sw   = IG_SW(kk);
          const float t[8] = {a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7]};
          float       u[TN];
#pragma unroll
          for (int c = 0; c < TN; c++)
            u[c] = bb[c];
#pragma unroll
          for (int c = 0; c < 4; c++) {
            a[c] = t[c ^ sw], a[4 + c] = t[4 + (c ^ sw)];
#pragma unroll
            for (int h = 0; h < TN / 4; h++)
              bb[4 * h + c] = u[4 * h + (c ^ sw)];
          }
        }
#pragma unroll
        for (int i = 0; i < 8; i++)
#pragma unroll
          for (int j = 0; j < TN; j++)
            acc[i][j] = fmaf(a[i], bb[j], acc[i][j]);
      }
    }
    if (t + 1 < nk) {
      if constexpr (NB == 1) __syncthreads(); /* every thread is done with the one buffer */
      store(NB == 2 ? cur ^ 1 : 0);
    }
    __syncthreads();
  }
  if constexpr (TC > 0)
    tens.write(Cs[tid / 32], m0, n0, M, N, ep);
  else
#pragma unroll
    for (int i = 0; i < 8; i++) {
      const int m = m0 + (i < 4 ? tx * 4 + i : 64 + tx * 4 + i - 4);
      if (m >= M) continue;
#pragma unroll
      for (int j = 0; j < TN; j++) {
        const int n = n0 + (j < 4 ? ty * 4 + j : BN / 2 + ty * 4 + j - 4);
        if (n < N) ep(m, n, acc[i][j]);
      }
    }
}
#undef IG_A_AT
#undef IG_B_AT

#endif /* GYRE_IGEMM_CUH */
