/* spectral.c — the CPU spectral convolution (Li et al. 2021, SpectralConv1d/2d) with FFTW
 * (single precision). Semantics (gyre_nn.h): x_hat = rfft(n)(x) (unnormalised), on the kept
 * modes y_hat[o] = sum_i x_hat[i] (Wr + i Wi)[i, o], other modes zero, y = irfft(n)(y_hat)
 * (divided by the number of points), exactly as torch.fft.rfft2/irfft2 compute it: the
 * inverse is a complex inverse DFT over ky followed by a real inverse DFT over kx which
 * ignores the imaginary parts of the kx = 0 and (X even) kx = X/2 coefficients. The 2-D
 * transforms are done as those two 1-D passes explicitly (rows r2c/c2r over x, columns c2c
 * over y for the MX kept columns only), so that the result is defined by the formula above
 * and never depends on how FFTW treats a non-Hermitian kx = 0 column.
 *
 * Backward (the exact adjoint of the forward as implemented): with g_hat = rfft(dy),
 *   dW[i, o, k] += sum_n c_kx / (X Y) g_hat[n, o, k] conj(x_hat[n, i, k]),
 *   dx[n, i]     = irfft_unnormalised( 1 / (X Y) sum_o g_hat[n, o, k] conj(W[i, o, k]) ),
 * where c_kx = 1 for kx = 0 and (X even) kx = X/2 (those columns stand for one mode) and 2
 * otherwise (a column stands for itself and its conjugate). A 1-D field is the 2-D case with
 * Y = 1 and only the ky = 0 block.
 *
 * FFTW plans (FFTW_ESTIMATE | FFTW_UNALIGNED, executed with the new-array functions from
 * any thread) are cached per (X, Y, MX) in a small table; planning is serialised by the
 * OpenMP critical section "gyre_fftwf_planner" (FFTW's planner is not thread-safe). */
#include <fftw3.h>
#include <stdlib.h>
#include <string.h>
#include "cpu_ops.h"
#include "op_shapes.h"

typedef struct {
  int        X, Y, MX;
  fftwf_plan r2c_rows, c2r_rows, fwd_cols, bwd_cols;
} SpecPlans;

#define SPEC_CACHE 16
static SpecPlans spec_cache[SPEC_CACHE];
static int       spec_cached = 0;

static int spec_make_plans(int X, int Y, int MX, SpecPlans *p)
{
  const int      Xh = X / 2 + 1;
  const unsigned fl = FFTW_ESTIMATE | FFTW_UNALIGNED;
  float         *r  = fftwf_malloc(sizeof(float) * (size_t) Y * X);
  fftwf_complex *c  = fftwf_malloc(sizeof(fftwf_complex) * (size_t) Y * Xh);
  int            ok = 0;

  memset(p, 0, sizeof *p);
  p->X = X, p->Y = Y, p->MX = MX;
  if (r && c) {
    p->r2c_rows = fftwf_plan_many_dft_r2c(1, &X, Y, r, NULL, 1, X, c, NULL, 1, Xh, fl);
    p->c2r_rows = fftwf_plan_many_dft_c2r(1, &X, Y, c, NULL, 1, Xh, r, NULL, 1, X, fl);
    if (Y > 1) {
      p->fwd_cols =
          fftwf_plan_many_dft(1, &Y, MX, c, NULL, Xh, 1, c, NULL, Xh, 1, FFTW_FORWARD, fl);
      p->bwd_cols =
          fftwf_plan_many_dft(1, &Y, MX, c, NULL, Xh, 1, c, NULL, Xh, 1, FFTW_BACKWARD, fl);
    }
    ok = p->r2c_rows && p->c2r_rows && (Y == 1 || (p->fwd_cols && p->bwd_cols));
  }
  fftwf_free(r);
  fftwf_free(c);
  return ok;
}

static void spec_destroy_plans(SpecPlans *p)
{
  if (p->r2c_rows) fftwf_destroy_plan(p->r2c_rows);
  if (p->c2r_rows) fftwf_destroy_plan(p->c2r_rows);
  if (p->fwd_cols) fftwf_destroy_plan(p->fwd_cols);
  if (p->bwd_cols) fftwf_destroy_plan(p->bwd_cols);
  memset(p, 0, sizeof *p);
}

