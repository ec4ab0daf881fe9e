// The example model parses, verifies, round-trips and decomposes.
// RUN: pce-opt %pce_src_root/examples/fashion_pce.mlir | pce-opt | FileCheck %s --check-prefix=PARSE
// RUN: pce-opt %pce_src_root/examples/fashion_pce.mlir -pce-decompose-layer | FileCheck %s --check-prefix=DECOMP
//
// PARSE-LABEL: func.func @forward
// PARSE-COUNT-2: pce.layer
// PARSE: linalg.matmul
//
// DECOMP-LABEL: func.func @forward
// DECOMP-NOT: pce.layer
// DECOMP: pce.patchify %{{.*}} patch [7, 7] radius 1 : tensor<16x1x28x28xf32>
// DECOMP: pce.route cosine %{{.*}} tau 1.000000e-01 top_k 1 : tensor<16x16x105xf32>
// DECOMP: %[[H0:.*]] = pce.unpatchify %{{.*}} grid [4, 4] : tensor<16x16x8x7x7xf32>
// DECOMP: pce.patchify %[[H0]] patch [4, 4] radius 1 : tensor<16x8x28x28xf32>
// DECOMP: pce.route mlp %{{.*}} normalize_input : tensor<16x49x252xf32>
// DECOMP: pce.unpatchify %{{.*}} grid [7, 7] : tensor<16x49x16x4x4xf32>
// DECOMP: linalg.matmul
// DECOMP-NOT: pce.layer
