#!/usr/bin/env bash
# The release build, in one place: the Dockerfile's build stage runs exactly this, and
# Tests/Interop/test_deploy.py runs it here (there is no Docker engine on the build machine).
#
#   Deploy/build-release.sh [PREFIX=dist]
#
# Installs the Debian packages the build needs (when root), builds quantd and quantctl in release
# mode with the Swift standard library and Foundation linked statically, installs them into
# PREFIX/bin, and checks that each runs and needs no Swift shared library at run time (the runtime
# image has only libcurl4 and libsqlite3-0).
set -euo pipefail
cd "$(dirname "$0")/.."
prefix=${1:-dist}
swift=${SWIFT:-swift}
# Its own build directory: the static-runtime flags would otherwise invalidate the everyday
# release build in .build (and the other way round).
build=(-c release --static-swift-stdlib --scratch-path "${SCRATCH_PATH:-.build/static-release}")

scripts/ensure-deps.sh --build-only

for product in quantd quantctl; do
    "$swift" build "${build[@]}" --product "$product"
done
bin=$("$swift" build "${build[@]}" --show-bin-path)
mkdir -p "$prefix/bin"
install -m 0755 "$bin/quantd" "$bin/quantctl" "$prefix/bin/"
# Symbols off: the image is about 60% smaller (crash reports keep function names via the Swift
# runtime's own metadata, not these tables).
if command -v strip >/dev/null; then strip "$prefix/bin/quantd" "$prefix/bin/quantctl"; fi

for product in quantd quantctl; do
    "$prefix/bin/$product" --help >/dev/null
    if ldd "$prefix/bin/$product" | grep -E 'libswift|libFoundation|libdispatch|libBlocksRuntime'; then
        echo "error: $product links a Swift runtime library dynamically (above); the runtime image does not have it" >&2
        exit 1
    fi
done
echo "release binaries in $prefix/bin: $("$prefix/bin/quantctl" --version)"
