// RUN: pce-opt %s -pce-lower-to-linalg -split-input-file | FileCheck %s
//
// pce.patchify becomes one output-only linalg.generic whose body computes each
// element from its indices (n, p, c, i, j); pce.unpatchify becomes
// expand_shape + transpose + collapse_shape. Numbers are checked against NumPy
// by Inputs/check_patching_embed.py.

// Context halo, f32, ph != pw: x [2, 3, 16, 42], patch [8, 7], r = 1, so
// nph = 2, npw = 6 and the result is [2, 12, 3+4, 8+2, 7+2]. The shapes are
// chosen so that every constant below is distinct.
// CHECK: #[[ID:.+]] = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d2, d3, d4)>
// CHECK-LABEL: func.func @patchify_context
// CHECK-SAME: (%[[X:[^:]+]]: tensor<2x3x16x42xf32>)
// CHECK: %[[INIT:.+]] = tensor.empty() : tensor<2x12x7x10x9xf32>
// CHECK: %[[RES:.+]] = linalg.generic {indexing_maps = [#[[ID]]], iterator_types = ["parallel", "parallel", "parallel", "parallel", "parallel"]} outs(%[[INIT]] : tensor<2x12x7x10x9xf32>)
// CHECK: %[[N:.+]] = linalg.index 0 : index
// CHECK: %[[P:.+]] = linalg.index 1 : index
// CHECK: %[[C:.+]] = linalg.index 2 : index
// CHECK: %[[I:.+]] = linalg.index 3 : index
// CHECK: %[[J:.+]] = linalg.index 4 : index
//   Patch p = a*npw + b, npw = 6; offsets from the core di = i - r, dj = j - r.
// CHECK: %[[NPW:.+]] = arith.constant 6 : index
// CHECK: %[[A:.+]] = arith.divui %[[P]], %[[NPW]] : index
// CHECK: %[[B:.+]] = arith.remui %[[P]], %[[NPW]] : index
// CHECK: %[[R:.+]] = arith.constant 1 : index
// CHECK: %[[DI:.+]] = arith.subi %[[I]], %[[R]] : index
// CHECK: %[[DJ:.+]] = arith.subi %[[J]], %[[R]] : index
//   lin(npw, b) = 2*b/5 - 1, in f32.
// CHECK: %[[BI:.+]] = arith.index_cast %[[B]] : index to i64
// CHECK: %[[BF:.+]] = arith.sitofp %[[BI]] : i64 to f32
// CHECK: %[[TWO:.+]] = arith.constant 2.000000e+00 : f32
// CHECK: %[[B2:.+]] = arith.mulf %[[BF]], %[[TWO]] : f32
// CHECK: %[[FIVE:.+]] = arith.constant 5.000000e+00 : f32
// CHECK: %[[B3:.+]] = arith.divf %[[B2]], %[[FIVE]] : f32
// CHECK: %[[ONE:.+]] = arith.constant 1.000000e+00 : f32
// CHECK: %[[LINB:.+]] = arith.subf %[[B3]], %[[ONE]] : f32
//   lin(nph, a) = 2*a/1 - 1.
// CHECK: %[[AI:.+]] = arith.index_cast %[[A]] : index to i64
// CHECK: %[[AF:.+]] = arith.sitofp %[[AI]] : i64 to f32
// CHECK: %[[A2:.+]] = arith.mulf %[[AF]], %[[TWO]] : f32
// CHECK: %[[A3:.+]] = arith.divf %[[A2]], %[[ONE]] : f32
// CHECK: %[[LINA:.+]] = arith.subf %[[A3]], %[[ONE]] : f32
//   channel C+2 = 5 is lin(nph, a), else C+3 = lin(npw, b)
// CHECK: %[[C5:.+]] = arith.constant 5 : index
// CHECK: %[[IS5:.+]] = arith.cmpi eq, %[[C]], %[[C5]] : index
// CHECK: %[[SEL5:.+]] = arith.select %[[IS5]], %[[LINA]], %[[LINB]] : f32
//   channel C+1 = 4 is lin(pw, dj) = 2*dj/6 - 1
// CHECK: %[[DJI:.+]] = arith.index_cast %[[DJ]] : index to i64
// CHECK: %[[DJF:.+]] = arith.sitofp %[[DJI]] : i64 to f32
// CHECK: %[[DJ2:.+]] = arith.mulf %[[DJF]], %[[TWO]] : f32
// CHECK: %[[SIX:.+]] = arith.constant 6.000000e+00 : f32
// CHECK: %[[DJ3:.+]] = arith.divf %[[DJ2]], %[[SIX]] : f32
// CHECK: %[[LINJ:.+]] = arith.subf %[[DJ3]], %[[ONE]] : f32
// CHECK: %[[C4:.+]] = arith.constant 4 : index
// CHECK: %[[IS4:.+]] = arith.cmpi eq, %[[C]], %[[C4]] : index
// CHECK: %[[SEL4:.+]] = arith.select %[[IS4]], %[[LINJ]], %[[SEL5]] : f32
//   channel C = 3 is lin(ph, di) = 2*di/7 - 1
// CHECK: %[[DII:.+]] = arith.index_cast %[[DI]] : index to i64
// CHECK: %[[DIF:.+]] = arith.sitofp %[[DII]] : i64 to f32
// CHECK: %[[DI2:.+]] = arith.mulf %[[DIF]], %[[TWO]] : f32
// CHECK: %[[SEVEN:.+]] = arith.constant 7.000000e+00 : f32
// CHECK: %[[DI3:.+]] = arith.divf %[[DI2]], %[[SEVEN]] : f32
// CHECK: %[[LINI:.+]] = arith.subf %[[DI3]], %[[ONE]] : f32
// CHECK: %[[C3:.+]] = arith.constant 3 : index
// CHECK: %[[IS3:.+]] = arith.cmpi eq, %[[C]], %[[C3]] : index
// CHECK: %[[COORD:.+]] = arith.select %[[IS3]], %[[LINI]], %[[SEL4]] : f32
//   The pixel x[n, c, a*ph + di, b*pw + dj], read at indices clamped into
//   [0, C-1] x [0, H-1] x [0, W-1] ...
// CHECK: %[[PH:.+]] = arith.constant 8 : index
// CHECK: %[[ROW0:.+]] = arith.muli %[[A]], %[[PH]] : index
// CHECK: %[[ROW:.+]] = arith.addi %[[ROW0]], %[[DI]] : index
// CHECK: %[[PW:.+]] = arith.constant 7 : index
// CHECK: %[[COL0:.+]] = arith.muli %[[B]], %[[PW]] : index
// CHECK: %[[COL:.+]] = arith.addi %[[COL0]], %[[DJ]] : index
// CHECK: %[[CMAX:.+]] = arith.constant 2 : index
// CHECK: %[[CH:.+]] = arith.minui %[[C]], %[[CMAX]] : index
// CHECK: %[[ZERO:.+]] = arith.constant 0 : index
// CHECK: %[[ROWLO:.+]] = arith.maxsi %[[ROW]], %[[ZERO]] : index
// CHECK: %[[HMAX:.+]] = arith.constant 15 : index
// CHECK: %[[ROWC:.+]] = arith.minsi %[[ROWLO]], %[[HMAX]] : index
// CHECK: %[[COLLO:.+]] = arith.maxsi %[[COL]], %[[ZERO]] : index
// CHECK: %[[WMAX:.+]] = arith.constant 41 : index
// CHECK: %[[COLC:.+]] = arith.minsi %[[COLLO]], %[[WMAX]] : index
// CHECK: %[[READ:.+]] = tensor.extract %[[X]][%[[N]], %[[CH]], %[[ROWC]], %[[COLC]]] : tensor<2x3x16x42xf32>
//   ... and zero outside the image (context halo): 0 <= col < 42, 0 <= row < 16.
// CHECK: %[[CGE:.+]] = arith.cmpi sge, %[[COL]], %[[ZERO]] : index
// CHECK: %[[W:.+]] = arith.constant 42 : index
// CHECK: %[[CLT:.+]] = arith.cmpi slt, %[[COL]], %[[W]] : index
// CHECK: %[[CIN:.+]] = arith.andi %[[CGE]], %[[CLT]] : i1
// CHECK: %[[RGE:.+]] = arith.cmpi sge, %[[ROW]], %[[ZERO]] : index
// CHECK: %[[H:.+]] = arith.constant 16 : index
// CHECK: %[[RLT:.+]] = arith.cmpi slt, %[[ROW]], %[[H]] : index
// CHECK: %[[RIN:.+]] = arith.andi %[[RGE]], %[[RLT]] : i1
// CHECK: %[[INSIDE:.+]] = arith.andi %[[RIN]], %[[CIN]] : i1
// CHECK: %[[FZERO:.+]] = arith.constant 0.000000e+00 : f32
// CHECK: %[[PIXEL:.+]] = arith.select %[[INSIDE]], %[[READ]], %[[FZERO]] : f32
//   Channels c < C are pixels, the others coordinates.
// CHECK: %[[ISPIX:.+]] = arith.cmpi ult, %[[C]], %[[C3]] : index
// CHECK: %[[VAL:.+]] = arith.select %[[ISPIX]], %[[PIXEL]], %[[COORD]] : f32
// CHECK: linalg.yield %[[VAL]] : f32
// CHECK: } -> tensor<2x12x7x10x9xf32>
// CHECK-NOT: pce.
// CHECK: return %[[RES]] : tensor<2x12x7x10x9xf32>
func.func @patchify_context(%x: tensor<2x3x16x42xf32>) -> tensor<2x12x7x10x9xf32> {
  %p = pce.patchify %x patch [8, 7] radius 1 : tensor<2x3x16x42xf32>
  return %p : tensor<2x12x7x10x9xf32>
}

