/* info.c — `gyre info FILE`: a compact, readable `ncdump -h` of any NetCDF file:
 * dimensions (the unlimited one marked, with its record count), variables with their
 * dimensions, shape, type, units and long name, then every global attribute (for a gyre
 * file: its provenance). Multi-line attributes (the options) are indented under their
 * name. Uses the serial NetCDF API on the calling rank only. */
#include "file_impl.h"
#include <netcdf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *TypeName(nc_type t)
{
  static const char *names[] = {"?",     "byte",   "char", "short", "int",    "float", "double",
                                "ubyte", "ushort", "uint", "int64", "uint64", "string"};
  return t >= 0 && t <= NC_STRING ? names[t] : "user-defined";
}

/* Shortest of %.Ng (N = 6.., up to full precision) that reads back as v. */
static void PrintNumber(FILE *out, double v, int is_float)
{
  char buf[64];
  for (int p = 6; p <= 17; p++) {
    snprintf(buf, sizeof buf, "%.*g", p, v);
    if (is_float ? (float) strtod(buf, NULL) == (float) v : strtod(buf, NULL) == v) break;
  }
  fputs(buf, out);
}

/* A text attribute's value, continuation lines indented by indent columns. */
static void PrintText(FILE *out, const char *s, size_t len, int indent)
{
  for (size_t i = 0; i < len; i++) {
    if (s[i] == '\0') break;
    fputc(s[i], out);
    if (s[i] == '\n' && i + 1 < len && s[i + 1]) fprintf(out, "%*s", indent, "");
  }
}

static void PrintAttValue(FILE *out, int ncid, int varid, const char *name, int indent)
{
  nc_type type;
  size_t  len;

  nc_inq_att(ncid, varid, name, &type, &len);
  if (type == NC_CHAR) {
    char *s = malloc(len + 1);
    if (!s) return;
    nc_get_att_text(ncid, varid, name, s);
    PrintText(out, s, len, indent);
    free(s);
  } else if (type == NC_STRING) {
    char **s = malloc((len ? len : 1) * sizeof *s);
    if (!s) return;
    nc_get_att_string(ncid, varid, name, s);
    for (size_t i = 0; i < len; i++) {
      if (i) fputs(", ", out);
      if (s[i]) PrintText(out, s[i], strlen(s[i]), indent);
    }
    nc_free_string(len, s);
    free(s);
  } else if (type == NC_INT64 || type == NC_UINT64) {
    long long *v = malloc((len ? len : 1) * sizeof *v);
    if (!v) return;
    nc_get_att_longlong(ncid, varid, name, v);
    for (size_t i = 0; i < len; i++)
      fprintf(out, "%s%lld", i ? ", " : "", v[i]);
    free(v);
  } else if (type >= NC_BYTE && type <= NC_UINT) {
    double *v = malloc((len ? len : 1) * sizeof *v);
    if (!v) return;
    nc_get_att_double(ncid, varid, name, v);
    for (size_t i = 0; i < len; i++) {
      if (i) fputs(", ", out);
      PrintNumber(out, v[i], type == NC_FLOAT);
    }
    free(v);
  } else {
    fprintf(out, "(%s)", TypeName(type));
  }
}

/* The text of a short text attribute of a variable, or "" when it has none. */
static void VarAttText(int ncid, int varid, const char *name, char *buf, size_t n)
{
  nc_type type;
  size_t  len;
  buf[0] = '\0';
  if (nc_inq_att(ncid, varid, name, &type, &len) || type != NC_CHAR || len >= n) return;
  nc_get_att_text(ncid, varid, name, buf);
  buf[len] = '\0';
}

typedef struct {
  char        name[512], shape[256], units[256], long_name[256];
  const char *type;
} VarLine;

