// RUN: pce-opt %s -pce-lower-to-linalg -split-input-file | FileCheck %s
//
// pce.embed becomes: the patch cores (extract_slice), a 1x1 convolution (a
// linalg.generic reducing over channels, initialised with the broadcast
// bias), and per pyramid level a max-pooling linalg.generic (initialised with
// -inf) whose [B, P, De, l, l] result is flattened channel-major and inserted
// at the level's offset. Numbers are checked against NumPy by
// Inputs/check_patching_embed.py.

// Default levels [1, 2, 4], f32, r = 1, ph = pw = 7: D = 5 * 21 = 105.
// CHECK-DAG: #[[CORE:.+]] = affine_map<(d0, d1, d2, d3, d4, d5) -> (d0, d1, d5, d3, d4)>
// CHECK-DAG: #[[WMAP:.+]] = affine_map<(d0, d1, d2, d3, d4, d5) -> (d2, d5)>
// CHECK-DAG: #[[ZMAP:.+]] = affine_map<(d0, d1, d2, d3, d4, d5) -> (d0, d1, d2, d3, d4)>
// CHECK-DAG: #[[WIN:.+]] = affine_map<(d0, d1, d2, d3, d4, d5, d6) -> (d5, d6)>
// CHECK-DAG: #[[POOL:.+]] = affine_map<(d0, d1, d2, d3, d4, d5, d6) -> (d0, d1, d2, d3, d4)>
// CHECK-LABEL: func.func @embed_default
// CHECK-SAME: (%[[P:[^:]+]]: tensor<2x16x5x9x9xf32>, %[[W:[^:]+]]: tensor<5x5xf32>, %[[B:[^:]+]]: tensor<5xf32>)
//   Core and 1x1 convolution z[b,p,d,i,j] = bias[d] + sum_c W[d,c] * core[b,p,c,i,j].
// CHECK: %[[CORES:.+]] = tensor.extract_slice %[[P]][0, 0, 0, 1, 1] [2, 16, 5, 7, 7] [1, 1, 1, 1, 1] : tensor<2x16x5x9x9xf32> to tensor<2x16x5x7x7xf32>
// CHECK: %[[ZE:.+]] = tensor.empty() : tensor<2x16x5x7x7xf32>
// CHECK: %[[BIAS:.+]] = linalg.broadcast ins(%[[B]] : tensor<5xf32>) outs(%[[ZE]] : tensor<2x16x5x7x7xf32>) dimensions = [0, 1, 3, 4]
// CHECK: %[[Z:.+]] = linalg.generic {indexing_maps = [#[[CORE]], #[[WMAP]], #[[ZMAP]]], iterator_types = ["parallel", "parallel", "parallel", "parallel", "parallel", "reduction"]} ins(%[[CORES]], %[[W]] : tensor<2x16x5x7x7xf32>, tensor<5x5xf32>) outs(%[[BIAS]] : tensor<2x16x5x7x7xf32>)
// CHECK: ^bb0(%[[IN:[^:]+]]: f32, %[[WT:[^:]+]]: f32, %[[ACC:[^:]+]]: f32):
// CHECK: %[[MUL:.+]] = arith.mulf %[[IN]], %[[WT]] : f32
// CHECK: %[[SUM:.+]] = arith.addf %[[ACC]], %[[MUL]] : f32
// CHECK: linalg.yield %[[SUM]] : f32
// CHECK: %[[EMB0:.+]] = tensor.empty() : tensor<2x16x105xf32>
//   Level 1: one bin, a 7x7 window, at offset 0.
// CHECK: %[[E1:.+]] = tensor.empty() : tensor<2x16x5x1x1xf32>
// CHECK: %[[NINF1:.+]] = arith.constant 0xFF800000 : f32
// CHECK: %[[I1:.+]] = linalg.fill ins(%[[NINF1]] : f32) outs(%[[E1]] : tensor<2x16x5x1x1xf32>)
// CHECK: %[[WIN1:.+]] = tensor.empty() : tensor<7x7xf32>
// CHECK: %[[L1:.+]] = linalg.generic {indexing_maps = [#[[WIN]], #[[POOL]]], iterator_types = ["parallel", "parallel", "parallel", "parallel", "parallel", "reduction", "reduction"]} ins(%[[WIN1]] : tensor<7x7xf32>) outs(%[[I1]] : tensor<2x16x5x1x1xf32>)
// CHECK: tensor.extract %[[Z]]
// CHECK: arith.maximumf
// CHECK: %[[F1:.+]] = tensor.collapse_shape %[[L1]] {{\[}}[0], [1], [2, 3, 4]] : tensor<2x16x5x1x1xf32> into tensor<2x16x5xf32>
// CHECK: %[[EMB1:.+]] = tensor.insert_slice %[[F1]] into %[[EMB0]][0, 0, 0] [2, 16, 5] [1, 1, 1] : tensor<2x16x5xf32> into tensor<2x16x105xf32>
//   Level 2: bins [0, 4) and [3, 7) overlap; a 4x4 window, at offset 5.
// CHECK: %[[E2:.+]] = tensor.empty() : tensor<2x16x5x2x2xf32>
// CHECK: %[[I2:.+]] = linalg.fill ins(%{{.+}} : f32) outs(%[[E2]] : tensor<2x16x5x2x2xf32>)
// CHECK: %[[WIN2:.+]] = tensor.empty() : tensor<4x4xf32>
// CHECK: %[[L2:.+]] = linalg.generic {{.+}} ins(%[[WIN2]] : tensor<4x4xf32>) outs(%[[I2]] : tensor<2x16x5x2x2xf32>)
// CHECK: ^bb0(%{{.+}}: f32, %[[MAX:[^:]+]]: f32):
// CHECK: %[[N:.+]] = linalg.index 0 : index
// CHECK: %[[PP:.+]] = linalg.index 1 : index
// CHECK: %[[D:.+]] = linalg.index 2 : index
// CHECK: %[[U:.+]] = linalg.index 3 : index
// CHECK: %[[V:.+]] = linalg.index 4 : index
// CHECK: %[[KI:.+]] = linalg.index 5 : index
// CHECK: %[[KJ:.+]] = linalg.index 6 : index
//   row = min(floor(u*7/2) + ki, ceil((u+1)*7/2) - 1), ceil as (u*7 + 8) / 2
// CHECK: %[[SEVEN:.+]] = arith.constant 7 : index
// CHECK: %[[US:.+]] = arith.muli %[[U]], %[[SEVEN]] : index
// CHECK: %[[TWO:.+]] = arith.constant 2 : index
// CHECK: %[[BEGIN:.+]] = arith.divui %[[US]], %[[TWO]] : index
// CHECK: %[[EIGHT:.+]] = arith.constant 8 : index
// CHECK: %[[ENDN:.+]] = arith.addi %[[US]], %[[EIGHT]] : index
// CHECK: %[[END:.+]] = arith.divui %[[ENDN]], %[[TWO]] : index
// CHECK: %[[ONE:.+]] = arith.constant 1 : index
// CHECK: %[[LAST:.+]] = arith.subi %[[END]], %[[ONE]] : index
// CHECK: %[[ROW0:.+]] = arith.addi %[[BEGIN]], %[[KI]] : index
// CHECK: %[[ROW:.+]] = arith.minui %[[ROW0]], %[[LAST]] : index
// CHECK: %[[VS:.+]] = arith.muli %[[V]], %[[SEVEN]] : index
// CHECK: %[[CBEGIN:.+]] = arith.divui %[[VS]], %[[TWO]] : index
// CHECK: %[[CENDN:.+]] = arith.addi %[[VS]], %[[EIGHT]] : index
// CHECK: %[[CEND:.+]] = arith.divui %[[CENDN]], %[[TWO]] : index
// CHECK: %[[CLAST:.+]] = arith.subi %[[CEND]], %[[ONE]] : index
// CHECK: %[[COL0:.+]] = arith.addi %[[CBEGIN]], %[[KJ]] : index
// CHECK: %[[COL:.+]] = arith.minui %[[COL0]], %[[CLAST]] : index
// CHECK: %[[VAL:.+]] = tensor.extract %[[Z]][%[[N]], %[[PP]], %[[D]], %[[ROW]], %[[COL]]] : tensor<2x16x5x7x7xf32>
// CHECK: %[[NEW:.+]] = arith.maximumf %[[MAX]], %[[VAL]] : f32
// CHECK: linalg.yield %[[NEW]] : f32
// CHECK: %[[F2:.+]] = tensor.collapse_shape %[[L2]] {{\[}}[0], [1], [2, 3, 4]] : tensor<2x16x5x2x2xf32> into tensor<2x16x20xf32>
// CHECK: %[[EMB2:.+]] = tensor.insert_slice %[[F2]] into %[[EMB1]][0, 0, 5] [2, 16, 20] [1, 1, 1] : tensor<2x16x20xf32> into tensor<2x16x105xf32>
//   Level 4: bins [0,2) [1,4) [3,6) [5,7); a 3x3 window, at offset 5 + 20.
// CHECK: %[[WIN4:.+]] = tensor.empty() : tensor<3x3xf32>
// CHECK: %[[L4:.+]] = linalg.generic {{.+}} ins(%[[WIN4]] : tensor<3x3xf32>) outs(%{{.+}} : tensor<2x16x5x4x4xf32>)
// CHECK: %[[F4:.+]] = tensor.collapse_shape %[[L4]] {{\[}}[0], [1], [2, 3, 4]] : tensor<2x16x5x4x4xf32> into tensor<2x16x80xf32>
// CHECK: %[[EMB4:.+]] = tensor.insert_slice %[[F4]] into %[[EMB2]][0, 0, 25] [2, 16, 80] [1, 1, 1] : tensor<2x16x80xf32> into tensor<2x16x105xf32>
// CHECK-NOT: pce.
// CHECK: return %[[EMB4]] : tensor<2x16x105xf32>
func.func @embed_default(%p: tensor<2x16x5x9x9xf32>, %w: tensor<5x5xf32>, %b: tensor<5xf32>) -> tensor<2x16x105xf32> {
  %e = pce.embed %p, %w, %b radius 1 : tensor<2x16x5x9x9xf32>, tensor<5x5xf32>, tensor<5xf32>
  return %e : tensor<2x16x105xf32>
}

