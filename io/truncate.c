/* truncate.c — dropping the records written after a checkpoint, so that a restarted run
 * continues its output file exactly where the checkpoint left it.
 *
 * NetCDF cannot shrink an unlimited dimension, so rank 0 copies the file on its own
 * (dimensions, variables with their storage settings, all attributes, static variables
 * whole, record variables' first nrec records) into PATH.tmp.<pid>, fsyncs it and renames
 * it over PATH: a crash at any moment leaves either the old file or the new one. The other
 * ranks wait and return rank 0's status. Storage settings copied: chunking, deflate,
 * shuffle, fletcher32, endianness and fill mode; other filters (szip, blosc) are not. */
#include "file_impl.h"
#include <netcdf.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
  const char *path;
  int         in, out;
  int         netcdf4;
  int         time_dimid;
  size_t      nrec;
} Copy;

static GyreStatus NcErr(const Copy *c, int err, const char *what, const char *name)
{
  return GyreStatusSet(GYRE_ERR_IO, "cannot truncate '%s': %s '%s': %s", c->path, what,
                       name ? name : "", nc_strerror(err));
}

static GyreStatus CopyAtts(Copy *c, int vin, int vout, const char *varname)
{
  int natts, err;
  if ((err = nc_inq_varnatts(c->in, vin, &natts))) return NcErr(c, err, "attributes of", varname);
  for (int a = 0; a < natts; a++) {
    char name[NC_MAX_NAME + 1];
    if ((err = nc_inq_attname(c->in, vin, a, name)) ||
        (err = nc_copy_att(c->in, vin, name, c->out, vout)))
      return NcErr(c, err, "copying attribute", name);
  }
  return GYRE_OK;
}

static GyreStatus DefineVar(Copy *c, int v, const int *dimmap)
{
  char    name[NC_MAX_NAME + 1];
  nc_type type;
  int     nd, dimids[NC_MAX_VAR_DIMS], vout, err;

  if ((err = nc_inq_var(c->in, v, name, &type, &nd, dimids, NULL)))
    return NcErr(c, err, "variable", "");
  if (type > NC_STRING)
    return GyreStatusSet(GYRE_ERR_FORMAT,
                         "cannot truncate '%s': variable '%s' has a user-defined type", c->path,
                         name);
  for (int d = 0; d < nd; d++)
    dimids[d] = dimmap[dimids[d]];
  if ((err = nc_def_var(c->out, name, type, nd, dimids, &vout)))
    return NcErr(c, err, "defining variable", name);
  if (c->netcdf4) {
    size_t chunks[NC_MAX_VAR_DIMS];
    int    storage, shuffle, deflate, level, fletcher, endian, nofill;
    if (!(err = nc_inq_var_chunking(c->in, v, &storage, chunks)))
      err = nc_def_var_chunking(c->out, vout, storage, storage == NC_CHUNKED ? chunks : NULL);
    if (!err && !(err = nc_inq_var_deflate(c->in, v, &shuffle, &deflate, &level)) &&
        (shuffle || deflate))
      err = nc_def_var_deflate(c->out, vout, shuffle, deflate, level);
    if (!err && !(err = nc_inq_var_fletcher32(c->in, v, &fletcher)) && fletcher)
      err = nc_def_var_fletcher32(c->out, vout, fletcher);
    if (!err && !(err = nc_inq_var_endian(c->in, v, &endian)) && endian != NC_ENDIAN_NATIVE)
      err = nc_def_var_endian(c->out, vout, endian);
    if (!err && !(err = nc_inq_var_fill(c->in, v, &nofill, NULL)) && nofill)
      err = nc_def_var_fill(c->out, vout, 1, NULL);
    if (err) return NcErr(c, err, "copying the storage settings of", name);
  }
  return CopyAtts(c, v, vout, name);
}

/* Copies variable v slab by slab along its first dimension (records [0, nrec) for the time
 * axis). */
static GyreStatus CopyData(Copy *c, int v)
{
  char    name[NC_MAX_NAME + 1];
  nc_type type;
  int     nd, dimids[NC_MAX_VAR_DIMS], err = 0;
  size_t  start[NC_MAX_VAR_DIMS] = {0}, count[NC_MAX_VAR_DIMS], n0 = 1, slab = 1, tsize;
  void   *buf;

  nc_inq_var(c->in, v, name, &type, &nd, dimids, NULL);
  nc_inq_type(c->in, type, NULL, &tsize);
  for (int d = 0; d < nd; d++) {
    size_t len;
    nc_inq_dimlen(c->in, dimids[d], &len);
    if (dimids[d] == c->time_dimid && len > c->nrec) len = c->nrec;
    count[d] = len;
    if (d == 0)
      n0 = len;
    else
      slab *= len;
  }
  if (nd > 0) count[0] = 1;
  if (!n0 || !slab) return GYRE_OK;
  if (!(buf = malloc(slab * tsize)))
    return GyreStatusSet(GYRE_ERR_MEM, "cannot truncate '%s': out of memory copying '%s'", c->path,
                         name);
  for (size_t i = 0; i < n0 && !err; i++) {
    if (nd > 0) start[0] = i;
    if (!(err = nc_get_vara(c->in, v, start, count, buf))) {
      err = nc_put_vara(c->out, v, start, count, buf);
      if (type == NC_STRING) nc_free_string(slab, buf);
    }
  }
  free(buf);
  return err ? NcErr(c, err, "copying the values of", name) : GYRE_OK;
}

