// The tools built with LibTorch answer --version too, and follow the same
// command-line rules (tools/support/CommandLine.h).
// REQUIRES: pce-train, pce-bench
// RUN: pce-train --version | FileCheck %s --check-prefix=TRAIN
// RUN: pce-bench --version | FileCheck %s --check-prefix=BENCH
// TRAIN: pce-train {{[0-9]+\.[0-9]+\.[0-9]+}} (git {{([0-9a-f]+(-dirty)?|unknown)}})
// BENCH: pce-bench {{[0-9]+\.[0-9]+\.[0-9]+}} (git {{([0-9a-f]+(-dirty)?|unknown)}})
//
// RUN: not pce-bench --repeat 3 2>&1 | FileCheck %s --check-prefix=BENCH-MISSPELT
// RUN: sh -c 'pce-bench --repeat 3 2>/dev/null; test $? -eq 2'
// BENCH-MISSPELT:      pce-bench: unknown option '--repeat' (did you mean '--repeats'?)
// BENCH-MISSPELT-NEXT: (run 'pce-bench --help' for usage)
// RUN: not pce-bench --seed=1 --seed 2 2>&1 | FileCheck %s --check-prefix=BENCH-REPEAT
// BENCH-REPEAT: pce-bench: option '--seed' given twice
// RUN: not pce-train m.yaml -o run --epocs 2 2>&1 | FileCheck %s --check-prefix=TRAIN-MISSPELT
// TRAIN-MISSPELT: pce-train: unknown option '--epocs' (did you mean '--epochs'?)
