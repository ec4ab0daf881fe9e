#!/usr/bin/env bash
# Fuzzes the model-description importer (frontend/) with libFuzzer.
#
#   scripts/fuzz-importer.sh [RUNS] [extra libFuzzer flags...]
#   scripts/fuzz-importer.sh 200000                  # 200k inputs (default)
#   scripts/fuzz-importer.sh -1 -max_total_time=300  # 5 minutes (-1: no run limit)
#
# Builds frontend/*.cpp and frontend/fuzz/ImporterFuzzer.cpp with clang,
# instrumented for libFuzzer and AddressSanitizer, and links them with the
# gcc-built dialect libraries of an existing build (PCE_BUILD_DIR, default
# build/; `ninja PCEDialect` is run there) and libMLIR.so/libLLVM.so. The
# corpus starts from the example and test descriptions. Separate from the
# CMake build and CI on purpose: they must not need clang. Crashes are
# written to $PCE_BUILD_DIR/fuzz/ as crash-*; rerun one with
#   $PCE_BUILD_DIR/fuzz/importer-fuzzer crash-<hash>
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${PCE_BUILD_DIR:-$ROOT/build}
LLVM=${LLVM_DIR:-/usr/lib/llvm-22}
RUNS=${1:-200000}
shift || true

CLANG=${CLANG:-}
if [[ -z $CLANG ]]; then
  for c in clang++-22 clang++; do
    if command -v "$c" >/dev/null; then CLANG=$c; break; fi
  done
fi
if [[ -z $CLANG ]]; then
  echo "fuzz-importer: no clang++ (apt-get install clang-22 libclang-rt-22-dev)" >&2
  exit 1
fi

if [[ ! -f $BUILD/build.ninja ]]; then
  cmake -G Ninja -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release
fi
ninja -C "$BUILD" -j"${JOBS:-2}" PCEDialect

OUT=$BUILD/fuzz
mkdir -p "$OUT/obj" "$OUT/corpus" "$OUT/seeds"
FLAGS=(-std=c++17 -g -O1 -fsanitize=fuzzer-no-link,address
       -D_GNU_SOURCE -D__STDC_CONSTANT_MACROS -D__STDC_FORMAT_MACROS
       -D__STDC_LIMIT_MACROS -I"$ROOT" -I"$BUILD" -isystem "$LLVM/include")
objs=()
for src in "$ROOT"/frontend/*.cpp "$ROOT"/frontend/fuzz/ImporterFuzzer.cpp; do
  obj=$OUT/obj/$(basename "$src" .cpp).o
  if [[ ! -f $obj || $src -nt $obj || $ROOT/frontend/ModelDescription.h -nt $obj ]]; then
    echo "fuzz-importer: compiling $(basename "$src")"
    "$CLANG" "${FLAGS[@]}" -c "$src" -o "$obj"
  fi
  objs+=("$obj")
done
"$CLANG" -fsanitize=fuzzer,address "${objs[@]}" \
  "$BUILD/lib/libPCEDialect.a" "$BUILD/lib/libPCEShapes.a" \
  "$LLVM/lib/libMLIR.so" "$LLVM/lib/libLLVM.so" -Wl,-rpath,"$LLVM/lib" \
  -o "$OUT/importer-fuzzer"

# Seeds: every model description in examples/ and the split parts of the
# Frontend tests (each `#--- name.yaml` section).
cp "$ROOT"/examples/*.yaml "$OUT/seeds/"
for t in "$ROOT"/test/Frontend/*.yaml; do
  awk -v dir="$OUT/seeds" -v base="$(basename "$t" .yaml)" '
    /^#--- / { file = dir "/" base "-" $2; next }
    file { print > file }' "$t"
done

cd "$OUT"
exec ./importer-fuzzer corpus seeds -runs="$RUNS" -max_len=4096 -timeout=10 \
  -rss_limit_mb=4096 -dict="$ROOT/frontend/fuzz/model-description.dict" \
  -print_final_stats=1 "$@"
