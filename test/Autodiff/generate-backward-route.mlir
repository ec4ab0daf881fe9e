// RUN: pce-opt %s --pce-generate-backward | FileCheck %s
// RUN: pce-opt %s --pce-generate-backward --pce-lower-to-linalg | FileCheck %s --check-prefix=LOWERED
//
// The training forward and the adjoint of pce.route (passes/Autodiff/AdjointRoute.cpp):
// noise inputs, saved values and gradients of every router kind.

// The generated functions lower like the original ones: no pce op remains.
// LOWERED-NOT: pce.route
// LOWERED: func.func @gumbel_backward(
// LOWERED-NOT: pce.route

// A uniform router reads nothing trainable: its training forward is the op,
// and no argument receives a gradient.
// CHECK-LABEL: func.func @uniform_train(
// CHECK-SAME: %[[X:.*]]: tensor<2x3x5xf32> {pce.input = "emb"})
// CHECK-SAME: -> (tensor<2x3x4xf32> {pce.output = "w"}, tensor<2x3x4xf32> {pce.output = "saved.0"})
// CHECK: pce.route uniform %[[X]] experts 4
// CHECK-LABEL: func.func @uniform_backward(
// CHECK-SAME: {pce.input = "grad.w"}) {
// CHECK-NEXT: return{{$}}
func.func @uniform(%x: tensor<2x3x5xf32> {pce.input = "emb"})
    -> (tensor<2x3x4xf32> {pce.output = "w"}) attributes {pce.differentiable} {
  %w = pce.route uniform %x experts 4 : tensor<2x3x5xf32>
  return %w : tensor<2x3x4xf32>
}

// A position router with sigma > 0 reads a normal noise input: the logits
// are the constant beta * onehot(table[p]) plus sigma * xi.
// CHECK-LABEL: func.func @position_train(
// CHECK-SAME: %{{.*}}: tensor<2x3x5xf32> {pce.input = "emb"}, %[[XI:.*]]: tensor<2x3x4xf32> {pce.input = "noise.0.normal"})
// CHECK-NOT: pce.route
// CHECK: %[[ONEHOT:.*]] = arith.constant dense<{{\[\[}}0.000000e+00, 2.000000e+00, 0.000000e+00, 0.000000e+00], [0.000000e+00, 0.000000e+00, 0.000000e+00, 2.000000e+00], [2.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00]]> : tensor<3x4xf32>
// CHECK: linalg.generic {{.*}} ins(%[[ONEHOT]], %[[XI]] : tensor<3x4xf32>, tensor<2x3x4xf32>)
// CHECK: arith.constant 5.000000e-01 : f32
// CHECK: math.exp
// CHECK-LABEL: func.func @position_backward(
// CHECK-NOT: noise
// CHECK-SAME: {pce.input = "grad.w"}) {
// CHECK-NEXT: return{{$}}
func.func @position(%x: tensor<2x3x5xf32> {pce.input = "emb"})
    -> (tensor<2x3x4xf32> {pce.output = "w"}) attributes {pce.differentiable} {
  %w = pce.route position %x experts 4 table [1, 3, 0] beta 2.000000e+00 sigma 5.000000e-01 : tensor<2x3x5xf32>
  return %w : tensor<2x3x4xf32>
}

// Without noise (sigma = 0) the training forward is the inference op.
// CHECK-LABEL: func.func @position_quiet_train(
// CHECK-NOT: noise
// CHECK-SAME: {
// CHECK-NEXT: pce.route position
func.func @position_quiet(%x: tensor<2x3x5xf32> {pce.input = "emb"})
    -> (tensor<2x3x4xf32> {pce.output = "w"}) attributes {pce.differentiable} {
  %w = pce.route position %x experts 4 : tensor<2x3x5xf32>
  return %w : tensor<2x3x4xf32>
}