// -----

// Custom levels [1, 3], f64, ph = 5 != pw = 8, r = 0 (the core is the whole
// patch: no slice): De = 4, D = 4 * (1 + 9) = 40. Level 3 bins: rows [0,2)
// [1,4) [3,5) (window 3), columns [0,3) [2,6) [5,8) (window 4).
// CHECK-LABEL: func.func @embed_custom_levels
// CHECK-SAME: (%[[P:[^:]+]]: tensor<1x2x3x5x8xf64>, %[[W:[^:]+]]: tensor<4x3xf64>, %[[B:[^:]+]]: tensor<4xf64>)
// CHECK-NOT: tensor.extract_slice
// CHECK: %[[BIAS:.+]] = linalg.broadcast ins(%[[B]] : tensor<4xf64>) outs(%{{.+}} : tensor<1x2x4x5x8xf64>) dimensions = [0, 1, 3, 4]
// CHECK: %[[Z:.+]] = linalg.generic {{.+}} ins(%[[P]], %[[W]] : tensor<1x2x3x5x8xf64>, tensor<4x3xf64>) outs(%[[BIAS]] : tensor<1x2x4x5x8xf64>)
// CHECK: arith.mulf %{{.+}}, %{{.+}} : f64
// CHECK: arith.addf %{{.+}}, %{{.+}} : f64
// CHECK: %[[EMB0:.+]] = tensor.empty() : tensor<1x2x40xf64>
// CHECK: %[[NINF:.+]] = arith.constant 0xFFF0000000000000 : f64
// CHECK: linalg.fill ins(%[[NINF]] : f64) outs(%{{.+}} : tensor<1x2x4x1x1xf64>)
// CHECK: %[[WIN1:.+]] = tensor.empty() : tensor<5x8xf64>
// CHECK: %[[L1:.+]] = linalg.generic {{.+}} ins(%[[WIN1]] : tensor<5x8xf64>) outs(%{{.+}} : tensor<1x2x4x1x1xf64>)
// CHECK: tensor.extract %[[Z]][{{.+}}] : tensor<1x2x4x5x8xf64>
// CHECK: arith.maximumf %{{.+}}, %{{.+}} : f64
// CHECK: %[[F1:.+]] = tensor.collapse_shape %[[L1]] {{\[}}[0], [1], [2, 3, 4]] : tensor<1x2x4x1x1xf64> into tensor<1x2x4xf64>
// CHECK: %[[EMB1:.+]] = tensor.insert_slice %[[F1]] into %[[EMB0]][0, 0, 0] [1, 2, 4] [1, 1, 1]
// CHECK: linalg.fill ins(%{{.+}} : f64) outs(%{{.+}} : tensor<1x2x4x3x3xf64>)
// CHECK: %[[WIN3:.+]] = tensor.empty() : tensor<3x4xf64>
// CHECK: %[[L3:.+]] = linalg.generic {{.+}} ins(%[[WIN3]] : tensor<3x4xf64>) outs(%{{.+}} : tensor<1x2x4x3x3xf64>)
// CHECK: %[[F3:.+]] = tensor.collapse_shape %[[L3]] {{\[}}[0], [1], [2, 3, 4]] : tensor<1x2x4x3x3xf64> into tensor<1x2x36xf64>
// CHECK: %[[EMB3:.+]] = tensor.insert_slice %[[F3]] into %[[EMB1]][0, 0, 4] [1, 2, 36] [1, 1, 1] : tensor<1x2x36xf64> into tensor<1x2x40xf64>
// CHECK: return %[[EMB3]] : tensor<1x2x40xf64>
func.func @embed_custom_levels(%p: tensor<1x2x3x5x8xf64>, %w: tensor<4x3xf64>, %b: tensor<4xf64>) -> tensor<1x2x40xf64> {
  %e = pce.embed %p, %w, %b levels [1, 3] : tensor<1x2x3x5x8xf64>, tensor<4x3xf64>, tensor<4xf64>
  return %e : tensor<1x2x40xf64>
}

