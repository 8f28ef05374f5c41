#!/usr/bin/env bash
# tools/setup.sh against stand-ins for dpkg-query, apt-get, apt-cache, id and
# sudo (first on PATH), so every path of the script runs without installing
# anything: nothing to do, an install, --check, and each way a step can fail.
# The stand-ins keep their state (the "installed" packages, the commands run)
# in a scratch folder.
#   bash test/tools/test_setup.sh <path of tools/setup.sh>
set -uo pipefail
setup=$(realpath "${1:?usage: test_setup.sh <path of tools/setup.sh>}")
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
failures=0
fail() { echo "FAILED: $*" >&2; failures=$((failures + 1)); }
expect_eq() { [ "$2" = "$3" ] || fail "$1: expected [$3], got [$2]"; }
expect_match() { grep -qE -- "$3" <<<"$2" || fail "$1: [$2] does not match /$3/"; }
expect_no_match() { ! grep -qE -- "$3" <<<"$2" || fail "$1: [$2] matches /$3/"; }

# ---- the stand-ins ----------------------------------------------------------
bin=$scratch/bin
mkdir -p "$bin"
cat >"$bin/dpkg-query" <<'STUB'
#!/usr/bin/env bash
# dpkg-query -W -f='${Status}' <package>
pkg=${!#}
grep -qxF -- "$pkg" "$FAKE/installed" && { printf 'install ok installed'; exit 0; }
echo "dpkg-query: no packages found matching $pkg" >&2
exit 1
STUB
cat >"$bin/apt-get" <<'STUB'
#!/usr/bin/env bash
echo "apt-get $*" >>"$FAKE/calls"
args=()
while [ $# -gt 0 ]; do
  case "$1" in -o) shift 2 ;; -y|-qq|--no-install-recommends) shift ;; *) args+=("$1"); shift ;; esac
done
set -- "${args[@]}"
if [ "$1" = -s ]; then  # simulation: each package brings one dependency
  shift 2
  for p in "$@"; do
    grep -qxF -- "$p" "$FAKE/unknown" 2>/dev/null && { echo "E: Unable to locate package $p"; exit 100; }
  done
  echo "Reading package lists..."
  for p in "$@"; do echo "Inst $p (1.0 Debian:12 [amd64])"; echo "Inst $p-dep (1.0 Debian:12 [amd64])"; done
  for p in "$@"; do echo "Conf $p (1.0 Debian:12 [amd64])"; done
  exit 0
fi
case "$1" in
  update)
    for i in $(seq 1 40); do echo "Get:$i http://deb.example/debian bookworm InRelease [$i kB]"; done
    [ -f "$FAKE/update-fails" ] && { echo "E: The repository is not signed."; exit 100; }
    echo "Reading package lists... Done" ;;
  install)
    shift
    for p in "$@"; do
      for pct in 0 20 40 60 80 100; do echo "Reading database ... $pct%"; done
      echo "Unpacking $p (1.0) ..."; echo "Setting up $p (1.0) ..."
    done
    [ -f "$FAKE/install-fails" ] && { echo "E: Sub-process /usr/bin/dpkg returned an error code (1)"; exit 100; }
    [ -f "$FAKE/install-noop" ] || printf '%s\n' "$@" >>"$FAKE/installed" ;;
  *) echo "E: unexpected apt-get command: $*"; exit 100 ;;
