#!/usr/bin/env bash
# One ADD iteration in panama-sd (`./panama-sd train-add ... --timings true`: AddTrainer.step, the student's and the
# discriminator's step) against its PyTorch twin (scripts/pytorch_twin/add_step.py) on the same libtorch and the same
# shipped models (teacher, VAE decoder, feature network), interleaved round by round, batch 32, same threads.
# Both time the step alone, 10 steps after 2 warm-up; the batch (text encoding, decoded real images) is drawn outside.
# Usage: scripts/bench-add-vs-pytorch.sh [ROUNDS=3] [THREADS=all]. Run it with nothing else running.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/lib.sh
. "$root/scripts/lib.sh"
rounds=${1:-3}
threads=${2:-$(nproc)}
python=$(python_with_torch)
cd "$root"
./panama-sd info >/dev/null   # builds on first use
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for r in $(seq 1 "$rounds"); do
  rm -rf "$out/add"
  PANAMASD_NUM_THREADS=$threads </dev/null >"$out/java.txt" 2>/dev/null ./panama-sd train-add --teacher models/fashion-teacher --features models/fashion-feature-net --out "$out/add" --steps 12 --images 256 --timings true --monitor-every 1000 --checkpoint-every 1000 --resume false
  j=$(grep -E "^ADD step" "$out/java.txt")
  p=$("$python" scripts/pytorch_twin/add_step.py --batch 32 --warmup 2 --steps 10 --threads "$threads" | tail -1)
  echo "round $r"; echo "  panama-sd: $j"; echo "  $p"
  js=$(echo "$j" | grep -oE '[0-9.]+ s ' | head -1 | cut -d' ' -f1); ps=$(echo "$p" | grep -oE '[0-9.]+ s/step' | cut -d' ' -f1)
  echo "  panama-sd / PyTorch time per step: $("$python" -c "print(round($js / $ps, 3))")"
done
grep -E "^machine" "$out/java.txt"
