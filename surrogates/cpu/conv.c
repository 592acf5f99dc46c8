/* conv.c — CPU convolution, 1-D and 2-D, stride 1, odd kernels, "same" output size with zero
 * or circular padding of (K-1)/2 (PyTorch's Conv1d/Conv2d with padding_mode 'zeros' or
 * 'circular'; cross-correlation, as every deep-learning framework computes it):
 *   y[n,o,y,x] = b[o] + sum_{i,ky,kx} W[o,i,ky,kx] x[n,i,y+ky-PY,x+kx-PX].
 * A 1-D convolution is the 2-D one with Y = KY = 1. OpenMP over the batch, each thread with its
 * own scratch and its own dW partial sum (reduced at the end); OpenBLAS single-threaded inside.
 * Three algorithms, the same results up to float rounding:
 *
 *  direct (forward only; Cout <= CONV_DIRECT_MAX_COUT and a kernel larger than 1x1, with AVX2 +
 *    FMA): below, before the op-table entries.
 *  shift-GEMM (Cin >= CONV_SHIFT_MIN_CIN, and every 1x1 convolution): no im2col. Each sample
 *    is padded once into xp (Cin, Y + 2 PY, X + 2 PX) (circular wrap or zeros; plus 2 PX zero
 *    floats at the end). With Xp = X + 2 PX, the output on the "extended" grid
 *    yext[o, y Xp + x] (x in [0, Xp); columns x >= X are garbage, then dropped) is
 *      yext (Cout, Y Xp) = sum over the KY KX offsets k of W_k (Cout, Cin) xp_k (Cin, Y Xp),
 *    where xp_k is xp shifted by ky Xp + kx: a plain strided matrix (leading dimension the
 *    padded plane), so each offset is one sgemm reading the input in place. The backward is
 *    the same trick: dW_k += dyext (Cout, Y Xp) xp_k^T with dyext's garbage columns zero, and
 *    dx = the convolution of dy padded the same way (circular or zeros) with the flipped
 *    kernel, W_k^T (Cin, Cout). A 1x1 convolution needs no padding and no copies at all.
 *    Scratch per thread: a few padded planes, O((Cin + Cout) (Y + 2PY) (X + 2PX)).
 *  im2col + sgemm (few input channels, where one offset's sgemm would be a rank-Cin update):
 *    im2col of a block of rows (bounded to about 4 MiB of scratch per thread) and sgemm.
 *
 * GYRE_CONV_ALGO=im2col|shift|direct in the environment forces one algorithm (for tests of
 * each; direct only for the forward and only with AVX2 + FMA, the default choice elsewhere);
 * GYRE_CONV_ALGO=fft runs a 2-D circular convolution with an even number of rows through the FFT
 * (conv_fft.c; the others as by default); any other value is refused with one error naming it. */
#include <cblas.h>
#include <stdlib.h>
#include <string.h>
#include "cpu_ops.h"
#include "op_shapes.h"
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

typedef GyreConvShape ConvShape;
#define conv_shape GyreConvShapeOf

static inline int wrap(int v, int n)
{
  v %= n;
  return v < 0 ? v + n : v;
}

/* rows per im2col block: CK * rows * X floats at most ~1M, at least one row */
static int conv_block_rows(const ConvShape *s)
{
  const size_t ck   = (size_t) s->Cin * s->KY * s->KX;
  size_t       rows = ((size_t) 1 << 20) / (ck * (size_t) s->X);
  if (rows < 1) rows = 1;
  if (rows > (size_t) s->Y) rows = (size_t) s->Y;
  return (int) rows;
}

/* the x in [lo, hi) whose source x + ox is inside [0, X): the rest are padding (zeros, or the
 * wrapped source) */
static inline void inside(int X, int ox, int *lo, int *hi)
{
  *lo = ox < 0 ? (-ox < X ? -ox : X) : 0;
  *hi = ox > 0 ? (X - ox > *lo ? X - ox : *lo) : X;
}

/* col[(i KY + ky) KX + kx][(y - y0) X + x] = x[i, y + ky - PY, x + kx - PX] for y in [y0, y1):
 * each row a copy of the source row shifted by kx - PX, its padding apart (a test and branch a
 * value made im2col cost as much as the small CNNs' sgemm) */
static void im2col(const ConvShape *s, const float *xn, int y0, int y1, float *col)
{
  const int    X = s->X, Y = s->Y, cols = (y1 - y0) * X;
  const size_t plane = (size_t) Y * X;
  for (int i = 0; i < s->Cin; i++)
    for (int ky = 0; ky < s->KY; ky++)
      for (int kx = 0; kx < s->KX; kx++) {
        float    *c  = col + ((size_t) (i * s->KY + ky) * s->KX + kx) * cols;
        const int ox = kx - s->PX;
        int       lo, hi;
        inside(X, ox, &lo, &hi);
        for (int y = y0; y < y1; y++) {
          float *cr = c + (size_t) (y - y0) * X;
          int    ys = y + ky - s->PY;
          if (ys < 0 || ys >= Y) {
            if (!s->circ) {
              memset(cr, 0, sizeof(float) * X);
              continue;
            }
            ys = wrap(ys, Y);
          }
          const float *xr = xn + (size_t) i * plane + (size_t) ys * X;
          for (int x = 0; x < lo; x++)
            cr[x] = s->circ ? xr[wrap(x + ox, X)] : 0.0f;
          if (hi > lo) /* (else xr + lo + ox may lie outside the row: a kernel wider than it) */
            memcpy(cr + lo, xr + lo + ox, sizeof(float) * (size_t) (hi - lo));
          for (int x = hi; x < X; x++)
            cr[x] = s->circ ? xr[wrap(x + ox, X)] : 0.0f;
        }
      }
}

