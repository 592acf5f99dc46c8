/* train.c — `gyre train`: reads the -train_*, -net* and -fno_/-cnn_ options and runs the
 * surrogate library's data-parallel trainer (surrogates/gyre_trainer.h) on PETSC_COMM_WORLD.
 * Every option is documented in GyreTrainHelp and by `gyre train -help`. */
#include <petscsys.h>
#include <glob.h>
#include <string.h>
#include <unistd.h>
#include "gyre_model.h"
#include "gyre_petsc.h"
#include "gyre_run.h"
#include "gyre_trainer.h"
#include "gyre_cli.h"

const char GyreTrainHelp[] =
    "usage: gyre train -train_data 'runs/*.nc' -train_inputs X -train_targets Y -train_out "
    "model.nc [options]\n"
    "data:\n"
    "  -train_data PATTERN       gyre NetCDF files (a path or a quoted glob pattern)\n"
    "  -train_mode closure|emulator|operator   sample kind (closure)\n"
    "  -train_inputs a,b         input variables; -train_targets c,d target variables\n"
    "                            (emulator: default the inputs)\n"
    "  -train_history T          emulator: input steps (1); -train_lead k records ahead (1)\n"
    "  -train_op_t0 i -train_op_t1 j   operator: input and target records (0, last)\n"
    "  -train_per_point 0|1      MLP on each grid point's channels (default 1 for an MLP\n"
    "                            closure) or on whole fields\n"
    "  -train_stencil r          per-point MLP: inputs are the (2r+1)^dims neighbourhood of\n"
    "                            each point (periodic), e.g. X_{k-2..k+2} for r = 2 (0)\n"
    "  -train_val_fraction f     validation share, by member/file or by a final time block "
    "(0.2)\n"
    "network:\n"
    "  -net mlp|cnn|fno          architecture (mlp)\n"
    "  -net_width W              MLP hidden width (64), FNO width (20)\n"
    "  -net_depth D              MLP hidden layers (2), FNO Fourier layers (4), CNN conv layers\n"
    "                            (8, Ross et al.; without it, the length of -cnn_kernels)\n"
    "  -net_activation relu|gelu|tanh   MLP and CNN activation (MLP gelu, CNN relu)\n"
    "  -fno_modes M -fno_proj_width P -fno_grid 0|1   FNO modes (12), projection (128), grid "
    "channels (1)\n"
    "  -cnn_channels c1,c2,...   hidden channels (128,64,32,32,32,32,32); -cnn_kernels "
    "5,5,3,...\n"
    "  -cnn_batch_norm 0|1 (1)   -cnn_zero_mean 0|1 (0)\n"
    "optimisation:\n"
    "  -train_epochs E (10)      -train_batch B global batch (32), split over the ranks\n"
    "  -train_lr lr (1e-3)       -train_optimizer adam|adamw   -train_weight_decay wd (0)\n"
    "  -train_betas b1,b2        -train_eps e   -train_clip max_norm (0: none)\n"
    "  -train_schedule constant|step|cosine   -train_step_size k -train_step_gamma g\n"
    "                            -train_warmup W -train_min_lr lr (cosine)\n"
    "  -train_loss mse|rel_l2    (mse)   -train_seed S (0): weights and batch order\n"
    "  -train_early_stop N       stop after N epochs without a better validation loss (0: "
    "never)\n"
    "output:\n"
    "  -train_out FILE           the best model (refused if it exists, unless resuming or\n"
    "                            -train_overwrite, which keeps the old one aside as\n"
    "                            FILE.replaced until the training succeeds, and puts it\n"
    "                            back where it fails)\n"
    "  -train_checkpoint FILE    resumable checkpoint, every epoch (default "
    "<out>.ckpt.nc); one\n"
    "                            training at a time on it: FILE.lock (another waits\n"
    "                            GYRE_CHECKPOINT_LOCK_WAIT s, default 60, then stops)\n"
    "  -train_resume FILE|auto   continue from a checkpoint (auto: from -train_checkpoint if "
    "it exists)\n"
    "  -train_epochs_per_run N   stop after N epochs of this run (resume later); 0: all\n"
    "running:\n"
    "  -train_threads T          CPU threads per rank (0, the default: OMP_NUM_THREADS, else 1)\n"
    "  -surrogate_backend cpu|cuda  compute backend (cuda: one GPU per rank, NCCL if found)\n"
    "  -surrogate_precision fp32|tf32|bf16  GEMM arithmetic (tf32/bf16: cuda tensor cores; the\n"
    "                       cpu backend trains in fp32)\n"
    "  -train_bucket_mb M        gradient bucket size in MiB (4)\n"
    "  -train_prefetch 0|1       read the next batch in a background thread (1)\n"
    "  -quiet                    no progress lines\n"
    "exit status: 0 done; 1 an error (one line, gyre: error: ...); 75 stopped by SIGTERM or\n"
    "SIGUSR1 after writing the checkpoint (resume with -train_resume auto)\n";

