/* spectral.cu — the spectral convolution (Li et al. 2021) on the CUDA backend; semantics and
 * adjoint exactly those of surrogates/cpu/spectral.c (read its header).
 *
 * The 2-D real FFT is done as the CPU does it, in two passes: cuFFT's batched 1-D real
 * transforms along x (all N C Y rows in one call; plans cached per shape), then the transform
 * along y for the kept modes only, as a direct sum over y (2 MY rows x MX columns per plane:
 * cheaper than transforming all columns, and exact). The inverse sums the kept modes back over
 * y, zeroes the imaginary parts of the kx = 0 and (X even) kx = X/2 columns (which the real
 * inverse ignores), and runs cuFFT's batched 1-D complex-to-real transforms. Mode products,
 * weight gradients (accumulated in double over the batch) and input gradients are kernels
 * (spectral_modes.cuh: one output a thread, or tiled for wide layers). */
#include <algorithm>
#include "cuda_internal.cuh"
#include "op_shapes.h"
#include "spectral_modes.cuh"

#define spec_geom GyreSpecShapeOf

__device__ static inline int spec_ky(const SpecGeom &s, int m, int *kx)
{
  const int b = m / s.mm, r = (m - b * s.mm) / s.MX;
  *kx = m % s.MX;
  return b ? s.Y - s.MY + r : r;
}

/* sin and cos of 2 pi q / Y (q = ky y mod Y): from the table tw (tw[q] = (cos, sin), made by
 * k_twiddle with the same sincospif call, so bitwise the same values) where one is given (the
 * default: on an H200 it made the FNO's training step 1.15-1.3x faster), else computed here
 * (GYRE_CUDA_TWIDDLE=0) */
__device__ static inline void twiddle(const SpecGeom &s, const float2 *tw, int q, float *sn,
                                      float *cs)
{
  if (tw) {
    const float2 t = tw[q];
    *cs = t.x, *sn = t.y;
  } else
    sincospif(2.0f * (float) q / (float) s.Y, sn, cs);
}

__global__ static void k_twiddle(int Y, float2 *tw)
{
  for (int q = blockIdx.x * blockDim.x + threadIdx.x; q < Y; q += gridDim.x * blockDim.x) {
    float sn, cs;
    sincospif(2.0f * (float) q / (float) Y, &sn, &cs);
    tw[q] = make_float2(cs, sn);
  }
}

/* Xc[p, m] = sum_y T[p, y, kx] exp(-2 pi i ky y / Y) for the kept modes m of planes p */
__global__ static void k_cols_fwd(SpecGeom s, int planes, const float2 *tw, const float2 *T,
                                  float2 *Xc)
{
  const size_t n_all = (size_t) planes * s.nm;
  for (size_t j = blockIdx.x * (size_t) blockDim.x + threadIdx.x; j < n_all;
       j += (size_t) gridDim.x * blockDim.x) {
    const size_t  p = j / s.nm;
    const int     m = (int) (j % s.nm);
    int           kx;
    const int     ky = spec_ky(s, m, &kx);
    const float2 *Tp = T + p * (size_t) s.Y * s.Xh + kx;
    float         re = 0, im = 0;
    for (int y = 0, q = 0; y < s.Y; y++, q = q + ky >= s.Y ? q + ky - s.Y : q + ky) {
      float sn, cs; /* q = (ky y) mod Y */
      twiddle(s, tw, q, &sn, &cs);
      const float2 t = Tp[(size_t) y * s.Xh];
      re += t.x * cs + t.y * sn; /* t (cos - i sin) */
      im += t.y * cs - t.x * sn;
    }
    Xc[j] = make_float2(re, im);
  }
}

/* T[p, y, kx] = scale sum over the kept ky of F[p, m(ky, kx)] exp(+2 pi i ky y / Y) for
 * kx < MX, 0 beyond; imaginary parts of kx = 0 and kx = X/2 zeroed (the real inverse ignores
 * them, as FFTW's and numpy's do) */