/* the adjoint of im2col: dxn[i, y + ky - PY, x + kx - PX] += col[...] */
static void col2im_add(const ConvShape *s, const float *col, int y0, int y1, float *dxn)
{
  const int    X = s->X, Y = s->Y, cols = (y1 - y0) * X;
  const size_t plane = (size_t) Y * X;
  for (int i = 0; i < s->Cin; i++)
    for (int ky = 0; ky < s->KY; ky++)
      for (int kx = 0; kx < s->KX; kx++) {
        const float *c  = col + ((size_t) (i * s->KY + ky) * s->KX + kx) * cols;
        const int    ox = kx - s->PX;
        int          lo, hi;
        inside(X, ox, &lo, &hi);
        for (int y = y0; y < y1; y++) {
          const float *cr = c + (size_t) (y - y0) * X;
          int          ys = y + ky - s->PY;
          if (ys < 0 || ys >= Y) {
            if (!s->circ) continue;
            ys = wrap(ys, Y);
          }
          float *dr = dxn + (size_t) i * plane + (size_t) ys * X;
          /* one addition an element of dr (x -> x + ox is one to one): the order of the
           * additions into each element is the loops' over (ky, kx, y), as before */
          for (int x = lo; x < hi; x++)
            dr[x + ox] += cr[x];
          if (s->circ) {
            for (int x = 0; x < lo; x++)
              dr[wrap(x + ox, X)] += cr[x];
            for (int x = hi; x < X; x++)
              dr[wrap(x + ox, X)] += cr[x];
          }
        }
      }
}

static int conv_threads(GyreBackend *be, int N)
{
  int t = be->threads > 0 ? be->threads : 1;
  return t < N ? t : N;
}

static GyreStatus conv_forward_im2col(GyreBackend *be, const ConvShape s, const GyreTensor *x,
                                      const GyreTensor *W, const GyreTensor *b, GyreTensor *y)
{
  const int    CK = s.Cin * s.KY * s.KX, rows = conv_block_rows(&s);
  const size_t plane = (size_t) s.Y * s.X, colsz = (size_t) CK * rows * s.X;
  int          failed = 0;

#pragma omp parallel num_threads(conv_threads(be, s.N))
  {
    float *col = malloc(sizeof(float) * colsz);
    if (!col) {
#pragma omp atomic write
      failed = 1;
    }
#pragma omp for schedule(static)
    for (int n = 0; n < s.N; n++) {
      if (!col) continue;
      const float *xn = x->data + (size_t) n * s.Cin * plane;
      float       *yn = y->data + (size_t) n * s.Cout * plane;
      for (int y0 = 0; y0 < s.Y; y0 += rows) {
        const int y1 = y0 + rows < s.Y ? y0 + rows : s.Y, cols = (y1 - y0) * s.X;
        im2col(&s, xn, y0, y1, col);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, s.Cout, cols, CK, 1.0f, W->data, CK,
                    col, cols, 0.0f, yn + (size_t) y0 * s.X, (int) plane);
      }
      if (b)
        for (int o = 0; o < s.Cout; o++) {
          const float bo = b->data[o];
          float      *yo = yn + (size_t) o * plane;
          for (size_t k = 0; k < plane; k++)
            yo[k] += bo;
        }
    }
    free(col);
  }
  if (failed)
    return GyreStatusSet(GYRE_ERR_MEM, "cpu conv_forward: out of memory allocating %zu bytes",
                         sizeof(float) * colsz);
  return GYRE_OK;
}

static GyreStatus conv_backward_im2col(GyreBackend *be, const ConvShape s, const GyreTensor *x,
                                       const GyreTensor *W, const GyreTensor *dy, GyreTensor *dx,
                                       GyreTensor *dW)
{
  const int    CK = s.Cin * s.KY * s.KX, rows = conv_block_rows(&s);
  const size_t plane = (size_t) s.Y * s.X, colsz = (size_t) CK * rows * s.X;
  const size_t wsz    = (size_t) s.Cout * CK;
  int          failed = 0;

  if (!dx && !dW) return GYRE_OK;

#pragma omp parallel num_threads(conv_threads(be, s.N))
  {
    float *col  = (dW || dx) ? malloc(sizeof(float) * colsz) : NULL;
    float *dcol = dx ? malloc(sizeof(float) * colsz) : NULL;
    float *dWl  = dW ? calloc(wsz, sizeof(float)) : NULL;
    int    ok   = col && (!dx || dcol) && (!dW || dWl);
    if (!ok) {
#pragma omp atomic write
      failed = 1;
    }
#pragma omp for schedule(static)
    for (int n = 0; n < s.N; n++) {
      if (!ok) continue;
      const float *xn  = x->data + (size_t) n * s.Cin * plane;
      const float *dyn = dy->data + (size_t) n * s.Cout * plane;
      float       *dxn = dx ? dx->data + (size_t) n * s.Cin * plane : NULL;
      if (dxn) memset(dxn, 0, sizeof(float) * s.Cin * plane);
      for (int y0 = 0; y0 < s.Y; y0 += rows) {
        const int    y1 = y0 + rows < s.Y ? y0 + rows : s.Y, cols = (y1 - y0) * s.X;
        const float *g = dyn + (size_t) y0 * s.X;
        if (dW) {
          /* dW (Cout, CK) += dy_block (Cout, cols) col^T (cols, CK) */
          im2col(&s, xn, y0, y1, col);
          cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, s.Cout, CK, cols, 1.0f, g,
                      (int) plane, col, cols, 1.0f, dWl, CK);
        }
        if (dx) {
          /* dcol (CK, cols) = W^T (CK, Cout) dy_block (Cout, cols) */
          cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, CK, cols, s.Cout, 1.0f, W->data, CK,
                      g, (int) plane, 0.0f, dcol, cols);
          col2im_add(&s, dcol, y0, y1, dxn);
        }
      }
    }
    if (ok && dW) {
#pragma omp critical(gyre_conv_dw)
      for (size_t k = 0; k < wsz; k++)
        dW->data[k] += dWl[k];
    }
    free(col);
    free(dcol);
    free(dWl);
  }
  if (failed)
    return GyreStatusSet(GYRE_ERR_MEM, "cpu conv_backward: out of memory allocating %zu bytes",
                         sizeof(float) * (2 * colsz + wsz));
  return GYRE_OK;
}

