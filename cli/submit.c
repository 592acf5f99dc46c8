/* submit.c — `gyre submit`: an experiment's whole pipeline as Slurm jobs chained with
 * --dependency=afterok, and `gyre submit -status`, the state of a submitted pipeline.
 *
 * What it decides (the README's "Running on a cluster" tells the user):
 *
 * - Input. One options file per experiment, runs/<exp>.opts, PETSc options with one stage per
 *   prefix and a size prefix (tiny_, small_, full_) overriding a stage's option for that size,
 *   exactly as runs/common.sh's stage_opts reads it (so runs/<exp>.sh and gyre submit run the
 *   same experiment). The experiment is the file's name (or -experiment NAME). Every option's
 *   stage must be one of the experiment's (or slurm_): a typo is an error, not a silent no-op.
 *   Extra -STAGE_NAME VALUE... on the submit command line override the file.
 *
 * - Site parameters (account, partition, qos, time, nodes, tasks, GPUs, the site environment
 *   file, the MPI launcher) are -slurm_* options, their defaults in ONE place,
 *   runs/slurm/defaults.opts; for job J at size S the first of -S_slurm_J_X, -slurm_J_X,
 *   -S_slurm_X, -slurm_X is taken, looked up on the command line, then in the experiment's
 *   file, then in the defaults.
 *
 * - The stage graph is the experiment's (one function per experiment below: l96-closure,
 *   ns2d-fno):
 *   which jobs, what each runs, which ranks, and which jobs it waits for. Each job is a bash
 *   script written to DIR/slurm/JOB.sbatch: a few exports (GYRE, GYRE_LAUNCHER, GYRE_PYTHON,
 *   GYRE_SITE_ENV), `source runs/slurm/job.sh` (site environment, launcher, requeue.sh), `cd
 *   DIR`, then gyre command lines. Simulation and training commands run through
 *   gyre_requeueable (runs/slurm/requeue.sh) with -restart auto / -train_resume auto, and their
 *   jobs carry --signal=B:USR1@120 --requeue --open-mode=append.
 *
 * - Quoting. Every word that comes from an options file or the command line is written into a
 *   script single-quoted (' as '\''), so a value holding spaces, quotes, $(), backticks or ;
 *   is an argument, never shell code; numbers the scripts compute with are parsed here first.
 *   Resources go to sbatch as separate arguments of execvp (never a shell, never system()).
 *   Values never hold a newline (an options file cannot make one).
 *
 * - Output. DIR (-dir, default ./<exp>-<size>) holds every file the jobs write, the scripts
 *   (slurm/), the jobs' logs (logs/JOB-<id>.out, JOB-<array id>_<index>.out for an array) and
 *   jobs.txt (one "JOB ID" line each), which -status reads. A DIR that already holds a
 *   pipeline is refused. -dry_run prints the scripts and sbatch lines, writes and submits
 *   nothing.
 *
 * - Failure. Every job is submitted with --kill-on-invalid-dep=yes: a job that fails (or is
 *   checkpointed and requeued, which never counts as afterok) cancels its dependants rather than
 *   leaving them pending. When sbatch itself fails, the jobs already submitted are cancelled
 *   and the error is one line.
 *
 * Not PETSc: gyre submit runs on a login node, starts no MPI and forks sbatch, so it parses its
 * own arguments (the usage below) and prints errors as gyre's one line. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "gyre_cli.h"

#ifndef GYRE_RUNS_DIR
#define GYRE_RUNS_DIR ""
#endif

static const char usage[] =
    "usage: gyre submit runs/<experiment>.opts [-size tiny|small|full] [-dir DIR] [-dry_run]\n"
    "                   (or -options_file runs/<experiment>.opts)\n"
    "                   [-gyre PATH] [-runs DIR] [-experiment NAME] [-STAGE_OPTION VALUE...]\n"
    "       gyre submit -status DIR|DIR/jobs.txt\n"
    "\n"
    "  Submits an experiment's whole pipeline as Slurm jobs chained with --dependency=afterok\n"
    "  and --kill-on-invalid-dep=yes, prints the job ids and how to follow them. Experiments:\n"
    "    l96-closure  truth (job array, one member a task), heldout -> train -> hybrid (MLP\n"
    "                 closure; cost) and twin (no closure, cubic polynomial) -> compare -> report\n"
    "    ns2d-fno     data (job array) -> train (FNO emulator) -> hybrid (rollouts) and heldout\n"
    "                 (physics) -> compare -> report\n"
    "  Scripts: DIR/slurm/JOB.sbatch; logs: DIR/logs/JOB-ID.out; job ids: DIR/jobs.txt.\n"
    "\n"
    "  -size S          tiny, small (default) or full: the options' size prefix\n"
    "  -dir DIR         where every output, script (DIR/slurm), log (DIR/logs) and jobs.txt go\n"
    "                   (default ./<experiment>-<size>; refused if it holds a pipeline)\n"
    "  -dry_run         print the generated scripts and the sbatch lines; submit nothing\n"
    "  -gyre PATH       the gyre the jobs run (default: this one)\n"
    "  -runs DIR        the runs/ folder (job.sh, defaults.opts, the experiments' python)\n"
    "                   (default: the options file's folder, else this build's source runs/)\n"
    "  -experiment N    the experiment (default: the options file's name without .opts)\n"
    "  -STAGE_X V...    overrides the file's -STAGE_X; -slurm_X sets a site parameter:\n"
    "                   account, partition, qos, time, nodes, ntasks, gpus_per_node,\n"
    "                   cpus_per_task, env_file (sourced by every job: module load ...),\n"
    "                   launcher (mpiexec|srun|none), launcher_args (more words for it,\n"
    "                   e.g. \"--mpi=pmix\"; split at blanks, never evaluated), python (with\n"
    "                   numpy and netCDF4; default python3 on the jobs' PATH: checked here,\n"
    "                   a warning if it cannot import them), extra (one sbatch argument),\n"
    "                   signal_seconds (the warning before the time limit, 120). For one job:\n"
    "                   -slurm_JOB_X; for one size: -SIZE_slurm_X; defaults:\n"
    "                   runs/slurm/defaults.opts; another X is an error\n"
    "  -status DIR      each job's state and log; which job failed and which it cancelled\n"
    "                   (exit status 1 when a job failed)\n"
    "\n"
    "  Errors are one line, \"gyre: error: ...\", exit status 1.\n";

/* ---- small helpers ------------------------------------------------------------------- */

static int Error(const char *fmt, ...)
{
  va_list ap;
  fputs("gyre: error: ", stderr);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  return 1;
}

static void *Alloc(size_t n)
{
  void *p = calloc(1, n ? n : 1);
  if (!p) {
    fputs("gyre: error: out of memory\n", stderr);
    exit(1);
  }
  return p;
}

static char *Dup(const char *s)
{
  char *d = Alloc(strlen(s) + 1);
  memcpy(d, s, strlen(s) + 1);
  return d;
}

/* A growing string. */
typedef struct {
  char  *s;
  size_t len, cap;
} Buf;

static void BufAddV(Buf *b, const char *fmt, va_list ap)
{
  va_list aq;
  va_copy(aq, ap);
  int n = vsnprintf(NULL, 0, fmt, aq);
  va_end(aq);
  if (b->len + (size_t) n + 1 > b->cap) {
    size_t cap = 2 * (b->len + (size_t) n + 1) + 256;
    char  *s   = Alloc(cap);
    if (b->s) memcpy(s, b->s, b->len + 1);
    free(b->s);
    b->s   = s;
    b->cap = cap;
  }
  vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
  b->len += (size_t) n;
}

static void BufAdd(Buf *b, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  BufAddV(b, fmt, ap);
  va_end(ap);
}

static const char *BufStr(const Buf *b)
{
  return b->s ? b->s : "";
}

/* Appends s single-quoted for bash: every character literal, ' written as '\''. */
static void BufQuote(Buf *b, const char *s)
{
  BufAdd(b, "'");
  for (const char *c = s; *c; c++) {
    if (*c == '\'')
      BufAdd(b, "'\\''");
    else
      BufAdd(b, "%c", *c);
  }
  BufAdd(b, "'");
}

/* Appends " 'word'". */
static void BufWord(Buf *b, const char *s)
{
  BufAdd(b, " ");
  BufQuote(b, s);
}

/* ---- options: files of PETSc options, one stage per prefix ---------------------------- */

typedef struct {
  char  *key; /* without the leading '-' */
  int    nval;
  char **val;
  char  *where; /* "FILE:LINE" or "the command line" */
} Opt;

typedef struct {
  Opt *o;
  int  n, cap;
} Opts;

static Opt *OptsAdd(Opts *opts, const char *key, const char *where)
{
  if (opts->n == opts->cap) {
    int  cap = 2 * opts->cap + 16;
    Opt *o   = Alloc(sizeof *o * (size_t) cap);
    if (opts->o) memcpy(o, opts->o, sizeof *o * (size_t) opts->n);
    free(opts->o);
    opts->o   = o;
    opts->cap = cap;
  }
  Opt *o   = &opts->o[opts->n++];
  o->key   = Dup(key);
  o->where = Dup(where);
  o->val   = NULL;
  o->nval  = 0;
  return o;
}

static void OptAddValue(Opt *o, const char *v)
{
  char **val = Alloc(sizeof *val * (size_t) (o->nval + 1));
  if (o->val) memcpy(val, o->val, sizeof *val * (size_t) o->nval);
  free(o->val);
  o->val            = val;
  o->val[o->nval++] = Dup(v);
}

/* Whether word is an option's name, -NAME with NAME a letter then letters, digits and '_': on
 * the command line anything else after an option is one of its values ("-bind-to core",
 * "--mpi=pmix", "-1"). */
