/* conv_fft.cuh — the kernels of the CUDA backend's convolution through the FFT (dense_conv.cu,
 * GYRE_CUDA_CONV=fft): the kernel's transform into the spectral convolution's weights and that
 * transform's adjoint (the weights' gradient). A 2-D circular convolution with an even number of
 * rows is the spectral convolution of every mode (MY = Y / 2, MX = X / 2 + 1) with
 *   G[i,o,k] = sum_{a,c} W[o,i,a,c] e^{+i th}, th = 2 pi (k_y (a - PY) / Y + k_x (c - PX) / X)
 * as its weights (surrogates/cpu/conv_fft.c says why; the same formulas there, in double). A
 * header of its own so that tests/nn_cuda_emu runs these kernels on the CPU against that
 * reference. */
#ifndef GYRE_CONV_FFT_CUH
#define GYRE_CONV_FFT_CUH
#include "grid_stride.cuh"

typedef struct {
  int Cin, Cout, Y, X, KY, KX, PY, PX, MY, MX;
} FftGeom;
#define FFT_KK_MAX 64 /* kernels of at most 64 taps (the adjoint's shared-memory sums) */
#define FFT_KY_MAX 16 /* and at most 16 rows (k_fft_weights' sums held in registers) */
#define FFT_ADJ_T 128

/* e^{+2 pi i ((j (a - P)) mod n) / n}, the angle reduced exactly in integers */
__device__ static inline float2 fft_tw(int j, int a, int P, int n)
{
  long long t = ((long long) j * (a - P)) % n;
  if (t < 0) t += n;
  float sn, cs;
  sincospif(2.0f * (float) t / (float) n, &sn, &cs);
  return make_float2(cs, sn);
}

/* the offset of mode (k_y, k_x) of (i, o) in the spectral weights (2, Cin, Cout, MY, MX) */
__device__ static inline size_t fft_widx(const FftGeom &f, int i, int o, int ky, int kx)
{
  const int b = ky >= f.MY, r = ky - b * f.MY;
  return ((((size_t) b * f.Cin + i) * f.Cout + o) * f.MY + r) * f.MX + kx;
}

/* the twiddle tables: ey[k_y KY + a] (Y KY) and ex[k_x KX + c] (MX KX), fft_tw's values (made
 * once a call, read by the two kernels below instead of two sincospif a product) */
__global__ static void k_fft_tables(FftGeom f, float2 *ey, float2 *ex)
{
  const size_t ny = (size_t) f.Y * f.KY, n_all = ny + (size_t) f.MX * f.KX;
  GRID_STRIDE(j, n_all)
  {
    if (j < ny)
      ey[j] = fft_tw((int) (j / f.KY), (int) (j % f.KY), f.PY, f.Y);
    else
      ex[j - ny] = fft_tw((int) ((j - ny) / f.KX), (int) ((j - ny) % f.KX), f.PX, f.X);
  }
}

/* Gr, Gi = the transform of W, separably: a thread a column k_x of one (i, o), its KY sums over
 * the kernel's columns (u[a] = sum_c W[o,i,a,c] e_x) held, then every k_y of the column from
 * them (Y KY products where the direct sum takes Y KY KX; the same sums in the same order as
 * before, u's inner sum being the same for every k_y) */
__global__ static void k_fft_weights(FftGeom f, const float2 *ey, const float2 *ex, const float *W,
                                     float *Gr, float *Gi)
{
  const size_t n_all = (size_t) f.Cin * f.Cout * f.MX;
  GRID_STRIDE(j, n_all)
  {
    const int    kx = (int) (j % f.MX);
    const size_t io = j / f.MX;
    const int    o = (int) (io % f.Cout), i = (int) (io / f.Cout);
    const float *w = W + ((size_t) o * f.Cin + i) * f.KY * f.KX;
    float2       u[FFT_KY_MAX];
    for (int a = 0; a < f.KY; a++) {
      float ur = 0.0f, ui = 0.0f; /* sum_c w[a, c] e_x */
      for (int c = 0; c < f.KX; c++) {
        const float2 x = ex[kx * f.KX + c];
        ur += w[a * f.KX + c] * x.x;
        ui += w[a * f.KX + c] * x.y;
      }
      u[a] = make_float2(ur, ui);
    }
    for (int ky = 0; ky < f.Y; ky++) {
      float re = 0.0f, im = 0.0f;
      for (int a = 0; a < f.KY; a++) {
        const float2 y = ey[ky * f.KY + a];
        re += y.x * u[a].x - y.y * u[a].y;
        im += y.x * u[a].y + y.y * u[a].x;
      }
      const size_t k = fft_widx(f, i, o, ky, kx);
      Gr[k] = re, Gi[k] = im;
    }
  }
}

/* dW[o, i] += the adjoint of the transform applied to (dGr, dGi): one block a pair (o, i), its
 * threads over the modes, each tap's partial sums in shared memory (a column a thread) summed by a
 * fixed tree (deterministic) */
__global__ static void __launch_bounds__(FFT_ADJ_T)
    k_fft_weights_adjoint(FftGeom f, const float2 *ey, const float2 *ex, const float *dGr,
                          const float *dGi, float *dW)
{
  __shared__ float acc[FFT_KK_MAX][FFT_ADJ_T];
  const int        KK = f.KY * f.KX, tid = threadIdx.x;
  const int        o = (int) (blockIdx.x / f.Cin), i = (int) (blockIdx.x % f.Cin);
  for (int k = 0; k < KK; k++)
    acc[k][tid] = 0.0f;
  for (int m = tid; m < f.Y * f.MX; m += FFT_ADJ_T) {
    const int    ky = m / f.MX, kx = m % f.MX;
    const size_t w  = fft_widx(f, i, o, ky, kx);
    const float  gr = dGr[w], gi = dGi[w];
    for (int a = 0; a < f.KY; a++) {
      const float2 y  = ey[ky * f.KY + a];
      const float  vr = gr * y.x + gi * y.y, vi = gi * y.x - gr * y.y; /* conj(e_y) dG */
      for (int c = 0; c < f.KX; c++) {
        const float2 x = ex[kx * f.KX + c];
        acc[a * f.KX + c][tid] += vr * x.x + vi * x.y; /* Re conj(e_x) v */
      }
    }
  }
  __syncthreads();
  for (int h = FFT_ADJ_T / 2; h > 0; h /= 2) {
    if (tid < h)
      for (int k = 0; k < KK; k++)
        acc[k][tid] += acc[k][tid + h];
    __syncthreads();
  }
  for (int k = tid; k < KK; k += FFT_ADJ_T)
    dW[(size_t) blockIdx.x * KK + k] += acc[k][0];
}

#endif /* GYRE_CONV_FFT_CUH */
