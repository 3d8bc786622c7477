#!/usr/bin/env bash
# The block pool against malloc (issue 19: page faults): bench-model's UNet step with the pool on and off,
# alternately, each under /usr/bin/time -v (minor page faults, system time, peak RSS).
# Usage: scripts/bench-block-pool.sh [LATENT=64] [ROUNDS=1] [MODEL=sd15]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
latent=${1:-64}; rounds=${2:-1}; model=${3:-sd15}
cd "$root"
./panama-sd info >/dev/null   # builds first, so the timed runs do not
printf '| round | pool | UNet step min s | median s | minor faults | system s | user s | wall s | peak RSS GiB |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n'
for round in $(seq 1 "$rounds"); do
  for pool in true false; do
    log=$(mktemp)
    PANAMASD_JAVA_OPTS="-Dpanamasd.allocator.pool=$pool" /usr/bin/time -v "$root/panama-sd" bench-model --model "$model" --latent "$latent" --batch 2 \
      --parts unet --repeat 2 --warmup 1 --profile false --isolation reset > "$log" 2>&1
    awk -v round="$round" -v pool="$pool" '
      /^unet / { min = $2; median = $3 }
      /Minor \(reclaiming/ { faults = $NF }
      /System time/ { sys = $NF }
      /User time/ { user = $NF }
      /Elapsed \(wall/ { wall = $NF }
      /Maximum resident/ { rss = $NF / 1048576 }
      END { printf "| %s | %s | %s | %s | %s | %s | %s | %s | %.2f |\n", round, pool, min, median, faults, sys, user, wall, rss }' "$log"
    machine=$(grep -m1 '^machine:' "$log" || true)
    rm -f "$log"
  done
done
echo "$machine; UNet step of $model at latent ${latent}x${latent}, batch 2, float32, 1 warm-up + 2 timed calls per run"
