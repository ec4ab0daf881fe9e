// report.html in a real browser: headless Chromium (Debian's `chromium`)
// loads the page pce-run --routing writes for the model of
// pce-run-routing-report.mlir; the page logs nothing to the console, every
// section is in the DOM Chromium built, and the screenshot is not blank
// (Inputs/check_report_page.py).
//
// REQUIRES: chromium
// RUN: rm -rf %t && mkdir -p %t
// RUN: pce-compile %S/pce-run-routing-report.mlir -o %t/art
// RUN: pce-init %t/art -o %t/w.safetensors --seed 1
// RUN: printf '\0\0\10\3\0\0\0\3\0\0\0\10\0\0\0\10' > %t/images
// RUN: head -c 192 /dev/zero >> %t/images
// RUN: printf '\0\0\10\1\0\0\0\3\0\1\2' > %t/labels
// RUN: pce-run %t/art --weights %t/w.safetensors --idx-images %t/images --idx-labels %t/labels --routing %t/rdir
// RUN: %python %S/Inputs/check_report_page.py %chromium %t/rdir/report.html summary clusters clusters-sizes \
// RUN:   clusters-exemplars layer0 layer0-usage \
// RUN:   layer0-weight layer0-map layer0-entropy layer0-classes layer0-examples | FileCheck %s
// CHECK: page ok: 11 sections