/* sum of g[0..n), in double over blocks of 256 summed in 8 float lanes (vectorised) */
static double plane_sum(const float *g, size_t n)
{
  double t = 0;
  size_t k = 0;
  for (; k + 256 <= n; k += 256) {
    float a[8] = {0};
    for (size_t j = 0; j < 256; j += 8)
      for (int l = 0; l < 8; l++)
        a[l] += g[k + j + l];
    t += (double) a[0] + a[1] + a[2] + a[3] + a[4] + a[5] + a[6] + a[7];
  }
  for (; k < n; k++)
    t += g[k];
  return t;
}

/* db[o] += sum over n and space of dy[n, o], accumulated in double (see plane_sum) */
static void conv_bias_grad(GyreBackend *be, const ConvShape *s, const GyreTensor *dy,
                           GyreTensor *db)
{
  const size_t plane = (size_t) s->Y * s->X;
#pragma omp parallel for num_threads(be->threads) if ((size_t) s->N * s->Cout * plane > 65536)
  for (int o = 0; o < s->Cout; o++) {
    double acc = 0;
    for (int n = 0; n < s->N; n++)
      acc += plane_sum(dy->data + ((size_t) n * s->Cout + o) * plane, plane);
    db->data[o] += (float) acc;
  }
}

/* ---- shift-GEMM ----------------------------------------------------------------------- */
#define CONV_SHIFT_MIN_CIN 8

/* padded-plane geometry of the shift algorithm */
typedef struct {
  int    Yp, Xp;
  size_t pplane; /* Yp Xp */
  size_t ext;    /* Y Xp: one channel of the extended output grid */
} ShiftGeom;

static ShiftGeom shift_geom(const ConvShape *s)
{
  ShiftGeom g;
  g.Yp     = s->Y + 2 * s->PY;
  g.Xp     = s->X + 2 * s->PX;
  g.pplane = (size_t) g.Yp * g.Xp;
  g.ext    = (size_t) s->Y * g.Xp;
  return g;
}

/* d[0..n) = s[0..n): 4 floats a vector in line where SSE2 is the baseline (a row is a few
 * vectors: a memcpy call a row was a tenth of a small CNN's inference, and GCC makes a plain
 * loop into the call) */
static inline void copy_row(float *d, const float *s, int n)
{
#if defined(__SSE2__)
  int i = 0;
  for (; i + 4 <= n; i += 4)
    _mm_storeu_ps(d + i, _mm_loadu_ps(s + i));
  for (; i < n; i++)
    d[i] = s[i];
#else
  memcpy(d, s, sizeof(float) * (size_t) n);
#endif
}

/* dst (C, Yp, Xp) = src (C, Y, X) padded by PY, PX (circular wrap or zeros), then 2 PX zero
 * floats (the last offset's slab reads that far into garbage columns) */
static void pad_planes(const ConvShape *s, const ShiftGeom *g, int C, int circ, const float *src,
                       float *dst)
{
  const int X = s->X, Y = s->Y, PX = s->PX, PY = s->PY;
  for (int c = 0; c < C; c++) {
    const float *sc = src + (size_t) c * Y * X;
    float       *dc = dst + (size_t) c * g->pplane;
    for (int r = 0; r < g->Yp; r++) {
      float *dr = dc + (size_t) r * g->Xp;
      int    ys = r - PY;
      if (ys < 0 || ys >= Y) {
        if (!circ) {
          memset(dr, 0, sizeof(float) * g->Xp);
          continue;
        }
        ys = wrap(ys, Y);
      }
      const float *sr = sc + (size_t) ys * X;
      for (int x = 0; x < PX; x++) { /* (no division where the pad is narrower than the row) */
        dr[x]          = !circ ? 0.0f : PX <= X ? sr[X - PX + x] : sr[wrap(x - PX, X)];
        dr[PX + X + x] = !circ ? 0.0f : PX <= X ? sr[x] : sr[wrap(X + x, X)];
      }
      copy_row(dr + PX, sr, X);
    }
  }
  memset(dst + (size_t) C * g->pplane, 0, sizeof(float) * 2 * PX);
}

/* The shift algorithm's source for one sample's C planes: the planes themselves (leading
 * dimension Y X) when nothing is padded, else their padded copy in scratch (Yp Xp). */
static const float *shift_source(const ConvShape *s, const ShiftGeom *g, int C, int padded,
                                 const float *planes, float *scratch, size_t *ld)
{
  if (!padded) {
    *ld = (size_t) s->Y * s->X;
    return planes;
  }
  pad_planes(s, g, C, s->circ, planes, scratch);
  *ld = g->pplane;
  return scratch;
}

/* dst (C, Y, X) = the first X columns of each row of src (C, Y, Xp) */
static void drop_garbage(const ConvShape *s, const ShiftGeom *g, int C, const float *src,
                         float *dst)
{
  for (size_t r = 0; r < (size_t) C * s->Y; r++)
    memcpy(dst + r * s->X, src + r * g->Xp, sizeof(float) * s->X);
}

