/* io_sample.c — the writer behind check_cf_tools.sh: `io_sample write FILE` writes the io
 * test file (3 records, 2 members, 12 x 10, float and double, deflate 1) with provenance,
 * in parallel; `io_sample info FILE` prints GyreFileInfo(FILE). */
#include "io_test.h"

int main(int argc, char **argv)
{
  GyreFileOptions o    = {.overwrite = 1, .deflate = 1};
  GyreFile        f    = NULL;
  GyreProvenance  prov = {.title        = "gyre io sample",
                          .command_line = "io_sample write sample.nc",
                          .options      = "-output sample.nc\n-output_deflate 1\n-seed 42",
                          .seed         = 42};
  int             varids[3], rank;
  GyreStatus      st;

  if (argc != 3 || (strcmp(argv[1], "write") && strcmp(argv[1], "info"))) {
    fprintf(stderr, "usage: io_sample write|info FILE\n");
    return 2;
  }
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &prov.mpi_size);
  if (!strcmp(argv[1], "info")) {
    st = rank == 0 ? GyreFileInfo(argv[2]) : GYRE_OK;
  } else {
    prov.inputs[0] = argv[0]; /* any existing file: this program */
    st             = CreateTestFile(MPI_COMM_WORLD, argv[2], &o, &f, varids);
    if (st == GYRE_OK) st = GyreProvenanceWrite(f, &prov);
    if (st == GYRE_OK) st = WriteTestStatic(f, varids);
    for (size_t r = 0; st == GYRE_OK && r < NREC; r++)
      st = WriteTestRecord(f, varids, r, 0.0);
    if (st == GYRE_OK) st = GyreProvenanceFinish(f);
    if (st == GYRE_OK)
      st = GyreFileClose(&f);
    else
      GyreFileAbort(&f);
  }
  if (st != GYRE_OK && rank == 0) fprintf(stderr, "io_sample: %s\n", GyreStatusMessage());
  MPI_Finalize();
  return st != GYRE_OK;
}
