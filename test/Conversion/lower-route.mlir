// RUN: pce-opt %s -pce-lower-to-linalg | FileCheck %s
//
// pce.route becomes linalg / tensor / arith / math on tensors, inference
// semantics (SEMANTICS.md §3). The numbers themselves are checked end to end
// against NumPy elsewhere; here the structure: which reductions, which
// constants, in which element type.

// CHECK-DAG: #[[$BPE:.*]] = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
// CHECK-DAG: #[[$BP:.*]] = affine_map<(d0, d1, d2) -> (d0, d1)>
// CHECK-DAG: #[[$E:.*]] = affine_map<(d0, d1, d2) -> (d2)>
// CHECK-DAG: #[[$SCALAR:.*]] = affine_map<(d0, d1, d2) -> ()>
// CHECK-DAG: #[[$X_BPK:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d3)>
// CHECK-DAG: #[[$W_OK:.*]] = affine_map<(d0, d1, d2, d3) -> (d2, d3)>
// CHECK-DAG: #[[$OUT_BPO:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>

// uniform is the constant 1/E whatever it routes (here the rank-5 patches).
// CHECK-LABEL: func.func @uniform
// CHECK: 2.500000e-01
// CHECK-NOT: pce.
// CHECK: return
func.func @uniform(%p: tensor<2x3x5x9x9xf32>) -> tensor<2x3x4xf32> {
  %w = pce.route uniform %p experts 4 : tensor<2x3x5x9x9xf32>
  return %w : tensor<2x3x4xf32>
}

// position: softmax(beta * onehot(p mod E)) depends only on p: a constant
// [P, E] (beta = 1: e/(e+3) on the chosen expert, 1/(e+3) elsewhere)
// broadcast over the batch. The routed input is not read.
// CHECK-LABEL: func.func @position_default
// CHECK: %[[T:.*]] = arith.constant dense<{{\[}}[0.475{{[0-9]*}}, 0.174{{[0-9]*}}, 0.174{{[0-9]*}}, 0.174{{[0-9]*}}], [0.174{{[0-9]*}}, 0.475{{[0-9]*}}, 0.174{{[0-9]*}}, 0.174{{[0-9]*}}], [0.174{{[0-9]*}}, 0.174{{[0-9]*}}, 0.475{{[0-9]*}}, 0.174{{[0-9]*}}]]> : tensor<3x4xf32>
// CHECK: %[[EMPTY:.*]] = tensor.empty() : tensor<2x3x4xf32>
// CHECK: %[[W:.*]] = linalg.broadcast ins(%[[T]] : tensor<3x4xf32>) outs(%[[EMPTY]] : tensor<2x3x4xf32>) dimensions = [0]
// CHECK: return %[[W]]
func.func @position_default(%e: tensor<2x3x6xf32>) -> tensor<2x3x4xf32> {
  %w = pce.route position %e experts 4 : tensor<2x3x6xf32>
  return %w : tensor<2x3x4xf32>
}

// An explicit table and beta, in f64: rows follow the table [3, 0, 3];
// softmax of logits {2, 0, 0, 0}.
// CHECK-LABEL: func.func @position_table_f64
// CHECK: arith.constant dense<{{\[}}[0.0962{{[0-9]*}}, 0.0962{{[0-9]*}}, 0.0962{{[0-9]*}}, 0.711{{[0-9]*}}], [0.711{{[0-9]*}}, 0.0962{{[0-9]*}}, 0.0962{{[0-9]*}}, 0.0962{{[0-9]*}}], [0.0962{{[0-9]*}}, 0.0962{{[0-9]*}}, 0.0962{{[0-9]*}}, 0.711{{[0-9]*}}]]> : tensor<3x4xf64>
// CHECK: linalg.broadcast {{.*}} outs({{.*}} : tensor<2x3x4xf64>) dimensions = [0]
func.func @position_table_f64(%p: tensor<2x3x5x4x4xf64>) -> tensor<2x3x4xf64> {
  %w = pce.route position %p experts 4 table [3, 0, 3] beta 2.0 : tensor<2x3x5x4x4xf64>
  return %w : tensor<2x3x4xf64>
}

