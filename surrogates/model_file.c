/* model_file.c — writes and reads the surrogate model file (gyre_model_file.h). */
#include "gyre_model_file.h"
#include "gyre_io.h"
#include "gyre_version.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

static const char *act_name(GyreActivation a)
{
  return a == GYRE_ACT_RELU ? "relu" : a == GYRE_ACT_GELU ? "gelu" : "tanh";
}

static int act_parse(const char *s, GyreActivation *a)
{
  if (!strcmp(s, "relu"))
    *a = GYRE_ACT_RELU;
  else if (!strcmp(s, "gelu"))
    *a = GYRE_ACT_GELU;
  else if (!strcmp(s, "tanh"))
    *a = GYRE_ACT_TANH;
  else
    return 0;
  return 1;
}

static void int_list(const int *v, int n, char *buf, size_t len)
{
  size_t off = 0;
  buf[0]     = 0;
  for (int i = 0; i < n && off < len; i++)
    off += (size_t) snprintf(buf + off, len - off, i ? ",%d" : "%d", v[i]);
}

/* The tensors saved as network variables: the parameters in list order, then the
 * non-trainable buffers (GyreNetBuffers) in list order. *np is the number of parameters;
 * free *t and *names (the tensors and strings belong to the network). */
static GyreStatus net_tensors(GyreNet *net, int *np, int *ntot, GyreTensor ***t,
                              const char ***names)
{
  int                n, nb;
  GyreTensor *const *p, *const *g, *const *b;
  const char *const *pn, *const *bn;
  GyreCall(GyreNetParameters(net, &n, &p, &g, &pn));
  GyreCall(GyreNetBuffers(net, &nb, &b, &bn));
  GyreTensor **tt = malloc((size_t) (n + nb + 1) * sizeof *tt);
  const char **nn = malloc((size_t) (n + nb + 1) * sizeof *nn);
  if (!tt || !nn) {
    free(tt), free(nn);
    return GyreStatusSet(GYRE_ERR_MEM, "model file: out of memory");
  }
  for (int i = 0; i < n; i++)
    tt[i] = p[i], nn[i] = pn[i];
  for (int i = 0; i < nb; i++)
    tt[n + i] = b[i], nn[n + i] = bn[i];
  *np = n, *ntot = n + nb, *t = tt, *names = nn;
  return GYRE_OK;
}

/* all parameters, then all buffers, as one host float buffer, in list order */
static GyreStatus gather_params(GyreNet *net, float **buf, size_t *total)
{
  int          n, np;
  GyreTensor **p;
  const char **names;
  GyreCall(net_tensors(net, &np, &n, &p, &names));
  size_t tot = 0;
  for (int i = 0; i < n; i++)
    tot += p[i]->size;
  float *b = malloc((tot ? tot : 1) * sizeof(float));
  if (!b) {
    free(p), free(names);
    return GyreStatusSet(GYRE_ERR_MEM, "model file: out of memory for %zu weights", tot);
  }
  size_t off = 0;
  for (int i = 0; i < n; i++) {
    GyreStatus s = GyreTensorCopyToHost(p[i], b + off);
    if (s) {
      free(b), free(p), free(names);
      return s;
    }
    off += p[i]->size;
  }
  free(p), free(names);
  *buf = b, *total = tot;
  return GYRE_OK;
}

static GyreStatus put_num(GyreFile f, const char *name, double v)
{
  return GyreFilePutAttDouble(f, name, v);
}

static GyreStatus write_arch(GyreFile f, const GyreModelMeta *m)
{
  char buf[512];
  if (m->type == GYRE_NET_MLP) {
    GyreCall(GyreFilePutAttText(f, "architecture", "mlp"));
    GyreCall(put_num(f, "mlp_inputs", m->mlp.inputs));
    GyreCall(put_num(f, "mlp_outputs", m->mlp.outputs));
    GyreCall(put_num(f, "mlp_width", m->mlp.width));
    GyreCall(put_num(f, "mlp_depth", m->mlp.depth));
    GyreCall(GyreFilePutAttText(f, "mlp_activation", act_name(m->mlp.activation)));
  } else if (m->type == GYRE_NET_FNO) {
    GyreCall(GyreFilePutAttText(f, "architecture", "fno"));
    GyreCall(put_num(f, "fno_dim", m->fno.dim));
    GyreCall(put_num(f, "fno_in_channels", m->fno.in_channels));
    GyreCall(put_num(f, "fno_out_channels", m->fno.out_channels));
    GyreCall(put_num(f, "fno_width", m->fno.width));
    GyreCall(put_num(f, "fno_modes", m->fno.modes));
    GyreCall(put_num(f, "fno_layers", m->fno.layers));
    GyreCall(put_num(f, "fno_proj_width", m->fno.proj_width));
    GyreCall(put_num(f, "fno_grid", m->fno.grid));
  } else if (m->type == GYRE_NET_CNN) {
    GyreCall(GyreFilePutAttText(f, "architecture", "cnn"));
    GyreCall(put_num(f, "cnn_dim", m->cnn.dim));
    GyreCall(put_num(f, "cnn_in_channels", m->cnn.in_channels));
    GyreCall(put_num(f, "cnn_out_channels", m->cnn.out_channels));
    GyreCall(put_num(f, "cnn_nlayers", m->cnn.nlayers));
    int_list(m->cnn.channels, m->cnn.nlayers - 1, buf, sizeof buf);
    GyreCall(GyreFilePutAttText(f, "cnn_channels", buf));
    int_list(m->cnn.kernels, m->cnn.nlayers, buf, sizeof buf);
    GyreCall(GyreFilePutAttText(f, "cnn_kernels", buf));
    GyreCall(put_num(f, "cnn_batch_norm", m->cnn.batch_norm));
    GyreCall(put_num(f, "cnn_zero_mean", m->cnn.zero_mean));
    GyreCall(GyreFilePutAttText(f, "cnn_activation", act_name(m->cnn.activation)));
  } else {
    return GyreStatusSet(GYRE_ERR_ARG, "model file: unknown network type %d", (int) m->type);
  }
  return GYRE_OK;
}

/* SHA-256 of the normalisation as written: in_mean, in_std, out_mean, out_std and, with a
 * band, in_ms_min, in_ms_max, each as little-endian doubles (the attribute
 * normalization_sha256; a changed or removed value is a corrupt file, as for the weights). */
static void hash_norm(const GyreNormalization *norm, char hex[65])
{
  const double *part[6] = {norm->in_mean, norm->in_std,    norm->out_mean,
                           norm->out_std, norm->in_ms_min, norm->in_ms_max};
  const int     len[6]  = {norm->nin, norm->nin, norm->nout, norm->nout, norm->nin, norm->nin};
  unsigned char buf[6 * GYRE_DATA_MAX_CHANNELS * 8];
  size_t        n = 0;
  for (int j = 0; j < (norm->has_band ? 6 : 4); j++)
    for (int c = 0; c < len[j]; c++) {
      uint64_t u;
      memcpy(&u, &part[j][c], 8);
      for (int b = 0; b < 8; b++)
        buf[n++] = (unsigned char) (u >> (8 * b));
    }
  GyreHashBuffer(buf, n, hex);
}

