/* file_create.c — the lifecycle of a GyreFile: creating one for parallel writing (refusing
 * to clobber, or atomically through a temporary file), closing it (with the atomic rename)
 * and aborting it (an error path that never damages an existing good file).
 *
 * Decisions: rank 0 alone checks the file system before anything collective happens
 * (whether the file exists, whether it can be created) and the outcome is agreed on by all
 * ranks, so that every rank fails with the same one-line message and none hangs in
 * nc_create_par. The temporary name is "PATH.tmp.<pid of rank 0>". A build with the serial
 * NetCDF (nc_parallel.c) creates files on one rank only and says so on more. */
#define _DEFAULT_SOURCE /* realpath */
#include "file_impl.h"
#include <netcdf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

GyreStatus GyreFileAlloc(MPI_Comm comm, const char *path, GyreFile *file)
{
  GyreFile f = calloc(1, sizeof *f);
  if (!f || !(f->path = strdup(path))) {
    free(f);
    return GyreStatusSet(GYRE_ERR_MEM, "out of memory opening '%s'", path);
  }
  if (MPI_Comm_dup(comm, &f->comm)) {
    free(f->path);
    free(f);
    return GyreStatusSet(GYRE_ERR_MPI, "MPI_Comm_dup failed for '%s'", path);
  }
  MPI_Comm_rank(f->comm, &f->rank);
  MPI_Comm_size(f->comm, &f->size);
  f->ncid          = -1;
  f->time_dimid    = -1;
  f->time_varid    = -1;
  f->chunk_records = 1;
  *file            = f;
  return GYRE_OK;
}

void GyreFileFree(GyreFile *file)
{
  GyreFile f = *file;
  if (!f) return;
  for (int i = 0; i < f->ncoords; i++)
    free(f->coords[i].values);
  free(f->coords);
  free(f->path);
  free(f->tmp_path);
  MPI_Comm_free(&f->comm);
  free(f);
  *file = NULL;
}

/* Rank 0: may path (or, atomic, the temporary file) be created? Leaves no trace except an
 * empty file at target, which nc_create_par then clobbers. */
static GyreStatus CheckCreatable(const char *path, const char *target, const GyreFileOptions *o,
                                 int *existed)
{
  struct stat st;
  int         fd;

  *existed = stat(target, &st) == 0;
  if (stat(path, &st) == 0) {
    if (!o->overwrite)
      return GyreStatusSet(GYRE_ERR_IO,
                           "output file '%s' exists (use -output_overwrite to replace it)", path);
    if (S_ISDIR(st.st_mode))
      return GyreStatusSet(GYRE_ERR_IO, "cannot create output file '%s': %s", path,
                           strerror(EISDIR));
  }
  /* the real test of "can be created": open it; an existing file is not truncated here */
  fd = open(target, O_WRONLY | O_CREAT | (o->atomic ? O_TRUNC : 0), 0666);
  if (fd < 0)
    return GyreStatusSet(GYRE_ERR_IO, "cannot create output file '%s': %s", path, strerror(errno));
  close(fd);
  return GYRE_OK;
}

GyreStatus GyreFileCreate(MPI_Comm comm, const char *path, const GyreFileOptions *opts,
                          GyreFile *file)
{
  GyreFileOptions o = {0};
  GyreFile        f;
  GyreStatus      st = GYRE_OK;
  long            pid;
  const char     *target;
  int             err, existed = 1, size;

  *file = NULL;
  if (!path || !path[0]) return GyreStatusSet(GYRE_ERR_ARG, "GyreFileCreate: empty path");
  if (!GyreFileParallelWrites() && !MPI_Comm_size(comm, &size) && size > 1)
    return GyreStatusSet(GYRE_ERR_IO, "cannot create '%s' on %d MPI ranks: %s", path, size,
                         GyreNcSerialReason());
  if (opts) o = *opts;
  if (o.deflate < 0 || o.deflate > 9)
    return GyreStatusSet(GYRE_ERR_ARG, "deflate level %d for '%s': expected 0..9", o.deflate, path);
  GyreCall(GyreFileAlloc(comm, path, &f));
  f->writable      = 1;
  f->created       = 1;
  f->define_mode   = 1;
  f->deflate       = o.deflate;
  f->chunk_records = o.chunk_records ? o.chunk_records : 1;

  pid = (long) getpid();
  MPI_Bcast(&pid, 1, MPI_LONG, 0, f->comm);
  if (o.atomic && !(f->tmp_path = GyreTmpPath(path, pid)))
    st = GyreStatusSet(GYRE_ERR_MEM, "out of memory creating '%s'", path);
  target = f->tmp_path ? f->tmp_path : path;
  if (st == GYRE_OK && f->rank == 0) st = CheckCreatable(path, target, &o, &existed);
  if ((st = GyreStatusAgree(f->comm, st)) != GYRE_OK) {
    GyreFileFree(&f);
    return st;
  }

  err = GyreNcCreatePar(target, NC_NETCDF4 | NC_MPIIO | NC_CLOBBER, f->comm, &f->ncid);
  if (err)
    st = GyreStatusSet(GYRE_ERR_IO, "cannot create output file '%s': %s", path, nc_strerror(err));
  if ((st = GyreStatusAgree(f->comm, st)) != GYRE_OK) {
    if (!err) nc_close(f->ncid);
    MPI_Barrier(f->comm);
    if (f->rank == 0 && !existed) unlink(target); /* never a file that was there before */
    GyreFileFree(&f);
    return st;
  }
  f->parallel = GyreFileParallelWrites();
  *file       = f;
  return GYRE_OK;
}

