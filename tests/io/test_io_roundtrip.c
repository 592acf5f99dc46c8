/* test_io_roundtrip.c — parallel write and read back of a CF file (run on 1, 2 and 4 ranks).
 * Written with an uneven row decomposition (one rank empty on 4 ranks), records out of
 * order, deflate 4; read back with an uneven column decomposition. Asserts: every double
 * exact, every float equal to the double rounded to float, times exact, the CF and
 * provenance attributes, chunking and deflate as defined, appending a record, chunks capped
 * at 4 MiB, reading a classic-format file. */
#include "io_test.h"
#include "gyre_version.h"
#include <netcdf.h>
#include <stdlib.h>
#include <unistd.h>

static char path[256], input[256];

static void Write(int rank, int size)
{
  GyreFileOptions o = {.overwrite = 1, .deflate = 4};
  GyreFile        f = NULL;
  int             varids[3];
  GyreProvenance  prov = {.title        = "roundtrip",
                          .command_line = "gyre simulate -model test -output 'a b.nc'",
                          .options      = "-model test\n-output a b.nc",
                          .seed         = 1234567890123L,
                          .inputs       = {input}};

  if (rank == 0) { /* an input file whose hash the provenance records */
    FILE *fp = fopen(input, "w");
    fprintf(fp, "input file of the roundtrip test\n");
    fclose(fp);
  }
  MPI_Barrier(MPI_COMM_WORLD);
  prov.mpi_size = size;
  CHECK_OK(CreateTestFile(MPI_COMM_WORLD, path, &o, &f, varids));
  CHECK(GyreFileUpdateAttText(f, "phase", "define") == GYRE_OK, "%s", GyreStatusMessage());
  /* provenance after GyreFileEndDef: re-enters define mode by itself */
  CHECK_OK(GyreProvenanceWrite(f, &prov));
  CHECK_OK(WriteTestStatic(f, varids));
  CHECK_OK(WriteTestRecord(f, varids, 2, 0.0)); /* records out of order */
  CHECK_OK(GyreFileUpdateAttText(f, "phase", "writing"));
  CHECK_OK(WriteTestRecord(f, varids, 0, 0.0));
  CHECK_OK(GyreFileSync(f));
  CHECK_OK(WriteTestRecord(f, varids, 1, 0.0));
  CHECK_OK(GyreProvenanceFinish(f));
  CHECK_OK(GyreFileClose(&f));
  CHECK(f == NULL, "handle not cleared");
}

