#!/usr/bin/env bash
# Installs every Debian package Nocturne's build, tests and main job need
# (libdnnl-dev: oneDNN, the benchmark's second CPU anchor; optional to the build;
# dpkg-dev and file: the Debian packages' dependencies, found by dpkg-shlibdeps).
# Safe to run again: it installs only what is missing.
#   bash tools/setup.sh              build, tests, audio
#   bash tools/setup.sh --with-torch also PyTorch (for the reference fixture and CPU benchmark comparison)
#   bash tools/setup.sh --with-lilypond  also LilyPond (PNG scores)
#   bash tools/setup.sh --with-fuzz  also clang and libFuzzer (tools/fuzz.sh)
set -euo pipefail

packages=(
  cmake g++ make pkg-config
  catch2 libopenblas-dev libcli11-dev nlohmann-json3-dev libpng-dev
  libfluidsynth-dev fluid-soundfont-gm librtmidi-dev
  libdnnl-dev
  dpkg-dev file
)
for arg in "$@"; do
  case "$arg" in
    --with-torch) packages+=(python3-torch) ;;
    --with-lilypond) packages+=(lilypond) ;;
    --with-fuzz) packages+=(clang libclang-rt-dev) ;;
    *) echo "setup.sh: unknown option '$arg'" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup.sh: all ${#packages[@]} packages present"
  exit 0
fi
echo "setup.sh: installing ${missing[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