GyreStatus GyreFileClose(GyreFile *file)
{
  GyreFile   f  = *file;
  GyreStatus st = GYRE_OK;
  int        err;

  if (!f) return GYRE_OK;
  if (f->define_mode) st = GyreFileEndDef(f);
  /* atomic: flush every rank's writes (MPI_File_sync inside HDF5) before rank 0's fsync and
   * rename, so that on a parallel file system no node still holds data of the new file */
  if (f->tmp_path && st == GYRE_OK && (err = nc_sync(f->ncid)))
    st = GyreStatusSet(GYRE_ERR_IO, "cannot flush '%s': %s", f->path, nc_strerror(err));
  err     = nc_close(f->ncid);
  f->ncid = -1;
  if (err && st == GYRE_OK)
    st = GyreStatusSet(GYRE_ERR_IO, "cannot close '%s': %s", f->path, nc_strerror(err));
  st = GyreStatusAgree(f->comm, st);
  if (f->tmp_path) {
    if (st == GYRE_OK) { /* every rank has closed: rank 0 puts the file in place */
      if (f->rank == 0) st = GyreDurableReplace(f->tmp_path, f->path);
      st = GyreStatusAgree(f->comm, st);
    }
    if (st != GYRE_OK && f->rank == 0) unlink(f->tmp_path);
  }
  GyreFileFree(file);
  return st;
}

GyreStatus GyreFileAbort(GyreFile *file)
{
  GyreFile f = *file;

  if (!f) return GYRE_OK;
  if (f->ncid >= 0) nc_close(f->ncid); /* errors ignored: the file is going away */
  MPI_Barrier(f->comm);
  if (f->rank == 0 && f->created) unlink(f->tmp_path ? f->tmp_path : f->path);
  MPI_Barrier(f->comm);
  GyreFileFree(file);
  return GYRE_OK;
}

/* path with its directory resolved (realpath; the directory must exist) and its last component
 * as given: a spelling of a file that need not exist yet */
static int CanonicalPath(const char *path, char *out, size_t len)
{
  char        dir[PATH_MAX];
  const char *slash = strrchr(path, '/'), *base = slash ? slash + 1 : path;
  if (!*base || !strcmp(base, ".") || !strcmp(base, "..")) return -1;
  if (slash)
    snprintf(dir, sizeof dir, "%.*s", slash == path ? 1 : (int) (slash - path), path);
  else
    snprintf(dir, sizeof dir, ".");
  char *real = realpath(dir, NULL);
  if (!real) return -1;
  int n = snprintf(out, len, "%s/%s", real, base);
  free(real);
  return n > 0 && (size_t) n < len ? 0 : -1;
}

int GyreFilesSame(const char *a, const char *b)
{
  struct stat sa, sb;
  char        ca[PATH_MAX + 256], cb[PATH_MAX + 256];
  if (!a || !b || !*a || !*b) return 0;
  const int ea = !stat(a, &sa), eb = !stat(b, &sb);
  if (ea && eb) return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
  if (ea != eb) return 0; /* one exists, the other not: two files */
  return !CanonicalPath(a, ca, sizeof ca) && !CanonicalPath(b, cb, sizeof cb) && !strcmp(ca, cb);
}

int GyreFileFollowLink(const char *path, char *out, size_t len)
{
  char        cur[PATH_MAX], target[PATH_MAX], next[PATH_MAX];
  struct stat sb;
  int         hops = 0;
  if (strlen(path) >= sizeof cur) return -1;
  snprintf(cur, sizeof cur, "%s", path);
  while (lstat(cur, &sb) == 0 && S_ISLNK(sb.st_mode)) {
    const ssize_t n = readlink(cur, target, sizeof target - 1);
    if (n < 0 || n == (ssize_t) sizeof target - 1 || ++hops > 40) return -1;
    target[n]         = '\0';
    const char *slash = strrchr(cur, '/');
    int         k     = target[0] == '/' || !slash
                            ? snprintf(next, sizeof next, "%s", target)
                            : snprintf(next, sizeof next, "%.*s/%s", (int) (slash - cur), cur, target);
    if (k < 0 || (size_t) k >= sizeof next) return -1;
    memcpy(cur, next, (size_t) k + 1);
  }
  if (!hops) return 0;
  if (strlen(cur) >= len) return -1;
  snprintf(out, len, "%s", cur);
  return 1;
}
