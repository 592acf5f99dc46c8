/* dataset.c — GyreDataset: samples from gyre NetCDF files, split, statistics, batches
 * (the API and the split/batch rules are in gyre_data.h).
 *
 * Reading and threads. Training ranks read DIFFERENT records (their own batch slices), so
 * the dataset does not use io's collective GyreFileReadBlock: every rank opens every file
 * serially and read-only (nc_open, NC_NOWRITE) and reads its own samples with
 * nc_get_vara_double, checking each value for NaN/Inf (GYRE_ERR_NAN naming file, variable,
 * record and index, as io does). No MPI call is ever made from the prefetch thread, so MPI
 * needs no thread support beyond MPI_THREAD_FUNNELED.
 *
 * Prefetch: GyreDatasetNextBatch joins the thread that read the ready batch, starts a new
 * pthread reading the following batch into the other of two buffers, and returns the ready
 * one. NetCDF is not thread-safe: every NetCDF call of this file holds one process-wide
 * mutex, and while a prefetch is in flight only that thread calls NetCDF from here. The
 * CALLER must not use NetCDF elsewhere (io/, writing a checkpoint) while a prefetch is in
 * flight: call GyreDatasetWait() first.
 *
 * Metadata (shapes, record counts) is read by every rank from every file; setup errors are
 * agreed with GyreStatusAgree so every rank returns the same message. */
#include "gyre_data.h"
#include "gyre_io.h"
#include <errno.h>
#include <glob.h>
#include <math.h>
#include <netcdf.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static pthread_mutex_t gyre_nc_mutex = PTHREAD_MUTEX_INITIALIZER;

typedef struct {
  int    file, member; /* member -1: the file has no member dimension */
  size_t nrec;
} Traj;

typedef struct {
  int     traj;
  int64_t rec; /* closure: t; emulator: t (newest input); operator: unused */
} FieldSample;

typedef struct GyreDataset_s {
  MPI_Comm           comm;
  int                rank, size;
  GyreDatasetOptions opts;
  char              *inputs[GYRE_DATA_MAX_VARS], *targets[GYRE_DATA_MAX_VARS];
  int                nin_vars, nout_vars, history;
  int                nfiles;
  char             **paths;
  int               *ncid;
  int               *has_member;
  int               *varid; /* [file][var], inputs then targets */
  GyreVarEncoding   *enc;   /* [file][var]: packing and missing values (gyre_io.h) */
  int                nspatial;
  size_t             ny, nx, npoints;
  Traj              *traj;
  int                ntraj;
  FieldSample       *fs[2];  /* field samples per split */
  int64_t            nfs[2]; /* field samples per split */
  char               split_desc[512];
  double             record_dt, dx, dy;                              /* from the first file */
  char               xname[NC_MAX_NAME + 1], yname[NC_MAX_NAME + 1]; /* spatial dimensions */
  char               fields[2][256], units[256];
  /* batching */
  long       epoch;
  int64_t   *perm;
  int64_t    next_batch, nbatches;
  GyreBatch  buf[2];
  int        fill; /* buffer the background read fills */
  int        inflight;
  pthread_t  thread;
  int64_t    thread_batch;
  GyreStatus thread_status;
  char       thread_msg[1024];
} GyreDataset_t;

void GyreDatasetOptionsDefault(GyreDatasetOptions *o)
{
  memset(o, 0, sizeof(*o));
  o->kind         = GYRE_SAMPLE_CLOSURE;
  o->history      = 1;
  o->lead         = 1;
  o->op_t0        = 0;
  o->op_t1        = -1;
  o->val_fraction = 0.2;
  o->batch        = 32;
  o->prefetch     = 1;
}

/* ---- files and metadata ------------------------------------------------------------- */

static int HasWildcard(const char *p)
{
  return strpbrk(p, "*?[") != NULL;
}

/* Rank 0 expands the pattern; the sorted list is broadcast. */
static GyreStatus ExpandPattern(GyreDataset ds, const char *pattern)
{
  GyreStatus st     = GYRE_OK;
  char      *packed = NULL;
  long       len    = 0;
  int        n      = 0;
  if (ds->rank == 0) {
    glob_t g;
    int    gr = glob(pattern, 0, NULL, &g); /* glob sorts the names */
    if (gr == GLOB_NOMATCH || (gr == 0 && g.gl_pathc == 0)) {
      struct stat sb;
      if (!HasWildcard(pattern) && stat(pattern, &sb) != 0)
        st = GyreStatusSet(GYRE_ERR_IO, "dataset: file '%s' does not exist", pattern);
      else
        st = GyreStatusSet(GYRE_ERR_IO, "dataset: no file matches '%s'", pattern);
    } else if (gr != 0) {
      st = GyreStatusSet(GYRE_ERR_IO, "dataset: cannot expand '%s' (glob error %d)", pattern, gr);
    } else {
      n = (int) g.gl_pathc;
      for (size_t i = 0; i < g.gl_pathc; i++)
        len += (long) strlen(g.gl_pathv[i]) + 1;
      packed  = malloc((size_t) len);
      char *p = packed;
      for (size_t i = 0; i < g.gl_pathc; i++) {
        strcpy(p, g.gl_pathv[i]);
        p += strlen(g.gl_pathv[i]) + 1;
      }
    }
    if (gr == 0 || gr == GLOB_NOMATCH) globfree(&g);
  }
  GyreCall(GyreStatusAgree(ds->comm, st));
  MPI_Bcast(&n, 1, MPI_INT, 0, ds->comm);
  MPI_Bcast(&len, 1, MPI_LONG, 0, ds->comm);
  if (ds->rank != 0) packed = malloc((size_t) len);
  MPI_Bcast(packed, (int) len, MPI_CHAR, 0, ds->comm);
  ds->nfiles = n;
  ds->paths  = calloc((size_t) n, sizeof(char *));
  char *p    = packed;
  for (int i = 0; i < n; i++) {
    ds->paths[i] = strdup(p);
    p += strlen(p) + 1;
  }
  free(packed);
  return GYRE_OK;
}

static const char *VarName(GyreDataset ds, int v)
{
  return v < ds->nin_vars ? ds->inputs[v] : ds->targets[v - ds->nin_vars];
}

static void ShapeString(int nd, char names[][NC_MAX_NAME + 1], const size_t *lens, char *buf,
                        size_t blen)
{
  size_t o = 0;
  o += (size_t) snprintf(buf + o, blen - o, "(");
  for (int d = 0; d < nd && o < blen; d++)
    o += (size_t) snprintf(buf + o, blen - o, "%s%s=%zu", d ? ", " : "", names[d], lens[d]);
  if (o < blen) snprintf(buf + o, blen - o, ")");
}

