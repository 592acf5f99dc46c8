/* spectrum.c — isotropic spectra of a 2-D field on a doubly periodic grid (FFTW, double), the
 * spectral part of gyre compare, and the RMSE of two spectra in log10.
 *
 * Decisions:
 * - f_hat = FFT(f) / (nx ny), so sum over all modes |f_hat|^2 = mean(f^2) (Parseval).
 * - The field is taken as a vorticity w: the enstrophy spectrum Z(k) = sum over the shell of
 *   |w_hat|^2 / 2 and the kinetic-energy spectrum E(k) = sum of |w_hat|^2 / (2 |k|^2), the
 *   streamfunction psi_hat = w_hat / |k|^2 giving |u_hat|^2 = |k|^2 |psi_hat|^2. The mode
 *   k = 0 has no velocity (E skips it). For a field that is not a vorticity, Z(k) is its
 *   variance (power) spectrum.
 * - Given velocity components (u, v) instead, E(k) = sum (|u_hat|^2 + |v_hat|^2) / 2 and the
 *   vorticity is w_hat = i (kx v_hat - ky u_hat), so Z(k) = sum |kx v_hat - ky u_hat|^2 / 2.
 * - |k| is physical: (2 pi kx / Lx, 2 pi ky / Ly) from the domain lengths. Shells have width
 *   dk = 2 pi / max(Lx, Ly); shell n holds (n - 1/2) dk <= |k| < (n + 1/2) dk, n = 0..K with
 *   K = min(nx, ny) / 2; the corner modes beyond shell K are left out of the spectra (the
 *   usual isotropic truncation) but not out of the totals (energy, enstrophy).
 * - The log10 RMSE skips shell 0 (E is 0 there) and floors both spectra at 1e-14 times REF's
 *   largest value (so a shell one spectrum leaves empty counts, as a large error); shells where
 *   both are below the floor are left out. */
#include "gyre_validation.h"
#include <fftw3.h>
#include <math.h>
#include <stdlib.h>

static const double kTwoPi = 6.283185307179586476925;

struct GyreSpectrum_s {
  size_t        ny, nx, nshell;
  double        lx, ly, dk;
  double       *in;
  fftw_complex *out, *out2;
  fftw_plan     plan;
};

GyreStatus GyreSpectrumCreate(size_t ny, size_t nx, double ly, double lx, GyreSpectrum *s)
{
  GyreSpectrum p;

  *s = NULL;
  if (ny < 2 || nx < 2 || !(lx > 0) || !(ly > 0) || ny > 1u << 20 || nx > 1u << 20)
    return GyreStatusSet(GYRE_ERR_ARG,
                         "a spectrum needs a grid of at least 2 x 2 points with positive lengths "
                         "(got %zu x %zu, lengths %g x %g)",
                         ny, nx, ly, lx);
  p = calloc(1, sizeof *p);
  if (!p) return GyreStatusSet(GYRE_ERR_MEM, "out of memory for a spectrum");
  p->ny = ny, p->nx = nx, p->lx = lx, p->ly = ly;
  p->dk     = kTwoPi / (lx > ly ? lx : ly);
  p->nshell = (nx < ny ? nx : ny) / 2 + 1;
  p->in     = fftw_malloc(ny * nx * sizeof *p->in);
  p->out    = fftw_malloc(ny * (nx / 2 + 1) * sizeof *p->out);
  p->out2   = fftw_malloc(ny * (nx / 2 + 1) * sizeof *p->out2);
  if (p->in && p->out && p->out2)
    p->plan = fftw_plan_dft_r2c_2d((int) ny, (int) nx, p->in, p->out, FFTW_ESTIMATE);
  if (!p->plan) {
    GyreSpectrumDestroy(&p);
    return GyreStatusSet(GYRE_ERR_MEM, "out of memory for a %zu x %zu FFT", ny, nx);
  }
  *s = p;
  return GYRE_OK;
}

size_t GyreSpectrumShells(GyreSpectrum s)
{
  return s->nshell;
}

double GyreSpectrumWavenumber(GyreSpectrum s, size_t shell)
{
  return (double) shell * s->dk;
}

