#!/usr/bin/env bash
# Issue 19: a whole 512x512 SD 1.5 generation (Euler, guidance 7.5, 4 steps, 2 threads), process start to PNG,
# by stable-diffusion.cpp and by panama-sd on the same random weights (bench-model's sd15 stored as float16, written
# as one original-layout file by `convert`), alternating, ROUNDS rounds, each run under /usr/bin/time -v (wall time,
# peak RSS). SD_CLI is stable-diffusion.cpp's sd-cli, built from its repository for this CPU (CPU backend,
# -DGGML_NATIVE=ON). Writes runs/bench-sdcpp/: a log per run and summary.tsv (mode, round, wall s, peak RSS KiB).
# Usage: scripts/bench-sdcpp.sh SD_CLI [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
sd=${1:?usage: scripts/bench-sdcpp.sh SD_CLI [ROUNDS]}
rounds=${2:-1}
out=runs/bench-sdcpp
mkdir -p "$out"
</dev/null >/dev/null ./panama-sd info  # builds once, before the timed runs
dir=runs/.cache/bench-models/sd15-float16
[ -d "$dir" ] || </dev/null ./panama-sd bench-model --model sd15 --storage float16 --parts load --repeat 1 --warmup 0 >/dev/null
file=$out/sd15-float16.safetensors
[ -f "$file" ] || </dev/null ./panama-sd convert --model "$dir" --out "$file"
prompt="a photo of an astronaut riding a horse on mars"
run() {  # MODE ROUND COMMAND...
  local mode=$1 round=$2
  shift 2
  local log=$out/$mode-$round.log
  /usr/bin/time -v "$@" </dev/null >"$log" 2>&1 || { echo "$mode failed: see $log" >&2; return 1; }
  local wall rss
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; print s}' "$log")
  rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$log")
  printf '%s\t%s\t%s\t%s\n' "$mode" "$round" "$wall" "$rss" | tee -a "$out/summary.tsv"
}
printf 'mode\tround\twall_s\tpeak_rss_kib\n' >"$out/summary.tsv"
panama() {  # MODE ROUND DTYPE WEIGHTS
  run "$1" "$2" ./panama-sd generate --model "$file" --config "$dir" --scheduler EulerDiscreteScheduler --prompt "$prompt" --steps 4 --guidance 7.5 --height 512 --width 512 --seed 42 --dtype "$3" --weights "$4" --out "$out/$1.png"
}
sdcpp() {  # MODE ROUND TYPE
  run "$1" "$2" "$sd" -m "$file" -p "$prompt" --cfg-scale 7.5 --steps 4 --sampling-method euler -H 512 -W 512 -s 42 -t 2 --type "$3" -o "$out/$1.png"
}
for round in $(seq 1 "$rounds"); do
  sdcpp sdcpp-f32 "$round" f32
  panama panama-float32 "$round" float32 dense
  sdcpp sdcpp-q8_0 "$round" q8_0
  panama panama-bfloat16 "$round" bfloat16 dense
  panama panama-float32-int8 "$round" float32 int8
  panama panama-bfloat16-int8 "$round" bfloat16 int8
done
