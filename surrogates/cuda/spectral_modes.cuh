/* spectral_modes.cuh — the spectral convolution's mode products on the CUDA backend
 * (spectral.cu): the forward's products y_hat = x_hat W, the input gradient's g_hat conj(W) and
 * the weights' gradient g_hat conj(x_hat) summed over the batch, each mode of each output a sum
 * over channels (or samples). Two forms of each:
 *  - one output a thread (k_modes_one<false>, k_modes_one<true>, k_modes_dw): the FNO's (20
 *    channels);
 *  - tiled (k_modes_tiled<false>, k_modes_tiled<true>, k_modes_dw_tiled): a thread computes 4 x 4
 * outputs of one mode (4 samples x 4 output channels, 4 input x 4 output channels for dW), each
 * operand it loads used 4 times, for wide layers (the FFT convolution's 128 -> 64: dense_conv.cu,
 * GYRE_CUDA_CONV=fft), where the one-a-thread form reads every operand once a product. Each
 * output's sum runs over the same index in the same order, in the same precision, in both forms:
 * bitwise the same results. A header of its own so that tests/nn_cuda_emu runs both forms on the
 * CPU and compares them. */
#ifndef GYRE_SPECTRAL_MODES_CUH
#define GYRE_SPECTRAL_MODES_CUH
#include <type_traits>
#include "op_shapes.h"

typedef GyreSpecShape SpecGeom;

static __device__ inline size_t widx(const SpecGeom &s, int i, int o, int m)
{
  const int b = m / s.mm;
  return ((size_t) (b * s.Cin + i) * s.Cout + o) * s.mm + (m - b * s.mm);
}

/* DX = false (the forward):  F[n, o, m] = sum_i Xc[n, i, m] (Wr + i Wi)[i, o, m], in float;
 * DX = true (the adjoint):   D[n, i, m] = inv sum_o G[n, o, m] conj(W[i, o, m]), in double;
 * one output a thread (A = Xc or G, out = F or D) */
template <bool DX>
__global__ static void k_modes_one(SpecGeom s, double inv, const float2 *A, const float *Wr,
                                   const float *Wi, float2 *out)
{
  using Acc      = std::conditional_t<DX, double, float>;
  const int    K = DX ? s.Cout : s.Cin, C = DX ? s.Cin : s.Cout; /* summed, and outputs */
  const size_t n_all = (size_t) s.N * C * s.nm;
  for (size_t j = blockIdx.x * (size_t) blockDim.x + threadIdx.x; j < n_all;
       j += (size_t) gridDim.x * blockDim.x) {
    const int    m  = (int) (j % s.nm);
    const size_t nc = j / s.nm;
    const int    c = (int) (nc % C), n = (int) (nc / C);
    Acc          re = 0, im = 0;
    for (int k = 0; k < K; k++) {
      const float2 a = A[((size_t) n * K + k) * s.nm + m];
      const size_t w = DX ? widx(s, c, k, m) : widx(s, k, c, m);
      if constexpr (DX) {
        re += a.x * Wr[w] + a.y * Wi[w];
        im += a.y * Wr[w] - a.x * Wi[w];
      } else {
        re += a.x * Wr[w] - a.y * Wi[w];
        im += a.x * Wi[w] + a.y * Wr[w];
      }
    }
    out[j] = DX ? make_float2((float) (re * inv), (float) (im * inv))
                : make_float2((float) re, (float) im);
  }
}

/* dW[i, o, m] += c_kx / (X Y) sum_n G[n, o, m] conj(Xc[n, i, m]), in double over n */
__global__ static void k_modes_dw(SpecGeom s, double inv, const float2 *G, const float2 *Xc,
                                  float *dWr, float *dWi)
{
  const size_t n_all = (size_t) s.Cin * s.Cout * s.nm;
  for (size_t j = blockIdx.x * (size_t) blockDim.x + threadIdx.x; j < n_all;
       j += (size_t) gridDim.x * blockDim.x) {
    const int    m  = (int) (j % s.nm);
    const size_t io = j / s.nm;
    const int    o = (int) (io % s.Cout), i = (int) (io / s.Cout);
    const int    kx = m % s.MX;
    const double c  = (kx == 0 || 2 * kx == s.X) ? inv : 2.0 * inv;
    double       re = 0, im = 0;
    for (int n = 0; n < s.N; n++) {
      const float2 g  = G[((size_t) n * s.Cout + o) * s.nm + m];
      const float2 xc = Xc[((size_t) n * s.Cin + i) * s.nm + m];
      re += (double) g.x * xc.x + (double) g.y * xc.y;
      im += (double) g.y * xc.x - (double) g.x * xc.y;
    }
    const size_t w = widx(s, i, o, m);
    if (dWr) dWr[w] += (float) (c * re);
    if (dWi) dWi[w] += (float) (c * im);
  }
}

/* the tiled forms: blocks of (32, 4) threads; threadIdx.x a mode of blockIdx.x's 32, threadIdx.y
 * and blockIdx.y a group of MT_T output columns (channels), blockIdx.z a group of MT_T rows
 * (samples, or input channels for dW) and every gridDim.z-th group after it (the grid's z is
 * at most 65535) */
#define MT_T 4
#define MT_BY 4