static GyreStatus define_and_attrs(GyreFile f, GyreNet *net, const GyreModelMeta *m,
                                   const GyreNormalization *norm, const GyreModelTraining *tr,
                                   const char *sha, size_t total, int *varids, int *normids,
                                   int *trids)
{
  char buf[1024];
  GyreCall(put_num(f, "gyre_model_format_version", GYRE_MODEL_FORMAT_VERSION));
  GyreCall(GyreFilePutAttText(f, "Conventions", "CF-1.8"));
  GyreCall(GyreFilePutAttText(f, "title", "gyre surrogate model"));
  GyreCall(GyreFilePutAttText(f, "gyre_version", GYRE_VERSION));
  GyreCall(GyreFilePutAttText(f, "gyre_git_commit", GYRE_GIT_COMMIT));
  GyreTimeNowISO(buf);
  GyreCall(GyreFilePutAttText(f, "creation_time", buf));
  GyreCall(write_arch(f, m));
  snprintf(buf, sizeof buf, "%llu", (unsigned long long) m->seed);
  GyreCall(GyreFilePutAttText(f, "seed", buf));
  GyreCall(GyreFilePutAttText(f, "input_fields", m->input_fields));
  GyreCall(GyreFilePutAttText(f, "output_fields", m->output_fields));
  GyreCall(GyreFilePutAttText(f, "field_units", m->units)); /* (CF has no global "units") */
  GyreCall(put_num(f, "grid_nx", m->grid_nx));
  GyreCall(put_num(f, "grid_ny", m->grid_ny));
  GyreCall(GyreFilePutAttText(f, "training_options", m->training_options));
  GyreCall(GyreFilePutAttText(f, "split", m->split));
  if (m->recipe[0]) GyreCall(GyreFilePutAttText(f, "training_recipe", m->recipe));
  GyreCall(GyreFilePutAttText(f, "mode", m->mode));
  GyreCall(put_num(f, "per_point", m->per_point));
  GyreCall(put_num(f, "stencil", m->stencil));
  GyreCall(put_num(f, "history_frames", m->history)); /* (CF's "history" is an audit trail) */
  GyreCall(put_num(f, "lead", m->lead));
  GyreCall(put_num(f, "record_dt", m->record_dt));
  GyreCall(put_num(f, "dx", m->dx));
  GyreCall(put_num(f, "dy", m->dy));
  GyreCall(GyreFilePutAttText(f, "precision", m->precision[0] ? m->precision : "fp32"));
  if (m->precision[0] && strcmp(m->precision, "fp32") && !isnan(m->val_loss_fp32)) {
    GyreCall(put_num(f, "val_loss_precision", m->val_loss_precision));
    GyreCall(put_num(f, "val_loss_fp32", m->val_loss_fp32));
  }
  {
    size_t need = 1;
    for (int i = 0; i < m->nlineage; i++)
      need += strlen(m->lineage_path[i]) + 80;
    char *lin = malloc(need);
    if (!lin) return GyreStatusSet(GYRE_ERR_MEM, "model file: out of memory");
    size_t off = 0;
    lin[0]     = 0;
    for (int i = 0; i < m->nlineage; i++)
      off += (size_t) snprintf(lin + off, need - off, "%s%s sha256:%s", i ? "; " : "",
                               m->lineage_path[i], m->lineage_sha256[i]);
    GyreStatus s = GyreFilePutAttText(f, "lineage", lin);
    free(lin);
    GyreCall(s);
  }
  int                n;
  GyreTensor *const *p, *const *g;
  const char *const *names;
  GyreCall(GyreNetParameters(net, &n, &p, &g, &names));
  int                nb;
  GyreTensor *const *bt;
  const char *const *bnames;
  GyreCall(GyreNetBuffers(net, &nb, &bt, &bnames));
  GyreCall(put_num(f, "nparameters", n));
  GyreCall(put_num(f, "nbuffers", nb));
  GyreCall(put_num(f, "parameter_count", (double) total));
  GyreCall(GyreFilePutAttText(f, "weights_sha256", sha));
  hash_norm(norm, buf);
  GyreCall(GyreFilePutAttText(f, "normalization_sha256", buf));
  for (int i = 0; i < n + nb; i++) {
    char              dn[GYRE_IO_MAX_DIMS][96];
    const GyreTensor *t  = i < n ? p[i] : bt[i - n];
    const char       *nm = i < n ? names[i] : bnames[i - n];
    if (t->ndim < 1 || t->ndim > GYRE_IO_MAX_DIMS)
      return GyreStatusSet(GYRE_ERR_INTERNAL, "model file: %s %s has %d dimensions",
                           i < n ? "parameter" : "buffer", nm, t->ndim);
    GyreVarSpec v = {0};
    v.name = nm, v.ndims = t->ndim, v.precision = GYRE_FLOAT, v.has_time = 0;
    for (int k = 0; k < t->ndim; k++) {
      snprintf(dn[k], sizeof dn[k], "%s_d%d", nm, k);
      GyreDimSpec d = {0};
      d.name = dn[k], d.len = (size_t) t->shape[k];
      GyreCall(GyreFileDefineDim(f, &d));
      v.dims[k] = dn[k];
    }
    v.long_name = i < n ? "network parameter" : "network buffer (not trained)";
    GyreCall(GyreFileDefineVar(f, &v, &varids[i]));
  }
  GyreDimSpec din  = {.name = "norm_in", .len = (size_t) norm->nin};
  GyreDimSpec dout = {.name = "norm_out", .len = (size_t) norm->nout};
  GyreCall(GyreFileDefineDim(f, &din));
  GyreCall(GyreFileDefineDim(f, &dout));
  const char *nn[6] = {"norm_in_mean", "norm_in_std",    "norm_out_mean",
                       "norm_out_std", "norm_in_ms_min", "norm_in_ms_max"};
  for (int j = 0; j < (norm->has_band ? 6 : 4); j++) {
    GyreVarSpec v = {0};
    v.name = nn[j], v.ndims = 1, v.dims[0] = j < 2 || j > 3 ? "norm_in" : "norm_out";
    v.precision = GYRE_DOUBLE, v.has_time = 0;
    v.long_name = j < 2   ? "input normalisation (per channel)"
                  : j < 4 ? "target normalisation (per channel)"
                          : "band of the input's spatial mean square over the training fields";
    GyreCall(GyreFileDefineVar(f, &v, &normids[j]));
  }
  int curve = tr && tr->nepochs > 0, vl = curve && tr->val_loss, opt = tr && tr->opt;
  GyreCall(put_num(f, "has_learning_curve", curve));
  GyreCall(put_num(f, "has_val_loss", vl));
  GyreCall(put_num(f, "has_optimizer_state", opt));
  GyreCall(put_num(f, "partial_epoch_batches", tr ? (double) tr->partial_batches : 0));
  GyreCall(put_num(f, "partial_epoch_loss", tr ? tr->partial_loss : 0));
  if (curve) {
    GyreDimSpec de = {.name = "epoch", .len = (size_t) tr->nepochs};
    GyreCall(GyreFileDefineDim(f, &de));
    const char *cn[3] = {"curve_epoch", "curve_train_loss", "curve_val_loss"};
    for (int j = 0; j < (vl ? 3 : 2); j++) {
      GyreVarSpec v = {0};
      v.name = cn[j], v.ndims = 1, v.dims[0] = "epoch", v.precision = GYRE_DOUBLE;
      v.long_name = "learning curve";
      GyreCall(GyreFileDefineVar(f, &v, &trids[j]));
    }
  }
  if (opt) {
    long step = 0;
    GyreCall(GyreOptimizerGetState(tr->opt, NULL, NULL, &step));
    GyreCall(put_num(f, "optimizer_step", (double) step));
    for (int i = 0; i < n; i++) {
      char        dn[GYRE_IO_MAX_DIMS][96], vn[2][160];
      GyreVarSpec v = {0};
      v.ndims = p[i]->ndim, v.precision = GYRE_FLOAT, v.has_time = 0;
      for (int k = 0; k < p[i]->ndim; k++) {
        snprintf(dn[k], sizeof dn[k], "%s_d%d", names[i], k);
        v.dims[k] = dn[k];
      }
      snprintf(vn[0], sizeof vn[0], "adam_m.%s", names[i]);
      snprintf(vn[1], sizeof vn[1], "adam_v.%s", names[i]);
      for (int j = 0; j < 2; j++) {
        v.name      = vn[j];
        v.long_name = j ? "optimiser second moment" : "optimiser first moment";
        GyreCall(GyreFileDefineVar(f, &v, &trids[3 + 2 * i + j]));
      }
    }
  }
  return GyreFileEndDef(f);
}

static GyreStatus write_floats(GyreFile f, int varid, const GyreTensor *t, const float *src,
                               int rank)
{
  size_t  start[GYRE_IO_MAX_DIMS] = {0}, count[GYRE_IO_MAX_DIMS] = {0};
  double *d = malloc((t->size ? t->size : 1) * sizeof(double));
  if (!d) return GyreStatusSet(GYRE_ERR_MEM, "model file: out of memory");
  for (size_t k = 0; k < t->size; k++)
    d[k] = src[k];
  for (int k = 0; k < t->ndim; k++)
    count[k] = rank == 0 ? (size_t) t->shape[k] : 0;
  GyreStatus s = GyreFileWriteBlock(f, varid, 0, start, count, d);
  free(d);
  return s;
}

