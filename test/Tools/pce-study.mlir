// pce-study runs every variant x seed through pce-train (here a stand-in
// script with known metrics, Inputs/fake_pce_train.py), records each run in
// study.jsonl and writes the table of mean +- sample std; it resumes: runs
// recorded ok are kept, an interrupted run continues with --resume, a failed
// one without a checkpoint starts over. Study files with mistakes are FILE:LINE:COL errors.
//
// RUN: rm -rf %t && mkdir -p %t && split-file %s %t
// RUN: printf '#!/bin/sh\nexec %python %S/Inputs/fake_pce_train.py "$@"\n' > %t/fake && chmod +x %t/fake
//
// The first session: b's seed 2 is interrupted, so the study stops there.
// RUN: not pce-study %t/study.yaml -o %t/out --pce-train %t/fake > %t/first.txt 2>&1
// RUN: FileCheck %s --check-prefix=FIRST < %t/first.txt
// FIRST: pce-study: a/1 starts
// FIRST: pce-study: a/1 ok
// FIRST: pce-study: b/2 starts
// FIRST: pce-study: b/2 was interrupted; run the same command to continue
//
// The second: the finished runs are kept, b/2 resumes, c fails (exit 1).
// RUN: not pce-study %t/study.yaml -o %t/out --pce-train %t/fake > %t/second.txt 2>&1
// RUN: FileCheck %s --check-prefix=SECOND < %t/second.txt
// SECOND: pce-study: a/1 done before, kept
// SECOND: pce-study: b/2 resumes
// SECOND: pce-study: b/2 ok
// SECOND: pce-study: c/1 failed (exit status 1); see {{.*}}c-seed1.log
// SECOND: | variant | runs | test top-1 % | test top-5 % | val top-1 % | least-used expert % | parameters | wall time (mean) | note |
// a: 51, 52, 53 -> 52 +- 1; b: 61, 62, 63; the least-used expert 0.1, 0.2, 0.3 %.
// SECOND: | a | 3/3 | 52.00 ± 1.00 | 90.00 ± 0.00 | 47.00 ± 1.00 | 0.20 ± 0.10 | 1234 | 20 s | the first |
// SECOND: | b | 3/3 | 62.00 ± 1.00 | 90.00 ± 0.00 | 57.00 ± 1.00 | 0.20 ± 0.10 | 1234 | 20 s | |
// SECOND: | c | 0/3 (3 failed) | – | – | – | – | – | – | |
// RUN: grep -c '"status": *"ok"' %t/out/study.jsonl | FileCheck %s --check-prefix=OK-LINES
// OK-LINES: 6
// RUN: grep -c -- '--resume' %t/out/runs/b/seed2/calls.txt | FileCheck %s --check-prefix=RESUMED
// RESUMED: 1
// RUN: FileCheck %s --check-prefix=HTML < %t/out/table.html
// HTML: <table id="study">
// HTML: <tr><td>a</td><td class="n">3/3</td><td class="n">52.00 ± 1.00</td>
//
// The third, with c fixed: only c runs.
// RUN: sed -i 's/args: \[--fail\]/args: []/' %t/study.yaml
// RUN: pce-study %t/study.yaml -o %t/out --pce-train %t/fake | FileCheck %s --check-prefix=THIRD
// THIRD-NOT: a/1 starts
// THIRD: pce-study: c/1 starts
// THIRD: | c | 3/3 | 52.00 ± 1.00 |
// RUN: wc -l < %t/out/runs/a/seed1/calls.txt | FileCheck %s --check-prefix=ONCE
// ONCE: 1
//
// --dry-run prints the commands; --only picks a variant.
// RUN: pce-study %t/study.yaml -o %t/dry --pce-train %t/fake --dry-run --only b | FileCheck %s --check-prefix=DRY
// DRY: {{.*}}fake {{.*}}model.yaml -o {{.*}}dry/runs/b/seed1 --seed 1 --force --epochs 1 --better --interrupt-once
// DRY-NOT: runs/a/
//
// `set` replaces blocks of the model description: the variant's copy keeps
// everything else, comments included.
// RUN: pce-study %t/set.yaml -o %t/set --pce-train %t/fake --dry-run | FileCheck %s --check-prefix=SET-CMD
// SET-CMD: {{.*}}fake {{.*}}set/models/mlp.yaml -o
// RUN: FileCheck %s --check-prefix=SET --match-full-lines < %t/set/models/mlp.yaml
// SET:      # {{.*}}trained.yaml with the keys that study 'set' sets for variant 'mlp' (pce-study)
// SET-NEXT: model: m   # the model
// SET-NEXT: training:
// SET-NEXT:   batch: 64
// SET-NEXT:   optimizer: {kind: sgd, lr: 0.05, router_lr_scale: 0.1}
// SET-NEXT:   # the phases
// SET-NEXT:   phases:
// SET-NEXT:     - {epochs: 1, router: {kind: cosine, tau: 0.1, top_k: 1}, keys: ema}
// SET-NEXT:     - {epochs: 1, router: {kind: mlp, hidden: 32, top_k: 1}}
// SET-EMPTY:
// SET-NEXT:   load_balance: 0.01
// SET-EMPTY:
// RUN: not pce-study %t/set-missing.yaml -o %t/e --pce-train %t/fake 2>&1 | FileCheck %s --check-prefix=SET-MISSING
// SET-MISSING: pce-study: variant 'x': {{.*}}trained.yaml: the model description has no 'training.schedule' written in block style (a key of 'training' on its own line)
//
// Mistakes.
// RUN: not pce-study %t/unknown-key.yaml -o %t/e 2>&1 | FileCheck %s --check-prefix=UNKNOWN
// UNKNOWN: unknown-key.yaml:3:22: error: unknown key 'modle' in a variant; expected one of name, model, args, note
// RUN: not pce-study %t/bad-seed.yaml -o %t/e 2>&1 | FileCheck %s --check-prefix=SEED
// SEED: bad-seed.yaml:2:12: error: a seed is a whole number >= 0, found 'two'
// RUN: not pce-study %t/twice.yaml -o %t/e 2>&1 | FileCheck %s --check-prefix=TWICE
// TWICE: twice.yaml:5:6: error: variant 'a' is listed twice
// RUN: not pce-study %t/no-model.yaml -o %t/e 2>&1 | FileCheck %s --check-prefix=NO-MODEL
// NO-MODEL: no-model.yaml:3:29: error: no model description at {{.*}}missing.yaml
// RUN: not pce-study %t/study.yaml -o %t/e --only z 2>&1 | FileCheck %s --check-prefix=ONLY
// ONLY: pce-study: --only: the study has no variant 'z'
// RUN: not pce-study %t/study.yaml -o %t/e --dryrun 2>&1 | FileCheck %s --check-prefix=MISSPELT
// MISSPELT: pce-study: unknown option '--dryrun' (did you mean '--dry-run'?)
// RUN: pce-study --version | FileCheck %s --check-prefix=VERSION
// VERSION: pce-study {{[0-9]+\.[0-9]+\.[0-9]+}} (git {{([0-9a-f]+(-dirty)?|unknown)}})
// RUN: pce-study --help | FileCheck %s --check-prefix=HELP
// HELP: usage: pce-study STUDY.yaml -o DIR

