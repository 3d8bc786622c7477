# Shared by ./panama-sd, scripts/setup.sh and scripts/test.sh (sourced, not run).

# The Debian packages the build and the runtime need.
# libgloo-dev: the gloo headers that libtorch's c10d headers include (distributed training, psd_dist_*).
PANAMASD_PACKAGES=(libtorch-dev libgloo-dev libopenblas0-openmp cmake g++ make maven libclang1-14 libclang-common-14-dev dataset-fashion-mnist)

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "panama-sd: need root (or sudo) to run: $*" >&2; return 1; fi
}

missing_packages() {
  local p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || echo "$p"
  done
}

# Installs what is missing, quietly when nothing is.
ensure_packages() {
  local missing
  missing=$(missing_packages "${PANAMASD_PACKAGES[@]}" "$@")
  if [ -n "$missing" ]; then
    echo "panama-sd: installing Debian packages:" $missing >&2
    as_root apt-get update -q >&2
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -q --no-install-recommends $missing >&2
  fi
  ensure_openblas_openmp
}

# libtorch must call OpenBLAS (a 1024^2 sgemm: 354 ms with the reference BLAS, 25 ms with OpenBLAS here),
# and the OpenMP build of it: the pthread build would fight libtorch's own OpenMP threads.
# The alternative is system-wide: PANAMASD_KEEP_BLAS=1 leaves it as it is.
ensure_openblas_openmp() {
  if [ "${PANAMASD_KEEP_BLAS:-0}" = 1 ]; then
    return 0
  fi
  local want=/usr/lib/x86_64-linux-gnu/openblas-openmp/libblas.so.3
  local now
  now=$(readlink -f /etc/alternatives/libblas.so.3-x86_64-linux-gnu 2>/dev/null || true)
  if [ -f "$want" ] && [ "$now" != "$want" ]; then
    echo "panama-sd: selecting OpenBLAS (OpenMP) as libblas.so.3 (was ${now:-unset})" >&2
    as_root update-alternatives --set libblas.so.3-x86_64-linux-gnu "$want" >&2
  fi
}

# Prints the home of a JDK 25 or later, or fails saying which JDK is needed.
find_jdk() {
  local candidate version
  for candidate in "${JAVA_HOME:-}" /usr/lib/jvm/temurin-25-jdk-amd64 /usr/lib/jvm/*25* /usr/lib/jvm/*; do
    [ -n "$candidate" ] && [ -x "$candidate/bin/javac" ] || continue
    version=$("$candidate/bin/java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')
    if [ -n "$version" ] && [ "${version%%.*}" -ge 25 ] 2>/dev/null; then echo "$candidate"; return 0; fi
  done
  echo "panama-sd: a JDK 25 (or later) is needed for the Foreign Function & Memory API; none found in" \
       "JAVA_HOME or /usr/lib/jvm. Install Temurin 25 and set JAVA_HOME." >&2
  return 1
}

# The Python that has Debian's python3-torch (the same libtorch 1.13.1 as the build), for the PyTorch twins
# (scripts/pytorch_twin): installed when missing and root, else a line saying how; prints its path.
python_with_torch() {
  local python=/usr/bin/python3
  if ! "$python" -c "import torch" 2>/dev/null; then
    if [ "$(id -u)" = 0 ]; then DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-torch >&2
    else echo "needs Debian's python3-torch (the same libtorch 1.13.1): sudo apt-get install python3-torch" >&2; return 2; fi
  fi
  echo "$python"
}
