// RUN: pce-opt %s --pce-generate-backward | FileCheck %s
// RUN: pce-opt %s --pce-generate-backward=routed-convolutions=false | FileCheck %s --check-prefix=DENSE
//
// The training forwards and adjoints of pce.experts, pce.mix and
// pce.attention (passes/Autodiff/AdjointExperts.cpp, passes/Autodiff/AdjointMix.cpp).

// Experts alone, bn: batch statistics over every patch, reported as
// batch.<running statistic>; the adjoint saves xhat and 1/sqrt(var + eps),
// and differentiates the convolution as two convolutions.
// CHECK-LABEL: func.func @experts_train(
// CHECK-SAME: -> (tensor<2x3x2x4x4x4xf32> {pce.output = "y"}, tensor<2x4xf32> {pce.output = "batch.rm"}, tensor<2x4xf32> {pce.output = "batch.rv"}, tensor<2x3x2x4x4x4xf32> {pce.output = "saved.0"}, tensor<2x3x2x4x4x4xf32> {pce.output = "saved.1"}, tensor<2x4xf32> {pce.output = "saved.2"})
// CHECK-NOT: pce.experts
// CHECK: linalg.conv_2d_nchw_fchw ins(%{{.*}}, %{{.*}} : tensor<6x5x6x6xf32>, tensor<8x5x3x3xf32>) outs(%{{.*}} : tensor<6x8x4x4xf32>)
// The count of a dense expert is every (patch, pixel): 2*3*4*4.
// CHECK: arith.constant 9.600000e+01 : f32
// CHECK: math.sqrt
// CHECK: arith.maximumf
// CHECK-LABEL: func.func @experts_backward(
// CHECK-SAME: %{{[^:]*}}: tensor<2x3x2x4x4x4xf32> {pce.input = "saved.0"}, %{{[^:]*}}: tensor<2x3x2x4x4x4xf32> {pce.input = "saved.1"}, %{{[^:]*}}: tensor<2x4xf32> {pce.input = "saved.2"}, %{{[^:]*}}: tensor<2x3x2x4x4x4xf32> {pce.input = "grad.y"})
// CHECK-SAME: -> (tensor<2x3x5x6x6xf32> {pce.output = "grad.patches"}, tensor<2x4x5x3x3xf32> {pce.output = "grad.k"}, tensor<2x4xf32> {pce.output = "grad.gamma"}, tensor<2x4xf32> {pce.output = "grad.beta"})
// The input gradient: the output gradient padded by k-1 = 2 on each side,
// convolved with the flipped kernels, channels swapped.
// CHECK: %[[PAD:.*]] = tensor.insert_slice %{{.*}} into %{{.*}}[0, 0, 2, 2] [6, 8, 4, 4] [1, 1, 1, 1] : tensor<6x8x4x4xf32> into tensor<6x8x8x8xf32>
// CHECK: linalg.conv_2d_nchw_fchw ins(%[[PAD]], %{{.*}} : tensor<6x8x8x8xf32>, tensor<5x8x3x3xf32>) outs(%{{.*}} : tensor<6x5x6x6xf32>)
// The kernel gradient: the patches with images as channels against the
// output gradient.
// CHECK: linalg.transpose ins(%{{.*}} : tensor<6x8x4x4xf32>) outs(%{{.*}} : tensor<8x6x4x4xf32>) permutation = [1, 0, 2, 3]
// CHECK: linalg.transpose ins(%{{.*}} : tensor<6x5x6x6xf32>) outs(%{{.*}} : tensor<5x6x6x6xf32>) permutation = [1, 0, 2, 3]
// CHECK: linalg.conv_2d_nchw_fchw ins(%{{.*}}, %{{.*}} : tensor<5x6x6x6xf32>, tensor<8x6x4x4xf32>) outs(%{{.*}} : tensor<5x8x3x3xf32>)
// CHECK: linalg.transpose ins(%{{.*}} : tensor<5x8x3x3xf32>) outs(%{{.*}} : tensor<8x5x3x3xf32>) permutation = [1, 0, 2, 3]
// CHECK: return
func.func @experts(%p: tensor<2x3x5x6x6xf32> {pce.input = "patches"},
                   %k: tensor<2x4x5x3x3xf32> {pce.param = "k"},
                   %g: tensor<2x4xf32> {pce.param = "gamma"}, %b: tensor<2x4xf32> {pce.param = "beta"},
                   %m: tensor<2x4xf32> {pce.param = "rm"}, %v: tensor<2x4xf32> {pce.param = "rv"})
    -> (tensor<2x3x2x4x4x4xf32> {pce.output = "y"}) attributes {pce.differentiable} {
  %y = pce.experts %p, %k bn(%g, %b, %m, %v : tensor<2x4xf32>, tensor<2x4xf32>, tensor<2x4xf32>, tensor<2x4xf32>)
         : tensor<2x3x5x6x6xf32>, tensor<2x4x5x3x3xf32>
  return %y : tensor<2x3x2x4x4x4xf32>
}

