#!/usr/bin/env bash
# The whole job in one command: set up, build, train, generate.
#   bash tools/run.sh [midi-folder]
# Trains on the folder given, else on ../shared/data/chopin or data/chopin when
# present, else on the built-in demo corpus (generated in code, labelled as such);
# then generates a piece with MIDI, WAV and pictures. Everything lands in runs/.
# Settings: NOCTURNE_PRESET (small|recipe; for a real corpus, default small),
#           NOCTURNE_EPOCHS (default: the preset's for the demo corpus, 5 for a
#           real corpus), NOCTURNE_DEVICE (auto|cpu|cuda).
# The demo corpus run takes about two minutes on two CPU cores.
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
echo "run.sh: done: $run (history.csv, loss.png, checkpoints) and $run/generated (MIDI, WAV, score, piano roll)"
