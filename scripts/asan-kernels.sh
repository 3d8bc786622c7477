#!/usr/bin/env bash
# The shim's SIMD kernels under AddressSanitizer and UndefinedBehaviorSanitizer: the attention kernels
# (native/src/attention.cpp, harness native/bench/attention_asan.cpp) and the fused norms and GEGLU (fused.cpp,
# harness fused_asan.cpp), built against the system's libtorch (Debian's libtorch-dev; TORCH_INCLUDE / TORCH_LIB for
# another) and run: every case prints its result, any out-of-bounds access or undefined behaviour stops it with a
# report. Takes a minute or two to build.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
include=${TORCH_INCLUDE:-/usr/include}
lib=${TORCH_LIB:-/usr/lib/x86_64-linux-gnu}
flags=(-std=gnu++17 -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -Wno-psabi
  -I"$root/native/src" -I"$root/native/include" -I"$include" -I"$include/torch/csrc/api/include")
libs=(-L"$lib" -ltorch -ltorch_cpu -lc10)
mkdir -p "$root/native/build"
g++ "${flags[@]}" "$root/native/bench/attention_asan.cpp" "$root/native/src/attention.cpp" -o "$root/native/build/attention_asan" "${libs[@]}"
g++ "${flags[@]}" "$root/native/bench/fused_asan.cpp" "$root/native/src/fused.cpp" "$root/native/src/attention.cpp" \
  -o "$root/native/build/fused_asan" "${libs[@]}"
ASAN_OPTIONS=detect_leaks=0 "$root/native/build/attention_asan"
ASAN_OPTIONS=detect_leaks=0 "$root/native/build/fused_asan"
