/* test_io_safety.c — what io/ does when things go wrong (run on 1, 2 and 4 ranks). Asserts,
 * each with the exact one-line message, the same on every rank:
 * - an existing file is refused without overwrite and left byte-identical; replaced with it;
 * - a path that cannot be created fails on every rank (no hang);
 * - atomic create: the old file stays byte-identical while writing and after an abort (the
 *   temporary file is removed), and is replaced by the new content after close;
 * - truncation keeps exactly the first records, values, static data, attributes and storage
 *   settings, and the file can be appended to afterwards;
 * - NaN and Inf in a block are reported with record and flat index, whatever the
 *   decomposition; a bad block on one rank fails every rank;
 * - missing, empty and non-NetCDF files, missing variables and records, unknown times, a
 *   missing input file in the provenance. */
#include "io_test.h"
#include <netcdf.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static int  rank, size;
static long pid0;
static char good[256], tmp[300], msg[1024];

/* Rank 0's SHA-256 of path, broadcast ("" if it does not exist). */
static void Hash(const char *path, char hex[65])
{
  if (rank == 0 && GyreHashFile(path, hex) != GYRE_OK) hex[0] = '\0';
  MPI_Bcast(hex, 65, MPI_CHAR, 0, MPI_COMM_WORLD);
}

static int Exists(const char *path)
{
  struct stat st;
  int         e = rank == 0 ? stat(path, &st) == 0 : 0;
  MPI_Bcast(&e, 1, MPI_INT, 0, MPI_COMM_WORLD);
  return e;
}

/* Writes a complete file: records 0..nrec-1 with values Field() + shift, and depth. */
static void WriteFile(const char *path, const GyreFileOptions *o, int nrec, double shift)
{
  GyreFile f = NULL;
  int      varids[3];
  CHECK_OK(CreateTestFile(MPI_COMM_WORLD, path, o, &f, varids));
  if (!f) return;
  CHECK_OK(WriteTestStatic(f, varids));
  for (int r = 0; r < nrec; r++)
    CHECK_OK(WriteTestRecord(f, varids, (size_t) r, shift));
  CHECK_OK(GyreFileClose(&f));
}

/* Checks that path has nrec records, times and values Field() + shift. */
static void CheckFile(const char *path, size_t nrec, double shift, const char *what)
{
  GyreFile f = NULL;
  size_t   n = 0;
  double  *t = NULL;
  CHECK_OK(GyreFileOpen(MPI_COMM_WORLD, path, 0, &f));
  if (!f) return;
  CHECK_OK(GyreFileGetTimes(f, &n, &t));
  CHECK(n == nrec, "%s: %zu records, expected %zu", what, n, nrec);
  for (size_t r = 0; r < n && r < nrec && t; r++)
    CHECK(t[r] == RecTime(r), "%s: time[%zu] = %.17g", what, r, t[r]);
  free(t);
  for (int var = 0; var < 2; var++)
    for (size_t r = 0; r < n && r < nrec; r++) {
      long bad = CheckTestRecord(f, var, r, shift, NULL);
      CHECK(bad == 0, "%s: var %d record %zu: %ld values differ", what, var, r, bad);
    }
  CHECK_OK(GyreFileClose(&f));
}

static void RefuseAndCreateErrors(void)
{
  GyreFileOptions o = {0};
  GyreFile        f = NULL;
  char            h0[65], h1[65];

  Hash(good, h0);
  snprintf(msg, sizeof msg, "output file '%s' exists (use -output_overwrite to replace it)", good);
  CHECK_FAILS(GyreFileCreate(MPI_COMM_WORLD, good, &o, &f), GYRE_ERR_IO, msg);
  o.atomic = 1;
  CHECK_FAILS(GyreFileCreate(MPI_COMM_WORLD, good, &o, &f), GYRE_ERR_IO, msg);
  CHECK(f == NULL, "handle set on failure");
  Hash(good, h1);
  CHECK(h0[0] && !strcmp(h0, h1), "refused file changed: %s -> %s", h0, h1);
  CHECK(!Exists(tmp), "temporary file %s left behind", tmp);

  for (int atomic = 0; atomic < 2; atomic++) {
    char dir[64];
    o = (GyreFileOptions){.overwrite = 1, .atomic = atomic};
    CHECK_FAILS(GyreFileCreate(MPI_COMM_WORLD, "io_no_such_dir/out.nc", &o, &f), GYRE_ERR_IO,
                "cannot create output file 'io_no_such_dir/out.nc': No such file or directory");
    snprintf(dir, sizeof dir, "io_dir_np%d", size); /* a directory where the file should go */
    if (rank == 0) mkdir(dir, 0755);
    MPI_Barrier(MPI_COMM_WORLD);
    snprintf(msg, sizeof msg, "cannot create output file '%s': Is a directory", dir);
    CHECK_FAILS(GyreFileCreate(MPI_COMM_WORLD, dir, &o, &f), GYRE_ERR_IO, msg);
    CHECK(Exists(dir), "directory %s removed", dir);
  }
}

