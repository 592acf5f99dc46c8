/* guard.c — the guard of a learned closure or an emulator: after every step (emulator: every
 * advance) with the surrogate, it is checked (solvers/surrogate_eval.c: NaN/Inf outputs, inputs and
 * outputs beyond -guard_sigma standard deviations of the training statistics, an input field's mean
 * square outside the training band widened by -guard_band); on a trip the step is rolled back and
 * redone without the surrogate (the physics fallback: no closure, or the polynomial closure of
 * -guard_fallback polynomial -closure_coeffs ...; for an emulator, a physics advance over the
 * same stride), and the surrogate stays off for that member for -guard_cooldown steps
 * (emulator: advances). Every event (time, step, member, reason) goes to
 * the log as it happens and into the output file's attributes (guard_events, guard_summary),
 * with a summary at the end.
 *
 * Options: -guard 0|1 (1 when the closure is a surrogate), -guard_sigma s (6), -guard_band b
 * (0.5: the band [min (1 - b), max (1 + b)]), -guard_cooldown n (10 steps or advances). A
 * checkpoint keeps each member's cooldown and the events so far (GyreGuardCheckpointWrite): a
 * restarted run continues as the interrupted one would, its summary counting every leg. */
#include "gyre_run.h"
#include "gyre_surrogate.h"

typedef struct {
  PetscReal t;
  PetscInt  step, member, reason;
} GuardEvent;

struct _p_GyreGuard {
  PetscReal   sigma, band;
  PetscInt    cooldown;
  PetscInt   *off_until; /* per member: the surrogate is off while step < off_until */
  Vec         backup;
  GuardEvent *ev;
  PetscInt    nev, cap, count[5];
  PetscBool   saved_disabled; /* the surrogate's state around a diagnostic output field */
  PetscInt    saved_trip;
};

static const char *const ReasonNames[5] = {[GYRE_GUARD_NONE]      = "none",
                                           [GYRE_GUARD_NAN]       = "output_nan_or_inf",
                                           [GYRE_GUARD_INPUT]     = "input_out_of_range",
                                           [GYRE_GUARD_OUTPUT]    = "output_out_of_range",
                                           [GYRE_GUARD_INVARIANT] = "invariant_out_of_band"};

