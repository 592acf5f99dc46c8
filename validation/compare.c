/* compare.c — `gyre compare REF TEST [-baseline BASE] -output metrics.nc`: the variables the
 * two files share, at the times they share, scored by lead time and as a climate.
 *
 * Decisions:
 * - Shared variables: record variables (first dimension `time`) of a numeric type present in
 *   both files. A variable present in both with other non-time dimensions is an error (a grid
 *   mismatch), not silently skipped. Shared times: REF's and TEST's times within -time_tol
 *   (absolute, 1e-6 by default); lead = t - (the first shared time).
 * - Parallel: the shared records are split in contiguous blocks over the ranks; each rank
 *   opens the files on MPI_COMM_SELF and reads its records (all members of a record on one
 *   rank: the CRPS and the spread need every member of a point). Per-lead values are computed
 *   whole on the rank owning the record and summed with zeros from the others, so they are
 *   bitwise the same on any rank count; the climate maps are sums over ranks (the same to
 *   round-off). The W1 distance gathers every sample on rank 0 (memory: twice the data of
 *   both files there) and sorts them, so it too is the same on any rank count.
 * - Members: per lead, RMSE, relative L2, bias and ACC are those of TEST member m against REF
 *   member m, averaged over the members. The CRPS takes each REF member in turn as the truth
 *   for TEST's ensemble at each point and averages (the expected CRPS against a truth drawn
 *   from REF's ensemble; REF's member mean is a smoothed field no run produces). The
 *   spread-skill ratio is sqrt(mean over points of TEST's unbiased member variance) over the
 *   RMSE of TEST's member mean against each REF member (averaged as a mean square).
 * - Anomalies for the ACC are taken against REF's time mean over the compared times, pooled
 *   over members (one climatology map per variable); the ACC is centred over the points.
 * - Climate statistics (time-mean and variance maps, W1) pool all compared times, points and
 *   members; variances are population variances (1/N).
 * - Stability: the first shared time at which TEST holds a NaN/Inf or |x| > -compare_blowup.
 *   A non-finite TEST record and every later one are left out of everything (their per-lead
 *   values are NaN, and the climate statistics cover the times before it); a finite value
 *   beyond the threshold is only reported. A non-finite REF value at any shared time is an
 *   error (on any rank count).
 * - Baseline: scored against REF at the times REF and TEST share (its per-lead values on TEST's
 *   leads, its climate distances over the same times as TEST's, for the similarity scores); a
 *   shared time the baseline lacks is an error, its other times are not read.
 * - PDFs: -compare_pdf_bins (50) equal bins from the smallest to the largest value of REF and
 *   TEST together, from the same sorted samples as W1 (so the same on any rank count).
 * - Conservation and spectra (compare_flow.c) are computed per record on its owner and summed
 *   like the per-lead values; the time-mean spectra then average the leads in order. Drift is
 *   X(lead)/X(0) - 1 of the member-mean energy (enstrophy), for REF and TEST alike; the log10
 *   spectral RMSE compares the time-mean spectra (validation/spectrum.c).
 * - Snapshots (for gyre report): member 0 of REF, TEST and TEST - REF at the first, middle and
 *   last compared record. */
#include "compare_impl.h"
#include <math.h>
#include <netcdf.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void GyreCompareOptionsDefault(GyreCompareOptions *o)
{
  memset(o, 0, sizeof *o);
  o->blowup   = 1e6;
  o->time_tol = 1e-6;
  o->pdf_bins = 50;
}

/* ---- files, variables, times ---------------------------------------------------------- */

/* Opens path on this rank alone; the status is agreed over comm. */
static GyreStatus OpenSelf(MPI_Comm comm, const char *path, GyreFile *f)
{
  return GyreStatusAgree(comm, GyreFileOpen(MPI_COMM_SELF, path, 0, f));
}

typedef struct {
  int  n;
  char names[GYRE_CMP_MAX_VARS * 4][64], units[GYRE_CMP_MAX_VARS * 4][64];
  char lnames[GYRE_CMP_MAX_VARS * 4][192];
  char time_units[128]; /* the time variable's ("" where none) */
} VarList;

/* a text attribute into buf ("" where absent, not text or too long for buf); its length where
 * too long, else 0 */
static size_t AttText(int ncid, int varid, const char *att, char *buf, size_t n)
{
  size_t  len;
  nc_type type;
  buf[0] = '\0';
  if (nc_inq_att(ncid, varid, att, &type, &len) || type != NC_CHAR) return 0;
  if (len + 1 > n) return len;
  nc_get_att_text(ncid, varid, att, buf);
  buf[len] = '\0';
  return 0;
}

/* a variable's units into buf; ones too long for it are kept as UNITS_TOO_LONG and what they
 * were, for SameUnits to refuse where they are compared (not taken as none) */
#define UNITS_TOO_LONG '\x01'
static void ReadUnits(int ncid, int varid, char *buf, size_t n)
{
  const size_t len = AttText(ncid, varid, "units", buf, n);
  char         why[96];
  if (!len) return;
  snprintf(why, sizeof why, "%c%zu characters, more than gyre compare reads (%zu)", UNITS_TOO_LONG,
           len, n - 1);
  snprintf(buf, n, "%s", why);
}

/* The numeric record variables of path (not the time variable itself). Not collective: each
 * rank reads the header (the file is not open elsewhere in this process). */
