//===- PCEOps.cpp - type inference and verifiers of the pce ops -----------===//
//
// Type inference never fails: when a shape rule is broken it infers a ranked
// tensor of unknown sizes, so that the verifier (not the parser) reports the
// broken rule, once, naming the operand or attribute and the value expected
// versus found.
//
//===----------------------------------------------------------------------===//

#include "dialect/PCEOps.h"
#include "dialect/PCEShapes.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/TypeSwitch.h"
#include "llvm/Support/FormatVariadic.h"

using namespace mlir;
using namespace mlir::pce;
using llvm::formatv;

#include "dialect/PCEEnums.cpp.inc"

#define GET_OP_CLASSES
#include "dialect/PCEOps.cpp.inc"

//===----------------------------------------------------------------------===//
// Shared helpers
//===----------------------------------------------------------------------===//

static Type elementTypeOf(Value v) {
  if (!v)
    return {};
  Type t = v.getType();
  if (auto shaped = dyn_cast<ShapedType>(t))
    return shaped.getElementType();
  return t;
}

/// The static shape of `v`, or an empty optional when it has none.
static std::optional<SmallVector<int64_t>> staticShape(Value v) {
  auto type = v ? dyn_cast<RankedTensorType>(v.getType()) : RankedTensorType();
  if (!type || !type.hasStaticShape())
    return std::nullopt;
  return SmallVector<int64_t>(type.getShape());
}

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

namespace {
/// Checks what every pce op requires of its operands: static shapes and one
/// floating-point element type, and hands out their shapes by name.
class OperandChecker {
public:
  explicit OperandChecker(Operation *op) : op(op) {}

  /// Records operand `name`; fails (with a diagnostic) when it is not static
  /// or its element type differs from the first operand's.
  LogicalResult add(StringRef name, Value v) {
    auto shape = staticShape(v);
    if (!shape)
      return op->emitOpError()
             << "operand '" << name << "' must have a static shape, found "
             << v.getType();
    Type element = elementTypeOf(v);
    if (!first.empty() && element != firstElement)
      return op->emitOpError() << "operand '" << name << "' has element type "
                               << element << ", expected " << firstElement
                               << " (the element type of '" << first << "')";
    if (first.empty()) {
      first = name.str();
      firstElement = element;
    }
    shapes[name.str()] = *shape;
    return success();
  }

  /// Records a variadic group whose members are named `names`.
  LogicalResult addGroup(StringRef group, ValueRange values,
                         ArrayRef<StringRef> names) {
    for (auto [name, v] : llvm::zip(names, values))
      if (failed(add((group + " " + name).str(), v)))
        return failure();
    return success();
  }

  ArrayRef<int64_t> operator[](StringRef name) const {
    return shapes.find(name.str())->second;
  }

  /// Emits `error` when it is not empty.
  LogicalResult check(const std::string &error) {
    if (error.empty())
      return success();
    return op->emitOpError(error);
  }

private:
  Operation *op;
  std::string first;
  Type firstElement;
  std::map<std::string, SmallVector<int64_t>> shapes;
};
} // namespace

/// Checks that a variadic operand group holds `expected` values.
static LogicalResult checkGroupSize(Operation *op, StringRef group,
                                    ValueRange values, size_t expected,
                                    StringRef layout) {
  if (values.size() == expected)
    return success();
  return op->emitOpError() << "operand group '" << group << "' must hold "
                           << expected << " values " << layout << ", found "
                           << values.size();
}

//===----------------------------------------------------------------------===//
// Router configuration (shared by pce.route and pce.layer)
//===----------------------------------------------------------------------===//

namespace {
/// The router part of a pce.route or pce.layer, read off either op.
struct RouterConfig {
  RouterKind kind;
  Value keys;
  ValueRange mlp;
  Value logTau;
  std::optional<double> tau;
  int64_t topK;
  bool renormalize;
  std::optional<ArrayRef<int64_t>> table;
  double beta, sigma, gumbelTau;
  bool hard;

  template <typename OpTy> static RouterConfig of(OpTy op, RouterKind kind) {
    RouterConfig c;
    c.kind = kind;
    c.keys = op.getKeys();
    c.mlp = op.getMlp();
    c.logTau = op.getLogTau();
    if (op.getTau())
      c.tau = op.getTau()->convertToDouble();
    c.topK = op.getTopK();
    c.renormalize = op.getRenormalize();
    if (op.getTable())
      c.table = *op.getTable();
    c.beta = op.getBeta().convertToDouble();
    c.sigma = op.getSigma().convertToDouble();
    c.gumbelTau = op.getGumbelTau().convertToDouble();
    c.hard = op.getHard();
    return c;
  }
};
} // namespace