/* Finds or makes the plans; *owned = 1 when they are not cached (the caller destroys them
 * with spec_release). Returns 0 when FFTW could not plan. */
static int spec_get_plans(int X, int Y, int MX, SpecPlans *p, int *owned)
{
  int ok = 1, found = 0;
  *owned = 0;
#pragma omp critical(gyre_fftwf_planner)
  {
    for (int k = 0; k < spec_cached && !found; k++)
      if (spec_cache[k].X == X && spec_cache[k].Y == Y && spec_cache[k].MX == MX) {
        *p    = spec_cache[k];
        found = 1;
      }
    if (!found) {
      ok = spec_make_plans(X, Y, MX, p);
      if (!ok)
        spec_destroy_plans(p);
      else if (spec_cached < SPEC_CACHE)
        spec_cache[spec_cached++] = *p;
      else
        *owned = 1;
    }
  }
  return ok;
}

static void spec_release(SpecPlans *p, int owned)
{
  if (!owned) return;
#pragma omp critical(gyre_fftwf_planner)
  spec_destroy_plans(p);
}

typedef GyreSpecShape SpecShape;
#define spec_shape GyreSpecShapeOf

static inline int spec_ky(const SpecShape *s, int b, int r)
{
  return b ? s->Y - s->MY + r : r;
}

/* compact kept modes out[m], m = (b MY + r) MX + kx, of the 2-D rfft of one real plane */
static void spec_fwd(const SpecShape *s, const SpecPlans *p, const float *in, fftwf_complex *T,
                     fftwf_complex *out)
{
  fftwf_execute_dft_r2c(p->r2c_rows, (float *) in, T);
  if (s->Y > 1) fftwf_execute_dft(p->fwd_cols, T, T);
  for (int b = 0; b < s->nb; b++)
    for (int r = 0; r < s->MY; r++) {
      const fftwf_complex *row = T + (size_t) spec_ky(s, b, r) * s->Xh;
      memcpy(out + (size_t) (b * s->MY + r) * s->MX, row, sizeof(fftwf_complex) * s->MX);
    }
}

/* unnormalised inverse of the compact modes F into the real plane out (Y X) */
static void spec_inv(const SpecShape *s, const SpecPlans *p, const fftwf_complex *F,
                     fftwf_complex *T, float *out)
{
  memset(T, 0, sizeof(fftwf_complex) * (size_t) s->Y * s->Xh);
  for (int b = 0; b < s->nb; b++)
    for (int r = 0; r < s->MY; r++)
      memcpy(T + (size_t) spec_ky(s, b, r) * s->Xh, F + (size_t) (b * s->MY + r) * s->MX,
             sizeof(fftwf_complex) * s->MX);
  if (s->Y > 1) fftwf_execute_dft(p->bwd_cols, T, T);
  fftwf_execute_dft_c2r(p->c2r_rows, T, out);
}

/* index of W[b, i, o, m - b mm] */
static inline size_t spec_widx(const SpecShape *s, int i, int o, int m)
{
  const int b = m / s->mm;
  return ((size_t) (b * s->Cin + i) * s->Cout + o) * s->mm + (m - b * s->mm);
}

static int spec_threads(GyreBackend *be, int N)
{
  int t = be->threads > 0 ? be->threads : 1;
  return t < N ? t : N;
}

