#!/usr/bin/env bash
# What the shared core library exports (nm -D --defined-only): the nocturne
# namespace and nothing else (no std:: instantiations, no helpers of other
# libraries), the versioned namespace nocturne::v0, and the high-level API.
# Usage: check_exports.sh <libnocturne.so>
set -euo pipefail
lib="$1"
names="$(nm -D --defined-only "$lib" | awk '{ $1 = ""; $2 = ""; sub(/^ +/, ""); print }' | c++filt)"
total="$(grep -c . <<<"$names" || true)"
echo "exported symbols: $total"
ours='^((typeinfo name for|typeinfo for|vtable for|VTT for|guard variable for|non-virtual thunk to|virtual thunk to) )?nocturne::v0::'
foreign="$(grep -vE "$ours" <<<"$names" || true)"
if [ -n "$foreign" ]; then
  # std:: instantiations (std::vector<...>::_M_realloc_insert, say) land here.
  echo "exported outside nocturne::v0 ($(grep -c . <<<"$foreign")):"
  head -20 <<<"$foreign"
  exit 1
fi
for wanted in 'nocturne::v0::version()' 'nocturne::v0::TrainingRun::create(' 'nocturne::v0::load_model(' \
              'nocturne::v0::read_corpus(' 'typeinfo for nocturne::v0::FileError'; do
  if ! grep -qF "$wanted" <<<"$names"; then
    echo "missing export: $wanted"
    exit 1
  fi
done
# Inline member functions stay in the headers (-fvisibility-inlines-hidden).
if grep -qF 'nocturne::v0::Vocabulary::size() const' <<<"$names"; then
  echo "inline function exported: nocturne::v0::Vocabulary::size() const"
  exit 1
fi
echo "only nocturne::v0 is exported"
