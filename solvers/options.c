/* options.c — gyre's integer, real and true/false options checked as text before PETSc converts
 * them. PETSc reads an integer with strtol and a cast (99999999999 becomes 1215752191, and
 * 4294967297 becomes 1), takes "nan" as a real, and reports "1.5" or "abc" on each rank
 * without naming the option. gyre_petsc.h routes PetscOptionsInt, PetscOptionsBoundedInt,
 * PetscOptionsRangeInt, PetscOptionsReal and PetscOptionsBool of the files that include it
 * through these, so a bad value is one error naming the option and the value, raised on the
 * options block's communicator (as every other check of an option). */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "gyre_petsc.h"

/* PETSc's names for its default and decide values, which its conversion accepts */
static int PetscSpecialValue(const char *s)
{
  static const char *const names[] = {"PETSC_DEFAULT", "DEFAULT",         "PETSC_DECIDE",
                                      "DECIDE",        "PETSC_DETERMINE", "DETERMINE"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (!strcasecmp(s, names[i])) return 1;
  return 0;
}

/* The option's text into buf (a value longer than the buffer is refused) and its name with the
 * block's prefix into name; *check: given, and not one of PETSc's special values. */
static PetscErrorCode RawValue(PetscOptionItems *po, const char opt[], char *buf, size_t len,
                               char *name, size_t nlen, PetscBool *check)
{
  PetscBool set;

  PetscFunctionBegin;
  buf[0] = 0;
  snprintf(name, nlen, "-%s%s", po->prefix ? po->prefix : "", opt + 1);
  PetscCall(PetscOptionsGetString(po->options, po->prefix, opt, buf, len, &set));
  PetscCheck(!set || strlen(buf) + 1 < len, po->comm, PETSC_ERR_ARG_WRONG,
             "%s %s...: the value is too long", name, buf);
  *check = set && !PetscSpecialValue(buf) ? PETSC_TRUE : PETSC_FALSE;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode GyreOptionsInt_Private(PetscOptionItems *po, const char opt[], const char text[],
                                      const char man[], PetscInt cur, PetscInt *val, PetscBool *set,
                                      PetscInt lb, PetscInt ub)
{
  char      buf[256], name[256], *end = NULL;
  PetscBool check;

  PetscFunctionBegin;
  PetscCall(RawValue(po, opt, buf, sizeof buf, name, sizeof name, &check));
  if (check) {
    errno             = 0;
    const long long v = strtoll(buf, &end, 10);
    PetscCheck(buf[0] && end != buf && !*end, po->comm, PETSC_ERR_ARG_WRONG,
               "%s %s: not an integer", name, buf[0] ? buf : "(no value)");
    PetscCheck(errno != ERANGE && v >= (long long) lb && v <= (long long) ub, po->comm,
               PETSC_ERR_ARG_OUTOFRANGE, "%s %s: out of range (%lld to %lld)", name, buf,
               (long long) lb, (long long) ub);
  }
  PetscCall(PetscOptionsInt_Private(po, opt, text, man, cur, val, set, lb, ub));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode GyreOptionsReal_Private(PetscOptionItems *po, const char opt[], const char text[],
                                       const char man[], PetscReal cur, PetscReal *val,
                                       PetscBool *set)
{
  char      buf[256], name[256], *end = NULL;
  PetscBool check;

  PetscFunctionBegin;
  PetscCall(RawValue(po, opt, buf, sizeof buf, name, sizeof name, &check));
  if (check) {
    const double v = strtod(buf, &end);
    PetscCheck(buf[0] && end != buf && !*end, po->comm, PETSC_ERR_ARG_WRONG, "%s %s: not a number",
               name, buf[0] ? buf : "(no value)");
    PetscCheck(isfinite(v), po->comm, PETSC_ERR_ARG_OUTOFRANGE, "%s %s: not a finite number", name,
               buf);
  }
  PetscCall(PetscOptionsReal_Private(po, opt, text, man, cur, val, set));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode GyreOptionsBool_Private(PetscOptionItems *po, const char opt[], const char text[],
                                       const char man[], PetscBool cur, PetscBool *val,
                                       PetscBool *set)
{
  static const char *const ok[] = {"1", "0", "true", "false", "yes", "no", "on", "off"};
  char                     buf[256], name[256];
  PetscBool                check;
  int                      known = 0;

  PetscFunctionBegin;
  PetscCall(RawValue(po, opt, buf, sizeof buf, name, sizeof name, &check));
  for (size_t i = 0; check && buf[0] && i < sizeof ok / sizeof ok[0]; i++)
    known |= !strcasecmp(buf, ok[i]);
  PetscCheck(!check || !buf[0] || known, po->comm, PETSC_ERR_ARG_WRONG,
             "%s %s: not a true/false value (1, 0, true, false, yes, no, on or off)", name, buf);
  PetscCall(PetscOptionsBool_Private(po, opt, text, man, cur, val, set));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode GyreOptionsListCheck(MPI_Comm comm, const char *name, const char *value,
                                    PetscBool unique)
{
  const size_t len = strlen(value);

  PetscFunctionBegin;
  PetscCheck(len && !strstr(value, ",,") && value[0] != ',' && value[len - 1] != ',', comm,
             PETSC_ERR_ARG_WRONG, "%s %s: an empty entry in the list", name,
             len ? value : "(no value)");
  for (const char *a = value; unique && *a;) { /* each entry against those after it */
    const size_t n = strcspn(a, ",");
    for (const char *b = a + n; *b;) {
      b++;
      const size_t m = strcspn(b, ",");
      PetscCheck(m != n || strncmp(a, b, n), comm, PETSC_ERR_ARG_WRONG,
                 "%s %s: '%.*s' is given twice", name, value, (int) n, a);
      b += m;
    }
    a += n + (a[n] ? 1 : 0);
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode GyreOptionsRealArray_Private(PetscOptionItems *po, const char opt[],
                                            const char text[], const char man[], PetscReal *val,
                                            PetscInt *n, PetscBool *set)
{
  char      buf[1024], name[256];
  PetscBool check;

  PetscFunctionBegin;
  PetscCall(RawValue(po, opt, buf, sizeof buf, name, sizeof name, &check));
  if (check) {
    PetscCall(GyreOptionsListCheck(po->comm, name, buf, PETSC_FALSE));
    for (char *a = buf, *end; *a; a = *end ? end + 1 : end) {
      const double v = strtod(a, &end);
      PetscCheck(end != a && (*end == ',' || !*end), po->comm, PETSC_ERR_ARG_WRONG,
                 "%s %s: '%.*s' is not a number", name, buf, (int) strcspn(a, ","), a);
      PetscCheck(isfinite(v), po->comm, PETSC_ERR_ARG_OUTOFRANGE,
                 "%s %s: '%.*s' is not a finite number", name, buf, (int) strcspn(a, ","), a);
    }
  }
  PetscCall(PetscOptionsRealArray_Private(po, opt, text, man, val, n, set));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode GyreOptionsWarnUnused(MPI_Comm comm, const char *cmd)
{
  PetscInt    n;
  char      **names, **values;
  PetscMPIInt rank;

  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  /* PETSc's own options read only by PetscFinalize, after this: looked at (so marked used) */
  {
    static const char *const at_finalize[] = {"-options_view", "-options_left",   "-malloc_dump",
                                              "-malloc_view",  "-memory_view",    "-objects_dump",
                                              "-log_view",     "-log_view_memory"};
    for (size_t i = 0; i < sizeof at_finalize / sizeof at_finalize[0]; i++) {
      PetscBool set;
      PetscCall(PetscOptionsHasName(NULL, NULL, at_finalize[i], &set));
    }
  }
  /* gyre simulate's options that apply only with another: said so, not "misspelt"
   * (when the condition holds, as it does for -ns2d_N with -model ns2d: misspelt after all) */
  static const struct {
    const char *prefix, *when, *opt, *value, *also, *dflt; /* applies where opt is given (as
                                                            * value, dflt where unset), and
                                                            * also, where not NULL */
  } cond[] = {
      {"guard", "with -surrogate", "-surrogate", NULL, NULL, NULL},
      {"surrogate_", "with -surrogate", "-surrogate", NULL, NULL, NULL},
      {"surrogate_closure_eval", "with -surrogate and -surrogate_mode closure (the default)",
       "-surrogate_mode", "closure", "-surrogate", "closure"},
      {"surrogate_scale", "with -surrogate and -surrogate_mode closure (the default)",
       "-surrogate_mode", "closure", "-surrogate", "closure"},
      {"guard_fallback", "with -surrogate and -surrogate_mode closure (the default)",
       "-surrogate_mode", "closure", "-surrogate", "closure"},
      {"surrogate_physics_every", "with -surrogate and -surrogate_mode emulator", "-surrogate_mode",
       "emulator", "-surrogate", NULL},
      {"closure_coeffs", "with -closure polynomial or -surrogate and -guard_fallback polynomial",
       "-closure", "polynomial", NULL, NULL},
      {"closure_coeffs", "with -closure polynomial or -surrogate and -guard_fallback polynomial",
       "-guard_fallback", "polynomial", "-surrogate", NULL},
      {"l96_", "with -model l96", "-model", "l96", NULL, NULL},
      {"ns2d_", "with -model ns2d", "-model", "ns2d", NULL, NULL},
      {"output_coarsen", "with -model ns2d and -output_stride above 1", "-output_stride", NULL,
       NULL, NULL}};
  PetscCall(PetscOptionsLeftGet(NULL, &n, &names, &values));
  for (PetscInt i = 0; i < n && rank == 0; i++) {
    const char *when  = NULL;
    PetscBool   holds = PETSC_FALSE;
    size_t      best  = 0; /* the longest prefix that matches decides (entries of one prefix:
                            * either condition) */
    for (size_t k = 0; !strcmp(cmd, "simulate") && k < sizeof cond / sizeof cond[0]; k++) {
      char         v[64] = "";
      PetscBool    set;
      const size_t len = strlen(cond[k].prefix);
      if (strncmp(names[i], cond[k].prefix, len) || len < best) continue;
      if (len > best) best = len, holds = PETSC_FALSE;
      when = cond[k].when;
      PetscCall(PetscOptionsGetString(NULL, NULL, cond[k].opt, v, sizeof v, &set));
      if (!set && cond[k].dflt) {
        PetscCall(PetscStrncpy(v, cond[k].dflt, sizeof v));
        set = PETSC_TRUE;
      }
      if (set && cond[k].also) PetscCall(PetscOptionsHasName(NULL, NULL, cond[k].also, &set));
      if (set && (!cond[k].value || !strcmp(v, cond[k].value))) holds = PETSC_TRUE;
    }
    if (holds) when = NULL;
    if (when)
      fprintf(stderr, "gyre: warning: option -%s%s%s was not used: it applies only %s\n", names[i],
              values[i] ? " " : "", values[i] ? values[i] : "", when);
    else
      fprintf(stderr,
              "gyre: warning: option -%s%s%s was not used (misspelt, or not an option of gyre "
              "%s?)\n",
              names[i], values[i] ? " " : "", values[i] ? values[i] : "", cmd);
  }
  /* said once: marked used, so that a later call (the command's end) does not say it again */
  for (PetscInt i = 0; i < n; i++) {
    char      opt[256];
    PetscBool set;
    PetscCall(PetscSNPrintf(opt, sizeof opt, "-%s", names[i]));
    PetscCall(PetscOptionsHasName(NULL, NULL, opt, &set));
  }
  PetscCall(PetscOptionsLeftRestore(NULL, &n, &names, &values));
  PetscFunctionReturn(PETSC_SUCCESS);
}