static GyreStatus Describe(FILE *out, const char *path, int ncid)
{
  int         ndims, nvars, natts, nunlim, fmt, ngrps = 0, dimids[NC_MAX_DIMS], unlim[NC_MAX_DIMS];
  size_t      wname = 0, wshape = 0, wunits = 0, wdim = 0;
  struct stat sb;
  VarLine    *lines;
  static const char *formats[] = {
      "?", "classic", "64-bit offset", "NetCDF-4", "NetCDF-4 classic model", "CDF5"};

  nc_inq_format(ncid, &fmt);
  nc_inq_natts(ncid, &natts);
  nc_inq_dimids(ncid, &ndims, dimids, 0);
  nc_inq_unlimdims(ncid, &nunlim, unlim);
  nc_inq_nvars(ncid, &nvars);
  nc_inq_grps(ncid, &ngrps, NULL);
  fprintf(out, "%s: %s", path, fmt >= 1 && fmt <= 5 ? formats[fmt] : "NetCDF");
  if (stat(path, &sb) == 0) {
    double b = (double) sb.st_size;
    if (b < 1024)
      fprintf(out, ", %.0f bytes", b);
    else if (b < 1048576)
      fprintf(out, ", %.1f KiB", b / 1024);
    else if (b < 1073741824)
      fprintf(out, ", %.1f MiB", b / 1048576);
    else
      fprintf(out, ", %.2f GiB", b / 1073741824);
  }
  fputc('\n', out);

  fputs("dimensions:\n", out);
  for (int i = 0; i < ndims; i++) {
    char name[NC_MAX_NAME + 1];
    nc_inq_dimname(ncid, dimids[i], name);
    if (strlen(name) > wdim) wdim = strlen(name);
  }
  for (int i = 0; i < ndims; i++) {
    char   name[NC_MAX_NAME + 1];
    size_t len;
    int    is_unlim = 0;
    for (int u = 0; u < nunlim; u++)
      is_unlim |= unlim[u] == dimids[i];
    nc_inq_dim(ncid, dimids[i], name, &len);
    if (is_unlim)
      fprintf(out, "  %-*s = UNLIMITED (%zu record%s)\n", (int) wdim, name, len,
              len == 1 ? "" : "s");
    else
      fprintf(out, "  %-*s = %zu\n", (int) wdim, name, len);
  }

  if (!(lines = calloc(nvars ? (size_t) nvars : 1, sizeof *lines)))
    return GyreStatusSet(GYRE_ERR_MEM, "out of memory describing '%s'", path);
  for (int v = 0; v < nvars; v++) {
    VarLine *l = &lines[v];
    char     name[NC_MAX_NAME + 1];
    nc_type  type;
    int      nd, vd[NC_MAX_VAR_DIMS];
    size_t   nn, ns;

    nc_inq_var(ncid, v, name, &type, &nd, vd, NULL);
    l->type = TypeName(type);
    nn      = (size_t) snprintf(l->name, sizeof l->name, "%s", name);
    ns      = (size_t) snprintf(l->shape, sizeof l->shape, "[");
    if (nd) nn += (size_t) snprintf(l->name + nn, sizeof l->name - nn, "(");
    for (int d = 0; d < nd && nn < sizeof l->name && ns < sizeof l->shape; d++) {
      char   dn[NC_MAX_NAME + 1];
      size_t len;
      nc_inq_dim(ncid, vd[d], dn, &len);
      nn += (size_t) snprintf(l->name + nn, sizeof l->name - nn, "%s%s", d ? ", " : "", dn);
      ns += (size_t) snprintf(l->shape + ns, sizeof l->shape - ns, "%s%zu", d ? " x " : "", len);
    }
    if (nd && nn < sizeof l->name) snprintf(l->name + nn, sizeof l->name - nn, ")");
    if (ns < sizeof l->shape) snprintf(l->shape + ns, sizeof l->shape - ns, nd ? "]" : "scalar]");
    VarAttText(ncid, v, "units", l->units, sizeof l->units);
    VarAttText(ncid, v, "long_name", l->long_name, sizeof l->long_name);
    if (strlen(l->name) > wname) wname = strlen(l->name);
    if (strlen(l->shape) > wshape) wshape = strlen(l->shape);
    if (strlen(l->units) + 2 > wunits) wunits = strlen(l->units) + 2;
  }
  fputs("variables:\n", out);
  for (int v = 0; v < nvars; v++) {
    char units[260];
    snprintf(units, sizeof units, "%s%s%s", lines[v].units[0] ? "[" : "", lines[v].units,
             lines[v].units[0] ? "]" : "");
    fprintf(out, "  %-*s  %-6s  %-*s  %-*s  %s\n", (int) wname, lines[v].name, lines[v].type,
            (int) wshape, lines[v].shape, (int) wunits, units, lines[v].long_name);
  }
  free(lines);
  if (ngrps) fprintf(out, "groups: %d (not shown)\n", ngrps);

  fputs("global attributes:\n", out);
  {
    size_t wa = 0;
    for (int a = 0; a < natts; a++) {
      char name[NC_MAX_NAME + 1];
      nc_inq_attname(ncid, NC_GLOBAL, a, name);
      if (strlen(name) > wa) wa = strlen(name);
    }
    for (int a = 0; a < natts; a++) {
      char name[NC_MAX_NAME + 1];
      nc_inq_attname(ncid, NC_GLOBAL, a, name);
      fprintf(out, "  %-*s = ", (int) wa, name);
      PrintAttValue(out, ncid, NC_GLOBAL, name, (int) wa + 5);
      fputc('\n', out);
    }
  }
  return GYRE_OK;
}

GyreStatus GyreFileInfo(const char *path)
{
  GyreFileKind kind;
  GyreStatus   st;
  int          ncid, err;

  if (!path) return GyreStatusSet(GYRE_ERR_ARG, "GyreFileInfo: NULL path");
  GyreCall(GyreFileKindOf(path, &kind));
  if ((err = nc_open(path, NC_NOWRITE, &ncid))) return GyreNcOpenStatus(path, err);
  st = Describe(stdout, path, ncid);
  nc_close(ncid);
  fflush(stdout);
  return st;
}
