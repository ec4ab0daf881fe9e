//===- EntryPoints.cpp - artifact entry points of a model -----------------===//

#include "passes/Artifact/EntryPoints.h"

#include "dialect/PCEAttributes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/Builders.h"

#include <map>

using namespace mlir;
namespace rt = ::pce::rt;

namespace pce::compile {

/// The manifest description of a tensor of `type`, or a diagnostic.
static FailureOr<rt::BufferSpec> describe(func::FuncOp func, Type type,
                                          StringRef what, StringRef name,
                                          rt::ArgKind kind) {
  auto tensor = dyn_cast<RankedTensorType>(type);
  if (!tensor || !tensor.hasStaticShape())
    return func.emitError() << what << " '" << name
                            << "' must be a statically shaped tensor, found "
                            << type;
  rt::BufferSpec spec;
  spec.name = name.str();
  spec.kind = kind;
  spec.shape.assign(tensor.getShape().begin(), tensor.getShape().end());
  Type element = tensor.getElementType();
  if (element.isF32())
    spec.dtype = rt::DType::F32;
  else if (element.isF64())
    spec.dtype = rt::DType::F64;
  else
    return func.emitError() << what << " '" << name
                            << "' has element type " << element
                            << "; artifacts hold f32 or f64";
  return spec;
}

FailureOr<std::vector<rt::EntryPoint>> collectEntryPoints(ModuleOp module) {
  std::vector<rt::EntryPoint> entries;
  for (auto func : module.getOps<func::FuncOp>()) {
    if (!func.isPublic() || func.isExternal())
      continue;
    rt::EntryPoint entry;
    entry.name = func.getSymName().str();
    entry.symbol = "pce_entry_" + entry.name;
    for (unsigned i = 0, e = func.getNumArguments(); i < e; ++i) {
      auto input = mlir::pce::getInputName(func, i);
      auto param = mlir::pce::getParamName(func, i);
      if (!input == !param)
        return func.emitError() << "argument #" << i << " of @" << entry.name
                                << " needs exactly one of {pce.input = \"name\"} "
                                   "and {pce.param = \"name\"}";
      auto spec = describe(func, func.getArgument(i).getType(), "argument",
                           input ? input.getValue() : param.getValue(),
                           input ? rt::ArgKind::Input : rt::ArgKind::Parameter);
      if (failed(spec))
        return failure();
      entry.arguments.push_back(*spec);
    }
    for (unsigned i = 0, e = func.getNumResults(); i < e; ++i) {
      auto output = mlir::pce::getOutputName(func, i);
      auto routing = mlir::pce::getRoutingName(func, i);
      if (!output == !routing)
        return func.emitError() << "result #" << i << " of @" << entry.name
                                << " needs exactly one of {pce.output = \"name\"} "
                                   "and {pce.routing = \"name\"}";
      auto spec = describe(func, func.getResultTypes()[i], "result",
                           output ? output.getValue() : routing.getValue(),
                           output ? rt::ArgKind::Output : rt::ArgKind::Routing);
      if (failed(spec))
        return failure();
      entry.results.push_back(*spec);
    }
    entries.push_back(std::move(entry));
  }
  if (entries.empty())
    return module.emitError("the model has no public function to compile");
  return entries;
}

FailureOr<std::vector<rt::ParameterSpec>>
collectParameters(ModuleOp module, const std::vector<rt::EntryPoint> &entries) {
  std::vector<rt::ParameterSpec> params;
  std::map<std::string, std::pair<size_t, std::string>> seen; // name -> index, entry
  for (const rt::EntryPoint &entry : entries)
    for (const rt::BufferSpec &arg : entry.arguments) {
      if (arg.kind != rt::ArgKind::Parameter)
        continue;
      auto it = seen.find(arg.name);
      if (it == seen.end()) {
        seen[arg.name] = {params.size(), entry.name};
        static_cast<rt::TensorSpec &>(params.emplace_back()) = arg;
      } else if (params[it->second.first].typeString() != arg.typeString()) {
        return module.emitError()
               << "parameter '" << arg.name << "' is "
               << params[it->second.first].typeString() << " in @"
               << it->second.second << " but " << arg.typeString() << " in @"
               << entry.name;
      }
    }
  return params;
}

} // namespace pce::compile
