//===- PCEShapes.cpp - shape rules of the pce ops -------------------------===//

#include "dialect/PCEShapes.h"

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/MathExtras.h"

#include <algorithm>
#include <cmath>

namespace mlir::pce::shapes {

using llvm::ArrayRef;
using llvm::formatv;

int64_t CheckedSizes::fail(llvm::StringRef quantity, int64_t a, char op,
                           int64_t b) {
  if (error_.empty())
    error_ = formatv("{0} overflows: {1} {2} {3} exceeds {4}, the largest "
                     "tensor size",
                     quantity, a, op, b, kMaxSize);
  return 0;
}

int64_t CheckedSizes::mul(llvm::StringRef quantity, int64_t a, int64_t b) {
  int64_t r;
  if (llvm::MulOverflow(a, b, r) || r < 0)
    return fail(quantity, a, '*', b);
  return r;
}

int64_t CheckedSizes::add(llvm::StringRef quantity, int64_t a, int64_t b) {
  int64_t r;
  if (llvm::AddOverflow(a, b, r) || r < 0)
    return fail(quantity, a, '+', b);
  return r;
}

int64_t CheckedSizes::elements(llvm::StringRef what,
                               ArrayRef<int64_t> shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    int64_t r;
    if (llvm::MulOverflow(n, d, r) || r < 0) {
      if (error_.empty())
        error_ = formatv("{0} {1} would hold more than {2} elements, the "
                         "largest tensor size",
                         what, str(shape), kMaxSize);
      return 0;
    }
    n = r;
  }
  return n;
}

/// `shape`, or the overflow `sizes` recorded while computing it, or the
/// overflow of its element count.
static ShapeOrError result(CheckedSizes &sizes,
                           llvm::SmallVector<int64_t, 6> shape) {
  sizes.elements("the result", shape);
  if (!sizes.ok())
    return ShapeOrError::fail(sizes.error());
  return {std::move(shape), {}};
}

std::string str(ArrayRef<int64_t> shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i)
      s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

double lin(int64_t n, int64_t i) {
  if (n <= 1)
    return 0.0;
  return 2.0 * static_cast<double>(i) / static_cast<double>(n - 1) - 1.0;
}

std::pair<int64_t, int64_t> poolBin(int64_t size, int64_t bins, int64_t u) {
  int64_t begin = (u * size) / bins;                // floor
  int64_t end = ((u + 1) * size + bins - 1) / bins; // ceil
  return {begin, end};
}

int64_t sppBins(ArrayRef<int64_t> levels, CheckedSizes &sizes) {
  int64_t n = 0;
  for (int64_t l : levels)
    n = sizes.add("SPP bins sum(l*l)", n, sizes.mul("SPP bins l*l", l, l));
  return n;
}

std::string expectShape(llvm::StringRef what, ArrayRef<int64_t> shape,
                        ArrayRef<int64_t> expected, llvm::StringRef why) {
  if (shape == expected)
    return {};
  std::string msg = formatv("{0} has shape {1}, expected {2}", what, str(shape),
                            str(expected));
  if (!why.empty())
    msg += formatv(" ({0})", why).str();
  return msg;
}

static std::string rankError(llvm::StringRef what, ArrayRef<int64_t> shape,
                             size_t rank, llvm::StringRef layout) {
  return formatv("{0} must have rank {1} ({2}), found rank {3} {4}", what, rank,
                 layout, shape.size(), str(shape));
}

ShapeOrError patchify(ArrayRef<int64_t> input, ArrayRef<int64_t> patch,
                      int64_t radius) {
  if (input.size() != 4)
    return ShapeOrError::fail(
        rankError("operand 'input'", input, 4, "[B, C, H, W]"));
  if (patch.size() != 2)
    return ShapeOrError::fail(
        formatv("attribute 'patch' must have 2 entries [ph, pw], found {0}",
                patch.size()));
  if (patch[0] <= 0 || patch[1] <= 0)
    return ShapeOrError::fail(
        formatv("attribute 'patch' must be positive, found {0}", str(patch)));
  if (radius < 0)
    return ShapeOrError::fail(
        formatv("attribute 'radius' must be >= 0, found {0}", radius));
  int64_t h = input[2], w = input[3];
  if (h % patch[0] != 0)
    return ShapeOrError::fail(formatv(
        "input height {0} is not divisible by patch height {1}", h, patch[0]));
  if (w % patch[1] != 0)
    return ShapeOrError::fail(formatv(
        "input width {0} is not divisible by patch width {1}", w, patch[1]));
  CheckedSizes sizes;
  int64_t p = sizes.mul("number of patches P = (H/ph)*(W/pw)", h / patch[0],
                        w / patch[1]);
  int64_t channels = sizes.add("channels C+4", input[1], 4);
  int64_t halo = sizes.mul("halo 2r", 2, radius);
  int64_t hp = sizes.add("patch height ph+2r", patch[0], halo);
  int64_t wp = sizes.add("patch width pw+2r", patch[1], halo);
  return result(sizes, {input[0], p, channels, hp, wp});
}

