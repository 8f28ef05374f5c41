#!/usr/bin/env bash
# The whole job in one command: set up, build, train, generate.
#   bash tools/run.sh [midi-folder]
#   bash tools/run.sh --summary <run-folder>   only the closing summary of an earlier run
# Trains on the folder given, else on ../shared/data/chopin or data/chopin when
# present, else on the built-in demo corpus (generated in code, labelled as such);
# then generates a piece with MIDI, WAV and pictures. Everything lands in runs/.
# It ends with the paths to listen to and look at (the WAV, the score, the piano
# roll, the loss plot) and, where a desktop opener exists, the command to open them.
# Settings: NOCTURNE_PRESET (small|recipe; for a real corpus, default small),
#           NOCTURNE_EPOCHS (default: the preset's for the demo corpus, 5 for a
#           real corpus), NOCTURNE_DEVICE (auto|cpu|cuda).
# The demo corpus run takes about two minutes on two CPU cores.
set -euo pipefail
start_dir=$PWD
cd "$(dirname "$0")/.."
repo=$PWD

# show <path>: relative to the repository when the user started there, else absolute.
show() {
  local path=$1
  [ "${path#/}" = "$path" ] && path="$repo/$path"
  if [ "$start_dir" = "$repo" ] && [ "${path#"$repo"/}" != "$path" ]; then echo "${path#"$repo"/}"; else echo "$path"; fi
}

# summary <run-folder>: the files a person wants from the run, what is missing
# and why, and how to open them.
summary() {
  local run=$1 gen=$1/generated
  local wav=$gen/output-01.wav score=$gen/output-01.png roll=$gen/output-01.roll.png loss=$run/loss.png
  local open=() f
  echo "run.sh: the results of $(show "$run"):"
  if [ ! -f "$gen/output-01.mid" ]; then
    printf '  %-11s %s\n' piece "none generated in $(show "$gen")"
    [ -f "$loss" ] && printf '  %-11s %s\n' "loss plot" "$(show "$loss")"
    return 0
  fi
  if [ -f "$wav" ]; then
    printf '  %-11s %s\n' listen "$(show "$wav")"; open+=("$wav")
  else
    printf '  %-11s %s\n' listen "no WAV: FluidSynth or a soundfont is missing (bash tools/setup.sh installs both);" \
      "" "$(show "$gen/output-01.mid") plays in any MIDI player"
  fi
  if [ -f "$score" ]; then
    printf '  %-11s %s\n' score "$(show "$score")"; open+=("$score")
  else
    printf '  %-11s %s\n' score "no PNG: LilyPond is not installed (bash tools/setup.sh installs it);" \
      "" "$(show "$gen/output-01.musicxml") opens in a score editor (MuseScore)"
  fi
  for f in "piano roll:$roll" "loss plot:$loss"; do
    if [ -f "${f#*:}" ]; then printf '  %-11s %s\n' "${f%%:*}" "$(show "${f#*:}")"; open+=("${f#*:}"); fi
  done
  printf '  %-11s %s\n' also "the MIDI and MusicXML in $(show "$gen"); the model, $(show "$run/best.ckpt")"
  [ ${#open[@]} -gt 0 ] || return 0
  local opener=""
  if [ "$(uname -s)" = Darwin ]; then
    opener=open
  elif command -v xdg-open >/dev/null && [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
    opener=xdg-open
  fi
  if [ -n "$opener" ]; then
    printf 'run.sh: open them: for f in'
    for f in "${open[@]}"; do printf ' %q' "$(show "$f")"; done
    printf '; do %s "$f"; done\n' "$opener"
  else
    echo "run.sh: no desktop here to open them (no xdg-open with a display): copy them to a computer with one;"
    echo "        any audio player plays the WAV, any image viewer shows the PNGs"
  fi
}

if [ "${1:-}" = --summary ]; then
  run_dir=${2:-}
  [ -z "$run_dir" ] || [ "${run_dir#/}" != "$run_dir" ] || run_dir="$start_dir/$run_dir"
  [ -n "$run_dir" ] && [ -d "$run_dir" ] || { echo "run.sh: --summary needs a run folder (runs/<date>-<time>)" >&2; exit 2; }
  summary "${run_dir%/}"
  exit 0
fi

bash tools/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DNOCTURNE_TESTS=OFF -DNOCTURNE_BENCH=OFF >/dev/null
cmake --build build -j"$(nproc)" --target nocturne-cli

data="${1:-}"
if [ -z "$data" ]; then
  for candidate in data/chopin ../shared/data/chopin; do
    if [ -d "$candidate" ]; then data="$candidate"; break; fi
  done
fi
if [ -z "$data" ]; then
  echo "run.sh: no corpus folder given or found: training on the built-in DEMO corpus (generated in code, not Chopin)"
  data=demo
fi

run="runs/$(date +%Y%m%d-%H%M%S)"
train_args=(--data "$data" --out "$run" --device "${NOCTURNE_DEVICE:-auto}")
if [ "$data" != demo ]; then
  train_args+=(--preset "${NOCTURNE_PRESET:-small}" --epochs "${NOCTURNE_EPOCHS:-5}")
  echo "run.sh: a short run (${NOCTURNE_EPOCHS:-5} epochs of the ${NOCTURNE_PRESET:-small} preset); the full recipe is"
  echo "        NOCTURNE_PRESET=recipe NOCTURNE_EPOCHS=200 bash tools/run.sh $data   (a GPU makes that practical)"
elif [ -n "${NOCTURNE_EPOCHS:-}" ]; then
  train_args+=(--epochs "$NOCTURNE_EPOCHS")
fi
./build/nocturne train "${train_args[@]}"
./build/nocturne generate --model "$run/best.ckpt" --out "$run/generated" --notes 200 \
  --temperature 0.9 --top-p 0.95 --seed 1
summary "$repo/$run"
