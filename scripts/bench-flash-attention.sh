#!/usr/bin/env bash
# Issue 19: a whole SD 1.5 UNet step and VAE decode with the flash attention kernel against the math path
# (PANAMASD_ATTENTION=math; the kernels by PANAMASD_ATTENTION=flash, not the default timed choice), at 64x64 and 32x32 latents, two rounds, alternating; each flash run is --compare'd
# with the math run just before it. Writes runs/bench-flash/*.json; the report goes to stdout.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p runs/bench-flash
</dev/null >/dev/null ./panama-sd info  # builds once, before the timed runs
for round in 1 2; do
  PANAMASD_ATTENTION=math </dev/null ./panama-sd bench-model --model sd15 --latent 64 --batch 2 --parts unet,vae --repeat 1 --warmup 1 --profile true --json runs/bench-flash/math-64.json
  PANAMASD_ATTENTION=flash </dev/null ./panama-sd bench-model --model sd15 --latent 64 --batch 2 --parts unet,vae --repeat 1 --warmup 1 --profile true --json runs/bench-flash/flash-64.json --compare runs/bench-flash/math-64.json
  PANAMASD_ATTENTION=math </dev/null ./panama-sd bench-model --model sd15 --latent 32 --batch 2 --parts unet --repeat 1 --warmup 1 --profile true --json runs/bench-flash/math-32.json
  PANAMASD_ATTENTION=flash </dev/null ./panama-sd bench-model --model sd15 --latent 32 --batch 2 --parts unet --repeat 1 --warmup 1 --profile true --json runs/bench-flash/flash-32.json --compare runs/bench-flash/math-32.json
done
