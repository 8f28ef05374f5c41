#!/usr/bin/env bash
# The closing summary of tools/run.sh (`run.sh --summary <run-folder>`) on
# made-up run folders: the four paths a person wants, what is missing and why,
# and the command to open them where xdg-open and a display exist (a stand-in
# xdg-open first on PATH), else how to get at them.
#   bash test/tools/test_run_summary.sh <path of tools/run.sh>
set -uo pipefail
run_sh=$(realpath "${1:?usage: test_run_summary.sh <path of tools/run.sh>}")
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
failures=0
fail() { echo "FAILED: $*" >&2; failures=$((failures + 1)); }
expect_eq() { [ "$2" = "$3" ] || fail "$1: expected
[$3]
got
[$2]"; }

bin=$scratch/bin
mkdir -p "$bin"
printf '#!/bin/sh\nexit 0\n' >"$bin/xdg-open"
chmod +x "$bin/xdg-open"

run=$scratch/runs/20250101-120000
g=$run/generated
mkdir -p "$g"
touch "$run/loss.png" "$run/best.ckpt" "$g/output-01.mid" "$g/output-01.musicxml" "$g/output-01.wav" \
      "$g/output-01.png" "$g/output-01.roll.png"

# Everything there, a desktop: four paths and one command to open them.
out=$(cd "$scratch" && PATH="$bin:$PATH" DISPLAY=:0 bash "$run_sh" --summary runs/20250101-120000 2>&1)
expect_eq "complete, desktop: exit status" "$?" 0
expect_eq "complete, desktop: output" "$out" "run.sh: the results of $run:
  listen      $g/output-01.wav
  score       $g/output-01.png
  piano roll  $g/output-01.roll.png
  loss plot   $run/loss.png
  also        the MIDI and MusicXML in $g; the model, $run/best.ckpt
run.sh: open them: for f in $g/output-01.wav $g/output-01.png $g/output-01.roll.png $run/loss.png; do xdg-open \"\$f\"; done"

# No display (a server, a container): where the files are and how to get at them.
out=$(env -u DISPLAY -u WAYLAND_DISPLAY PATH="$bin:$PATH" bash "$run_sh" --summary "$run" 2>&1)
expect_eq "complete, no display: exit status" "$?" 0
expect_eq "complete, no display: the last two lines" "$(tail -n 2 <<<"$out")" \
  "run.sh: no desktop here to open them (no xdg-open with a display): copy them to a computer with one;
        any audio player plays the WAV, any image viewer shows the PNGs"
expect_eq "complete, no display: the paths as before" "$(sed -n 2p <<<"$out")" "  listen      $g/output-01.wav"

# No WAV and no score PNG: each says what is missing, what installs it, and what there is instead.
rm "$g/output-01.wav" "$g/output-01.png"
out=$(PATH="$bin:$PATH" DISPLAY=:0 bash "$run_sh" --summary "$run/" 2>&1)
expect_eq "no WAV, no score: exit status" "$?" 0
expect_eq "no WAV, no score: output" "$out" "run.sh: the results of $run:
  listen      no WAV: FluidSynth or a soundfont is missing (bash tools/setup.sh installs both);
              $g/output-01.mid plays in any MIDI player
  score       no PNG: LilyPond is not installed (bash tools/setup.sh installs it);
              $g/output-01.musicxml opens in a score editor (MuseScore)
  piano roll  $g/output-01.roll.png
  loss plot   $run/loss.png
  also        the MIDI and MusicXML in $g; the model, $run/best.ckpt
run.sh: open them: for f in $g/output-01.roll.png $run/loss.png; do xdg-open \"\$f\"; done"

# Nothing generated: said, no list of absent files.
rm "$g"/*
out=$(PATH="$bin:$PATH" DISPLAY=:0 bash "$run_sh" --summary "$run" 2>&1)
expect_eq "nothing generated: output" "$out" "run.sh: the results of $run:
  piece       none generated in $g
  loss plot   $run/loss.png"

# Not a run folder: exit 2, one line.
out=$(bash "$run_sh" --summary "$scratch/missing" 2>&1)
expect_eq "missing folder: exit status" "$?" 2
expect_eq "missing folder: message" "$out" "run.sh: --summary needs a run folder (runs/<date>-<time>)"

if [ "$failures" -ne 0 ]; then
  echo "test_run_summary.sh: $failures check(s) failed" >&2
  exit 1
fi
echo "test_run_summary.sh: all checks passed"