// Dense cosine router: the weights (also the softmax the gradient flows
// through), the logits and the two squared norms are saved.
// CHECK-LABEL: func.func @cosine_train(
// CHECK-SAME: %{{.*}}: tensor<2x3x5xf32> {pce.input = "emb"}, %{{.*}}: tensor<4x5xf32> {pce.param = "keys"})
// CHECK-SAME: -> (tensor<2x3x4xf32> {pce.output = "w"}, tensor<2x3x4xf32> {pce.output = "saved.0"}, tensor<2x3x4xf32> {pce.output = "saved.1"}, tensor<2x3xf32> {pce.output = "saved.2"}, tensor<4xf32> {pce.output = "saved.3"})
// CHECK-NOT: pce.route
// CHECK: arith.constant 5.000000e-01 : f32
// The softmax's exponentials, then their normalisation.
// CHECK: math.exp
// CHECK: %[[W:.*]] = linalg.generic {{.*}} ins(%{{.*}}, %{{.*}} : tensor<2x3x4xf32>, tensor<2x3xf32>)
// CHECK-NEXT: ^bb0
// CHECK-NEXT: arith.divf
// CHECK: return %[[W]], %[[W]], %{{.*}}, %{{.*}}, %{{.*}} :
// CHECK-LABEL: func.func @cosine_backward(
// CHECK-SAME: %[[X:[^:]*]]: tensor<2x3x5xf32> {pce.input = "emb"}, %[[K:[^:]*]]: tensor<4x5xf32> {pce.param = "keys"}, %[[SOFT:[^:]*]]: tensor<2x3x4xf32> {pce.input = "saved.0"}, %[[L:[^:]*]]: tensor<2x3x4xf32> {pce.input = "saved.1"}, %[[ESQ:[^:]*]]: tensor<2x3xf32> {pce.input = "saved.2"}, %[[KSQ:[^:]*]]: tensor<4xf32> {pce.input = "saved.3"}, %[[G:[^:]*]]: tensor<2x3x4xf32> {pce.input = "grad.w"})
// CHECK-SAME: -> (tensor<2x3x5xf32> {pce.output = "grad.emb"}, tensor<4x5xf32> {pce.output = "grad.keys"})
// The softmax: soft * (g - <g, soft>).
// CHECK: %[[DOT:.*]] = linalg.generic {{.*}} ins(%[[G]], %[[SOFT]] :
// CHECK: %[[GL:.*]] = linalg.generic {{.*}} ins(%[[G]], %[[SOFT]], %[[DOT]] :
// CHECK: arith.subf
// CHECK: arith.mulf
// The floor 1e-12 of |emb| |k_e|, as the forward computes it.
// CHECK: linalg.generic {{.*}} ins(%[[GL]], %[[L]], %[[ESQ]], %[[KSQ]] :
// CHECK: arith.cmpf olt
// CHECK: arith.maximumf
// CHECK: %[[GX:.*]] = linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%{{.*}}, %[[K]], %{{.*}}, %[[X]] : {{.*}}) outs(%{{.*}} : tensor<2x3x5xf32>)
// CHECK: %[[GK:.*]] = linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "reduction", "reduction"]} ins(%{{.*}}, %[[X]], %{{.*}}, %[[K]] : {{.*}}) outs(%{{.*}} : tensor<4x5xf32>)
// CHECK: return %[[GX]], %[[GK]] : tensor<2x3x5xf32>, tensor<4x5xf32>
func.func @cosine(%x: tensor<2x3x5xf32> {pce.input = "emb"}, %k: tensor<4x5xf32> {pce.param = "keys"})
    -> (tensor<2x3x4xf32> {pce.output = "w"}) attributes {pce.differentiable} {
  %w = pce.route cosine %x keys(%k : tensor<4x5xf32>) tau 5.000000e-01 : tensor<2x3x5xf32>
  return %w : tensor<2x3x4xf32>
}

