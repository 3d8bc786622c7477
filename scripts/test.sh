#!/usr/bin/env bash
# The test command: installs what is missing, builds everything (the shim too) and runs the default
# test suite. Extra arguments go to Maven, e.g. scripts/test.sh -Pslow, or -Pgolden -Dgolden.root=DIR.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
source "$root/scripts/lib.sh"
ensure_packages chromium chromium-driver  # the service's browser test drives Debian's headless Chromium
export JAVA_HOME
JAVA_HOME=$(find_jdk)
cd "$root"
exec mvn -B -ntp "$@" test
