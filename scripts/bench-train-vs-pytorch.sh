#!/usr/bin/env bash
# The teacher's training step in panama-sd (`./panama-sd bench-train`) against its PyTorch twin
# (scripts/pytorch_twin/teacher_step.py) on the same libtorch, interleaved round by round, same batch and threads.
# Usage: scripts/bench-train-vs-pytorch.sh [ROUNDS=3] [THREADS=all] (batch 128, the teacher's). Run it with nothing else running.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
rounds=${1:-3}
threads=${2:-$(nproc)}
# shellcheck source=scripts/lib.sh
. "$root/scripts/lib.sh"
python=$(python_with_torch)
cd "$root"
./panama-sd info >/dev/null   # builds on first use
"$python" scripts/pytorch_twin/teacher_step.py --check models/fashion-teacher --batch 2 --warmup 0 --steps 1 --threads 1 > /tmp/twin-check.txt
head -1 /tmp/twin-check.txt
for r in $(seq 1 "$rounds"); do
  PANAMASD_NUM_THREADS=$threads </dev/null >/tmp/bench-train-java.txt 2>/dev/null ./panama-sd bench-train --batch 128 --warmup 3 --steps 10
  j=$(grep -E "img/s|machine" /tmp/bench-train-java.txt)
  p=$("$python" scripts/pytorch_twin/teacher_step.py --batch 128 --warmup 3 --steps 10 --threads "$threads")
  echo "round $r"; echo "  $j" | sed 's/^  machine/  machine/'; echo "  $p"
  jr=$(echo "$j" | grep -oE '[0-9.]+ img/s' | head -1 | cut -d' ' -f1); pr=$(echo "$p" | grep -oE '[0-9.]+ img/s' | cut -d' ' -f1)
  echo "  panama-sd / PyTorch throughput: $("$python" -c "print(round($jr / $pr, 3))")"
done
