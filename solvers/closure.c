/* closure.c — closures: a term added to the right-hand side of the state component it forces.
 *
 * -closure none|polynomial chooses one (default none: no closure, *closure = NULL).
 * -closure_field NAME names the forced component, a DMDA field name of the model's state
 * (default: the model's first component, e.g. "X" for l96).
 *
 * polynomial: adds sum_{i=0}^{n} a_i U^i pointwise to the forced component's right-hand side,
 * with -closure_coeffs a0,a1,...,an (at most GYRE_CLOSURE_MAX_COEFFS values; evaluated by
 * Horner's rule). It works for any DMDA model: the forced component is located among the DM's
 * dof components by name.
 *
 * Closures are registered in a function list like the models; a later issue adds "surrogate"
 * with one line in GyreClosureRegisterAll(). The forced component is resolved against the
 * model's DM when the closure is created after the model's setup, otherwise at its first use. */
#include <string.h>
#include "gyre_model.h"

#define GYRE_CLOSURE_MAX_COEFFS 32

static PetscFunctionList GyreClosureList = NULL;

/* ---- a model's right-hand side adding the closure itself (gyre_model.h) ---- */

PetscErrorCode GyreModelClosureOwned(GyreModel model, PetscReal t, const PetscScalar *u,
                                     PetscScalar *f)
{
  GyreClosure cl = model->closure;

  PetscFunctionBegin;
  if (cl && cl->apply_owned && model->closure_in_rhs)
    PetscCall((*cl->apply_owned)(cl, model, t, u, f, &model->closure_added));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ---- the forced component ---- */

/* Index of closure->field among the components of the model's DMDA (filling in the first
 * component's name when no field was named). Collective (the error is raised on every rank). */
PetscErrorCode GyreClosureFindComponent(GyreClosure cl, GyreModel model, PetscInt *comp)
{
  PetscInt dof;
  char     known[512] = "";

  PetscFunctionBegin;
  PetscCheck(model->dm, model->comm, PETSC_ERR_ORDER,
             "closure %s: the model %s has no grid yet (set it up first)", cl->name, model->name);
  PetscCall(DMDAGetInfo(model->dm, NULL, NULL, NULL, NULL, NULL, NULL, NULL, &dof, NULL, NULL, NULL,
                        NULL, NULL));
  for (PetscInt c = 0; c < dof; c++) {
    const char *name;
    PetscCall(DMDAGetFieldName(model->dm, c, &name));
    if (!cl->field[0] && name) PetscCall(PetscStrncpy(cl->field, name, sizeof cl->field));
    if (name && !strcmp(name, cl->field)) {
      *comp = c;
      PetscFunctionReturn(PETSC_SUCCESS);
    }
    if (c < 8) {
      if (c) PetscCall(PetscStrlcat(known, ", ", sizeof known));
      PetscCall(PetscStrlcat(known, name ? name : "(unnamed)", sizeof known));
    } else if (c == 8)
      PetscCall(PetscStrlcat(known, ", ...", sizeof known));
  }
  SETERRQ(model->comm, PETSC_ERR_ARG_WRONG,
          "-closure_field '%s' is not a state component of model %s (components: %s)", cl->field,
          model->name, known);
}

/* ---- polynomial ---- */

typedef struct {
  PetscReal a[GYRE_CLOSURE_MAX_COEFFS];
  PetscInt  n;    /* number of coefficients (degree n-1) */
  PetscInt  comp; /* forced component, -1 until resolved */
} GyreClosurePoly;

static PetscErrorCode GyreClosureApply_Polynomial(GyreClosure cl, GyreModel model, PetscReal t,
                                                  Vec U, Vec F)
{
  GyreClosurePoly   *p = (GyreClosurePoly *) cl->ctx;
  const PetscScalar *u;
  PetscScalar       *f;
  PetscInt           n, bs, dof;

  PetscFunctionBegin;
  if (p->comp < 0) PetscCall(GyreClosureFindComponent(cl, model, &p->comp));
  PetscCall(DMDAGetInfo(model->dm, NULL, NULL, NULL, NULL, NULL, NULL, NULL, &dof, NULL, NULL, NULL,
                        NULL, NULL));
  PetscCall(VecGetBlockSize(U, &bs));
  PetscCheck(bs == dof, PETSC_COMM_SELF, PETSC_ERR_ARG_INCOMP,
             "closure %s: the state vector has block size %" PetscInt_FMT
             ", the model's grid has %" PetscInt_FMT " components",
             cl->name, bs, dof);
  PetscCall(VecGetLocalSize(U, &n));
  PetscCall(VecGetArrayRead(U, &u));
  PetscCall(VecGetArray(F, &f));
  for (PetscInt i = p->comp; i < n; i += dof) {
    PetscScalar v = p->a[p->n - 1];
    for (PetscInt k = p->n - 2; k >= 0; k--)
      v = v * u[i] + p->a[k];
    f[i] += v;
  }
  PetscCall(VecRestoreArray(F, &f));
  PetscCall(VecRestoreArrayRead(U, &u));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode GyreClosureDestroy_Polynomial(GyreClosure cl)
{
  PetscFunctionBegin;
  PetscCall(PetscFree(cl->ctx));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode GyreClosureCreate_Polynomial(GyreClosure cl, GyreModel model)
{
  GyreClosurePoly *p;
  PetscBool        set;

  PetscFunctionBegin;
  PetscCall(PetscNew(&p));
  cl->ctx     = p;
  cl->apply   = GyreClosureApply_Polynomial;
  cl->destroy = GyreClosureDestroy_Polynomial;
  p->comp     = -1;
  p->n        = GYRE_CLOSURE_MAX_COEFFS;
  PetscOptionsBegin(model->comm, NULL, "Polynomial closure (-closure polynomial)", "closure");
  PetscCall(PetscOptionsRealArray("-closure_coeffs", "coefficients a0,a1,...,an of sum a_i U^i",
                                  NULL, p->a, &p->n, &set));
  PetscOptionsEnd();
  PetscBool help;
  PetscCall(PetscOptionsHasHelp(NULL, &help));
  if (help && !set) p->n = 1, p->a[0] = 0; /* -help lists the option (a run is refused) */
  PetscCheck(help || (set && p->n > 0), model->comm, PETSC_ERR_ARG_WRONG,
             "%s polynomial needs its coefficients: -closure_coeffs a0,a1,...,an "
             "(adds sum a_i U^i to the forced component)",
             cl->option ? cl->option : "-closure");
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ---- the registry of closures ---- */

static PetscErrorCode GyreClosureFinalize(void)
{
  PetscFunctionBegin;
  PetscCall(PetscFunctionListDestroy(&GyreClosureList));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode GyreClosureRegisterAll(void)
{
  PetscFunctionBegin;
  if (GyreClosureList) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(PetscFunctionListAdd(&GyreClosureList, "polynomial", GyreClosureCreate_Polynomial));
  PetscCall(PetscFunctionListAdd(&GyreClosureList, "surrogate", GyreClosureCreate_Surrogate));
  PetscCall(PetscRegisterFinalize(GyreClosureFinalize));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode GyreClosureCreateFromOptions(GyreModel model, GyreClosure *closure)
{
  PetscErrorCode (*create)(GyreClosure, GyreModel) = NULL;
  char        type[32] = "none", field[32] = "", surrogate[PETSC_MAX_PATH_LEN] = "";
  char        mode[16] = "closure";
  PetscBool   type_set = PETSC_FALSE, surrogate_set = PETSC_FALSE;
  GyreClosure cl;

  PetscFunctionBegin;
  *closure = NULL;
  PetscCall(GyreClosureRegisterAll());
  PetscOptionsBegin(model->comm, NULL, "Closure: a term added to a state component's RHS",
                    "closure");
  PetscCall(PetscOptionsString("-closure", "closure: none, polynomial or surrogate", NULL, type,
                               type, sizeof type, &type_set));
  PetscCall(PetscOptionsString("-surrogate", "a trained model file (gyre train)", NULL, surrogate,
                               surrogate, sizeof surrogate, &surrogate_set));
  PetscCall(PetscOptionsString("-surrogate_mode", "closure or emulator", NULL, mode, mode,
                               sizeof mode, NULL));
  PetscCall(PetscOptionsString("-closure_field", "the forced state component (default: first)",
                               NULL, field, field, sizeof field, NULL));
  PetscOptionsEnd();
  PetscCheck(!surrogate_set || surrogate[0], model->comm, PETSC_ERR_USER_INPUT,
             "-surrogate needs a model file (gyre train's output): none was given");
  /* -surrogate FILE [-surrogate_mode closure] is -closure surrogate; an emulator
   * (solvers/emulator.c) is no closure, though its physics advances may use one */
  PetscCheck(!strcmp(mode, "closure") || !strcmp(mode, "emulator"), model->comm,
             PETSC_ERR_ARG_OUTOFRANGE, "-surrogate_mode %s: expected closure or emulator", mode);
  if (!strcmp(mode, "emulator")) {
    PetscCheck(
        strcmp(type, "surrogate"), model->comm, PETSC_ERR_ARG_INCOMP,
        "-closure surrogate and -surrogate_mode emulator: the surrogate is one or the other");
  } else if (surrogate[0]) {
    PetscCheck(!type_set || !strcmp(type, "surrogate"), model->comm, PETSC_ERR_ARG_INCOMP,
               "-closure %s and -surrogate %s: one closure at a time", type, surrogate);
    PetscCall(PetscStrncpy(type, "surrogate", sizeof type));
  }
  if (!strcmp(type, "none")) PetscFunctionReturn(PETSC_SUCCESS);
  {
    PetscBool help;
    PetscCall(PetscOptionsHasHelp(NULL, &help));
    PetscCheck(help || !model->no_closure, model->comm, PETSC_ERR_ARG_INCOMP, "%s%s: %s",
               surrogate[0] ? "-surrogate " : "-closure ", surrogate[0] ? surrogate : type,
               model->no_closure);
  }
  PetscCall(PetscFunctionListFind(GyreClosureList, type, &create));
  PetscCheck(create, model->comm, PETSC_ERR_ARG_UNKNOWN_TYPE,
             "unknown closure '%s' (-closure): choose none, polynomial or surrogate", type);

  PetscCall(PetscNew(&cl));
  PetscCall(PetscStrncpy(cl->name, type, sizeof cl->name));
  cl->option = "-closure";
  PetscCall(PetscStrncpy(cl->field, field, sizeof cl->field));
  {
    /* the closure's own options; then the forced component, checked now when the model's
     * grid exists (else at first use). On failure nothing is leaked. */
    PetscInt       comp;
    PetscErrorCode ierr = (*create)(cl, model);
    if (!ierr && model->dm) ierr = GyreClosureFindComponent(cl, model, &comp);
    if (ierr) {
      PetscCall(GyreClosureDestroy(&cl));
      PetscCall(ierr);
    }
  }
  *closure = cl;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode GyreClosureDestroy(GyreClosure *closure)
{
  GyreClosure cl = *closure;

  PetscFunctionBegin;
  if (!cl) PetscFunctionReturn(PETSC_SUCCESS);
  if (cl->destroy) PetscCall((*cl->destroy)(cl));
  PetscCall(PetscFree(cl));
  *closure = NULL;
  PetscFunctionReturn(PETSC_SUCCESS);
}
