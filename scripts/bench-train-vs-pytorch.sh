#!/usr/bin/env bash
# The teacher's training step in panama-sd (`./panama-sd bench-train`) against its PyTorch twin
# (scripts/pytorch_twin/teacher_step.py) on the same libtorch, interleaved round by round, same batch and threads.
# Usage: scripts/bench-train-vs-pytorch.sh [ROUNDS=3] [THREADS=all] [BATCH=128]. Run it with nothing else running.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
rounds=${1:-3}
threads=${2:-$(nproc)}
batch=${3:-128}
python=/usr/bin/python3
if ! "$python" -c "import torch" 2>/dev/null; then
  if [ "$(id -u)" = 0 ]; then apt-get install -y -q python3-torch >/dev/null
  else echo "needs Debian's python3-torch (the same libtorch 1.13.1): sudo apt-get install python3-torch" >&2; exit 2; fi
fi
cd "$root"
./panama-sd info >/dev/null   # builds on first use
"$python" scripts/pytorch_twin/teacher_step.py --check models/fashion-teacher --batch 2 --warmup 0 --steps 1 --threads 1 > /tmp/twin-check.txt
head -1 /tmp/twin-check.txt
for r in $(seq 1 "$rounds"); do
  j=$(PANAMASD_NUM_THREADS=$threads ./panama-sd bench-train --batch "$batch" --warmup 3 --steps 10 < /dev/null 2>/dev/null | grep -E "img/s|machine")
  p=$("$python" scripts/pytorch_twin/teacher_step.py --batch "$batch" --warmup 3 --steps 10 --threads "$threads")
  echo "round $r"; echo "  $j" | sed 's/^  machine/  machine/'; echo "  $p"
  jr=$(echo "$j" | grep -oE '[0-9.]+ img/s' | head -1 | cut -d' ' -f1); pr=$(echo "$p" | grep -oE '[0-9.]+ img/s' | cut -d' ' -f1)
  echo "  panama-sd / PyTorch throughput: $("$python" -c "print(round($jr / $pr, 3))")"
done
