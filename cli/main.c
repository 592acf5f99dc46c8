/* main.c — the `gyre` command: one executable, one subcommand per stage of the pipeline.
 *
 *   gyre simulate -model l96|ns2d ...   run a physical model (solvers/driver.c)
 *   gyre train -train_data ... -net ... train a surrogate (cli/train.c, surrogates/trainer.c)
 *   gyre compare REF TEST ...           score a run against a reference (validation/)
 *   gyre report metrics.nc -output DIR  plots and words of a comparison (cli/report.c)
 *   gyre info FILE...                   dimensions, variables and provenance of gyre files
 *   gyre submit runs/<exp>.opts         the experiment's pipeline as Slurm jobs (cli/submit.c)
 *   gyre version                        version and the features this build has
 *
 * Every subcommand takes options through PETSc's options database, so -options_file,
 * -help, -options_view and -log_view work everywhere. Errors are printed as one line,
 * "gyre: error: <what was wrong>", and the exit status is non-zero. */
#include <petscsys.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "gyre_cli.h"
#include "gyre_model.h"
#include "gyre_run.h"
#include "gyre_model_file.h"
#include "gyre_version.h"
#include "gyre_io.h"
#include "gyre_nn.h"
#include <netcdf.h>
#if GYRE_HAVE_CUDA
#include "gyre_cuda.h"
#endif
#include <cblas.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>

static const char usage[] =
    "usage: gyre <command> [options]\n"
    "\n"
    "commands:\n"
    "  simulate   run a physical model: gyre simulate -model l96|ns2d -output run.nc ...\n"
    "  train      train a surrogate: gyre train -train_data run.nc -net mlp|cnn|fno ...\n"
    "  compare    score a run against a reference: gyre compare REF.nc TEST.nc -output m.nc\n"
    "  report     plots and words of a comparison: gyre report m.nc -output DIR\n"
    "  info       print dimensions, variables and provenance, or validate a model: gyre info "
    "FILE...\n"
    "  submit     an experiment's pipeline as Slurm jobs: gyre submit runs/<exp>.opts -size tiny\n"
    "  version    print the version and the features of this build\n"
    "  help       this text; `gyre <command> -help` lists a command's options\n";

/* The first PETSc error raised on this rank: its message and communicator. */
static char     first_error[1024];
static MPI_Comm first_error_comm = MPI_COMM_NULL;

/* the command's arguments, for naming an option whose value PETSc could not convert */
static int    cmd_argc;
static char **cmd_argv;

/* The last option among the command's arguments whose value the message quotes, as " VALUE ",
 * "\"VALUE\"" or ending " VALUE"; 0 when none. */
static int QuotedOption(const char *mess, const char **opt, const char **val)
{
  const size_t m = mess ? strlen(mess) : 0;
  *opt = *val = NULL;
  for (int i = 1; mess && i < cmd_argc; i++) {
    char        word[300], quoted[300];
    const char *v = cmd_argv[i];
    size_t      k = strlen(v);
    snprintf(word, sizeof word, " %s ", v);
    snprintf(quoted, sizeof quoted, "\"%s\"", v);
    if (cmd_argv[i - 1][0] == '-' && k &&
        (strstr(mess, word) || strstr(mess, quoted) ||
         (m > k + 1 && !strcmp(mess + m - k, v) && mess[m - k - 1] == ' ')))
      *opt = cmd_argv[i - 1], *val = v;
  }
  return *opt != NULL;
}

/* Errors that every rank raises alike on PETSC_COMM_SELF, because every rank reads the same
 * options at the same point of the set-up: an option's value PETSc could not convert
 * (PetscOptionsStringTo*: -ts_max_steps abc), a choice not in its list (PetscOptionsGetEList:
 * -ns2d_init bogus), a type no one registered (TSSetType, TSAdaptSetType...: -ts_type bogus).
 * Such an error is the whole run's: printed once, as "-option value: PETSc's message" where the
 * value is found among the arguments, and the run ends collectively (no MPI_Abort). */
static int OptionValueError(const char *func, PetscErrorCode n, const char *mess, char *out,
                            size_t len)
{
  const size_t fl      = func ? strlen(func) : 0;
  const int    convert = func && !strncmp(func, "PetscOptionsStringTo", 20);
  const int    choice  = func && !strncmp(func, "PetscOptionsGetE", 16); /* EList, Enum */
  const int   type = n == PETSC_ERR_ARG_UNKNOWN_TYPE && fl > 7 && !strcmp(func + fl - 7, "SetType");
  const char *opt, *val;
  if (!convert && !choice && !type) return 0;
  if (choice)
    snprintf(out, len, "%s", mess && mess[0] ? mess : "PETSc error");
  else if (QuotedOption(mess, &opt, &val))
    snprintf(out, len, "%s %s: %s", opt, val, mess);
  else
    snprintf(out, len, "%s (the value of an option)", mess && mess[0] ? mess : "PETSc error");
  return 1;
}

