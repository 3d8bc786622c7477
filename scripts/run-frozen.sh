#!/usr/bin/env bash
# Runs a panama-sd command from a snapshot of the current build (jar, libraries, native shim), so a long
# training job is not disturbed when the checkout is rebuilt while it runs. Usage: scripts/run-frozen.sh NAME command [options]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
source "$root/scripts/lib.sh"
JAVA_HOME=$(find_jdk)
name=$1; shift
snap="$root/runs/.snapshots/$name"
rm -rf "$snap"; mkdir -p "$snap/lib"
cp "$root/samples/target/panama-sd-samples.jar" "$snap/"
cp "$root"/samples/target/lib/* "$snap/lib/"
cp "$root/native/build/libpanamasd.so" "$snap/"
exec "$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED -Dpanamasd.library="$snap/libpanamasd.so" -Dpanamasd.root="$root" \
  ${PANAMASD_JAVA_OPTS:-} -cp "$snap/panama-sd-samples.jar:$snap/lib/*" org.panamasd.cli.Main "$@"
