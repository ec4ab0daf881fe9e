// RUN: pce-opt %s -pce-expose-routing -split-input-file -verify-diagnostics | FileCheck %s

// Every router's weights become an extra result named layer<i>.routing, in
// program order; the existing results keep their attributes.
// CHECK-LABEL: func.func @two_routers
// CHECK-SAME: -> (tensor<1x16x8xf32> {pce.output = "y"}, tensor<1x16x2xf32> {pce.routing = "layer0.routing"}, tensor<1x16x3xf32> {pce.routing = "layer1.routing"})
// CHECK: %[[W0:.*]] = pce.route uniform
// CHECK: %[[W1:.*]] = pce.route position
// CHECK: return %{{.*}}, %[[W0]], %[[W1]]
func.func @two_routers(%p: tensor<1x16x5x3x3xf32>, %y: tensor<1x16x8xf32>) -> (tensor<1x16x8xf32> {pce.output = "y"}) {
  %w0 = pce.route uniform %p experts 2 : tensor<1x16x5x3x3xf32>
  %w1 = pce.route position %p experts 3 : tensor<1x16x5x3x3xf32>
  return %y : tensor<1x16x8xf32>
}

// -----

// Private functions and functions without routers are left alone.
// CHECK-LABEL: func.func private @helper
// CHECK-SAME: -> tensor<1x16x2xf32>
// CHECK: return %{{.*}} : tensor<1x16x2xf32>
// CHECK-LABEL: func.func @no_router
// CHECK-SAME: -> tensor<2xf32>
func.func private @helper(%p: tensor<1x16x5x3x3xf32>) -> tensor<1x16x2xf32> {
  %w = pce.route uniform %p experts 2 : tensor<1x16x5x3x3xf32>
  return %w : tensor<1x16x2xf32>
}
func.func @no_router(%x: tensor<2xf32>) -> tensor<2xf32> {
  return %x : tensor<2xf32>
}

// -----

// Layers must be decomposed first: their routers are not visible yet.
// expected-error @below {{run -pce-decompose-layer before -pce-expose-routing}}
func.func @layer(%x: tensor<1x1x28x28xf32>, %k: tensor<2x8x5x3x3xf32>, %s: tensor<2x8xf32>) -> tensor<1x8x28x28xf32> {
  %y = pce.layer %x patch [7, 7] router uniform experts(%k : tensor<2x8x5x3x3xf32>) affine(%s, %s : tensor<2x8xf32>, tensor<2x8xf32>) : tensor<1x1x28x28xf32>
  return %y : tensor<1x8x28x28xf32>
}

// -----

// A router inside a loop has no single value to return.
func.func @nested(%p: tensor<1x16x5x3x3xf32>, %n: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  scf.for %i = %c0 to %n step %c1 {
    // expected-error @below {{a router inside a nested region cannot be returned from its function}}
    %w = pce.route uniform %p experts 2 : tensor<1x16x5x3x3xf32>
  }
  return
}

// -----

// A function outlined from layer `block1` (pce-outline-layers) names its
// router after the layer and also returns the embedding the router reads.
// CHECK-LABEL: func.func @block1
// CHECK-SAME: -> (tensor<2x8x28x28xf32> {pce.output = "y"}, tensor<2x16x4xf32> {pce.routing = "block1.routing"}, tensor<2x16x105xf32> {pce.output = "block1.embedding"})
// CHECK: %[[E:.*]] = pce.embed
// CHECK: %[[W:.*]] = pce.route cosine %[[E]]
// CHECK: return %{{.*}}, %[[W]], %[[E]]
func.func @block1(%x: tensor<2x1x28x28xf32> {pce.input = "x"}, %we: tensor<5x5xf32>, %be: tensor<5xf32>,
                  %keys: tensor<4x105xf32>, %k: tensor<4x8x5x3x3xf32>, %s: tensor<4x8xf32>)
    -> (tensor<2x8x28x28xf32> {pce.output = "y"}) attributes {pce.layer_name = "block1"} {
  %p = pce.patchify %x patch [7, 7] radius 1 : tensor<2x1x28x28xf32>
  %e = pce.embed %p, %we, %be radius 1 : tensor<2x16x5x9x9xf32>, tensor<5x5xf32>, tensor<5xf32>
  %w = pce.route cosine %e keys(%keys : tensor<4x105xf32>) tau 0.5 top_k 1 : tensor<2x16x105xf32>
  %y = pce.experts %p, %k affine(%s, %s : tensor<4x8xf32>, tensor<4x8xf32>) : tensor<2x16x5x9x9xf32>, tensor<4x8x5x3x3xf32>
  %m = pce.mix sum %w, %y : tensor<2x16x4xf32>, tensor<2x16x4x8x7x7xf32>
  %o = pce.unpatchify %m grid [4, 4] : tensor<2x16x8x7x7xf32>
  return %o : tensor<2x8x28x28xf32>
}

// -----

// In a whole model, a router whose location names its layer (as the model
// importer writes them) is named after that layer, as pce-train names it;
// one without a name keeps layer<i>.
// CHECK-LABEL: func.func @named
// CHECK-SAME: -> (tensor<1x16x8xf32> {pce.output = "y"}, tensor<1x16x2xf32> {pce.routing = "block.routing"}, tensor<1x16x3xf32> {pce.routing = "layer1.routing"})
func.func @named(%p: tensor<1x16x5x3x3xf32>, %y: tensor<1x16x8xf32>) -> (tensor<1x16x8xf32> {pce.output = "y"}) {
  %w0 = pce.route uniform %p experts 2 : tensor<1x16x5x3x3xf32> loc("block"("model.yaml":12:5))
  %w1 = pce.route position %p experts 3 : tensor<1x16x5x3x3xf32>
  return %y : tensor<1x16x8xf32>
}

// -----

// Two routers named after the same layer would give two results one name.
// expected-error @below {{two routers whose weights would both be named 'block.routing': give each layer its own name}}
func.func @same_name(%p: tensor<1x16x5x3x3xf32>, %y: tensor<1x16x8xf32>) -> (tensor<1x16x8xf32> {pce.output = "y"}) {
  %w0 = pce.route uniform %p experts 2 : tensor<1x16x5x3x3xf32> loc("block"("model.yaml":12:5))
  %w1 = pce.route position %p experts 3 : tensor<1x16x5x3x3xf32> loc("block"("model.yaml":20:5))
  return %y : tensor<1x16x8xf32>
}