__global__ static void k_cols_inv(SpecGeom s, int planes, float scale, const float2 *tw,
                                  const float2 *F, float2 *T)
{
  const size_t n_all = (size_t) planes * s.Y * s.Xh;
  for (size_t j = blockIdx.x * (size_t) blockDim.x + threadIdx.x; j < n_all;
       j += (size_t) gridDim.x * blockDim.x) {
    const int    kx = (int) (j % s.Xh);
    const size_t py = j / s.Xh;
    const int    y  = (int) (py % s.Y);
    const size_t p  = py / s.Y;
    float        re = 0, im = 0;
    if (kx < s.MX) {
      const float2 *Fp = F + p * s.nm;
      for (int b = 0; b < s.nb; b++) {
        int q = ((b ? s.Y - s.MY : 0) * y) % s.Y; /* (ky y) mod Y, ky = the block's first */
        for (int r = 0; r < s.MY; r++, q = q + y >= s.Y ? q + y - s.Y : q + y) {
          float sn, cs;
          twiddle(s, tw, q, &sn, &cs);
          const float2 f = Fp[(b * s.MY + r) * s.MX + kx];
          re += f.x * cs - f.y * sn;
          im += f.x * sn + f.y * cs;
        }
      }
      if (kx == 0 || 2 * kx == s.X) im = 0;
    }
    T[j] = make_float2(scale * re, scale * im);
  }
}

/* every mode kept (F's layout is rfft2's): T = scale F, with the kx = 0 and (X even) kx = X/2
 * columns replaced by their Hermitian parts (F(ky) + conj(F(-ky))) / 2. The inverse over y of a
 * column's Hermitian part is the real part of its inverse, which is all the real inverse over x
 * keeps of those columns (k_cols_inv's semantics), so after this any 2-D complex-to-real
 * transform of T, whatever order cuFFT takes its dimensions in, gives that result */
__global__ static void k_hermitian_cols(SpecGeom s, int planes, float scale, const float2 *F,
                                        float2 *T)
{
  GRID_STRIDE(j, (size_t) planes * s.Y * s.Xh)
  {
    const int    kx = (int) (j % s.Xh);
    const size_t py = j / s.Xh; /* (plane, ky) */
    const int    ky = (int) (py % s.Y);
    float2       v  = F[j];
    if (kx == 0 || 2 * kx == s.X) {
      const float2 w = F[(py - ky + (ky ? s.Y - ky : 0)) * s.Xh + kx]; /* F(-ky, kx) */
      v              = make_float2(0.5f * (v.x + w.x), 0.5f * (v.y - w.y));
    }
    T[j] = make_float2(scale * v.x, scale * v.y);
  }
}

#define LAUNCH(kernel, n, ...)                                                                     \
  do {                                                                                             \
    kernel<<<cuda_blocks((n), 256), 256, 0, cuda_ctx(be)->stream>>>(__VA_ARGS__);                  \
    CU_LAUNCHED();                                                                                 \
  } while (0)

/* the mode products' form: tiled where the layer is wide (Cin Cout >= 1024: the FFT
 * convolution's layers; the FNO's 20 x 20 keeps one output a thread), GYRE_CUDA_MODES_TILED=0|1
 * forces either (bitwise the same results: spectral_modes.cuh) */
static int modes_tiled(const SpecGeom *s)
{
  static int env = -2;
  if (env == -2) env = cuda_env_int("GYRE_CUDA_MODES_TILED", -1);
  return env >= 0 ? env != 0 : (size_t) s->Cin * s->Cout >= 1024;
}

/* the grid of a tiled mode kernel: 32 modes x MT_BY column groups a block, rows in groups of
 * MT_T along z */
static dim3 modes_grid(const SpecGeom *s, int cols, int rows)
{
  return dim3((unsigned) ((s->nm + 31) / 32),
              (unsigned) ((cols + MT_T * MT_BY - 1) / (MT_T * MT_BY)),
              (unsigned) std::min((rows + MT_T - 1) / MT_T, 65535));
}
#define LAUNCH_TILED(kernel, cols, rows, ...)                                                      \
  do {                                                                                             \
    kernel<<<modes_grid(&s, cols, rows), dim3(32, MT_BY), 0, cuda_ctx(be)->stream>>>(__VA_ARGS__); \
    CU_LAUNCHED();                                                                                 \
  } while (0)

