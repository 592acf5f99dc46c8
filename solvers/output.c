/* output.c — the run's CF NetCDF output: one record every -output_every (model time) or
 * -output_every_steps N steps, written in parallel (each rank its own block), with the
 * run's provenance. Record r holds step step_first + r * output_every_steps, at model time
 * step * dt exactly. An ensemble (-ensemble_size N > 1) adds a `member` dimension after
 * `time`. */
#include "gyre_run.h"
#include "gyre_surrogate.h"
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

PetscInt GyreRunOutputRecord(const GyreRun *run, PetscInt step)
{
  PetscInt d = step - run->step_first;
  if (d < 0 || d % run->output_every_steps) return -1;
  return d / run->output_every_steps;
}

static PetscErrorCode FieldPrecision(GyreRun *run, const GyreOutputField *f, GyrePrecision *p)
{
  PetscFunctionBegin;
  *p = f->spec.precision;
  if (!run->output_precision[0]) PetscFunctionReturn(PETSC_SUCCESS);
  if (!strcmp(run->output_precision, "single"))
    *p = GYRE_FLOAT;
  else if (!strcmp(run->output_precision, "double"))
    *p = GYRE_DOUBLE;
  else
    SETERRQ(run->comm, PETSC_ERR_ARG_OUTOFRANGE, "-output_precision %s: expected single or double",
            run->output_precision);
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode AllocBuffer(GyreRun *run)
{
  GyreModel m   = run->model;
  size_t    max = 1;

  PetscFunctionBegin;
  for (PetscInt i = 0; i < m->nfields; i++) {
    size_t n = 1;
    for (int d = 0; d < m->fields[i].spec.ndims; d++)
      n *= m->fields[i].count[d];
    if (n > max) max = n;
  }
  PetscCall(PetscFree(run->buf));
  PetscCall(PetscMalloc1(max, &run->buf));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The lock file of GyreRunOutputAbandon's put-back of aside (one rank does it) */
static void PutBackLock(const char *aside, char *lock, size_t len)
{
  snprintf(lock, len, "%s.putback", aside);
}

/* The files aside are this run's: a put-back lock left by a run killed while it put them back
 * (an earlier leg, or an earlier job on the same files) would stop this run's; rank 0 removes
 * it. Every rank calls it. */
static PetscErrorCode ForgetStaleLocks(GyreRun *run)
{
  const char *aside[2] = {run->output_aside, run->checkpoint_aside};
  PetscMPIInt rank;
  char        lock[PATH_MAX + 32];

  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_rank(run->comm, &rank));
  for (int i = 0; i < 2 && rank == 0; i++) {
    if (!aside[i]) continue;
    PutBackLock(aside[i], lock, sizeof lock);
    unlink(lock);
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode GyreRunOutputCreate(GyreRun *run)
{
  GyreModel       m    = run->model;
  GyreFileOptions fo   = {0};
  GyreProvenance  prov = {0};
  char            desc[512];

  PetscFunctionBegin;
  fo.overwrite = run->output_overwrite;
  /* the file replaced stays until the run is over, and comes back if it fails */
  if (run->output_overwrite) { /* with the checkpoint that goes with it */
    PetscCallGyre(run->comm, GyreFileMoveAside(run->comm, run->output, 1, &run->output_aside));
    if (run->checkpoint[0])
      PetscCallGyre(run->comm,
                    GyreFileMoveAside(run->comm, run->checkpoint, 1, &run->checkpoint_aside));
    PetscCall(ForgetStaleLocks(run));
  }
  fo.deflate = (int) run->output_deflate;
  PetscCallGyre(run->comm, GyreFileCreate(run->comm, run->output, &fo, &run->out));
  run->output_made = PETSC_TRUE;
  PetscCallGyre(run->comm, GyreFileDefineTime(run->out, m->timekind, m->time_units));
  if (m->ensemble_size > 1) {
    GyreDimSpec member = {.name          = "member",
                          .len           = (size_t) m->ensemble_size,
                          .standard_name = "realization",
                          .long_name     = "ensemble member"};
    PetscCallGyre(run->comm, GyreFileDefineDim(run->out, &member));
  }
  for (PetscInt d = 0; d < m->ndims; d++)
    PetscCallGyre(run->comm, GyreFileDefineDim(run->out, &m->dims[d]));
  for (PetscInt i = 0; i < m->nfields; i++) {
    GyreVarSpec spec = m->fields[i].spec;
    spec.has_time    = 1;
    if (m->ensemble_size > 1) {
      for (int d = spec.ndims; d > 0; d--)
        spec.dims[d] = spec.dims[d - 1];
      spec.dims[0] = "member";
      spec.ndims++;
    }
    PetscCall(FieldPrecision(run, &m->fields[i], &spec.precision));
    PetscCallGyre(run->comm, GyreFileDefineVar(run->out, &spec, &run->varids[i]));
  }
  prov.title        = m->name;
  prov.command_line = run->command_line;
  prov.options      = run->options;
  PetscCallMPI(MPI_Comm_size(run->comm, &prov.mpi_size));
  prov.seed       = (long) m->seed;
  prov.start_time = run->start_time;
  {
    int n = 0;
    if (run->initial_file[0]) prov.inputs[n++] = run->initial_file;
    if (run->restart[0] && strcmp(run->restart, "auto")) prov.inputs[n++] = run->restart;
    if (run->surrogate) prov.inputs[n++] = run->surrogate->path; /* hashed with the others */
  }
  PetscCallGyre(run->comm, GyreProvenanceWrite(run->out, &prov));
  PetscCall((*m->ops.describe)(m, desc, sizeof desc));
  PetscCallGyre(run->comm, GyreFilePutAttText(run->out, "gyre_model", m->name));
  PetscCallGyre(run->comm, GyreFilePutAttText(run->out, "gyre_model_parameters", desc));
  PetscCallGyre(run->comm, GyreFilePutAttDouble(run->out, "gyre_dt", run->dt));
  if (run->surrogate) { /* a hybrid run names its surrogate and how it was used */
    char how[256] = "closure";
    if (run->emulator) PetscCall(GyreEmulatorDescribe(run, how, sizeof how));
    PetscCallGyre(run->comm, GyreFilePutAttText(run->out, "gyre_surrogate", run->surrogate->path));
    PetscCallGyre(run->comm, GyreFilePutAttText(run->out, "gyre_surrogate_mode", how));
  }
  PetscCallGyre(run->comm, GyreFileEndDef(run->out));
  PetscCall(AllocBuffer(run));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Refuses to continue an output file that is not this run's: another model, other
 * parameters or dt, or a record nrec_keep-1 not at the checkpoint's output time t_last. */
static PetscErrorCode CheckOutputBelongs(GyreRun *run, size_t nrec_keep, double t_last)
{
  GyreModel m = run->model;
  GyreFile  f;
  char     *model = NULL, *params = NULL, desc[512];
  double    dt = 0, *times = NULL;
  size_t    nrec      = 0;
  char      why[1024] = "";

  PetscFunctionBegin;
  PetscCall((*m->ops.describe)(m, desc, sizeof desc));
  PetscCallGyre(run->comm, GyreFileOpen(run->comm, run->output, 0, &f));
  if (GyreFileGetAttText(f, "gyre_model", &model) != GYRE_OK ||
      GyreFileGetAttText(f, "gyre_model_parameters", &params) != GYRE_OK ||
      GyreFileGetAttDouble(f, "gyre_dt", &dt) != GYRE_OK)
    PetscCall(PetscSNPrintf(why, sizeof why, "it is not a gyre simulate output"));
  else if (strcmp(model, m->name) || strcmp(params, desc) || dt != run->dt)
    PetscCall(PetscSNPrintf(why, sizeof why, "it holds %s (%s, dt %g), this run is %s (%s, dt %g)",
                            model, params, dt, m->name, desc, (double) run->dt));
  else if (GyreFileGetTimes(f, &nrec, &times) != GYRE_OK || nrec < nrec_keep ||
           PetscAbsReal(times[nrec_keep - 1] - t_last) > 1e-9 * PetscMax(1.0, t_last))
    PetscCall(PetscSNPrintf(why, sizeof why,
                            "its records do not match the checkpoint (record %zu should be at "
                            "t = %g; %zu records; was -output_every changed?)",
                            nrec_keep - 1, t_last, nrec));
  free(model);
  free(params);
  free(times);
  PetscCallGyre(run->comm, GyreFileClose(&f));
  PetscCheck(!why[0], run->comm, PETSC_ERR_FILE_UNEXPECTED,
             "cannot continue output '%s' from the checkpoint: %s", run->output, why);
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode GyreRunOutputOpenForRestart(GyreRun *run, size_t nrec_keep, double t_last)
{
  GyreModel m = run->model;
  PetscBool exists;

  PetscFunctionBegin;
  PetscCall(PetscTestFile(run->output, 'r', &exists));
  PetscCheck(exists, run->comm, PETSC_ERR_FILE_OPEN,
             "cannot continue output '%s' from the checkpoint: the file is missing (its first "
             "%zu records are gone; start again, or give the file back)",
             run->output, nrec_keep);
  PetscCall(CheckOutputBelongs(run, nrec_keep, t_last));
  PetscCallGyre(run->comm, GyreFileTruncateRecords(run->comm, run->output, nrec_keep));
  PetscCallGyre(run->comm, GyreFileOpen(run->comm, run->output, 1, &run->out));
  run->output_made = PETSC_TRUE;
  /* a replacement an earlier leg began (-output_overwrite) is this leg's to complete */
  PetscCallGyre(run->comm, GyreFileMoveAside(run->comm, run->output, 0, &run->output_aside));
  if (run->checkpoint[0])
    PetscCallGyre(run->comm,
                  GyreFileMoveAside(run->comm, run->checkpoint, 0, &run->checkpoint_aside));
  PetscCall(ForgetStaleLocks(run));
  {
    /* the stepping time of the earlier legs counts towards the run's cost */
    char *wall = NULL;
    if (GyreFileGetAttText(run->out, "stepping_wall_seconds", &wall) == GYRE_OK) {
      run->wall_stepping = atof(wall);
      free(wall);
    }
  }
  for (PetscInt i = 0; i < m->nfields; i++)
    PetscCallGyre(run->comm, GyreFileGetVarId(run->out, m->fields[i].spec.name, &run->varids[i]));
  PetscCall(AllocBuffer(run));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode GyreRunOutputWrite(GyreRun *run)
{
  GyreModel m   = run->model;
  PetscInt  rec = GyreRunOutputRecord(run, run->step);

  PetscFunctionBegin;
  if (rec < 0 || !run->out) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCallGyre(run->comm, GyreFileWriteTime(run->out, (size_t) rec, run->step * run->dt));
  for (PetscInt e = 0; e < m->ensemble_size; e++) {
    for (PetscInt i = 0; i < m->nfields; i++) {
      GyreOutputField *f = &m->fields[i];
      size_t           start[GYRE_IO_MAX_DIMS + 1], count[GYRE_IO_MAX_DIMS + 1];
      int              nd = 0;

      if (m->ensemble_size > 1) {
        start[nd]   = (size_t) e;
        count[nd++] = 1;
      }
      for (int d = 0; d < f->spec.ndims; d++, nd++) {
        start[nd] = f->start[d];
        count[nd] = f->count[d];
      }
      PetscBool redo = PETSC_FALSE;
      PetscCall(GyreGuardOutputBegin(run, e)); /* a field the surrogate makes: guarded */
      PetscCall((*m->ops.outputfield)(m, i, run->Us[e], run->step * run->dt, run->buf));
      PetscCall(GyreGuardOutputRedo(run, &redo));
      if (redo) PetscCall((*m->ops.outputfield)(m, i, run->Us[e], run->step * run->dt, run->buf));
      PetscCall(GyreGuardOutputEnd(run));
      PetscCallGyre(run->comm, GyreFileWriteBlock(run->out, run->varids[i], (size_t) rec, start,
                                                  count, run->buf));
    }
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode CloseOutput(GyreRun *run, PetscBool finished)
{
  char        wall[64], now[32], *events = NULL, *summary = NULL;
  const char *names[4]  = {"end_time", "stepping_wall_seconds", "guard_events", "guard_summary"};
  const char *values[4] = {now, wall, NULL, NULL};

  PetscFunctionBegin;
  if (!run->out) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCallGyre(run->comm, GyreFileClose(&run->out));
  /* GYRE_TEST_FAIL_CLOSE (any value): the tests' close that fails part-way, at the run's end */
  PetscCheck(!finished || !getenv("GYRE_TEST_FAIL_CLOSE"), run->comm, PETSC_ERR_FILE_WRITE,
             "GYRE_TEST_FAIL_CLOSE: cannot write the end attributes of '%s'", run->output);
  /* the end of the run's provenance, written once the parallel file is closed */
  GyreTimeNowISO(now);
  PetscCallMPI(MPI_Bcast(now, sizeof now, MPI_CHAR, 0, run->comm));
  if (!finished) PetscCall(PetscStrncpy(now, "interrupted", sizeof now));
  PetscCall(PetscSNPrintf(wall, sizeof wall, "%.6g", run->wall_stepping));
  /* the guard's events (a learned closure) */
  PetscCall(GyreGuardSummary(run, &events, &summary));
  values[2] = events, values[3] = summary;
  PetscCallGyre(run->comm,
                GyreFileAmendAttributes(run->comm, run->output, events ? 4 : 2, names, values));
  PetscCall(PetscFree(events));
  PetscCall(PetscFree(summary));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode GyreRunOutputClose(GyreRun *run, PetscBool finished)
{
  PetscFunctionBegin;
  PetscCall(CloseOutput(run, finished));
  if (finished) { /* the replacement is complete: the files replaced go */
    PetscCallGyre(run->comm, GyreFileDropAside(run->comm, &run->output_aside));
    PetscCallGyre(run->comm, GyreFileDropAside(run->comm, &run->checkpoint_aside));
  } else { /* stopped to be continued: they stay, and the next leg takes them up */
    free(run->output_aside);
    free(run->checkpoint_aside);
    run->output_aside = run->checkpoint_aside = NULL;
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Whether an earlier failed run's files are where this one's go (failed; cfailed where the run
 * wrote a checkpoint): they are replaced, and the note says so */
static int EarlierFailed(const GyreRun *run, const char *failed, const char *cfailed)
{
  struct stat sb;
  return !lstat(failed, &sb) || (run->checkpoint_written && !lstat(cfailed, &sb));
}

/* The note of a failed run whose output replaced a file: that file back, the run's records
 * ("records", or "unclosed records" after an abort) in failed, ckpt what became of its
 * checkpoint */
static void PutBackNote(const GyreRun *run, char *note, size_t len, const char *records,
                        const char *failed, const char *ckpt, int earlier)
{
  snprintf(note, len,
           "output '%s' is back as it was before this run (-output_overwrite replaces it only when "
           "the run ends), this run's %s are in '%s'%s%s",
           run->output, records, failed, ckpt,
           earlier ? " (replacing an earlier failed run's)" : "");
}

void GyreRunOutputAbandon(GyreRun *run, char *note, size_t len)
{
  char        failed[PATH_MAX + 8], cfailed[PATH_MAX + 8], lock[PATH_MAX + 32], ckpt[PATH_MAX + 64];
  const char *aside = run->output_aside ? run->output_aside : run->checkpoint_aside;
  struct stat sb;
  GyreStatus  st      = GYRE_OK;
  int         earlier = 0, back = 0;

  note[0] = 0;
  if (!aside) return; /* nothing replaced: a new file keeps what was written, as after a kill */
  /* one rank does it (several may fail alone at once): the one that makes the lock file; one
   * that makes it after that rank is done finds nothing aside any more */
  PutBackLock(aside, lock, sizeof lock);
  const int fd = open(lock, O_CREAT | O_EXCL | O_WRONLY, 0600);
  if (fd < 0) return; /* another rank is putting the files back, and says so */
  close(fd);
  if (lstat(aside, &sb)) {
    unlink(lock);
    return;
  }
  snprintf(failed, sizeof failed, "%s.failed", run->output);
  snprintf(cfailed, sizeof cfailed, "%s.failed", run->checkpoint);
  if (run->output_aside) { /* as GyreRunOutputFailed: the run's records and checkpoint go */
    earlier = EarlierFailed(run, failed, cfailed);
    st      = GyreFilePutBackHere(run->output, run->output_aside, failed);
    if (!st && (run->checkpoint_aside || run->checkpoint_written))
      st = GyreFilePutBackHere(run->checkpoint, run->checkpoint_aside,
                               run->checkpoint_written ? cfailed : NULL);
  } else if (run->checkpoint_written) /* a new output keeps the run's records and checkpoint */
    unlink(run->checkpoint_aside);
  else
    st = GyreFilePutBackHere(run->checkpoint, run->checkpoint_aside, NULL), back = !st;
  unlink(lock);
  if (st)
    snprintf(note, len, "the file this run replaces is left as '%s' (%s)", aside,
             GyreStatusMessage());
  else if (back)
    snprintf(note, len, "checkpoint '%s' is back as it was before this run", run->checkpoint);
  else if (run->output_aside) {
    snprintf(ckpt, sizeof ckpt, "%s%s%s",
             run->checkpoint_written ? ", its last good checkpoint in '" : "",
             run->checkpoint_written ? cfailed : "", run->checkpoint_written ? "'" : "");
    PutBackNote(run, note, len, "unclosed records", failed, ckpt, earlier);
  }
}

PetscErrorCode GyreRunOutputFailed(GyreRun *run, char *note, size_t len)
{
  char failed[PATH_MAX + 8] = "", cfailed[PATH_MAX + 8] = "", ckpt[PATH_MAX + 64] = "";
  /* made: the run wrote records, kept even where its close failed part-way (the file then
   * closed, or not, and with no end attributes) */
  PetscBool made = run->out || run->output_made ? PETSC_TRUE : PETSC_FALSE;

  PetscFunctionBegin;
  note[0] = 0;
  if (run->failed_done) PetscFunctionReturn(PETSC_SUCCESS);
  if (made) PetscCall(CloseOutput(run, PETSC_FALSE));
  if (run->checkpoint_written) {
    PetscCall(PetscSNPrintf(cfailed, sizeof cfailed, "%s.failed", run->checkpoint));
    PetscCall(PetscSNPrintf(ckpt, sizeof ckpt, ", its last good checkpoint %s '%s'",
                            run->output_aside ? "in" : "is",
                            run->output_aside ? cfailed : run->checkpoint));
  }
  if (!run->output_aside) { /* a new file: it keeps the run's records, with the run's checkpoint */
    if (run->checkpoint_written)
      PetscCallGyre(run->comm, GyreFileDropAside(run->comm, &run->checkpoint_aside));
    else
      PetscCallGyre(run->comm,
                    GyreFilePutBack(run->comm, run->checkpoint, &run->checkpoint_aside, NULL));
    if (made)
      PetscCall(PetscSNPrintf(note, len, "output '%s' keeps the records written so far%s",
                              run->output, ckpt));
    run->failed_done = PETSC_TRUE; /* (only once done: a failure part-way is tried again) */
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  /* the earlier files back; the run's records and checkpoint go together (a -restart auto must
   * not continue the run into the file put back) */
  int earlier = 0; /* an earlier failed run's files where this one's go: replaced, and said so */
  if (made) {
    PetscMPIInt rank;
    PetscCall(PetscSNPrintf(failed, sizeof failed, "%s.failed", run->output));
    PetscCallMPI(MPI_Comm_rank(run->comm, &rank));
    if (rank == 0) earlier = EarlierFailed(run, failed, cfailed);
    PetscCallMPI(MPI_Bcast(&earlier, 1, MPI_INT, 0, run->comm));
  }
  PetscCallGyre(run->comm,
                GyreFilePutBack(run->comm, run->output, &run->output_aside, made ? failed : NULL));
  PetscCallGyre(run->comm, GyreFilePutBack(run->comm, run->checkpoint, &run->checkpoint_aside,
                                           run->checkpoint_written ? cfailed : NULL));
  if (!made)
    PetscCall(PetscSNPrintf(note, len, "output '%s' is as it was before this run", run->output));
  else
    PutBackNote(run, note, len, "records", failed, ckpt, earlier);
  run->failed_done = PETSC_TRUE;
  PetscFunctionReturn(PETSC_SUCCESS);
}
