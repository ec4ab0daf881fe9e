//===- PCEShapes.h - shape rules of the pce ops -----------------*- C++ -*-===//
//
// The shape arithmetic of docs/SEMANTICS.md, free of MLIR types so that the
// verifiers, the type inference, the lowering and unit tests share one
// definition. Each function returns the result shape, or an error sentence
// that names the operand or attribute and the value expected versus found,
// or the quantity whose size would overflow (CheckedSizes).
//
//===----------------------------------------------------------------------===//

#ifndef PCE_DIALECT_PCESHAPES_H
#define PCE_DIALECT_PCESHAPES_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringRef.h"

#include <cstdint>
#include <limits>
#include <string>
#include <utility>

namespace mlir::pce::shapes {

/// The largest size a tensor dimension (or a tensor's element count) may
/// hold: sizes are int64_t, and negative values are not sizes.
inline constexpr int64_t kMaxSize = std::numeric_limits<int64_t>::max();

/// Checked arithmetic on sizes: the one place where shape rules, verifiers
/// and the importer multiply or add sizes. An operation whose result would
/// exceed kMaxSize (or be negative) records an error naming the quantity
/// and returns 0; later operations keep the first error, so a rule computes
/// its sizes and checks `ok()` once.
class CheckedSizes {
public:
  /// `a * b`; `quantity` names the result ("number of patches P").
  int64_t mul(llvm::StringRef quantity, int64_t a, int64_t b);
  /// `a + b`.
  int64_t add(llvm::StringRef quantity, int64_t a, int64_t b);
  /// The number of elements of `shape`; `what` names the tensor.
  int64_t elements(llvm::StringRef what, llvm::ArrayRef<int64_t> shape);

  bool ok() const { return error_.empty(); }
  /// The first overflow, e.g. "channels C+4 overflow: 9223372036854775804 +
  /// 4 exceeds 9223372036854775807, the largest tensor size".
  const std::string &error() const { return error_; }

private:
  int64_t fail(llvm::StringRef quantity, int64_t a, char op, int64_t b);
  std::string error_;
};

/// A result shape, or the reason there is none.
struct ShapeOrError {
  llvm::SmallVector<int64_t, 6> shape;
  std::string error;
  bool ok() const { return error.empty(); }
  static ShapeOrError fail(std::string msg) { return {{}, std::move(msg)}; }
};

/// Formats a shape as `[2, 16, 5]`.
std::string str(llvm::ArrayRef<int64_t> shape);

/// `lin(n, i) = 2*i/(n-1) - 1` for `n > 1`, `0` for `n == 1`: the coordinate
/// of index `i` among `n` (SEMANTICS.md §1).
double lin(int64_t n, int64_t i);

/// The rows `[begin, end)` of bin `u` when adaptive max pooling `size` rows
/// into `bins` bins: `floor(u*size/bins) .. ceil((u+1)*size/bins)`.
std::pair<int64_t, int64_t> poolBin(int64_t size, int64_t bins, int64_t u);

/// `sum(l*l)` over the SPP levels (0 after an overflow, which `sizes`
/// records).
int64_t sppBins(llvm::ArrayRef<int64_t> levels, CheckedSizes &sizes);

/// input [B, C, H, W] -> [B, P, C+4, ph+2r, pw+2r].
ShapeOrError patchify(llvm::ArrayRef<int64_t> input,
                      llvm::ArrayRef<int64_t> patch, int64_t radius);

/// patches [B, P, Cin, ph+2r, pw+2r], weight [De, Cin], bias [De] -> [B, P, D].
ShapeOrError embed(llvm::ArrayRef<int64_t> patches,
                   llvm::ArrayRef<int64_t> weight, llvm::ArrayRef<int64_t> bias,
                   int64_t radius, llvm::ArrayRef<int64_t> levels);

/// patches [B, P, Cin, Hp, Wp], kernels [E, Co, Cin, k, k] -> [B, P, E, Co,
/// Hp-k+1, Wp-k+1].
ShapeOrError experts(llvm::ArrayRef<int64_t> patches,
                     llvm::ArrayRef<int64_t> kernels);

/// weights [B, P, E], experts [B, P, E, Co, ph, pw] -> [B, P, Co, ph, pw]
/// (`projRows` > 0 replaces Co: the rows of the concat projection).
ShapeOrError mix(llvm::ArrayRef<int64_t> weights,
                 llvm::ArrayRef<int64_t> experts, int64_t projRows = 0);

/// input [B, P, Co, ph, pw], grid [nph, npw] -> [B, Co, nph*ph, npw*pw].
ShapeOrError unpatchify(llvm::ArrayRef<int64_t> input,
                        llvm::ArrayRef<int64_t> grid);

/// Checks that `shape` equals `expected`; the error names `what` and how the
/// expectation was derived (`why`, may be empty).
std::string expectShape(llvm::StringRef what, llvm::ArrayRef<int64_t> shape,
                        llvm::ArrayRef<int64_t> expected, llvm::StringRef why);

} // namespace mlir::pce::shapes

#endif // PCE_DIALECT_PCESHAPES_H