static GyreStatus ListRecordVars(const char *path, VarList *l)
{
  int ncid, nvars, tdim = -1, tvar = -1;

  l->n = 0;
  if (nc_open(path, NC_NOWRITE, &ncid))
    return GyreStatusSet(GYRE_ERR_IO, "cannot open '%s' to list its variables", path);
  if (nc_inq_unlimdim(ncid, &tdim) || tdim < 0) nc_inq_dimid(ncid, "time", &tdim);
  if (tdim >= 0) {
    char tn[NC_MAX_NAME + 1];
    nc_inq_dimname(ncid, tdim, tn);
    if (nc_inq_varid(ncid, tn, &tvar)) tvar = -1;
  }
  l->time_units[0] = '\0';
  if (tvar >= 0) ReadUnits(ncid, tvar, l->time_units, sizeof l->time_units);
  nc_inq_nvars(ncid, &nvars);
  for (int v = 0; v < nvars && tdim >= 0; v++) {
    int     nd, dimids[NC_MAX_VAR_DIMS];
    nc_type type;
    char    name[NC_MAX_NAME + 1];
    nc_inq_var(ncid, v, name, &type, &nd, dimids, NULL);
    if (v == tvar || nd < 1 || dimids[0] != tdim || type == NC_CHAR || type == NC_STRING ||
        strlen(name) >= 64 || l->n >= GYRE_CMP_MAX_VARS * 4)
      continue;
    snprintf(l->names[l->n], 64, "%s", name);
    ReadUnits(ncid, v, l->units[l->n], 64);
    AttText(ncid, v, "long_name", l->lnames[l->n], 192);
    l->n++;
  }
  nc_close(ncid);
  return GYRE_OK;
}

static int InList(const VarList *l, const char *name)
{
  for (int i = 0; i < l->n; i++)
    if (!strcmp(l->names[i], name)) return i;
  return -1;
}

static int InCsv(const char *csv, const char *name)
{
  size_t n = strlen(name);
  for (const char *s = csv; s && *s;) {
    const char *e = strchr(s, ',');
    size_t      k = e ? (size_t) (e - s) : strlen(s);
    if (k == n && !strncmp(s, name, n)) return 1;
    s = e ? e + 1 : NULL;
  }
  return 0;
}

static void DescribeDims(const GyreCmpVar *v, char *buf, size_t n)
{
  size_t used = 0;
  used += (size_t) snprintf(buf, n, "(");
  for (int d = 0; d < v->nd && used < n; d++)
    used +=
        (size_t) snprintf(buf + used, n - used, "%s%s=%zu", d ? ", " : "", v->dims[d], v->lens[d]);
  if (used < n) snprintf(buf + used, n - used, ")");
}

static GyreStatus InqVar(GyreFile f, const char *name, GyreCmpVar *v)
{
  int ht;
  memset(v, 0, sizeof *v);
  snprintf(v->name, sizeof v->name, "%s", name);
  GyreCall(GyreFileInqVar(f, name, &v->nd, v->dims, v->lens, &ht));
  v->mdim    = -1;
  v->members = 1;
  v->npts    = 1;
  for (int d = 0; d < v->nd; d++) {
    if (!strcmp(v->dims[d], "member") && v->mdim < 0) {
      v->mdim    = d;
      v->members = v->lens[d];
    } else
      v->npts *= v->lens[d];
  }
  return GYRE_OK;
}

/* "UNIT since DATE" parsed: the unit (its length) and the date's fields (missing ones 0);
 * 0 where u is not of that form. */
static int ParseSince(const char *u, size_t *unit_len, double f[6])
{
  const char *since = strstr(u, " since ");
  int         n;
  if (!since) return 0;
  *unit_len = (size_t) (since - u);
  for (int i = 0; i < 6; i++)
    f[i] = 0;
  n = sscanf(since + 7, "%lf-%lf-%lf%*[ T]%lf:%lf:%lf", &f[0], &f[1], &f[2], &f[3], &f[4], &f[5]);
  return n >= 3;
}

/* Whether two units attributes mean the same: equal, or "UNIT since DATE" with the same unit
 * and the same instant however it is written ("2000-01-01" and "2000-01-01 00:00:00", as
 * xarray rewrites it). */
static int SameMeaning(const char *a, const char *b)
{
  size_t la, lb;
  double fa[6], fb[6];
  if (!strcmp(a, b)) return 1;
  if (!ParseSince(a, &la, fa) || !ParseSince(b, &lb, fb) || la != lb || strncasecmp(a, b, la))
    return 0;
  for (int i = 0; i < 6; i++)
    if (fa[i] != fb[i]) return 0;
  return 1;
}

/* Units that both files state must be the same (times are matched, and fields differenced, as
 * numbers): "days since 2000-01-01" against "hours since 2000-01-01", or "m s-1" against
 * "km h-1", is an error naming both. Where either file states none, nothing can be checked. */
static GyreStatus SameUnits(const char *what, const char *ua, const char *pa, const char *ub,
                            const char *pb)
{
  if (ua[0] == UNITS_TOO_LONG || ub[0] == UNITS_TOO_LONG)
    return GyreStatusSet(GYRE_ERR_FORMAT, "%s: its units in '%s' are %s", what,
                         ua[0] == UNITS_TOO_LONG ? pa : pb,
                         (ua[0] == UNITS_TOO_LONG ? ua : ub) + 1);
  if (!ua[0] || !ub[0] || SameMeaning(ua, ub)) return GYRE_OK;
  return GyreStatusSet(GYRE_ERR_FORMAT,
                       "%s has units '%s' in '%s' but '%s' in '%s': convert one file first", what,
                       ua, pa, ub, pb);
}

/* The variables REF and TEST share (only those of o->vars when given). A shared name with
 * another grid is an error naming both files. Not collective (the same on every rank). */
