/* checkpoint.c — checkpoints: the state vector and the run's clock in a NetCDF file written
 * atomically (temporary file, fsync, rename), so a crash mid-write leaves the previous good
 * checkpoint in place. Each rank writes its own block of the state; nothing is gathered.
 *
 * Contents: variable `state` over (member, y, x, component) for a 2-D grid or (member, x,
 * component) for a ring, in the DMDA's natural ordering — every ensemble member, since the
 * members advance in lock-step; global attributes gyre_checkpoint_* with the model name, its
 * parameters (describe()), the integrator, the use of a surrogate (none, closure, emulator),
 * dt, seed, ensemble size, step and time. A restart refuses a checkpoint whose model,
 * parameters, integrator, use of a surrogate, grid, dt, seed or ensemble size differ from the
 * run's, naming both values (a checkpoint written before the integrator or the surrogate was
 * recorded is taken with any); a restart without -ts_dt takes the checkpoint's dt
 * (GyreRunCheckpointStep). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "gyre_run.h"
#include "gyre_surrogate.h"

PetscErrorCode GyreCheckpointLock(MPI_Comm comm, const char *path, const char *who, const char *opt,
                                  int *lockfd)
{
  PetscMPIInt rank;
  int         st[2] = {0, 0}; /* 0 held (or no locking here), 1 held by another, 2 a signal */
  double      limit = 60;
  char        lock[PATH_MAX + 8], holder[160] = "", lim[32];

  PetscFunctionBegin;
  *lockfd = -1;
  if (!path[0]) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  const char *env = getenv("GYRE_CHECKPOINT_LOCK_WAIT");
  if (env && *env) {
    char *end;
    limit = strtod(env, &end);
    PetscCheck(*end == '\0' && limit >= 0 && limit <= 86400, comm, PETSC_ERR_ARG_OUTOFRANGE,
               "GYRE_CHECKPOINT_LOCK_WAIT=%s: expected seconds from 0 to 86400", env);
  }
  snprintf(lock, sizeof lock, "%s.lock", path);
  snprintf(lim, sizeof lim, "%g", limit); /* (C's %g: PETSc's printf writes 60 as "60.") */
  if (rank == 0) {
    int fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0 && errno == EACCES) fd = open(lock, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    for (double waited = 0, reopened = 0; fd >= 0;) {
      struct stat held, now;
      const int   got = flock(fd, LOCK_EX | LOCK_NB) == 0, why = errno;
      if ((got && (fstat(fd, &held) != 0 || stat(lock, &now) != 0 || held.st_ino != now.st_ino ||
                   held.st_dev != now.st_dev)) ||
          (!got && why == ESTALE)) {
        /* a file its holder removed as it ended (GyreCheckpointUnlock; over NFS the old file's
         * handle is stale): lock the one at the path now (made afresh where there is none), as
         * a run starting then would. Bounded: where the file system never shows the locked file
         * at its path, nothing is locked, as without flock */
        close(fd);
        fd = -1;
        if (++reopened > 100) break;
        nanosleep(&(struct timespec){.tv_sec = 0, .tv_nsec = 10000000}, NULL);
        fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (fd < 0 && errno == EACCES) fd = open(lock, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        continue;
      }
      if (got) {
        /* ours: the pid and host in it, for a waiter */
        char me[128], host[64] = "?";
        gethostname(host, sizeof host - 1);
        const int n = snprintf(me, sizeof me, "%ld on %s\n", (long) getpid(), host);
        if (pwrite(fd, me, (size_t) n, 0) == n && ftruncate(fd, n) != 0) { /* (best effort) */
        }
        *lockfd = fd;
        break;
      }
      if (why != EWOULDBLOCK && why != EINTR) { /* no flock on this file system */
        close(fd);
        break;
      }
      if (GyreSignalsReceived()) { /* stopped while waiting: nothing of this run to save */
        st[0] = 2, st[1] = GyreSignalsReceived();
        close(fd);
        break;
      }
      if (waited >= limit) { /* the holder, as it wrote itself */
        ssize_t n                     = pread(fd, holder, sizeof holder - 1, 0);
        holder[n > 0 ? n : 0]         = '\0';
        holder[strcspn(holder, "\n")] = '\0';
        st[0]                         = 1;
        close(fd);
        break;
      }
      if (waited == 0)
        PetscCall(PetscPrintf(PETSC_COMM_SELF,
                              "[%s] checkpoint '%s' is in use by another run (%s held): "
                              "waiting up to %s s for it to end\n",
                              who, path, lock, lim));
      nanosleep(&(struct timespec){.tv_sec = 0, .tv_nsec = 200000000}, NULL);
      waited += 0.2;
    }
  }
  { /* the other ranks wait without spinning (a busy broadcast would take a core from the run
     * being waited for) */
    MPI_Request req;
    int         done = 0;
    PetscCallMPI(MPI_Ibcast(st, 2, MPI_INT, 0, comm, &req));
    while (!done) {
      PetscCallMPI(MPI_Test(&req, &done, MPI_STATUS_IGNORE));
      if (!done) nanosleep(&(struct timespec){.tv_sec = 0, .tv_nsec = 10000000}, NULL);
    }
    PetscCallMPI(MPI_Bcast(holder, sizeof holder, MPI_CHAR, 0, comm));
  }
  PetscCheck(st[0] != 2, comm, PETSC_ERR_USER,
             "%s %s: signal %d while waiting for %s (another run held it): stopped before "
             "starting",
             opt, path, st[1], lock);
  PetscCheck(!st[0], comm, PETSC_ERR_FILE_OPEN,
             "%s %s: another run (pid %s) still holds %s after %s s: two runs must not write one "
             "checkpoint (wait for it to end, or give this run another %s)",
             opt, path, holder[0] ? holder : "unknown", lock, lim, opt);
  PetscFunctionReturn(PETSC_SUCCESS);
}