static PetscErrorCode ParseList(const char *opt, const char *value, int *v, int max, int *n)
{
  char        buf[256], *save = NULL;
  const char *sep = ",";

  PetscFunctionBegin;
  PetscCall(GyreOptionsListCheck(PETSC_COMM_WORLD, opt, value, PETSC_FALSE));
  PetscCall(PetscStrncpy(buf, value, sizeof buf));
  *n = 0;
  for (char *tok = strtok_r(buf, sep, &save); tok; tok = strtok_r(NULL, sep, &save)) {
    char *end;
    long  x = strtol(tok, &end, 10);
    PetscCheck(end != tok && !*end && x > 0 && *n < max, PETSC_COMM_WORLD, PETSC_ERR_ARG_OUTOFRANGE,
               "%s %s: expected up to %d positive integers, comma-separated", opt, value, max);
    v[(*n)++] = (int) x;
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* -name VALUE among n choices; *idx unchanged when the option is absent. */
static PetscErrorCode Choice(PetscOptionItems *PetscOptionsObject, const char *name,
                             const char *help, const char *const *list, int n, PetscInt *idx)
{
  char      value[64];
  PetscBool set;
  char      known[256] = "";

  PetscFunctionBegin;
  PetscCall(PetscStrncpy(value, *idx >= 0 ? list[*idx] : "", sizeof value));
  PetscCall(PetscOptionsString(name, help, "", value, value, sizeof value, &set));
  if (!set) PetscFunctionReturn(PETSC_SUCCESS);
  for (int i = 0; i < n; i++) {
    if (!strcmp(value, list[i])) {
      *idx = i;
      PetscFunctionReturn(PETSC_SUCCESS);
    }
    PetscCall(PetscStrlcat(known, i ? (i == n - 1 ? " or " : ", ") : "", sizeof known));
    PetscCall(PetscStrlcat(known, list[i], sizeof known));
  }
  SETERRQ(PETSC_COMM_WORLD, PETSC_ERR_ARG_OUTOFRANGE, "%s %s: expected %s", name, value, known);
}

static PetscErrorCode ParseVars(const char *opt, char *value, const char **names, int *n)
{
  char *save = NULL;

  PetscFunctionBegin;
  *n = 0;
  if (value[0]) PetscCall(GyreOptionsListCheck(PETSC_COMM_WORLD, opt, value, PETSC_TRUE));
  for (char *tok = strtok_r(value, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    PetscCheck(*n < GYRE_DATA_MAX_VARS, PETSC_COMM_WORLD, PETSC_ERR_ARG_OUTOFRANGE,
               "%s: at most %d variables", opt, GYRE_DATA_MAX_VARS);
    names[(*n)++] = tok;
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Rank 0: why the existing model file out is not the model of the training that the checkpoint
 * ckpt holds ("" where it is, or where the checkpoint cannot be read: the trainer names that
 * when it resumes) */
static void NotThisTraining(const char *out, const char *ckpt, char *why, size_t n)
{
  GyreBackend      *be = NULL;
  GyreNet          *na = NULL, *nb = NULL;
  GyreModelMeta    *a = calloc(1, sizeof *a), *b = calloc(1, sizeof *b);
  GyreNormalization x, y;
  char              sa[400], sb[400];
  why[0] = '\0';
  if (a && b && !GyreBackendCreate("cpu", 1, &be) &&
      !GyreModelFileRead(MPI_COMM_SELF, ckpt, be, &nb, b, &y)) {
    if (GyreModelFileRead(MPI_COMM_SELF, out, be, &na, a, &x))
      snprintf(why, n, "it is not a readable gyre model file (%s)", GyreStatusMessage());
    else
      switch (GyreModelCompareTraining(a, b, NULL)) {
      case GYRE_TRAINING_SAME:
        break;
      case GYRE_TRAINING_OTHER_NET:
        snprintf(why, n, "its architecture, %s, is not the checkpoint's, %s",
                 GyreModelArchString(a, sa, sizeof sa), GyreModelArchString(b, sb, sizeof sb));
        break;
      case GYRE_TRAINING_OTHER_TASK:
        snprintf(
            why, n, "it was trained as %s %.120s -> %.120s, the checkpoint as %s %.120s -> %.120s",
            a->mode, a->input_fields, a->output_fields, b->mode, b->input_fields, b->output_fields);
        break;
      case GYRE_TRAINING_OTHER_SPLIT:
        snprintf(why, n, "it was trained with the split '%.200s', the checkpoint with '%.200s'",
                 a->split, b->split);
        break;
      case GYRE_TRAINING_OTHER_RECIPE:
        GyreModelRecipeDiff(a->recipe, b->recipe, sa, sb, sizeof sa);
        snprintf(why, n, "it was trained with %s, the checkpoint with %s", sa, sb);
        break;
      default:
        snprintf(why, n, "it was trained on other data than the checkpoint's");
      }
  }
  GyreNetDestroy(&na), GyreNetDestroy(&nb);
  GyreBackendDestroy(&be);
  free(a), free(b);
}

/* Options of another architecture than -net's: read (so PETSc's unused-option warning does not
 * fire) but of no effect; one warning line each */
static PetscErrorCode WarnOtherArchitecture(MPI_Comm comm, const char *net)
{
  static const struct {
    const char *opt, *nets;
  } arch[] = {{"-cnn_channels", "cnn"},  {"-cnn_kernels", "cnn"},   {"-cnn_batch_norm", "cnn"},
              {"-cnn_zero_mean", "cnn"}, {"-fno_modes", "fno"},     {"-fno_proj_width", "fno"},
              {"-fno_grid", "fno"},      {"-net_width", "mlp, fno"}};

  PetscFunctionBegin;
  for (size_t i = 0; i < sizeof arch / sizeof arch[0]; i++) {
    PetscBool has;
    PetscCall(PetscOptionsHasName(NULL, NULL, arch[i].opt, &has));
    if (has && !strstr(arch[i].nets, net))
      PetscCall(PetscFPrintf(comm, PETSC_STDERR,
                             "gyre: warning: option %s is for -net %s: it changes nothing with "
                             "-net %s\n",
                             arch[i].opt, arch[i].nets, net));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* After a failed training. moved: whether it moved the earlier files aside itself (a fresh run
 * with -train_overwrite), not a resumed leg that adopted a replacement an earlier leg began;
 * started: whether the training began. A resumed leg that failed before it began (a refused
 * checkpoint, say) leaves the replacement pending. Otherwise each file that was there before the
 * training comes back, and what the training wrote over it (this leg or an earlier one) goes to
 * FILE.failed; a file without an earlier one (the training's: a fresh run refuses existing ones)
 * keeps the training's best model so far or last checkpoint. note says where the files are (""
 * where nothing changed). Collective. */
static PetscErrorCode PutBackFailed(MPI_Comm comm, const char *out, const char *ckpt, int moved,
                                    int started, char **out_aside, char **ckpt_aside, char *note,
                                    size_t len)
{
  const char *path[2]  = {out, ckpt};
  char      **aside[2] = {out_aside, ckpt_aside};
  char        failed[2][PETSC_MAX_PATH_LEN + 8], part[2][2 * PETSC_MAX_PATH_LEN + 128];
  int         has[2][2] = {{0, 0}, {0, 0}}; /* [file]: now at path, an earlier FILE.failed */
  int         said      = 0;                /* why the file is back */
  PetscMPIInt rank;

  PetscFunctionBegin;
  note[0] = 0;
  if (!moved && !started) { /* nothing changed: the replacement stays pending */
    free(*out_aside), free(*ckpt_aside);
    *out_aside = *ckpt_aside = NULL;
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  for (int i = 0; i < 2; i++) {
    PetscCall(PetscSNPrintf(failed[i], sizeof failed[i], "%s.failed", path[i]));
    if (rank == 0) has[i][0] = access(path[i], F_OK) == 0, has[i][1] = access(failed[i], F_OK) == 0;
  }
  PetscCallMPI(MPI_Bcast(has, 4, MPI_INT, 0, comm));
  for (int i = 0; i < 2; i++) {
    const char *what = i ? "checkpoint" : "-train_out";
    part[i][0]       = 0;
    if (*aside[i]) { /* back; what the training wrote over it to FILE.failed */
      PetscCallGyre(comm, GyreFilePutBack(comm, path[i], aside[i], has[i][0] ? failed[i] : NULL));
      PetscCall(PetscSNPrintf(
          part[i], sizeof part[i], "; %s '%s' is back as it was before the training%s%s%s%s%s",
          what, path[i],
          said ? "" : " (-train_overwrite replaces it only when the training succeeds)",
          has[i][0] ? ", the training's in '" : "", has[i][0] ? failed[i] : "",
          has[i][0] ? "'" : "",
          has[i][0] && has[i][1] ? " (replacing an earlier failed run's)" : ""));
      said = 1;
    } else if (has[i][0] && started)
      PetscCall(PetscSNPrintf(part[i], sizeof part[i], "; %s '%s' holds %s", what, path[i],
                              i ? "the last epoch's checkpoint" : "the best model so far"));
  }
  PetscCall(PetscSNPrintf(note, len, "%s%s", part[0], part[1]));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static int StopRequested(void *ctx)
{
  (void) ctx;
  return GyreSignalsReceived(); /* the signal's number, or 0 */
}

/* The checkpoint lock this process holds (rank 0; -1: none), released by GyreTrainFailed where
 * the command ends in an error */
static char train_lock_path[PETSC_MAX_PATH_LEN];
static int  train_lock_fd = -1;

void GyreTrainFailed(void)
{
  GyreCheckpointUnlock(train_lock_path, train_lock_fd);
  train_lock_fd = -1;
}

PetscErrorCode GyreTrainCommand(MPI_Comm comm, int argc, char **argv, int *exitcode)
{
  GyreTrainerOptions o;
  char data[PETSC_MAX_PATH_LEN] = "", out[PETSC_MAX_PATH_LEN] = "", ckpt[PETSC_MAX_PATH_LEN] = "",
       resume[PETSC_MAX_PATH_LEN] = "";
  char inputs[512] = "", targets[512] = "", betas[64] = "", channels[256] = "", kernels[256] = "",
       backend[16] = "cpu", precision[16] = "fp32";
  const char *modes[] = {"closure", "emulator", "operator"}, *nets[] = {"mlp", "fno", "cnn"};
  const char *acts[] = {"relu", "gelu", "tanh"}, *opts[] = {"adam", "adamw"};
  const char *scheds[] = {"constant", "step", "cosine"}, *losses[] = {"mse", "rel_l2"};
  PetscInt    mode = 0, net = 0, act = -1, optim = 0, sched = 0, lossi = 0;
  PetscInt    width = -1, depth = -1, modes_ = 12, proj = 128, history = 1, lead = 1;
  PetscBool   width_set = PETSC_FALSE, depth_set = PETSC_FALSE; /* unset: the default */
  PetscInt    epochs = 10, batch = 32, seed = 0, early = 0, threads = 0, step_size = 30;
  PetscInt    warmup = 0, per_point = -1, t0 = 0, t1 = -1, per_run = 0, stencil = 0;
  PetscBool   grid = PETSC_TRUE, bn = PETSC_TRUE, zero_mean = PETSC_FALSE, quiet = PETSC_FALSE;
  PetscBool   prefetch = PETSC_TRUE, overwrite = PETSC_FALSE, help;
  PetscReal   lr = 1e-3, wd = 0, eps = 1e-8, clip = 0, gamma = 0.1, min_lr = 0, val = 0.2;
  PetscReal   bucket_mb = 4;

  PetscFunctionBegin;
  *exitcode = 0;
  PetscCall(PetscOptionsHasHelp(NULL, &help));
  GyreTrainerOptionsDefault(&o);
  PetscOptionsBegin(comm, NULL, "gyre train: train a surrogate, data-parallel over the ranks",
                    "train");
  PetscCall(PetscOptionsString("-train_data", "data files (path or glob)", "", data, data,
                               sizeof data, NULL));
  PetscCall(Choice(PetscOptionsObject, "-train_mode", "sample kind", modes, 3, &mode));
  PetscCall(PetscOptionsString("-train_inputs", "input variables, comma-separated", "", inputs,
                               inputs, sizeof inputs, NULL));
  PetscCall(PetscOptionsString("-train_targets", "target variables, comma-separated", "", targets,
                               targets, sizeof targets, NULL));
  PetscCall(PetscOptionsInt("-train_history", "emulator input steps", "", history, &history, NULL));
  PetscCall(PetscOptionsInt("-train_lead", "emulator records ahead", "", lead, &lead, NULL));
  PetscCall(PetscOptionsInt("-train_op_t0", "operator input record", "", t0, &t0, NULL));
  PetscCall(
      PetscOptionsInt("-train_op_t1", "operator target record (-1: last)", "", t1, &t1, NULL));
  PetscCall(PetscOptionsInt("-train_per_point", "MLP per grid point (1) or on whole fields (0)", "",
                            per_point, &per_point, NULL));
  PetscCall(PetscOptionsInt("-train_stencil", "per-point MLP: neighbours on each side", "", stencil,
                            &stencil, NULL));
  PetscCall(PetscOptionsReal("-train_val_fraction", "validation share", "", val, &val, NULL));
  PetscCall(Choice(PetscOptionsObject, "-net", "architecture", nets, 3, &net));
  PetscCall(
      PetscOptionsInt("-net_width", "MLP hidden width / FNO width", "", width, &width, &width_set));
  PetscCall(PetscOptionsInt("-net_depth", "MLP hidden layers / FNO layers / CNN layers", "", depth,
                            &depth, &depth_set));
  PetscCall(Choice(PetscOptionsObject, "-net_activation", "activation", acts, 3, &act));
  PetscCall(PetscOptionsBoundedInt("-fno_modes", "FNO modes per dimension", "", modes_, &modes_,
                                   NULL, 1));
  PetscCall(
      PetscOptionsBoundedInt("-fno_proj_width", "FNO projection width", "", proj, &proj, NULL, 1));
  PetscCall(PetscOptionsBool("-fno_grid", "FNO grid channels", "", grid, &grid, NULL));
  PetscCall(PetscOptionsString("-cnn_channels", "CNN hidden channels", "", channels, channels,
                               sizeof channels, NULL));
  PetscCall(PetscOptionsString("-cnn_kernels", "CNN kernel sizes", "", kernels, kernels,
                               sizeof kernels, NULL));
  PetscCall(PetscOptionsBool("-cnn_batch_norm", "CNN batch norm", "", bn, &bn, NULL));
  PetscCall(
      PetscOptionsBool("-cnn_zero_mean", "CNN zero-mean output", "", zero_mean, &zero_mean, NULL));
  PetscCall(PetscOptionsInt("-train_epochs", "epochs", "", epochs, &epochs, NULL));
  PetscCall(PetscOptionsInt("-train_batch", "global batch", "", batch, &batch, NULL));
  PetscCall(PetscOptionsReal("-train_lr", "learning rate", "", lr, &lr, NULL));
  PetscCall(Choice(PetscOptionsObject, "-train_optimizer", "optimiser", opts, 2, &optim));
  PetscCall(PetscOptionsReal("-train_weight_decay", "weight decay", "", wd, &wd, NULL));
  PetscCall(
      PetscOptionsString("-train_betas", "Adam betas b1,b2", "", betas, betas, sizeof betas, NULL));
  PetscCall(PetscOptionsReal("-train_eps", "Adam epsilon", "", eps, &eps, NULL));
  PetscCall(PetscOptionsReal("-train_clip", "max gradient norm (0: none)", "", clip, &clip, NULL));
  PetscCall(
      Choice(PetscOptionsObject, "-train_schedule", "learning-rate schedule", scheds, 3, &sched));
  PetscCall(PetscOptionsInt("-train_step_size", "step schedule: epochs per decay", "", step_size,
                            &step_size, NULL));
  PetscCall(
      PetscOptionsReal("-train_step_gamma", "step schedule: factor", "", gamma, &gamma, NULL));
  PetscCall(PetscOptionsInt("-train_warmup", "cosine: warm-up epochs", "", warmup, &warmup, NULL));
  PetscCall(
      PetscOptionsReal("-train_min_lr", "cosine: final learning rate", "", min_lr, &min_lr, NULL));
  PetscCall(Choice(PetscOptionsObject, "-train_loss", "loss", losses, 2, &lossi));
  PetscCall(PetscOptionsInt("-train_seed", "seed of weights and batches", "", seed, &seed, NULL));
  PetscCall(PetscOptionsInt("-train_early_stop", "patience in epochs (0: none)", "", early, &early,
                            NULL));
  PetscCall(PetscOptionsInt("-train_epochs_per_run", "epochs in this run, then stop (0: all)", "",
                            per_run, &per_run, NULL));
  PetscCall(PetscOptionsString("-train_out", "best model file", "", out, out, sizeof out, NULL));
  PetscCall(PetscOptionsBool("-train_overwrite", "replace an existing -train_out", "", overwrite,
                             &overwrite, NULL));
  PetscCall(PetscOptionsString("-train_checkpoint", "checkpoint file", "", ckpt, ckpt, sizeof ckpt,
                               NULL));
  PetscCall(PetscOptionsString("-train_resume", "checkpoint to resume from, or auto", "", resume,
                               resume, sizeof resume, NULL));
  PetscCall(PetscOptionsInt("-train_threads", "CPU threads per rank", "", threads, &threads, NULL));
  PetscCall(PetscOptionsString("-surrogate_backend", "backend", "", backend, backend,
                               sizeof backend, NULL));
  PetscCall(PetscOptionsString("-surrogate_precision", "GEMM arithmetic: fp32, tf32, bf16", "",
                               precision, precision, sizeof precision, NULL));
  PetscCall(PetscOptionsReal("-train_bucket_mb", "gradient bucket size in MiB", "", bucket_mb,
                             &bucket_mb, NULL));
  PetscCall(PetscOptionsBool("-train_prefetch", "background batch reading", "", prefetch, &prefetch,
                             NULL));
  PetscCall(PetscOptionsBool("-quiet", "no progress lines", "", quiet, &quiet, NULL));
  PetscOptionsEnd();
  if (help) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(WarnOtherArchitecture(comm, nets[net]));

  /* what is required */
  PetscCheck(data[0], comm, PETSC_ERR_USER_INPUT,
             "no -train_data given: gyre train -train_data 'runs/*.nc' ... (see gyre train -help)");
  PetscCheck(inputs[0], comm, PETSC_ERR_USER_INPUT, "no -train_inputs given (variable names)");
  PetscCheck(targets[0] || mode == GYRE_SAMPLE_EMULATOR, comm, PETSC_ERR_USER_INPUT,
             "no -train_targets given (needed for -train_mode %s)", modes[mode]);
  PetscCheck(out[0], comm, PETSC_ERR_USER_INPUT, "no -train_out FILE given (the model file)");
  PetscCheck(!strcmp(backend, "cpu") || !strcmp(backend, "cuda"), comm, PETSC_ERR_ARG_OUTOFRANGE,
             "-surrogate_backend %s: expected cpu or cuda", backend);
  /* the backend's knobs in the environment, before any file is touched (the backend's
   * creation checks them again) */
  PetscCallGyre(comm, GyreStatusAgree(comm, GyreBackendCheckEnv())); /* (every rank's) */
  PetscCheck(batch >= 1, comm, PETSC_ERR_ARG_OUTOFRANGE,
             "-train_batch %" PetscInt_FMT " must be at least 1", batch);
  PetscCheck(epochs >= 1, comm, PETSC_ERR_ARG_OUTOFRANGE,
             "-train_epochs %" PetscInt_FMT " must be at least 1", epochs);
  PetscCheck(threads >= 0, comm, PETSC_ERR_ARG_OUTOFRANGE,
             "-train_threads %" PetscInt_FMT " must be at least 0 (0: OMP_NUM_THREADS, else 1)",
             threads);
  /* counts and sizes (-1: the architecture's default width and depth) */
  PetscCheck(!width_set || width >= 1, comm, PETSC_ERR_ARG_OUTOFRANGE,
             "-net_width %" PetscInt_FMT " must be at least 1", width);
  PetscCheck(!depth_set || depth >= 0, comm, PETSC_ERR_ARG_OUTOFRANGE,
             "-net_depth %" PetscInt_FMT " must be at least 0", depth);
  PetscCheck(history >= 1 && lead >= 1, comm, PETSC_ERR_ARG_OUTOFRANGE,
             "-train_history %" PetscInt_FMT " and -train_lead %" PetscInt_FMT
             " must be at least 1",
             history, lead);
  PetscCheck(stencil >= 0, comm, PETSC_ERR_ARG_OUTOFRANGE,
             "-train_stencil %" PetscInt_FMT " must be at least 0", stencil);
  PetscCheck(t0 >= 0 && (t1 == -1 || t1 > t0), comm, PETSC_ERR_ARG_OUTOFRANGE,
             "-train_op_t0 %" PetscInt_FMT " and -train_op_t1 %" PetscInt_FMT
             ": expected 0 <= t0 < t1 (t1 -1: the last record)",
             t0, t1);
  PetscCheck(clip >= 0 && warmup >= 0 && step_size >= 1, comm, PETSC_ERR_ARG_OUTOFRANGE,
             "-train_clip %g, -train_warmup %" PetscInt_FMT " and -train_step_size %" PetscInt_FMT
             ": expected >= 0, >= 0 and >= 1",
             (double) clip, warmup, step_size);
  PetscCheck(bucket_mb > 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "-train_bucket_mb %g must be > 0",
             (double) bucket_mb);
  PetscCheck(per_point >= -1 && per_point <= 1, comm, PETSC_ERR_ARG_OUTOFRANGE,
             "-train_per_point %" PetscInt_FMT ": expected 0 or 1", per_point);
  /* the checkpoint's name, and whether the run starts afresh */
  char path[PETSC_MAX_PATH_LEN] = "";
  int  fresh                    = 0;
  {
    /* a fresh run never replaces a model file unless asked to; a resumed one updates it.
     * -train_resume auto is a fresh run where its checkpoint does not exist (a requeued job
     * whose checkpoint went missing must not quietly train afresh over its model file) */
    PetscBool          is_auto = (PetscBool) !strcmp(resume, "auto");
    int                clash   = 0; /* 1: the model file exists, 2: and auto found no checkpoint */
    GyreTrainerOptions where   = {.out = out, .checkpoint = ckpt};
    PetscMPIInt        rank;
    PetscCallMPI(MPI_Comm_rank(comm, &rank));
    GyreTrainerCheckpointPath(&where, path, sizeof path);
    /* every epoch's checkpoint would replace the best model */
    PetscCheck(!GyreFilesSame(out, path), comm, PETSC_ERR_USER_INPUT,
               "-train_checkpoint '%s' is -train_out '%s': the checkpoint and the model file need "
               "two names",
               path, out);
    /* one training at a time on a checkpoint (held until the training ends, its file then
     * removed: GyreCheckpointUnlock below), before -train_resume auto looks for it */
    PetscCall(GyreCheckpointLock(comm, path, "train", "-train_checkpoint", &train_lock_fd));
    PetscCall(PetscStrncpy(train_lock_path, path, sizeof train_lock_path));
    if (rank == 0 && (!resume[0] || (is_auto && access(path, F_OK) != 0)) && access(out, F_OK) == 0)
      clash = is_auto ? 2 : 1;
    /* the model file or its checkpoint is one of the data files (the glob's matches) */
    int same = -1; /* which: 0 the model file, 1 the checkpoint */
    if (rank == 0) {
      glob_t g;
      if (!glob(data, 0, NULL, &g)) {
        for (size_t i = 0; same < 0 && i < g.gl_pathc; i++)
          same = GyreFilesSame(out, g.gl_pathv[i])    ? 0
                 : GyreFilesSame(path, g.gl_pathv[i]) ? 1
                                                      : -1;
        globfree(&g);
      }
    }
    PetscCallMPI(MPI_Bcast(&same, 1, MPI_INT, 0, comm));
    PetscCheck(same < 0, comm, PETSC_ERR_USER_INPUT,
               "%s '%s' is one of the -train_data files '%s': training would replace its data; "
               "choose another %s",
               same == 0 ? "-train_out" : "the checkpoint", same == 0 ? out : path, data,
               same == 0 ? "-train_out" : "-train_checkpoint");
    /* a fresh run never replaces an existing checkpoint unless asked to either; a resumed one
     * updates -train_out only where it is that training's model */
    fresh = !resume[0] || (is_auto && access(path, F_OK) != 0);
    PetscCallMPI(MPI_Bcast(&fresh, 1, MPI_INT, 0, comm)); /* (one view of the files) */
    const char *from      = is_auto ? path : resume;      /* the checkpoint a resumed run reads */
    char        why[1024] = "";
    int         other     = 0; /* 1: a fresh run's checkpoint exists; 2: -train_out is the
                                * checkpoint resumed from; 3: -train_out is another model */
    if (rank == 0) {
      if (fresh && access(path, F_OK) == 0)
        other = 1;
      else if (!fresh && GyreFilesSame(out, from))
        other = 2;
      else if (!fresh && access(out, F_OK) == 0) {
        NotThisTraining(out, from, why, sizeof why);
        other = why[0] ? 3 : 0;
      }
    }
    PetscCallMPI(MPI_Bcast(&other, 1, MPI_INT, 0, comm));
    PetscCallMPI(MPI_Bcast(why, sizeof why, MPI_CHAR, 0, comm));
    PetscCallMPI(MPI_Bcast(&clash, 1, MPI_INT, 0, comm));
    /* (an earlier training's model file and checkpoint: both named) */
    PetscCheck(other != 1 || overwrite || clash != 1, comm, PETSC_ERR_FILE_OPEN,
               "-train_out '%s' and its checkpoint '%s' exist and this training starts afresh: "
               "resume from them with -train_resume, remove them, or give -train_overwrite",
               out, path);
    PetscCheck(other != 1 || overwrite, comm, PETSC_ERR_FILE_OPEN,
               "the checkpoint '%s' exists and this training starts afresh: resume from it with "
               "-train_resume, remove it, or give -train_overwrite",
               path);
    PetscCheck(other != 2, comm, PETSC_ERR_USER_INPUT,
               "-train_out '%s' is the checkpoint '%s' the training resumes from: choose another "
               "-train_out",
               out, from);
    PetscCheck(other != 3 || overwrite, comm, PETSC_ERR_FILE_OPEN,
               "-train_out '%s' exists and is not the model of the training resumed from '%s': "
               "%s; choose another -train_out, or give -train_overwrite",
               out, from, why);
    PetscCheck(clash != 1 || overwrite, comm, PETSC_ERR_FILE_OPEN,
               "-train_out '%s' exists: remove it, give -train_overwrite, or resume with "
               "-train_resume",
               out);
    PetscCheck(clash != 2 || overwrite, comm, PETSC_ERR_FILE_OPEN,
               "-train_out '%s' exists but its checkpoint '%s' does not (-train_resume auto): "
               "give the checkpoint back, remove the model file, or give -train_overwrite",
               out, path);
    /* a replacement an earlier -train_overwrite run began and never ended (killed): only a
     * resumed run or another -train_overwrite takes it over */
    int pending = 0; /* 1: the model file's, 2: the checkpoint's */
    if (rank == 0 && fresh && !overwrite) {
      char name[PETSC_MAX_PATH_LEN + 16];
      PetscCall(PetscSNPrintf(name, sizeof name, "%s.replaced", out));
      pending = access(name, F_OK) == 0 ? 1 : 0;
      PetscCall(PetscSNPrintf(name, sizeof name, "%s.replaced", path));
      if (!pending && access(name, F_OK) == 0) pending = 2;
    }
    PetscCallMPI(MPI_Bcast(&pending, 1, MPI_INT, 0, comm));
    PetscCheck(!pending, comm, PETSC_ERR_FILE_OPEN,
               "'%s.replaced' is the %s an earlier -train_overwrite run replaced and never ended "
               "(killed?): resume that training with -train_resume, put the file back as '%s', "
               "or give -train_overwrite",
               pending == 1 ? out : path, pending == 1 ? "model file" : "checkpoint",
               pending == 1 ? out : path);
    /* both are written after the first epoch: an unwritable one fails now, not then */
    PetscCallGyre(comm, GyreFileCheckReplaceable(comm, out));
    PetscCallGyre(comm, GyreFileCheckReplaceable(comm, path));
  }

  /* the data */
  o.data.pattern      = data;
  o.data.kind         = (GyreSampleKind) mode;
  o.data.history      = (int) history;
  o.data.lead         = (int) lead;
  o.data.op_t0        = t0;
  o.data.op_t1        = t1;
  o.data.per_point    = per_point >= 0 ? (int) per_point : (net == 0 && mode == 0);
  o.data.stencil      = (int) stencil;
  o.data.val_fraction = val;
  o.data.seed         = (uint64_t) seed;
  o.data.batch        = (int) batch;
  o.data.prefetch     = prefetch;
  PetscCall(ParseVars("-train_inputs", inputs, o.data.inputs, &o.data.ninputs));
  PetscCall(ParseVars("-train_targets", targets, o.data.targets, &o.data.ntargets));

  /* the network */
  o.net = net == 0 ? GYRE_NET_MLP : net == 1 ? GYRE_NET_FNO : GYRE_NET_CNN;
  if (width > 0) o.mlp.width = o.fno.width = (int) width;
  if (depth >= 0) o.mlp.depth = (int) depth;
  if (act >= 0) o.mlp.activation = o.cnn.activation = (GyreActivation) act;
  o.fno.modes      = (int) modes_;
  o.fno.proj_width = (int) proj;
  o.fno.grid       = grid;
  if (depth > 0) o.fno.layers = (int) depth;
  o.cnn.batch_norm = bn;
  o.cnn.zero_mean  = zero_mean;
  if (o.net == GYRE_NET_CNN) {
    int nc = o.cnn.nlayers - 1, nk = o.cnn.nlayers;
    if (channels[0]) PetscCall(ParseList("-cnn_channels", channels, o.cnn.channels, 16, &nc));
    if (kernels[0]) PetscCall(ParseList("-cnn_kernels", kernels, o.cnn.kernels, 16, &nk));
    /* the depth: -net_depth, else the kernel list's length, else the channel list's plus one */
    if (depth > 0)
      o.cnn.nlayers = (int) depth;
    else if (kernels[0])
      o.cnn.nlayers = nk;
    else if (channels[0])
      o.cnn.nlayers = nc + 1;
    PetscCheck(o.cnn.nlayers <= GYRE_CNN_MAX_LAYERS, comm, PETSC_ERR_ARG_OUTOFRANGE,
               "-net_depth %d: the CNN has at most %d layers", o.cnn.nlayers, GYRE_CNN_MAX_LAYERS);
    PetscCheck(nc == o.cnn.nlayers - 1 && nk == o.cnn.nlayers, comm, PETSC_ERR_ARG_OUTOFRANGE,
               "a CNN of %d layers (%s) needs %d hidden channel counts (-cnn_channels) and %d "
               "kernel sizes (-cnn_kernels), got %d and %d",
               o.cnn.nlayers,
               depth > 0     ? "-net_depth"
               : kernels[0]  ? "the length of -cnn_kernels"
               : channels[0] ? "the length of -cnn_channels plus one"
                             : "the default",
               o.cnn.nlayers - 1, o.cnn.nlayers, nc, nk);
  }

  /* the optimiser */
  o.opt.type         = optim ? GYRE_OPT_ADAMW : GYRE_OPT_ADAM;
  o.opt.lr           = lr;
  o.opt.eps          = eps;
  o.opt.weight_decay = wd;
  o.opt.schedule     = (GyreScheduleType) sched;
  o.opt.step_size    = (int) step_size;
  o.opt.step_gamma   = gamma;
  o.opt.warmup       = (int) warmup;
  o.opt.min_lr       = min_lr;
  o.opt.clip         = clip;
  if (betas[0]) {
    double b1, b2;
    char   tail;
    PetscCheck(sscanf(betas, "%lf,%lf%c", &b1, &b2, &tail) == 2, comm, PETSC_ERR_ARG_OUTOFRANGE,
               "-train_betas %s: expected b1,b2", betas);
    o.opt.beta1 = b1, o.opt.beta2 = b2;
  }
  o.loss           = lossi ? GYRE_LOSS_REL_L2 : GYRE_LOSS_MSE;
  o.epochs         = (int) epochs;
  o.early_stop     = (int) early;
  o.epochs_per_run = (int) per_run;
  o.seed           = (uint64_t) seed;
  o.out            = out;
  o.checkpoint     = ckpt[0] ? ckpt : NULL;
  o.resume         = resume[0] ? resume : NULL;
  o.bucket_bytes   = (size_t) (bucket_mb * 1048576.0);
  o.log            = quiet ? NULL : stdout;

  /* provenance: the command line and the whole options database */
  char *line = NULL, *all = NULL, *text = NULL;
  PetscCall(GyreCommandLine(argc, argv, &line));
  PetscCall(PetscOptionsGetAll(NULL, &all));
  size_t len = strlen(line) + strlen(all) + 64;
  PetscCall(PetscMalloc1(len, &text));
  snprintf(text, len, "command: %s\noptions: %s", line, all);
  o.training_options = text;

  /* SIGTERM/SIGUSR1 (Slurm's warning): checkpoint after the current step, exit 75 */
  PetscCall(GyreSignalsInstall());
  o.stop = StopRequested;

  /* every option is read by now: one misspelt shows before the first epoch, not after the last */
  PetscCall(GyreOptionsWarnUnused(comm, "train"));
  /* the CPU's bf16 is a CNN's inference only: training there would be fp32 under a bf16 label
   * (checked before the backend's own check, which would name the hardware as if it were
   * enough) */
  PetscCheck(strcmp(backend, "cpu") || strcmp(precision, "bf16"), comm, PETSC_ERR_ARG_WRONG,
             "-surrogate_precision bf16 with -surrogate_backend cpu: the cpu backend trains in "
             "fp32 (its bf16 is a CNN's inference: train in fp32, then run the model with "
             "-surrogate_precision bf16 in gyre simulate)");
  GyreBackend *be = NULL;
  PetscCallGyre(comm, GyreBackendCreate(backend, (int) threads, &be));
  PetscCallGyre(comm, GyreBackendSetPrecision(be, precision));
  /* -train_overwrite replaces the model file and its checkpoint only when the training succeeds:
   * until then they are aside (FILE.replaced), back after a failure. A resumed run completes the
   * replacement an earlier leg began (stopped by a signal, or killed). */
  char      *out_aside = NULL, *ckpt_aside = NULL;
  const int  moved = fresh && overwrite;
  GyreStatus st    = GYRE_OK;
  if (moved || !fresh) { /* (a fresh run without -train_overwrite has refused a pending one) */
    PetscCallGyre(comm, GyreFileMoveAside(comm, out, moved, &out_aside));
    st = GyreFileMoveAside(comm, path, moved, &ckpt_aside);
  }
  if (st) {
    char msg[1024];
    PetscCall(PetscSNPrintf(msg, sizeof msg, "%s", GyreStatusMessage()));
    if (moved) PetscCallGyre(comm, GyreFilePutBack(comm, out, &out_aside, NULL));
    free(out_aside);
    SETERRQ(comm, PETSC_ERR_FILE_OPEN, "%s", msg);
  }
  GyreTrainerResult res;
  st = GyreTrain(comm, be, &o, &res);
  GyreBackendDestroy(&be);
  PetscCall(PetscFree(line));
  PetscCall(PetscFree(all));
  PetscCall(PetscFree(text));
  if (st) {
    char msg[2048], note[3 * PETSC_MAX_PATH_LEN];
    PetscCall(PetscSNPrintf(msg, sizeof msg, "%s", GyreStatusMessage()));
    PetscCall(PutBackFailed(comm, out, path, moved, res.started, &out_aside, &ckpt_aside, note,
                            sizeof note));
    SETERRQ(comm, PETSC_ERR_LIB, "%s%s", msg, note);
  }
  if (res.interrupted) *exitcode = GYRE_EXIT_CHECKPOINTED;
  if (res.interrupted || (res.epochs_run < o.epochs && !res.stopped_early)) {
    /* stopped by a signal or after -train_epochs_per_run: the replacement goes on when the
     * training resumes */
    if ((out_aside || ckpt_aside) && !quiet)
      PetscCall(PetscPrintf(comm,
                            "train: the files this training replaces stay in '%s' until the "
                            "training ends\n",
                            out_aside ? out_aside : ckpt_aside));
    free(out_aside), free(ckpt_aside);
  } else {
    PetscCallGyre(comm, GyreFileDropAside(comm, &out_aside));
    PetscCallGyre(comm, GyreFileDropAside(comm, &ckpt_aside));
  }
  GyreTrainFailed(); /* (not failed: the same release; an error before here, by main) */
  PetscFunctionReturn(PETSC_SUCCESS);
}
