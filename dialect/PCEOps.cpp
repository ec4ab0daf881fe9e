//===- PCEOps.cpp - type inference and verifiers of the pce ops -----------===//
//
// Type inference never fails: when a shape rule is broken it infers a ranked
// tensor of unknown sizes, so that the verifier (not the parser) reports the
// broken rule, once, naming the operand or attribute and the value expected
// versus found.
//
//===----------------------------------------------------------------------===//

#include "dialect/PCEOps.h"
#include "dialect/PCEOpVerification.h"
#include "dialect/PCEShapes.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/TypeSwitch.h"
#include "llvm/Support/FormatVariadic.h"

using namespace mlir;
using namespace mlir::pce;
using namespace mlir::pce::checks;
using llvm::formatv;

#include "dialect/PCEEnums.cpp.inc"

#define GET_OP_CLASSES
#include "dialect/PCEOps.cpp.inc"

//===----------------------------------------------------------------------===//
// Type inference helpers
//===----------------------------------------------------------------------===//

/// Infers `rule`'s shape, or `rank` unknown sizes when an operand is not
/// static or the rule is broken (the verifier then says why).
static LogicalResult inferFrom(const shapes::ShapeOrError &rule, size_t rank,
                               Type element, SmallVectorImpl<Type> &types) {
  if (!element || !isa<FloatType>(element))
    element = Float32Type::get(element ? element.getContext() : nullptr);
  if (rule.ok())
    types.push_back(RankedTensorType::get(rule.shape, element));
  else
    types.push_back(RankedTensorType::get(
        SmallVector<int64_t>(rank, ShapedType::kDynamic), element));
  return success();
}

// Type inference runs while parsing, before default-valued attributes are
// filled in, so it reads the raw attributes and applies the defaults itself.
static int64_t radiusOr0(IntegerAttr attr) { return attr ? attr.getInt() : 0; }
static const int64_t kDefaultLevels[] = {1, 2, 4};
static ArrayRef<int64_t> levelsOrDefault(DenseI64ArrayAttr attr) {
  return attr ? attr.asArrayRef() : ArrayRef<int64_t>(kDefaultLevels);
}
static MixKind mixOrSum(MixKindAttr attr) {
  return attr ? attr.getValue() : MixKind::sum;
}

//===----------------------------------------------------------------------===//
// PatchifyOp
//===----------------------------------------------------------------------===//

static shapes::ShapeOrError patchifyRule(Value input, ArrayRef<int64_t> patch,
                                         int64_t radius) {
  auto shape = staticShape(input);
  if (!shape)
    return shapes::ShapeOrError::fail("input has no static shape");
  return shapes::patchify(*shape, patch, radius);
}

LogicalResult PatchifyOp::inferReturnTypes(MLIRContext *,
                                           std::optional<Location>,
                                           Adaptor adaptor,
                                           SmallVectorImpl<Type> &types) {
  DenseI64ArrayAttr patch = adaptor.getPatchAttr();
  return inferFrom(
      patchifyRule(adaptor.getInput(),
                   patch ? patch.asArrayRef() : ArrayRef<int64_t>(),
                   radiusOr0(adaptor.getRadiusAttr())),
      5, elementTypeOf(adaptor.getInput()), types);
}

LogicalResult PatchifyOp::verify() {
  OperandChecker shapes(*this);
  if (failed(shapes.add("input", getInput())))
    return failure();
  return shapes.check(
      shapes::patchify(shapes["input"], getPatch(), getRadius()).error);
}

//===----------------------------------------------------------------------===//
// EmbedOp
//===----------------------------------------------------------------------===//

LogicalResult EmbedOp::inferReturnTypes(MLIRContext *, std::optional<Location>,
                                        Adaptor adaptor,
                                        SmallVectorImpl<Type> &types) {
  auto p = staticShape(adaptor.getPatches()),
       w = staticShape(adaptor.getWeight()), b = staticShape(adaptor.getBias());
  shapes::ShapeOrError rule =
      p && w && b
          ? shapes::embed(*p, *w, *b, radiusOr0(adaptor.getRadiusAttr()),
                          levelsOrDefault(adaptor.getLevelsAttr()))
          : shapes::ShapeOrError::fail("not static");
  return inferFrom(rule, 3, elementTypeOf(adaptor.getPatches()), types);
}

