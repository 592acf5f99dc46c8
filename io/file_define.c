/* file_define.c — define mode of a file being written: the unlimited `time` axis, the other
 * dimensions with their coordinate variables, the data variables (chunking, deflate, CF
 * attributes) and global attributes; GyreFileEndDef() leaves define mode and writes the
 * coordinate values.
 *
 * Decisions:
 * - Chunks are chunk_records records x the full extent of the other dimensions, so that one
 *   output step is one chunk per variable; a chunk larger than GYRE_CHUNK_CAP bytes is
 *   halved along its outermost dimensions first (keeping whole rows contiguous).
 * - Static variables are contiguous unless deflated (deflate needs chunks).
 * - No _FillValue attribute is written: unwritten values hold NetCDF's default fill, which
 *   readers do not turn into warnings; coordinate variables must not carry one (CF).
 * - Deflate comes with the shuffle filter (better ratios for floating point, no cost that
 *   matters); parallel filters need collective access, which every variable gets. */
#include "file_impl.h"
#include <netcdf.h>
#include <stdlib.h>
#include <string.h>

#define GYRE_CHUNK_CAP (4u << 20) /* bytes */

static GyreStatus NcFail(GyreFile f, int err, const char *what, const char *name)
{
  return GyreStatusSet(GYRE_ERR_IO, "cannot %s '%s' in '%s': %s", what, name, f->path,
                       nc_strerror(err));
}

static GyreStatus CheckDefineMode(GyreFile f, const char *what)
{
  if (!f) return GyreStatusSet(GYRE_ERR_ARG, "%s: NULL file", what);
  if (!f->define_mode)
    return GyreStatusSet(GYRE_ERR_ARG, "%s on '%s': not in define mode (after GyreFileEndDef)",
                         what, f->path);
  return GYRE_OK;
}

static GyreStatus PutText(GyreFile f, int varid, const char *name, const char *value)
{
  int err;
  if (!value) return GYRE_OK;
  if ((err = nc_put_att_text(f->ncid, varid, name, strlen(value), value)))
    return NcFail(f, err, "write attribute", name);
  return GYRE_OK;
}

GyreStatus GyreFileDefineTime(GyreFile file, GyreTimeKind kind, const char *units)
{
  int err;

  GyreCall(CheckDefineMode(file, "GyreFileDefineTime"));
  if (file->time_dimid >= 0)
    return GyreStatusSet(GYRE_ERR_ARG, "time defined twice in '%s'", file->path);
  if (kind == GYRE_TIME_PHYSICAL && (!units || !units[0]))
    return GyreStatusSet(GYRE_ERR_ARG, "physical time in '%s' needs units", file->path);
  if ((err = nc_def_dim(file->ncid, "time", NC_UNLIMITED, &file->time_dimid)))
    return NcFail(file, err, "define dimension", "time");
  if ((err = nc_def_var(file->ncid, "time", NC_DOUBLE, 1, &file->time_dimid, &file->time_varid)))
    return NcFail(file, err, "define variable", "time");
  {
    size_t chunk = 512; /* 4 KiB of times per chunk */
    if ((err = nc_def_var_chunking(file->ncid, file->time_varid, NC_CHUNKED, &chunk)))
      return NcFail(file, err, "set the chunks of", "time");
  }
  GyreCall(PutText(file, file->time_varid, "standard_name", "time"));
  GyreCall(PutText(file, file->time_varid, "long_name", "time"));
  GyreCall(PutText(file, file->time_varid, "axis", "T"));
  if (kind == GYRE_TIME_NONDIM) {
    GyreCall(PutText(file, file->time_varid, "units", "days since 2000-01-01 00:00:00"));
    GyreCall(PutText(file, file->time_varid, "calendar", "proleptic_gregorian"));
    GyreCall(PutText(file, file->time_varid, "comment",
                     "non-dimensional model time t, stored as days since 2000-01-01 00:00:00 "
                     "so that CF tools (CDO, NCO, xarray) decode it: 1 day = 1 model time "
                     "unit"));
  } else {
    GyreCall(PutText(file, file->time_varid, "units", units));
    if (strstr(units, " since "))
      GyreCall(PutText(file, file->time_varid, "calendar", "proleptic_gregorian"));
  }
  return GYRE_OK;
}

