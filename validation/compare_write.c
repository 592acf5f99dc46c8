/* compare_write.c — gyre compare's outputs: metrics.nc (CF-1.8, written atomically on one
 * rank through io/) and the one-page summary on stdout.
 *
 * metrics.nc, for each compared variable V (names of the per-lead variables:
 *   rmse_V(lead), rel_l2_V(lead), bias_V(lead), acc_V(lead)
 *   with a member dimension also crps_V, spread_V, ens_mean_rmse_V, spread_skill_V (lead)
 *   time_mean_ref_V, time_mean_test_V, variance_ref_V, variance_test_V (V's non-member dims)
 *   rmse_time_mean_V, rmse_variance_V, w1_V, blowup_time_V (scalars; blowup_time_V NaN: none)
 *   with -baseline: similarity_time_mean_V, similarity_variance_V, similarity_w1_V (NaN and a
 *   comment where D(BASE, REF) = 0), and BASE's rmse_baseline_V(lead), acc_baseline_V(lead)
 *   conservation: energy_{ref,test}_V(lead), energy_drift_{ref,test}_V(lead) = E/E(0) - 1,
 *   energy_drift_final_{ref,test}_V (at the last compared lead); for a vorticity the same for
 *   enstrophy_* (compare_flow.c says what the energy of each kind of variable is)
 *   PDFs: pdf_ref_V(pdf_bin_V), pdf_test_V(pdf_bin_V), densities on common bins whose edges
 *   are the coordinate pdf_edge_V (pdf_bin_V holds the centres)
 *   2-D fields on (y, x), time-mean isotropic spectra over the coordinate wavenumber: for a
 *   vorticity ke_spectrum_{ref,test}_V, enstrophy_spectrum_{ref,test}_V and the RMSEs of
 *   their log10, rmse_log_ke_spectrum_V, rmse_log_enstrophy_spectrum_V; for another 2-D field
 *   power_spectrum_{ref,test}_V, rmse_log_power_spectrum_V
 *   snapshots for gyre report: snapshot_{ref,test,error}_V(snapshot_V, V's non-member dims),
 *   member 0 at the first, middle and last compared lead (the coordinate snapshot_V)
 * lead is model time after the first shared time, in the files' model time units ("1": gyre's
 * non-dimensional time). Global attributes: the provenance, the files compared, the cost. */
#include "compare_impl.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

static GyreStatus DefVar(GyreFile f, const char *prefix, const GyreCmpVar *v, int ndims,
                         const char *const *dims, const char *long_name, const char *units,
                         const char *comment, int *id)
{
  char        name[160], ln[320];
  GyreVarSpec s = {0};
  snprintf(name, sizeof name, "%s%s", prefix, v->name);
  snprintf(ln, sizeof ln, "%s of %s", long_name, v->long_name[0] ? v->long_name : v->name);
  s.name  = name;
  s.ndims = ndims;
  for (int d = 0; d < ndims; d++)
    s.dims[d] = dims[d];
  s.long_name = ln;
  s.units     = units;
  s.comment   = comment;
  s.precision = GYRE_DOUBLE;
  s.has_time  = 0;
  return GyreFileDefineVar(f, &s, id);
}

/* Why the similarity against the baseline b, of distance db, is undefined; NULL where it is
 * defined. A baseline that is NaN/Inf from the first shared time has no distance at all. */
static const char *SimilarityUndefined(const GyreCmpResult *b, double db)
{
  if (b->nvalid == 0) return "the baseline is NaN/Inf at the first shared time";
  if (db > 0) return NULL;
  return db == 0 ? "D(BASE,REF) = 0, the baseline equals the reference" : "D(BASE,REF) is NaN";
}

/* Ross et al.'s 1 - D(TEST,REF)/D(BASE,REF); NaN where SimilarityUndefined says why */
static double Similarity(double dt, const GyreCmpResult *b, double db)
{
  return SimilarityUndefined(b, db) ? NAN : 1 - dt / db;
}

static double PerTime(double wall, double span)
{
  return wall >= 0 && span > 0 ? wall / span : NAN;
}

/* Whether the metrics file names something of its own name (lead, wavenumber, pdf_bin_V,
 * pdf_edge_V, snapshot_V, and every metric of a compared variable V: PREFIX_V), or it is taken
 * by another spatial dimension: REF's name of one of the compared variables' dimensions, or the
 * name one was given (defined[k][1]). */