ShapeOrError embed(ArrayRef<int64_t> patches, ArrayRef<int64_t> weight,
                   ArrayRef<int64_t> bias, int64_t radius,
                   ArrayRef<int64_t> levels) {
  if (patches.size() != 5)
    return ShapeOrError::fail(rankError("operand 'patches'", patches, 5,
                                        "[B, P, C+4, ph+2r, pw+2r]"));
  if (radius < 0)
    return ShapeOrError::fail(
        formatv("attribute 'radius' must be >= 0, found {0}", radius));
  CheckedSizes sizes;
  int64_t halo = sizes.mul("halo 2r", 2, radius);
  int64_t ph = patches[3] - halo, pw = patches[4] - halo;
  if (sizes.ok() && (ph < 1 || pw < 1))
    return ShapeOrError::fail(formatv(
        "patches of {0}x{1} pixels have no core inside a halo of radius {2}",
        patches[3], patches[4], radius));
  if (levels.empty())
    return ShapeOrError::fail("attribute 'levels' must not be empty");
  for (int64_t l : levels)
    if (l <= 0)
      return ShapeOrError::fail(formatv(
          "attribute 'levels' must be positive, found {0}", str(levels)));
  if (weight.size() != 2)
    return ShapeOrError::fail(
        rankError("operand 'weight'", weight, 2, "[De, C+4]"));
  if (weight[1] != patches[2])
    return ShapeOrError::fail(formatv(
        "operand 'weight' has {0} input channels, expected {1} (the patches' "
        "channels C+4)",
        weight[1], patches[2]));
  std::string err = expectShape("operand 'bias'", bias, {weight[0]},
                                "[De] with De from 'weight'");
  if (!err.empty())
    return ShapeOrError::fail(err);
  // Pooling bins index rows as (u+1)*size for u < l (poolBin).
  for (int64_t l : levels)
    sizes.add("SPP pooling bound l*(ph+2r)+l",
              sizes.mul("SPP pooling bound l*(ph+2r)", l,
                        std::max(patches[3], patches[4])),
              l);
  int64_t width = sizes.mul("embedding width D = De*sum(l*l)", weight[0],
                            sppBins(levels, sizes));
  return result(sizes, {patches[0], patches[1], width});
}

ShapeOrError experts(ArrayRef<int64_t> patches, ArrayRef<int64_t> kernels) {
  if (patches.size() != 5)
    return ShapeOrError::fail(rankError("operand 'patches'", patches, 5,
                                        "[B, P, C+4, ph+2r, pw+2r]"));
  if (kernels.size() != 5)
    return ShapeOrError::fail(
        rankError("operand 'kernels'", kernels, 5, "[E, Co, C+4, k, k]"));
  if (kernels[0] < 1)
    return ShapeOrError::fail(
        "operand 'kernels' must hold at least one expert");
  if (kernels[2] != patches[2])
    return ShapeOrError::fail(formatv(
        "operand 'kernels' has {0} input channels, expected {1} (the patches' "
        "channels C+4)",
        kernels[2], patches[2]));
  if (kernels[3] != kernels[4])
    return ShapeOrError::fail(
        formatv("operand 'kernels' must be square, found {0}x{1}", kernels[3],
                kernels[4]));
  int64_t k = kernels[3];
  if (k % 2 == 0)
    return ShapeOrError::fail(formatv("kernel size must be odd, found {0}", k));
  if (k > patches[3] || k > patches[4])
    return ShapeOrError::fail(
        formatv("kernel size {0} exceeds the {1}x{2} patches", k, patches[3],
                patches[4]));
  CheckedSizes sizes;
  return result(sizes, {patches[0], patches[1], kernels[0], kernels[1],
                        patches[3] - k + 1, patches[4] - k + 1});
}

ShapeOrError mix(ArrayRef<int64_t> weights, ArrayRef<int64_t> experts,
                 int64_t projRows) {
  if (weights.size() != 3)
    return ShapeOrError::fail(
        rankError("operand 'weights'", weights, 3, "[B, P, E]"));
  if (experts.size() != 6)
    return ShapeOrError::fail(
        rankError("operand 'experts'", experts, 6, "[B, P, E, Co, ph, pw]"));
  if (weights[0] != experts[0] || weights[1] != experts[1])
    return ShapeOrError::fail(formatv("operand 'weights' is for {0} images x "
                                      "{1} patches but 'experts' is for "
                                      "{2} x {3}",
                                      weights[0], weights[1], experts[0],
                                      experts[1]));
  if (weights[2] != experts[2])
    return ShapeOrError::fail(formatv(
        "operand 'weights' routes to {0} experts but 'experts' holds {1}",
        weights[2], experts[2]));
  int64_t co = projRows > 0 ? projRows : experts[3];
  CheckedSizes sizes;
  return result(sizes, {experts[0], experts[1], co, experts[4], experts[5]});
}

ShapeOrError unpatchify(ArrayRef<int64_t> input, ArrayRef<int64_t> grid) {
  if (input.size() != 5)
    return ShapeOrError::fail(
        rankError("operand 'input'", input, 5, "[B, P, Co, ph, pw]"));
  if (grid.size() != 2 || grid[0] <= 0 || grid[1] <= 0)
    return ShapeOrError::fail(formatv(
        "attribute 'grid' must be 2 positive entries [nph, npw], found {0}",
        str(grid)));
  CheckedSizes sizes;
  int64_t numPatches = sizes.mul("number of patches nph*npw", grid[0], grid[1]);
  if (!sizes.ok())
    return ShapeOrError::fail(sizes.error());
  if (numPatches != input[1])
    return ShapeOrError::fail(
        formatv("attribute 'grid' {0} has {1} patches, but the input has {2}",
                str(grid), numPatches, input[1]));
  int64_t h = sizes.mul("output height nph*ph", grid[0], input[3]);
  int64_t w = sizes.mul("output width npw*pw", grid[1], input[4]);
  return result(sizes, {input[0], input[2], h, w});
}

} // namespace mlir::pce::shapes
