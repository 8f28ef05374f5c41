#!/usr/bin/env bash
# The whole job in one command: set up, build, train, generate.
#   bash tools/run.sh [midi-folder]
# Trains on the folder given, else on ../shared/data/chopin or data/chopin when
# present, else on the built-in demo corpus (generated in code, labelled as such);
# then generates a piece with MIDI, WAV and pictures. Everything lands in runs/.
# Settings: NOCTURNE_PRESET (small|recipe; default small, about two minutes on two cores),
#           NOCTURNE_EPOCHS, NOCTURNE_DEVICE (auto|cpu|cuda).
set -euo pipefail
cd "$(dirname "$0")/.."

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

preset="${NOCTURNE_PRESET:-small}"
run="runs/$(date +%Y%m%d-%H%M%S)"
train_args=(--data "$data" --preset "$preset" --out "$run" --device "${NOCTURNE_DEVICE:-auto}")
[ -n "${NOCTURNE_EPOCHS:-}" ] && train_args+=(--epochs "$NOCTURNE_EPOCHS")
./build/nocturne train "${train_args[@]}"
./build/nocturne generate --model "$run/best.ckpt" --out "$run/generated" --notes 200 \
  --temperature 0.9 --top-p 0.95 --seed 1
echo "run.sh: done: $run (history.csv, loss.png, checkpoints) and $run/generated (MIDI, WAV, score, piano roll)"
