// RUN: pce-opt %s --pce-cpu-pipeline | FileCheck %s
// RUN: pce-opt %s --pce-cpu-pipeline | pce-translate --mlir-to-llvmir | FileCheck %s --check-prefix=LLVMIR
// RUN: pce-opt %s --pce-cpu-pipeline | FileCheck %s --check-prefix=VEC
// RUN: pce-opt %s --pce-cpu-pipeline="vectorize=false" | FileCheck %s --check-prefixes=CHECK,SCALAR
// RUN: pce-opt %s --pce-cpu-pipeline="vectorize-convolutions=false" | FileCheck %s --check-prefixes=CHECK,NOCONV
// RUN: pce-opt %s --pce-cpu-pipeline="vectorize-generics=false" | FileCheck %s --check-prefixes=CHECK,NOGENERIC
//
// A layer goes all the way to the LLVM dialect: results become caller-owned
// out-parameters, the C interface takes one descriptor pointer per buffer,
// no pce / linalg / tensor op is left, and no runtime library is called
// (only libc's malloc/free and libm).

// By default the experts' convolution is a vector kernel (vector.fma ->
// llvm.intr.fmuladd along the output width of 4) and the elementwise BN/relu
// works on rows (a vector maximum); each step can be switched off by name.
// VEC: llvm.intr.fmuladd({{.*}}) : (vector<4xf32>, vector<4xf32>, vector<4xf32>) -> vector<4xf32>
// VEC: llvm.intr.maximum({{.*}}) : (vector<4xf32>, vector<4xf32>) -> vector<4xf32>
// SCALAR-NOT: vector<
// NOCONV-NOT: llvm.intr.fmuladd
// NOGENERIC-NOT: llvm.intr.maximum({{.*}}) : (vector

// CHECK-NOT: pce.
// CHECK-NOT: linalg.
// CHECK-NOT: memrefCopy
// CHECK: llvm.func @_mlir_ciface_forward(%{{.*}}: !llvm.ptr {pce.input = "x"}, %{{.*}}: !llvm.ptr {pce.param = "k"}, %{{.*}}: !llvm.ptr {pce.param = "s"}, %{{.*}}: !llvm.ptr {pce.output = "y"})
// LLVMIR: define void @_mlir_ciface_forward(ptr {{.*}}, ptr {{.*}}, ptr {{.*}}, ptr {{.*}})
func.func @forward(%x: tensor<2x1x8x8xf32> {pce.input = "x"},
                   %k: tensor<2x4x5x3x3xf32> {pce.param = "k"},
                   %s: tensor<2x4xf32> {pce.param = "s"})
    -> (tensor<2x4x8x8xf32> {pce.output = "y"}) {
  %y = pce.layer %x patch [4, 4] router position top_k 1
         experts(%k : tensor<2x4x5x3x3xf32>) affine(%s, %s : tensor<2x4xf32>, tensor<2x4xf32>)
         : tensor<2x1x8x8xf32>
  return %y : tensor<2x4x8x8xf32>
}
