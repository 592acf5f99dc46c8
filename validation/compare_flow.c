/* compare_flow.c — what gyre compare computes from each record besides its errors: the
 * conserved quantities (energy, enstrophy) and, for 2-D fields, the isotropic spectra.
 *
 * Decisions:
 * - 2-D fields are the variables whose non-member dimensions are exactly (y, x): gyre's doubly
 *   periodic plane. The domain lengths come from REF's coordinate variables y and x (n times
 *   the spacing of the first two values; 1, the unit torus, where there are none).
 * - A 2-D field whose name contains "vorticity" is a vorticity: its kinetic-energy spectrum
 *   comes from the streamfunction solved spectrally (validation/spectrum.c), its energy is the
 *   kinetic energy per unit area and its enstrophy mean(w^2) / 2. Any other 2-D field gets its
 *   variance spectrum (sum |f_hat|^2 / 2 per shell). Every variable's "energy" is otherwise
 *   mean(V^2) / 2 over its points (l96's X: the energy of the slow variables per sector).
 * - Velocity components: when the compared variables include 2-D fields `u` and `v` on the same
 *   grid, u's spectra and conserved quantities are those of the flow (u, v): the kinetic-energy
 *   spectrum from both components, the enstrophy spectrum of the vorticity dv/dx - du/dy
 *   (written under u's name, e.g. ke_spectrum_ref_u); v keeps its own variance spectrum.
 * - Everything is a mean over the members. */
#include "compare_impl.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

int GyreCmpSpectralKind(const GyreCmpVar *v)
{
  int k = 0, d2[2] = {-1, -1};
  for (int d = 0; d < v->nd; d++) {
    if (d == v->mdim) continue;
    if (k == 2) return 0;
    d2[k++] = d;
  }
  if (k != 2 || strcmp(v->dims[d2[0]], "y") || strcmp(v->dims[d2[1]], "x") || v->lens[d2[0]] < 4 ||
      v->lens[d2[1]] < 4)
    return 0;
  return strstr(v->name, "vorticity") ? 2 : 1;
}

/* n times the spacing of the coordinate variable dim of f (1 where it has none). */
static double DomainLength(GyreFile f, const char *dim, size_t n)
{
  int    nd, has_time;
  char   dims[GYRE_IO_MAX_DIMS][64];
  size_t lens[GYRE_IO_MAX_DIMS], start = 0, two = 2;
  double c[2], l;
  if (GyreFileInqVar(f, dim, &nd, dims, lens, &has_time) != GYRE_OK || has_time || nd != 1 ||
      lens[0] != n || GyreFileReadBlock(f, dim, 0, &start, &two, c) != GYRE_OK)
    return 1;
  l = (double) n * fabs(c[1] - c[0]);
  return l > 0 && isfinite(l) ? l : 1;
}

GyreStatus GyreCmpFlowCreate(GyreFile ref, const GyreCmpVar *v, const GyreCmpVar *partner,
                             GyreCmpFlow *f)
{
  size_t ny = 0, nx = 0;

  memset(f, 0, sizeof *f);
  f->kind = GyreCmpSpectralKind(v);
  if (!f->kind) return GYRE_OK;
  if (partner) f->kind = 3;
  for (int d = 0; d < v->nd; d++)
    if (d != v->mdim) ny = nx, nx = v->lens[d];
  GyreCall(
      GyreSpectrumCreate(ny, nx, DomainLength(ref, "y", ny), DomainLength(ref, "x", nx), &f->sp));
  f->nshell = GyreSpectrumShells(f->sp);
  f->work   = malloc(2 * f->nshell * sizeof *f->work);
  if (!f->work) {
    GyreSpectrumDestroy(&f->sp);
    return GyreStatusSet(GYRE_ERR_MEM, "out of memory for the spectra of '%s'", v->name);
  }
  return GYRE_OK;
}

void GyreCmpFlowRecord(GyreCmpFlow *f, size_t M, size_t P, const double *X, const double *Y,
                       double q[2], double *ke, double *ens)
{
  double *wk = f->work, *wz = f->work + f->nshell;

  q[0] = q[1] = 0;
  for (size_t s = 0; f->kind && s < f->nshell; s++)
    ke[s] = ens[s] = 0;
  for (size_t m = 0; m < M; m++) {
    const double *x  = X + m * P;
    double        sq = 0, e;
    for (size_t p = 0; p < P; p++)
      sq += x[p] * x[p];
    sq /= 2 * (double) P;
    if (!f->kind) {
      q[0] += sq / (double) M;
      continue;
    }
    if (f->kind == 3) {
      double z;
      GyreSpectrumApplyVelocity(f->sp, x, Y + m * P, wk, wz, &e, &z);
      q[0] += e / (double) M;
      q[1] += z / (double) M;
    } else {
      GyreSpectrumApply(f->sp, x, wk, wz, &e, NULL);
      q[0] += (f->kind == 2 ? e : sq) / (double) M;
      q[1] += sq / (double) M;
    }
    for (size_t s = 0; s < f->nshell; s++)
      ke[s] += wk[s] / (double) M, ens[s] += wz[s] / (double) M;
  }
}

void GyreCmpFlowDestroy(GyreCmpFlow *f)
{
  GyreSpectrumDestroy(&f->sp);
  free(f->work);
  memset(f, 0, sizeof *f);
}