/* Prints each error once, as one line, on the first rank of the communicator it was raised
 * on (errors on PETSC_COMM_SELF are printed by the rank that raised them, except an option's
 * value: OptionValueError). */
static PetscErrorCode GyreErrorHandler(MPI_Comm comm, int line, const char *func, const char *file,
                                       PetscErrorCode n, PetscErrorType p, const char *mess,
                                       void *ctx)
{
  PetscMPIInt rank = 0;

  if (p != PETSC_ERROR_INITIAL || first_error_comm != MPI_COMM_NULL) return n;
  if (OptionValueError(func, n, mess, first_error, sizeof first_error))
    comm = PETSC_COMM_WORLD;
  else
    snprintf(first_error, sizeof first_error, "%s", mess && mess[0] ? mess : "PETSc error");
  first_error_comm = comm;
  if (comm != MPI_COMM_NULL) MPI_Comm_rank(comm, &rank);
  if (rank == 0) {
    fprintf(stderr, "gyre: error: %s\n", first_error);
    if (getenv("GYRE_DEBUG")) fprintf(stderr, "  (raised in %s() at %s:%d)\n", func, file, line);
    fflush(stderr);
  }
  return n;
}

/* Before MPI starts: rank 0 of the launch (from the launcher's environment; unknown: yes). */
static int LaunchRankZero(void)
{
  const char *vars[] = {"OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK", "SLURM_PROCID"};
  for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
    const char *v = getenv(vars[i]);
    if (v && *v) return atoi(v) == 0;
  }
  return 1;
}

/* Is path an options file PETSc can read: a readable regular file of text whose every line is
 * blank, a comment (#) or an option (-name [value]; PETSc's "alias" lines too)? 0, or 1 after
 * one message naming the file (and the line). */
static int BadOptionsFile(const char *path, char *msg, size_t n)
{
  struct stat sb;
  if (access(path, R_OK) != 0 || stat(path, &sb) != 0)
    return snprintf(msg, n, "cannot read options file '%s': %s", path, strerror(errno)), 1;
  if (!S_ISREG(sb.st_mode))
    return snprintf(msg, n, "options file '%s' is %s", path,
                    S_ISDIR(sb.st_mode) ? "a directory" : "not a regular file"),
           1;
  FILE *f = fopen(path, "rb");
  if (!f) return snprintf(msg, n, "cannot read options file '%s': %s", path, strerror(errno)), 1;
  static char text[1 << 20]; /* the first MiB: an options file is a few lines */
  size_t      len = fread(text, 1, sizeof text - 1, f);
  fclose(f);
  text[len] = 0;
  int no    = 1;
  for (size_t i = 0; i < len; i++) {
    unsigned char ch = (unsigned char) text[i];
    if (ch == '\n') no++;
    if (ch == 0 || (ch < 0x20 && !strchr("\t\r\n\f\v", ch)) || ch == 0x7f) /* strchr finds 0 */
      return snprintf(msg, n, "options file '%s' is not text (byte 0x%02x on line %d)", path, ch,
                      no),
             1;
  }
  no = 1;
  for (char *line = text; *line; no++) {
    char *next = line + strcspn(line, "\n");
    char *c    = line + strspn(line, " \t\r\f\v");
    if (*c && *c != '\n' && *c != '#' && *c != '-' && strncmp(c, "alias", 5))
      return snprintf(msg, n,
                      "options file '%s' line %d: '%.*s' is not an option (expected -name value, "
                      "or # for a comment)",
                      path, no, (int) (next - c < 60 ? next - c : 60), c),
             1;
    line = *next ? next + 1 : next;
  }
  return 0;
}

/* Every -options_file is checked before PETSc starts (PETSc would report a missing, binary or
 * malformed one in pages of its own), and an output option naming one of them is refused:
 * the run would replace its own options. */
