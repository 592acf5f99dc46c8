/* conv.c — CPU convolution, 1-D and 2-D, stride 1, odd kernels, "same" output size with zero
 * or circular padding of (K-1)/2 (PyTorch's Conv1d/Conv2d with padding_mode 'zeros' or
 * 'circular'; cross-correlation, as every deep-learning framework computes it):
 *   y[n,o,y,x] = b[o] + sum_{i,ky,kx} W[o,i,ky,kx] x[n,i,y+ky-PY,x+kx-PX].
 * A 1-D convolution is the 2-D one with Y = KY = 1. Implementation: im2col of a block of rows
 * (bounded to about 4 MiB of scratch per thread) and sgemm; OpenMP over the batch, each
 * thread with its own scratch and its own dW partial sum (reduced at the end). */
#include <cblas.h>
#include <stdlib.h>
#include <string.h>
#include "cpu_ops.h"

typedef struct {
  int N, Cin, Cout, Y, X, KY, KX, PY, PX, circ;
} ConvShape;

static ConvShape conv_shape(const GyreTensor *x, const GyreTensor *W, GyrePadding pad)
{
  ConvShape s;
  s.N    = (int) x->shape[0];
  s.Cin  = (int) x->shape[1];
  s.Cout = (int) W->shape[0];
  if (x->ndim == 4) {
    s.Y  = (int) x->shape[2];
    s.X  = (int) x->shape[3];
    s.KY = (int) W->shape[2];
    s.KX = (int) W->shape[3];
  } else {
    s.Y  = 1;
    s.X  = (int) x->shape[2];
    s.KY = 1;
    s.KX = (int) W->shape[2];
  }
  s.PY   = (s.KY - 1) / 2;
  s.PX   = (s.KX - 1) / 2;
  s.circ = pad == GYRE_PAD_CIRCULAR;
  return s;
}

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

/* col[(i KY + ky) KX + kx][(y - y0) X + x] = x[i, y + ky - PY, x + kx - PX] for y in [y0, y1) */
static void im2col(const ConvShape *s, const float *xn, int y0, int y1, float *col)
{
  const int    X = s->X, Y = s->Y, cols = (y1 - y0) * X;
  const size_t plane = (size_t) Y * X;
  for (int i = 0; i < s->Cin; i++)
    for (int ky = 0; ky < s->KY; ky++)
      for (int kx = 0; kx < s->KX; kx++) {
        float    *c  = col + ((size_t) (i * s->KY + ky) * s->KX + kx) * cols;
        const int ox = kx - s->PX;
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
          for (int x = 0; x < X; x++) {
            int xs = x + ox;
            if (xs < 0 || xs >= X) {
              if (!s->circ) {
                cr[x] = 0.0f;
                continue;
              }
              xs = wrap(xs, X);
            }
            cr[x] = xr[xs];
          }
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
        for (int y = y0; y < y1; y++) {
          const float *cr = c + (size_t) (y - y0) * X;
          int          ys = y + ky - s->PY;
          if (ys < 0 || ys >= Y) {
            if (!s->circ) continue;
            ys = wrap(ys, Y);
          }
          float *dr = dxn + (size_t) i * plane + (size_t) ys * X;
          for (int x = 0; x < X; x++) {
            int xs = x + ox;
            if (xs < 0 || xs >= X) {
              if (!s->circ) continue;
              xs = wrap(xs, X);
            }
            dr[xs] += cr[x];
          }
        }
      }
}

static int conv_threads(GyreBackend *be, int N)
{
  int t = be->threads > 0 ? be->threads : 1;
  return t < N ? t : N;
}

GyreStatus GyreCPUConvForward(GyreBackend *be, const GyreTensor *x, const GyreTensor *W,
                              const GyreTensor *b, GyrePadding pad, GyreTensor *y)
{
  const ConvShape s  = conv_shape(x, W, pad);
  const int       CK = s.Cin * s.KY * s.KX, rows = conv_block_rows(&s);
  const size_t    plane = (size_t) s.Y * s.X, colsz = (size_t) CK * rows * s.X;
  int             failed = 0;

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

GyreStatus GyreCPUConvBackward(GyreBackend *be, const GyreTensor *x, const GyreTensor *W,
                               const GyreTensor *dy, GyrePadding pad, GyreTensor *dx,
                               GyreTensor *dW, GyreTensor *db)
{
  const ConvShape s  = conv_shape(x, W, pad);
  const int       CK = s.Cin * s.KY * s.KX, rows = conv_block_rows(&s);
  const size_t    plane = (size_t) s.Y * s.X, colsz = (size_t) CK * rows * s.X;
  const size_t    wsz    = (size_t) s.Cout * CK;
  int             failed = 0;

  if (db) {
    for (int o = 0; o < s.Cout; o++) {
      double acc = 0;
#pragma omp parallel for num_threads(be->threads) reduction(+ : acc) if ((size_t) s.N * plane > 65536)
      for (int n = 0; n < s.N; n++) {
        const float *g = dy->data + ((size_t) n * s.Cout + o) * plane;
        double       t = 0;
        for (size_t k = 0; k < plane; k++)
          t += g[k];
        acc += t;
      }
      db->data[o] += (float) acc;
    }
  }
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