// Affine experts train as they infer; the adjoint saves the convolution.
// Running statistics that are not named parameters are not reported.
// CHECK-LABEL: func.func @affine_train(
// CHECK-SAME: -> (tensor<1x2x2x3x3x3xf64> {pce.output = "y"}, tensor<1x2x2x3x3x3xf64> {pce.output = "saved.0"}, tensor<1x2x2x3x3x3xf64> {pce.output = "saved.1"})
// CHECK-NOT: batch.
// CHECK-LABEL: func.func @affine_backward(
// CHECK-SAME: -> (tensor<1x2x4x3x3xf64> {pce.output = "grad.patches"}, tensor<2x3x4x1x1xf64> {pce.output = "grad.k"}, tensor<2x3xf64> {pce.output = "grad.scale"}, tensor<2x3xf64> {pce.output = "grad.shift"})
// A 1x1 kernel needs no padding.
// CHECK-NOT: tensor.insert_slice
// CHECK: linalg.conv_2d_nchw_fchw ins(%{{.*}}, %{{.*}} : tensor<2x6x3x3xf64>, tensor<4x6x1x1xf64>) outs(%{{.*}} : tensor<2x4x3x3xf64>)
func.func @affine(%p: tensor<1x2x4x3x3xf64> {pce.input = "patches"},
                  %k: tensor<2x3x4x1x1xf64> {pce.param = "k"},
                  %s: tensor<2x3xf64> {pce.param = "scale"}, %t: tensor<2x3xf64> {pce.param = "shift"})
    -> (tensor<1x2x2x3x3x3xf64> {pce.output = "y"}) attributes {pce.differentiable} {
  %y = pce.experts %p, %k affine(%s, %t : tensor<2x3xf64>, tensor<2x3xf64>) : tensor<1x2x4x3x3xf64>, tensor<2x3x4x1x1xf64>
  return %y : tensor<1x2x2x3x3x3xf64>
}

