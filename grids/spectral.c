/* spectral.c — FFTW-MPI real-to-complex transforms on the row slabs of a plane.
 *
 * The 2-D plans are non-transposed (rows ky stay on the rank that owns the same rows of
 * the grid) and use the grid's explicit row block for both the real and the complex
 * arrays, so no data moves between the DMDA and FFTW except FFTW's own internal
 * transposes. Plans are made with FFTW_ESTIMATE so that they do not depend on timing
 * measurements (reproducible runs). Forward divides by nx ny; inverse does not. */
#include "grid_impl.h"

/* fftw_mpi_init() once per process; PETSc has initialised MPI before any grid exists. */
static PetscBool fftw_mpi_ready = PETSC_FALSE;

PetscErrorCode GyreSpectralCreate(GyreGrid grid, GyreSpectral *sp)
{
  GyreGrid     g;
  GyreSpectral s;
  ptrdiff_t    nc[2], nr[2], local_n0, local_0_start, alloc;
  PetscMPIInt  size;

  PetscFunctionBegin;
  *sp = NULL;
  PetscCheck(grid->type == GYRE_GRID_PLANE, grid->comm, PETSC_ERR_ARG_WRONG,
             "spectral transforms need a plane, not a ring");
  PetscCall(GyreGridGetScalarGrid_Private(grid, &g));
  if (!fftw_mpi_ready) {
    fftw_mpi_init();
    fftw_mpi_ready = PETSC_TRUE;
  }
  PetscCallMPI(MPI_Comm_size(g->comm, &size));
  PetscCall(PetscNew(&s));
  s->grid = g;
  s->nx   = g->nx;
  s->ny   = g->ny;
  s->nkx  = g->nx / 2 + 1;
  nc[0]   = (ptrdiff_t) g->ny;
  nc[1]   = (ptrdiff_t) s->nkx;
  nr[0]   = (ptrdiff_t) g->ny;
  nr[1]   = (ptrdiff_t) g->nx;
  alloc =
      fftw_mpi_local_size_many(2, nc, 1, (ptrdiff_t) g->block0, g->comm, &local_n0, &local_0_start);
  PetscCheck((PetscInt) local_n0 == g->ym && (PetscInt) local_0_start == g->ys, PETSC_COMM_SELF,
             PETSC_ERR_PLIB,
             "FFTW-MPI rows [%" PetscInt64_FMT ", +%" PetscInt64_FMT
             ") differ from the grid's rows [%" PetscInt_FMT ", +%" PetscInt_FMT ")",
             (PetscInt64) local_0_start, (PetscInt64) local_n0, g->ys, g->ym);
  s->ys   = g->ys;
  s->ym   = g->ym;
  s->rbuf = fftw_alloc_real((size_t) (2 * alloc));
  s->cbuf = fftw_alloc_complex((size_t) alloc);
  PetscCheck(s->rbuf && s->cbuf, PETSC_COMM_SELF, PETSC_ERR_MEM,
             "out of memory allocating FFTW buffers of %" PetscInt64_FMT " complex values",
             (PetscInt64) alloc);
  s->forward = fftw_mpi_plan_many_dft_r2c(2, nr, 1, (ptrdiff_t) g->block0, (ptrdiff_t) g->block0,
                                          s->rbuf, s->cbuf, g->comm, FFTW_ESTIMATE);
  s->inverse = fftw_mpi_plan_many_dft_c2r(2, nr, 1, (ptrdiff_t) g->block0, (ptrdiff_t) g->block0,
                                          s->cbuf, s->rbuf, g->comm, FFTW_ESTIMATE);
  PetscCheck(s->forward && s->inverse, PETSC_COMM_SELF, PETSC_ERR_LIB,
             "FFTW-MPI could not plan the %" PetscInt_FMT " x %" PetscInt_FMT
             " transforms on %d ranks",
             g->nx, g->ny, size);
  *sp = s;
  PetscFunctionReturn(0);
}

PetscErrorCode GyreSpectralDestroy(GyreSpectral *sp)
{
  GyreSpectral s;

  PetscFunctionBegin;
  if (!sp || !*sp) PetscFunctionReturn(0);
  s = *sp;
  if (s->forward) fftw_destroy_plan(s->forward);
  if (s->inverse) fftw_destroy_plan(s->inverse);
  fftw_free(s->rbuf);
  fftw_free(s->cbuf);
  PetscCall(PetscFree(s));
  *sp = NULL;
  PetscFunctionReturn(0);
}

