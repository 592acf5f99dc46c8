/* op_shapes.h — the shapes of the convolution and spectral-convolution ops read from their
 * tensors, shared by the backends (surrogates/cpu/, surrogates/cuda/) so that both read a
 * layout (gyre_nn.h) the same way. Internal to the surrogate library. */
#ifndef GYRE_OP_SHAPES_H
#define GYRE_OP_SHAPES_H
#include "gyre_nn.h"

/* convolution: x (N, Cin, Y, X) or (N, Cin, X) [Y = KY = 1], W (Cout, Cin, KY, KX) or
 * (Cout, Cin, KX); "same" padding PY = (KY - 1) / 2, PX = (KX - 1) / 2 */
typedef struct {
  int N, Cin, Cout, Y, X, KY, KX, PY, PX, circ;
} GyreConvShape;

static inline GyreConvShape GyreConvShapeOf(const GyreTensor *x, const GyreTensor *W,
                                            GyrePadding pad)
{
  GyreConvShape s;
  const int     two = x->ndim == 4;
  s.N               = (int) x->shape[0];
  s.Cin             = (int) x->shape[1];
  s.Cout            = (int) W->shape[0];
  s.Y               = two ? (int) x->shape[2] : 1;
  s.X               = (int) x->shape[two ? 3 : 2];
  s.KY              = two ? (int) W->shape[2] : 1;
  s.KX              = (int) W->shape[two ? 3 : 2];
  s.PY              = (s.KY - 1) / 2;
  s.PX              = (s.KX - 1) / 2;
  s.circ            = pad == GYRE_PAD_CIRCULAR;
  return s;
}

/* whether a convolution of x (ndim 4: 2-D) can run as the spectral convolution keeping every mode
 * (cpu/conv_fft.c, and dense_conv.cu's): circular, with an even number of rows (the spectral
 * weights' two blocks of Y / 2 rows then hold every k_y) */
static inline int GyreConvFFTApplies(int ndim, const GyreConvShape *s)
{
  return ndim == 4 && s->circ && s->Y >= 2 && s->Y % 2 == 0 && s->X >= 1;
}

/* spectral convolution: the weights are read from their trailing dimensions, (Cin, Cout, M)
 * in 1-D; in 2-D the layout (2, Cin, Cout, MY, MX) of gyre_nn.h, also held as the 4-D tensor
 * (2 Cin, Cout, MY, MX) (the same memory). nb blocks (2-D: positive and negative ky) of
 * mm = MY MX modes each, nm = nb mm in all; Xh = X / 2 + 1 columns of the real transform. */
typedef struct {
  int N, Cin, Cout, Y, X, Xh, MY, MX, nb, mm, nm;
} GyreSpecShape;

static inline GyreSpecShape GyreSpecShapeOf(const GyreTensor *x, const GyreTensor *Wr)
{
  GyreSpecShape s;
  const int     d = Wr->ndim, two = x->ndim == 4;
  s.N    = (int) x->shape[0];
  s.Cin  = (int) x->shape[1];
  s.Y    = two ? (int) x->shape[2] : 1;
  s.X    = (int) x->shape[two ? 3 : 2];
  s.nb   = two ? 2 : 1;
  s.Cout = (int) Wr->shape[d - (two ? 3 : 2)];
  s.MY   = two ? (int) Wr->shape[d - 2] : 1;
  s.MX   = (int) Wr->shape[d - 1];
  s.Xh   = s.X / 2 + 1;
  s.mm   = s.MY * s.MX;
  s.nm   = s.nb * s.mm;
  return s;
}
#endif
