/* file_impl.h — private to io/: the GyreFile handle and the helpers the io/ files share.
 * Not installed, not included outside io/. */
#ifndef GYRE_FILE_IMPL_H
#define GYRE_FILE_IMPL_H

#include "gyre_io.h"

/* A coordinate variable whose values are written by GyreFileEndDef(). */
typedef struct {
  int     varid;
  size_t  len;
  double *values; /* NULL: integer index 0..len-1 (a realization axis) */
} GyreCoordPending;

struct GyreFile_s {
  MPI_Comm          comm; /* a duplicate of the caller's communicator */
  int               rank, size;
  int               ncid;
  int               parallel; /* 1: opened with the parallel API; 0: each rank on its own (read) */
  int               writable; /* 1: created, or opened with write = 1 */
  int               created;  /* 1: created by GyreFileCreate (GyreFileAbort may delete it) */
  int               define_mode; /* 1: between create and GyreFileEndDef */
  int               deflate;     /* deflate level for variables defined from now on */
  size_t            chunk_records;
  char             *path;     /* the path the caller named */
  char             *tmp_path; /* atomic create: the temporary file written until close; else NULL */
  int               time_dimid, time_varid; /* -1 when the file has no time axis */
  GyreCoordPending *coords;
  int               ncoords;
};

/* ---- file_create.c ---- */

/* A new handle on a duplicate of comm (no NetCDF file yet). Collective. */
GyreStatus GyreFileAlloc(MPI_Comm comm, const char *path, GyreFile *file);
/* Frees the handle (the NetCDF file must be closed). Collective (frees the communicator). */
void GyreFileFree(GyreFile *file);

/* ---- collective.c ---- */

/* Broadcasts a string from rank 0; *s is malloc'ed on the other ranks (NULL stays NULL). */
GyreStatus GyreBcastString(MPI_Comm comm, char **s);

/* ---- durable.c ---- */

/* "PATH.tmp.<pid>" into a malloc'ed string (NULL if out of memory). */
char *GyreTmpPath(const char *path, long pid);
/* fsyncs tmp, renames it over path and fsyncs path's directory. Not collective. */
GyreStatus GyreDurableReplace(const char *tmp, const char *path);

/* ---- file_kind.c ---- */

typedef enum { GYRE_KIND_HDF5 = 1, GYRE_KIND_CLASSIC = 2 } GyreFileKind;
/* Looks at the first bytes of path: NetCDF-4/HDF5, classic NetCDF, or an error naming the
 * path ("cannot open 'X': <reason>" or "'X' is not a NetCDF file"). Not collective. */
GyreStatus GyreFileKindOf(const char *path, GyreFileKind *kind);

/* ---- file_read.c ---- */

/* Variable varid's shape: *nd dimensions in all, *has_time (first dimension is the time
 * axis), lens[] of the non-time ones, its name (NC_MAX_NAME + 1 chars). Not collective. */
GyreStatus GyreFileVarShape(GyreFile f, int varid, int *nd, int *has_time, size_t *lens,
                            char *name);

/* ---- nc_parallel.c ---- */

/* The build's NetCDF: GYRE_IO_PARALLEL is 1 (netcdf-mpi) unless CMake says 0 (serial). */
#ifndef GYRE_IO_PARALLEL
#define GYRE_IO_PARALLEL 1
#endif
/* nc_create_par / nc_open_par / nc_var_par_access with a parallel NetCDF. With a serial one:
 * nc_create / nc_open (NC_ENOPAR when comm has more than one rank and the file would be
 * written) and a no-op. Return NetCDF error codes. Collective (parallel) or not (serial). */
int GyreNcCreatePar(const char *path, int mode, MPI_Comm comm, int *ncid);
int GyreNcOpenPar(const char *path, int mode, MPI_Comm comm, int *ncid);
int GyreNcVarCollective(int ncid, int varid);
/* Why a serial build cannot write on more than one rank (the end of a one-line message). */
const char *GyreNcSerialReason(void);

/* ---- file_read.c ---- */

/* The status of nc_open's error err on path: not NetCDF at all, a NetCDF-4/HDF5 file HDF5
 * cannot read (truncated or corrupt: NC_EHDFERR), or NetCDF's own text. */
GyreStatus GyreNcOpenStatus(const char *path, int err);

/* ---- file_define.c ---- */

/* Sets collective access on every variable (parallel files). */
GyreStatus GyreFileSetCollective(GyreFile file);

#endif
