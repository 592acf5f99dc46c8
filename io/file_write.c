/* file_write.c — data mode of a file being written: time values, each rank's hyperslab of a
 * variable, flushing, and updating global attributes afterwards. Every call here is
 * collective: a rank with nothing to write still takes part (the unlimited dimension grows
 * by agreement of all ranks inside NetCDF), and argument checks that may fail on one rank
 * only are agreed on before the collective write, so that no rank is left waiting. */
#include "file_impl.h"
#include <netcdf.h>
#include <string.h>

static GyreStatus CheckWritable(GyreFile f, const char *what)
{
  if (!f) return GyreStatusSet(GYRE_ERR_ARG, "%s: NULL file", what);
  if (!f->writable)
    return GyreStatusSet(GYRE_ERR_ARG, "%s: '%s' was opened read-only", what, f->path);
  if (f->define_mode)
    return GyreStatusSet(GYRE_ERR_ARG, "%s on '%s': still in define mode (call GyreFileEndDef)",
                         what, f->path);
  return GYRE_OK;
}

GyreStatus GyreFileWriteTime(GyreFile file, size_t rec, double t)
{
  size_t start = rec, count;
  int    err;

  GyreCall(CheckWritable(file, "GyreFileWriteTime"));
  if (file->time_varid < 0)
    return GyreStatusSet(GYRE_ERR_ARG, "'%s' has no time variable", file->path);
  count = file->rank == 0 ? 1 : 0;
  if (count == 0) start = 0;
  err = nc_put_vara_double(file->ncid, file->time_varid, &start, &count, &t);
  return GyreStatusAgree(file->comm, err ? GyreStatusSet(GYRE_ERR_IO,
                                                         "cannot write time %g at record %zu of "
                                                         "'%s': %s",
                                                         t, rec, file->path, nc_strerror(err))
                                         : GYRE_OK);
}

GyreStatus GyreFileWriteBlock(GyreFile file, int varid, size_t rec, const size_t *start,
                              const size_t *count, const double *data)
{
  char       name[NC_MAX_NAME + 1] = "";
  size_t     lens[GYRE_IO_MAX_DIMS + 1], s[GYRE_IO_MAX_DIMS + 1], c[GYRE_IO_MAX_DIMS + 1];
  int        nd = 0, has_time = 0, empty = 0, err;
  double     none = 0;
  GyreStatus st;

  GyreCall(CheckWritable(file, "GyreFileWriteBlock"));
  st = GyreFileVarShape(file, varid, &nd, &has_time, lens, name);
  for (int d = 0; st == GYRE_OK && d < nd - has_time; d++) {
    if (count[d] == 0)
      empty = 1;
    else if (start[d] + count[d] > lens[d])
      st = GyreStatusSet(GYRE_ERR_ARG,
                         "block [%zu, %zu) of dimension %d of '%s' in '%s' exceeds its length %zu",
                         start[d], start[d] + count[d], d, name, file->path, lens[d]);
  }
  if (st == GYRE_OK && !empty && !data)
    st = GyreStatusSet(GYRE_ERR_ARG, "GyreFileWriteBlock('%s'): NULL data", name);
  GyreCall(GyreStatusAgree(file->comm, st));

  for (int d = 0; d < nd; d++) {
    int k = d - has_time;
    s[d]  = empty ? 0 : (k < 0 ? rec : start[k]);
    c[d]  = empty ? 0 : (k < 0 ? 1 : count[k]);
  }
  err = nc_put_vara_double(file->ncid, varid, s, c, empty ? &none : data);
  if (err == NC_ERANGE)
    st = GyreStatusSet(GYRE_ERR_IO,
                       "values of '%s' at record %zu out of the range of its type in '%s'", name,
                       rec, file->path);
  else if (err)
    st = GyreStatusSet(GYRE_ERR_IO, "cannot write '%s' at record %zu of '%s': %s", name, rec,
                       file->path, nc_strerror(err));
  return GyreStatusAgree(file->comm, st);
}

GyreStatus GyreFileSync(GyreFile file)
{
  int err;
  GyreCall(CheckWritable(file, "GyreFileSync"));
  err = nc_sync(file->ncid);
  return GyreStatusAgree(file->comm, err ? GyreStatusSet(GYRE_ERR_IO, "cannot flush '%s': %s",
                                                         file->path, nc_strerror(err))
                                         : GYRE_OK);
}

GyreStatus GyreFileUpdateAttText(GyreFile file, const char *name, const char *value)
{
  GyreStatus st = GYRE_OK;
  int        err;

  if (!file || !name || !value)
    return GyreStatusSet(GYRE_ERR_ARG, "GyreFileUpdateAttText: NULL argument");
  if (!file->writable)
    return GyreStatusSet(GYRE_ERR_ARG, "cannot set attribute '%s': '%s' was opened read-only", name,
                         file->path);
  if (file->define_mode) return GyreFilePutAttText(file, name, value);
  if ((err = nc_redef(file->ncid)))
    st = GyreStatusSet(GYRE_ERR_IO, "cannot re-enter define mode of '%s': %s", file->path,
                       nc_strerror(err));
  if (!err && (err = nc_put_att_text(file->ncid, NC_GLOBAL, name, strlen(value), value)))
    st = GyreStatusSet(GYRE_ERR_IO, "cannot write attribute '%s' in '%s': %s", name, file->path,
                       nc_strerror(err));
  if ((err = nc_enddef(file->ncid)) && st == GYRE_OK)
    st = GyreStatusSet(GYRE_ERR_IO, "cannot leave define mode of '%s': %s", file->path,
                       nc_strerror(err));
  if (st == GYRE_OK) st = GyreFileSetCollective(file);
  return GyreStatusAgree(file->comm, st);
}

GyreStatus GyreFileAmendAttributes(MPI_Comm comm, const char *path, int n,
                                   const char *const names[], const char *const values[])
{
  GyreStatus st = GYRE_OK;
  int        rank, ncid, err;

  MPI_Comm_rank(comm, &rank);
  if (rank == 0) {
    if ((err = nc_open(path, NC_WRITE, &ncid))) {
      st = GyreStatusSet(GYRE_ERR_IO, "cannot reopen '%s' to finish its provenance: %s", path,
                         nc_strerror(err));
    } else {
      err = nc_redef(ncid);
      for (int i = 0; i < n && !err; i++)
        err = nc_put_att_text(ncid, NC_GLOBAL, names[i], strlen(values[i]), values[i]);
      if (err)
        st = GyreStatusSet(GYRE_ERR_IO, "cannot write the provenance of '%s': %s", path,
                           nc_strerror(err));
      if ((err = nc_close(ncid)) && st == GYRE_OK)
        st = GyreStatusSet(GYRE_ERR_IO, "cannot close '%s': %s", path, nc_strerror(err));
    }
  }
  return GyreStatusAgree(comm, st);
}
