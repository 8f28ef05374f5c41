#!/usr/bin/env bash
# Installs the Debian packages Nocturne's build, tests and main job need, one
# line a step (what, how much, done); apt's own output goes to a log file,
# which the error names when a step fails. Safe to run again: it installs only
# what is missing, and says in one line when nothing is.
#   bash tools/setup.sh                     build, tests, audio, score engraving (LilyPond)
#   bash tools/setup.sh --without-lilypond  all but LilyPond (generate then writes MusicXML, no PNG score)
#   bash tools/setup.sh --with-torch        also PyTorch (for the reference fixture and CPU benchmark comparison)
#   bash tools/setup.sh --with-fuzz         also clang and libFuzzer (tools/fuzz.sh)
#   bash tools/setup.sh --check             says what is missing and its size; installs nothing
#                                           (exit 0: nothing to do, 1: something missing)
# The log: $NOCTURNE_SETUP_LOG, else ${TMPDIR:-/tmp}/nocturne-setup.log (rewritten by each install).
# Exit status: 0 when everything is installed, 1 when a step fails, 2 for a bad option.
set -euo pipefail
export LC_ALL=C  # apt's summaries are parsed below

# Steps: a name and its packages (libdnnl-dev: oneDNN, the benchmark's second
# CPU anchor, optional to the build; dpkg-dev and file: dpkg-shlibdeps, which
# finds the dependencies of the Debian packages that CPack makes).
step_names=("build tools" "libraries" "audio (FluidSynth, GM soundfont, RtMidi)")
step_packages=("cmake g++ make pkg-config dpkg-dev file"
               "catch2 libopenblas-dev libcli11-dev nlohmann-json3-dev libpng-dev libdnnl-dev"
               "libfluidsynth-dev fluid-soundfont-gm librtmidi-dev")
lilypond=yes check=no
for arg in "$@"; do
  case "$arg" in
    --without-lilypond) lilypond=no ;;
    --with-torch) step_names+=("PyTorch"); step_packages+=("python3-torch") ;;
    --with-fuzz) step_names+=("clang and libFuzzer"); step_packages+=("clang libclang-rt-dev") ;;
    --check) check=yes ;;
    *) echo "setup.sh: unknown option '$arg' (options: --without-lilypond --with-torch --with-fuzz --check)" >&2
       exit 2 ;;
  esac
done
if [ "$lilypond" = yes ]; then step_names+=("score engraving (LilyPond)"); step_packages+=("lilypond"); fi

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

# The missing packages of each step, and how many there are in all.
total=0 missing_total=0
missing=()
for i in "${!step_names[@]}"; do
  m=""
  for p in ${step_packages[$i]}; do
    total=$((total + 1))
    installed "$p" || { m+="${m:+ }$p"; missing_total=$((missing_total + 1)); }
  done
  missing+=("$m")
done
if [ "$missing_total" -eq 0 ]; then
  echo "setup.sh: all $total packages present; nothing to do"
  exit 0
fi

# plan <packages>: "N packages, X MB download, Y MB on disk": what apt would
# install with them (dependencies included), from its simulation and the
# candidates' records (Size in bytes, Installed-Size in KiB). Fails with apt's
# error line when apt cannot resolve them.
plan() {
  local sim names
  if ! sim=$(apt-get -s install --no-install-recommends "$@" 2>&1); then
    grep -E '^E:' <<<"$sim" | head -n 1 || echo "apt-get -s failed"
    return 1
  fi
  names=$(awk '/^Inst /{print $2}' <<<"$sim")
  [ -n "$names" ] || { echo "0 packages (already installed as dependencies)"; return 0; }
  # shellcheck disable=SC2086  # one word a package
  apt-cache show --no-all-versions $names 2>/dev/null | awk -v n="$(wc -w <<<"$names")" '
    /^Size:/ { download += $2 }
    /^Installed-Size:/ { disk += $2 * 1024 }
    END { printf "%d package%s, %.1f MB download, %.0f MB on disk\n", n, n == 1 ? "" : "s", download / 1e6, disk / 1e6 }'
}

if [ "$check" = yes ]; then
  for i in "${!step_names[@]}"; do
    [ -n "${missing[$i]}" ] || continue
    # shellcheck disable=SC2086
    size=$(plan ${missing[$i]}) || size="size unknown: $size"
    echo "setup.sh: to install: ${step_names[$i]}: ${missing[$i]} ($size)"
  done
  echo "setup.sh: $missing_total of $total packages missing; bash tools/setup.sh installs them"
  exit 1
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || {
    echo "setup.sh: $missing_total packages to install and this is not root, nor is sudo here: run it as root" >&2
    exit 1
  }
  sudo="sudo"
fi
log="${NOCTURNE_SETUP_LOG:-${TMPDIR:-/tmp}/nocturne-setup.log}"
if ! { : >"$log"; } 2>/dev/null; then
  echo "setup.sh: cannot write the log file $log (set NOCTURNE_SETUP_LOG to another path)" >&2
  exit 1
fi
echo "setup.sh: installing $missing_total of $total packages (with their dependencies); apt's output goes to $log"
started=$SECONDS

# run_step <description> <command...>: one line, the command's output in the
# log; on failure apt's error line and the log's name, and exit 1. apt waits
# up to 5 minutes for another package manager's lock rather than failing.
run_step() {
  local what=$1 t0=$SECONDS rc=0
  shift
  printf 'setup.sh: %s ... ' "$what"
  echo "\$ $*" >>"$log"
  "$@" >>"$log" 2>&1 </dev/null || rc=$?
  if [ "$rc" -ne 0 ]; then
    echo "failed"
    local why
    why=$(grep -E '^(E|Err):' "$log" | tail -n 1 || true)
    echo "setup.sh: error: $what failed (exit $rc)${why:+: $why}; the full log is $log" >&2
    exit 1
  fi
  echo "done ($((SECONDS - t0)) s)"
}
apt=($sudo env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300)

run_step "updating the package lists" "${apt[@]}" update
for i in "${!step_names[@]}"; do
  [ -n "${missing[$i]}" ] || continue
  # shellcheck disable=SC2086
  if ! size=$(plan ${missing[$i]} 2>>"$log"); then
    echo "setup.sh: error: cannot install ${step_names[$i]} (${missing[$i]}): $size; the full log is $log" >&2
    echo "$size" >>"$log"
    exit 1
  fi
  # shellcheck disable=SC2086
  run_step "installing ${step_names[$i]}: ${missing[$i]} ($size)" \
    "${apt[@]}" install -y --no-install-recommends ${missing[$i]}
done
for i in "${!step_names[@]}"; do
  for p in ${missing[$i]}; do
    installed "$p" || { echo "setup.sh: error: $p is still not installed after apt-get; the full log is $log" >&2; exit 1; }
  done
done
echo "setup.sh: done: $missing_total package$([ "$missing_total" -eq 1 ] || echo s) installed in $((SECONDS - started)) s"