//--- model.yaml
model: m
//--- study.yaml
study: fake
seeds: [1, 2, 3]
args: [--epochs, "1"]
variants:
  - {name: a, model: model.yaml, note: the first}
  - {name: b, model: model.yaml, args: [--better, --interrupt-once]}
  - {name: c, model: model.yaml, args: [--fail]}
//--- trained.yaml
model: m   # the model
training:
  batch: 64
  optimizer: {kind: sgd, lr: 0.05}
  # the phases
  phases:
    - {epochs: 4, router: {kind: cosine, tau: 0.1, top_k: 1}, keys: ema}
    - {epochs: 2, mix: concat, attention: se}

  load_balance: 0.01
//--- set.yaml
study: set
seeds: [1]
variants:
  - name: mlp
    model: trained.yaml
    set:
      training.optimizer: "{kind: sgd, lr: 0.05, router_lr_scale: 0.1}"
      training.phases: |
        - {epochs: 1, router: {kind: cosine, tau: 0.1, top_k: 1}, keys: ema}
        - {epochs: 1, router: {kind: mlp, hidden: 32, top_k: 1}}
//--- set-missing.yaml
study: s
seeds: [1]
variants: [{name: x, model: trained.yaml, set: {training.schedule: "{kind: cosine}"}}]
//--- unknown-key.yaml
study: s
seeds: [1]
variants: [{name: a, modle: model.yaml}]
//--- bad-seed.yaml
study: s
seeds: [1, two]
variants: [{name: a, model: model.yaml}]
//--- twice.yaml
study: s
seeds: [1]
variants:
  - {name: a, model: model.yaml}
  - {name: a, model: model.yaml}
//--- no-model.yaml
study: s
seeds: [1]
variants: [{name: a, model: missing.yaml}]