static int IsOptionName(const char *w)
{
  if (w[0] != '-' || !isalpha((unsigned char) w[1])) return 0;
  for (const char *c = w + 2; *c; c++)
    if (!isalnum((unsigned char) *c) && *c != '_') return 0;
  return 1;
}

/* Whether w is -NAME=VALUE with NAME an option's name: an option given with '=' (refused: the
 * value goes after a space), not a value of the option before it */
static int IsOptionEquals(const char *w)
{
  const char *eq = strchr(w, '=');
  char        name[256];
  if (!eq || (size_t) (eq - w) >= sizeof name) return 0;
  memcpy(name, w, (size_t) (eq - w));
  name[eq - w] = 0;
  return IsOptionName(name);
}

/* Reads a PETSc options file: '#' starts a comment (outside double quotes); each remaining
 * line is -KEY followed by its values, words split at blanks, a double-quoted word kept whole
 * (its quotes removed), as PETSc's own reader does. */
static int OptsRead(const char *path, Opts *opts)
{
  FILE *f = fopen(path, "r");
  if (!f) return Error("cannot read options file '%s': %s", path, strerror(errno));
  char   *line = NULL;
  size_t  cap  = 0;
  ssize_t len;
  int     lineno = 0, rc = 0;
  while (!rc && (len = getline(&line, &cap, f)) >= 0) {
    lineno++;
    char where[PATH_MAX + 32];
    snprintf(where, sizeof where, "%s:%d", path, lineno);
    Opt  *o    = NULL;
    char *word = Alloc((size_t) len + 1);
    char *c    = line;
    for (;;) {
      while (*c == ' ' || *c == '\t' || *c == '\r' || *c == '\n')
        c++;
      if (!*c || *c == '#') break;
      size_t n      = 0;
      int    quoted = 0;
      while (*c && (quoted || (*c != ' ' && *c != '\t' && *c != '\r' && *c != '\n'))) {
        if (*c == '"')
          quoted = !quoted;
        else if (*c == '#' && !quoted)
          break;
        else
          word[n++] = *c;
        c++;
      }
      word[n] = 0;
      if (quoted) {
        rc = Error("%s: unterminated double quote", where);
        break;
      }
      if (!o) { /* one option a line: its first word; the others are its values */
        if (!IsOptionName(word)) {
          rc = Error("%s: '%s': expected an option, -STAGE_NAME VALUE...", where, word);
          break;
        }
        o = OptsAdd(opts, word + 1, where);
      } else
        OptAddValue(o, word);
      if (*c == '#') break;
    }
    free(word);
  }
  free(line);
  fclose(f);
  return rc;
}

/* The last option KEY of opts, or NULL. */
static const Opt *OptsFind(const Opts *opts, const char *key)
{
  for (int i = opts->n - 1; i >= 0; i--)
    if (!strcmp(opts->o[i].key, key)) return &opts->o[i];
  return NULL;
}

/* ---- the submission: what every job shares --------------------------------------------- */

#define MAX_JOBS 16
#define MAX_DEPS 4

typedef struct {
  const char *name;    /* its stage of -slurm_NAME_*, its script's and log's name */
  const char *what;    /* a few words for the listing */
  int         requeue; /* a simulation or training job: signal, requeue, append */
  int         ranks;   /* default --ntasks */
  int         array;   /* > 0: a job array of this many tasks (0 .. array-1) */
  const char *after[MAX_DEPS];
  Buf         body;
  char        id[64]; /* after submission */
} Job;

typedef struct {
  const char        *experiment, *size, *opts_path, *dir, *gyre, *runs;
  Opts               cmd, exp, def; /* the command line, the experiment's file, the defaults */
  const char *const *stages;        /* the experiment's stage prefixes */
  Job                job[MAX_JOBS];
  int                njob;
  int                made[3];  /* DIR, DIR/slurm, DIR/logs: made by this submission */
  int                nscripts; /* the jobs' scripts it has written */
} Submit;

static const char *sizes[] = {"tiny", "small", "full", NULL};

/* The first of the options KEYS (nkey of them) on the command line, else in the experiment's
 * file, else (when def) in the defaults; NULL when none is set. */
static const Opt *LookupKeys(const Submit *s, char keys[][256], int nkey, int def)
{
  const Opts *layer[3] = {&s->cmd, &s->exp, def ? &s->def : NULL};
  for (int l = 0; l < 3; l++)
    for (int k = 0; layer[l] && k < nkey; k++) {
      const Opt *o = OptsFind(layer[l], keys[k]);
      if (o) return o;
    }
  return NULL;
}

/* -SIZE_PRE_NAME or -PRE_NAME: the command line's, else the experiment file's. */
static const Opt *Lookup(const Submit *s, const char *pre, const char *name)
{
  char keys[2][256];
  snprintf(keys[0], sizeof keys[0], "%s_%s_%s", s->size, pre, name);
  snprintf(keys[1], sizeof keys[1], "%s_%s", pre, name);
  return LookupKeys(s, keys, 2, 0);
}

/* Whether v is a whole number in [lo, hi] (digits only: no sign, no blank) */
static int WholeIn(const char *v, long lo, long hi)
{
  if (!*v || strspn(v, "0123456789") != strlen(v) || strlen(v) > 9) return 0;
  const long x = strtol(v, NULL, 10);
  return x >= lo && x <= hi;
}

/* Whether v is a time limit sbatch accepts: MM, MM:SS, HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS
 * (whole numbers; after the first, minutes and seconds below 60, a day's hours below 24), or
 * UNLIMITED / INFINITE */
static int SlurmTime(const char *v)
{
  if (!strcasecmp(v, "unlimited") || !strcasecmp(v, "infinite")) return 1;
  const char *dash = strchr(v, '-'), *p = v;
  if (dash) {
    if (dash == v || strspn(v, "0123456789") != (size_t) (dash - v)) return 0;
    p = dash + 1;
  }
  int  fields = 0;
  long part[3];
  for (;;) {
    size_t n = strspn(p, "0123456789");
    if (n == 0 || n > 6 || fields == 3) return 0;
    part[fields++] = strtol(p, NULL, 10), p += n;
    if (!*p) break;
    if (*p++ != ':') return 0;
  }
  /* the first field is unbounded (minutes, minutes of MM:SS, hours of HH:MM:SS), except the
   * hours after a day; the ones after it are minutes or seconds of it (25:99:99 is a typo) */
  if (dash && part[0] > 23) return 0;
  for (int i = 1; i < fields; i++)
    if (part[i] > 59) return 0;
  return 1;
}

/* A site parameter's value checked where sbatch or the job script would take it as a number
 * or a time: one error naming the option and where it was set. */
static int SlurmValueCheck(const Opt *o, const char *name, const char *v)
{
  const char *want = NULL;
  if (!strcmp(name, "time") && !SlurmTime(v))
    want = "a time limit (MM, MM:SS, HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS or UNLIMITED; minutes "
           "and seconds after the first field below 60)";
  else if (!strcmp(name, "nodes")) {
    const char *dash = strchr(v, '-'); /* or a range MIN-MAX */
    char        lo[16];
    int         ok = WholeIn(v, 1, 1000000);
    if (!ok && dash && dash > v && (size_t) (dash - v) < sizeof lo) {
      memcpy(lo, v, (size_t) (dash - v));
      lo[dash - v] = 0;
      ok           = WholeIn(lo, 1, 1000000) && WholeIn(dash + 1, strtol(lo, NULL, 10), 1000000);
    }
    if (!ok) want = "a number of nodes of at least 1, or a range MIN-MAX";
  } else if (!strcmp(name, "ntasks") && !WholeIn(v, 1, 100000000))
    want = "a number of tasks of at least 1";
  else if (!strcmp(name, "gpus_per_node") && !WholeIn(v, 0, 1024))
    want = "a number of GPUs from 0 (one rank per GPU: a GPU type goes in -slurm_extra)";
  else if (!strcmp(name, "cpus_per_task") && !WholeIn(v, 1, 100000))
    want = "a number of CPUs of at least 1";
  else if (!strcmp(name, "signal_seconds") && !WholeIn(v, 1, 65535))
    want = "a number of seconds from 1 to 65535 (sbatch --signal's range)";
  if (!want) return 0;
  return Error("%s: -%s '%s': expected %s", o->where, o->key, v, want);
}

/* A site parameter of a job: the first of -SIZE_slurm_JOB_NAME, -slurm_JOB_NAME,
 * -SIZE_slurm_NAME, -slurm_NAME on the command line, else in the experiment's file, else in
 * runs/slurm/defaults.opts; NULL when unset (or set with no value). One word at most; the
 * numbers and the time limit checked (SlurmValueCheck). */
static int SlurmParam(const Submit *s, const char *job, const char *name, const char **v)
{
  char keys[4][256];
  snprintf(keys[0], sizeof keys[0], "%s_slurm_%s_%s", s->size, job, name);
  snprintf(keys[1], sizeof keys[1], "slurm_%s_%s", job, name);
  snprintf(keys[2], sizeof keys[2], "%s_slurm_%s", s->size, name);
  snprintf(keys[3], sizeof keys[3], "slurm_%s", name);
  const Opt *o = LookupKeys(s, keys, 4, 1);
  *v           = NULL;
  if (!o || o->nval == 0) return 0;
  if (o->nval > 1)
    return Error("%s: -%s: expected one value, got %d (quote a value with blanks: \"...\")",
                 o->where, o->key, o->nval);
  *v = o->val[0];
  return SlurmValueCheck(o, name, *v);
}

/* An experiment value -SIZE_exp_NAME or -exp_NAME, required, as a number. */
static int ExpNumber(const Submit *s, const char *stage, const char *name, double *x)
{
  const Opt *o = Lookup(s, stage, name);
  if (!o || o->nval != 1)
    return Error("%s: no -%s_%s (nor -%s_%s_%s) with one value", s->opts_path, stage, name, s->size,
                 stage, name);
  char *end;
  errno = 0;
  *x    = strtod(o->val[0], &end);
  if (errno || end == o->val[0] || *end)
    return Error("%s: -%s '%s': expected a number", o->where, o->key, o->val[0]);
  return 0;
}

