#!/usr/bin/env bash
# Reproduces the shipped Fashion-MNIST models under models/ from scratch: the VAE, the feature network (a small
# ViT, DINOv2 architecture), the evaluator (a small CNN, trained apart), the text-to-image teacher, the ADD Turbo
# student; then copies them into models/.
# Each stage runs from a snapshot of the build (scripts/run-frozen.sh), so the checkout may be rebuilt meanwhile.
# Wall times on the 2-core machine of docs/turbo-students.md (1 thread per job): VAE 11 min, feature network 7 min, teacher 40 min,
# ADD about 45 min (2 threads, alone: 8 min of teacher samples for the regression, then 1,500 iterations); about 2 hours
# in all. Usage: scripts/train-shipped.sh [RUN_DIR]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
run=${1:-$root/runs/fashion}
cd "$root"
./panama-sd info >/dev/null   # installs and builds on first use
frozen() { scripts/run-frozen.sh shipped "$@"; }
export PANAMASD_NUM_THREADS=${PANAMASD_NUM_THREADS:-1}
frozen train-vae --steps 900 --batch 48 --lr 2e-3 --seed 1 --out "$run"
frozen train-features --steps 700 --batch 64 --seed 2 --out "$run"
frozen train-evaluator --steps 1200 --batch 128 --seed 12 --out "$run"
frozen train-t2i --vae "$run" --out "$run/teacher" --steps 800 --batch 128 --seed 3 --checkpoint-every 100
frozen train-add --teacher "$run/teacher/model" --features "$run/feature-net" --out "$run/add" --steps 1500 --batch 32 --seed 6 \
  --head-norm skip-first --d-lr 1e-3 --augment false --d-warmup 100 --d-steps 2 --lambda 2.5 --teacher-guidance 1.0 --lr 5e-5 \
  --ema 0.995 --checkpoint-every 50 --monitor-every 50 --regression-weight 4 --regression-pairs 4096 --regression-steps 16
scripts/ship-models.sh "$run/teacher/model" "$run/add/model" "$run/feature-net" "$run/evaluator"
