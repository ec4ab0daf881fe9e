// pce-run --routing writes, next to RDIR/<layer>.routing.npy, the routing
// report of docs/SEMANTICS.md §5: RDIR/report.json, RDIR/report.md,
// RDIR/report.html and one
// summary line per layer on stdout. The position router with top_k 1 sends
// patch p to expert p mod 2 whatever the weights and images, so every number
// below is known: the kept weight is e/(e+1) = 0.7311 (entropy
// -0.7311*log(0.7311) = 0.2290 nats), usage 50/50, the expert is a function of
// the position (I = log 2, normalised 1) and independent of the class (I = 0).
// Three images run as two compiled batches of 2 (the last one padded).
//
// RUN: rm -rf %t && mkdir -p %t
// RUN: pce-compile %s -o %t/art
// RUN: pce-init %t/art -o %t/w.safetensors --seed 1
// RUN: printf '\0\0\10\3\0\0\0\3\0\0\0\10\0\0\0\10' > %t/images
// RUN: head -c 192 /dev/zero >> %t/images
// RUN: printf '\0\0\10\1\0\0\0\3\0\1\2' > %t/labels
// RUN: pce-run %t/art --weights %t/w.safetensors --idx-images %t/images --idx-labels %t/labels \
// RUN:   --routing %t/rdir | FileCheck %s --check-prefix=STDOUT
// RUN: FileCheck %s --check-prefix=JSON < %t/rdir/report.json
// RUN: FileCheck %s --check-prefix=MD < %t/rdir/report.md
// RUN: ls %t/rdir/layer0.routing.npy
// The labels the report read are written beside the routing records.
// RUN: %python -c "import numpy as n; l = n.load('%t/rdir/labels.npy'); assert l.dtype == n.int64 and list(l) == [0, 1, 2], l"
//
// report.html is one well-formed page whose pictures carry the same numbers.
// RUN: %python -c "import sys, xml.dom.minidom; xml.dom.minidom.parse(sys.argv[1])" %t/rdir/report.html
// RUN: FileCheck %s --check-prefix=HTML < %t/rdir/report.html
//
// Without labels there is no I(expert; class); --clusters 0, no clustering.
// RUN: pce-run %t/art --weights %t/w.safetensors --idx-images %t/images --limit 2 \
// RUN:   --routing %t/rdir2 --clusters 0 | FileCheck %s --check-prefix=NOLABELS
// RUN: FileCheck %s --check-prefix=NOLABELS-JSON < %t/rdir2/report.json
//
// A corrupt label file is a clear error (exit 1), not a crash.
// RUN: printf '\0\0\10\1\0\0\0\3\0\1' > %t/short-labels
// RUN: not pce-run %t/art --weights %t/w.safetensors --idx-images %t/images --idx-labels %t/short-labels \
// RUN:   --routing %t/rdir3 2>&1 | FileCheck %s --check-prefix=CORRUPT
//
// STDOUT: accuracy: top-1
// STDOUT-NEXT: routing layer0.routing: entropy 0.2290 nats (0.3304 of log 2), usage 50.0% 50.0%, I(expert;position) 0.6931 nats (1.0000), I(expert;class) 0.0000 nats (0.0000)
//
// JSON:      "format": "pce-routing-report",
// JSON-NEXT: "version": 1,
// JSON-NEXT: "items": 3,
// JSON-NEXT: "image_size": [
// JSON-NEXT:   8,
// JSON-NEXT:   8
// JSON-NEXT: ],
// JSON-NEXT: "classes": 4,
// JSON-NEXT: "layers": [
// JSON:        "name": "layer0.routing",
// JSON-NEXT:   "items": 3,
// JSON-NEXT:   "patches": 4,
// JSON-NEXT:   "experts": 2,
// JSON-NEXT:   "grid": [
// JSON-NEXT:     2,
// JSON-NEXT:     2
// JSON-NEXT:   ],
// JSON-NEXT:   "entropy": {
// JSON-NEXT:     "nats": 0.2290
// JSON-NEXT:     "normalized": 0.3303
// JSON-NEXT:   },
// JSON-NEXT:   "expert_usage": [
// JSON-NEXT:     0.5,
// JSON-NEXT:     0.5
// JSON-NEXT:   ],
// JSON-NEXT:   "mean_weight": [
// JSON-NEXT:     0.36552
// JSON-NEXT:     0.36552
// JSON-NEXT:   ],
// JSON-NEXT:   "load_balance": 0.73105
// JSON-NEXT:   "routing_map": [
// JSON-NEXT:     [
// JSON-NEXT:       1.0,
// JSON-NEXT:       0.0
// JSON-NEXT:     ],
// JSON-NEXT:     [
// JSON-NEXT:       0.0,
// JSON-NEXT:       1.0
// JSON-NEXT:     ],
// JSON:        "dominant_expert": [
// JSON-NEXT:     0,
// JSON-NEXT:     1,
// JSON-NEXT:     0,
// JSON-NEXT:     1
// JSON-NEXT:   ],
// JSON-NEXT:   "mi_position": {
// JSON-NEXT:     "nats": 0.693147180559945
// JSON-NEXT:     "normalized": 1.0
// JSON-NEXT:   },
// JSON-NEXT:   "mi_class": {
// JSON-NEXT:     "nats": 0.0,
// JSON-NEXT:     "normalized": 0.0,
// JSON-NEXT:     "classes": 4
// JSON-NEXT:   }
// JSON:      "skipped": [],
// Route clusters: the position router routes every image alike, so k-means
// puts the 3 images in one cluster and leaves two empty (no exemplar).
// JSON-NEXT: "clusters": {
// JSON-NEXT:   "k": 3,
// JSON-NEXT:   "sizes": [
// JSON-NEXT:     3,
// JSON-NEXT:     0,
// JSON-NEXT:     0
// JSON-NEXT:   ],
// JSON-NEXT:   "exemplars": [
// JSON-NEXT:     0,
// JSON-NEXT:     null,
// JSON-NEXT:     null
// JSON-NEXT:   ],
// JSON-NEXT:   "silhouette": 0.0,
//
// MD: # Routing report
// MD: 3 images of 8 x 8, labelled (4 classes).
// MD: ## layer0.routing
// MD: 3 images, 4 patches (2 x 2 grid), 2 experts.
// MD: | router entropy | 0.2290 | 0.3304 |
// MD: | I(expert; position) | 0.6931 | 1.0000 |
// MD: | I(expert; class) | 0.0000 | 0.0000 |
// MD: | 0 | 50.00% | 0.3655 |
// MD: | 1 | 50.00% | 0.3655 |
// MD: | | 0 | 1 |
// MD: | 0 | 0 (100%) | 1 (100%) |
// MD: | 1 | 0 (100%) | 1 (100%) |
//
// NOLABELS: ran 2 images
// NOLABELS-NEXT: routing layer0.routing: entropy 0.2290 nats (0.3304 of log 2), usage 50.0% 50.0%, I(expert;position) 0.6931 nats (1.0000){{$}}
// NOLABELS-JSON: "items": 2,
// NOLABELS-JSON: "classes": null,
// NOLABELS-JSON: "mi_class": null
// NOLABELS-JSON: "clusters": null
//
// CORRUPT: pce-run: error: {{.*}}short-labels: {{.*}}unexpected end of file
func.func @forward(%x: tensor<2x1x8x8xf32> {pce.input = "x"},
                   %k: tensor<2x4x5x3x3xf32> {pce.param = "layer0.experts.kernel"},
                   %s: tensor<2x4xf32> {pce.param = "layer0.experts.scale"},
                   %t: tensor<2x4xf32> {pce.param = "layer0.experts.shift"})
    -> (tensor<2x4xf32> {pce.output = "logits"}) {
  %y = pce.layer %x patch [4, 4] router position top_k 1
         experts(%k : tensor<2x4x5x3x3xf32>) affine(%s, %t : tensor<2x4xf32>, tensor<2x4xf32>)
         : tensor<2x1x8x8xf32>
  %zero = arith.constant 0.0 : f32
  %init = tensor.empty() : tensor<2x4xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%init : tensor<2x4xf32>) -> tensor<2x4xf32>
  %sum = linalg.reduce ins(%y : tensor<2x4x8x8xf32>) outs(%acc : tensor<2x4xf32>) dimensions = [2, 3]
    (%in: f32, %a: f32) {
      %r = arith.addf %in, %a : f32
      linalg.yield %r : f32
    }
  return %sum : tensor<2x4xf32>
}

// HTML: <section id="layer0" class="layer"><h2>layer0.routing</h2>
// HTML-SAME: <div id="layer0-examples" class="examples"><figure><svg
// HTML-SAME: <image href="data:image/png;base64,
// HTML-SAME: data-expert="0" data-weight="0.731059"
// HTML-SAME: image 0, class 0
// HTML-SAME: image 1, class 1
// HTML-SAME: image 2, class 2
// HTML-SAME: <svg id="layer0-usage"
// HTML-SAME: data-value="0.500000"
// HTML-SAME: <svg id="layer0-map"
// HTML-SAME: data-patch="1" data-expert="1" data-share="1.000000"
// HTML-SAME: <svg id="layer0-entropy"
// HTML-SAME: <table id="layer0-classes"