static int DimNameTaken(const char *name, int nvars, const GyreCmpVar *vars, char defined[][2][64],
                        int ndefined)
{
  static const char *const whole[] = {"lead", "wavenumber"};
  static const char *const pre[]   = {"pdf_bin_", "pdf_edge_", "snapshot_"};
  const size_t             n       = strlen(name);
  for (int i = 0; i < 2; i++)
    if (!strcmp(name, whole[i])) return 1;
  for (int i = 0; i < 3; i++)
    if (!strncmp(name, pre[i], strlen(pre[i]))) return 1;
  for (int i = 0; i < nvars; i++) {
    const size_t m = strlen(vars[i].name);
    if (n > m + 1 && name[n - m - 1] == '_' && !strcmp(name + n - m, vars[i].name)) return 1;
  }
  for (int k = 0; k < ndefined; k++)
    if (!strcmp(name, defined[k][1])) return 1;
  return 0;
}

/* whether name is REF's name of a dimension of one of the compared variables */
static int RefDimName(const char *name, int nvars, const GyreCmpVar *vars)
{
  for (int i = 0; i < nvars; i++)
    for (int d = 0; d < vars[i].nd; d++)
      if (!strcmp(name, vars[i].dims[d])) return 1;
  return 0;
}

/* The name a spatial dimension of REF has in the metrics file: its own, unless that is taken
 * (DimNameTaken): then with "_space" appended (then "_space2", ...), a name no other REF
 * dimension has (REF's name goes in the coordinate's long_name). */
static void SpatialDimName(const char *ref_name, int nvars, const GyreCmpVar *vars,
                           char defined[][2][64], int ndefined, char as[64])
{
  int k = 0;
  snprintf(as, 64, "%s", ref_name);
  while (DimNameTaken(as, nvars, vars, defined, ndefined) || (k > 0 && RefDimName(as, nvars, vars)))
    snprintf(as, 64, "%.46s_space%.0d", ref_name, ++k > 1 ? k : 0);
}

/* the non-member dimensions of v, defined in the file once each, with REF's coordinates;
 * defined[k][0] holds REF's name and defined[k][1] the file's (dims[] points there) */
static GyreStatus DefineSpatialDims(GyreFile out, GyreFile ref, int nvars, const GyreCmpVar *vars,
                                    const GyreCmpVar *v, char defined[][2][64], int *ndefined,
                                    const char **dims, int *nd)
{
  *nd = 0;
  for (int d = 0; d < v->nd; d++) {
    int     seen = -1, has_time, cnd;
    char    cdims[GYRE_IO_MAX_DIMS][64], ln[160];
    size_t  clen[GYRE_IO_MAX_DIMS], start = 0;
    double *values = NULL;
    if (d == v->mdim) continue;
    for (int k = 0; k < *ndefined; k++)
      if (!strcmp(defined[k][0], v->dims[d])) seen = k;
    if (seen >= 0) {
      dims[(*nd)++] = defined[seen][1];
      continue;
    }
    char *as = defined[*ndefined][1];
    snprintf(defined[*ndefined][0], 64, "%s", v->dims[d]);
    SpatialDimName(v->dims[d], nvars, vars, defined, *ndefined, as);
    (*ndefined)++;
    dims[(*nd)++] = as;
    /* a 1-D coordinate variable of the same name in REF gives the values */
    if (GyreFileInqVar(ref, v->dims[d], &cnd, cdims, clen, &has_time) == GYRE_OK && !has_time &&
        cnd == 1 && clen[0] == v->lens[d] && (values = malloc(clen[0] * sizeof *values)) &&
        GyreFileReadBlock(ref, v->dims[d], 0, &start, clen, values) != GYRE_OK) {
      free(values);
      values = NULL;
    }
    {
      GyreDimSpec ds = {0};
      GyreStatus  st;
      snprintf(ln, sizeof ln, "coordinate copied from the reference file%s%s%s",
               strcmp(as, v->dims[d]) ? " (named '" : "", strcmp(as, v->dims[d]) ? v->dims[d] : "",
               strcmp(as, v->dims[d]) ? "' there)" : "");
      ds.name      = as;
      ds.len       = v->lens[d];
      ds.values    = values;
      ds.units     = values ? "1" : NULL;
      ds.long_name = values ? ln : NULL;
      st           = GyreFileDefineDim(out, &ds);
      free(values);
      GyreCall(st);
    }
  }
  return GYRE_OK;
}

/* Variables defined now and written after the define mode: their data and counts. */
typedef struct {
  int           id;
  const double *data;
  size_t        count[GYRE_IO_MAX_DIMS];
} Pending;

typedef struct {
  Pending *p;
  int      n, cap;
} PendingList;

/* Defines prefix + v's name over dims (counts: their lengths) and queues data to be written. */
static GyreStatus DefPending(GyreFile f, PendingList *l, const char *prefix, const GyreCmpVar *v,
                             int nd, const char *const *dims, const size_t *counts,
                             const char *long_name, const char *units, const char *comment,
                             const double *data)
{
  Pending *q;
  if (l->n == l->cap) {
    int cap = l->cap ? 2 * l->cap : 64;
    if (!(q = realloc(l->p, (size_t) cap * sizeof *q)))
      return GyreStatusSet(GYRE_ERR_MEM, "out of memory defining metrics");
    l->p = q, l->cap = cap;
  }
  q = &l->p[l->n];
  memset(q, 0, sizeof *q);
  q->data = data;
  for (int d = 0; d < nd; d++)
    q->count[d] = counts[d];
  GyreCall(DefVar(f, prefix, v, nd, dims, long_name, units, comment, &q->id));
  l->n++;
  return GYRE_OK;
}