/* The same, an integer in [lo, hi]; dflt when absent and dflt_ok. */
static int ExpInt(const Submit *s, const char *stage, const char *name, long lo, long hi,
                  int dflt_ok, long dflt, long *n)
{
  const Opt *o = Lookup(s, stage, name);
  if (!o && dflt_ok) {
    *n = dflt;
    return 0;
  }
  if (!o || o->nval != 1)
    return Error("%s: no -%s_%s (nor -%s_%s_%s) with one value", s->opts_path, stage, name, s->size,
                 stage, name);
  char *end;
  errno = 0;
  *n    = strtol(o->val[0], &end, 10);
  if (errno || end == o->val[0] || *end || *n < lo || *n > hi)
    return Error("%s: -%s '%s': expected an integer in [%ld, %ld]", o->where, o->key, o->val[0], lo,
                 hi);
  return 0;
}

/* Appends a stage's options (its prefix stripped), quoted: the file's -STAGE_X not overridden
 * by a -SIZE_STAGE_X, then the -SIZE_STAGE_X, then the command line's (which PETSc takes last,
 * so they win). As runs/common.sh's stage_opts. */
static void StageWordsExcept(const Submit *s, Buf *b, const char *stage, const char *const *skip)
{
  char   p[128], q[128], own[256];
  size_t np = (size_t) snprintf(p, sizeof p, "%s_", stage);
  size_t nq = (size_t) snprintf(q, sizeof q, "%s_%s_", s->size, stage);
  for (int pass = 0; pass < 3; pass++) {
    const Opts *layer = pass < 2 ? &s->exp : &s->cmd;
    for (int i = 0; i < layer->n; i++) {
      const Opt *o   = &layer->o[i];
      size_t     off = 0;
      if (!strncmp(o->key, q, nq) && pass != 0)
        off = nq;
      else if (!strncmp(o->key, p, np) && pass != 1)
        off = np;
      if (!off) continue;
      if (pass == 0) { /* the stage's own, unless the size overrides it */
        snprintf(own, sizeof own, "%s%s", q, o->key + np);
        if (OptsFind(&s->exp, own)) continue;
      }
      int skipped = 0;
      for (int k = 0; skip && skip[k]; k++)
        skipped |= !strcmp(o->key + off, skip[k]);
      if (skipped) continue;
      snprintf(own, sizeof own, "-%s", o->key + off);
      BufWord(b, own);
      for (int v = 0; v < o->nval; v++)
        BufWord(b, o->val[v]);
    }
  }
}

/* All of a stage's options. */
static void StageWords(const Submit *s, Buf *b, const char *stage)
{
  StageWordsExcept(s, b, stage, NULL);
}

/* An option's name after its size prefix (tiny_, small_, full_), if it has one. */
static const char *WithoutSize(const char *key)
{
  for (int z = 0; sizes[z]; z++) {
    size_t n = strlen(sizes[z]);
    if (!strncmp(key, sizes[z], n) && key[n] == '_') return key + n + 1;
  }
  return key;
}

/* The first option of the experiment's file or the command line whose name (after its size
 * prefix) the test rejects, or NULL; defaults.opts is ours and not checked. */
static const Opt *FirstRejected(const Submit *s, int (*ok)(const Submit *, const char *key))
{
  const Opts *layer[2] = {&s->exp, &s->cmd};
  for (int l = 0; l < 2; l++)
    for (int i = 0; i < layer[l]->n; i++)
      if (!ok(s, WithoutSize(layer[l]->o[i].key))) return &layer[l]->o[i];
  return NULL;
}

/* The length of key's stage (what comes before its first '_'). */
static size_t StageLength(const char *key)
{
  const char *us = strchr(key, '_');
  return us ? (size_t) (us - key) : strlen(key);
}

static int KnownStage(const Submit *s, const char *key)
{
  size_t n = StageLength(key);
  if (!key[n]) return 0; /* no '_': no stage */
  if (n == 5 && !strncmp(key, "slurm", 5)) return 1;
  for (int k = 0; s->stages[k]; k++)
    if (strlen(s->stages[k]) == n && !strncmp(key, s->stages[k], n)) return 1;
  return 0;
}

/* Every option of the file and the command line belongs to one of the experiment's stages
 * (after an optional size prefix), or to slurm_. */
static int CheckStages(const Submit *s)
{
  const Opt *o = FirstRejected(s, KnownStage);
  if (!o) return 0;
  const char *key   = WithoutSize(o->key);
  Buf         known = {0};
  for (int k = 0; s->stages[k]; k++)
    BufAdd(&known, "%s_ ", s->stages[k]);
  Error("%s: -%s: unknown stage '%.*s' of experiment %s (stages: %sslurm_; a size prefix "
        "tiny_, small_ or full_ may come first)",
        o->where, o->key, (int) StageLength(key), key, s->experiment, BufStr(&known));
  free(known.s);
  return 1;
}

/* The site parameters (-slurm_NAME, -slurm_JOB_NAME; runs/slurm/defaults.opts). */
static const char *slurm_params[] = {
    "account",       "partition",     "qos",           "time",           "nodes",
    "ntasks",        "gpus_per_node", "cpus_per_task", "env_file",       "launcher",
    "launcher_args", "python",        "extra",         "signal_seconds", NULL};

/* A -slurm_ key names a site parameter, for all jobs or for one of this pipeline's jobs (the
 * longest job name that fits); any other key passes. */
static int KnownSlurmName(const Submit *s, const char *key)
{
  if (strncmp(key, "slurm_", 6)) return 1;
  const char *rest = key + 6, *name = rest;
  size_t      best = 0;
  for (int j = 0; j < s->njob; j++) { /* -slurm_JOB_NAME */
    size_t n = strlen(s->job[j].name);
    if (n > best && !strncmp(rest, s->job[j].name, n) && rest[n] == '_')
      name = rest + n + 1, best = n;
  }
  for (int k = 0; slurm_params[k]; k++)
    if (!strcmp(name, slurm_params[k])) return 1;
  return 0;
}

/* Every -slurm_ option names a site parameter: a misspelt one would otherwise be ignored in
 * silence. (defaults.opts, shared by the experiments, may name another experiment's jobs.) */
static int CheckSlurmNames(const Submit *s)
{
  const Opt *o = FirstRejected(s, KnownSlurmName);
  if (!o) return 0;
  Buf known = {0}, jobs = {0};
  for (int k = 0; slurm_params[k]; k++)
    BufAdd(&known, "%s%s", k ? ", " : "", slurm_params[k]);
  for (int j = 0; j < s->njob; j++)
    BufAdd(&jobs, "%s%s", j ? ", " : "", s->job[j].name);
  Error("%s: -%s: not a site parameter (-slurm_NAME or -slurm_JOB_NAME with NAME one of %s; "
        "JOB one of %s)",
        o->where, o->key, BufStr(&known), BufStr(&jobs));
  free(known.s), free(jobs.s);
  return 1;
}

static Job *AddJob(Submit *s, const char *name, const char *what, int requeue, int ranks)
{
  Job *j = &s->job[s->njob++];
  memset(j, 0, sizeof *j);
  j->name    = name;
  j->what    = what;
  j->requeue = requeue;
  j->ranks   = ranks;
  return j;
}

/* An ensemble as a job array of nmembers tasks, one member each: the script's start sets m
 * (the task's index, 3 digits) and seed (seed0 + index: the seed member m of an -ensemble_size
 * run gets); its commands give -ensemble_size 1 -seed "$seed" (ENSEMBLE_ARGS) and skip the
 * stage's own (ensemble_own), and write one file per member, NAME_m$m.nc. */
static const char *const ensemble_own[] = {"seed", "ensemble_size", NULL};
#define ENSEMBLE_ARGS " -ensemble_size 1 -seed \"$seed\""

static Job *EnsembleJob(Submit *s, const char *name, const char *what, long ranks, long nmembers,
                        long seed0)
{
  Job *j   = AddJob(s, name, what, 1, (int) ranks);
  j->array = (int) nmembers;
  BufAdd(&j->body,
         "member=$SLURM_ARRAY_TASK_ID\n"
         "m=$(printf %%03d \"$member\")\n"
         "seed=$((%ld + member))\n"
         "echo \"%s member $member of %ld (seed $seed)\"\n",
         seed0, name, nmembers);
  return j;
}

/* Appends the path of a file of runs/ as one quoted word. */
static void RunsFile(const Submit *s, Buf *b, const char *file)
{
  Buf path = {0};
  BufAdd(&path, "%s/%s", s->runs, file);
  BufWord(b, path.s);
  free(path.s);
}

/* ---- the l96-closure experiment ----------------------------------------------------------
 * runs/l96-closure.sh's stages as jobs (that script's comments say what each computes):
 *
 *   truth   (array, one two-scale member a task: spin-up, then run; truth_mNNN.nc)
 *   heldout (the held-out two-scale ensemble: spin-up, then run; heldout.nc)
 *   train   after truth:          gyre train on truth_m*.nc -> closure.nc
 *   hybrid  after train, heldout: one-scale forecasts with the MLP closure (fc_mlp.nc), then
 *                                 the cost timing (cost.txt)
 *   twin    after truth, heldout: the physics twin: the cubic polynomial fitted to the truth
 *                                 members, forecasts with no closure and with it
 *   compare after hybrid, twin:   gyre compare, each closure against the held-out truth
 *   report  after compare:        gyre report (report/index.html, PNGs) and the goals */

static const char *const l96_stages[] = {"exp", "twoscale", "truth", "heldout",
                                         "fit", "forecast", "score", NULL};

