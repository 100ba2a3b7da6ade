#!/usr/bin/env bash
# Times the C kernels of two revisions side by side (scripts/kernel_compare.c linked against each
# revision's Sources/CInt8Kernels), alternating ROUNDS times, on a host with AVX-512.
# Usage: scripts/kernel-compare.sh BEFORE_REV [AFTER_REV (default: the working tree)] [ROUNDS (default 2)]
set -euo pipefail
before=${1:?usage: kernel-compare.sh BEFORE_REV [AFTER_REV] [ROUNDS]}
after=${2:-}
rounds=${3:-2}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
build() {  # build NAME REV: the harness against REV's kernels (the working tree when REV is empty)
    local dir="$work/$1"
    mkdir -p "$dir"
    if [ -n "$2" ]; then git -C "$root" archive "$2" Sources/CInt8Kernels | tar -x -C "$dir"
    else mkdir -p "$dir/Sources" && cp -r "$root/Sources/CInt8Kernels" "$dir/Sources/"; fi
    clang -O3 -ffp-contract=off -I "$dir/Sources/CInt8Kernels" -I "$dir/Sources/CInt8Kernels/include" \
        "$root/scripts/kernel_compare.c" "$dir"/Sources/CInt8Kernels/*.c -lm -o "$dir/harness"
}
build before "$before"
build after "$after"
printf "%-16s %8s %8s   (MB/s of fp32 in; rounds alternate, one build at a time)\n" kernel before after
for round in $(seq "$rounds"); do
    "$work/before/harness" > "$work/before.txt"
    "$work/after/harness" > "$work/after.txt"
    paste "$work/before.txt" "$work/after.txt" | awk '{ printf "%-16s %8s %8s\n", $1 " " $2, $3, $6 }'
done
