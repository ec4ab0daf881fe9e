// Runs the lit test shipped with the tutorial's example pass, in place.
// RUN: pce-opt %pce_src_root/examples/fusion-pass/fold-expert-norm.mlir -pce-example-fold-expert-norm -split-input-file -verify-diagnostics | FileCheck %pce_src_root/examples/fusion-pass/fold-expert-norm.mlir
