// RUN: pce-opt %s --pce-generate-backward -split-input-file -verify-diagnostics | FileCheck %s

// patchify trains as it infers; with a context halo its adjoint gathers, for
// every pixel, the 3x3 candidate patches that may read it (ceil(r/ph) = 1
// patch row and ceil(r/pw) = 1 patch column either side).
// CHECK-LABEL: func.func @context_train(
// CHECK-SAME: %[[X:[^:]*]]: tensor<2x3x8x6xf32> {pce.input = "x"}
// CHECK: %[[P:.*]] = pce.patchify %[[X]] patch [4, 3] radius 1 : tensor<2x3x8x6xf32>
// CHECK: return %[[P]],
// CHECK-LABEL: func.func @context_backward(
// CHECK-SAME: {pce.input = "saved.0"}, %[[G:[^:]*]]: tensor<2x4x7x6x5xf32> {pce.input = "grad.patches"})
// CHECK-SAME: -> (tensor<2x3x8x6xf32> {pce.output = "grad.x"})
// CHECK: %[[ZERO:.*]] = linalg.fill {{.*}} -> tensor<2x3x8x6xf32>
// CHECK: %[[WINDOW:.*]] = tensor.empty() : tensor<3x3xf32>
// CHECK: %[[DX:.*]] = linalg.generic
// CHECK-SAME: iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction", "reduction"]
// CHECK-SAME: ins(%[[WINDOW]] : tensor<3x3xf32>) outs(%[[ZERO]] : tensor<2x3x8x6xf32>)
// CHECK: tensor.extract %[[G]]
// CHECK: arith.addf
// CHECK: return %[[DX]] : tensor<2x3x8x6xf32>
func.func @context(%x: tensor<2x3x8x6xf32> {pce.input = "x"}) -> (tensor<2x4x7x6x5xf32> {pce.output = "patches"}) attributes {pce.differentiable} {
  %p = pce.patchify %x patch [4, 3] radius 1 : tensor<2x3x8x6xf32>
  return %p : tensor<2x4x7x6x5xf32>
}

// -----

// A halo wider than the patch reaches ceil(2/1) = 2 patch rows and
// ceil(2/2) = 1 patch column either side.
// CHECK-LABEL: func.func @wide_halo_backward(
// CHECK: tensor.empty() : tensor<5x3xf64>
// CHECK: linalg.generic
// CHECK-SAME: outs(%{{.*}} : tensor<1x2x4x6xf64>)
func.func @wide_halo(%x: tensor<1x2x4x6xf64> {pce.input = "x"}) -> (tensor<1x12x6x5x6xf64> {pce.output = "patches"}) attributes {pce.differentiable} {
  %p = pce.patchify %x patch [1, 2] radius 2 : tensor<1x2x4x6xf64>
  return %p : tensor<1x12x6x5x6xf64>
}

// -----

// With an isolated halo each pixel is read once, by its own patch's core:
// the adjoint is unpatchify of the pixel channels' cores.
// CHECK-LABEL: func.func @isolated_backward(
// CHECK-SAME: %[[G:[^:]*]]: tensor<2x4x7x8x7xf32> {pce.input = "grad.patches"})
// CHECK: %[[CORE:.*]] = tensor.extract_slice %[[G]][0, 0, 0, 2, 2] [2, 4, 3, 4, 3] [1, 1, 1, 1, 1]
// CHECK: %[[GRID:.*]] = tensor.expand_shape %[[CORE]] {{\[\[}}0], [1, 2], [3], [4], [5]]
// CHECK: %[[MOVED:.*]] = linalg.transpose ins(%[[GRID]] : tensor<2x2x2x3x4x3xf32>) outs(%{{.*}} : tensor<2x3x2x4x2x3xf32>) permutation = [0, 3, 1, 4, 2, 5]
// CHECK: %[[DX:.*]] = tensor.collapse_shape %[[MOVED]] {{\[\[}}0], [1], [2, 3], [4, 5]] : tensor<2x3x2x4x2x3xf32> into tensor<2x3x8x6xf32>
// CHECK: return %[[DX]]
func.func @isolated(%x: tensor<2x3x8x6xf32> {pce.input = "x"}) -> (tensor<2x4x7x8x7xf32> {pce.output = "patches"}) attributes {pce.differentiable} {
  %p = pce.patchify %x patch [4, 3] radius 2 halo isolated : tensor<2x3x8x6xf32>
  return %p : tensor<2x4x7x8x7xf32>
}

