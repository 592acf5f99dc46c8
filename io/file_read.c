/* file_read.c — opening an existing file (to read a rank's block of a time slice, or to
 * append records) and everything that reads: times, shapes, blocks, attributes.
 *
 * Decisions:
 * - Rank 0 looks at the file's first bytes before NetCDF does, so a missing file, an
 *   unreadable one and one that is not NetCDF each give their own one-line message, the
 *   same on every rank.
 * - A file opened to append to (NetCDF-4, HDF5) is opened with the parallel API. A file opened
 *   to read is opened by every rank read-only with the serial API, each reading its block on
 *   its own: classic-format files (written by CDO or NCO, say) cannot be opened otherwise (this
 *   NetCDF has no PnetCDF), and parallel HDF5 over Open MPI's MPI-IO reads a chunk never
 *   written, in a file made serially (netCDF4-python's default), as zeros instead of the fill
 *   value, with an error it does not return. So does every file in a build with the serial
 *   NetCDF (nc_parallel.c), which appends on one rank only.
 * - The time axis is the unlimited dimension (or, without one, a dimension named `time`).
 * - A block holding NaN or Inf is rejected on every rank with the same message: the first
 *   bad value in the record's C-order (flat) index, whatever the decomposition. */
#include "file_impl.h"
#include <netcdf.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

GyreStatus GyreNcOpenStatus(const char *path, int err)
{
  if (err == NC_ENOTNC) return GyreStatusSet(GYRE_ERR_FORMAT, "'%s' is not a NetCDF file", path);
  if (err == NC_EHDFERR) /* (what NetCDF 4.9 returns for an HDF5 file cut short) */
    return GyreStatusSet(GYRE_ERR_FORMAT,
                         "cannot open '%s': a NetCDF-4 (HDF5) file that cannot be read, truncated "
                         "or corrupt? (%s)",
                         path, nc_strerror(err));
  return GyreStatusSet(GYRE_ERR_IO, "cannot open '%s': %s", path, nc_strerror(err));
}

GyreStatus GyreFileOpen(MPI_Comm comm, const char *path, int write, GyreFile *file)
{
  GyreFile     f;
  GyreStatus   st   = GYRE_OK;
  GyreFileKind kind = GYRE_KIND_HDF5;
  int          k, err, unlim, size;

  *file = NULL;
  if (!path || !path[0]) return GyreStatusSet(GYRE_ERR_ARG, "GyreFileOpen: empty path");
  if (write && !GyreFileParallelWrites() && !MPI_Comm_size(comm, &size) && size > 1)
    return GyreStatusSet(GYRE_ERR_IO, "cannot append to '%s' on %d MPI ranks: %s", path, size,
                         GyreNcSerialReason());
  GyreCall(GyreFileAlloc(comm, path, &f));
  if (f->rank == 0) {
    st = GyreFileKindOf(path, &kind);
    if (st == GYRE_OK && write && kind == GYRE_KIND_CLASSIC)
      st = GyreStatusSet(GYRE_ERR_FORMAT,
                         "cannot append to '%s': it is a classic NetCDF file (gyre appends only "
                         "to the NetCDF-4 files it writes)",
                         path);
  }
  k = (int) kind;
  MPI_Bcast(&k, 1, MPI_INT, 0, f->comm);
  if ((st = GyreStatusAgree(f->comm, st)) != GYRE_OK) {
    GyreFileFree(&f);
    return st;
  }
  /* reading: every rank on its own (parallel HDF5 over Open MPI's MPI-IO reads a chunk never
   * written, in a file made serially, as zeros, with an error it does not return) */
  f->parallel = write && k == GYRE_KIND_HDF5 && GyreFileParallelWrites();
  f->writable = write ? 1 : 0;
  if (f->parallel)
    err = GyreNcOpenPar(path, write ? NC_WRITE : NC_NOWRITE, f->comm, &f->ncid);
  else
    err = nc_open(path, write ? NC_WRITE : NC_NOWRITE, &f->ncid);
  if (err) {
    f->ncid = -1;
    st      = GyreNcOpenStatus(path, err);
  }
  if ((st = GyreStatusAgree(f->comm, st)) != GYRE_OK) {
    if (f->ncid >= 0) nc_close(f->ncid);
    GyreFileFree(&f);
    return st;
  }
  if (nc_inq_unlimdim(f->ncid, &unlim) == NC_NOERR && unlim >= 0)
    f->time_dimid = unlim;
  else if (nc_inq_dimid(f->ncid, "time", &unlim) == NC_NOERR)
    f->time_dimid = unlim;
  if (f->time_dimid >= 0) {
    char name[NC_MAX_NAME + 1];
    nc_inq_dimname(f->ncid, f->time_dimid, name);
    if (nc_inq_varid(f->ncid, name, &f->time_varid) != NC_NOERR) f->time_varid = -1;
  }
  if ((st = GyreStatusAgree(f->comm, GyreFileSetCollective(f))) != GYRE_OK) {
    nc_close(f->ncid);
    GyreFileFree(&f);
    return st;
  }
  *file = f;
  return GYRE_OK;
}