static void Read(int rank, int size)
{
  GyreFile f    = NULL;
  size_t   nrec = 0, rec = 99, lens[GYRE_IO_MAX_DIMS];
  double  *times = NULL, v;
  char     names[GYRE_IO_MAX_DIMS][64], *s = NULL, hex[65];
  int      nd, has_time;
  long     nchecked = 0, bad;

  CHECK_OK(GyreFileOpen(MPI_COMM_WORLD, path, 0, &f));
  if (!f) return;
  CHECK(!strcmp(GyreFilePath(f), path), "path %s", GyreFilePath(f));
  CHECK_OK(GyreFileGetTimes(f, &nrec, &times));
  CHECK(nrec == NREC, "nrec %zu", nrec);
  for (size_t r = 0; r < nrec && times; r++)
    CHECK(times[r] == RecTime(r), "time[%zu] = %.17g", r, times[r]);
  free(times);
  CHECK_OK(GyreFileFindTime(f, 0.01 + 1e-13, 1e-9, &rec));
  CHECK(rec == 2, "FindTime gave %zu", rec);

  CHECK_OK(GyreFileInqVar(f, "vort", &nd, names, lens, &has_time));
  CHECK(nd == 3 && has_time == 1, "vort: %d dims, has_time %d", nd, has_time);
  CHECK(!strcmp(names[0], "member") && !strcmp(names[1], "y") && !strcmp(names[2], "x"),
        "dims %s %s %s", names[0], names[1], names[2]);
  CHECK(lens[0] == NMEM && lens[1] == NY && lens[2] == NX, "lens %zu %zu %zu", lens[0], lens[1],
        lens[2]);
  CHECK_OK(GyreFileInqVar(f, "depth", &nd, names, lens, &has_time));
  CHECK(nd == 2 && has_time == 0 && lens[0] == NY && lens[1] == NX, "depth shape");

  for (int var = 0; var < 2; var++)
    for (size_t r = 0; r < NREC; r++) {
      bad = CheckTestRecord(f, var, r, 0.0, &nchecked);
      CHECK(bad == 0, "%s record %zu: %ld values differ", var ? "psi" : "vort", r, bad);
    }
  { /* the static variable, read as whole rows by rank 0 only (the others read nothing) */
    double buf[NY * NX];
    size_t start[2] = {0, 0}, count[2] = {rank == 0 ? NY : 0, NX};
    long   nbad = 0;
    CHECK_OK(GyreFileReadBlock(f, "depth", 0, start, count, buf));
    for (size_t k = 0; rank == 0 && k < NY * NX; k++)
      nbad += buf[k] != Field(2, 0, 0, k / NX, k % NX);
    CHECK(nbad == 0, "depth: %ld values differ", nbad);
    if (rank == 0) nchecked += NY * NX;
  }
  if (rank == 0) printf("roundtrip: %ld values read back exactly on %d ranks\n", nchecked, size);
  CHECK(nchecked == (long) (2 * NREC * NMEM * NY * NX + (rank == 0 ? NY * NX : 0)), "checked %ld",
        nchecked);

  /* provenance and attributes */
  CHECK_OK(GyreFileGetAttText(f, "Conventions", &s));
  CHECK(s && !strcmp(s, "CF-1.8"), "Conventions %s", s);
  free(s);
  CHECK_OK(GyreFileGetAttText(f, "gyre_version", &s));
  CHECK(s && !strcmp(s, GYRE_VERSION), "gyre_version %s", s);
  free(s);
  CHECK_OK(GyreFileGetAttText(f, "phase", &s));
  CHECK(s && !strcmp(s, "writing"), "phase %s", s);
  free(s);
  CHECK_OK(GyreFileGetAttText(f, "end_time", &s));
  CHECK(s && strlen(s) == 20 && s[4] == '-' && s[10] == 'T' && s[19] == 'Z', "end_time %s", s);
  free(s);
  CHECK_OK(GyreFileGetAttText(f, "history", &s));
  CHECK(s && strstr(s, " gyre: gyre simulate -model test -output 'a b.nc'"), "history %s", s);
  free(s);
  CHECK_OK(GyreFileGetAttText(f, "slurm_job_id", &s));
  CHECK(s && !strcmp(s, getenv("SLURM_JOB_ID") ? getenv("SLURM_JOB_ID") : "none"), "job %s", s);
  free(s);
  CHECK_OK(GyreFileGetAttText(f, "launcher", &s));
  CHECK(s && !strcmp(s, GyreLauncher()) && (size == 1 || strncmp(s, "none", 4)), "launcher %s", s);
  free(s);
  CHECK_OK(GyreFileGetAttText(f, "options", &s));
  CHECK(s && !strcmp(s, "-model test\n-output a b.nc"), "options %s", s);
  free(s);
  CHECK_OK(GyreFileGetAttDouble(f, "mpi_size", &v));
  CHECK(v == size, "mpi_size %g", v);
  CHECK_OK(GyreFileGetAttDouble(f, "seed", &v));
  CHECK(v == 1234567890123.0, "seed %.17g", v);
  CHECK_OK(GyreHashFile(input, hex));
  CHECK_OK(GyreFileGetAttText(f, "input_files", &s));
  {
    char want[512];
    snprintf(want, sizeof want, "%s sha256:%s", input, hex);
    CHECK(s && !strcmp(s, want), "input_files '%s', expected '%s'", s, want);
  }
  free(s);
  {
    char want[512];
    snprintf(want, sizeof want, "no global attribute 'nonexistent' in '%s'", path);
    CHECK_FAILS(GyreFileGetAttText(f, "nonexistent", &s), GYRE_ERR_FORMAT, want);
  }
  CHECK_OK(GyreFileClose(&f));
}

