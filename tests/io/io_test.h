/* io_test.h — shared by the io/ test programs: a check macro that reports and counts
 * failures, the test field, and the uneven decompositions used to write and to read. */
#ifndef GYRE_IO_TEST_H
#define GYRE_IO_TEST_H

#include "gyre_io.h"
#include <math.h>
#include <stdio.h>
#include <string.h>

static int io_test_failures __attribute__((unused)) = 0;

#define CHECK(cond, ...)                                                                           \
  do {                                                                                             \
    if (!(cond)) {                                                                                 \
      io_test_failures++;                                                                          \
      fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);                              \
      fprintf(stderr, __VA_ARGS__);                                                                \
      fputc('\n', stderr);                                                                         \
    }                                                                                              \
  } while (0)

/* A status check that prints the message on failure. */
#define CHECK_OK(expr)                                                                             \
  do {                                                                                             \
    GyreStatus s_ = (expr);                                                                        \
    CHECK(s_ == GYRE_OK, "status %d: %s", (int) s_, GyreStatusMessage());                          \
  } while (0)

/* Expects failure code with exactly the message msg. */
#define CHECK_FAILS(expr, code, msg)                                                               \
  do {                                                                                             \
    GyreStatus s_ = (expr);                                                                        \
    CHECK(s_ == (code), "status %d, expected %d (%s)", (int) s_, (int) (code),                     \
          GyreStatusMessage());                                                                    \
    CHECK(!strcmp(GyreStatusMessage(), (msg)), "message '%s', expected '%s'", GyreStatusMessage(), \
          (msg));                                                                                  \
  } while (0)

enum { NREC = 3, NMEM = 2, NY = 12, NX = 10 };

/* The test field: distinct, full-mantissa doubles for every (record, member, y, x). */
static inline double Field(int var, size_t rec, size_t m, size_t y, size_t x)
{
  return 1000.0 * sin(1.0 + 0.37 * (double) rec + 1.3 * (double) m + 0.11 * (double) y +
                      0.017 * (double) x + 0.5 * var) +
         1.0 / 3.0;
}

/* Model time of record r: exact multiples of dt = 0.005, stored as computed. */
static inline double RecTime(size_t rec)
{
  return (double) rec * 0.005;
}

/* Writing decomposition: rows of y, uneven, rank 1 of 4 empty. */
static inline void WriteRows(int rank, int size, size_t *y0, size_t *ny)
{
  static const size_t r1[] = {12}, r2[] = {7, 5}, r3[] = {5, 0, 7}, r4[] = {5, 0, 4, 3};
  const size_t       *r = size == 1 ? r1 : size == 2 ? r2 : size == 3 ? r3 : r4;
  *y0                   = 0;
  for (int i = 0; i < rank; i++)
    *y0 += r[i];
  *ny = r[rank];
}

/* Reading decomposition: columns of x, uneven (different from the writing one). */
static inline void ReadCols(int rank, int size, size_t *x0, size_t *nx)
{
  static const size_t c1[] = {10}, c2[] = {3, 7}, c3[] = {4, 4, 2}, c4[] = {1, 2, 3, 4};
  const size_t       *c = size == 1 ? c1 : size == 2 ? c2 : size == 3 ? c3 : c4;
  *x0                   = 0;
  for (int i = 0; i < rank; i++)
    *x0 += c[i];
  *nx = c[rank];
}

/* Creates the test file layout: time (non-dimensional), member (2, realization), y (12) and
 * x (10) with coordinates; vort(time, member, y, x) float, psi(time, member, y, x) double,
 * depth(y, x) double static. Leaves the file in data mode; *vort, *psi, *depth are varids. */