// -----

// Isolated halo, f64, r = 2: x [1, 2, 8, 12], patch [4, 6], grid 2 x 2. The
// mask tests the offsets from the core (0 <= dj < 6, 0 <= di < 4), not the
// image bounds; the coordinates are computed in f64.
// CHECK-LABEL: func.func @patchify_isolated
// CHECK-SAME: (%[[X:[^:]+]]: tensor<1x2x8x12xf64>)
// CHECK: tensor.empty() : tensor<1x4x6x8x10xf64>
// CHECK: linalg.generic
// CHECK: ^bb0(%{{.+}}: f64):
// CHECK: %[[N:.+]] = linalg.index 0 : index
// CHECK: %[[I:.+]] = linalg.index 3 : index
// CHECK: %[[J:.+]] = linalg.index 4 : index
// CHECK: %[[R:.+]] = arith.constant 2 : index
// CHECK: %[[DI:.+]] = arith.subi %[[I]], %[[R]] : index
// CHECK: %[[DJ:.+]] = arith.subi %[[J]], %[[R]] : index
// CHECK: arith.sitofp %{{.+}} : i64 to f64
// CHECK: arith.constant 2.000000e+00 : f64
// CHECK: %[[PH:.+]] = arith.constant 4 : index
// CHECK: arith.constant 5.000000e+00 : f64
// CHECK: arith.constant 3.000000e+00 : f64
// CHECK: %[[PW:.+]] = arith.constant 6 : index
// CHECK: %[[ZERO:.+]] = arith.constant 0 : index
// CHECK: %[[READ:.+]] = tensor.extract %[[X]][%[[N]], %{{.+}}, %{{.+}}, %{{.+}}] : tensor<1x2x8x12xf64>
// CHECK: %[[JGE:.+]] = arith.cmpi sge, %[[DJ]], %[[ZERO]] : index
// CHECK: %[[JLT:.+]] = arith.cmpi slt, %[[DJ]], %[[PW]] : index
// CHECK: %[[JIN:.+]] = arith.andi %[[JGE]], %[[JLT]] : i1
// CHECK: %[[IGE:.+]] = arith.cmpi sge, %[[DI]], %[[ZERO]] : index
// CHECK: %[[ILT:.+]] = arith.cmpi slt, %[[DI]], %[[PH]] : index
// CHECK: %[[IIN:.+]] = arith.andi %[[IGE]], %[[ILT]] : i1
// CHECK: %[[INSIDE:.+]] = arith.andi %[[IIN]], %[[JIN]] : i1
// CHECK: %[[FZERO:.+]] = arith.constant 0.000000e+00 : f64
// CHECK: arith.select %[[INSIDE]], %[[READ]], %[[FZERO]] : f64
// CHECK: linalg.yield %{{.+}} : f64
// CHECK: } -> tensor<1x4x6x8x10xf64>
func.func @patchify_isolated(%x: tensor<1x2x8x12xf64>) -> tensor<1x4x6x8x10xf64> {
  %p = pce.patchify %x patch [4, 6] radius 2 halo isolated : tensor<1x2x8x12xf64>
  return %p : tensor<1x4x6x8x10xf64>
}