const char *GyreFilePath(GyreFile file)
{
  return file ? file->path : NULL;
}

GyreStatus GyreFileVarShape(GyreFile f, int varid, int *nd, int *has_time, size_t *lens, char *name)
{
  int dimids[NC_MAX_VAR_DIMS], err;

  if ((err = nc_inq_varname(f->ncid, varid, name)))
    return GyreStatusSet(GYRE_ERR_ARG, "no variable with id %d in '%s'", varid, f->path);
  nc_inq_varndims(f->ncid, varid, nd);
  nc_inq_vardimid(f->ncid, varid, dimids);
  *has_time = *nd > 0 && f->time_dimid >= 0 && dimids[0] == f->time_dimid;
  if (*nd - *has_time > GYRE_IO_MAX_DIMS)
    return GyreStatusSet(GYRE_ERR_FORMAT, "variable '%s' in '%s' has %d dimensions (at most %d)",
                         name, f->path, *nd, GYRE_IO_MAX_DIMS + *has_time);
  for (int d = *has_time; d < *nd; d++)
    nc_inq_dimlen(f->ncid, dimids[d], &lens[d - *has_time]);
  return GYRE_OK;
}

static size_t NumRecords(GyreFile f)
{
  size_t n = 0;
  if (f->time_dimid >= 0) nc_inq_dimlen(f->ncid, f->time_dimid, &n);
  return n;
}

GyreStatus GyreFileGetTimes(GyreFile file, size_t *nrec, double **times)
{
  size_t     start = 0, count;
  double    *t     = NULL;
  GyreStatus st    = GYRE_OK;
  int        err;

  if (!file) return GyreStatusSet(GYRE_ERR_ARG, "GyreFileGetTimes: NULL file");
  if (file->time_dimid < 0)
    return GyreStatusSet(GYRE_ERR_FORMAT, "'%s' has no time dimension", file->path);
  *nrec = count = NumRecords(file);
  if (!times) return GYRE_OK;
  *times = NULL;
  if (file->time_varid < 0)
    return GyreStatusSet(GYRE_ERR_FORMAT, "'%s' has no time variable", file->path);
  if (!(t = malloc((count ? count : 1) * sizeof *t))) {
    st    = GyreStatusSet(GYRE_ERR_MEM, "out of memory reading the times of '%s'", file->path);
    count = 0; /* still take part in the collective read */
  }
  err = nc_get_vara_double(file->ncid, file->time_varid, &start, &count, t ? t : &(double){0});
  if (err && st == GYRE_OK)
    st = GyreStatusSet(GYRE_ERR_IO, "cannot read the times of '%s': %s", file->path,
                       nc_strerror(err));
  if ((st = GyreStatusAgree(file->comm, st)) != GYRE_OK) {
    free(t);
    return st;
  }
  *times = t;
  return GYRE_OK;
}

GyreStatus GyreFileFindTime(GyreFile file, double t, double tol, size_t *rec)
{
  size_t  n, best      = 0;
  double *times, dbest = INFINITY;

  GyreCall(GyreFileGetTimes(file, &n, &times));
  for (size_t i = 0; i < n; i++) {
    double d = fabs(times[i] - t);
    if (d < dbest) {
      dbest = d;
      best  = i;
    }
  }
  if (!(dbest <= tol)) {
    GyreStatus st =
        n ? GyreStatusSet(GYRE_ERR_FORMAT,
                          "no record at time %.17g (tolerance %g) in '%s': its %zu records span "
                          "times %.17g to %.17g",
                          t, tol, file->path, n, times[0], times[n - 1])
          : GyreStatusSet(GYRE_ERR_FORMAT, "no record at time %.17g in '%s': it has no records", t,
                          file->path);
    free(times);
    return st;
  }
  free(times);
  *rec = best;
  return GYRE_OK;
}

GyreStatus GyreFileGetVarId(GyreFile file, const char *var, int *varid)
{
  if (!file || !var) return GyreStatusSet(GYRE_ERR_ARG, "GyreFileGetVarId: NULL argument");
  if (nc_inq_varid(file->ncid, var, varid))
    return GyreStatusSet(GYRE_ERR_FORMAT, "no variable '%s' in '%s'", var, file->path);
  return GYRE_OK;
}