LogicalResult EmbedOp::verify() {
  OperandChecker shapes(*this);
  if (failed(shapes.add("patches", getPatches())) ||
      failed(shapes.add("weight", getWeight())) ||
      failed(shapes.add("bias", getBias())))
    return failure();
  return shapes.check(shapes::embed(shapes["patches"], shapes["weight"],
                                    shapes["bias"], getRadius(), getLevels())
                          .error);
}

//===----------------------------------------------------------------------===//
// RouteOp
//===----------------------------------------------------------------------===//

/// E for a router: the keys' rows, W2's rows, or the `experts` attribute.
static int64_t routerExperts(RouterKind kind, Value keys, ValueRange mlp,
                             std::optional<int64_t> attr) {
  auto rows = [](Value v) -> int64_t {
    auto s = staticShape(v);
    return s && !s->empty() ? (*s)[0] : -1;
  };
  if ((kind == RouterKind::cosine || kind == RouterKind::gumbel) && keys)
    return rows(keys);
  if (kind == RouterKind::mlp && mlp.size() >= 3) // W2 [E, Hd]
    return rows(mlp[2]);
  return attr ? *attr : -1;
}

int64_t RouteOp::getNumExpertsValue() {
  return routerExperts(getKind(), getKeys(), getMlp(), getNumExperts());
}

LogicalResult RouteOp::inferReturnTypes(MLIRContext *, std::optional<Location>,
                                        Adaptor adaptor,
                                        SmallVectorImpl<Type> &types) {
  auto in = staticShape(adaptor.getInput());
  if (!adaptor.getKindAttr())
    return inferFrom(shapes::ShapeOrError::fail("no kind"), 3,
                     elementTypeOf(adaptor.getInput()), types);
  int64_t e = routerExperts(adaptor.getKind(), adaptor.getKeys(),
                            adaptor.getMlp(), adaptor.getNumExperts());
  shapes::ShapeOrError rule = shapes::ShapeOrError::fail("unknown");
  if (in && in->size() >= 2 && e > 0)
    rule = {{(*in)[0], (*in)[1], e}, {}};
  return inferFrom(rule, 3, elementTypeOf(adaptor.getInput()), types);
}

LogicalResult RouteOp::verify() {
  OperandChecker shapes(*this);
  RouterKind kind = getKind();
  if (failed(shapes.add("input", getInput())))
    return failure();
  ArrayRef<int64_t> in = shapes["input"];
  bool readsEmbeddings = routerReadsEmbeddings(kind);
  if (readsEmbeddings && in.size() != 3)
    return emitOpError() << "a '" << stringifyRouterKind(kind)
                         << "' router reads embeddings [B, P, D], found rank "
                         << in.size() << " " << shapes::str(in);
  if (!readsEmbeddings && in.size() < 2)
    return emitOpError() << "operand 'input' must have rank >= 2 [B, P, ...], "
                            "found rank "
                         << in.size();
  if ((getKeys() && failed(shapes.add("keys", getKeys()))) ||
      (getMlp().size() == mlpGroupSize(getCosineHead()) &&
       failed(shapes.addGroup("mlp", getMlp(), kMlpNames))) ||
      (getLogTau() && failed(shapes.add("log_tau", getLogTau()))))
    return failure();

  std::optional<int64_t> attr = getNumExperts();
  if (!readsEmbeddings && !attr)
    return emitOpError() << "a '" << stringifyRouterKind(kind)
                         << "' router needs attribute 'experts' (E)";
  if (attr && *attr < 1)
    return emitOpError() << "attribute 'experts' must be >= 1, found " << *attr;
  int64_t e = getNumExpertsValue();
  if (attr && e > 0 && *attr != e)
    return emitOpError() << "attribute 'experts' is " << *attr << " but the "
                         << (kind == RouterKind::mlp ? "MLP's W2" : "keys")
                         << " hold " << e << " experts";
  if (e < 1)
    e = 1; // a missing keys/mlp operand; verifyRouter says which.
  shapes::CheckedSizes sizes;
  sizes.elements("the result", {in[0], in[1], e});
  if (failed(shapes.check(sizes.error())))
    return failure();
  int64_t width = readsEmbeddings ? in[2] : -1;
  return verifyRouter(*this, RouterConfig::of(*this, kind), shapes, e, width,
                      in[1]);
}

