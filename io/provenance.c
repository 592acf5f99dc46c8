/* provenance.c — where a file came from, as global attributes: gyre version and commit,
 * the command line and full options, MPI size, host, Slurm job (id, array index, node list)
 * and how the processes were launched, start/end time, seed,
 * and every input file with its SHA-256. `gyre info FILE` prints them back.
 *
 * Decisions: rank 0 gathers everything that could differ between ranks (host name,
 * environment, clock, input hashes) and broadcasts it, because in parallel NetCDF every
 * rank must write the same attribute values. Absent Slurm variables and absent inputs are
 * written as "none" rather than left out, so that every gyre file has the same attributes.
 * end_time is "running" until GyreProvenanceFinish(): a file that still says "running" (or
 * "interrupted") did not finish. */
#include "file_impl.h"
#include "gyre_version.h"
#include <netcdf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void GyreTimeNowISO(char buf[32])
{
  time_t    t = time(NULL);
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

const char *GyreNumberFormat(double v, int (*accept)(double, const void *), const void *ctx,
                             char *buf, size_t n)
{
  for (int p = 6; p <= 17; p++) {
    snprintf(buf, n, "%.*g", p, v);
    double back = strtod(buf, NULL);
    if (accept ? accept(back, ctx) : back == v) break;
  }
  return buf;
}

static const char *OrNone(const char *s)
{
  return s && s[0] ? s : "none";
}

/* Rank 0: "path sha256:<hex>; ..." of the inputs (or "none") into a malloc'ed string. */
static GyreStatus HashInputs(const GyreProvenance *prov, char **out)
{
  size_t cap = 1, n = 0;
  char  *s;

  for (int i = 0; i < 16 && prov->inputs[i]; i++)
    cap += strlen(prov->inputs[i]) + 80;
  if (!(s = malloc(cap + 8))) return GyreStatusSet(GYRE_ERR_MEM, "out of memory hashing inputs");
  s[0] = '\0';
  for (int i = 0; i < 16 && prov->inputs[i]; i++) {
    char hex[65];
    if (GyreHashFile(prov->inputs[i], hex) != GYRE_OK) {
      char why[1024]; /* the message store cannot be its own argument */
      snprintf(why, sizeof why, "%s", GyreStatusMessage());
      GyreStatus st = GyreStatusSet(GYRE_ERR_IO, "cannot hash input file: %s", why);
      free(s);
      return st;
    }
    n += (size_t) snprintf(s + n, cap + 8 - n, "%s%s sha256:%s", i ? "; " : "", prov->inputs[i],
                           hex);
  }
  if (!n) snprintf(s, cap + 8, "none");
  *out = s;
  return GYRE_OK;
}

enum {
  P_TITLE,
  P_CMD,
  P_OPTS,
  P_HOST,
  P_JOB,
  P_TASK,
  P_ARRAY,
  P_NODES,
  P_LAUNCH,
  P_START,
  P_INPUTS,
  P_HISTORY,
  P_N
};

/* How the processes were started, from the launchers' environment variables: Open MPI's
 * mpiexec (OMPI_COMM_WORLD_SIZE), Slurm's srun (a job step other than the batch script's, with
 * SLURM_PROCID), MPICH's Hydra (PMI_RANK, PMI_FD), or a process started directly. */
const char *GyreLauncher(void)
{
  const char *step = getenv("SLURM_STEP_ID");
  if (getenv("OMPI_COMM_WORLD_SIZE")) return "mpiexec (Open MPI)";
  if (step && strcmp(step, "batch") && strcmp(step, "extern") && getenv("SLURM_PROCID"))
    return "srun";
  if (getenv("PMI_RANK") || getenv("PMI_FD") || getenv("HYDRA_CONTROL_FD"))
    return "mpiexec (MPICH Hydra)";
  return "none (a process started directly)";
}

GyreStatus GyreProvenanceWrite(GyreFile file, const GyreProvenance *prov)
{
  char      *v[P_N] = {0};
  GyreStatus st     = GYRE_OK;
  int        err = 0, size = prov && prov->mpi_size > 0 ? prov->mpi_size : 0;
  long long  seed = prov ? (long long) prov->seed : 0;

  if (!file || !prov) return GyreStatusSet(GYRE_ERR_ARG, "GyreProvenanceWrite: NULL argument");
  if (!file->writable)
    return GyreStatusSet(GYRE_ERR_ARG, "provenance: '%s' was opened read-only", file->path);
  if (!size) size = file->size;
  if (file->rank == 0) {
    char host[256] = "unknown", now[32];
    GyreTimeNowISO(now);
    if (gethostname(host, sizeof host)) snprintf(host, sizeof host, "unknown");
    host[sizeof host - 1] = '\0';
    v[P_TITLE]            = strdup(prov->title ? prov->title : "gyre output");
    v[P_CMD]              = strdup(OrNone(prov->command_line));
    v[P_OPTS]             = strdup(OrNone(prov->options));
    v[P_HOST]             = strdup(host);
    v[P_JOB]              = strdup(OrNone(getenv("SLURM_JOB_ID")));
    v[P_TASK]             = strdup(OrNone(getenv("SLURM_ARRAY_TASK_ID")));
    v[P_ARRAY]            = strdup(OrNone(getenv("SLURM_ARRAY_JOB_ID")));
    v[P_NODES]  = strdup(OrNone(getenv("SLURM_JOB_NODELIST") ? getenv("SLURM_JOB_NODELIST")
                                                             : getenv("SLURM_NODELIST")));
    v[P_LAUNCH] = strdup(GyreLauncher());
    v[P_START]  = strdup(prov->start_time && prov->start_time[0] ? prov->start_time : now);
    st          = HashInputs(prov, &v[P_INPUTS]);
    if (v[P_START] && v[P_CMD]) {
      size_t n     = strlen(v[P_START]) + strlen(v[P_CMD]) + 16;
      v[P_HISTORY] = malloc(n);
      if (v[P_HISTORY]) snprintf(v[P_HISTORY], n, "%s gyre: %s", v[P_START], v[P_CMD]);
    }
    for (int i = 0; i < P_N && st == GYRE_OK; i++)
      if (!v[i]) st = GyreStatusSet(GYRE_ERR_MEM, "out of memory writing provenance");
  }
  st = GyreStatusAgree(file->comm, st);
  for (int i = 0; i < P_N && st == GYRE_OK; i++)
    st = GyreBcastString(file->comm, &v[i]);

  if (st == GYRE_OK && !file->define_mode && (err = nc_redef(file->ncid)))
    st = GyreStatusSet(GYRE_ERR_IO, "cannot re-enter define mode of '%s': %s", file->path,
                       nc_strerror(err));
  if (st == GYRE_OK) {
    struct {
      const char *name, *value;
    } text[] = {{"Conventions", "CF-1.8"},
                {"title", v[P_TITLE]},
                {"history", v[P_HISTORY]},
                {"gyre_version", GYRE_VERSION},
                {"gyre_git_commit", GYRE_GIT_COMMIT},
                {"command_line", v[P_CMD]},
                {"options", v[P_OPTS]},
                {"hostname", v[P_HOST]},
                {"slurm_job_id", v[P_JOB]},
                {"slurm_array_task_id", v[P_TASK]},
                {"slurm_array_job_id", v[P_ARRAY]},
                {"slurm_nodelist", v[P_NODES]},
                {"launcher", v[P_LAUNCH]},
                {"start_time", v[P_START]},
                {"end_time", "running"},
                {"input_files", v[P_INPUTS]}};
    for (size_t i = 0; i < sizeof text / sizeof text[0] && !err; i++)
      err = nc_put_att_text(file->ncid, NC_GLOBAL, text[i].name, strlen(text[i].value),
                            text[i].value);
    if (!err) err = nc_put_att_int(file->ncid, NC_GLOBAL, "mpi_size", NC_INT, 1, &size);
    if (!err) err = nc_put_att_longlong(file->ncid, NC_GLOBAL, "seed", NC_INT64, 1, &seed);
    if (err)
      st = GyreStatusSet(GYRE_ERR_IO, "cannot write the provenance of '%s': %s", file->path,
                         nc_strerror(err));
    if (!file->define_mode) {
      if ((err = nc_enddef(file->ncid)) && st == GYRE_OK)
        st = GyreStatusSet(GYRE_ERR_IO, "cannot leave define mode of '%s': %s", file->path,
                           nc_strerror(err));
      if (st == GYRE_OK) st = GyreFileSetCollective(file);
    }
  }
  for (int i = 0; i < P_N; i++)
    free(v[i]);
  return GyreStatusAgree(file->comm, st);
}

GyreStatus GyreProvenanceFinish(GyreFile file)
{
  char now[32];
  if (!file) return GyreStatusSet(GYRE_ERR_ARG, "GyreProvenanceFinish: NULL file");
  GyreTimeNowISO(now);
  MPI_Bcast(now, (int) sizeof now, MPI_CHAR, 0, file->comm);
  return GyreFileUpdateAttText(file, "end_time", now);
}
