// pce-opt --help lists every pce pass with a one-line summary.
// RUN: pce-opt --help | FileCheck %s
// CHECK: --pce-decompose-layer {{.*}} Rewrite pce.layer into patchify, embed, route, experts, mix, attention, unpatchify