//===----------------------------------------------------------------------===//
// ExpertsOp
//===----------------------------------------------------------------------===//

LogicalResult ExpertsOp::inferReturnTypes(MLIRContext *,
                                          std::optional<Location>,
                                          Adaptor adaptor,
                                          SmallVectorImpl<Type> &types) {
  auto p = staticShape(adaptor.getPatches()),
       k = staticShape(adaptor.getKernels());
  return inferFrom(p && k ? shapes::experts(*p, *k)
                          : shapes::ShapeOrError::fail("not static"),
                   6, elementTypeOf(adaptor.getPatches()), types);
}

LogicalResult ExpertsOp::verify() {
  OperandChecker shapes(*this);
  if (failed(shapes.add("patches", getPatches())) ||
      failed(shapes.add("kernels", getKernels())))
    return failure();
  if (failed(shapes.check(
          shapes::experts(shapes["patches"], shapes["kernels"]).error)))
    return failure();
  ArrayRef<int64_t> k = shapes["kernels"];
  return verifyExpertNorm(*this, shapes, getBn(), getAffine(),
                          getEps().convertToDouble(), k[0], k[1]);
}

//===----------------------------------------------------------------------===//
// MixOp
//===----------------------------------------------------------------------===//

LogicalResult MixOp::inferReturnTypes(MLIRContext *, std::optional<Location>,
                                      Adaptor adaptor,
                                      SmallVectorImpl<Type> &types) {
  auto w = staticShape(adaptor.getWeights()),
       y = staticShape(adaptor.getExperts());
  int64_t rows = 0;
  if (adaptor.getKindAttr() && adaptor.getKind() == MixKind::concat &&
      !adaptor.getProj().empty())
    if (auto wc = staticShape(adaptor.getProj()[0]); wc && !wc->empty())
      rows = (*wc)[0];
  return inferFrom(w && y ? shapes::mix(*w, *y, rows)
                          : shapes::ShapeOrError::fail("not static"),
                   5, elementTypeOf(adaptor.getExperts()), types);
}

LogicalResult MixOp::verify() {
  OperandChecker shapes(*this);
  if (failed(shapes.add("weights", getWeights())) ||
      failed(shapes.add("experts", getExperts())))
    return failure();
  if (failed(shapes.check(
          shapes::mix(shapes["weights"], shapes["experts"]).error)))
    return failure();
  ArrayRef<int64_t> y = shapes["experts"];
  return verifyProjection(*this, shapes, getKind(), getProj(), y[2], y[3]);
}

//===----------------------------------------------------------------------===//
// AttentionOp
//===----------------------------------------------------------------------===//

LogicalResult AttentionOp::verify() {
  OperandChecker shapes(*this);
  if (failed(shapes.add("input", getInput())))
    return failure();
  ArrayRef<int64_t> in = shapes["input"];
  if (in.size() != 5)
    return emitOpError()
           << "operand 'input' must have rank 5 [B, P, Co, ph, pw], "
              "found rank "
           << in.size() << " " << shapes::str(in);
  if (getKind() == AttentionKind::none) {
    if (!getWeights().empty())
      return emitOpError() << "operand group 'weights' does not apply to "
                              "'attention none'";
    return success();
  }
  return verifySqueezeExcitation(*this, shapes, "weights", getWeights(), in[2]);
}

//===----------------------------------------------------------------------===//
// UnpatchifyOp
//===----------------------------------------------------------------------===//

LogicalResult UnpatchifyOp::inferReturnTypes(MLIRContext *,
                                             std::optional<Location>,
                                             Adaptor adaptor,
                                             SmallVectorImpl<Type> &types) {
  auto in = staticShape(adaptor.getInput());
  DenseI64ArrayAttr grid = adaptor.getGridAttr();
  return inferFrom(in && grid ? shapes::unpatchify(*in, grid.asArrayRef())
                              : shapes::ShapeOrError::fail("not static"),
                   4, elementTypeOf(adaptor.getInput()), types);
}

