//===- GenerateBackward.cpp - training forward and backward functions -----===//
//
// For every function marked `pce.differentiable`, builds beside it
//
//   @<f>_train(args..., noise...) -> (results..., extra..., saved...)
//   @<f>_backward(args..., saved..., grad.<result>...) -> (grad.<arg>...)
//
// from the AdjointOpInterface of its ops (dialect/PCEInterfaces.td; the pce
// ops' implementations are in Adjoint<Family>.cpp). The contract of the
// saved activations: `<f>_train` returns, as `saved.<k>`, every value an
// adjoint reads that is not an argument of `<f>` (op operands, op results and
// the values a training forward asked to save), in order of first use;
// `<f>_backward` takes them back under the same names. docs/Training.md.
//
//===----------------------------------------------------------------------===//

#include "passes/Autodiff/Adjoint.h"

#include "dialect/PCEOps.h"
#include "passes/Autodiff/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/IRMapping.h"
#include "llvm/ADT/MapVector.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "llvm/ADT/StringSet.h"

namespace mlir::pce {
#define GEN_PASS_DEF_GENERATEBACKWARD
#include "passes/Autodiff/Passes.h.inc"
} // namespace mlir::pce

using namespace mlir;
using namespace mlir::pce;
using namespace mlir::pce::adjoint;

//===----------------------------------------------------------------------===//
// The pass
//===----------------------------------------------------------------------===//

namespace {

/// The name of argument `i` / result `i` of a function (pce.input, pce.param,
/// pce.output or pce.routing), or empty.
StringRef argumentName(func::FuncOp f, unsigned i) {
  for (StringRef key : {kInputAttrName, kParamAttrName})
    if (auto name = f.getArgAttrOfType<StringAttr>(i, key))
      return name.getValue();
  return {};
}
StringRef resultName(func::FuncOp f, unsigned i) {
  for (StringRef key : {kOutputAttrName, kRoutingAttrName})
    if (auto name = f.getResultAttrOfType<StringAttr>(i, key))
      return name.getValue();
  return {};
}

/// One differentiated op: its training values.
struct Record {
  Operation *op;
  SmallVector<Value> operands, results, saved;
  AdjointOpInterface adjoint;
};

class TrainingContext final : public AdjointContext {
public:
  TrainingContext(func::FuncOp original, func::FuncOp train,
                  const IRMapping &mapping, bool routed)
      : original(original), train(train), mapping(mapping), routed(routed) {}

  Value addNoiseInput(TrainingNoise noise, RankedTensorType type) override {
    MLIRContext *ctx = train.getContext();
    unsigned index = train.getNumArguments();
    std::string name = "noise." + std::to_string(noiseCount++) +
                       (noise == TrainingNoise::Normal ? ".normal" : ".gumbel");
    if (failed(train.insertArgument(
            index, type,
            DictionaryAttr::get(ctx, {makeNameAttr(ctx, kInputAttrName, name)}),
            train.getLoc())))
      return {};
    return train.getArgument(index);
  }
  void addResult(StringRef name, Value value) override {
    extra.push_back({name.str(), value});
  }
  StringRef parameterName(Value value) const override {
    func::FuncOp f = original; // accessors are not const
    auto arg = dyn_cast<BlockArgument>(value);
    if (!arg || arg.getOwner() != &f.getBody().front())
      return {};
    auto name = getParamName(f, arg.getArgNumber());
    return name ? name.getValue() : StringRef();
  }
  Value lookup(Value value) const override {
    return mapping.lookupOrNull(value);
  }
  bool routedConvolutions() const override { return routed; }

