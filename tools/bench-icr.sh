#!/bin/sh
# bench-icr.sh BUILD_DIR -- benchmark of the icr digit reader (issue 5):
# the shipped model on the MNIST validation split (6,000 digits, never trained
# on; the auto-accept threshold was chosen on it, see omr/icr_model.c), read
# directly and through the box normaliser, with the time per box on one core.
# Prints the `icr:` line of each run and the time per box. Speed is measured
# here, never in tests. Data: $OMR_DIGITS, else ../shared/data/digits, else
# /work/shared/data/digits.
set -eu
B=${1:-build}
D=${OMR_DIGITS:-../shared/data/digits}
[ -r "$D/val-images-idx3-ubyte.gz" ] || D=/work/shared/data/digits
OMR="$B/omr"
[ -x "$OMR" ] || { echo "bench-icr: $OMR not built (run make)" >&2; exit 2; }
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for mode in direct renormalise; do
  flag=""; [ $mode = renormalise ] && flag=--renormalise
  # taskset keeps the run on one core where available
  if command -v taskset >/dev/null 2>&1; then pin="taskset -c 0"; else pin=""; fi
  $pin "$OMR" icr-eval $flag "$D/val-images-idx3-ubyte.gz" "$D/val-labels-idx1-ubyte.gz" >"$out"
  echo "== val split, $mode"
  grep '^time:' "$out"
  tail -n 1 "$out"
done
