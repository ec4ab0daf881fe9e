//===- CoordConv.h - the CoordConv twin of a PCE layer ---------------------===//
//
// `pce-train --coordconv` replaces every PCE layer by one Conv(k x k,
// padding k/2)-BN-ReLU over the image concatenated with the 4 coordinate
// planes each pixel has inside its own patch (SEMANTICS.md §1: row and
// column within the patch, the patch's row and column in the grid, each
// lin(n, i) = 2i/(n-1) - 1). It has the PCE layer's inputs, including the
// position, and no routing: against the PCE network it separates "the
// coordinate channels help" from "routing helps". (By SEMANTICS.md §1 (a), a
// PCE layer with identical 1x1 experts is exactly this layer.)
//
//===----------------------------------------------------------------------===//
#ifndef PCE_RUNTIME_TRAIN_COORDCONV_H
#define PCE_RUNTIME_TRAIN_COORDCONV_H

#include <torch/types.h>

namespace pce::train {

// [1, 4, H, W]: the coordinate planes of ph x pw patches on an H x W map.
torch::Tensor coordinatePlanes(int64_t H, int64_t W, int64_t ph, int64_t pw, const torch::TensorOptions &options);

} // namespace pce::train

#endif // PCE_RUNTIME_TRAIN_COORDCONV_H
