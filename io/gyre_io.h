/* gyre_io.h — CF-1.8 NetCDF-4 files written and read in parallel (netcdf-mpi), with
 * provenance and atomic replacement. PETSc-free: MPI and NetCDF only.
 *
 * Layout of every gyre data file: an unlimited `time` dimension first, then optional extra
 * dimensions (ensemble `member`, sector, layer), then the spatial dimensions:
 *   vorticity(time, member, y, x),  X(time, k),  Y(time, k, j).
 * Each rank writes its own hyperslab of a variable, collectively; nothing is gathered.
 *
 * A build with the serial NetCDF instead (GyreFileParallelWrites() == 0: the surrogate
 * library built with MPICH, for which Debian has no netcdf-mpi) reads files on any number
 * of ranks, each rank opening the file on its own, but creates and appends to files on a
 * communicator of one rank only (MPI_COMM_SELF); on more it fails with a message saying so. */
#ifndef GYRE_IO_H
#define GYRE_IO_H

#include <mpi.h>
#include <stddef.h>
#include "gyre_status.h"

#define GYRE_IO_MAX_DIMS 6

typedef struct GyreFile_s *GyreFile;

typedef enum { GYRE_FLOAT = 0, GYRE_DOUBLE = 1 } GyrePrecision;

/* How model time is stored in the `time` variable. */
typedef enum {
  GYRE_TIME_PHYSICAL, /* real units given by the caller, e.g. "s" or "days since ..." */
  GYRE_TIME_NONDIM    /* non-dimensional model time t stored as "days since 2000-01-01
                         00:00:00", proleptic_gregorian, with a comment saying so */
} GyreTimeKind;

/* A dimension and its coordinate variable. values == NULL: no coordinate variable
 * (e.g. an index dimension such as `member` gets integer values 0..len-1 instead when
 * standard_name is "realization"). Strings may be NULL (attribute omitted). */
typedef struct {
  const char   *name;
  size_t        len;
  const double *values; /* len global coordinate values, the same on every rank */
  const char   *units, *axis, *standard_name, *long_name;
} GyreDimSpec;

/* A data variable over (time, dims[0], ..., dims[ndims-1]); dims name defined dimensions. */
typedef struct {
  const char   *name;
  int           ndims;
  const char   *dims[GYRE_IO_MAX_DIMS];
  const char   *long_name, *units, *standard_name, *comment; /* may be NULL */
  GyrePrecision precision;
  int           has_time; /* 1: first dimension is `time` (record variable); 0: static */
} GyreVarSpec;

typedef struct {
  int    overwrite;     /* 1: replace an existing file; 0: refuse it (GYRE_ERR_IO) */
  int    deflate;       /* 0..9, 0 = none (parallel deflate needs NetCDF >= 4.7.4) */
  int    atomic;        /* 1: write to PATH.tmp.<pid>, fsync and rename on close */
  size_t chunk_records; /* records per chunk along time (default 1) */
} GyreFileOptions;

/* ---- collective agreement ----------------------------------------------------------- */

/* Makes every rank of comm return the same outcome: when any rank's status is a failure,
 * all ranks return the code and message of the lowest-ranked failing one. Used after every
 * step that can fail on some ranks only (a file system error, NaN in one block), so that no
 * rank carries on into a collective call the others have left. Collective. */
GyreStatus GyreStatusAgree(MPI_Comm comm, GyreStatus status);

/* ---- writing ---------------------------------------------------------------------- */

/* 1: this build's NetCDF is parallel (netcdf-mpi): files are created and appended to
 * collectively on any communicator. 0: serial NetCDF: only on a communicator of one rank.
 * Not collective. */
int GyreFileParallelWrites(void);

/* Creates a NetCDF-4 file for parallel writing. Collective on comm.
 * Refuses an existing path unless opts->overwrite; never touches an existing file before
 * GyreFileClose() when opts->atomic. Fails with a message naming the path; with a serial
 * NetCDF (GyreFileParallelWrites() == 0), also when comm has more than one rank. */
GyreStatus GyreFileCreate(MPI_Comm comm, const char *path, const GyreFileOptions *opts,
                          GyreFile *file);