/* A dimension named prefix + v's name with coordinate values. */
static GyreStatus DefCoord(GyreFile f, const char *prefix, const GyreCmpVar *v, size_t len,
                           const double *values, const char *long_name, char *name, size_t n)
{
  GyreDimSpec ds = {0};
  snprintf(name, n, "%s%s", prefix, v->name);
  ds.name      = name;
  ds.len       = len;
  ds.values    = values;
  ds.units     = "1";
  ds.long_name = long_name;
  return GyreFileDefineDim(f, &ds);
}

/* The numbers derived for writing from one variable's results: drifts X(t)/X(0) - 1 of the
 * energy and enstrophy of REF and TEST (4 n) and their final values (4; at the last compared
 * lead), the PDF bin centres, the snapshot leads. */
typedef struct {
  double *drift, final[4], *centres, snap_lead[3];
} Derived;

/* The drift q(i)/q(0) - 1; NaN (undefined) where q(0) is zero. */
static double Drift(const double *q, size_t i)
{
  return q && q[0] != 0 ? q[i] / q[0] - 1 : NAN;
}

/* The drift for the summary: signed, or why it is undefined. */
static const char *DriftText(char *buf, size_t n, const double *q, size_t i)
{
  if (q[0] != 0)
    snprintf(buf, n, "%+.4g", Drift(q, i));
  else
    snprintf(buf, n, "undefined (zero at lead 0, %.4g at the end)", q[i]);
  return buf;
}

static GyreStatus Derive(const GyreCmpPair *p, const GyreCmpResult *r, Derived *d)
{
  size_t        n = r->nlead, last = r->nvalid ? r->nvalid - 1 : 0;
  const double *q[4] = {r->energy_ref, r->energy_test, r->enstrophy_ref, r->enstrophy_test};
  d->drift           = malloc((4 * n + r->pdf_bins) * sizeof *d->drift);
  if (!d->drift) return GyreStatusSet(GYRE_ERR_MEM, "out of memory writing the metrics");
  d->centres = d->drift + 4 * n;
  for (int k = 0; k < 4; k++) {
    for (size_t i = 0; i < n; i++)
      d->drift[k * n + i] = Drift(q[k], i);
    d->final[k] = r->nvalid ? d->drift[k * n + last] : NAN;
  }
  for (size_t b = 0; b < r->pdf_bins; b++)
    d->centres[b] = (r->pdf_edges[b] + r->pdf_edges[b + 1]) / 2;
  for (size_t k = 0; k < r->nsnap; k++)
    d->snap_lead[k] = p->t[r->snap_lead[k]] - p->t[0];
  return GYRE_OK;
}