static void Atomic(void)
{
  GyreFileOptions o = {.overwrite = 1, .atomic = 1};
  GyreFile        f = NULL;
  int             varids[3];
  char            h0[65], h1[65];

  Hash(good, h0);
  /* abort halfway: the old file survives byte-identical, the temporary file goes */
  CHECK_OK(CreateTestFile(MPI_COMM_WORLD, good, &o, &f, varids));
  if (!f) return;
  CHECK_OK(WriteTestRecord(f, varids, 0, 100.0));
  CHECK_OK(GyreFileSync(f));
  CHECK(Exists(tmp), "no temporary file %s while writing", tmp);
  Hash(good, h1);
  CHECK(!strcmp(h0, h1), "file changed while an atomic replacement was written");
  CHECK_OK(GyreFileAbort(&f));
  CHECK(f == NULL, "handle not cleared by abort");
  Hash(good, h1);
  CHECK(!strcmp(h0, h1), "file changed by an aborted atomic replacement: %s -> %s", h0, h1);
  CHECK(!Exists(tmp), "abort left %s", tmp);
  CheckFile(good, NREC, 0.0, "after abort");

  /* close: replaced by the new content */
  CHECK_OK(CreateTestFile(MPI_COMM_WORLD, good, &o, &f, varids));
  if (!f) return;
  CHECK_OK(WriteTestStatic(f, varids));
  CHECK_OK(WriteTestRecord(f, varids, 0, 100.0));
  CHECK_OK(WriteTestRecord(f, varids, 1, 100.0));
  Hash(good, h1);
  CHECK(!strcmp(h0, h1), "file changed before close");
  CHECK_OK(GyreFileClose(&f));
  CHECK(!Exists(tmp), "close left %s", tmp);
  Hash(good, h1);
  CHECK(strcmp(h0, h1), "file not replaced by close");
  CheckFile(good, 2, 100.0, "after atomic close");
}

static void Overwrite(void)
{
  GyreFileOptions o = {.overwrite = 1};
  WriteFile(good, &o, 1, 7.0);
  CheckFile(good, 1, 7.0, "after overwrite");
}

/* Rank 0, serial API: storage settings and attributes that a truncation must keep. */
static void CheckKept(const char *path)
{
  int    ncid, varid, shuffle, deflate, level, storage;
  size_t chunks[4], len = 0;
  char   title[64] = "";
  double depth[NY * NX];
  long   bad = 0;

  if (nc_open(path, NC_NOWRITE, &ncid)) {
    CHECK(0, "cannot open %s", path);
    return;
  }
  nc_inq_varid(ncid, "psi", &varid);
  nc_inq_var_deflate(ncid, varid, &shuffle, &deflate, &level);
  CHECK(deflate && level == 2 && shuffle, "truncated psi: deflate %d level %d", deflate, level);
  nc_inq_var_chunking(ncid, varid, &storage, chunks);
  CHECK(storage == NC_CHUNKED && chunks[0] == 1 && chunks[3] == NX, "truncated chunks");
  nc_inq_attlen(ncid, NC_GLOBAL, "title", &len);
  nc_get_att_text(ncid, NC_GLOBAL, "title", title);
  title[len < sizeof title ? len : 0] = '\0';
  CHECK(!strcmp(title, "gyre io test"), "truncated title '%s'", title);
  nc_inq_varid(ncid, "time", &varid);
  CHECK(nc_inq_attlen(ncid, varid, "calendar", &len) == NC_NOERR, "truncated time calendar");
  nc_inq_varid(ncid, "depth", &varid);
  nc_get_var_double(ncid, varid, depth);
  for (size_t k = 0; k < NY * NX; k++)
    bad += depth[k] != Field(2, 0, 0, k / NX, k % NX);
  CHECK(bad == 0, "truncated depth: %ld values differ", bad);
  nc_close(ncid);
}