// -----

// unpatchify's adjoint is the inverse permutation.
// CHECK-LABEL: func.func @unpatchify_backward(
// CHECK-SAME: %[[G:[^:]*]]: tensor<2x5x8x9xf32> {pce.input = "grad.out"})
// CHECK-SAME: -> (tensor<2x6x5x4x3xf32> {pce.output = "grad.y"})
// CHECK: %[[GRID:.*]] = tensor.expand_shape %[[G]] {{\[\[}}0], [1], [2, 3], [4, 5]] output_shape [2, 5, 2, 4, 3, 3]
// CHECK: %[[MOVED:.*]] = linalg.transpose ins(%[[GRID]] : tensor<2x5x2x4x3x3xf32>) outs(%{{.*}} : tensor<2x2x3x5x4x3xf32>) permutation = [0, 2, 4, 1, 3, 5]
// CHECK: %[[DY:.*]] = tensor.collapse_shape %[[MOVED]] {{\[\[}}0], [1, 2], [3], [4], [5]] : tensor<2x2x3x5x4x3xf32> into tensor<2x6x5x4x3xf32>
// CHECK: return %[[DY]]
func.func @unpatchify(%y: tensor<2x6x5x4x3xf32> {pce.input = "y"}) -> (tensor<2x5x8x9xf32> {pce.output = "out"}) attributes {pce.differentiable} {
  %o = pce.unpatchify %y grid [2, 3] : tensor<2x6x5x4x3xf32>
  return %o : tensor<2x5x8x9xf32>
}

// -----

// embed's training forward records each bin's argmax beside its maximum (one
// two-result pooling per level) and returns it as a saved value; the adjoint
// routes the gradient of each level to the argmaxes, then through the 1x1
// convolution into the patch cores, We and be.
// CHECK-LABEL: func.func @embed_train(
// CHECK-SAME: -> (tensor<2x4x25xf64> {pce.output = "emb"}, tensor<2x4x25xf64> {pce.output = "saved.0"}, tensor<2x4x25xf64> {pce.output = "saved.1"})
// CHECK: %[[CORE:.*]] = tensor.extract_slice %{{.*}}[0, 0, 0, 1, 1] [2, 4, 7, 4, 3] [1, 1, 1, 1, 1]
// CHECK: %[[Z:.*]] = linalg.generic {{.*}} ins(%[[CORE]], %{{.*}} : tensor<2x4x7x4x3xf64>, tensor<5x7xf64>)
// CHECK: %[[L1:.*]]:2 = linalg.generic {{.*}} outs(%{{.*}}, %{{.*}} : tensor<2x4x5x1x1xf64>, tensor<2x4x5x1x1xf64>)
// CHECK: tensor.extract %[[Z]]
// CHECK: arith.maximumf
// CHECK: arith.cmpf ogt
// CHECK: arith.cmpf uno
// CHECK: %[[L2:.*]]:2 = linalg.generic {{.*}} outs(%{{.*}}, %{{.*}} : tensor<2x4x5x2x2xf64>, tensor<2x4x5x2x2xf64>)
// CHECK: %[[EMB:.*]] = tensor.insert_slice %{{.*}}[0, 0, 5] [2, 4, 20]
// CHECK: %[[ARGMAX:.*]] = tensor.insert_slice %{{.*}}[0, 0, 5] [2, 4, 20]
// CHECK: return %[[EMB]], %[[EMB]], %[[ARGMAX]]

