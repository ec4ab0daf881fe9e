// The manifest records the CPU the code was generated for and the
// instruction-set features it may use (docs/Artifact.md, "cpu"): --mcpu
// chooses them. x86-64-v2 stops at SSE4.2 (no AVX anywhere), x86-64-v3 adds
// AVX2 and FMA, and the default (native) names this machine's CPU. An
// artifact for an older CPU still runs here.
//
// RUN: rm -rf %t && mkdir -p %t
// RUN: pce-compile %s --mcpu=x86-64-v2 -o %t/v2
// RUN: FileCheck %s --check-prefix=V2 < %t/v2/manifest.json
// RUN: pce-compile %s --mcpu=x86-64-v3 -o %t/v3
// RUN: FileCheck %s --check-prefix=V3 < %t/v3/manifest.json
// RUN: pce-compile %s -o %t/native
// RUN: FileCheck %s --check-prefix=NATIVE < %t/native/manifest.json
// RUN: pce-init %t/v2 -o %t/w.safetensors
// RUN: printf '\0\0\10\3\0\0\0\3\0\0\0\10\0\0\0\10' > %t/images
// RUN: head -c 192 /dev/zero >> %t/images
// RUN: pce-run %t/v2 --weights %t/w.safetensors --idx-images %t/images | FileCheck %s --check-prefix=EXEC
//
// A CPU whose code may use extensions the runtime cannot test (APX, AVX10.2)
// compiles with a warning naming them; x86-64-v4 needs no warning.
// RUN: pce-compile %s --mcpu=diamondrapids -o %t/dmr 2>&1 | FileCheck %s --check-prefix=UNCHECKED
// RUN: pce-compile %s --mcpu=x86-64-v4 -o %t/v4 2>&1 | FileCheck %s --check-prefix=V4
//
// A CPU LLVM does not know is an error, not a silent generic CPU.
// RUN: not pce-compile %s --mcpu=not-a-cpu -o %t/bad 2>&1 | FileCheck %s --check-prefix=UNKNOWN
//
// V2:      "model": "portable-artifacts",
// V2-NEXT: "cpu": {
// V2-NEXT:   "name": "x86-64-v2",
// V2-NEXT:   "features": [
// V2-NOT:    avx
// V2:        "sse4.2",
// V2-NOT:    avx
// V2:      "parameters": [
//
// V3:      "name": "x86-64-v3",
// V3:      "avx",
// V3-NEXT: "avx2",
// V3:      "fma",
// V3-NOT:  avx512
// V3:      "parameters": [
//
// NATIVE:      "cpu": {
// NATIVE-NEXT:   "name": "{{[a-z0-9_.-]+}}",
// NATIVE-NEXT:   "features": [
// NATIVE:          "sse2"
//
// EXEC: ran 3 images
//
// UNCHECKED-NOT: amx
// UNCHECKED: pce-compile: warning: the code may use avx10.2, which the runtime cannot check before loading it; to be sure it runs elsewhere, name a CPU without it (--mcpu)
// UNCHECKED: pce-compile: warning: the code may use egpr,
//
// V4-NOT: warning
// V4: pce-compile: {{.*}} -> {{.*}}v4
//
// UNKNOWN: pce-compile: unknown --mcpu 'not-a-cpu' (llc -mcpu=help lists the CPUs)

func.func @forward(%x: tensor<2x1x8x8xf32> {pce.input = "x"},
                   %k: tensor<2x4x5x3x3xf32> {pce.param = "layer0.experts.kernel"},
                   %s: tensor<2x4xf32> {pce.param = "layer0.experts.scale"},
                   %t: tensor<2x4xf32> {pce.param = "layer0.experts.shift"})
    -> (tensor<2x4x8x8xf32> {pce.output = "y"}) {
  %y = pce.layer %x patch [4, 4] router position top_k 1
         experts(%k : tensor<2x4x5x3x3xf32>) affine(%s, %t : tensor<2x4xf32>, tensor<2x4xf32>)
         : tensor<2x1x8x8xf32>
  return %y : tensor<2x4x8x8xf32>
}
