/* test_igemm_emu — the CUDA backend's fp32 convolution path (surrogates/cuda/igemm.cuh: the
 * implicit-GEMM kernel k_igemm and the layout kernels around it) run on the CPU through
 * cuda_emu.h, composed as dense_conv.cu composes them, against direct double-precision
 * convolutions, with zero and with circular padding, for every tile variant the backend launches
 * (dense_conv.cu: IG_VARIANTS): columns 32 x 4 a thread (128 threads), 64 x 4 (256), 64 x 8
 * (128), 128 x 8 (256), with several row and column tiles, the last ones partial:
 *   forward: k_pad, k_igemm_offsets, k_igemm straight into y (+ b: IgToGrid), and the same
 *            with the reduction in 4 chunks (IgToPart) summed by k_unpad (the forward's
 *            GYRE_CUDA_IGEMM_SPLIT path, a partial last chunk); both again with inference's
 *            epilogue (ConvPost: an activation and a batch norm, conv_forward_post);
 *   dx:      k_pad of dy, k_flip_t of W, the same kernel (the adjoint);
 *   dW:      k_pad of x, k_widen of dy, the kernel with A^T read along the positions
 *            (IgShiftedT) in position chunks summed on the host (the GEMV), in steps of 8, of
 *            32 for the 4-column variants (the swizzled stores and the row offsets held in shared
 *            memory: GYRE_CUDA_IGEMM_DW_BK=32), and of 8 with the offsets held
 *            (GYRE_CUDA_IGEMM_DW_HOIST=1);
 *   and forward, split, dx and dW in steps of 8 with the products on the tensor cores (the
 *   wmma fragments emulated): three tf32 products (GYRE_CUDA_IGEMM_TC=3, fp32's tolerance)
 *   for every variant, one (tf32) for the 64 x 4 tile.
 * And the FFT convolution's kernels (conv_fft.cuh): the spectral weights of a kernel and their
 * adjoint against sums in double; the spectral convolution's tiled mode products
 * (spectral_modes.cuh) against the one-output-a-thread ones, bitwise.
 * Outputs poisoned with NaN first (unwritten elements fail); every element within 1e-5 of the
 * largest reference value (float sums of at most 1701 products). No GPU needed: a block's
 * threads are std::threads, __syncthreads a barrier. */
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>
#include "cuda_emu.h"
#include "igemm.cuh"
#include "conv_fft.cuh"
#include "spectral_modes.cuh"
#include "direct.cuh"

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

static ConvGeom geom(int N, int Ci, int Co, int Y, int X, int KY, int KX, int circ)
{
  ConvGeom g{};
  g.s  = GyreConvShape{N, Ci, Co, Y, X, KY, KX, (KY - 1) / 2, (KX - 1) / 2, circ};
  g.K  = KY * KX;
  g.Yp = Y + 2 * g.s.PY, g.Xp = X + 2 * g.s.PX;
  g.P = (size_t) Y * X, g.Pp = (size_t) g.Yp * g.Xp;
  g.m = (size_t) N * g.Pp;
  g.L = g.m + (size_t) (KY - 1) * g.Xp + (size_t) (KX - 1);
  return g;
}

/* the elementwise kernels as dense_conv.cu's LAUNCH, in blocks of 64 threads (grid-stride) */
#define ELEMENTWISE(kernel, n, ...)                                                                \
  emu_launch(dim3((unsigned) std::min<size_t>(((n) + 63) / 64, 8)), 64,                            \
             [&] { kernel(__VA_ARGS__); })

/* x (N, C, Y, X) at (n, c, y, x) with the padding's rule outside: zero or the periodic wrap */
static double at(const ConvGeom &g, int C, const std::vector<float> &x, int n, int c, int y, int xx)
{
  if (g.s.circ)
    y = (y % g.s.Y + g.s.Y) % g.s.Y, xx = (xx % g.s.X + g.s.X) % g.s.X;
  else if (y < 0 || y >= g.s.Y || xx < 0 || xx >= g.s.X)
    return 0.0;
  return x[(((size_t) n * C + c) * g.s.Y + y) * g.s.X + xx];
}

