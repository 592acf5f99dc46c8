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

/* Integer, real, real-list and true/false options checked as text first (solvers/options.c): a
 * value that is not one, or an integer out of range, is one error naming the option, where PETSc
 * would wrap 99999999999 silently or report "abc" on every rank without the option's name. Every
 * options block of a file that includes this header goes through them. */
PetscErrorCode GyreOptionsInt_Private(PetscOptionItems *, const char[], const char[], const char[],
                                      PetscInt, PetscInt *, PetscBool *, PetscInt, PetscInt);
PetscErrorCode GyreOptionsReal_Private(PetscOptionItems *, const char[], const char[], const char[],
                                       PetscReal, PetscReal *, PetscBool *);
PetscErrorCode GyreOptionsBool_Private(PetscOptionItems *, const char[], const char[], const char[],
                                       PetscBool, PetscBool *, PetscBool *);
PetscErrorCode GyreOptionsRealArray_Private(PetscOptionItems *, const char[], const char[],
                                            const char[], PetscReal[], PetscInt *, PetscBool *);
/* A comma-separated list option's value: one error naming the option for an empty entry
 * ("1,,2", ",X", "X,") and, where unique, for an entry given twice. Collective on comm. */
PetscErrorCode GyreOptionsListCheck(MPI_Comm comm, const char *name, const char *value,
                                    PetscBool unique);
/* One warning line (rank 0 of comm) for each option nothing has read so far, for command cmd
 * ("simulate": an option of another model, or one that needs another, says when it applies).
 * Each is said once: a later call does not repeat it. gyre simulate calls it after its first
 * step (a misspelt option shows at the start of a long job's log, not only at its end), gyre
 * train before its first epoch, and every command at its end. Collective on comm. */
PetscErrorCode GyreOptionsWarnUnused(MPI_Comm comm, const char *cmd);
#undef PetscOptionsInt
#undef PetscOptionsRealArray
#undef PetscOptionsBoundedInt
#undef PetscOptionsRangeInt
#undef PetscOptionsReal
#undef PetscOptionsBool
#define PetscOptionsInt(a, b, c, d, e, f)                                                          \
  GyreOptionsInt_Private(PetscOptionsObject, a, b, c, d, e, f, PETSC_MIN_INT, PETSC_MAX_INT)
#define PetscOptionsBoundedInt(a, b, c, d, e, f, g)                                                \
  GyreOptionsInt_Private(PetscOptionsObject, a, b, c, d, e, f, g, PETSC_MAX_INT)
#define PetscOptionsRangeInt(a, b, c, d, e, f, g, h)                                               \
  GyreOptionsInt_Private(PetscOptionsObject, a, b, c, d, e, f, g, h)
#define PetscOptionsReal(a, b, c, d, e, f)                                                         \
  GyreOptionsReal_Private(PetscOptionsObject, a, b, c, d, e, f)
#define PetscOptionsRealArray(a, b, c, d, e, f)                                                    \
  GyreOptionsRealArray_Private(PetscOptionsObject, a, b, c, d, e, f)
#define PetscOptionsBool(a, b, c, d, e, f)                                                         \
  GyreOptionsBool_Private(PetscOptionsObject, a, b, c, d, e, f)

#endif