/* Defines the unlimited `time` dimension and variable. units: for GYRE_TIME_PHYSICAL the
 * CF units string; ignored for GYRE_TIME_NONDIM. Collective, define mode. */
GyreStatus GyreFileDefineTime(GyreFile file, GyreTimeKind kind, const char *units);
/* Defines a dimension and, if values != NULL or it is a realization axis, its coordinate
 * variable. Collective, define mode. */
GyreStatus GyreFileDefineDim(GyreFile file, const GyreDimSpec *dim);
/* Defines a variable; *varid is its handle for writing. Chunked per record; deflated if
 * asked. Collective, define mode. */
GyreStatus GyreFileDefineVar(GyreFile file, const GyreVarSpec *var, int *varid);
/* Global text / double attributes (provenance). Collective, define mode. */
GyreStatus GyreFilePutAttText(GyreFile file, const char *name, const char *value);
GyreStatus GyreFilePutAttDouble(GyreFile file, const char *name, double value);
/* Text attribute on a variable. Collective, define mode. */
GyreStatus GyreFilePutVarAttText(GyreFile file, const char *var, const char *name,
                                 const char *value);
/* Leaves define mode (writes coordinate values). Collective. */
GyreStatus GyreFileEndDef(GyreFile file);
/* Writes time value t at record rec. Collective (rank 0 writes the value). */
GyreStatus GyreFileWriteTime(GyreFile file, size_t rec, double t);
/* Writes this rank's hyperslab of a variable. start/count cover the variable's non-time
 * dimensions in order; rec is the time record (ignored for static variables). data is
 * contiguous in C order over count[]. A rank with nothing to write passes count = 0.
 * Collective. */
GyreStatus GyreFileWriteBlock(GyreFile file, int varid, size_t rec, const size_t *start,
                              const size_t *count, const double *data);
/* Flushes to disk (nc_sync). Collective. */
GyreStatus GyreFileSync(GyreFile file);
/* Updates a global text attribute after GyreFileEndDef (re-enters define mode). Collective. */
GyreStatus GyreFileUpdateAttText(GyreFile file, const char *name, const char *value);
/* Sets global text attributes of a CLOSED file: rank 0 opens it serially, writes them and
 * closes it; every rank gets the status. Parallel HDF5 cannot reliably rewrite attributes of
 * a reopened file, so end-of-run provenance (end_time, ...) is written this way. A file
 * amended so must be copied (GyreFileTruncateRecords) before parallel appends. Collective. */
GyreStatus GyreFileAmendAttributes(MPI_Comm comm, const char *path, int n,
                                   const char *const names[], const char *const values[]);
/* Closes; for atomic files fsyncs the temporary file, renames it over the path and fsyncs the
 * directory. Collective. *file is set to NULL. */
GyreStatus GyreFileClose(GyreFile *file);
/* Closes and deletes a file being written (an error path); an atomic file leaves the old
 * file untouched. A file opened with GyreFileOpen() is only closed. Collective. */
GyreStatus GyreFileAbort(GyreFile *file);

/* ---- reading ---------------------------------------------------------------------- */

/* Opens an existing file for parallel reading (write = 0) or appending (write = 1).
 * Collective. Fails naming the path when missing or not NetCDF. Classic-format files (CDO's
 * and NCO's default) are read by every rank on its own and cannot be appended to. Appending
 * works on files created with the parallel API (by gyre, or GyreFileTruncateRecords): HDF5
 * fails on parallel writes to files that a serial program created. With a serial NetCDF
 * (GyreFileParallelWrites() == 0) every file is read by every rank on its own, and
 * appending needs a communicator of one rank. */
GyreStatus GyreFileOpen(MPI_Comm comm, const char *path, int write, GyreFile *file);
/* Number of records and (if times != NULL) a malloc'ed copy of the time values. Collective
 * when times != NULL (every rank reads them). */
GyreStatus GyreFileGetTimes(GyreFile file, size_t *nrec, double **times);
/* Record index whose time is nearest t, within tol; GYRE_ERR_FORMAT naming t and the path if
 * none. Collective. */