/// Verifies a router's operands and attributes against SEMANTICS.md §3.
/// `numExperts` is E, `width` the embedding width D (or -1 when the router
/// reads none), `numPatches` P. Operands must already be in `shapes`.
static LogicalResult verifyRouter(Operation *op, const RouterConfig &c,
                                  OperandChecker &shapes, int64_t numExperts,
                                  int64_t width, int64_t numPatches) {
  StringRef kind = stringifyRouterKind(c.kind);
  auto notFor = [&](StringRef what) {
    return op->emitOpError()
           << what << " does not apply to a '" << kind << "' router";
  };
  bool usesKeys = c.kind == RouterKind::cosine || c.kind == RouterKind::gumbel;
  bool usesTau = usesKeys;

  if (usesKeys && !c.keys)
    return op->emitOpError()
           << "a '" << kind << "' router needs operand 'keys' [E, D]";
  if (!usesKeys && c.keys)
    return notFor("operand 'keys'");
  if (c.kind == RouterKind::mlp && c.mlp.size() != 4)
    return checkGroupSize(op, "mlp", c.mlp, 4,
                          "(W1 [Hd, D], b1 [Hd], W2 [E, Hd], b2 [E])");
  if (c.kind != RouterKind::mlp && !c.mlp.empty())
    return notFor("operand group 'mlp'");
  if (!usesTau && (c.tau || c.logTau))
    return notFor(c.tau ? "attribute 'tau'" : "operand 'log_tau'");
  if (c.tau && c.logTau)
    return op->emitOpError()
           << "attribute 'tau' and operand 'log_tau' both set the temperature; "
              "give one";
  if (c.tau && !(*c.tau > 0.0))
    return op->emitOpError() << "attribute 'tau' must be > 0, found " << *c.tau;
  if (c.kind != RouterKind::position) {
    if (c.table)
      return notFor("attribute 'table'");
    if (c.beta != 1.0)
      return notFor("attribute 'beta'");
    if (c.sigma != 0.0)
      return notFor("attribute 'sigma'");
  }
  if (c.kind != RouterKind::gumbel) {
    if (c.gumbelTau != 1.0)
      return notFor("attribute 'gumbel_tau'");
    if (c.hard)
      return notFor("attribute 'hard'");
  }
  if (!(c.gumbelTau > 0.0))
    return op->emitOpError()
           << "attribute 'gumbel_tau' must be > 0, found " << c.gumbelTau;
  if (c.sigma < 0.0 || std::isnan(c.sigma))
    return op->emitOpError()
           << "attribute 'sigma' must be >= 0, found " << c.sigma;
  if (c.topK < 0 || c.topK > numExperts)
    return op->emitOpError() << "attribute 'top_k' must be in [0, "
                             << numExperts << "] (0 = dense, E = " << numExperts
                             << " experts), found " << c.topK;
  if (c.renormalize && c.topK == 0)
    ; // Harmless: dense weights already sum to 1 (canonicalisation drops it).
  if (c.table) {
    if (static_cast<int64_t>(c.table->size()) != numPatches)
      return op->emitOpError()
             << "attribute 'table' has " << c.table->size()
             << " entries, expected one per patch (P = " << numPatches << ")";
    for (auto [p, e] : llvm::enumerate(*c.table))
      if (e < 0 || e >= numExperts)
        return op->emitOpError()
               << "attribute 'table' sends patch " << p << " to expert " << e
               << ", expected an expert in [0, " << numExperts << ")";
  }
  if (usesKeys) {
    if (failed(shapes.check(shapes::expectShape(
            "operand 'keys'", shapes["keys"], {numExperts, width},
            formatv("[E, D] with E = {0} experts, D = {1} the embedding width",
                    numExperts, width)
                .str()))))
      return failure();
  }
  if (c.kind == RouterKind::mlp) {
    ArrayRef<int64_t> w1 = shapes["mlp W1"];
    if (w1.size() != 2 || w1[1] != width)
      return shapes.check(shapes::expectShape(
          "operand 'mlp W1'", w1, {w1.empty() ? 0 : w1[0], width},
          formatv("[Hd, D] with D = {0} the embedding width", width).str()));
    int64_t hidden = w1[0];
    for (auto [name, expected] :
         {std::pair<StringRef, SmallVector<int64_t>>{"mlp b1", {hidden}},
          {"mlp W2", {numExperts, hidden}},
          {"mlp b2", {numExperts}}})
      if (failed(shapes.check(shapes::expectShape(
              ("operand '" + name + "'").str(), shapes[name], expected,
              formatv("Hd = {0} hidden units from W1, E = {1} experts", hidden,
                      numExperts)
                  .str()))))
        return failure();
  }
  return success();
}

