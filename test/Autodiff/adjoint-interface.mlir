// RUN: pce-opt %s --pce-generate-backward -split-input-file -verify-diagnostics | FileCheck %s
//
// pce-generate-backward differentiates an op through its AdjointOpInterface
// (dialect/PCEInterfaces.td), attached to the pce ops by the pass itself
// (passes/Autodiff/Adjoint.cpp); being a pce op is not enough.

// pce.layer does not implement the interface: pce-decompose-layer splits it
// into ops that do.
func.func @layer(%x: tensor<3x2x8x12xf32> {pce.input = "x"}, %k: tensor<2x6x6x5x5xf32> {pce.param = "k"},
                 %s: tensor<2x6xf32> {pce.param = "s"}) -> (tensor<3x6x8x12xf32> {pce.output = "y"})
    attributes {pce.differentiable} {
  // expected-error @below {{'pce.layer' has no adjoint: pce-generate-backward differentiates pce ops}}
  %y = pce.layer %x patch [4, 3] halo isolated router position table [0, 1, 1, 0, 0, 1, 1, 0] sigma 0.1
         experts(%k : tensor<2x6x6x5x5xf32>) affine(%s, %s : tensor<2x6xf32>, tensor<2x6xf32>)
         : tensor<3x2x8x12xf32>
  return %y : tensor<3x6x8x12xf32>
}

// -----

// The same ops decomposed: every one implements the interface. Patchify, mix
// and unpatchify train as they infer (the interface's default training
// forward clones them); the position router draws its noise.
// CHECK-LABEL: func.func @decomposed_train(
// CHECK-SAME: %{{[^:]*}}: tensor<3x8x2xf32> {pce.input = "noise.0.normal"})
// CHECK: pce.patchify %{{.*}} patch [4, 3] radius 2 halo isolated
// CHECK-NOT: pce.route
// CHECK: math.exp
// CHECK: pce.mix sum
// CHECK-NEXT: pce.unpatchify
// CHECK-LABEL: func.func @decomposed_backward(
// CHECK-SAME: -> (tensor<3x2x8x12xf32> {pce.output = "grad.x"}, tensor<2x6x6x5x5xf32> {pce.output = "grad.k"}, tensor<2x6xf32> {pce.output = "grad.s"})
func.func @decomposed(%x: tensor<3x2x8x12xf32> {pce.input = "x"}, %k: tensor<2x6x6x5x5xf32> {pce.param = "k"},
                      %s: tensor<2x6xf32> {pce.param = "s"}) -> (tensor<3x6x8x12xf32> {pce.output = "y"})
    attributes {pce.differentiable} {
  %p = pce.patchify %x patch [4, 3] radius 2 halo isolated : tensor<3x2x8x12xf32>
  %w = pce.route position %p experts 2 table [0, 1, 1, 0, 0, 1, 1, 0] sigma 1.000000e-01 : tensor<3x8x6x8x7xf32>
  %e = pce.experts %p, %k affine(%s, %s : tensor<2x6xf32>, tensor<2x6xf32>) : tensor<3x8x6x8x7xf32>, tensor<2x6x6x5x5xf32>
  %m = pce.mix sum %w, %e : tensor<3x8x2xf32>, tensor<3x8x2x6x4x3xf32>
  %y = pce.unpatchify %m grid [2, 4] : tensor<3x8x6x4x3xf32>
  return %y : tensor<3x6x8x12xf32>
}
