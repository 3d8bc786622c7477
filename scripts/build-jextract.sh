#!/usr/bin/env bash
# Builds jextract from its sources without Gradle: javac the sources (they carry their own generated libclang
# bindings), a jar, and a launcher that runs it on our JDK 25 with Debian's libclang 14.
#
# Usage: scripts/build-jextract.sh [SOURCE] [OUT_DIR]
#   SOURCE   a jextract checkout, or a git directory (its HEAD is used); default: a clone of
#            https://github.com/openjdk/jextract
#   OUT_DIR  default runs/jextract; the launcher is OUT_DIR/bin/jextract
# Then: mvn -Djextract=OUT_DIR/bin/jextract ...
#
# Needs libclang1-14 and libclang-common-14-dev (the clang builtin headers such as stddef.h), both in
# scripts/lib.sh's package list.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
source "$root/scripts/lib.sh"
source_dir=${1:-}
out=$(mkdir -p "${2:-$root/runs/jextract}" && cd "${2:-$root/runs/jextract}" && pwd)
jdk=$(find_jdk)

llvm=/usr/lib/llvm-14
libclang=$(ls "$llvm"/lib/libclang.so.1 "$llvm"/lib/libclang-14.so.* 2>/dev/null | head -1 || true)
builtin=$(ls -d "$llvm"/lib/clang/*/include 2>/dev/null | head -1 || true)
if [ -z "$libclang" ] || [ -z "$builtin" ]; then
  echo "build-jextract.sh: need $llvm/lib/libclang.so.1 (libclang1-14) and $llvm/lib/clang/*/include" \
       "(libclang-common-14-dev)" >&2
  exit 1
fi

rm -rf "$out/src" "$out/classes" "$out/lib" "$out/bin"
mkdir -p "$out/src" "$out/classes" "$out/lib" "$out/bin"
if [ -z "$source_dir" ]; then
  git clone -q --depth 1 https://github.com/openjdk/jextract "$out/src"
elif [ -d "$source_dir/src/main/java" ]; then
  cp -r "$source_dir/src" "$out/src/"
else  # a git directory without a work tree
  git --git-dir="$source_dir" archive HEAD src | tar -x -C "$out/src"
fi
commit=$( (git -C "${source_dir:-$out/src}" rev-parse HEAD 2>/dev/null || git --git-dir="$source_dir" rev-parse HEAD) | head -1)

main=$out/src/src/main
# A named module, as upstream's jlink image runs it (--version reads the module's version; 23 is the one
# upstream's build.gradle stamps).
find "$main/java" -name '*.java' > "$out/sources.txt"
"$jdk/bin/javac" -nowarn -d "$out/classes" @"$out/sources.txt"
cp -r "$main/resources/." "$out/classes/"
"$jdk/bin/jar" --create --file "$out/lib/jextract.jar" --module-version 23 \
  --main-class org.openjdk.jextract.JextractTool -C "$out/classes" .
rm -rf "$out/classes" "$out/sources.txt"

# jextract loads libclang with System.loadLibrary("clang"): give it a directory holding libclang.so.
ln -s "$libclang" "$out/lib/libclang.so"
cat > "$out/bin/jextract" <<EOF
#!/bin/sh
# jextract $commit (openjdk/jextract), built by scripts/build-jextract.sh
exec "$jdk/bin/java" --enable-native-access=org.openjdk.jextract -Djava.library.path="$out/lib" \\
  -Djextract.header.path="$builtin" \$JEXTRACT_JAVA_OPTIONS \\
  --module-path "$out/lib/jextract.jar" -m org.openjdk.jextract/org.openjdk.jextract.JextractTool "\$@"
EOF
chmod +x "$out/bin/jextract"
echo "$commit" > "$out/COMMIT"
"$out/bin/jextract" --version >&2
echo "$out/bin/jextract"