/* *tw: the twiddle table of Y (scratch slot 4, made on the stream before its use), or NULL
 * (GYRE_CUDA_TWIDDLE=0: the kernels call sincospif) */
static GyreStatus twiddles(GyreBackend *be, const SpecGeom *s, float2 **tw)
{
  static int use = -1;
  if (use < 0) use = cuda_env_int("GYRE_CUDA_TWIDDLE", 1) != 0;
  *tw = NULL;
  if (!use) return GYRE_OK;
  GyreCall(GyreCUDAScratch(be, 4, sizeof(float2) * (size_t) s->Y, (void **) tw));
  LAUNCH(k_twiddle, (size_t) s->Y, s->Y, *tw);
  return GYRE_OK;
}

/* out (planes, nm) = the kept modes of the real planes in (planes, Y, X); scratch slot 0 */
static GyreStatus modes_of(GyreBackend *be, const SpecGeom *s, int planes, const float *in,
                           float2 *out)
{
  CUDA_PROF(be, "  spectral: rfft rows + modes");
  CudaFFTPlan *p;
  float2      *T, *tw;
  float       *copy;
  const size_t bytes = sizeof(float) * (size_t) planes * s->Y * s->X;
  GyreCall(GyreCUDAScratch(be, 3, bytes, (void **) &copy));
  if (s->Y > 1 && 2 * s->MY == s->Y && s->MX == s->Xh) {
    /* every mode kept (the FFT convolution's): the modes are rfft2's output as it is (the two
     * blocks of Y / 2 rows are k_y = 0..Y-1 in order), one batched 2-D transform, O(log Y) a
     * value where the sums over y below are O(Y) */
    GyreCall(GyreCUDAFFTPlan(be, s->Y, s->X, planes, CUDA_FFT_R2C, &p));
    CU(cudaMemcpyAsync(copy, in, bytes, cudaMemcpyDeviceToDevice, cuda_ctx(be)->stream));
    CUFFT(cufftExecR2C(p->r2c, (cufftReal *) copy, (cufftComplex *) out));
    return GYRE_OK;
  }
  GyreCall(GyreCUDAScratch(be, 0, sizeof(float2) * (size_t) planes * s->Y * s->Xh, (void **) &T));
  GyreCall(GyreCUDAFFTPlan(be, 1, s->X, planes * s->Y, CUDA_FFT_R2C, &p));
  /* cuFFT may use an out-of-place transform's input as work space: transform a copy */
  CU(cudaMemcpyAsync(copy, in, bytes, cudaMemcpyDeviceToDevice, cuda_ctx(be)->stream));
  CUFFT(cufftExecR2C(p->r2c, (cufftReal *) copy, (cufftComplex *) T));
  GyreCall(twiddles(be, s, &tw));
  LAUNCH(k_cols_fwd, (size_t) planes * s->nm, *s, planes, tw, T, out);
  return GYRE_OK;
}

/* out (planes, Y, X) = scale x the unnormalised inverse of the kept modes F; slot 0 (the
 * complex-to-real transform overwrites its input: it is scratch) */