static GyreStatus write_training(GyreFile f, GyreNet *net, const GyreModelTraining *tr,
                                 const int *trids, int rank)
{
  if (!tr) return GYRE_OK;
  if (tr->nepochs > 0) {
    const double *cv[3] = {tr->epoch, tr->train_loss, tr->val_loss};
    for (int j = 0; j < (tr->val_loss ? 3 : 2); j++) {
      size_t start[1] = {0}, count[1] = {rank == 0 ? (size_t) tr->nepochs : 0};
      GyreCall(GyreFileWriteBlock(f, trids[j], 0, start, count, cv[j]));
    }
  }
  if (tr->opt) {
    int                n;
    GyreTensor *const *p, *const *g;
    const char *const *names;
    GyreCall(GyreNetParameters(net, &n, &p, &g, &names));
    size_t ns = GyreOptimizerStateSize(tr->opt);
    float *m = malloc((ns ? ns : 1) * sizeof(float)), *v = malloc((ns ? ns : 1) * sizeof(float));
    GyreStatus s   = (m && v) ? GyreOptimizerGetState(tr->opt, m, v, NULL)
                              : GyreStatusSet(GYRE_ERR_MEM, "model file: out of memory");
    size_t     off = 0;
    for (int i = 0; !s && i < n; i++) {
      s = write_floats(f, trids[3 + 2 * i], p[i], m + off, rank);
      if (!s) s = write_floats(f, trids[3 + 2 * i + 1], p[i], v + off, rank);
      off += p[i]->size;
    }
    free(m), free(v);
    GyreCall(s);
  }
  return GYRE_OK;
}

static GyreStatus write_data(GyreFile f, GyreNet *net, const float *all,
                             const GyreNormalization *norm, const int *varids, const int *normids,
                             int rank)
{
  int          n, np;
  GyreTensor **p;
  const char **names;
  GyreCall(net_tensors(net, &np, &n, &p, &names));
  size_t off = 0;
  for (int i = 0; i < n; i++) {
    size_t  start[GYRE_IO_MAX_DIMS] = {0}, count[GYRE_IO_MAX_DIMS] = {0};
    double *d = malloc((p[i]->size ? p[i]->size : 1) * sizeof(double));
    if (!d) {
      free(p), free(names);
      return GyreStatusSet(GYRE_ERR_MEM, "model file: out of memory");
    }
    for (size_t k = 0; k < p[i]->size; k++)
      d[k] = all[off + k];
    for (int k = 0; k < p[i]->ndim; k++)
      count[k] = rank == 0 ? (size_t) p[i]->shape[k] : 0;
    GyreStatus s = GyreFileWriteBlock(f, varids[i], 0, start, count, d);
    free(d);
    if (s) {
      free(p), free(names);
      return s;
    }
    off += p[i]->size;
  }
  free(p), free(names);
  const double *nv[6] = {norm->in_mean, norm->in_std,    norm->out_mean,
                         norm->out_std, norm->in_ms_min, norm->in_ms_max};
  for (int j = 0; j < (norm->has_band ? 6 : 4); j++) {
    size_t start[1] = {0},
           count[1] = {rank == 0 ? (size_t) (j < 2 || j > 3 ? norm->nin : norm->nout) : 0};
    GyreCall(GyreFileWriteBlock(f, normids[j], 0, start, count, nv[j]));
  }
  return GYRE_OK;
}

static size_t mlp_count(const GyreMLPOptions *o)
{
  size_t c = 0, in = (size_t) o->inputs;
  for (int i = 0; i < o->depth; i++)
    c += (size_t) o->width * (in + 1), in = (size_t) o->width;
  return c + (size_t) o->outputs * (in + 1);
}

static size_t arch_count(const GyreModelMeta *m)
{
  if (m->type == GYRE_NET_MLP) return mlp_count(&m->mlp);
  if (m->type == GYRE_NET_FNO) return GyreFNOParameterCountFormula(&m->fno);
  return GyreCNNParameterCountFormula(&m->cnn);
}

GyreTrainingDiff GyreModelCompareTraining(const GyreModelMeta *a, const GyreModelMeta *b, int *file)
{
  int same = a->type == b->type;
  if (same && a->type == GYRE_NET_MLP) same = !memcmp(&a->mlp, &b->mlp, sizeof a->mlp);
  if (same && a->type == GYRE_NET_FNO) same = !memcmp(&a->fno, &b->fno, sizeof a->fno);
  if (same && a->type == GYRE_NET_CNN) /* field by field: comm is not part of it */
    same = a->cnn.dim == b->cnn.dim && a->cnn.in_channels == b->cnn.in_channels &&
           a->cnn.out_channels == b->cnn.out_channels && a->cnn.nlayers == b->cnn.nlayers &&
           !memcmp(a->cnn.channels, b->cnn.channels, sizeof a->cnn.channels) &&
           !memcmp(a->cnn.kernels, b->cnn.kernels, sizeof a->cnn.kernels) &&
           a->cnn.batch_norm == b->cnn.batch_norm && a->cnn.zero_mean == b->cnn.zero_mean &&
           a->cnn.activation == b->cnn.activation;
  if (!same) return GYRE_TRAINING_OTHER_NET;
  if (strcmp(a->mode, b->mode) || a->per_point != b->per_point || a->stencil != b->stencil ||
      a->history != b->history || a->lead != b->lead || strcmp(a->input_fields, b->input_fields) ||
      strcmp(a->output_fields, b->output_fields))
    return GYRE_TRAINING_OTHER_TASK;
  if (a->nlineage != b->nlineage) return GYRE_TRAINING_OTHER_NFILES;
  for (int i = 0; i < a->nlineage; i++)
    if (strcmp(a->lineage_sha256[i], b->lineage_sha256[i])) {
      if (file) *file = i;
      return GYRE_TRAINING_OTHER_DATA;
    }
  if (strcmp(a->split, b->split)) return GYRE_TRAINING_OTHER_SPLIT;
  char ia[8], ib[8];
  if (GyreModelRecipeDiff(a->recipe, b->recipe, ia, ib, sizeof ia))
    return GYRE_TRAINING_OTHER_RECIPE;
  return GYRE_TRAINING_SAME;
}

/* The item of recipe r whose option name is the n characters at key (NULL: none); *len its
 * length. Items are separated by "; ", each "NAME VALUE". */
static const char *recipe_item(const char *r, const char *key, size_t n, size_t *len)
{
  for (const char *p = r; *p;) {
    const char *end = strstr(p, "; ");
    size_t      l   = end ? (size_t) (end - p) : strlen(p);
    if (l > n && !strncmp(p, key, n) && p[n] == ' ') {
      *len = l;
      return p;
    }
    p += l + (end ? 2 : 0);
  }
  return NULL;
}

int GyreModelRecipeDiff(const char *a, const char *b, char *ia, char *ib, size_t n)
{
  if (!a[0] || !b[0]) return 0;
  for (int pass = 0; pass < 2; pass++) { /* a's items in b, then b's in a */
    const char *x = pass ? b : a, *y = pass ? a : b;
    for (const char *p = x; *p;) {
      const char *end = strstr(p, "; ");
      size_t      l = end ? (size_t) (end - p) : strlen(p), k = strcspn(p, " "), ly = 0;
      const char *q = recipe_item(y, p, k < l ? k : l, &ly);
      if (!q || ly != l || strncmp(p, q, l)) {
        char mine[256], theirs[256];
        snprintf(mine, sizeof mine, "%.*s", (int) l, p);
        if (q)
          snprintf(theirs, sizeof theirs, "%.*s", (int) ly, q);
        else
          snprintf(theirs, sizeof theirs, "no %.*s", (int) (k < l ? k : l), p);
        snprintf(ia, n, "%s", pass ? theirs : mine);
        snprintf(ib, n, "%s", pass ? mine : theirs);
        return 1;
      }
      p += l + (end ? 2 : 0);
    }
  }
  return 0;
}

const char *GyreModelArchString(const GyreModelMeta *m, char *buf, size_t len)
{
  size_t n = arch_count(m);
  if (m->type == GYRE_NET_MLP)
    snprintf(buf, len, "mlp (inputs %d, outputs %d, width %d, depth %d, %s; %zu parameters)",
             m->mlp.inputs, m->mlp.outputs, m->mlp.width, m->mlp.depth, act_name(m->mlp.activation),
             n);
  else if (m->type == GYRE_NET_FNO)
    snprintf(buf, len,
             "fno %d-D (channels %d -> %d, width %d, modes %d, layers %d, projection %d, grid "
             "channels %s; %zu parameters)",
             m->fno.dim, m->fno.in_channels, m->fno.out_channels, m->fno.width, m->fno.modes,
             m->fno.layers, m->fno.proj_width, m->fno.grid ? "yes" : "no", n);
  else {
    char ch[128], kn[128];
    int_list(m->cnn.channels, m->cnn.nlayers - 1, ch, sizeof ch);
    int_list(m->cnn.kernels, m->cnn.nlayers, kn, sizeof kn);
    snprintf(buf, len,
             "cnn %d-D (channels %d -> [%s] -> %d, kernels [%s], %s, batch norm %s, zero mean "
             "%s; %zu parameters)",
             m->cnn.dim, m->cnn.in_channels, ch, m->cnn.out_channels, kn,
             act_name(m->cnn.activation), m->cnn.batch_norm ? "yes" : "no",
             m->cnn.zero_mean ? "yes" : "no", n);
  }
  return buf;
}