// -----

// A single patch: lin(1, .) = 0 for both patch-grid channels (no division),
// and the whole halo lies outside the image.
// CHECK-LABEL: func.func @single_patch
// CHECK: linalg.generic
// CHECK: %[[C:.+]] = linalg.index 2 : index
// CHECK: %[[FZERO:.+]] = arith.constant 0.000000e+00 : f32
// CHECK: %[[C3:.+]] = arith.constant 3 : index
// CHECK: %[[IS3:.+]] = arith.cmpi eq, %[[C]], %[[C3]] : index
// CHECK: arith.select %[[IS3]], %[[FZERO]], %[[FZERO]] : f32
// CHECK: arith.constant 4.000000e+00 : f32
// CHECK: tensor.extract %{{.+}} : tensor<1x1x5x5xf32>
// CHECK: arith.cmpi slt, %{{.+}}, %{{.+}} : index
// CHECK: } -> tensor<1x1x5x7x7xf32>
func.func @single_patch(%x: tensor<1x1x5x5xf32>) -> tensor<1x1x5x7x7xf32> {
  %p = pce.patchify %x patch [5, 5] radius 1 : tensor<1x1x5x5xf32>
  return %p : tensor<1x1x5x7x7xf32>
}

// -----

// No halo (radius 0, the default): indices need no clamp and no mask.
// CHECK-LABEL: func.func @no_halo
// CHECK-SAME: (%[[X:[^:]+]]: tensor<1x2x6x4xf32>)
// CHECK: linalg.generic
// CHECK: %[[N:.+]] = linalg.index 0 : index
// CHECK: %[[P:.+]] = linalg.index 1 : index
// CHECK: %[[C:.+]] = linalg.index 2 : index
// CHECK: %[[I:.+]] = linalg.index 3 : index
// CHECK: %[[J:.+]] = linalg.index 4 : index
// CHECK-NOT: arith.subi
// CHECK: %[[ROW0:.+]] = arith.muli %{{.+}}, %{{.+}} : index
// CHECK: %[[ROW:.+]] = arith.addi %[[ROW0]], %[[I]] : index
// CHECK: %[[COL0:.+]] = arith.muli %{{.+}}, %{{.+}} : index
// CHECK: %[[COL:.+]] = arith.addi %[[COL0]], %[[J]] : index
// CHECK: %[[CH:.+]] = arith.minui %[[C]], %{{.+}} : index
// CHECK-NOT: arith.maxsi
// CHECK: %[[READ:.+]] = tensor.extract %[[X]][%[[N]], %[[CH]], %[[ROW]], %[[COL]]] : tensor<1x2x6x4xf32>
// CHECK-NOT: arith.cmpi s
// CHECK: %[[ISPIX:.+]] = arith.cmpi ult, %[[C]], %{{.+}} : index
// CHECK: %[[VAL:.+]] = arith.select %[[ISPIX]], %[[READ]], %{{.+}} : f32
// CHECK: linalg.yield %[[VAL]] : f32
func.func @no_halo(%x: tensor<1x2x6x4xf32>) -> tensor<1x6x6x2x2xf32> {
  %p = pce.patchify %x patch [2, 2] : tensor<1x2x6x4xf32>
  return %p : tensor<1x6x6x2x2xf32>
}

