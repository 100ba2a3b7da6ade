#!/usr/bin/env bash
# Builds one libFuzzer binary per parser (ModelFormats sources + Fuzz/<Name>Fuzz.swift, with
# address sanitizer) and runs each for FUZZ_SECONDS, seeded with the hostile-input test cases.
# Crashes are written to fuzz-out/<name>/crash-*; the script fails if any target finds one.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-60}
out=fuzz-out
mkdir -p "$out"
swift build --product interop-tool >/dev/null
python3 Fuzz/make_seeds.py "$out/seeds" "$(swift build --show-bin-path)/interop-tool"
sources=$(find Sources/ModelFormats -name '*.swift')
status=0
for target in Safetensors GGUF; do
  name=$(echo "$target" | tr '[:upper:]' '[:lower:]')
  binary="$out/fuzz-$name"
  echo "== building $binary"
  swiftc -O -sanitize=fuzzer,address -parse-as-library -module-name ModelFormats \
    $sources "Fuzz/${target}Fuzz.swift" -o "$binary" 2>&1 | { grep -v "Cannot export local symbol" || true; }
  mkdir -p "$out/$name/corpus"
  echo "== fuzzing $name for ${seconds}s"
  if ! (cd "$out/$name" && "../fuzz-$name" -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=2048 \
      -print_final_stats=1 corpus "../seeds/$name" 2>&1 | tail -n 15); then
    status=1
  fi
  if ls "$out/$name"/crash-* "$out/$name"/leak-* "$out/$name"/oom-* "$out/$name"/timeout-* >/dev/null 2>&1; then
    echo "!! $name: fuzzer found failing inputs in $out/$name" >&2
    status=1
  fi
done
exit $status