/* The conservation, PDF, spectrum and snapshot variables of v. */
static GyreStatus DefineFlow(GyreFile f, PendingList *l, const GyreCmpVar *v, size_t n,
                             const GyreCmpResult *r, const Derived *d, int *wavenumber_defined,
                             const char **sdims, const size_t *slens, int snd, const char *u1,
                             const char *u2)
{
  static const char *lead_dim[1] = {"lead"};
  const char        *qn[2]       = {"energy", "enstrophy"};
  const char        *qln[2]      = {r->spectral >= 2 ? "kinetic energy per unit area"
                                                     : "energy mean(V^2)/2 over the points",
                        "enstrophy mean(vorticity^2)/2"};
  char          name[160], ln[256], bin[160], edge[160], snap[160];
  const char   *dims[GYRE_IO_MAX_DIMS + 1];
  size_t        counts[GYRE_IO_MAX_DIMS + 1];
  const double *qv[4] = {r->energy_ref, r->energy_test, r->enstrophy_ref, r->enstrophy_test};

  /* conservation */
  for (int q = 0; q < (r->spectral >= 2 ? 2 : 1); q++)
    for (int w = 0; w < 2; w++) {
      const char *who = w ? "test" : "ref", *WHO = w ? "TEST" : "REF";
      snprintf(name, sizeof name, "%s_%s_", qn[q], who);
      snprintf(ln, sizeof ln, "%s %s (member mean)", WHO, qln[q]);
      GyreCall(DefPending(f, l, name, v, 1, lead_dim, &n, ln, r->spectral >= 2 ? "1" : u2, NULL,
                          qv[2 * q + w]));
      snprintf(name, sizeof name, "%s_drift_%s_", qn[q], who);
      snprintf(ln, sizeof ln, "%s %s drift %s(lead)/%s(0) - 1 (NaN where %s(0) = 0)", WHO, qn[q],
               qn[q], qn[q], qn[q]);
      GyreCall(
          DefPending(f, l, name, v, 1, lead_dim, &n, ln, "1", NULL, d->drift + (2 * q + w) * n));
      snprintf(name, sizeof name, "%s_drift_final_%s_", qn[q], who);
      snprintf(ln, sizeof ln, "%s %s drift at the last compared lead", WHO, qn[q]);
      GyreCall(DefPending(f, l, name, v, 0, NULL, NULL, ln, "1", NULL, &d->final[2 * q + w]));
    }

  /* PDFs on common bins */
  GyreCall(DefCoord(f, "pdf_bin_", v, r->pdf_bins, d->centres, "PDF bin centre", bin, sizeof bin));
  GyreCall(DefCoord(f, "pdf_edge_", v, r->pdf_bins + 1, r->pdf_edges, "PDF bin edges", edge,
                    sizeof edge));
  dims[0] = bin;
  {
    char u[128];
    snprintf(u, sizeof u, strcmp(u1, "1") ? "(%s)^-1" : "1", u1);
    GyreCall(DefPending(f, l, "pdf_ref_", v, 1, dims, &r->pdf_bins, "REF probability density", u,
                        "histogram density on the common bins (pdf_edge_*): count / (N width), "
                        "every compared time, point and member",
                        r->pdf_ref));
    GyreCall(DefPending(f, l, "pdf_test_", v, 1, dims, &r->pdf_bins, "TEST probability density", u,
                        "histogram density on the same bins as pdf_ref", r->pdf_test));
  }

  /* spectra of 2-D fields */
  if (r->spectral) {
    static const char *wn[1] = {"wavenumber"};
    const char        *cm    = r->spectral == 3
                                   ? "of the flow (u, v): isotropic, time mean over the compared times and "
                                     "members; shell n: (n - 1/2) dk <= |k| < (n + 1/2) dk"
                                   : "isotropic, time mean over the compared times and members; shell n: "
                                     "(n - 1/2) dk <= |k| < (n + 1/2) dk";
    if (!*wavenumber_defined) {
      GyreDimSpec ds = {0};
      ds.name        = "wavenumber";
      ds.len         = r->nshell;
      ds.values      = r->wavenumber;
      ds.units       = "1";
      ds.long_name   = "isotropic wavenumber |k| of the shell (2 pi / domain length per mode)";
      GyreCall(GyreFileDefineDim(f, &ds));
      *wavenumber_defined = 1;
    }
    if (r->spectral >= 2) {
      GyreCall(DefPending(f, l, "ke_spectrum_ref_", v, 1, wn, &r->nshell,
                          "REF kinetic-energy spectrum", "1", cm, r->ke_ref));
      GyreCall(DefPending(f, l, "ke_spectrum_test_", v, 1, wn, &r->nshell,
                          "TEST kinetic-energy spectrum", "1", cm, r->ke_test));
      GyreCall(DefPending(
          f, l, "rmse_log_ke_spectrum_", v, 0, NULL, NULL,
          "RMSE of log10 kinetic-energy spectra (TEST vs REF)", "1",
          "shells 1..K, log10 of the time-mean spectra, floored at 1e-14 x REF's largest",
          &r->rmse_log_ke));
    }
    snprintf(name, sizeof name, "%s_spectrum_", r->spectral >= 2 ? "enstrophy" : "power");
    snprintf(ln, sizeof ln, "%s_spectrum_ref_", r->spectral >= 2 ? "enstrophy" : "power");
    GyreCall(DefPending(f, l, ln, v, 1, wn, &r->nshell,
                        r->spectral >= 2 ? "REF enstrophy spectrum" : "REF variance spectrum",
                        r->spectral >= 2 ? "1" : u2, cm, r->ens_ref));
    snprintf(ln, sizeof ln, "%s_spectrum_test_", r->spectral >= 2 ? "enstrophy" : "power");
    GyreCall(DefPending(f, l, ln, v, 1, wn, &r->nshell,
                        r->spectral >= 2 ? "TEST enstrophy spectrum" : "TEST variance spectrum",
                        r->spectral >= 2 ? "1" : u2, cm, r->ens_test));
    snprintf(ln, sizeof ln, "rmse_log_%s", name);
    GyreCall(
        DefPending(f, l, ln, v, 0, NULL, NULL, "RMSE of log10 spectra (TEST vs REF)", "1",
                   "shells 1..K, log10 of the time-mean spectra, floored at 1e-14 x REF's largest",
                   &r->rmse_log_ens));
  }

  /* snapshots of member 0 */
  GyreCall(DefCoord(f, "snapshot_", v, r->nsnap, d->snap_lead,
                    "lead of the snapshot (first, middle, last compared time)", snap, sizeof snap));
  dims[0] = snap, counts[0] = r->nsnap;
  for (int k = 0; k < snd; k++)
    dims[k + 1] = sdims[k], counts[k + 1] = slens[k];
  {
    const char *pre[3] = {"snapshot_ref_", "snapshot_test_", "snapshot_error_"};
    const char *lns[3] = {"REF snapshot", "TEST snapshot", "snapshot error TEST - REF"};
    size_t      P      = v->npts;
    for (int w = 0; w < 3; w++)
      GyreCall(DefPending(f, l, pre[w], v, snd + 1, dims, counts, lns[w], u1,
                          v->members > 1 ? "member 0" : NULL, r->snap + (size_t) w * r->nsnap * P));
  }
  return GYRE_OK;
}