/* the largest |ref - got| over the largest |ref|; bad counts NaN (unwritten) elements */
static double compare(const std::vector<double> &ref, const std::vector<float> &got, size_t *bad)
{
  double err = 0, most = 0;
  *bad = 0;
  for (size_t i = 0; i < ref.size(); i++) {
    *bad += std::isnan(got[i]);
    err  = std::max(err, std::fabs(ref[i] - got[i]));
    most = std::max(most, std::fabs(ref[i]));
  }
  return err / most;
}

/* TC: the products on the CUDA cores (0), the tensor cores in tf32 (1: operands rounded to 10
 * bits, within 3e-3 of the largest value), or in three tf32 products (3: as fp32, 1e-5) */
static void report(const char *what, const ConvGeom &g, int BN, int TN, int BK, int TC, double err,
                   size_t bad)
{
  const double tol  = TC == 1 ? 3e-3 : 1e-5;
  const int    fail = !(err <= tol) || bad;
  printf("%s %-12s %-8s tile %3d x %d, steps of %2d%s: max err %.2e of the largest value%s\n",
         fail ? "FAIL" : "ok  ", what, g.s.circ ? "circular" : "zero", BN, TN, BK,
         TC == 1   ? ", tf32"
         : TC == 3 ? ", 3 x tf32"
                   : "",
         err, bad ? " (unwritten elements)" : "");
  failures += fail;
}

/* y = conv(x, W) + b the direct way: (N, Co, Y, X) */
static std::vector<double> conv_ref(const ConvGeom &g, const std::vector<float> &x,
                                    const std::vector<float> &W, const std::vector<float> &b)
{
  std::vector<double> y((size_t) g.s.N * g.s.Cout * g.P);
  for (int n = 0; n < g.s.N; n++)
    for (int o = 0; o < g.s.Cout; o++)
      for (int yy = 0; yy < g.s.Y; yy++)
        for (int xx = 0; xx < g.s.X; xx++) {
          double s = b.empty() ? 0.0 : b[o];
          for (int i = 0; i < g.s.Cin; i++)
            for (int ky = 0; ky < g.s.KY; ky++)
              for (int kx = 0; kx < g.s.KX; kx++)
                s += W[(((size_t) o * g.s.Cin + i) * g.s.KY + ky) * g.s.KX + kx] *
                     at(g, g.s.Cin, x, n, i, yy + ky - g.s.PY, xx + kx - g.s.PX);
          y[(((size_t) n * g.s.Cout + o) * g.s.Y + yy) * g.s.X + xx] = s;
        }
  return y;
}

/* conv_forward_post's epilogue on a reference output (N, Co, Y, X), in double: the activation,
 * then the batch norm */
static std::vector<double> post_ref(const ConvGeom &g, const std::vector<double> &y,
                                    const ConvPost &p)
{
  std::vector<double> r(y.size());
  for (size_t i = 0; i < y.size(); i++) {
    const int c = (int) ((i / g.P) % (size_t) g.s.Cout);
    double    v = y[i];
    v           = p.act == GYRE_ACT_RELU   ? (v > 0 ? v : 0)
                  : p.act == GYRE_ACT_GELU ? 0.5 * v * (1.0 + std::erf(v / std::sqrt(2.0)))
                                           : std::tanh(v);
    r[i]        = (double) p.gamma[c] * ((v - p.mean[c]) * p.invstd[c]) + p.beta[c];
  }
  return r;
}

/* the padded layout of C channels and its im2col offsets, by the kernels */
static void padded(const ConvGeom &g, int C, const std::vector<float> &in, std::vector<float> &xp,
                   std::vector<long long> &jt)
{
  xp.assign((size_t) C * g.L, NAN), jt.assign((size_t) C * g.K, -1);
  float     *xpd = xp.data();
  long long *jtd = jt.data();
  ELEMENTWISE(k_pad, xp.size(), g, C, in.data(), xpd);
  ELEMENTWISE(k_igemm_offsets, jt.size(), g, C, jtd);
}