// -----

// unpatchify, f32, grid 2 x 3: [B, P, Co, ph, pw] = [2, 6, 3, 4, 5]
// -> [B, nph, npw, Co, ph, pw] -> [B, Co, nph, ph, npw, pw] -> [2, 3, 8, 15].
// CHECK-LABEL: func.func @unpatchify_f32
// CHECK-SAME: (%[[Y:[^:]+]]: tensor<2x6x3x4x5xf32>)
// CHECK: %[[GRID:.+]] = tensor.expand_shape %[[Y]] {{\[}}[0], [1, 2], [3], [4], [5]] output_shape [2, 2, 3, 3, 4, 5] : tensor<2x6x3x4x5xf32> into tensor<2x2x3x3x4x5xf32>
// CHECK: %[[INIT:.+]] = tensor.empty() : tensor<2x3x2x4x3x5xf32>
// CHECK: %[[T:.+]] = linalg.transpose ins(%[[GRID]] : tensor<2x2x3x3x4x5xf32>) outs(%[[INIT]] : tensor<2x3x2x4x3x5xf32>) permutation = [0, 3, 1, 4, 2, 5]
// CHECK: %[[IMG:.+]] = tensor.collapse_shape %[[T]] {{\[}}[0], [1], [2, 3], [4, 5]] : tensor<2x3x2x4x3x5xf32> into tensor<2x3x8x15xf32>
// CHECK: return %[[IMG]] : tensor<2x3x8x15xf32>
func.func @unpatchify_f32(%y: tensor<2x6x3x4x5xf32>) -> tensor<2x3x8x15xf32> {
  %o = pce.unpatchify %y grid [2, 3] : tensor<2x6x3x4x5xf32>
  return %o : tensor<2x3x8x15xf32>
}