GyreStatus GyreCPUSpectralForward(GyreBackend *be, const GyreTensor *x, const GyreTensor *Wr,
                                  const GyreTensor *Wi, GyreTensor *y)
{
  const SpecShape s     = spec_shape(x, Wr);
  const size_t    plane = (size_t) s.Y * s.X;
  const float     scale = (float) (1.0 / (double) plane);
  SpecPlans       p;
  int             owned, failed = 0;

  if (!spec_get_plans(s.X, s.Y, s.MX, &p, &owned))
    return GyreStatusSet(GYRE_ERR_INTERNAL, "cpu spectral_forward: FFTW could not plan (%d, %d)",
                         s.Y, s.X);
#pragma omp parallel num_threads(spec_threads(be, s.N))
  {
    fftwf_complex *T  = fftwf_malloc(sizeof(fftwf_complex) * (size_t) s.Y * s.Xh);
    fftwf_complex *Xc = fftwf_malloc(sizeof(fftwf_complex) * (size_t) s.Cin * s.nm);
    fftwf_complex *F  = fftwf_malloc(sizeof(fftwf_complex) * (size_t) s.nm);
    const int      ok = T && Xc && F;
    if (!ok) {
#pragma omp atomic write
      failed = 1;
    }
#pragma omp for schedule(static)
    for (int n = 0; n < s.N; n++) {
      if (!ok) continue;
      for (int i = 0; i < s.Cin; i++)
        spec_fwd(&s, &p, x->data + ((size_t) n * s.Cin + i) * plane, T, Xc + (size_t) i * s.nm);
      for (int o = 0; o < s.Cout; o++) {
        float *yo = y->data + ((size_t) n * s.Cout + o) * plane;
        for (int m = 0; m < s.nm; m++) {
          float re = 0, im = 0;
          for (int i = 0; i < s.Cin; i++) {
            const size_t w  = spec_widx(&s, i, o, m);
            const float *xc = Xc[(size_t) i * s.nm + m];
            const float  wr = Wr->data[w], wi = Wi->data[w];
            re += xc[0] * wr - xc[1] * wi;
            im += xc[0] * wi + xc[1] * wr;
          }
          F[m][0] = re;
          F[m][1] = im;
        }
        spec_inv(&s, &p, F, T, yo);
        for (size_t k = 0; k < plane; k++)
          yo[k] *= scale;
      }
    }
    fftwf_free(T);
    fftwf_free(Xc);
    fftwf_free(F);
  }
  spec_release(&p, owned);
  if (failed)
    return GyreStatusSet(GYRE_ERR_MEM, "cpu spectral_forward: out of memory allocating %zu bytes",
                         sizeof(fftwf_complex) *
                             ((size_t) s.Y * s.Xh + (size_t) (s.Cin + 1) * s.nm));
  return GYRE_OK;
}

