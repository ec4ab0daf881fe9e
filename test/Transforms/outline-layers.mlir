// RUN: pce-opt %s -pce-outline-layers -split-input-file -verify-diagnostics | FileCheck %s
//
// Every pce.layer of a public function gets a differentiable function of its
// own, named after its parameters; the original function is left as it was.

// CHECK-LABEL: func.func @forward
// CHECK: pce.layer
// CHECK: pce.layer
// CHECK-LABEL: func.func @layer0
// CHECK-SAME: (%{{.*}}: tensor<2x1x8x8xf32> {pce.input = "x"}, %{{.*}}: tensor<2x4x5x3x3xf32> {pce.param = "layer0.experts.kernel"}, %{{.*}}: tensor<2x4xf32> {pce.param = "layer0.experts.scale"}, %{{.*}}: tensor<2x4xf32> {pce.param = "layer0.experts.shift"})
// CHECK-SAME: -> (tensor<2x4x8x8xf32> {pce.output = "y"})
// CHECK-SAME: attributes {pce.differentiable, pce.layer_name = "layer0"}
// CHECK-NEXT: %[[Y:.*]] = pce.layer %arg0 patch [4, 4] router uniform experts(%arg1 : {{.*}}) affine(%arg2, %arg3 : {{.*}})
// CHECK-NEXT: return %[[Y]]
// The second layer reads the first one's output as its input `x`.
// CHECK-LABEL: func.func @block1
// CHECK-SAME: (%{{.*}}: tensor<2x4x8x8xf32> {pce.input = "x"}
// CHECK-SAME: pce.layer_name = "block1"
func.func @forward(%x: tensor<2x1x8x8xf32> {pce.input = "x"},
    %k0: tensor<2x4x5x3x3xf32> {pce.param = "layer0.experts.kernel"},
    %s0: tensor<2x4xf32> {pce.param = "layer0.experts.scale"},
    %t0: tensor<2x4xf32> {pce.param = "layer0.experts.shift"},
    %k1: tensor<2x4x8x3x3xf32> {pce.param = "block1.experts.kernel"},
    %s1: tensor<2x4xf32> {pce.param = "block1.experts.scale"},
    %t1: tensor<2x4xf32> {pce.param = "block1.experts.shift"})
    -> (tensor<2x4x8x8xf32> {pce.output = "y"}) {
  %a = pce.layer %x patch [4, 4] router uniform experts(%k0 : tensor<2x4x5x3x3xf32>)
         affine(%s0, %t0 : tensor<2x4xf32>, tensor<2x4xf32>) : tensor<2x1x8x8xf32>
  %b = pce.layer %a patch [2, 2] router position experts(%k1 : tensor<2x4x8x3x3xf32>)
         affine(%s1, %t1 : tensor<2x4xf32>, tensor<2x4xf32>) : tensor<2x4x8x8xf32>
  return %b : tensor<2x4x8x8xf32>
}

// -----

// Private functions are left alone.
// CHECK-LABEL: func.func private @helper
// CHECK-NOT: func.func @layer0
func.func private @helper(%x: tensor<2x1x8x8xf32>, %k: tensor<2x4x5x3x3xf32>, %s: tensor<2x4xf32>) -> tensor<2x4x8x8xf32> {
  %a = pce.layer %x patch [4, 4] router uniform experts(%k : tensor<2x4x5x3x3xf32>)
         affine(%s, %s : tensor<2x4xf32>, tensor<2x4xf32>) : tensor<2x1x8x8xf32>
  return %a : tensor<2x4x8x8xf32>
}

// -----

// A parameter computed inside the function cannot become an argument.
func.func @computed(%x: tensor<2x1x8x8xf32> {pce.input = "x"},
    %k: tensor<2x4x5x3x3xf32> {pce.param = "l.experts.kernel"},
    %s: tensor<2x4xf32> {pce.param = "l.experts.scale"}) -> tensor<2x4x8x8xf32> {
  %t = arith.addf %s, %s : tensor<2x4xf32>
  // expected-error @below {{operand #3 is not a parameter argument ({pce.param = ...}) of @computed; only such layers can be outlined}}
  %a = pce.layer %x patch [4, 4] router uniform experts(%k : tensor<2x4x5x3x3xf32>)
         affine(%s, %t : tensor<2x4xf32>, tensor<2x4xf32>) : tensor<2x1x8x8xf32>
  return %a : tensor<2x4x8x8xf32>
}

// -----

// Two layers with the same parameter prefix would get one name.
func.func @twice(%x: tensor<2x1x8x8xf32> {pce.input = "x"},
    %k: tensor<2x4x5x3x3xf32> {pce.param = "l.experts.kernel"},
    %s: tensor<2x4xf32> {pce.param = "l.experts.scale"}) -> tensor<2x4x8x8xf32> {
  %a = pce.layer %x patch [4, 4] router uniform experts(%k : tensor<2x4x5x3x3xf32>)
         affine(%s, %s : tensor<2x4xf32>, tensor<2x4xf32>) : tensor<2x1x8x8xf32>
  // expected-error @below {{a second layer named 'l' (from parameter 'l.experts.kernel'): layer names must be unique}}
  %b = pce.layer %x patch [4, 4] router uniform experts(%k : tensor<2x4x5x3x3xf32>)
         affine(%s, %s : tensor<2x4xf32>, tensor<2x4xf32>) : tensor<2x1x8x8xf32>
  %c = arith.addf %a, %b : tensor<2x4x8x8xf32>
  return %c : tensor<2x4x8x8xf32>
}