// Top-2 with renormalisation and a learnable temperature, in f64: the top-k
// mask and the kept weights' sum are saved too, and log_tau gets a 0-d
// gradient.
// CHECK-LABEL: func.func @cosine_top2_train(
// CHECK-SAME: %{{.*}}: tensor<f64> {pce.param = "log_tau"})
// CHECK-SAME: -> (tensor<2x3x4xf64> {pce.output = "w"}, tensor<2x3x4xf64> {pce.output = "saved.0"}, tensor<2x3x4xf64> {pce.output = "saved.1"}, tensor<2x3x4xf64> {pce.output = "saved.2"}, tensor<2x3xf64> {pce.output = "saved.3"}, tensor<4xf64> {pce.output = "saved.4"}, tensor<2x3x4xf64> {pce.output = "saved.5"}, tensor<2x3xf64> {pce.output = "saved.6"})
// The rank of each weight: ties go to the lower expert.
// CHECK: %[[RANK:.*]] = linalg.generic {{.*}} outs(%{{.*}} : tensor<2x3x4xi64>)
// CHECK: arith.cmpi ult
// CHECK: %[[MASK:.*]] = linalg.generic {{.*}} ins(%[[RANK]] : tensor<2x3x4xi64>) outs(%{{.*}} : tensor<2x3x4xf64>)
// CHECK: arith.constant 2 : i64
// CHECK: arith.cmpi slt
// CHECK: %[[KEPT:.*]] = linalg.generic {{.*}} ins(%{{.*}}, %[[MASK]] :
// CHECK: %[[SUM:.*]] = linalg.generic {{.*}} ins(%[[KEPT]] : tensor<2x3x4xf64>) outs(%{{.*}} : tensor<2x3xf64>)
// CHECK: %[[W:.*]] = linalg.generic {{.*}} ins(%[[KEPT]], %[[SUM]] :
// CHECK: return %[[W]], %[[W]], %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %[[MASK]], %[[SUM]] :
// CHECK-LABEL: func.func @cosine_top2_backward(
// CHECK-SAME: %[[T:[^:]*]]: tensor<f64> {pce.param = "log_tau"}, %[[OUT:[^:]*]]: tensor<2x3x4xf64> {pce.input = "saved.0"}, %[[SOFT:[^:]*]]: tensor<2x3x4xf64> {pce.input = "saved.1"}, %[[L:[^:]*]]: tensor<2x3x4xf64> {pce.input = "saved.2"}
// CHECK-SAME: %[[MASK:[^:]*]]: tensor<2x3x4xf64> {pce.input = "saved.5"}, %[[SUM:[^:]*]]: tensor<2x3xf64> {pce.input = "saved.6"}, %[[G:[^:]*]]: tensor<2x3x4xf64> {pce.input = "grad.w"})
// CHECK-SAME: -> (tensor<2x3x5xf64> {pce.output = "grad.emb"}, tensor<4x5xf64> {pce.output = "grad.keys"}, tensor<f64> {pce.output = "grad.log_tau"})
// Through the renormalised top-k: mask * (g - <g, out>) / sum.
// CHECK: %[[DOT:.*]] = linalg.generic {{.*}} ins(%[[G]], %[[OUT]] :
// CHECK: %[[GW:.*]] = linalg.generic {{.*}} ins(%[[G]], %[[MASK]], %[[DOT]], %[[SUM]] :
// CHECK: %[[GL:.*]] = linalg.generic {{.*}} ins(%[[GW]], %[[SOFT]], %{{.*}} :
// tau = exp(log_tau) in the gradient of the cosine.
// CHECK: linalg.generic {{.*}} ins(%[[GL]], %[[L]], %{{.*}}, %{{.*}}, %[[T]] :
// CHECK: math.exp
// d L / d log_tau = -sum g * l.
// CHECK: %[[GT:.*]] = linalg.generic {{.*}} iterator_types = ["reduction", "reduction", "reduction"]} ins(%[[GL]], %[[L]] : tensor<2x3x4xf64>, tensor<2x3x4xf64>) outs(%{{.*}} : tensor<f64>)
// CHECK: arith.subf
// CHECK: return %{{.*}}, %{{.*}}, %[[GT]] : tensor<2x3x5xf64>, tensor<4x5xf64>, tensor<f64>
func.func @cosine_top2(%x: tensor<2x3x5xf64> {pce.input = "emb"}, %k: tensor<4x5xf64> {pce.param = "keys"}, %t: tensor<f64> {pce.param = "log_tau"})
    -> (tensor<2x3x4xf64> {pce.output = "w"}) attributes {pce.differentiable} {
  %w = pce.route cosine %x keys(%k : tensor<4x5xf64>) log_tau(%t : tensor<f64>) top_k 2 renormalize : tensor<2x3x5xf64>
  return %w : tensor<2x3x4xf64>
}