/* v[1] - v[0] of a 1-D coordinate variable of file ncid (0 when absent or shorter). */
static double Spacing(int ncid, const char *name)
{
  int    id, nd;
  size_t len;
  double v[2]     = {0, 0};
  size_t start[1] = {0}, count[1] = {2};
  int    dims[NC_MAX_VAR_DIMS];
  if (nc_inq_varid(ncid, name, &id) || nc_inq_varndims(ncid, id, &nd) || nd != 1 ||
      nc_inq_vardimid(ncid, id, dims) || nc_inq_dimlen(ncid, dims[0], &len) || len < 2 ||
      nc_get_vara_double(ncid, id, start, count, v))
    return 0;
  return v[1] - v[0];
}

/* A text attribute of variable name in file ncid into buf ("" where there is none). */
static void TextAtt(int ncid, const char *name, const char *att, char *buf, size_t n)
{
  size_t len = 0;
  int    id;
  buf[0] = 0;
  if (!nc_inq_varid(ncid, name, &id) && !nc_inq_attlen(ncid, id, att, &len) && len < n &&
      !nc_get_att_text(ncid, id, att, buf))
    buf[len] = 0;
}

/* What the model file records of the data, per file: every file must agree with the first */
typedef struct {
  double record_dt, dx, dy;
  char   time_units[128];
  char   units[2 * GYRE_DATA_MAX_VARS][128]; /* per variable ("1" where there is none) */
} FileDesc;

static void DescribeFile(GyreDataset ds, int f, FileDesc *d)
{
  int ncid     = ds->ncid[f];
  d->record_dt = Spacing(ncid, "time");
  d->dx        = Spacing(ncid, ds->xname);
  d->dy        = ds->nspatial == 2 ? Spacing(ncid, ds->yname) : 0;
  TextAtt(ncid, "time", "units", d->time_units, sizeof d->time_units);
  for (int v = 0; v < ds->nin_vars + ds->nout_vars; v++) {
    TextAtt(ncid, VarName(ds, v), "units", d->units[v], sizeof d->units[v]);
    if (!d->units[v][0]) snprintf(d->units[v], sizeof d->units[v], "1");
  }
}

static int Differ(double a, double b)
{
  return fabs(a - b) > 1e-6 * fmax(fabs(a), fabs(b));
}

/* Every file against the first: the units of each variable, the grid spacing, and for an
 * emulator (whose history and lead count records) the record spacing and the time units. One
 * model file records one of each. Holds the mutex. */
static GyreStatus CheckSameDescription(GyreDataset ds)
{
  FileDesc a, b;
  DescribeFile(ds, 0, &a);
  for (int f = 1; f < ds->nfiles; f++) {
    const char *p0 = ds->paths[0], *p = ds->paths[f];
    DescribeFile(ds, f, &b);
    for (int v = 0; v < ds->nin_vars + ds->nout_vars; v++)
      if (strcmp(a.units[v], b.units[v]))
        return GyreStatusSet(GYRE_ERR_FORMAT,
                             "dataset: variable '%s' is in '%s' in '%s' but in '%s' in '%s': "
                             "every data file needs the same units",
                             VarName(ds, v), b.units[v], p, a.units[v], p0);
    for (int k = 0; k < 2; k++) {
      const double sa = k ? a.dy : a.dx, sb = k ? b.dy : b.dx;
      if (sa && sb && Differ(sa, sb))
        return GyreStatusSet(GYRE_ERR_FORMAT,
                             "dataset: grid spacing mismatch: '%s' is %.9g apart in '%s' but %.9g "
                             "in '%s'",
                             k ? ds->yname : ds->xname, sb, p, sa, p0);
    }
    if (ds->opts.kind != GYRE_SAMPLE_EMULATOR) continue;
    /* the unit, not the reference date ("days since 2000-01-01" and "days since 1950-01-01":
     * the same spacing) */
    const char *sa = strstr(a.time_units, " since "), *sb = strstr(b.time_units, " since ");
    size_t      la = sa ? (size_t) (sa - a.time_units) : strlen(a.time_units);
    size_t      lb = sb ? (size_t) (sb - b.time_units) : strlen(b.time_units);
    if (la != lb || strncmp(a.time_units, b.time_units, la))
      return GyreStatusSet(GYRE_ERR_FORMAT,
                           "dataset: time is in '%s' in '%s' but in '%s' in '%s': an emulator's "
                           "history and lead count records, so every file needs the same time",
                           b.time_units, p, a.time_units, p0);
    if (a.record_dt && b.record_dt && Differ(a.record_dt, b.record_dt))
      return GyreStatusSet(GYRE_ERR_FORMAT,
                           "dataset: the records of '%s' are %.9g apart in time but those of '%s' "
                           "%.9g: an emulator's history and lead count records, so every file "
                           "needs the same spacing",
                           p, b.record_dt, p0, a.record_dt);
  }
  return GYRE_OK;
}

/* Grid spacing, record spacing, field names and units from the first file. Holds the mutex. */
static void DescribeFirstFile(GyreDataset ds)
{
  FileDesc d;
  DescribeFile(ds, 0, &d);
  ds->record_dt = d.record_dt, ds->dx = d.dx, ds->dy = d.dy;
  size_t uo = 0;
  for (int side = 0; side < 2; side++) {
    int    n0 = side ? ds->nin_vars : 0, n1 = side ? ds->nin_vars + ds->nout_vars : ds->nin_vars;
    size_t fo = 0;
    for (int v = n0; v < n1; v++) {
      const char *name  = VarName(ds, v);
      int         again = 0; /* an emulator's output is one of its inputs: its units once */
      fo += (size_t) snprintf(ds->fields[side] + fo, fo < 256 ? 256 - fo : 0, "%s%s",
                              v > n0 ? "," : "", name);
      for (int w = 0; side && w < ds->nin_vars; w++)
        again |= !strcmp(VarName(ds, w), name);
      if (!again)
        uo += (size_t) snprintf(ds->units + uo, uo < 256 ? 256 - uo : 0, "%s%s: %s", uo ? "; " : "",
                                name, d.units[v]);
    }
  }
}

/* The time coordinate of path (when it has one): finite and increasing, and for an emulator's
 * samples (history and lead count records) evenly spaced, to a relative 1e-6. */