/* DX = false: F[n, o, m] = sum_i Xc[n, i, m] (Wr + i Wi)[i, o, m] (k_modes_one<false>'s sums, in
 * float; A = Xc, out = F, columns o);
 * DX = true:  D[n, i, m] = inv sum_o G[n, o, m] conj(W[i, o, m]) (k_modes_one<true>'s, in double; A
 * = G, out = D, columns i) */
template <bool DX>
__global__ static void k_modes_tiled(SpecGeom s, double inv, const float2 *A, const float *Wr,
                                     const float *Wi, float2 *out)
{
  using Acc   = std::conditional_t<DX, double, float>;
  const int K = DX ? s.Cout : s.Cin, C = DX ? s.Cin : s.Cout; /* summed, and columns */
  const int m  = blockIdx.x * 32 + threadIdx.x;
  const int c0 = (blockIdx.y * MT_BY + threadIdx.y) * MT_T;
  if (m >= s.nm || c0 >= C) return;
  for (int n0 = blockIdx.z * MT_T; n0 < s.N; n0 += gridDim.z * MT_T) { /* (z: at most 65535) */
    const int nt = min(MT_T, s.N - n0), ct = min(MT_T, C - c0);
    Acc       re[MT_T][MT_T] = {}, im[MT_T][MT_T] = {};
    for (int k = 0; k < K; k++) {
      float2 a[MT_T];
      float  wr[MT_T], wi[MT_T];
#pragma unroll
      for (int t = 0; t < MT_T; t++)
        a[t] = t < nt ? A[((size_t) (n0 + t) * K + k) * s.nm + m] : make_float2(0.0f, 0.0f);
#pragma unroll
      for (int u = 0; u < MT_T; u++) {
        const size_t w = u < ct ? (DX ? widx(s, c0 + u, k, m) : widx(s, k, c0 + u, m)) : 0;
        wr[u] = u < ct ? Wr[w] : 0.0f, wi[u] = u < ct ? Wi[w] : 0.0f;
      }
#pragma unroll
      for (int t = 0; t < MT_T; t++)
#pragma unroll
        for (int u = 0; u < MT_T; u++)
          if constexpr (DX) {
            re[t][u] += a[t].x * wr[u] + a[t].y * wi[u];
            im[t][u] += a[t].y * wr[u] - a[t].x * wi[u];
          } else {
            re[t][u] += a[t].x * wr[u] - a[t].y * wi[u];
            im[t][u] += a[t].x * wi[u] + a[t].y * wr[u];
          }
    }
#pragma unroll
    for (int t = 0; t < MT_T; t++)
#pragma unroll
      for (int u = 0; u < MT_T; u++)
        if (t < nt && u < ct)
          out[((size_t) (n0 + t) * C + c0 + u) * s.nm + m] =
              DX ? make_float2((float) (re[t][u] * inv), (float) (im[t][u] * inv))
                 : make_float2((float) re[t][u], (float) im[t][u]);
  }
}

/* dW[i, o, m] += c_kx / (X Y) sum_n G[n, o, m] conj(Xc[n, i, m]), in double over n (k_modes_dw's
 * sums); blockIdx.z a group of MT_T input channels */
__global__ static void k_modes_dw_tiled(SpecGeom s, double inv, const float2 *G, const float2 *Xc,
                                        float *dWr, float *dWi)
{
  const int m  = blockIdx.x * 32 + threadIdx.x;
  const int o0 = (blockIdx.y * MT_BY + threadIdx.y) * MT_T;
  if (m >= s.nm || o0 >= s.Cout) return;
  for (int i0 = blockIdx.z * MT_T; i0 < s.Cin; i0 += gridDim.z * MT_T) { /* (z: at most 65535) */
    const int    it = min(MT_T, s.Cin - i0), ot = min(MT_T, s.Cout - o0), kx = m % s.MX;
    const double c              = (kx == 0 || 2 * kx == s.X) ? inv : 2.0 * inv;
    double       re[MT_T][MT_T] = {}, im[MT_T][MT_T] = {};
    for (int n = 0; n < s.N; n++) {
      float2 g[MT_T], xc[MT_T];
#pragma unroll
      for (int u = 0; u < MT_T; u++)
        g[u] = u < ot ? G[((size_t) n * s.Cout + o0 + u) * s.nm + m] : make_float2(0.0f, 0.0f);
#pragma unroll
      for (int t = 0; t < MT_T; t++)
        xc[t] = t < it ? Xc[((size_t) n * s.Cin + i0 + t) * s.nm + m] : make_float2(0.0f, 0.0f);
#pragma unroll
      for (int t = 0; t < MT_T; t++)
#pragma unroll
        for (int u = 0; u < MT_T; u++) {
          re[t][u] += (double) g[u].x * xc[t].x + (double) g[u].y * xc[t].y;
          im[t][u] += (double) g[u].y * xc[t].x - (double) g[u].x * xc[t].y;
        }
    }
#pragma unroll
    for (int t = 0; t < MT_T; t++)
#pragma unroll
      for (int u = 0; u < MT_T; u++)
        if (t < it && u < ot) {
          const size_t w = widx(s, i0 + t, o0 + u, m);
          if (dWr) dWr[w] += (float) (c * re[t][u]);
          if (dWi) dWi[w] += (float) (c * im[t][u]);
        }
  }
}

#endif /* GYRE_SPECTRAL_MODES_CUH */