// cosine: dot products, squared norms of the embeddings and of the keys,
// s = dot / max(|emb| |k|, 1e-12) / tau, then a stable softmax over E.
// CHECK-LABEL: func.func @cosine
// CHECK-SAME: (%[[EMB:.*]]: tensor<2x3x6xf32>, %[[KEYS:.*]]: tensor<4x6xf32>)
// CHECK: %[[DOT:.*]] = linalg.generic {indexing_maps = [#[[$X_BPK]], #[[$W_OK]], #[[$OUT_BPO]]], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%[[EMB]], %[[KEYS]] : tensor<2x3x6xf32>, tensor<4x6xf32>)
// CHECK:   arith.mulf
// CHECK:   arith.addf
// CHECK: %[[EMBSQ:.*]] = linalg.generic {{.*}} ins(%[[EMB]] : tensor<2x3x6xf32>) outs({{.*}} : tensor<2x3xf32>)
// CHECK: %[[KEYSQ:.*]] = linalg.generic {{.*}} ins(%[[KEYS]] : tensor<4x6xf32>) outs({{.*}} : tensor<4xf32>)
// CHECK: %[[S:.*]] = linalg.generic {indexing_maps = [#[[$BPE]], #[[$BP]], #[[$E]], #[[$BPE]]], iterator_types = ["parallel", "parallel", "parallel"]} ins(%[[DOT]], %[[EMBSQ]], %[[KEYSQ]] :
// CHECK:   math.sqrt
// CHECK:   math.sqrt
// CHECK:   arith.mulf
// CHECK:   %[[FLOOR:.*]] = arith.constant 9.99999996E-13 : f32
// CHECK:   arith.maximumf %{{.*}}, %[[FLOOR]] : f32
// CHECK:   arith.divf
// CHECK:   %[[TAU:.*]] = arith.constant 5.000000e-01 : f32
// CHECK:   arith.divf %{{.*}}, %[[TAU]] : f32
// Softmax: row max from -inf, exp(s - max), row sum, divide.
// CHECK: %[[NEGINF:.*]] = arith.constant 0xFF800000 : f32
// CHECK: %[[MAXINIT:.*]] = linalg.fill ins(%[[NEGINF]] : f32) outs(%{{.*}} : tensor<2x3xf32>)
// CHECK: %[[MAX:.*]] = linalg.generic {indexing_maps = [#[[$BPE]], #[[$BP]]], iterator_types = ["parallel", "parallel", "reduction"]} ins(%[[S]] : tensor<2x3x4xf32>) outs(%[[MAXINIT]] : tensor<2x3xf32>)
// CHECK:   arith.maximumf
// CHECK: %[[EXP:.*]] = linalg.generic {{.*}} ins(%[[S]], %[[MAX]] :
// CHECK:   arith.subf
// CHECK:   math.exp
// CHECK: %[[SUM:.*]] = linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "reduction"]} ins(%[[EXP]] :
// CHECK:   arith.addf
// CHECK: %[[W:.*]] = linalg.generic {{.*}} ins(%[[EXP]], %[[SUM]] :
// CHECK:   arith.divf
// CHECK: return %[[W]]
func.func @cosine(%e: tensor<2x3x6xf32>, %k: tensor<4x6xf32>) -> tensor<2x3x4xf32> {
  %w = pce.route cosine %e keys(%k : tensor<4x6xf32>) tau 0.5 : tensor<2x3x6xf32>
  return %w : tensor<2x3x4xf32>
}

// The cosine router without tau divides by 1.
// CHECK-LABEL: func.func @cosine_default_tau
// CHECK: arith.constant 1.000000e+00 : f32
// CHECK: math.exp
func.func @cosine_default_tau(%e: tensor<2x3x6xf32>, %k: tensor<4x6xf32>) -> tensor<2x3x4xf32> {
  %w = pce.route cosine %e keys(%k : tensor<4x6xf32>) : tensor<2x3x6xf32>
  return %w : tensor<2x3x4xf32>
}

