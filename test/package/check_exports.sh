#!/usr/bin/env bash
# What the shared core library exports (nm -D --defined-only): the nocturne
# namespace and nothing else (no std:: instantiations, no helpers of other
# libraries), the versioned namespace nocturne::v0, the high-level API, and
# none of the internals of src/ (compiled hidden; only what the public headers
# mark NOCTURNE_API is exported).
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
# The internals' namespaces (cpu::, cuda_module::, checks::, ...): the public
# headers declare nothing in a namespace below nocturne::v0.
# One exception, the core's interface for render (src/midi/atomic_write.hpp).
inner="$(grep -E "^${ours#^}[a-z_][a-z0-9_]*::" <<<"$names" |
         grep -vF -e 'nocturne::v0::detail::write_file_atomically(' -e 'nocturne::v0::detail::install_file(' || true)"
if [ -n "$inner" ]; then
  echo "internal namespace exported ($(grep -c . <<<"$inner")):"
  head -20 <<<"$inner"
  exit 1
fi
# A few internals by name: each must be in the library (its symbol table), so
# that a renamed function fails here rather than passing unseen, and must not
# be exported: a CPU kernel (GCC exports a target_clones resolver whatever
# -fvisibility says), an op check helper, the BLAS wrapper, the module loader.
all="$(nm --defined-only "$lib" | awk '{ $1 = ""; $2 = ""; sub(/^ +/, ""); print }' | c++filt)"
for internal in 'nocturne::v0::cpu::lstm_cells_forward(int, int, float*' 'nocturne::v0::cpu::check_gemm(' \
                'nocturne::v0::cpu::blas_gemm(' 'nocturne::v0::cuda_module::load('; do
  if ! grep -qF "$internal" <<<"$all"; then
    echo "not in the library at all (renamed? update this list): $internal"
    exit 1
  fi
  if grep -qF "$internal" <<<"$names"; then
    echo "internal function exported: $internal"
    exit 1
  fi
done
# Inline member functions stay in the headers (-fvisibility-inlines-hidden).
if grep -qF 'nocturne::v0::Vocabulary::size() const' <<<"$names"; then
  echo "inline function exported: nocturne::v0::Vocabulary::size() const"
  exit 1
fi
echo "only nocturne::v0 is exported"