static int CheckOptionsFiles(int argc, char **argv)
{
  static const char *outputs[] = {"-output", "-checkpoint", "-train_out", "-train_checkpoint"};
  char               msg[PATH_MAX + 256] = "";
  for (int i = 1; i + 1 < argc && !msg[0]; i++) {
    if (strcmp(argv[i], "-options_file")) continue;
    if (BadOptionsFile(argv[i + 1], msg, sizeof msg)) break;
    for (int j = 1; j + 1 < argc && !msg[0]; j++)
      for (size_t k = 0; k < sizeof outputs / sizeof outputs[0]; k++)
        if (!strcmp(argv[j], outputs[k]) && GyreFilesSame(argv[j + 1], argv[i + 1]))
          snprintf(msg, sizeof msg, "%s '%s' is the options file '%s': choose another %s",
                   outputs[k], argv[j + 1], argv[i + 1], outputs[k]);
  }
  if (msg[0] && LaunchRankZero()) fprintf(stderr, "gyre: error: %s\n", msg);
  return msg[0] != 0;
}

static const char VersionHelp[] =
    "usage: gyre version\n"
    "  prints gyre's version and git commit, whether CUDA was built and which GPU this machine\n"
    "  has, NCCL, the training backends, and the MPI, PETSc and NetCDF libraries in use\n";

