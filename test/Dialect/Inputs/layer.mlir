func.func @f(%x: tensor<1x1x28x28xf32>, %k: tensor<2x8x5x3x3xf32>, %s: tensor<2x8xf32>) -> tensor<1x8x28x28xf32> {
  %y = pce.layer %x patch [7, 7] router uniform experts(%k : tensor<2x8x5x3x3xf32>) affine(%s, %s : tensor<2x8xf32>, tensor<2x8xf32>) : tensor<1x1x28x28xf32>
  return %y : tensor<1x8x28x28xf32>
}
