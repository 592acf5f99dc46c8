/* test_igemm_emu — the CUDA backend's implicit-GEMM convolution kernel (surrogates/cuda/
 * igemm.cuh, k_igemm) run on the CPU through cuda_emu.h, against double-precision references,
 * for every tile variant the backend launches (dense_conv.cu: IG_VARIANTS): columns 32 x 4 a
 * thread (128 threads), 64 x 4 (256), 64 x 8 (128), 128 x 8 (256), with several row and column
 * tiles, the last ones partial:
 *   forward: y = conv(x, W) + b through the padded layout and im2col's column offsets (the
 *            kernel's IgShifted operand, IgToGrid output), every valid position written (y
 *            poisoned with NaN first);
 *   split:   the same GEMM in z reduction chunks (IgToPart), the chunks' sum (the forward's
 *            GYRE_CUDA_IGEMM_SPLIT path), a partial last chunk;
 *   dW:      the weight gradient's GEMM (A^T read along the positions: IgShiftedT) in position
 *            chunks, in steps of 8 and, for the 4-column variants, of 32 (the swizzled stores
 *            and the row offsets held in shared memory: GYRE_CUDA_IGEMM_DW_BK=32), and in steps
 *            of 8 with the row offsets held (GYRE_CUDA_IGEMM_DW_HOIST=1).
 * Every element within 1e-5 of the largest reference value (float sums of <= 286 products).
 * No GPU needed: a block's threads are std::threads, __syncthreads a barrier. */
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>
#include "cuda_emu.h"
#include "igemm.cuh"

static int failures = 0;

static float urand(unsigned *s)
{
  *s = *s * 1664525u + 1013904223u;
  return (float) ((*s >> 8) & 0xFFFF) / 32768.0f - 1.0f;
}

static std::vector<float> randoms(size_t n, unsigned *seed)
{
  std::vector<float> v(n);
  for (auto &e : v)
    e = urand(seed);
  return v;
}

/* the padded tall layout of x (N, C, Y, X) with zero padding (k_pad's, non-circular) */
static std::vector<float> pad(const ConvGeom &g, int C, const std::vector<float> &x)
{
  std::vector<float> xp((size_t) C * g.L, 0.0f);
  for (int n = 0; n < g.s.N; n++)
    for (int c = 0; c < C; c++)
      for (int yy = 0; yy < g.s.Y; yy++)
        for (int xx = 0; xx < g.s.X; xx++)
          xp[(size_t) c * g.L + n * g.Pp + (size_t) (yy + g.s.PY) * g.Xp + xx + g.s.PX] =
              x[(((size_t) n * C + c) * g.s.Y + yy) * g.s.X + xx];
  return xp;
}

/* im2col's column offsets (k_igemm_offsets) */
static std::vector<long long> offsets(const ConvGeom &g, int C)
{
  std::vector<long long> jt((size_t) C * g.K);
  for (size_t j = 0; j < jt.size(); j++)
    jt[j] = (long long) ((j / g.K) * g.L + ((j % g.K) / g.s.KX) * g.Xp + (j % g.K) % g.s.KX);
  return jt;
}

static ConvGeom geom(int N, int Ci, int Co, int Y, int X, int KY, int KX)
{
  ConvGeom g{};
  g.s  = GyreConvShape{N, Ci, Co, Y, X, KY, KX, (KY - 1) / 2, (KX - 1) / 2, 0};
  g.K  = KY * KX;
  g.Yp = Y + 2 * g.s.PY, g.Xp = X + 2 * g.s.PX;
  g.P = (size_t) Y * X, g.Pp = (size_t) g.Yp * g.Xp;
  g.m = (size_t) N * g.Pp;
  g.L = g.m + (size_t) (KY - 1) * g.Xp + (size_t) (KX - 1);
  return g;
}

static void report(const char *what, int BN, int TN, int BK, double err, size_t bad)
{
  const int fail = !(err <= 1e-5) || bad;
  printf("%s %-8s tile %3d x %d, steps of %2d: max err %.2e of the largest value%s\n",
         fail ? "FAIL" : "ok  ", what, BN, TN, BK, err, bad ? " (unwritten elements)" : "");
  failures += fail;
}

