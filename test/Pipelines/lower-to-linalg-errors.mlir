// RUN: pce-opt %s -pce-lower-to-linalg -verify-diagnostics

// A composite layer is not lowered directly; the diagnostic says what to run.
func.func @layer(%x: tensor<1x1x28x28xf32>, %k: tensor<2x8x5x3x3xf32>, %s: tensor<2x8xf32>) -> tensor<1x8x28x28xf32> {
  // expected-error @below {{'pce.layer' must be decomposed before lowering: run -pce-decompose-layer first (the CPU pipeline does)}}
  %y = pce.layer %x patch [7, 7] router uniform experts(%k : tensor<2x8x5x3x3xf32>) affine(%s, %s : tensor<2x8xf32>, tensor<2x8xf32>) : tensor<1x1x28x28xf32>
  return %y : tensor<1x8x28x28xf32>
}
