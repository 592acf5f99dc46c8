/* model_l96.c — the two-scale Lorenz-96 system (Lorenz 1996; the setup of Gagne et al. 2020).
 *
 *   dX_k/dt     = -X_{k-1} (X_{k-2} - X_{k+1}) - X_k + F - (h c / b) sum_j Y_{j,k}
 *   dY_{j,k}/dt = -c b Y_{j+1,k} (Y_{j+2,k} - Y_{j-1,k}) - c Y_{j,k} + (h c / b) X_k
 *
 * k = 1..K sectors on a periodic ring, j = 1..J fast variables per sector. The fast variables
 * form ONE ring of K*J values, as in Lorenz (1996): Y_{J+1,k} = Y_{1,k+1}, Y_{J+2,k} =
 * Y_{2,k+1}, Y_{0,k} = Y_{J,k-1}. Defaults K = 8, J = 32, F = 20, h = 1, b = 10, c = 10.
 *
 * Options: -l96_K -l96_J -l96_F -l96_h -l96_b -l96_c; -l96_damping 0|1 (0 drops the linear
 * damping terms -X_k and -c Y_{j,k}: with F = 0 the energy sum X^2/2 + sum Y^2/2 is then an
 * exact invariant); -l96_mode two_scale|one_scale.
 *  - two_scale: the full system, state (X, Y). Default dt 0.001.
 *  - one_scale: X only, without the coupling term; the closure (if any) is added in its place,
 *    by the right-hand side from its arrays where the closure can (GyreModelClosureOwned), else
 *    by the driver after it. Default dt 0.005.
 * Both default to classic RK4 (TSRK4) and to output every 0.005 model time units, so the two
 * modes' outputs share their times.
 *
 * Layout: one periodic DMDA over the K sectors, decomposed over sectors, with dof = 1 + J
 * (component 0 "X", components 1..J "Y_1".."Y_J") in two_scale and dof = 1 in one_scale, and
 * stencil width 2 (X_{k-2}; the fast ring needs one neighbouring sector). Each rank therefore
 * owns at least 2 sectors (K >= 2 * ranks). Every value of the right-hand side is computed by the
 * same arithmetic whatever the decomposition, so runs are bitwise identical on any rank count.
 *
 * Output: dimensions k (K, values 1..K) and j (J, values 1..J); variables X(k), Y(k, j)
 * (two_scale only) and coupling(k), all double precision, units "1" (non-dimensional), time
 * non-dimensional. coupling is the term the fast variables exert on the slow ones,
 * -(h c / b) sum_j Y_{j,k}, computed exactly from Y in two_scale; in one_scale it is the
 * closure's term for X (what replaces the coupling) and 0 without a closure, so the two modes
 * can be compared variable by variable.
 *
 * Initial state (member m, s = seed + m): X_k = 10 (u(s, k, 0) - 1/2) and
 * Y_{j,k} = u(s, k, j) - 1/2 (k = 0..K-1, j = 1..J), where u in [0, 1) is a counter-based
 * hash (splitmix64) of (s, k, j): every rank computes its own sectors, independent of the
 * number of ranks.
 *
 * readstate (-initial_file): X, and Y in two_scale, from a record of a gyre file, with or
 * without a member dimension; a one_scale run can start from the X of a two_scale file. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include "gyre_model.h"

typedef enum { L96_TWO_SCALE = 0, L96_ONE_SCALE = 1 } L96Mode;
static const char *const L96ModeNames[] = {"two_scale", "one_scale"};

typedef struct {
  L96Mode   mode;
  PetscInt  K, J;
  PetscReal F, h, b, c;
  PetscBool damping;
  PetscInt  dof;           /* 1 + J (two_scale) or 1 (one_scale) */
  double   *kvals, *jvals; /* coordinate values of the output dimensions */
  Vec       work;          /* scratch for the closure's term (one_scale coupling output) */
} L96;

/* Output field indices. */
enum { L96_FIELD_X = 0, L96_FIELD_Y = 1 };

