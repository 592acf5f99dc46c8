/* grid.c — GyreGrid: the periodic ring and the doubly periodic plane on PETSc DMDA.
 *
 * Decisions recorded here:
 *  - A plane is decomposed in row slabs (process grid 1 x size). Rank p owns rows
 *    [p block0, min((p+1) block0, ny)), where block0 = ceil(ny/size) rounded up to a
 *    multiple of row_multiple. This is exactly FFTW-MPI's distribution for an explicit
 *    block0, so spectral transforms (spectral.c) use the DMDA's own rows. Every rank must
 *    own at least max(1, stencil width) rows; otherwise creation fails with a clear error
 *    (the trailing ranks of a coarse block distribution would be left empty).
 *  - Points sit at x_i = i Lx/nx, y_j = j Ly/ny (Li et al.), and the DMDA carries the same
 *    uniform coordinates. Each point stands for a cell of area Lx Ly/(nx ny).
 *  - A ring has no physical extent: its spacing is 1, so Lx = n, Ly = 1, x_i = i, each
 *    point's "area" is 1 and GyreGridIntegrate is the plain sum. */
#include "grid_impl.h"

/* Fails (on every rank alike) unless each rank gets at least max(1, sw) of the ny rows
 * handed out in blocks of block0; fills ly[size] with the row counts when ly is given. */
static PetscErrorCode CheckRowBlocks(PetscInt ny, PetscMPIInt size, PetscInt block0, PetscInt sw,
                                     PetscInt row_multiple, PetscInt *ly)
{
  const PetscInt need = PetscMax(1, sw);

  PetscFunctionBegin;
  PetscCheck(block0 >= 1, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE,
             "row block must be positive, got %" PetscInt_FMT, block0);
  for (PetscMPIInt p = 0; p < size; p++) {
    const PetscInt rows = PetscMax(0, PetscMin(block0, ny - (PetscInt) p * block0));
    if (rows < need) {
      if (row_multiple > 0)
        SETERRQ(PETSC_COMM_SELF, PETSC_ERR_ARG_INCOMP,
                "grid of %" PetscInt_FMT " rows cannot be shared among %d ranks in blocks of "
                "%" PetscInt_FMT " rows (row multiple %" PetscInt_FMT "): rank %d would own "
                "%" PetscInt_FMT " rows, it needs at least %" PetscInt_FMT
                " (stencil width %" PetscInt_FMT "); use fewer ranks or more rows",
                ny, size, block0, row_multiple, p, rows, need, sw);
      SETERRQ(PETSC_COMM_SELF, PETSC_ERR_ARG_INCOMP,
              "grid of %" PetscInt_FMT " rows cannot be shared among %d ranks in blocks of "
              "%" PetscInt_FMT " rows (explicit block): rank %d would own %" PetscInt_FMT
              " rows, it needs at least %" PetscInt_FMT " (stencil width %" PetscInt_FMT
              "); use fewer ranks or more rows",
              ny, size, block0, p, rows, need, sw);
    }
    if (ly) ly[p] = rows;
  }
  PetscFunctionReturn(0);
}

/* Allocates the coordinate arrays and the dof-1 layout once the DMDA exists. */
static PetscErrorCode FinishGrid(GyreGrid g)
{
  PetscFunctionBegin;
  g->comm = PetscObjectComm((PetscObject) g->dm);
  PetscCall(DMDAGetCorners(g->dm, &g->xs, &g->ys, NULL, &g->xm, &g->ym, NULL));
  if (g->type == GYRE_GRID_RING) {
    g->ys = 0;
    g->ym = 1;
  }
  PetscCall(PetscMalloc2(g->nx, &g->x, g->ny, &g->y));
  for (PetscInt i = 0; i < g->nx; i++)
    g->x[i] = (PetscReal) i * g->Lx / (PetscReal) g->nx;
  for (PetscInt j = 0; j < g->ny; j++)
    g->y[j] = (PetscReal) j * g->Ly / (PetscReal) g->ny;
  if (g->dof == 1) {
    PetscCall(PetscObjectReference((PetscObject) g->dm));
    g->dm1 = g->dm;
  } else {
    PetscCall(DMDACreateCompatibleDMDA(g->dm, 1, &g->dm1));
  }
  PetscFunctionReturn(0);
}

