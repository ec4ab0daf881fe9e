//===- PCEMath.h - the PCE math of lowerings and adjoints -------*- C++ -*-===//
//
// The computations of docs/SEMANTICS.md as linalg on tensors, shared by the
// conversion to linalg, the fusions and the adjoints, so that inference and
// training compute each rule once: cosine and MLP router logits, top-k
// ranks, batch-norm folding and the experts' epilogue, the experts'
// convolutions, the concat mix's projection, patch cores and grids, the
// embedding's 1x1 convolution and spatial pyramid pooling.
//
//===----------------------------------------------------------------------===//

#ifndef PCE_PASSES_BUILDERS_PCEMATH_H
#define PCE_PASSES_BUILDERS_PCEMATH_H

#include "passes/Builders/LinalgBuilders.h"

namespace mlir::pce::lowering {

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

/// The squared norms `|x|^2` of the last-dim rows of `x` (`[B, P, D]` ->
/// `[B, P]`).
Value rowSquares(OpBuilder &b, Location loc, Value x);

/// `x / max(|x|, kCosineNormFloor)` row by row, from `squares = |x|^2`.
Value unitRows(OpBuilder &b, Location loc, Value x, Value squares);

/// How an MLP router computes its logits: `normalizeInput` feeds `W1` the
/// unit rows of the embeddings; `linearHidden` drops the ReLU; `cosineHead`
/// replaces `W2 hidden + b2` by the cosine router over `hidden` with `W2`'s
/// rows as keys, at `tau`, or `exp(logTau)` when `logTau` (0-d) is given.
struct MlpOptions {
  bool normalizeInput = false;
  bool cosineHead = false;
  bool linearHidden = false; ///< no ReLU: `hidden = W1 u + b1`
  Value logTau;
  double tau = 1.0;
};

/// The MLP router's logits, `hidden = relu(W1 u + b1)` (`W1 u + b1` with
/// `linearHidden`), and what the adjoint reads: `u` is `emb`, or its unit
/// rows when `normalizeInput`, whose squared norms `embSquares` are then set;
/// with `cosineHead`, the head's squared norms `|hidden|^2` [B, P] and
/// `|W2_e|^2` [E] too.
struct MlpLogits {
  Value input;
  Value embSquares;
  Value hidden;
  Value logits;
  Value hiddenSquares, headSquares;
};
/// A pce.route's MLP options; `logTau` is its (converted) log_tau operand.
template <typename RouteOpT>
MlpOptions mlpOptions(RouteOpT op, Value logTau) {
  return {op.getNormalizeInput(), op.getCosineHead(), op.getLinearHidden(),
          logTau, op.getTauValue()};
}

/// `mlp = (W1, b1, W2, b2)`, or `(W1, b1, W2)` with a cosine head.
MlpLogits mlpLogits(OpBuilder &b, Location loc, Value emb, ValueRange mlp,
                    const MlpOptions &options);

/// The rank of each weight in its last-dim row (i64):
/// `#{e' : w[e'] > w[e] or (w[e'] == w[e] and e' < e)}`, so the k largest
/// weights, ties going to the lower index, are those of rank < k.
Value topKRanks(OpBuilder &b, Location loc, Value weights);

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

/// `relu(scale * x + shift)` on scalars; no multiply when `scale` is null.
Value expertActivation(OpBuilder &b, Location loc, Value x, Value scale,
                       Value shift);

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

#endif // PCE_PASSES_BUILDERS_PCEMATH_H
