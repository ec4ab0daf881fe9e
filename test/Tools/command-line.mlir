// Every tool answers --version with the PCE version and the git commit of the
// source tree ("-dirty" when tracked files differed from it, "unknown"
// outside a git checkout), and exits 0.
// RUN: pce-opt --version | FileCheck %s --check-prefix=OPT
// RUN: pce-translate --version | FileCheck %s --check-prefix=TRANSLATE
// RUN: pce-compile --version | FileCheck %s --check-prefix=COMPILE
// RUN: pce-run --version | FileCheck %s --check-prefix=RUNV
// RUN: pce-init --version | FileCheck %s --check-prefix=INIT
// OPT:       pce-opt {{[0-9]+\.[0-9]+\.[0-9]+}} (git {{([0-9a-f]+(-dirty)?|unknown)}})
// OPT-NEXT:  built with LLVM
// TRANSLATE: pce-translate {{[0-9]+\.[0-9]+\.[0-9]+}} (git {{([0-9a-f]+(-dirty)?|unknown)}})
// COMPILE:   pce-compile {{[0-9]+\.[0-9]+\.[0-9]+}} (git {{([0-9a-f]+(-dirty)?|unknown)}})
// RUNV:      pce-run {{[0-9]+\.[0-9]+\.[0-9]+}} (git {{([0-9a-f]+(-dirty)?|unknown)}})
// INIT:      pce-init {{[0-9]+\.[0-9]+\.[0-9]+}} (git {{([0-9a-f]+(-dirty)?|unknown)}})
//
// pce-compile --help lists its own options only; LLVM's hundreds stay
// behind --help-hidden.
// RUN: pce-compile --help | FileCheck %s --check-prefix=HELP
// RUN: pce-compile --help-hidden | FileCheck %s --check-prefix=HIDDEN
// HELP:      pce-compile options:
// HELP-DAG:  --mcpu=<cpu>
// HELP-DAG:  --target=<string>
// HELP-DAG:  --training
// HELP-NOT:  --x86-asm-syntax
// HELP-NOT:  --mlir-
// HIDDEN:    --x86-asm-syntax
//
// The MLIR-free tools share one set of command-line rules
// (tools/support/CommandLine.h). A misspelt option names the closest one and
// exits 2:
// RUN: not pce-run art --weigths w.safetensors 2>&1 | FileCheck %s --check-prefix=MISSPELT
// RUN: sh -c 'pce-run art --weigths w 2>/dev/null; test $? -eq 2'
// MISSPELT:      pce-run: unknown option '--weigths' (did you mean '--weights'?)
// MISSPELT-NEXT: (run 'pce-run --help' for usage)
//
// A repeated single-valued option is an error:
// RUN: not pce-init art -o w.safetensors --seed 1 --seed=1 2>&1 | FileCheck %s --check-prefix=REPEAT
// RUN: sh -c 'pce-init art -o a -o b 2>/dev/null; test $? -eq 2'
// REPEAT: pce-init: option '--seed' given twice
//
// --seed=2 and --seed 2 are the same option: the same weights.
// RUN: rm -rf %t && mkdir -p %t
// RUN: pce-compile %s -o %t/art
// RUN: pce-init %t/art -o %t/a.safetensors --seed=2
// RUN: pce-init %t/art -o %t/b.safetensors --seed 2
// RUN: cmp %t/a.safetensors %t/b.safetensors
// RUN: pce-init %t/art -o %t/c.safetensors --seed 3
// RUN: not cmp -s %t/a.safetensors %t/c.safetensors
//
// --help prints the usage and exits 0.
// RUN: pce-run --help | FileCheck %s --check-prefix=USAGE
// USAGE: usage: pce-run DIR

func.func @forward(%x: tensor<2x1x8x8xf32> {pce.input = "x"},
                   %k: tensor<2x4x5x3x3xf32> {pce.param = "layer0.experts.kernel"},
                   %s: tensor<2x4xf32> {pce.param = "layer0.experts.scale"},
                   %t: tensor<2x4xf32> {pce.param = "layer0.experts.shift"})
    -> (tensor<2x4x8x8xf32> {pce.output = "y"}) {
  %y = pce.layer %x patch [4, 4] router position top_k 1
         experts(%k : tensor<2x4x5x3x3xf32>) affine(%s, %t : tensor<2x4xf32>, tensor<2x4xf32>)
         : tensor<2x1x8x8xf32>
  return %y : tensor<2x4x8x8xf32>
}