template <int BN, int TN, int TC = 0> static void forward_and_dx(int circ)
{
  constexpr int T    = 16 * BN / TN;
  unsigned      seed = 7u + BN + TN + circ;
  /* 2 samples of 9 x 11, 3 input channels, 3 x 3 kernels: 286 padded rows (3 row tiles), a
   * reduction of 27 (4 steps, the last partial); output channels: 1.5 column tiles */
  const int                Co = BN + BN / 2 - 3;
  const ConvGeom           g  = geom(2, 3, Co, 9, 11, 3, 3, circ);
  const int                Ci = g.s.Cin, Kd = Ci * g.K, M = (int) g.m;
  const std::vector<float> x = randoms((size_t) g.s.N * Ci * g.P, &seed),
                           W = randoms((size_t) Co * Kd, &seed), b = randoms(Co, &seed);
  std::vector<float>     xp;
  std::vector<long long> jt;
  padded(g, Ci, x, xp, jt);
  const std::vector<double> ref = conv_ref(g, x, W, b);
  const dim3         grid((unsigned) ((M + IG_BM - 1) / IG_BM), (unsigned) ((Co + BN - 1) / BN), 1);
  const IgShifted    fa{xp.data(), jt.data()};
  const IgRows       fb{W.data(), (size_t) Kd};
  std::vector<float> y(ref.size(), NAN);
  const IgToGrid     ep{g, Co, b.data(), y.data()};
  emu_launch(grid, T, [&] {
    k_igemm<BN, TN, IG_BK, IgShifted, IgRows, IgToGrid, false, false, TC>(M, Co, Kd, Kd, fa, fb,
                                                                          ep);
  });
  size_t bad;
  double err = compare(ref, y, &bad);
  report("forward", g, BN, TN, IG_BK, TC, err, bad);
  /* split: 4 chunks of 8 (the last of 3: a partial step), summed by k_unpad with b */
  const int          kchunk = 8, zc = (Kd + kchunk - 1) / kchunk;
  std::vector<float> part((size_t) zc * Co * M, NAN);
  const IgToPart     pe{M, Co, part.data()};
  emu_launch(dim3(grid.x, grid.y, (unsigned) zc), T, [&] {
    k_igemm<BN, TN, IG_BK, IgShifted, IgRows, IgToPart, false, false, TC>(M, Co, Kd, kchunk, fa, fb,
                                                                          pe);
  });
  std::fill(y.begin(), y.end(), NAN);
  float *yd = y.data();
  ELEMENTWISE(k_unpad, y.size(), g, Co, zc, part.data(), b.data(), yd, ConvPost{});
  err = compare(ref, y, &bad);
  report("split", g, BN, TN, IG_BK, TC, err, bad);
  /* the inference epilogue (conv_forward_post): an activation (ReLU, GELU or tanh by the
   * variant) and a batch norm with random statistics, in the kernel and in k_unpad */
  const std::vector<float> mean = randoms(Co, &seed), gam = randoms(Co, &seed),
                           bet = randoms(Co, &seed), u = randoms(Co, &seed);
  std::vector<float> inv(Co);
  for (int o = 0; o < Co; o++)
    inv[o] = 1.0f + 0.5f * u[o]; /* [0.5, 1.5) */
  ConvPost post;
  post.act = (BN + TN + circ) % 3, post.mean = mean.data(), post.invstd = inv.data(),
  post.gamma = gam.data(), post.beta = bet.data();
  const std::vector<double> pref = post_ref(g, ref, post);
  std::fill(y.begin(), y.end(), NAN);
  const IgToGrid epp{g, Co, b.data(), y.data(), post};
  emu_launch(grid, T, [&] {
    k_igemm<BN, TN, IG_BK, IgShifted, IgRows, IgToGrid, false, false, TC>(M, Co, Kd, Kd, fa, fb,
                                                                          epp);
  });
  err = compare(pref, y, &bad);
  report(post.act == GYRE_ACT_RELU   ? "fused relu"
         : post.act == GYRE_ACT_GELU ? "fused gelu"
                                     : "fused tanh",
         g, BN, TN, IG_BK, TC, err, bad);
  std::fill(y.begin(), y.end(), NAN);
  ELEMENTWISE(k_unpad, y.size(), g, Co, zc, part.data(), b.data(), yd, post);
  err = compare(pref, y, &bad);
  report("split fused", g, BN, TN, IG_BK, TC, err, bad);
  /* dx (N, Ci, Y, X) = conv(dy padded alike, W flipped and transposed): the adjoint, checked
   * against <conv(x), dy> = <x, dx> element by element: dx[n,i,p] = sum_o,k W[o,i,k] dy[n,o,
   * p - k] with the padding's rule */
  const ConvGeom           ga = geom(2, Co, Ci, 9, 11, 3, 3, circ); /* dy -> dx */
  const std::vector<float> dy = randoms((size_t) g.s.N * Co * g.P, &seed);
  std::vector<float>       dyp, Wt(W.size(), NAN), dx((size_t) g.s.N * Ci * g.P, NAN);
  std::vector<long long>   jta;
  padded(ga, Co, dy, dyp, jta);
  float *Wtd = Wt.data();
  ELEMENTWISE(k_flip_t, W.size(), Co, Ci, g.K, W.data(), Wtd);
  const int       Kda = Co * g.K;
  const IgShifted fa2{dyp.data(), jta.data()};
  const IgRows    fb2{Wt.data(), (size_t) Kda};
  const IgToGrid  ep2{ga, Ci, nullptr, dx.data()};
  emu_launch(dim3(grid.x, (unsigned) ((Ci + BN - 1) / BN), 1), T, [&] {
    k_igemm<BN, TN, IG_BK, IgShifted, IgRows, IgToGrid, false, false, TC>(M, Ci, Kda, Kda, fa2, fb2,
                                                                          ep2);
  });
  std::vector<double> dref(dx.size(), 0.0);
  for (int n = 0; n < g.s.N; n++)
    for (int o = 0; o < Co; o++)
      for (int yy = 0; yy < g.s.Y; yy++)
        for (int xx = 0; xx < g.s.X; xx++) {
          const double d = dy[(((size_t) n * Co + o) * g.s.Y + yy) * g.s.X + xx];
          for (int i = 0; i < Ci; i++)
            for (int ky = 0; ky < g.s.KY; ky++)
              for (int kx = 0; kx < g.s.KX; kx++) {
                int sy = yy + ky - g.s.PY, sx = xx + kx - g.s.PX;
                if (circ)
                  sy = (sy % g.s.Y + g.s.Y) % g.s.Y, sx = (sx % g.s.X + g.s.X) % g.s.X;
                else if (sy < 0 || sy >= g.s.Y || sx < 0 || sx >= g.s.X)
                  continue;
                dref[(((size_t) n * Ci + i) * g.s.Y + sy) * g.s.X + sx] +=
                    d * W[(((size_t) o * Ci + i) * g.s.KY + ky) * g.s.KX + kx];
              }
        }
  err = compare(dref, dx, &bad);
  report("dx", g, BN, TN, IG_BK, TC, err, bad);
}