GyreStatus GyreCPUSpectralBackward(GyreBackend *be, const GyreTensor *x, const GyreTensor *Wr,
                                   const GyreTensor *Wi, const GyreTensor *dy, GyreTensor *dx,
                                   GyreTensor *dWr, GyreTensor *dWi)
{
  const SpecShape s     = spec_shape(x, Wr);
  const size_t    plane = (size_t) s.Y * s.X, wsz = Wr->size;
  const double    inv   = 1.0 / (double) plane;
  const int       wantW = dWr || dWi;
  SpecPlans       p;
  int             owned, failed = 0;

  if (!dx && !wantW) return GYRE_OK;
  /* c_kx / (X Y) of each kept mode within a block (rfft: the kx > 0 columns count twice) */
  double *cm = malloc(sizeof(double) * (size_t) (s.mm > 0 ? s.mm : 1));
  if (!cm) return GyreStatusSet(GYRE_ERR_MEM, "cpu spectral_backward: out of memory");
  for (int m = 0; m < s.mm; m++) {
    const int kx = m % s.MX;
    cm[m]        = (kx == 0 || 2 * kx == s.X) ? inv : 2.0 * inv;
  }
  if (!spec_get_plans(s.X, s.Y, s.MX, &p, &owned)) {
    free(cm);
    return GyreStatusSet(GYRE_ERR_INTERNAL, "cpu spectral_backward: FFTW could not plan (%d, %d)",
                         s.Y, s.X);
  }
#pragma omp parallel num_threads(spec_threads(be, s.N))
  {
    fftwf_complex *T  = fftwf_malloc(sizeof(fftwf_complex) * (size_t) s.Y * s.Xh);
    fftwf_complex *Gc = fftwf_malloc(sizeof(fftwf_complex) * (size_t) s.Cout * s.nm);
    fftwf_complex *Xc = wantW ? fftwf_malloc(sizeof(fftwf_complex) * (size_t) s.nm) : NULL;
    fftwf_complex *D  = dx ? fftwf_malloc(sizeof(fftwf_complex) * (size_t) s.nm) : NULL;
    double        *dW = wantW ? calloc(2 * wsz, sizeof(double)) : NULL;
    double(*acc)[2]   = dx ? malloc(sizeof(double[2]) * (size_t) s.nm) : NULL;
    const int ok      = T && Gc && (!wantW || (Xc && dW)) && (!dx || (D && acc));
    if (!ok) {
#pragma omp atomic write
      failed = 1;
    }
#pragma omp for schedule(static)
    for (int n = 0; n < s.N; n++) {
      if (!ok) continue;
      for (int o = 0; o < s.Cout; o++)
        spec_fwd(&s, &p, dy->data + ((size_t) n * s.Cout + o) * plane, T, Gc + (size_t) o * s.nm);
      for (int i = 0; i < s.Cin; i++) {
        if (wantW) {
          /* dW[i, o, k] += c_kx / (X Y) g_hat[o, k] conj(x_hat[i, k]); for each block b the
           * weights of (i, o) are contiguous in the mode index, the inner loop runs along it */
          spec_fwd(&s, &p, x->data + ((size_t) n * s.Cin + i) * plane, T, Xc);
          for (int o = 0; o < s.Cout; o++)
            for (int b = 0; b < s.nb; b++) {
              const size_t w0     = spec_widx(&s, i, o, b * s.mm);
              const float(*g)[2]  = (const float(*)[2]) Gc + (size_t) o * s.nm + b * s.mm;
              const float(*xc)[2] = (const float(*)[2]) Xc + b * s.mm;
              double *dr = dW + w0, *di = dW + wsz + w0;
              for (int m = 0; m < s.mm; m++) {
                dr[m] += cm[m] * ((double) g[m][0] * xc[m][0] + (double) g[m][1] * xc[m][1]);
                di[m] += cm[m] * ((double) g[m][1] * xc[m][0] - (double) g[m][0] * xc[m][1]);
              }
            }
        }
        if (dx) {
          /* dx[i] = irfft_unnormalised(1 / (X Y) sum_o g_hat[o] conj(W[i, o])) */
          for (int m = 0; m < s.nm; m++)
            acc[m][0] = acc[m][1] = 0;
          for (int o = 0; o < s.Cout; o++)
            for (int b = 0; b < s.nb; b++) {
              const size_t w0    = spec_widx(&s, i, o, b * s.mm);
              const float(*g)[2] = (const float(*)[2]) Gc + (size_t) o * s.nm + b * s.mm;
              const float *wr = Wr->data + w0, *wi = Wi->data + w0;
              double(*a)[2] = acc + b * s.mm;
              for (int m = 0; m < s.mm; m++) {
                a[m][0] += g[m][0] * wr[m] + g[m][1] * wi[m];
                a[m][1] += g[m][1] * wr[m] - g[m][0] * wi[m];
              }
            }
          for (int m = 0; m < s.nm; m++) {
            D[m][0] = (float) (acc[m][0] * inv);
            D[m][1] = (float) (acc[m][1] * inv);
          }
          spec_inv(&s, &p, D, T, dx->data + ((size_t) n * s.Cin + i) * plane);
        }
      }
    }
    if (ok && wantW) {
#pragma omp critical(gyre_spectral_dw)
      for (size_t k = 0; k < wsz; k++) {
        if (dWr) dWr->data[k] += (float) dW[k];
        if (dWi) dWi->data[k] += (float) dW[wsz + k];
      }
    }
    fftwf_free(T);
    fftwf_free(Gc);
    fftwf_free(Xc);
    fftwf_free(D);
    free(dW);
    free(acc);
  }
  free(cm);
  spec_release(&p, owned);
  if (failed)
    return GyreStatusSet(GYRE_ERR_MEM, "cpu spectral_backward: out of memory allocating %zu bytes",
                         sizeof(fftwf_complex) *
                                 ((size_t) s.Y * s.Xh + (size_t) (s.Cout + 2) * s.nm) +
                             sizeof(double) * 2 * wsz);
  return GYRE_OK;
}