GyreStatus GyreFileInqVar(GyreFile file, const char *var, int *ndims,
                          char dimnames[GYRE_IO_MAX_DIMS][64], size_t *dimlens, int *has_time)
{
  char   name[NC_MAX_NAME + 1];
  int    varid, nd, ht, dimids[NC_MAX_VAR_DIMS];
  size_t lens[GYRE_IO_MAX_DIMS];

  GyreCall(GyreFileGetVarId(file, var, &varid));
  GyreCall(GyreFileVarShape(file, varid, &nd, &ht, lens, name));
  nc_inq_vardimid(file->ncid, varid, dimids);
  *ndims = nd - ht;
  if (has_time) *has_time = ht;
  for (int d = 0; d < nd - ht; d++) {
    char dn[NC_MAX_NAME + 1];
    nc_inq_dimname(file->ncid, dimids[d + ht], dn);
    if (dimnames) snprintf(dimnames[d], 64, "%.63s", dn);
    if (dimlens) dimlens[d] = lens[d];
  }
  return GYRE_OK;
}

/* Flat C-order index, within one record, of element i of a block start/count of lens. */
static uint64_t FlatIndex(int nd, const size_t *lens, const size_t *start, const size_t *count,
                          size_t i)
{
  uint64_t flat = 0, stride = 1;
  for (int d = nd - 1; d >= 0; d--) {
    size_t k = i % count[d];
    i /= count[d];
    flat += (uint64_t) (start[d] + k) * stride;
    stride *= lens[d];
  }
  return flat;
}

/* "y=5, x=3" for a flat index. */
static void DescribeIndex(GyreFile f, int varid, int ht, int nd, const size_t *lens, uint64_t flat,
                          char *buf, size_t n)
{
  int    dimids[NC_MAX_VAR_DIMS];
  size_t idx[GYRE_IO_MAX_DIMS], used = 0;

  nc_inq_vardimid(f->ncid, varid, dimids);
  for (int d = nd - 1; d >= 0; d--) {
    idx[d] = (size_t) (flat % lens[d]);
    flat /= lens[d];
  }
  buf[0] = '\0';
  for (int d = 0; d < nd && used < n; d++) {
    char dn[NC_MAX_NAME + 1];
    nc_inq_dimname(f->ncid, dimids[d + ht], dn);
    used += (size_t) snprintf(buf + used, n - used, "%s%s=%zu", d ? ", " : "", dn, idx[d]);
  }
}

GyreStatus GyreFileReadBlock(GyreFile file, const char *var, size_t rec, const size_t *start,
                             const size_t *count, double *data)
{
  char       name[NC_MAX_NAME + 1];
  size_t     lens[GYRE_IO_MAX_DIMS], s[GYRE_IO_MAX_DIMS + 1], c[GYRE_IO_MAX_DIMS + 1], n = 1;
  int        varid = -1, nd = 0, ht = 0, empty = 0, err;
  double     none;
  GyreStatus st;
  uint64_t   bad = UINT64_MAX, badall;

  if (!file) return GyreStatusSet(GYRE_ERR_ARG, "GyreFileReadBlock: NULL file");
  st = GyreFileGetVarId(file, var, &varid);
  if (st == GYRE_OK) st = GyreFileVarShape(file, varid, &nd, &ht, lens, name);
  if (st == GYRE_OK && ht && rec >= NumRecords(file))
    st = GyreStatusSet(GYRE_ERR_FORMAT, "record %zu of '%s' requested but '%s' has %zu records",
                       rec, var, file->path, NumRecords(file));
  for (int d = 0; st == GYRE_OK && d < nd - ht; d++) {
    if (count[d] == 0)
      empty = 1;
    else if (start[d] + count[d] > lens[d])
      st = GyreStatusSet(GYRE_ERR_ARG,
                         "block [%zu, %zu) of dimension %d of '%s' in '%s' exceeds its length %zu",
                         start[d], start[d] + count[d], d, var, file->path, lens[d]);
    n *= count[d];
  }
  GyreCall(GyreStatusAgree(file->comm, st));

  for (int d = 0; d < nd; d++) {
    int k = d - ht;
    s[d]  = empty ? 0 : (k < 0 ? rec : start[k]);
    c[d]  = empty ? 0 : (k < 0 ? 1 : count[k]);
  }
  if (empty) n = 0;
  err = nc_get_vara_double(file->ncid, varid, s, c, empty ? &none : data);
  if (err)
    st = GyreStatusSet(GYRE_ERR_IO, "cannot read '%s' at record %zu of '%s': %s", var, rec,
                       file->path, nc_strerror(err));
  GyreCall(GyreStatusAgree(file->comm, st));

  /* unpacked; the first missing, NaN or Inf value in the record's flat order, agreed on by all
   * ranks (flat x 8 + what: 0 NaN, 1 Inf, 2 + k missing by marker k) */
  GyreVarEncoding enc;
  int             which;
  GyreVarEncodingRead(file->ncid, varid, &enc);
  size_t miss = GyreVarEncodingDecode(&enc, data, n, &which);
  if (miss < n) bad = FlatIndex(nd - ht, lens, start, count, miss) * 8 + 2 + (uint64_t) which;
  for (size_t i = 0; i < n; i++)
    if (!isfinite(data[i])) {
      uint64_t flat = FlatIndex(nd - ht, lens, start, count, i) * 8 + (isinf(data[i]) ? 1 : 0);
      if (flat < bad) bad = flat;
    }
  if (MPI_Allreduce(&bad, &badall, 1, MPI_UINT64_T, MPI_MIN, file->comm))
    return GyreStatusSet(GYRE_ERR_MPI, "MPI_Allreduce failed checking '%s' for NaN", var);
  if (badall != UINT64_MAX) {
    char where[256], what[160], at[64] = "";
    DescribeIndex(file, varid, ht, nd - ht, lens, badall / 8, where, sizeof where);
    if (ht) snprintf(at, sizeof at, " at record %zu,", rec);
    if (badall % 8 >= 2) {
      GyreVarEncodingDescribe(&enc, (int) (badall % 8) - 2, what, sizeof what);
      st = GyreStatusSet(GYRE_ERR_FORMAT, /* not a blow-up: the data is incomplete */
                         "'%s' variable '%s'%s index %llu (%s) holds %s: gyre reads complete "
                         "fields",
                         file->path, var, at, (unsigned long long) (badall / 8), where, what);
    } else
      st = GyreStatusSet(GYRE_ERR_NAN, "%s in '%s' variable '%s'%s%s index %llu (%s)",
                         badall % 8 ? "Inf" : "NaN", file->path, var, at, ht ? "" : " at",
                         (unsigned long long) (badall / 8), where);
  }
  return GyreStatusAgree(file->comm, st);
}