// MLP router with top-1: the ReLU activations are saved; every operand gets
// a gradient, in operand order.
// CHECK-LABEL: func.func @mlp_train(
// CHECK-SAME: -> (tensor<2x3x4xf32> {pce.output = "w"}, tensor<2x3x4xf32> {pce.output = "saved.0"}, tensor<2x3x4xf32> {pce.output = "saved.1"}, tensor<2x3x6xf32> {pce.output = "saved.2"}, tensor<2x3x4xf32> {pce.output = "saved.3"})
// CHECK: %[[H:.*]] = linalg.generic {{.*}} outs(%{{.*}} : tensor<2x3x6xf32>)
// CHECK: arith.maximumf
// CHECK-LABEL: func.func @mlp_backward(
// CHECK-SAME: %[[X:[^:]*]]: tensor<2x3x5xf32> {pce.input = "emb"}, %[[W1:[^:]*]]: tensor<6x5xf32> {pce.param = "w1"}, %{{[^:]*}}: tensor<6xf32> {pce.param = "b1"}, %[[W2:[^:]*]]: tensor<4x6xf32> {pce.param = "w2"}
// CHECK-SAME: %[[H:[^:]*]]: tensor<2x3x6xf32> {pce.input = "saved.2"}, %[[MASK:[^:]*]]: tensor<2x3x4xf32> {pce.input = "saved.3"}, %[[G:[^:]*]]: tensor<2x3x4xf32> {pce.input = "grad.w"})
// CHECK-SAME: -> (tensor<2x3x5xf32> {pce.output = "grad.emb"}, tensor<6x5xf32> {pce.output = "grad.w1"}, tensor<6xf32> {pce.output = "grad.b1"}, tensor<4x6xf32> {pce.output = "grad.w2"}, tensor<4xf32> {pce.output = "grad.b2"})
// Without renormalisation the kept weights pass their gradient unchanged.
// CHECK: %[[GW:.*]] = linalg.generic {{.*}} ins(%[[G]], %[[MASK]] :
// CHECK: %[[GB2:.*]] = linalg.generic {{.*}} outs(%{{.*}} : tensor<4xf32>)
// CHECK: %[[GW2:.*]] = linalg.generic {{.*}} ins(%{{.*}}, %[[H]] : {{.*}}) outs(%{{.*}} : tensor<4x6xf32>)
// The ReLU passes the gradient where its output is positive.
// CHECK: %[[GH:.*]] = linalg.generic {{.*}} ins(%{{.*}}, %[[W2]], %[[H]] : {{.*}}) outs(%{{.*}} : tensor<2x3x6xf32>)
// CHECK: arith.cmpf ogt
// CHECK: arith.select
// CHECK: %[[GB1:.*]] = linalg.generic {{.*}} ins(%[[GH]] : tensor<2x3x6xf32>) outs(%{{.*}} : tensor<6xf32>)
// CHECK: %[[GW1:.*]] = linalg.generic {{.*}} ins(%[[GH]], %[[X]] : {{.*}}) outs(%{{.*}} : tensor<6x5xf32>)
// CHECK: %[[GX:.*]] = linalg.generic {{.*}} ins(%[[GH]], %[[W1]] : {{.*}}) outs(%{{.*}} : tensor<2x3x5xf32>)
// CHECK: return %[[GX]], %[[GW1]], %[[GB1]], %[[GW2]], %[[GB2]] :
func.func @mlp(%x: tensor<2x3x5xf32> {pce.input = "emb"}, %w1: tensor<6x5xf32> {pce.param = "w1"}, %b1: tensor<6xf32> {pce.param = "b1"}, %w2: tensor<4x6xf32> {pce.param = "w2"}, %b2: tensor<4xf32> {pce.param = "b2"})
    -> (tensor<2x3x4xf32> {pce.output = "w"}) attributes {pce.differentiable} {
  %w = pce.route mlp %x mlp(%w1, %b1, %w2, %b2 : tensor<6x5xf32>, tensor<6xf32>, tensor<4x6xf32>, tensor<4xf32>) top_k 1 : tensor<2x3x5xf32>
  return %w : tensor<2x3x4xf32>
}