static PetscErrorCode PrintVersion(void)
{
  char      mpi[MPI_MAX_LIBRARY_VERSION_STRING];
  int       len;
  char      petsc[256];
  PetscBool help;

  PetscFunctionBegin;
  PetscCall(PetscOptionsHasHelp(NULL, &help));
  if (help) PetscFunctionReturn(PETSC_SUCCESS); /* (PetscInitialize printed VersionHelp) */
  MPI_Get_library_version(mpi, &len);
  for (char *c = mpi; *c; c++)
    if (*c == '\n' || *c == ',') {
      *c = 0;
      break;
    }
  PetscCall(PetscGetVersion(petsc, sizeof petsc));
  char netcdf[64];
  snprintf(netcdf, sizeof netcdf, "%s", nc_inq_libvers());
  netcdf[strcspn(netcdf, " ")] = 0; /* "4.9.0 of <build date> $" -> "4.9.0" */
  char cuda[160]               = "not built (no nvcc when configured, or GYRE_ENABLE_CUDA=OFF)";
  char gpu[320] = "none (CUDA not built)", nccl[320] = "not built (needs the CUDA backend)";
#if GYRE_HAVE_CUDA
  snprintf(cuda, sizeof cuda, "built (nvcc %s, architectures %s)", GYRE_CUDA_VERSION_STR,
           GYRE_CUDA_ARCHS_STR);
  if (!GyreCUDAAvailable(gpu, sizeof gpu)) {
    /* gpu holds the reason */
  } else {
    GyreBackend *be = NULL;
    if (GyreBackendCreate("cuda", 0, &be) == GYRE_OK) {
      GyreCUDADeviceString(be, gpu, sizeof gpu);
      GyreBackendDestroy(&be);
    } else
      snprintf(gpu, sizeof gpu, "%s", GyreStatusMessage());
  }
  char where[256];
  int  ok = GyreCUDANCCLProbe(where, sizeof where);
  snprintf(nccl, sizeof nccl, "%s %s",
           ok ? "loadable:" : "not loadable (gradients summed with MPI):", where);
#endif
  PetscCall(PetscPrintf(
      PETSC_COMM_WORLD,
      "gyre %s (git %s)\n"
      "cuda: %s\n"
      "gpu: %s\n"
      "nccl: %s\n"
      "backends: %s\n"
      "mpi: %s\n"
      "petsc: %s\n"
      "netcdf: %s (parallel: %s)\n",
      GYRE_VERSION, GYRE_GIT_COMMIT, cuda, gpu, nccl, GyreBackendsBuilt(), mpi, petsc, netcdf,
      GYRE_NETCDF_PARALLEL_BUILT ? "yes, pkg-config " GYRE_NETCDF_PC : "no, serial NetCDF"));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* gyre info's usage: also the help text PetscInitialize prints first for -help */
static const char InfoHelp[] =
    "usage: gyre info FILE... [options]   (the files first: a word after an option is its "
    "value)\n"
    "  prints the dimensions, variables and provenance (global attributes) of a gyre NetCDF "
    "file\n"
    "  (of each, under a '== FILE' line, where several are given; one that fails is said there,\n"
    "  the others are still described, and the exit status is 1);\n"
    "  a surrogate model file (gyre train) is validated (every check of loading, the SHA-256 "
    "of its\n  weights and normalisation)\n"
    "  and described: architecture, fields, grid, normalisation, split, learning curve, "
    "lineage\n";

static PetscErrorCode Info(int argc, char **argv)
{
  PetscBool help;

  PetscFunctionBegin;
  PetscCall(PetscOptionsHasHelp(NULL, &help));
  if (help) PetscFunctionReturn(PETSC_SUCCESS); /* (PetscInitialize printed InfoHelp) */
  if (argc < 2 || argv[1][0] == '-') {
    PetscCall(PetscPrintf(PETSC_COMM_WORLD, "%s", InfoHelp));
    SETERRQ(PETSC_COMM_WORLD, PETSC_ERR_USER_INPUT, "gyre info: no FILE given");
  }
  PetscMPIInt rank;
  PetscCallMPI(MPI_Comm_rank(PETSC_COMM_WORLD, &rank));
  GyreStatus s     = GYRE_OK;
  int        files = 1, nbad = 0, more = 0;
  char       first[512] = "", bad[384] = ""; /* (PETSc keeps about 1 KB of a message) */
  while (files + 1 < argc && argv[files + 1][0] != '-')
    files++;
  /* the files come first: a word after the options is never examined. Right after an option
   * it is that option's value (-log_view :log.txt, -options_file opts): refused where it is a
   * NetCDF file or named .nc (gyre info a.nc -quiet b.nc meant b.nc as a file); anywhere else
   * it is a stray word (refused) */
  for (int j = files + 2; j < argc; j++) {
    const int    value = argv[j - 1][0] == '-'; /* the word right after an option */
    const size_t n     = strlen(argv[j]);
    int          ncid, file = 0;
    if (argv[j][0] == '-') continue;
    if (nc_open(argv[j], NC_NOWRITE, &ncid) == NC_NOERR) file = 1, nc_close(ncid);
    /* a broken or missing one, named as a file (not a viewer's: ascii:log.nc) */
    else if (n > 3 && !strcmp(argv[j] + n - 3, ".nc") && !strchr(argv[j], ':'))
      file = 1;
    PetscCheck(value && !file, PETSC_COMM_WORLD, PETSC_ERR_USER_INPUT,
               "gyre info: '%s' comes after the option '%s'%s: give every FILE before the "
               "options (gyre info FILE... [options])",
               argv[j], argv[value ? j - 1 : j - 2],
               value ? " and would be read as its value" : " and its value");
  }
  for (int i = 1; rank == 0 && i <= files; i++) {
    /* a surrogate model file is validated and described; any other file is listed; a file
     * that fails is said under its header and the others are still described */
    int        ncid, model = 0;
    GyreStatus si;
    if (files > 1) printf("%s== %s\n", i > 1 ? "\n" : "", argv[i]);
    if (nc_open(argv[i], NC_NOWRITE, &ncid) == NC_NOERR) {
      model = nc_inq_att(ncid, NC_GLOBAL, "gyre_model_format_version", NULL, NULL) == NC_NOERR;
      nc_close(ncid);
    }
    si = model ? GyreModelFilePrint(MPI_COMM_SELF, argv[i], stdout) : GyreFileInfo(argv[i]);
    if (si == GYRE_OK) continue;
    if (!nbad++) s = si, snprintf(first, sizeof first, "%s", GyreStatusMessage());
    if (files > 1) printf("  not valid: %s\n", GyreStatusMessage());
    const size_t k = strlen(bad); /* the names that fit, then a count of the others */
    if (!k)                       /* the first always (cut where it is too long) */
      snprintf(bad, sizeof bad - 32, "%s", argv[i]);
    else if (!more && k + strlen(argv[i]) + 2 < sizeof bad - 32)
      snprintf(bad + k, sizeof bad - k, ", %s", argv[i]);
    else
      more++;
  }
  if (more) {
    const size_t k = strlen(bad);
    snprintf(bad + k, sizeof bad - k, " and %d more", more);
  }
  fflush(stdout);
  PetscCallMPI(MPI_Bcast(&s, 1, MPI_INT, 0, PETSC_COMM_WORLD));
  PetscCallMPI(MPI_Bcast(&nbad, 1, MPI_INT, 0, PETSC_COMM_WORLD));
  PetscCheck(s == GYRE_OK || files > 1, PETSC_COMM_WORLD, PETSC_ERR_FILE_OPEN, "%s",
             rank == 0 ? first : "gyre info failed");
  PetscCheck(s == GYRE_OK, PETSC_COMM_WORLD, PETSC_ERR_FILE_OPEN,
             "gyre info: %d of %d files not valid (%s); the first: %s", nbad, files,
             rank == 0 ? bad : "", rank == 0 ? first : "gyre info failed");
  PetscFunctionReturn(PETSC_SUCCESS);
}

int main(int argc, char **argv)
{
  PetscErrorCode ierr;
  int            exitcode = 0;
  const char    *cmd      = argc > 1 ? argv[1] : "help";

  if (argc < 2) { /* no command: a usage error, not a success a script could take for a run */
    fprintf(stderr, "gyre: error: no command given\n%s", usage);
    return 2;
  }
  if (!strcmp(cmd, "help") || !strcmp(cmd, "-help") || !strcmp(cmd, "--help") ||
      !strcmp(cmd, "-h")) {
    fputs(usage, stdout);
    return 0;
  }
  /* submit runs on a login node: no MPI, no PETSc (it forks sbatch) */
  if (!strcmp(cmd, "submit")) return GyreSubmitCommand(argc - 1, argv + 1);
  if (strcmp(cmd, "simulate") && strcmp(cmd, "train") && strcmp(cmd, "info") &&
      strcmp(cmd, "compare") && strcmp(cmd, "report") && strcmp(cmd, "version")) {
    fprintf(stderr, "gyre: error: unknown command '%s'\n%s", cmd, usage);
    return 2;
  }
  if (CheckOptionsFiles(argc, argv)) return 1;
  /* The solvers make no BLAS calls worth threading, and each rank's idle OpenBLAS pool
   * thread (Debian's pthread build) competes with the ranks for the cores. */
  openblas_set_num_threads(1);

  /* PETSc sees "gyre-<cmd>" as the program name and the command's options. */
  int    pargc = argc - 1;
  char **pargv = argv + 1;
  ierr         = PetscInitialize(&pargc, &pargv, NULL,
                         !strcmp(cmd, "simulate")  ? GyreSimulateHelp
                                 : !strcmp(cmd, "train")   ? GyreTrainHelp
                                 : !strcmp(cmd, "compare") ? GyreCompareHelp
                                 : !strcmp(cmd, "report")  ? GyreReportHelp
                                 : !strcmp(cmd, "info")    ? InfoHelp
                                                           : VersionHelp);
  if (ierr) return 1;
  cmd_argc = pargc, cmd_argv = pargv;
  PetscCall(PetscPushErrorHandler(GyreErrorHandler, NULL));
  /* SIGTERM/SIGUSR1 (Slurm's warning) are recorded from here on: a long command checkpoints
   * and exits 75, and a signal during start-up is not fatal */
  if (!strcmp(cmd, "simulate") || !strcmp(cmd, "train")) PetscCall(GyreSignalsInstall());

  if (!strcmp(cmd, "simulate"))
    ierr = GyreSimulate(PETSC_COMM_WORLD, pargc, pargv, &exitcode);
  else if (!strcmp(cmd, "train"))
    ierr = GyreTrainCommand(PETSC_COMM_WORLD, pargc, pargv, &exitcode);
  else if (!strcmp(cmd, "compare"))
    ierr = GyreCompareCommand(PETSC_COMM_WORLD, pargc, pargv);
  else if (!strcmp(cmd, "report"))
    ierr = GyreReportCommand(PETSC_COMM_WORLD, pargc, pargv);
  else if (!strcmp(cmd, "info"))
    ierr = Info(pargc, pargv);
  else
    ierr = PrintVersion();

  /* an option nothing read (a misspelling: -ts_max_tim) would otherwise pass in silence */
  if (!ierr) ierr = GyreOptionsWarnUnused(PETSC_COMM_WORLD, cmd);
  if (ierr) {
    int size;
    MPI_Comm_size(PETSC_COMM_WORLD, &size);
    int csize = size;
    if (first_error_comm != MPI_COMM_NULL) MPI_Comm_size(first_error_comm, &csize);
    /* An error raised on one rank alone cannot be finalised collectively. */
    if (!strcmp(cmd, "train")) GyreTrainFailed(); /* its checkpoint's lock file, removed */
    if (csize < size) {
      if (!strcmp(cmd, "simulate")) GyreSimulateAbandon(); /* the file it replaces, back */
      MPI_Abort(PETSC_COMM_WORLD, 1);
    }
    if (!strcmp(cmd, "simulate")) (void) GyreSimulateFailed(); /* errors ignored: exiting */
    exitcode = 1;
  }
  PetscCall(PetscPopErrorHandler());
  PetscFinalize();
  return exitcode;
}