static GyreStatus CheckTimes(int ncid, const char *path, size_t nrec, int even)
{
  int id, nd;
  if (nrec < 1 || nc_inq_varid(ncid, "time", &id) || nc_inq_varndims(ncid, id, &nd) || nd != 1)
    return GYRE_OK;
  double *t = malloc(nrec * sizeof *t);
  if (!t)
    return GyreStatusSet(GYRE_ERR_MEM, "dataset: out of memory reading the times of '%s'", path);
  GyreStatus st = GYRE_OK;
  if (nc_get_var_double(ncid, id, t))
    st = GyreStatusSet(GYRE_ERR_FORMAT, "dataset: cannot read the time coordinate of '%s'", path);
  for (size_t r = 0; !st && r < nrec; r++) {
    if (!isfinite(t[r]))
      st = GyreStatusSet(GYRE_ERR_FORMAT, "dataset: time %g of record %zu in '%s' is not finite",
                         t[r], r, path);
    else if (r > 0 && !(t[r] > t[r - 1]))
      st = GyreStatusSet(GYRE_ERR_FORMAT,
                         "dataset: the times of '%s' do not increase: record %zu is at %g, "
                         "record %zu at %g",
                         path, r - 1, t[r - 1], r, t[r]);
    else if (even && r > 1 && fabs((t[r] - t[r - 1]) - (t[1] - t[0])) > 1e-6 * fabs(t[1] - t[0]))
      st = GyreStatusSet(GYRE_ERR_FORMAT,
                         "dataset: the records of '%s' are not evenly spaced in time (%g after "
                         "record 0, %g after record %zu): an emulator's history and lead count "
                         "records",
                         path, t[1] - t[0], t[r] - t[r - 1], r - 1);
  }
  free(t);
  return st;
}

/* Opens file f and checks every variable; fills the grid on the first file. Holds the mutex. */
static GyreStatus InspectFile(GyreDataset ds, int f, char ref_shape[256], const char **ref_path,
                              const char **ref_var)
{
  const char *path = ds->paths[f];
  int         nv   = ds->nin_vars + ds->nout_vars, err;
  if ((err = nc_open(path, NC_NOWRITE, &ds->ncid[f])) != NC_NOERR) {
    ds->ncid[f] = -1;
    return GyreStatusSet(GYRE_ERR_IO, "dataset: cannot open '%s': %s", path, nc_strerror(err));
  }
  int    timedim;
  size_t nrec = 0;
  if (nc_inq_dimid(ds->ncid[f], "time", &timedim) != NC_NOERR ||
      nc_inq_dimlen(ds->ncid[f], timedim, &nrec) != NC_NOERR)
    return GyreStatusSet(GYRE_ERR_FORMAT, "dataset: '%s' has no time dimension", path);
  int nmem = -1;
  for (int v = 0; v < nv; v++) {
    const char *name = VarName(ds, v);
    int         id, nd, dims[NC_MAX_VAR_DIMS];
    if (nc_inq_varid(ds->ncid[f], name, &id) != NC_NOERR)
      return GyreStatusSet(GYRE_ERR_FORMAT, "dataset: variable '%s' not found in '%s'", name, path);
    nc_inq_varndims(ds->ncid[f], id, &nd);
    nc_inq_vardimid(ds->ncid[f], id, dims);
    if (nd < 2 || dims[0] != timedim)
      return GyreStatusSet(GYRE_ERR_FORMAT,
                           "dataset: variable '%s' in '%s' is not (time, [member,] [y,] x)", name,
                           path);
    char   names[NC_MAX_VAR_DIMS][NC_MAX_NAME + 1];
    size_t lens[NC_MAX_VAR_DIMS];
    for (int d = 1; d < nd; d++) {
      nc_inq_dimname(ds->ncid[f], dims[d], names[d - 1]);
      nc_inq_dimlen(ds->ncid[f], dims[d], &lens[d - 1]);
    }
    int hm = !strcmp(names[0], "member");
    int ns = nd - 1 - hm;
    if (ns < 1 || ns > 2)
      return GyreStatusSet(GYRE_ERR_FORMAT,
                           "dataset: variable '%s' in '%s' has %d spatial dimensions, expected 1 "
                           "or 2",
                           name, path, ns);
    int m = hm ? (int) lens[0] : -1;
    if (v == 0)
      nmem = m;
    else if (m != nmem)
      return GyreStatusSet(GYRE_ERR_FORMAT,
                           "dataset: variable '%s' in '%s' has %s member dimension than '%s'", name,
                           path, m < 0 ? "no" : "a different", VarName(ds, 0));
    char shape[256];
    ShapeString(ns, names + hm, lens + hm, shape, sizeof shape);
    if (!*ref_path) {
      strcpy(ref_shape, shape);
      *ref_path    = path;
      *ref_var     = name;
      ds->nspatial = ns;
      ds->ny       = ns == 2 ? lens[hm] : 1;
      ds->nx       = lens[hm + ns - 1];
      snprintf(ds->xname, sizeof ds->xname, "%s", names[hm + ns - 1]);
      snprintf(ds->yname, sizeof ds->yname, "%s", ns == 2 ? names[hm] : "");
      ds->npoints    = ds->ny * ds->nx;
      const size_t w = (size_t) (2 * ds->opts.stencil + 1); /* a stencil within the grid */
      if (ds->opts.per_point && ds->opts.stencil > 0 && (w > ds->nx || (ns == 2 && w > ds->ny)))
        return GyreStatusSet(GYRE_ERR_ARG,
                             "dataset: a stencil of %d points on each side (%zu wide) does not fit "
                             "the %s grid of '%s' in '%s'",
                             ds->opts.stencil, w, shape, name, path);
    } else if (strcmp(shape, ref_shape))
      return GyreStatusSet(GYRE_ERR_FORMAT,
                           "dataset: grid mismatch: variable '%s' in '%s' is %s but '%s' in '%s' "
                           "is %s",
                           name, path, shape, *ref_var, *ref_path, ref_shape);
    ds->varid[f * nv + v] = id;
    GyreVarEncodingRead(ds->ncid[f], id, &ds->enc[f * nv + v]);
  }
  ds->has_member[f] = nmem >= 0;
  for (int m = 0; m < (nmem < 0 ? 1 : nmem); m++) {
    ds->traj              = realloc(ds->traj, (size_t) (ds->ntraj + 1) * sizeof(Traj));
    ds->traj[ds->ntraj++] = (Traj){f, nmem < 0 ? -1 : m, nrec};
  }
  /* records needed */
  const GyreDatasetOptions *o = &ds->opts;
  if (o->kind == GYRE_SAMPLE_EMULATOR && nrec < (size_t) (ds->history + o->lead))
    return GyreStatusSet(GYRE_ERR_ARG,
                         "dataset: history %d + lead %d needs %d records but '%s' has %zu",
                         ds->history, o->lead, ds->history + o->lead, path, nrec);
  if (o->kind == GYRE_SAMPLE_OPERATOR) {
    long t1 = o->op_t1 < 0 ? (long) nrec - 1 : o->op_t1;
    if (o->op_t0 < 0 || o->op_t0 >= (long) nrec || t1 >= (long) nrec)
      return GyreStatusSet(GYRE_ERR_ARG,
                           "dataset: operator records %ld -> %ld but '%s' has %zu records",
                           o->op_t0, t1, path, nrec);
  }
  if (nrec == 0) return GyreStatusSet(GYRE_ERR_FORMAT, "dataset: '%s' has no records", path);
  return CheckTimes(ds->ncid[f], path, nrec, o->kind == GYRE_SAMPLE_EMULATOR);
}