static const StringRef kMlpNames[] = {"W1", "b1", "W2", "b2"};
static const StringRef kBnNames[] = {"gamma", "beta", "mean", "var"};
static const StringRef kAffineNames[] = {"scale", "shift"};
static const StringRef kProjNames[] = {"Wc", "bc"};
static const StringRef kSeNames[] = {"W1", "b1", "W2", "b2"};

/// Checks the batch-norm operands of experts (`bn` or `affine`, each [E, Co]).
static LogicalResult verifyExpertNorm(Operation *op, OperandChecker &shapes,
                                      ValueRange bn, ValueRange affine,
                                      double eps, int64_t numExperts,
                                      int64_t outChannels) {
  if (bn.empty() == affine.empty())
    return op->emitOpError()
           << "needs exactly one of 'bn(gamma, beta, mean, var)' and "
              "'affine(scale, shift)', found "
           << (bn.empty() ? "neither" : "both");
  if (!bn.empty() &&
      (failed(checkGroupSize(op, "bn", bn, 4, "(gamma, beta, mean, var)")) ||
       failed(shapes.addGroup("bn", bn, kBnNames))))
    return failure();
  if (!affine.empty() &&
      (failed(checkGroupSize(op, "affine", affine, 2, "(scale, shift)")) ||
       failed(shapes.addGroup("affine", affine, kAffineNames))))
    return failure();
  ArrayRef<StringRef> names =
      bn.empty() ? ArrayRef(kAffineNames) : ArrayRef(kBnNames);
  StringRef group = bn.empty() ? "affine" : "bn";
  for (StringRef name : names) {
    std::string full = (group + " " + name).str();
    if (failed(shapes.check(shapes::expectShape(
            "operand '" + full + "'", shapes[full], {numExperts, outChannels},
            formatv("[E, Co] with E = {0}, Co = {1} from the kernels",
                    numExperts, outChannels)
                .str()))))
      return failure();
  }
  if (!(eps > 0.0))
    return op->emitOpError() << "attribute 'eps' must be > 0, found " << eps;
  return success();
}

/// Checks the concat projection `proj(Wc [Co', E*Co], bc [Co'])`; returns Co'.
static FailureOr<int64_t> verifyProjection(Operation *op,
                                           OperandChecker &shapes, MixKind kind,
                                           ValueRange proj, int64_t numExperts,
                                           int64_t channels) {
  if (kind == MixKind::sum) {
    if (!proj.empty())
      return op->emitOpError()
             << "operand group 'proj' does not apply to 'mix sum'";
    return channels;
  }
  if (failed(checkGroupSize(op, "proj", proj, 2, "(Wc [Co, E*Co], bc [Co])")) ||
      failed(shapes.addGroup("proj", proj, kProjNames)))
    return failure();
  ArrayRef<int64_t> wc = shapes["proj Wc"];
  if (wc.size() != 2 || wc[1] != numExperts * channels)
    return op->emitOpError()
           << "operand 'proj Wc' has shape " << shapes::str(wc)
           << ", expected [Co, " << numExperts * channels
           << "] (E*Co = " << numExperts << "*" << channels << ")";
  if (failed(shapes.check(shapes::expectShape("operand 'proj bc'",
                                              shapes["proj bc"], {wc[0]},
                                              "[Co] with Co from 'Wc'"))))
    return failure();
  return wc[0];
}

/// Checks squeeze-excitation weights `W1 [Hd, Co], b1 [Hd], W2 [Co, Hd], b2
/// [Co]`.
static LogicalResult verifySqueezeExcitation(Operation *op,
                                             OperandChecker &shapes,
                                             StringRef group, ValueRange se,
                                             int64_t channels) {
  if (failed(checkGroupSize(op, group, se, 4,
                            "(W1 [Hd, Co], b1 [Hd], W2 [Co, Hd], b2 [Co])")) ||
      failed(shapes.addGroup(group, se, kSeNames)))
    return failure();
  std::string g = group.str();
  ArrayRef<int64_t> w1 = shapes[g + " W1"];
  if (w1.size() != 2 || w1[1] != channels)
    return op->emitOpError()
           << "operand '" << g << " W1' has shape " << shapes::str(w1)
           << ", expected [Hd, " << channels << "] (Co = " << channels
           << " channels)";
  int64_t hidden = w1[0];
  for (auto [name, expected] :
       {std::pair<std::string, SmallVector<int64_t>>{g + " b1", {hidden}},
        {g + " W2", {channels, hidden}},
        {g + " b2", {channels}}})
    if (failed(shapes.check(shapes::expectShape(
            "operand '" + name + "'", shapes[name], expected,
            formatv("Hd = {0} from W1, Co = {1}", hidden, channels).str()))))
      return failure();
  return success();
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
  if (kind == RouterKind::mlp && mlp.size() == 4)
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
      (getMlp().size() == 4 &&
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
      (getMlp().size() == 4 &&
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
