#!/bin/sh
# accuracy_e2e.sh BUILD_DIR -- the small end-to-end accuracy check of `make check`:
# simulate a small clean corpus (print, fill, scan; fixed seed), run `omr scan`
# and `omr export` on it, and score the result against the simulator's ground
# truth with build/evaluate. The truth is written by the simulator, never
# derived from the code under test.
#
# Checks: every sheet is stored and registered; no mark cell is accepted
# wrong; at most 1 % of mark cells are flagged on these clean scans; no value
# exported as certain differs from the truth; empty vs written boxes is never
# wrong on clean pages; the export writes the five files.
B=${1:-build}
# The corpus is made with the normal (fast) build's simulator when there is
# one; the code under test is the build given.
SIMB=build
[ -x "$SIMB/simulate" ] || SIMB=$B
. tests/lib/check.sh
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
C="$work/corpus"
if ! "$SIMB/simulate" --template templates/ipa-itsc-2018 --form all --respondents 4 --first-id 700001 \
      --seed 77 --profile clean --dpi 300 --format mixed -j 2 --out "$C" >"$work/sim.log" 2>&1; then
  cat "$work/sim.log"; bad "simulate"; finish; exit 1
fi
"$B/omr" scan --db "$work/e2e.db" -j 2 "$C/scans" >"$work/scan.log" 2>&1
rc=$?
if [ "$rc" = 0 ] || [ "$rc" = 3 ]; then ok "scan exit status $rc"; else cat "$work/scan.log"; bad "scan exit status $rc"; fi
"$B/evaluate" --db "$work/e2e.db" --corpus "$C" >"$work/eval.txt" 2>"$work/eval.err"
cat "$work/eval.txt"
get() { sed -n "s/^$1.*[ :]$2=\([0-9]*\).*/\1/p" "$work/eval.txt" | head -n 1; }
cells=$(get accuracy cells); wrong=$(get accuracy wrong_accepted); flagged=$(get accuracy flagged)
[ -n "$cells" ] && [ "$cells" -gt 1000 ] && ok "mark cells judged: $cells" || bad "mark cells judged: '$cells'"
[ "$wrong" = 0 ] && ok "no mark accepted wrong" || bad "mark cells accepted wrong: $wrong"
if [ -n "$flagged" ] && [ -n "$cells" ] && [ $((flagged * 100)) -le "$cells" ]; then ok "flagged $flagged of $cells (<= 1 %)"
else bad "flagged $flagged of $cells (> 1 %)"; fi
lost=$(get pages not_registered); never=$(get pages never_stored)
[ "$lost" = 0 ] && [ "$never" = 0 ] && ok "every sheet stored and registered" || bad "sheets lost: not_registered=$lost never_stored=$never"
vwrong=$(get values wrong)
[ "$vwrong" = 0 ] && ok "no certain value differs from the truth" || { bad "certain values wrong: $vwrong"; cat "$work/eval.err"; }
ewrong=$(sed -n 's/^written boxes:.*empty_vs_written_wrong=\([0-9]*\).*/\1/p' "$work/eval.txt")
[ "$ewrong" = 0 ] && ok "empty vs written never wrong on clean pages" || bad "empty vs written wrong: $ewrong"
if "$B/omr" export --db "$work/e2e.db" --out "$work/export" >"$work/export.log" 2>&1; then
  n=0; for f in A.csv A_cases.csv B.csv B_cases.csv codebook.csv; do [ -s "$work/export/$f" ] && n=$((n+1)); done
  [ "$n" = 5 ] && ok "export wrote the five files" || bad "export wrote $n of 5 files"
else
  cat "$work/export.log"; bad "export failed"
fi
finish