void GyreCheckpointUnlock(const char *path, int lockfd)
{
  char lock[PATH_MAX + 8];
  if (lockfd < 0) return;
  snprintf(lock, sizeof lock, "%s.lock", path);
  unlink(lock); /* (while held: a waiter then finds its file gone and locks a new one) */
  close(lockfd);
}

PetscErrorCode GyreRunCheckpointLock(GyreRun *run)
{
  PetscFunctionBegin;
  PetscCall(GyreCheckpointLock(run->comm, run->checkpoint, "simulate", "-checkpoint",
                               &run->checkpoint_lock));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The integrator: the TS type, with its tableau for rk and arkimex ("rk/4", "arkimex/3") */
static PetscErrorCode Integrator(TS ts, char *buf, size_t n)
{
  TSType    type;
  PetscBool rk, ark;

  PetscFunctionBegin;
  PetscCall(TSGetType(ts, &type));
  PetscCall(PetscObjectTypeCompare((PetscObject) ts, TSRK, &rk));
  PetscCall(PetscObjectTypeCompare((PetscObject) ts, TSARKIMEX, &ark));
  if (rk || ark) {
    const char *sub = NULL;
    if (rk)
      PetscCall(TSRKGetType(ts, &sub));
    else
      PetscCall(TSARKIMEXGetType(ts, &sub));
    PetscCall(PetscSNPrintf(buf, n, "%s/%s", type, sub ? sub : "?"));
  } else
    PetscCall(PetscSNPrintf(buf, n, "%s", type ? type : "?"));
  PetscFunctionReturn(PETSC_SUCCESS);
}

typedef struct {
  PetscInt dim, M, N, dof, xs, ys, xm, ym;
} StateLayout;

static PetscErrorCode GetLayout(DM dm, StateLayout *l)
{
  PetscFunctionBegin;
  PetscCall(DMDAGetInfo(dm, &l->dim, &l->M, &l->N, NULL, NULL, NULL, NULL, &l->dof, NULL, NULL,
                        NULL, NULL, NULL));
  PetscCall(DMDAGetCorners(dm, &l->xs, &l->ys, NULL, &l->xm, &l->ym, NULL));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* start/count of this rank's block of member e of `state`; returns the number of dims */
static int StateBlock(const StateLayout *l, PetscInt e, size_t *start, size_t *count)
{
  start[0] = (size_t) e, count[0] = 1;
  if (l->dim == 1) {
    start[1] = (size_t) l->xs, count[1] = (size_t) l->xm;
    start[2] = 0, count[2] = (size_t) l->dof;
    return 3;
  }
  start[1] = (size_t) l->ys, count[1] = (size_t) l->ym;
  start[2] = (size_t) l->xs, count[2] = (size_t) l->xm;
  start[3] = 0, count[3] = (size_t) l->dof;
  return 4;
}

/* how the run uses a surrogate: none, closure or emulator (a trajectory continued another way
 * is another run) */
static const char *SurrogateKind(const GyreRun *run)
{
  return !run->surrogate ? "none" : run->emulator ? "emulator" : "closure";
}

PetscErrorCode GyreRunCheckpointWrite(GyreRun *run, const char *path)
{
  GyreModel          m  = run->model;
  GyreFileOptions    fo = {.overwrite = 1, .atomic = 1};
  GyreFile           f;
  StateLayout        l;
  size_t             start[4], count[4];
  const PetscScalar *u;
  int                varid;
  char               desc[512], buf[64];

  PetscFunctionBegin;
  /* the output's records up to this step reach the disk before the checkpoint that names
   * them, so that a hard kill after the checkpoint cannot leave the output behind it */
  if (run->out) PetscCallGyre(run->comm, GyreFileSync(run->out));
  PetscCall(GetLayout(m->dm, &l));
  PetscCallGyre(run->comm, GyreFileCreate(run->comm, path, &fo, &f));
  GyreDimSpec dx = {.name = "x", .len = (size_t) l.M};
  GyreDimSpec dy = {.name = "y", .len = (size_t) l.N};
  GyreDimSpec dc = {.name = "component", .len = (size_t) l.dof};
  GyreDimSpec dm = {.name = "member", .len = (size_t) m->ensemble_size};
  PetscCallGyre(run->comm, GyreFileDefineDim(f, &dm));
  if (l.dim == 2) PetscCallGyre(run->comm, GyreFileDefineDim(f, &dy));
  PetscCallGyre(run->comm, GyreFileDefineDim(f, &dx));
  PetscCallGyre(run->comm, GyreFileDefineDim(f, &dc));
  GyreVarSpec vs = {.name      = "state",
                    .long_name = "model state (DMDA natural ordering)",
                    .units     = "1",
                    .precision = GYRE_DOUBLE,
                    .has_time  = 0};
  vs.ndims       = StateBlock(&l, 0, start, count);
  vs.dims[0]     = "member";
  if (l.dim == 2) {
    vs.dims[1] = "y", vs.dims[2] = "x", vs.dims[3] = "component";
  } else {
    vs.dims[1] = "x", vs.dims[2] = "component";
  }
  PetscCallGyre(run->comm, GyreFileDefineVar(f, &vs, &varid));
  int guard[2];
  PetscCall(GyreGuardCheckpointDefine(run, f, guard));
  PetscCall((*m->ops.describe)(m, desc, sizeof desc));
  PetscCallGyre(run->comm, GyreFilePutAttText(f, "gyre_checkpoint_model", m->name));
  PetscCallGyre(run->comm, GyreFilePutAttText(f, "gyre_checkpoint_parameters", desc));
  PetscCall(Integrator(run->ts, buf, sizeof buf));
  PetscCallGyre(run->comm, GyreFilePutAttText(f, "gyre_checkpoint_integrator", buf));
  PetscCallGyre(run->comm, GyreFilePutAttText(f, "gyre_checkpoint_output", run->output));
  PetscCallGyre(run->comm, GyreFilePutAttText(f, "gyre_checkpoint_surrogate", SurrogateKind(run)));
  PetscCall(GyreGuardDescribe(run, desc, sizeof desc));
  PetscCallGyre(run->comm, GyreFilePutAttText(f, "gyre_checkpoint_guard", desc));
  if (run->surrogate) { /* which model: a run continued with another is another run */
    PetscCallGyre(run->comm,
                  GyreFilePutAttText(f, "gyre_checkpoint_surrogate_file", run->surrogate->path));
    PetscCallGyre(run->comm, GyreFilePutAttText(f, "gyre_checkpoint_surrogate_sha256",
                                                run->surrogate->sha256));
  }
  PetscCallGyre(run->comm, GyreFilePutAttDouble(f, "gyre_checkpoint_dt", run->dt));
  PetscCallGyre(run->comm, GyreFilePutAttDouble(f, "gyre_checkpoint_seed", (double) m->seed));
  PetscCallGyre(run->comm, GyreFilePutAttDouble(f, "gyre_checkpoint_ensemble_size",
                                                (double) m->ensemble_size));
  PetscCallGyre(run->comm, GyreFilePutAttDouble(f, "gyre_checkpoint_step", (double) run->step));
  PetscCallGyre(run->comm,
                GyreFilePutAttDouble(f, "gyre_checkpoint_step_first", (double) run->step_first));
  PetscCallGyre(run->comm, GyreFilePutAttDouble(f, "gyre_checkpoint_output_every_steps",
                                                (double) run->output_every_steps));
  PetscCallGyre(run->comm, GyreFilePutAttDouble(f, "gyre_checkpoint_time", run->step * run->dt));
  PetscCall(PetscSNPrintf(buf, sizeof buf, "%d", 1));
  PetscCallGyre(run->comm, GyreFilePutAttText(f, "gyre_checkpoint_version", buf));
  PetscCallGyre(run->comm, GyreFileEndDef(f));
  for (PetscInt e = 0; e < m->ensemble_size; e++) {
    GyreStatus s;
    StateBlock(&l, e, start, count);
    PetscCall(VecGetArrayRead(run->Us[e], &u));
    s = GyreFileWriteBlock(f, varid, 0, start, count, (const double *) u); /* agreed over ranks */
    PetscCall(VecRestoreArrayRead(run->Us[e], &u));
    if (s != GYRE_OK) {
      GyreFileAbort(&f);
      PetscCallGyre(run->comm, s);
    }
  }
  PetscCall(GyreGuardCheckpointWrite(run, &f, guard));
  PetscCallGyre(run->comm, GyreFileClose(&f));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode CheckNumber(GyreRun *run, GyreFile f, const char *path, const char *att,
                                  double expect, const char *what)
{
  double v;
  char   a[32], b[32]; /* C's %g: PETSc's prints 5 as "5." */

  PetscFunctionBegin;
  PetscCallGyre(run->comm, GyreFileGetAttDouble(f, att, &v));
  PetscCheck(v == expect, run->comm, PETSC_ERR_FILE_UNEXPECTED,
             "checkpoint '%s' belongs to another run: %s %s in the checkpoint, %s in this run",
             path, what, GyreNumberFormat(v, NULL, NULL, a, sizeof a),
             GyreNumberFormat(expect, NULL, NULL, b, sizeof b));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* A text attribute of the checkpoint against this run's value: an error naming both (the file
 * closed) where they differ; not checked where the checkpoint predates it (has none). */
static PetscErrorCode CheckText(GyreRun *run, GyreFile *f, const char *path, const char *att,
                                const char *here, const char *what, const char *options)
{
  char *there = NULL;

  PetscFunctionBegin;
  if (GyreFileGetAttText(*f, att, &there) != GYRE_OK) PetscFunctionReturn(PETSC_SUCCESS);
  PetscBool same = (PetscBool) !strcmp(there, here);
  char      msg[PETSC_MAX_PATH_LEN + 400];
  PetscCall(PetscSNPrintf(msg, sizeof msg,
                          "checkpoint '%s' belongs to another run: %s %s in the checkpoint, %s "
                          "in this run%s",
                          path, what, there, here, options));
  free(there);
  if (!same) GyreFileClose(f);
  PetscCheck(same, run->comm, PETSC_ERR_FILE_UNEXPECTED, "%s", msg);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The surrogate's model file against the checkpoint's (by content: a copy elsewhere is the
 * same model): an error naming both (the file closed) where another model would continue the
 * run; not checked where the checkpoint predates the record */
static PetscErrorCode CheckSurrogateFile(GyreRun *run, GyreFile *f, const char *path)
{
  char *sha = NULL, *file = NULL;

  PetscFunctionBegin;
  if (!run->surrogate ||
      GyreFileGetAttText(*f, "gyre_checkpoint_surrogate_sha256", &sha) != GYRE_OK)
    PetscFunctionReturn(PETSC_SUCCESS);
  if (GyreFileGetAttText(*f, "gyre_checkpoint_surrogate_file", &file) != GYRE_OK) file = NULL;
  PetscBool same = (PetscBool) !strcmp(sha, run->surrogate->sha256);
  char      msg[3 * PETSC_MAX_PATH_LEN];
  PetscCall(
      PetscSNPrintf(msg, sizeof msg,
                    "checkpoint '%s' belongs to another run: surrogate '%s' (sha256 %.12s...) "
                    "in the checkpoint, '%s' (sha256 %.12s...) in this run (-surrogate: the "
                    "model the run began with continues it)",
                    path, file ? file : "?", sha, run->surrogate->path, run->surrogate->sha256));
  free(sha), free(file);
  if (!same) GyreFileClose(f);
  PetscCheck(same, run->comm, PETSC_ERR_FILE_UNEXPECTED, "%s", msg);
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode GyreRunCheckpointStep(GyreRun *run, const char *path, double *dt,
                                     PetscInt *output_steps)
{
  GyreModel m = run->model;
  GyreFile  f;
  double    v[2] = {0, 0}, lo[2], hi[2]; /* dt, steps between outputs */
  char      desc[512], *model = NULL, *params = NULL, *kind = NULL;

  PetscFunctionBegin;
  PetscCall((*m->ops.describe)(m, desc, sizeof desc));
  if (path[0] && access(path, R_OK) == 0 && GyreFileOpen(MPI_COMM_SELF, path, 0, &f) == GYRE_OK) {
    if (GyreFileGetAttText(f, "gyre_checkpoint_model", &model) != GYRE_OK ||
        GyreFileGetAttText(f, "gyre_checkpoint_parameters", &params) != GYRE_OK ||
        strcmp(model, m->name) || strcmp(params, desc) ||
        (GyreFileGetAttText(f, "gyre_checkpoint_surrogate", &kind) == GYRE_OK &&
         strcmp(kind, SurrogateKind(run))) ||
        GyreFileGetAttDouble(f, "gyre_checkpoint_dt", &v[0]) != GYRE_OK || !(v[0] > 0))
      v[0] = 0;
    else if (GyreFileGetAttDouble(f, "gyre_checkpoint_output_every_steps", &v[1]) != GYRE_OK ||
             !(v[1] >= 1 && v[1] <= (double) PETSC_MAX_INT) || v[1] != floor(v[1]))
      v[1] = 0;
    free(model), free(params), free(kind);
    (void) GyreFileClose(&f);
  }
  PetscCallMPI(MPI_Allreduce(v, lo, 2, MPI_DOUBLE, MPI_MIN, run->comm));
  PetscCallMPI(MPI_Allreduce(v, hi, 2, MPI_DOUBLE, MPI_MAX, run->comm));
  /* every rank read the same */
  *dt           = lo[0] == hi[0] ? lo[0] : 0;
  *output_steps = *dt > 0 && lo[1] == hi[1] ? (PetscInt) lo[1] : 0;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode GyreRunCheckpointRead(GyreRun *run, const char *path)
{
  GyreModel    m = run->model;
  GyreFile     f;
  StateLayout  l;
  size_t       start[4], count[4], lens[GYRE_IO_MAX_DIMS];
  char         names[GYRE_IO_MAX_DIMS][64];
  int          ndims, has_time;
  char        *model = NULL, *params = NULL, desc[512];
  double       v;
  PetscScalar *u;

  PetscFunctionBegin;
  PetscCall(GetLayout(m->dm, &l));
  /* a requeued job resumes from here: an unreadable checkpoint (truncated, not NetCDF) stops
   * it with the file named, never a silent fresh start over the output it continues */
  PetscCheck(GyreFileOpen(run->comm, path, 0, &f) == GYRE_OK, run->comm, PETSC_ERR_FILE_READ,
             "cannot resume from checkpoint '%s' (%s): give a good one, or remove it and the "
             "output to start again",
             path, GyreStatusMessage());
  PetscCallGyre(run->comm, GyreFileGetAttText(f, "gyre_checkpoint_model", &model));
  PetscCallGyre(run->comm, GyreFileGetAttText(f, "gyre_checkpoint_parameters", &params));
  PetscCall((*m->ops.describe)(m, desc, sizeof desc));
  PetscBool same_model = (PetscBool) !strcmp(model, m->name);
  PetscBool same_par   = (PetscBool) !strcmp(params, desc);
  if (!same_model || !same_par) {
    char msg[1400];
    PetscCall(PetscSNPrintf(msg, sizeof msg,
                            "checkpoint '%s' belongs to another run: model %s (%s) in the "
                            "checkpoint, %s (%s) in this run",
                            path, model, params, m->name, desc));
    free(model);
    free(params);
    GyreFileClose(&f);
    SETERRQ(run->comm, PETSC_ERR_FILE_UNEXPECTED, "%s", msg);
  }
  free(model);
  free(params);
  { /* the same integrator (-ts_type, -ts_rk_type, -ts_arkimex_type): another would continue
     * the trajectory by other arithmetic than the interrupted run's; the same use of a
     * surrogate */
    char here[512];
    PetscCall(Integrator(run->ts, here, sizeof here));
    PetscCall(CheckText(run, &f, path, "gyre_checkpoint_integrator", here, "integrator",
                        " (-ts_type, -ts_rk_type, -ts_arkimex_type)"));
    PetscCall(CheckText(run, &f, path, "gyre_checkpoint_surrogate", SurrogateKind(run), "surrogate",
                        " (-surrogate, -surrogate_mode)"));
    PetscCall(CheckSurrogateFile(run, &f, path));
    PetscCall(GyreGuardDescribe(run, here, sizeof here));
    PetscCall(CheckText(run, &f, path, "gyre_checkpoint_guard", here, "guard",
                        " (-guard, -guard_sigma, -guard_band, -guard_cooldown, -guard_fallback, "
                        "-closure_coeffs)"));
  }
  PetscCall(CheckNumber(run, f, path, "gyre_checkpoint_dt", run->dt, "dt"));
  PetscCall(CheckNumber(run, f, path, "gyre_checkpoint_seed", (double) m->seed, "-seed"));
  PetscCall(CheckNumber(run, f, path, "gyre_checkpoint_ensemble_size", (double) m->ensemble_size,
                        "-ensemble_size"));
  PetscCall(CheckNumber(run, f, path, "gyre_checkpoint_output_every_steps",
                        (double) run->output_every_steps, "steps between outputs"));
  PetscCallGyre(run->comm, GyreFileInqVar(f, "state", &ndims, names, lens, &has_time));
  int nd = StateBlock(&l, 0, start, count);
  PetscCheck(ndims == nd && lens[0] == (size_t) m->ensemble_size &&
                 lens[nd - 1] == (size_t) l.dof && lens[1] == (size_t) (l.dim == 1 ? l.M : l.N) &&
                 (l.dim == 1 || lens[2] == (size_t) l.M),
             run->comm, PETSC_ERR_FILE_UNEXPECTED,
             "checkpoint '%s' holds a state on another grid than this run's (%" PetscInt_FMT
             " x %" PetscInt_FMT " points, %" PetscInt_FMT " components)",
             path, l.M, l.N, l.dof);
  for (PetscInt e = 0; e < m->ensemble_size; e++) {
    GyreStatus s;
    StateBlock(&l, e, start, count);
    PetscCall(VecGetArray(run->Us[e], &u));
    s = GyreFileReadBlock(f, "state", 0, start, count, (double *) u); /* agreed over ranks */
    PetscCall(VecRestoreArray(run->Us[e], &u));
    PetscCallGyre(run->comm, s);
  }
  PetscCallGyre(run->comm, GyreFileGetAttDouble(f, "gyre_checkpoint_step", &v));
  run->step = (PetscInt) v;
  PetscCallGyre(run->comm, GyreFileGetAttDouble(f, "gyre_checkpoint_step_first", &v));
  run->step_first = (PetscInt) v;
  PetscCall(GyreGuardCheckpointRead(run, f, path));
  PetscCallGyre(run->comm, GyreFileClose(&f));
  PetscFunctionReturn(PETSC_SUCCESS);
}