static void Truncate(void)
{
  GyreFileOptions o = {.overwrite = 1, .deflate = 2};
  GyreFile        f = NULL;
  int             varids[2];

  WriteFile(good, &o, NREC, 0.0);
  CHECK_OK(GyreFileTruncateRecords(MPI_COMM_WORLD, good, 2));
  CHECK(!Exists(tmp), "truncate left %s", tmp);
  CheckFile(good, 2, 0.0, "truncated to 2");
  if (rank == 0) CheckKept(good);
  CHECK_OK(GyreFileTruncateRecords(MPI_COMM_WORLD, good, 2)); /* nothing to drop */
  snprintf(msg, sizeof msg, "cannot keep 5 records of '%s': it has only 2", good);
  CHECK_FAILS(GyreFileTruncateRecords(MPI_COMM_WORLD, good, 5), GYRE_ERR_ARG, msg);
  CHECK_FAILS(GyreFileTruncateRecords(MPI_COMM_WORLD, "io_missing.nc", 1), GYRE_ERR_IO,
              "cannot open 'io_missing.nc': No such file or directory");
  /* a restart appends after the kept records */
  CHECK_OK(GyreFileOpen(MPI_COMM_WORLD, good, 1, &f));
  if (!f) return;
  CHECK_OK(GyreFileGetVarId(f, "vort", &varids[0]));
  CHECK_OK(GyreFileGetVarId(f, "psi", &varids[1]));
  CHECK_OK(WriteTestRecord(f, varids, 2, 0.0));
  CHECK_OK(GyreFileClose(&f));
  CheckFile(good, 3, 0.0, "truncated and appended");
  CHECK_OK(GyreFileTruncateRecords(MPI_COMM_WORLD, good, 0));
  CheckFile(good, 0, 0.0, "truncated to 0");
}

/* One value of psi at (rec, m, y, x) set to v by rank size-1 (the others write nothing). */
static void Poke(GyreFile f, int varid, size_t rec, size_t m, size_t y, size_t x, double v)
{
  size_t start[3] = {m, y, x}, count[3] = {1, 1, rank == size - 1 ? 1 : 0};
  CHECK_OK(GyreFileWriteBlock(f, varid, rec, start, count, &v));
}

static void NotFinite(const char *path)
{
  GyreFileOptions o = {.overwrite = 1};
  GyreFile        f = NULL;
  int             varids[3];
  double          buf[NMEM * NY * NX];
  size_t          x0, nx;

  CHECK_OK(CreateTestFile(MPI_COMM_WORLD, path, &o, &f, varids));
  if (!f) return;
  for (size_t r = 0; r < NREC; r++)
    CHECK_OK(WriteTestRecord(f, varids, r, 0.0));
  Poke(f, varids[1], 1, 1, 9, 8, NAN);
  Poke(f, varids[1], 1, 1, 7, 3, NAN); /* the first in flat order: (12 + 7) * 10 + 3 = 193 */
  Poke(f, varids[1], 2, 0, 0, 5, -INFINITY);
  { /* a block beyond the grid on the last rank only: every rank fails, none hangs */
    size_t start[3] = {0, NY - 1, 0}, count[3] = {1, rank == size - 1 ? 2 : 0, NX};
    snprintf(msg, sizeof msg,
             "block [11, 13) of dimension 1 of 'psi' in '%s' exceeds its length 12", path);
    CHECK_FAILS(GyreFileWriteBlock(f, varids[1], 0, start, count, buf), GYRE_ERR_ARG, msg);
  }
  CHECK_OK(GyreFileClose(&f));

  CHECK_OK(GyreFileOpen(MPI_COMM_WORLD, path, 0, &f));
  if (!f) return;
  ReadCols(rank, size, &x0, &nx);
  {
    size_t start[3] = {0, 0, x0}, count[3] = {NMEM, NY, nx};
    CHECK_OK(GyreFileReadBlock(f, "psi", 0, start, count, buf));
    snprintf(msg, sizeof msg,
             "NaN in '%s' variable 'psi' at record 1, index 193 (member=1, y=7, x=3)", path);
    CHECK_FAILS(GyreFileReadBlock(f, "psi", 1, start, count, buf), GYRE_ERR_NAN, msg);
    snprintf(msg, sizeof msg,
             "Inf in '%s' variable 'psi' at record 2, index 5 (member=0, y=0, x=5)", path);
    CHECK_FAILS(GyreFileReadBlock(f, "psi", 2, start, count, buf), GYRE_ERR_NAN, msg);
    snprintf(msg, sizeof msg, "record 3 of 'psi' requested but '%s' has 3 records", path);
    CHECK_FAILS(GyreFileReadBlock(f, "psi", 3, start, count, buf), GYRE_ERR_FORMAT, msg);
    snprintf(msg, sizeof msg, "no variable 'omega' in '%s'", path);
    CHECK_FAILS(GyreFileReadBlock(f, "omega", 0, start, count, buf), GYRE_ERR_FORMAT, msg);
  }
  {
    size_t rec;
    snprintf(msg, sizeof msg,
             "no record at time 0.0025000000000000001 (tolerance 1e-09) in '%s': its 3 "
             "records span times 0 to 0.01",
             path);
    CHECK_FAILS(GyreFileFindTime(f, 0.0025, 1e-9, &rec), GYRE_ERR_FORMAT, msg);
  }
  CHECK_OK(GyreFileClose(&f));
}