// Under a top-1 router the statistics cover the routed patches (w != 0):
// the count per expert and the share m / n of each routed patch, which the
// adjoint reads, come from the mask.
// CHECK-LABEL: func.func @routed_train(
// CHECK-SAME: {pce.output = "out"}, tensor<2x4xf32> {pce.output = "batch.rm"}, tensor<2x4xf32> {pce.output = "batch.rv"}
// CHECK-SAME: tensor<2x3x2xf32> {pce.output = "saved.{{[0-9]+}}"}, tensor<2x3x4x4x4xf32> {pce.output = "saved.{{[0-9]+}}"})
// CHECK: %[[W:.*]] = pce.route position
// Only the routed (patch, expert) pairs are convolved: one patch with one
// expert's kernels where w != 0, over the 6 patches and 2 experts.
// CHECK: scf.for {{.*}} -> (tensor<6x2x4x4x4xf32>)
// CHECK: scf.for
// CHECK: arith.cmpf une
// CHECK: scf.if
// CHECK: linalg.conv_2d_nchw_fchw ins(%{{.*}}, %{{.*}} : tensor<1x5x6x6xf32>, tensor<4x5x3x3xf32>) outs(%{{.*}} : tensor<1x4x4x4xf32>)
// CHECK: %[[MASK:.*]] = linalg.generic {{.*}} ins(%[[W]] : tensor<2x3x2xf32>)
// CHECK: arith.cmpf une
// CHECK: %[[COUNT:.*]] = linalg.generic {{.*}} iterator_types = ["reduction", "reduction", "parallel"]} ins(%[[MASK]] : tensor<2x3x2xf32>) outs(%{{.*}} : tensor<2xf32>)
// CHECK: linalg.generic {{.*}} ins(%{{.*}}, %[[MASK]] : tensor<2x3x2x4x4x4xf32>, tensor<2x3x2xf32>)
// An expert that no patch chose keeps its running statistics.
// CHECK: arith.cmpf ogt
// CHECK: arith.select
// CHECK: linalg.generic {{.*}} ins(%[[MASK]], %[[COUNT]] : tensor<2x3x2xf32>, tensor<2xf32>) outs(%{{.*}} : tensor<2x3x2xf32>)
// CHECK: pce.mix sum %[[W]]
// CHECK-LABEL: func.func @routed_backward(
// CHECK-SAME: -> (tensor<2x3x5x6x6xf32> {pce.output = "grad.patches"}, tensor<2x4x5x3x3xf32> {pce.output = "grad.k"}, tensor<2x4xf32> {pce.output = "grad.gamma"}, tensor<2x4xf32> {pce.output = "grad.beta"})
// So do the adjoint convolutions: the patches' gradient (the padded gradient
// with the flipped kernels), then the kernels' (transposed back at the end).
// CHECK: scf.if
// CHECK: linalg.conv_2d_nchw_fchw ins(%{{.*}}, %{{.*}} : tensor<1x4x8x8xf32>, tensor<5x4x3x3xf32>) outs(%{{.*}} : tensor<1x5x6x6xf32>)
// CHECK: scf.if
// CHECK: linalg.conv_2d_nchw_fchw ins(%{{.*}}, %{{.*}} : tensor<5x1x6x6xf32>, tensor<4x1x4x4xf32>) outs(%{{.*}} : tensor<5x4x3x3xf32>)
// CHECK: linalg.transpose {{.*}} permutation = [0, 2, 1, 3, 4]
// CHECK: return
// With routed-convolutions=false every pair is convolved, in one
// convolution over all patches, forward and backward; the statistics keep
// their mask.
// DENSE-LABEL: func.func @routed_train(
// DENSE-NOT: scf.if
// DENSE: linalg.conv_2d_nchw_fchw ins(%{{.*}}, %{{.*}} : tensor<6x5x6x6xf32>, tensor<8x5x3x3xf32>)
// DENSE: arith.cmpf une
// DENSE-LABEL: func.func @routed_backward(
// DENSE-NOT: scf.if
// DENSE: return
func.func @routed(%p: tensor<2x3x5x6x6xf32> {pce.input = "patches"},
                  %k: tensor<2x4x5x3x3xf32> {pce.param = "k"},
                  %g: tensor<2x4xf32> {pce.param = "gamma"}, %b: tensor<2x4xf32> {pce.param = "beta"},
                  %m: tensor<2x4xf32> {pce.param = "rm"}, %v: tensor<2x4xf32> {pce.param = "rv"})
    -> (tensor<2x3x4x4x4xf32> {pce.output = "out"}) attributes {pce.differentiable} {
  %w = pce.route position %p experts 2 top_k 1 : tensor<2x3x5x6x6xf32>
  %y = pce.experts %p, %k bn(%g, %b, %m, %v : tensor<2x4xf32>, tensor<2x4xf32>, tensor<2x4xf32>, tensor<2x4xf32>)
         : tensor<2x3x5x6x6xf32>, tensor<2x4x5x3x3xf32>
  %o = pce.mix sum %w, %y : tensor<2x3x2xf32>, tensor<2x3x2x4x4x4xf32>
  return %o : tensor<2x3x4x4x4xf32>
}

