#!/usr/bin/env bash
# The shim's attention kernels (native/src/attention.cpp) under AddressSanitizer and UndefinedBehaviorSanitizer:
# builds native/bench/attention_asan.cpp with the kernels against the system's libtorch (Debian's libtorch-dev;
# TORCH_INCLUDE / TORCH_LIB for another) and runs it: every case prints its error, any out-of-bounds access or
# undefined behaviour stops it with a report. Takes a minute to build.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
include=${TORCH_INCLUDE:-/usr/include}
lib=${TORCH_LIB:-/usr/lib/x86_64-linux-gnu}
out=$root/native/build/attention_asan
mkdir -p "$root/native/build"
g++ -std=gnu++17 -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -Wno-psabi \
  -I"$root/native/src" -I"$root/native/include" -I"$include" -I"$include/torch/csrc/api/include" \
  "$root/native/bench/attention_asan.cpp" "$root/native/src/attention.cpp" -o "$out" -L"$lib" -ltorch -ltorch_cpu -lc10
ASAN_OPTIONS=detect_leaks=0 "$out"
