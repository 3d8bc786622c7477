#!/usr/bin/env bash
# Issue 19: bench-model's SD 1.5 UNet step and VAE decode against HuggingFace diffusers on the same libtorch
# (Debian's python3-torch 1.13.1), same config, shapes, dtype and threads, alternating run by run, ROUNDS rounds.
# diffusers is no Debian package: DIFFUSERS_PYTHONPATH is a directory where `import diffusers` works with that torch
# (diffusers' source tree and huggingface_hub's). Each run is a process of its own; the diffusers side is
# scripts/pytorch_twin/diffusers_model.py, which writes bench-model's JSON fields, and each panama-sd run prints its
# measures against the diffusers run before it (`bench-model --compare`).
# Writes runs/bench-diffusers/: per run a log and a JSON, and summary.tsv (side, dtype, latent, round, part, min s,
# median s, peak RSS bytes, system s and minor faults per call).
# As an AVX2-only CPU would run (both sides, every kernel library): ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2
# before the command (libtorch's, oneDNN's and the shim's attention kernels follow them; OpenBLAS runs its Haswell
# kernels either way); such runs go to runs/bench-diffusers-avx2/.
# Usage: scripts/bench-diffusers.sh DIFFUSERS_PYTHONPATH [ROUNDS=1] [LATENTS="32 64"] [DTYPES="float32 bfloat16"] [PARTS=unet]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
pythonpath=${1:?usage: scripts/bench-diffusers.sh DIFFUSERS_PYTHONPATH [ROUNDS] [LATENTS] [DTYPES] [PARTS]}
rounds=${2:-1}
latents=${3:-32 64}
dtypes=${4:-float32 bfloat16}
parts=${5:-unet}
# shellcheck source=scripts/lib.sh
. "$root/scripts/lib.sh"
python=$(python_with_torch)
cd "$root"
PYTHONPATH=$pythonpath "$python" -c "import diffusers" || { echo "cannot import diffusers from $pythonpath" >&2; exit 2; }
out=runs/bench-diffusers${ATEN_CPU_CAPABILITY:+-$ATEN_CPU_CAPABILITY}  # a run capped to AVX2 (below) keeps its own
mkdir -p "$out"
</dev/null >/dev/null ./panama-sd info  # builds once, before the timed runs
dir=runs/.cache/bench-models/sd15-float32
[ -d "$dir" ] || </dev/null ./panama-sd bench-model --model sd15 --parts load --repeat 1 --warmup 0 >/dev/null
[ -f "$out/summary.tsv" ] || printf 'side\tdtype\tlatent\tround\tpart\tmin_s\tmedian_s\trss_peak_bytes\tsystem_s\tminor_faults\n' >"$out/summary.tsv"
summarise() {  # SIDE DTYPE LATENT ROUND JSON
  "$python" - "$@" >>"$out/summary.tsv" <<'EOF'
import json, sys
side, dtype, latent, rnd, path = sys.argv[1:]
for p in json.load(open(path))["parts"]:
    t = p.get("per_timed_call", {})
    print("\t".join(map(str, [side, dtype, latent, rnd, p["part"], p["min_s"], p["median_s"], p["rss_peak_bytes"], t.get("system_s", ""), t.get("minor_faults", "")])))
EOF
}
for round in $(seq 1 "$rounds"); do
  for latent in $latents; do
    for dtype in $dtypes; do
      # fewer timed calls where one call takes half a minute or more
      repeat=$([ "$latent" -ge 64 ] && echo 2 || echo 5)
      name=$dtype-$latent-$round
      PYTHONPATH=$pythonpath "$python" scripts/pytorch_twin/diffusers_model.py --model "$dir" --parts "$parts" --latent "$latent" --dtype "$dtype" \
        --repeat "$repeat" --warmup 1 --json "$out/diffusers-$name.json" </dev/null >"$out/diffusers-$name.log" 2>&1
      summarise diffusers "$dtype" "$latent" "$round" "$out/diffusers-$name.json"
      </dev/null >"$out/panama-$name.log" 2>&1 ./panama-sd bench-model --model sd15 --parts "$parts" --latent "$latent" --dtype "$dtype" \
        --repeat "$repeat" --warmup 1 --profile false --json "$out/panama-$name.json" --compare "$out/diffusers-$name.json"
      summarise panama-sd "$dtype" "$latent" "$round" "$out/panama-$name.json"
      grep -A12 "against the saved run" "$out/panama-$name.log" || true
    done
  done
done
column -t "$out/summary.tsv"