// Experts read by more than the mix: their outputs at unrouted pairs are
// visible, so every pair is convolved (one convolution over all patches);
// the statistics still cover the routed patches only.
// CHECK-LABEL: func.func @routed_shared_train(
// CHECK-NOT: scf.if
// CHECK: linalg.conv_2d_nchw_fchw ins(%{{.*}}, %{{.*}} : tensor<6x5x6x6xf32>, tensor<8x5x3x3xf32>)
// CHECK: arith.cmpf une
// CHECK-LABEL: func.func @routed_shared_backward(
// CHECK-NOT: scf.if
// CHECK: return
func.func @routed_shared(%p: tensor<2x3x5x6x6xf32> {pce.input = "patches"},
                  %k: tensor<2x4x5x3x3xf32> {pce.param = "k"},
                  %g: tensor<2x4xf32> {pce.param = "gamma"}, %b: tensor<2x4xf32> {pce.param = "beta"},
                  %m: tensor<2x4xf32> {pce.param = "rm"}, %v: tensor<2x4xf32> {pce.param = "rv"})
    -> (tensor<2x3x4x4x4xf32> {pce.output = "out"}, tensor<2x3x2x4x4x4xf32> {pce.output = "y"}) attributes {pce.differentiable} {
  %w = pce.route position %p experts 2 top_k 1 : tensor<2x3x5x6x6xf32>
  %y = pce.experts %p, %k bn(%g, %b, %m, %v : tensor<2x4xf32>, tensor<2x4xf32>, tensor<2x4xf32>, tensor<2x4xf32>)
         : tensor<2x3x5x6x6xf32>, tensor<2x4x5x3x3xf32>
  %o = pce.mix sum %w, %y : tensor<2x3x2xf32>, tensor<2x3x2x4x4x4xf32>
  return %o, %y : tensor<2x3x4x4x4xf32>, tensor<2x3x2x4x4x4xf32>
}

// Dense weights (not from a top-k router): every patch counts, no mask.
// CHECK-LABEL: func.func @dense_mix_train(
// CHECK-SAME: -> (tensor<2x3x4x4x4xf32> {pce.output = "out"}, tensor<2x4xf32> {pce.output = "batch.rm"}, tensor<2x4xf32> {pce.output = "batch.rv"}, tensor<2x3x2x4x4x4xf32> {pce.output = "saved.0"}, tensor<2x3x2x4x4x4xf32> {pce.output = "saved.1"}, tensor<2x4xf32> {pce.output = "saved.2"}, tensor<2x3x4x4x4xf32> {pce.output = "saved.3"})
// CHECK-NOT: arith.cmpf une
// CHECK: pce.mix sum
// CHECK-LABEL: func.func @dense_mix_backward(
// CHECK-SAME: -> (tensor<2x3x5x6x6xf32> {pce.output = "grad.patches"}, tensor<2x3x2xf32> {pce.output = "grad.w"}, tensor<2x4x5x3x3xf32> {pce.output = "grad.k"}, tensor<2x4xf32> {pce.output = "grad.gamma"}, tensor<2x4xf32> {pce.output = "grad.beta"})
func.func @dense_mix(%p: tensor<2x3x5x6x6xf32> {pce.input = "patches"}, %w: tensor<2x3x2xf32> {pce.input = "w"},
                     %k: tensor<2x4x5x3x3xf32> {pce.param = "k"},
                     %g: tensor<2x4xf32> {pce.param = "gamma"}, %b: tensor<2x4xf32> {pce.param = "beta"},
                     %m: tensor<2x4xf32> {pce.param = "rm"}, %v: tensor<2x4xf32> {pce.param = "rv"})
    -> (tensor<2x3x4x4x4xf32> {pce.output = "out"}) attributes {pce.differentiable} {
  %y = pce.experts %p, %k bn(%g, %b, %m, %v : tensor<2x4xf32>, tensor<2x4xf32>, tensor<2x4xf32>, tensor<2x4xf32>)
         : tensor<2x3x5x6x6xf32>, tensor<2x4x5x3x3xf32>
  %o = pce.mix sum %w, %y : tensor<2x3x2xf32>, tensor<2x3x2x4x4x4xf32>
  return %o : tensor<2x3x4x4x4xf32>
}

