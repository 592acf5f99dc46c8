/* test_io_serial.c — io/ on a serial or a parallel NetCDF (run on 1 and 2 ranks).
 * Asserts:
 * - a file created and written by rank 0 alone on MPI_COMM_SELF (atomic) is read back
 *   exactly by every rank, each reading its own uneven block of rows;
 * - creating and appending on all ranks work with netcdf-mpi (GyreFileParallelWrites());
 *   with the serial NetCDF on more than one rank they fail on every rank with one exact
 *   message and leave no file, no temporary file and the existing file byte-identical;
 *   appending on MPI_COMM_SELF works there instead;
 * - GyreFileTruncateRecords keeps the first record, and every rank reads it. */
#include "io_test.h"
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

enum { SY = 5, SX = 4 };

static int rank, size;

static double Value(size_t rec, size_t y, size_t x)
{
  return 1000.0 * (double) rec + 10.0 * (double) y + (double) x + 0.125;
}

static int Exists(const char *path)
{
  struct stat st;
  int         e = rank == 0 ? stat(path, &st) == 0 : 0;
  MPI_Bcast(&e, 1, MPI_INT, 0, MPI_COMM_WORLD);
  return e;
}

/* Rows [y0, y0 + ny) of this rank among n ranks: uneven (the first ranks get one more). */
static void Rows(int r, int n, size_t *y0, size_t *ny)
{
  size_t base = SY / (size_t) n, extra = SY % (size_t) n;
  *ny = base + ((size_t) r < extra);
  *y0 = (size_t) r * base + ((size_t) r < extra ? (size_t) r : extra);
}

/* Writes record rec: each rank of the file's communicator (crank of csize) its rows. */
static void WriteRecord(GyreFile f, int varid, size_t rec, int crank, int csize)
{
  size_t y0, ny, start[2], count[2];
  double buf[SY * SX];
  Rows(crank, csize, &y0, &ny);
  for (size_t j = 0; j < ny; j++)
    for (size_t i = 0; i < SX; i++)
      buf[j * SX + i] = Value(rec, y0 + j, i);
  start[0] = y0, start[1] = 0, count[0] = ny, count[1] = SX;
  CHECK_OK(GyreFileWriteTime(f, rec, 0.5 * (double) rec));
  CHECK_OK(GyreFileWriteBlock(f, varid, rec, start, count, buf));
}

/* Creates path on comm with nrec records; returns the status of GyreFileCreate. */
static GyreStatus WriteFile(MPI_Comm comm, const char *path, size_t nrec)
{
  GyreFileOptions o  = {.overwrite = 1, .atomic = 1};
  GyreDimSpec     dy = {.name = "y", .len = SY}, dx = {.name = "x", .len = SX};
  GyreVarSpec     v = {.name      = "u",
                       .ndims     = 2,
                       .dims      = {"y", "x"},
                       .units     = "1",
                       .precision = GYRE_DOUBLE,
                       .has_time  = 1};
  GyreFile        f = NULL;
  GyreStatus      st;
  int             varid = -1, crank, csize;

  MPI_Comm_rank(comm, &crank);
  MPI_Comm_size(comm, &csize);
  if ((st = GyreFileCreate(comm, path, &o, &f)) != GYRE_OK) return st;
  CHECK_OK(GyreFileDefineTime(f, GYRE_TIME_PHYSICAL, "s"));
  CHECK_OK(GyreFileDefineDim(f, &dy));
  CHECK_OK(GyreFileDefineDim(f, &dx));
  CHECK_OK(GyreFileDefineVar(f, &v, &varid));
  CHECK_OK(GyreFilePutAttText(f, "title", "io serial test"));
  CHECK_OK(GyreFileEndDef(f));
  for (size_t r = 0; r < nrec; r++)
    WriteRecord(f, varid, r, crank, csize);
  CHECK_OK(GyreFileClose(&f));
  return GYRE_OK;
}

/* Every rank opens path on MPI_COMM_WORLD and checks nrec records of its own rows. */
static void CheckFile(const char *path, size_t nrec, const char *what)
{
  GyreFile f     = NULL;
  size_t   n     = 0, y0, ny, start[2], count[2];
  double  *t     = NULL, buf[SY * SX];
  char    *title = NULL;
  int      bad   = 0;

  CHECK_OK(GyreFileOpen(MPI_COMM_WORLD, path, 0, &f));
  if (!f) return;
  CHECK_OK(GyreFileGetTimes(f, &n, &t));
  CHECK(n == nrec, "%s: %zu records, expected %zu", what, n, nrec);
  for (size_t r = 0; t && r < n; r++)
    CHECK(t[r] == 0.5 * (double) r, "%s: time %zu is %g", what, r, t[r]);
  CHECK_OK(GyreFileGetAttText(f, "title", &title));
  CHECK(title && !strcmp(title, "io serial test"), "%s: title '%s'", what, title ? title : "");
  Rows(rank, size, &y0, &ny);
  start[0] = y0, start[1] = 0, count[0] = ny, count[1] = SX;
  for (size_t r = 0; r < n && r < nrec; r++) {
    CHECK_OK(GyreFileReadBlock(f, "u", r, start, count, buf));
    for (size_t j = 0; j < ny; j++)
      for (size_t i = 0; i < SX; i++)
        bad += buf[j * SX + i] != Value(r, y0 + j, i);
  }
  CHECK(!bad, "%s: rank %d read %d wrong values", what, rank, bad);
  CHECK_OK(GyreFileClose(&f));
  free(t);
  free(title);
}

