#!/usr/bin/env bash
# Issue 8's speed levers, one at a time, in one run: bench-model on the SD 1.5-size model with each lever forced
# on or off, rounds interleaved (A B C ... A B C ...) so that drift in the machine hits every configuration alike.
# BASE=/path/to/another/checkout runs that checkout's launcher as a baseline (e.g. the commit before the
# levers). Writes runs/bench-levers/*.json and prints a table of the best median per configuration.
#   scripts/bench-levers.sh [ROUNDS]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
rounds="${1:-2}"
out="$root/runs/bench-levers"
mkdir -p "$out"
model="${MODEL:-$root/runs/.cache/bench-models/sd15-float32}"
[ -d "$model" ] || "$root/panama-sd" bench-model --model sd15 --parts load --repeat 1 --warmup 0 --profile false >/dev/null

# name | checkout | environment | bench-model arguments
configs=()
[ -n "${BASE:-}" ] && configs+=("unet-base|$BASE||--parts unet --latent 32 --batch 2 --repeat 5 --warmup 1")
configs+=(
  "unet-dense|$root|PANAMASD_CONV_BACKEND=dense|--parts unet --latent 32 --batch 2 --repeat 5 --warmup 1"
  "unet-prepacked|$root|PANAMASD_CONV_BACKEND=prepacked|--parts unet --latent 32 --batch 2 --repeat 5 --warmup 1"
  "unet-auto|$root|PANAMASD_CONV_BACKEND=auto|--parts unet --latent 32 --batch 2 --repeat 5 --warmup 1"
  "unet-bf16|$root||--parts unet --latent 32 --batch 2 --repeat 5 --warmup 1 --dtype bfloat16"
  "clip-fp32|$root||--parts clip --batch 2 --repeat 5 --warmup 1"
  "clip-bf16|$root||--parts clip --batch 2 --repeat 5 --warmup 1 --dtype bfloat16"
)
[ -n "${BASE:-}" ] && configs+=("vae-base|$BASE||--parts vae --latent 64 --repeat 1 --warmup 1")
configs+=(
  "vae-dense|$root|PANAMASD_CONV_BACKEND=dense|--parts vae --latent 64 --repeat 1 --warmup 1"
  "vae-auto|$root|PANAMASD_CONV_BACKEND=auto|--parts vae --latent 64 --repeat 1 --warmup 1"
  "vae-bf16|$root||--parts vae --latent 64 --repeat 1 --warmup 1 --dtype bfloat16"
  "vae-tiled256|$root||--parts vae --latent 64 --repeat 1 --warmup 1 --vae-tiling always --vae-tile 256"
)
for r in $(seq 1 "$rounds"); do
  for c in "${configs[@]}"; do
    IFS='|' read -r name checkout envs args <<<"$c"
    echo "round $r: $name" >&2
    # shellcheck disable=SC2086
    env $envs "$checkout/panama-sd" bench-model --model "$model" $args --profile false --json "$out/$name-$r.json" >/dev/null
  done
done
python3 - "$out" <<'PY'
import json, sys, glob, os, collections
best = collections.OrderedDict()
for f in sorted(glob.glob(os.path.join(sys.argv[1], "*.json"))):
    name = os.path.basename(f).rsplit("-", 1)[0]
    r = json.load(open(f))
    for p in r["parts"]:
        cur = best.get(name)
        row = (p["median_s"], p.get("gflops_per_s_median"), p.get("rss_peak_bytes", 0) / 2**30, p.get("allocator_peak_bytes", 0) / 2**30)
        if cur is None or row[0] < cur[0]: best[name] = row
m = json.load(open(glob.glob(os.path.join(sys.argv[1], "*.json"))[0]))["machine"]
print("machine:", m.get("cpu"), "| cores", m.get("cores"), "| libtorch", m.get("libtorch"), "threads", m.get("threads"), "|", m.get("blas"))
print("| configuration | best median s | GFLOP/s | peak RSS GiB | allocator peak GiB |")
print("| --- | --- | --- | --- | --- |")
for k, (t, g, rss, alloc) in best.items():
    print(f"| {k} | {t:.3f} | {g:.0f} | {rss:.2f} | {alloc:.2f} |" if g else f"| {k} | {t:.3f} | | {rss:.2f} | {alloc:.2f} |")
PY