/* Wt[k][o][i] = W[o][i][k] (k = ky KX + kx) */
static float *transpose_weights(const ConvShape *s, const float *W)
{
  const int KK = s->KY * s->KX;
  float    *Wt = malloc(sizeof(float) * (size_t) KK * s->Cout * s->Cin);
  if (!Wt) return NULL;
  for (int o = 0; o < s->Cout; o++)
    for (int i = 0; i < s->Cin; i++)
      for (int k = 0; k < KK; k++)
        Wt[((size_t) k * s->Cout + o) * s->Cin + i] = W[((size_t) o * s->Cin + i) * KK + k];
  return Wt;
}

static GyreStatus conv_forward_shift(GyreBackend *be, const ConvShape s, const GyreTensor *x,
                                     const GyreTensor *W, const GyreTensor *b, GyreTensor *y)
{
  const ShiftGeom g  = shift_geom(&s);
  const int       KK = s.KY * s.KX, padded = s.PX || s.PY;
  const size_t    plane = (size_t) s.Y * s.X;
  const size_t    xpsz  = padded ? (size_t) s.Cin * g.pplane + 2 * s.PX : 0,
               ysz      = s.PX ? s.Cout * g.ext : 0;
  float *Wt             = KK > 1 ? transpose_weights(&s, W->data) : W->data;
  int    failed         = 0;
  if (!Wt)
    return GyreStatusSet(GYRE_ERR_MEM, "cpu conv_forward: out of memory allocating %zu bytes",
                         sizeof(float) * (size_t) KK * s.Cout * s.Cin);

#pragma omp parallel num_threads(conv_threads(be, s.N))
  {
    float *xp = xpsz ? malloc(sizeof(float) * xpsz) : NULL;
    float *ye = ysz ? malloc(sizeof(float) * ysz) : NULL;
    int    ok = (!xpsz || xp) && (!ysz || ye);
    if (!ok) {
#pragma omp atomic write
      failed = 1;
    }
#pragma omp for schedule(static)
    for (int n = 0; n < s.N; n++) {
      if (!ok) continue;
      const float *xn = x->data + (size_t) n * s.Cin * plane;
      float       *yn = y->data + (size_t) n * s.Cout * plane;
      size_t       ld;
      const float *src = shift_source(&s, &g, s.Cin, padded, xn, xp, &ld);
      float       *dst = s.PX ? ye : yn;
      for (int k = 0; k < KK; k++) {
        const int ky = k / s.KX, kx = k % s.KX;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, s.Cout, (int) g.ext, s.Cin, 1.0f,
                    Wt + (size_t) k * s.Cout * s.Cin, s.Cin, src + (size_t) ky * g.Xp + kx,
                    (int) ld, k ? 1.0f : 0.0f, dst, (int) g.ext);
      }
      if (s.PX) drop_garbage(&s, &g, s.Cout, ye, yn);
      if (b)
        for (int o = 0; o < s.Cout; o++) {
          const float bo = b->data[o];
          float      *yo = yn + (size_t) o * plane;
          for (size_t k = 0; k < plane; k++)
            yo[k] += bo;
        }
    }
    free(xp);
    free(ye);
  }
  if (Wt != W->data) free(Wt);
  if (failed)
    return GyreStatusSet(GYRE_ERR_MEM, "cpu conv_forward: out of memory allocating %zu bytes",
                         sizeof(float) * (xpsz + ysz + (size_t) KK * s.Cout * s.Cin));
  return GYRE_OK;
}

