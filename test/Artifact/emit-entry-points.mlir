// RUN: pce-opt %s -split-input-file -pce-emit-entry-points=manifest=%S/Inputs/scale-manifest.json -verify-diagnostics | FileCheck %s
// RUN: not pce-opt %s -split-input-file -pce-emit-entry-points 2>&1 | FileCheck %s --check-prefix=NO-MANIFEST
// RUN: not pce-opt %s -split-input-file -pce-emit-entry-points=manifest=%S/Inputs/missing.json 2>&1 | FileCheck %s --check-prefix=BAD-MANIFEST

// The entry point of each manifest entry: a wrapper taking one pointer to an
// array of descriptor pointers, loading each and calling the C interface,
// and the canonical signature string the runtime checks. The pce.* names
// are gone from the lowered functions; other attributes stay.
// CHECK-LABEL: llvm.func @_mlir_ciface_scale
// CHECK-SAME: (%{{.*}}: !llvm.ptr {llvm.noalias}, %{{.*}}: !llvm.ptr, %{{.*}}: !llvm.ptr)
// CHECK-LABEL: llvm.func @pce_entry_scale
// CHECK-SAME: (%[[ARGS:.*]]: !llvm.ptr)
// CHECK: %[[S0:.*]] = llvm.getelementptr %[[ARGS]][0] : (!llvm.ptr) -> !llvm.ptr, !llvm.ptr
// CHECK: %[[D0:.*]] = llvm.load %[[S0]] : !llvm.ptr -> !llvm.ptr
// CHECK: %[[S1:.*]] = llvm.getelementptr %[[ARGS]][1]
// CHECK: %[[D1:.*]] = llvm.load %[[S1]]
// CHECK: %[[S2:.*]] = llvm.getelementptr %[[ARGS]][2]
// CHECK: %[[D2:.*]] = llvm.load %[[S2]]
// CHECK: llvm.call @_mlir_ciface_scale(%[[D0]], %[[D1]], %[[D2]])
// CHECK: llvm.return
// CHECK: llvm.mlir.global external constant @pce_entry_scale_signature("x:input:f32[2];w:parameter:f32[2];y:output:f32[2]\00")
module {
  llvm.func @_mlir_ciface_scale(%x: !llvm.ptr {llvm.noalias, pce.input = "x"},
                                %w: !llvm.ptr {pce.param = "w"},
                                %y: !llvm.ptr) {
    llvm.return
  }
}

// -----

// A module lowered from another model: no function for the manifest's entry.
// expected-error @below {{pce-emit-entry-points: the lowered module lacks _mlir_ciface_scale taking 3 descriptors}}
module {
  llvm.func @_mlir_ciface_other(%x: !llvm.ptr) {
    llvm.return
  }
}

// -----

// The C interface exists but takes another number of descriptors.
// expected-error @below {{lacks _mlir_ciface_scale taking 3 descriptors}}
module {
  llvm.func @_mlir_ciface_scale(%x: !llvm.ptr, %y: !llvm.ptr) {
    llvm.return
  }
}

// NO-MANIFEST: pce-emit-entry-points needs the entry points: manifest=PATH
// BAD-MANIFEST: pce-emit-entry-points: {{.*}}missing.json