PetscErrorCode GyreGridCreateRing(MPI_Comm comm, PetscInt n, PetscInt dof, PetscInt sw,
                                  GyreGrid *grid)
{
  GyreGrid    g;
  PetscMPIInt size;

  PetscFunctionBegin;
  *grid = NULL;
  PetscCallMPI(MPI_Comm_size(comm, &size));
  PetscCheck(n >= 1 && dof >= 1 && sw >= 0, comm, PETSC_ERR_ARG_OUTOFRANGE,
             "ring needs n >= 1, dof >= 1 and stencil width >= 0; got n=%" PetscInt_FMT
             " dof=%" PetscInt_FMT " sw=%" PetscInt_FMT,
             n, dof, sw);
  PetscCheck(n / size >= PetscMax(1, sw), comm, PETSC_ERR_ARG_INCOMP,
             "ring of %" PetscInt_FMT " points cannot be shared among %d ranks with stencil width "
             "%" PetscInt_FMT ": each rank needs at least %" PetscInt_FMT " points",
             n, size, sw, PetscMax(1, sw));
  PetscCall(PetscNew(&g));
  g->type = GYRE_GRID_RING;
  g->nx   = n;
  g->ny   = 1;
  g->Lx   = (PetscReal) n;
  g->Ly   = 1.0;
  g->dof  = dof;
  g->sw   = sw;
  PetscCall(DMDACreate1d(comm, DM_BOUNDARY_PERIODIC, n, dof, sw, NULL, &g->dm));
  PetscCall(DMSetUp(g->dm));
  PetscCall(DMDASetUniformCoordinates(g->dm, 0.0, (PetscReal) n, 0.0, 0.0, 0.0, 0.0));
  PetscCall(FinishGrid(g));
  *grid = g;
  PetscFunctionReturn(0);
}

/* The plane on explicit row blocks; row_multiple is only quoted in error messages
 * (0: the block was given explicitly). */
static PetscErrorCode CreatePlane(MPI_Comm comm, PetscInt nx, PetscInt ny, PetscReal Lx,
                                  PetscReal Ly, PetscInt dof, PetscInt sw, PetscInt block0,
                                  PetscInt row_multiple, GyreGrid *grid)
{
  GyreGrid    g;
  PetscMPIInt size;
  PetscInt   *ly;

  PetscFunctionBegin;
  *grid = NULL;
  PetscCallMPI(MPI_Comm_size(comm, &size));
  PetscCheck(nx >= 1 && ny >= 1, comm, PETSC_ERR_ARG_OUTOFRANGE,
             "plane needs nx >= 1 and ny >= 1; got nx=%" PetscInt_FMT " ny=%" PetscInt_FMT, nx, ny);
  PetscCheck(Lx > 0 && Ly > 0, comm, PETSC_ERR_ARG_OUTOFRANGE,
             "plane needs positive extents; got Lx=%g Ly=%g", (double) Lx, (double) Ly);
  PetscCheck(dof >= 1 && sw >= 0, comm, PETSC_ERR_ARG_OUTOFRANGE,
             "plane needs dof >= 1 and stencil width >= 0; got dof=%" PetscInt_FMT
             " sw=%" PetscInt_FMT,
             dof, sw);
  PetscCheck(nx >= PetscMax(1, sw), comm, PETSC_ERR_ARG_INCOMP,
             "plane of %" PetscInt_FMT " columns is narrower than its stencil width %" PetscInt_FMT,
             nx, sw);
  PetscCall(PetscMalloc1(size, &ly));
  PetscCall(CheckRowBlocks(ny, size, block0, sw, row_multiple, ly));
  PetscCall(PetscNew(&g));
  g->type   = GYRE_GRID_PLANE;
  g->nx     = nx;
  g->ny     = ny;
  g->Lx     = Lx;
  g->Ly     = Ly;
  g->dof    = dof;
  g->sw     = sw;
  g->block0 = block0;
  PetscCall(DMDACreate2d(comm, DM_BOUNDARY_PERIODIC, DM_BOUNDARY_PERIODIC, DMDA_STENCIL_BOX, nx, ny,
                         1, size, dof, sw, NULL, ly, &g->dm));
  PetscCall(PetscFree(ly));
  PetscCall(DMSetUp(g->dm));
  PetscCall(DMDASetUniformCoordinates(g->dm, 0.0, Lx, 0.0, Ly, 0.0, 0.0));
  PetscCall(FinishGrid(g));
  {
    PetscMPIInt rank;
    PetscCallMPI(MPI_Comm_rank(comm, &rank));
    PetscCheck(g->xs == 0 && g->xm == nx && g->ys == (PetscInt) rank * block0, PETSC_COMM_SELF,
               PETSC_ERR_PLIB,
               "DMDA rows [%" PetscInt_FMT ", +%" PetscInt_FMT ") on rank %d differ "
               "from the row blocks of %" PetscInt_FMT,
               g->ys, g->ym, rank, block0);
  }
  *grid = g;
  PetscFunctionReturn(0);
}

