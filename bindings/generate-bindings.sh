#!/usr/bin/env bash
# Generates the FFM bindings of panamasd.h: with jextract when one is given, otherwise with our own
# generator (bindgen, which parses the header with libclang and emits the same API).
# Usage: generate-bindings.sh HEADER OUTPUT_DIR JAVA [JEXTRACT] GENERATOR_CLASSPATH
set -euo pipefail
header=$1 output=$2 java=$3
if [ $# -ge 5 ]; then jextract=$4 classpath=$5; else jextract="" classpath=$4; fi
package=org.panamasd.internal
stamp="$output/.stamp"
generator=${jextract:-bindgen}
# Regenerate only when the header, the generator or the choice of generator (the stamp's text) changed.
if [ -f "$stamp" ] && [ "$stamp" -nt "$header" ] && [ "$(cat "$stamp")" = "$generator" ] &&
   [ -z "$(find ${classpath//:/ } -newer "$stamp" -name '*.class' 2>/dev/null | head -1)" ]; then
  exit 0
fi
rm -rf "$output" && mkdir -p "$output"
if [ -n "$jextract" ]; then
  # Keep jextract to our own symbols: dump what the header brings in, keep the --include-* options of the
  # declarations whose "# header:" is our header (not the "#### Extracted from:" titles, nor other headers').
  includes=$(mktemp)
  trap 'rm -f "$includes"' EXIT
  "$jextract" --dump-includes "$includes" "$header" >/dev/null
  mapfile -t filters < <(awk -v name="/$(basename "$header")" '
    /^--include-/ { at = index($0, "# header: "); if (at == 0) next; path = substr($0, at + 10); sub(/[[:space:]]+$/, "", path)
                    if (substr(path, length(path) - length(name) + 1) == name) { print $1; print $2 } }' "$includes")
  if [ ${#filters[@]} -eq 0 ]; then
    echo "generate-bindings.sh: jextract --dump-includes named no declaration of $header" >&2
    exit 1
  fi
  # No -l / --use-system-load-library: jextract then looks symbols up in what the class loader loaded, as
  # bindgen's output does, and NativeLibrary loads the shim (System.load of its path) before first use. With
  # them jextract would add System.loadLibrary("panamasd"), which fails unless java.library.path names it.
  "$jextract" --output "$output" --target-package "$package" --header-class-name panamasd_h "${filters[@]}" "$header"
else
  "$java" --enable-native-access=ALL-UNNAMED -cp "$classpath" org.panamasd.bindgen.Main \
    --output "$output" --target-package "$package" --header-class-name panamasd_h "$header"
fi
echo "$generator" > "$stamp"