  func::FuncOp original, train;
  const IRMapping &mapping;
  bool routed;
  unsigned noiseCount = 0;
  SmallVector<std::pair<std::string, Value>> extra;
};

struct GenerateBackwardPass
    : pce::impl::GenerateBackwardBase<GenerateBackwardPass> {
  using GenerateBackwardBase::GenerateBackwardBase;

  // The pce ops' adjoints come with the pass, so that it works in any tool.
  void getDependentDialects(DialectRegistry &registry) const override {
    GenerateBackwardBase::getDependentDialects(registry);
    registerAdjointInterfaceExternalModels(registry);
  }

  void runOnOperation() override {
    SmallVector<func::FuncOp> funcs;
    for (auto f : getOperation().getOps<func::FuncOp>())
      if (isDifferentiable(f))
        funcs.push_back(f);
    for (func::FuncOp f : funcs)
      if (failed(differentiate(f)))
        return signalPassFailure();
  }

  LogicalResult checkNames(func::FuncOp f) {
    if (f.isExternal() || !llvm::hasSingleElement(f.getBody()))
      return f.emitError("pce-generate-backward needs a function with one "
                         "block, found ")
             << (f.isExternal() ? "a declaration" : "several blocks");
    llvm::StringSet<> seen;
    for (unsigned i = 0, e = f.getNumArguments(); i < e; ++i) {
      StringRef name = argumentName(f, i);
      if (name.empty())
        return f.emitError() << "argument #" << i
                             << " needs a name ({pce.input = ...} or "
                                "{pce.param = ...}) to name its gradient";
      if (!seen.insert(name).second)
        return f.emitError() << "argument name '" << name
                             << "' is used twice";
    }
    for (unsigned i = 0, e = f.getNumResults(); i < e; ++i)
      if (resultName(f, i).empty())
        return f.emitError() << "result #" << i
                             << " needs a name ({pce.output = ...} or "
                                "{pce.routing = ...}) to name its gradient";
    return success();
  }

  LogicalResult differentiate(func::FuncOp f) {
    if (failed(checkNames(f)))
      return failure();
    MLIRContext *ctx = &getContext();
    Location loc = f.getLoc();
    OpBuilder moduleBuilder(ctx);
    moduleBuilder.setInsertionPointAfter(f);

    // --- <f>_train --------------------------------------------------------
    auto train = func::FuncOp::create(moduleBuilder, loc,
                                      (f.getSymName() + "_train").str(),
                                      FunctionType::get(ctx, f.getArgumentTypes(), {}));
    train.setAllArgAttrs(f.getAllArgAttrs());
    Block *trainBlock = train.addEntryBlock();
    IRMapping mapping;
    mapping.map(f.getArguments(), trainBlock->getArguments());
    TrainingContext context(f, train, mapping, routedConvolutions);
    OpBuilder b = OpBuilder::atBlockEnd(trainBlock);
    SmallVector<Record> records;
    for (Operation &op : f.getBody().front().without_terminator()) {
      auto adjoint = dyn_cast<AdjointOpInterface>(&op);
      if (!adjoint) {
        if (op.getNumOperands() == 0 && isPure(&op)) { // constants
          b.clone(op, mapping);
          continue;
        }
        train.erase();
        return op.emitError() << "'" << op.getName()
                              << "' has no adjoint: pce-generate-backward "
                                 "differentiates pce ops (ordinary layers "
                                 "train as LibTorch modules)";
      }
      SmallVector<Value> operands = llvm::map_to_vector(
          op.getOperands(), [&](Value v) { return mapping.lookup(v); });
      FailureOr<TrainingForward> forward =
          adjoint.buildTrainingForward(b, operands, context);
      if (failed(forward) || forward->results.size() != op.getNumResults()) {
        train.erase();
        return op.emitError("cannot build the training forward of this op");
      }
      mapping.map(op.getResults(), forward->results);
      records.push_back({&op, std::move(operands), forward->results,
                         forward->saved, adjoint});
    }

    // The values that cross from <f>_train to <f>_backward.
    unsigned numArgs = f.getNumArguments();
    llvm::MapVector<Value, unsigned> saved;
    auto need = [&](Value v) {
      auto arg = dyn_cast<BlockArgument>(v);
      if (arg && arg.getOwner() == trainBlock && arg.getArgNumber() < numArgs)
        return;
      saved.insert({v, saved.size()});
    };
    for (Record &r : records)
      for (ValueRange values : {ValueRange(r.operands), ValueRange(r.results),
                                ValueRange(r.saved)})
        for (Value v : values)
          need(v);

    auto ret = cast<func::ReturnOp>(f.getBody().front().getTerminator());
    SmallVector<Value> trainResults;
    SmallVector<DictionaryAttr> trainResultAttrs;
    for (auto [i, v] : llvm::enumerate(ret.getOperands())) {
      trainResults.push_back(mapping.lookup(v));
      trainResultAttrs.push_back(f.getResultAttrDict(i));
    }
    for (auto &[name, v] : context.extra) {
      trainResults.push_back(v);
      trainResultAttrs.push_back(
          DictionaryAttr::get(ctx, {makeNameAttr(ctx, kOutputAttrName, name)}));
    }
    for (auto &[v, k] : saved) {
      trainResults.push_back(v);
      trainResultAttrs.push_back(DictionaryAttr::get(
          ctx, {makeNameAttr(ctx, kOutputAttrName, "saved." + Twine(k))}));
    }
    func::ReturnOp::create(b, loc, trainResults);
    train.setFunctionType(FunctionType::get(
        ctx, trainBlock->getArgumentTypes(), ValueRange(trainResults).getTypes()));
    train.setAllResultAttrs(trainResultAttrs);

    // --- <f>_backward -----------------------------------------------------
    SmallVector<Type> bwdArgTypes(f.getArgumentTypes());
    SmallVector<DictionaryAttr> bwdArgAttrs;
    f.getAllArgAttrs(bwdArgAttrs);
    for (auto &[v, k] : saved) {
      bwdArgTypes.push_back(v.getType());
      bwdArgAttrs.push_back(DictionaryAttr::get(
          ctx, {makeNameAttr(ctx, kInputAttrName, "saved." + Twine(k))}));
    }
    for (unsigned i = 0, e = f.getNumResults(); i < e; ++i) {
      bwdArgTypes.push_back(f.getResultTypes()[i]);
      bwdArgAttrs.push_back(DictionaryAttr::get(
          ctx, {makeNameAttr(ctx, kInputAttrName, "grad." + resultName(f, i))}));
    }
    moduleBuilder.setInsertionPointAfter(train);
    auto backward = func::FuncOp::create(
        moduleBuilder, loc, (f.getSymName() + "_backward").str(),
        FunctionType::get(ctx, bwdArgTypes, {}));
    backward.setAllArgAttrs(bwdArgAttrs);
    Block *bwdBlock = backward.addEntryBlock();
    IRMapping toBackward; // training value -> backward value
    for (unsigned i = 0; i < numArgs; ++i)
      toBackward.map(trainBlock->getArgument(i), bwdBlock->getArgument(i));
    for (auto &[v, k] : saved)
      toBackward.map(v, bwdBlock->getArgument(numArgs + k));
    auto carried = [&](ArrayRef<Value> values) {
      return llvm::map_to_vector(values,
                                 [&](Value v) { return toBackward.lookup(v); });
    };

    b.setInsertionPointToEnd(bwdBlock);
    DenseMap<Value, Value> grads; // training value -> its gradient
    for (auto [i, v] : llvm::enumerate(ret.getOperands())) {
      Value t = mapping.lookup(v);
      grads[t] = add(b, loc, grads.lookup(t),
                     bwdBlock->getArgument(numArgs + saved.size() + i));
    }
    for (Record &r : llvm::reverse(records)) {
      SmallVector<Value> resultGrads = llvm::map_to_vector(
          r.results, [&](Value v) { return grads.lookup(v); });
      if (llvm::all_of(resultGrads, [](Value g) { return !g; }))
        continue;
      FailureOr<SmallVector<Value>> operandGrads = r.adjoint.buildAdjoint(
          b, carried(r.operands), carried(r.results), carried(r.saved),
          resultGrads);
      if (failed(operandGrads) ||
          operandGrads->size() != r.op->getNumOperands()) {
        train.erase();
        backward.erase();
        return r.op->emitError("cannot build the adjoint of this op");
      }
      for (auto [operand, g] : llvm::zip(r.operands, *operandGrads))
        if (g)
          grads[operand] = add(b, loc, grads.lookup(operand), g);
    }

    SmallVector<Value> bwdResults;
    SmallVector<DictionaryAttr> bwdResultAttrs;
    for (unsigned i = 0; i < numArgs; ++i) {
      Value g = grads.lookup(trainBlock->getArgument(i));
      if (!g)
        continue;
      bwdResults.push_back(g);
      bwdResultAttrs.push_back(DictionaryAttr::get(
          ctx, {makeNameAttr(ctx, kOutputAttrName, "grad." + argumentName(f, i))}));
    }
    func::ReturnOp::create(b, loc, bwdResults);
    backward.setFunctionType(FunctionType::get(
        ctx, bwdArgTypes, ValueRange(bwdResults).getTypes()));
    backward.setAllResultAttrs(bwdResultAttrs);
    return success();
  }
};
} // namespace