static GyreStatus conv_backward_shift(GyreBackend *be, const ConvShape s, const GyreTensor *x,
                                      const GyreTensor *W, const GyreTensor *dy, GyreTensor *dx,
                                      GyreTensor *dW)
{
  const ShiftGeom g  = shift_geom(&s);
  const int       KK = s.KY * s.KX, padded = s.PX || s.PY;
  const size_t    plane = (size_t) s.Y * s.X, wsz = (size_t) s.Cout * s.Cin * KK;
  /* per thread: xp (padded x, for dW), dye (dy on the extended grid, garbage columns zero,
   * for dW), dyp (padded dy, for dx), dxe (dx on the extended grid), dWl (KK, Cout, Cin) */
  const size_t xpsz   = dW && padded ? (size_t) s.Cin * g.pplane + 2 * s.PX : 0;
  const size_t dyesz  = dW && s.PX ? (size_t) s.Cout * g.ext : 0;
  const size_t dypsz  = dx && padded ? (size_t) s.Cout * g.pplane + 2 * s.PX : 0;
  const size_t dxesz  = dx && s.PX ? (size_t) s.Cin * g.ext : 0;
  float       *Wt     = dx && KK > 1 ? transpose_weights(&s, W->data) : W->data;
  int          failed = 0;
  if (!Wt)
    return GyreStatusSet(GYRE_ERR_MEM, "cpu conv_backward: out of memory allocating %zu bytes",
                         sizeof(float) * wsz);

#pragma omp parallel num_threads(conv_threads(be, s.N))
  {
    float *xp  = xpsz ? malloc(sizeof(float) * xpsz) : NULL;
    float *dye = dyesz ? calloc(dyesz, sizeof(float)) : NULL;
    float *dyp = dypsz ? malloc(sizeof(float) * dypsz) : NULL;
    float *dxe = dxesz ? malloc(sizeof(float) * dxesz) : NULL;
    float *dWl = dW ? calloc(wsz, sizeof(float)) : NULL;
    int ok = (!xpsz || xp) && (!dyesz || dye) && (!dypsz || dyp) && (!dxesz || dxe) && (!dW || dWl);
    if (!ok) {
#pragma omp atomic write
      failed = 1;
    }
#pragma omp for schedule(static)
    for (int n = 0; n < s.N; n++) {
      if (!ok) continue;
      const float *xn  = x->data + (size_t) n * s.Cin * plane;
      const float *dyn = dy->data + (size_t) n * s.Cout * plane;
      if (dW) {
        /* dW_k (Cout, Cin) += dyext (Cout, Y Xp) xp_k^T (Y Xp, Cin) */
        size_t       ld;
        const float *src = shift_source(&s, &g, s.Cin, padded, xn, xp, &ld), *g2 = dyn;
        if (s.PX) {
          for (size_t r = 0; r < (size_t) s.Cout * s.Y; r++)
            memcpy(dye + r * g.Xp, dyn + r * s.X, sizeof(float) * s.X); /* rest stays zero */
          g2 = dye;
        }
        for (int k = 0; k < KK; k++) {
          const int ky = k / s.KX, kx = k % s.KX;
          cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, s.Cout, s.Cin, (int) g.ext, 1.0f, g2,
                      (int) g.ext, src + (size_t) ky * g.Xp + kx, (int) ld, 1.0f,
                      dWl + (size_t) k * s.Cout * s.Cin, s.Cin);
        }
      }
      if (dx) {
        /* dx (Cin, Y Xp) = sum_k W_k^T (Cin, Cout) dyp shifted by the flipped offset */
        float       *dxn = dx->data + (size_t) n * s.Cin * plane;
        size_t       ld;
        const float *src = shift_source(&s, &g, s.Cout, padded, dyn, dyp, &ld);
        float       *dst = s.PX ? dxe : dxn;
        for (int k = 0; k < KK; k++) {
          const int ky = k / s.KX, kx = k % s.KX;
          const int fy = s.KY - 1 - ky, fx = s.KX - 1 - kx;
          cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, s.Cin, (int) g.ext, s.Cout, 1.0f,
                      Wt + (size_t) k * s.Cout * s.Cin, s.Cin, src + (size_t) fy * g.Xp + fx,
                      (int) ld, k ? 1.0f : 0.0f, dst, (int) g.ext);
        }
        if (s.PX) drop_garbage(&s, &g, s.Cin, dxe, dxn);
      }
    }
    if (ok && dW) {
#pragma omp critical(gyre_conv_dw)
      for (int o = 0; o < s.Cout; o++)
        for (int i = 0; i < s.Cin; i++)
          for (int k = 0; k < KK; k++)
            dW->data[((size_t) o * s.Cin + i) * KK + k] +=
                dWl[((size_t) k * s.Cout + o) * s.Cin + i];
    }
    free(xp);
    free(dye);
    free(dyp);
    free(dxe);
    free(dWl);
  }
  if (Wt != W->data) free(Wt);
  if (failed)
    return GyreStatusSet(GYRE_ERR_MEM, "cpu conv_backward: out of memory allocating %zu bytes",
                         sizeof(float) * (xpsz + dyesz + dypsz + dxesz + 2 * wsz));
  return GYRE_OK;
}

/* ---- direct (forward, few output channels, AVX2 + FMA) --------------------------------- */
/* The forward of a layer with few output channels (Cout <= CONV_DIRECT_MAX_COUT: a small CNN's
 * layers, any network's last layer) as a direct convolution in registers: each sample padded
 * once as for the shift-GEMM, the weights packed per group of 4 output channels, then for each
 * row and each block of vectors of 8 columns (direct_rows: 4 channels x 2 vectors, 2 x 4 or
 * 1 x 8), the accumulators summed over i, ky, kx by FMA in registers, one weight broadcast to
 * every vector of the block (the shift-GEMM's and im2col's sgemm calls here have 8 or fewer
 * rows: 26-49 GFLOP/s on a 72^2 block, against 26-82 this way). Each output is the same fixed-order
 * sum wherever it lies in the block, so a point's value does not depend on the block's size
 * (a rank's subdomain, a trimmed halo). Not bitwise the other algorithms' (float rounding). */
#define CONV_DIRECT_MAX_COUT 8

/* What conv_forward_post applies to each output after its bias: the activation act (< 0: none,
 * else act_avx2_vec: the activation loops' arithmetic where they run AVX2), then, where sc !=
 * NULL, batch norm's evaluation (v - mean[c]) sc[c] + beta[c] with sc[c] = gamma[c] invstd[c] in
 * float, as bn_forward computes it (a subtraction, a product and a sum, each rounded: the build
 * contracts nothing) */
typedef struct {
  int          act;
  const float *mean, *sc, *beta;
  int          inreg; /* applied by direct_block before its stores (none or ReLU), else by rows */
} ConvPost;

#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>
#include "act_avx2.h"
#define CONV_DIRECT_AVX2 1

/* batch norm's evaluation of 8 lanes: (v - m) sc + be, bn_forward's three roundings */
__attribute__((target("avx2,fma"), always_inline)) static inline __m256
bn_eval_vec(__m256 v, __m256 m, __m256 sc, __m256 be)
{
  return _mm256_add_ps(_mm256_mul_ps(_mm256_sub_ps(v, m), sc), be);
}

/* OC (1..4) output channels on XB (1..8) vectors of 8 columns from column x0 of row y: xr is
 * the padded input at (channel 0, row y, column x0), wp the OC channels' packed weights
 * (direct_pack), yo the output at (channel o0, y, x0); the last vector stores only the columns
 * in mask. KXC: the kernel's width as a constant (3 or 5: the taps' loop unrolled), 0 for any
 * (s->KX). */