// Mix concat trains as it infers; its adjoint reads only its operands.
// CHECK-LABEL: func.func @concat_train(
// CHECK-SAME: -> (tensor<2x3x5x4x4xf64> {pce.output = "out"}, tensor<2x3x5x4x4xf64> {pce.output = "saved.0"})
// CHECK: pce.mix concat
// CHECK-LABEL: func.func @concat_backward(
// CHECK-SAME: -> (tensor<2x3x2xf64> {pce.output = "grad.w"}, tensor<2x3x2x4x4x4xf64> {pce.output = "grad.y"}, tensor<5x8xf64> {pce.output = "grad.wc"}, tensor<5xf64> {pce.output = "grad.bc"})
// The gradient of w*y: a 1x1 convolution of the output gradient with Wc's
// transpose as filters.
// CHECK: linalg.transpose ins(%{{.*}} : tensor<5x8xf64>) outs(%{{.*}} : tensor<8x5xf64>) permutation = [1, 0]
// CHECK: linalg.conv_2d_nchw_fchw ins(%{{.*}}, %{{.*}} : tensor<6x5x4x4xf64>, tensor<8x5x1x1xf64>) outs(%{{.*}} : tensor<6x8x4x4xf64>)
// CHECK: tensor.collapse_shape %{{.*}} {{\[}}[0], [1, 2]] : tensor<5x2x4xf64> into tensor<5x8xf64>
func.func @concat(%w: tensor<2x3x2xf64> {pce.input = "w"}, %y: tensor<2x3x2x4x4x4xf64> {pce.input = "y"},
                  %wc: tensor<5x8xf64> {pce.param = "wc"}, %bc: tensor<5xf64> {pce.param = "bc"})
    -> (tensor<2x3x5x4x4xf64> {pce.output = "out"}) attributes {pce.differentiable} {
  %o = pce.mix concat %w, %y proj(%wc, %bc : tensor<5x8xf64>, tensor<5xf64>) : tensor<2x3x2xf64>, tensor<2x3x2x4x4x4xf64>
  return %o : tensor<2x3x5x4x4xf64>
}

// Squeeze-excitation: the per-patch means, hidden layer and gate are
// recomputed from x in the backward.
// CHECK-LABEL: func.func @se_train(
// CHECK-SAME: -> (tensor<2x3x8x4x4xf32> {pce.output = "out"}, tensor<2x3x8x4x4xf32> {pce.output = "saved.0"})
// CHECK: pce.attention se
// CHECK-LABEL: func.func @se_backward(
// CHECK-SAME: %{{[^:]*}}: tensor<2x3x8x4x4xf32> {pce.input = "saved.0"}, %{{[^:]*}}: tensor<2x3x8x4x4xf32> {pce.input = "grad.out"})
// CHECK-SAME: -> (tensor<2x3x8x4x4xf32> {pce.output = "grad.x"}, tensor<2x8xf32> {pce.output = "grad.w1"}, tensor<2xf32> {pce.output = "grad.b1"}, tensor<8x2xf32> {pce.output = "grad.w2"}, tensor<8xf32> {pce.output = "grad.b2"})
// CHECK-NOT: pce.attention
// CHECK: math.exp
// CHECK: return
func.func @se(%x: tensor<2x3x8x4x4xf32> {pce.input = "x"},
              %w1: tensor<2x8xf32> {pce.param = "w1"}, %b1: tensor<2xf32> {pce.param = "b1"},
              %w2: tensor<8x2xf32> {pce.param = "w2"}, %b2: tensor<8xf32> {pce.param = "b2"})
    -> (tensor<2x3x8x4x4xf32> {pce.output = "out"}) attributes {pce.differentiable} {
  %a = pce.attention se %x weights(%w1, %b1, %w2, %b2 : tensor<2x8xf32>, tensor<2xf32>, tensor<8x2xf32>, tensor<8xf32>)
         : tensor<2x3x8x4x4xf32>
  return %a : tensor<2x3x8x4x4xf32>
}

// Attention none is the identity: its gradient passes through.
// CHECK-LABEL: func.func @none_backward(
// CHECK-SAME: %[[G:[^:]*]]: tensor<1x2x3x2x2xf32> {pce.input = "grad.out"})
// CHECK-NEXT: return %[[G]]
func.func @none(%x: tensor<1x2x3x2x2xf32> {pce.input = "x"}) -> (tensor<1x2x3x2x2xf32> {pce.output = "out"})
    attributes {pce.differentiable} {
  %a = pce.attention none %x : tensor<1x2x3x2x2xf32>
  return %a : tensor<1x2x3x2x2xf32>
}