template <int BN, int TN, int BK, bool HOIST = (BK > 8), int TC = 0>
static void weight_gradient(int circ)
{
  constexpr int T    = 16 * BN / TN;
  unsigned      seed = 11u + BN + TN + BK + circ;
  /* 16 input channels x 3 x 3: Kd = 144 rows of dW^T (2 row tiles); 286 positions in chunks of
   * 96 (steps of 8) or 128 (steps of 32), the last partial; output channels: 1.5 column tiles */
  const int                Co = BN + BN / 2 - 1;
  const ConvGeom           g  = geom(2, 16, Co, 9, 11, 3, 3, circ);
  const int                Ci = g.s.Cin, Kd = Ci * g.K, m = (int) g.m;
  const std::vector<float> x  = randoms((size_t) g.s.N * Ci * g.P, &seed),
                           dy = randoms((size_t) g.s.N * Co * g.P, &seed);
  std::vector<float>     xp, dyw((size_t) Co * m, NAN);
  std::vector<long long> jt;
  padded(g, Ci, x, xp, jt);
  float *dywd = dyw.data();
  ELEMENTWISE(k_widen, dyw.size(), g, Co, dy.data(), dywd);
  const int          kchunk = BK == 8 ? 96 : 128, zc = (m + kchunk - 1) / kchunk;
  std::vector<float> part((size_t) zc * Co * Kd, NAN);
  const IgShiftedT   fa{xp.data(), jt.data()};
  const IgRows       fb{dyw.data(), (size_t) m};
  const IgToPart     ep{Kd, Co, part.data()};
  const dim3         grid((unsigned) ((Kd + IG_BM - 1) / IG_BM), (unsigned) ((Co + BN - 1) / BN),
                          (unsigned) zc);
  emu_launch(grid, T, [&] {
    k_igemm<BN, TN, BK, IgShiftedT, IgRows, IgToPart, true, HOIST, TC>(Kd, Co, m, kchunk, fa, fb,
                                                                       ep);
  });
  /* the chunks' sum (dense_conv.cu: one GEMV) as dW (Co, Ci, KY, KX), and its reference */
  std::vector<float>  dW((size_t) Co * Kd, 0.0f);
  std::vector<double> ref(dW.size(), 0.0);
  for (int o = 0; o < Co; o++)
    for (int j = 0; j < Kd; j++) {
      float s = 0;
      for (int z = 0; z < zc; z++)
        s += part[((size_t) z * Co + o) * Kd + j];
      dW[(size_t) o * Kd + j] = s;
      const int i = j / g.K, ky = (j % g.K) / g.s.KX, kx = j % g.s.KX;
      double    r = 0;
      for (int n = 0; n < g.s.N; n++)
        for (int yy = 0; yy < g.s.Y; yy++)
          for (int xx = 0; xx < g.s.X; xx++)
            r += dy[(((size_t) n * Co + o) * g.s.Y + yy) * g.s.X + xx] *
                 at(g, Ci, x, n, i, yy + ky - g.s.PY, xx + kx - g.s.PX);
      ref[(size_t) o * Kd + j] = r;
    }
  size_t       bad;
  const double err = compare(ref, dW, &bad);
  report(HOIST ? "dW held" : "dW", g, BN, TN, BK, TC, err, bad);
}