/* A missing input file fails the provenance on every rank; the aborted file is removed. */
static void MissingInput(void)
{
  GyreFileOptions o    = {.overwrite = 1};
  GyreProvenance  prov = {.inputs = {"io_missing_input.nc"}};
  GyreFile        f    = NULL;
  int             varids[3];
  char            path[64];

  snprintf(path, sizeof path, "io_prov_np%d.nc", size);
  CHECK_OK(CreateTestFile(MPI_COMM_WORLD, path, &o, &f, varids));
  if (!f) return;
  CHECK_FAILS(GyreProvenanceWrite(f, &prov), GYRE_ERR_IO,
              "cannot hash input file: cannot open 'io_missing_input.nc': No such file or "
              "directory");
  CHECK_OK(GyreFileAbort(&f));
  CHECK(!Exists(path), "aborted file %s left behind", path);
}

static void BadFiles(void)
{
  GyreFile f = NULL;
  char     txt[64], empty[64];

  snprintf(txt, sizeof txt, "io_notnc_np%d.txt", size);
  snprintf(empty, sizeof empty, "io_empty_np%d.nc", size);
  if (rank == 0) {
    FILE *fp = fopen(txt, "w");
    fprintf(fp, "this is not a NetCDF file, although it is long enough to look at\n");
    fclose(fp);
    fclose(fopen(empty, "w"));
  }
  MPI_Barrier(MPI_COMM_WORLD);
  CHECK_FAILS(GyreFileOpen(MPI_COMM_WORLD, "io_missing.nc", 0, &f), GYRE_ERR_IO,
              "cannot open 'io_missing.nc': No such file or directory");
  snprintf(msg, sizeof msg, "'%s' is not a NetCDF file", txt);
  CHECK_FAILS(GyreFileOpen(MPI_COMM_WORLD, txt, 0, &f), GYRE_ERR_FORMAT, msg);
  snprintf(msg, sizeof msg, "'%s' is not a NetCDF file", empty);
  CHECK_FAILS(GyreFileOpen(MPI_COMM_WORLD, empty, 1, &f), GYRE_ERR_FORMAT, msg);
  CHECK(f == NULL, "handle set on failure");
  { /* a NetCDF-4 file cut short (a copy interrupted): named as such, not NetCDF's "HDF error"
     * alone */
    char cut[64];
    snprintf(cut, sizeof cut, "io_cut_np%d.nc", size);
    if (rank == 0) {
      FILE  *in = fopen(good, "rb"), *out = fopen(cut, "wb");
      char   buf[4096];
      size_t n = 0, total = 0;
      fseek(in, 0, SEEK_END);
      const long half = ftell(in) / 2;
      fseek(in, 0, SEEK_SET);
      while (total < (size_t) half && (n = fread(buf, 1, sizeof buf, in)) > 0) {
        if (total + n > (size_t) half) n = (size_t) half - total;
        fwrite(buf, 1, n, out), total += n;
      }
      fclose(in), fclose(out);
    }
    MPI_Barrier(MPI_COMM_WORLD);
    snprintf(msg, sizeof msg,
             "cannot open '%s': a NetCDF-4 (HDF5) file that cannot be read, truncated or "
             "corrupt? (NetCDF: HDF error)",
             cut);
    CHECK_FAILS(GyreFileOpen(MPI_COMM_WORLD, cut, 0, &f), GYRE_ERR_FORMAT, msg);
    if (rank == 0) CHECK_FAILS(GyreFileInfo(cut), GYRE_ERR_FORMAT, msg);
  }
  if (rank == 0) {
    CHECK_FAILS(GyreFileInfo("io_missing.nc"), GYRE_ERR_IO,
                "cannot open 'io_missing.nc': No such file or directory");
    snprintf(msg, sizeof msg, "'%s' is not a NetCDF file", txt);
    CHECK_FAILS(GyreFileInfo(txt), GYRE_ERR_FORMAT, msg);
  }
}

