#!/bin/sh
# accuracy.sh [BUILD_DIR [CORPUS_DIR]] -- `make accuracy`: scan the standard
# corpus into a fresh database and score it against the simulator's truth.
#
# Makes the corpus first when it is not there (tools/make-corpus.sh). Prints,
# per scan condition, the mark cells judged and how many were accepted wrong,
# flagged, flagged needlessly; then the written boxes and text fields; then the
# values exported as certain against the true answers; last the line
#   accuracy: cells=N wrong_accepted=W flagged=F needless_flags=X
# (tools/evaluate/evaluate.c says exactly how each is counted).
set -eu
B=${1:-build}
C=${2:-$B/corpus}
JOBS=${JOBS:-2}
if [ ! -f "$C/truth/cells.csv" ]; then
  if [ "${HOLDOUT:-0}" = 1 ]; then
    # make accuracy-holdout: a corpus the thresholds were never tuned on
    "$B/simulate" --template templates/ipa-itsc-2018 --form all --respondents 100 --first-id 1 \
        --seed 2026 --profile mixed --dpi mixed --format mixed -j "$JOBS" --out "$C"
  else
    ./tools/make-corpus.sh "$B" "$C"
  fi
fi
db="$B/accuracy${HOLDOUT:+-holdout}.db"
rm -f "$db" "$db-wal" "$db-shm"
start=$(date +%s)
set +e
"$B/omr" scan --db "$db" --batch accuracy -j "$JOBS" "$C/scans"
rc=$?
set -e
# 0 = ok, 3 = done with items to review; anything else is a failed run.
if [ "$rc" != 0 ] && [ "$rc" != 3 ]; then
  echo "accuracy: omr scan failed (exit $rc)" >&2
  exit 2
fi
echo "scan took $(( $(date +%s) - start )) s"
"$B/evaluate" --db "$db" --corpus "$C"