PetscErrorCode GyreGridCreatePlane(MPI_Comm comm, PetscInt nx, PetscInt ny, PetscReal Lx,
                                   PetscReal Ly, PetscInt dof, PetscInt sw, PetscInt row_multiple,
                                   GyreGrid *grid)
{
  PetscMPIInt size;
  PetscInt    block0;

  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_size(comm, &size));
  PetscCheck(row_multiple >= 1, comm, PETSC_ERR_ARG_OUTOFRANGE,
             "row multiple must be >= 1, got %" PetscInt_FMT, row_multiple);
  PetscCheck(ny >= 1, comm, PETSC_ERR_ARG_OUTOFRANGE, "plane needs ny >= 1, got %" PetscInt_FMT,
             ny);
  block0 = (ny + size - 1) / size;
  block0 = ((block0 + row_multiple - 1) / row_multiple) * row_multiple;
  PetscCall(CreatePlane(comm, nx, ny, Lx, Ly, dof, sw, block0, row_multiple, grid));
  PetscFunctionReturn(0);
}

PetscErrorCode GyreGridCreatePlaneWithBlock(MPI_Comm comm, PetscInt nx, PetscInt ny, PetscReal Lx,
                                            PetscReal Ly, PetscInt dof, PetscInt sw,
                                            PetscInt block0, GyreGrid *grid)
{
  PetscFunctionBegin;
  PetscCall(CreatePlane(comm, nx, ny, Lx, Ly, dof, sw, block0, 0, grid));
  PetscFunctionReturn(0);
}

PetscErrorCode GyreGridDestroy(GyreGrid *grid)
{
  GyreGrid g;

  PetscFunctionBegin;
  if (!grid || !*grid) PetscFunctionReturn(0);
  g = *grid;
  if (g->scalar != g) PetscCall(GyreGridDestroy(&g->scalar));
  PetscCall(DMDestroy(&g->dm1));
  PetscCall(DMDestroy(&g->dm));
  PetscCall(PetscFree2(g->x, g->y));
  PetscCall(PetscFree(g));
  *grid = NULL;
  PetscFunctionReturn(0);
}

PetscErrorCode GyreGridGetScalarGrid_Private(GyreGrid grid, GyreGrid *scalar)
{
  PetscFunctionBegin;
  if (grid->dof == 1) {
    *scalar = grid;
    PetscFunctionReturn(0);
  }
  PetscCheck(grid->type == GYRE_GRID_PLANE, grid->comm, PETSC_ERR_SUP,
             "a dof-1 twin is only made for planes");
  if (!grid->scalar)
    PetscCall(CreatePlane(grid->comm, grid->nx, grid->ny, grid->Lx, grid->Ly, 1, grid->sw,
                          grid->block0, 0, &grid->scalar));
  *scalar = grid->scalar;
  PetscFunctionReturn(0);
}