// gumbel at inference is the cosine router; log_tau is a 0-d operand read
// through an empty map and exponentiated.
// CHECK-LABEL: func.func @gumbel_log_tau
// CHECK-SAME: %[[LT:[^:]*]]: tensor<f64>)
// CHECK: linalg.generic {indexing_maps = [#[[$BPE]], #[[$BP]], #[[$E]], #[[$SCALAR]], #[[$BPE]]], {{.*}} ins({{.*}}, %[[LT]] : tensor<2x3x4xf64>, tensor<2x3xf64>, tensor<4xf64>, tensor<f64>)
// CHECK: ^bb0(%{{.*}}: f64, %{{.*}}: f64, %{{.*}}: f64, %[[LTV:.*]]: f64, %{{.*}}: f64):
// CHECK:   arith.constant 9.9999999999999998E-13 : f64
// CHECK:   %[[TAU:.*]] = math.exp %[[LTV]] : f64
// CHECK:   arith.divf %{{.*}}, %[[TAU]] : f64
// CHECK: 0xFFF0000000000000
// CHECK-NOT: pce.
// CHECK: return
func.func @gumbel_log_tau(%e: tensor<2x3x6xf64>, %k: tensor<4x6xf64>, %t: tensor<f64>) -> tensor<2x3x4xf64> {
  %w = pce.route gumbel %e keys(%k : tensor<4x6xf64>) log_tau(%t : tensor<f64>) : tensor<2x3x6xf64>
  return %w : tensor<2x3x4xf64>
}

// mlp: biases broadcast into the accumulators of the two dense layers, relu
// between, softmax after.
// CHECK-LABEL: func.func @mlp
// CHECK-SAME: (%[[EMB:[^:]*]]: tensor<2x3x6xf32>, %[[W1:[^:]*]]: tensor<5x6xf32>, %[[B1:[^:]*]]: tensor<5xf32>, %[[W2:[^:]*]]: tensor<4x5xf32>, %[[B2:[^:]*]]: tensor<4xf32>)
// CHECK: %[[ACC1:.*]] = linalg.broadcast ins(%[[B1]] : tensor<5xf32>) outs(%{{.*}} : tensor<2x3x5xf32>) dimensions = [0, 1]
// CHECK: %[[H:.*]] = linalg.generic {indexing_maps = [#[[$X_BPK]], #[[$W_OK]], #[[$OUT_BPO]]], {{.*}}"reduction"]} ins(%[[EMB]], %[[W1]] : {{.*}}) outs(%[[ACC1]] : tensor<2x3x5xf32>)
// CHECK: %[[RELU:.*]] = linalg.generic {{.*}} ins(%[[H]] : tensor<2x3x5xf32>)
// CHECK:   %[[ZERO:.*]] = arith.constant 0.000000e+00 : f32
// CHECK:   arith.maximumf %{{.*}}, %[[ZERO]] : f32
// CHECK: %[[ACC2:.*]] = linalg.broadcast ins(%[[B2]] : tensor<4xf32>) outs(%{{.*}} : tensor<2x3x4xf32>) dimensions = [0, 1]
// CHECK: %[[L:.*]] = linalg.generic {{.*}} ins(%[[RELU]], %[[W2]] : {{.*}}) outs(%[[ACC2]] : tensor<2x3x4xf32>)
// CHECK: linalg.generic {{.*}} ins(%[[L]] : tensor<2x3x4xf32>)
// CHECK:   arith.maximumf
// CHECK:   math.exp
// CHECK-NOT: pce.
// CHECK: return
func.func @mlp(%e: tensor<2x3x6xf32>, %w1: tensor<5x6xf32>, %b1: tensor<5xf32>, %w2: tensor<4x5xf32>, %b2: tensor<4xf32>) -> tensor<2x3x4xf32> {
  %w = pce.route mlp %e mlp(%w1, %b1, %w2, %b2 : tensor<5x6xf32>, tensor<5xf32>, tensor<4x5xf32>, tensor<4xf32>) : tensor<2x3x6xf32>
  return %w : tensor<2x3x4xf32>
}

