#!/bin/sh
# bench-icr.sh BUILD_DIR -- benchmark of the icr digit reader (issue 5):
# the shipped model on the MNIST validation split (6,000 digits, never trained
# on; the auto-accept threshold was chosen on it, see omr/icr_model.c), read
# directly and through the box normaliser, with the time per box on one core.
# Prints the `icr:` line of each run and the time per box. Speed is measured
# here, never in tests. Data: $OMR_DIGITS, else ../shared/data/digits, else
# /work/shared/data/digits.
# Then the same reader on simulated scans (issue 5, "read from the scanned
# boxes"): two small corpora from build/simulate (10 respondents per form,
# seed 5; clean 300 dpi, and the mixed population at mixed dpi and formats),
# read by build/bench-icr-boxes (load, identify, register, omr_icr_read_page)
# and compared with the simulator's truth; prints per corpus its
# `icr-corpus:` line. The corpora go to $OMR_ICR_CORPUS (kept, reused when
# present) or to a temporary folder removed at the end.
set -eu
B=${1:-build}
D=${OMR_DIGITS:-../shared/data/digits}
[ -r "$D/val-images-idx3-ubyte.gz" ] || D=/work/shared/data/digits
OMR="$B/omr"
[ -x "$OMR" ] || { echo "bench-icr: $OMR not built (run make)" >&2; exit 2; }
out=$(mktemp)
C=${OMR_ICR_CORPUS:-}
tmpc=""
if [ -z "$C" ]; then tmpc=$(mktemp -d); C=$tmpc; fi
trap 'rm -f "$out"; [ -n "$tmpc" ] && rm -rf "$tmpc"' EXIT
for mode in direct renormalise; do
  flag=""; [ $mode = renormalise ] && flag=--renormalise
  # taskset keeps the run on one core where available
  if command -v taskset >/dev/null 2>&1; then pin="taskset -c 0"; else pin=""; fi
  $pin "$OMR" icr-eval $flag "$D/val-images-idx3-ubyte.gz" "$D/val-labels-idx1-ubyte.gz" >"$out"
  echo "== val split, $mode"
  grep '^time:' "$out"
  tail -n 1 "$out"
done

# ---- the simulated corpus, read from the scans
T=templates/ipa-itsc-2018
for prof in clean mixed; do
  dir="$C/icr-$prof"
  if [ ! -r "$dir/truth/pages.csv" ]; then
    if [ $prof = clean ]; then dpi=300; else dpi=mixed; fi
    "$B/simulate" --template "$T" --form all --respondents 10 --seed 5 --profile $prof \
      --dpi $dpi --format mixed --out "$dir" >/dev/null
  fi
  echo "== simulated corpus, $prof (threshold = the shipped auto-accept threshold)"
  $pin "$B/bench-icr-boxes" --template "$T" --corpus "$dir" | tail -n 3
done

# ---- the reader's cost per scanned page (crop + read every digit box and
# text field; load, identify and register not counted), on the bench sets
# of `make bench` when they exist
for kind in g4 png; do
  S=$B/bench-data/$kind/scans
  [ -d "$S" ] && [ -x "$B/bench-icr-pages" ] || continue
  echo "== reader per page, bench set $kind"
  $pin "$B/bench-icr-pages" "$S"
done