GyreStatus GyreModelFileWrite(MPI_Comm comm, const char *path, GyreNet *net,
                              const GyreModelMeta *meta, const GyreNormalization *norm,
                              const GyreModelTraining *train)
{
  if (!path || !net || !meta || !norm)
    return GyreStatusSet(GYRE_ERR_ARG, "GyreModelFileWrite: NULL argument");
  if (GyreNetGetType(net) != meta->type)
    return GyreStatusSet(GYRE_ERR_ARG,
                         "model file '%s': the metadata's architecture (type %d) is not the "
                         "network's (type %d)",
                         path, (int) meta->type, (int) GyreNetGetType(net));
  if (arch_count(meta) != GyreNetParameterCount(net))
    return GyreStatusSet(GYRE_ERR_ARG,
                         "model file '%s': the metadata's architecture options give %zu "
                         "parameters but the network has %zu",
                         path, arch_count(meta), GyreNetParameterCount(net));
  if (norm->nin < 1 || norm->nout < 1 || norm->nin > GYRE_DATA_MAX_CHANNELS ||
      norm->nout > GYRE_DATA_MAX_CHANNELS)
    return GyreStatusSet(GYRE_ERR_ARG,
                         "model file '%s': normalisation has %d input and %d "
                         "target channels (1..%d each)",
                         path, norm->nin, norm->nout, GYRE_DATA_MAX_CHANNELS);
  if (train &&
      (train->nepochs < 0 || (train->nepochs > 0 && (!train->epoch || !train->train_loss))))
    return GyreStatusSet(GYRE_ERR_ARG,
                         "model file '%s': learning curve with %d epochs needs "
                         "epoch and train_loss arrays",
                         path, train->nepochs);
  if (train && train->opt) {
    size_t             cnt = 0;
    int                np;
    GyreTensor *const *pp, *const *gg;
    const char *const *nn;
    GyreCall(GyreNetParameters(net, &np, &pp, &gg, &nn));
    for (int i = 0; i < np; i++)
      cnt += pp[i]->size;
    if (GyreOptimizerStateSize(train->opt) != cnt)
      return GyreStatusSet(GYRE_ERR_ARG,
                           "model file '%s': the optimiser holds %zu values but "
                           "the network %zu",
                           path, GyreOptimizerStateSize(train->opt), cnt);
  }
  if (meta->nlineage < 0 || meta->nlineage > GYRE_MODEL_MAX_LINEAGE)
    return GyreStatusSet(GYRE_ERR_ARG, "model file '%s': nlineage %d (0..%d)", path, meta->nlineage,
                         GYRE_MODEL_MAX_LINEAGE);
  int rank;
  MPI_Comm_rank(comm, &rank);
  float     *all   = NULL;
  size_t     total = 0;
  char       sha[65];
  GyreStatus s = gather_params(net, &all, &total);
  if (s) return s;
  GyreHashBuffer(all, total * sizeof(float), sha); /* parameters, then buffers */
  int                n, nb;
  GyreTensor *const *p, *const *g, *const *bt;
  const char *const *names, *const *bnames;
  GyreNetParameters(net, &n, &p, &g, &names);
  GyreNetBuffers(net, &nb, &bt, &bnames);
  for (int i = 0; i < nb; i++)
    total -= bt[i]->size; /* parameter_count: the parameters only */
  int *varids = malloc((size_t) (n + nb + 1) * sizeof(int));
  int *trids  = malloc((size_t) (3 + 2 * n) * sizeof(int));
  if (!varids || !trids) {
    free(varids), free(trids);
    free(all);
    return GyreStatusSet(GYRE_ERR_MEM, "model file: out of memory");
  }
  int             normids[6];
  GyreFileOptions opts = {.overwrite = 1, .deflate = 0, .atomic = 1, .chunk_records = 1};
  GyreFile        f    = NULL;
  s                    = GyreFileCreate(comm, path, &opts, &f);
  if (!s) s = define_and_attrs(f, net, meta, norm, train, sha, total, varids, normids, trids);
  if (!s) s = write_data(f, net, all, norm, varids, normids, rank);
  if (!s) s = write_training(f, net, train, trids, rank);
  if (!s)
    s = GyreFileClose(&f);
  else if (f) {
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", GyreStatusMessage());
    GyreFileAbort(&f);
    GyreStatusSet(s, "%s", msg);
  }
  free(varids);
  free(trids);
  free(all);
  return s;
}

/* ---- reading ---------------------------------------------------------------------- */

static GyreStatus get_int(GyreFile f, const char *path, const char *name, int *v)
{
  double d;
  if (GyreFileGetAttDouble(f, name, &d) || !isfinite(d) || d != floor(d) || fabs(d) > 1e9)
    return GyreStatusSet(GYRE_ERR_FORMAT,
                         "model file '%s': architecture attribute '%s' is missing or not an "
                         "integer",
                         path, name);
  *v = (int) d;
  return GYRE_OK;
}

static GyreStatus get_text(GyreFile f, const char *path, const char *name, char *dst, size_t len)
{
  char *t = NULL;
  if (GyreFileGetAttText(f, name, &t))
    return GyreStatusSet(GYRE_ERR_FORMAT, "model file '%s': attribute '%s' is missing", path, name);
  snprintf(dst, len, "%s", t);
  free(t);
  return GYRE_OK;
}

static GyreStatus get_act(GyreFile f, const char *path, const char *name, GyreActivation *a)
{
  char buf[32];
  GyreCall(get_text(f, path, name, buf, sizeof buf));
  if (!act_parse(buf, a))
    return GyreStatusSet(GYRE_ERR_FORMAT, "model file '%s': unknown activation '%s' in '%s'", path,
                         buf, name);
  return GYRE_OK;
}

static GyreStatus get_list(GyreFile f, const char *path, const char *name, int *v, int n)
{
  char buf[512], *q = buf;
  GyreCall(get_text(f, path, name, buf, sizeof buf));
  for (int i = 0; i < n; i++) {
    char *e;
    long  x = strtol(q, &e, 10);
    if (e == q || (i < n - 1 && *e != ',') || (i == n - 1 && *e))
      return GyreStatusSet(GYRE_ERR_FORMAT,
                           "model file '%s': attribute '%s' = '%s' is not %d comma-separated "
                           "integers",
                           path, name, buf, n);
    v[i] = (int) x, q = e + 1;
  }
  return GYRE_OK;
}

