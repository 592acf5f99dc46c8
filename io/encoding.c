/* encoding.c — a variable's CF encoding, shared by every reader of data (gyre compare's REF and
 * TEST, initial files, checkpoints through GyreFileReadBlock; training data in
 * surrogates/dataset.c): the packing and the values that mark a missing value.
 *
 * Decisions:
 * - Packed variables (scale_factor, add_offset) are unpacked: physical = raw x scale + offset,
 *   in double precision, as CF and xarray do.
 * - A missing value is an error, not a hole to skip: every metric and every training sample
 *   takes complete fields, and a fill value read as a number (9.97e36, -999) would pass as data
 *   (an RMSE in the hundreds, a normalisation of 1e33). The markers are _FillValue, each of
 *   missing_value's values, and where neither is given NetCDF's default fill of the type (an
 *   unwritten record; gyre writes no _FillValue) unless the variable is stored without fill.
 *   A NaN marker is left to the NaN check. */
#include "gyre_io.h"
#include <netcdf.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static double DefaultFill(nc_type t)
{
  switch (t) {
  case NC_BYTE:
    return NC_FILL_BYTE;
  case NC_UBYTE:
    return NC_FILL_UBYTE;
  case NC_SHORT:
    return NC_FILL_SHORT;
  case NC_USHORT:
    return NC_FILL_USHORT;
  case NC_INT:
    return NC_FILL_INT;
  case NC_UINT:
    return NC_FILL_UINT;
  case NC_INT64:
    return (double) NC_FILL_INT64;
  case NC_UINT64:
    return (double) NC_FILL_UINT64;
  case NC_FLOAT:
    return NC_FILL_FLOAT;
  default:
    return NC_FILL_DOUBLE;
  }
}

static void AddMarker(GyreVarEncoding *e, double v, const char *what)
{
  if (isnan(v) || e->nmiss >= GYRE_ENCODING_MAX_MISSING) return;
  for (int i = 0; i < e->nmiss; i++)
    if (e->miss[i] == v) return;
  e->miss[e->nmiss]        = v;
  e->miss_what[e->nmiss++] = what;
}

void GyreVarEncodingRead(int ncid, int varid, GyreVarEncoding *e)
{
  nc_type t = NC_DOUBLE, at;
  size_t  len;
  int     no_fill = 0, given = 0;
  double  v[GYRE_ENCODING_MAX_MISSING];

  memset(e, 0, sizeof *e);
  e->scale = 1, e->offset = 0;
  nc_inq_vartype(ncid, varid, &t);
  if (!nc_inq_att(ncid, varid, "scale_factor", &at, &len) && len == 1 && at != NC_CHAR)
    nc_get_att_double(ncid, varid, "scale_factor", &e->scale);
  if (!nc_inq_att(ncid, varid, "add_offset", &at, &len) && len == 1 && at != NC_CHAR)
    nc_get_att_double(ncid, varid, "add_offset", &e->offset);
  e->packed = e->scale != 1 || e->offset != 0;
  if (!nc_inq_att(ncid, varid, "_FillValue", &at, &len) && len == 1 && at != NC_CHAR &&
      !nc_get_att_double(ncid, varid, "_FillValue", v))
    AddMarker(e, v[0], "_FillValue"), given = 1;
  if (!nc_inq_att(ncid, varid, "missing_value", &at, &len) && len >= 1 &&
      len <= GYRE_ENCODING_MAX_MISSING && at != NC_CHAR &&
      !nc_get_att_double(ncid, varid, "missing_value", v)) {
    for (size_t i = 0; i < len; i++)
      AddMarker(e, v[i], "missing_value");
    given = 1;
  }
  if (nc_inq_var_fill(ncid, varid, &no_fill, NULL)) no_fill = 0;
  if (!given && !no_fill)
    AddMarker(e, DefaultFill(t), "NetCDF's default fill value (never written)");
}

size_t GyreVarEncodingDecode(const GyreVarEncoding *e, double *v, size_t n, int *which)
{
  size_t first = n;
  *which       = -1;
  if (e->nmiss) /* (no branch per value where nothing can be missing) */
    for (size_t i = 0; i < n && first == n; i++)
      for (int k = 0; k < e->nmiss; k++)
        if (v[i] == e->miss[k]) {
          first = i, *which = k;
          break;
        }
  if (e->packed)
    for (size_t i = 0; i < n; i++)
      v[i] = v[i] * e->scale + e->offset;
  return first;
}

void GyreVarEncodingDescribe(const GyreVarEncoding *e, int which, char *buf, size_t n)
{
  if (which < 0 || which >= e->nmiss)
    snprintf(buf, n, "a missing value");
  else if (!strcmp(e->miss_what[which], "_FillValue") ||
           !strcmp(e->miss_what[which], "missing_value"))
    snprintf(buf, n, "its %s %.9g (a missing value)", e->miss_what[which], e->miss[which]);
  else
    snprintf(buf, n, "%s %.6g", e->miss_what[which], e->miss[which]);
}
