// RUN: pce-opt %s -pce-lower-to-linalg | FileCheck %s
//
// pce.experts, pce.mix and pce.attention become linalg / tensor / arith /
// math on tensors, inference semantics (SEMANTICS.md §4, Reference.md).

// CHECK-DAG: #[[$ID2:.*]] = affine_map<(d0, d1) -> (d0, d1)>
// CHECK-DAG: #[[$ID6:.*]] = affine_map<(d0, d1, d2, d3, d4, d5) -> (d0, d1, d2, d3, d4, d5)>
// CHECK-DAG: #[[$FILTER:.*]] = affine_map<(d0, d1, d2, d3, d4, d5) -> (d2, d3)>
// CHECK-DAG: #[[$SUM_W:.*]] = affine_map<(d0, d1, d2, d3, d4, d5) -> (d0, d1, d5)>
// CHECK-DAG: #[[$SUM_Y:.*]] = affine_map<(d0, d1, d2, d3, d4, d5) -> (d0, d1, d5, d2, d3, d4)>
// CHECK-DAG: #[[$SUM_OUT:.*]] = affine_map<(d0, d1, d2, d3, d4, d5) -> (d0, d1, d2, d3, d4)>
// CHECK-DAG: #[[$BPE6:.*]] = affine_map<(d0, d1, d2, d3, d4, d5) -> (d0, d1, d2)>
// CHECK-DAG: #[[$ID5:.*]] = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d2, d3, d4)>
// CHECK-DAG: #[[$BPC5:.*]] = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d2)>

// experts with bn: one NCHW convolution over N = B*P images and E*Co
// filters, expanded back; BN folded into scale/shift from the operands; one
// elementwise pass for scale, shift and relu.
// CHECK-LABEL: func.func @experts_bn
// CHECK-SAME: (%[[P:[^:]*]]: tensor<2x3x5x6x7xf32>, %[[K:[^:]*]]: tensor<4x2x5x3x3xf32>, %[[G:[^:]*]]: tensor<4x2xf32>, %[[B:[^:]*]]: tensor<4x2xf32>, %[[M:[^:]*]]: tensor<4x2xf32>, %[[V:[^:]*]]: tensor<4x2xf32>)
// CHECK: %[[IMAGES:.*]] = tensor.collapse_shape %[[P]] {{\[}}[0, 1], [2], [3], [4]] : tensor<2x3x5x6x7xf32> into tensor<6x5x6x7xf32>
// CHECK: %[[FILTERS:.*]] = tensor.collapse_shape %[[K]] {{\[}}[0, 1], [2], [3], [4]] : tensor<4x2x5x3x3xf32> into tensor<8x5x3x3xf32>
// CHECK: %[[ZERO:.*]] = arith.constant 0.000000e+00 : f32
// CHECK: %[[INIT:.*]] = linalg.fill ins(%[[ZERO]] : f32) outs(%{{.*}} : tensor<6x8x4x5xf32>)
// CHECK: %[[CONV:.*]] = linalg.conv_2d_nchw_fchw ins(%[[IMAGES]], %[[FILTERS]] : tensor<6x5x6x7xf32>, tensor<8x5x3x3xf32>) outs(%[[INIT]] : tensor<6x8x4x5xf32>)
// CHECK: %[[Y:.*]] = tensor.expand_shape %[[CONV]] {{\[}}[0, 1], [2, 3], [4], [5]] output_shape [2, 3, 4, 2, 4, 5] : tensor<6x8x4x5xf32> into tensor<2x3x4x2x4x5xf32>
// CHECK: %[[SCALE:.*]] = linalg.generic {indexing_maps = [#[[$ID2]], #[[$ID2]], #[[$ID2]]], {{.*}} ins(%[[G]], %[[V]] :
// CHECK: ^bb0(%[[GV:.*]]: f32, %[[VV:.*]]: f32, %{{.*}}: f32):
// CHECK:   %[[EPS:.*]] = arith.constant 1.000000e-03 : f32
// CHECK:   %[[VE:.*]] = arith.addf %[[VV]], %[[EPS]] : f32
// CHECK:   %[[STD:.*]] = math.sqrt %[[VE]] : f32
// CHECK:   arith.divf %[[GV]], %[[STD]] : f32
// CHECK: %[[SHIFT:.*]] = linalg.generic {{.*}} ins(%[[B]], %[[M]], %[[SCALE]] :
// CHECK: ^bb0(%[[BV:.*]]: f32, %[[MV:.*]]: f32, %[[SV:.*]]: f32, %{{.*}}: f32):
// CHECK:   %[[MS:.*]] = arith.mulf %[[MV]], %[[SV]] : f32
// CHECK:   arith.subf %[[BV]], %[[MS]] : f32
// CHECK: %[[OUT:.*]] = linalg.generic {indexing_maps = [#[[$ID6]], #[[$FILTER]], #[[$FILTER]], #[[$ID6]]], iterator_types = ["parallel", "parallel", "parallel", "parallel", "parallel", "parallel"]} ins(%[[Y]], %[[SCALE]], %[[SHIFT]] :
// CHECK: ^bb0(%[[X:.*]]: f32, %[[S:.*]]: f32, %[[T:.*]]: f32, %{{.*}}: f32):
// CHECK:   %[[XS:.*]] = arith.mulf %[[S]], %[[X]] : f32
// CHECK:   %[[XST:.*]] = arith.addf %[[XS]], %[[T]] : f32
// CHECK:   %[[Z:.*]] = arith.constant 0.000000e+00 : f32
// CHECK:   arith.maximumf %[[XST]], %[[Z]] : f32
// CHECK: return %[[OUT]]
func.func @experts_bn(%p: tensor<2x3x5x6x7xf32>, %k: tensor<4x2x5x3x3xf32>, %g: tensor<4x2xf32>, %b: tensor<4x2xf32>, %m: tensor<4x2xf32>, %v: tensor<4x2xf32>) -> tensor<2x3x4x2x4x5xf32> {
  %y = pce.experts %p, %k bn(%g, %b, %m, %v : tensor<4x2xf32>, tensor<4x2xf32>, tensor<4x2xf32>, tensor<4x2xf32>) eps 1.0e-3 : tensor<2x3x5x6x7xf32>, tensor<4x2x5x3x3xf32>
  return %y : tensor<2x3x4x2x4x5xf32>
}