/* The FFT convolution's kernels (conv_fft.cuh, GYRE_CUDA_CONV=fft): k_fft_weights against the
 * transform summed directly in double (every mode of every (i, o), both blocks of rows), and
 * k_fft_weights_adjoint against the adjoint summed the same way, adding to a dW that holds
 * values already; outputs poisoned first. Kernels up to the grid's size and beyond it (the
 * circular wrap more than once). */
static void fft_weights(int Ci, int Co, int Y, int X, int KY, int KX)
{
  unsigned            seed = 11u + (unsigned) (Y * 7 + X);
  const FftGeom       f{Ci, Co, Y, X, KY, KX, (KY - 1) / 2, (KX - 1) / 2, Y / 2, X / 2 + 1};
  const size_t        nw = (size_t) 2 * Ci * Co * f.MY * f.MX, nk = (size_t) Co * Ci * KY * KX;
  const auto          W = randoms(nk, &seed), dGr = randoms(nw, &seed), dGi = randoms(nw, &seed);
  auto                dW0 = randoms(nk, &seed);
  std::vector<float>  Gr(nw, NAN), Gi(nw, NAN), dW = dW0;
  std::vector<double> rr(nw), ri(nw), rdw(nk);
  std::vector<float2> ey((size_t) Y * KY), ex((size_t) f.MX * KX);
  ELEMENTWISE(k_fft_tables, ey.size() + ex.size(), f, ey.data(), ex.data());
  ELEMENTWISE(k_fft_weights, (size_t) Ci * Co * f.MX, f, ey.data(), ex.data(), W.data(), Gr.data(),
              Gi.data());
  emu_launch(dim3((unsigned) (Ci * Co)), FFT_ADJ_T, [&] {
    k_fft_weights_adjoint(f, ey.data(), ex.data(), dGr.data(), dGi.data(), dW.data());
  });
  const double tau = 6.283185307179586476925;
  for (int o = 0; o < Co; o++)
    for (int i = 0; i < Ci; i++)
      for (int ky = 0; ky < Y; ky++)
        for (int kx = 0; kx < f.MX; kx++) {
          const int    b = ky >= f.MY;
          const size_t k = ((((size_t) b * Ci + i) * Co + o) * f.MY + ky - b * f.MY) * f.MX + kx;
          for (int a = 0; a < KY; a++)
            for (int c = 0; c < KX; c++) {
              const double th = tau * ((double) ky * (a - f.PY) / Y + (double) kx * (c - f.PX) / X);
              const size_t w  = (((size_t) o * Ci + i) * KY + a) * KX + c;
              rr[k] += W[w] * std::cos(th), ri[k] += W[w] * std::sin(th);
              rdw[w] += dGr[k] * std::cos(th) + dGi[k] * std::sin(th);
            }
        }
  for (size_t w = 0; w < nk; w++)
    rdw[w] += dW0[w];
  size_t bad_r, bad_i, bad_w;
  double mr = 0, mi = 0; /* the parts' errors over the largest |G| (a part may be all zeros) */
  for (size_t k = 0; k < nw; k++)
    mr = std::max(mr, std::fabs(rr[k])), mi = std::max(mi, std::fabs(ri[k]));
  const double er = compare(rr, Gr, &bad_r) * mr / std::max(mr, mi),
               ei = compare(ri, Gi, &bad_i) * mi / std::max(mr, mi);
  const double ew = compare(rdw, dW, &bad_w), err = std::max(er, std::max(ei, ew));
  const int    fail = !(err <= 1e-5) || bad_r || bad_i || bad_w;
  printf("%s fft weights  %d -> %d on %dx%d, kernel %dx%d: transform %.2e / %.2e, adjoint %.2e of "
         "the largest value%s\n",
         fail ? "FAIL" : "ok  ", Ci, Co, Y, X, KY, KX, er, ei, ew,
         bad_r || bad_i || bad_w ? " (unwritten elements)" : "");
  failures += fail;
}