static GyreStatus read_meta(GyreFile f, const char *path, GyreModelMeta *m)
{
  char   arch[32], buf[64];
  double num;
  memset(m, 0, sizeof *m);
  GyreCall(get_text(f, path, "architecture", arch, sizeof arch));
  if (!strcmp(arch, "mlp")) {
    m->type = GYRE_NET_MLP;
    GyreMLPOptionsDefault(&m->mlp);
    GyreCall(get_int(f, path, "mlp_inputs", &m->mlp.inputs));
    GyreCall(get_int(f, path, "mlp_outputs", &m->mlp.outputs));
    GyreCall(get_int(f, path, "mlp_width", &m->mlp.width));
    GyreCall(get_int(f, path, "mlp_depth", &m->mlp.depth));
    GyreCall(get_act(f, path, "mlp_activation", &m->mlp.activation));
  } else if (!strcmp(arch, "fno")) {
    m->type = GYRE_NET_FNO;
    GyreFNOOptionsDefault(&m->fno);
    GyreCall(get_int(f, path, "fno_dim", &m->fno.dim));
    GyreCall(get_int(f, path, "fno_in_channels", &m->fno.in_channels));
    GyreCall(get_int(f, path, "fno_out_channels", &m->fno.out_channels));
    GyreCall(get_int(f, path, "fno_width", &m->fno.width));
    GyreCall(get_int(f, path, "fno_modes", &m->fno.modes));
    GyreCall(get_int(f, path, "fno_layers", &m->fno.layers));
    GyreCall(get_int(f, path, "fno_proj_width", &m->fno.proj_width));
    GyreCall(get_int(f, path, "fno_grid", &m->fno.grid));
  } else if (!strcmp(arch, "cnn")) {
    m->type = GYRE_NET_CNN;
    GyreCNNOptionsDefault(&m->cnn);
    GyreCall(get_int(f, path, "cnn_dim", &m->cnn.dim));
    GyreCall(get_int(f, path, "cnn_in_channels", &m->cnn.in_channels));
    GyreCall(get_int(f, path, "cnn_out_channels", &m->cnn.out_channels));
    GyreCall(get_int(f, path, "cnn_nlayers", &m->cnn.nlayers));
    if (m->cnn.nlayers < 1 || m->cnn.nlayers > GYRE_CNN_MAX_LAYERS)
      return GyreStatusSet(GYRE_ERR_FORMAT, "model file '%s': cnn_nlayers %d (1..%d)", path,
                           m->cnn.nlayers, GYRE_CNN_MAX_LAYERS);
    if (m->cnn.nlayers > 1)
      GyreCall(get_list(f, path, "cnn_channels", m->cnn.channels, m->cnn.nlayers - 1));
    GyreCall(get_list(f, path, "cnn_kernels", m->cnn.kernels, m->cnn.nlayers));
    GyreCall(get_int(f, path, "cnn_batch_norm", &m->cnn.batch_norm));
    GyreCall(get_int(f, path, "cnn_zero_mean", &m->cnn.zero_mean));
    GyreCall(get_act(f, path, "cnn_activation", &m->cnn.activation));
    m->cnn.comm = MPI_COMM_SELF;
  } else {
    return GyreStatusSet(GYRE_ERR_FORMAT,
                         "model file '%s': unknown architecture '%s' (expected mlp, fno or cnn)",
                         path, arch);
  }
  { /* sizes no network can have (a width of -2 would print a parameter count of 2^64) */
    GyreStatus a = m->type == GYRE_NET_MLP   ? GyreMLPOptionsCheck(&m->mlp)
                   : m->type == GYRE_NET_FNO ? GyreFNOOptionsCheck(&m->fno)
                                             : GyreCNNOptionsCheck(&m->cnn);
    if (a != GYRE_OK) {
      char why[256];
      snprintf(why, sizeof why, "%s", GyreStatusMessage());
      return GyreStatusSet(GYRE_ERR_FORMAT, "model file '%s': its architecture is impossible (%s)",
                           path, why);
    }
  }
  GyreCall(get_text(f, path, "seed", buf, sizeof buf));
  m->seed = strtoull(buf, NULL, 10);
  GyreCall(get_text(f, path, "input_fields", m->input_fields, sizeof m->input_fields));
  GyreCall(get_text(f, path, "output_fields", m->output_fields, sizeof m->output_fields));
  { /* "units" in files written before the CF-proper name */
    char *u = NULL;
    if (!GyreFileGetAttText(f, "field_units", &u))
      snprintf(m->units, sizeof m->units, "%s", u);
    else
      GyreCall(get_text(f, path, "units", m->units, sizeof m->units));
    free(u);
  }
  GyreCall(get_int(f, path, "grid_nx", &m->grid_nx));
  GyreCall(get_int(f, path, "grid_ny", &m->grid_ny));
  GyreCall(get_text(f, path, "training_options", m->training_options, sizeof m->training_options));
  GyreCall(get_text(f, path, "split", m->split, sizeof m->split));
  m->recipe[0] = '\0'; /* optional: files written before it existed */
  {
    char *rec = NULL;
    if (!GyreFileGetAttText(f, "training_recipe", &rec))
      snprintf(m->recipe, sizeof m->recipe, "%s", rec);
    free(rec);
  }
  /* how it was trained: optional (files written before these attributes existed) */
  m->per_point = 1, m->history = 1, m->lead = 1;
  if (!GyreFileGetAttDouble(f, "per_point", &num))
    GyreCall(get_int(f, path, "per_point", &m->per_point));
  if (!GyreFileGetAttDouble(f, "stencil", &num)) GyreCall(get_int(f, path, "stencil", &m->stencil));
  if (!GyreFileGetAttDouble(f, "history_frames", &num))
    GyreCall(get_int(f, path, "history_frames", &m->history));
  else if (!GyreFileGetAttDouble(f, "history", &num)) /* (the name before history_frames) */
    GyreCall(get_int(f, path, "history", &m->history));
  if (!GyreFileGetAttDouble(f, "lead", &num)) GyreCall(get_int(f, path, "lead", &m->lead));
  if (GyreFileGetAttDouble(f, "record_dt", &m->record_dt)) m->record_dt = 0;
  if (GyreFileGetAttDouble(f, "dx", &m->dx)) m->dx = 0;
  if (GyreFileGetAttDouble(f, "dy", &m->dy)) m->dy = 0;
  if (!m->input_fields[0] || !m->output_fields[0])
    return GyreStatusSet(GYRE_ERR_FORMAT,
                         "model file '%s': input_fields '%s', output_fields '%s' "
                         "(names expected)",
                         path, m->input_fields, m->output_fields);
  if (m->grid_nx < 1 || m->grid_ny < 1)
    return GyreStatusSet(GYRE_ERR_FORMAT, "model file '%s': grid %d x %d (nx x ny, >= 1)", path,
                         m->grid_nx, m->grid_ny);
  if (!(m->record_dt >= 0 && m->dx >= 0 && m->dy >= 0) || !isfinite(m->record_dt) ||
      !isfinite(m->dx) || !isfinite(m->dy))
    return GyreStatusSet(GYRE_ERR_FORMAT,
                         "model file '%s': record_dt %g, dx %g, dy %g (finite, >= 0 expected)",
                         path, m->record_dt, m->dx, m->dy);
  if (m->history < 1 || m->lead < 1 || (m->per_point != 0 && m->per_point != 1) || m->stencil < 0)
    return GyreStatusSet(GYRE_ERR_FORMAT,
                         "model file '%s': history %d, lead %d, per_point %d, stencil %d "
                         "(expected >= 1, >= 1, 0 or 1, >= 0)",
                         path, m->history, m->lead, m->per_point, m->stencil);
  {
    char *mode = NULL, *prec = NULL;
    if (!GyreFileGetAttText(f, "mode", &mode)) {
      snprintf(m->mode, sizeof m->mode, "%s", mode);
      free(mode);
    }
    snprintf(m->precision, sizeof m->precision, "fp32");
    if (!GyreFileGetAttText(f, "precision", &prec)) {
      snprintf(m->precision, sizeof m->precision, "%s", prec);
      free(prec);
    }
    if (m->mode[0] && strcmp(m->mode, "closure") && strcmp(m->mode, "emulator") &&
        strcmp(m->mode, "operator"))
      return GyreStatusSet(GYRE_ERR_FORMAT,
                           "model file '%s': mode '%s' (expected closure, emulator or operator)",
                           path, m->mode);
    if (strcmp(m->precision, "fp32") && strcmp(m->precision, "tf32") &&
        strcmp(m->precision, "bf16"))
      return GyreStatusSet(GYRE_ERR_FORMAT,
                           "model file '%s': precision '%s' (expected fp32, tf32 or bf16)", path,
                           m->precision);
    if (GyreFileGetAttDouble(f, "val_loss_precision", &m->val_loss_precision))
      m->val_loss_precision = NAN;
    if (GyreFileGetAttDouble(f, "val_loss_fp32", &m->val_loss_fp32)) m->val_loss_fp32 = NAN;
  }
  char *lin = NULL;
  if (GyreFileGetAttText(f, "lineage", &lin))
    return GyreStatusSet(GYRE_ERR_FORMAT, "model file '%s': attribute 'lineage' is missing", path);
  /* "path sha256:<hex>; path sha256:<hex>" */
  char *q = lin;
  while (*q && m->nlineage < GYRE_MODEL_MAX_LINEAGE) {
    char *sep = strstr(q, " sha256:");
    if (!sep) break;
    int i = m->nlineage++;
    snprintf(m->lineage_path[i], sizeof m->lineage_path[i], "%.*s", (int) (sep - q), q);
    sep += 8;
    size_t hl = strcspn(sep, ";");
    snprintf(m->lineage_sha256[i], sizeof m->lineage_sha256[i], "%.*s", (int) hl, sep);
    q = sep + hl;
    if (*q == ';') q++;
    if (*q == ' ') q++;
  }
  free(lin);
  return GYRE_OK;
}