static GyreStatus SharedVars(const GyreCompareOptions *o, GyreFile ref, GyreFile test,
                             const VarList *lr, const VarList *lt, int *nvars, GyreCmpVar *vars)
{
  *nvars = 0;
  for (const char *s = o->vars; s && *s;) {
    const char *e = strchr(s, ',');
    char        name[64];
    snprintf(name, sizeof name, "%.*s", (int) (e ? e - s : (long) strlen(s)), s);
    if (InList(lr, name) < 0 || InList(lt, name) < 0)
      return GyreStatusSet(GYRE_ERR_FORMAT,
                           "-compare_vars: '%s' is not a record variable of both '%s' and '%s'",
                           name, o->ref, o->test);
    s = e ? e + 1 : NULL;
  }
  for (int i = 0; i < lr->n; i++) {
    GyreCmpVar a, b;
    char       da[256], db[256];
    int        same;
    if (InList(lt, lr->names[i]) < 0 || (o->vars && !InCsv(o->vars, lr->names[i]))) continue;
    snprintf(da, sizeof da, "variable '%s'", lr->names[i]);
    GyreCall(SameUnits(da, lr->units[i], o->ref, lt->units[InList(lt, lr->names[i])], o->test));
    GyreCall(InqVar(ref, lr->names[i], &a));
    GyreCall(InqVar(test, lr->names[i], &b));
    same = a.nd == b.nd;
    for (int d = 0; same && d < a.nd; d++)
      same = !strcmp(a.dims[d], b.dims[d]) && a.lens[d] == b.lens[d];
    if (!same) {
      DescribeDims(&a, da, sizeof da);
      DescribeDims(&b, db, sizeof db);
      return GyreStatusSet(GYRE_ERR_FORMAT,
                           "variable '%s' is on different grids: %s in '%s', %s in '%s'", a.name,
                           da, o->ref, db, o->test);
    }
    if (*nvars >= GYRE_CMP_MAX_VARS)
      return GyreStatusSet(GYRE_ERR_ARG, "more than %d shared variables: choose with -compare_vars",
                           GYRE_CMP_MAX_VARS);
    snprintf(a.units, sizeof a.units, "%s", lr->units[i]);
    snprintf(a.long_name, sizeof a.long_name, "%s", lr->lnames[i]);
    vars[(*nvars)++] = a;
  }
  if (!*nvars)
    return GyreStatusSet(GYRE_ERR_FORMAT,
                         "'%s' and '%s' share no data variable (record variables with the "
                         "same name)",
                         o->ref, o->test);
  return GYRE_OK;
}

static GyreStatus Increasing(const char *path, size_t n, const double *t)
{
  for (size_t i = 0; i < n; i++)
    if (!isfinite(t[i]))
      return GyreStatusSet(GYRE_ERR_FORMAT, "the time of record %zu of '%s' is %g", i, path, t[i]);
  for (size_t i = 1; i < n; i++)
    if (!(t[i] > t[i - 1]))
      return GyreStatusSet(GYRE_ERR_FORMAT, "the times of '%s' are not increasing (record %zu)",
                           path, i);
  return GYRE_OK;
}

static double Cost(GyreFile f)
{
  double w;
  return GyreFileGetAttDouble(f, "stepping_wall_seconds", &w) == GYRE_OK && w >= 0 ? w : -1;
}

/* Opens ref and test on every rank (MPI_COMM_SELF) and matches their times. Collective. */
static GyreStatus OpenPair(MPI_Comm comm, const char *refp, const char *testp, double tol,
                           GyreCmpPair *p)
{
  size_t     nr = 0, nt = 0;
  double    *tr = NULL, *tt = NULL;
  GyreStatus st;

  memset(p, 0, sizeof *p);
  GyreCall(OpenSelf(comm, refp, &p->ref));
  GyreCall(OpenSelf(comm, testp, &p->test));
  st = GyreFileGetTimes(p->ref, &nr, &tr);
  if (st == GYRE_OK) st = GyreFileGetTimes(p->test, &nt, &tt);
  if (st == GYRE_OK) st = Increasing(refp, nr, tr);
  if (st == GYRE_OK) st = Increasing(testp, nt, tt);
  if (st == GYRE_OK) {
    size_t n = nr < nt ? nr : nt;
    p->iref  = malloc((n ? n : 1) * sizeof *p->iref);
    p->itest = malloc((n ? n : 1) * sizeof *p->itest);
    p->t     = malloc((n ? n : 1) * sizeof *p->t);
    if (!p->iref || !p->itest || !p->t)
      st = GyreStatusSet(GYRE_ERR_MEM, "out of memory matching the times");
  }
  for (size_t i = 0, j = 0; st == GYRE_OK && i < nr && j < nt;) {
    if (fabs(tr[i] - tt[j]) <= tol) {
      p->iref[p->nshared] = i, p->itest[p->nshared] = j, p->t[p->nshared++] = tr[i];
      i++, j++;
    } else if (tr[i] < tt[j])
      i++;
    else
      j++;
  }
  if (st == GYRE_OK && !p->nshared)
    st = nr && nt ? GyreStatusSet(GYRE_ERR_FORMAT,
                                  "'%s' (times %g to %g) and '%s' (times %g to %g) share no time "
                                  "(tolerance %g)",
                                  refp, tr[0], tr[nr - 1], testp, tt[0], tt[nt - 1], tol)
                  : GyreStatusSet(GYRE_ERR_FORMAT, "'%s' and '%s' share no time: %s has no records",
                                  refp, testp, nr ? testp : refp);
  if (st == GYRE_OK) {
    p->span_ref  = tr[nr - 1] - tr[0];
    p->span_test = tt[nt - 1] - tt[0];
    p->wall_ref  = Cost(p->ref);
    p->wall_test = Cost(p->test);
  }
  free(tr);
  free(tt);
  return GyreStatusAgree(comm, st);
}

static void ClosePair(GyreCmpPair *p)
{
  if (p->ref) GyreFileClose(&p->ref);
  if (p->test) GyreFileClose(&p->test);
  free(p->iref);
  free(p->itest);
  free(p->t);
  memset(p, 0, sizeof *p);
}

/* The baseline pair (REF, BASE) restricted to the times REF and TEST share, in their order, so
 * that its per-lead scores are on TEST's leads and its climate distances over the same times as
 * TEST's (the similarity scores compare the two); a shared time BASE lacks is an error. Not
 * collective (every rank computes the same). */