/* The spectral convolution's mode products (spectral_modes.cuh): the tiled forms against the
 * one-output-a-thread forms, bitwise (the same sums in the same order), with partial tiles of
 * samples, channels and modes; dW added to values already there. 2-D geometry: 2 blocks of
 * MY x MX modes. */
static void modes_tiled(int N, int Ci, int Co, int Y, int X, int MY, int MX)
{
  unsigned seed = 5u + (unsigned) (N * 31 + Ci * 7 + Co);
  SpecGeom s{};
  s.N = N, s.Cin = Ci, s.Cout = Co, s.Y = Y, s.X = X, s.Xh = X / 2 + 1, s.MY = MY, s.MX = MX;
  s.nb = 2, s.mm = MY * MX, s.nm = 2 * s.mm;
  const size_t nw = (size_t) Ci * Co * s.nm;
  auto         rc = [&](size_t n) {
    std::vector<float2> v(n);
    for (auto &e : v)
      e = float2{urand(&seed), urand(&seed)};
    return v;
  };
  const auto          Xc = rc((size_t) N * Ci * s.nm), G = rc((size_t) N * Co * s.nm);
  const auto          Wr = randoms(nw, &seed), Wi = randoms(nw, &seed), dW0 = randoms(nw, &seed);
  const double        inv = 1.0 / ((double) X * Y);
  std::vector<float2> F[2], D[2];
  std::vector<float>  dWr[2], dWi[2];
  for (int k = 0; k < 2; k++) {
    F[k].assign((size_t) N * Co * s.nm, float2{NAN, NAN});
    D[k].assign((size_t) N * Ci * s.nm, float2{NAN, NAN});
    dWr[k] = dW0, dWi[k] = dW0;
  }
  ELEMENTWISE(k_modes_one<false>, (size_t) N * Co * s.nm, s, 0.0, Xc.data(), Wr.data(), Wi.data(),
              F[0].data());
  ELEMENTWISE(k_modes_one<true>, (size_t) N * Ci * s.nm, s, inv, G.data(), Wr.data(), Wi.data(),
              D[0].data());
  ELEMENTWISE(k_modes_dw, nw, s, inv, G.data(), Xc.data(), dWr[0].data(), dWi[0].data());
  /* z as spectral.cu's modes_grid but capped at 2 (not 65535): the kernels' loop over the
   * row groups beyond the grid */
  auto grid = [&](int cols, int rows) {
    return dim3((unsigned) ((s.nm + 31) / 32),
                (unsigned) ((cols + MT_T * MT_BY - 1) / (MT_T * MT_BY)),
                (unsigned) std::min((rows + MT_T - 1) / MT_T, 2));
  };
  emu_launch(grid(Co, N), dim3(32, MT_BY),
             [&] { k_modes_tiled<false>(s, 0.0, Xc.data(), Wr.data(), Wi.data(), F[1].data()); });
  emu_launch(grid(Ci, N), dim3(32, MT_BY),
             [&] { k_modes_tiled<true>(s, inv, G.data(), Wr.data(), Wi.data(), D[1].data()); });
  emu_launch(grid(Co, Ci), dim3(32, MT_BY),
             [&] { k_modes_dw_tiled(s, inv, G.data(), Xc.data(), dWr[1].data(), dWi[1].data()); });
  const int same = !std::memcmp(F[0].data(), F[1].data(), sizeof(float2) * F[0].size()) &&
                   !std::memcmp(D[0].data(), D[1].data(), sizeof(float2) * D[0].size()) &&
                   dWr[0] == dWr[1] && dWi[0] == dWi[1];
  size_t nan = 0;
  for (const auto &v : {F[0], D[0]})
    for (const auto &e : v)
      nan += std::isnan(e.x) || std::isnan(e.y);
  printf("%s modes tiled  N %d, %d -> %d, %d modes: forward, dx and dW %s the one-a-thread "
         "kernels'%s\n",
         same && !nan ? "ok  " : "FAIL", N, Ci, Co, s.nm, same ? "bitwise" : "NOT bitwise",
         nan ? " (unwritten elements)" : "");
  failures += !same || nan;
}

