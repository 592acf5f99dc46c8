/* igemm.cuh — the implicit-GEMM convolution's kernel (k_igemm), its operand and output functors,
 * the layout kernels around it (padding, widening, unpadding with the chunks' sum, the im2col
 * offsets, the adjoint's flipped weights) and the convolution geometry they read (dense_conv.cu's
 * implicit-GEMM section describes them).
 * A header of its own so that tests/nn_cuda_emu runs the kernel on the CPU, every tile variant, by
 * emulating CUDA's threads and shared memory (no GPU needed): the tile logic, the swizzle, the
 * row offsets held in shared memory and the reduction chunks are checked in every build. */
#ifndef GYRE_IGEMM_CUH
#define GYRE_IGEMM_CUH
#include "op_shapes.h"

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

/* ---- the layout kernels of the implicit GEMM (and of the other algorithms: k_pad, k_unpad) ----
 */
#define GRID_STRIDE(i, n)                                                                          \
  for (size_t i = blockIdx.x * (size_t) blockDim.x + threadIdx.x; i < (n);                         \
       i += (size_t) gridDim.x * blockDim.x)

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
__global__ static void k_unpad(ConvGeom g, int C, int z, const float *w, const float *b, float *out)
{
  const size_t n_all = (size_t) g.s.N * C * g.P;
  GRID_STRIDE(i, n_all)
  {
    const size_t s = i % g.P, nc = i / g.P, c = nc % C, n = nc / C;
    const size_t q = c * g.m + n * g.Pp + (s / g.s.X) * g.Xp + s % g.s.X;
    float        v = w[q];
    for (int k = 1; k < z; k++)
      v += w[(size_t) k * C * g.m + q];
    out[i] = v + (b ? b[c] : 0.0f);
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
  __device__ void operator()(int q, int o, float v) const
  {
    const int n = q / (int) g.Pp, r = q - n * (int) g.Pp, yy = r / g.Xp, xx = r - yy * g.Xp;
    if (yy < g.s.Y && xx < g.s.X)
      y[(((size_t) n * Co + o) * g.s.Y + yy) * g.s.X + xx] = v + (b ? b[o] : 0.0f);
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

/* C (M x N) = sum over k in [z kchunk, min(Kd, (z + 1) kchunk)) of A(m, k) B(k, n), written
 * by ep; tiles of IG_BM x BN, 16 BN / TN threads, each 8 x TN of the tile (rows tx 4 + 0..3
 * and 64 + tx 4 + 0..3, columns ty 4 + 0..3 and for TN = 8 BN / 2 + ty 4 + 0..3: a warp's
 * float4 reads from shared memory are conflict-free), in steps of BK (8: two buffers, the next
 * step's loads in flight during this step's products; 32: one buffer, 32 consecutive elements
 * a warp when reading along k). AKF: A's tile read with k fastest (its rows contiguous along k:
 * FA = IgShiftedT, in steps of 32 with the rows' offsets fetched once a block into shared
 * memory; HOIST holds them in steps of 8 too: GYRE_CUDA_IGEMM_DW_HOIST=1), else m fastest
 * (its columns contiguous). */
template <int BN, int TN, int BK, class FA, class FB, class EP, bool AKF,
          bool HOIST = AKF && (BK > 8)>
__global__ static void __launch_bounds__(16 * BN / TN, IG_MIN_BLOCKS(16 * BN / TN, TN, BK))
    k_igemm(int M, int N, int Kd, int kchunk, FA fa, FB fb, EP ep)
{
  constexpr int T = 16 * BN / TN, RA = BK * IG_BM / T, RB = BK * BN / T, NB = BK == 8 ? 2 : 1;
  __shared__ __align__(16) float As[NB][BK][IG_BM + IG_PADA];
  __shared__ __align__(16) float Bs[NB][BK][BN + IG_PADA];
  static_assert(!HOIST || AKF, "the rows' offsets are held for A read along k only");
  __shared__ long long rowb[HOIST ? IG_BM : 1]; /* HOIST: the rows' offsets held */
  const int            tid = threadIdx.x, tx = tid % 16, ty = tid / 16;
  const int            m0 = blockIdx.x * IG_BM, n0 = blockIdx.y * BN;
  const int            kb = blockIdx.z * kchunk, ke = min(Kd, kb + kchunk);
  const int            nk = ke > kb ? (ke - kb + BK - 1) / BK : 0;
  float                acc[8][TN], ra[RA], rb[RB];
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
    if (t + 1 < nk) {
      if constexpr (NB == 1) __syncthreads(); /* every thread is done with the one buffer */
      store(NB == 2 ? cur ^ 1 : 0);
    }
    __syncthreads();
  }
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
