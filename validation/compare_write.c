/* compare_write.c — gyre compare's outputs: metrics.nc (CF-1.8, written atomically on one
 * rank through io/) and the one-page summary on stdout.
 *
 * metrics.nc, for each compared variable V (names of the per-lead variables:
 *   rmse_V(lead), rel_l2_V(lead), bias_V(lead), acc_V(lead)
 *   with a member dimension also crps_V, spread_V, ens_mean_rmse_V, spread_skill_V (lead)
 *   time_mean_ref_V, time_mean_test_V, variance_ref_V, variance_test_V (V's non-member dims)
 *   rmse_time_mean_V, rmse_variance_V, w1_V, blowup_time_V (scalars; blowup_time_V NaN: none)
 *   with -baseline: similarity_time_mean_V, similarity_variance_V, similarity_w1_V (NaN and a
 *   comment where D(BASE, REF) = 0)
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

static double Similarity(double dt, double db)
{
  return db > 0 ? 1 - dt / db : NAN;
}

static double PerTime(double wall, double span)
{
  return wall >= 0 && span > 0 ? wall / span : NAN;
}

/* the non-member dimensions of v, defined in the file once each, with REF's coordinates */
static GyreStatus DefineSpatialDims(GyreFile out, GyreFile ref, const GyreCmpVar *v,
                                    char defined[][64], int *ndefined, const char **dims, int *nd)
{
  *nd = 0;
  for (int d = 0; d < v->nd; d++) {
    int     seen = 0, has_time, cnd;
    char    cdims[GYRE_IO_MAX_DIMS][64];
    size_t  clen[GYRE_IO_MAX_DIMS], start = 0;
    double *values = NULL;
    if (d == v->mdim) continue;
    dims[(*nd)++] = v->dims[d];
    for (int k = 0; k < *ndefined; k++)
      seen |= !strcmp(defined[k], v->dims[d]);
    if (seen) continue;
    snprintf(defined[(*ndefined)++], 64, "%s", v->dims[d]);
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
      ds.name      = v->dims[d];
      ds.len       = v->lens[d];
      ds.values    = values;
      ds.units     = values ? "1" : NULL;
      ds.long_name = values ? "coordinate copied from the reference file" : NULL;
      st           = GyreFileDefineDim(out, &ds);
      free(values);
      GyreCall(st);
    }
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
                            const GyreCmpResult *base, GyreFile f)
{
  static const char *lead_dim[1] = {"lead"};
  char               defined[GYRE_CMP_MAX_VARS * GYRE_IO_MAX_DIMS][64];
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
    GyreCall(DefineSpatialDims(f, p->ref, v, defined, &ndefined, dims, &nd));
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
        char ln[128];
        snprintf(ln, sizeof ln, "similarity 1 - D(TEST,REF)/D(BASE,REF), D = %s", what[k]);
        snprintf(c, sizeof c, "%s",
                 db[k] > 0 ? "Ross et al. (2023)"
                           : "undefined (NaN): D(BASE,REF) = 0, the baseline equals the reference");
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
      double s[3] = {Similarity(r->rmse_mean, base[i].rmse_mean),
                     Similarity(r->rmse_var, base[i].rmse_var), Similarity(r->w1, base[i].w1)};
      for (int k = 0; k < 3; k++)
        GyreCall(GyreFileWriteBlock(f, ids[i][16 + k], 0, zero, zero, &s[k]));
    }
  }
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
        if (db[k] > 0)
          fprintf(out, " %s %.4g%s", nm[k], Similarity(dt[k], db[k]), k < 2 ? "," : "\n");
        else
          fprintf(out, " %s undefined (D(BASE,REF) = 0)%s", nm[k], k < 2 ? "," : "\n");
      }
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

  fo.overwrite = o->overwrite;
  fo.atomic    = 1;
  GyreCall(GyreFileCreate(MPI_COMM_SELF, o->output, &fo, &f));
  st = WriteFile(o, mpi_size, p, nvars, vars, res, base, f);
  if (st != GYRE_OK) {
    GyreFileAbort(&f);
    return st;
  }
  GyreCall(GyreFileClose(&f));
  if (o->summary) Summary(o->summary, o, p, nvars, vars, res, base);
  return GYRE_OK;
}
