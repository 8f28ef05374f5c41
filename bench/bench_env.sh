# Shared by the bench/run_*.sh scripts (sourced, not run):
#   parse_build_args "$@"   sets build (default: build) and args (what follows --)
#   find_bench NAME         sets bench to NAME's program under $build, or exits 1
#   find_torch_python       sets python to the first of $PYTHON, python3,
#                           /usr/bin/python3 that can import torch (else empty)
#   find_keras_python       sets keras_python likewise for keras (TensorFlow backend)
#   print_machine           one line: cores, CPU model, load average

parse_build_args() {
  build="build"
  if [[ $# -gt 0 && "$1" != "--" ]]; then build="$1"; shift; fi
  if [[ $# -gt 0 && "$1" == "--" ]]; then shift; fi
  args=("$@")
}

find_bench() {
  bench=""
  for candidate in "$build/bench/$1" "$build/$1"; do
    if [[ -x "$candidate" ]]; then bench="$candidate"; return; fi
  done
  echo "$1 not found under $build (build it: cmake --build $build --target $1)" >&2
  exit 1
}

find_torch_python() {
  python=""
  for candidate in ${PYTHON:-} python3 /usr/bin/python3; do
    if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c "import torch" >/dev/null 2>&1; then
      python="$candidate"; return
    fi
  done
}

find_keras_python() {
  keras_python=""
  for candidate in ${PYTHON:-} python3 /usr/bin/python3; do
    if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c "import keras, tensorflow" >/dev/null 2>&1; then
      keras_python="$candidate"; return
    fi
  done
}

print_machine() {
  echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
}
