/* report.c — `gyre report metrics.nc -output DIR`: PNG plots, index.html and report.md of a
 * comparison. The metrics are computed in C by gyre compare (validation/); this command checks
 * its arguments, runs the plotting script validation/report.py (matplotlib) on rank 0 and
 * reports the outcome as one line.
 *
 * Decisions:
 * - The script is found by a compile-time path: this file's __FILE__ (absolute under CMake)
 *   names the source tree gyre was built from, and the script is its validation/report.py, so
 *   a build directory anywhere finds it. The environment variable GYRE_REPORT_SCRIPT overrides
 *   it (a copy installed elsewhere, or a source tree that moved).
 * - The interpreter is /usr/bin/python3 (Debian's, which has numpy, netCDF4 and matplotlib; the
 *   python3 first on PATH may be another one), or -report_python PATH.
 * - DIR is created with its parents when missing (after the interpreter and the script were
 *   found); an existing DIR is written into: the script draws every file into a staging
 *   directory inside DIR and moves them into DIR only when all were drawn, so a failed report
 *   leaves an earlier one as it was (its files of the same names replaced, others kept).
 * - The script's stderr goes to DIR/report.log (removed when empty); when the script fails,
 *   gyre's one error line quotes the log's last line. */
#include <petscsys.h>
#include <errno.h>
#include <fcntl.h>
#include <netcdf.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "gyre_cli.h"

extern char **environ;

const char GyreReportHelp[] =
    "usage: gyre report metrics.nc -output DIR [options]\n"
    "  draws the metrics of gyre compare: snapshot maps of REF, TEST and their difference side\n"
    "  by side, RMSE and ACC against lead time, spectra (2-D fields), PDFs, time-mean and\n"
    "  variance maps and the drift of energy and enstrophy, as PNG files in DIR, with an\n"
    "  index.html and a report.md that state the numbers in words.\n"
    "options:\n"
    "  -output DIR               the report's directory (created when missing)\n"
    "  -report_python PATH       the Python with numpy, netCDF4 and matplotlib\n"
    "                            (/usr/bin/python3)\n"
    "environment:\n"
    "  GYRE_REPORT_SCRIPT        the plotting script (default: validation/report.py of the\n"
    "                            source tree gyre was built from)\n";

/* mkdir -p dir. 0 or an errno. */
static int MakeDirs(const char *dir)
{
  char        path[PETSC_MAX_PATH_LEN];
  struct stat sb;
  snprintf(path, sizeof path, "%s", dir);
  for (char *c = path + 1; *c; c++) {
    if (*c != '/') continue;
    *c = '\0';
    if (mkdir(path, 0777) && errno != EEXIST) return errno;
    *c = '/';
  }
  if (mkdir(path, 0777) && errno != EEXIST) return errno;
  if (stat(path, &sb)) return errno;
  return S_ISDIR(sb.st_mode) ? 0 : ENOTDIR;
}

/* The checks of the arguments, on rank 0: msg is empty when all is well. */
static void Check(const char *metrics, const char *dir, const char *python, const char *script,
                  char *msg, size_t n)
{
  int         ncid, err;
  size_t      len;
  struct stat sb;
  char        probe[PETSC_MAX_PATH_LEN + 64];

  msg[0] = '\0';
  if (access(metrics, R_OK)) {
    snprintf(msg, n, "cannot read the metrics file '%s': %s", metrics, strerror(errno));
    return;
  }
  if ((err = nc_open(metrics, NC_NOWRITE, &ncid))) {
    snprintf(msg, n, "'%s' is not a NetCDF file (%s): give the metrics file of gyre compare",
             metrics, nc_strerror(err));
    return;
  }
  err = nc_inq_attlen(ncid, NC_GLOBAL, "compare_variables", &len);
  nc_close(ncid);
  if (err) {
    snprintf(msg, n,
             "'%s' is not a gyre compare metrics file (it has no compare_variables attribute; "
             "make one with gyre compare REF.nc TEST.nc -output metrics.nc)",
             metrics);
    return;
  }
  if (access(python, X_OK)) {
    snprintf(msg, n,
             "-report_python '%s' is not an executable (%s): give a Python with numpy, "
             "netCDF4 and matplotlib",
             python, strerror(errno));
    return;
  }
  if (access(script, R_OK)) {
    snprintf(msg, n,
             "the report script '%s' cannot be read (%s): set GYRE_REPORT_SCRIPT to gyre's "
             "validation/report.py",
             script, strerror(errno));
    return;
  }
  if (stat(dir, &sb) == 0 && !S_ISDIR(sb.st_mode)) {
    snprintf(msg, n, "-output '%s' exists and is not a directory", dir);
    return;
  }
  if ((err = MakeDirs(dir))) {
    snprintf(msg, n, "cannot create the -output directory '%s': %s", dir, strerror(err));
    return;
  }
  snprintf(probe, sizeof probe, "%s/.gyre-report-probe.%d", dir, (int) getpid());
  {
    int fd = open(probe, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) {
      snprintf(msg, n, "cannot write to the -output directory '%s': %s", dir, strerror(errno));
      return;
    }
    close(fd);
    unlink(probe);
  }
}