// The default eps is 1e-5, in the element type.
// CHECK-LABEL: func.func @experts_bn_f64
// CHECK: linalg.conv_2d_nchw_fchw {{.*}} -> tensor<6x8x4x5xf64>
// CHECK: arith.constant 1.000000e-05 : f64
func.func @experts_bn_f64(%p: tensor<2x3x5x6x7xf64>, %k: tensor<4x2x5x3x3xf64>, %s: tensor<4x2xf64>) -> tensor<2x3x4x2x4x5xf64> {
  %y = pce.experts %p, %k bn(%s, %s, %s, %s : tensor<4x2xf64>, tensor<4x2xf64>, tensor<4x2xf64>, tensor<4x2xf64>) : tensor<2x3x5x6x7xf64>, tensor<4x2x5x3x3xf64>
  return %y : tensor<2x3x4x2x4x5xf64>
}

// experts with affine: scale and shift are used as they are.
// CHECK-LABEL: func.func @experts_affine_f64
// CHECK-SAME: %[[SC:[^:]*]]: tensor<4x2xf64>, %[[SH:[^:]*]]: tensor<4x2xf64>)
// CHECK: %[[CONV:.*]] = linalg.conv_2d_nchw_fchw ins(%{{.*}}, %{{.*}} : tensor<6x5x6x7xf64>, tensor<8x5x3x3xf64>) outs(%{{.*}} : tensor<6x8x4x5xf64>)
// CHECK: %[[Y:.*]] = tensor.expand_shape %[[CONV]]
// CHECK-NOT: math.sqrt
// CHECK: linalg.generic {indexing_maps = [#[[$ID6]], #[[$FILTER]], #[[$FILTER]], #[[$ID6]]], {{.*}} ins(%[[Y]], %[[SC]], %[[SH]] : tensor<2x3x4x2x4x5xf64>, tensor<4x2xf64>, tensor<4x2xf64>)
// CHECK:   arith.mulf {{.*}} : f64
// CHECK:   arith.addf {{.*}} : f64
// CHECK:   arith.constant 0.000000e+00 : f64
// CHECK:   arith.maximumf {{.*}} : f64
func.func @experts_affine_f64(%p: tensor<2x3x5x6x7xf64>, %k: tensor<4x2x5x3x3xf64>, %s: tensor<4x2xf64>, %t: tensor<4x2xf64>) -> tensor<2x3x4x2x4x5xf64> {
  %y = pce.experts %p, %k affine(%s, %t : tensor<4x2xf64>, tensor<4x2xf64>) : tensor<2x3x5x6x7xf64>, tensor<4x2x5x3x3xf64>
  return %y : tensor<2x3x4x2x4x5xf64>
}

