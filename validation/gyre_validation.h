/* gyre_validation.h — scoring a test run (a surrogate, a hybrid) against a reference run:
 * the metric functions (pure, no I/O), isotropic spectra and `gyre compare` (GyreCompare: reads two
 * gyre files, computes the metrics in parallel over MPI ranks, writes metrics.nc and a summary).
 * PETSc-free: io/, MPI and NetCDF only. */
#ifndef GYRE_VALIDATION_H
#define GYRE_VALIDATION_H

#include <mpi.h>
#include <stdio.h>
#include <stddef.h>
#include "gyre_status.h"

/* ---- metric functions (pure, not collective) -------------------------------------------- */

/* Exact Wasserstein-1 distance between the empirical distributions of two samples sorted in
 * ascending order (sizes may differ): the integral of |F_a - F_b|. Equal sizes: the mean of
 * |a_i - b_i|. NaN when a sample is empty. */
double GyreMetricW1Sorted(size_t na, const double *a, size_t nb, const double *b);

/* Centred correlation of two anomaly fields over n points: each field's own mean over the n
 * points is removed first. NaN when either field is constant. Exactly 1 for identical
 * fields; clamped to [-1, 1]. */
double GyreMetricACC(size_t n, const double *a, const double *b);

/* CRPS of an ensemble of m values sorted in ascending order against one value y:
 * mean|x_i - y| - (1/(2 m^2)) sum_ij |x_i - x_j| (the empirical CRPS, not the "fair" one).
 * For m = 1: |x - y|. */
double GyreMetricCRPSSorted(size_t m, const double *x, double y);

/* Histogram density of a sample sorted in ascending order on nbins bins with the given
 * ascending edges (nbins + 1): bin i holds edges[i] <= x < edges[i+1], the last bin also its
 * right edge (numpy.histogram's convention); values outside are not counted. density[i] =
 * count / (n * width), so the densities integrate to 1 when every value is inside. */
void GyreMetricHistogramSorted(size_t n, const double *x, size_t nbins, const double *edges,
                               double *density);

/* RMSE of log10(test) - log10(ref) over shells 1..n-1 of two spectra (shell 0 is skipped),
 * both floored at 1e-14 times REF's largest value; shells where both are below the floor are
 * left out. NaN when REF is zero everywhere or TEST holds a NaN. */
double GyreMetricLogSpectrumRMSE(size_t n, const double *ref, const double *test);

/* Isotropic spectra of a 2-D field f(y, x) on a doubly periodic ny x nx grid of lengths
 * ly x lx (validation/spectrum.c). Not collective; a handle is used by one thread at a time. */
typedef struct GyreSpectrum_s *GyreSpectrum;

GyreStatus GyreSpectrumCreate(size_t ny, size_t nx, double ly, double lx, GyreSpectrum *s);
/* The number of shells, K + 1 with K = min(nx, ny) / 2, and shell n's wavenumber n dk,
 * dk = 2 pi / max(lx, ly). */
size_t GyreSpectrumShells(GyreSpectrum s);
double GyreSpectrumWavenumber(GyreSpectrum s, size_t shell);
/* The field w (ny * nx values, C order) taken as a vorticity: per shell the kinetic-energy
 * spectrum ke = sum |w_hat|^2 / (2 |k|^2) and the enstrophy spectrum ens = sum |w_hat|^2 / 2
 * (for any other field, its variance spectrum), with f_hat = FFT(f) / (nx ny); and the totals
 * over every mode (energy, enstrophy = mean(w^2) / 2; either pointer may be NULL). */
void GyreSpectrumApply(GyreSpectrum s, const double *w, double *ke, double *ens, double *energy,
                       double *enstrophy);
/* The same spectra and totals from the velocity components u and v of a flow: ke = sum
 * (|u_hat|^2 + |v_hat|^2) / 2, ens = sum |w_hat|^2 / 2 with w_hat = i (kx v_hat - ky u_hat). */
void GyreSpectrumApplyVelocity(GyreSpectrum s, const double *u, const double *v, double *ke,
                               double *ens, double *energy, double *enstrophy);
void GyreSpectrumDestroy(GyreSpectrum *s);

/* ---- gyre compare -------------------------------------------------------------------- */

typedef struct {
  const char *ref, *test; /* the reference and the test file */
  const char *baseline;   /* NULL, or a baseline file for Ross et al.'s similarity scores */
  const char *output;     /* metrics.nc */
  int         overwrite;  /* replace an existing output */
  const char *vars;       /* NULL: every shared variable; else "a,b" (each must be shared) */
  double      blowup;     /* stability: |x| above this counts as a blow-up (1e6) */
  double      time_tol;   /* times match when |t_ref - t_test| <= time_tol (1e-6) */
  int         pdf_bins;   /* bins of the PDFs (50) */
  const char *command_line, *options, *start_time; /* provenance of metrics.nc */
  FILE       *summary;                             /* one-page summary (rank 0), NULL: none */
} GyreCompareOptions;

void GyreCompareOptionsDefault(GyreCompareOptions *o);

/* Compares o->test with o->ref (and o->baseline with o->ref for the similarity scores) and
 * writes o->output. Collective on comm: every rank reads its share of the time records
 * (each rank opens the files on MPI_COMM_SELF), the results are reduced with MPI, rank 0
 * writes metrics.nc (atomically) and the summary. Every rank returns the same status; a
 * failure leaves no output file. */
GyreStatus GyreCompare(MPI_Comm comm, const GyreCompareOptions *o);

#endif
