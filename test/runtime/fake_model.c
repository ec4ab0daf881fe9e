/*===- fake_model.c - A hand-written stand-in for a compiled artifact ------===
 *
 * Exports entry points with the calling convention the compiler generates
 * (docs/Artifact.md): void SYMBOL(void **args), args[i] -> memref descriptor,
 * arguments then results, plus SYMBOL_signature. The tests check the runtime
 * against it without needing MLIR. Each entry also checks the descriptors it
 * receives (offset 0, row-major strides, allocated == aligned, element
 * alignment) and writes NaN everywhere if they are wrong, so a packing bug
 * shows up as wrong numbers.
 *
 *===----------------------------------------------------------------------===*/
#include <math.h>
#include <stdint.h>

#define EXPORT __attribute__((visibility("default")))

typedef struct { float *allocated, *aligned; int64_t offset; } MemRef0F;
typedef struct { float *allocated, *aligned; int64_t offset, sizes[1], strides[1]; } MemRef1F;
typedef struct { float *allocated, *aligned; int64_t offset, sizes[2], strides[2]; } MemRef2F;
typedef struct { float *allocated, *aligned; int64_t offset, sizes[3], strides[3]; } MemRef3F;
typedef struct { float *allocated, *aligned; int64_t offset, sizes[4], strides[4]; } MemRef4F;
typedef struct { double *allocated, *aligned; int64_t offset; } MemRef0D;
typedef struct { double *allocated, *aligned; int64_t offset, sizes[1], strides[1]; } MemRef1D;

/* 1 when the descriptor (given as words) is contiguous row-major, offset 0. */
static int wellFormed(const void *desc, int rank) {
  const int64_t *w = (const int64_t *)desc;
  if (w[0] != w[1] || w[2] != 0 || (w[1] & 3) != 0)
    return 0;
  int64_t stride = 1;
  for (int i = rank - 1; i >= 0; --i) {
    if (w[3 + rank + i] != stride)
      return 0;
    stride *= w[3 + i];
  }
  return 1;
}

/* forward: y[i,j] = w[j] * x[i,j] + b[j];
 *          layer0.routing[i,j,:] = (x[i,j], y[i,j]). */
EXPORT const char pce_entry_forward_signature[] =
    "x:input:f32[2,3];w:parameter:f32[3];b:parameter:f32[3];"
    "y:output:f32[2,3];layer0.routing:routing:f32[2,3,2]";

EXPORT void pce_entry_forward(void **args) {
  MemRef2F *x = (MemRef2F *)args[0];
  MemRef1F *w = (MemRef1F *)args[1];
  MemRef1F *b = (MemRef1F *)args[2];
  MemRef2F *y = (MemRef2F *)args[3];
  MemRef3F *r = (MemRef3F *)args[4];
  int ok = wellFormed(x, 2) && wellFormed(w, 1) && wellFormed(b, 1) && wellFormed(y, 2) &&
           wellFormed(r, 3);
  int64_t n = x->sizes[0], m = x->sizes[1];
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < m; ++j) {
      float xv = x->aligned[i * x->strides[0] + j];
      float yv = ok ? w->aligned[j] * xv + b->aligned[j] : NAN;
      y->aligned[i * y->strides[0] + j] = yv;
      r->aligned[i * r->strides[0] + j * r->strides[1] + 0] = ok ? xv : NAN;
      r->aligned[i * r->strides[0] + j * r->strides[1] + 1] = yv;
    }
}

/* scale: y = s * x with a rank-0 input, in f64. */
EXPORT const char pce_entry_scale_signature[] = "x:input:f64[4];s:input:f64[];y:output:f64[4]";

EXPORT void pce_entry_scale(void **args) {
  MemRef1D *x = (MemRef1D *)args[0];
  MemRef0D *s = (MemRef0D *)args[1];
  MemRef1D *y = (MemRef1D *)args[2];
  int ok = wellFormed(x, 1) && wellFormed(s, 0) && wellFormed(y, 1);
  for (int64_t i = 0; i < x->sizes[0]; ++i)
    y->aligned[i] = ok ? s->aligned[0] * x->aligned[i] : NAN;
}

/* classify: a linear classifier over 28x28 images, for pce-run --idx-images:
 *   logits[i,c] = fc.bias[c] + sum_k fc.weight[c,k] * x[i,k]   (k ascending,
 *                 x flattened to 784 values);
 *   layer0.routing[i,p,:] = (x[i,0,0,p], 1 - x[i,0,0,p]) for p < 4.
 * With one-hot weight rows the logits are copies of chosen pixels, so a test
 * knows the predictions exactly. */
EXPORT const char pce_entry_classify_signature[] =
    "x:input:f32[8,1,28,28];fc.weight:parameter:f32[10,784];fc.bias:parameter:f32[10];"
    "logits:output:f32[8,10];layer0.routing:routing:f32[8,4,2]";

EXPORT void pce_entry_classify(void **args) {
  MemRef4F *x = (MemRef4F *)args[0];
  MemRef2F *w = (MemRef2F *)args[1];
  MemRef1F *b = (MemRef1F *)args[2];
  MemRef2F *y = (MemRef2F *)args[3];
  MemRef3F *r = (MemRef3F *)args[4];
  int ok = wellFormed(x, 4) && wellFormed(w, 2) && wellFormed(b, 1) && wellFormed(y, 2) &&
           wellFormed(r, 3);
  int64_t n = x->sizes[0], pixels = x->strides[0], classes = y->sizes[1];
  for (int64_t i = 0; i < n; ++i) {
    const float *xi = x->aligned + i * pixels;
    for (int64_t c = 0; c < classes; ++c) {
      float acc = b->aligned[c];
      for (int64_t k = 0; k < pixels; ++k)
        acc += w->aligned[c * w->strides[0] + k] * xi[k];
      y->aligned[i * y->strides[0] + c] = ok ? acc : NAN;
    }
    for (int64_t p = 0; p < r->sizes[1]; ++p) {
      r->aligned[i * r->strides[0] + p * r->strides[1] + 0] = ok ? xi[p] : NAN;
      r->aligned[i * r->strides[0] + p * r->strides[1] + 1] = ok ? 1.0f - xi[p] : NAN;
    }
  }
}

/* An entry point whose library forgot the signature string. */
EXPORT void pce_entry_nosig(void **args) { (void)args; }

/* The hook of compiled parallel loops (pce-outline-parallel-loops), which the
   runtime fills in when it loads a library. */
void (*pce_parallel_for_hook)(int64_t, void (*)(void *, int64_t, int64_t), void *) = 0;