/* The last non-empty line of a file, into line. */
static void LastLine(const char *path, char *line, size_t n)
{
  FILE *f = fopen(path, "r");
  char  buf[1024];
  line[0] = '\0';
  if (!f) return;
  while (fgets(buf, sizeof buf, f)) {
    buf[strcspn(buf, "\n")] = '\0';
    if (buf[0]) snprintf(line, n, "%s", buf);
  }
  fclose(f);
}

/* Runs python script metrics dir with stderr to dir/report.log; msg empty on success. */
static void Run(const char *python, const char *script, const char *metrics, const char *dir,
                char *msg, size_t n)
{
  char  log[PETSC_MAX_PATH_LEN + 16], last[1024];
  char *argv[5] = {(char *) python, (char *) script, (char *) metrics, (char *) dir, NULL};
  posix_spawn_file_actions_t fa;
  pid_t                      pid;
  int                        status = 0, err;
  struct stat                sb;

  msg[0] = '\0';
  snprintf(log, sizeof log, "%s/report.log", dir);
  fflush(stdout);
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  err = posix_spawn(&pid, python, &fa, NULL, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  if (err) {
    snprintf(msg, n, "cannot run '%s': %s", python, strerror(err));
    return;
  }
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
    if (stat(log, &sb) == 0 && sb.st_size == 0) unlink(log);
    return;
  }
  LastLine(log, last, sizeof last);
  if (WIFEXITED(status))
    snprintf(msg, n, "the report script '%s' failed (exit status %d): %s (the whole log: %s)",
             script, WEXITSTATUS(status), last[0] ? last : "no message", log);
  else
    snprintf(msg, n, "the report script '%s' was killed by signal %d (log: %s)", script,
             WTERMSIG(status), log);
}

PetscErrorCode GyreReportCommand(MPI_Comm comm, int argc, char **argv)
{
  char        dir[PETSC_MAX_PATH_LEN] = "", python[PETSC_MAX_PATH_LEN]       = "/usr/bin/python3";
  char        script[PETSC_MAX_PATH_LEN], msg[4 * PETSC_MAX_PATH_LEN + 2048] = "";
  const char *env = getenv("GYRE_REPORT_SCRIPT");
  PetscBool   help;
  PetscMPIInt rank;

  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCall(PetscOptionsHasHelp(NULL, &help));
  PetscOptionsBegin(comm, NULL, "gyre report: plots and words of a comparison", "report");
  PetscCall(PetscOptionsString("-output", "report directory", "", dir, dir, sizeof dir, NULL));
  PetscCall(PetscOptionsString("-report_python", "Python with numpy, netCDF4, matplotlib", "",
                               python, python, sizeof python, NULL));
  PetscOptionsEnd();
  if (help) PetscFunctionReturn(PETSC_SUCCESS);

  PetscCheck(argc >= 2 && argv[1][0] != '-', comm, PETSC_ERR_USER_INPUT,
             "gyre report needs a metrics file: gyre report metrics.nc -output DIR (see gyre "
             "report -help)");
  PetscCheck(argc < 3 || argv[2][0] == '-', comm, PETSC_ERR_USER_INPUT,
             "gyre report takes one metrics file; '%s' is a second", argv[2]);
  PetscCheck(dir[0], comm, PETSC_ERR_USER_INPUT, "no -output DIR given (the report's directory)");

  /* the script: GYRE_REPORT_SCRIPT, else validation/report.py beside this file's cli/ */
  if (env && env[0])
    snprintf(script, sizeof script, "%s", env);
  else {
    const char *src = __FILE__, *slash = strrchr(src, '/');
    int         len = slash ? (int) (slash - src) : 0;
    snprintf(script, sizeof script, "%.*s%s../validation/report.py", len, src, slash ? "/" : "");
  }

  if (rank == 0) {
    Check(argv[1], dir, python, script, msg, sizeof msg);
    if (!msg[0]) Run(python, script, argv[1], dir, msg, sizeof msg);
  }
  PetscCallMPI(MPI_Bcast(msg, sizeof msg, MPI_CHAR, 0, comm));
  PetscCheck(!msg[0], comm, PETSC_ERR_LIB, "%s", msg);
  PetscFunctionReturn(PETSC_SUCCESS);
}