static void Units(const char *u, const char *fmt, char *buf, size_t n)
{
  if (!u[0] || !strcmp(u, "1"))
    snprintf(buf, n, "1");
  else
    snprintf(buf, n, fmt, u);
}

static GyreStatus WriteFile(const GyreCompareOptions *o, int mpi_size, const GyreCmpPair *p,
                            int nvars, const GyreCmpVar *vars, const GyreCmpResult *res,
                            const GyreCmpResult *base, PendingList *pl, Derived *der, GyreFile f)
{
  int                wavenumber_defined = 0;
  static const char *lead_dim[1]        = {"lead"};
  char               defined[GYRE_CMP_MAX_VARS * GYRE_IO_MAX_DIMS][2][64];
  int                ndefined = 0, ids[GYRE_CMP_MAX_VARS][20];
  size_t             n = p->nshared, zero[GYRE_IO_MAX_DIMS] = {0};
  double            *lead = malloc((n ? n : 1) * sizeof *lead);
  GyreProvenance     prov = {0};
  char               buf[1024];

  if (!lead) return GyreStatusSet(GYRE_ERR_MEM, "out of memory writing '%s'", o->output);
  for (size_t i = 0; i < n; i++)
    lead[i] = p->t[i] - p->t[0];
  {
    GyreDimSpec ds = {0};
    GyreStatus  st;
    ds.name      = "lead";
    ds.len       = n;
    ds.values    = lead;
    ds.units     = "1";
    ds.long_name = "lead time: model time after the first shared time";
    st           = GyreFileDefineDim(f, &ds);
    if (st != GYRE_OK) free(lead);
    GyreCall(st);
  }
  GyreCall(GyreFilePutVarAttText(f, "lead", "comment",
                                 "non-dimensional model time (the files' time axis), not days"));
  for (int i = 0; i < nvars; i++) {
    const GyreCmpVar *v = &vars[i];
    const char       *dims[GYRE_IO_MAX_DIMS];
    int               nd;
    char              u2[96], u1[96], c[256];
    Units(v->units, "%s", u1, sizeof u1);
    Units(v->units, "(%s)^2", u2, sizeof u2);
    GyreCall(DefineSpatialDims(f, p->ref, nvars, vars, v, defined, &ndefined, dims, &nd));
    {
      size_t slens[GYRE_IO_MAX_DIMS];
      for (int d = 0, k = 0; d < v->nd; d++)
        if (d != v->mdim) slens[k++] = v->lens[d];
      GyreCall(Derive(p, &res[i], &der[i]));
      GyreCall(
          DefineFlow(f, pl, v, n, &res[i], &der[i], &wavenumber_defined, dims, slens, nd, u1, u2));
    }
    if (base) {
      GyreCall(DefPending(f, pl, "rmse_baseline_", v, 1, lead_dim, &n,
                          "root-mean-square error (BASE - REF)", u1, NULL, base[i].rmse));
      GyreCall(DefPending(f, pl, "acc_baseline_", v, 1, lead_dim, &n,
                          "centred anomaly correlation (BASE vs REF)", "1", NULL, base[i].acc));
    }
    GyreCall(DefVar(f, "rmse_", v, 1, lead_dim, "root-mean-square error (TEST - REF)", u1,
                    v->members > 1 ? "over the points, averaged over the members" : NULL,
                    &ids[i][0]));
    GyreCall(DefVar(f, "rel_l2_", v, 1, lead_dim, "relative L2 error ||TEST - REF|| / ||REF||", "1",
                    NULL, &ids[i][1]));
    GyreCall(DefVar(f, "bias_", v, 1, lead_dim, "mean error (TEST - REF)", u1, NULL, &ids[i][2]));
    GyreCall(DefVar(f, "acc_", v, 1, lead_dim, "centred anomaly correlation", "1",
                    "anomalies against REF's time mean over the compared times (pooled over "
                    "members); each field's spatial mean anomaly removed",
                    &ids[i][3]));
    if (v->members > 1) {
      GyreCall(DefVar(f, "crps_", v, 1, lead_dim, "continuous ranked probability score", u1,
                      "TEST's members as the ensemble, each REF member in turn as the truth, "
                      "averaged over points and REF members (empirical CRPS)",
                      &ids[i][4]));
      GyreCall(DefVar(f, "spread_", v, 1, lead_dim, "ensemble spread", u1,
                      "sqrt of the mean over points of TEST's unbiased member variance",
                      &ids[i][5]));
      GyreCall(DefVar(f, "ens_mean_rmse_", v, 1, lead_dim, "RMSE of the ensemble mean", u1,
                      "TEST's member mean against each REF member, averaged as a mean square",
                      &ids[i][6]));
      GyreCall(DefVar(f, "spread_skill_", v, 1, lead_dim, "spread-skill ratio", "1",
                      "spread / ens_mean_rmse", &ids[i][7]));
    }
    GyreCall(DefVar(f, "time_mean_ref_", v, nd, dims, "REF time mean", u1, NULL, &ids[i][8]));
    GyreCall(DefVar(f, "time_mean_test_", v, nd, dims, "TEST time mean", u1, NULL, &ids[i][9]));
    GyreCall(
        DefVar(f, "variance_ref_", v, nd, dims, "REF variance in time", u2, NULL, &ids[i][10]));
    GyreCall(
        DefVar(f, "variance_test_", v, nd, dims, "TEST variance in time", u2, NULL, &ids[i][11]));
    GyreCall(DefVar(f, "rmse_time_mean_", v, 0, NULL, "RMSE of the time-mean map", u1, NULL,
                    &ids[i][12]));
    GyreCall(
        DefVar(f, "rmse_variance_", v, 0, NULL, "RMSE of the variance map", u2, NULL, &ids[i][13]));
    GyreCall(DefVar(f, "w1_", v, 0, NULL, "Wasserstein-1 distance of the value distributions", u1,
                    "exact, from the sorted samples of every compared time, point and member",
                    &ids[i][14]));
    snprintf(c, sizeof c, "first shared time with a NaN/Inf or |x| > %g in TEST; NaN: none",
             o->blowup);
    GyreCall(DefVar(f, "blowup_time_", v, 0, NULL, "stability", "1", c, &ids[i][15]));
    if (base) {
      const char *names[3] = {"similarity_time_mean_", "similarity_variance_", "similarity_w1_"};
      const char *what[3]  = {"RMSE of the time-mean map", "RMSE of the variance map", "W1"};
      double      db[3]    = {base[i].rmse_mean, base[i].rmse_var, base[i].w1};
      for (int k = 0; k < 3; k++) {
        char        ln[128];
        const char *why = SimilarityUndefined(&base[i], db[k]);
        snprintf(ln, sizeof ln, "similarity 1 - D(TEST,REF)/D(BASE,REF), D = %s", what[k]);
        if (why)
          snprintf(c, sizeof c, "undefined (NaN): %s", why);
        else if (base[i].nvalid < base[i].nlead)
          snprintf(c, sizeof c,
                   "Ross et al. (2023); D(BASE,REF) from the baseline's records before its "
                   "first NaN/Inf (t = %g)",
                   base[i].blowup_time);
        else
          snprintf(c, sizeof c, "Ross et al. (2023)");
        GyreCall(DefVar(f, names[k], v, 0, NULL, ln, "1", c, &ids[i][16 + k]));
      }
    }
  }

  /* global attributes: provenance, what was compared, the cost */
  prov.title        = "gyre compare: metrics";
  prov.command_line = o->command_line;
  prov.options      = o->options;
  prov.mpi_size     = mpi_size;
  prov.start_time   = o->start_time;
  prov.inputs[0]    = o->ref;
  prov.inputs[1]    = o->test;
  prov.inputs[2]    = o->baseline;
  GyreCall(GyreProvenanceWrite(f, &prov));
  GyreCall(GyreFilePutAttText(f, "compare_reference", o->ref));
  GyreCall(GyreFilePutAttText(f, "compare_test", o->test));
  if (o->baseline) GyreCall(GyreFilePutAttText(f, "compare_baseline", o->baseline));
  GyreCall(GyreFilePutAttDouble(f, "compare_first_time", p->t[0]));
  GyreCall(GyreFilePutAttDouble(f, "compare_time_tolerance", o->time_tol));
  GyreCall(GyreFilePutAttDouble(f, "compare_blowup_threshold", o->blowup));
  GyreCall(GyreFilePutAttText(
      f, "compare_crps_truth",
      "each REF member in turn (per-member REF), averaged; not REF's member mean"));
  buf[0] = '\0';
  for (int i = 0; i < nvars; i++)
    snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "%s%s", i ? " " : "", vars[i].name);
  GyreCall(GyreFilePutAttText(f, "compare_variables", buf));
  GyreCall(GyreFilePutAttDouble(f, "cost_ref_wall_seconds_per_model_time",
                                PerTime(p->wall_ref, p->span_ref)));
  GyreCall(GyreFilePutAttDouble(f, "cost_test_wall_seconds_per_model_time",
                                PerTime(p->wall_test, p->span_test)));
  GyreCall(GyreFilePutAttDouble(
      f, "cost_speedup", PerTime(p->wall_ref, p->span_ref) / PerTime(p->wall_test, p->span_test)));
  GyreCall(GyreFilePutAttText(f, "cost_comment",
                              "stepping_wall_seconds of each file over its time span; NaN: not "
                              "recorded; speed-up = REF cost / TEST cost"));
  {
    GyreStatus st = GyreFileEndDef(f);
    free(lead);
    GyreCall(st);
  }

  for (int i = 0; i < nvars; i++) {
    const GyreCmpResult *r       = &res[i];
    const double        *lv[8]   = {r->rmse, r->rel_l2, r->bias,     r->acc,
                                    r->crps, r->spread, r->ens_rmse, r->ssr};
    const double        *maps[4] = {r->mean_ref, r->mean_test, r->var_ref, r->var_test};
    double               sc[4]   = {r->rmse_mean, r->rmse_var, r->w1, r->blowup_time};
    size_t               lens[GYRE_IO_MAX_DIMS];
    int                  nd = 0;
    for (int d = 0; d < vars[i].nd; d++)
      if (d != vars[i].mdim) lens[nd++] = vars[i].lens[d];
    for (int k = 0; k < 8; k++)
      if (lv[k]) GyreCall(GyreFileWriteBlock(f, ids[i][k], 0, zero, &n, lv[k]));
    for (int k = 0; k < 4; k++)
      GyreCall(GyreFileWriteBlock(f, ids[i][8 + k], 0, zero, lens, maps[k]));
    for (int k = 0; k < 4; k++)
      GyreCall(GyreFileWriteBlock(f, ids[i][12 + k], 0, zero, zero, &sc[k]));
    if (base) {
      double s[3] = {Similarity(r->rmse_mean, &base[i], base[i].rmse_mean),
                     Similarity(r->rmse_var, &base[i], base[i].rmse_var),
                     Similarity(r->w1, &base[i], base[i].w1)};
      for (int k = 0; k < 3; k++)
        GyreCall(GyreFileWriteBlock(f, ids[i][16 + k], 0, zero, zero, &s[k]));
    }
  }
  for (int k = 0; k < pl->n; k++)
    GyreCall(GyreFileWriteBlock(f, pl->p[k].id, 0, zero, pl->p[k].count, pl->p[k].data));
  return GyreProvenanceFinish(f);
}