GyreStatus GyreFileDefineDim(GyreFile file, const GyreDimSpec *dim)
{
  int dimid, varid, err, realization;

  GyreCall(CheckDefineMode(file, "GyreFileDefineDim"));
  if (!dim || !dim->name || !dim->name[0] || dim->len == 0)
    return GyreStatusSet(GYRE_ERR_ARG, "a dimension of '%s' without a name or length", file->path);
  if ((err = nc_def_dim(file->ncid, dim->name, dim->len, &dimid)))
    return NcFail(file, err, "define dimension", dim->name);
  realization = !dim->values && dim->standard_name && !strcmp(dim->standard_name, "realization");
  if (!dim->values && !realization) return GYRE_OK;

  if ((err =
           nc_def_var(file->ncid, dim->name, realization ? NC_INT : NC_DOUBLE, 1, &dimid, &varid)))
    return NcFail(file, err, "define coordinate variable", dim->name);
  GyreCall(PutText(file, varid, "standard_name", dim->standard_name));
  GyreCall(PutText(file, varid, "long_name",
                   dim->long_name ? dim->long_name : (realization ? "ensemble member" : NULL)));
  if (!realization) GyreCall(PutText(file, varid, "units", dim->units));
  GyreCall(PutText(file, varid, "axis", dim->axis));

  {
    GyreCoordPending *c = realloc(file->coords, (size_t) (file->ncoords + 1) * sizeof *c);
    if (!c) return GyreStatusSet(GYRE_ERR_MEM, "out of memory defining '%s'", dim->name);
    file->coords = c;
    c += file->ncoords;
    c->varid  = varid;
    c->len    = dim->len;
    c->values = NULL;
    if (dim->values) {
      if (!(c->values = malloc(dim->len * sizeof(double))))
        return GyreStatusSet(GYRE_ERR_MEM, "out of memory defining '%s'", dim->name);
      memcpy(c->values, dim->values, dim->len * sizeof(double));
    }
    file->ncoords++;
  }
  return GYRE_OK;
}

/* Chunk sizes for a variable of element size elem over lens[0..nd): see the top comment. */
static void ChooseChunks(size_t elem, int nd, const size_t *lens, size_t *chunk)
{
  size_t bytes = elem;
  for (int d = 0; d < nd; d++) {
    chunk[d] = lens[d] ? lens[d] : 1;
    bytes *= chunk[d];
  }
  for (int d = 0; d < nd && bytes > GYRE_CHUNK_CAP; d++) {
    while (bytes > GYRE_CHUNK_CAP && chunk[d] > 1) {
      bytes /= chunk[d];
      chunk[d] = (chunk[d] + 1) / 2;
      bytes *= chunk[d];
    }
  }
}

GyreStatus GyreFileDefineVar(GyreFile file, const GyreVarSpec *var, int *varid)
{
  int    dimids[GYRE_IO_MAX_DIMS + 1], nd = 0, err;
  size_t lens[GYRE_IO_MAX_DIMS + 1], chunk[GYRE_IO_MAX_DIMS + 1];
  size_t elem;

  GyreCall(CheckDefineMode(file, "GyreFileDefineVar"));
  if (!var || !var->name || !var->name[0] || var->ndims < 0 || var->ndims > GYRE_IO_MAX_DIMS)
    return GyreStatusSet(GYRE_ERR_ARG, "a variable of '%s' without a name or with %d dimensions",
                         file->path, var ? var->ndims : -1);
  if (var->has_time) {
    if (file->time_dimid < 0)
      return GyreStatusSet(GYRE_ERR_ARG,
                           "variable '%s' in '%s' has time but GyreFileDefineTime was not called",
                           var->name, file->path);
    dimids[nd] = file->time_dimid;
    lens[nd++] = file->chunk_records;
  }
  for (int d = 0; d < var->ndims; d++, nd++) {
    if (!var->dims[d] || (err = nc_inq_dimid(file->ncid, var->dims[d], &dimids[nd])))
      return GyreStatusSet(GYRE_ERR_ARG, "variable '%s' in '%s': no dimension '%s'", var->name,
                           file->path, var->dims[d] ? var->dims[d] : "(null)");
    nc_inq_dimlen(file->ncid, dimids[nd], &lens[nd]);
  }
  elem = var->precision == GYRE_DOUBLE ? 8 : 4;
  if ((err = nc_def_var(file->ncid, var->name, var->precision == GYRE_DOUBLE ? NC_DOUBLE : NC_FLOAT,
                        nd, dimids, varid)))
    return NcFail(file, err, "define variable", var->name);
  if (var->has_time || file->deflate) {
    ChooseChunks(elem, nd, lens, chunk);
    if ((err = nc_def_var_chunking(file->ncid, *varid, NC_CHUNKED, chunk)))
      return NcFail(file, err, "set the chunks of", var->name);
  }
  if (file->deflate && (err = nc_def_var_deflate(file->ncid, *varid, 1, 1, file->deflate)))
    return NcFail(file, err, "set deflate on", var->name);
  GyreCall(PutText(file, *varid, "standard_name", var->standard_name));
  GyreCall(PutText(file, *varid, "long_name", var->long_name ? var->long_name : var->name));
  GyreCall(PutText(file, *varid, "units", var->units ? var->units : "1"));
  GyreCall(PutText(file, *varid, "comment", var->comment));
  return GYRE_OK;
}

