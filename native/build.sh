#!/usr/bin/env bash
# Configures and builds the shim (incremental). Usage: build.sh BUILD_DIR [TORCH_DIR]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/build}
torch_dir=${2:-${TORCH_DIR:-}}
args=(-S "$here" -B "$build" -DCMAKE_BUILD_TYPE=Release)
[ -n "$torch_dir" ] && args+=(-DTorch_DIR="$torch_dir")
if [ ! -f "$build/CMakeCache.txt" ] || [ -n "$torch_dir" ]; then
  cmake "${args[@]}" >/dev/null
fi
cmake --build "$build" -j "$(nproc)"
