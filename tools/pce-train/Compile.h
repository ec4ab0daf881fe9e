//===- Compile.h - how pce-train compiles a model description -------------===//
//
// pce-train's CompileSteps (runtime/train/Trainer.h): the compile API
// (passes/Artifact/Compile.h) in process, printing its diagnostics with the
// description's file:line:column. In a build without the compiler
// (PCE_ENABLE_COMPILER=OFF) both steps throw, asking for --compiled DIR.
//
//===----------------------------------------------------------------------===//
#ifndef PCE_TOOLS_PCE_TRAIN_COMPILE_H
#define PCE_TOOLS_PCE_TRAIN_COMPILE_H

#include "runtime/train/Trainer.h"

namespace pce::train {

CompileSteps compileSteps();

} // namespace pce::train

#endif // PCE_TOOLS_PCE_TRAIN_COMPILE_H