static inline GyreStatus CreateTestFile(MPI_Comm comm, const char *path, const GyreFileOptions *o,
                                        GyreFile *f, int *varids)
{
  static double ys[NY], xs[NX];
  GyreDimSpec   member = {.name = "member", .len = NMEM, .standard_name = "realization"};
  GyreDimSpec   y      = {.name          = "y",
                          .len           = NY,
                          .values        = ys,
                          .units         = "m",
                          .axis          = "Y",
                          .standard_name = "projection_y_coordinate",
                          .long_name     = "y"};
  GyreDimSpec   x      = {.name          = "x",
                          .len           = NX,
                          .values        = xs,
                          .units         = "m",
                          .axis          = "X",
                          .standard_name = "projection_x_coordinate",
                          .long_name     = "x"};
  GyreVarSpec   vort   = {.name          = "vort",
                          .ndims         = 3,
                          .dims          = {"member", "y", "x"},
                          .long_name     = "relative vorticity",
                          .units         = "s-1",
                          .standard_name = "atmosphere_relative_vorticity",
                          .precision     = GYRE_FLOAT,
                          .has_time      = 1};
  GyreVarSpec   psi    = {.name      = "psi",
                          .ndims     = 3,
                          .dims      = {"member", "y", "x"},
                          .long_name = "streamfunction",
                          .units     = "m2 s-1",
                          .precision = GYRE_DOUBLE,
                          .has_time  = 1};
  GyreVarSpec   depth  = {.name      = "depth",
                          .ndims     = 2,
                          .dims      = {"y", "x"},
                          .long_name = "ocean depth",
                          .units     = "m",
                          .precision = GYRE_DOUBLE};

  for (int i = 0; i < NY; i++)
    ys[i] = 1000.0 * (i + 0.5);
  for (int i = 0; i < NX; i++)
    xs[i] = 1000.0 * (i + 0.5);
  GyreCall(GyreFileCreate(comm, path, o, f));
  GyreCall(GyreFileDefineTime(*f, GYRE_TIME_NONDIM, NULL));
  GyreCall(GyreFileDefineDim(*f, &member));
  GyreCall(GyreFileDefineDim(*f, &y));
  GyreCall(GyreFileDefineDim(*f, &x));
  GyreCall(GyreFileDefineVar(*f, &vort, &varids[0]));
  GyreCall(GyreFileDefineVar(*f, &psi, &varids[1]));
  GyreCall(GyreFileDefineVar(*f, &depth, &varids[2]));
  GyreCall(GyreFilePutAttText(*f, "title", "gyre io test"));
  return GyreFileEndDef(*f);
}

/* Writes record rec (time and both record variables, every member) on this rank's rows,
 * values Field() + shift; rows owned by no rank stay unwritten. Collective. */
static inline GyreStatus WriteTestRecord(GyreFile f, const int *varids, size_t rec, double shift)
{
  int    rank, size;
  size_t y0, ny;
  double buf[NY * NX];

  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  WriteRows(rank, size, &y0, &ny);
  GyreCall(GyreFileWriteTime(f, rec, RecTime(rec)));
  for (int v = 0; v < 2; v++)
    for (size_t m = 0; m < NMEM; m++) {
      size_t start[3] = {m, y0, 0}, count[3] = {1, ny, NX};
      for (size_t j = 0; j < ny; j++)
        for (size_t i = 0; i < NX; i++)
          buf[j * NX + i] = Field(v, rec, m, y0 + j, i) + shift;
      GyreCall(GyreFileWriteBlock(f, varids[v], rec, start, count, buf));
    }
  return GYRE_OK;
}

/* Writes the static depth(y, x) on this rank's rows. Collective. */
static inline GyreStatus WriteTestStatic(GyreFile f, const int *varids)
{
  int    rank, size;
  size_t y0, ny;
  double buf[NY * NX];

  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  WriteRows(rank, size, &y0, &ny);
  for (size_t j = 0; j < ny; j++)
    for (size_t i = 0; i < NX; i++)
      buf[j * NX + i] = Field(2, 0, 0, y0 + j, i);
  size_t start[2] = {y0, 0}, count[2] = {ny, NX};
  return GyreFileWriteBlock(f, varids[2], 0, start, count, buf);
}

/* Reads record rec of var (0 vort, 1 psi) on this rank's columns and counts values that
 * differ from Field() + shift (exactly; for vort after rounding to float). Collective.
 * Returns the number of mismatches on all ranks, or -1 when a read failed. */
static inline long CheckTestRecord(GyreFile f, int var, size_t rec, double shift, long *nchecked)
{
  int    rank, size;
  size_t x0, nx;
  double buf[NMEM * NY * NX];
  long   bad = 0, all;

  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  ReadCols(rank, size, &x0, &nx);
  size_t start[3] = {0, 0, x0}, count[3] = {NMEM, NY, nx};
  if (GyreFileReadBlock(f, var ? "psi" : "vort", rec, start, count, buf) != GYRE_OK) {
    fprintf(stderr, "read failed: %s\n", GyreStatusMessage());
    return -1;
  }
  for (size_t m = 0; m < NMEM; m++)
    for (size_t j = 0; j < NY; j++)
      for (size_t i = 0; i < nx; i++) {
        double want = Field(var, rec, m, j, x0 + i) + shift;
        if (var == 0) want = (double) (float) want;
        if (buf[(m * NY + j) * nx + i] != want) bad++;
      }
  MPI_Allreduce(&bad, &all, 1, MPI_LONG, MPI_SUM, MPI_COMM_WORLD);
  if (nchecked) {
    long n = (long) (NMEM * NY * nx), nall;
    MPI_Allreduce(&n, &nall, 1, MPI_LONG, MPI_SUM, MPI_COMM_WORLD);
    *nchecked += nall;
  }
  return all;
}

#endif
