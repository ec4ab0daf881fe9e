//===- OrdinaryLayers.h - upstream ops for a model's ordinary layers ------===//
//
// Convolutions, normalisation, pooling and linear layers are built from
// upstream linalg/tensor ops on f32 tensors, the way examples/fashion_pce.mlir
// writes its head. The importer checks every shape first; these builders
// assume consistent operands.
//
//===----------------------------------------------------------------------===//

#ifndef PCE_FRONTEND_ORDINARYLAYERS_H
#define PCE_FRONTEND_ORDINARYLAYERS_H

#include "mlir/IR/Builders.h"
#include "mlir/IR/Value.h"

#include <array>
#include <cstdint>
#include <vector>

namespace pce::frontend::layers {

using IntPair = std::array<int64_t, 2>;

/// Output size of a window of `kernel` with `stride` over `size` padded by
/// `padding` on both sides; <= 0 when the window does not fit.
/// The importer checks `size + 2*padding` (shapes::CheckedSizes) before
/// calling it; the builders below likewise take shapes it has checked.
inline int64_t windowedSize(int64_t size, int64_t kernel, int64_t stride,
                            int64_t padding) {
  int64_t span = size + 2 * padding - kernel;
  return span < 0 ? 0 : span / stride + 1;
}

/// x [B, C, H, W] * weight [Co, C, kh, kw] (+ bias [Co]) with zero padding.
mlir::Value conv2d(mlir::OpBuilder &b, mlir::Location loc, mlir::Value input,
                   mlir::Value weight, mlir::Value bias, IntPair stride,
                   IntPair padding);

/// Inference batch norm over dimension 1 of [B, C, H, W] or [B, C]:
/// gamma * (x - mean) / sqrt(var + eps) + beta, each parameter [C].
mlir::Value batchNorm(mlir::OpBuilder &b, mlir::Location loc, mlir::Value input,
                      mlir::Value gamma, mlir::Value beta, mlir::Value mean,
                      mlir::Value var, double eps);

mlir::Value relu(mlir::OpBuilder &b, mlir::Location loc, mlir::Value input);

/// Max or average pooling of [B, C, H, W] without padding.
mlir::Value pool2d(mlir::OpBuilder &b, mlir::Location loc, mlir::Value input,
                   bool max, IntPair kernel, IntPair stride);

/// Mean over H x W: [B, C, H, W] -> [B, C].
mlir::Value globalAvgPool(mlir::OpBuilder &b, mlir::Location loc,
                          mlir::Value input);

/// [B, C, H, W] -> [B, C*H*W] (channel-major, as PyTorch's flatten).
mlir::Value flatten(mlir::OpBuilder &b, mlir::Location loc, mlir::Value input);

/// x [B, F] * weight [F, O] (+ bias [O]).
mlir::Value linear(mlir::OpBuilder &b, mlir::Location loc, mlir::Value input,
                   mlir::Value weight, mlir::Value bias);

/// Element-wise x + y of one shape.
mlir::Value add(mlir::OpBuilder &b, mlir::Location loc, mlir::Value x,
                mlir::Value y);

/// [B, C1, H, W] and [B, C2, H, W] -> [B, C1 + C2, H, W], x's channels first.
mlir::Value concatChannels(mlir::OpBuilder &b, mlir::Location loc, mlir::Value x,
                           mlir::Value y);

/// 1 / (1 + exp(-x)), element-wise.
mlir::Value sigmoid(mlir::OpBuilder &b, mlir::Location loc, mlir::Value input);

/// [B, C, H, W] resized to [B, C, height, width] as PyTorch's
/// upsample_nearest2d / upsample_bilinear2d (align_corners=False) with an
/// output size (the source index from the float scale in/out). Separable:
/// two contractions with constant [out, in] interpolation matrices, so a
/// non-finite input also reaches the outputs it has a zero weight in.
mlir::Value resize(mlir::OpBuilder &b, mlir::Location loc, mlir::Value input,
                   bool bilinear, int64_t height, int64_t width);

/// Row `i` of the [out, in] interpolation matrix of one axis: the weights of
/// the input samples output sample i reads (at most two are non-zero).
std::vector<float> interpolationRow(int64_t in, int64_t out, int64_t i,
                                    bool bilinear);

} // namespace pce::frontend::layers

#endif // PCE_FRONTEND_ORDINARYLAYERS_H