__attribute__((target("avx2,fma"), always_inline)) static inline void
direct_block(const int OC, const int XB, const int KXC, const ConvShape *s, const ShiftGeom *g,
             const float *xr, const float *wp, const float *bo, const ConvPost *post, int o0,
             float *yo, size_t plane, __m256i mask)
{
  const int KX = KXC ? KXC : s->KX;
  __m256    acc[4][8];
#pragma GCC unroll 4
  for (int j = 0; j < OC; j++)
#pragma GCC unroll 8
    for (int v = 0; v < XB; v++)
      acc[j][v] = _mm256_setzero_ps();
  for (int i = 0; i < s->Cin; i++)
    for (int ky = 0; ky < s->KY; ky++) {
      const float *xy = xr + (size_t) i * g->pplane + (size_t) ky * g->Xp;
      /* one register each for the row's and the weights' addresses, the taps' offsets in the
       * instructions (without the barrier GCC kept an index a vector, spilled with OC = 1) */
      __asm__("" : "+r"(xy), "+r"(wp));
#pragma GCC unroll 5
      for (int kx = 0; kx < KX; kx++) {
        __m256 in[8];
#pragma GCC unroll 8
        for (int v = 0; v < XB; v++)
          in[v] = _mm256_loadu_ps(xy + kx + 8 * v);
#pragma GCC unroll 4
        for (int j = 0; j < OC; j++) {
          const __m256 w = _mm256_broadcast_ss(wp + kx * OC + j);
#pragma GCC unroll 8
          for (int v = 0; v < XB; v++)
            acc[j][v] = _mm256_fmadd_ps(in[v], w, acc[j][v]);
        }
      }
      wp += KX * OC;
    }
  const int inreg = post && post->inreg;
#pragma GCC unroll 4
  for (int j = 0; j < OC; j++) {
    const __m256 b  = _mm256_set1_ps(bo ? bo[j] : 0.0f);
    const int    bn = inreg && post->sc;
    const __m256 m  = _mm256_set1_ps(bn ? post->mean[o0 + j] : 0.0f);
    const __m256 sc = _mm256_set1_ps(bn ? post->sc[o0 + j] : 0.0f);
    const __m256 be = _mm256_set1_ps(bn ? post->beta[o0 + j] : 0.0f);
#pragma GCC unroll 8
    for (int v = 0; v < XB; v++) {
      /* + 0 where there is no bias: the same value (-0 becomes +0, as sgemm's + 0 * C) */
      __m256 r = _mm256_add_ps(acc[j][v], b);
      if (inreg && post->act == GYRE_ACT_RELU) r = relu_avx2_vec(r);
      if (bn) r = bn_eval_vec(r, m, sc, be);
      float *p = yo + (size_t) j * plane + 8 * v;
      if (v == XB - 1)
        _mm256_maskstore_ps(p, mask, r);
      else
        _mm256_storeu_ps(p, r);
    }
  }
}

__attribute__((target("avx2,fma"), always_inline)) static inline __m256
post_vec(const ConvPost *p, __m256 v, __m256 m, __m256 sc, __m256 be)
{
  if (p->act >= 0) v = act_avx2_vec(p->act, v);
  if (p->sc) v = bn_eval_vec(v, m, sc, be);
  return v;
}

/* p applied to one row of X outputs of channels o0 .. o0 + OC - 1 (yo: channel o0's row), while
 * the row is in L1 (the last partial vector through an 8-float copy: the same arithmetic) */
__attribute__((target("avx2,fma"))) static void post_row(const ConvPost *p, int o0, int OC,
                                                         float *yo, size_t plane, int X)
{
  for (int j = 0; j < OC; j++) {
    float       *r  = yo + (size_t) j * plane;
    const int    c  = o0 + j;
    const __m256 m  = _mm256_set1_ps(p->sc ? p->mean[c] : 0.0f);
    const __m256 sc = _mm256_set1_ps(p->sc ? p->sc[c] : 0.0f);
    const __m256 be = _mm256_set1_ps(p->sc ? p->beta[c] : 0.0f);
    int          x  = 0;
    for (; x + 8 <= X; x += 8)
      _mm256_storeu_ps(r + x, post_vec(p, _mm256_loadu_ps(r + x), m, sc, be));
    if (x < X) {
      float t[8] = {0};
      memcpy(t, r + x, sizeof(float) * (size_t) (X - x));
      _mm256_storeu_ps(t, post_vec(p, _mm256_loadu_ps(t), m, sc, be));
      memcpy(r + x, t, sizeof(float) * (size_t) (X - x));
    }
  }
}

/* OC output channels from o0, every row: blocks of XB vectors (as many as the registers hold:
 * OC XB accumulators, XB inputs and a weight; at least 8 accumulators, as FMA's latency times
 * its throughput), the last block shifted left to end at the row's end (its first vectors
 * computed twice: the same values, each output being the same sum wherever it lies); half
 * blocks in rows narrower than a block, single vectors in rows narrower than that */