// MLP router reading unit embeddings: the squared norms are saved too; the
// adjoint recomputes the unit rows u, feeds them to W1's gradient and takes
// the embeddings' gradient through them: (g - u <g, u>) / max(|emb|, 1e-12).
// CHECK-LABEL: func.func @mlp_unit_train(
// CHECK-SAME: -> (tensor<2x3x4xf32> {pce.output = "w"}, tensor<2x3x4xf32> {pce.output = "saved.0"}, tensor<2x3xf32> {pce.output = "saved.1"}, tensor<2x3x6xf32> {pce.output = "saved.2"})
// CHECK-LABEL: func.func @mlp_unit_backward(
// CHECK-SAME: %[[X:[^:]*]]: tensor<2x3x5xf32> {pce.input = "emb"}
// CHECK-SAME: %[[SQ:[^:]*]]: tensor<2x3xf32> {pce.input = "saved.1"}
// CHECK: %[[U:.*]] = linalg.generic {{.*}} ins(%[[X]], %[[SQ]] : tensor<2x3x5xf32>, tensor<2x3xf32>)
// CHECK: %[[GW1:.*]] = linalg.generic {{.*}} ins(%[[GH:[^,]*]], %[[U]] : {{.*}}) outs(%{{.*}} : tensor<6x5xf32>)
// CHECK: %[[GU:.*]] = linalg.generic {{.*}} ins(%[[GH]], %{{.*}} : {{.*}}) outs(%{{.*}} : tensor<2x3x5xf32>)
// CHECK: %[[DOT:.*]] = linalg.generic {{.*}} ins(%[[GU]], %[[U]] : {{.*}}) outs(%{{.*}} : tensor<2x3xf32>)
// CHECK: %[[GX:.*]] = linalg.generic {{.*}} ins(%[[GU]], %[[U]], %[[DOT]], %[[SQ]] : {{.*}}) outs(%{{.*}} : tensor<2x3x5xf32>)
// CHECK:   math.sqrt
// CHECK:   arith.cmpf olt
// CHECK:   arith.select
// CHECK:   arith.maximumf
// CHECK:   arith.divf
// CHECK: return %[[GX]], %[[GW1]],
func.func @mlp_unit(%x: tensor<2x3x5xf32> {pce.input = "emb"}, %w1: tensor<6x5xf32> {pce.param = "w1"}, %b1: tensor<6xf32> {pce.param = "b1"}, %w2: tensor<4x6xf32> {pce.param = "w2"}, %b2: tensor<4xf32> {pce.param = "b2"})
    -> (tensor<2x3x4xf32> {pce.output = "w"}) attributes {pce.differentiable} {
  %w = pce.route mlp %x mlp(%w1, %b1, %w2, %b2 : tensor<6x5xf32>, tensor<6xf32>, tensor<4x6xf32>, tensor<4xf32>) normalize_input : tensor<2x3x5xf32>
  return %w : tensor<2x3x4xf32>
}