static void Num(char *buf, size_t n, double x)
{
  if (isnan(x))
    snprintf(buf, n, "%10s", "-");
  else
    snprintf(buf, n, "%10.4g", x);
}

static void Summary(FILE *out, const GyreCompareOptions *o, const GyreCmpPair *p, int nvars,
                    const GyreCmpVar *vars, const GyreCmpResult *res, const GyreCmpResult *base)
{
  size_t n = p->nshared;
  fprintf(out, "gyre compare: REF '%s', TEST '%s'%s%s%s\n", o->ref, o->test,
          o->baseline ? ", baseline '" : "", o->baseline ? o->baseline : "",
          o->baseline ? "'" : "");
  fprintf(out, "shared times: %zu, from %g to %g (lead 0 to %g)\n", n, p->t[0], p->t[n - 1],
          p->t[n - 1] - p->t[0]);
  for (int i = 0; i < nvars; i++) {
    const GyreCmpVar    *v    = &vars[i];
    const GyreCmpResult *r    = &res[i];
    size_t               rows = n < 8 ? n : 8;
    char                 a[32], b[32], c[32], d[32], e[32], g[32];
    fprintf(out, "\n%s", v->name);
    for (int k = 0; k < v->nd; k++)
      fprintf(out, "%s%s=%zu", k ? ", " : " (", v->dims[k], v->lens[k]);
    fprintf(out, "%s%s%s\n", v->nd ? ")" : "", v->units[0] ? " in " : "", v->units);
    fprintf(out, "  %10s %10s %10s %10s %10s%s\n", "lead", "rmse", "rel_l2", "bias", "acc",
            r->crps ? "       crps spread/skill" : "");
    for (size_t j = 0; j < rows; j++) {
      size_t k = rows > 1 ? j * (n - 1) / (rows - 1) : 0;
      Num(a, sizeof a, p->t[k] - p->t[0]);
      Num(b, sizeof b, r->rmse[k]);
      Num(c, sizeof c, r->rel_l2[k]);
      Num(d, sizeof d, r->bias[k]);
      Num(e, sizeof e, r->acc[k]);
      fprintf(out, "  %s %s %s %s %s", a, b, c, d, e);
      if (r->crps) {
        Num(g, sizeof g, r->crps[k]);
        Num(a, sizeof a, r->ssr[k]);
        fprintf(out, " %s %s", g, a);
      }
      fprintf(out, "\n");
    }
    fprintf(out,
            "  climate: RMSE of time mean %.4g, of variance %.4g, W1 %.4g (%zu of %zu times)\n",
            r->rmse_mean, r->rmse_var, r->w1, r->nvalid, n);
    if (r->nvalid)
      fprintf(out, "  PDFs: %zu common bins on [%.4g, %.4g]\n", r->pdf_bins, r->pdf_edges[0],
              r->pdf_edges[r->pdf_bins]);
    if (r->spectral >= 2)
      fprintf(out,
              "  spectra (time mean, %zu shells): RMSE of log10 kinetic energy %.4g, of log10 "
              "enstrophy %.4g\n",
              r->nshell, r->rmse_log_ke, r->rmse_log_ens);
    else if (r->spectral)
      fprintf(out, "  spectrum (time mean, %zu shells): RMSE of the log10 variance spectrum %.4g\n",
              r->nshell, r->rmse_log_ens);
    if (r->nvalid) {
      size_t      last = r->nvalid - 1;
      const char *en   = r->spectral >= 2 ? "kinetic energy" : "energy mean(V^2)/2";
      char        dr[64], dt[64];
      fprintf(out,
              "  conservation (drift q(t)/q(0) - 1 of each quantity q at lead %g): %s REF %s, "
              "TEST %s",
              p->t[last] - p->t[0], en, DriftText(dr, sizeof dr, r->energy_ref, last),
              DriftText(dt, sizeof dt, r->energy_test, last));
      if (r->enstrophy_ref)
        fprintf(out, "; enstrophy REF %s, TEST %s",
                DriftText(dr, sizeof dr, r->enstrophy_ref, last),
                DriftText(dt, sizeof dt, r->enstrophy_test, last));
      fprintf(out, "\n");
    }
    if (isnan(r->blowup_time))
      fprintf(out, "  stability: no NaN/Inf or |x| > %g\n", o->blowup);
    else
      fprintf(out, "  stability: t = %g: %s\n", r->blowup_time, r->blowup_what);
    if (base) {
      double      db[3] = {base[i].rmse_mean, base[i].rmse_var, base[i].w1};
      double      dt[3] = {r->rmse_mean, r->rmse_var, r->w1};
      const char *nm[3] = {"time mean", "variance", "W1"};
      fprintf(out, "  similarity to REF against the baseline:");
      for (int k = 0; k < 3; k++) {
        const char *why = SimilarityUndefined(&base[i], db[k]);
        if (!why)
          fprintf(out, " %s %.4g%s", nm[k], Similarity(dt[k], &base[i], db[k]), k < 2 ? "," : "\n");
        else
          fprintf(out, " %s undefined (%s)%s", nm[k], why, k < 2 ? "," : "\n");
      }
      if (base[i].nvalid > 0 && base[i].nvalid < base[i].nlead)
        fprintf(out, "  (the baseline's distances from its records before its NaN/Inf at t = %g)\n",
                base[i].blowup_time);
    }
  }
  {
    double cr = PerTime(p->wall_ref, p->span_ref), ct = PerTime(p->wall_test, p->span_test);
    char   a[32], b[32];
    snprintf(a, sizeof a, isnan(cr) ? "not recorded" : "%.4g", cr);
    snprintf(b, sizeof b, isnan(ct) ? "not recorded" : "%.4g", ct);
    fprintf(out, "\ncost (stepping wall seconds per unit model time): REF %s, TEST %s", a, b);
    if (!isnan(cr) && !isnan(ct) && ct > 0) fprintf(out, ", speed-up %.3gx", cr / ct);
    fprintf(out, "\nmetrics: %s\n", o->output);
  }
}

GyreStatus GyreCompareWrite(const GyreCompareOptions *o, int mpi_size, const GyreCmpPair *p,
                            int nvars, const GyreCmpVar *vars, const GyreCmpResult *res,
                            const GyreCmpResult *base)
{
  GyreFile        f;
  GyreFileOptions fo = {0};
  GyreStatus      st;

  fo.overwrite                       = o->overwrite;
  fo.atomic                          = 1;
  PendingList pl                     = {0};
  Derived     der[GYRE_CMP_MAX_VARS] = {0};

  GyreCall(GyreFileCreate(MPI_COMM_SELF, o->output, &fo, &f));
  st = WriteFile(o, mpi_size, p, nvars, vars, res, base, &pl, der, f);
  free(pl.p);
  for (int i = 0; i < nvars; i++)
    free(der[i].drift);
  if (st != GYRE_OK) {
    GyreFileAbort(&f);
    return st;
  }
  GyreCall(GyreFileClose(&f));
  if (o->summary) Summary(o->summary, o, p, nvars, vars, res, base);
  return GYRE_OK;
}
