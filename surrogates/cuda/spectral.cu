/* spectral.cu — the spectral convolution (Li et al. 2021) on the CUDA backend; semantics and
 * adjoint exactly those of surrogates/cpu/spectral.c (read its header).
 *
 * The 2-D real FFT is done as the CPU does it, in two passes: cuFFT's batched 1-D real
 * transforms along x (all N C Y rows in one call; plans cached per shape), then the transform
 * along y for the kept modes only, as a direct sum over y (2 MY rows x MX columns per plane:
 * cheaper than transforming all columns, and exact). The inverse sums the kept modes back over
 * y, zeroes the imaginary parts of the kx = 0 and (X even) kx = X/2 columns (which the real
 * inverse ignores), and runs cuFFT's batched 1-D complex-to-real transforms. Mode products,
 * weight gradients (accumulated in double over the batch) and input gradients are kernels. */
#include "cuda_internal.cuh"
#include "op_shapes.h"

typedef GyreSpecShape SpecGeom;
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

static __device__ inline size_t widx(const SpecGeom &s, int i, int o, int m)
{
  const int b = m / s.mm;
  return ((size_t) (b * s.Cin + i) * s.Cout + o) * s.mm + (m - b * s.mm);
}

/* F[n, o, m] = sum_i Xc[n, i, m] (Wr + i Wi)[i, o, m] */
__global__ static void k_modes_fwd(SpecGeom s, const float2 *Xc, const float *Wr, const float *Wi,
                                   float2 *F)
{
  const size_t n_all = (size_t) s.N * s.Cout * s.nm;
  for (size_t j = blockIdx.x * (size_t) blockDim.x + threadIdx.x; j < n_all;
       j += (size_t) gridDim.x * blockDim.x) {
    const int    m  = (int) (j % s.nm);
    const size_t no = j / s.nm;
    const int    o = (int) (no % s.Cout), n = (int) (no / s.Cout);
    float        re = 0, im = 0;
    for (int i = 0; i < s.Cin; i++) {
      const float2 xc = Xc[((size_t) n * s.Cin + i) * s.nm + m];
      const size_t w  = widx(s, i, o, m);
      re += xc.x * Wr[w] - xc.y * Wi[w];
      im += xc.x * Wi[w] + xc.y * Wr[w];
    }
    F[j] = make_float2(re, im);
  }
}

/* D[n, i, m] = inv sum_o G[n, o, m] conj(W[i, o, m]) */
__global__ static void k_modes_dx(SpecGeom s, double inv, const float2 *G, const float *Wr,
                                  const float *Wi, float2 *D)
{
  const size_t n_all = (size_t) s.N * s.Cin * s.nm;
  for (size_t j = blockIdx.x * (size_t) blockDim.x + threadIdx.x; j < n_all;
       j += (size_t) gridDim.x * blockDim.x) {
    const int    m  = (int) (j % s.nm);
    const size_t ni = j / s.nm;
    const int    i = (int) (ni % s.Cin), n = (int) (ni / s.Cin);
    double       re = 0, im = 0;
    for (int o = 0; o < s.Cout; o++) {
      const float2 g = G[((size_t) n * s.Cout + o) * s.nm + m];
      const size_t w = widx(s, i, o, m);
      re += g.x * Wr[w] + g.y * Wi[w];
      im += g.y * Wr[w] - g.x * Wi[w];
    }
    D[j] = make_float2((float) (re * inv), (float) (im * inv));
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

#define LAUNCH(kernel, n, ...)                                                                     \
  do {                                                                                             \
    kernel<<<cuda_blocks((n), 256), 256, 0, cuda_ctx(be)->stream>>>(__VA_ARGS__);                  \
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
  GyreCall(GyreCUDAScratch(be, 0, sizeof(float2) * (size_t) planes * s->Y * s->Xh, (void **) &T));
  GyreCall(GyreCUDAScratch(be, 3, bytes, (void **) &copy));
  GyreCall(GyreCUDAFFTPlan(be, s->X, planes * s->Y, &p));
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
  GyreCall(GyreCUDAFFTPlan(be, s->X, planes * s->Y, &p));
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
  LAUNCH(k_modes_fwd, (size_t) s.N * s.Cout * s.nm, s, Xc, Wr->data, Wi->data, F);
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
    LAUNCH(k_modes_dw, (size_t) s.Cin * s.Cout * s.nm, s, inv, G, B, dWr ? dWr->data : NULL,
           dWi ? dWi->data : NULL);
  }
  if (dx) {
    LAUNCH(k_modes_dx, (size_t) s.N * s.Cin * s.nm, s, inv, G, Wr->data, Wi->data, B);
    GyreCall(planes_of(be, &s, s.N * s.Cin, 1.0f, B, dx->data));
  }
  return GYRE_OK;
}