/* ---- split -------------------------------------------------------------------------- */

static void AddSample(GyreDataset ds, int split, int traj, int64_t rec)
{
  if ((ds->nfs[split] & (ds->nfs[split] - 1)) == 0) /* grow at powers of two */
    ds->fs[split] = realloc(ds->fs[split], (size_t) (ds->nfs[split] ? 2 * ds->nfs[split] : 1) *
                                               sizeof(FieldSample));
  ds->fs[split][ds->nfs[split]++] = (FieldSample){traj, rec};
}

static GyreStatus BuildSplit(GyreDataset ds)
{
  const GyreDatasetOptions *o         = &ds->opts;
  int                       by_traj   = ds->ntraj >= 2;
  int                       nval_traj = 0;
  if (o->val_fraction > 0 && by_traj) {
    nval_traj = (int) lround(o->val_fraction * ds->ntraj);
    if (nval_traj < 1) nval_traj = 1;
    if (nval_traj > ds->ntraj - 1) nval_traj = ds->ntraj - 1;
  }
  if (o->kind == GYRE_SAMPLE_OPERATOR && o->val_fraction > 0 && !by_traj)
    return GyreStatusSet(GYRE_ERR_ARG,
                         "dataset: operator samples are one per trajectory: a validation split "
                         "needs >= 2 members or files, '%s' has 1",
                         o->pattern);
  size_t nval_rec_desc = 0;
  for (int j = 0; j < ds->ntraj; j++) {
    size_t  nrec     = ds->traj[j].nrec;
    int64_t hi       = (int64_t) nrec; /* record block of the train split (time split) */
    size_t  nval_rec = 0;
    if (!by_traj && o->val_fraction > 0) {
      nval_rec = (size_t) lround(o->val_fraction * (double) nrec);
      if (nval_rec < 1) nval_rec = 1;
      if (nval_rec > nrec - 1) nval_rec = nrec - 1;
      hi            = (int64_t) (nrec - nval_rec);
      nval_rec_desc = nval_rec;
    }
    int split_of_traj = by_traj && j >= ds->ntraj - nval_traj;
    if (o->kind == GYRE_SAMPLE_OPERATOR) {
      AddSample(ds, split_of_traj, j, 0);
      continue;
    }
    int64_t back = o->kind == GYRE_SAMPLE_EMULATOR ? ds->history - 1 : 0;
    int64_t fwd  = o->kind == GYRE_SAMPLE_EMULATOR ? o->lead : 0;
    for (int64_t t = back; t + fwd < (int64_t) nrec; t++) {
      if (by_traj || nval_rec == 0)
        AddSample(ds, split_of_traj, j, t);
      else if (t + fwd < hi)
        AddSample(ds, 0, j, t);
      else if (t - back >= hi)
        AddSample(ds, 1, j, t);
      /* else: straddles the boundary, dropped */
    }
  }
  if (ds->nfs[0] == 0)
    return GyreStatusSet(GYRE_ERR_ARG, "dataset: no training samples in '%s'", o->pattern);
  int64_t mult = (o->kind == GYRE_SAMPLE_CLOSURE && o->per_point) ? (int64_t) ds->npoints : 1;
  if (by_traj) {
    snprintf(ds->split_desc, sizeof ds->split_desc,
             "by trajectory (%s): %d of %d trajectories for training, the last %d for "
             "validation; %lld training and %lld validation samples",
             ds->nfiles > 1 ? "file x member, files sorted" : "ensemble member",
             ds->ntraj - nval_traj, ds->ntraj, nval_traj, (long long) (ds->nfs[0] * mult),
             (long long) (ds->nfs[1] * mult));
  } else {
    snprintf(ds->split_desc, sizeof ds->split_desc,
             "by time block: the last %zu of %zu records for validation, samples straddling "
             "the boundary dropped; %lld training and %lld validation samples",
             nval_rec_desc, ds->traj[0].nrec, (long long) (ds->nfs[0] * mult),
             (long long) (ds->nfs[1] * mult));
  }
  return GYRE_OK;
}

GyreStatus GyreDatasetCreate(MPI_Comm comm, const GyreDatasetOptions *opts, GyreDataset *out)
{
  *out          = NULL;
  GyreStatus st = GYRE_OK;
  if (!opts->pattern)
    st = GyreStatusSet(GYRE_ERR_ARG, "dataset: no file pattern given");
  else if (opts->ninputs < 1 || opts->ninputs > GYRE_DATA_MAX_VARS || opts->ntargets < 0 ||
           opts->ntargets > GYRE_DATA_MAX_VARS ||
           (opts->ntargets == 0 && opts->kind != GYRE_SAMPLE_EMULATOR))
    st = GyreStatusSet(GYRE_ERR_ARG, "dataset: need 1..%d input and target variables",
                       GYRE_DATA_MAX_VARS);
  else if (opts->kind == GYRE_SAMPLE_EMULATOR && (opts->history < 1 || opts->lead < 1))
    st = GyreStatusSet(GYRE_ERR_ARG, "dataset: emulator history (%d) and lead (%d) must be >= 1",
                       opts->history, opts->lead);
  else if (opts->val_fraction < 0 || opts->val_fraction >= 1)
    st = GyreStatusSet(GYRE_ERR_ARG, "dataset: validation fraction %g is not in [0, 1)",
                       opts->val_fraction);
  else if (opts->per_point && opts->kind != GYRE_SAMPLE_CLOSURE)
    st = GyreStatusSet(GYRE_ERR_ARG, "dataset: per-point samples are for closures only");
  else if (opts->stencil < 0)
    st = GyreStatusSet(GYRE_ERR_ARG, "dataset: stencil %d: expected 0 or more points a side",
                       opts->stencil);
  else if (opts->stencil > 0 && !opts->per_point)
    st = GyreStatusSet(GYRE_ERR_ARG,
                       "dataset: stencil %d: a stencil (1 or more points a side) is for per-point "
                       "samples only (-train_per_point 1)",
                       opts->stencil);
  int size;
  MPI_Comm_size(comm, &size);
  if (st == GYRE_OK && opts->batch < size)
    st = GyreStatusSet(GYRE_ERR_ARG, "dataset: global batch %d is smaller than the %d ranks",
                       opts->batch, size);
  int hist = opts->kind == GYRE_SAMPLE_EMULATOR ? opts->history : 1;
  if (st == GYRE_OK && opts->ninputs * hist > GYRE_DATA_MAX_CHANNELS)
    st = GyreStatusSet(GYRE_ERR_ARG, "dataset: %d input channels, at most %d", opts->ninputs * hist,
                       GYRE_DATA_MAX_CHANNELS);
  GyreCall(st);

  GyreDataset ds = calloc(1, sizeof(*ds));
  ds->comm       = comm;
  ds->rank       = 0;
  MPI_Comm_rank(comm, &ds->rank);
  ds->size     = size;
  ds->opts     = *opts;
  ds->history  = hist;
  ds->nin_vars = opts->ninputs;
  for (int v = 0; v < opts->ninputs; v++)
    ds->inputs[v] = strdup(opts->inputs[v]);
  ds->nout_vars = opts->ntargets ? opts->ntargets : opts->ninputs;
  for (int v = 0; v < ds->nout_vars; v++)
    ds->targets[v] = strdup(opts->ntargets ? opts->targets[v] : opts->inputs[v]);
  ds->opts.pattern = NULL; /* not kept */
  ds->epoch        = -1;

  if ((st = ExpandPattern(ds, opts->pattern)) != GYRE_OK) {
    GyreDatasetDestroy(&ds);
    return st;
  }
  int nv         = ds->nin_vars + ds->nout_vars;
  ds->ncid       = malloc((size_t) ds->nfiles * sizeof(int));
  ds->has_member = calloc((size_t) ds->nfiles, sizeof(int));
  ds->varid      = calloc((size_t) (ds->nfiles * nv), sizeof(int));
  ds->enc        = calloc((size_t) (ds->nfiles * nv), sizeof(GyreVarEncoding));
  for (int f = 0; f < ds->nfiles; f++)
    ds->ncid[f] = -1;
  char        ref_shape[256] = "";
  const char *ref_path = NULL, *ref_var = NULL;
  pthread_mutex_lock(&gyre_nc_mutex);
  for (int f = 0; f < ds->nfiles && st == GYRE_OK; f++)
    st = InspectFile(ds, f, ref_shape, &ref_path, &ref_var);
  if (st == GYRE_OK) st = CheckSameDescription(ds);
  if (st == GYRE_OK) DescribeFirstFile(ds);
  pthread_mutex_unlock(&gyre_nc_mutex);
  ds->opts.pattern = opts->pattern;
  if (st == GYRE_OK) st = BuildSplit(ds);
  ds->opts.pattern = NULL;
  if ((st = GyreStatusAgree(comm, st)) != GYRE_OK) {
    GyreDatasetDestroy(&ds);
    return st;
  }
  *out = ds;
  return GYRE_OK;
}

