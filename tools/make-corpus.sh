#!/bin/sh
# make-corpus.sh [--small] BUILD_DIR OUT_DIR -- write the standard simulated corpus.
#
#   OUT_DIR/          200 respondents of each form (A: 000001-000200, B: 000201-000400)
#                     in the mixed profile and mixed scan conditions, plus bad/ input files
#   OUT_DIR/clean/    10 respondents of each form (900001-900020), clean profile, 300 dpi
# With --small only OUT_DIR/clean/ is written. Both use fixed seeds, so every run gives
# the same bytes. Workers: $JOBS (default 2). See OUT_DIR/README.txt for the layout.
set -eu

small=0
if [ "${1:-}" = "--small" ]; then small=1; shift; fi
if [ $# -ne 2 ]; then
  echo "usage: tools/make-corpus.sh [--small] BUILD_DIR OUT_DIR" >&2
  exit 1
fi
B=$1 OUT=$2
JOBS=${JOBS:-2}
SIM="$B/simulate"
TPL=templates/ipa-itsc-2018
[ -x "$SIM" ] || { echo "make-corpus: $SIM not built (run make)" >&2; exit 2; }
[ -f "$TPL/survey.omr" ] || { echo "make-corpus: run from the repository root ($TPL missing)" >&2; exit 2; }

# Remove only what this script writes, so stale files of an older run cannot mix in.
clear_corpus() {
  rm -rf "$1/scans" "$1/truth" "$1/bad" "$1/.parts" "$1/README.txt"
}

mkdir -p "$OUT"
start=$(date +%s)
if [ "$small" = 0 ]; then
  clear_corpus "$OUT"
  echo "make-corpus: $OUT: 200 respondents per form, mixed conditions, -j $JOBS"
  "$SIM" --template "$TPL" --form all --respondents 200 --first-id 1 --seed 2018 \
         --profile mixed --dpi mixed --format mixed --bad -j "$JOBS" --out "$OUT"
fi
clear_corpus "$OUT/clean"
echo "make-corpus: $OUT/clean: 10 respondents per form, clean, 300 dpi"
"$SIM" --template "$TPL" --form all --respondents 10 --first-id 900001 --seed 2019 \
       --profile clean --dpi 300 --format mixed -j "$JOBS" --out "$OUT/clean"
end=$(date +%s)
echo "make-corpus: done in $((end - start)) s; $(du -sh "$OUT" | cut -f1) in $OUT"