/* " simulate" through gyre_requeueable with the launcher: the start of a requeueable line. */
static void Requeueable(Buf *b, const char *sub)
{
  BufAdd(b, "gyre_requeueable \"${launch[@]}\" \"$GYRE\" %s", sub);
}

/* Appends -NAME VALUE with a number VALUE. */
static void NumArg(Buf *b, const char *name, double x)
{
  BufAdd(b, " %s %.10g", name, x);
}

/* The training job: gyre train on every member file of the ensemble job AFTER (AFTER_m*.nc is
 * its file pattern when AFTER is truth; ens_m*.nc for data) with the stage fit's options, the
 * model in MODEL.nc, resumed after a requeue, then validated by gyre info (MODEL.info). */
static void TrainJob(Submit *s, const char *what, long ranks, const char *after, const char *model)
{
  Job *j      = AddJob(s, "train", what, 1, (int) ranks);
  j->after[0] = after;
  Requeueable(&j->body, "train -train_data");
  BufAdd(&j->body, " '%s_m*.nc'", strcmp(after, "data") ? after : "ens");
  StageWords(s, &j->body, "fit");
  BufAdd(&j->body,
         " -train_out %s.nc -train_resume auto\n"
         "\"$GYRE\" info %s.nc > %s.info # validates the model file\n"
         "grep -i loss %s.info | head -n 3 || true\n",
         model, model, model, model);
}

/* A two-scale run of stage STAGE (its options but SKIP, then the extra options EXTRA, shell text)
 * spun up from its random state to t = spinup (spinup_NAME.nc: the first and the spun-up record),
 * then run from there to end (NAME.nc); NAME is a fragment of shell text inside double quotes.
 * Checkpoints ckpt_*.nc (outside the pattern NAME*.nc that gyre train reads). As
 * runs/l96-closure.sh's two_scale_run. */
static void TwoScaleRun(const Submit *s, Buf *b, const char *stage, const char *const *skip,
                        const char *extra, const char *name, double spinup, double end)
{
  for (int run = 0; run < 2; run++) {
    Requeueable(b, "simulate");
    StageWords(s, b, "twoscale");
    StageWordsExcept(s, b, stage, skip);
    BufAdd(b, "%s", extra);
    NumArg(b, "-ts_max_time", run ? end : spinup);
    if (run) {
      BufAdd(b, " -initial_file \"spinup_%s.nc\"", name);
      NumArg(b, "-initial_time", spinup);
    } else
      NumArg(b, "-output_every", spinup);
    BufAdd(b,
           " -output \"%s%s.nc\" -output_overwrite -checkpoint \"ckpt_%s%s.nc\" -restart "
           "auto\n",
           run ? "" : "spinup_", name, run ? "" : "spinup_", name);
  }
}

static int L96Closure(Submit *s)
{
  double spinup, truth_len, heldout_len;
  long   np_sim, np_train, repeats, nmembers, seed0, fc_members;
  if (ExpNumber(s, "exp", "spinup", &spinup) || ExpNumber(s, "exp", "truth_length", &truth_len) ||
      ExpNumber(s, "exp", "heldout_length", &heldout_len) ||
      ExpInt(s, "exp", "sim_ranks", 1, 100000, 0, 0, &np_sim) ||
      ExpInt(s, "exp", "train_ranks", 1, 100000, 0, 0, &np_train) ||
      ExpInt(s, "exp", "cost_repeats", 0, 1000, 1, 3, &repeats) ||
      ExpInt(s, "truth", "ensemble_size", 1, 10000, 1, 1, &nmembers) ||
      ExpInt(s, "truth", "seed", 0, 1000000000, 1, 0, &seed0) ||
      ExpInt(s, "heldout", "ensemble_size", 1, 100000, 1, 1, &fc_members))
    return 1;
  if (spinup <= 0 || truth_len <= 0 || heldout_len <= 0)
    return Error("%s: -exp_spinup, -exp_truth_length, -exp_heldout_length must be > 0 (size %s)",
                 s->opts_path, s->size);
  double truth_end = spinup + truth_len, heldout_end = spinup + heldout_len;
  double cost_end = spinup + 1;
  Job   *j;
  Buf   *b;

  /* the training truth: one member a task (its seed: what -ensemble_size gives member m) */
  j = EnsembleJob(s, "truth", "two-scale truth, one member a task", np_sim, nmembers, seed0);
  b = &j->body;
  BufAdd(b, "echo \"spin-up to t = %.10g, then to t = %.10g\"\n", spinup, truth_end);
  TwoScaleRun(s, b, "truth", ensemble_own, ENSEMBLE_ARGS, "truth_m$m", spinup, truth_end);

  /* the held-out truth: the forecasts' initial states and reference */
  j = AddJob(s, "heldout", "held-out two-scale truth", 1, (int) np_sim);
  b = &j->body;
  BufAdd(b, "echo \"held-out truth: spin-up to t = %.10g, then to t = %.10g\"\n", spinup,
         heldout_end);
  TwoScaleRun(s, b, "heldout", NULL, "", "heldout", spinup, heldout_end);

  /* the MLP closure, on every truth member's file */
  TrainJob(s, "gyre train: the MLP closure", np_train, "truth", "closure");

  /* the one-scale forecasts from the held-out states: the common options */
  Buf fc = {0};
  StageWords(s, &fc, "forecast");
  BufAdd(&fc, " -initial_file heldout.nc");
  NumArg(&fc, "-initial_time", spinup);
  NumArg(&fc, "-ts_max_time", heldout_end);
  BufAdd(&fc, " -ensemble_size %ld", fc_members);

  /* the hybrid run: the MLP closure (guarded); then the cost, truth and MLP back to back */
  j           = AddJob(s, "hybrid", "forecasts with the MLP closure, cost", 1, (int) np_sim);
  j->after[0] = "train";
  j->after[1] = "heldout";
  b           = &j->body;
  BufAdd(b, "echo \"MLP closure (guarded): %ld forecasts to t = %.10g\"\n", fc_members,
         heldout_end);
  Requeueable(b, "simulate");
  BufAdd(b,
         "%s -surrogate closure.nc -surrogate_mode closure -output fc_mlp.nc"
         " -output_overwrite -checkpoint ckpt_fc_mlp.nc -restart auto\n",
         BufStr(&fc));
  BufAdd(b,
         "wall() { \"$GYRE\" info \"$1\" | awk '$1 == \"stepping_wall_seconds\" { print $3 }'; }\n"
         ": > cost.txt\n"
         "for ((i = 0; i < %ld; i++)); do\n  ",
         repeats);
  Requeueable(b, "simulate");
  StageWords(s, b, "twoscale");
  StageWords(s, b, "heldout");
  NumArg(b, "-ts_max_time", cost_end);
  BufAdd(b, " -initial_file spinup_heldout.nc");
  NumArg(b, "-initial_time", spinup);
  BufAdd(b, " -output cost_truth.nc -output_overwrite\n  ");
  Requeueable(b, "simulate");
  StageWords(s, b, "forecast");
  BufAdd(b, " -initial_file heldout.nc");
  NumArg(b, "-initial_time", spinup);
  NumArg(b, "-ts_max_time", cost_end);
  BufAdd(b,
         " -ensemble_size %ld -surrogate closure.nc -surrogate_mode closure"
         " -output cost_mlp.nc -output_overwrite > /dev/null\n"
         "  echo \"truth $(wall cost_truth.nc) mlp $(wall cost_mlp.nc)\" | tee -a cost.txt\n"
         "done\n",
         fc_members);

  /* the physics twin: no closure, and the cubic polynomial fitted to the truth members */
  j           = AddJob(s, "twin", "forecasts with no closure and the polynomial", 1, (int) np_sim);
  j->after[0] = "truth";
  j->after[1] = "heldout";
  b           = &j->body;
  BufAdd(b, "coeffs=$(\"$GYRE_PYTHON\"");
  RunsFile(s, b, "l96_polyfit.py");
  BufAdd(b, " 'truth_m*.nc' 3)\n"
            "echo \"cubic polynomial closure: coupling ~ sum a_i X^i, a = $coeffs\"\n"
            "echo \"$coeffs\" > poly_coeffs.txt\n");
  BufAdd(b, "echo \"no closure\"\n");
  Requeueable(b, "simulate");
  BufAdd(b, "%s -output fc_none.nc -output_overwrite -checkpoint ckpt_fc_none.nc -restart auto\n",
         BufStr(&fc));
  BufAdd(b, "echo \"cubic polynomial closure\"\n");
  Requeueable(b, "simulate");
  BufAdd(b,
         "%s -closure polynomial -closure_coeffs \"$coeffs\" -output fc_poly.nc"
         " -output_overwrite -checkpoint ckpt_fc_poly.nc -restart auto\n",
         BufStr(&fc));
  free(fc.s);

  /* the scores */
  j           = AddJob(s, "compare", "gyre compare, no closure the baseline", 0, (int) np_train);
  j->after[0] = "hybrid";
  j->after[1] = "twin";
  b           = &j->body;
  BufAdd(b, "for c in mlp poly; do\n"
            "  \"${launch[@]}\" \"$GYRE\" compare heldout.nc \"fc_$c.nc\" -baseline fc_none.nc");
  StageWords(s, b, "score");
  BufAdd(b, " -output \"metrics_$c.nc\" -output_overwrite > \"compare_$c.txt\"\n"
            "done\n"
            "cat compare_mlp.txt\n");

  /* the report and the goals */
  j           = AddJob(s, "report", "gyre report and the goals", 0, 1);
  j->after[0] = "compare";
  b           = &j->body;
  Buf about = {0}, words = {0};
  BufAdd(&about, "Size '%s', on Slurm (gyre submit): training truth", s->size);
  StageWords(s, &words, "truth");
  BufAdd(&about,
         "%s from t = %.10g to %.10g, %ld members, one a job array task; %ld one-scale "
         "forecasts per closure from a held-out two-scale ensemble (",
         BufStr(&words), spinup, truth_end, nmembers, fc_members);
  words.len = 0;
  StageWords(s, &words, "heldout");
  BufAdd(&about, "%s), t = %.10g to %.10g; MLP trained with", BufStr(&words) + 1, spinup,
         heldout_end);
  words.len = 0;
  StageWords(s, &words, "fit");
  BufAdd(&about, "%s; cubic polynomial a = ", BufStr(&words));
  free(words.s);
  BufAdd(b, "rm -rf report\n"
            "\"$GYRE\" report metrics_mlp.nc -output report\n"
            "\"$GYRE\" report metrics_poly.nc -output report/polynomial\n"
            "about=");
  BufQuote(b, BufStr(&about));
  BufAdd(b, "\"$(cat poly_coeffs.txt). The polynomial's own report is in polynomial/.\"\n"
            "\"$GYRE_PYTHON\"");
  free(about.s);
  RunsFile(s, b, "l96_goals.py");
  BufAdd(b, " metrics_mlp.nc metrics_poly.nc cost.txt report/report.md \"$about\"\n"
            "echo \"report: $PWD/report/index.html (report.md, PNGs)\"\n");
  return 0;
}