static int64_t SampleCount(GyreDataset ds, int split)
{
  int pp = ds->opts.kind == GYRE_SAMPLE_CLOSURE && ds->opts.per_point;
  return ds->nfs[split] * (pp ? (int64_t) ds->npoints : 1);
}

/* S: values per channel of a per-point sample (1 without a stencil or for fields) */
static size_t StencilSize(GyreDataset ds)
{
  int    pp = ds->opts.kind == GYRE_SAMPLE_CLOSURE && ds->opts.per_point;
  size_t w  = (size_t) (2 * ds->opts.stencil + 1);
  return pp ? (ds->nspatial == 2 ? w * w : w) : 1;
}

GyreStatus GyreDatasetGetInfo(GyreDataset ds, GyreDatasetInfo *info)
{
  memset(info, 0, sizeof(*info));
  info->nfiles       = ds->nfiles;
  info->ntraj        = ds->ntraj;
  info->nin          = ds->nin_vars * ds->history;
  info->nout         = ds->nout_vars;
  info->nspatial     = ds->nspatial;
  info->ny           = ds->ny;
  info->nx           = ds->nx;
  info->ntrain       = SampleCount(ds, 0);
  info->nval         = SampleCount(ds, 1);
  info->nbatches     = info->ntrain / ds->opts.batch;
  info->rank_batch   = ds->opts.batch / ds->size + (ds->rank < ds->opts.batch % ds->size);
  info->stencil_size = (int) StencilSize(ds);
  info->record_dt    = ds->record_dt;
  info->dx           = ds->dx;
  info->dy           = ds->dy;
  snprintf(info->input_fields, sizeof info->input_fields, "%s", ds->fields[0]);
  snprintf(info->output_fields, sizeof info->output_fields, "%s", ds->fields[1]);
  snprintf(info->units, sizeof info->units, "%s", ds->units);
  return GYRE_OK;
}

const char *GyreDatasetSplitString(GyreDataset ds)
{
  return ds->split_desc;
}

const char *GyreDatasetFile(GyreDataset ds, int i)
{
  return i >= 0 && i < ds->nfiles ? ds->paths[i] : NULL;
}

/* ---- reading samples ---------------------------------------------------------------- */

/* Reads one field (npoints values) of variable v of trajectory j at record rec into out.
 * Called with the mutex held. */
static GyreStatus ReadField(GyreDataset ds, int j, int v, int64_t rec, double *out)
{
  const Traj *tr = &ds->traj[j];
  int         nv = ds->nin_vars + ds->nout_vars, k = 0;
  size_t      start[4], count[4];
  start[k] = (size_t) rec, count[k++] = 1;
  if (tr->member >= 0) start[k] = (size_t) tr->member, count[k++] = 1;
  if (ds->nspatial == 2) start[k] = 0, count[k++] = ds->ny;
  start[k] = 0, count[k++] = ds->nx;
  int err = nc_get_vara_double(ds->ncid[tr->file], ds->varid[tr->file * nv + v], start, count, out);
  if (err != NC_NOERR)
    return GyreStatusSet(GYRE_ERR_IO, "dataset: reading '%s' record %lld from '%s': %s",
                         VarName(ds, v), (long long) rec, ds->paths[tr->file], nc_strerror(err));
  int          which;
  const size_t miss = GyreVarEncodingDecode(&ds->enc[tr->file * nv + v], out, ds->npoints, &which);
  for (size_t i = 0; i < ds->npoints; i++)
    if (!isfinite(out[i]) || i == miss) {
      char idx[96], what[160];
      if (tr->member >= 0 && ds->nspatial == 2)
        snprintf(idx, sizeof idx, "[%d, %zu, %zu]", tr->member, i / ds->nx, i % ds->nx);
      else if (tr->member >= 0)
        snprintf(idx, sizeof idx, "[%d, %zu]", tr->member, i);
      else if (ds->nspatial == 2)
        snprintf(idx, sizeof idx, "[%zu, %zu]", i / ds->nx, i % ds->nx);
      else
        snprintf(idx, sizeof idx, "[%zu]", i);
      if (i == miss) {
        GyreVarEncodingDescribe(&ds->enc[tr->file * nv + v], which, what, sizeof what);
        return GyreStatusSet(GYRE_ERR_FORMAT,
                             "'%s' variable '%s' at record %lld, index %s holds %s: training "
                             "takes complete fields",
                             ds->paths[tr->file], VarName(ds, v), (long long) rec, idx, what);
      }
      return GyreStatusSet(GYRE_ERR_NAN, "%s in '%s' variable '%s' at record %lld, index %s",
                           isnan(out[i]) ? "NaN" : "Inf", ds->paths[tr->file], VarName(ds, v),
                           (long long) rec, idx);
    }
  return GYRE_OK;
}

