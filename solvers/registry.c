/* registry.c — the list of physical models, chosen by name with -model NAME.
 * Adding a model is one file (solvers/model_<name>.c) and one line below. */
#include "gyre_model.h"

static PetscFunctionList GyreModelList = NULL;

static PetscErrorCode GyreModelRegistryFinalize(void)
{
  PetscFunctionBegin;
  PetscCall(PetscFunctionListDestroy(&GyreModelList));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode GyreModelRegisterAll(void)
{
  PetscFunctionBegin;
  if (GyreModelList) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(PetscRegisterFinalize(GyreModelRegistryFinalize));
  PetscCall(PetscFunctionListAdd(&GyreModelList, "l96", GyreModelCreate_L96));
  PetscCall(PetscFunctionListAdd(&GyreModelList, "ns2d", GyreModelCreate_NS2D));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode GyreModelListPrint(MPI_Comm comm)
{
  PetscFunctionBegin;
  PetscCall(GyreModelRegisterAll());
  PetscCall(PetscPrintf(comm, "models (-model NAME): l96, ns2d\n"));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode GyreModelCreate(MPI_Comm comm, const char *name, GyreModel *model)
{
  PetscErrorCode (*create)(GyreModel) = NULL;
  GyreModel m;

  PetscFunctionBegin;
  PetscCall(GyreModelRegisterAll());
  PetscCall(PetscFunctionListFind(GyreModelList, name, &create));
  PetscCheck(create, comm, PETSC_ERR_ARG_UNKNOWN_TYPE,
             "unknown model '%s' (-model): known models are l96, ns2d", name);
  PetscCall(PetscNew(&m));
  PetscCall(PetscStrncpy(m->name, name, sizeof m->name));
  m->comm          = comm;
  m->output_stride = 1;
  m->ensemble_size = 1;
  m->timekind      = GYRE_TIME_NONDIM;
  PetscCall((*create)(m));
  *model = m;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode GyreModelDestroy(GyreModel *model)
{
  GyreModel m = *model;

  PetscFunctionBegin;
  if (!m) PetscFunctionReturn(PETSC_SUCCESS);
  if (m->ops.destroy) PetscCall((*m->ops.destroy)(m));
  PetscCall(DMDestroy(&m->dm));
  PetscCall(GyreClosureDestroy(&m->closure));
  PetscCall(PetscFree(m));
  *model = NULL;
  PetscFunctionReturn(PETSC_SUCCESS);
}
