#!/bin/sh
# bench-review.sh [BUILD_DIR] [RESPONDENTS] -- the review server under 20 concurrent
# simulated operators (issue 4 target: p95 under 20 ms per item, where an item is
# fetch next + its image + submit a decision; one keystroke to accept a proposal).
# Simulates and scans RESPONDENTS questionnaires per form (default 6), makes 20
# operators, starts `omr review`, lets the crop warmer run for a moment (it renders
# crops ahead of the queue, as it does while operators work), then runs
# build/bench-review until the queue is empty. THINK_MS=0 measures saturation
# (every operator clicking without pause: throughput, not latency).
set -eu
B=${1:-build}
R=${2:-6}
cd "$(dirname "$0")/.."
make -s "$B/omr" "$B/simulate" "$B/bench-review" B="$B" >/dev/null
T=$(mktemp -d /tmp/omr-bench-review.XXXXXX)
SRV=""
trap '[ -n "$SRV" ] && kill "$SRV" 2>/dev/null; rm -rf "$T"' EXIT
# BENCH_CACHE=DIR keeps the scanned store (and its images) in DIR and starts
# each later run from a copy of it: repeated runs measure the same queue.
C=${BENCH_CACHE:-}
if [ -n "$C" ] && [ -s "$C/r.db" ]; then
  cp "$C/r.db" "$T/r.db"
else
  S=${C:-$T}
  mkdir -p "$S"
  "$B/simulate" --template templates/ipa-itsc-2018 --form all --respondents "$R" --seed 5 --out "$S/sim" \
    --profile mixed --dpi 300 --format mixed -j 2 >/dev/null 2>&1
  "$B/omr" scan --db "$T/r.db" -q "$S/sim/scans" >/dev/null 2>&1 || true
  for i in $(seq 1 20); do printf 'bench-password\n' | "$B/omr" operator --db "$T/r.db" add "op$i" >/dev/null; done
  [ -n "$C" ] && sqlite3 "$T/r.db" "PRAGMA wal_checkpoint(TRUNCATE)" >/dev/null && cp "$T/r.db" "$C/r.db"
fi
echo "bench-review: $(sqlite3 "$T/r.db" "SELECT count(*) FROM review_items WHERE state = 'open'") open items from $R respondents per form"
"$B/omr" review --db "$T/r.db" --listen 127.0.0.1:0 >"$T/server.log" 2>&1 &
SRV=$!
for i in $(seq 1 100); do grep -q serving "$T/server.log" && break; sleep 0.1; done
PORT=$(sed -n 's/.*:\([0-9]*\)\/ .*/\1/p' "$T/server.log")
sleep "${WARM_SECONDS:-5}"
# with people's pace (an operator looks at each crop ~1 s), then at saturation
"$B/bench-review" "$PORT" "${OPERATORS:-20}" bench-password op "${THINK_MS:-1000}"
