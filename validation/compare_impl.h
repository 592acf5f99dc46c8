/* compare_impl.h — what gyre compare computes, shared by compare.c (reading and reducing)
 * and compare_write.c (metrics.nc and the summary). Internal to validation/. */
#ifndef GYRE_COMPARE_IMPL_H
#define GYRE_COMPARE_IMPL_H

#include "gyre_io.h"
#include "gyre_validation.h"

#define GYRE_CMP_MAX_VARS 32

/* A variable shared by the two files: its non-time dimensions, where the member dimension is
 * (-1: none) and how many points one member holds. */
typedef struct {
  char   name[64], units[64], long_name[192];
  int    nd, mdim;
  char   dims[GYRE_IO_MAX_DIMS][64];
  size_t lens[GYRE_IO_MAX_DIMS];
  size_t members, npts; /* members (1 without a member dimension), points per member */
} GyreCmpVar;

/* The results for one variable of one pair of files (REF/TEST or REF/BASE). Per-lead arrays
 * have nlead entries (every shared time); entries at and after TEST's first non-finite
 * record are NaN. Maps have npts entries (the non-member dimensions). */
typedef struct {
  size_t  nlead, nvalid; /* shared times; those before the first non-finite TEST record */
  double *rmse, *rel_l2, *bias, *acc;     /* averaged over members */
  double *crps, *spread, *ens_rmse, *ssr; /* with members > 1, else NULL */
  double *mean_ref, *mean_test, *var_ref, *var_test;
  double  rmse_mean, rmse_var, w1; /* climate distances (adjacent: broadcast as 3) */
  double  blowup_time;             /* NaN: none */
  char    blowup_what[256];
  /* conservation, per lead (member means): energy of REF and TEST and, for a vorticity, the
   * enstrophy (NULL otherwise); after the per-lead arrays in the same allocation */
  double *energy_ref, *energy_test, *enstrophy_ref, *enstrophy_test;
  /* PDFs on common bins: pdf_edges (pdf_bins + 1), then the densities of REF and TEST */
  size_t  pdf_bins;
  double *pdf_edges, *pdf_ref, *pdf_test;
  /* 2-D fields on (y, x): spectral 0 none, 1 a variance spectrum (in ens_*), 2 a vorticity,
   * 3 the velocity u with v (kinetic-energy and enstrophy spectra); time means over the compared
   * times and members; one allocation from wavenumber; RMSEs of the log10 spectra */
  int     spectral;
  size_t  nshell;
  double *wavenumber, *ke_ref, *ke_test, *ens_ref, *ens_test;
  double  rmse_log_ke, rmse_log_ens;
  /* snapshots of member 0 at up to 3 leads (first, middle, last compared time): REF's nsnap
   * fields of npts points, then TEST's, then TEST - REF */
  size_t  nsnap, snap_lead[3];
  double *snap;
} GyreCmpResult;

/* Two files opened on MPI_COMM_SELF on every rank, and the records at their shared times. */
typedef struct {
  GyreFile ref, test;
  size_t   nshared, *iref, *itest;
  double  *t;                                        /* the shared times (REF's values) */
  double   span_ref, span_test, wall_ref, wall_test; /* cost; wall < 0: not recorded */
} GyreCmpPair;

/* compare_flow.c: conserved quantities and spectra of each record. kind: 0 not a 2-D field,
 * 1 a 2-D field on (y, x), 2 a vorticity on (y, x), 3 the velocity component u with its partner
 * v (see compare_flow.c). */
typedef struct {
  int          kind;
  size_t       nshell;
  GyreSpectrum sp;
  double      *work;
} GyreCmpFlow;

int GyreCmpSpectralKind(const GyreCmpVar *v);
/* partner: v for the variable u (kind 3), else NULL. */
GyreStatus GyreCmpFlowCreate(GyreFile ref, const GyreCmpVar *v, const GyreCmpVar *partner,
                             GyreCmpFlow *f);
/* For one record X (member-major, M members of P points; Y the partner's record for kind 3):
 * q[0] the energy and q[1] the enstrophy (2-D fields; for kind 1 the variance mean(V^2)/2),
 * member means; for 2-D fields the member-mean spectra into ke and ens (nshell each). */
void GyreCmpFlowRecord(GyreCmpFlow *f, size_t M, size_t P, const double *X, const double *Y,
                       double q[2], double *ke, double *ens);
void GyreCmpFlowDestroy(GyreCmpFlow *f);

/* Writes metrics.nc on this rank alone (MPI_COMM_SELF) and the summary. Not collective. */
GyreStatus GyreCompareWrite(const GyreCompareOptions *o, int mpi_size, const GyreCmpPair *p,
                            int nvars, const GyreCmpVar *vars, const GyreCmpResult *res,
                            const GyreCmpResult *base);

#endif
