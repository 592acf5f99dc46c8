/* test_plane.c — the doubly periodic plane: row slabs, coordinates, cell areas, integrals,
 * and the clear error when the rows cannot be shared out. */
#include "grid_check.h"

/* Creates a plane expecting it to fail with PETSC_ERR_ARG_INCOMP on every rank. */
static PetscErrorCode ExpectRowError(PetscInt ny, PetscInt sw, PetscInt row_multiple)
{
  GyreGrid       bad = NULL;
  PetscErrorCode ierr;

  PetscFunctionBegin;
  PetscCall(PetscPushErrorHandler(PetscReturnErrorHandler, NULL));
  ierr = GyreGridCreatePlane(PETSC_COMM_WORLD, 8, ny, 1.0, 1.0, 1, sw, row_multiple, &bad);
  PetscCall(PetscPopErrorHandler());
  PetscCheck(ierr == PETSC_ERR_ARG_INCOMP && !bad, PETSC_COMM_SELF, PETSC_ERR_PLIB,
             "plane of %d rows, stencil %d, row multiple %d: expected the row-sharing error, got "
             "%d",
             (int) ny, (int) sw, (int) row_multiple, (int) ierr);
  PetscFunctionReturn(0);
}

int main(int argc, char **argv)
{
  const PetscInt   nx = 24, ny = 16, rm = 2;
  const PetscReal  Lx = 2.0, Ly = 3.0;
  GyreGrid         plane, plane3;
  DM               dm, dm1;
  Vec              area, f, coords;
  const PetscReal *x, *y;
  PetscInt         xs, ys, xm, ym, rows, block0, expect_block, n3;
  PetscReal        sum_area, integral, exact, err_x = 0, err_dm = 0;
  PetscScalar     *v;
  PetscMPIInt      size, rank;

  PetscCall(PetscInitialize(&argc, &argv, NULL, NULL));
  PetscCallMPI(MPI_Comm_size(PETSC_COMM_WORLD, &size));
  PetscCallMPI(MPI_Comm_rank(PETSC_COMM_WORLD, &rank));
  PetscCall(GyreGridCreatePlane(PETSC_COMM_WORLD, nx, ny, Lx, Ly, 1, 1, rm, &plane));

  /* row slabs: block0 = ceil(ny/size) rounded up to the row multiple, all columns owned */
  expect_block = (ny + size - 1) / size;
  expect_block = (expect_block + rm - 1) / rm * rm;
  PetscCall(GyreGridGetRowBlock(plane, &block0));
  PetscCall(GyreGridGetOwnership(plane, &xs, &ys, &xm, &ym));
  PetscCheck(block0 == expect_block && xs == 0 && xm == nx && ys == rank * block0 &&
                 ym == PetscMin(block0, ny - rank * block0) && ym % rm == 0,
             PETSC_COMM_SELF, PETSC_ERR_PLIB,
             "rank %d owns [%d,+%d) x [%d,+%d) with block %d (expected block %d)", rank, (int) xs,
             (int) xm, (int) ys, (int) ym, (int) block0, (int) expect_block);
  PetscCall(MPIU_Allreduce(&ym, &rows, 1, MPIU_INT, MPI_SUM, PETSC_COMM_WORLD));
  PetscCheck(rows == ny, PETSC_COMM_SELF, PETSC_ERR_PLIB, "rows sum to %d", (int) rows);

  /* coordinates x_i = i Lx/nx, y_j = j Ly/ny, also carried by the DMDA */
  PetscCall(GyreGridGetCoordinates(plane, &x, &y));
  for (PetscInt i = 0; i < nx; i++)
    err_x = PetscMax(err_x, PetscAbsReal(x[i] - i * Lx / nx));
  for (PetscInt j = 0; j < ny; j++)
    err_x = PetscMax(err_x, PetscAbsReal(y[j] - j * Ly / ny));
  CHECK_SMALL("coordinate error", err_x, 1e-15);
  CHECK_CLOSE("x[3]", x[3], 0.25, 1e-15);
  CHECK_CLOSE("y[5]", y[5], 0.9375, 1e-15);
  PetscCall(GyreGridGetDM(plane, &dm));
  PetscCall(DMGetCoordinates(dm, &coords));
  {
    const PetscScalar *c;
    PetscCall(VecGetArrayRead(coords, &c));
    for (PetscInt j = 0; j < ym; j++)
      for (PetscInt i = 0; i < nx; i++) {
        err_dm = PetscMax(err_dm, PetscAbsReal(PetscRealPart(c[2 * (j * nx + i)]) - x[i]));
        err_dm = PetscMax(err_dm, PetscAbsReal(PetscRealPart(c[2 * (j * nx + i) + 1]) - y[ys + j]));
      }
    PetscCall(VecRestoreArrayRead(coords, &c));
  }
  PetscCall(GlobalMax(PETSC_COMM_WORLD, &err_dm));
  CHECK_SMALL("DMDA coordinate error", err_dm, 1e-14);

  /* cell areas sum to Lx Ly */
  PetscCall(GyreGridCreateCellAreas(plane, &area));
  PetscCall(VecSum(area, &sum_area));
  CHECK_CLOSE("sum of cell areas", sum_area, Lx * Ly, 1e-14);
  PetscCall(GyreGridIntegrate(plane, area, &integral)); /* sum of area^2 / area = Lx Ly */
  CHECK_CLOSE("integral of the area field", integral, Lx * Ly / (nx * ny) * Lx * Ly, 1e-15);

  /* integrate 2 + cos^2(2 pi x/Lx) sin^2(4 pi y/Ly): exact (periodic rectangle rule) =
   * Lx Ly (2 + 1/4) */
  PetscCall(VecDuplicate(area, &f));
  PetscCall(VecGetArray(f, &v));
  for (PetscInt j = 0; j < ym; j++)
    for (PetscInt i = 0; i < nx; i++) {
      const PetscReal cx = PetscCosReal(2 * PETSC_PI * x[i] / Lx);
      const PetscReal sy = PetscSinReal(4 * PETSC_PI * y[ys + j] / Ly);
      v[j * nx + i]      = 2 + cx * cx * sy * sy;
    }
  PetscCall(VecRestoreArray(f, &v));
  PetscCall(GyreGridIntegrate(plane, f, &integral));
  exact = Lx * Ly * 2.25;
  CHECK_CLOSE("integral of 2 + cos^2 sin^2", integral, exact, 1e-13 * exact);

  /* dof 3: the scalar DM has one unknown per point, areas live there */
  PetscCall(GyreGridCreatePlane(PETSC_COMM_WORLD, nx, ny, Lx, Ly, 3, 2, rm, &plane3));
  PetscCall(GyreGridGetScalarDM(plane3, &dm1));
  {
    PetscInt dof1;
    PetscCall(DMDAGetInfo(dm1, NULL, NULL, NULL, NULL, NULL, NULL, NULL, &dof1, NULL, NULL, NULL,
                          NULL, NULL));
    PetscCheck(dof1 == 1, PETSC_COMM_SELF, PETSC_ERR_PLIB, "scalar DM has dof %d", (int) dof1);
  }
  PetscCall(VecDestroy(&area));
  PetscCall(GyreGridCreateCellAreas(plane3, &area));
  PetscCall(VecGetSize(area, &n3));
  PetscCheck(n3 == nx * ny, PETSC_COMM_SELF, PETSC_ERR_PLIB, "dof-3 plane area Vec has %d entries",
             (int) n3);
  PetscCall(GyreGridIntegrate(plane3, f, &integral));
  CHECK_CLOSE("integral on the dof-3 plane", integral, exact, 1e-13 * exact);

  /* rows that cannot be shared out: a clear error on every rank */
  PetscCall(ExpectRowError(2, 3, 1)); /* 2 rows, stencil 3: fails on any rank count */
  if (size > 1) PetscCall(ExpectRowError(4 * (size - 1), 1, 4)); /* last rank gets 0 rows */

  PetscCall(PetscPrintf(PETSC_COMM_WORLD,
                        "plane %dx%d (Lx=%g, Ly=%g) on %d ranks: row block %d, coordinate error "
                        "%.1e (DMDA %.1e), area sum %.17g (Lx Ly = %g), integral %.17g (exact "
                        "%.17g)\n",
                        (int) nx, (int) ny, (double) Lx, (double) Ly, size, (int) block0,
                        (double) err_x, (double) err_dm, (double) PetscRealPart(sum_area),
                        (double) (Lx * Ly), (double) integral, (double) exact));
  PetscCall(VecDestroy(&f));
  PetscCall(VecDestroy(&area));
  PetscCall(GyreGridDestroy(&plane3));
  PetscCall(GyreGridDestroy(&plane));
  PetscCall(PetscFinalize());
  return 0;
}