static GyreStatus OnSharedTimes(const GyreCompareOptions *o, const GyreCmpPair *pt, GyreCmpPair *pb)
{
  size_t *ib = malloc((pt->nshared ? pt->nshared : 1) * sizeof *ib);
  if (!ib) return GyreStatusSet(GYRE_ERR_MEM, "out of memory matching the baseline's times");
  for (size_t i = 0, j = 0; i < pt->nshared; i++) {
    while (j < pb->nshared && pb->iref[j] < pt->iref[i])
      j++;
    if (j == pb->nshared || pb->iref[j] != pt->iref[i]) {
      free(ib);
      return GyreStatusSet(GYRE_ERR_FORMAT,
                           "the baseline '%s' has no record at time %g, which '%s' and '%s' share "
                           "(times %g to %g): a baseline is scored at every time they share",
                           o->baseline, pt->t[i], o->ref, o->test, pt->t[0],
                           pt->t[pt->nshared - 1]);
    }
    ib[i] = pb->itest[j];
  }
  memcpy(pb->iref, pt->iref, pt->nshared * sizeof *pb->iref);
  memcpy(pb->itest, ib, pt->nshared * sizeof *ib);
  memcpy(pb->t, pt->t, pt->nshared * sizeof *pb->t);
  pb->nshared = pt->nshared;
  free(ib);
  return GYRE_OK;
}

/* ---- one variable ------------------------------------------------------------------- */

static void ResultFree(GyreCmpResult *r)
{
  free(r->rmse); /* one allocation holds every per-lead array */
  free(r->mean_ref);
  free(r->pdf_edges);
  free(r->wavenumber);
  free(r->snap);
  memset(r, 0, sizeof *r);
}

/* A record as read (C order over the variable's dimensions) to member-major order
 * [member][points], the points keeping their order. */
static void MemberMajor(const GyreCmpVar *v, const double *in, double *out)
{
  size_t outer = 1, inner = 1, M = v->members;
  if (v->mdim < 0) {
    memcpy(out, in, v->npts * sizeof *in);
    return;
  }
  for (int d = 0; d < v->mdim; d++)
    outer *= v->lens[d];
  for (int d = v->mdim + 1; d < v->nd; d++)
    inner *= v->lens[d];
  for (size_t o = 0; o < outer; o++)
    for (size_t m = 0; m < M; m++)
      memcpy(out + m * v->npts + o * inner, in + (o * M + m) * inner, inner * sizeof *in);
}

static int CmpDouble(const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return x < y ? -1 : x > y;
}

/* The rank owning record k when n records are split in contiguous blocks over size ranks. */
static int Owner(size_t n, int size, size_t k)
{
  for (int q = 0; q < size; q++)
    if (k < n * (size_t) (q + 1) / (size_t) size) return q;
  return size - 1;
}

/* Per-lead metrics of record data R, T (member-major, M members of P points) against the
 * climatology clim: into out[0..7] (rmse, rel_l2, bias, acc, crps, spread, ens_rmse, ssr). */
static void LeadMetrics(size_t M, size_t P, const double *R, const double *T, const double *clim,
                        double *aR, double *aT, double *ens, double out[8])
{
  memset(out, 0, 8 * sizeof *out);
  for (size_t m = 0; m < M; m++) {
    const double *r = R + m * P, *t = T + m * P;
    double        sse = 0, sb = 0, sr = 0;
    for (size_t p = 0; p < P; p++) {
      double d = t[p] - r[p];
      sse += d * d, sb += d, sr += r[p] * r[p];
      aR[p] = r[p] - clim[p], aT[p] = t[p] - clim[p];
    }
    out[0] += sqrt(sse / (double) P) / (double) M;
    out[1] += (sr > 0 ? sqrt(sse / sr) : NAN) / (double) M;
    out[2] += sb / (double) P / (double) M;
    out[3] += GyreMetricACC(P, aT, aR) / (double) M;
  }
  if (M < 2) return;
  {
    double crps = 0, var = 0, err2 = 0;
    for (size_t p = 0; p < P; p++) {
      double mean = 0, ss = 0;
      for (size_t m = 0; m < M; m++)
        ens[m] = T[m * P + p], mean += ens[m];
      mean /= (double) M;
      for (size_t m = 0; m < M; m++)
        ss += (ens[m] - mean) * (ens[m] - mean);
      var += ss / (double) (M - 1);
      qsort(ens, M, sizeof *ens, CmpDouble);
      for (size_t m = 0; m < M; m++) {
        double y = R[m * P + p];
        crps += GyreMetricCRPSSorted(M, ens, y);
        err2 += (mean - y) * (mean - y);
      }
    }
    out[4] = crps / (double) (M * P);
    out[5] = sqrt(var / (double) P);
    out[6] = sqrt(err2 / (double) (M * P));
    out[7] = out[6] > 0 ? out[5] / out[6] : NAN;
  }
}

/* Sums x over the ranks, in place. Collective. */
static GyreStatus Reduce(MPI_Comm comm, double *x, size_t n)
{
  int err = n > (size_t) 0x7fffffff ? MPI_ERR_COUNT : MPI_SUCCESS;
  if (!err) err = MPI_Allreduce(MPI_IN_PLACE, x, (int) n, MPI_DOUBLE, MPI_SUM, comm);
  return err ? GyreStatusSet(GYRE_ERR_MPI, "MPI_Allreduce of %zu values failed", n) : GYRE_OK;
}

/* Gathers every rank's nloc values of R and then of T, in rank order (that is, in record
 * order), into *all on rank 0 (2 * *total values; NULL elsewhere). Collective. */