// CHECK-LABEL: func.func @embed_backward(
// CHECK-SAME: %[[P:[^:]*]]: tensor<2x4x7x6x5xf64> {pce.input = "patches"}, %[[WE:[^:]*]]: tensor<5x7xf64> {pce.param = "we"}
// CHECK-SAME: %[[ARGMAX:[^:]*]]: tensor<2x4x25xf64> {pce.input = "saved.1"}, %[[G:[^:]*]]: tensor<2x4x25xf64> {pce.input = "grad.emb"})
// CHECK-SAME: -> (tensor<2x4x7x6x5xf64> {pce.output = "grad.patches"}, tensor<5x7xf64> {pce.output = "grad.we"}, tensor<5xf64> {pce.output = "grad.be"})
// CHECK: %[[CORE:.*]] = tensor.extract_slice %[[P]][0, 0, 0, 1, 1] [2, 4, 7, 4, 3]
// CHECK: %[[DZ0:.*]] = linalg.fill {{.*}} -> tensor<2x4x5x4x3xf64>
// Level 1: every pixel lies in one bin.
// CHECK: tensor.extract_slice %[[ARGMAX]][0, 0, 0] [2, 4, 5]
// CHECK: tensor.extract_slice %[[G]][0, 0, 0] [2, 4, 5]
// CHECK: %[[W1:.*]] = tensor.empty() : tensor<1x1xf64>
// CHECK: %[[DZ1:.*]] = linalg.generic {{.*}} ins(%[[W1]] : tensor<1x1xf64>) outs(%[[DZ0]] : tensor<2x4x5x4x3xf64>)
// CHECK: arith.cmpf oeq
// Level 2: the middle of 3 columns lies in both column bins.
// CHECK: tensor.extract_slice %[[ARGMAX]][0, 0, 5] [2, 4, 20]
// CHECK: tensor.extract_slice %[[G]][0, 0, 5] [2, 4, 20]
// CHECK: %[[W2:.*]] = tensor.empty() : tensor<1x2xf64>
// CHECK: %[[DZ:.*]] = linalg.generic {{.*}} ins(%[[W2]] : tensor<1x2xf64>) outs(%[[DZ1]] : tensor<2x4x5x4x3xf64>)
// CHECK: %[[DBE:.*]] = linalg.generic {{.*}} iterator_types = ["reduction", "reduction", "parallel", "reduction", "reduction"]} ins(%[[DZ]] : tensor<2x4x5x4x3xf64>) outs(%{{.*}} : tensor<5xf64>)
// CHECK: %[[DWE:.*]] = linalg.generic {{.*}} ins(%[[DZ]], %[[CORE]] : tensor<2x4x5x4x3xf64>, tensor<2x4x7x4x3xf64>) outs(%{{.*}} : tensor<5x7xf64>)
// CHECK: %[[ZERO:.*]] = linalg.fill {{.*}} -> tensor<2x4x7x6x5xf64>
// CHECK: %[[DCORE0:.*]] = tensor.extract_slice %[[ZERO]][0, 0, 0, 1, 1] [2, 4, 7, 4, 3]
// CHECK: %[[DCORE:.*]] = linalg.generic {{.*}} ins(%[[WE]], %[[DZ]] : tensor<5x7xf64>, tensor<2x4x5x4x3xf64>) outs(%[[DCORE0]] : tensor<2x4x7x4x3xf64>)
// CHECK: %[[DP:.*]] = tensor.insert_slice %[[DCORE]] into %[[ZERO]][0, 0, 0, 1, 1] [2, 4, 7, 4, 3]
// CHECK: return %[[DP]], %[[DWE]], %[[DBE]]
func.func @embed(%p: tensor<2x4x7x6x5xf64> {pce.input = "patches"}, %we: tensor<5x7xf64> {pce.param = "we"}, %be: tensor<5xf64> {pce.param = "be"}) -> (tensor<2x4x25xf64> {pce.output = "emb"}) attributes {pce.differentiable} {
  %e = pce.embed %p, %we, %be radius 1 levels [1, 2] : tensor<2x4x7x6x5xf64>, tensor<5x7xf64>, tensor<5xf64>
  return %e : tensor<2x4x25xf64>
}

// -----