/* GyreFileFollowLink (rank 0 alone: the links are its files): a chain of links, one relative
 * to its own directory, ends at the file, existing or not; a loop is -1; no link is 0 */
static void FollowLink(void)
{
  char out[512] = "untouched", d[64], a[96], b[96], c[96];
  if (rank != 0) return;
  snprintf(d, sizeof d, "io_links_np%d", size);
  snprintf(a, sizeof a, "%s/a.nc", d), snprintf(b, sizeof b, "%s/sub/b.nc", d);
  snprintf(c, sizeof c, "%s/c.nc", d);
  mkdir(d, 0755);
  snprintf(out, sizeof out, "%s/sub", d);
  mkdir(out, 0755);
  unlink(a), unlink(b), unlink(c);
  /* a -> sub/b.nc (relative to d), sub/b.nc -> ../c.nc (relative to sub), c.nc not there */
  CHECK(!symlink("sub/b.nc", a) && !symlink("../c.nc", b), "cannot make the links");
  snprintf(out, sizeof out, "untouched");
  int r = GyreFileFollowLink(a, out, sizeof out);
  snprintf(tmp, sizeof tmp, "%s/sub/../c.nc", d);
  CHECK(r == 1 && !strcmp(out, tmp), "chain of links: %d '%s' (want 1 '%s')", r, out, tmp);
  snprintf(out, sizeof out, "untouched");
  CHECK(GyreFileFollowLink(good, out, sizeof out) == 0 && !strcmp(out, "untouched"),
        "a plain file taken for a link: '%s'", out);
  CHECK(GyreFileFollowLink(c, out, sizeof out) == 0, "a missing file taken for a link");
  CHECK(GyreFileFollowLink(a, out, 4) == -1, "a target longer than the buffer accepted");
  CHECK(!symlink("a.nc", c), "cannot make the loop"); /* c -> a -> sub/b -> c */
  CHECK(GyreFileFollowLink(a, out, sizeof out) == -1, "a loop of links: not -1");
  unlink(a), unlink(b), unlink(c);
  snprintf(tmp, sizeof tmp, "%s.tmp.%ld", good, pid0);
}

int main(int argc, char **argv)
{
  int  fails;
  char nanpath[64];

  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  pid0 = (long) getpid();
  MPI_Bcast(&pid0, 1, MPI_LONG, 0, MPI_COMM_WORLD);
  snprintf(good, sizeof good, "io_safety_np%d.nc", size);
  snprintf(tmp, sizeof tmp, "%s.tmp.%ld", good, pid0);
  snprintf(nanpath, sizeof nanpath, "io_nan_np%d.nc", size);

  WriteFile(good, &(GyreFileOptions){.overwrite = 1}, NREC, 0.0);
  RefuseAndCreateErrors();
  Atomic();
  Overwrite();
  Truncate();
  NotFinite(nanpath);
  BadFiles();
  MissingInput();
  FollowLink();

  MPI_Allreduce(&io_test_failures, &fails, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  if (rank == 0) printf("%s: %d failures on %d ranks\n", fails ? "FAILED" : "passed", fails, size);
  MPI_Finalize();
  return fails != 0;
}
