/* conv_fft.c — a circular 2-D convolution through the FFT: the convolution of conv.c as the
 * spectral convolution (spectral.c) that keeps every mode, with the kernel's transform as its
 * weights. On the periodic grid y[n,o,p] = b[o] + sum_i sum_s g_oi(s) x[n,i,p+s], with g_oi the
 * kernel W[o,i] placed at the offsets s = (ky - PY, kx - PX) (mod Y, X), so that
 *   y_hat[n,o,k] = sum_i x_hat[n,i,k] G[i,o,k],  G[i,o,k] = sum_{ky,kx} W[o,i,ky,kx] e^{+i th},
 *   th = 2 pi (k_y (ky - PY) / Y + k_x (kx - PX) / X),
 * exactly (up to rounding) the direct convolution. The spectral op's layout (gyre_nn.h) holds
 * every mode where Y is even: MY = Y / 2 rows a block (k_y = 0..Y/2-1 and Y/2..Y-1), MX = X/2 + 1
 * columns. The weights' gradient is the adjoint of W -> (Re G, Im G):
 *   dW[o,i,ky,kx] += sum_k dGr[i,o,k] cos th + dGi[i,o,k] sin th.
 * The transform is separable (a pass over kx, then over ky), in double.
 *
 * Cost: the spectral op multiplies each mode's channels (Cin Cout a mode, against Cin Cout KY KX
 * a point directly): ~KY KX / 2 times fewer products for the 5x5 layers of Ross et al.'s FCNN.
 * On the CPU the spectral op's mode products are plain loops, slower than conv.c's GEMMs, so
 * this path runs only where asked (GYRE_CONV_ALGO=fft: the tests of the algorithm, against the
 * direct ones); the CUDA backend has the same algorithm (dense_conv.cu, GYRE_CUDA_CONV=fft). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "cpu_ops.h"
#include "op_shapes.h"

/* e[j * K + a] = exp(+2 pi i ((j (a - P)) mod n) / n) for j < nj, a < K: the twiddles of one
 * dimension (n points, kernel K, padding P); the angle reduced exactly in integers */
static void twiddles(int n, int nj, int K, int P, double *re, double *im)
{
  for (int j = 0; j < nj; j++)
    for (int a = 0; a < K; a++) {
      long long t = ((long long) j * (a - P)) % n;
      if (t < 0) t += n;
      const double th        = 2.0 * 3.14159265358979323846 * (double) t / (double) n;
      re[(size_t) j * K + a] = cos(th), im[(size_t) j * K + a] = sin(th);
    }
}

typedef struct {
  GyreConvShape s;
  int           MY, MX;
  double       *eyr, *eyi; /* (Y, KY): k_y's twiddles */
  double       *exr, *exi; /* (MX, KX) */
  double       *ur, *ui;   /* (KY, MX) scratch */
} Fft;

static int fft_init(Fft *f, const GyreConvShape *s)
{
  memset(f, 0, sizeof *f);
  f->s  = *s;
  f->MY = s->Y / 2, f->MX = s->X / 2 + 1;
  const size_t ny = (size_t) s->Y * s->KY, nx = (size_t) f->MX * s->KX, nu = (size_t) s->KY * f->MX;
  double      *m = malloc(sizeof(double) * 2 * (ny + nx + nu));
  if (!m) return 0;
  f->eyr = m, f->eyi = m + ny, f->exr = m + 2 * ny, f->exi = m + 2 * ny + nx;
  f->ur = m + 2 * (ny + nx), f->ui = f->ur + nu;
  twiddles(s->Y, s->Y, s->KY, s->PY, f->eyr, f->eyi);
  twiddles(s->X, f->MX, s->KX, s->PX, f->exr, f->exi);
  return 1;
}

/* the offset of mode (k_y, k_x) of (i, o) in the spectral weights (2, Cin, Cout, MY, MX) */
static size_t widx(const Fft *f, int i, int o, int ky, int kx)
{
  const int b = ky >= f->MY, r = ky - b * f->MY;
  return ((((size_t) b * f->s.Cin + i) * f->s.Cout + o) * f->MY + r) * f->MX + kx;
}

/* Gr, Gi: the spectral weights of W */
static void weights(Fft *f, const float *W, float *Gr, float *Gi)
{
  const GyreConvShape *s  = &f->s;
  const int            KY = s->KY, KX = s->KX, MX = f->MX;
  for (int o = 0; o < s->Cout; o++)
    for (int i = 0; i < s->Cin; i++) {
      const float *w = W + ((size_t) o * s->Cin + i) * KY * KX;
      for (int a = 0; a < KY; a++) /* u[a, k_x] = sum_kx w[a, kx] e_x */
        for (int kx = 0; kx < MX; kx++) {
          double ur = 0, ui = 0;
          for (int c = 0; c < KX; c++) {
            ur += w[a * KX + c] * f->exr[kx * KX + c];
            ui += w[a * KX + c] * f->exi[kx * KX + c];
          }
          f->ur[a * MX + kx] = ur, f->ui[a * MX + kx] = ui;
        }
      for (int ky = 0; ky < s->Y; ky++) /* G[k_y, k_x] = sum_a e_y u[a, k_x] */
        for (int kx = 0; kx < MX; kx++) {
          double gr = 0, gi = 0;
          for (int a = 0; a < KY; a++) {
            const double er = f->eyr[ky * KY + a], ei = f->eyi[ky * KY + a];
            const double vr = f->ur[a * MX + kx], vi = f->ui[a * MX + kx];
            gr += er * vr - ei * vi;
            gi += er * vi + ei * vr;
          }
          const size_t j = widx(f, i, o, ky, kx);
          Gr[j] = (float) gr, Gi[j] = (float) gi;
        }
    }
}

