#!/usr/bin/env bash
# Installs, only when missing, every Debian package PCE needs. Idempotent.
# Runs `apt-get update` first only when something must be installed.
set -euo pipefail

PACKAGES=(
  # MLIR/LLVM 22: headers, libMLIR.so, mlir-tblgen, FileCheck, lit
  llvm-22-dev libmlir-22-dev mlir-22-tools llvm-22-tools llvm-22 lld
  # LibTorch (CPU) and a fast BLAS for it
  libtorch-dev libopenblas0-pthread
  # build
  cmake ninja-build ccache g++ libgtest-dev zlib1g-dev
  # command lines of the MLIR-free tools (header-only)
  libcli11-dev
  # independent references for tests; PyTorch for the R5 script's smoke test
  # (tools/pce-bench/r5_torch.py; shares Debian's libtorch, ~18 MB more)
  python3-numpy python3-torch
  # the embedded default data set
  dataset-fashion-mnist
  # codecs and containers of the other data sets (runtime/datasets): JPEG,
  # PNG, VOC/ASAP XML, PatchCamelyon's HDF5, Camelyon16's slides (OpenSlide,
  # and libtiff to write test slides)
  libjpeg-dev libpng-dev libxml2-dev libhdf5-dev libopenslide-dev libtiff-dev
  # the data readers' libFuzzer targets (scripts/fuzz-data.sh)
  clang
  # the routing report's browser test (headless; test/Tools/pce-run-report-browser.mlir)
  chromium
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#PACKAGES[@]} packages present"
  exit 0
fi

echo "setup: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "setup: error: must run as root (or with sudo) to install: ${missing[*]}" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
if ! $SUDO apt-get update -q; then
  echo "setup: error: 'apt-get update' failed; cannot install ${missing[*]}" >&2
  exit 1
fi
if ! $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"; then
  echo "setup: error: 'apt-get install' failed for: ${missing[*]}" >&2
  echo "setup: these packages come from Debian 12's archive (llvm-22/mlir-22 from the configured LLVM repository)" >&2
  exit 1
fi
echo "setup: done"
