//===- LoweringUtils.h - builders shared by the pce lowerings ---*- C++ -*-===//
//
// Small builders of linalg ops on tensors that several op families' lowerings
// use (LowerRoute.cpp, LowerExperts.cpp).
//
//===----------------------------------------------------------------------===//

#ifndef PCE_PASSES_LOWERINGUTILS_H
#define PCE_PASSES_LOWERINGUTILS_H

#include "dialect/PCEAttributes.h"

#include "mlir/IR/AffineMap.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"
#include "llvm/ADT/DenseMap.h"

namespace mlir::pce::lowering {

/// Builds a generic op's body: gets the inputs' elements then the current
/// output element, returns the value to yield.
using BodyFn = function_ref<Value(OpBuilder &, Location, ValueRange)>;

/// A scalar constant of float type `element`.
Value floatConstant(OpBuilder &b, Location loc, Type element, double value);

/// A tensor of `shape` holding `value` everywhere (linalg.fill of
/// tensor.empty).
Value filledTensor(OpBuilder &b, Location loc, ArrayRef<int64_t> shape,
                   Type element, double value);

/// The indexing map reading loops `loops`, in order, of a `numLoops`-deep nest.
AffineMap loopsMap(MLIRContext *ctx, unsigned numLoops,
                   ArrayRef<unsigned> loops);

/// Loops 0 .. n-1.
SmallVector<unsigned> firstLoops(unsigned n);

/// A single-result linalg.generic writing into `init`: `maps` holds one map
/// per input then the init's; loops listed in `reduced` are reductions.
Value buildGeneric(OpBuilder &b, Location loc, ValueRange inputs, Value init,
                   ArrayRef<AffineMap> maps, ArrayRef<unsigned> reduced,
                   BodyFn body);

/// An elementwise linalg.generic: every input has the result's shape.
Value buildElementwise(OpBuilder &b, Location loc, ValueRange inputs,
                       RankedTensorType type, BodyFn body);

/// `y[..., o] = bias[o] + sum_k x[..., k] * w[o, k]` (no bias when null): a
/// dense layer over the last dimension (MLP router, squeeze-excitation) or
/// plain dot products (cosine router).
Value contractLastDim(OpBuilder &b, Location loc, Value x, Value w, Value bias);

/// Reduces the last dimension of `x` with `combine`, starting from `initial`.
Value reduceLastDim(OpBuilder &b, Location loc, Value x, double initial,
                    BodyFn combine);

/// `fn(x[..., e], row[...])` at every element of `x`, for a `row` holding one
/// value per last-dim row of `x`.
Value combineWithRow(OpBuilder &b, Location loc, Value x, Value row, BodyFn fn);

/// Divides each last-dim row of `x` by its sum.
Value normalizeRows(OpBuilder &b, Location loc, Value x);

/// Softmax over the last dimension, stable: `exp(x - max) / sum exp(x - max)`.
Value softmaxLastDim(OpBuilder &b, Location loc, Value logits);

/// The cosine router's logits `[B, P, E]` and the squared norms they divide by
/// (the training adjoint reads those too).
struct CosineLogits {
  Value logits;     ///< `<emb, k_e> / max(|emb| |k_e|, 1e-12) / tau`
  Value embSquares; ///< `|emb|^2`, [B, P]
  Value keySquares; ///< `|k_e|^2`, [E]
};
/// Cosine logits of `emb [B, P, D]` against `keys [E, D]`; `tau = exp(logTau)`
/// when `logTau` (0-d) is given, else the constant `tau`.
CosineLogits cosineLogits(OpBuilder &b, Location loc, Value emb, Value keys,
                          Value logTau, double tau);

/// The MLP router's logits `W2 hidden + b2` and `hidden = relu(W1 emb + b1)`.
struct MlpLogits {
  Value hidden;
  Value logits;
};
/// `mlp = (W1, b1, W2, b2)`.
MlpLogits mlpLogits(OpBuilder &b, Location loc, Value emb, ValueRange mlp);

/// The rank of each weight in its last-dim row (i64):
/// `#{e' : w[e'] > w[e] or (w[e'] == w[e] and e' < e)}`, so the k largest
/// weights, ties going to the lower index, are those of rank < k.
Value topKRanks(OpBuilder &b, Location loc, Value weights);

/// True when `t` is a memref with a static shape and a unit innermost stride
/// (rows that vector loads and stores can read contiguously).
bool isStaticWithUnitInnerStride(Type t);

/// The per-(expert, channel) scale and shift of inference batch norm from
/// `bn = (gamma, beta, mean, var)`: `scale = gamma / sqrt(var + eps)`,
/// `shift = beta - mean * scale`.
std::pair<Value, Value> foldBatchNorm(OpBuilder &b, Location loc, ValueRange bn,
                                      double eps);

/// The experts' batch norm as `(scale, shift)`, each `[E, Co]`: folded from
/// `bn = (gamma, beta, mean, var)` (foldBatchNorm), or the `affine` pair as
/// is (exactly one of the two is non-empty).
std::pair<Value, Value> expertsScaleShift(OpBuilder &b, Location loc,
                                          ValueRange bn, ValueRange affine,
                                          double eps);

/// True when `v` is a constant tensor of 1.0 everywhere: the scale that
/// pce-fold-batch-norm leaves once it has moved the scale into the kernels,
/// so the experts' epilogue skips the multiply.
bool isSplatOne(Value v);

/// `relu(scale * x + shift)` on scalars; no multiply when `scale` is null.
Value expertActivation(OpBuilder &b, Location loc, Value x, Value scale,
                       Value shift);

/// Marks the elementwise generic in which pce-fuse-patches applies the
/// experts' batch norm and ReLU to their convolutions
/// (`[B,nph,npw,E,Co,ph,pw]`), so that pce-fuse-experts-mix can fuse it into
/// a `sum` mix.
inline constexpr llvm::StringLiteral kExpertsEpilogueAttr = kExpertsEpilogueAttrName;

/// The ranked tensor type of `v` (every value the builders handle has one).
inline RankedTensorType typeOf(Value v) {
  return cast<RankedTensorType>(v.getType());
}

/// `max(x, 0)` on a scalar.
Value relu(OpBuilder &b, Location loc, Value x);

/// linalg.conv_2d_nchw_fchw of `images [N,C,Hin,Win]` with `filters
/// [F,C,k,k]` into a zero-filled `[N, F, Hin-k+1, Win-k+1]`.
Value conv2d(OpBuilder &b, Location loc, Value images, Value filters);

/// The experts' convolutions `conv[b,p,e,c,i,j]` of `patches [B,P,Cin,Hp,Wp]`
/// with `kernels [E,Co,Cin,k,k]`: one linalg.conv_2d_nchw_fchw over B*P
/// images and E*Co filters, result `[B,P,E,Co,Hp-k+1,Wp-k+1]`.
Value expertsConvolution(OpBuilder &b, Location loc, Value patches,
                         Value kernels);

/// `relu(scale[e,c] * x[b,p,e,c,i,j] + shift[e,c])`, in one elementwise pass
/// (without the multiply when `scale` is all ones, see isSplatOne).
Value scaleShiftRelu(OpBuilder &b, Location loc, Value x, Value scale,
                     Value shift);

/// pce.experts with inference semantics, `[B,P,E,Co,ph,pw]`:
/// expertsConvolution, then batch norm and ReLU in one epilogue.
Value inferenceExperts(OpBuilder &b, Location loc, Value patches,
                       Value kernels, ValueRange bn, ValueRange affine,
                       double eps);

/// `x` with its dimensions permuted: result dim i is `x`'s dim
/// `permutation[i]` (linalg.transpose).
Value transposeTensor(OpBuilder &b, Location loc, Value x,
                      ArrayRef<int64_t> permutation);

/// `[..., H, W]` zero-padded by `ph` rows and `pw` columns on each side.
Value padLastTwo(OpBuilder &b, Location loc, Value x, int64_t ph, int64_t pw);

/// The concat mix's projection `out[b,p,o,i,j] = bc[o] + sum_{e,c}
/// Wc[o, e*Co+c] w[b,p,e] y[b,p,e,c,i,j]` as one 1x1 linalg.conv_2d_nchw_fchw
/// over B*P images of E*Co channels (the vectorised convolution kernel),
/// after one elementwise pass for `w y`. `wc` is [Co', E*Co], `bc` [Co'].
Value concatProjection(OpBuilder &b, Location loc, Value weights,
                       Value experts, Value wc, Value bc);

/// The gradient of `w y` in concatProjection from that of its result `g
/// [B,P,Co',ph,pw]`: `gz[b,p,e,c,i,j] = sum_o Wc[o, e*Co+c] g[b,p,o,i,j]`,
/// a 1x1 convolution with the transposed projection. `type` is y's type.
Value concatProjectionTransposed(OpBuilder &b, Location loc, Value g,
                                 Value wc, RankedTensorType type);

/// The per-patch channel means `m[b,p,c] = mean_{i,j} x[b,p,c,i,j]`.
Value patchChannelMeans(OpBuilder &b, Location loc, Value x);

/// Index constants of one linalg body, each built once at its first use (the
/// body is a single block, so the first use dominates the others).
class IndexConstants {
public:
  IndexConstants(OpBuilder &b, Location loc) : b(b), loc(loc) {}
  Value operator()(int64_t v);

private:
  OpBuilder &b;
  Location loc;
  llvm::DenseMap<int64_t, Value> cache;
};

/// The cores `patches[:, :, :, r:r+ph, r:r+pw]` of `[B, P, C, ph+2r, pw+2r]`
/// (`patches` itself when `radius` is 0).
Value extractCore(OpBuilder &b, Location loc, Value patches, int64_t radius);

/// Puts patch `p = a*npw + b` of `[B, P, Co, ph, pw]` at rows `a*ph ..`,
/// columns `b*pw ..` of `[B, Co, nph*ph, npw*pw]` (pce.unpatchify).
Value unpatchifyGrid(OpBuilder &b, Location loc, Value patches, int64_t nph,
                     int64_t npw);

/// The embedding's 1x1 convolution of `core [B, P, Cin, ph, pw]`:
/// `z[b,p,d,i,j] = bias[d] + sum_c weight[d,c] * core[b,p,c,i,j]`.
Value embedConv1x1(OpBuilder &b, Location loc, Value core, Value weight,
                   Value bias);

/// Spatial pyramid max pooling of `z [B, P, De, ph, pw]` to `[B, P, D]`: per
/// level `l`, adaptive max pooling to `l x l` bins (PyTorch's
/// adaptive_max_pool2d) flattened channel-major, levels concatenated in order.
/// When `argmax` is given, also sets it to a tensor of the same shape holding,
/// in z's element type, the flat index `i*pw + j` of each bin's maximum
/// (PyTorch's choice: the first in row-major order, the last NaN if any).
Value sppMaxPool(OpBuilder &b, Location loc, Value z, ArrayRef<int64_t> levels,
                 Value *argmax = nullptr);

} // namespace mlir::pce::lowering

#endif // PCE_PASSES_LOWERINGUTILS_H
