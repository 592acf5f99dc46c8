/* gyre_petsc.h — the bridge from GyreStatus (io/, surrogates/) to PETSc errors. */
#ifndef GYRE_PETSC_H
#define GYRE_PETSC_H
#include <petscsys.h>
#include "gyre_status.h"

/* Calls a GyreStatus-returning function; on failure raises a PETSc error carrying the
 * library's message, on the communicator comm. */
#define PetscCallGyre(comm, expr)                                                                  \
  do {                                                                                             \
    GyreStatus gyre_ps_ = (expr);                                                                  \
    PetscCheck(gyre_ps_ == GYRE_OK, (comm), PETSC_ERR_LIB, "%s", GyreStatusMessage());             \
  } while (0)

#endif
