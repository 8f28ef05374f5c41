#!/usr/bin/env bash
# The CUDA module links the core's internal static library, whose objects it
# uses are copied into it (docs/architecture.md, "The CUDA module and the
# core"). Those copies must hold no writable state, or a process would have
# two of it, the core's and the module's. Fails on any symbol in a writable
# section (.data, .bss, thread-local; not .data.rel.ro) that belongs to the
# core, i.e. is in nocturne::v0 but not in the module's own namespaces
# (cuda::, cudnn::, kernels::, bench::) or its kernels' launch stubs.
# Usage: check_module_state.sh <libnocturne-cuda.so>
set -euo pipefail
module="$1"
writable="$(objdump -tC "$module" | grep -E '\s\.(data|bss|tdata|tbss)(\.[^ ]*)?\s' | grep -v '\.data\.rel\.ro' |
            sed -E 's/^.*\s[0-9a-f]{16}\s+//')"
echo "writable symbols in the module: $(grep -c . <<<"$writable" || true)"
own='^(guard variable for )?(nocturne::v0::(cuda|cudnn|kernels|bench)::|__device_stub)'
core="$(grep -F 'nocturne::' <<<"$writable" | grep -vE "$own" || true)"
if [ -n "$core" ]; then
  echo "the core's writable state copied into the module ($(grep -c . <<<"$core")):"
  head -20 <<<"$core"
  exit 1
fi
echo "no state of the core in the module"
