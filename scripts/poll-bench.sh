#!/usr/bin/env bash
# Polling benchmark of issue 6: wrk against GET /v1/jobs/{id} (authenticated, row read from SQLite)
# and GET /healthz on a fresh release quantd. Needs `wrk` (apt-get install wrk).
#   scripts/poll-bench.sh [QUANTD_BINARY=.build/release/quantd] [SECONDS=10] [DATABASE_URL]
# DATABASE_URL: an empty PostgreSQL database (postgres://...) instead of SQLite in the data directory.
set -euo pipefail
binary=${1:-.build/release/quantd}
seconds=${2:-10}
data=$(mktemp -d)
trap 'kill $pid 2>/dev/null || true; rm -rf "$data"' EXIT
QUANTD_DATABASE="${3:-}" "$binary" --port 0 --data-dir "$data" --workers 1 >"$data/stdout" 2>/dev/null &
pid=$!
for _ in $(seq 100); do grep -q listening "$data/stdout" 2>/dev/null && break; sleep 0.1; done
url=$(awk '{print $NF}' "$data/stdout")
key=$(cat "$data/admin.key")
python3 - "$data/m.safetensors" <<'PY'
import json, struct, sys
header = json.dumps({"w": {"dtype": "F32", "shape": [64, 64], "data_offsets": [0, 16384]}}).encode()
open(sys.argv[1], "wb").write(struct.pack("<Q", len(header)) + header + bytes(16384))
PY
model=$(curl -sf -H "Authorization: Bearer $key" --data-binary @"$data/m.safetensors" "$url/v1/models?name=m" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
job=$(curl -sf -H "Authorization: Bearer $key" -H 'Content-Type: application/json' -d "{\"model_id\":\"$model\",\"recipe\":{\"preset\":\"int8\"}}" "$url/v1/jobs" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
for _ in $(seq 100); do curl -sf -H "Authorization: Bearer $key" "$url/v1/jobs/$job" | grep -q '"succeeded"' && break; sleep 0.1; done
echo "== GET /v1/jobs/$job"
wrk -t2 -c64 -d"${seconds}s" --latency -H "Authorization: Bearer $key" "$url/v1/jobs/$job" | grep -E 'Requests/sec|99%|Non-2xx|Socket errors'
echo "== GET /healthz"
wrk -t2 -c64 -d"${seconds}s" --latency "$url/healthz" | grep -E 'Requests/sec|99%|Non-2xx|Socket errors'
echo "rss_kib $(awk '/VmHWM/{print $2}' /proc/$pid/status)"
