#!/usr/bin/env bash
# Fuzzes every data reader with libFuzzer, AddressSanitizer and
# UndefinedBehaviorSanitizer (clang), one target after the other.
#
#   scripts/fuzz-data.sh [RUNS] [TARGET...]
#   scripts/fuzz-data.sh                      # 1,000,000 inputs for every target
#   scripts/fuzz-data.sh 20000 image_codec    # a quick look at one
#   scripts/fuzz-data.sh 1000000 arrays pcam=100000   # TARGET=RUNS for one target
#   PCE_FUZZ_RSS_MB=8192 scripts/fuzz-data.sh 1000000 pcam  # libFuzzer's memory limit (default 4096)
#
# Targets (test/fuzz/fuzz_<target>.cpp): image_codec (JPEG, PNG, palette PNG),
# voc_xml (VOC annotations), asap_xml (Camelyon16 lesion polygons and their
# rasterisation), pcam (PatchCamelyon's HDF5 files, opened from memory),
# tiny_imagenet (its index files), arrays (IDX, .npy, CIFAR records).
# The readers and the runtime are compiled once with the sanitizers into
# $PCE_BUILD_DIR/fuzz-data/ (default build/); starting corpora come from
# test/fuzz/make_seeds.cpp, which writes valid files through the same
# libraries. Separate from the CMake build and CI on purpose (they must not
# need clang). A finding is written to fuzz-data/findings/<target>/ as
# crash-*/leak-*/timeout-*; rerun it with  fuzz-data/fuzz_<target> <file>.
# The last line per target says runs, seconds and execs/s; the script exits
# non-zero when any target found something.
# pcam is built without AddressSanitizer (UBSan only): each input is first
# read by libhdf5 in a forked child (runtime/datasets/Contained.h), and
# forking an ASan process costs ~50 ms; the child's crashes are the point.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${PCE_BUILD_DIR:-$ROOT/build}
OUT=$BUILD/fuzz-data
RUNS=${1:-1000000}
shift || true
TARGETS=("$@")
[[ ${#TARGETS[@]} -gt 0 ]] || TARGETS=(image_codec voc_xml asap_xml pcam tiny_imagenet arrays)

CLANG=${CLANG:-clang++}
command -v "$CLANG" >/dev/null || { echo "fuzz-data: no clang++ (apt-get install clang)" >&2; exit 1; }

HDF5_CFLAGS=(-I/usr/include/hdf5/serial)
HDF5_LIBS=(-L/usr/lib/x86_64-linux-gnu/hdf5/serial -lhdf5)
read -r -a XML_FLAGS <<<"$(pkg-config --cflags libxml-2.0)"
read -r -a SLIDE_FLAGS <<<"$(pkg-config --cflags openslide)"
read -r -a LIBS <<<"$(pkg-config --libs libxml-2.0 openslide) -ljpeg -lpng -ltiff -lz -ldl -lpthread"
SAN=(-fsanitize=address,undefined -fno-sanitize-recover=undefined)
FLAGS=(-std=c++17 -g -O1 -fsanitize=fuzzer-no-link "${SAN[@]}" -I"$ROOT" "${HDF5_CFLAGS[@]}" "${XML_FLAGS[@]}"
       "${SLIDE_FLAGS[@]}")

mkdir -p "$OUT/obj"
# The readers and what they use of the runtime (no generated headers).
SOURCES=("$ROOT"/runtime/datasets/*.cpp
         "$ROOT"/runtime/{Cifar,DataDescription,Idx,Json,Npy,DType,HostTensor,FileIO,Memory,RoutingPaths,ThreadPool}.cpp)
objs=()
for src in "${SOURCES[@]}"; do
  obj=$OUT/obj/$(basename "$src" .cpp).o
  if [[ ! -f $obj || $src -nt $obj ]] || find "$ROOT/runtime" -name '*.h' -newer "$obj" | grep -q .; then
    echo "fuzz-data: compiling $(basename "$src")"
    "$CLANG" "${FLAGS[@]}" -c "$src" -o "$obj"
  fi
  objs+=("$obj")
done

# Seeds.
"$CLANG" "${FLAGS[@]}" "$ROOT/test/fuzz/make_seeds.cpp" "${objs[@]}" "${HDF5_LIBS[@]}" "${LIBS[@]}" \
  -fsanitize=fuzzer-no-link "${SAN[@]}" -o "$OUT/make_seeds"
rm -rf "$OUT/seeds"
"$OUT/make_seeds" "$OUT/seeds"

status=0
summary=()
for spec in "${TARGETS[@]}"; do
  t=${spec%%=*}
  runs=$RUNS
  [[ $spec == *=* ]] && runs=${spec#*=}
  src=$ROOT/test/fuzz/fuzz_$t.cpp
  [[ -f $src ]] || { echo "fuzz-data: no target '$t' ($src)" >&2; exit 2; }
  if [[ $t == pcam ]]; then
    mkdir -p "$OUT/obj-noasan"
    for f in PCam Contained; do
      "$CLANG" -std=c++17 -g -O1 -fsanitize=fuzzer-no-link,undefined -fno-sanitize-recover=undefined -I"$ROOT" \
        "${HDF5_CFLAGS[@]}" -c "$ROOT/runtime/datasets/$f.cpp" -o "$OUT/obj-noasan/$f.o"
    done
    "$CLANG" -std=c++17 -g -O1 -fsanitize=fuzzer,undefined -I"$ROOT" "$src" "$OUT"/obj-noasan/{PCam,Contained}.o \
      "${HDF5_LIBS[@]}" -o "$OUT/fuzz_$t"
  else
    "$CLANG" "${FLAGS[@]}" -fsanitize=fuzzer "$src" "${objs[@]}" "${HDF5_LIBS[@]}" "${LIBS[@]}" -o "$OUT/fuzz_$t"
  fi
  mkdir -p "$OUT/corpus/$t"
  cp -n "$OUT/seeds/$t"/* "$OUT/corpus/$t/" 2>/dev/null || true
  echo "fuzz-data: $t: $runs runs"
  log=$OUT/$t.log
  findings=$OUT/findings/$t
  rm -rf "$findings" && mkdir -p "$findings"
  # pcam's probe children crash inside libhdf5 by design (a few % of inputs):
  # symbolizing each report would start llvm-symbolizer every time, which
  # took most of the run's time. Unsymbolized frames still name their
  # library; rerun a finding by hand to see function names.
  san_options=print_stacktrace=1
  [[ $t == pcam ]] && san_options+=:symbolize=0
  start=$(date +%s)
  if (cd "$OUT" && UBSAN_OPTIONS=$san_options "./fuzz_$t" -runs="$runs" -max_len=65536 -timeout=10 \
        -rss_limit_mb="${PCE_FUZZ_RSS_MB:-4096}" -print_final_stats=1 -artifact_prefix="$findings/" \
        "corpus/$t" >"$log" 2>&1); then
    result=ok
  else
    result="FOUND SOMETHING (see $log and $findings)"
    status=1
  fi
  if [[ $t == pcam ]]; then
    # A probe child that crashes prints its sanitizer report and libFuzzer
    # writes its input, although the run goes on (the crash is the verdict
    # "damaged"). Each report's innermost frame in libhdf5 or in the target
    # (our code) says whose crash it was; only libhdf5's are expected (one
    # with neither counts as ours). Frames are unsymbolized: "(module+0x..)".
    read -r lib ours < <(awk '
      /ERROR: ([A-Za-z]*Sanitizer|libFuzzer)|runtime error:/ { open = 1; n++; next }
      open && /^ *#[0-9]+ 0x[0-9a-f]+ / {
        if ($0 ~ /libhdf5| in H5/) { lib++; open = 0 } else if ($0 ~ /fuzz_pcam|pce::|LLVMFuzzerTestOneInput/) { open = 0 }
      }
      END { print lib + 0, n - lib }' "$log")
    if [[ $result == ok && $ours == 0 ]]; then
      rm -rf "$findings" && mkdir -p "$findings"
      result="ok, $lib libhdf5 crashes contained in the probe"
    elif [[ $ours != 0 ]]; then
      result="FOUND SOMETHING: $ours crashes inside the probe not in libhdf5 (see $log and $findings)"
      status=1
    fi
  fi
  secs=$(( $(date +%s) - start ))
  done_runs=$(grep -ao 'stat::number_of_executed_units: *[0-9]*' "$log" | tail -1 | grep -o '[0-9]*$' || echo "?")
  speed=$(grep -ao 'stat::average_exec_per_sec: *[0-9]*' "$log" | tail -1 | grep -o '[0-9]*$' || echo "?")
  line="$t: $result, $done_runs runs in ${secs}s ($speed exec/s)"
  echo "fuzz-data: $line"
  summary+=("$line")
done
rm -rf /dev/shm/pce-fuzz-tin-* 2>/dev/null || true
echo "fuzz-data: summary"
printf '  %s\n' "${summary[@]}"
exit $status