GyreStatus GyreFileFindTime(GyreFile file, double t, double tol, size_t *rec);
/* Shape of a variable: *ndims non-time dimensions, their names and lengths; *has_time.
 * GYRE_ERR_FORMAT naming the variable and path when it does not exist. */
GyreStatus GyreFileInqVar(GyreFile file, const char *var, int *ndims,
                          char dimnames[GYRE_IO_MAX_DIMS][64], size_t *dimlens, int *has_time);
/* varid for writing into an opened file (write = 1). Not collective. */
GyreStatus GyreFileGetVarId(GyreFile file, const char *var, int *varid);
/* Reads this rank's hyperslab of record rec (start/count over non-time dims) into data as
 * doubles, unpacked (GyreVarEncoding). Rejects NaN/Inf with GYRE_ERR_NAN and a missing value
 * with GYRE_ERR_FORMAT (the first of them in the record's flat order), naming path, variable,
 * record and index. Collective. */
GyreStatus GyreFileReadBlock(GyreFile file, const char *var, size_t rec, const size_t *start,
                             const size_t *count, double *data);
/* A variable's CF encoding (io/encoding.c), for every reader of data: the packing
 * (scale_factor, add_offset: physical = raw x scale + offset) and the raw values that mark a
 * missing value (_FillValue, missing_value, or where neither is given NetCDF's default fill of
 * the type, unless the variable is stored without fill). GyreFileReadBlock applies it. */
#define GYRE_ENCODING_MAX_MISSING 4
typedef struct {
  double      scale, offset;
  int         packed;
  int         nmiss;
  double      miss[GYRE_ENCODING_MAX_MISSING];
  const char *miss_what[GYRE_ENCODING_MAX_MISSING]; /* "_FillValue", "missing_value", ... */
} GyreVarEncoding;
/* From NetCDF's ids (an attribute that cannot be read is taken as absent). Not collective. */
void GyreVarEncodingRead(int ncid, int varid, GyreVarEncoding *e);
/* Unpacks n raw values in place; returns the index of the first missing value (its marker in
 * *which) or n (*which -1). Not collective. */
size_t GyreVarEncodingDecode(const GyreVarEncoding *e, double *v, size_t n, int *which);
/* "its _FillValue -999 (a missing value)": marker which in words, for messages. */
void GyreVarEncodingDescribe(const GyreVarEncoding *e, int which, char *buf, size_t n);
/* Global text attribute; *value is malloc'ed (caller frees). GYRE_ERR_FORMAT if absent.
 * GetAttDouble also reads a number stored as text. Not collective. */
GyreStatus GyreFileGetAttText(GyreFile file, const char *name, char **value);
GyreStatus GyreFileGetAttDouble(GyreFile file, const char *name, double *value);
/* The path the file was opened or created with. */
const char *GyreFilePath(GyreFile file);

/* Rewrites path keeping only records [0, nrec) of every record variable, atomically
 * (the original is replaced only once the copy is complete). Collective; rank 0 copies. */
GyreStatus GyreFileTruncateRecords(MPI_Comm comm, const char *path, size_t nrec);

/* 1 where paths a and b name the same file, else 0: where both exist, the same device and
 * inode (a link or another spelling counts); where neither does, the same path once its
 * directory is resolved (./x.nc and x.nc). A command refuses an output that is one of its
 * inputs or another of its outputs. Not collective. */
int GyreFilesSame(const char *a, const char *b);
/* Where path is a symbolic link (to a file or to nothing yet), what it finally points at: *out
 * (len bytes) the target, relative targets taken from the link's directory, and 1; 0 where
 * path is no link (out untouched); -1 where the links loop or the name is too long. A run that
 * writes in place and moves the earlier file aside (-output_overwrite) works on the target, so
 * that the link stays a link to the new file. Not collective. */
int GyreFileFollowLink(const char *path, char *out, size_t len);
/* Whether path can be written later by an atomic replacement (a temporary file next to it,
 * renamed over it): path is not a directory and its directory takes a new file. Checked on
 * rank 0 (a probe file created and removed: nothing is left, an existing path is untouched);
 * the error names path and the reason. For a command that writes its output only at the end
 * (a training's model and checkpoint), so that it fails before the work. Collective. */