// MLP router with a cosine head and a learnable temperature: the head's
// logits cos(h, W2_e) / exp(log_tau), the hidden features and both squared
// norms are saved; the adjoint is the cosine router's with h for the
// embeddings and W2 for the keys (W2's and log_tau's gradients), then the
// ReLU's gate (hidden > 0) and the first layer's.
// CHECK-LABEL: func.func @mlp_head_train(
// CHECK-SAME: -> (tensor<2x3x4xf32> {pce.output = "w"}, tensor<2x3x4xf32> {pce.output = "saved.0"}, tensor<2x3x4xf32> {pce.output = "saved.1"}, tensor<2x3x4xf32> {pce.output = "saved.2"}, tensor<2x3x6xf32> {pce.output = "saved.3"}, tensor<2x3xf32> {pce.output = "saved.4"}, tensor<4xf32> {pce.output = "saved.5"}, tensor<2x3x4xf32> {pce.output = "saved.6"})
// CHECK-LABEL: func.func @mlp_head_backward(
// CHECK-SAME: %[[X:[^:]*]]: tensor<2x3x5xf32> {pce.input = "emb"}
// CHECK-SAME: %[[W2:[^:]*]]: tensor<4x6xf32> {pce.param = "w2"}
// CHECK-SAME: %[[T:[^:]*]]: tensor<f32> {pce.param = "log_tau"}
// CHECK-SAME: %[[L:[^:]*]]: tensor<2x3x4xf32> {pce.input = "saved.2"}
// CHECK-SAME: %[[H:[^:]*]]: tensor<2x3x6xf32> {pce.input = "saved.3"}
// CHECK-SAME: %[[HSQ:[^:]*]]: tensor<2x3xf32> {pce.input = "saved.4"}
// CHECK-SAME: %[[KSQ:[^:]*]]: tensor<4xf32> {pce.input = "saved.5"}
// CHECK: %[[DIRECT:.*]] = linalg.generic {{.*}} ins(%[[GL:[^,]*]], %[[L]], %[[HSQ]], %[[KSQ]], %[[T]] : {{.*}})
// CHECK: %[[GH:.*]] = linalg.generic {{.*}} ins(%[[DIRECT]], %[[W2]], %{{.*}}, %[[H]] : {{.*}}) outs(%{{.*}} : tensor<2x3x6xf32>)
// CHECK: %[[GW2:.*]] = linalg.generic {{.*}} ins(%[[DIRECT]], %[[H]], %{{.*}}, %[[W2]] : {{.*}}) outs(%{{.*}} : tensor<4x6xf32>)
// CHECK: %[[GT:.*]] = linalg.generic {{.*}} ins(%[[GL]], %[[L]] : {{.*}}) outs(%{{.*}} : tensor<f32>)
// CHECK: %[[GPRE:.*]] = linalg.generic {{.*}} ins(%[[GH]], %[[H]] : tensor<2x3x6xf32>, tensor<2x3x6xf32>)
// CHECK:   arith.cmpf ogt
// CHECK:   arith.select
// CHECK: %[[GB1:.*]] = linalg.generic {{.*}} ins(%[[GPRE]] : tensor<2x3x6xf32>) outs(%{{.*}} : tensor<6xf32>)
// CHECK: %[[GW1:.*]] = linalg.generic {{.*}} ins(%[[GPRE]], %[[X]] : {{.*}}) outs(%{{.*}} : tensor<6x5xf32>)
// CHECK: %[[GX:.*]] = linalg.generic {{.*}} ins(%[[GPRE]], %{{.*}} : {{.*}}) outs(%{{.*}} : tensor<2x3x5xf32>)
// CHECK: return %[[GX]], %[[GW1]], %[[GB1]], %[[GW2]], %[[GT]] :
func.func @mlp_head(%x: tensor<2x3x5xf32> {pce.input = "emb"}, %w1: tensor<6x5xf32> {pce.param = "w1"}, %b1: tensor<6xf32> {pce.param = "b1"}, %w2: tensor<4x6xf32> {pce.param = "w2"}, %t: tensor<f32> {pce.param = "log_tau"})
    -> (tensor<2x3x4xf32> {pce.output = "w"}) attributes {pce.differentiable} {
  %w = pce.route mlp %x mlp(%w1, %b1, %w2 : tensor<6x5xf32>, tensor<6xf32>, tensor<4x6xf32>) log_tau(%t : tensor<f32>) top_k 1 cosine_head : tensor<2x3x5xf32>
  return %w : tensor<2x3x4xf32>
}

// MLP with a cosine head over a linear hidden layer (X-MoE's router): the
// same adjoint without the ReLU's gate (no comparison with 0 anywhere).
// CHECK-LABEL: func.func @mlp_xmoe_backward(
// CHECK-NOT: arith.cmpf ogt
// CHECK: return
func.func @mlp_xmoe(%x: tensor<2x3x5xf32> {pce.input = "emb"}, %w1: tensor<6x5xf32> {pce.param = "w1"}, %b1: tensor<6xf32> {pce.param = "b1"}, %w2: tensor<4x6xf32> {pce.param = "w2"})
    -> (tensor<2x3x4xf32> {pce.output = "w"}) attributes {pce.differentiable} {
  %w = pce.route mlp %x mlp(%w1, %b1, %w2 : tensor<6x5xf32>, tensor<6xf32>, tensor<4x6xf32>) tau 0.5 cosine_head linear_hidden : tensor<2x3x5xf32>
  return %w : tensor<2x3x4xf32>
}

