// RUN: pce-opt %s --pce-cpu-pipeline --dump-pass-pipeline -o /dev/null 2>&1 | FileCheck %s
// RUN: pce-opt %s --pce-cpu-pipeline="fold-batch-norm=false fuse-patches=false fuse-experts-mix=false" --dump-pass-pipeline -o /dev/null 2>&1 | FileCheck %s --check-prefix=NOFUSION
// RUN: pce-opt %s --pce-cpu-pipeline="split-reductions=true" --dump-pass-pipeline -o /dev/null 2>&1 | FileCheck %s --check-prefix=SPLIT
// RUN: pce-opt %s --pce-cpu-pipeline="transpose-inputs=false" --dump-pass-pipeline -o /dev/null 2>&1 | FileCheck %s --check-prefix=NOTRANSPOSE
//
// What --pce-cpu-pipeline runs by default and what its fusion options switch:
// the fusions on pce ops in order (batch norm folded first, then top-k
// dispatch reading image windows, patch fusion, the mix in the epilogue);
// without patch fusion, sparse dispatch reads patches too. The reduction
// split of pce-vectorize-generics is opt-in (it changes summation order).

// CHECK: pce-decompose-layer
// CHECK: pce-fold-batch-norm
// CHECK: pce-sparse-dispatch{read-image=true}
// CHECK: pce-fuse-patches
// CHECK: pce-fuse-experts-mix
// CHECK: pce-lower-to-linalg
// CHECK: pce-vectorize-generics{max-lanes=64 split-reductions=false transpose-inputs=true}

// NOFUSION-NOT: pce-fold-batch-norm
// NOFUSION: pce-sparse-dispatch{read-image=false}
// NOFUSION-NOT: pce-fuse-patches
// NOFUSION-NOT: pce-fuse-experts-mix
// NOFUSION: pce-lower-to-linalg

// SPLIT: pce-vectorize-generics{max-lanes=64 split-reductions=true transpose-inputs=true}

// NOTRANSPOSE: pce-vectorize-generics{max-lanes=64 split-reductions=false transpose-inputs=false}

func.func @empty() {
  return
}
