#!/bin/sh
# calibrate.sh BUILD_DIR -- `omr calibrate` on scans whose truth is known.
#
# A small clean corpus of the simulator (fixed seed; its truth is written by
# the simulator, never derived from omr) is measured by `omr calibrate
# --identify`: every page is registered, no mark cell is accepted wrong, the
# derived profile orders its thresholds (blank maximum below marked minimum)
# and `omr scan --calib` takes it; a truth file that does not exist is
# refused with its name.
B=${1:-build}
SIMB=build
[ -x "$SIMB/simulate" ] || SIMB=$B
. tests/lib/check.sh
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if ! "$SIMB/simulate" --template templates/ipa-itsc-2018 --form all --respondents 3 --first-id 710001 --seed 91 \
      --profile clean --dpi 300 --format mixed -j 2 --out "$work/c" >"$work/sim.log" 2>&1; then
  cat "$work/sim.log"; bad "simulate"; finish; exit 1
fi
"$B/omr" calibrate --truth "$work/c/truth/cells.csv" --identify --out "$work/p.calib" "$work/c/scans" \
  >"$work/cal.log" 2>&1
rc=$?
cat "$work/cal.log"
[ "$rc" = 0 ] && ok "calibrate exit status 0" || bad "calibrate exit status $rc"
line=$(grep '^accuracy:' "$work/cal.log")
cells=$(echo "$line" | sed -n 's/.*cells=\([0-9]*\).*/\1/p')
wrong=$(echo "$line" | sed -n 's/.*wrong_accepted=\([0-9]*\).*/\1/p')
[ -n "$cells" ] && [ "$cells" -gt 1000 ] && ok "cells measured: $cells" || bad "cells measured: '$cells'"
[ "$wrong" = 0 ] && ok "no mark accepted wrong" || bad "marks accepted wrong: '$wrong'"
regfail=$(awk '$1 == "clean" { print $3 }' "$work/cal.log")
[ "$regfail" = 0 ] && ok "every page registered" || bad "pages not registered: '$regfail'"
val() { sed -n "s/^$1 *= *//p" "$work/p.calib"; }
if [ -s "$work/p.calib" ] && awk -v a="$(val circle.blank_max)" -v b="$(val circle.marked_min)" \
     -v c="$(val check.blank_max)" -v d="$(val check.marked_min)" \
     'BEGIN { exit !(a != "" && c != "" && a + 0 <= b + 0 && c + 0 <= d + 0) }'; then
  ok "derived profile orders its thresholds"
else
  bad "derived profile: $(cat "$work/p.calib" 2>/dev/null | grep -v '^#' | head -8)"
fi
"$B/omr" scan --db "$work/s.db" --calib "$work/p.calib" -q "$work/c/scans" >"$work/scan.log" 2>&1
src=$?
if [ "$src" = 0 ] || [ "$src" = 3 ]; then ok "omr scan --calib takes the derived profile"
else cat "$work/scan.log"; bad "omr scan --calib: exit $src"; fi
"$B/omr" calibrate --truth "$work/none.csv" "$work/c/scans" >"$work/bad.log" 2>&1
brc=$?
[ "$brc" = 2 ] && grep -q "none.csv" "$work/bad.log" && ok "a missing truth file is refused by name" ||
  { cat "$work/bad.log"; bad "missing truth file: exit $brc"; }
finish
