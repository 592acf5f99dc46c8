/* gyre_status.h — status codes with messages for gyre's PETSc-free libraries (io/,
 * surrogates/). Every fallible function returns a GyreStatus; on failure it records a
 * one-line message retrievable with GyreStatusMessage(). PETSc code converts a failed
 * status into a PETSc error with PetscCallGyre() (solvers/gyre_petsc.h). */
#ifndef GYRE_STATUS_H
#define GYRE_STATUS_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
  GYRE_OK = 0,
  GYRE_ERR_IO,       /* a file could not be opened, read or written */
  GYRE_ERR_FORMAT,   /* a file is not what was expected (variable, dimension, attribute) */
  GYRE_ERR_ARG,      /* an impossible argument or option */
  GYRE_ERR_NAN,      /* NaN or Inf where finite numbers are required */
  GYRE_ERR_MEM,      /* out of memory */
  GYRE_ERR_MPI,      /* an MPI call failed */
  GYRE_ERR_INTERNAL, /* a bug */
  GYRE_ERR_DEVICE,   /* an accelerator library call failed (CUDA, cuBLAS, cuFFT, NCCL) */
} GyreStatus;

/* Records a printf-style message for code and returns code. Not collective. */
GyreStatus GyreStatusSet(GyreStatus code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* The message recorded by the last failing call on this thread ("" if none). */
const char *GyreStatusMessage(void);

#ifdef __cplusplus
}
#endif

/* Propagates a failed status to the caller. */
#define GyreCall(expr)                                                                             \
  do {                                                                                             \
    GyreStatus gyre_s_ = (expr);                                                                   \
    if (gyre_s_ != GYRE_OK) return gyre_s_;                                                        \
  } while (0)

#endif