/* ---- the ns2d-fno experiment ------------------------------------------------------------
 * runs/ns2d-fno.sh's stages as jobs:
 *
 *   data    (array, one ns2d member a task: ens_mNNN.nc)
 *   heldout (the held-out members, physics: physics.nc; the physics twin)
 *   train   after data:             gyre train, the FNO emulator on ens_m*.nc -> fno.nc
 *   hybrid  after train:            the held-out members, the emulator's rollouts (emulator.nc)
 *   compare after hybrid, heldout:  gyre compare, the rollouts against the physics
 *   report  after compare:          gyre report and the experiment's summary */

static const char *const ns2d_stages[] = {"exp", "flow",    "data",  "heldout",
                                          "fit", "rollout", "score", NULL};

static int NS2dFno(Submit *s)
{
  long np, nmembers, seed0, history;
  if (ExpInt(s, "exp", "ranks", 1, 100000, 0, 0, &np) ||
      ExpInt(s, "data", "ensemble_size", 1, 10000, 1, 1, &nmembers) ||
      ExpInt(s, "data", "seed", 0, 1000000000, 1, 0, &seed0) ||
      ExpInt(s, "fit", "train_history", 1, 10000, 0, 0, &history))
    return 1;
  Job *j = EnsembleJob(s, "data", "the training ensemble, one member a task", np, nmembers, seed0);
  Buf *b = &j->body;
  Requeueable(b, "simulate");
  StageWords(s, b, "flow");
  StageWordsExcept(s, b, "data", ensemble_own);
  BufAdd(b, ENSEMBLE_ARGS " -output \"ens_m$m.nc\" -output_overwrite"
                          " -checkpoint \"ckpt_ens_m$m.nc\" -restart auto\n");

  j = AddJob(s, "heldout", "the held-out members, physics", 1, (int) np);
  b = &j->body;
  Requeueable(b, "simulate");
  StageWords(s, b, "flow");
  StageWords(s, b, "heldout");
  BufAdd(b, " -output physics.nc -output_overwrite -checkpoint ckpt_physics.nc -restart auto\n");

  TrainJob(s, "gyre train: the FNO emulator", np, "data", "fno");

  /* no checkpoint: an emulator resumed from one refills its history with physics advances, so
   * a resumed rollout would differ from an uninterrupted one; a requeued rollout starts over */
  j           = AddJob(s, "hybrid", "the emulator's rollouts of the held-out members", 1, (int) np);
  j->after[0] = "train";
  b           = &j->body;
  Requeueable(b, "simulate");
  StageWords(s, b, "flow");
  StageWords(s, b, "heldout");
  BufAdd(b, " -surrogate fno.nc");
  StageWords(s, b, "rollout");
  BufAdd(b, " -output emulator.nc -output_overwrite -log_view > emulator.log\n"
            "awk '/^\\*\\*\\*\\*/ { exit } { print }' emulator.log # without -log_view's tables\n");

  j           = AddJob(s, "compare", "gyre compare, the rollouts against the physics", 0, (int) np);
  j->after[0] = "hybrid";
  j->after[1] = "heldout";
  b           = &j->body;
  BufAdd(b, "\"${launch[@]}\" \"$GYRE\" compare physics.nc emulator.nc");
  StageWords(s, b, "score");
  BufAdd(b, " -output metrics.nc -output_overwrite | tee compare.txt\n");

  j           = AddJob(s, "report", "gyre report and the summary", 0, 1);
  j->after[0] = "compare";
  b           = &j->body;
  Buf about = {0}, words = {0};
  StageWords(s, &words, "flow");
  BufAdd(&about, "Size '%s', on Slurm (gyre submit):%s; training ensemble", s->size,
         BufStr(&words));
  words.len = 0;
  StageWords(s, &words, "data");
  BufAdd(&about, "%s, %ld members, one a job array task; held-out members", BufStr(&words),
         nmembers);
  words.len = 0;
  StageWords(s, &words, "heldout");
  BufAdd(&about, "%s; FNO trained with", BufStr(&words));
  words.len = 0;
  StageWords(s, &words, "fit");
  BufAdd(&about, "%s; %ld MPI ranks.", BufStr(&words), np);
  free(words.s);
  BufAdd(b, "rm -rf report\n"
            "\"$GYRE\" report metrics.nc -output report\n"
            "\"$GYRE_PYTHON\"");
  RunsFile(s, b, "ns2d_summary.py");
  BufAdd(b, " metrics.nc physics.nc emulator.nc emulator.log %ld report/report.md", history);
  BufWord(b, BufStr(&about));
  free(about.s);
  BufAdd(b, "\necho \"report: $PWD/report/index.html (report.md, PNGs)\"\n");
  return 0;
}

typedef struct {
  const char        *name;
  const char *const *stages;
  int (*build)(Submit *);
} Experiment;

static const Experiment experiments[] = {
    {"l96-closure", l96_stages, L96Closure},
    {"ns2d-fno", ns2d_stages, NS2dFno},
    {NULL, NULL, NULL},
};

/* ---- running sbatch, scontrol ------------------------------------------------------------ */

/* Whether PROG is an executable on PATH (or a path to one). */
static int OnPath(const char *prog)
{
  if (strchr(prog, '/')) return access(prog, X_OK) == 0;
  const char *path = getenv("PATH");
  if (!path) return 0;
  char *p = Dup(path), *save = NULL;
  int   found = 0;
  for (char *d = strtok_r(p, ":", &save); d && !found; d = strtok_r(NULL, ":", &save)) {
    char f[PATH_MAX];
    snprintf(f, sizeof f, "%s/%s", *d ? d : ".", prog);
    found = access(f, X_OK) == 0;
  }
  free(p);
  return found;
}

/* Runs argv (execvp, no shell), its stdout in out and stderr in err; *status its exit status
 * (or 128 + signal). Returns 0, or 1 when it could not start (message printed). */
static int Capture(char *const argv[], Buf *out, Buf *err, int *status)
{
  int po[2], pe[2];
  if (pipe(po) || pipe(pe)) return Error("pipe: %s", strerror(errno));
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0) return Error("cannot start '%s': %s", argv[0], strerror(errno));
  if (pid == 0) {
    dup2(po[1], 1);
    dup2(pe[1], 2);
    close(po[0]);
    close(po[1]);
    close(pe[0]);
    close(pe[1]);
    execvp(argv[0], argv);
    fprintf(stderr, "cannot run '%s': %s\n", argv[0], strerror(errno));
    _exit(127);
  }
  close(po[1]);
  close(pe[1]);
  int  fds[2]  = {po[0], pe[0]};
  Buf *bufs[2] = {out, err};
  for (int k = 0; k < 2; k++) {
    char    chunk[4096];
    ssize_t n;
    while ((n = read(fds[k], chunk, sizeof chunk)) > 0 || (n < 0 && errno == EINTR))
      if (n > 0) BufAdd(bufs[k], "%.*s", (int) n, chunk);
    close(fds[k]);
  }
  int ws = 0;
  while (waitpid(pid, &ws, 0) < 0 && errno == EINTR) {}
  *status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + (WIFSIGNALED(ws) ? WTERMSIG(ws) : 0);
  return 0;
}

/* The first line of s, without its newline, at most n characters, in line. */
static void FirstLine(const char *s, char *line, size_t n)
{
  snprintf(line, n, "%s", s);
  line[strcspn(line, "\n")] = 0;
}

/* The jobs' python (the report job's -slurm_python) must import numpy and netCDF4: tried here,
 * a warning (not an error: the jobs' environment, -slurm_env_file, may differ from this
 * shell's) when it cannot. */
static void CheckPython(const Submit *s)
{
  const char *py = NULL;
  if (SlurmParam(s, "report", "python", &py)) return;
  if (!py) py = "python3";
  char *argv[] = {(char *) py, "-c", "import numpy, netCDF4", NULL};
  Buf   out = {0}, err = {0};
  int   st = 0;
  if (!OnPath(py))
    fprintf(stderr,
            "gyre submit: warning: -slurm_python '%s' is not found here: the jobs that run "
            "python (the polynomial fit, the goals, the summary) need one with numpy and netCDF4 "
            "(e.g. -slurm_python /usr/bin/python3)\n",
            py);
  else if (Capture(argv, &out, &err, &st) || st != 0) {
    char        line[256] = "";
    const char *e = BufStr(&err), *last = e;
    for (const char *c = e; *c; c++) /* the traceback's last line */
      if (c[0] == '\n' && c[1]) last = c + 1;
    FirstLine(last, line, sizeof line);
    fprintf(stderr,
            "gyre submit: warning: -slurm_python '%s' cannot import numpy and netCDF4 here (%s): "
            "the jobs that run python (the polynomial fit, the goals, the summary) fail unless "
            "their environment provides them; give one that can (e.g. -slurm_python "
            "/usr/bin/python3)\n",
            py, line[0] ? line : "no message");
  }
  free(out.s), free(err.s);
}

