/* test_ring.c — the periodic ring: sizes, ownership, and the ghost exchange across the wrap. */
#include "grid_check.h"

int main(int argc, char **argv)
{
  const PetscInt n = 24, dof = 2, sw = 2;
  GyreGrid       ring;
  GyreGridType   type;
  DM             dm;
  Vec            g, l, area;
  PetscInt       nx, ny, xs, ys, xm, ym, total, gxs, gxm;
  PetscReal      Lx, Ly, integral;
  PetscScalar  **a;
  PetscMPIInt    size;

  PetscCall(PetscInitialize(&argc, &argv, NULL, NULL));
  PetscCallMPI(MPI_Comm_size(PETSC_COMM_WORLD, &size));
  PetscCall(GyreGridCreateRing(PETSC_COMM_WORLD, n, dof, sw, &ring));
  PetscCall(GyreGridGetType(ring, &type));
  PetscCheck(type == GYRE_GRID_RING, PETSC_COMM_SELF, PETSC_ERR_PLIB, "type is not ring");
  PetscCall(GyreGridGetSizes(ring, &nx, &ny, &Lx, &Ly));
  PetscCheck(nx == n && ny == 1, PETSC_COMM_SELF, PETSC_ERR_PLIB, "sizes %d x %d", (int) nx,
             (int) ny);
  CHECK_CLOSE("ring Lx", Lx, n, 0);
  CHECK_CLOSE("ring Ly", Ly, 1, 0);

  /* ownership: contiguous blocks summing to n */
  PetscCall(GyreGridGetOwnership(ring, &xs, &ys, &xm, &ym));
  PetscCheck(ys == 0 && ym == 1 && xm >= sw, PETSC_COMM_SELF, PETSC_ERR_PLIB,
             "ring ownership ys=%d ym=%d xm=%d", (int) ys, (int) ym, (int) xm);
  PetscCall(MPIU_Allreduce(&xm, &total, 1, MPIU_INT, MPI_SUM, PETSC_COMM_WORLD));
  PetscCheck(total == n, PETSC_COMM_SELF, PETSC_ERR_PLIB, "owned points sum to %d, not %d",
             (int) total, (int) n);

  /* ghost exchange: value(i, c) = 100 i + c, checked on every ghost, wrapped mod n */
  PetscCall(GyreGridGetDM(ring, &dm));
  PetscCall(DMCreateGlobalVector(dm, &g));
  PetscCall(DMCreateLocalVector(dm, &l));
  PetscCall(DMDAVecGetArrayDOF(dm, g, &a));
  for (PetscInt i = xs; i < xs + xm; i++)
    for (PetscInt c = 0; c < dof; c++)
      a[i][c] = 100.0 * i + c;
  PetscCall(DMDAVecRestoreArrayDOF(dm, g, &a));
  PetscCall(DMGlobalToLocal(dm, g, INSERT_VALUES, l));
  PetscCall(DMDAGetGhostCorners(dm, &gxs, NULL, NULL, &gxm, NULL, NULL));
  PetscCheck(gxm == xm + 2 * sw && gxs == xs - sw, PETSC_COMM_SELF, PETSC_ERR_PLIB,
             "ghost block [%d, +%d) for owned [%d, +%d)", (int) gxs, (int) gxm, (int) xs, (int) xm);
  PetscCall(DMDAVecGetArrayDOFRead(dm, l, &a));
  for (PetscInt i = gxs; i < gxs + gxm; i++)
    for (PetscInt c = 0; c < dof; c++)
      CHECK_CLOSE("ghost value", PetscRealPart(a[i][c]), 100.0 * ((i + n) % n) + c, 0);
  PetscCall(DMDAVecRestoreArrayDOFRead(dm, l, &a));

  /* cell lengths are 1: integrate of i over the ring is n(n-1)/2 */
  PetscCall(GyreGridCreateCellAreas(ring, &area));
  PetscCall(GyreGridIntegrate(ring, area, &integral));
  CHECK_CLOSE("ring length", integral, n, 1e-13);
  {
    PetscScalar *v;
    PetscCall(VecGetArray(area, &v));
    for (PetscInt i = 0; i < xm; i++)
      v[i] = xs + i;
    PetscCall(VecRestoreArray(area, &v));
  }
  PetscCall(GyreGridIntegrate(ring, area, &integral));
  CHECK_CLOSE("ring sum of i", integral, n * (n - 1) / 2, 1e-12);

  /* too many ranks for the stencil: a clear error on every rank */
  {
    GyreGrid       bad = NULL;
    PetscErrorCode ierr;
    PetscCall(PetscPushErrorHandler(PetscReturnErrorHandler, NULL));
    ierr = GyreGridCreateRing(PETSC_COMM_WORLD, 3 * size - 1, 1, 3, &bad);
    PetscCall(PetscPopErrorHandler());
    PetscCheck(ierr == PETSC_ERR_ARG_INCOMP && !bad, PETSC_COMM_SELF, PETSC_ERR_PLIB,
               "a ring of %d points for %d ranks with stencil 3 gave error %d", 3 * size - 1, size,
               (int) ierr);
  }
  PetscCall(PetscPrintf(PETSC_COMM_WORLD,
                        "ring: n=%d dof=%d sw=%d on %d ranks: ownership sums to %d, %d ghosts "
                        "per rank exact across the wrap, length %g\n",
                        (int) n, (int) dof, (int) sw, size, (int) total, (int) (gxm - xm),
                        (double) n));
  PetscCall(VecDestroy(&area));
  PetscCall(VecDestroy(&l));
  PetscCall(VecDestroy(&g));
  PetscCall(GyreGridDestroy(&ring));
  PetscCall(PetscFinalize());
  return 0;
}