/* The direct convolution (direct.cuh, GYRE_CUDA_CONV=direct) against the double reference, plain
 * and with the inference epilogue (act: ReLU, GELU or tanh, and a batch norm), with and without
 * a bias, on a grid of (ceil(X / 16), ceil(Y / 16), N) blocks of 16 x 16 threads */
static void direct(int N, int Ci, int Co, int Y, int X, int KY, int KX, int circ, int act, int bias)
{
  unsigned                 seed = 11u + (unsigned) (N + Ci * 3 + Co * 5 + Y + X * 7 + KY + circ);
  const ConvGeom           g    = geom(N, Ci, Co, Y, X, KY, KX, circ);
  const std::vector<float> x    = randoms((size_t) N * Ci * g.P, &seed),
                           W    = randoms((size_t) Co * Ci * g.K, &seed);
  const std::vector<float>  b   = bias ? randoms(Co, &seed) : std::vector<float>();
  const std::vector<double> ref = conv_ref(g, x, W, b);
  const dim3                grid((unsigned) ((X + DC_TILE - 1) / DC_TILE),
                                 (unsigned) ((Y + DC_TILE - 1) / DC_TILE), (unsigned) N);
  std::vector<float>        y(ref.size(), NAN);
  ConvPost                  post; /* plain first */
  for (int pass = 0; pass < 2; pass++) {
    const std::vector<float> mean = randoms(Co, &seed), gam = randoms(Co, &seed),
                             bet = randoms(Co, &seed), u = randoms(Co, &seed);
    std::vector<float> inv(Co);
    for (int o = 0; o < Co; o++)
      inv[o] = 1.0f + 0.5f * u[o];
    if (pass) /* the epilogue: the activation, then the batch norm */
      post.act = act, post.mean = mean.data(), post.invstd = inv.data(), post.gamma = gam.data(),
      post.beta = bet.data();
    std::fill(y.begin(), y.end(), NAN);
    float *yd = y.data();
    emu_launch(grid, dim3(DC_TILE, DC_TILE),
               [&] { k_direct_conv(g, x.data(), W.data(), bias ? b.data() : nullptr, yd, post); });
    size_t       bad;
    const double err  = compare(pass ? post_ref(g, ref, post) : ref, y, &bad);
    const int    fail = !(err <= 1e-5) || bad;
    printf("%s direct       %-8s N %d, %2d -> %2d, %2d x %2d, kernel %d x %d%s%s: max err %.2e of "
           "the largest value%s\n",
           fail ? "FAIL" : "ok  ", circ ? "circular" : "zero", N, Ci, Co, Y, X, KY, KX,
           bias ? ", bias" : "",
           !pass                       ? ""
           : post.act == GYRE_ACT_RELU ? ", relu + bn"
           : post.act == GYRE_ACT_GELU ? ", gelu + bn"
                                       : ", tanh + bn",
           err, bad ? " (unwritten elements)" : "");
    failures += fail;
  }
}

