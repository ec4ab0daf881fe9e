// RUN: pce-opt %s | pce-opt | FileCheck %s
//
// Every `pce.*` attribute where it belongs passes the dialect's attribute
// verifier and round-trips (the errors: invalid-attributes.mlir).

// CHECK: module attributes {pce.training_plan = "{\22phases\22: []}"}
module attributes {pce.training_plan = "{\"phases\": []}"} {

// CHECK-LABEL: func.func @layer1
// CHECK-SAME: %{{.*}}: tensor<2xf32> {pce.input = "x"}
// CHECK-SAME: %{{.*}}: tensor<2xf32> {pce.param = "layer1.experts.kernel", pce.role = "expert_kernel"}
// CHECK-SAME: -> (tensor<2xf32> {pce.output = "y"}, tensor<2xf32> {pce.routing = "layer1.routing"})
// CHECK-SAME: attributes {pce.differentiable, pce.layer_name = "layer1"}
func.func @layer1(%x: tensor<2xf32> {pce.input = "x"},
                  %k: tensor<2xf32> {pce.param = "layer1.experts.kernel", pce.role = "expert_kernel"})
    -> (tensor<2xf32> {pce.output = "y"}, tensor<2xf32> {pce.routing = "layer1.routing"})
    attributes {pce.differentiable, pce.layer_name = "layer1"} {
  return %x, %k : tensor<2xf32>, tensor<2xf32>
}

// After buffer-results-to-out-params a result's attributes are on the
// out-parameter that replaces it.
// CHECK-LABEL: func.func @bufferized
// CHECK-SAME: %{{.*}}: memref<2xf32> {pce.output = "y"}, %{{.*}}: memref<2xf32> {pce.routing = "r"}
func.func @bufferized(%x: memref<2xf32> {pce.input = "x"}, %y: memref<2xf32> {pce.output = "y"},
                      %r: memref<2xf32> {pce.routing = "r"}) {
  return
}

// Attributes on the arguments of a function declaration (no body) too.
// CHECK: func.func private @declared(tensor<2xf32> {pce.param = "w"}) -> (tensor<2xf32> {pce.output = "y"})
func.func private @declared(tensor<2xf32> {pce.param = "w"}) -> (tensor<2xf32> {pce.output = "y"})

}
