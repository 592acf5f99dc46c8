/* compare.c — `gyre compare REF.nc TEST.nc [-baseline BASE.nc] -output metrics.nc`: reads the
 * options and runs the validation library's comparison (validation/gyre_validation.h) on
 * PETSC_COMM_WORLD. Every option is documented in GyreCompareHelp and by `gyre compare -help`. */
#include <petscsys.h>
#include <string.h>
#include "gyre_cli.h"
#include "gyre_io.h"
#include "gyre_petsc.h"
#include "gyre_run.h"
#include "gyre_validation.h"

const char GyreCompareHelp[] =
    "usage: gyre compare REF.nc TEST.nc [-baseline BASE.nc] -output metrics.nc [options]\n"
    "  scores TEST against REF on the variables and times they share: by lead time RMSE,\n"
    "  relative L2, bias and centred ACC (with a member dimension also CRPS and the\n"
    "  spread-skill ratio); time-mean and variance maps and their RMSE, PDFs on common bins\n"
    "  and the Wasserstein-1 distance; for 2-D fields on (y, x) the isotropic kinetic-energy\n"
    "  and enstrophy spectra (of a vorticity; else the variance spectrum) and the RMSE of their\n"
    "  log10; the drift of energy and enstrophy; stability; cost; snapshots for gyre report.\n"
    "  Writes metrics.nc (CF) and a summary on stdout.\n"
    "options:\n"
    "  -output FILE              metrics file (refused if it exists, unless -output_overwrite)\n"
    "  -output_overwrite         replace an existing -output\n"
    "  -baseline FILE            a baseline run: Ross et al.'s similarity 1 - D(TEST,REF)/\n"
    "                            D(BASE,REF) for each climate distance\n"
    "  -compare_vars a,b         only these variables (default: every shared one)\n"
    "  -compare_blowup X         stability: |x| > X in TEST counts as a blow-up (1e6)\n"
    "  -compare_time_tol dt      times match within dt (1e-6)\n"
    "  -compare_pdf_bins N       bins of the PDFs (50)\n"
    "  -quiet                    no summary on stdout\n";

PetscErrorCode GyreCompareCommand(MPI_Comm comm, int argc, char **argv)
{
  GyreCompareOptions o;
  char               output[PETSC_MAX_PATH_LEN] = "", base[PETSC_MAX_PATH_LEN] = "", vars[512] = "";
  char               start[32], *line = NULL, *all = NULL;
  PetscBool          overwrite = PETSC_FALSE, quiet = PETSC_FALSE, help, vars_set = PETSC_FALSE;
  PetscReal          blowup, tol;
  PetscInt           bins;

  PetscFunctionBegin;
  GyreTimeNowISO(start);
  PetscCallMPI(MPI_Bcast(start, sizeof start, MPI_CHAR, 0, comm));
  GyreCompareOptionsDefault(&o);
  blowup = o.blowup, tol = o.time_tol, bins = o.pdf_bins;
  PetscCall(PetscOptionsHasHelp(NULL, &help));
  PetscOptionsBegin(comm, NULL, "gyre compare: score a test run against a reference", "compare");
  PetscCall(PetscOptionsString("-output", "metrics file", "", output, output, sizeof output, NULL));
  PetscCall(PetscOptionsBool("-output_overwrite", "replace an existing -output", "", overwrite,
                             &overwrite, NULL));
  PetscCall(PetscOptionsString("-baseline", "baseline run for similarity scores", "", base, base,
                               sizeof base, NULL));
  PetscCall(PetscOptionsString("-compare_vars", "variables to compare, comma-separated", "", vars,
                               vars, sizeof vars, &vars_set));
  PetscCall(
      PetscOptionsReal("-compare_blowup", "blow-up threshold on |x|", "", blowup, &blowup, NULL));
  PetscCall(PetscOptionsReal("-compare_time_tol", "time matching tolerance", "", tol, &tol, NULL));
  PetscCall(PetscOptionsInt("-compare_pdf_bins", "bins of the PDFs", "", bins, &bins, NULL));
  PetscCall(PetscOptionsBool("-quiet", "no summary", "", quiet, &quiet, NULL));
  PetscOptionsEnd();
  if (help) PetscFunctionReturn(PETSC_SUCCESS);

  /* REF and TEST are the first two arguments */
  PetscCheck(argc >= 3 && argv[1][0] != '-' && argv[2][0] != '-', comm, PETSC_ERR_USER_INPUT,
             "gyre compare needs two files: gyre compare REF.nc TEST.nc -output metrics.nc (see "
             "gyre compare -help)");
  PetscCheck(argc < 4 || argv[3][0] == '-', comm, PETSC_ERR_USER_INPUT,
             "gyre compare takes two files, REF and TEST; '%s' is a third (a baseline is given "
             "with -baseline)",
             argv[3]);
  PetscCheck(output[0], comm, PETSC_ERR_USER_INPUT, "no -output FILE given (the metrics file)");
  PetscCheck(!vars_set || vars[0], comm, PETSC_ERR_USER_INPUT,
             "-compare_vars needs variable names (a,b); leave it out to compare every shared one");
  if (vars[0]) PetscCall(GyreOptionsListCheck(comm, "-compare_vars", vars, PETSC_TRUE));
  {
    const char *in[3]   = {argv[1], argv[2], base[0] ? base : NULL},
               *role[3] = {"REF", "TEST", "-baseline"};
    for (int i = 0; i < 3; i++)
      PetscCheck(!GyreFilesSame(output, in[i]), comm, PETSC_ERR_USER_INPUT,
                 "-output '%s' is the %s file '%s': the metrics would replace an input; choose "
                 "another -output",
                 output, role[i], in[i]);
  }
  PetscCheck(blowup > 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "-compare_blowup %g must be > 0",
             (double) blowup);
  PetscCheck(bins >= 1 && bins <= 100000, comm, PETSC_ERR_ARG_OUTOFRANGE,
             "-compare_pdf_bins %" PetscInt_FMT " must be 1 to 100000", bins);
  PetscCheck(tol >= 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "-compare_time_tol %g must be >= 0",
             (double) tol);

  PetscCall(GyreCommandLine(argc, argv, &line));
  PetscCall(PetscOptionsGetAll(NULL, &all));
  o.ref          = argv[1];
  o.test         = argv[2];
  o.baseline     = base[0] ? base : NULL;
  o.output       = output;
  o.overwrite    = overwrite;
  o.vars         = vars[0] ? vars : NULL;
  o.blowup       = blowup;
  o.time_tol     = tol;
  o.pdf_bins     = (int) bins;
  o.command_line = line;
  o.options      = all;
  o.start_time   = start;
  o.summary      = quiet ? NULL : stdout;
  GyreStatus st  = GyreCompare(comm, &o);
  PetscCall(PetscFree(line));
  PetscCall(PetscFree(all));
  PetscCheck(st == GYRE_OK, comm, PETSC_ERR_LIB, "%s", GyreStatusMessage());
  PetscFunctionReturn(PETSC_SUCCESS);
}