PetscErrorCode GyreGuardCreate(GyreRun *run)
{
  GyreModel         m  = run->model;
  GyreSurrogateEval ev = run->surrogate;
  PetscBool         on = PETSC_TRUE;
  GyreGuard         g;

  PetscFunctionBegin;
  run->guard = NULL;
  if (!ev) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(PetscNew(&g));
  g->sigma = 6, g->band = 0.5, g->cooldown = 10;
  PetscBool set[4] = {PETSC_FALSE, PETSC_FALSE, PETSC_FALSE, PETSC_FALSE};
  PetscOptionsBegin(run->comm, NULL, "Guard of a learned closure or emulator", "guard");
  PetscCall(PetscOptionsBool("-guard", "check every step or advance with the surrogate", NULL, on,
                             &on, NULL));
  PetscCall(PetscOptionsReal("-guard_sigma", "inputs/outputs beyond this many training std trip",
                             NULL, g->sigma, &g->sigma, &set[0]));
  PetscCall(PetscOptionsReal("-guard_band", "widening of the training band of mean squares", NULL,
                             g->band, &g->band, &set[1]));
  PetscCall(PetscOptionsInt("-guard_cooldown",
                            "steps (emulator: advances) without the surrogate after a trip", NULL,
                            g->cooldown, &g->cooldown, &set[2]));
  PetscOptionsEnd();
  if (!on) { /* (its options read: a value that is not one is still an error) */
    static const char *const name[4] = {"-guard_sigma", "-guard_band", "-guard_cooldown",
                                        "-guard_fallback"};
    PetscCall(PetscOptionsHasName(NULL, NULL, name[3], &set[3]));
    for (int i = 0; i < 4; i++)
      if (set[i])
        PetscCall(PetscFPrintf(run->comm, PETSC_STDERR,
                               "gyre: warning: option %s does nothing with -guard 0 (the guard "
                               "off)\n",
                               name[i]));
    PetscCall(PetscFree(g));
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  PetscCheck(g->sigma > 0, run->comm, PETSC_ERR_ARG_OUTOFRANGE, "-guard_sigma %g must be > 0",
             (double) g->sigma);
  PetscCheck(g->band >= 0, run->comm, PETSC_ERR_ARG_OUTOFRANGE, "-guard_band %g must be >= 0",
             (double) g->band);
  PetscCheck(g->cooldown >= 0, run->comm, PETSC_ERR_ARG_OUTOFRANGE,
             "-guard_cooldown %" PetscInt_FMT " must be >= 0", g->cooldown);
  PetscCall(PetscCalloc1(m->ensemble_size, &g->off_until));
  PetscCall(VecDuplicate(run->Us[0], &g->backup));
  if (!ev->nband) /* said, not silent: a check the scientist may count on is off */
    PetscCall(PetscPrintf(run->comm,
                          "[guard] surrogate '%s' %s: the invariant check is off (the NaN/Inf "
                          "and -guard_sigma checks stay on)\n",
                          ev->path,
                          GyreSurrogateNormalization(ev->s)->has_band
                              ? "predicts no input field, so no training band applies"
                              : "records no band of its inputs' mean square in the training data "
                                "(norm_in_ms_min/max)"));
  GyreSurrogateEvalSetSigma(ev, g->sigma);
  run->guard = g;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode GyreGuardDestroy(GyreRun *run)
{
  GyreGuard g = run->guard;

  PetscFunctionBegin;
  if (!g) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(VecDestroy(&g->backup));
  PetscCall(PetscFree(g->off_until));
  PetscCall(PetscFree(g->ev));
  PetscCall(PetscFree(run->guard));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The surrogate on or off for member's next step (its cooldown), no trip yet */
static void SurrogateFor(GyreRun *run, PetscInt member)
{
  run->surrogate->disabled = run->step < run->guard->off_until[member] ? PETSC_TRUE : PETSC_FALSE;
  run->surrogate->trip     = GYRE_GUARD_NONE;
}

PetscErrorCode GyreGuardBeginStep(GyreRun *run)
{
  GyreGuard         g  = run->guard;
  GyreSurrogateEval ev = run->surrogate;

  PetscFunctionBegin;
  if (!g) PetscFunctionReturn(PETSC_SUCCESS);
  SurrogateFor(run, run->member);
  if (!ev->disabled) PetscCall(VecCopy(run->U, g->backup));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode GyreGuardEndStep(GyreRun *run, PetscBool *redo)
{
  GyreGuard         g  = run->guard;
  GyreSurrogateEval ev = run->surrogate;
  PetscInt          reason, unit = run->advance_steps; /* steps per step/advance */

  PetscFunctionBegin;
  *redo = PETSC_FALSE;
  if (!g || ev->disabled) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(GyreSurrogateEvalGuardCheck(ev, run->model, run->U, g->band, &reason));
  if (reason == GYRE_GUARD_NONE) PetscFunctionReturn(PETSC_SUCCESS);
  /* roll back; the caller redoes the step with the closure off */
  PetscCall(VecCopy(g->backup, run->U));
  ev->disabled              = PETSC_TRUE;
  g->off_until[run->member] = run->step + unit * (1 + g->cooldown);
  *redo                     = PETSC_TRUE;
  if (g->nev == g->cap) {
    GuardEvent *events;
    g->cap = g->cap ? 2 * g->cap : 16;
    PetscCall(PetscMalloc1(g->cap, &events));
    if (g->nev) PetscCall(PetscArraycpy(events, g->ev, g->nev));
    PetscCall(PetscFree(g->ev));
    g->ev = events;
  }
  PetscReal t     = (PetscReal) (run->step + unit) * run->dt;
  g->ev[g->nev++] = (GuardEvent){t, run->step + unit, run->member, reason};
  g->count[reason]++;
  PetscCall(PetscPrintf(run->comm,
                        "[guard] t = %g, step %" PetscInt_FMT ", member %" PetscInt_FMT
                        ": %s; %s, which stays off for %" PetscInt_FMT " %s\n",
                        (double) t, run->step + unit, run->member, ReasonNames[reason],
                        run->emulator ? "advance redone with physics instead of the surrogate"
                                      : "step redone without the surrogate",
                        g->cooldown, run->emulator ? "advances" : "steps"));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode GyreGuardOutputBegin(GyreRun *run, PetscInt member)
{
  GyreGuard         g  = run->guard;
  GyreSurrogateEval ev = run->surrogate;

  PetscFunctionBegin;
  if (!g) PetscFunctionReturn(PETSC_SUCCESS);
  g->saved_disabled = ev->disabled, g->saved_trip = ev->trip;
  SurrogateFor(run, member);
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode GyreGuardOutputRedo(GyreRun *run, PetscBool *redo)
{
  GyreGuard         g  = run->guard;
  GyreSurrogateEval ev = run->surrogate;
  PetscInt          r;

  PetscFunctionBegin;
  *redo = PETSC_FALSE;
  if (!g || ev->disabled) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(MPIU_Allreduce(&ev->trip, &r, 1, MPIU_INT, MPI_MAX, run->comm));
  if (r != GYRE_GUARD_NONE) *redo = ev->disabled = PETSC_TRUE;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode GyreGuardOutputEnd(GyreRun *run)
{
  GyreGuard         g  = run->guard;
  GyreSurrogateEval ev = run->surrogate;

  PetscFunctionBegin;
  if (!g) PetscFunctionReturn(PETSC_SUCCESS);
  ev->disabled = g->saved_disabled, ev->trip = g->saved_trip;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode GyreGuardSummary(GyreRun *run, char **events, char **summary)
{
  GyreGuard g = run->guard;
  size_t    len, off = 0;
  const int shown = 200; /* events listed in the attribute; the rest are counted */

  PetscFunctionBegin;
  *events = *summary = NULL;
  if (!g) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(PetscMalloc1(256, summary));
  snprintf(*summary, 256, /* (PETSc's own %g would print "6.") */
           "%ld events: %ld output NaN/Inf, %ld input out of range, %ld output out of range, %ld "
           "invariant out of band (sigma %g, band %g, cooldown %ld %s)",
           (long) g->nev, (long) g->count[GYRE_GUARD_NAN], (long) g->count[GYRE_GUARD_INPUT],
           (long) g->count[GYRE_GUARD_OUTPUT], (long) g->count[GYRE_GUARD_INVARIANT],
           (double) g->sigma, (double) g->band, (long) g->cooldown,
           run->emulator ? "advances" : "steps");
  len = 96 * (size_t) PetscMin(g->nev, shown) + 64;
  PetscCall(PetscMalloc1(len, events));
  (*events)[0] = 0;
  for (PetscInt i = 0; i < g->nev && i < shown; i++)
    off += (size_t) snprintf(*events + off, len - off,
                             "%st=%g step=%" PetscInt_FMT " member=%" PetscInt_FMT " %s",
                             i ? "; " : "", (double) g->ev[i].t, g->ev[i].step, g->ev[i].member,
                             ReasonNames[g->ev[i].reason]);
  if (g->nev > shown)
    snprintf(*events + off, len - off, "; ... and %" PetscInt_FMT " more", g->nev - shown);
  if (!g->nev) PetscCall(PetscStrncpy(*events, "none", len));
  if (!run->quiet || g->nev) PetscCall(PetscPrintf(run->comm, "[guard] %s\n", *summary));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ---- the guard's state in a checkpoint ---------------------------------------------------- */
PetscErrorCode GyreGuardDescribe(const GyreRun *run, char *buf, size_t n)
{
  const GyreGuard g = run->guard;

  PetscFunctionBegin;
  if (!run->surrogate)
    snprintf(buf, n, "none");
  else if (!g)
    snprintf(buf, n, "off");
  else {
    char a[32], b[32];
    int  len    = snprintf(buf, n, "sigma %s band %s cooldown %ld",
                           GyreNumberFormat(g->sigma, NULL, NULL, a, sizeof a),
                           GyreNumberFormat(g->band, NULL, NULL, b, sizeof b), (long) g->cooldown);
    char fb[32] = "none"; /* a closure's fallback (an emulator's is physics) */
    if (!run->emulator)
      PetscCall(PetscOptionsGetString(NULL, NULL, "-guard_fallback", fb, sizeof fb, NULL));
    if (!strcmp(fb, "polynomial") && len > 0 && (size_t) len < n) {
      PetscReal c[64];
      PetscInt  nc = 64;
      PetscCall(PetscOptionsGetRealArray(NULL, NULL, "-closure_coeffs", c, &nc, NULL));
      len += snprintf(buf + len, n - (size_t) len, " fallback polynomial");
      for (PetscInt i = 0; i < nc && len > 0 && (size_t) len < n; i++)
        len += snprintf(buf + len, n - (size_t) len, "%s%s", i ? "," : " ",
                        GyreNumberFormat(c[i], NULL, NULL, a, sizeof a));
    }
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

#define GUARD_FIELDS 4 /* an event's time, step, member and reason */

PetscErrorCode GyreGuardCheckpointDefine(GyreRun *run, GyreFile f, int varid[2])
{
  GyreGuard g = run->guard;

  PetscFunctionBegin;
  varid[0] = varid[1] = -1;
  if (!g) PetscFunctionReturn(PETSC_SUCCESS);
  GyreVarSpec off = {.name      = "guard_off_until",
                     .ndims     = 1,
                     .dims      = {"member"},
                     .long_name = "the guard: each member's first step with the surrogate back on "
                                  "(its cooldown)",
                     .units     = "1",
                     .precision = GYRE_DOUBLE};
  PetscCallGyre(run->comm, GyreFileDefineVar(f, &off, &varid[0]));
  if (g->nev) {
    GyreDimSpec n = {.name = "guard_events", .len = (size_t) g->nev};
    GyreDimSpec k = {.name = "guard_event_field", .len = GUARD_FIELDS};
    PetscCallGyre(run->comm, GyreFileDefineDim(f, &n));
    PetscCallGyre(run->comm, GyreFileDefineDim(f, &k));
    GyreVarSpec ev = {.name      = "guard_event",
                      .ndims     = 2,
                      .dims      = {"guard_events", "guard_event_field"},
                      .long_name = "the guard's events so far: time, step, member, reason "
                                   "(1 output NaN/Inf, 2 input, 3 output out of range, 4 "
                                   "invariant out of band)",
                      .units     = "1",
                      .precision = GYRE_DOUBLE};
    PetscCallGyre(run->comm, GyreFileDefineVar(f, &ev, &varid[1]));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode GyreGuardCheckpointWrite(GyreRun *run, GyreFile *f, const int varid[2])
{
  GyreGuard   g = run->guard;
  PetscMPIInt rank;
  double     *v;
  size_t      start[2] = {0, 0}, count[2];

  PetscFunctionBegin;
  if (!g) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCallMPI(MPI_Comm_rank(run->comm, &rank));
  const PetscInt nm = run->model->ensemble_size, n = PetscMax(nm, g->nev * GUARD_FIELDS);
  PetscCall(PetscMalloc1(n, &v));
  for (PetscInt e = 0; e < nm; e++)
    v[e] = (double) g->off_until[e];
  count[0]      = rank ? 0 : (size_t) nm; /* (the same on every rank: rank 0 writes it) */
  GyreStatus st = GyreFileWriteBlock(*f, varid[0], 0, start, count, v);
  if (!st && g->nev) {
    for (PetscInt i = 0; i < g->nev; i++) {
      const GuardEvent *a = &g->ev[i];
      double           *w = v + GUARD_FIELDS * i;
      w[0] = a->t, w[1] = (double) a->step, w[2] = (double) a->member, w[3] = (double) a->reason;
    }
    count[0] = rank ? 0 : (size_t) g->nev, count[1] = rank ? 0 : GUARD_FIELDS;
    st = GyreFileWriteBlock(*f, varid[1], 0, start, count, v);
  }
  PetscCall(PetscFree(v));
  if (st) GyreFileAbort(f); /* (the checkpoint before it stays) */
  PetscCallGyre(run->comm, st);
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode GyreGuardCheckpointRead(GyreRun *run, GyreFile f, const char *path)
{
  GyreGuard g = run->guard;
  int       ndims, has_time;
  size_t    lens[GYRE_IO_MAX_DIMS], start[2] = {0, 0}, count[2];
  char      names[GYRE_IO_MAX_DIMS][64];
  double   *v;

  PetscFunctionBegin;
  if (!g || GyreFileInqVar(f, "guard_off_until", &ndims, names, lens, &has_time) != GYRE_OK)
    PetscFunctionReturn(PETSC_SUCCESS); /* (a checkpoint without a guard's state) */
  const PetscInt nm = run->model->ensemble_size;
  PetscCheck(ndims == 1 && lens[0] == (size_t) nm, run->comm, PETSC_ERR_FILE_UNEXPECTED,
             "checkpoint '%s': guard_off_until is not one value a member", path);
  PetscCall(PetscMalloc1(nm, &v));
  count[0]      = (size_t) nm;
  GyreStatus st = GyreFileReadBlock(f, "guard_off_until", 0, start, count, v);
  for (PetscInt e = 0; !st && e < nm; e++)
    g->off_until[e] = (PetscInt) v[e];
  PetscCall(PetscFree(v));
  PetscCallGyre(run->comm, st);
  if (GyreFileInqVar(f, "guard_event", &ndims, names, lens, &has_time) != GYRE_OK)
    PetscFunctionReturn(PETSC_SUCCESS); /* (no event yet) */
  PetscCheck(ndims == 2 && lens[1] == GUARD_FIELDS && lens[0] <= (size_t) PETSC_MAX_INT / 8,
             run->comm, PETSC_ERR_FILE_UNEXPECTED,
             "checkpoint '%s': guard_event is not %d fields an event", path, GUARD_FIELDS);
  const PetscInt nev = (PetscInt) lens[0];
  PetscCall(PetscMalloc1(GUARD_FIELDS * nev, &v));
  count[0] = lens[0], count[1] = GUARD_FIELDS;
  st = GyreFileReadBlock(f, "guard_event", 0, start, count, v);
  if (!st) {
    PetscCall(PetscFree(g->ev));
    PetscCall(PetscMalloc1(nev, &g->ev));
    g->nev = g->cap = nev;
    PetscCall(PetscArrayzero(g->count, 5));
    for (PetscInt i = 0; i < nev; i++) {
      const double  *w  = v + GUARD_FIELDS * i;
      const double   wr = w[3];
      const PetscInt r  = (PetscInt) wr;
      if (!(r > 0 && r < 5 && wr == (double) r)) {
        char b[32];
        PetscCall(PetscFree(v)); /* (w with it: its value kept in wr) */
        SETERRQ(run->comm, PETSC_ERR_FILE_UNEXPECTED,
                "checkpoint '%s': guard event %" PetscInt_FMT " has no reason %s (1 to 4)", path, i,
                GyreNumberFormat(wr, NULL, NULL, b, sizeof b));
      }
      g->ev[i] = (GuardEvent){(PetscReal) w[0], (PetscInt) w[1], (PetscInt) w[2], r};
      g->count[r]++;
    }
  }
  PetscCall(PetscFree(v));
  PetscCallGyre(run->comm, st);
  PetscFunctionReturn(PETSC_SUCCESS);
}
