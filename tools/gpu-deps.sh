#!/usr/bin/env bash
# Prepares the offline kit for a GPU machine without package access: downloads
# (does not install) the Debian packages that Nocturne's build and tests need
# beyond a compiler, CMake and the CUDA toolkit, into gpu-deps/ (git ignores
# it). Copy the repository with that folder to the GPU machine and run
# tools/gpu-check.sh there: it unpacks the kit into a private prefix.
#
#   bash tools/gpu-deps.sh            # on a Debian/Ubuntu machine with package access
#
# Run it on Debian 12: the tests need its Catch2 v2 (newer distributions ship
# v3), and the kit's OpenBLAS and libpng are binaries for glibc 2.36, which
# load on any newer one (Ubuntu 24.04 has 2.39). The kit records where it came
# from in gpu-deps/MANIFEST.
# FluidSynth and RtMidi are left out: WAV rendering and `nocturne play` are
# optional and the GPU check does not need them.
set -euo pipefail
cd "$(dirname "$0")/.."
KIT=gpu-deps

packages=(
  catch2                        # Catch2 v2, header-only: the tests
  libcli11-dev                  # CLI11, header-only: the command-line program
  nlohmann-json3-dev            # nlohmann/json, header-only: the CLI and tests
  libopenblas-dev               # BLAS for the CPU backend (a metapackage) ...
  libopenblas-pthread-dev       # ... its headers (cblas.h) and link library ...
  libopenblas0-pthread          # ... the shared library ...
  libopenblas0                  # ... and its run-time metapackage
  libgfortran5 libquadmath0     # OpenBLAS's run-time dependencies
  libpng-dev libpng16-16        # PNG plots
  zlib1g-dev zlib1g             # png.h includes zlib.h; FindPNG needs zlib
)

die() { echo "gpu-deps.sh: $*" >&2; exit 1; }
command -v apt-get >/dev/null || die "apt-get not found: run this on a Debian or Ubuntu machine with package access"
command -v dpkg-deb >/dev/null || die "dpkg-deb not found"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
download() {
  # The folder belongs to root or the user; apt's sandbox user need not reach it.
  (cd "$tmp" && apt-get download -q -o APT::Sandbox::User="$(id -un)" "${packages[@]}") >"$tmp.log" 2>&1
}
if ! download; then
  # Stale or missing package lists: refresh once (needs root or sudo), then retry.
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "gpu-deps.sh: download failed; updating the package lists and retrying"
  $sudo apt-get update -qq >/dev/null 2>&1 || { cat "$tmp.log" >&2; die "apt-get update failed (no package access?)"; }
  rm -f "$tmp"/*.deb
  download || { cat "$tmp.log" >&2; die "apt-get download failed (see above)"; }
fi
rm -f "$tmp.log"
count=$(find "$tmp" -maxdepth 1 -name '*.deb' | wc -l)
[ "$count" -eq "${#packages[@]}" ] || die "expected ${#packages[@]} packages, got $count"
catch2_version=$(dpkg-deb -f "$tmp"/catch2_*.deb Version)
case "$catch2_version" in
  2.*) ;;
  *) die "this distribution's catch2 is $catch2_version; the tests need Catch2 v2: run this on Debian 12" ;;
esac

# Replace the previous kit only once the new one is complete.
rm -rf "$KIT"
mkdir -p "$KIT"
mv "$tmp"/*.deb "$KIT"/
{
  echo "# Nocturne GPU kit: Debian packages for tools/gpu-check.sh (unpacked, not installed)"
  echo "made: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "distribution: $(. /etc/os-release 2>/dev/null && echo "${PRETTY_NAME:-unknown}")"
  echo "architecture: $(dpkg --print-architecture)"
  echo "glibc: $(ldd --version 2>/dev/null | head -1 | grep -oE '[0-9]+\.[0-9]+$' || echo unknown)"
  for f in "$KIT"/*.deb; do
    echo "package: $(dpkg-deb -f "$f" Package) $(dpkg-deb -f "$f" Version)"
  done
} >"$KIT/MANIFEST"

echo "gpu-deps.sh: fetched into $KIT/:"
for f in "$KIT"/*.deb; do
  printf '  %-28s %-28s %6s KiB\n' "$(dpkg-deb -f "$f" Package)" "$(dpkg-deb -f "$f" Version)" $(($(stat -c %s "$f") / 1024))
done
total=$(du -cb "$KIT"/*.deb | tail -1 | cut -f1)
echo "gpu-deps.sh: $count packages, $((total / 1024 / 1024)) MiB ($total bytes); $(grep ^distribution "$KIT/MANIFEST")"
[ "$total" -lt $((60 * 1024 * 1024)) ] || echo "gpu-deps.sh: warning: the kit is over 60 MiB" >&2
