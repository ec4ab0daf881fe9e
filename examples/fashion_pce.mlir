// A two-layer PCE classifier for Fashion-MNIST (1 x 28 x 28 images, 10 classes).
//
//   layer0: 7x7 patches (16 per image), cosine router over 4 experts (top-1),
//           3x3 Conv-BN-ReLU experts, 1 -> 8 channels
//   layer1: 4x4 patches (49 per image), MLP router over 4 experts (dense),
//           3x3 Conv-BN-ReLU experts, 8 -> 16 channels
//   head:   global average pooling, linear 16 -> 10 (upstream linalg ops)
//
// Parameters are function arguments: `pce.input` names the image batch,
// `pce.param` gives each parameter the stable name under which weights files
// store it, `pce.output` names the result. `pce.role` says what a parameter
// is (and so how pce-init starts it) where no pce op says it: the head's
// weights here, read by linalg. Try:
//   pce-opt examples/fashion_pce.mlir --pce-decompose-layer
//   pce-compile examples/fashion_pce.mlir --target cpu -o build/fashion
// The head as pce-run decodes it (runtime/dense/HeadSpec.h); the manifest
// records it.
module attributes {pce.head = "{\"kind\":\"classification\",\"classes\":10,\"in\":[16,28,28]}"} {
func.func @forward(
    %x: tensor<16x1x28x28xf32> {pce.input = "x"},
    %l0_we: tensor<5x5xf32> {pce.param = "layer0.embed.weight"},
    %l0_be: tensor<5xf32> {pce.param = "layer0.embed.bias"},
    %l0_keys: tensor<4x105xf32> {pce.param = "layer0.router.keys"},
    %l0_k: tensor<4x8x5x3x3xf32> {pce.param = "layer0.experts.kernel"},
    %l0_g: tensor<4x8xf32> {pce.param = "layer0.experts.bn.gamma"},
    %l0_b: tensor<4x8xf32> {pce.param = "layer0.experts.bn.beta"},
    %l0_m: tensor<4x8xf32> {pce.param = "layer0.experts.bn.running_mean"},
    %l0_v: tensor<4x8xf32> {pce.param = "layer0.experts.bn.running_var"},
    %l1_we: tensor<12x12xf32> {pce.param = "layer1.embed.weight"},
    %l1_be: tensor<12xf32> {pce.param = "layer1.embed.bias"},
    %l1_w1: tensor<32x252xf32> {pce.param = "layer1.router.mlp.w1"},
    %l1_b1: tensor<32xf32> {pce.param = "layer1.router.mlp.b1"},
    %l1_w2: tensor<4x32xf32> {pce.param = "layer1.router.mlp.w2"},
    %l1_b2: tensor<4xf32> {pce.param = "layer1.router.mlp.b2"},
    %l1_k: tensor<4x16x12x3x3xf32> {pce.param = "layer1.experts.kernel"},
    %l1_g: tensor<4x16xf32> {pce.param = "layer1.experts.bn.gamma"},
    %l1_b: tensor<4x16xf32> {pce.param = "layer1.experts.bn.beta"},
    %l1_m: tensor<4x16xf32> {pce.param = "layer1.experts.bn.running_mean"},
    %l1_v: tensor<4x16xf32> {pce.param = "layer1.experts.bn.running_var"},
    %fc_w: tensor<16x10xf32> {pce.param = "head.fc.weight", pce.role = "linear_weight"},
    %fc_b: tensor<10xf32> {pce.param = "head.fc.bias", pce.role = "linear_bias"})
    -> (tensor<16x10xf32> {pce.output = "logits"}) {
  %h0 = pce.layer %x patch [7, 7]
          embed(%l0_we, %l0_be : tensor<5x5xf32>, tensor<5xf32>)
          router cosine keys(%l0_keys : tensor<4x105xf32>) tau 1.000000e-01 top_k 1
          experts(%l0_k : tensor<4x8x5x3x3xf32>)
          bn(%l0_g, %l0_b, %l0_m, %l0_v : tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>)
          : tensor<16x1x28x28xf32>
  %h1 = pce.layer %h0 patch [4, 4]
          embed(%l1_we, %l1_be : tensor<12x12xf32>, tensor<12xf32>)
          router mlp mlp(%l1_w1, %l1_b1, %l1_w2, %l1_b2
                         : tensor<32x252xf32>, tensor<32xf32>, tensor<4x32xf32>, tensor<4xf32>)
          normalize_input
          experts(%l1_k : tensor<4x16x12x3x3xf32>)
          bn(%l1_g, %l1_b, %l1_m, %l1_v : tensor<4x16xf32>, tensor<4x16xf32>, tensor<4x16xf32>, tensor<4x16xf32>)
          : tensor<16x8x28x28xf32>

  // Global average pooling: sum over H x W, then scale by 1/784.
  %zero = arith.constant 0.0 : f32
  %inv = arith.constant 0.00127551018 : f32  // 1 / (28 * 28)
  %sum_init = tensor.empty() : tensor<16x16xf32>
  %sum_zero = linalg.fill ins(%zero : f32) outs(%sum_init : tensor<16x16xf32>) -> tensor<16x16xf32>
  %sum = linalg.reduce ins(%h1 : tensor<16x16x28x28xf32>) outs(%sum_zero : tensor<16x16xf32>) dimensions = [2, 3]
    (%in: f32, %acc: f32) {
      %s = arith.addf %in, %acc : f32
      linalg.yield %s : f32
    }
  %pooled = linalg.map ins(%sum : tensor<16x16xf32>) outs(%sum_init : tensor<16x16xf32>)
    (%in: f32, %unused: f32) {
      %m = arith.mulf %in, %inv : f32
      linalg.yield %m : f32
    }

  // Linear classifier: logits = pooled * W + b.
  %logits_init = tensor.empty() : tensor<16x10xf32>
  %bias = linalg.broadcast ins(%fc_b : tensor<10xf32>) outs(%logits_init : tensor<16x10xf32>) dimensions = [0]
  %logits = linalg.matmul ins(%pooled, %fc_w : tensor<16x16xf32>, tensor<16x10xf32>)
                          outs(%bias : tensor<16x10xf32>) -> tensor<16x10xf32>
  return %logits : tensor<16x10xf32>
}
}
