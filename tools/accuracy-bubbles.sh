#!/bin/sh
# accuracy-bubbles.sh [BUILD_DIR [CORPUS_DIR]] -- `make accuracy-bubbles`: bubble
# reading at scale. Simulate filled mark sheets of tests/data/bubble-sheet (24
# A-D questions, a multi of 6, a grid of 2 x 5 bubbles; no barcode, identify=order)
# under the mixed scan conditions, scan them into a fresh database, and score
# the result against the simulator's truth, as `make accuracy` does for the
# IPA survey.
#
# The corpus (CORPUS_DIR, default BUILD_DIR/corpus-bubbles) is made when it is
# not there: $SHEETS respondents (default 500), one sheet each, named after the
# respondent (<id>.tif / .png / .jpg: omr names a respondent of a survey read by
# order after the file), mixed profile, dpi and format, fixed seed (the same
# bytes every time). Prints per scan condition the bubbles judged, accepted
# wrong, flagged, flagged needlessly; then the values exported as certain
# against the true answers; last the line
#   accuracy: cells=N wrong_accepted=W flagged=F needless_flags=X
# (tools/evaluate/evaluate.c says how each is counted), and where the wrong
# and doubtful-accepted cells come from: the truth's style of each (what the
# respondent drew), from BUILD_DIR/accuracy-bubbles.list (evaluate --list).
set -eu
B=${1:-build}
C=${2:-$B/corpus-bubbles}
JOBS=${JOBS:-2}
SHEETS=${SHEETS:-500}
T=tests/data/bubble-sheet
[ -f "$T/survey.omr" ] || { echo "accuracy-bubbles: run from the repository root ($T missing)" >&2; exit 2; }
start=$(date +%s)
if [ ! -f "$C/truth/cells.csv" ]; then
  rm -rf "$C/scans" "$C/truth" "$C/.parts" "$C/README.txt"
  "$B/simulate" --template "$T" --form M --respondents "$SHEETS" --first-id 1 --seed 2027 \
      --profile mixed --dpi mixed --format mixed -j "$JOBS" --out "$C"
fi
db="$B/accuracy-bubbles.db"
rm -f "$db" "$db-wal" "$db-shm"
scan_start=$(date +%s)
set +e
"$B/omr" scan --db "$db" --template "$T" --batch accuracy-bubbles -j "$JOBS" "$C/scans" >"$B/accuracy-bubbles.scan.log" 2>&1
rc=$?
set -e
# 0 = ok, 3 = done with items to review; anything else is a failed run.
if [ "$rc" != 0 ] && [ "$rc" != 3 ]; then
  cat "$B/accuracy-bubbles.scan.log" >&2
  echo "accuracy-bubbles: omr scan failed (exit $rc)" >&2
  exit 2
fi
echo "scan took $(( $(date +%s) - scan_start )) s"
list="$B/accuracy-bubbles.list"
"$B/evaluate" --db "$db" --corpus "$C" --template "$T" --quiet --list "$list" >"$B/accuracy-bubbles.txt"
grep -v '^accuracy:' "$B/accuracy-bubbles.txt"
# What the respondent drew in the cells accepted wrong or doubtful-and-accepted,
# how they were read, and the scans they were on (truth/pages.csv: format, dpi).
echo "cells accepted wrong or doubtful-and-accepted, by what was drawn (evaluate --list $list):"
awk -F, 'FNR == 1 { next }
         NR == FNR { f = $1; sub(/.*\//, "", f); scan[f] = $10 " " $9; next }
         $1 != "needless" {
           f = $3; sub(/.*\//, "", f)
           k = $1 " " $7 "/" $8 ", read " ($9 == 1 ? "marked" : $9 == 2 ? "doubtful" : "blank")
           n[k]++; by[k, scan[f]]++; if (!((k, scan[f]) in seen)) { seen[k, scan[f]] = 1; scans[k] = scans[k] " " scan[f] } }
         END { for (k in n) { line = sprintf("  %5d %s (on", n[k], k)
                              m = split(substr(scans[k], 2), s, " ")
                              for (i = 1; i + 1 <= m; i += 2) line = line sprintf(" %s %s dpi: %d,", s[i], s[i + 1], by[k, s[i] " " s[i + 1]])
                              sub(/,$/, ")", line); print line } }' "$C/truth/pages.csv" "$list" | sort -k2,2 -k1,1nr
echo "accuracy-bubbles took $(( $(date +%s) - start )) s"
grep '^accuracy:' "$B/accuracy-bubbles.txt"