static uint64_t L96Mix(uint64_t z)
{
  z += 0x9E3779B97F4A7C15ULL;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

/* A uniform number in [0, 1) keyed on (seed, k, j): the same on every rank. */
static double L96Uniform(PetscInt64 seed, PetscInt k, PetscInt j)
{
  uint64_t z = L96Mix(L96Mix(L96Mix((uint64_t) seed) ^ (uint64_t) k) ^ (uint64_t) j);
  return (double) (z >> 11) * 0x1.0p-53;
}

static PetscErrorCode L96SetFromOptions(GyreModel m)
{
  L96      *l = (L96 *) m->data;
  char      mode[32];
  PetscBool set;

  PetscFunctionBegin;
  PetscCall(PetscStrncpy(mode, L96ModeNames[l->mode], sizeof mode));
  PetscOptionsBegin(m->comm, NULL, "Lorenz-96 model (-model l96)", "l96");
  PetscCall(PetscOptionsString("-l96_mode", "two_scale (X and Y) or one_scale (X + closure)", NULL,
                               mode, mode, sizeof mode, &set));
  PetscCall(
      PetscOptionsInt("-l96_K", "number of slow variables (sectors)", NULL, l->K, &l->K, NULL));
  PetscCall(PetscOptionsInt("-l96_J", "fast variables per sector", NULL, l->J, &l->J, NULL));
  PetscCall(PetscOptionsReal("-l96_F", "forcing", NULL, l->F, &l->F, NULL));
  PetscCall(PetscOptionsReal("-l96_h", "coupling constant", NULL, l->h, &l->h, NULL));
  PetscCall(PetscOptionsReal("-l96_b", "spatial scale ratio", NULL, l->b, &l->b, NULL));
  PetscCall(PetscOptionsReal("-l96_c", "time scale ratio", NULL, l->c, &l->c, NULL));
  PetscCall(PetscOptionsBool("-l96_damping", "keep the linear damping terms (0: drop them)", NULL,
                             l->damping, &l->damping, NULL));
  PetscOptionsEnd();

  if (!strcmp(mode, "two_scale"))
    l->mode = L96_TWO_SCALE;
  else if (!strcmp(mode, "one_scale"))
    l->mode = L96_ONE_SCALE;
  else
    SETERRQ(m->comm, PETSC_ERR_ARG_UNKNOWN_TYPE,
            "unknown -l96_mode '%s': choose two_scale or one_scale", mode);
  PetscCheck(l->K >= 4, m->comm, PETSC_ERR_ARG_OUTOFRANGE,
             "-l96_K %" PetscInt_FMT " is too small: Lorenz-96 needs at least 4 sectors", l->K);
  PetscCheck(l->J >= 1, m->comm, PETSC_ERR_ARG_OUTOFRANGE,
             "-l96_J %" PetscInt_FMT " must be at least 1", l->J);
  PetscCheck(l->b != 0, m->comm, PETSC_ERR_ARG_OUTOFRANGE, "-l96_b must not be 0");
  l->dof = l->mode == L96_TWO_SCALE ? 1 + l->J : 1;
  PetscCheck((double) l->K * (double) l->dof <= (double) PETSC_MAX_INT / 2, m->comm,
             PETSC_ERR_ARG_OUTOFRANGE,
             "-l96_K %" PetscInt_FMT " and -l96_J %" PetscInt_FMT
             ": %.3g unknowns, more than this PETSc's %d-bit indices hold",
             l->K, l->J, (double) l->K * (double) l->dof, (int) (8 * sizeof(PetscInt)));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode L96SetUp(GyreModel m)
{
  L96        *l = (L96 *) m->data;
  PetscMPIInt size;
  PetscInt    xs, xm, nf = 0;

  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_size(m->comm, &size));
  PetscCheck(l->K >= 2 * (PetscInt) size, m->comm, PETSC_ERR_ARG_OUTOFRANGE,
             "l96 needs at least 2 sectors per rank (stencil width 2): -l96_K %" PetscInt_FMT
             " on %d ranks; use at most %" PetscInt_FMT " ranks",
             l->K, (int) size, l->K / 2);
  PetscCheck(m->output_stride == 1, m->comm, PETSC_ERR_ARG_OUTOFRANGE,
             "-output_stride %" PetscInt_FMT " does not apply to l96 (every sector is stored)",
             m->output_stride);

  PetscCall(DMDACreate1d(m->comm, DM_BOUNDARY_PERIODIC, l->K, l->dof, 2, NULL, &m->dm));
  PetscCall(DMSetUp(m->dm));
  PetscCall(DMDASetFieldName(m->dm, 0, "X"));
  for (PetscInt j = 1; j <= l->J && l->mode == L96_TWO_SCALE; j++) {
    char name[32];
    PetscCall(PetscSNPrintf(name, sizeof name, "Y_%" PetscInt_FMT, j));
    PetscCall(DMDASetFieldName(m->dm, j, name));
  }
  PetscCall(DMDAGetCorners(m->dm, &xs, NULL, NULL, &xm, NULL, NULL));

  PetscCall(PetscMalloc2(l->K, &l->kvals, l->J, &l->jvals));
  for (PetscInt k = 0; k < l->K; k++)
    l->kvals[k] = (double) (k + 1);
  for (PetscInt j = 0; j < l->J; j++)
    l->jvals[j] = (double) (j + 1);

  m->timekind = GYRE_TIME_NONDIM;
  m->ndims    = 2;
  m->dims[0]  = (GyreDimSpec){.name      = "k",
                              .len       = (size_t) l->K,
                              .values    = l->kvals,
                              .units     = "1",
                              .long_name = "sector index"};
  m->dims[1]  = (GyreDimSpec){.name      = "j",
                              .len       = (size_t) l->J,
                              .values    = l->jvals,
                              .units     = "1",
                              .long_name = "fast variable index within a sector"};
  if (l->mode == L96_ONE_SCALE) m->ndims = 1; /* no Y: no j dimension */

  m->fields[nf] = (GyreOutputField){
      .spec     = {.name      = "X",
                   .ndims     = 1,
                   .dims      = {"k"},
                   .long_name = "slow variables",
                   .units     = "1",
                   .precision = GYRE_DOUBLE,
                   .has_time  = 1},
      .start    = {(size_t) xs},
      .count    = {(size_t) xm},
      .in_state = 1,
  };
  nf++;
  if (l->mode == L96_TWO_SCALE) {
    m->fields[nf] = (GyreOutputField){
        .spec     = {.name      = "Y",
                     .ndims     = 2,
                     .dims      = {"k", "j"},
                     .long_name = "fast variables",
                     .units     = "1",
                     .comment   = "one ring of K*J values: Y(k, J+1) = Y(k+1, 1)",
                     .precision = GYRE_DOUBLE,
                     .has_time  = 1},
        .start    = {(size_t) xs, 0},
        .count    = {(size_t) xm, (size_t) l->J},
        .in_state = 1,
    };
    nf++;
  }
  m->fields[nf] = (GyreOutputField){
      .spec     = {.name      = "coupling",
                   .ndims     = 1,
                   .dims      = {"k"},
                   .long_name = "coupling term of the fast on the slow variables",
                   .units     = "1",
                   .comment   = l->mode == L96_TWO_SCALE
                                    ? "-(h c / b) sum_j Y(k, j), exact"
                                    : "the closure's term for X (0 without a closure)",
                   .precision = GYRE_DOUBLE,
                   .has_time  = 1},
      .start    = {(size_t) xs},
      .count    = {(size_t) xm},
      .in_state = 0,
  };
  nf++;
  m->nfields = nf;

  m->ninvariants          = 1;
  m->invariant_names[0]   = "energy";
  m->default_output_every = 0.005;
  m->bound                = 1e6;
  if (l->mode == L96_TWO_SCALE) /* a closure would add a second coupling term to X */
    m->no_closure = "-l96_mode two_scale computes the coupling from Y exactly; a closure "
                    "replaces it in -l96_mode one_scale";
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode L96SetTSDefaults(GyreModel m, TS ts)
{
  L96 *l = (L96 *) m->data;

  PetscFunctionBegin;
  PetscCall(TSSetType(ts, TSRK));
  PetscCall(TSRKSetType(ts, TSRK4));
  PetscCall(TSSetTimeStep(ts, l->mode == L96_TWO_SCALE ? 0.001 : 0.005));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode L96InitialState(GyreModel m, PetscInt member, Vec U)
{
  L96          *l    = (L96 *) m->data;
  PetscInt64    seed = (PetscInt64) m->seed + member;
  PetscScalar **u;
  PetscInt      xs, xm;

  PetscFunctionBegin;
  PetscCall(DMDAGetCorners(m->dm, &xs, NULL, NULL, &xm, NULL, NULL));
  PetscCall(DMDAVecGetArrayDOF(m->dm, U, &u));
  for (PetscInt k = xs; k < xs + xm; k++) {
    u[k][0] = 10.0 * (L96Uniform(seed, k, 0) - 0.5);
    for (PetscInt j = 1; j < l->dof; j++)
      u[k][j] = L96Uniform(seed, k, j) - 0.5;
  }
  PetscCall(DMDAVecRestoreArrayDOF(m->dm, U, &u));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Y_{j,k} on the fast ring for any j (1-based), moving to neighbouring sectors as needed. */
static inline PetscScalar L96Y(PetscScalar **u, PetscInt J, PetscInt k, PetscInt j)
{
  while (j > J)
    j -= J, k++;
  while (j < 1)
    j += J, k--;
  return u[k][j];
}

static PetscErrorCode L96RHSExplicit(GyreModel m, PetscReal t, Vec U, Vec F)
{
  L96            *l   = (L96 *) m->data;
  const PetscInt  J   = l->J;
  const PetscReal hcb = l->h * l->c / l->b, cb = l->c * l->b, c = l->c;
  Vec             Uloc;
  PetscScalar   **u, **f;
  PetscInt        xs, xm;

  PetscFunctionBegin;
  PetscCall(DMDAGetCorners(m->dm, &xs, NULL, NULL, &xm, NULL, NULL));
  PetscCall(DMGetLocalVector(m->dm, &Uloc));
  PetscCall(DMGlobalToLocalBegin(m->dm, U, INSERT_VALUES, Uloc));
  PetscCall(DMGlobalToLocalEnd(m->dm, U, INSERT_VALUES, Uloc));
  PetscCall(DMDAVecGetArrayDOFRead(m->dm, Uloc, &u));
  PetscCall(DMDAVecGetArrayDOF(m->dm, F, &f));
  for (PetscInt k = xs; k < xs + xm; k++) {
    PetscScalar dx = -u[k - 1][0] * (u[k - 2][0] - u[k + 1][0]) + l->F;
    if (l->damping) dx -= u[k][0];
    if (l->mode == L96_TWO_SCALE) {
      PetscScalar sumy = 0;
      for (PetscInt j = 1; j <= J; j++) {
        PetscScalar dy =
            -cb * L96Y(u, J, k, j + 1) * (L96Y(u, J, k, j + 2) - L96Y(u, J, k, j - 1)) +
            hcb * u[k][0];
        if (l->damping) dy -= c * u[k][j];
        f[k][j] = dy;
        sumy += u[k][j];
      }
      dx -= hcb * sumy;
    }
    f[k][0] = dx;
  }
  /* the closure from the arrays held here (the owned points of U, as Uloc has them, and F's) */
  PetscCall(GyreModelClosureOwned(m, t, &u[xs][0], &f[xs][0]));
  PetscCall(DMDAVecRestoreArrayDOF(m->dm, F, &f));
  PetscCall(DMDAVecRestoreArrayDOFRead(m->dm, Uloc, &u));
  PetscCall(DMRestoreLocalVector(m->dm, &Uloc));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode L96Invariants(GyreModel m, Vec U, PetscReal *inv)
{
  PetscScalar e;

  PetscFunctionBegin;
  PetscCall(VecDot(U, U, &e));
  inv[0] = 0.5 * PetscRealPart(e);
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode L96OutputField(GyreModel m, PetscInt i, Vec U, PetscReal t, double *data)
{
  L96          *l = (L96 *) m->data;
  const char   *name;
  PetscScalar **u;
  PetscInt      xs, xm;

  PetscFunctionBegin;
  PetscCheck(i >= 0 && i < m->nfields, m->comm, PETSC_ERR_ARG_OUTOFRANGE,
             "l96 has %" PetscInt_FMT " output fields, asked for field %" PetscInt_FMT, m->nfields,
             i);
  name = m->fields[i].spec.name;
  PetscCall(DMDAGetCorners(m->dm, &xs, NULL, NULL, &xm, NULL, NULL));
  if (!strcmp(name, "coupling") && l->mode == L96_ONE_SCALE) {
    /* the closure's term for X, evaluated on zero (collective: every rank calls apply) */
    if (m->closure) {
      if (!l->work) PetscCall(VecDuplicate(U, &l->work));
      PetscCall(VecZeroEntries(l->work));
      PetscCall((*m->closure->apply)(m->closure, m, t, U, l->work));
      PetscCall(DMDAVecGetArrayDOF(m->dm, l->work, &u));
      for (PetscInt k = xs; k < xs + xm; k++)
        data[k - xs] = (double) u[k][0];
      PetscCall(DMDAVecRestoreArrayDOF(m->dm, l->work, &u));
    } else {
      for (PetscInt k = 0; k < xm; k++)
        data[k] = 0.0;
    }
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  PetscCall(DMDAVecGetArrayDOFRead(m->dm, U, &u));
  if (!strcmp(name, "X")) {
    for (PetscInt k = xs; k < xs + xm; k++)
      data[k - xs] = (double) u[k][0];
  } else if (!strcmp(name, "Y")) {
    for (PetscInt k = xs; k < xs + xm; k++)
      for (PetscInt j = 1; j <= l->J; j++)
        data[(k - xs) * l->J + j - 1] = (double) u[k][j];
  } else { /* coupling, two_scale: exact */
    const PetscReal hcb = l->h * l->c / l->b;
    for (PetscInt k = xs; k < xs + xm; k++) {
      PetscScalar sumy = 0;
      for (PetscInt j = 1; j <= l->J; j++)
        sumy += u[k][j];
      data[k - xs] = (double) (-hcb * sumy);
    }
  }
  PetscCall(DMDAVecRestoreArrayDOFRead(m->dm, U, &u));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Checks that variable var of the file has the shape (time, [member,] k[, j]) this run expects
 * (nlast = 1: k; 2: k, j) and reads this rank's block of record rec into data. A file with a
 * member dimension gives member `member` (0 when member < 0); a file without one gives its
 * only state to every member (forecasts of an ensemble from one truth state). */
static PetscErrorCode L96ReadVar(GyreModel m, GyreFile file, const char *var, size_t rec,
                                 PetscInt member, int nlast, double *data)
{
  L96     *l = (L96 *) m->data;
  int      ndims, has_time, off;
  char     dimnames[GYRE_IO_MAX_DIMS][64];
  size_t   dimlens[GYRE_IO_MAX_DIMS], start[GYRE_IO_MAX_DIMS] = {0}, count[GYRE_IO_MAX_DIMS] = {0};
  PetscInt xs, xm;

  PetscFunctionBegin;
  PetscCallGyre(m->comm, GyreFileInqVar(file, var, &ndims, dimnames, dimlens, &has_time));
  off = ndims - nlast;
  PetscCheck(has_time && (off == 0 || off == 1), m->comm, PETSC_ERR_FILE_UNEXPECTED,
             "%s: variable %s is not (time, [member,] k%s) as l96 stores it", GyreFilePath(file),
             var, nlast == 2 ? ", j" : "");
  PetscCheck(dimlens[off] == (size_t) l->K, m->comm, PETSC_ERR_FILE_UNEXPECTED,
             "%s: variable %s has %zu sectors, this run has -l96_K %" PetscInt_FMT,
             GyreFilePath(file), var, dimlens[off], l->K);
  PetscCheck(
      nlast == 1 || dimlens[off + 1] == (size_t) l->J, m->comm, PETSC_ERR_FILE_UNEXPECTED,
      "%s: variable %s has %zu fast variables per sector, this run has -l96_J %" PetscInt_FMT,
      GyreFilePath(file), var, dimlens[off + 1], l->J);
  if (off) {
    if (member < 0) member = 0;
    PetscCheck((size_t) member < dimlens[0], m->comm, PETSC_ERR_FILE_UNEXPECTED,
               "%s: variable %s has %zu members, this run -ensemble_size %" PetscInt_FMT
               " (member m starts from the file's member m): give -ensemble_size %zu at most",
               GyreFilePath(file), var, dimlens[0], m->ensemble_size, dimlens[0]);
    start[0] = (size_t) member;
    count[0] = 1;
  }
  PetscCall(DMDAGetCorners(m->dm, &xs, NULL, NULL, &xm, NULL, NULL));
  start[off] = (size_t) xs;
  count[off] = (size_t) xm;
  if (nlast == 2) {
    start[off + 1] = 0;
    count[off + 1] = (size_t) l->J;
  }
  PetscCallGyre(m->comm, GyreFileReadBlock(file, var, rec, start, count, data));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode L96ReadState(GyreModel m, GyreFile file, size_t rec, PetscInt member, Vec U)
{
  L96           *l = (L96 *) m->data;
  PetscScalar  **u;
  PetscInt       xs, xm;
  double        *bx, *by;
  PetscErrorCode ierr;

  PetscFunctionBegin;
  PetscCall(DMDAGetCorners(m->dm, &xs, NULL, NULL, &xm, NULL, NULL));
  PetscCall(PetscMalloc2(xm + 1, &bx, xm * l->J + 1, &by));
  ierr = L96ReadVar(m, file, "X", rec, member, 1, bx);
  if (!ierr && l->mode == L96_TWO_SCALE) ierr = L96ReadVar(m, file, "Y", rec, member, 2, by);
  if (ierr) { /* a bad file: free the buffers, then pass the error on */
    PetscCall(PetscFree2(bx, by));
    PetscCall(ierr);
  }
  PetscCall(DMDAVecGetArrayDOF(m->dm, U, &u));
  for (PetscInt k = xs; k < xs + xm; k++) {
    u[k][0] = bx[k - xs];
    for (PetscInt j = 1; j < l->dof; j++)
      u[k][j] = by[(k - xs) * l->J + j - 1];
  }
  PetscCall(DMDAVecRestoreArrayDOF(m->dm, U, &u));
  PetscCall(PetscFree2(bx, by));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode L96Describe(GyreModel m, char *buf, size_t len)
{
  L96 *l = (L96 *) m->data;

  PetscFunctionBegin;
  snprintf(buf, len,
           "mode=%s K=%" PetscInt_FMT " J=%" PetscInt_FMT
           " F=%.16g h=%.16g b=%.16g c=%.16g damping=%d",
           L96ModeNames[l->mode], l->K, l->J, (double) l->F, (double) l->h, (double) l->b,
           (double) l->c, (int) l->damping);
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode L96Destroy(GyreModel m)
{
  L96 *l = (L96 *) m->data;

  PetscFunctionBegin;
  if (!l) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(PetscFree2(l->kvals, l->jvals));
  PetscCall(VecDestroy(&l->work));
  PetscCall(PetscFree(m->data));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Fills the ops table and the defaults of the Lorenz-96 model (see the top of this file).
 * Not collective. */
PetscErrorCode GyreModelCreate_L96(GyreModel m)
{
  L96 *l;

  PetscFunctionBegin;
  PetscCall(PetscNew(&l));
  l->mode    = L96_TWO_SCALE;
  l->K       = 8;
  l->J       = 32;
  l->F       = 20;
  l->h       = 1;
  l->b       = 10;
  l->c       = 10;
  l->damping = PETSC_TRUE;
  l->dof     = 1 + l->J;
  m->data    = l;

  m->ops.setfromoptions = L96SetFromOptions;
  m->ops.setup          = L96SetUp;
  m->ops.settsdefaults  = L96SetTSDefaults;
  m->ops.initialstate   = L96InitialState;
  m->ops.rhsexplicit    = L96RHSExplicit;
  m->ops.invariants     = L96Invariants;
  m->ops.outputfield    = L96OutputField;
  m->ops.readstate      = L96ReadState;
  m->ops.describe       = L96Describe;
  m->ops.destroy        = L96Destroy;
  PetscFunctionReturn(PETSC_SUCCESS);
}
