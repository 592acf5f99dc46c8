/* collective.c — making every rank see the same outcome of a step that may fail on some
 * ranks only, and handing rank 0's strings to the others. */
#include "file_impl.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

GyreStatus GyreStatusAgree(MPI_Comm comm, GyreStatus status)
{
  int  rank, size, mine, first, code = (int) status;
  char msg[1024];

  if (MPI_Comm_rank(comm, &rank) || MPI_Comm_size(comm, &size))
    return GyreStatusSet(GYRE_ERR_MPI, "MPI_Comm_rank/size failed while agreeing on a status");
  mine = status != GYRE_OK ? rank : size;
  if (MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, comm))
    return GyreStatusSet(GYRE_ERR_MPI, "MPI_Allreduce failed while agreeing on a status");
  if (first == size) return GYRE_OK;
  if (rank == first) snprintf(msg, sizeof msg, "%s", GyreStatusMessage());
  if (MPI_Bcast(&code, 1, MPI_INT, first, comm) ||
      MPI_Bcast(msg, (int) sizeof msg, MPI_CHAR, first, comm))
    return GyreStatusSet(GYRE_ERR_MPI, "MPI_Bcast failed while agreeing on a status");
  msg[sizeof msg - 1] = '\0';
  return GyreStatusSet((GyreStatus) code, "%s", msg);
}

GyreStatus GyreBcastString(MPI_Comm comm, char **s)
{
  int        rank;
  long       len;
  GyreStatus st = GYRE_OK;

  MPI_Comm_rank(comm, &rank);
  len = rank == 0 ? (*s ? (long) strlen(*s) : -1) : 0;
  if (MPI_Bcast(&len, 1, MPI_LONG, 0, comm))
    return GyreStatusSet(GYRE_ERR_MPI, "MPI_Bcast of a string length failed");
  if (rank != 0) *s = NULL;
  if (len < 0) return GYRE_OK;
  if (rank != 0 && !(*s = malloc((size_t) len + 1)))
    st = GyreStatusSet(GYRE_ERR_MEM, "out of memory receiving a string of %ld characters", len);
  if ((st = GyreStatusAgree(comm, st)) != GYRE_OK) { /* every rank receives, or none does */
    if (rank != 0) {
      free(*s);
      *s = NULL;
    }
    return st;
  }
  if (MPI_Bcast(*s, (int) len + 1, MPI_CHAR, 0, comm))
    return GyreStatusSet(GYRE_ERR_MPI, "MPI_Bcast of a string failed");
  return GYRE_OK;
}