static GyreStatus GatherAll(MPI_Comm comm, size_t nloc, const double *R, const double *T,
                            double **all, size_t *total)
{
  int        rank, size, cnt, *counts = NULL, *displs = NULL;
  long long  tot = 0, mine = (long long) nloc;
  GyreStatus st = GYRE_OK;

  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  *all = NULL;
  MPI_Allreduce(&mine, &tot, 1, MPI_LONG_LONG, MPI_SUM, comm);
  *total = (size_t) tot;
  if (tot > 0x7fffffffLL)
    return GyreStatusSet(GYRE_ERR_ARG,
                         "the climate statistics gather every sample on one rank: %lld values "
                         "per file are too many (at most 2^31 - 1)",
                         tot);
  if (rank == 0) {
    counts = malloc((size_t) size * sizeof *counts);
    displs = malloc((size_t) size * sizeof *displs);
    *all   = malloc((size_t) (2 * tot + 1) * sizeof **all);
    if (!counts || !displs || !*all) st = GyreStatusSet(GYRE_ERR_MEM, "out of memory for W1");
  }
  if ((st = GyreStatusAgree(comm, st)) == GYRE_OK) {
    cnt = (int) nloc;
    MPI_Gather(&cnt, 1, MPI_INT, counts, 1, MPI_INT, 0, comm);
    if (rank == 0)
      for (int q = 0, off = 0; q < size; q++)
        displs[q] = off, off += counts[q];
    MPI_Gatherv(R, cnt, MPI_DOUBLE, *all, counts, displs, MPI_DOUBLE, 0, comm);
    MPI_Gatherv(T, cnt, MPI_DOUBLE, rank == 0 ? *all + tot : NULL, counts, displs, MPI_DOUBLE, 0,
                comm);
  } else {
    free(*all);
    *all = NULL;
  }
  free(counts);
  free(displs);
  return st;
}

/* The histograms of REF's and TEST's sorted samples (n each) on r->pdf_bins common bins
 * spanning both (a unit-wide range around a constant sample; edges 0..bins and NaN densities
 * without samples). */
static void Pdfs(size_t n, const double *R, const double *T, GyreCmpResult *r)
{
  size_t nb = r->pdf_bins;
  double lo = 0, hi = (double) nb;
  if (n) {
    lo = R[0] < T[0] ? R[0] : T[0];
    hi = R[n - 1] > T[n - 1] ? R[n - 1] : T[n - 1];
    if (!(hi > lo)) lo -= 0.5, hi += 0.5;
  }
  for (size_t b = 0; b <= nb; b++)
    r->pdf_edges[b] = b == nb ? hi : lo + (hi - lo) * (double) b / (double) nb;
  GyreMetricHistogramSorted(n, R, nb, r->pdf_edges, r->pdf_ref);
  GyreMetricHistogramSorted(n, T, nb, r->pdf_edges, r->pdf_test);
}

/* The climate statistics from every sample (rank 0, in record order, so the same on any rank
 * count): time-mean and variance maps of REF and TEST pooled over members (maps: 4 * P
 * values), the RMSE of the maps, the exact W1 distance and the PDFs (sorts all). */
static void Climate(size_t total, size_t P, double *all, double *maps, GyreCmpResult *r)
{
  double *mR = maps, *mT = maps + P, *vR = maps + 2 * P, *vT = maps + 3 * P, *T = all + total;
  double  cnt = (double) (total / P);

  memset(maps, 0, 4 * P * sizeof *maps);
  for (size_t k = 0; k < total; k++)
    mR[k % P] += all[k], mT[k % P] += T[k];
  for (size_t k = 0; k < 2 * P; k++)
    mR[k] = total ? mR[k] / cnt : NAN;
  for (size_t k = 0; k < total; k++) {
    double dr = all[k] - mR[k % P], dt = T[k] - mT[k % P];
    vR[k % P] += dr * dr, vT[k % P] += dt * dt;
  }
  for (size_t k = 0; k < 2 * P; k++)
    vR[k] = total ? vR[k] / cnt : NAN;
  r->rmse_mean = r->rmse_var = 0;
  for (size_t k = 0; k < P; k++) {
    r->rmse_mean += (mT[k] - mR[k]) * (mT[k] - mR[k]);
    r->rmse_var += (vT[k] - vR[k]) * (vT[k] - vR[k]);
  }
  r->rmse_mean = sqrt(r->rmse_mean / (double) P);
  r->rmse_var  = sqrt(r->rmse_var / (double) P);
  r->w1        = NAN;
  if (total) {
    qsort(all, total, sizeof *all, CmpDouble);
    qsort(T, total, sizeof *T, CmpDouble);
    r->w1 = GyreMetricW1Sorted(total, all, total, T);
  }
  Pdfs(total, all, T, r);
}

/* The leads of the snapshots: the first, middle and last compared record (fewer when they
 * coincide; lead 0 when none is compared). */
static void SnapshotLeads(GyreCmpResult *r)
{
  size_t nv = r->nvalid, c[3] = {0, nv ? (nv - 1) / 2 : 0, nv ? nv - 1 : 0};
  r->nsnap = 0;
  for (int k = 0; k < 3; k++)
    if (!r->nsnap || c[k] != r->snap_lead[r->nsnap - 1]) r->snap_lead[r->nsnap++] = c[k];
}

/* The partner's (v's) record i of REF (w = 0) or TEST (w = 1), member-major, into Y (buf: N
 * values of scratch). A non-finite TEST value gives NaN (its own comparison reports it). */
static GyreStatus PartnerRecord(const GyreCmpPair *p, const GyreCmpVar *partner, size_t i, int w,
                                double *buf, double *Y)
{
  size_t     start[GYRE_IO_MAX_DIMS] = {0}, N = partner->members * partner->npts;
  GyreStatus st = GyreFileReadBlock(w ? p->test : p->ref, partner->name,
                                    w ? p->itest[i] : p->iref[i], start, partner->lens, buf);
  if (st == GYRE_ERR_NAN && w) {
    for (size_t k = 0; k < N; k++)
      Y[k] = NAN;
    return GYRE_OK;
  }
  GyreCall(st);
  MemberMajor(partner, buf, Y);
  return GYRE_OK;
}

/* Conservation, spectra and snapshots of this rank's compared records [r0, v1) of R and T
 * (member-major, N = M P per record), summed over the ranks and averaged in record order (the
 * same on any rank count); the per-lead energies go to lead + 8 n. partner: v when v is u.
 * Collective. */