// -----

// More bins than rows (l = 4 > ph = 3): bins [0,1) [0,2) [1,3) [2,3), each
// non-empty, window 2; pw = 5: [0,2) [1,3) [2,4) [3,5), window 2.
// CHECK-LABEL: func.func @embed_more_bins_than_rows
// CHECK: tensor.extract_slice %{{.+}}[0, 0, 0, 1, 1] [1, 1, 2, 3, 5] [1, 1, 1, 1, 1] : tensor<1x1x2x5x7xf32> to tensor<1x1x2x3x5xf32>
// CHECK: %[[WIN:.+]] = tensor.empty() : tensor<2x2xf32>
// CHECK: linalg.generic {{.+}} ins(%[[WIN]] : tensor<2x2xf32>) outs(%{{.+}} : tensor<1x1x3x4x4xf32>)
// CHECK: tensor.collapse_shape %{{.+}} {{\[}}[0], [1], [2, 3, 4]] : tensor<1x1x3x4x4xf32> into tensor<1x1x48xf32>
// CHECK: tensor.insert_slice %{{.+}} into %{{.+}}[0, 0, 0] [1, 1, 48] [1, 1, 1] : tensor<1x1x48xf32> into tensor<1x1x48xf32>
func.func @embed_more_bins_than_rows(%p: tensor<1x1x2x5x7xf32>, %w: tensor<3x2xf32>, %b: tensor<3xf32>) -> tensor<1x1x48xf32> {
  %e = pce.embed %p, %w, %b radius 1 levels [4] : tensor<1x1x2x5x7xf32>, tensor<3x2xf32>, tensor<3xf32>
  return %e : tensor<1x1x48xf32>
}

// -----

// Upstream ops next to a pce.embed are left as they were.
// CHECK-LABEL: func.func @embed_among_others
// CHECK-SAME: (%[[P:[^:]+]]: tensor<1x1x5x1x1xf32>, %[[W:[^:]+]]: tensor<5x5xf32>, %[[B:[^:]+]]: tensor<5xf32>, %[[T:[^:]+]]: tensor<1x1x5xf32>)
// CHECK: %[[E:.+]] = tensor.insert_slice
// CHECK-NEXT: %[[SUM:.+]] = arith.addf %[[E]], %[[T]] : tensor<1x1x5xf32>
// CHECK-NEXT: return %[[SUM]] : tensor<1x1x5xf32>
func.func @embed_among_others(%p: tensor<1x1x5x1x1xf32>, %w: tensor<5x5xf32>, %b: tensor<5xf32>, %t: tensor<1x1x5xf32>) -> tensor<1x1x5xf32> {
  %e = pce.embed %p, %w, %b levels [1] : tensor<1x1x5x1x1xf32>, tensor<5x5xf32>, tensor<5xf32>
  %s = arith.addf %e, %t : tensor<1x1x5xf32>
  return %s : tensor<1x1x5xf32>
}