GyreStatus GyreFileGetAttText(GyreFile file, const char *name, char **value)
{
  nc_type type;
  size_t  len;

  *value = NULL;
  if (!file || !name) return GyreStatusSet(GYRE_ERR_ARG, "GyreFileGetAttText: NULL argument");
  if (nc_inq_att(file->ncid, NC_GLOBAL, name, &type, &len))
    return GyreStatusSet(GYRE_ERR_FORMAT, "no global attribute '%s' in '%s'", name, file->path);
  if (type == NC_CHAR) {
    if (!(*value = malloc(len + 1)))
      return GyreStatusSet(GYRE_ERR_MEM, "out of memory reading attribute '%s'", name);
    nc_get_att_text(file->ncid, NC_GLOBAL, name, *value);
    (*value)[len] = '\0';
    return GYRE_OK;
  }
  if (type == NC_STRING && len >= 1) {
    char **strs = malloc(len * sizeof *strs);
    if (!strs) return GyreStatusSet(GYRE_ERR_MEM, "out of memory reading attribute '%s'", name);
    nc_get_att_string(file->ncid, NC_GLOBAL, name, strs);
    *value = strdup(strs[0] ? strs[0] : "");
    nc_free_string(len, strs);
    free(strs);
    if (!*value) return GyreStatusSet(GYRE_ERR_MEM, "out of memory reading attribute '%s'", name);
    return GYRE_OK;
  }
  return GyreStatusSet(GYRE_ERR_FORMAT, "global attribute '%s' in '%s' is not text", name,
                       file->path);
}

GyreStatus GyreFileGetAttDouble(GyreFile file, const char *name, double *value)
{
  nc_type type;
  size_t  len;

  if (!file || !name) return GyreStatusSet(GYRE_ERR_ARG, "GyreFileGetAttDouble: NULL argument");
  if (nc_inq_att(file->ncid, NC_GLOBAL, name, &type, &len))
    return GyreStatusSet(GYRE_ERR_FORMAT, "no global attribute '%s' in '%s'", name, file->path);
  if (type == NC_CHAR) { /* a number stored as text, e.g. stepping_wall_seconds */
    char  *text, *end;
    double v;
    GyreCall(GyreFileGetAttText(file, name, &text));
    v = strtod(text, &end);
    if (end == text || *end) {
      GyreStatus st =
          GyreStatusSet(GYRE_ERR_FORMAT, "global attribute '%s' in '%s' is '%s', not a number",
                        name, file->path, text);
      free(text);
      return st;
    }
    free(text);
    *value = v;
    return GYRE_OK;
  }
  if (type == NC_STRING || len < 1 || type > NC_UINT64)
    return GyreStatusSet(GYRE_ERR_FORMAT, "global attribute '%s' in '%s' is not a number", name,
                         file->path);
  {
    double *v = malloc(len * sizeof *v);
    if (!v) return GyreStatusSet(GYRE_ERR_MEM, "out of memory reading attribute '%s'", name);
    nc_get_att_double(file->ncid, NC_GLOBAL, name, v);
    *value = v[0];
    free(v);
  }
  return GYRE_OK;
}
