#!/usr/bin/env bash
# Copies a trained teacher, its ADD student and the feature network into models/ (what the repository ships):
# models/fashion-teacher (a whole diffusers directory), models/fashion-turbo (its own unet/ and scheduler/, the
# teacher's tokenizer/, text_encoder/ and vae/ by relative links), models/fashion-feature-net and models/fashion-evaluator.
# Usage: scripts/ship-models.sh TEACHER_DIR STUDENT_DIR FEATURE_NET_DIR EVALUATOR_DIR
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
teacher=$1 student=$2 features=$3 evaluator=$4
rm -rf "$root/models/fashion-teacher" "$root/models/fashion-turbo" "$root/models/fashion-feature-net" "$root/models/fashion-evaluator"
mkdir -p "$root/models/fashion-turbo"
cp -rL "$teacher" "$root/models/fashion-teacher"
cp -rL "$features" "$root/models/fashion-feature-net"
cp -rL "$evaluator" "$root/models/fashion-evaluator"
cp "$student/model_index.json" "$student/panama-sd.json" "$root/models/fashion-turbo/"
cp -r "$student/unet" "$student/scheduler" "$root/models/fashion-turbo/"
for shared in tokenizer text_encoder vae; do ln -s "../fashion-teacher/$shared" "$root/models/fashion-turbo/$shared"; done
chmod -R a+rX "$root/models"
du -shL "$root/models"/* "$root/models"
