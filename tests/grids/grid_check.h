/* grid_check.h — small assertion helpers shared by the grids/ tests. */
#ifndef GYRE_GRID_CHECK_H
#define GYRE_GRID_CHECK_H

#include "gyre_grid.h"

/* Fails unless |got - want| <= tol, naming the quantity. */
#define CHECK_CLOSE(what, got, want, tol)                                                          \
  PetscCheck(PetscAbsReal((PetscReal) (got) - (PetscReal) (want)) <= (tol), PETSC_COMM_SELF,       \
             PETSC_ERR_PLIB, "%s: got %.17g, want %.17g (tolerance %g)", (what), (double) (got),   \
             (double) (want), (double) (tol))

/* Fails unless a <= tol (a is a measured error, printed on failure). */
#define CHECK_SMALL(what, a, tol)                                                                  \
  PetscCheck((a) <= (tol), PETSC_COMM_SELF, PETSC_ERR_PLIB, "%s: %.3e exceeds %.1e", (what),       \
             (double) (a), (double) (tol))

/* The maximum of a over all ranks of comm. */
static inline PetscErrorCode GlobalMax(MPI_Comm comm, PetscReal *a)
{
  PetscFunctionBegin;
  PetscCall(MPIU_Allreduce(MPI_IN_PLACE, a, 1, MPIU_REAL, MPIU_MAX, comm));
  PetscFunctionReturn(0);
}

#endif