/* Input/output records of field sample s. */
static void SampleRecords(GyreDataset ds, const FieldSample *s, int64_t *in_last, int64_t *out)
{
  const Traj *tr = &ds->traj[s->traj];
  switch (ds->opts.kind) {
  case GYRE_SAMPLE_CLOSURE:
    *in_last = s->rec, *out = s->rec;
    break;
  case GYRE_SAMPLE_EMULATOR:
    *in_last = s->rec, *out = s->rec + ds->opts.lead;
    break;
  case GYRE_SAMPLE_OPERATOR:
    *in_last = ds->opts.op_t0;
    *out     = ds->opts.op_t1 < 0 ? (int64_t) tr->nrec - 1 : ds->opts.op_t1;
    break;
  }
}

static GyreStatus BatchReserve(GyreDataset ds, GyreBatch *b, int64_t n)
{
  int    pp  = ds->opts.kind == GYRE_SAMPLE_CLOSURE && ds->opts.per_point;
  size_t per = pp ? 1 : ds->npoints, S = StencilSize(ds);
  int    cin = ds->nin_vars * ds->history, cout = ds->nout_vars;
  size_t nin = (size_t) n * (size_t) cin * per * S, nout = (size_t) n * (size_t) cout * per;
  if (nin > b->cap_in) {
    float *in = realloc(b->input, nin * sizeof(float));
    if (!in)
      return GyreStatusSet(GYRE_ERR_MEM, "dataset: out of memory for a batch of %lld samples",
                           (long long) n);
    b->input = in, b->cap_in = nin;
  }
  if (nout > b->cap_out) {
    float *tg = realloc(b->target, nout * sizeof(float));
    if (!tg)
      return GyreStatusSet(GYRE_ERR_MEM, "dataset: out of memory for a batch of %lld samples",
                           (long long) n);
    b->target = tg, b->cap_out = nout;
  }
  if ((size_t) n > b->cap_n) {
    int64_t *ix = realloc(b->index, (size_t) n * sizeof(int64_t));
    if (!ix)
      return GyreStatusSet(GYRE_ERR_MEM, "dataset: out of memory for a batch of %lld samples",
                           (long long) n);
    b->index = ix, b->cap_n = (size_t) n;
  }
  b->n           = (int) n;
  b->in_shape[0] = b->out_shape[0] = n;
  b->in_shape[1]                   = cin * (int64_t) S;
  b->out_shape[1]                  = cout;
  if (pp)
    b->ndim = 2;
  else if (ds->nspatial == 1) {
    b->ndim        = 3;
    b->in_shape[2] = b->out_shape[2] = (int64_t) ds->nx;
  } else {
    b->ndim        = 4;
    b->in_shape[2] = b->out_shape[2] = (int64_t) ds->ny;
    b->in_shape[3] = b->out_shape[3] = (int64_t) ds->nx;
  }
  return GYRE_OK;
}

typedef struct {
  int64_t field, pos; /* field sample and position in the batch */
} PointRef;

static int ComparePointRef(const void *a, const void *b)
{
  const PointRef *x = a, *y = b;
  return x->field != y->field ? (x->field < y->field ? -1 : 1)
                              : (x->pos > y->pos) - (x->pos < y->pos);
}

/* Reads the fields of field sample s (inputs with history, then targets) into f, (cin + cout)
 * blocks of npoints. Holds the mutex. */
static GyreStatus ReadSampleFields(GyreDataset ds, const FieldSample *s, double *f)
{
  int64_t in_last = 0, out_rec = 0;
  size_t  np = ds->npoints;
  SampleRecords(ds, s, &in_last, &out_rec);
  for (int v = 0; v < ds->nin_vars; v++)
    for (int h = 0; h < ds->history; h++)
      GyreCall(ReadField(ds, s->traj, v, in_last - (ds->history - 1 - h),
                         f + (size_t) (v * ds->history + h) * np));
  for (int v = 0; v < ds->nout_vars; v++)
    GyreCall(ReadField(ds, s->traj, ds->nin_vars + v, out_rec,
                       f + (size_t) (ds->nin_vars * ds->history + v) * np));
  return GYRE_OK;
}

/* Per-point samples: the batch's samples grouped by field sample, so that each field is read
 * once per batch however many of its points the batch holds. Holds the mutex. */
static GyreStatus ReadPoints(GyreDataset ds, int split, const int64_t *list, int64_t n,
                             GyreBatch *b, double *f)
{
  size_t    np = ds->npoints, S = StencilSize(ds);
  int       cin = ds->nin_vars * ds->history, cout = ds->nout_vars;
  int       r = ds->opts.stencil, w = 2 * r + 1;
  int64_t   NX = (int64_t) ds->nx, NY = (int64_t) ds->ny;
  PointRef *ref = malloc((size_t) (n ? n : 1) * sizeof(PointRef));
  if (!ref) return GyreStatusSet(GYRE_ERR_MEM, "dataset: out of memory");
  for (int64_t i = 0; i < n; i++)
    ref[i] = (PointRef){list[i] / (int64_t) np, i};
  qsort(ref, (size_t) n, sizeof(PointRef), ComparePointRef);
  GyreStatus st = GYRE_OK;
  for (int64_t k = 0; k < n && st == GYRE_OK; k++) {
    if (k == 0 || ref[k].field != ref[k - 1].field)
      st = ReadSampleFields(ds, &ds->fs[split][ref[k].field], f);
    int64_t i = ref[k].pos, pt = list[i] % (int64_t) np;
    int64_t px = pt % NX, py = pt / NX;
    b->index[i] = list[i];
    for (int c = 0; c < cin && st == GYRE_OK; c++) { /* the stencil around pt, periodic */
      float *dst = b->input + ((size_t) i * (size_t) cin + (size_t) c) * S;
      for (size_t q = 0; q < S; q++) {
        int64_t dx = (int64_t) (q % (size_t) w) - r;
        int64_t dy = ds->nspatial == 2 ? (int64_t) (q / (size_t) w) - r : 0;
        int64_t x = ((px + dx) % NX + NX) % NX, y = ((py + dy) % NY + NY) % NY;
        dst[q] = (float) f[(size_t) c * np + (size_t) (y * NX + x)];
      }
    }
    for (int c = 0; c < cout && st == GYRE_OK; c++)
      b->target[(size_t) i * (size_t) cout + (size_t) c] =
          (float) f[(size_t) (cin + c) * np + (size_t) pt];
  }
  free(ref);
  return st;
}