int main()
{
  for (int circ = 0; circ < 2; circ++) {
    forward_and_dx<32, 4>(circ);
    forward_and_dx<64, 4>(circ);
    forward_and_dx<64, 8>(circ);
    forward_and_dx<128, 8>(circ);
    weight_gradient<32, 4, 8>(circ);
    weight_gradient<64, 4, 8>(circ);
    weight_gradient<64, 8, 8>(circ);
    weight_gradient<128, 8, 8>(circ);
    weight_gradient<32, 4, 32>(circ); /* GYRE_CUDA_IGEMM_DW_BK=32 */
    weight_gradient<64, 4, 32>(circ);
    weight_gradient<32, 4, 8, true>(circ); /* GYRE_CUDA_IGEMM_DW_HOIST=1 */
    weight_gradient<64, 4, 8, true>(circ);
    weight_gradient<64, 8, 8, true>(circ);
    weight_gradient<128, 8, 8, true>(circ);
    /* on the tensor cores (GYRE_CUDA_IGEMM_TC=3 in fp32; tf32's precision) */
    forward_and_dx<32, 4, 3>(circ);
    forward_and_dx<64, 4, 3>(circ);
    forward_and_dx<64, 8, 3>(circ);
    forward_and_dx<128, 8, 3>(circ);
    forward_and_dx<64, 4, 1>(circ);
    weight_gradient<32, 4, 8, false, 3>(circ);
    weight_gradient<64, 4, 8, false, 3>(circ);
    weight_gradient<64, 8, 8, false, 3>(circ);
    weight_gradient<128, 8, 8, false, 3>(circ);
    weight_gradient<64, 4, 8, false, 1>(circ);
  }
  /* the direct convolution: the small CNN closure's layers on its 72^2 block (1 -> 8, 5 x 5;
   * 8 -> 8 and 8 -> 1, 3 x 3), partial tiles, 16 output channels, even and 1-D kernels, the
   * largest kernel, zero padding */
  direct(1, 1, 8, 72, 72, 5, 5, 1, GYRE_ACT_RELU, 1);
  direct(1, 8, 8, 72, 72, 3, 3, 1, GYRE_ACT_GELU, 1);
  direct(1, 8, 1, 72, 72, 3, 3, 1, GYRE_ACT_TANH, 0);
  direct(2, 3, 16, 9, 11, 3, 3, 0, GYRE_ACT_RELU, 1);
  direct(3, 2, 5, 17, 33, 4, 2, 1, GYRE_ACT_GELU, 1);
  direct(2, 4, 3, 1, 40, 1, 7, 0, GYRE_ACT_TANH, 1);
  direct(1, 5, 16, 20, 18, 7, 7, 1, GYRE_ACT_RELU, 0);
  direct(1, 2, 3, 5, 4, 7, 5, 1, GYRE_ACT_TANH, 1); /* a kernel wider than the grid */
  fft_weights(3, 2, 8, 6, 5, 5);
  fft_weights(2, 3, 6, 9, 3, 1);
  fft_weights(2, 2, 4, 3, 5, 7); /* kernels wider than the grid */
  fft_weights(1, 1, 2, 1, 3, 3);
  modes_tiled(5, 7, 6, 8, 10, 4, 6);  /* every tile partial; 48 modes */
  modes_tiled(8, 16, 17, 6, 6, 3, 4); /* 2 column groups of 16, one of 1 */
  modes_tiled(13, 18, 9, 4, 6, 2, 4); /* 4 row groups of samples and 5 of channels on z = 2 */
  modes_tiled(1, 3, 2, 4, 4, 2, 3);
  printf("%d failure(s)\n", failures);
  return failures ? 1 : 0;
}