// k = 1 experts keep the patch size.
// CHECK-LABEL: func.func @experts_affine_1x1
// CHECK: linalg.conv_2d_nchw_fchw ins(%{{.*}}, %{{.*}} : tensor<6x5x6x7xf32>, tensor<8x5x1x1xf32>) outs(%{{.*}} : tensor<6x8x6x7xf32>)
func.func @experts_affine_1x1(%p: tensor<2x3x5x6x7xf32>, %k: tensor<4x2x5x1x1xf32>, %s: tensor<4x2xf32>, %t: tensor<4x2xf32>) -> tensor<2x3x4x2x6x7xf32> {
  %y = pce.experts %p, %k affine(%s, %t : tensor<4x2xf32>, tensor<4x2xf32>) : tensor<2x3x5x6x7xf32>, tensor<4x2x5x1x1xf32>
  return %y : tensor<2x3x4x2x6x7xf32>
}

// mix sum: a reduction over e of w[b,p,e] * y[b,p,e,c,i,j], from zero.
// CHECK-LABEL: func.func @mix_sum
// CHECK-SAME: (%[[W:[^:]*]]: tensor<2x3x4xf32>, %[[Y:[^:]*]]: tensor<2x3x4x2x4x5xf32>)
// CHECK: %[[INIT:.*]] = linalg.fill ins(%{{.*}} : f32) outs(%{{.*}} : tensor<2x3x2x4x5xf32>)
// CHECK: %[[OUT:.*]] = linalg.generic {indexing_maps = [#[[$SUM_W]], #[[$SUM_Y]], #[[$SUM_OUT]]], iterator_types = ["parallel", "parallel", "parallel", "parallel", "parallel", "reduction"]} ins(%[[W]], %[[Y]] : tensor<2x3x4xf32>, tensor<2x3x4x2x4x5xf32>) outs(%[[INIT]] : tensor<2x3x2x4x5xf32>)
// CHECK: ^bb0(%[[WV:.*]]: f32, %[[YV:.*]]: f32, %[[ACC:.*]]: f32):
// CHECK:   %[[T:.*]] = arith.mulf %[[WV]], %[[YV]] : f32
// CHECK:   arith.addf %[[ACC]], %[[T]] : f32
// CHECK: return %[[OUT]]
func.func @mix_sum(%w: tensor<2x3x4xf32>, %y: tensor<2x3x4x2x4x5xf32>) -> tensor<2x3x2x4x5xf32> {
  %m = pce.mix sum %w, %y : tensor<2x3x4xf32>, tensor<2x3x4x2x4x5xf32>
  return %m : tensor<2x3x2x4x5xf32>
}

