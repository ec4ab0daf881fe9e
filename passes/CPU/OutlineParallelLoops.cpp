//===- OutlineParallelLoops.cpp - scf.parallel on the runtime's threads ---===//
//
// The compiled library must stay free of any threading runtime (LibTorch's
// libgomp shares the process with it under pce-train, and the runtime must
// build where MLIR does not exist), so parallel loops call back into the
// runtime: each outermost scf.parallel becomes a function of the linear
// iteration index, a thunk with a uniform C signature that unpacks the
// loop's captures from a struct, and a call of the hook the runtime fills in.
// Capturing happens before the LLVM conversion, so a captured memref is
// passed as its LLVM descriptor through unrealized casts that
// reconcile-unrealized-casts removes once the function signatures are
// converted.
//
//===----------------------------------------------------------------------===//

#include "mlir/Conversion/LLVMCommon/TypeConverter.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Transforms/RegionUtils.h"

#include "passes/CPU/Passes.h"

namespace mlir::pce {
#define GEN_PASS_DEF_OUTLINEPARALLELLOOPS
#include "passes/CPU/Passes.h.inc"
} // namespace mlir::pce

using namespace mlir;

namespace {

constexpr llvm::StringLiteral kHook = "pce_parallel_for_hook";

/// Points of the leading dimensions a loop's work is split into, at least:
/// a few per thread on machines with tens of cores.
constexpr int64_t kMinPoints = 256;

/// One dimension of a loop nest with constant bounds.
struct Dim {
  int64_t lb, step, trips;
};

/// The dimension `lb to ub step step`, or nothing when one is not a constant.
std::optional<Dim> constantDim(Value lb, Value ub, Value step) {
  APInt l, u, s;
  if (!matchPattern(lb, m_ConstantInt(&l)) || !matchPattern(ub, m_ConstantInt(&u)) ||
      !matchPattern(step, m_ConstantInt(&s)) || s.getSExtValue() <= 0)
    return std::nullopt;
  int64_t span = u.getSExtValue() - l.getSExtValue(), st = s.getSExtValue();
  return Dim{l.getSExtValue(), st, span <= 0 ? 0 : (span + st - 1) / st};
}

/// `loop`'s dimensions, or nothing when a bound or step is not a constant.
std::optional<SmallVector<Dim>> staticDims(scf::ParallelOp loop) {
  SmallVector<Dim> dims;
  for (auto [lb, ub, step] : llvm::zip(loop.getLowerBound(), loop.getUpperBound(),
                                       loop.getStep())) {
    std::optional<Dim> d = constantDim(lb, ub, step);
    if (!d)
      return std::nullopt;
    dims.push_back(*d);
  }
  return dims;
}

/// Costs saturate far above any threshold instead of overflowing.
constexpr int64_t kCostCap = int64_t(1) << 40;
int64_t timesCost(int64_t trips, int64_t cost) {
  return cost != 0 && trips > kCostCap / cost ? kCostCap : trips * cost;
}

/// A rough count of the operations `block` executes: one per op, loops
/// times their trip count (16 when it is not a constant), the larger branch
/// of an scf.if. Enough to tell a loop worth handing to other threads from
/// one that costs less than waking them.
int64_t estimateCost(Block &block);

int64_t estimateCost(Operation &op) {
  auto regionCost = [](Region &r) { return r.empty() ? 0 : estimateCost(r.front()); };
  if (auto loop = dyn_cast<scf::ForOp>(op)) {
    auto d = constantDim(loop.getLowerBound(), loop.getUpperBound(), loop.getStep());
    return timesCost(d ? d->trips : 16, estimateCost(*loop.getBody()));
  }
  if (auto loop = dyn_cast<scf::ParallelOp>(op)) {
    int64_t cost = estimateCost(*loop.getBody());
    auto dims = staticDims(loop);
    if (!dims)
      return timesCost(16, cost);
    for (const Dim &d : *dims)
      cost = timesCost(d.trips, cost);
    return cost;
  }
  if (auto branch = dyn_cast<scf::IfOp>(op))
    return 1 + std::max(regionCost(branch.getThenRegion()), regionCost(branch.getElseRegion()));
  int64_t cost = 1;
  for (Region &r : op.getRegions())
    cost += regionCost(r);
  return cost;
}

int64_t estimateCost(Block &block) {
  int64_t cost = 0;
  for (Operation &op : block)
    cost = std::min<int64_t>(cost + estimateCost(op), kCostCap);
  return cost;
}

bool isOutlinable(scf::ParallelOp loop, int64_t minCost) {
  return loop.getNumResults() == 0 && !loop->getParentOfType<scf::ParallelOp>() &&
         loop->getParentOfType<func::FuncOp>() && staticDims(loop) &&
         estimateCost(*loop.getOperation()) >= minCost;
}

struct OutlineParallelLoops
    : pce::impl::OutlineParallelLoopsBase<OutlineParallelLoops> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<scf::ParallelOp> loops;
    module.walk([&](scf::ParallelOp loop) {
      if (isOutlinable(loop, minCost))
        loops.push_back(loop);
    });
    if (loops.empty())
      return;
    SymbolTable symbols(module);
    declareHook(module, symbols);
    LLVMTypeConverter converter(&getContext());
    llvm::DenseMap<Operation *, unsigned> counts;
    for (scf::ParallelOp loop : loops) {
      auto parent = loop->getParentOfType<func::FuncOp>();
      unsigned k = counts[parent]++;
      if (failed(outline(loop, parent, k, symbols, converter)))
        return signalPassFailure();
    }
  }

  /// `ptr @pce_parallel_for_hook = null`, visible to dlsym.
  void declareHook(ModuleOp module, SymbolTable &symbols) {
    if (symbols.lookup(kHook))
      return;
    OpBuilder b = OpBuilder::atBlockBegin(module.getBody());
    auto ptr = LLVM::LLVMPointerType::get(&getContext());
    auto global = LLVM::GlobalOp::create(b, module.getLoc(), ptr, /*isConstant=*/false,
                                         LLVM::Linkage::External, kHook, Attribute());
    Block *init = b.createBlock(&global.getInitializerRegion());
    b.setInsertionPointToStart(init);
    LLVM::ReturnOp::create(b, module.getLoc(),
                           LLVM::ZeroOp::create(b, module.getLoc(), ptr).getResult());
  }

  /// What outlining one loop needs to know.
  struct Plan {
    SmallVector<Dim> dims;
    size_t split = 0;   // leading dimensions shared out
    int64_t total = 1;  // their points
    SmallVector<Value> captures;
    SmallVector<Operation *> constants;
    SmallVector<Type> fields; // LLVM types of the captures
  };

  LogicalResult outline(scf::ParallelOp loop, func::FuncOp parent, unsigned k,
                        SymbolTable &symbols, const LLVMTypeConverter &converter) {
    Plan plan;
    plan.dims = *staticDims(loop);
    // Enough leading dimensions to share among threads; the others stay
    // loops inside each point, so the innermost code keeps its plain loop.
    while (plan.split < plan.dims.size() && plan.total < kMinPoints)
      plan.total *= plan.dims[plan.split++].trips;
    // Values from above: constants are re-created in the body, the rest
    // become arguments.
    llvm::SetVector<Value> above;
    getUsedValuesDefinedAbove(loop.getRegion(), above);
    for (Value v : above) {
      Operation *def = v.getDefiningOp();
      if (def && def->hasTrait<OpTrait::ConstantLike>()) {
        plan.constants.push_back(def);
        continue;
      }
      Type t = converter.convertType(v.getType());
      if (!t)
        return loop.emitError("pce-outline-parallel-loops: no LLVM type for a captured ")
               << v.getType();
      plan.captures.push_back(v);
      plan.fields.push_back(t);
    }

    OpBuilder b(&getContext());
    b.setInsertionPointAfter(parent);
    std::string name = (parent.getName() + "_parallel" + Twine(k)).str();
    func::FuncOp body = buildRangeFunction(b, loop, plan, name);
    symbols.insert(body);
    LLVM::LLVMFuncOp thunk = buildThunk(b, loop.getLoc(), plan, body);
    symbols.insert(thunk);
    b.setInsertionPoint(loop);
    callThroughHook(b, loop.getLoc(), plan, parent, thunk);
    loop.erase();
    return success();
  }

  /// func.func private @name(%begin, %end: index, captures...): the loop's
  /// points [begin, end) of the leading dimensions, linearized.
  func::FuncOp buildRangeFunction(OpBuilder &b, scf::ParallelOp loop, const Plan &plan,
                                  StringRef name) {
    Location loc = loop.getLoc();
    SmallVector<Type> argTypes{b.getIndexType(), b.getIndexType()};
    for (Value v : plan.captures)
      argTypes.push_back(v.getType());
    auto fn = func::FuncOp::create(b, loc, name, b.getFunctionType(argTypes, {}));
    fn.setPrivate();
    // Internal in LLVM too: its one caller, the thunk, inlines it and LLVM
    // drops it (an external body was compiled three times: itself, in the
    // thunk and in the serial path; 2x pce-compile's LLVM time).
    fn->setAttr("llvm.linkage", LLVM::LinkageAttr::get(b.getContext(), LLVM::Linkage::Internal));
    Block *entry = fn.addEntryBlock();
    OpBuilder fb = OpBuilder::atBlockBegin(entry);
    IRMapping map;
    for (auto [v, arg] : llvm::zip(plan.captures, entry->getArguments().drop_front(2)))
      map.map(v, arg);
    for (Operation *c : plan.constants)
      fb.clone(*c, map);
    auto constant = [&](int64_t v) { return arith::ConstantIndexOp::create(fb, loc, v); };
    auto points = scf::ForOp::create(fb, loc, entry->getArgument(0), entry->getArgument(1),
                                     constant(1));
    fb.setInsertionPointToStart(points.getBody());
    // Delinearize: iv_d = lb_d + ((i / stride_d) mod trip_d) * step_d.
    Value linear = points.getInductionVar();
    int64_t stride = plan.total;
    for (size_t d = 0; d < plan.split; ++d) {
      const Dim &dim = plan.dims[d];
      stride /= std::max<int64_t>(dim.trips, 1);
      Value idx = arith::DivUIOp::create(fb, loc, linear, constant(stride));
      if (d > 0) // the outermost index is below its trip count already
        idx = arith::RemUIOp::create(fb, loc, idx, constant(dim.trips));
      Value iv = arith::AddIOp::create(fb, loc, constant(dim.lb),
                                       arith::MulIOp::create(fb, loc, idx, constant(dim.step)));
      map.map(loop.getInductionVars()[d], iv);
    }
    for (size_t d = plan.split; d < plan.dims.size(); ++d) {
      const Dim &dim = plan.dims[d];
      auto inner = scf::ForOp::create(fb, loc, constant(dim.lb),
                                      constant(dim.lb + dim.trips * dim.step), constant(dim.step));
      fb.setInsertionPointToStart(inner.getBody());
      map.map(loop.getInductionVars()[d], inner.getInductionVar());
    }
    for (Operation &op : loop.getBody()->without_terminator())
      fb.clone(op, map);
    fb.setInsertionPointToEnd(entry);
    func::ReturnOp::create(fb, loc);
    return fn;
  }

  /// llvm.func internal @<body>_thunk(ptr ctx, i64 begin, i64 end): unpacks
  /// the captures from the context struct and calls `body`.
  LLVM::LLVMFuncOp buildThunk(OpBuilder &b, Location loc, const Plan &plan, func::FuncOp body) {
    MLIRContext *ctx = &getContext();
    auto ptr = LLVM::LLVMPointerType::get(ctx);
    auto i64 = IntegerType::get(ctx, 64);
    auto type = LLVM::LLVMFunctionType::get(LLVM::LLVMVoidType::get(ctx), {ptr, i64, i64});
    auto thunk = LLVM::LLVMFuncOp::create(b, loc, (body.getName() + "_thunk").str(), type,
                                          LLVM::Linkage::Internal);
    // Called directly on the serial path too: not inlined there, so the
    // loop's code exists once.
    thunk.setNoInline(true);
    OpBuilder scratch(ctx);
    Block *entry = thunk.addEntryBlock(scratch);
    OpBuilder tb = OpBuilder::atBlockBegin(entry);
    SmallVector<Value> args{cast(tb, loc, entry->getArgument(1), tb.getIndexType()),
                            cast(tb, loc, entry->getArgument(2), tb.getIndexType())};
    if (!plan.captures.empty()) {
      auto context = LLVM::LLVMStructType::getLiteral(ctx, plan.fields);
      Value packed = LLVM::LoadOp::create(tb, loc, context, entry->getArgument(0));
      for (auto [i, v] : llvm::enumerate(plan.captures))
        args.push_back(
            cast(tb, loc, LLVM::ExtractValueOp::create(tb, loc, packed, i), v.getType()));
    }
    func::CallOp::create(tb, loc, body, args);
    LLVM::ReturnOp::create(tb, loc, ValueRange());
    return thunk;
  }

  /// At the loop's place: the captures packed into a context, then the hook
  /// with the thunk and the context when the runtime set it, else the thunk
  /// itself over all points (so the loop's code exists once, in the thunk).
  void callThroughHook(OpBuilder &b, Location loc, const Plan &plan, func::FuncOp parent,
                       LLVM::LLVMFuncOp thunk) {
    MLIRContext *ctx = &getContext();
    auto ptr = LLVM::LLVMPointerType::get(ctx);
    auto i64 = IntegerType::get(ctx, 64);
    // The context lives in the caller's frame: one slot per loop, made at
    // the entry so loops around the call do not grow the stack.
    auto context = LLVM::LLVMStructType::getLiteral(ctx, plan.fields);
    OpBuilder entry = OpBuilder::atBlockBegin(&parent.getBody().front());
    Value one = LLVM::ConstantOp::create(entry, loc, i64, entry.getI64IntegerAttr(1));
    Value slot = LLVM::AllocaOp::create(entry, loc, ptr, context, one);
    if (!plan.captures.empty()) {
      Value packed = LLVM::UndefOp::create(b, loc, context);
      for (auto [i, v] : llvm::enumerate(plan.captures))
        packed = LLVM::InsertValueOp::create(b, loc, packed, cast(b, loc, v, plan.fields[i]), i);
      LLVM::StoreOp::create(b, loc, packed, slot);
    }
    Value n = LLVM::ConstantOp::create(b, loc, i64, b.getI64IntegerAttr(plan.total));

    Value hookAddress = LLVM::AddressOfOp::create(b, loc, ptr, kHook);
    Value hook = LLVM::LoadOp::create(b, loc, ptr, hookAddress);
    Value null = LLVM::ZeroOp::create(b, loc, ptr);
    Value unset = LLVM::ICmpOp::create(b, loc, LLVM::ICmpPredicate::eq, hook, null);
    auto branch = scf::IfOp::create(b, loc, unset, /*withElseRegion=*/true);

    OpBuilder tb = branch.getThenBodyBuilder();
    Value zero = LLVM::ConstantOp::create(tb, loc, i64, tb.getI64IntegerAttr(0));
    LLVM::CallOp::create(tb, loc, thunk, ValueRange{slot, zero, n});

    OpBuilder eb = branch.getElseBodyBuilder();
    Value fn = LLVM::AddressOfOp::create(eb, loc, ptr, thunk.getSymName());
    auto hookType = LLVM::LLVMFunctionType::get(LLVM::LLVMVoidType::get(ctx), {i64, ptr, ptr});
    LLVM::CallOp::create(eb, loc, hookType, ValueRange{hook, n, fn, slot});
  }

  /// `v` as `to`, through a cast that the LLVM conversion resolves.
  static Value cast(OpBuilder &b, Location loc, Value v, Type to) {
    if (v.getType() == to)
      return v;
    return UnrealizedConversionCastOp::create(b, loc, to, v).getResult(0);
  }
};

} // namespace