/* ---- the argument vector of a job's sbatch -------------------------------------------- */

typedef struct {
  char *v[64];
  int   n;
} Argv;

static void ArgvAdd(Argv *a, const char *fmt, ...)
{
  va_list ap;
  Buf     w = {0};
  va_start(ap, fmt);
  BufAddV(&w, fmt, ap);
  va_end(ap);
  if (a->n < 62) a->v[a->n++] = w.s; /* at most about 30: the arguments JobArgv writes */
  a->v[a->n] = NULL;
}

static void ArgvFree(Argv *a)
{
  for (int i = 0; i < a->n; i++)
    free(a->v[i]);
  a->n = 0;
}

static const Job *FindJob(const Submit *s, const char *name)
{
  for (int i = 0; i < s->njob; i++)
    if (!strcmp(s->job[i].name, name)) return &s->job[i];
  return NULL;
}

/* sbatch's arguments for job j (its dependencies' ids, or <name> placeholders in a dry run). */
static int JobArgv(const Submit *s, const Job *j, const char *script, Argv *a)
{
  const char *acct, *part, *qos, *time, *nodes, *ntasks, *gpus, *cpus, *extra, *sig;
  if (SlurmParam(s, j->name, "account", &acct) || SlurmParam(s, j->name, "partition", &part) ||
      SlurmParam(s, j->name, "qos", &qos) || SlurmParam(s, j->name, "time", &time) ||
      SlurmParam(s, j->name, "nodes", &nodes) || SlurmParam(s, j->name, "ntasks", &ntasks) ||
      SlurmParam(s, j->name, "gpus_per_node", &gpus) ||
      SlurmParam(s, j->name, "cpus_per_task", &cpus) || SlurmParam(s, j->name, "extra", &extra) ||
      SlurmParam(s, j->name, "signal_seconds", &sig))
    return 1;
  ArgvAdd(a, "sbatch");
  ArgvAdd(a, "--parsable");
  ArgvAdd(a, "--job-name=%s.%s", s->experiment, j->name);
  ArgvAdd(a, "--chdir=%s", s->dir);
  ArgvAdd(a, j->array ? "--output=%s/logs/%s-%%A_%%a.out" : "--output=%s/logs/%s-%%j.out", s->dir,
          j->name);
  if (acct) ArgvAdd(a, "--account=%s", acct);
  if (part) ArgvAdd(a, "--partition=%s", part);
  if (qos) ArgvAdd(a, "--qos=%s", qos);
  if (time) ArgvAdd(a, "--time=%s", time);
  if (nodes) ArgvAdd(a, "--nodes=%s", nodes);
  if (gpus && strcmp(gpus, "0")) {
    ArgvAdd(a, "--gpus-per-node=%s", gpus); /* one rank per GPU */
    ArgvAdd(a, "--ntasks-per-node=%s", gpus);
  } else if (ntasks)
    ArgvAdd(a, "--ntasks=%s", ntasks);
  else
    ArgvAdd(a, "--ntasks=%d", j->ranks);
  if (cpus) ArgvAdd(a, "--cpus-per-task=%s", cpus);
  if (j->requeue) {
    ArgvAdd(a, "--signal=B:USR1@%s", sig ? sig : "120");
    ArgvAdd(a, "--requeue");
    ArgvAdd(a, "--open-mode=append");
  }
  if (j->array) ArgvAdd(a, "--array=0-%d", j->array - 1);
  if (j->after[0]) {
    Buf dep = {0};
    BufAdd(&dep, "--dependency=afterok");
    for (int k = 0; k < MAX_DEPS && j->after[k]; k++) {
      const Job *d = FindJob(s, j->after[k]);
      if (d && d->id[0])
        BufAdd(&dep, ":%s", d->id);
      else
        BufAdd(&dep, ":<%s>", j->after[k]);
    }
    ArgvAdd(a, "%s", dep.s);
    free(dep.s);
    ArgvAdd(a, "--kill-on-invalid-dep=yes");
  }
  if (extra) ArgvAdd(a, "%s", extra);
  ArgvAdd(a, "%s", script);
  return 0;
}

/* The whole script of job j. */
static int JobScript(const Submit *s, const Job *j, Buf *b)
{
  const char *env, *launcher, *largs, *python;
  if (SlurmParam(s, j->name, "env_file", &env) || SlurmParam(s, j->name, "launcher", &launcher) ||
      SlurmParam(s, j->name, "launcher_args", &largs) || SlurmParam(s, j->name, "python", &python))
    return 1;
  if (launcher && strcmp(launcher, "mpiexec") && strcmp(launcher, "srun") &&
      strcmp(launcher, "none"))
    return Error("-slurm_launcher '%s': expected mpiexec, srun or none", launcher);
  if (launcher && !strcmp(launcher, "none") && largs && largs[0])
    return Error("-slurm_launcher_args '%s' with -slurm_launcher none (job %s): no launcher to "
                 "give them to",
                 largs, j->name);
  char   when[32];
  time_t now = time(NULL);
  strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
  BufAdd(b, "#!/bin/bash\n# %s (size %s), job '%s': %s.\n", s->experiment, s->size, j->name,
         j->what);
  BufAdd(b, "# Written by gyre submit from %s, %s; every value from the options is quoted.\n",
         s->opts_path, when);
  BufAdd(b, "export GYRE=");
  BufQuote(b, s->gyre);
  BufAdd(b, "\nexport GYRE_LAUNCHER=");
  BufQuote(b, launcher ? launcher : "mpiexec");
  BufAdd(b, "\nexport GYRE_LAUNCHER_ARGS=");
  BufQuote(b, largs ? largs : "");
  BufAdd(b, "\nexport GYRE_PYTHON=");
  BufQuote(b, python ? python : "python3");
  BufAdd(b, "\nexport GYRE_SITE_ENV=");
  BufQuote(b, env ? env : "");
  BufAdd(b, "\nsource");
  Buf jobsh = {0};
  BufAdd(&jobsh, "%s/slurm/job.sh", s->runs);
  BufWord(b, jobsh.s);
  free(jobsh.s);
  BufAdd(b, "\ncd");
  BufWord(b, s->dir);
  BufAdd(b, "\n%s", BufStr(&j->body));
  return 0;
}

/* ---- gyre submit -status ---------------------------------------------------------------- */

/* The value of FIELD= in a `scontrol show job -o` line, in v (empty when absent). */
static void Field(const char *line, const char *field, char *v, size_t n)
{
  size_t      fl = strlen(field);
  const char *p  = line;
  v[0]           = 0;
  while ((p = strstr(p, field))) {
    if ((p == line || p[-1] == ' ') && p[fl] == '=') {
      p += fl + 1;
      size_t k = strcspn(p, " \n");
      snprintf(v, n, "%.*s", (int) (k < n ? k : n - 1), p);
      return;
    }
    p += fl;
  }
}

static int Failed(const char *state)
{
  static const char *bad[] = {"FAILED",    "TIMEOUT",  "NODE_FAIL", "OUT_OF_MEMORY",
                              "BOOT_FAIL", "DEADLINE", NULL};
  for (int i = 0; bad[i]; i++)
    if (!strcmp(state, bad[i])) return 1;
  return 0;
}