template <int BN, int TN> static void forward_and_split()
{
  constexpr int T    = 16 * BN / TN;
  unsigned      seed = 7u + BN + TN;
  /* 2 samples of 9 x 11, 3 input channels, 3 x 3 kernels: 286 rows (3 row tiles), a reduction
   * of 27 (4 steps, the last partial); output channels: 1.5 column tiles */
  const int                Co = BN + BN / 2 - 3;
  const ConvGeom           g  = geom(2, 3, Co, 9, 11, 3, 3);
  const int                Kd = g.s.Cin * g.K, M = (int) g.m;
  const std::vector<float> x = randoms((size_t) g.s.N * g.s.Cin * g.P, &seed),
                           W = randoms((size_t) Co * Kd, &seed), b = randoms(Co, &seed);
  const std::vector<float>     xp = pad(g, g.s.Cin, x);
  const std::vector<long long> jt = offsets(g, g.s.Cin);
  /* the GEMM's reference C[q][o] on every padded row q */
  std::vector<double> C((size_t) M * Co);
  double              most = 0;
  for (int q = 0; q < M; q++)
    for (int o = 0; o < Co; o++) {
      double s = 0;
      for (int j = 0; j < Kd; j++)
        if (jt[j] + q < (long long) xp.size()) s += (double) xp[jt[j] + q] * W[(size_t) o * Kd + j];
      C[(size_t) q * Co + o] = s;
      most                   = std::max(most, std::fabs(s));
    }
  const dim3 grid((unsigned) ((M + IG_BM - 1) / IG_BM), (unsigned) ((Co + BN - 1) / BN), 1);
  /* forward: y (N, Co, Y, X) straight from the kernel, + b */
  std::vector<float> y((size_t) g.s.N * Co * g.P, NAN);
  const IgShifted    fa{xp.data(), jt.data()};
  const IgRows       fb{W.data(), (size_t) Kd};
  const IgToGrid     ep{g, Co, b.data(), y.data()};
  emu_launch(grid, T, [&] {
    k_igemm<BN, TN, IG_BK, IgShifted, IgRows, IgToGrid, false>(M, Co, Kd, Kd, fa, fb, ep);
  });
  double err = 0;
  size_t bad = 0;
  for (int n = 0; n < g.s.N; n++)
    for (int o = 0; o < Co; o++)
      for (int yy = 0; yy < g.s.Y; yy++)
        for (int xx = 0; xx < g.s.X; xx++) {
          const size_t q = n * g.Pp + (size_t) yy * g.Xp + xx;
          const float  v = y[(((size_t) n * Co + o) * g.s.Y + yy) * g.s.X + xx];
          bad += std::isnan(v);
          err = std::max(err, std::fabs(v - (C[q * Co + o] + b[o])));
        }
  report("forward", BN, TN, IG_BK, err / most, bad);
  /* split: 3 chunks of 16 (the last of 11 and partial steps), summed */
  const int          kchunk = 16, zc = (Kd + kchunk - 1) / kchunk;
  std::vector<float> part((size_t) zc * Co * M, NAN);
  const IgToPart     pe{M, Co, part.data()};
  emu_launch(dim3(grid.x, grid.y, (unsigned) zc), T, [&] {
    k_igemm<BN, TN, IG_BK, IgShifted, IgRows, IgToPart, false>(M, Co, Kd, kchunk, fa, fb, pe);
  });
  err = 0, bad = 0;
  for (int q = 0; q < M; q++)
    for (int o = 0; o < Co; o++) {
      double s = 0;
      for (int z = 0; z < zc; z++) {
        const float v = part[((size_t) z * Co + o) * M + q];
        bad += std::isnan(v);
        s += v;
      }
      err = std::max(err, std::fabs(s - C[(size_t) q * Co + o]));
    }
  report("split", BN, TN, IG_BK, err / most, bad);
}

template <int BN, int TN, int BK, bool HOIST = (BK > 8)> static void weight_gradient()
{
  constexpr int T    = 16 * BN / TN;
  unsigned      seed = 11u + BN + TN + BK;
  /* 16 input channels x 3 x 3: Kd = 144 rows of dW^T (2 row tiles); 286 positions in chunks of
   * 96 (steps of 8) or 128 (steps of 32), the last partial; output channels: 1.5 column tiles */
  const int                Co = BN + BN / 2 - 1;
  const ConvGeom           g  = geom(2, 16, Co, 9, 11, 3, 3);
  const int                Kd = g.s.Cin * g.K, m = (int) g.m;
  const std::vector<float> x          = randoms((size_t) g.s.N * g.s.Cin * g.P, &seed),
                           dyw        = randoms((size_t) Co * m, &seed);
  const std::vector<float>     xp     = pad(g, g.s.Cin, x);
  const std::vector<long long> jt     = offsets(g, g.s.Cin);
  const int                    kchunk = BK == 8 ? 96 : 128, zc = (m + kchunk - 1) / kchunk;
  std::vector<float>           part((size_t) zc * Co * Kd, NAN);
  const IgShiftedT             fa{xp.data(), jt.data()};
  const IgRows                 fb{dyw.data(), (size_t) m};
  const IgToPart               ep{Kd, Co, part.data()};
  const dim3 grid((unsigned) ((Kd + IG_BM - 1) / IG_BM), (unsigned) ((Co + BN - 1) / BN),
                  (unsigned) zc);
  emu_launch(grid, T, [&] {
    k_igemm<BN, TN, BK, IgShiftedT, IgRows, IgToPart, true, HOIST>(Kd, Co, m, kchunk, fa, fb, ep);
  });
  double err = 0, most = 0;
  size_t bad = 0;
  for (int j = 0; j < Kd; j++)
    for (int o = 0; o < Co; o++) {
      double ref = 0, s = 0;
      for (int q = 0; q < m; q++)
        ref += (double) xp[jt[j] + q] * dyw[(size_t) o * m + q];
      for (int z = 0; z < zc; z++) {
        const float v = part[((size_t) z * Co + o) * Kd + j];
        bad += std::isnan(v);
        s += v;
      }
      err  = std::max(err, std::fabs(s - ref));
      most = std::max(most, std::fabs(ref));
    }
  report(HOIST ? "dW held" : "dW", BN, TN, BK, err / most, bad);
}

int main()
{
  forward_and_split<32, 4>();
  forward_and_split<64, 4>();
  forward_and_split<64, 8>();
  forward_and_split<128, 8>();
  weight_gradient<32, 4, 8>();
  weight_gradient<64, 4, 8>();
  weight_gradient<64, 8, 8>();
  weight_gradient<128, 8, 8>();
  weight_gradient<32, 4, 32>();
  weight_gradient<64, 4, 32>();
  weight_gradient<32, 4, 8, true>(); /* GYRE_CUDA_IGEMM_DW_HOIST=1 */
  weight_gradient<64, 4, 8, true>();
  weight_gradient<64, 8, 8, true>();
  weight_gradient<128, 8, 8, true>();
  printf("%d failure(s)\n", failures);
  return failures ? 1 : 0;
}