// mlp with normalize_input: the rows' squared norms, the unit rows
// emb / max(|emb|, 1e-12), then the same two dense layers on them.
// CHECK-LABEL: func.func @mlp_unit_input
// CHECK-SAME: (%[[EMB:[^:]*]]: tensor<2x3x6xf32>, %[[W1:[^:]*]]: tensor<5x6xf32>
// CHECK: %[[SQ:.*]] = linalg.generic {{.*}}"reduction"]} ins(%[[EMB]] : tensor<2x3x6xf32>) outs(%{{.*}} : tensor<2x3xf32>)
// CHECK: %[[UNIT:.*]] = linalg.generic {{.*}} ins(%[[EMB]], %[[SQ]] : tensor<2x3x6xf32>, tensor<2x3xf32>) outs(%{{.*}} : tensor<2x3x6xf32>)
// CHECK:   math.sqrt
// CHECK:   arith.constant 9.99999996E-13 : f32
// CHECK:   arith.maximumf
// CHECK:   arith.divf
// CHECK: linalg.generic {{.*}} ins(%[[UNIT]], %[[W1]] : {{.*}}) outs(%{{.*}} : tensor<2x3x5xf32>)
// CHECK-NOT: pce.
// CHECK: return
func.func @mlp_unit_input(%e: tensor<2x3x6xf32>, %w1: tensor<5x6xf32>, %b1: tensor<5xf32>, %w2: tensor<4x5xf32>, %b2: tensor<4xf32>) -> tensor<2x3x4xf32> {
  %w = pce.route mlp %e mlp(%w1, %b1, %w2, %b2 : tensor<5x6xf32>, tensor<5xf32>, tensor<4x5xf32>, tensor<4xf32>) normalize_input : tensor<2x3x6xf32>
  return %w : tensor<2x3x4xf32>
}

// mlp with cosine_head: the hidden layer as above, then the cosine router
// over it with W2's rows as keys (no b2, no bias accumulator): the squared
// norms of the hidden rows and of W2's rows, cos / tau, softmax.
// CHECK-LABEL: func.func @mlp_cosine_head
// CHECK-SAME: (%[[EMB:[^:]*]]: tensor<2x3x6xf32>, %[[W1:[^:]*]]: tensor<5x6xf32>, %[[B1:[^:]*]]: tensor<5xf32>, %[[W2:[^:]*]]: tensor<4x5xf32>)
// CHECK: %[[H:.*]] = linalg.generic {{.*}} ins(%[[EMB]], %[[W1]] : {{.*}})
// CHECK: %[[RELU:.*]] = linalg.generic {{.*}} ins(%[[H]] : tensor<2x3x5xf32>)
// CHECK:   arith.maximumf
// CHECK-NOT: linalg.broadcast
// CHECK: %[[DOT:.*]] = linalg.generic {{.*}} ins(%[[RELU]], %[[W2]] : {{.*}}) outs(%{{.*}} : tensor<2x3x4xf32>)
// CHECK: %[[HSQ:.*]] = linalg.generic {{.*}} ins(%[[RELU]] : tensor<2x3x5xf32>) outs(%{{.*}} : tensor<2x3xf32>)
// CHECK: %[[KSQ:.*]] = linalg.generic {{.*}} ins(%[[W2]] : tensor<4x5xf32>) outs(%{{.*}} : tensor<4xf32>)
// CHECK: %[[L:.*]] = linalg.generic {indexing_maps = [#[[$BPE]], #[[$BP]], #[[$E]], #[[$BPE]]], {{.*}} ins(%[[DOT]], %[[HSQ]], %[[KSQ]] : {{.*}})
// CHECK:   arith.constant 9.99999996E-13 : f32
// CHECK:   arith.maximumf
// CHECK:   %[[TAU:.*]] = arith.constant 2.500000e-01 : f32
// CHECK:   arith.divf %{{.*}}, %[[TAU]] : f32
// CHECK: linalg.generic {{.*}} ins(%[[L]] : tensor<2x3x4xf32>)
// CHECK:   arith.maximumf
// CHECK:   math.exp
// CHECK-NOT: pce.
// CHECK: return
func.func @mlp_cosine_head(%e: tensor<2x3x6xf32>, %w1: tensor<5x6xf32>, %b1: tensor<5xf32>, %w2: tensor<4x5xf32>) -> tensor<2x3x4xf32> {
  %w = pce.route mlp %e mlp(%w1, %b1, %w2 : tensor<5x6xf32>, tensor<5xf32>, tensor<4x5xf32>) tau 0.25 cosine_head : tensor<2x3x6xf32>
  return %w : tensor<2x3x4xf32>
}