GyreStatus GyreFileCheckReplaceable(MPI_Comm comm, const char *path);
/* Replacing a file that is written in place (a simulation's output, appended to record by
 * record so that a killed run can be continued): with move, GyreFileMoveAside renames an
 * existing regular file path to "PATH.replaced" (rank 0; *aside its name on every rank, NULL
 * where there was none), so that the new file is made at path. Where PATH.replaced exists
 * already (a replacement begun by an earlier run, killed or stopped, not completed), it is
 * taken as the file being replaced and path is left as it is; without move, only that. Once
 * the new file is there for good, GyreFileDropAside removes the old one; when the new file
 * failed, GyreFilePutBack renames it to failed (or removes it where failed is NULL) and the old
 * file, where there is one, back to path. Both free *aside; DropAside does nothing where it is
 * NULL, PutBack where it and failed are. Collective. */
GyreStatus GyreFileMoveAside(MPI_Comm comm, const char *path, int move, char **aside);
GyreStatus GyreFileDropAside(MPI_Comm comm, char **aside);
GyreStatus GyreFilePutBack(MPI_Comm comm, const char *path, char **aside, const char *failed);
/* GyreFilePutBack's renames by the calling rank alone (aside may be NULL), not collective: for
 * a rank whose error ends the job (MPI_Abort) while the others cannot take part */
GyreStatus GyreFilePutBackHere(const char *path, const char *aside, const char *failed);

/* ---- provenance --------------------------------------------------------------------- */

/* SHA-256 of a file's content as 64 hex characters (+ NUL). Not collective. */
GyreStatus GyreHashFile(const char *path, char hex[65]);
/* SHA-256 of n bytes in memory as 64 hex characters (+ NUL). Not collective. */
void GyreHashBuffer(const void *data, size_t n, char hex[65]);

/* Provenance: written as global attributes by GyreProvenanceWrite():
 *   gyre_version, gyre_git_commit, command_line, options, mpi_size, slurm_job_id,
 *   slurm_array_task_id, slurm_array_job_id (an array task: squeue's ARRAYJOBID_TASKID),
 *   slurm_nodelist, hostname, start_time, end_time (ISO 8601 UTC), seed,
 *   input_files ("path sha256:<hex>; ..."), Conventions = "CF-1.8", history. */
typedef struct {
  const char *title;
  const char *command_line; /* argv joined with shell quoting */
  const char *options;      /* the full options database, one "-name value" per line */
  int         mpi_size;
  long        seed;
  const char *start_time; /* ISO 8601 UTC */
  const char *inputs[16]; /* input file paths (hashed on write), NULL-terminated */
} GyreProvenance;

/* Current UTC time as ISO 8601 ("2026-11-25T19:45:52Z"). */
void GyreTimeNowISO(char buf[32]);
/* v printed with the fewest significant digits (6 to 17) whose value accept(value, ctx)
 * takes, or that reads back as v where accept is NULL; into buf (n bytes, 32 suffice), which
 * it returns. For a number a message suggests (pasted back, it is accepted) or a record that
 * must read back exactly. Not collective. */
const char *GyreNumberFormat(double v, int (*accept)(double, const void *), const void *ctx,
                             char *buf, size_t n);
/* How this process was started: "mpiexec (Open MPI)", "srun", "mpiexec (MPICH Hydra)" or
 * "none (a process started directly)" (the provenance attribute `launcher`). */
const char *GyreLauncher(void);
/* Writes the provenance attributes. Collective, define mode. end_time is written as
 * "running" and set by GyreProvenanceFinish(). Rank 0 hashes the inputs, broadcasts. */
GyreStatus GyreProvenanceWrite(GyreFile file, const GyreProvenance *prov);
/* Sets end_time to now (and an extra attribute, e.g. the stepping wall time). Collective. */
GyreStatus GyreProvenanceFinish(GyreFile file);

/* ---- `gyre info` -------------------------------------------------------------------- */

/* Prints dimensions, variables (with shapes, units, long names) and all global attributes
 * (the provenance) of any NetCDF file to stdout. Not collective (call on one rank). */
GyreStatus GyreFileInfo(const char *path);

#endif