int main(int argc, char **argv)
{
  char path[256], other[256], tmp[300], want[1024], h0[65] = "", h1[65] = "";
  int  par, failures;

  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  par = GyreFileParallelWrites();
  if (rank == 0) printf("NetCDF: %s, %d ranks\n", par ? "parallel (netcdf-mpi)" : "serial", size);
  snprintf(path, sizeof path, "io_serial_np%d.nc", size);
  snprintf(other, sizeof other, "io_serial_np%d_all.nc", size);
  if (rank == 0) unlink(other);

  /* written by rank 0 alone, read by all */
  if (rank == 0) CHECK_OK(WriteFile(MPI_COMM_SELF, path, 2));
  MPI_Barrier(MPI_COMM_WORLD);
  CheckFile(path, 2, "written on one rank");

  /* created on all ranks */
  if (par || size == 1) {
    CHECK_OK(WriteFile(MPI_COMM_WORLD, other, 3));
    CheckFile(other, 3, "written on all ranks");
  } else {
    snprintf(want, sizeof want,
             "cannot create '%s' on %d MPI ranks: this build's NetCDF is serial (no netcdf-mpi): "
             "parallel writes need gyre built with libnetcdf-mpi and the MPI it was built with "
             "(Open MPI on Debian); write from one rank (MPI_COMM_SELF) instead",
             other, size);
    CHECK_FAILS(WriteFile(MPI_COMM_WORLD, other, 3), GYRE_ERR_IO, want);
    CHECK(!Exists(other), "'%s' exists after a refused create", other);
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", other, (long) getpid());
    CHECK(!Exists(tmp), "'%s' exists after a refused create", tmp);
    /* an existing file is not touched either */
    if (rank == 0 && GyreHashFile(path, h0) != GYRE_OK) h0[0] = '\0';
    snprintf(want, sizeof want,
             "cannot create '%s' on %d MPI ranks: this build's NetCDF is serial (no netcdf-mpi): "
             "parallel writes need gyre built with libnetcdf-mpi and the MPI it was built with "
             "(Open MPI on Debian); write from one rank (MPI_COMM_SELF) instead",
             path, size);
    CHECK_FAILS(WriteFile(MPI_COMM_WORLD, path, 3), GYRE_ERR_IO, want);
    if (rank == 0 && GyreHashFile(path, h1) != GYRE_OK) h1[0] = '\0';
    CHECK(rank != 0 || (h0[0] && !strcmp(h0, h1)), "'%s' changed by a refused create", path);
  }

  /* appended to: on all ranks where allowed, else on rank 0 alone */
  {
    GyreFile f     = NULL;
    int      varid = -1;
    if (!par && size > 1) {
      GyreStatus st = GyreFileOpen(MPI_COMM_WORLD, path, 1, &f);
      snprintf(want, sizeof want,
               "cannot append to '%s' on %d MPI ranks: this build's NetCDF is serial (no "
               "netcdf-mpi): parallel writes need gyre built with libnetcdf-mpi and the MPI it "
               "was built with (Open MPI on Debian); write from one rank (MPI_COMM_SELF) instead",
               path, size);
      CHECK_FAILS(st, GYRE_ERR_IO, want);
      CHECK(!f, "a handle after a refused append");
    }
    MPI_Comm comm = par || size == 1 ? MPI_COMM_WORLD : MPI_COMM_SELF;
    if (comm == MPI_COMM_WORLD || rank == 0) {
      int crank, csize;
      MPI_Comm_rank(comm, &crank);
      MPI_Comm_size(comm, &csize);
      CHECK_OK(GyreFileOpen(comm, path, 1, &f));
      if (f) {
        CHECK_OK(GyreFileGetVarId(f, "u", &varid));
        WriteRecord(f, varid, 2, crank, csize);
        CHECK_OK(GyreFileClose(&f));
      }
    }
    MPI_Barrier(MPI_COMM_WORLD);
    CheckFile(path, 3, "appended");
  }

  /* truncated (rank 0 copies) */
  CHECK_OK(GyreFileTruncateRecords(MPI_COMM_WORLD, path, 1));
  CheckFile(path, 1, "truncated");

  MPI_Barrier(MPI_COMM_WORLD);
  if (rank == 0) unlink(path), unlink(other);
  MPI_Allreduce(&io_test_failures, &failures, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  if (rank == 0) printf("%s: %d failures\n", failures ? "FAILED" : "passed", failures);
  MPI_Finalize();
  return failures ? 1 : 0;
}