// mix concat: z = w * y in one elementwise pass, then one 1x1 convolution
// over N = B*P images of E*Co channels (channel e*Co + c is channel c of
// expert e) with Wc [Co', E*Co] as filters, bc broadcast into the
// accumulator.
// CHECK-LABEL: func.func @mix_concat
// CHECK-SAME: (%[[W:[^:]*]]: tensor<2x3x4xf32>, %[[Y:[^:]*]]: tensor<2x3x4x2x4x5xf32>, %[[WC:[^:]*]]: tensor<6x8xf32>, %[[BC:[^:]*]]: tensor<6xf32>)
// CHECK: %[[Z:.*]] = linalg.generic {indexing_maps = [#[[$BPE6]], #[[$ID6]], #[[$ID6]]], iterator_types = ["parallel", "parallel", "parallel", "parallel", "parallel", "parallel"]} ins(%[[W]], %[[Y]] : tensor<2x3x4xf32>, tensor<2x3x4x2x4x5xf32>)
// CHECK:   arith.mulf
// CHECK: %[[IMAGES:.*]] = tensor.collapse_shape %[[Z]] {{\[}}[0, 1], [2, 3], [4], [5]] : tensor<2x3x4x2x4x5xf32> into tensor<6x8x4x5xf32>
// CHECK: %[[INIT:.*]] = linalg.broadcast ins(%[[BC]] : tensor<6xf32>) outs(%{{.*}} : tensor<6x6x4x5xf32>) dimensions = [0, 2, 3]
// CHECK: %[[FILTERS:.*]] = tensor.expand_shape %[[WC]] {{\[}}[0], [1, 2, 3]] output_shape [6, 8, 1, 1] : tensor<6x8xf32> into tensor<6x8x1x1xf32>
// CHECK: %[[CONV:.*]] = linalg.conv_2d_nchw_fchw ins(%[[IMAGES]], %[[FILTERS]] : tensor<6x8x4x5xf32>, tensor<6x8x1x1xf32>) outs(%[[INIT]] : tensor<6x6x4x5xf32>)
// CHECK: %[[OUT:.*]] = tensor.expand_shape %[[CONV]] {{\[}}[0, 1], [2], [3], [4]] output_shape [2, 3, 6, 4, 5]
// CHECK: return %[[OUT]]
func.func @mix_concat(%w: tensor<2x3x4xf32>, %y: tensor<2x3x4x2x4x5xf32>, %wc: tensor<6x8xf32>, %bc: tensor<6xf32>) -> tensor<2x3x6x4x5xf32> {
  %m = pce.mix concat %w, %y proj(%wc, %bc : tensor<6x8xf32>, tensor<6xf32>) : tensor<2x3x4xf32>, tensor<2x3x4x2x4x5xf32>
  return %m : tensor<2x3x6x4x5xf32>
}

// CHECK-LABEL: func.func @mix_concat_f64
// CHECK: linalg.conv_2d_nchw_fchw ins(%{{.*}}, %{{.*}} : tensor<6x8x4x5xf64>, tensor<6x8x1x1xf64>) outs(%{{.*}} : tensor<6x6x4x5xf64>)
func.func @mix_concat_f64(%w: tensor<2x3x4xf64>, %y: tensor<2x3x4x2x4x5xf64>, %wc: tensor<6x8xf64>, %bc: tensor<6xf64>) -> tensor<2x3x6x4x5xf64> {
  %m = pce.mix concat %w, %y proj(%wc, %bc : tensor<6x8xf64>, tensor<6xf64>) : tensor<2x3x4xf64>, tensor<2x3x4x2x4x5xf64>
  return %m : tensor<2x3x6x4x5xf64>
}

