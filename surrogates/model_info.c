/* model_info.c — `gyre info model.nc`: a model file validated and described in words
 * (GyreModelFilePrint, gyre_model_file.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "gyre_io.h"
#include "gyre_model_file.h"

/* A global text attribute, or "" when absent (provenance written by the model writer). */
static void att(const char *path, const char *name, char *buf, size_t len)
{
  GyreFile f   = NULL;
  char    *val = NULL;
  buf[0]       = 0;
  if (GyreFileOpen(MPI_COMM_SELF, path, 0, &f)) return;
  if (!GyreFileGetAttText(f, name, &val)) snprintf(buf, len, "%s", val);
  free(val);
  GyreFileClose(&f);
}

static void print_norm(FILE *out, const char *what, const char *fields, int n, const double *mean,
                       const double *std)
{
  fprintf(out, "  %s (%s):", what, fields);
  for (int c = 0; c < n; c++)
    fprintf(out, "%s mean %.6g std %.6g", c ? ";" : "", mean[c], std[c]);
  fprintf(out, "\n");
}

GyreStatus GyreModelFilePrint(MPI_Comm comm, const char *path, FILE *out)
{
  GyreBackend      *be  = NULL;
  GyreNet          *net = NULL;
  GyreModelMeta    *m   = calloc(1, sizeof *m);
  GyreNormalization norm;
  GyreModelTraining rec = {0};
  GyreOptimizer    *opt = NULL;
  int               rank;
  if (!m) return GyreStatusSet(GYRE_ERR_MEM, "out of memory");
  MPI_Comm_rank(comm, &rank);
  GyreStatus st = GyreBackendCreate("cpu", 1, &be);
  if (!st) st = GyreModelFileRead(comm, path, be, &net, m, &norm);
  int has_opt = 0, has_norm_sha = 0;
  if (!st) {
    /* the optimiser state when present (its shapes are checked too), else the curve alone */
    int                np;
    GyreTensor *const *p, *const *g;
    const char *const   *names;
    GyreOptimizerOptions oo;
    GyreOptimizerOptionsDefault(&oo);
    st = GyreNetParameters(net, &np, &p, &g, &names);
    if (!st) st = GyreOptimizerCreate(be, np, p, g, &oo, &opt);
    double   flag = 0;
    GyreFile f    = NULL;
    if (!st && !GyreFileOpen(comm, path, 0, &f)) {
      char *nsha = NULL;
      if (!GyreFileGetAttDouble(f, "has_optimizer_state", &flag)) has_opt = flag != 0;
      has_norm_sha = !GyreFileGetAttText(f, "normalization_sha256", &nsha);
      free(nsha);
      GyreFileClose(&f);
    }
    rec.opt = has_opt ? opt : NULL;
    if (!st) st = GyreModelFileReadTraining(comm, path, net, &rec);
  }
  if (!st && rank == 0) {
    char buf[1024];
    fprintf(out,
            "%s: gyre surrogate model file: valid (format version %d; every weight present "
            "with its shape, finite, SHA-256 of the weights%s verified%s)\n",
            path, GYRE_MODEL_FORMAT_VERSION, has_norm_sha ? " and of the normalisation" : "",
            has_norm_sha ? ""
                         : "; the normalisation has no checksum (a file from before it was "
                           "stored)");
    fprintf(out, "  architecture: %s\n", GyreModelArchString(m, buf, sizeof buf));
    fprintf(out, "  trained as: %s, %s -> %s", m->mode[0] ? m->mode : "(mode not recorded)",
            m->input_fields, m->output_fields);
    if (m->type == GYRE_NET_MLP)
      fprintf(out, ", %s", m->per_point ? "applied at each grid point" : "on whole fields");
    if (m->type == GYRE_NET_MLP && m->per_point && m->stencil)
      fprintf(out, " to a stencil of %d neighbours on each side", m->stencil);
    fprintf(out, ", history %d, lead %d\n", m->history, m->lead);
    fprintf(out, "  units: %s\n", m->units);
    fprintf(out, "  grid: %d x %d points (nx x ny), spacing dx %g dy %g; record spacing %g\n",
            m->grid_nx, m->grid_ny, m->dx, m->dy, m->record_dt);
    if (!isnan(m->val_loss_fp32))
      fprintf(out, "  precision: trained in %s; validation loss %.6g (%s), %.6g (fp32): %+.3g%%\n",
              m->precision, m->val_loss_precision, m->precision, m->val_loss_fp32,
              100.0 * (m->val_loss_precision - m->val_loss_fp32) / m->val_loss_fp32);
    else
      fprintf(out, "  precision: trained in %s\n", m->precision[0] ? m->precision : "fp32");
    fprintf(out, "  normalisation (per channel, over the training samples):\n");
    print_norm(out, "  inputs", m->input_fields, norm.nin, norm.in_mean, norm.in_std);
    print_norm(out, "  targets", m->output_fields, norm.nout, norm.out_mean, norm.out_std);
    if (norm.has_band) {
      fprintf(out, "  inputs' spatial mean square over the training fields (the guard's band):");
      for (int c = 0; c < norm.nin; c++)
        fprintf(out, "%s [%.6g, %.6g]", c ? ";" : "", norm.in_ms_min[c], norm.in_ms_max[c]);
      fprintf(out, "\n");
    } else
      fprintf(out, "  the guard's band: none recorded (a file from before it was stored): a run "
                   "with it has no invariant check\n");
    fprintf(out, "  split: %s\n", m->split);
    if (m->recipe[0]) fprintf(out, "  recipe: %s\n", m->recipe);
    if (rec.nepochs > 0) {
      const double *score = rec.val_loss ? rec.val_loss : rec.train_loss;
      int           best  = 0;
      for (int i = 1; i < rec.nepochs; i++)
        if (score[i] < score[best]) best = i;
      fprintf(out, "  learning curve: %d epochs; last: train loss %.4e", rec.nepochs,
              rec.train_loss[rec.nepochs - 1]);
      if (rec.val_loss) fprintf(out, ", validation loss %.4e", rec.val_loss[rec.nepochs - 1]);
      fprintf(out, "; best %s loss %.4e at epoch %g\n", rec.val_loss ? "validation" : "training",
              score[best], rec.epoch[best]);
    } else
      fprintf(out, "  learning curve: none\n");
    if (has_opt)
      fprintf(out, "  optimiser state: Adam moments and step %ld (a resumable checkpoint)\n",
              rec.step);
    else
      fprintf(out, "  optimiser state: none (a model for inference)\n");
    fprintf(out, "  lineage:\n");
    for (int i = 0; i < m->nlineage; i++)
      fprintf(out, "    %s sha256:%s\n", m->lineage_path[i], m->lineage_sha256[i]);
    fprintf(out, "  seed: %llu\n", (unsigned long long) m->seed);
    att(path, "gyre_version", buf, sizeof buf);
    fprintf(out, "  gyre version: %s", buf);
    att(path, "gyre_git_commit", buf, sizeof buf);
    fprintf(out, " (git %s)", buf);
    att(path, "creation_time", buf, sizeof buf);
    fprintf(out, ", written %s\n", buf);
    fprintf(out, "  training options:\n    ");
    for (const char *c = m->training_options; *c; c++)
      fputs(*c == '\n' ? "\n    " : (char[2]){*c, 0}, out);
    fputc('\n', out);
  }
  free(rec.epoch), free(rec.train_loss), free(rec.val_loss);
  GyreOptimizerDestroy(&opt);
  GyreNetDestroy(&net);
  GyreBackendDestroy(&be);
  free(m);
  return st;
}