/* Reads the samples list[0..n) (indices into split's sample list) into b. */
static GyreStatus ReadList(GyreDataset ds, int split, const int64_t *list, int64_t n, GyreBatch *b)
{
  GyreCall(BatchReserve(ds, b, n));
  int     pp  = ds->opts.kind == GYRE_SAMPLE_CLOSURE && ds->opts.per_point;
  size_t  np  = ds->npoints;
  int     cin = ds->nin_vars * ds->history, cout = ds->nout_vars;
  double *f = malloc((size_t) (cin + cout) * np * sizeof(double));
  if (!f) return GyreStatusSet(GYRE_ERR_MEM, "dataset: out of memory");
  GyreStatus st = GYRE_OK;
  pthread_mutex_lock(&gyre_nc_mutex);
  if (pp)
    st = ReadPoints(ds, split, list, n, b, f);
  else
    for (int64_t i = 0; i < n && st == GYRE_OK; i++) {
      b->index[i] = list[i];
      st          = ReadSampleFields(ds, &ds->fs[split][list[i]], f);
      for (size_t q = 0; q < (size_t) cin * np && st == GYRE_OK; q++)
        b->input[(size_t) i * (size_t) cin * np + q] = (float) f[q];
      for (size_t q = 0; q < (size_t) cout * np && st == GYRE_OK; q++)
        b->target[(size_t) i * (size_t) cout * np + q] = (float) f[(size_t) cin * np + q];
    }
  pthread_mutex_unlock(&gyre_nc_mutex);
  free(f);
  return st;
}

GyreStatus GyreDatasetReadSamples(GyreDataset ds, GyreSplit split, int64_t start, int64_t count,
                                  GyreBatch *batch)
{
  int64_t total = SampleCount(ds, split);
  if (start < 0 || count < 0 || start + count > total)
    return GyreStatusSet(GYRE_ERR_ARG, "dataset: samples [%lld, %lld) outside the %s set of %lld",
                         (long long) start, (long long) (start + count),
                         split == GYRE_SPLIT_TRAIN ? "training" : "validation", (long long) total);
  int64_t *list = malloc((size_t) (count ? count : 1) * sizeof(int64_t));
  for (int64_t i = 0; i < count; i++)
    list[i] = start + i;
  GyreStatus st = ReadList(ds, split, list, count, batch);
  free(list);
  batch->epoch = -1;
  batch->batch = -1;
  return st;
}

void GyreBatchFree(GyreBatch *b)
{
  free(b->input);
  free(b->target);
  free(b->index);
  memset(b, 0, sizeof(*b));
}

/* ---- normalisation ------------------------------------------------------------------ */

GyreStatus GyreDatasetComputeNormalization(GyreDataset ds, GyreNormalization *norm)
{
  GyreStatus st  = GyreDatasetWait(ds);
  int        cin = ds->nin_vars * ds->history, cout = ds->nout_vars, nc = cin + cout;
  memset(norm, 0, sizeof(*norm));
  norm->nin  = cin;
  norm->nout = cout;
  /* statistics over the training FIELD samples (per-point samples cover the same values) */
  int64_t nf = ds->nfs[0];
  int64_t lo = nf * ds->rank / ds->size, hi = nf * (ds->rank + 1) / ds->size;
  double *acc = calloc((size_t) (3 * nc), sizeof(double)); /* count, sum, sumsq */
  double  msmin[GYRE_DATA_MAX_CHANNELS], msmax[GYRE_DATA_MAX_CHANNELS];
  for (int c = 0; c < cin; c++)
    msmin[c] = INFINITY, msmax[c] = -INFINITY;
  GyreBatch b         = {0};
  int       pp        = ds->opts.per_point;
  ds->opts.per_point  = 0;
  const int64_t chunk = 16;
  for (int64_t s = lo; s < hi && st == GYRE_OK; s += chunk) {
    int64_t n = hi - s < chunk ? hi - s : chunk;
    int64_t list[16];
    for (int64_t i = 0; i < n; i++)
      list[i] = s + i;
    st = ReadList(ds, 0, list, n, &b);
    for (int64_t i = 0; i < n && st == GYRE_OK; i++)
      for (int c = 0; c < nc; c++) {
        const float *x =
            c < cin ? b.input + ((size_t) i * (size_t) cin + (size_t) c) * ds->npoints
                    : b.target + ((size_t) i * (size_t) cout + (size_t) (c - cin)) * ds->npoints;
        double sum = 0, sq = 0;
        for (size_t p = 0; p < ds->npoints; p++)
          sum += x[p], sq += (double) x[p] * x[p];
        acc[3 * c] += (double) ds->npoints;
        acc[3 * c + 1] += sum;
        acc[3 * c + 2] += sq;
        if (c < cin) {
          double ms = sq / (double) ds->npoints;
          if (ms < msmin[c]) msmin[c] = ms;
          if (ms > msmax[c]) msmax[c] = ms;
        }
      }
  }
  ds->opts.per_point = pp;
  GyreBatchFree(&b);
  if ((st = GyreStatusAgree(ds->comm, st)) != GYRE_OK) {
    free(acc);
    return st;
  }
  if (MPI_Allreduce(MPI_IN_PLACE, acc, 3 * nc, MPI_DOUBLE, MPI_SUM, ds->comm) != MPI_SUCCESS ||
      MPI_Allreduce(msmin, norm->in_ms_min, cin, MPI_DOUBLE, MPI_MIN, ds->comm) != MPI_SUCCESS ||
      MPI_Allreduce(msmax, norm->in_ms_max, cin, MPI_DOUBLE, MPI_MAX, ds->comm) != MPI_SUCCESS) {
    free(acc);
    return GyreStatusSet(GYRE_ERR_MPI, "dataset: MPI_Allreduce of the statistics failed");
  }
  for (int c = 0; c < nc; c++) {
    double n = acc[3 * c], mean = acc[3 * c + 1] / n;
    double var = acc[3 * c + 2] / n - mean * mean;
    double sd  = var > 0 ? sqrt(var) : 0;
    if (sd < 1e-12 * fabs(mean) + 1e-30) sd = 1;
    if (c < cin)
      norm->in_mean[c] = mean, norm->in_std[c] = sd;
    else
      norm->out_mean[c - cin] = mean, norm->out_std[c - cin] = sd;
    norm->count = n;
  }
  norm->has_band = 1;
  free(acc);
  return GYRE_OK;
}

