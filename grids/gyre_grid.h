/* gyre_grid.h — structured grids on PETSc DMDA.
 *
 *  - a 1-D periodic ring of n points with dof unknowns per point (Lorenz-96 sectors);
 *  - a 2-D doubly periodic plane nx x ny with physical extents Lx x Ly, decomposed in row
 *    slabs (one process column) so that FFTW-MPI's distribution matches the DMDA's and
 *    spectral operators need no redistribution. Grid points sit at x_i = i Lx/nx,
 *    y_j = j Ly/ny (the Li et al. convention), cell area Lx Ly/(nx ny).
 * Also: coarse-graining between a fine and a coarse plane, and Gaussian random fields that
 * are identical whatever the number of ranks. */
#ifndef GYRE_GRID_H
#define GYRE_GRID_H

#include <petscdmda.h>
#include <fftw3-mpi.h>

typedef struct _p_GyreGrid *GyreGrid;
typedef enum { GYRE_GRID_RING, GYRE_GRID_PLANE } GyreGridType;

/* 1-D periodic ring: n points, dof unknowns per point, stencil width sw. Collective.
 * A ring has unit spacing: Lx = n, Ly = 1, x_i = i, each point's length 1. */
PetscErrorCode GyreGridCreateRing(MPI_Comm comm, PetscInt n, PetscInt dof, PetscInt sw,
                                  GyreGrid *grid);
/* 2-D doubly periodic plane, dof unknowns per point, stencil width sw, in row slabs whose
 * row counts are multiples of row_multiple (so a coarsening by that factor is rank-local).
 * Fails with a clear message when the rows cannot be shared out (too many ranks).
 * Collective. */
PetscErrorCode GyreGridCreatePlane(MPI_Comm comm, PetscInt nx, PetscInt ny, PetscReal Lx,
                                   PetscReal Ly, PetscInt dof, PetscInt sw, PetscInt row_multiple,
                                   GyreGrid *grid);
/* A plane whose row slabs are given explicitly: rank p owns rows [p block0, (p+1) block0)
 * clipped to ny (FFTW-MPI's distribution for that block0). GyreCoarsenCreate uses it so
 * that the coarse slabs are the fine slabs divided by r. Fails like GyreGridCreatePlane
 * when a rank would own fewer than max(1, sw) rows. Collective. */
PetscErrorCode GyreGridCreatePlaneWithBlock(MPI_Comm comm, PetscInt nx, PetscInt ny, PetscReal Lx,
                                            PetscReal Ly, PetscInt dof, PetscInt sw,
                                            PetscInt block0, GyreGrid *grid);
PetscErrorCode GyreGridDestroy(GyreGrid *grid);

PetscErrorCode GyreGridGetDM(GyreGrid grid, DM *dm); /* borrowed reference */
/* The dof-1 DMDA with the grid's layout (the grid's own DM when dof is 1): where the
 * dof-1 Vecs taken by Integrate, the spectral transforms and coarsening come from.
 * Borrowed reference. Not collective. */
PetscErrorCode GyreGridGetScalarDM(GyreGrid grid, DM *dm);
/* Plane: the row block (rank p owns rows [p block0, (p+1) block0) clipped to ny). */
PetscErrorCode GyreGridGetRowBlock(GyreGrid grid, PetscInt *block0);
PetscErrorCode GyreGridGetType(GyreGrid grid, GyreGridType *type);
/* Global sizes (ny = 1 for a ring) and physical extents. */
PetscErrorCode GyreGridGetSizes(GyreGrid grid, PetscInt *nx, PetscInt *ny, PetscReal *Lx,
                                PetscReal *Ly);
/* This rank's owned block: columns [xs, xs+xm), rows [ys, ys+ym). Not collective. */
PetscErrorCode GyreGridGetOwnership(GyreGrid grid, PetscInt *xs, PetscInt *ys, PetscInt *xm,
                                    PetscInt *ym);
/* Global coordinate arrays x[nx], y[ny] (borrowed, the same on every rank). */
PetscErrorCode GyreGridGetCoordinates(GyreGrid grid, const PetscReal **x, const PetscReal **y);
/* A new global Vec (dof 1 layout of the grid) holding each cell's area (length for a ring).
 * Collective. */
PetscErrorCode GyreGridCreateCellAreas(GyreGrid grid, Vec *area);
/* Area-weighted sum of v (dof 1) over the grid. Collective. */
PetscErrorCode GyreGridIntegrate(GyreGrid grid, Vec v, PetscReal *integral);

/* ---- spectral transforms on a plane (FFTW-MPI, same row slabs as the DMDA) ----
 * Note: petscdmda.h includes <complex.h> before fftw3.h, so fftw_complex is C99's
 * double _Complex here (not double[2]): use creal/cimag, or read it as (re, im) pairs
 * through a (double *) cast, which is valid for both of FFTW's definitions. */
typedef struct _p_GyreSpectral *GyreSpectral;
/* Plans real-to-complex transforms for the plane. They act on dof-1 Vecs of the grid's
 * layout (GyreGridGetScalarDM; the grid's own Vecs when dof is 1). Collective. */
