// pce-reshape prunes and splits a run's experts by its routing statistics
// (docs/Analysis.md, "Pruning and splitting experts"). The run is a fixture:
// Inputs/reshape-model.yaml compiled as phase 1, weights from pce-init and a
// report.json whose usages are known (l0: 60%, 0.4%, 39.6%; l1: 75%, 25%,
// with per-expert entropies 0.2 and 0.9). Every new model must compile and
// run; the split of an MLP router without noise must compute the same logits.
//
// RUN: rm -rf %t && mkdir -p %t/run/compiled %t/run/report/phase1
// RUN: pce-compile %S/Inputs/reshape-model.yaml -o %t/run/compiled/phase1
// RUN: pce-init %t/run/compiled/phase1 -o %t/run/weights.safetensors --seed 1
// RUN: cp %S/Inputs/reshape-report.json %t/run/report/phase1/report.json
// RUN: printf '{"command": "pce-train %S/Inputs/reshape-model.yaml -o run --epochs 1"}\n' > %t/run/summary.json
// RUN: %python -c "import numpy as n; n.save('%t/x.npy', n.random.RandomState(0).randn(2, 1, 8, 8).astype(n.float32))"
// RUN: pce-run %t/run/compiled/phase1 --weights %t/run/weights.safetensors --input %t/x.npy --output %t/y.npy
//
// Pruning: l0's expert 1 (0.4%) goes; the model description changes in its
// `experts:` value only; every other tensor stays bit for bit.
// RUN: pce-reshape %t/run -o %t/pruned --prune-usage-below 0.01 | FileCheck %s --check-prefix=PRUNE
// RUN: not diff %S/Inputs/reshape-model.yaml %t/pruned/model.yaml | FileCheck %s --check-prefix=PRUNE-YAML
// RUN: FileCheck %s --check-prefix=PRUNE-JSON < %t/pruned/reshape.json
// RUN: %python -c "import json; l = json.load(open('%t/pruned/reshape.json'))['layers']; assert [(x['name'], x['experts_after'], x['kept'], x['pruned'], x['split']) for x in l] == [('l0', 2, [0, 2], [1], []), ('l1', 2, [0, 1], [], [])], l"
// RUN: %python %S/Inputs/reshape_check.py unchanged %t/run/weights.safetensors %t/pruned/weights.safetensors l0.experts. l0.router.mlp.w2 l0.router.mlp.b2 l0.mix.proj.weight
// RUN: %python %S/Inputs/reshape_check.py rows %t/run/weights.safetensors %t/pruned/weights.safetensors l0.experts.kernel 0,2
// RUN: %python %S/Inputs/reshape_check.py rows %t/run/weights.safetensors %t/pruned/weights.safetensors l0.experts.bn.running_var 0,2
// RUN: %python %S/Inputs/reshape_check.py rows %t/run/weights.safetensors %t/pruned/weights.safetensors l0.router.mlp.w2 0,2
// RUN: %python %S/Inputs/reshape_check.py rows %t/run/weights.safetensors %t/pruned/weights.safetensors l0.router.mlp.b2 0,2
// RUN: pce-compile %t/pruned/model.yaml -o %t/pruned-art
// RUN: pce-run %t/pruned-art --weights %t/pruned/weights.safetensors --input %t/x.npy --output %t/y-pruned.npy
//
// PRUNE:      layer  expert  usage  action
// PRUNE-NEXT: l0     0       60.00%  keep -> 0
// PRUNE-NEXT: l0     1        0.40%  prune (usage 0.4% < 1.0%)
// PRUNE-NEXT: l0     2       39.60%  keep -> 1
// PRUNE-NEXT: l1     0       75.00%  keep -> 0
// PRUNE-NEXT: l1     1       25.00%  keep -> 1
// PRUNE-NEXT: pce-reshape: l0: 3 -> 2 experts
// PRUNE-NEXT: pce-reshape: l1: 2 -> 2 experts
// PRUNE-NEXT: pce-reshape: wrote {{.*}}pruned (model.yaml, weights.safetensors, reshape.json)
//
// PRUNE-YAML:      <       experts: 3   # pruned or split by the test
// PRUNE-YAML-NEXT: ---
// PRUNE-YAML-NEXT: >       experts: 2   # pruned or split by the test
// PRUNE-YAML-NOT:  <
//
// PRUNE-JSON: "format": "pce-reshape",
// PRUNE-JSON: "source": "{{.*}}run",
// PRUNE-JSON: "model": "{{.*}}reshape-model.yaml",
// PRUNE-JSON: "name": "l0",
// PRUNE-JSON: "router": "mlp",
// PRUNE-JSON: "experts_before": 3,
// PRUNE-JSON: "experts_after": 2,
//
// Splitting l0 (MLP router, concat mix) without noise: b2 - log 2 on both
// halves and copied projection columns give the same logits as before.
// RUN: pce-reshape %t/run -o %t/split --layer l0 --split-usage-above 0.5 --perturb 0 | FileCheck %s --check-prefix=SPLIT
// RUN: %python -c "import json; l = json.load(open('%t/split/reshape.json'))['layers']; assert [(x['name'], x['kept'], x['split'], x['refit_keys']) for x in l] == [('l0', [0, 1, 2, 0], [{'expert': 0, 'into': [0, 3]}], False)], l"
// RUN: pce-compile %t/split/model.yaml -o %t/split-art
// RUN: pce-run %t/split-art --weights %t/split/weights.safetensors --input %t/x.npy --output %t/y-split.npy
// RUN: %python %S/Inputs/reshape_check.py close %t/y.npy %t/y-split.npy 1e-4
//
// SPLIT:      layer  expert  usage  action
// SPLIT-NEXT: l0     0       60.00%  split -> 0, 3 (usage 60.0% > 50.0%)
// SPLIT-NEXT: l0     1        0.40%  keep -> 1
// SPLIT-NEXT: l0     2       39.60%  keep -> 2
// SPLIT-NEXT: pce-reshape: l0: 3 -> 4 experts
//
// Splitting by entropy: only l1's report has "expert_entropy"; its expert 1
// (0.9) is split, its keys copied; fine-tuning refits them (refit_keys).
// RUN: pce-reshape %t/run -o %t/entropy --split-entropy-above 0.8 --seed 3 | FileCheck %s --check-prefix=ENTROPY
// RUN: %python -c "import json; l = json.load(open('%t/entropy/reshape.json'))['layers']; assert [(x['name'], x['kept'], x['refit_keys']) for x in l] == [('l0', [0, 1, 2], False), ('l1', [0, 1, 1], True)], l"
// RUN: %python %S/Inputs/reshape_check.py rows %t/run/weights.safetensors %t/entropy/weights.safetensors l1.router.keys 0,1,1
// RUN: %python %S/Inputs/reshape_check.py rows %t/run/weights.safetensors %t/entropy/weights.safetensors l1.experts.bn.gamma 0,1,1
// RUN: pce-compile %t/entropy/model.yaml -o %t/entropy-art
// RUN: pce-run %t/entropy-art --weights %t/entropy/weights.safetensors --input %t/x.npy --output %t/y-entropy.npy
//
// ENTROPY: l1     1       25.00%  split -> 1, 2 (entropy 0.9 > 0.8)
// ENTROPY: note: l0: {{.*}}report.json has no per-expert entropy ("expert_entropy"): split by usage only
// ENTROPY: pce-reshape: l1: 2 -> 3 experts
//
// A description with a training section: the manifest is its last phase's
// (an MLP router in every layer there, as the plan says), and the new
// description is checked by importing that phase.
// RUN: mkdir -p %t/trun/report/phase1
// RUN: pce-compile %S/Inputs/reshape-train.yaml --training -o %t/trun/compiled
// RUN: pce-init %t/trun/compiled/phase1 -o %t/trun/weights.safetensors --seed 2
// RUN: cp %S/Inputs/reshape-report.json %t/trun/report/phase1/report.json
// RUN: pce-reshape %t/trun -o %t/tnew --model %S/Inputs/reshape-train.yaml --prune-usage-below 0.01 --split-usage-above 0.7 | FileCheck %s --check-prefix=TRAIN
// RUN: %python -c "import json; l = json.load(open('%t/tnew/reshape.json'))['layers']; assert [(x['name'], x['router'], x['kept']) for x in l] == [('l0', 'mlp', [0, 2]), ('l1', 'mlp', [0, 1, 0])], l"
// RUN: %python %S/Inputs/reshape_check.py rows %t/trun/weights.safetensors %t/tnew/weights.safetensors l1.router.mlp.w2 0,1,0
// RUN: %python %S/Inputs/reshape_check.py halved %t/trun/weights.safetensors %t/tnew/weights.safetensors l1.router.mlp.b2 0 0 2
// TRAIN: l1     0       75.00%  split -> 0, 2 (usage 75.0% > 70.0%)
// TRAIN: pce-reshape: l0: 3 -> 2 experts
// TRAIN: pce-reshape: l1: 2 -> 3 experts
//
// A rule that would prune every expert keeps the most used one.
// RUN: pce-reshape %t/run -o %t/all --prune-usage-below 1 | FileCheck %s --check-prefix=ALL
// RUN: pce-compile %t/all/model.yaml -o %t/all-art
// RUN: pce-run %t/all-art --weights %t/all/weights.safetensors --input %t/x.npy --output %t/y-all.npy
// ALL: l0     0       60.00%  keep -> 0 (kept: the rule would prune all 3 experts)
// ALL: note: l0: the prune rule would remove all 3 experts; kept expert 0 (the most used, 60.0%)
// ALL: pce-reshape: l0: 3 -> 1 experts
// ALL: pce-reshape: l1: 2 -> 1 experts
//
// Errors name the path and the reason (exit 1), and leave no NEW behind.
// RUN: not pce-reshape %t/nope -o %t/bad --prune-usage-below 0.1 2>&1 | FileCheck %s --check-prefix=MISSING
// MISSING: pce-reshape: error: {{.*}}nope: no such run directory
// RUN: not pce-reshape %t/run -o %t/bad --prune-usage-below 0.1 --layer l9 2>&1 | FileCheck %s --check-prefix=NOLAYER
// NOLAYER: pce-reshape: error: {{.*}}reshape-model.yaml: --layer l9: no such layer (its pce layers: l0, l1)
// RUN: not pce-reshape %t/run -o %t/bad --prune-usage-below 0.1 --layer layer2 2>&1 | FileCheck %s --check-prefix=NOTPCE
// NOTPCE: pce-reshape: error: {{.*}}reshape-model.yaml: --layer layer2: not a pce layer (its pce layers: l0, l1)
// RUN: not pce-reshape %t/run -o %t/pruned --prune-usage-below 0.1 2>&1 | FileCheck %s --check-prefix=EXISTS
// EXISTS: pce-reshape: error: {{.*}}pruned: already exists
// RUN: not pce-reshape %t/run -o %t/bad --prune-usage-below 0.1 --phase 2 2>&1 | FileCheck %s --check-prefix=PHASE
// PHASE: pce-reshape: error: {{.*}}run/report/phase2/report.json: no such file
// RUN: not pce-reshape %t/run -o %t/bad --prune-usage-below 0.1 --model %S/Inputs/reshape-table.yaml 2>&1 | FileCheck %s --check-prefix=TABLE
// TABLE: pce-reshape: error: {{.*}}reshape-table.yaml: layer 'l0': a position router's 'table' lists an expert per patch; pce-reshape cannot rewrite it
// A run without summary.json needs --model.
// RUN: mkdir -p %t/bare && cp -r %t/run/compiled %t/run/report %t/run/weights.safetensors %t/bare/
// RUN: not pce-reshape %t/bare -o %t/bad --prune-usage-below 0.1 2>&1 | FileCheck %s --check-prefix=NOSUMMARY
// NOSUMMARY: pce-reshape: error: {{.*}}bare/summary.json: no such file, so the run's model description is unknown (give --model MODEL.yaml)
// RUN: pce-reshape %t/bare -o %t/bare-new --prune-usage-below 0.1 --model %S/Inputs/reshape-model.yaml | FileCheck %s --check-prefix=BARE
// BARE: pce-reshape: l0: 3 -> 2 experts
// RUN: test ! -e %t/bad
//
// Usage errors exit 2.
// RUN: sh -c 'pce-reshape %t/run -o %t/bad --prune-usage-below half 2>&1; test $? -eq 2' | FileCheck %s --check-prefix=NAN
// NAN: pce-reshape: option '--prune-usage-below' needs a number, found 'half'
// RUN: sh -c 'pce-reshape %t/run -o %t/bad 2>&1; test $? -eq 2' | FileCheck %s --check-prefix=NORULE
// NORULE: pce-reshape: nothing to do: give --prune-usage-below, --split-usage-above or --split-entropy-above
// RUN: sh -c 'pce-reshape %t/run --prune-usage-below 0.1 2>&1; test $? -eq 2' | FileCheck %s --check-prefix=NOOUT
// NOOUT: pce-reshape: missing -o NEW
// RUN: sh -c 'pce-reshape %t/run -o %t/bad --prune-usage-below 1.5 2>&1; test $? -eq 2' | FileCheck %s --check-prefix=RANGE
// RANGE: pce-reshape: --prune-usage-below 1.5: a usage share lies in [0, 1]
// RUN: sh -c 'pce-reshape %t/run -o %t/bad --split-entropy-above 2 2>&1; test $? -eq 2' | FileCheck %s --check-prefix=ENTROPY-RANGE
// ENTROPY-RANGE: pce-reshape: --split-entropy-above 2: an entropy / log E lies in [0, 1]
// RUN: sh -c 'pce-reshape %t/run -o %t/bad --prune-usage-below 0.5 --split-usage-above 0.4 2>&1; test $? -eq 2' | FileCheck %s --check-prefix=BOTH
// BOTH: pce-reshape: --prune-usage-below 0.5 is above --split-usage-above 0.4: an expert cannot be both pruned and split
// RUN: test ! -e %t/bad