/* The spectra from s->out (w, or u when vel) and s->out2 (v when vel). */
static void Shells(GyreSpectrum s, int vel, double *ke, double *ens, double *energy,
                   double *enstrophy)
{
  size_t nxh  = s->nx / 2 + 1;
  double norm = 1.0 / ((double) s->nx * (double) s->ny), e = 0, z = 0;

  for (size_t n = 0; n < s->nshell; n++)
    ke[n] = ens[n] = 0;
  for (size_t j = 0; j < s->ny; j++) {
    double ky = kTwoPi / s->ly * (double) (j <= s->ny / 2 ? (long) j : (long) j - (long) s->ny);
    for (size_t i = 0; i < nxh; i++) {
      /* the r2c half: modes 0 < i < nx/2 stand for their conjugates too */
      double mult = (i == 0 || (s->nx % 2 == 0 && i == s->nx / 2)) ? 1 : 2;
      double kx   = kTwoPi / s->lx * (double) i;
      double re = s->out[j * nxh + i][0] * norm, im = s->out[j * nxh + i][1] * norm;
      double k2 = kx * kx + ky * ky, sh = floor(sqrt(k2) / s->dk + 0.5), a2, en;
      if (vel) { /* re, im: u_hat; v_hat from out2; w_hat = i (kx v_hat - ky u_hat) */
        double vr = s->out2[j * nxh + i][0] * norm, vi = s->out2[j * nxh + i][1] * norm;
        double wr = kx * vr - ky * re, wi = kx * vi - ky * im;
        en = mult * (re * re + im * im + vr * vr + vi * vi) / 2;
        a2 = mult * (wr * wr + wi * wi) / 2;
      } else {
        a2 = mult * (re * re + im * im) / 2;
        en = k2 > 0 ? a2 / k2 : 0;
      }
      z += a2, e += en;
      if (sh < (double) s->nshell) ke[(size_t) sh] += en, ens[(size_t) sh] += a2;
    }
  }
  if (energy) *energy = e;
  if (enstrophy) *enstrophy = z;
}

void GyreSpectrumApply(GyreSpectrum s, const double *w, double *ke, double *ens, double *energy,
                       double *enstrophy)
{
  for (size_t k = 0; k < s->nx * s->ny; k++)
    s->in[k] = w[k];
  fftw_execute(s->plan);
  Shells(s, 0, ke, ens, energy, enstrophy);
}

void GyreSpectrumApplyVelocity(GyreSpectrum s, const double *u, const double *v, double *ke,
                               double *ens, double *energy, double *enstrophy)
{
  for (size_t k = 0; k < s->nx * s->ny; k++)
    s->in[k] = v[k];
  fftw_execute_dft_r2c(s->plan, s->in, s->out2);
  for (size_t k = 0; k < s->nx * s->ny; k++)
    s->in[k] = u[k];
  fftw_execute(s->plan);
  Shells(s, 1, ke, ens, energy, enstrophy);
}

void GyreSpectrumDestroy(GyreSpectrum *s)
{
  if (!*s) return;
  if ((*s)->plan) fftw_destroy_plan((*s)->plan);
  fftw_free((*s)->in);
  fftw_free((*s)->out);
  fftw_free((*s)->out2);
  free(*s);
  *s = NULL;
}

double GyreMetricLogSpectrumRMSE(size_t n, const double *ref, const double *test)
{
  double top = 0, floor_, sum = 0;
  size_t cnt = 0;

  for (size_t k = 1; k < n; k++)
    if (ref[k] > top) top = ref[k];
  if (!(top > 0)) return NAN;
  floor_ = 1e-14 * top;
  for (size_t k = 1; k < n; k++) {
    double a = ref[k] > floor_ ? ref[k] : floor_, b = test[k] > floor_ ? test[k] : floor_, d;
    if (isnan(test[k])) return NAN;
    if (ref[k] <= floor_ && test[k] <= floor_) continue;
    d = log10(b) - log10(a);
    sum += d * d, cnt++;
  }
  return cnt ? sqrt(sum / (double) cnt) : NAN;
}