PetscErrorCode GyreGridGetDM(GyreGrid grid, DM *dm)
{
  PetscFunctionBegin;
  *dm = grid->dm;
  PetscFunctionReturn(0);
}

PetscErrorCode GyreGridGetScalarDM(GyreGrid grid, DM *dm)
{
  PetscFunctionBegin;
  *dm = grid->dm1;
  PetscFunctionReturn(0);
}

PetscErrorCode GyreGridGetType(GyreGrid grid, GyreGridType *type)
{
  PetscFunctionBegin;
  *type = grid->type;
  PetscFunctionReturn(0);
}

PetscErrorCode GyreGridGetSizes(GyreGrid grid, PetscInt *nx, PetscInt *ny, PetscReal *Lx,
                                PetscReal *Ly)
{
  PetscFunctionBegin;
  if (nx) *nx = grid->nx;
  if (ny) *ny = grid->ny;
  if (Lx) *Lx = grid->Lx;
  if (Ly) *Ly = grid->Ly;
  PetscFunctionReturn(0);
}

PetscErrorCode GyreGridGetOwnership(GyreGrid grid, PetscInt *xs, PetscInt *ys, PetscInt *xm,
                                    PetscInt *ym)
{
  PetscFunctionBegin;
  if (xs) *xs = grid->xs;
  if (ys) *ys = grid->ys;
  if (xm) *xm = grid->xm;
  if (ym) *ym = grid->ym;
  PetscFunctionReturn(0);
}

PetscErrorCode GyreGridGetRowBlock(GyreGrid grid, PetscInt *block0)
{
  PetscFunctionBegin;
  PetscCheck(grid->type == GYRE_GRID_PLANE, PETSC_COMM_SELF, PETSC_ERR_ARG_WRONG,
             "row blocks belong to planes, not rings");
  *block0 = grid->block0;
  PetscFunctionReturn(0);
}

PetscErrorCode GyreGridGetCoordinates(GyreGrid grid, const PetscReal **x, const PetscReal **y)
{
  PetscFunctionBegin;
  if (x) *x = grid->x;
  if (y) *y = grid->y;
  PetscFunctionReturn(0);
}

/* The area (a ring: length) every point stands for; the grids are uniform. */
static PetscReal CellArea(GyreGrid grid)
{
  return grid->Lx * grid->Ly / ((PetscReal) grid->nx * (PetscReal) grid->ny);
}

PetscErrorCode GyreGridCreateCellAreas(GyreGrid grid, Vec *area)
{
  PetscFunctionBegin;
  PetscCall(DMCreateGlobalVector(grid->dm1, area));
  PetscCall(VecSet(*area, CellArea(grid)));
  PetscFunctionReturn(0);
}

PetscErrorCode GyreGridIntegrate(GyreGrid grid, Vec v, PetscReal *integral)
{
  PetscInt    n, nlocal;
  PetscScalar sum;

  PetscFunctionBegin;
  PetscCall(VecGetSize(v, &n));
  PetscCall(VecGetLocalSize(v, &nlocal));
  PetscCheck(n == grid->nx * grid->ny && nlocal == grid->xm * grid->ym, PETSC_COMM_SELF,
             PETSC_ERR_ARG_SIZ,
             "integrate expects a dof-1 Vec of the grid (%" PetscInt_FMT " points, %" PetscInt_FMT
             " here); got %" PetscInt_FMT " entries, %" PetscInt_FMT " here",
             grid->nx * grid->ny, grid->xm * grid->ym, n, nlocal);
  PetscCall(VecSum(v, &sum));
  *integral = PetscRealPart(sum) * CellArea(grid);
  PetscFunctionReturn(0);
}
