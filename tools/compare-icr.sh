#!/bin/sh
# compare-icr.sh REF_BUILD NEW_BUILD INPUT... -- prove that a change to the
# handwriting reader (omr/icr.c, omr/icr_boxes.c) reads exactly the same, and
# show what it costs per page. Runs REF_BUILD/bench-icr-pages and
# NEW_BUILD/bench-icr-pages (each built from its own tree: build the old
# tree with `make B=/tmp/ref build/bench-icr-pages`) on the same scans, each
# dumping every output of the reader per DIGIT/TEXT region (floats as exact
# hex), then compares the dumps byte for byte. Prints both timing lines and
# `compare-icr: same` or the first differences; exit 1 when they differ.
set -eu
[ $# -ge 3 ] || { echo "usage: compare-icr.sh REF_BUILD NEW_BUILD INPUT..." >&2; exit 2; }
R=$1; N=$2; shift 2
for b in "$R" "$N"; do
  [ -x "$b/bench-icr-pages" ] || { echo "compare-icr: $b/bench-icr-pages not built" >&2; exit 2; }
done
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
echo "ref: $("$R/bench-icr-pages" --dump "$t/ref" "$@")"
echo "new: $("$N/bench-icr-pages" --dump "$t/new" "$@")"
if cmp -s "$t/ref" "$t/new"; then
  echo "compare-icr: same ($(wc -l < "$t/new") regions)"
else
  diff "$t/ref" "$t/new" | head -20
  echo "compare-icr: DIFFERENT"
  exit 1
fi
