/* direct.cuh — the direct convolution for small layers (GYRE_CUDA_CONV=direct): one kernel a
 * layer, reading the input with its padding (circular or zero) in place, with the bias and the
 * inference epilogue (ConvPost: an activation and a batch norm) applied to each output while it
 * is in registers. For the layers of a small CNN closure on one field (the ns2d bench's small
 * CNN: 1 -> 8 -> 8 -> 1 channels, kernels 5, 3, 3, on 72^2), where the implicit GEMM takes
 * three launches a layer (the padded copy, the row offsets, the GEMM) on a few thousand
 * positions: a CUDA graph of such a network is a dozen dependent nodes whose launch latencies,
 * not their arithmetic, make the call's time. Measured on an H200 (2026-11-27): correct, but not
 * faster (the small CNN's call 0.111 ms against 0.088 by the default in tf32), so opt-in.
 *
 * A block of DC_TILE x DC_TILE threads computes a tile of as many output positions of one sample
 * for every output channel (at most DC_MAX_COUT accumulators a thread, in registers): the
 * weights (Cout, Cin, KY, KX) in shared memory once, then for each input channel its tile with
 * the halo (KY - 1 rows, KX - 1 columns) in shared memory, read by every thread for its K
 * products. The products are fp32 FMAs whatever the backend's precision (tf32 and bf16 allow
 * fewer bits; this is at least as accurate). Sums in the order ci, ky, kx, then the bias: not
 * the implicit GEMM's order, so equal to it to rounding, not bitwise.
 *
 * A header of its own so that tests/nn_cuda_emu runs the kernel on the CPU (cuda_emu.h). */
#ifndef GYRE_DIRECT_CUH
#define GYRE_DIRECT_CUH
#include "igemm.cuh" /* ConvGeom, ConvPost */

#define DC_TILE 16
#define DC_MAX_COUT 16
#define DC_MAX_K 7
#define DC_MAX_W 4096 /* weights held in shared memory (16 KiB) */

/* whether the direct convolution takes g: at most DC_MAX_COUT output channels, kernels of at
 * most DC_MAX_K taps a dimension, the weights within DC_MAX_W floats */
static inline int direct_conv_applies(const ConvGeom *g)
{
  return g->s.Cout >= 1 && g->s.Cout <= DC_MAX_COUT && g->s.KY <= DC_MAX_K && g->s.KX <= DC_MAX_K &&
         (size_t) g->s.Cin * g->K * g->s.Cout <= DC_MAX_W;
}

/* y (N, Cout, Y, X) = post(conv(x (N, Cin, Y, X), W (Cout, Cin, KY, KX)) + b) (b may be NULL),
 * position (oy, ox) reading x at (oy + ky - PY, ox + kx - PX), wrapped (circ) or zero outside.
 * Grid (ceil(X / DC_TILE), ceil(Y / DC_TILE), N), block (DC_TILE, DC_TILE). */
__global__ static void __launch_bounds__(DC_TILE *DC_TILE)
    k_direct_conv(ConvGeom g, const float *x, const float *W, const float *b, float *y,
                  ConvPost post)
{
  __shared__ float sw[DC_MAX_W];
  __shared__ float st[(DC_TILE + DC_MAX_K - 1) * (DC_TILE + DC_MAX_K - 1)];
  const int        tx = (int) threadIdx.x, ty = (int) threadIdx.y, t = ty * DC_TILE + tx;
  const int        n = (int) blockIdx.z, x0 = (int) blockIdx.x * DC_TILE;
  const int        y0  = (int) blockIdx.y * DC_TILE;
  const int        Cin = g.s.Cin, Cout = g.s.Cout, KY = g.s.KY, KX = g.s.KX;
  const int        TW = DC_TILE + KX - 1, TH = DC_TILE + KY - 1, CK = Cin * g.K;
  float            acc[DC_MAX_COUT];

  for (int i = t; i < CK * Cout; i += DC_TILE * DC_TILE)
    sw[i] = W[i];
#pragma unroll
  for (int co = 0; co < DC_MAX_COUT; co++)
    acc[co] = 0.0f;
  for (int ci = 0; ci < Cin; ci++) {
    const float *xc = x + ((size_t) n * Cin + ci) * g.P;
    __syncthreads(); /* the previous channel's tile read by every thread (and the weights in) */
    for (int i = t; i < TW * TH; i += DC_TILE * DC_TILE) {
      int   sy = y0 + i / TW - g.s.PY, sx = x0 + i % TW - g.s.PX;
      float v = 0.0f;
      if (g.s.circ) {
        sy = (sy % g.s.Y + g.s.Y) % g.s.Y;
        sx = (sx % g.s.X + g.s.X) % g.s.X;
        v  = xc[(size_t) sy * g.s.X + sx];
      } else if (sy >= 0 && sy < g.s.Y && sx >= 0 && sx < g.s.X)
        v = xc[(size_t) sy * g.s.X + sx];
      st[i] = v;
    }
    __syncthreads();
    for (int ky = 0; ky < KY; ky++)
      for (int kx = 0; kx < KX; kx++) {
        const float  v = st[(ty + ky) * TW + tx + kx];
        const float *w = sw + ci * g.K + ky * KX + kx; /* + co CK: output channel co's */
#pragma unroll
        for (int co = 0; co < DC_MAX_COUT; co++)
          if (co < Cout) acc[co] += w[co * CK] * v;
      }
  }
  const int oy = y0 + ty, ox = x0 + tx;
  if (oy >= g.s.Y || ox >= g.s.X) return;
#pragma unroll
  for (int co = 0; co < DC_MAX_COUT; co++)
    if (co < Cout)
      y[((size_t) n * Cout + co) * g.P + (size_t) oy * g.s.X + ox] =
          post(co, acc[co] + (b ? b[co] : 0.0f));
}

#endif
