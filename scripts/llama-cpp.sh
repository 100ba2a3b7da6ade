#!/usr/bin/env bash
# Builds llama.cpp from the pinned llama-cpp-python source package (which vendors llama.cpp and its
# ctypes bindings) once per version, in a cache outside the clone, and prints the directory that
# holds `python/llama_cpp` (the bindings), `lib/` (libllama.so and ggml) and `bin/` (llama-imatrix, llama-perplexity).
# The interop tests load our GGUFs with it. CI on the same machine reuses the build; a new machine
# builds it (~5-7 min on 2 cores: the library and the two tools the tests run).
#   scripts/llama-cpp.sh            -> prints the directory
set -euo pipefail

VERSION=0.3.36
CACHE_ROOT="${QS_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/quantservice}"
# The suffix names what is built and for which CPU (llama.cpp compiles for the host's instruction
# set): a change of targets, or a cache carried to a machine without AVX-512, gets a build of its own.
ISA=avx2
if grep -q '\bavx512f\b' /proc/cpuinfo 2>/dev/null; then ISA=avx512; fi
DIR="$CACHE_ROOT/llama-cpp-python-$VERSION-tools-$ISA"
PYTHON="${PYTHON:-python3}"

if [ -f "$DIR/.built" ]; then echo "$DIR"; exit 0; fi

if ! command -v cmake >/dev/null 2>&1 || ! command -v c++ >/dev/null 2>&1; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "llama.cpp needs cmake and g++: sudo apt-get install -y cmake g++" >&2
    exit 1
  fi
  echo "Installing cmake and g++ ..." >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends cmake g++ >/dev/null
fi

mkdir -p "$CACHE_ROOT"
work="$(mktemp -d "$CACHE_ROOT/tmp.XXXXXX")"
trap 'rm -rf "$work"' EXIT
echo "Building llama.cpp from llama-cpp-python $VERSION (cached in $DIR) ..." >&2
# Only the source package, and its build backend's metadata step without building cmake from source.
"$PYTHON" -m pip download --quiet --disable-pip-version-check --no-deps --no-binary llama-cpp-python \
  "llama-cpp-python==$VERSION" -d "$work/download" >&2
tar -xzf "$work"/download/llama_cpp_python-"$VERSION".tar.gz -C "$work"
src="$work/llama_cpp_python-$VERSION"
cmake -S "$src/vendor/llama.cpp" -B "$work/build" -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=ON \
  -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=ON \
  -DLLAMA_BUILD_SERVER=OFF -DGGML_OPENMP=OFF -DCMAKE_BUILD_WITH_INSTALL_RPATH=ON '-DCMAKE_INSTALL_RPATH=$ORIGIN/../lib' \
  >"$work/cmake.log" 2>&1 || { tail -30 "$work/cmake.log" >&2; exit 1; }
cmake --build "$work/build" -j"$(nproc)" --target llama llama-imatrix llama-perplexity >>"$work/cmake.log" 2>&1 || { tail -30 "$work/cmake.log" >&2; exit 1; }

rm -rf "$DIR.partial" && mkdir -p "$DIR.partial/python" "$DIR.partial/lib" "$DIR.partial/bin"
cp -a "$src/llama_cpp" "$DIR.partial/python/"
cp -a "$work"/build/bin/lib*.so* "$DIR.partial/lib/"
cp -a "$work/build/bin/llama-imatrix" "$work/build/bin/llama-perplexity" "$DIR.partial/bin/"
cp -a "$src/vendor/llama.cpp/gguf-py" "$DIR.partial/gguf-py"
touch "$DIR.partial/.built"
rm -rf "$DIR" && mv "$DIR.partial" "$DIR"
echo "$DIR"