/* dW += the adjoint of weights() applied to (dGr, dGi) */
static void weights_adjoint(Fft *f, const float *dGr, const float *dGi, float *dW)
{
  const GyreConvShape *s  = &f->s;
  const int            KY = s->KY, KX = s->KX, MX = f->MX;
  for (int o = 0; o < s->Cout; o++)
    for (int i = 0; i < s->Cin; i++) {
      for (int a = 0; a < KY; a++) /* u[a, k_x] = sum_ky conj(e_y) dG[k_y, k_x] */
        for (int kx = 0; kx < MX; kx++) {
          double ur = 0, ui = 0;
          for (int ky = 0; ky < s->Y; ky++) {
            const size_t j  = widx(f, i, o, ky, kx);
            const double er = f->eyr[ky * KY + a], ei = f->eyi[ky * KY + a];
            ur += er * dGr[j] + ei * dGi[j];
            ui += er * dGi[j] - ei * dGr[j];
          }
          f->ur[a * MX + kx] = ur, f->ui[a * MX + kx] = ui;
        }
      float *w = dW + ((size_t) o * s->Cin + i) * KY * KX;
      for (int a = 0; a < KY; a++) /* dw[a, kx] += Re sum_k_x conj(e_x) u[a, k_x] */
        for (int c = 0; c < KX; c++) {
          double acc = 0;
          for (int kx = 0; kx < MX; kx++)
            acc +=
                f->exr[kx * KX + c] * f->ur[a * MX + kx] + f->exi[kx * KX + c] * f->ui[a * MX + kx];
          w[a * KX + c] += (float) acc;
        }
    }
}

/* a tensor view of spectral weights (2, Cin, Cout, MY, MX) at data */
static GyreTensor spec_view(GyreBackend *be, const Fft *f, float *data)
{
  GyreTensor t = {0};
  t.data = data, t.ndim = 5, t.backend = be;
  t.shape[0] = 2, t.shape[1] = f->s.Cin, t.shape[2] = f->s.Cout, t.shape[3] = f->MY;
  t.shape[4] = f->MX;
  t.size     = (size_t) 2 * f->s.Cin * f->s.Cout * f->MY * f->MX;
  return t;
}

int GyreCPUConvFFTApplies(const GyreTensor *x, const GyreTensor *W, GyrePadding pad)
{
  const GyreConvShape s = GyreConvShapeOf(x, W, pad);
  return GyreConvFFTApplies(x->ndim, &s);
}

/* the set-up of both directions: f for x and W, the spectral weights G of W in *g (nbuf
 * buffers of the spectral weights' size, zeroed: G's two and its gradient's two) and their size
 * *nw; on an error nothing is kept */
static GyreStatus fft_begin(const GyreTensor *x, const GyreTensor *W, GyrePadding pad, int nbuf,
                            Fft *f, float **g, size_t *nw)
{
  const GyreConvShape s = GyreConvShapeOf(x, W, pad);
  if (!GyreConvFFTApplies(x->ndim, &s))
    return GyreStatusSet(GYRE_ERR_ARG, "cpu conv by FFT: needs a 2-D circular convolution with an "
                                       "even number of rows");
  if (!fft_init(f, &s)) return GyreStatusSet(GYRE_ERR_MEM, "cpu conv by FFT: out of memory");
  *nw = (size_t) 2 * s.Cin * s.Cout * f->MY * f->MX;
  *g  = calloc((size_t) nbuf * *nw, sizeof(float));
  if (!*g) {
    free(f->eyr);
    return GyreStatusSet(GYRE_ERR_MEM, "cpu conv by FFT: out of memory allocating %zu bytes",
                         sizeof(float) * (size_t) nbuf * *nw);
  }
  weights(f, W->data, *g, *g + *nw);
  return GYRE_OK;
}

GyreStatus GyreCPUConvForwardFFT(GyreBackend *be, const GyreTensor *x, const GyreTensor *W,
                                 const GyreTensor *b, GyrePadding pad, GyreTensor *y)
{
  Fft    f;
  float *g;
  size_t nw;
  GyreCall(fft_begin(x, W, pad, 2, &f, &g, &nw));
  const GyreTensor gr = spec_view(be, &f, g), gi = spec_view(be, &f, g + nw);
  GyreStatus       st = GyreCPUSpectralForward(be, x, &gr, &gi, y);
  if (!st && b) {
    const size_t plane = (size_t) f.s.Y * f.s.X;
    for (size_t no = 0; no < (size_t) f.s.N * f.s.Cout; no++) {
      const float bo = b->data[no % (size_t) f.s.Cout];
      float      *yo = y->data + no * plane;
      for (size_t k = 0; k < plane; k++)
        yo[k] += bo;
    }
  }
  free(g);
  free(f.eyr);
  return st;
}

GyreStatus GyreCPUConvBackwardFFT(GyreBackend *be, const GyreTensor *x, const GyreTensor *W,
                                  const GyreTensor *dy, GyrePadding pad, GyreTensor *dx,
                                  GyreTensor *dW)
{
  Fft    f;
  float *g;
  size_t nw;
  GyreCall(fft_begin(x, W, pad, 4, &f, &g, &nw));
  const GyreTensor gr = spec_view(be, &f, g), gi = spec_view(be, &f, g + nw);
  GyreTensor       dgr = spec_view(be, &f, g + 2 * nw), dgi = spec_view(be, &f, g + 3 * nw);
  GyreStatus       st =
      GyreCPUSpectralBackward(be, x, &gr, &gi, dy, dx, dW ? &dgr : NULL, dW ? &dgi : NULL);
  if (!st && dW) weights_adjoint(&f, dgr.data, dgi.data, dW->data);
  free(g);
  free(f.eyr);
  return st;
}
