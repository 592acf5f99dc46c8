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
} GyreCmpResult;

/* Two files opened on MPI_COMM_SELF on every rank, and the records at their shared times. */
typedef struct {
  GyreFile ref, test;
  size_t   nshared, *iref, *itest;
  double  *t;                                        /* the shared times (REF's values) */
  double   span_ref, span_test, wall_ref, wall_test; /* cost; wall < 0: not recorded */
} GyreCmpPair;

/* Writes metrics.nc on this rank alone (MPI_COMM_SELF) and the summary. Not collective. */
GyreStatus GyreCompareWrite(const GyreCompareOptions *o, int mpi_size, const GyreCmpPair *p,
                            int nvars, const GyreCmpVar *vars, const GyreCmpResult *res,
                            const GyreCmpResult *base);

#endif
