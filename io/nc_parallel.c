/* nc_parallel.c — the one place that knows whether this build's NetCDF is parallel.
 *
 * GYRE_IO_PARALLEL (set by CMake) is 1 with netcdf-mpi (Debian's libnetcdf-mpi-dev, built
 * with Open MPI): files are created and appended to collectively with nc_create_par /
 * nc_open_par and every variable gets collective access. It is 0 with the serial libnetcdf
 * (an MPICH build of the surrogate library alone, say, where no netcdf-mpi for that MPI
 * exists): the functions below then stand in with nc_create / nc_open, which is right on a
 * communicator of one rank; on more ranks a file can still be read, each rank opening it on
 * its own, but not created or appended to (GyreFileCreate and GyreFileOpen refuse that with a
 * message saying why, before anything is touched on disk). */
#include "file_impl.h"
#include <netcdf.h>
#if GYRE_IO_PARALLEL
#include <netcdf_par.h>
#endif

int GyreFileParallelWrites(void)
{
  return GYRE_IO_PARALLEL;
}

const char *GyreNcSerialReason(void)
{
  return "this build's NetCDF is serial (no netcdf-mpi): parallel writes need gyre built with "
         "libnetcdf-mpi and the MPI it was built with (Open MPI on Debian); write from one rank "
         "(MPI_COMM_SELF) instead";
}

int GyreNcCreatePar(const char *path, int mode, MPI_Comm comm, int *ncid)
{
#if GYRE_IO_PARALLEL
  return nc_create_par(path, mode, comm, MPI_INFO_NULL, ncid);
#else
  int size;
  MPI_Comm_size(comm, &size);
  if (size > 1) return NC_ENOPAR;
  return nc_create(path, mode & ~NC_MPIIO, ncid);
#endif
}

int GyreNcOpenPar(const char *path, int mode, MPI_Comm comm, int *ncid)
{
#if GYRE_IO_PARALLEL
  return nc_open_par(path, mode, comm, MPI_INFO_NULL, ncid);
#else
  int size;
  MPI_Comm_size(comm, &size);
  if (size > 1 && (mode & NC_WRITE)) return NC_ENOPAR;
  return nc_open(path, mode & ~NC_MPIIO, ncid);
#endif
}

int GyreNcVarCollective(int ncid, int varid)
{
#if GYRE_IO_PARALLEL
  return nc_var_par_access(ncid, varid, NC_COLLECTIVE);
#else
  (void) ncid, (void) varid;
  return NC_NOERR;
#endif
}