// attention se, per patch: channel means over the patch's pixels, two dense
// layers (relu, then sigmoid), the gate broadcast over (i, j).
// CHECK-LABEL: func.func @attention_se
// CHECK-SAME: (%[[X:[^:]*]]: tensor<2x3x6x4x5xf32>, %[[W1:[^:]*]]: tensor<2x6xf32>, %[[B1:[^:]*]]: tensor<2xf32>, %[[W2:[^:]*]]: tensor<6x2xf32>, %[[B2:[^:]*]]: tensor<6xf32>)
// CHECK: %[[SUM:.*]] = linalg.generic {indexing_maps = [#[[$ID5]], #[[$BPC5]]], iterator_types = ["parallel", "parallel", "parallel", "reduction", "reduction"]} ins(%[[X]] : tensor<2x3x6x4x5xf32>) outs(%{{.*}} : tensor<2x3x6xf32>)
// CHECK: %[[MEAN:.*]] = linalg.generic {{.*}} ins(%[[SUM]] : tensor<2x3x6xf32>)
// CHECK:   %[[N:.*]] = arith.constant 2.000000e+01 : f32
// CHECK:   arith.divf %{{.*}}, %[[N]] : f32
// CHECK: %[[ACC1:.*]] = linalg.broadcast ins(%[[B1]] : tensor<2xf32>) outs(%{{.*}} : tensor<2x3x2xf32>) dimensions = [0, 1]
// CHECK: %[[H:.*]] = linalg.generic {{.*}} ins(%[[MEAN]], %[[W1]] : tensor<2x3x6xf32>, tensor<2x6xf32>) outs(%[[ACC1]] : tensor<2x3x2xf32>)
// CHECK: %[[RELU:.*]] = linalg.generic {{.*}} ins(%[[H]] : tensor<2x3x2xf32>)
// CHECK:   arith.maximumf
// CHECK: %[[ACC2:.*]] = linalg.broadcast ins(%[[B2]] : tensor<6xf32>) outs(%{{.*}} : tensor<2x3x6xf32>) dimensions = [0, 1]
// CHECK: %[[LOGIT:.*]] = linalg.generic {{.*}} ins(%[[RELU]], %[[W2]] : tensor<2x3x2xf32>, tensor<6x2xf32>) outs(%[[ACC2]] : tensor<2x3x6xf32>)
// CHECK: %[[OUT:.*]] = linalg.generic {indexing_maps = [#[[$ID5]], #[[$BPC5]], #[[$ID5]]], {{.*}} ins(%[[X]], %[[LOGIT]] : tensor<2x3x6x4x5xf32>, tensor<2x3x6xf32>)
// CHECK: ^bb0(%[[XV:.*]]: f32, %[[LV:.*]]: f32, %{{.*}}: f32):
// CHECK:   %[[ONE:.*]] = arith.constant 1.000000e+00 : f32
// CHECK:   %[[NEG:.*]] = arith.negf %[[LV]] : f32
// CHECK:   %[[EXP:.*]] = math.exp %[[NEG]] : f32
// CHECK:   %[[DEN:.*]] = arith.addf %[[ONE]], %[[EXP]] : f32
// CHECK:   %[[GATE:.*]] = arith.divf %[[ONE]], %[[DEN]] : f32
// CHECK:   arith.mulf %[[XV]], %[[GATE]] : f32
// CHECK: return %[[OUT]]
func.func @attention_se(%x: tensor<2x3x6x4x5xf32>, %w1: tensor<2x6xf32>, %b1: tensor<2xf32>, %w2: tensor<6x2xf32>, %b2: tensor<6xf32>) -> tensor<2x3x6x4x5xf32> {
  %a = pce.attention se %x weights(%w1, %b1, %w2, %b2 : tensor<2x6xf32>, tensor<2xf32>, tensor<6x2xf32>, tensor<6xf32>) : tensor<2x3x6x4x5xf32>
  return %a : tensor<2x3x6x4x5xf32>
}

// attention none is the identity.
// CHECK-LABEL: func.func @attention_none
// CHECK-SAME: (%[[X:[^:]*]]: tensor<2x3x6x4x5xf32>)
// CHECK-NEXT: return %[[X]]
func.func @attention_none(%x: tensor<2x3x6x4x5xf32>) -> tensor<2x3x6x4x5xf32> {
  %a = pce.attention none %x : tensor<2x3x6x4x5xf32>
  return %a : tensor<2x3x6x4x5xf32>
}

// A chain of the three ops leaves no pce op behind; other ops are kept.
// CHECK-LABEL: func.func @chain
// CHECK-NOT: pce.
// CHECK: linalg.conv_2d_nchw_fchw
// CHECK-NOT: pce.
// CHECK: %[[R:.*]] = arith.addf %{{.*}}, %{{.*}} : tensor<2x3x2x4x5xf32>
// CHECK-NEXT: return %[[R]]
func.func @chain(%w: tensor<2x3x4xf32>, %p: tensor<2x3x5x6x7xf32>, %k: tensor<4x2x5x3x3xf32>, %s: tensor<4x2xf32>,
                 %w1: tensor<1x2xf32>, %b1: tensor<1xf32>, %w2: tensor<2x1xf32>, %b2: tensor<2xf32>) -> tensor<2x3x2x4x5xf32> {
  %y = pce.experts %p, %k affine(%s, %s : tensor<4x2xf32>, tensor<4x2xf32>) : tensor<2x3x5x6x7xf32>, tensor<4x2x5x3x3xf32>
  %m = pce.mix sum %w, %y : tensor<2x3x4xf32>, tensor<2x3x4x2x4x5xf32>
  %a = pce.attention se %m weights(%w1, %b1, %w2, %b2 : tensor<1x2xf32>, tensor<1xf32>, tensor<2x1xf32>, tensor<2xf32>) : tensor<2x3x2x4x5xf32>
  %r = arith.addf %a, %m : tensor<2x3x2x4x5xf32>
  return %r : tensor<2x3x2x4x5xf32>
}