// mlp with linear_hidden: no ReLU; the second layer reads the first one's
// result directly.
// CHECK-LABEL: func.func @mlp_linear_hidden
// CHECK-SAME: (%[[EMB:[^:]*]]: tensor<2x3x6xf32>, %[[W1:[^:]*]]: tensor<5x6xf32>, %[[B1:[^:]*]]: tensor<5xf32>, %[[W2:[^:]*]]: tensor<4x5xf32>, %[[B2:[^:]*]]: tensor<4xf32>)
// CHECK: %[[H:.*]] = linalg.generic {{.*}} ins(%[[EMB]], %[[W1]] : {{.*}})
// CHECK-NOT: arith.maximumf
// CHECK: linalg.generic {{.*}} ins(%[[H]], %[[W2]] : {{.*}}) outs(%{{.*}} : tensor<2x3x4xf32>)
// CHECK: return
func.func @mlp_linear_hidden(%e: tensor<2x3x6xf32>, %w1: tensor<5x6xf32>, %b1: tensor<5xf32>, %w2: tensor<4x5xf32>, %b2: tensor<4xf32>) -> tensor<2x3x4xf32> {
  %w = pce.route mlp %e mlp(%w1, %b1, %w2, %b2 : tensor<5x6xf32>, tensor<5xf32>, tensor<4x5xf32>, tensor<4xf32>) linear_hidden : tensor<2x3x6xf32>
  return %w : tensor<2x3x4xf32>
}

// top-k: rank(e) = #{e' : w[e'] > w[e] or (w[e'] == w[e] and e' < e)}, a
// reduction over e' into i64 counts; keep iff rank < k; renormalize divides
// by the kept sum.
// CHECK-LABEL: func.func @top2_renormalize
// CHECK: %[[RANKS:.*]] = tensor.empty() : tensor<2x3x4xi64>
// CHECK: %[[RANKINIT:.*]] = linalg.fill ins(%{{.*}} : i64) outs(%[[RANKS]] : tensor<2x3x4xi64>)
// CHECK: %[[RANK:.*]] = linalg.generic {indexing_maps = [#[[$OUT_BPO]], #[[$X_BPK]], #[[$OUT_BPO]]], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%[[SOFT:[^,]*]], %[[SOFT]] : tensor<2x3x4xf32>, tensor<2x3x4xf32>) outs(%[[RANKINIT]] : tensor<2x3x4xi64>)
// CHECK: ^bb0(%[[W:.*]]: f32, %[[WO:.*]]: f32, %[[ACC:.*]]: i64):
// CHECK:   %[[E:.*]] = linalg.index 2 : index
// CHECK:   %[[EO:.*]] = linalg.index 3 : index
// CHECK:   %[[GT:.*]] = arith.cmpf ogt, %[[WO]], %[[W]] : f32
// CHECK:   %[[EQ:.*]] = arith.cmpf oeq, %[[WO]], %[[W]] : f32
// CHECK:   %[[LOWER:.*]] = arith.cmpi ult, %[[EO]], %[[E]] : index
// CHECK:   %[[TIE:.*]] = arith.andi %[[EQ]], %[[LOWER]] : i1
// CHECK:   %[[AHEAD:.*]] = arith.ori %[[GT]], %[[TIE]] : i1
// CHECK:   %[[ONE:.*]] = arith.extui %[[AHEAD]] : i1 to i64
// CHECK:   arith.addi %[[ACC]], %[[ONE]] : i64
// CHECK: %[[KEPT:.*]] = linalg.generic {{.*}} ins(%[[SOFT]], %[[RANK]] : tensor<2x3x4xf32>, tensor<2x3x4xi64>)
// CHECK:   %[[K:.*]] = arith.constant 2 : i64
// CHECK:   %[[KEEP:.*]] = arith.cmpi slt, %{{.*}}, %[[K]] : i64
// CHECK:   arith.select %[[KEEP]]
// CHECK: %[[KSUM:.*]] = linalg.generic {{.*}}"reduction"]} ins(%[[KEPT]] : tensor<2x3x4xf32>)
// CHECK: %[[OUT:.*]] = linalg.generic {{.*}} ins(%[[KEPT]], %[[KSUM]] :
// CHECK:   arith.divf
// CHECK: return %[[OUT]]
func.func @top2_renormalize(%e: tensor<2x3x6xf32>, %k: tensor<4x6xf32>) -> tensor<2x3x4xf32> {
  %w = pce.route cosine %e keys(%k : tensor<4x6xf32>) top_k 2 renormalize : tensor<2x3x6xf32>
  return %w : tensor<2x3x4xf32>
}

