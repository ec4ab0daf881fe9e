// The manifest records each parameter's role and initialiser
// (docs/Artifact.md, "parameters"): the role a pce op gives the operand it
// reads, or the argument's pce.role; pce-init then starts every parameter as
// the manifest says. A parameter only other dialects read, without a
// pce.role, has none, and pce-init refuses to guess.
//
// RUN: rm -rf %t && mkdir -p %t
// RUN: pce-compile %s -o %t/a
// RUN: FileCheck %s < %t/a/manifest.json
// RUN: pce-init %t/a -o %t/w.safetensors | FileCheck %s --check-prefix=INIT
//
// CHECK:      "name": "layer0.embed.weight",
// CHECK:      "role": "embed_weight",
// CHECK-NEXT: "init": {
// CHECK-NEXT:   "kind": "he_normal",
// CHECK-NEXT:   "fan_in": 5
// CHECK:      "role": "embed_bias",
// CHECK-NEXT: "init": {
// CHECK-NEXT:   "kind": "constant",
// CHECK-NEXT:   "value": 0.0
// CHECK:      "name": "layer0.router.keys",
// CHECK:      "role": "router_keys",
// CHECK-NEXT: "init": {
// CHECK-NEXT:   "kind": "unit_rows"
// CHECK:      "name": "layer0.router.log_tau",
// CHECK:      "role": "router_log_tau",
// CHECK-NEXT: "init": {
// CHECK-NEXT:   "kind": "constant",
// CHECK-NEXT:   "value": -0.69314718055994{{[0-9]*}}
// CHECK:      "name": "layer0.experts.kernel",
// CHECK:      "role": "expert_kernel",
// CHECK-NEXT: "init": {
// CHECK-NEXT:   "kind": "he_normal",
// CHECK-NEXT:   "fan_in": 45
// CHECK:      "name": "layer0.experts.scale",
// CHECK:      "role": "expert_scale",
// CHECK:      "value": 1.0
// CHECK:      "name": "layer0.experts.shift",
// CHECK:      "role": "expert_shift",
// CHECK:      "name": "scale",
// CHECK:      "role": "bn_gamma",
// CHECK-NEXT: "init": {
// CHECK-NEXT:   "kind": "constant",
// CHECK-NEXT:   "value": 1.0
//
// INIT: pce-init: 8 parameters of
//
// Without the pce.role on %g, `scale` has no role: pce-init says so.
// RUN: sed -e 's/, pce.role = "bn_gamma"//' %s > %t/norole.mlir
// RUN: pce-compile %t/norole.mlir -o %t/b
// RUN: not pce-init %t/b -o %t/b.safetensors 2>&1 | FileCheck %s --check-prefix=NOROLE
// NOROLE: pce-init: error: {{.*}}/b: parameter 'scale' has no role and initialiser in the manifest (compile it again, or give its argument a pce.role)
//
// A role that does not fit the parameter is a compile error.
// RUN: sed -e 's/"bn_gamma"/"conv_kernel"/' %s > %t/badrole.mlir
// RUN: not pce-compile %t/badrole.mlir -o %t/c 2>&1 | FileCheck %s --check-prefix=BADROLE
// BADROLE: error: parameter 'scale' f32[4]: a conv_kernel has rank 4, found rank 1

func.func @forward(%x: tensor<2x1x8x8xf32> {pce.input = "x"},
                   %we: tensor<5x5xf32> {pce.param = "layer0.embed.weight"},
                   %be: tensor<5xf32> {pce.param = "layer0.embed.bias"},
                   %keys: tensor<2x105xf32> {pce.param = "layer0.router.keys"},
                   %lt: tensor<f32> {pce.param = "layer0.router.log_tau"},
                   %k: tensor<2x4x5x3x3xf32> {pce.param = "layer0.experts.kernel"},
                   %s: tensor<2x4xf32> {pce.param = "layer0.experts.scale"},
                   %t: tensor<2x4xf32> {pce.param = "layer0.experts.shift"},
                   %g: tensor<4xf32> {pce.param = "scale", pce.role = "bn_gamma"})
    -> (tensor<2x4x8x8xf32> {pce.output = "y"}) {
  %y = pce.layer %x patch [4, 4]
         embed(%we, %be : tensor<5x5xf32>, tensor<5xf32>)
         router cosine keys(%keys : tensor<2x105xf32>) log_tau(%lt : tensor<f32>) tau 5.000000e-01 top_k 1
         experts(%k : tensor<2x4x5x3x3xf32>) affine(%s, %t : tensor<2x4xf32>, tensor<2x4xf32>)
         : tensor<2x1x8x8xf32>
  %e = tensor.empty() : tensor<2x4x8x8xf32>
  %z = linalg.generic {indexing_maps = [affine_map<(n, c, h, w) -> (n, c, h, w)>, affine_map<(n, c, h, w) -> (c)>, affine_map<(n, c, h, w) -> (n, c, h, w)>],
                       iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%y, %g : tensor<2x4x8x8xf32>, tensor<4xf32>) outs(%e : tensor<2x4x8x8xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %m = arith.mulf %a, %b : f32
    linalg.yield %m : f32
  } -> tensor<2x4x8x8xf32>
  return %z : tensor<2x4x8x8xf32>
}