LogicalResult UnpatchifyOp::verify() {
  OperandChecker shapes(*this);
  if (failed(shapes.add("input", getInput())))
    return failure();
  return shapes.check(shapes::unpatchify(shapes["input"], getGrid()).error);
}

//===----------------------------------------------------------------------===//
// LayerOp
//===----------------------------------------------------------------------===//

LogicalResult LayerOp::inferReturnTypes(MLIRContext *, std::optional<Location>,
                                        Adaptor adaptor,
                                        SmallVectorImpl<Type> &types) {
  auto in = staticShape(adaptor.getInput()),
       k = staticShape(adaptor.getKernels());
  shapes::ShapeOrError rule = shapes::ShapeOrError::fail("not static");
  if (in && k && in->size() == 4 && k->size() == 5) {
    int64_t co = (*k)[1];
    if (mixOrSum(adaptor.getMixAttr()) == MixKind::concat &&
        !adaptor.getProj().empty())
      if (auto wc = staticShape(adaptor.getProj()[0]); wc && !wc->empty())
        co = (*wc)[0];
    rule = {{(*in)[0], co, (*in)[2], (*in)[3]}, {}};
  }
  return inferFrom(rule, 4, elementTypeOf(adaptor.getInput()), types);
}

LogicalResult LayerOp::verify() {
  OperandChecker shapes(*this);
  if (failed(shapes.add("input", getInput())) ||
      failed(shapes.add("kernels", getKernels())))
    return failure();
  ArrayRef<int64_t> k = shapes["kernels"];
  if (k.size() != 5)
    return shapes.check(shapes::experts({1, 1, 1, 1, 1}, k).error);
  int64_t radius = k[3] / 2;
  shapes::ShapeOrError patches =
      shapes::patchify(shapes["input"], getPatch(), radius);
  if (failed(shapes.check(patches.error)) ||
      failed(shapes.check(shapes::experts(patches.shape, k).error)))
    return failure();
  int64_t numExperts = k[0], outChannels = k[1];
  int64_t numPatches = patches.shape[1];

  // Embedding: only for routers that read it.
  RouterKind kind = getRouter();
  int64_t width = -1;
  if (routerReadsEmbeddings(kind)) {
    if (getEmbed().size() != 2)
      return emitOpError()
             << "a '" << stringifyRouterKind(kind)
             << "' router reads embeddings: operand group "
                "'embed(We [De, C+4], be [De])' must hold 2 values, "
                "found "
             << getEmbed().size();
    if (failed(shapes.addGroup("embed", getEmbed(), {"We", "be"})))
      return failure();
    shapes::ShapeOrError emb =
        shapes::embed(patches.shape, shapes["embed We"], shapes["embed be"],
                      radius, getLevels());
    if (failed(shapes.check(emb.error)))
      return failure();
    width = emb.shape[2];
  } else if (!getEmbed().empty()) {
    return emitOpError() << "operand group 'embed' does not apply to a '"
                         << stringifyRouterKind(kind) << "' router";
  }

  if ((getKeys() && failed(shapes.add("keys", getKeys()))) ||
      (getMlp().size() == mlpGroupSize(getCosineHead()) &&
       failed(shapes.addGroup("mlp", getMlp(), kMlpNames))) ||
      (getLogTau() && failed(shapes.add("log_tau", getLogTau()))))
    return failure();
  if (failed(verifyRouter(*this, RouterConfig::of(*this, kind), shapes,
                          numExperts, width, numPatches)) ||
      failed(verifyExpertNorm(*this, shapes, getBn(), getAffine(),
                              getEps().convertToDouble(), numExperts,
                              outChannels)))
    return failure();
  FailureOr<int64_t> mixed = verifyProjection(
      *this, shapes, getMix(), getProj(), numExperts, outChannels);
  if (failed(mixed))
    return failure();
  if (getAttention() == AttentionKind::none) {
    if (!getSe().empty())
      return emitOpError()
             << "operand group 'se' does not apply to 'attention none'";
    return success();
  }
  if (getMix() != MixKind::concat)
    return emitOpError()
           << "'attention se' follows a 'mix concat' (SEMANTICS.md "
              "§4), found 'mix sum'";
  return verifySqueezeExcitation(*this, shapes, "se", getSe(), *mixed);
}