// Without renormalize the masked weights are the result.
// CHECK-LABEL: func.func @top1
// CHECK: linalg.index 3
// CHECK: %[[KEPT:.*]] = linalg.generic
// CHECK:   arith.constant 1 : i64
// CHECK:   arith.select
// CHECK: } -> tensor<2x3x4xf32>
// CHECK-NEXT: return %[[KEPT]]
func.func @top1(%e: tensor<2x3x6xf32>, %k: tensor<4x6xf32>) -> tensor<2x3x4xf32> {
  %w = pce.route cosine %e keys(%k : tensor<4x6xf32>) top_k 1 : tensor<2x3x6xf32>
  return %w : tensor<2x3x4xf32>
}

// Position with top-k: the ties among the non-chosen experts go to the lower
// index at run time, through the same rank computation.
// CHECK-LABEL: func.func @position_top2
// CHECK: linalg.broadcast
// CHECK: linalg.index 3
// CHECK: arith.select
// CHECK-NOT: pce.
func.func @position_top2(%e: tensor<2x3x6xf32>) -> tensor<2x3x4xf32> {
  %w = pce.route position %e experts 4 top_k 2 beta 1.5 : tensor<2x3x6xf32>
  return %w : tensor<2x3x4xf32>
}

// top_k = E is dense: no ranking, no renormalisation.
// CHECK-LABEL: func.func @top_all
// CHECK-NOT: linalg.index
// CHECK-NOT: i64
// CHECK: return
func.func @top_all(%e: tensor<2x3x6xf32>, %k: tensor<4x6xf32>) -> tensor<2x3x4xf32> {
  %w = pce.route cosine %e keys(%k : tensor<4x6xf32>) top_k 4 renormalize : tensor<2x3x6xf32>
  return %w : tensor<2x3x4xf32>
}

// Ops of other dialects are left exactly as they are.
// CHECK-LABEL: func.func @others
// CHECK-NEXT: %[[S:.*]] = arith.addf %arg0, %arg0 : tensor<4xf32>
// CHECK-NEXT: %[[E:.*]] = tensor.empty() : tensor<4xf32>
// CHECK-NEXT: %[[C:.*]] = linalg.copy ins(%[[S]] : tensor<4xf32>) outs(%[[E]] : tensor<4xf32>)
// CHECK-NEXT: return %[[C]]
func.func @others(%a: tensor<4xf32>) -> tensor<4xf32> {
  %s = arith.addf %a, %a : tensor<4xf32>
  %e = tensor.empty() : tensor<4xf32>
  %c = linalg.copy ins(%s : tensor<4xf32>) outs(%e : tensor<4xf32>) -> tensor<4xf32>
  return %c : tensor<4xf32>
}