static GyreStatus FlowAndSnapshots(MPI_Comm comm, const GyreCmpPair *pair, const GyreCmpVar *v,
                                   const GyreCmpVar *partner, size_t r0, size_t v1, const double *R,
                                   const double *T, double *lead, GyreCmpResult *r)
{
  size_t      n = pair->nshared, M = v->members, P = v->npts, N = M * P, S = 0, nv = r->nvalid;
  GyreCmpFlow fl;
  double     *spec = NULL, *Y = NULL;
  GyreStatus  st = GyreStatusAgree(comm, GyreCmpFlowCreate(pair->ref, v, partner, &fl));

  if (st != GYRE_OK) return st;
  r->spectral = fl.kind;
  r->nshell = S = fl.nshell;
  SnapshotLeads(r);
  r->snap = calloc(r->nsnap * 3 * P, sizeof *r->snap);
  if (S) {
    spec          = calloc(4 * S * n, sizeof *spec);
    r->wavenumber = calloc(5 * S, sizeof *r->wavenumber);
  }
  if (fl.kind == 3) Y = malloc(2 * N * sizeof *Y);
  if (!r->snap || (S && (!spec || !r->wavenumber)) || (fl.kind == 3 && !Y))
    st =
        GyreStatusSet(GYRE_ERR_MEM, "out of memory for the spectra and snapshots of '%s'", v->name);
  if ((st = GyreStatusAgree(comm, st)) != GYRE_OK) goto done;

  /* per record on its owner: energies [energy_ref, energy_test, enstrophy_ref, enstrophy_test]
   * at lead[(8 + q) n + i], spectra [ke_ref, ke_test, ens_ref, ens_test] at spec[(4 i + q) S] */
  for (size_t i = r0; st == GYRE_OK && i < v1; i++) {
    const double *X[2] = {R + (i - r0) * N, T + (i - r0) * N};
    for (int w = 0; st == GYRE_OK && w < 2; w++) {
      double q[2], *sp = spec ? spec + 4 * i * S : NULL;
      if (Y && (st = PartnerRecord(pair, partner, i, w, Y + N, Y)) != GYRE_OK) break;
      GyreCmpFlowRecord(&fl, M, P, X[w], Y, q, sp ? sp + w * S : NULL,
                        sp ? sp + (2 + w) * S : NULL);
      lead[(8 + w) * n + i]  = q[0];
      lead[(10 + w) * n + i] = q[1];
    }
    for (size_t k = 0, ns = r->nsnap; k < ns; k++) {
      double *sn = r->snap + k * P; /* [REF, TEST, TEST - REF][snapshot][point] */
      if (r->snap_lead[k] != i) continue;
      for (size_t p = 0; p < P; p++)
        sn[p] = X[0][p], sn[ns * P + p] = X[1][p], sn[2 * ns * P + p] = X[1][p] - X[0][p];
    }
  }
  if ((st = GyreStatusAgree(comm, st)) != GYRE_OK) goto done;
  if ((st = Reduce(comm, r->snap, r->nsnap * 3 * P)) != GYRE_OK) goto done;
  if (!nv)
    for (size_t k = 0; k < 3 * P; k++)
      r->snap[k] = NAN;
  if (S && (st = Reduce(comm, spec, 4 * S * n)) != GYRE_OK) goto done;
  if (S) {
    double *mean = r->wavenumber + S; /* ke_ref, ke_test, ens_ref, ens_test */
    for (size_t s = 0; s < S; s++)
      r->wavenumber[s] = GyreSpectrumWavenumber(fl.sp, s);
    for (size_t i = 0; i < nv; i++)
      for (size_t k = 0; k < 4 * S; k++)
        mean[k] += spec[4 * i * S + k];
    for (size_t k = 0; k < 4 * S; k++)
      mean[k] = nv ? mean[k] / (double) nv : NAN;
    r->ke_ref = mean, r->ke_test = mean + S, r->ens_ref = mean + 2 * S, r->ens_test = mean + 3 * S;
    r->rmse_log_ke  = fl.kind >= 2 ? GyreMetricLogSpectrumRMSE(S, r->ke_ref, r->ke_test) : NAN;
    r->rmse_log_ens = GyreMetricLogSpectrumRMSE(S, r->ens_ref, r->ens_test);
  }
done:
  free(spec);
  free(Y);
  GyreCmpFlowDestroy(&fl);
  return st;
}

