/* file_kind.c — telling a NetCDF file from anything else by its first bytes, so that a
 * missing file, an unreadable one and a file of another format each get their own message
 * instead of the NetCDF library's generic one. */
#include "file_impl.h"
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

GyreStatus GyreFileKindOf(const char *path, GyreFileKind *kind)
{
  static const unsigned char hdf5[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
  /* HDF5 looks for its superblock at 0, 512, 1024, 2048, ... (after a user block) */
  static const long offsets[] = {0, 512, 1024, 2048, 4096};
  unsigned char     head[8];
  int               fd = open(path, O_RDONLY);

  if (fd < 0) return GyreStatusSet(GYRE_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
  for (size_t i = 0; i < sizeof offsets / sizeof offsets[0]; i++) {
    ssize_t n = pread(fd, head, sizeof head, offsets[i]);
    if (n < 0) {
      int e = errno;
      close(fd);
      return GyreStatusSet(GYRE_ERR_IO, "cannot read '%s': %s", path, strerror(e));
    }
    if (n < 4) break;
    if (i == 0 && !memcmp(head, "CDF", 3) && (head[3] == 1 || head[3] == 2 || head[3] == 5)) {
      close(fd);
      *kind = GYRE_KIND_CLASSIC;
      return GYRE_OK;
    }
    if (n == 8 && !memcmp(head, hdf5, 8)) {
      close(fd);
      *kind = GYRE_KIND_HDF5;
      return GYRE_OK;
    }
  }
  close(fd);
  return GyreStatusSet(GYRE_ERR_FORMAT, "'%s' is not a NetCDF file", path);
}