static GyreStatus read_weights(GyreFile f, const char *path, GyreNet *net, float **all,
                               size_t *total)
{
  int          n, np;
  GyreTensor **p;
  const char **names;
  int          nfile, nbfile = 0;
  double       dnb;
  GyreCall(net_tensors(net, &np, &n, &p, &names));
  GyreStatus s0 = get_int(f, path, "nparameters", &nfile);
  if (!s0 && nfile != np)
    s0 = GyreStatusSet(GYRE_ERR_FORMAT,
                       "model file '%s': holds %d parameter tensors but its architecture has %d",
                       path, nfile, np);
  /* files without the attribute (written before buffers were saved) hold none */
  if (!s0 && !GyreFileGetAttDouble(f, "nbuffers", &dnb)) {
    s0 = get_int(f, path, "nbuffers", &nbfile);
    if (!s0 && nbfile < 0)
      s0 = GyreStatusSet(GYRE_ERR_FORMAT, "model file '%s': nbuffers %d", path, nbfile);
  }
  if (!s0 && nbfile != n - np)
    s0 = GyreStatusSet(GYRE_ERR_FORMAT,
                       "model file '%s': holds %d network buffers (batch-norm running "
                       "statistics) but its architecture has %d",
                       path, nbfile, n - np);
  if (s0) {
    free(p), free(names);
    return s0;
  }
  size_t cnt = 0;
  for (int i = 0; i < n; i++)
    cnt += p[i]->size;
  float *b = malloc((cnt ? cnt : 1) * sizeof(float));
  if (!b) {
    free(p), free(names);
    return GyreStatusSet(GYRE_ERR_MEM, "model file: out of memory");
  }
  size_t off = 0;
  for (int i = 0; i < n; i++) {
    const char *kind = i < np ? "weight" : "buffer";
    int         nd, has_time;
    char        dn[GYRE_IO_MAX_DIMS][64];
    size_t      len[GYRE_IO_MAX_DIMS];
    char        want[128], got[128] = "";
    GyreTensorShapeString(p[i], want, sizeof want);
    if (GyreFileInqVar(f, names[i], &nd, dn, len, &has_time)) {
      GyreStatus e = GyreStatusSet(
          GYRE_ERR_FORMAT, "model file '%s': %s '%s' %s of the architecture is missing", path,
          i < np ? "weight" : "buffer (not trained)", names[i], want);
      free(b), free(p), free(names);
      return e;
    }
    int    ok = nd == p[i]->ndim && !has_time;
    size_t go = 0;
    for (int k = 0; k < nd; k++) {
      go += (size_t) snprintf(got + go, sizeof got - go, k ? ", %zu" : "(%zu", len[k]);
      if (go >= sizeof got) go = sizeof got - 1;
      if (ok && len[k] != (size_t) p[i]->shape[k]) ok = 0;
    }
    if (go < sizeof got - 1) snprintf(got + go, sizeof got - go, ")");
    if (!ok) {
      GyreStatus e = GyreStatusSet(GYRE_ERR_FORMAT,
                                   "model file '%s': %s '%s' has shape %s but the architecture "
                                   "needs %s",
                                   path, kind, names[i], got, want);
      free(b), free(p), free(names);
      return e;
    }
    size_t  start[GYRE_IO_MAX_DIMS] = {0}, count[GYRE_IO_MAX_DIMS];
    double *d                       = malloc((p[i]->size ? p[i]->size : 1) * sizeof(double));
    if (!d) {
      free(b), free(p), free(names);
      return GyreStatusSet(GYRE_ERR_MEM, "model file: out of memory");
    }
    for (int k = 0; k < nd; k++)
      count[k] = len[k];
    GyreStatus s = GyreFileReadBlock(f, names[i], 0, start, count, d);
    if (s) {
      char msg[1024];
      snprintf(msg, sizeof msg, "%s", GyreStatusMessage());
      free(d), free(b);
      if (s == GYRE_ERR_NAN)
        s = GyreStatusSet(s, "model file '%s': %s '%s' is not finite (NaN/Inf): %s", path, kind,
                          names[i], msg);
      else
        s = GyreStatusSet(s, "model file '%s': cannot read %s '%s' (corrupt file?): %s", path, kind,
                          names[i], msg);
      free(p), free(names);
      return s;
    }
    /* a batch norm's running variance below zero would make every output NaN */
    const size_t nl = strlen(names[i]), vl = strlen("running_var");
    if (i >= np && nl >= vl && !strcmp(names[i] + nl - vl, "running_var"))
      for (size_t k = 0; k < p[i]->size; k++)
        if (d[k] < 0) {
          GyreStatus e = GyreStatusSet(GYRE_ERR_FORMAT,
                                       "model file '%s': buffer '%s' holds a negative variance "
                                       "(%g at index %zu): the file is corrupt",
                                       path, names[i], d[k], k);
          free(d), free(b), free(p), free(names);
          return e;
        }
    for (size_t k = 0; k < p[i]->size; k++)
      b[off + k] = (float) d[k];
    free(d);
    off += p[i]->size;
  }
  free(p), free(names);
  *all = b, *total = cnt;
  return GYRE_OK;
}

static GyreStatus read_norm(GyreFile f, const char *path, GyreNormalization *norm)
{
  memset(norm, 0, sizeof *norm);
  const char *nn[4]  = {"norm_in_mean", "norm_in_std", "norm_out_mean", "norm_out_std"};
  double     *dst[4] = {norm->in_mean, norm->in_std, norm->out_mean, norm->out_std};
  for (int j = 0; j < 4; j++) {
    int    nd, ht;
    char   dn[GYRE_IO_MAX_DIMS][64];
    size_t len[GYRE_IO_MAX_DIMS];
    if (GyreFileInqVar(f, nn[j], &nd, dn, len, &ht))
      return GyreStatusSet(GYRE_ERR_FORMAT,
                           "model file '%s': normalisation variable '%s' is "
                           "missing",
                           path, nn[j]);
    if (nd != 1 || ht || len[0] < 1 || len[0] > GYRE_DATA_MAX_CHANNELS)
      return GyreStatusSet(GYRE_ERR_FORMAT,
                           "model file '%s': normalisation variable '%s' has "
                           "a wrong shape",
                           path, nn[j]);
    size_t     start[1] = {0}, count[1] = {len[0]};
    GyreStatus s = GyreFileReadBlock(f, nn[j], 0, start, count, dst[j]);
    if (s) {
      char msg[1024];
      snprintf(msg, sizeof msg, "%s", GyreStatusMessage());
      return GyreStatusSet(s, "model file '%s': cannot read '%s': %s", path, nn[j], msg);
    }
    if (j < 2)
      norm->nin = (int) len[0];
    else
      norm->nout = (int) len[0];
  }
  /* the band (optional): both variables or neither, each nin values */
  {
    const char *bn[2] = {"norm_in_ms_min", "norm_in_ms_max"};
    double     *bv[2] = {norm->in_ms_min, norm->in_ms_max};
    int         nd[2], ht, has[2];
    char        dn[GYRE_IO_MAX_DIMS][64];
    size_t      len[2][GYRE_IO_MAX_DIMS], start[1] = {0}, count[1] = {(size_t) norm->nin};
    for (int j = 0; j < 2; j++)
      has[j] = !GyreFileInqVar(f, bn[j], &nd[j], dn, len[j], &ht);
    if (has[0] != has[1]) /* one alone is a damaged file, not one without a band */
      return GyreStatusSet(GYRE_ERR_FORMAT,
                           "model file '%s': it has %s but not %s (the guard's band needs both)",
                           path, bn[has[1]], bn[has[0]]);
    for (int j = 0; j < 2 && has[0]; j++)
      if (nd[j] != 1 || len[j][0] != (size_t) norm->nin ||
          GyreFileReadBlock(f, bn[j], 0, start, count, bv[j]))
        return GyreStatusSet(GYRE_ERR_FORMAT,
                             "model file '%s': norm_in_ms_min/max are not %d finite values", path,
                             norm->nin);
    norm->has_band = has[0];
  }
  for (int c = 0; c < norm->nin; c++)
    if (!(norm->in_std[c] > 0))
      return GyreStatusSet(GYRE_ERR_FORMAT,
                           "model file '%s': norm_in_std[%d] = %g is not "
                           "positive",
                           path, c, norm->in_std[c]);
  for (int c = 0; c < norm->nout; c++)
    if (!(norm->out_std[c] > 0))
      return GyreStatusSet(GYRE_ERR_FORMAT,
                           "model file '%s': norm_out_std[%d] = %g is not "
                           "positive",
                           path, c, norm->out_std[c]);
  return GYRE_OK;
}