static GyreStatus CopyFile(Copy *c, const char *dst)
{
  int ndims, nvars, nunlim, fmt, mode, err;
  int dimids[NC_MAX_DIMS], unlim[NC_MAX_DIMS], dimmap[NC_MAX_DIMS];

  nc_inq_format(c->in, &fmt);
  c->netcdf4 = fmt == NC_FORMAT_NETCDF4 || fmt == NC_FORMAT_NETCDF4_CLASSIC;
  mode       = fmt == NC_FORMAT_NETCDF4           ? NC_NETCDF4
               : fmt == NC_FORMAT_NETCDF4_CLASSIC ? NC_NETCDF4 | NC_CLASSIC_MODEL
               : fmt == NC_FORMAT_64BIT_OFFSET    ? NC_64BIT_OFFSET
               : fmt == NC_FORMAT_CDF5            ? NC_64BIT_DATA
                                                  : 0;
  /* a NetCDF-4 copy is made with the parallel API on rank 0 alone: HDF5 then gives its
   * datasets the settings (early allocation) that later parallel appends need, which a
   * serially created file lacks (parallel writes to its deflated chunks fail); with a serial
   * NetCDF (nc_parallel.c) it is a plain nc_create, as no parallel appends can follow */
  if (c->netcdf4)
    err = GyreNcCreatePar(dst, mode | NC_CLOBBER, MPI_COMM_SELF, &c->out);
  else
    err = nc_create(dst, mode | NC_CLOBBER, &c->out);
  if (err) {
    c->out = -1;
    return GyreStatusSet(GYRE_ERR_IO, "cannot truncate '%s': cannot create '%s': %s", c->path, dst,
                         nc_strerror(err));
  }
  if (!c->netcdf4) nc_set_fill(c->out, NC_NOFILL, &(int){0}); /* every value is copied */
  GyreCall(CopyAtts(c, NC_GLOBAL, NC_GLOBAL, "global"));
  nc_inq_dimids(c->in, &ndims, dimids, 0);
  nc_inq_unlimdims(c->in, &nunlim, unlim);
  for (int i = 0; i < ndims; i++) {
    char   name[NC_MAX_NAME + 1];
    size_t len;
    int    is_unlim = 0;
    for (int u = 0; u < nunlim; u++)
      is_unlim |= unlim[u] == dimids[i];
    nc_inq_dim(c->in, dimids[i], name, &len);
    if ((err = nc_def_dim(c->out, name, is_unlim ? NC_UNLIMITED : len, &dimmap[dimids[i]])))
      return NcErr(c, err, "defining dimension", name);
  }
  nc_inq_nvars(c->in, &nvars);
  for (int v = 0; v < nvars; v++)
    GyreCall(DefineVar(c, v, dimmap));
  if ((err = nc_enddef(c->out))) return NcErr(c, err, "writing the header of", dst);
  for (int v = 0; v < nvars && c->netcdf4; v++) /* parallel filters need collective access */
    if ((err = GyreNcVarCollective(c->out, v)))
      return NcErr(c, err, "setting collective access in", dst);
  for (int v = 0; v < nvars; v++)
    GyreCall(CopyData(c, v));
  return GYRE_OK;
}

/* Rank 0's part: the copy, then the durable rename. */
static GyreStatus Truncate(const char *path, size_t nrec)
{
  Copy         c = {.path = path, .in = -1, .out = -1, .time_dimid = -1, .nrec = nrec};
  GyreFileKind kind;
  GyreStatus   st;
  struct stat  sb;
  size_t       len = 0;
  char        *tmp;
  int          err;

  GyreCall(GyreFileKindOf(path, &kind));
  if ((err = nc_open(path, NC_NOWRITE, &c.in))) return GyreNcOpenStatus(path, err);
  if (nc_inq_unlimdim(c.in, &c.time_dimid) || c.time_dimid < 0) {
    nc_close(c.in);
    return GyreStatusSet(GYRE_ERR_FORMAT, "cannot truncate '%s': it has no unlimited dimension",
                         path);
  }
  nc_inq_dimlen(c.in, c.time_dimid, &len);
  /* nrec == len still copies: the copy is a file created through the parallel API, which
   * parallel appends need (a file whose attributes were amended serially may not be) */
  if (nrec > len) {
    nc_close(c.in);
    return GyreStatusSet(GYRE_ERR_ARG, "cannot keep %zu records of '%s': it has only %zu", nrec,
                         path, len);
  }
  if (!(tmp = GyreTmpPath(path, (long) getpid()))) {
    nc_close(c.in);
    return GyreStatusSet(GYRE_ERR_MEM, "out of memory truncating '%s'", path);
  }
  st = CopyFile(&c, tmp);
  if (c.out >= 0 && (err = nc_close(c.out)) && st == GYRE_OK)
    st = GyreStatusSet(GYRE_ERR_IO, "cannot truncate '%s': closing '%s': %s", path, tmp,
                       nc_strerror(err));
  nc_close(c.in);
  if (st == GYRE_OK && stat(path, &sb) == 0) chmod(tmp, sb.st_mode & 07777);
  if (st == GYRE_OK) st = GyreDurableReplace(tmp, path);
  if (st != GYRE_OK) unlink(tmp);
  free(tmp);
  return st;
}

GyreStatus GyreFileTruncateRecords(MPI_Comm comm, const char *path, size_t nrec)
{
  int        rank;
  GyreStatus st = GYRE_OK;

  if (!path) return GyreStatusSet(GYRE_ERR_ARG, "GyreFileTruncateRecords: NULL path");
  MPI_Comm_rank(comm, &rank);
  if (rank == 0) st = Truncate(path, nrec);
  return GyreStatusAgree(comm, st); /* the others wait here for rank 0's outcome */
}