// The patches are a result and embed's operand: the pass adds both gradients
// before patchify's adjoint reads them.
// CHECK-LABEL: func.func @shared_backward(
// CHECK-SAME: %[[GP:[^:]*]]: tensor<2x4x7x6x5xf32> {pce.input = "grad.patches"}, %{{[^:]*}}: tensor<2x4x105xf32> {pce.input = "grad.emb"})
// CHECK-SAME: -> (tensor<2x3x8x6xf32> {pce.output = "grad.x"}, tensor<5x7xf32> {pce.output = "grad.we"}, tensor<5xf32> {pce.output = "grad.be"})
// CHECK: %[[DBE:.*]] = linalg.generic {{.*}} outs(%{{.*}} : tensor<5xf32>)
// CHECK: %[[DWE:.*]] = linalg.generic {{.*}} outs(%{{.*}} : tensor<5x7xf32>)
// CHECK: %[[FROM_EMBED:.*]] = tensor.insert_slice
// CHECK: %[[SUM:.*]] = linalg.generic {{.*}} ins(%[[GP]], %[[FROM_EMBED]] : tensor<2x4x7x6x5xf32>, tensor<2x4x7x6x5xf32>)
// CHECK: arith.addf
// CHECK: %[[DX:.*]] = linalg.generic {{.*}} ins(%{{.*}} : tensor<3x3xf32>) outs(%{{.*}} : tensor<2x3x8x6xf32>)
// CHECK: tensor.extract %[[SUM]]
// CHECK: return %[[DX]], %[[DWE]], %[[DBE]]
func.func @shared(%x: tensor<2x3x8x6xf32> {pce.input = "x"}, %we: tensor<5x7xf32> {pce.param = "we"}, %be: tensor<5xf32> {pce.param = "be"}) -> (tensor<2x4x7x6x5xf32> {pce.output = "patches"}, tensor<2x4x105xf32> {pce.output = "emb"}) attributes {pce.differentiable} {
  %p = pce.patchify %x patch [4, 3] radius 1 : tensor<2x3x8x6xf32>
  %e = pce.embed %p, %we, %be radius 1 : tensor<2x4x7x6x5xf32>, tensor<5x7xf32>, tensor<5xf32>
  return %p, %e : tensor<2x4x7x6x5xf32>, tensor<2x4x105xf32>
}

// -----

// A function that is not marked differentiable is left alone.
// CHECK-LABEL: func.func @inference_only(
// CHECK: pce.patchify
// CHECK-NOT: func.func @inference_only_train
// CHECK-NOT: func.func @inference_only_backward
func.func @inference_only(%x: tensor<1x1x4x4xf32> {pce.input = "x"}) -> (tensor<1x4x5x2x2xf32> {pce.output = "patches"}) {
  %p = pce.patchify %x patch [2, 2] : tensor<1x1x4x4xf32>
  return %p : tensor<1x4x5x2x2xf32>
}

// -----

// Only pce ops have adjoints.
func.func @no_adjoint(%x: tensor<2x3xf32> {pce.input = "x"}) -> (tensor<3x2xf32> {pce.output = "y"}) attributes {pce.differentiable} {
  %e = tensor.empty() : tensor<3x2xf32>
  // expected-error @below {{'linalg.transpose' has no adjoint: pce-generate-backward differentiates pce ops}}
  %t = linalg.transpose ins(%x : tensor<2x3xf32>) outs(%e : tensor<3x2xf32>) permutation = [1, 0]
  return %t : tensor<3x2xf32>
}

// -----

// Gradients are named after the arguments.
// expected-error @below {{argument #1 needs a name}}
func.func @unnamed_argument(%x: tensor<2x2x8x8xf32> {pce.input = "x"}, %we: tensor<6x6xf32>, %be: tensor<6xf32> {pce.param = "be"}) -> (tensor<2x4x6x4x4xf32> {pce.output = "patches"}) attributes {pce.differentiable} {
  %p = pce.patchify %x patch [4, 4] : tensor<2x2x8x8xf32>
  return %p : tensor<2x4x6x4x4xf32>
}

// -----

// expected-error @below {{result #0 needs a name}}
func.func @unnamed_result(%x: tensor<2x2x8x8xf32> {pce.input = "x"}) -> tensor<2x4x6x4x4xf32> attributes {pce.differentiable} {
  %p = pce.patchify %x patch [4, 4] : tensor<2x2x8x8xf32>
  return %p : tensor<2x4x6x4x4xf32>
}

// -----

// The argmax is saved in the element type, which must hold every index of a
// core exactly: f16 holds integers up to 2048, a 64x64 core has 4096.
func.func @argmax_too_wide(%p: tensor<1x1x5x64x64xf16> {pce.input = "patches"}, %we: tensor<2x5xf16> {pce.param = "we"}, %be: tensor<2xf16> {pce.param = "be"}) -> (tensor<1x1x2xf16> {pce.output = "emb"}) attributes {pce.differentiable} {
  // expected-error @below {{patch cores of 4096 pixels have argmax indices that 'f16' cannot hold exactly}}
  // expected-error @below {{cannot build the training forward of this op}}
  %e = pce.embed %p, %we, %be levels [1] : tensor<1x1x5x64x64xf16>, tensor<2x5xf16>, tensor<2xf16>
  return %e : tensor<1x1x2xf16>
}