esac
STUB
cat >"$bin/apt-cache" <<'STUB'
#!/usr/bin/env bash
# apt-cache show --no-all-versions <packages>: 1 MB each, 2 MiB installed.
echo "apt-cache $*" >>"$FAKE/calls"
shift 2
for p in "$@"; do printf 'Package: %s\nVersion: 1.0\nInstalled-Size: 2048\nSize: 1000000\n\n' "$p"; done
STUB
cat >"$bin/id" <<'STUB'
#!/usr/bin/env bash
[ "$1" = -u ] && { cat "$FAKE/uid"; exit 0; }
exec /usr/bin/id "$@"
STUB
cat >"$bin/sudo" <<'STUB'
#!/usr/bin/env bash
echo "sudo $*" >>"$FAKE/calls"
exec "$@"
STUB
chmod +x "$bin"/*

all_packages="cmake g++ make pkg-config dpkg-dev file catch2 libopenblas-dev libcli11-dev nlohmann-json3-dev libpng-dev libdnnl-dev
libfluidsynth-dev fluid-soundfont-gm librtmidi-dev lilypond"

# fresh <installed packages...>: a new fake machine; sets FAKE.
fresh() {
  FAKE=$(mktemp -d "$scratch/machine.XXXX")
  export FAKE
  printf '%s\n' "$@" >"$FAKE/installed"
  echo 0 >"$FAKE/uid"
  : >"$FAKE/calls"
}
# run_setup <args...>: sets out, err, rc; the log goes into the machine's folder.
run_setup() {
  out=$(PATH="$bin:$PATH" NOCTURNE_SETUP_LOG="$FAKE/setup.log" bash "$setup" "$@" 2>"$FAKE/stderr")
  rc=$?
  err=$(cat "$FAKE/stderr")
}
lines() { [ -z "$1" ] && echo 0 || wc -l <<<"$1"; }

# ---- everything installed: one line, no apt -----------------------------------
# shellcheck disable=SC2086
fresh $all_packages
run_setup
expect_eq "all present: exit status" "$rc" 0
expect_eq "all present: the one line" "$out" "setup.sh: all 16 packages present; nothing to do"
expect_eq "all present: stderr" "$err" ""
expect_eq "all present: apt not run" "$(cat "$FAKE/calls")" ""
[ -e "$FAKE/setup.log" ] && fail "all present: a log file was written"
run_setup --without-lilypond --check
expect_eq "all present, --check: exit status" "$rc" 0
expect_eq "all present, --without-lilypond: the one line" "$out" "setup.sh: all 15 packages present; nothing to do"

# ---- two packages missing: one line a step, apt's output in the log -----------
# shellcheck disable=SC2086
fresh $(tr ' ' '\n' <<<"$all_packages" | grep -vxE 'libpng-dev|lilypond')
run_setup
expect_eq "install: exit status" "$rc" 0
expect_eq "install: stderr" "$err" ""
expect_eq "install: lines on stdout" "$(lines "$out")" 5
expect_eq "install: line 1" "$(sed -n 1p <<<"$out")" \
  "setup.sh: installing 2 of 16 packages (with their dependencies); apt's output goes to $FAKE/setup.log"
expect_match "install: line 2" "$(sed -n 2p <<<"$out")" '^setup\.sh: updating the package lists \.\.\. done \([0-9]+ s\)$'
# Each fake package brings one dependency: 2 packages, 2 x 1 MB, 2 x 2 MiB = 4.2 MB.
expect_match "install: line 3" "$(sed -n 3p <<<"$out")" \
  '^setup\.sh: installing libraries: libpng-dev \(2 packages, 2\.0 MB download, 4 MB on disk\) \.\.\. done \([0-9]+ s\)$'
expect_match "install: line 4" "$(sed -n 4p <<<"$out")" \
  '^setup\.sh: installing score engraving \(LilyPond\): lilypond \(2 packages, 2\.0 MB download, 4 MB on disk\) \.\.\. done \([0-9]+ s\)$'
expect_match "install: line 5" "$(sed -n 5p <<<"$out")" '^setup\.sh: done: 2 packages installed in [0-9]+ s$'
expect_no_match "install: no apt output on stdout" "$out" 'Reading database|Unpacking|Get:'
expect_match "install: apt's output in the log" "$(cat "$FAKE/setup.log")" 'Unpacking lilypond'
expect_match "install: the update in the log" "$(cat "$FAKE/setup.log")" 'Get:40 '
expect_match "install: non-interactive, waiting for the lock" "$(grep 'install -y' "$FAKE/calls")" \
  '^apt-get -o DPkg::Lock::Timeout=300 install -y --no-install-recommends libpng-dev$'
expect_eq "install: apt-get install runs" "$(grep -c 'install -y' "$FAKE/calls")" 2
expect_eq "install: root needs no sudo" "$(grep -c '^sudo' "$FAKE/calls")" 0
# Run again: nothing to do, in one line.
: >"$FAKE/calls"
run_setup
expect_eq "again: exit status" "$rc" 0
expect_eq "again: the one line" "$out" "setup.sh: all 16 packages present; nothing to do"
expect_eq "again: apt not run" "$(cat "$FAKE/calls")" ""

# ---- --check: what is missing and its size, nothing run ------------------------
# shellcheck disable=SC2086
fresh $(tr ' ' '\n' <<<"$all_packages" | grep -vxE 'lilypond|librtmidi-dev')
run_setup --check
expect_eq "check: exit status" "$rc" 1
expect_eq "check: output" "$out" "setup.sh: to install: audio (FluidSynth, GM soundfont, RtMidi): librtmidi-dev (2 packages, 2.0 MB download, 4 MB on disk)
setup.sh: to install: score engraving (LilyPond): lilypond (2 packages, 2.0 MB download, 4 MB on disk)
setup.sh: 2 of 16 packages missing; bash tools/setup.sh installs them"
expect_no_match "check: no update or install" "$(cat "$FAKE/calls")" 'update|install -y'
[ -e "$FAKE/setup.log" ] && fail "check: a log file was written"
run_setup --check --without-lilypond
expect_eq "check --without-lilypond: exit status" "$rc" 1
expect_eq "check --without-lilypond: last line" "$(tail -n 1 <<<"$out")" \
  "setup.sh: 1 of 15 packages missing; bash tools/setup.sh installs them"

# ---- failures: exit 1, one line on stderr naming apt's error and the log ----------
fresh cmake
touch "$FAKE/install-fails"
run_setup
expect_eq "install fails: exit status" "$rc" 1
expect_match "install fails: the step's line" "$(tail -n 1 <<<"$out")" '^setup\.sh: installing build tools: .* \.\.\. failed$'
expect_eq "install fails: stderr" "$err" "setup.sh: error: installing build tools: g++ make pkg-config dpkg-dev file (10 packages, 10.0 MB download, 21 MB on disk) failed (exit 100): E: Sub-process /usr/bin/dpkg returned an error code (1); the full log is $FAKE/setup.log"
expect_match "install fails: the log holds apt's output" "$(cat "$FAKE/setup.log")" 'Unpacking g\+\+'
expect_eq "install fails: no later step" "$(grep -c 'install -y' "$FAKE/calls")" 1

fresh cmake
touch "$FAKE/update-fails"
run_setup
expect_eq "update fails: exit status" "$rc" 1
expect_eq "update fails: stderr" "$err" \
  "setup.sh: error: updating the package lists failed (exit 100): E: The repository is not signed.; the full log is $FAKE/setup.log"
expect_eq "update fails: nothing installed" "$(grep -c 'install -y' "$FAKE/calls")" 0

# shellcheck disable=SC2086
fresh $(tr ' ' '\n' <<<"$all_packages" | grep -vx lilypond)
echo lilypond >"$FAKE/unknown"
run_setup
expect_eq "unknown package: exit status" "$rc" 1
expect_eq "unknown package: stderr" "$err" \
  "setup.sh: error: cannot install score engraving (LilyPond) (lilypond): E: Unable to locate package lilypond; the full log is $FAKE/setup.log"
run_setup --check
expect_eq "unknown package, --check: exit status" "$rc" 1
expect_match "unknown package, --check: said" "$out" \
  'to install: score engraving \(LilyPond\): lilypond \(size unknown: E: Unable to locate package lilypond\)'

# shellcheck disable=SC2086
fresh $(tr ' ' '\n' <<<"$all_packages" | grep -vx lilypond)
touch "$FAKE/install-noop"
run_setup
expect_eq "apt succeeds, package absent: exit status" "$rc" 1
expect_eq "apt succeeds, package absent: stderr" "$err" \
  "setup.sh: error: lilypond is still not installed after apt-get; the full log is $FAKE/setup.log"

# shellcheck disable=SC2086
fresh $(tr ' ' '\n' <<<"$all_packages" | grep -vx lilypond)
out=$(PATH="$bin:$PATH" NOCTURNE_SETUP_LOG="$FAKE/no/such/folder/setup.log" bash "$setup" 2>&1)
rc=$?
expect_eq "log not writable: exit status" "$rc" 1
expect_eq "log not writable: message" "$out" \
  "setup.sh: cannot write the log file $FAKE/no/such/folder/setup.log (set NOCTURNE_SETUP_LOG to another path)"

run_setup --with-everything
expect_eq "unknown option: exit status" "$rc" 2
expect_match "unknown option: named" "$err" "unknown option '--with-everything'"

# ---- not root: apt runs through sudo ---------------------------------------------
# shellcheck disable=SC2086
fresh $(tr ' ' '\n' <<<"$all_packages" | grep -vx lilypond)
echo 1000 >"$FAKE/uid"
run_setup
expect_eq "not root: exit status" "$rc" 0
expect_eq "not root: update and install through sudo" "$(grep -c '^sudo env DEBIAN_FRONTEND=noninteractive apt-get' "$FAKE/calls")" 2

if [ "$failures" -ne 0 ]; then
  echo "test_setup.sh: $failures check(s) failed" >&2
  exit 1
fi
echo "test_setup.sh: all checks passed"
