#!/usr/bin/env bash
# Installs the Debian packages panama-sd needs (sudo when not root) and checks for JDK 25.
# --bench also installs python3-torch, the Python baseline of `panama-sd bench`.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
source "$root/scripts/lib.sh"
extra=()
[ "${1:-}" = "--bench" ] && extra+=(python3-torch)
ensure_packages "${extra[@]}"
find_jdk >/dev/null