static int Status(const char *arg)
{
  char        path[PATH_MAX];
  struct stat st;
  if (stat(arg, &st) == 0 && S_ISDIR(st.st_mode))
    snprintf(path, sizeof path, "%s/jobs.txt", arg);
  else
    snprintf(path, sizeof path, "%s", arg);
  char pdir[PATH_MAX], cwd[PATH_MAX / 2]; /* the pipeline's directory, absolute */
  if (path[0] == '/' || !getcwd(cwd, sizeof cwd))
    snprintf(pdir, sizeof pdir, "%s", path);
  else
    snprintf(pdir, sizeof pdir, "%s/%.*s", cwd, (int) (sizeof pdir / 2 - 2), path);
  *strrchr(pdir, '/') = 0;
  FILE *f             = fopen(path, "r");
  if (!f)
    return Error("cannot read '%s': %s (give a pipeline's directory or its jobs.txt)", path,
                 strerror(errno));
  char line[1024];
  int  njobs = 0;
  for (int no = 1; fgets(line, sizeof line, f); no++) { /* what gyre submit wrote: JOB ID lines */
    char name[128], id[64], extra[8];
    line[strcspn(line, "\n")] = 0;
    if (line[0] == '#' || !line[strspn(line, " \t")]) continue;
    int ok = sscanf(line, "%127s %63s %7s", name, id, extra) == 2 &&
             strspn(id, "0123456789") == strlen(id);
    for (const char *c = line; ok && *c; c++)
      ok = (unsigned char) *c >= 0x20 && *c != 0x7f;
    if (!ok) {
      fclose(f);
      return Error("'%s' is not a pipeline's jobs.txt: line %d is not 'JOB ID' (give the "
                   "directory gyre submit made, or its jobs.txt)",
                   path, no);
    }
    njobs++;
  }
  if (!njobs) {
    fclose(f);
    return Error("'%s' lists no jobs: not a pipeline's jobs.txt (give the directory gyre submit "
                 "made, or its jobs.txt)",
                 path);
  }
  rewind(f);
  if (!OnPath("scontrol")) {
    fclose(f);
    return Error("'scontrol' not found on PATH (Slurm's client commands: slurm-client)");
  }
  int total = 0, done = 0, active = 0;
  Buf failed = {0}, cancelled = {0};
  while (fgets(line, sizeof line, f)) {
    char name[128], id[64];
    if (line[0] == '#') {
      printf("%s", line + 2);
      continue;
    }
    if (sscanf(line, "%127s %63s", name, id) != 2) continue;
    if (!total) printf("%-8s %-12s %-12s %s\n", "job", "id", "state", "log");
    char *argv[] = {"scontrol", "show", "job", "-o", id, NULL};
    Buf   out = {0}, err = {0};
    int   rc = 0;
    if (Capture(argv, &out, &err, &rc)) {
      fclose(f);
      return 1;
    }
    if (rc && OnPath("sacct")) {
      /* gone from slurmctld's memory (MinJobAge): accounting, where the site has it */
      char *acct[] = {"sacct", "-n", "-X", "-P", "-j", id, "-o", "JobID,State,ExitCode", NULL};
      Buf   aout = {0}, aerr = {0};
      int   arc = 1;
      if (!Capture(acct, &aout, &aerr, &arc) && arc == 0 && aout.len) {
        rc = 0;
        for (char *l = aout.s; l && *l;) {
          char *nl = strchr(l, '\n');
          if (nl) *nl = 0;
          char jid[64] = "", state[64] = "", exitc[32] = "";
          if (sscanf(l, "%63[^|]|%63[^| ]%*[^|]|%31s", jid, state, exitc) >= 2) {
            printf("%-8s %-12s %-12s %s/logs/%s-%s.out (from sacct)\n", name, jid, state, pdir,
                   name, jid);
            total++;
            if (!strcmp(state, "COMPLETED"))
              done++;
            else if (Failed(state))
              BufAdd(&failed, "  %s (job %s) %s, exit code %s: log %s/logs/%s-%s.out\n", name, jid,
                     state, exitc, pdir, name, jid);
            else if (!strcmp(state, "CANCELLED"))
              BufAdd(&cancelled, " %s (job %s)", name, jid);
            else
              active++;
          }
          l = nl ? nl + 1 : NULL;
        }
      }
      free(aout.s);
      free(aerr.s);
    }
    if (rc) {
      char why[256];
      FirstLine(BufStr(&err), why, sizeof why);
      printf("%-8s %-12s %-12s (%s: no longer known to slurmctld, and no accounting)\n", name, id,
             "UNKNOWN", why);
      total++;
    }
    for (char *l = out.s; rc == 0 && l && *l;) {
      char *nl = strchr(l, '\n');
      if (nl) *nl = 0;
      char jid[64], task[64], state[64], log[PATH_MAX + 400], exitc[32], reason[128];
      Field(l, "JobId", jid, sizeof jid);
      Field(l, "ArrayTaskId", task, sizeof task);
      Field(l, "JobState", state, sizeof state);
      Field(l, "ExitCode", exitc, sizeof exitc);
      Field(l, "Reason", reason, sizeof reason);
      char shown[160];
      if (task[0]) {
        char aid[64];
        Field(l, "ArrayJobId", aid, sizeof aid);
        snprintf(shown, sizeof shown, "%s_%s", aid, task);
      } else
        snprintf(shown, sizeof shown, "%s", jid);
      /* the log: where gyre submit's --output put it (StdOut= may hold blanks) */
      snprintf(log, sizeof log, "%s/logs/%s-%s.out", pdir, name, shown);
      printf("%-8s %-12s %-12s %s\n", name, shown, state, log);
      total++;
      if (!strcmp(state, "COMPLETED"))
        done++;
      else if (Failed(state))
        BufAdd(&failed, "  %s (job %s) %s, exit code %s: log %s\n", name, shown, state, exitc, log);
      else if (!strcmp(state, "CANCELLED"))
        BufAdd(&cancelled, " %s (job %s%s%s)", name, shown, strcmp(reason, "None") ? ", " : "",
               strcmp(reason, "None") ? reason : "");
      else
        active++;
      l = nl ? nl + 1 : NULL;
    }
    free(out.s);
    free(err.s);
  }
  fclose(f);
  if (failed.len) {
    printf("FAILED:\n%s", failed.s);
    if (cancelled.len)
      printf("cancelled (a dependency failed: --kill-on-invalid-dep):%s\n", cancelled.s);
  } else if (cancelled.len)
    printf("cancelled:%s\n", cancelled.s);
  if (active)
    printf("%d of %d job(s) pending or running, %d completed\n", active, total, done);
  else if (done == total && total)
    printf("all %d job(s) COMPLETED\n", total);
  int rc = failed.len || cancelled.len;
  free(failed.s);
  free(cancelled.s);
  return rc;
}

/* ---- gyre submit ------------------------------------------------------------------------ */

static int MakeDir(const char *path, int *made)
{
  *made = mkdir(path, 0777) == 0;
  if (!*made && errno != EEXIST)
    return Error("cannot create directory '%s': %s", path, strerror(errno));
  return 0;
}

/* Cancels the jobs of s already submitted (sbatch failed for a later one) and, where none is
 * left queued (none submitted, or scancel done), removes what the submission wrote: its
 * scripts, and the directories it made where they are empty (a cancelled job may have begun
 * its log). Where scancel fails, the jobs may still run in DIR: everything stays, said so. */
static void CancelSubmitted(const Submit *s)
{
  Argv a    = {0};
  int  left = 0; /* jobs possibly still queued */
  ArgvAdd(&a, "scancel");
  for (int i = 0; i < s->njob; i++)
    if (s->job[i].id[0]) ArgvAdd(&a, "%s", s->job[i].id);
  if (a.n > 1) {
    Buf  out = {0}, err = {0};
    int  rc         = 1;
    char first[512] = "";
    left            = Capture(a.v, &out, &err, &rc) || rc;
    FirstLine(BufStr(&err), first, sizeof first);
    if (left)
      fprintf(stderr,
              "gyre submit: scancel of the jobs already submitted failed%s%s: they may still "
              "run, in '%s' (its scripts and logs kept)\n",
              first[0] ? ": " : "", first, s->dir);
    else
      fprintf(stderr, "gyre submit: cancelled the jobs already submitted\n");
    free(out.s);
    free(err.s);
  }
  ArgvFree(&a);
  if (left) return;
  char path[PATH_MAX + 64];
  for (int i = 0; i < s->nscripts; i++) {
    snprintf(path, sizeof path, "%s/slurm/%s.sbatch", s->dir, s->job[i].name);
    unlink(path);
  }
  const char *sub[3] = {"/logs", "/slurm", ""};
  for (int k = 0; k < 3; k++) {
    snprintf(path, sizeof path, "%s%s", s->dir, sub[k]);
    if (s->made[2 - k]) rmdir(path);
  }
}

/* Appends w as one shell word: as it is when it holds only harmless characters, else quoted. */
static void BufShellWord(Buf *b, const char *w)
{
  int plain = *w != 0;
  for (const char *c = w; *c; c++)
    if (!isalnum((unsigned char) *c) && !strchr("-_=./:%,@+", *c)) plain = 0;
  if (plain)
    BufAdd(b, "%s", w);
  else
    BufQuote(b, w);
}

/* Job i's script path (under -dir), script and sbatch line (dependencies on the jobs submitted
 * so far). 1 after an error message (a bad site parameter). */
static int JobFiles(const Submit *s, int i, char *path, size_t n, Buf *script, Argv *a)
{
  snprintf(path, n, "%s/slurm/%s.sbatch", s->dir, s->job[i].name);
  return JobScript(s, &s->job[i], script) || JobArgv(s, &s->job[i], path, a);
}

/* Prints an argument vector as a shell line. */
static void PrintArgv(const Argv *a)
{
  Buf line = {0};
  for (int i = 0; i < a->n; i++) {
    if (i) BufAdd(&line, " ");
    BufShellWord(&line, a->v[i]);
  }
  printf("%s\n", BufStr(&line));
  free(line.s);
}

static int Absolute(const char *path, char *abs, size_t n)
{
  if (path[0] == '/') {
    snprintf(abs, n, "%s", path);
    return 0;
  }
  char cwd[PATH_MAX];
  if (!getcwd(cwd, sizeof cwd)) return Error("getcwd: %s", strerror(errno));
  int len = snprintf(abs, n, "%s/%s", cwd, path);
  if (len < 0 || (size_t) len >= n) return Error("path '%s/%s' too long", cwd, path);
  return 0;
}