void GyreNormalizationApply(const GyreNormalization *norm, GyreBatch *b)
{
  size_t vin = 1, vout = 1; /* values per sample */
  for (int d = 1; d < b->ndim; d++)
    vin *= (size_t) b->in_shape[d], vout *= (size_t) b->out_shape[d];
  size_t pin = vin / (size_t) norm->nin, pout = vout / (size_t) norm->nout;
  for (int i = 0; i < b->n; i++) {
    for (int c = 0; c < norm->nin; c++) {
      float *x = b->input + (size_t) i * vin + (size_t) c * pin;
      for (size_t p = 0; p < pin; p++)
        x[p] = (float) (((double) x[p] - norm->in_mean[c]) / norm->in_std[c]);
    }
    for (int c = 0; c < norm->nout; c++) {
      float *x = b->target + (size_t) i * vout + (size_t) c * pout;
      for (size_t p = 0; p < pout; p++)
        x[p] = (float) (((double) x[p] - norm->out_mean[c]) / norm->out_std[c]);
    }
  }
}

/* ---- epochs and batches ------------------------------------------------------------- */

/* Counter-based generator: splitmix64's finaliser of (seed, epoch, counter). */
static uint64_t Mix(uint64_t z)
{
  z += 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

static uint64_t Draw(uint64_t seed, long epoch, uint64_t i)
{
  return Mix(Mix(Mix(seed) ^ (uint64_t) epoch) ^ i);
}

GyreStatus GyreDatasetEpochPermutation(GyreDataset ds, long epoch, int64_t *perm)
{
  int64_t n = SampleCount(ds, 0);
  for (int64_t i = 0; i < n; i++)
    perm[i] = i;
  for (int64_t i = n - 1; i > 0; i--) { /* Fisher-Yates, draw i from counter i */
    int64_t j = (int64_t) (Draw(ds->opts.seed, epoch, (uint64_t) i) % (uint64_t) (i + 1));
    int64_t t = perm[i];
    perm[i]   = perm[j];
    perm[j]   = t;
  }
  return GYRE_OK;
}

static GyreStatus ReadBatch(GyreDataset ds, int64_t b, GyreBatch *out)
{
  int64_t    B = ds->opts.batch, q = B / ds->size, r = B % ds->size;
  int64_t    off = ds->rank * q + (ds->rank < r ? ds->rank : r);
  int64_t    n   = q + (ds->rank < r);
  GyreStatus st  = ReadList(ds, 0, ds->perm + b * B + off, n, out);
  out->epoch     = ds->epoch;
  out->batch     = (long) b;
  return st;
}

static void *PrefetchMain(void *arg)
{
  GyreDataset ds    = arg;
  ds->thread_status = ReadBatch(ds, ds->thread_batch, &ds->buf[ds->fill]);
  if (ds->thread_status != GYRE_OK)
    snprintf(ds->thread_msg, sizeof ds->thread_msg, "%s", GyreStatusMessage());
  return NULL;
}

/* Starts a background read of batch b into buf[fill]. */
static GyreStatus StartRead(GyreDataset ds, int64_t b, int fill)
{
  ds->thread_batch  = b;
  ds->fill          = fill;
  ds->thread_status = GYRE_OK;
  ds->thread_msg[0] = 0;
  if (pthread_create(&ds->thread, NULL, PrefetchMain, ds))
    return GyreStatusSet(GYRE_ERR_INTERNAL, "dataset: cannot start the prefetch thread");
  ds->inflight = 1;
  return GYRE_OK;
}

GyreStatus GyreDatasetWait(GyreDataset ds)
{
  if (!ds || !ds->inflight) return GYRE_OK;
  pthread_join(ds->thread, NULL);
  ds->inflight = 0;
  if (ds->thread_status != GYRE_OK) return GyreStatusSet(ds->thread_status, "%s", ds->thread_msg);
  return GYRE_OK;
}

GyreStatus GyreDatasetStartEpoch(GyreDataset ds, long epoch)
{
  return GyreDatasetStartEpochAt(ds, epoch, 0);
}

GyreStatus GyreDatasetStartEpochAt(GyreDataset ds, long epoch, int64_t first)
{
  (void) GyreDatasetWait(ds); /* a read of the previous epoch, if any */
  int64_t n = SampleCount(ds, 0);
  free(ds->perm);
  ds->perm = malloc((size_t) (n ? n : 1) * sizeof(int64_t));
  if (!ds->perm) return GyreStatusSet(GYRE_ERR_MEM, "dataset: out of memory (permutation)");
  GyreCall(GyreDatasetEpochPermutation(ds, epoch, ds->perm));
  ds->epoch    = epoch;
  ds->nbatches = n / ds->opts.batch; /* the last partial batch is dropped */
  if (first < 0 || first > ds->nbatches)
    return GyreStatusSet(GYRE_ERR_ARG, "dataset: epoch %ld has %lld batches, cannot start at %lld",
                         epoch, (long long) ds->nbatches, (long long) first);
  ds->next_batch = first;
  if (ds->opts.prefetch && first < ds->nbatches) GyreCall(StartRead(ds, first, 0));
  return GYRE_OK;
}

GyreStatus GyreDatasetNextBatch(GyreDataset ds, GyreBatch **batch)
{
  *batch = NULL;
  if (ds->epoch < 0)
    return GyreStatusSet(GYRE_ERR_ARG, "dataset: GyreDatasetStartEpoch was not called");
  if (ds->next_batch >= ds->nbatches) return GYRE_OK;
  if (!ds->opts.prefetch) {
    GyreCall(ReadBatch(ds, ds->next_batch++, &ds->buf[0]));
    *batch = &ds->buf[0];
    return GYRE_OK;
  }
  GyreCall(GyreDatasetWait(ds)); /* buf[fill] now holds batch next_batch */
  int cur = ds->fill;
  ds->next_batch++;
  /* read the following batch into the other buffer while the caller uses this one */
  if (ds->next_batch < ds->nbatches) GyreCall(StartRead(ds, ds->next_batch, 1 - cur));
  *batch = &ds->buf[cur];
  return GYRE_OK;
}

GyreStatus GyreDatasetDestroy(GyreDataset *pds)
{
  GyreDataset ds = *pds;
  if (!ds) return GYRE_OK;
  (void) GyreDatasetWait(ds);
  pthread_mutex_lock(&gyre_nc_mutex);
  for (int f = 0; f < ds->nfiles; f++)
    if (ds->ncid && ds->ncid[f] >= 0) nc_close(ds->ncid[f]);
  pthread_mutex_unlock(&gyre_nc_mutex);
  for (int f = 0; f < ds->nfiles; f++)
    free(ds->paths[f]);
  for (int v = 0; v < GYRE_DATA_MAX_VARS; v++)
    free(ds->inputs[v]), free(ds->targets[v]);
  free(ds->paths);
  free(ds->ncid);
  free(ds->has_member);
  free(ds->varid);
  free(ds->enc);
  free(ds->traj);
  free(ds->fs[0]);
  free(ds->fs[1]);
  free(ds->perm);
  GyreBatchFree(&ds->buf[0]);
  GyreBatchFree(&ds->buf[0 + 1]);
  free(ds);
  *pds = NULL;
  return GYRE_OK;
}