static int count_names(const char *list)
{
  int n = list[0] ? 1 : 0;
  for (const char *c = list; *c; c++)
    n += *c == ',';
  return n;
}

/* The parts of a model file that must agree with each other (each read alone is valid): the
 * fields, the normalisation's channels and the network's inputs and outputs, the stencil and
 * the grid, the guard's band. A file edited by hand or by another tool fails here, not at its
 * first use with a message that contradicts itself. */
static GyreStatus check_consistent(const char *path, const GyreModelMeta *m,
                                   const GyreNormalization *norm)
{
  const int    nfin = count_names(m->input_fields), nfout = count_names(m->output_fields);
  const int    pp = m->per_point && (!m->mode[0] || !strcmp(m->mode, "closure"));
  const size_t w = (size_t) (2 * m->stencil + 1), P = (size_t) m->grid_nx * (size_t) m->grid_ny;
  const size_t S = pp ? (m->grid_ny > 1 ? w * w : w) : 1;
  if (norm->nin != nfin * m->history || norm->nout != nfout)
    return GyreStatusSet(GYRE_ERR_FORMAT,
                         "model file '%s': its normalisation has %d input and %d output channels, "
                         "but input_fields '%s' (history %d) and output_fields '%s' make %d and %d",
                         path, norm->nin, norm->nout, m->input_fields, m->history, m->output_fields,
                         nfin * m->history, nfout);
  if (m->stencil > 0 &&
      (!pp || w > (size_t) m->grid_nx || (m->grid_ny > 1 && w > (size_t) m->grid_ny)))
    return GyreStatusSet(GYRE_ERR_FORMAT,
                         "model file '%s': stencil %d (%zu points wide) needs a per-point closure "
                         "MLP on a grid at least as wide, not %s on %d x %d points",
                         path, m->stencil, w, pp ? "one" : "whole fields", m->grid_nx, m->grid_ny);
  size_t in = 0, out = 0, want_in = (size_t) norm->nin, want_out = (size_t) norm->nout;
  if (m->type == GYRE_NET_MLP) {
    in = (size_t) m->mlp.inputs, out = (size_t) m->mlp.outputs;
    want_in *= pp ? S : P, want_out *= pp ? 1 : P;
  } else if (m->type == GYRE_NET_FNO)
    in = (size_t) m->fno.in_channels, out = (size_t) m->fno.out_channels;
  else
    in = (size_t) m->cnn.in_channels, out = (size_t) m->cnn.out_channels;
  if (in != want_in || out != want_out)
    return GyreStatusSet(GYRE_ERR_FORMAT,
                         "model file '%s': its network takes %zu inputs and gives %zu outputs, but "
                         "its normalisation (%d and %d channels)%s make %zu and %zu",
                         path, in, out, norm->nin, norm->nout,
                         m->type != GYRE_NET_MLP ? ""
                         : pp                    ? ", per point with its stencil,"
                                                 : ", on whole fields of its grid,",
                         want_in, want_out);
  for (int c = 0; norm->has_band && c < norm->nin; c++)
    if (!(norm->in_ms_min[c] >= 0 && norm->in_ms_min[c] <= norm->in_ms_max[c]))
      return GyreStatusSet(GYRE_ERR_FORMAT,
                           "model file '%s': the guard's band of input channel %d is [%g, %g] "
                           "(expected 0 <= min <= max)",
                           path, c, norm->in_ms_min[c], norm->in_ms_max[c]);
  return GYRE_OK;
}

static GyreStatus read_all(GyreFile f, const char *path, GyreBackend *be, GyreNet **pnet,
                           GyreModelMeta *meta, GyreNormalization *norm)
{
  double ver;
  if (GyreFileGetAttDouble(f, "gyre_model_format_version", &ver))
    return GyreStatusSet(GYRE_ERR_FORMAT,
                         "model file '%s': no gyre_model_format_version attribute (not a gyre "
                         "model file)",
                         path);
  if (ver != GYRE_MODEL_FORMAT_VERSION)
    return GyreStatusSet(GYRE_ERR_FORMAT,
                         "model file '%s': format version %g is not supported (this gyre reads "
                         "version %d; a newer gyre wrote it?)",
                         path, ver, GYRE_MODEL_FORMAT_VERSION);
  GyreCall(read_meta(f, path, meta));
  /* the architecture's size against the count the writer stored, before anything is allocated
   * (a corrupt width would otherwise allocate gigabytes) */
  double pc;
  if (!GyreFileGetAttDouble(f, "parameter_count", &pc) && pc != (double) arch_count(meta)) {
    char arch[512];
    return GyreStatusSet(GYRE_ERR_FORMAT,
                         "model file '%s': its architecture attributes, %s, disagree with its "
                         "parameter_count %.17g: the file is corrupt",
                         path, GyreModelArchString(meta, arch, sizeof arch), pc);
  }
  GyreNet   *net = NULL;
  GyreStatus s;
  if (meta->type == GYRE_NET_MLP)
    s = GyreNetCreateMLP(be, &meta->mlp, meta->seed, &net);
  else if (meta->type == GYRE_NET_FNO)
    s = GyreNetCreateFNO(be, &meta->fno, meta->seed, &net);
  else
    s = GyreNetCreateCNN(be, &meta->cnn, meta->seed, &net);
  if (s) {
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", GyreStatusMessage());
    return GyreStatusSet(GYRE_ERR_FORMAT, "model file '%s': its architecture is impossible: %s",
                         path, msg);
  }
  float *all   = NULL;
  size_t total = 0;
  s            = read_weights(f, path, net, &all, &total);
  if (!s) {
    char want[65], got[65];
    s = get_text(f, path, "weights_sha256", want, sizeof want);
    if (!s) {
      GyreHashBuffer(all, total * sizeof(float), got);
      if (strcmp(want, got))
        s = GyreStatusSet(GYRE_ERR_FORMAT,
                          "model file '%s': weights checksum mismatch (sha256 %s, the file "
                          "says %s): the file is corrupt",
                          path, got, want);
    }
  }
  if (!s) {
    int          n, np;
    GyreTensor **p     = NULL;
    const char **names = NULL;
    s                  = net_tensors(net, &np, &n, &p, &names);
    size_t off         = 0;
    for (int i = 0; !s && i < n; i++) {
      s = GyreTensorCopyFromHost(p[i], all + off);
      off += p[i]->size;
    }
    free(p), free(names);
  }
  free(all);
  char *want_norm = NULL;
  if (!s) s = read_norm(f, path, norm);
  if (!s && !GyreFileGetAttText(f, "normalization_sha256", &want_norm)) {
    char got[65]; /* files written before it was stored have none */
    hash_norm(norm, got);
    if (strcmp(want_norm, got))
      s = GyreStatusSet(GYRE_ERR_FORMAT,
                        "model file '%s': normalisation checksum mismatch (sha256 %s, the file "
                        "says %s): the file is corrupt",
                        path, got, want_norm);
  }
  free(want_norm);
  if (!s) s = check_consistent(path, meta, norm);
  if (s) {
    GyreNetDestroy(&net);
    return s;
  }
  *pnet = net;
  return GYRE_OK;
}

GyreStatus GyreModelFileRead(MPI_Comm comm, const char *path, GyreBackend *backend, GyreNet **net,
                             GyreModelMeta *meta, GyreNormalization *norm)
{
  if (!path || !backend || !net || !meta || !norm)
    return GyreStatusSet(GYRE_ERR_ARG, "GyreModelFileRead: NULL argument");
  GyreFile   f = NULL;
  GyreStatus s = GyreFileOpen(comm, path, 0, &f);
  if (s) {
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", GyreStatusMessage());
    return GyreStatusSet(s == GYRE_ERR_MEM ? s : GYRE_ERR_FORMAT,
                         "model file '%s' cannot be opened as NetCDF-4 (missing, truncated or "
                         "not NetCDF): %s",
                         path, msg);
  }
  GyreModelMeta    *m = malloc(sizeof *m);
  GyreNormalization nm;
  GyreNet          *out = NULL;
  if (!m)
    s = GyreStatusSet(GYRE_ERR_MEM, "model file: out of memory");
  else
    s = read_all(f, path, backend, &out, m, &nm);
  char msg[2048];
  snprintf(msg, sizeof msg, "%s", GyreStatusMessage());
  GyreStatus cs = GyreFileClose(&f);
  if (s)
    GyreStatusSet(s, "%s", msg);
  else if (cs)
    s = cs;
  if (!s) {
    *net = out, *meta = *m, *norm = nm;
  } else {
    GyreNetDestroy(&out);
  }
  free(m);
  return s;
}

