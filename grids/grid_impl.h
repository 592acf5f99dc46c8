/* grid_impl.h — private layout of GyreGrid and GyreSpectral, shared by the files of grids/.
 * Not installed and not included outside grids/: use gyre_grid.h. */
#ifndef GYRE_GRID_IMPL_H
#define GYRE_GRID_IMPL_H

#include "gyre_grid.h"

struct _p_GyreGrid {
  GyreGridType type;
  MPI_Comm     comm;   /* the DM's communicator (borrowed from the DM) */
  DM           dm;     /* dof unknowns per point, stencil width sw */
  DM           dm1;    /* dof-1 layout of the same points (== dm when dof is 1; own ref) */
  PetscInt     nx, ny; /* global sizes; ny = 1 for a ring */
  PetscReal    Lx, Ly; /* physical extents; a ring has Lx = n, Ly = 1 (unit spacing) */
  PetscInt     dof, sw;
  PetscInt     block0; /* plane: rows per rank (the last ranks may own fewer) */
  PetscInt     xs, ys, xm, ym;
  PetscReal   *x, *y;  /* coordinates, length nx and ny */
  GyreGrid     scalar; /* plane with dof > 1: a dof-1 twin with the same rows (lazily) */
};

struct _p_GyreSpectral {
  GyreGrid      grid; /* borrowed: the dof-1 plane the plans were made for */
  PetscInt      nx, ny, nkx;
  PetscInt      ys, ym;
  double       *rbuf; /* ym rows of 2 nkx doubles (FFTW's padded real layout) */
  fftw_complex *cbuf; /* ym rows of nkx coefficients */
  fftw_plan     forward, inverse;
};

/* The dof-1 plane with the same row slabs as grid (grid itself when its dof is 1). The
 * twin is created on first use and destroyed with grid. Collective on first call. */
PetscErrorCode GyreGridGetScalarGrid_Private(GyreGrid grid, GyreGrid *scalar);

#endif