PetscErrorCode GyreSpectralCreate(GyreGrid grid, GyreSpectral *sp);
PetscErrorCode GyreSpectralDestroy(GyreSpectral *sp);
/* This rank's spectral block: rows ky index [ys, ys+ym) (same rows as the grid), columns
 * kx = 0..nx/2, stored row-major with nkx = nx/2+1 columns. Not collective. */
PetscErrorCode GyreSpectralGetLocalSize(GyreSpectral sp, PetscInt *ys, PetscInt *ym, PetscInt *nkx);
/* Signed integer wavenumber of global row index j (ky) or column index i (kx): index for
 * index <= n/2, index - n above (the Nyquist index n/2 of an even n gives +n/2; zero that
 * mode when taking an odd derivative). The physical wavenumber is 2 pi k / L. */
PetscInt GyreSpectralWavenumber(PetscInt index, PetscInt n);
/* out[row][kx] = (1/(nx ny)) sum_x in(x) e^{-i k.x}: the local owned block of a dof-1 global
 * Vec to this rank's Fourier coefficients (normalised: a constant c has out[0][0] = c).
 * Collective. */
PetscErrorCode GyreSpectralForward(GyreSpectral sp, Vec in, fftw_complex *out);
/* Inverse of GyreSpectralForward (input is not modified). Collective. */
PetscErrorCode GyreSpectralInverse(GyreSpectral sp, const fftw_complex *in, Vec out);
/* A scratch coefficient array of this rank's spectral block size (fftw_free it). */
PetscErrorCode GyreSpectralAllocCoefficients(GyreSpectral sp, fftw_complex **coef);

/* ---- coarse-graining ---- */
typedef enum {
  GYRE_COARSEN_SUBSAMPLE, /* every r-th point (Li et al.'s stored stride) */
  GYRE_COARSEN_BLOCK,     /* mean over r x r blocks */
  GYRE_COARSEN_GAUSSIAN   /* spectral Gaussian filter exp(-|k|^2 D^2/24), D = 2 coarse dx,
                             truncated at the coarse Nyquist, then subsample */
} GyreCoarsenType;
typedef struct _p_GyreCoarsen *GyreCoarsen;
/* Coarse-graining of a plane by factor r (nx, ny divisible by r, fine grid created with
 * row_multiple r); creates the coarse plane with matching slabs. Collective.
 * The coarse plane has dof 1, the same extents, rows [ys/r, (ys+ym)/r) on each rank, and
 * the fine stencil width (reduced to the fewest rows a rank owns when slabs are thinner).
 * Coarse point (I, J) sits at fine point (rI, rJ): subsample takes that point, gaussian
 * filters the fine field and then takes it, block takes the mean of fine points [rI, rI+r) x
 * [rJ, rJ+r) (xarray's coarsen().mean(), so its centre lies (r-1)/2 fine spacings beyond the
 * coarse point). With unequal spacings the Gaussian is exp(-(kx^2 Dx^2 + ky^2 Dy^2)/24). */
PetscErrorCode GyreCoarsenCreate(GyreGrid fine, PetscInt r, GyreCoarsenType type, GyreCoarsen *cg);
PetscErrorCode GyreCoarsenDestroy(GyreCoarsen *cg);
PetscErrorCode GyreCoarsenGetCoarseGrid(GyreCoarsen cg, GyreGrid *coarse); /* borrowed */
/* coarse = coarse-grained fine (dof-1 global Vecs of the two grids). Collective. */
PetscErrorCode GyreCoarsenApply(GyreCoarsen cg, Vec fine, Vec coarse);
/* "subsample", "block" or "gaussian" (case-insensitive); a clear error otherwise. */
PetscErrorCode GyreCoarsenTypeFromString(const char *s, GyreCoarsenType *type);
/* Names of the coarsening types in PetscOptionsEnum's layout (names, enum name, prefix, NULL). */
extern const char *const GyreCoarsenTypes[];

/* ---- Gaussian random fields ---- */
/* Fills v (dof-1 Vec of a plane) with a sample of N(0, sigma^2 (-Lap + tau^2 I)^(-alpha))
 * with the normalisation of Li et al.'s GaussianRF: v(x) = Re sum_k sqrt(2) sigma
 * lambda_k xi_k e^{i k.x}, lambda_k = (|k|^2 + tau^2)^(-alpha/2) with |k| the physical
 * wavenumber (2 pi n / L), lambda_0 = 0, xi_k standard complex normal (real and imaginary
 * parts independent N(0, 1), as Li et al.'s randn(..., 2)) drawn from a counter-based
 * generator keyed on (seed, signed kx, signed ky): identical on any number of ranks, and
 * the same low modes at any resolution.
 * Variance: sum_k 2 sigma^2 lambda_k^2. Collective. */
PetscErrorCode GyreGridRandomField(GyreGrid grid, PetscReal alpha, PetscReal tau, PetscReal sigma,
                                   PetscInt64 seed, Vec v);

#endif