PetscErrorCode GyreSpectralGetLocalSize(GyreSpectral sp, PetscInt *ys, PetscInt *ym, PetscInt *nkx)
{
  PetscFunctionBegin;
  if (ys) *ys = sp->ys;
  if (ym) *ym = sp->ym;
  if (nkx) *nkx = sp->nkx;
  PetscFunctionReturn(0);
}

PetscInt GyreSpectralWavenumber(PetscInt index, PetscInt n)
{
  return index <= n / 2 ? index : index - n;
}

PetscErrorCode GyreSpectralAllocCoefficients(GyreSpectral sp, fftw_complex **coef)
{
  PetscFunctionBegin;
  *coef = fftw_alloc_complex((size_t) PetscMax(1, sp->ym * sp->nkx));
  PetscCheck(*coef, PETSC_COMM_SELF, PETSC_ERR_MEM,
             "out of memory allocating %" PetscInt_FMT " spectral coefficients", sp->ym * sp->nkx);
  PetscFunctionReturn(0);
}

/* Checks that v is a dof-1 Vec with this rank's rows of the plane. */
static PetscErrorCode CheckVec(GyreSpectral sp, Vec v)
{
  PetscInt n, nlocal;

  PetscFunctionBegin;
  PetscCall(VecGetSize(v, &n));
  PetscCall(VecGetLocalSize(v, &nlocal));
  PetscCheck(n == sp->nx * sp->ny && nlocal == sp->nx * sp->ym, PETSC_COMM_SELF, PETSC_ERR_ARG_SIZ,
             "spectral transform expects a dof-1 Vec of the %" PetscInt_FMT " x %" PetscInt_FMT
             " plane (%" PetscInt_FMT " entries here); got %" PetscInt_FMT " (%" PetscInt_FMT
             " here)",
             sp->nx, sp->ny, sp->nx * sp->ym, n, nlocal);
  PetscFunctionReturn(0);
}

PetscErrorCode GyreSpectralForward(GyreSpectral sp, Vec in, fftw_complex *out)
{
  const PetscScalar *a;
  const PetscInt     nx = sp->nx, nkx = sp->nkx, ym = sp->ym;
  const PetscReal    scale = 1.0 / ((PetscReal) sp->nx * (PetscReal) sp->ny);

  PetscFunctionBegin;
  PetscCall(CheckVec(sp, in));
  PetscCall(VecGetArrayRead(in, &a));
  for (PetscInt j = 0; j < ym; j++)
    for (PetscInt i = 0; i < nx; i++)
      sp->rbuf[j * 2 * nkx + i] = PetscRealPart(a[j * nx + i]);
  PetscCall(VecRestoreArrayRead(in, &a));
  fftw_execute(sp->forward);
  {
    const double *c = (const double *) sp->cbuf; /* (re, im) pairs, whatever fftw_complex's */
    double       *o = (double *) out;            /* C type: C99 complex after <complex.h> */
    for (PetscInt k = 0; k < 2 * ym * nkx; k++)
      o[k] = c[k] * scale;
  }
  PetscCall(PetscLogFlops(2.5 * (PetscLogDouble) (nx * ym) *
                          PetscLog2Real((PetscReal) nx * (PetscReal) sp->ny)));
  PetscFunctionReturn(0);
}

PetscErrorCode GyreSpectralInverse(GyreSpectral sp, const fftw_complex *in, Vec out)
{
  PetscScalar   *a;
  const PetscInt nx = sp->nx, nkx = sp->nkx, ym = sp->ym;

  PetscFunctionBegin;
  PetscCall(CheckVec(sp, out));
  PetscCall(PetscMemcpy(sp->cbuf, in, sizeof(fftw_complex) * (size_t) (ym * nkx)));
  fftw_execute(sp->inverse);
  PetscCall(VecGetArrayWrite(out, &a));
  for (PetscInt j = 0; j < ym; j++)
    for (PetscInt i = 0; i < nx; i++)
      a[j * nx + i] = sp->rbuf[j * 2 * nkx + i];
  PetscCall(VecRestoreArrayWrite(out, &a));
  PetscCall(PetscLogFlops(2.5 * (PetscLogDouble) (nx * ym) *
                          PetscLog2Real((PetscReal) nx * (PetscReal) sp->ny)));
  PetscFunctionReturn(0);
}