/* ---- training record ---------------------------------------------------------------- */

static GyreStatus read_doubles(GyreFile f, const char *path, const char *name, size_t n,
                               double **out)
{
  int    nd, ht;
  char   dn[GYRE_IO_MAX_DIMS][64];
  size_t len[GYRE_IO_MAX_DIMS];
  if (GyreFileInqVar(f, name, &nd, dn, len, &ht))
    return GyreStatusSet(GYRE_ERR_FORMAT, "model file '%s': variable '%s' is missing", path, name);
  if (nd != 1 || ht || len[0] != n)
    return GyreStatusSet(GYRE_ERR_FORMAT, "model file '%s': variable '%s' has a wrong shape", path,
                         name);
  double *d = malloc((n ? n : 1) * sizeof(double));
  if (!d) return GyreStatusSet(GYRE_ERR_MEM, "model file: out of memory");
  size_t     start[1] = {0}, count[1] = {n};
  GyreStatus s = GyreFileReadBlock(f, name, 0, start, count, d);
  if (s) {
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", GyreStatusMessage());
    free(d);
    return GyreStatusSet(s, "model file '%s': cannot read '%s': %s", path, name, msg);
  }
  *out = d;
  return GYRE_OK;
}

static GyreStatus read_training(GyreFile f, const char *path, GyreNet *net, GyreModelTraining *t)
{
  int curve, vl, opt;
  GyreCall(get_int(f, path, "has_learning_curve", &curve));
  GyreCall(get_int(f, path, "has_val_loss", &vl));
  GyreCall(get_int(f, path, "has_optimizer_state", &opt));
  double pb = 0;
  if (GyreFileGetAttDouble(f, "partial_epoch_batches", &pb)) pb = 0;
  if (GyreFileGetAttDouble(f, "partial_epoch_loss", &t->partial_loss)) t->partial_loss = 0;
  if (pb < 0 || pb != floor(pb) || !isfinite(t->partial_loss))
    return GyreStatusSet(GYRE_ERR_FORMAT, "model file '%s': partial_epoch_batches %g / loss %g",
                         path, pb, t->partial_loss);
  t->partial_batches = (long) pb;
  if (curve) {
    int    nd, ht;
    char   dn[GYRE_IO_MAX_DIMS][64];
    size_t len[GYRE_IO_MAX_DIMS];
    if (GyreFileInqVar(f, "curve_epoch", &nd, dn, len, &ht) || nd != 1)
      return GyreStatusSet(GYRE_ERR_FORMAT,
                           "model file '%s': variable 'curve_epoch' is missing "
                           "or not 1-D",
                           path);
    t->nepochs = (int) len[0];
    GyreCall(read_doubles(f, path, "curve_epoch", len[0], &t->epoch));
    GyreCall(read_doubles(f, path, "curve_train_loss", len[0], &t->train_loss));
    if (vl) GyreCall(read_doubles(f, path, "curve_val_loss", len[0], &t->val_loss));
  }
  if (!opt) {
    if (t->opt)
      return GyreStatusSet(GYRE_ERR_FORMAT,
                           "'%s' is a model file, not a training checkpoint: it holds no "
                           "optimiser state (resume from its checkpoint, by default "
                           "MODEL.ckpt.nc)",
                           path);
    return GYRE_OK;
  }
  int step;
  GyreCall(get_int(f, path, "optimizer_step", &step));
  t->step = step;
  if (!t->opt) return GYRE_OK;
  int                n;
  GyreTensor *const *p, *const *g;
  const char *const *names;
  GyreCall(GyreNetParameters(net, &n, &p, &g, &names));
  size_t ns = GyreOptimizerStateSize(t->opt), cnt = 0;
  for (int i = 0; i < n; i++)
    cnt += p[i]->size;
  if (ns != cnt)
    return GyreStatusSet(GYRE_ERR_ARG,
                         "model file '%s': the optimiser holds %zu values but the "
                         "network %zu",
                         path, ns, cnt);
  float     *mv[2] = {malloc((ns ? ns : 1) * sizeof(float)), malloc((ns ? ns : 1) * sizeof(float))};
  GyreStatus s =
      (mv[0] && mv[1]) ? GYRE_OK : GyreStatusSet(GYRE_ERR_MEM, "model file: out of memory");
  size_t off = 0;
  for (int i = 0; !s && i < n; i++) {
    for (int j = 0; !s && j < 2; j++) {
      char   vn[160];
      int    nd, ht;
      char   dn[GYRE_IO_MAX_DIMS][64];
      size_t len[GYRE_IO_MAX_DIMS], start[GYRE_IO_MAX_DIMS] = {0};
      snprintf(vn, sizeof vn, "adam_%c.%s", j ? 'v' : 'm', names[i]);
      if (GyreFileInqVar(f, vn, &nd, dn, len, &ht)) {
        s = GyreStatusSet(GYRE_ERR_FORMAT, "model file '%s': optimiser state '%s' is missing", path,
                          vn);
        break;
      }
      int ok = nd == p[i]->ndim && !ht;
      for (int k = 0; ok && k < nd; k++)
        ok = len[k] == (size_t) p[i]->shape[k];
      if (!ok) {
        s = GyreStatusSet(GYRE_ERR_FORMAT,
                          "model file '%s': optimiser state '%s' has a wrong "
                          "shape",
                          path, vn);
        break;
      }
      double *d = malloc((p[i]->size ? p[i]->size : 1) * sizeof(double));
      if (!d) {
        s = GyreStatusSet(GYRE_ERR_MEM, "model file: out of memory");
        break;
      }
      s = GyreFileReadBlock(f, vn, 0, start, len, d);
      for (size_t k = 0; !s && k < p[i]->size; k++) {
        mv[j][off + k] = (float) d[k];
        /* a second moment is a mean of squares; either beyond float's range is no state Adam
         * makes (each would make the loss NaN at the first step, far from its cause) */
        if ((j == 1 && d[k] < 0) || !isfinite(mv[j][off + k]))
          s = GyreStatusSet(GYRE_ERR_FORMAT,
                            "model file '%s': optimiser state '%s' holds %g at element %zu%s: "
                            "the checkpoint is corrupt",
                            path, vn, d[k], k,
                            j == 1 && d[k] < 0 ? " (a second moment is never negative)"
                                               : " (beyond float's range)");
      }
      free(d);
    }
    off += p[i]->size;
  }
  if (!s) s = GyreOptimizerSetState(t->opt, mv[0], mv[1], step);
  free(mv[0]), free(mv[1]);
  return s;
}

GyreStatus GyreModelFileReadTraining(MPI_Comm comm, const char *path, GyreNet *net,
                                     GyreModelTraining *train)
{
  if (!path || !net || !train)
    return GyreStatusSet(GYRE_ERR_ARG, "GyreModelFileReadTraining: NULL argument");
  train->nepochs = 0, train->epoch = train->train_loss = train->val_loss = NULL, train->step = -1;
  train->partial_batches = 0, train->partial_loss = 0;
  GyreFile   f = NULL;
  GyreStatus s = GyreFileOpen(comm, path, 0, &f);
  if (s) {
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", GyreStatusMessage());
    return GyreStatusSet(GYRE_ERR_FORMAT, "model file '%s' cannot be opened as NetCDF-4: %s", path,
                         msg);
  }
  s = read_training(f, path, net, train);
  char msg[2048];
  snprintf(msg, sizeof msg, "%s", GyreStatusMessage());
  GyreStatus cs = GyreFileClose(&f);
  if (s)
    GyreStatusSet(s, "%s", msg);
  else
    s = cs;
  if (s) {
    free(train->epoch), free(train->train_loss), free(train->val_loss);
    train->nepochs = 0, train->epoch = train->train_loss = train->val_loss = NULL;
  }
  return s;
}