GyreStatus GyreFilePutAttText(GyreFile file, const char *name, const char *value)
{
  GyreCall(CheckDefineMode(file, "GyreFilePutAttText"));
  if (!name || !value)
    return GyreStatusSet(GYRE_ERR_ARG, "global attribute '%s' of '%s' without a value",
                         name ? name : "(null)", file->path);
  return PutText(file, NC_GLOBAL, name, value);
}

GyreStatus GyreFilePutAttDouble(GyreFile file, const char *name, double value)
{
  int err;
  GyreCall(CheckDefineMode(file, "GyreFilePutAttDouble"));
  if (!name) return GyreStatusSet(GYRE_ERR_ARG, "a global attribute without a name");
  if ((err = nc_put_att_double(file->ncid, NC_GLOBAL, name, NC_DOUBLE, 1, &value)))
    return NcFail(file, err, "write attribute", name);
  return GYRE_OK;
}

GyreStatus GyreFilePutVarAttText(GyreFile file, const char *var, const char *name,
                                 const char *value)
{
  int varid, err;
  GyreCall(CheckDefineMode(file, "GyreFilePutVarAttText"));
  if (!var || !name || !value)
    return GyreStatusSet(GYRE_ERR_ARG, "a variable attribute of '%s' without a name or value",
                         file->path);
  if ((err = nc_inq_varid(file->ncid, var, &varid)))
    return GyreStatusSet(GYRE_ERR_ARG, "no variable '%s' in '%s'", var, file->path);
  return PutText(file, varid, name, value);
}

GyreStatus GyreFileSetCollective(GyreFile file)
{
  int nvars, err;
  if (!file->parallel) return GYRE_OK;
  if ((err = nc_inq_nvars(file->ncid, &nvars)))
    return GyreStatusSet(GYRE_ERR_IO, "cannot list the variables of '%s': %s", file->path,
                         nc_strerror(err));
  for (int v = 0; v < nvars; v++)
    if ((err = GyreNcVarCollective(file->ncid, v)))
      return GyreStatusSet(GYRE_ERR_IO, "cannot set collective access in '%s': %s", file->path,
                           nc_strerror(err));
  return GYRE_OK;
}

GyreStatus GyreFileEndDef(GyreFile file)
{
  GyreStatus st = GYRE_OK;
  int        err;

  GyreCall(CheckDefineMode(file, "GyreFileEndDef"));
  if ((err = nc_enddef(file->ncid)))
    return GyreStatusSet(GYRE_ERR_IO, "cannot write the header of '%s': %s", file->path,
                         nc_strerror(err));
  file->define_mode = 0;
  GyreCall(GyreFileSetCollective(file));
  /* coordinate values: rank 0 writes them, the others take part with nothing */
  for (int i = 0; i < file->ncoords; i++) {
    GyreCoordPending *c     = &file->coords[i];
    size_t            start = 0, count = file->rank == 0 ? c->len : 0;
    if (c->values) {
      err = nc_put_vara_double(file->ncid, c->varid, &start, &count, c->values);
    } else {
      int none = 0, *idx = malloc(c->len * sizeof(int));
      if (idx)
        for (size_t k = 0; k < c->len; k++)
          idx[k] = (int) k;
      else
        count = 0; /* still take part in the collective write */
      err = nc_put_vara_int(file->ncid, c->varid, &start, &count, idx ? idx : &none);
      if (!idx && !err) err = NC_ENOMEM;
      free(idx);
    }
    if (err && st == GYRE_OK)
      st = GyreStatusSet(GYRE_ERR_IO, "cannot write coordinate values in '%s': %s", file->path,
                         nc_strerror(err));
    free(c->values);
  }
  free(file->coords);
  file->coords  = NULL;
  file->ncoords = 0;
  return GyreStatusAgree(file->comm, st);
}