/* Rank 0, serial API: the CF metadata and the storage layout as defined. */
static void CheckLayout(void)
{
  int    ncid, varid, shuffle, deflate, level, storage, imember[NMEM];
  size_t chunks[4], len;
  char   text[256];

  if (nc_open(path, NC_NOWRITE, &ncid)) {
    CHECK(0, "nc_open %s", path);
    return;
  }
  nc_inq_varid(ncid, "vort", &varid);
  nc_inq_var_deflate(ncid, varid, &shuffle, &deflate, &level);
  CHECK(deflate == 1 && level == 4 && shuffle == 1, "deflate %d level %d shuffle %d", deflate,
        level, shuffle);
  nc_inq_var_chunking(ncid, varid, &storage, chunks);
  CHECK(storage == NC_CHUNKED && chunks[0] == 1 && chunks[1] == NMEM && chunks[2] == NY &&
            chunks[3] == NX,
        "chunks %zu %zu %zu %zu", chunks[0], chunks[1], chunks[2], chunks[3]);
  nc_inq_varid(ncid, "member", &varid);
  nc_get_var_int(ncid, varid, imember);
  CHECK(imember[0] == 0 && imember[1] == 1, "member %d %d", imember[0], imember[1]);
  CHECK(nc_inq_attlen(ncid, varid, "units", &len) == NC_ENOTATT, "member has units");
  nc_get_att_text(ncid, varid, "standard_name", text);
  CHECK(!strncmp(text, "realization", 11), "member standard_name");
  nc_inq_varid(ncid, "time", &varid);
  nc_inq_attlen(ncid, varid, "units", &len);
  nc_get_att_text(ncid, varid, "units", text);
  text[len] = '\0';
  CHECK(!strcmp(text, "days since 2000-01-01 00:00:00"), "time units %s", text);
  nc_inq_attlen(ncid, varid, "calendar", &len);
  nc_get_att_text(ncid, varid, "calendar", text);
  text[len] = '\0';
  CHECK(!strcmp(text, "proleptic_gregorian"), "calendar %s", text);
  CHECK(nc_inq_attlen(ncid, varid, "comment", &len) == NC_NOERR && len > 20, "time comment");
  nc_close(ncid);
}

/* Opens for appending, writes record 3 and checks it. */
static void Append(int rank, int size)
{
  GyreFile f = NULL;
  int      varids[2];
  size_t   nrec = 0;
  long     bad;

  CHECK_OK(GyreFileOpen(MPI_COMM_WORLD, path, 1, &f));
  if (!f) return;
  CHECK_OK(GyreFileGetVarId(f, "vort", &varids[0]));
  CHECK_OK(GyreFileGetVarId(f, "psi", &varids[1]));
  CHECK_OK(GyreFileUpdateAttText(f, "end_time", "running"));
  CHECK_OK(WriteTestRecord(f, varids, 3, 0.0));
  CHECK_OK(GyreFileClose(&f));
  CHECK_OK(GyreFileOpen(MPI_COMM_WORLD, path, 0, &f));
  if (!f) return;
  CHECK_OK(GyreFileGetTimes(f, &nrec, NULL));
  CHECK(nrec == 4, "after append: %zu records", nrec);
  for (int var = 0; var < 2; var++)
    for (size_t r = 0; r < 4; r++) {
      bad = CheckTestRecord(f, var, r, 0.0, NULL);
      CHECK(bad == 0, "after append: var %d record %zu: %ld values differ", var, r, bad);
    }
  CHECK_OK(GyreFileClose(&f));
}

/* A classic-format file (as CDO or NCO write them) is read on every rank with the serial
 * API; appending to it is refused. */
