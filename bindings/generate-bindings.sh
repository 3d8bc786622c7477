#!/usr/bin/env bash
# Generates the FFM bindings of panamasd.h: with jextract when one is given, otherwise with our own
# generator (bindgen, which parses the header with libclang and emits the same API).
# Usage: generate-bindings.sh HEADER OUTPUT_DIR JAVA [JEXTRACT] GENERATOR_CLASSPATH
set -euo pipefail
header=$1 output=$2 java=$3
if [ $# -ge 5 ]; then jextract=$4 classpath=$5; else jextract="" classpath=$4; fi
package=org.panamasd.internal
stamp="$output/.stamp"
# Regenerate only when the header or the generator changed.
if [ -f "$stamp" ] && [ "$stamp" -nt "$header" ] && [ -z "$(find ${classpath//:/ } -newer "$stamp" -name '*.class' 2>/dev/null | head -1)" ]; then
  exit 0
fi
rm -rf "$output" && mkdir -p "$output"
if [ -n "$jextract" ]; then
  # Keep jextract to our own symbols: dump what the header brings in, keep the lines that name our header.
  includes=$(mktemp)
  "$jextract" --dump-includes "$includes" "$header" >/dev/null
  mapfile -t filters < <(grep "$(basename "$header")" "$includes" | sed -E 's/[[:space:]]+#.*$//' | tr -s ' ' '\n')
  "$jextract" --output "$output" --target-package "$package" --header-class-name panamasd_h \
    --use-system-load-library -l panamasd "${filters[@]}" "$header"
  rm -f "$includes"
else
  "$java" --enable-native-access=ALL-UNNAMED -cp "$classpath" org.panamasd.bindgen.Main \
    --output "$output" --target-package "$package" --header-class-name panamasd_h "$header"
fi
touch "$stamp"