// -----

// unpatchify, f64, a column of patches (grid 4 x 1).
// CHECK-LABEL: func.func @unpatchify_f64
// CHECK: tensor.expand_shape %{{.+}} {{\[}}[0], [1, 2], [3], [4], [5]] output_shape [1, 4, 1, 2, 3, 5] : tensor<1x4x2x3x5xf64> into tensor<1x4x1x2x3x5xf64>
// CHECK: linalg.transpose ins(%{{.+}} : tensor<1x4x1x2x3x5xf64>) outs(%{{.+}} : tensor<1x2x4x3x1x5xf64>) permutation = [0, 3, 1, 4, 2, 5]
// CHECK: tensor.collapse_shape %{{.+}} {{\[}}[0], [1], [2, 3], [4, 5]] : tensor<1x2x4x3x1x5xf64> into tensor<1x2x12x5xf64>
func.func @unpatchify_f64(%y: tensor<1x4x2x3x5xf64>) -> tensor<1x2x12x5xf64> {
  %o = pce.unpatchify %y grid [4, 1] : tensor<1x4x2x3x5xf64>
  return %o : tensor<1x2x12x5xf64>
}

// -----

// A patchify / unpatchify round trip lowers both; nothing pce is left.
// CHECK-LABEL: func.func @round_trip
// CHECK: linalg.generic
// CHECK: linalg.transpose
// CHECK-NOT: pce.
// CHECK: return
func.func @round_trip(%x: tensor<1x2x4x6xf32>, %m: tensor<1x6x3x2x2xf32>) -> (tensor<1x6x6x2x2xf32>, tensor<1x3x4x6xf32>) {
  %p = pce.patchify %x patch [2, 2] : tensor<1x2x4x6xf32>
  %o = pce.unpatchify %m grid [2, 3] : tensor<1x6x3x2x2xf32>
  return %p, %o : tensor<1x6x6x2x2xf32>, tensor<1x3x4x6xf32>
}

// -----

// Ops of other dialects pass through unchanged.
// CHECK-LABEL: func.func @not_pce
// CHECK-SAME: (%[[A:[^:]+]]: tensor<2x6xf32>, %[[S:[^:]+]]: f32)
// CHECK-NEXT: %[[E:.+]] = tensor.expand_shape %[[A]] {{\[}}[0], [1, 2]] output_shape [2, 2, 3] : tensor<2x6xf32> into tensor<2x2x3xf32>
// CHECK-NEXT: %[[F:.+]] = linalg.fill ins(%[[S]] : f32) outs(%[[E]] : tensor<2x2x3xf32>) -> tensor<2x2x3xf32>
// CHECK-NEXT: %[[T:.+]] = arith.addf %[[S]], %[[S]] : f32
// CHECK-NEXT: return %[[F]], %[[T]] : tensor<2x2x3xf32>, f32
func.func @not_pce(%a: tensor<2x6xf32>, %s: f32) -> (tensor<2x2x3xf32>, f32) {
  %e = tensor.expand_shape %a [[0], [1, 2]] output_shape [2, 2, 3] : tensor<2x6xf32> into tensor<2x2x3xf32>
  %f = linalg.fill ins(%s : f32) outs(%e : tensor<2x2x3xf32>) -> tensor<2x2x3xf32>
  %t = arith.addf %s, %s : f32
  return %f, %t : tensor<2x2x3xf32>, f32
}
