/* durable.c — replacing a file so that a crash leaves either the old or the new content:
 * write a temporary file next to it, fsync it, rename() it over the target (atomic on POSIX
 * file systems), then fsync the directory so that the rename itself is on disk. */
#include "file_impl.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

char *GyreTmpPath(const char *path, long pid)
{
  size_t n = strlen(path) + 32;
  char  *s = malloc(n);
  if (s) snprintf(s, n, "%s.tmp.%ld", path, pid);
  return s;
}

/* The directory part of path ("." when there is none) into dir. */
static void DirName(const char *path, char *dir, size_t n)
{
  const char *slash = strrchr(path, '/');
  if (!slash)
    snprintf(dir, n, ".");
  else if (slash == path)
    snprintf(dir, n, "/");
  else
    snprintf(dir, n, "%.*s", (int) (slash - path), path);
}

GyreStatus GyreDurableReplace(const char *tmp, const char *path)
{
  char dir[4096];
  int  fd = open(tmp, O_RDONLY);

  if (fd < 0) return GyreStatusSet(GYRE_ERR_IO, "cannot open '%s': %s", tmp, strerror(errno));
  if (fsync(fd)) {
    int e = errno;
    close(fd);
    return GyreStatusSet(GYRE_ERR_IO, "cannot fsync '%s': %s", tmp, strerror(e));
  }
  close(fd);
  if (rename(tmp, path))
    return GyreStatusSet(GYRE_ERR_IO, "cannot rename '%s' to '%s': %s", tmp, path, strerror(errno));
  DirName(path, dir, sizeof dir);
  fd = open(dir, O_RDONLY | O_DIRECTORY);
  if (fd < 0)
    return GyreStatusSet(GYRE_ERR_IO, "cannot open directory '%s': %s", dir, strerror(errno));
  /* some file systems refuse fsync on a directory (EINVAL): the rename is done, go on */
  if (fsync(fd) && errno != EINVAL && errno != EROFS) {
    int e = errno;
    close(fd);
    return GyreStatusSet(GYRE_ERR_IO, "cannot fsync directory '%s': %s", dir, strerror(e));
  }
  close(fd);
  return GYRE_OK;
}

GyreStatus GyreFileCheckReplaceable(MPI_Comm comm, const char *path)
{
  GyreStatus  st = GYRE_OK;
  int         rank;
  struct stat sb;
  MPI_Comm_rank(comm, &rank);
  if (rank == 0) {
    char *tmp = GyreTmpPath(path, (long) getpid());
    int   fd  = -1;
    if (!tmp)
      st = GyreStatusSet(GYRE_ERR_MEM, "out of memory checking '%s'", path);
    else if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
      st = GyreStatusSet(GYRE_ERR_IO, "cannot create output file '%s': %s", path, strerror(EISDIR));
    else if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0666)) < 0 && errno != EEXIST)
      st = GyreStatusSet(GYRE_ERR_IO, "cannot create output file '%s': %s", path, strerror(errno));
    if (fd >= 0) close(fd), unlink(tmp);
    free(tmp);
  }
  return GyreStatusAgree(comm, st);
}

GyreStatus GyreFileMoveAside(MPI_Comm comm, const char *path, int move, char **aside)
{
  GyreStatus  st = GYRE_OK;
  int         rank, state = 0; /* 1: moved or adopted */
  struct stat sb;
  size_t      n    = strlen(path) + 16;
  char       *name = malloc(n);

  *aside = NULL;
  MPI_Comm_rank(comm, &rank);
  if (!name) st = GyreStatusSet(GYRE_ERR_MEM, "out of memory replacing '%s'", path);
  if (name) snprintf(name, n, "%s.replaced", path);
  if (st == GYRE_OK && rank == 0) {
    if (lstat(name, &sb) == 0) /* an earlier run's replacement, never completed: still pending */
      state = 1;
    else if (move && stat(path, &sb) == 0 && S_ISREG(sb.st_mode)) {
      if (rename(path, name))
        st = GyreStatusSet(GYRE_ERR_IO, "cannot move '%s' aside to '%s' before replacing it: %s",
                           path, name, strerror(errno));
      else
        state = 1;
    }
  }
  MPI_Bcast(&state, 1, MPI_INT, 0, comm);
  if (state)
    *aside = name;
  else
    free(name);
  return GyreStatusAgree(comm, st);
}

GyreStatus GyreFileDropAside(MPI_Comm comm, char **aside)
{
  int rank;
  if (!*aside) return GYRE_OK;
  MPI_Comm_rank(comm, &rank);
  if (rank == 0) unlink(*aside); /* a leftover is harmless: nothing reads it */
  free(*aside);
  *aside = NULL;
  MPI_Barrier(comm);
  return GYRE_OK;
}

GyreStatus GyreFilePutBackHere(const char *path, const char *aside, const char *failed)
{
  if (failed && rename(path, failed) && errno != ENOENT)
    return GyreStatusSet(GYRE_ERR_IO, "cannot move '%s' to '%s': %s", path, failed,
                         strerror(errno));
  if (!failed) unlink(path);
  if (aside && rename(aside, path))
    return GyreStatusSet(GYRE_ERR_IO, "cannot put '%s' back as '%s': %s", aside, path,
                         strerror(errno));
  return GYRE_OK;
}

GyreStatus GyreFilePutBack(MPI_Comm comm, const char *path, char **aside, const char *failed)
{
  GyreStatus st = GYRE_OK;
  int        rank;
  if (!*aside && !failed) return GYRE_OK;
  MPI_Comm_rank(comm, &rank);
  if (rank == 0) st = GyreFilePutBackHere(path, *aside, failed);
  st = GyreStatusAgree(comm, st);
  free(*aside);
  *aside = NULL;
  return st;
}