// Gumbel router, hard: softmax((l + g) / gumbel_tau) is saved, the result
// is the one-hot of its argmax (straight-through), and the adjoint scales the
// softmax's gradient by 1 / gumbel_tau.
// CHECK-LABEL: func.func @gumbel_train(
// CHECK-SAME: %[[NOISE:[^:]*]]: tensor<2x3x4xf32> {pce.input = "noise.0.gumbel"})
// CHECK-SAME: -> (tensor<2x3x4xf32> {pce.output = "w"}, tensor<2x3x4xf32> {pce.output = "saved.0"}, tensor<2x3x4xf32> {pce.output = "saved.1"}, tensor<2x3x4xf32> {pce.output = "saved.2"}, tensor<2x3xf32> {pce.output = "saved.3"}, tensor<4xf32> {pce.output = "saved.4"})
// CHECK: %[[Z:.*]] = linalg.generic {{.*}} ins(%{{.*}}, %[[NOISE]] :
// CHECK: arith.constant 5.000000e-01 : f32
// CHECK: arith.addf
// CHECK: arith.divf
// CHECK: math.exp
// CHECK: %[[SOFT:.*]] = linalg.generic {{.*}} ins(%{{.*}}, %{{.*}} : tensor<2x3x4xf32>, tensor<2x3xf32>)
// CHECK: %[[RANK:.*]] = linalg.generic {{.*}} ins(%[[SOFT]], %[[SOFT]] :
// CHECK: %[[HARD:.*]] = linalg.generic {{.*}} ins(%[[RANK]] :
// CHECK: arith.constant 1 : i64
// CHECK: return %[[HARD]], %[[HARD]], %[[SOFT]], %{{.*}}, %{{.*}}, %{{.*}} :
// CHECK-LABEL: func.func @gumbel_backward(
// CHECK-SAME: %[[SOFT:[^:]*]]: tensor<2x3x4xf32> {pce.input = "saved.1"}
// CHECK-SAME: %[[G:[^:]*]]: tensor<2x3x4xf32> {pce.input = "grad.w"})
// CHECK-SAME: -> (tensor<2x3x5xf32> {pce.output = "grad.emb"}, tensor<4x5xf32> {pce.output = "grad.keys"})
// CHECK: %[[DOT:.*]] = linalg.generic {{.*}} ins(%[[G]], %[[SOFT]] :
// CHECK: linalg.generic {{.*}} ins(%[[G]], %[[SOFT]], %[[DOT]] :
// CHECK: arith.constant 2.000000e+00 : f32
func.func @gumbel(%x: tensor<2x3x5xf32> {pce.input = "emb"}, %k: tensor<4x5xf32> {pce.param = "keys"})
    -> (tensor<2x3x4xf32> {pce.output = "w"}) attributes {pce.differentiable} {
  %w = pce.route gumbel %x keys(%k : tensor<4x5xf32>) gumbel_tau 5.000000e-01 hard : tensor<2x3x5xf32>
  return %w : tensor<2x3x4xf32>
}

// Functions without pce.differentiable are left alone.
// CHECK-LABEL: func.func @not_differentiable(
// CHECK-NEXT: pce.route gumbel
// CHECK-NEXT: return
// CHECK-NOT: @not_differentiable_train
// CHECK-NOT: @not_differentiable_backward
func.func @not_differentiable(%x: tensor<2x3x5xf32> {pce.input = "emb"}, %k: tensor<4x5xf32> {pce.param = "keys"})
    -> (tensor<2x3x4xf32> {pce.output = "w"}) {
  %w = pce.route gumbel %x keys(%k : tensor<4x5xf32>) hard : tensor<2x3x5xf32>
  return %w : tensor<2x3x4xf32>
}
