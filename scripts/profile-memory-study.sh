#!/usr/bin/env bash
# The study in docs/memory-profile.md: SD 1.5 (random weights) at 512 px, one guided Euler step, in float32 and in
# bfloat16, their comparison by module, and what the recording costs on a UNet step. Writes under runs/profile-study/.
set -euo pipefail
cd "$(dirname "$0")/.."
./panama-sd profile-memory --model sd15 --latent 64 --steps 1 --out runs/profile-study/float32
./panama-sd profile-memory --model sd15 --latent 64 --steps 1 --dtype bfloat16 --out runs/profile-study/bfloat16
./panama-sd profile-memory --compare runs/profile-study/float32/profile.json runs/profile-study/bfloat16/profile.json
PANAMASD_NUM_THREADS=1 ./panama-sd profile-memory --model sd15 --part unet --latent 32 --batch 2 --overhead 5
