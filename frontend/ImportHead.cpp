//===- ImportHead.cpp - the head of a description -------------------------===//
//
// classification, segmentation or detection (docs/ModelDescription.md,
// runtime/dense/HeadSpec.h): the head's ops after the last layer, and the
// HeadSpec the module records as `pce.head`.
//
//===----------------------------------------------------------------------===//

#include "frontend/ModelImporter.h"
#include "frontend/OrdinaryLayers.h"

using namespace mlir;
using namespace ::pce::frontend;
using namespace ::pce::frontend::detail;
namespace pir = mlir::pce;

namespace pce::frontend::detail {

FailureOr<Value> ModelImporter::headConv(const HeadDesc &head, llvm::StringRef name,
                                         int64_t channels, rt::ParamRole biasRole) {
  FailureOr<Value> weight =
      param("head", (name + ".weight").str(), rt::ParamRole::ConvKernel,
            {channels, current.shape[1], 1, 1}, head.loc);
  if (failed(weight))
    return failure();
  FailureOr<Value> bias =
      param("head", (name + ".bias").str(), biasRole, {channels}, head.loc);
  if (failed(bias))
    return failure();
  return layers::conv2d(builder, loc(head.loc), current.value, *weight, *bias,
                        {1, 1}, {0, 0});
}

/// classification: global average pooling while the tensor is still an
/// image, then a linear layer to `classes` logits. segmentation: a 1x1
/// convolution to `classes` logits, bilinearly resized to the input.
/// detection: 1x1 convolutions to the class heatmaps (then a sigmoid), box
/// sizes and centre offsets, concatenated (runtime/dense/HeadSpec.h).
LogicalResult ModelImporter::importHead(const HeadDesc &head) {
  Location at = loc(head.loc);
  int64_t classes = head.classes.value;
  headSpec.classes = classes;
  headSpec.kind = *rt::parseHeadKind(head.kind.value);
  headSpec.in.assign(current.shape.begin() + 1, current.shape.end());
  if (headSpec.kind == rt::HeadKind::Classification) {
    if (current.shape.size() == 4)
      current = {layers::globalAvgPool(builder, at, current.value),
                 {current.shape[0], current.shape[1]}};
    FailureOr<Value> weight =
        param("head", "fc.weight", rt::ParamRole::LinearWeight, {current.shape[1], classes}, head.loc);
    FailureOr<Value> bias =
        succeeded(weight) ? param("head", "fc.bias", rt::ParamRole::LinearBias, {classes}, head.loc)
                          : FailureOr<Value>(failure());
    if (failed(bias))
      return failure();
    current = {layers::linear(builder, at, current.value, *weight, *bias),
               {current.shape[0], classes}};
    return success();
  }
  const InputDesc &in = model.input;
  if (current.shape.size() != 4)
    return error(head.kind.loc)
           << "a " << head.kind.value << " head needs a 4-D [B, C, H, W] feature map; it receives "
           << shapes::str(current.shape) << " from " << currentFrom;
  int64_t h = current.shape[2], w = current.shape[3];
  if (headSpec.kind == rt::HeadKind::Segmentation) {
    headSpec.classWeights = head.classWeights.value;
    FailureOr<Value> logits = headConv(head, "classifier", classes, rt::ParamRole::ConvBias);
    if (failed(logits))
      return failure();
    SmallVector<int64_t> out = {current.shape[0], classes, in.height.value, in.width.value};
    if (failed(checkElements(out, head.loc, "the head's logits")))
      return failure();
    current = {layers::resize(builder, at, *logits, /*bilinear=*/true, in.height.value,
                              in.width.value),
               out};
    return success();
  }
  // Detection: the heatmap's cells are `stride` input pixels on both axes.
  if (in.height.value % h != 0 || in.width.value % w != 0 ||
      in.height.value / h != in.width.value / w)
    return error(head.kind.loc)
           << "a detection head needs a feature map whose stride divides the "
              "input evenly and equally on both axes; the "
           << in.height.value << "x" << in.width.value << " input gives a " << h
           << "x" << w << " map from " << currentFrom;
  headSpec.stride = in.height.value / h;
  if (head.maxDetections.given)
    headSpec.maxDetections = head.maxDetections.value;
  if (head.scoreThreshold.given)
    headSpec.scoreThreshold = head.scoreThreshold.value;
  shapes::CheckedSizes sizes;
  int64_t channels = sizes.add("channels K+4", classes, 4);
  if (failed(checkSizes(sizes, head.loc, "head")))
    return failure();
  FailureOr<Value> heat = headConv(head, "heatmap", classes, rt::ParamRole::HeatmapBias);
  FailureOr<Value> size = succeeded(heat) ? headConv(head, "size", 2, rt::ParamRole::ConvBias)
                                          : FailureOr<Value>(failure());
  FailureOr<Value> offset = succeeded(size) ? headConv(head, "offset", 2, rt::ParamRole::ConvBias)
                                            : FailureOr<Value>(failure());
  if (failed(offset))
    return failure();
  Value boxes = layers::concatChannels(builder, at, *size, *offset);
  current = {layers::concatChannels(builder, at, layers::sigmoid(builder, at, *heat), boxes),
             {current.shape[0], channels, h, w}};
  return success();
}

} // namespace pce::frontend::detail