static void Classic(int rank, int size)
{
  char     cpath[64], want[256];
  GyreFile f = NULL;
  size_t   x0, nx, nrec = 0;
  double   buf[NY * NX];
  long     bad = 0, all;

  snprintf(cpath, sizeof cpath, "io_classic_np%d.nc", size);
  if (rank == 0) {
    int    ncid, dims[3], tv, pv;
    double t    = 0.5;
    size_t s[3] = {0, 0, 0}, c[3] = {1, NY, NX};
    for (size_t k = 0; k < NY * NX; k++)
      buf[k] = Field(1, 0, 0, k / NX, k % NX);
    nc_create(cpath, NC_CLOBBER, &ncid); /* classic format */
    nc_def_dim(ncid, "time", NC_UNLIMITED, &dims[0]);
    nc_def_dim(ncid, "y", NY, &dims[1]);
    nc_def_dim(ncid, "x", NX, &dims[2]);
    nc_def_var(ncid, "time", NC_DOUBLE, 1, dims, &tv);
    nc_def_var(ncid, "psi", NC_DOUBLE, 3, dims, &pv);
    nc_enddef(ncid);
    nc_put_var1_double(ncid, tv, s, &t);
    nc_put_vara_double(ncid, pv, s, c, buf);
    nc_close(ncid);
  }
  MPI_Barrier(MPI_COMM_WORLD);
  CHECK_OK(GyreFileOpen(MPI_COMM_WORLD, cpath, 0, &f));
  if (!f) return;
  CHECK_OK(GyreFileGetTimes(f, &nrec, NULL));
  CHECK(nrec == 1, "classic: %zu records", nrec);
  ReadCols(rank, size, &x0, &nx);
  {
    size_t start[2] = {0, x0}, count[2] = {NY, nx};
    CHECK_OK(GyreFileReadBlock(f, "psi", 0, start, count, buf));
    for (size_t j = 0; j < NY; j++)
      for (size_t i = 0; i < nx; i++)
        bad += buf[j * nx + i] != Field(1, 0, 0, j, x0 + i);
  }
  MPI_Allreduce(&bad, &all, 1, MPI_LONG, MPI_SUM, MPI_COMM_WORLD);
  CHECK(all == 0, "classic: %ld values differ", all);
  CHECK_OK(GyreFileClose(&f));
  snprintf(want, sizeof want,
           "cannot append to '%s': it is a classic NetCDF file (gyre appends only to the "
           "NetCDF-4 files it writes)",
           cpath);
  CHECK_FAILS(GyreFileOpen(MPI_COMM_WORLD, cpath, 1, &f), GYRE_ERR_FORMAT, want);
}

/* Chunks are one record of the whole grid, halved along the outer dimensions down to at
 * most 4 MiB: 8 x 1500 x 1000 doubles (96 MB) give 1 x 1 x 375 x 1000 (3 MB). */
static void ChunkCap(int rank, int size)
{
  char            cpath[64];
  GyreFile        f       = NULL;
  GyreFileOptions o       = {.overwrite = 1};
  GyreDimSpec     dims[3] = {{.name = "member", .len = 8, .standard_name = "realization"},
                             {.name = "y", .len = 1500},
                             {.name = "x", .len = 1000}};
  GyreVarSpec     big     = {.name      = "big",
                             .ndims     = 3,
                             .dims      = {"member", "y", "x"},
                             .precision = GYRE_DOUBLE,
                             .has_time  = 1};
  int             varid;

  snprintf(cpath, sizeof cpath, "io_chunks_np%d.nc", size);
  CHECK_OK(GyreFileCreate(MPI_COMM_WORLD, cpath, &o, &f));
  if (!f) return;
  CHECK_OK(GyreFileDefineTime(f, GYRE_TIME_PHYSICAL, "s"));
  for (int d = 0; d < 3; d++)
    CHECK_OK(GyreFileDefineDim(f, &dims[d]));
  CHECK_OK(GyreFileDefineVar(f, &big, &varid));
  CHECK_OK(GyreFileClose(&f));
  if (rank == 0) {
    int    ncid, storage;
    size_t chunks[4] = {0};
    nc_open(cpath, NC_NOWRITE, &ncid);
    nc_inq_varid(ncid, "big", &varid);
    nc_inq_var_chunking(ncid, varid, &storage, chunks);
    CHECK(chunks[0] == 1 && chunks[1] == 1 && chunks[2] == 375 && chunks[3] == 1000,
          "chunks %zu %zu %zu %zu", chunks[0], chunks[1], chunks[2], chunks[3]);
    nc_close(ncid);
  }
}

int main(int argc, char **argv)
{
  int rank, size, fails;

  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  snprintf(path, sizeof path, "io_roundtrip_np%d.nc", size);
  snprintf(input, sizeof input, "io_roundtrip_np%d.input", size);
  Write(rank, size);
  Read(rank, size);
  if (rank == 0) CheckLayout();
  MPI_Barrier(MPI_COMM_WORLD);
  Append(rank, size);
  Classic(rank, size);
  ChunkCap(rank, size);
  MPI_Allreduce(&io_test_failures, &fails, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  if (rank == 0) printf("%s: %d failures on %d ranks\n", fails ? "FAILED" : "passed", fails, size);
  MPI_Finalize();
  return fails != 0;
}