int GyreSubmitCommand(int argc, char **argv)
{
  Submit      s    = {0};
  const char *opts = NULL, *dir = NULL, *gyre = NULL, *runs = NULL, *exp = NULL;
  int         dry_run = 0;
  static char dirbuf[PATH_MAX], gyrebuf[PATH_MAX], runsbuf[PATH_MAX], optsbuf[PATH_MAX],
      expbuf[256];
  s.size = "small";

  /* 1. the arguments */
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "-help") || !strcmp(a, "--help") || !strcmp(a, "-h")) {
      fputs(usage, stdout);
      return 0;
    }
    if (!strcmp(a, "-status")) {
      if (i + 1 >= argc) return Error("-status needs a pipeline directory or its jobs.txt");
      return Status(argv[i + 1]);
    }
    if (!strcmp(a, "-options_file")) { /* PETSc's spelling of the positional argument */
      if (i + 1 >= argc) return Error("-options_file needs a file (gyre submit -help)");
      a = argv[++i];
      if (opts)
        return Error("two options files given ('%s', '%s'): one experiment at a time", opts, a);
      opts = a;
      continue;
    }
    if (!strcmp(a, "-dry_run")) {
      dry_run = 1;
      continue;
    }
    const char **val = !strcmp(a, "-size")         ? &s.size
                       : !strcmp(a, "-dir")        ? &dir
                       : !strcmp(a, "-gyre")       ? &gyre
                       : !strcmp(a, "-runs")       ? &runs
                       : !strcmp(a, "-experiment") ? &exp
                                                   : NULL;
    if (val) {
      if (i + 1 >= argc) return Error("%s needs a value (gyre submit -help)", a);
      *val = argv[++i];
      continue;
    }
    if (IsOptionName(a)) {
      Opt *o = OptsAdd(&s.cmd, a + 1, "the command line");
      while (i + 1 < argc && !IsOptionName(argv[i + 1]) && !IsOptionEquals(argv[i + 1]))
        OptAddValue(o, argv[++i]);
      continue;
    }
    if (a[0] == '-') { /* no options file starts with '-' (./-x.opts would do) */
      const char *eq = strchr(a, '=');
      if (eq)
        return Error("'%s' is not an option: give the value after a space (%.*s %s)", a,
                     (int) (eq - a), a, eq + 1);
      return Error("'%s' is not an option of gyre submit (gyre submit -help)", a);
    }
    if (opts)
      return Error("two options files given ('%s', '%s'): one experiment at a time", opts, a);
    opts = a;
  }
  if (!opts)
    return Error("no options file: gyre submit runs/<experiment>.opts [-size tiny|small|full] "
                 "(gyre submit -help)");
  int known = 0;
  for (int z = 0; sizes[z]; z++)
    known |= !strcmp(s.size, sizes[z]);
  if (!known) return Error("-size '%s': expected tiny, small or full", s.size);
  if (access(opts, R_OK)) return Error("cannot read options file '%s': %s", opts, strerror(errno));
  if (Absolute(opts, optsbuf, sizeof optsbuf)) return 1;
  s.opts_path = optsbuf;

  /* 2. the experiment and its folder of scripts */
  if (!exp) {
    const char *base = strrchr(opts, '/') ? strrchr(opts, '/') + 1 : opts;
    snprintf(expbuf, sizeof expbuf, "%s", base);
    char *dot = strstr(expbuf, ".opts");
    if (dot && !dot[5]) *dot = 0;
    exp = expbuf;
  }
  const Experiment *e = NULL;
  for (int k = 0; experiments[k].name; k++)
    if (!strcmp(exp, experiments[k].name)) e = &experiments[k];
  if (!e) {
    Buf names = {0};
    for (int k = 0; experiments[k].name; k++)
      BufAdd(&names, "%s%s", k ? ", " : "", experiments[k].name);
    Error("experiment '%s' (from %s) has no Slurm pipeline: gyre submit knows %s (name the file "
          "runs/<experiment>.opts, or give -experiment NAME)",
          exp, opts, BufStr(&names));
    free(names.s);
    return 1;
  }
  s.experiment = e->name;
  s.stages     = e->stages;
  if (!runs) {
    char d[PATH_MAX], probe[PATH_MAX + 32];
    snprintf(d, sizeof d, "%s", optsbuf);
    *strrchr(d, '/') = 0;
    snprintf(probe, sizeof probe, "%s/slurm/job.sh", d);
    runs = access(probe, R_OK) == 0 ? d : GYRE_RUNS_DIR;
    snprintf(runsbuf, sizeof runsbuf, "%s", runs);
    runs = runsbuf;
  } else {
    if (Absolute(runs, runsbuf, sizeof runsbuf)) return 1;
    runs = runsbuf;
  }
  {
    char probe[PATH_MAX + 32];
    snprintf(probe, sizeof probe, "%s/slurm/job.sh", runs);
    if (!runs[0] || access(probe, R_OK))
      return Error("no runs/slurm/job.sh found (looked in '%s'): give -runs DIR, the runs/ folder "
                   "of gyre's sources",
                   runs);
  }
  s.runs = runs;
  char defpath[PATH_MAX + 32];
  snprintf(defpath, sizeof defpath, "%s/slurm/defaults.opts", runs);
  if (OptsRead(defpath, &s.def) || OptsRead(opts, &s.exp) || CheckStages(&s)) return 1;

  /* 3. the gyre the jobs run, the pipeline's directory */
  if (gyre) {
    if (Absolute(gyre, gyrebuf, sizeof gyrebuf)) return 1;
  } else {
    ssize_t n = readlink("/proc/self/exe", gyrebuf, sizeof gyrebuf - 1);
    if (n <= 0) return Error("cannot find this gyre's path: give -gyre PATH");
    gyrebuf[n] = 0;
  }
  struct stat gsb;
  if (access(gyrebuf, X_OK) || stat(gyrebuf, &gsb) || !S_ISREG(gsb.st_mode))
    return Error("-gyre '%s' is not an executable file", gyrebuf);
  s.gyre = gyrebuf;
  if (!dir) {
    snprintf(dirbuf, sizeof dirbuf, "%s-%s", s.experiment, s.size);
    dir = dirbuf;
  }
  static char absdir[PATH_MAX];
  if (Absolute(dir, absdir, sizeof absdir)) return 1;
  s.dir = absdir;
  for (const char *c = s.dir; *c; c++)
    if (*c == '\n' || *c == '%')
      return Error("-dir '%s': a directory name without newline or %% (Slurm's log patterns)",
                   s.dir);

  /* 4. the jobs */
  if (e->build(&s) || CheckSlurmNames(&s)) return 1;
  for (int i = 0; i < s.njob; i++) { /* every job once: a bad site parameter before a warning */
    Buf  script = {0};
    Argv a      = {0};
    char path[PATH_MAX + 64];
    int  bad = JobFiles(&s, i, path, sizeof path, &script, &a);
    ArgvFree(&a), free(script.s);
    if (bad) return 1;
  }
  CheckPython(&s);

  if (dry_run) {
    printf("# gyre submit -dry_run: %s (size %s), %d jobs in %s; nothing written or submitted\n",
           s.experiment, s.size, s.njob, s.dir);
    for (int i = 0; i < s.njob; i++) {
      Buf  script = {0};
      Argv a      = {0};
      char path[PATH_MAX + 64];
      if (JobFiles(&s, i, path, sizeof path, &script, &a)) return 1;
      printf("\n# ==== %s\n%s# ---- sbatch line:\n", path, script.s);
      PrintArgv(&a);
      ArgvFree(&a);
      free(script.s);
    }
    return 0;
  }

  /* 5. submission */
  if (!OnPath("sbatch"))
    return Error("'sbatch' not found on PATH: gyre submit needs Slurm's client commands "
                 "(use -dry_run to see the scripts)");
  char jobs[PATH_MAX + 32], sub[PATH_MAX + 32];
  snprintf(jobs, sizeof jobs, "%s/jobs.txt", s.dir);
  if (access(jobs, F_OK) == 0)
    return Error("'%s' already holds a pipeline (%s): give another -dir, or remove it", s.dir,
                 jobs);
  if (MakeDir(s.dir, &s.made[0])) return 1;
  snprintf(sub, sizeof sub, "%s/slurm", s.dir);
  if (MakeDir(sub, &s.made[1])) {
    CancelSubmitted(&s);
    return 1;
  }
  snprintf(sub, sizeof sub, "%s/logs", s.dir);
  if (MakeDir(sub, &s.made[2])) {
    CancelSubmitted(&s);
    return 1;
  }
  for (int i = 0; i < s.njob; i++) {
    Job *j      = &s.job[i];
    Buf  script = {0}, out = {0}, err = {0};
    Argv a = {0};
    char path[PATH_MAX + 64];
    if (JobFiles(&s, i, path, sizeof path, &script, &a)) {
      CancelSubmitted(&s);
      return 1;
    }
    FILE *f = fopen(path, "w");
    s.nscripts += f != NULL;
    if (!f || fputs(script.s, f) < 0 || fclose(f)) {
      const int werr = errno;
      CancelSubmitted(&s);
      return Error("cannot write '%s': %s", path, strerror(werr));
    }
    chmod(path, 0755);
    int rc = 0;
    if (Capture(a.v, &out, &err, &rc)) {
      CancelSubmitted(&s);
      return 1;
    }
    char first[512];
    FirstLine(rc ? BufStr(&err) : BufStr(&out), first, sizeof first);
    size_t k = strspn(first, "0123456789");
    if (rc || !k || (first[k] && first[k] != ';')) {
      CancelSubmitted(&s);
      Error("sbatch failed for job '%s' (exit status %d): %s", j->name, rc,
            first[0] ? first : "(no message)");
      return 1;
    }
    snprintf(j->id, sizeof j->id, "%.*s", (int) k, first);
    ArgvFree(&a);
    free(script.s);
    free(out.s);
    free(err.s);
  }
  FILE *f = fopen(jobs, "w");
  if (!f) {
    CancelSubmitted(&s);
    return Error("cannot write '%s': %s", jobs, strerror(errno));
  }
  fprintf(f, "# %s (size %s) from %s\n", s.experiment, s.size, s.opts_path);
  for (int i = 0; i < s.njob; i++)
    fprintf(f, "%s %s\n", s.job[i].name, s.job[i].id);
  fclose(f);

  printf("gyre submit: %s (size %s), %d jobs, files in %s\n", s.experiment, s.size, s.njob, s.dir);
  Buf ids = {0};
  for (int i = 0; i < s.njob; i++) {
    const Job *j = &s.job[i];
    printf("  %-8s job %-8s", j->name, j->id);
    if (j->array) printf(" array 0-%d,", j->array - 1);
    printf(" %s", j->what);
    for (int k = 0; k < MAX_DEPS && j->after[k]; k++)
      printf("%s%s", k ? ", " : "; after ", j->after[k]);
    printf("\n");
    BufAdd(&ids, "%s%s", i ? "," : "", j->id);
  }
  Buf shown = {0};
  BufShellWord(&shown, s.dir);
  printf("follow: gyre submit -status %s   (or squeue -j %s; logs in %s/logs)\n", shown.s, ids.s,
         shown.s);
  free(shown.s);
  free(ids.s);
  return 0;
}