__attribute__((target("avx2,fma"), always_inline)) static inline void
direct_rows(const int OC, const int KXC, const ConvShape *s, const ShiftGeom *g, const float *xp,
            const float *wp, const float *b, const ConvPost *post, int o0, float *yn)
{
  const int     XB    = OC == 1 ? 8 : OC == 2 ? 4 : 2;
  const size_t  plane = (size_t) s->Y * s->X;
  const int     nv = (s->X + 7) / 8, rem = s->X - 8 * (nv - 1);
  const __m256i all = _mm256_set1_epi32(-1);
  const __m256i last =
      _mm256_cmpgt_epi32(_mm256_set1_epi32(rem), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  const float *bo = b ? b + o0 : NULL;
  for (int y = 0; y < s->Y; y++) {
    const float *xr = xp + (size_t) y * g->Xp;
    float       *yo = yn + (size_t) o0 * plane + (size_t) y * s->X;
    if (nv >= XB)
      for (int v0 = 0; v0 < nv; v0 += XB) {
        const int v = v0 + XB <= nv ? v0 : nv - XB;
        direct_block(OC, XB, KXC, s, g, xr + 8 * v, wp, bo, post, o0, yo + 8 * v, plane,
                     v + XB == nv ? last : all);
      }
    else if (XB > 2 && nv >= XB / 2) /* half blocks (the same sums) */
      for (int v0 = 0; v0 < nv; v0 += XB / 2) {
        const int v = v0 + XB / 2 <= nv ? v0 : nv - XB / 2;
        direct_block(OC, XB / 2, KXC, s, g, xr + 8 * v, wp, bo, post, o0, yo + 8 * v, plane,
                     v + XB / 2 == nv ? last : all);
      }
    else
      for (int v = 0; v < nv; v++)
        direct_block(OC, 1, KXC, s, g, xr + 8 * v, wp, bo, post, o0, yo + 8 * v, plane,
                     v + 1 == nv ? last : all);
    if (post && !post->inreg) post_row(post, o0, OC, yo, plane, s->X);
  }
}

#define DIRECT_ROWS_KX(OC)                                                                         \
  (s->KX == 3   ? direct_rows(OC, 3, s, g, xp, wp, b, post, o0, yn)                                \
   : s->KX == 5 ? direct_rows(OC, 5, s, g, xp, wp, b, post, o0, yn)                                \
                : direct_rows(OC, 0, s, g, xp, wp, b, post, o0, yn))

/* the weights in the order direct_block reads them: for each group of 4 output channels (the
 * last one narrower), [i][ky][kx][j] */
static void direct_pack(const ConvShape *s, const float *W, float *wpk)
{
  const int KK = s->KY * s->KX;
  for (int o0 = 0; o0 < s->Cout; o0 += 4) {
    const int OC = s->Cout - o0 < 4 ? s->Cout - o0 : 4;
    float    *wg = wpk + (size_t) o0 * s->Cin * KK;
    for (int i = 0; i < s->Cin; i++)
      for (int k = 0; k < KK; k++)
        for (int j = 0; j < OC; j++)
          wg[((size_t) i * KK + k) * OC + j] = W[((size_t) (o0 + j) * s->Cin + i) * KK + k];
  }
}

__attribute__((target("avx2,fma"))) static void direct_sample(const ConvShape *s,
                                                              const ShiftGeom *g, const float *xp,
                                                              const float *wpk, const float *b,
                                                              const ConvPost *post, float *yn)
{
  for (int o0 = 0; o0 < s->Cout; o0 += 4) {
    const float *wp = wpk + (size_t) o0 * s->Cin * s->KY * s->KX;
    switch (s->Cout - o0 < 4 ? s->Cout - o0 : 4) {
    case 1:
      DIRECT_ROWS_KX(1);
      break;
    case 2:
      DIRECT_ROWS_KX(2);
      break;
    case 3:
      DIRECT_ROWS_KX(3);
      break;
    default:
      DIRECT_ROWS_KX(4);
      break;
    }
  }
}
#else
#define CONV_DIRECT_AVX2 0
#endif

/* the padded sample's size: the planes, pad_planes' 2 PX zeros, and a vector's slack (the last
 * row's last vector reads up to 7 columns past its plane; those lanes are not stored) */
static size_t direct_padded_size(const ConvShape *s, const ShiftGeom *g)
{
  return (size_t) s->Cin * g->pplane + 2 * (size_t) s->PX + 8;
}

static GyreStatus conv_forward_direct(GyreBackend *be, const ConvShape s, const GyreTensor *x,
                                      const GyreTensor *W, const GyreTensor *b,
                                      const ConvPost *post, GyreTensor *y)
{
#if CONV_DIRECT_AVX2
  const ShiftGeom g     = shift_geom(&s);
  const size_t    plane = (size_t) s.Y * s.X, xpsz = direct_padded_size(&s, &g);
  const size_t    wsz    = (size_t) s.Cout * s.Cin * s.KY * s.KX;
  float          *wpk    = malloc(sizeof(float) * wsz);
  int             failed = 0;
  if (!wpk)
    return GyreStatusSet(GYRE_ERR_MEM, "cpu conv_forward: out of memory allocating %zu bytes",
                         sizeof(float) * wsz);
  direct_pack(&s, W->data, wpk);
#pragma omp parallel num_threads(conv_threads(be, s.N))
  {
    float *xp = malloc(sizeof(float) * xpsz);
    if (!xp) {
#pragma omp atomic write
      failed = 1;
    } else
      memset(xp + xpsz - 8, 0, sizeof(float) * 8);
#pragma omp for schedule(static)
    for (int n = 0; n < s.N; n++) {
      if (!xp) continue;
      pad_planes(&s, &g, s.Cin, s.circ, x->data + (size_t) n * s.Cin * plane, xp);
      direct_sample(&s, &g, xp, wpk, b ? b->data : NULL, post,
                    y->data + (size_t) n * s.Cout * plane);
    }
    free(xp);
  }
  free(wpk);
  if (failed)
    return GyreStatusSet(GYRE_ERR_MEM, "cpu conv_forward: out of memory allocating %zu bytes",
                         sizeof(float) * xpsz);
  return GYRE_OK;
#else
  (void) be, (void) s, (void) x, (void) W, (void) b, (void) post, (void) y;
  return GyreStatusSet(GYRE_ERR_INTERNAL, "cpu conv_forward: the direct algorithm needs x86-64");
#endif
}

/* ---- the op-table entries: choose the algorithm ------------------------------------------ */
/* GYRE_CONV_ALGO: 0 unset (or empty), 1 im2col, 2 shift, 3 fft, 5 direct, 4 anything else:
 * refused by the ops with one error naming the value (read once) */
static int conv_forced(void)
{
  static int forced = -1;
  int        f;
#pragma omp atomic read
  f = forced;
  if (f < 0) {
    const char *e = getenv("GYRE_CONV_ALGO");
    f             = !e || !*e              ? 0
                    : !strcmp(e, "im2col") ? 1
                    : !strcmp(e, "shift")  ? 2
                    : !strcmp(e, "fft")    ? 3
                    : !strcmp(e, "direct") ? 5
                                           : 4;
#pragma omp atomic write
    forced = f;
  }
  return f;
}

/* an unknown GYRE_CONV_ALGO: one error naming it (the backend's creation refuses it first,
 * GyreBackendCheckEnv; here for a value set after that, as a test may) */
static GyreStatus conv_algo_check(void)
{
  if (conv_forced() != 4) return GYRE_OK;
  GyreCall(GyreBackendCheckEnv());
  return GyreStatusSet(GYRE_ERR_ARG, "GYRE_CONV_ALGO: an unknown value, read at the first "
                                     "convolution (since changed)");
}

/* the direct forward: by default for few output channels with a kernel larger than 1 x 1 (a
 * 1 x 1 layer's shift-GEMM copies nothing); forced, for every forward; both only with AVX2 +
 * FMA (elsewhere the default choice among the others) */
static int conv_use_direct(const ConvShape *s)
{
  const int f = conv_forced();
  if (!CONV_DIRECT_AVX2 || !GyreCPUHasAVX2FMA() || (f != 0 && f != 5)) return 0;
  return f == 5 || (s->Cout <= CONV_DIRECT_MAX_COUT && s->KY * s->KX > 1);
}

static int conv_use_shift(const ConvShape *s)
{
  const int f = conv_forced();
  if (f == 1 || f == 2) return f == 2;
  return (s->KY == 1 && s->KX == 1) || s->Cin >= CONV_SHIFT_MIN_CIN;
}

/* GYRE_CONV_ALGO=fft where it applies (cpu/conv_fft.c; elsewhere the default choice) */
static int conv_use_fft(const GyreTensor *x, const GyreTensor *W, GyrePadding pad)
{
  return conv_forced() == 3 && GyreCPUConvFFTApplies(x, W, pad);
}

GyreStatus GyreCPUConvForward(GyreBackend *be, const GyreTensor *x, const GyreTensor *W,
                              const GyreTensor *b, GyrePadding pad, GyreTensor *y)
{
  const ConvShape s = conv_shape(x, W, pad);
  GyreCall(conv_algo_check());
  if (conv_use_fft(x, W, pad)) return GyreCPUConvForwardFFT(be, x, W, b, pad, y);
  if (conv_use_direct(&s)) return conv_forward_direct(be, s, x, W, b, NULL, y);
  return conv_use_shift(&s) ? conv_forward_shift(be, s, x, W, b, y)
                            : conv_forward_im2col(be, s, x, W, b, y);
}

/* the direct forward with the activation and batch norm applied row by row (ConvPost); not
 * done (the ops one by one) where the layer is not direct or the activation loops would not
 * compute act by act_avx2_vec (GELU and tanh without GyreCPUGeluAVX2) */
GyreStatus GyreCPUConvForwardPost(GyreBackend *be, const GyreTensor *x, const GyreTensor *W,
                                  const GyreTensor *b, GyrePadding pad, int act, const float *mean,
                                  const float *invstd, const float *gamma, const float *beta,
                                  GyreTensor *y, int *done)
{
  const ConvShape s = conv_shape(x, W, pad);
  *done             = 0;
  GyreCall(conv_algo_check());
  if (conv_use_fft(x, W, pad) || !conv_use_direct(&s)) return GYRE_OK;
  if (act > (int) GYRE_ACT_TANH || (act >= 0 && act != GYRE_ACT_RELU && !GyreCPUGeluAVX2()))
    return GYRE_OK;
  ConvPost post = {
      .act = act, .mean = mean, .beta = beta, .sc = NULL, .inreg = act < 0 || act == GYRE_ACT_RELU};
  float *sc = NULL;
  if (mean) {
    if (!(sc = malloc(sizeof(float) * (size_t) s.Cout)))
      return GyreStatusSet(GYRE_ERR_MEM, "cpu conv_forward: out of memory");
    for (int c = 0; c < s.Cout; c++) /* as bn_forward's scale */
      sc[c] = gamma[c] * invstd[c];
    post.sc = sc;
  }
  const GyreStatus st = conv_forward_direct(be, s, x, W, b, &post, y);
  free(sc);
  *done = st == GYRE_OK;
  return st;
}

/* the direct forward is exact in this sense (each output the same fixed-order sum); the GEMMs'
 * blocking may depend on the block's size */
int GyreCPUConvBlockExact(GyreBackend *be, int dim, int Cin, int Cout, int k)
{
  (void) be;
  const ConvShape s = {.N    = 1,
                       .Cin  = Cin,
                       .Cout = Cout,
                       .Y    = 1,
                       .X    = 1,
                       .KY   = dim == 2 ? k : 1,
                       .KX   = k,
                       .PY   = dim == 2 ? (k - 1) / 2 : 0,
                       .PX   = (k - 1) / 2,
                       .circ = 1};
  return conv_use_direct(&s);
}

GyreStatus GyreCPUConvBackward(GyreBackend *be, const GyreTensor *x, const GyreTensor *W,
                               const GyreTensor *dy, GyrePadding pad, GyreTensor *dx,
                               GyreTensor *dW, GyreTensor *db)
{
  const ConvShape s = conv_shape(x, W, pad);
  GyreCall(conv_algo_check());
  if (db) conv_bias_grad(be, &s, dy, db);
  if (!dx && !dW) return GYRE_OK;
  if (conv_use_fft(x, W, pad)) return GyreCPUConvBackwardFFT(be, x, W, dy, pad, dx, dW);
  return conv_use_shift(&s) ? conv_backward_shift(be, s, x, W, dy, dx, dW)
                            : conv_backward_im2col(be, s, x, W, dy, dx, dW);
}