/* Every metric of variable v for the pair p. Collective. */
static GyreStatus CompareVar(MPI_Comm comm, const GyreCmpPair *p, const GyreCmpVar *v,
                             const GyreCmpVar *partner, const GyreCompareOptions *o,
                             GyreCmpResult *r)
{
  double     threshold = o->blowup;
  int        rank, size;
  size_t     n = p->nshared, M = v->members, P = v->npts, N = M * P;
  size_t     r0, r1, bad = n, exceed = n, nvalid, v1, glob[2];
  size_t     start[GYRE_IO_MAX_DIMS] = {0};
  double    *R = NULL, *T = NULL, *buf = NULL, *scratch = NULL, *lead = NULL, *all = NULL;
  size_t     total      = 0;
  char       whatb[256] = "", whate[256] = "";
  GyreStatus st = GYRE_OK;

  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  memset(r, 0, sizeof *r);
  r0           = n * (size_t) rank / (size_t) size;
  r1           = n * (size_t) (rank + 1) / (size_t) size;
  r->nlead     = n;
  R            = malloc(((r1 - r0) * N + 1) * sizeof *R);
  T            = malloc(((r1 - r0) * N + 1) * sizeof *T);
  buf          = malloc(N * sizeof *buf);
  scratch      = malloc((2 * P + M) * sizeof *scratch);
  lead         = calloc(12 * n, sizeof *lead);
  r->rmse      = lead;
  r->mean_ref  = malloc(4 * P * sizeof(double));
  r->pdf_bins  = (size_t) o->pdf_bins;
  r->pdf_edges = malloc((3 * r->pdf_bins + 1) * sizeof(double));
  if (!R || !T || !buf || !scratch || !lead || !r->mean_ref || !r->pdf_edges)
    st = GyreStatusSet(GYRE_ERR_MEM, "out of memory comparing '%s'", v->name);

  /* this rank's records: REF must be finite at every shared time (on any rank count); TEST's
   * first non-finite record ends its comparison (its later records are not read) */
  for (size_t i = r0; st == GYRE_OK && i < r1; i++) {
    double *Ri = R + (i - r0) * N, *Ti = T + (i - r0) * N;
    st = GyreFileReadBlock(p->ref, v->name, p->iref[i], start, v->lens, buf);
    if (st != GYRE_OK) break;
    MemberMajor(v, buf, Ri);
    if (bad < n) continue;
    st = GyreFileReadBlock(p->test, v->name, p->itest[i], start, v->lens, buf);
    if (st == GYRE_ERR_NAN) {
      bad = i;
      snprintf(whatb, sizeof whatb, "%s", GyreStatusMessage());
      st = GYRE_OK;
      continue;
    }
    if (st != GYRE_OK) break;
    MemberMajor(v, buf, Ti);
    for (size_t k = 0; k < N && exceed == n; k++)
      if (fabs(Ti[k]) > threshold) {
        exceed = i;
        snprintf(whate, sizeof whate, "|%s| = %g > %g (-compare_blowup) at record %zu of '%s'",
                 v->name, fabs(Ti[k]), threshold, p->itest[i], GyreFilePath(p->test));
      }
  }
  if ((st = GyreStatusAgree(comm, st)) != GYRE_OK) goto done;
  glob[0] = bad, glob[1] = exceed;
  MPI_Allreduce(MPI_IN_PLACE, glob, 2, MPI_UNSIGNED_LONG, MPI_MIN, comm);
  nvalid = r->nvalid = glob[0];
  r->blowup_time     = NAN;
  if (glob[0] < n || glob[1] < n) {
    size_t k     = glob[0] < glob[1] ? glob[0] : glob[1];
    int    owner = Owner(n, size, k);
    snprintf(r->blowup_what, sizeof r->blowup_what, "%s", glob[0] < glob[1] ? whatb : whate);
    MPI_Bcast(r->blowup_what, sizeof r->blowup_what, MPI_CHAR, owner, comm);
    r->blowup_time = p->t[k];
  }
  v1 = r1 < nvalid ? r1 : nvalid; /* this rank's compared records: [r0, v1) */
  if (v1 < r0) v1 = r0;

  /* the climate statistics on rank 0, from every compared sample; the maps to every rank (the
   * ACC's climatology) */
  r->mean_test = r->mean_ref + P, r->var_ref = r->mean_ref + 2 * P,
  r->var_test = r->mean_ref + 3 * P;
  r->pdf_ref = r->pdf_edges + r->pdf_bins + 1, r->pdf_test = r->pdf_ref + r->pdf_bins;
  if ((st = GatherAll(comm, (v1 - r0) * N, R, T, &all, &total)) != GYRE_OK) goto done;
  if (rank == 0) Climate(total, P, all, r->mean_ref, r);
  free(all);
  all = NULL;
  MPI_Bcast(r->mean_ref, (int) (4 * P), MPI_DOUBLE, 0, comm);
  MPI_Bcast(&r->rmse_mean, 3, MPI_DOUBLE, 0, comm);
  MPI_Bcast(r->pdf_edges, (int) (3 * r->pdf_bins + 1), MPI_DOUBLE, 0, comm);

  /* per lead: each record on its owner, zeros elsewhere, summed */
  for (size_t i = r0; i < v1; i++) {
    double out[8];
    LeadMetrics(M, P, R + (i - r0) * N, T + (i - r0) * N, r->mean_ref, scratch, scratch + P,
                scratch + 2 * P, out);
    for (int j = 0; j < 8; j++)
      lead[j * n + i] = out[j];
  }
  if ((st = FlowAndSnapshots(comm, p, v, partner, r0, v1, R, T, lead, r)) != GYRE_OK) goto done;
  if ((st = Reduce(comm, lead, 12 * n)) != GYRE_OK) goto done;
  for (size_t i = nvalid; i < n; i++)
    for (int j = 0; j < 12; j++)
      lead[j * n + i] = NAN;
  r->energy_ref = lead + 8 * n, r->energy_test = lead + 9 * n;
  if (r->spectral >= 2) r->enstrophy_ref = lead + 10 * n, r->enstrophy_test = lead + 11 * n;
  r->rel_l2 = lead + n, r->bias = lead + 2 * n, r->acc = lead + 3 * n;
  if (M > 1)
    r->crps = lead + 4 * n, r->spread = lead + 5 * n, r->ens_rmse = lead + 6 * n,
    r->ssr = lead + 7 * n;

done:
  free(R);
  free(T);
  free(buf);
  free(scratch);
  return st;
}

/* ---- the command ------------------------------------------------------------------------ */

/* v for the variable u when both are 2-D fields on the same grid (compare_flow.c); else NULL. */
static const GyreCmpVar *VelocityPartner(int nvars, const GyreCmpVar *vars, const GyreCmpVar *u)
{
  if (strcmp(u->name, "u") || !GyreCmpSpectralKind(u)) return NULL;
  for (int i = 0; i < nvars; i++) {
    const GyreCmpVar *v    = &vars[i];
    int               same = !strcmp(v->name, "v") && v->nd == u->nd && v->mdim == u->mdim;
    for (int d = 0; same && d < u->nd; d++)
      same = !strcmp(v->dims[d], u->dims[d]) && v->lens[d] == u->lens[d];
    if (same) return v;
  }
  return NULL;
}