static GyreStatus planes_of(GyreBackend *be, const SpecGeom *s, int planes, float scale,
                            const float2 *F, float *out)
{
  CUDA_PROF(be, "  spectral: modes + irfft rows");
  CudaFFTPlan *p;
  float2      *T, *tw;
  GyreCall(GyreCUDAScratch(be, 0, sizeof(float2) * (size_t) planes * s->Y * s->Xh, (void **) &T));
  if (s->Y > 1 && 2 * s->MY == s->Y && s->MX == s->Xh) { /* every mode kept: one 2-D transform */
    GyreCall(GyreCUDAFFTPlan(be, s->Y, s->X, planes, CUDA_FFT_C2R, &p));
    LAUNCH(k_hermitian_cols, (size_t) planes * s->Y * s->Xh, *s, planes, scale, F, T);
    CUFFT(cufftExecC2R(p->c2r, (cufftComplex *) T, (cufftReal *) out));
    return GYRE_OK;
  }
  GyreCall(GyreCUDAFFTPlan(be, 1, s->X, planes * s->Y, CUDA_FFT_C2R, &p));
  GyreCall(twiddles(be, s, &tw));
  LAUNCH(k_cols_inv, (size_t) planes * s->Y * s->Xh, *s, planes, scale, tw, F, T);
  CUFFT(cufftExecC2R(p->c2r, (cufftComplex *) T, (cufftReal *) out));
  return GYRE_OK;
}

GyreStatus GyreCUDASpectralForward(GyreBackend *be, const GyreTensor *x, const GyreTensor *Wr,
                                   const GyreTensor *Wi, GyreTensor *y)
{
  CUDA_PROF(be, "spectral forward");
  const SpecGeom s = spec_geom(x, Wr);
  float2        *Xc, *F;
  GyreCall(GyreCUDAScratch(be, 1, sizeof(float2) * (size_t) s.N * s.Cin * s.nm, (void **) &Xc));
  GyreCall(GyreCUDAScratch(be, 2, sizeof(float2) * (size_t) s.N * s.Cout * s.nm, (void **) &F));
  GyreCall(modes_of(be, &s, s.N * s.Cin, x->data, Xc));
  if (modes_tiled(&s))
    LAUNCH_TILED(k_modes_tiled<false>, s.Cout, s.N, s, 0.0, Xc, Wr->data, Wi->data, F);
  else
    LAUNCH(k_modes_one<false>, (size_t) s.N * s.Cout * s.nm, s, 0.0, Xc, Wr->data, Wi->data, F);
  return planes_of(be, &s, s.N * s.Cout, (float) (1.0 / ((double) s.X * s.Y)), F, y->data);
}

GyreStatus GyreCUDASpectralBackward(GyreBackend *be, const GyreTensor *x, const GyreTensor *Wr,
                                    const GyreTensor *Wi, const GyreTensor *dy, GyreTensor *dx,
                                    GyreTensor *dWr, GyreTensor *dWi)
{
  CUDA_PROF(be, "spectral backward");
  const SpecGeom s   = spec_geom(x, Wr);
  const double   inv = 1.0 / ((double) s.X * s.Y);
  float2        *G, *B;
  if (!dx && !dWr && !dWi) return GYRE_OK;
  GyreCall(GyreCUDAScratch(be, 1, sizeof(float2) * (size_t) s.N * s.Cout * s.nm, (void **) &G));
  GyreCall(GyreCUDAScratch(be, 2, sizeof(float2) * (size_t) s.N * s.Cin * s.nm, (void **) &B));
  GyreCall(modes_of(be, &s, s.N * s.Cout, dy->data, G));
  if (dWr || dWi) {
    GyreCall(modes_of(be, &s, s.N * s.Cin, x->data, B));
    if (modes_tiled(&s))
      LAUNCH_TILED(k_modes_dw_tiled, s.Cout, s.Cin, s, inv, G, B, dWr ? dWr->data : NULL,
                   dWi ? dWi->data : NULL);
    else
      LAUNCH(k_modes_dw, (size_t) s.Cin * s.Cout * s.nm, s, inv, G, B, dWr ? dWr->data : NULL,
             dWi ? dWi->data : NULL);
  }
  if (dx) {
    if (modes_tiled(&s))
      LAUNCH_TILED(k_modes_tiled<true>, s.Cin, s.N, s, inv, G, Wr->data, Wi->data, B);
    else
      LAUNCH(k_modes_one<true>, (size_t) s.N * s.Cin * s.nm, s, inv, G, Wr->data, Wi->data, B);
    GyreCall(planes_of(be, &s, s.N * s.Cin, 1.0f, B, dx->data));
  }
  return GYRE_OK;
}
