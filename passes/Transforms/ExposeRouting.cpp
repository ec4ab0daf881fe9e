//===- ExposeRouting.cpp - return the routers' weights --------------------===//

#include "dialect/PCEOps.h"
#include "passes/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "llvm/ADT/StringSet.h"

namespace mlir::pce {
#define GEN_PASS_DEF_EXPOSEROUTING
#include "passes/Transforms/Passes.h.inc"
} // namespace mlir::pce

using namespace mlir;
using namespace mlir::pce;

namespace {
/// The name of router `i` of `count` in `func`: an outlined layer
/// (pce-outline-layers) keeps its layer's name; in a whole model, a router
/// whose location names its layer (the model importer's NameLoc) takes that
/// name, as pce-train and the model description do; otherwise layer<i>.
std::string routingName(func::FuncOp func, RouteOp route, size_t i,
                        size_t count) {
  if (StringAttr layer = getLayerName(func))
    return count == 1 ? (layer.getValue() + ".routing").str()
                      : (layer.getValue() + ".routing" + Twine(i)).str();
  if (auto named = dyn_cast<NameLoc>(route.getLoc()))
    return (named.getName().getValue() + ".routing").str();
  return "layer" + std::to_string(i) + ".routing";
}

struct ExposeRoutingPass : pce::impl::ExposeRoutingBase<ExposeRoutingPass> {
  void runOnOperation() override {
    for (auto func : getOperation().getOps<func::FuncOp>()) {
      if (func.isPrivate() || func.isExternal())
        continue;
      if (failed(expose(func)))
        return signalPassFailure();
    }
  }

  LogicalResult expose(func::FuncOp func) {
    if (func.getBlocks().size() != 1)
      return func.emitError(
          "pce-expose-routing handles single-block functions");
    SmallVector<RouteOp> routes;
    WalkResult walk = func.walk([&](RouteOp route) {
      if (route->getParentOp() != func.getOperation()) {
        route.emitError("a router inside a nested region cannot be returned "
                        "from its function");
        return WalkResult::interrupt();
      }
      routes.push_back(route);
      return WalkResult::advance();
    });
    if (walk.wasInterrupted())
      return failure();
    if (func->walk([](LayerOp) { return WalkResult::interrupt(); })
            .wasInterrupted())
      return func.emitError(
          "run -pce-decompose-layer before -pce-expose-routing");
    if (routes.empty())
      return success();

    // Keep the existing results' attributes; the new ones carry their names.
    SmallVector<DictionaryAttr> resultAttrs;
    func.getAllResultAttrs(resultAttrs);
    auto ret = cast<func::ReturnOp>(func.getBody().front().getTerminator());
    SmallVector<Value> results(ret.getOperands());
    SmallVector<Type> types(func.getResultTypes());
    llvm::StringSet<> used;
    for (auto [i, route] : llvm::enumerate(routes)) {
      results.push_back(route.getResult());
      types.push_back(route.getType());
      std::string routing = routingName(func, route, i, routes.size());
      if (!used.insert(routing).second)
        return func.emitError()
               << "two routers whose weights would both be named '"
               << routing << "': give each layer its own name";
      NamedAttribute name(StringAttr::get(&getContext(), kRoutingAttrName),
                          StringAttr::get(&getContext(), routing));
      resultAttrs.push_back(DictionaryAttr::get(&getContext(), {name}));
    }
    // An outlined layer also returns the embedding its router reads, for
    // K-Means key initialisation and EMA key updates (docs/Training.md).
    if (auto layer = getLayerName(func)) {
      for (auto [i, route] : llvm::enumerate(routes)) {
        Value embedding = route->getOperand(0);
        if (!embedding.getDefiningOp<EmbedOp>())
          continue;
        std::string name = routes.size() == 1
                               ? (layer.getValue() + ".embedding").str()
                               : (layer.getValue() + ".embedding" + Twine(i)).str();
        results.push_back(embedding);
        types.push_back(embedding.getType());
        resultAttrs.push_back(DictionaryAttr::get(
            &getContext(),
            {NamedAttribute(StringAttr::get(&getContext(), kOutputAttrName),
                            StringAttr::get(&getContext(), name))}));
      }
    }
    OpBuilder builder(ret);
    func::ReturnOp::create(builder, ret.getLoc(), results);
    ret.erase();
    func.setFunctionType(
        FunctionType::get(&getContext(), func.getArgumentTypes(), types));
    func.setAllResultAttrs(resultAttrs);
    return success();
  }
};
} // namespace