GyreStatus GyreCompare(MPI_Comm comm, const GyreCompareOptions *o)
{
  int           rank, size, nvars = 0;
  GyreStatus    st = GYRE_OK;
  GyreCmpPair   pt, pb;
  GyreCmpVar   *vars = NULL;
  GyreCmpResult res[GYRE_CMP_MAX_VARS], base[GYRE_CMP_MAX_VARS];
  VarList      *lr = NULL, *lt = NULL, *lb = NULL;

  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  memset(&pt, 0, sizeof pt), memset(&pb, 0, sizeof pb);
  memset(res, 0, sizeof res), memset(base, 0, sizeof base);
  if (!o->ref || !o->test || !o->output)
    return GyreStatusSet(GYRE_ERR_ARG, "gyre compare needs REF.nc TEST.nc and -output FILE");
  if (o->pdf_bins < 1 || o->pdf_bins > 100000)
    return GyreStatusSet(GYRE_ERR_ARG, "-compare_pdf_bins %d: expected 1 to 100000", o->pdf_bins);
  if (rank == 0 && !o->overwrite) {
    FILE *f = fopen(o->output, "r");
    if (f) {
      fclose(f);
      st = GyreStatusSet(GYRE_ERR_IO, "-output '%s' exists: remove it or give -output_overwrite",
                         o->output);
    }
  }
  GyreCall(GyreStatusAgree(comm, st));

  /* the files: each opened once to check it (clear messages), listed, then opened for good */
  lr = calloc(1, sizeof *lr), lt = calloc(1, sizeof *lt), lb = calloc(1, sizeof *lb);
  vars = calloc(GYRE_CMP_MAX_VARS, sizeof *vars);
  if (!lr || !lt || !lb || !vars) st = GyreStatusSet(GYRE_ERR_MEM, "out of memory");
  {
    const char *paths[3] = {o->ref, o->test, o->baseline};
    VarList    *lists[3] = {lr, lt, lb};
    const char *roles[3] = {"reference", "test", "baseline"};
    for (int k = 0; k < 3 && st == GYRE_OK; k++) {
      GyreFile f = NULL;
      if (!paths[k]) continue;
      st = GyreFileOpen(MPI_COMM_SELF, paths[k], 0, &f);
      if (st == GYRE_OK) st = GyreFileClose(&f);
      if (st == GYRE_OK) st = ListRecordVars(paths[k], lists[k]);
      if (st != GYRE_OK) { /* say which of the files it is */
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", GyreStatusMessage());
        st = GyreStatusSet(st, "%s file: %s", roles[k], msg);
      }
    }
  }
  if (st == GYRE_OK) st = SameUnits("time", lr->time_units, o->ref, lt->time_units, o->test);
  if (st == GYRE_OK && o->baseline) /* against REF's, or TEST's where REF states none */
    st = SameUnits("time", lr->time_units[0] ? lr->time_units : lt->time_units,
                   lr->time_units[0] ? o->ref : o->test, lb->time_units, o->baseline);
  st = GyreStatusAgree(comm, st);
  if (st == GYRE_OK) st = OpenPair(comm, o->ref, o->test, o->time_tol, &pt);
  if (st == GYRE_OK)
    st = GyreStatusAgree(comm, SharedVars(o, pt.ref, pt.test, lr, lt, &nvars, vars));
  if (st == GYRE_OK && o->baseline) {
    st = OpenPair(comm, o->ref, o->baseline, o->time_tol, &pb);
    if (st == GYRE_OK) st = GyreStatusAgree(comm, OnSharedTimes(o, &pt, &pb));
    for (int i = 0; st == GYRE_OK && i < nvars; i++) {
      GyreCmpVar b;
      char       da[256], db[256];
      int        same;
      if (InList(lb, vars[i].name) < 0) {
        st = GyreStatusSet(GYRE_ERR_FORMAT,
                           "the baseline '%s' has no record variable '%s' (shared by '%s' and "
                           "'%s')",
                           o->baseline, vars[i].name, o->ref, o->test);
        break;
      }
      snprintf(da, sizeof da, "variable '%s'", vars[i].name);
      { /* against REF's, or TEST's where REF states none */
        const char *ut = lt->units[InList(lt, vars[i].name)];
        st             = SameUnits(da, vars[i].units[0] ? vars[i].units : ut,
                       vars[i].units[0] ? o->ref : o->test, lb->units[InList(lb, vars[i].name)],
                                   o->baseline);
      }
      if (st != GYRE_OK) break;
      st   = InqVar(pb.test, vars[i].name, &b);
      same = st == GYRE_OK && b.nd == vars[i].nd;
      for (int d = 0; same && d < b.nd; d++)
        same = !strcmp(b.dims[d], vars[i].dims[d]) && b.lens[d] == vars[i].lens[d];
      if (st == GYRE_OK && !same) {
        DescribeDims(&vars[i], da, sizeof da);
        DescribeDims(&b, db, sizeof db);
        st = GyreStatusSet(GYRE_ERR_FORMAT,
                           "variable '%s' is on different grids: %s in '%s', %s in the baseline "
                           "'%s'",
                           b.name, da, o->ref, db, o->baseline);
      }
    }
    st = GyreStatusAgree(comm, st);
  }

  /* the metrics, variable by variable */
  for (int i = 0; st == GYRE_OK && i < nvars; i++) {
    const GyreCmpVar *partner = VelocityPartner(nvars, vars, &vars[i]);
    st                        = CompareVar(comm, &pt, &vars[i], partner, o, &res[i]);
    if (st == GYRE_OK && o->baseline) st = CompareVar(comm, &pb, &vars[i], partner, o, &base[i]);
  }

  /* rank 0 writes metrics.nc and the summary */
  if (st == GYRE_OK) {
    if (rank == 0) st = GyreCompareWrite(o, size, &pt, nvars, vars, res, o->baseline ? base : NULL);
    st = GyreStatusAgree(comm, st);
  }
  for (int i = 0; i < nvars; i++)
    ResultFree(&res[i]), ResultFree(&base[i]);
  ClosePair(&pt);
  ClosePair(&pb);
  free(lr), free(lt), free(lb), free(vars);
  return st;
}
