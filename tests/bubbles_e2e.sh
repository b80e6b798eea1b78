#!/bin/sh
# bubbles_e2e.sh BUILD_DIR -- the small end-to-end check of bubble reading in
# `make check` (`make accuracy-bubbles` at small scale): simulate filled mark
# sheets of tests/data/bubble-sheet (bubbles, no barcode: identify=order, each
# file a respondent named after it), scan them with `omr scan`, and score the
# result with build/evaluate against the simulator's truth (never derived from
# the code under test).
#
# Clean respondents (dark pen, every answer filled in), 40 sheets at 300 dpi,
# G4 and grey PNG: every sheet stored, registered and under the truth's
# respondent; no bubble accepted wrong; at most 1 % of bubbles flagged
# (measured: none, seeds 88-90); no value exported as certain is wrong.
# The mixed population (pen and pencil, light pencil, ticks and crosses, faint
# and erased fills, dots, two bubbles filled in one question), 40 sheets in
# mixed scan conditions: every sheet read; no filled-in or blank bubble
# accepted wrong (the wrong ones are ticks, crosses and light pencil fills the
# reader cannot see: make accuracy-bubbles counts them); at most 12 % of
# bubbles flagged (measured 5.1-7.9 %, seeds 77-82); questions with two
# bubbles filled flagged; the corpus the same bytes with -j 1 and -j 2.
# The mixed population again at 100 dpi, grey JPEG (a document-scanner app):
# every sheet read, no filled-in or blank bubble accepted wrong, at most 14 %
# flagged.
# A number printed as bubble columns: OMRChecker's sample6 cover sheet
# (templates/omrchecker-sample6, no corner marks: registered by its print)
# whose 7 roll-number columns are one `full` number question `roll` (box N
# digit=D bubble=…), clean respondents, 30 sheets at 300 dpi and 30 at 200:
# every sheet read; no bubble of the number accepted wrong; every number
# exported certain is right, and at least 25 of 30 are certain (measured
# 29-30 at 300 dpi, 27-30 at 200, seeds 91-95; the rest wait for review: a
# fill off the bubble's middle that the reader doubted). Every bubble is
# judged (the evaluator joins the number's bubbles to their truth). The mixed
# population, 40 sheets at 300 dpi: a number with two bubbles filled in a
# position (a rule break) is flagged in every bubble (its one review item);
# no bubble of it filled in (but light pencil) or blank accepted wrong.
# (The sheet prints its status bubble A solid, which the simulator does not
# know: that bubble reads marked whatever the truth says, so the checks here
# are about the number.)
B=${1:-build}
# The corpus is made with the normal (fast) build's simulator when there is
# one; the code under test is the build given.
SIMB=build
[ -x "$SIMB/simulate" ] || SIMB=$B
T=tests/data/bubble-sheet
. tests/lib/check.sh
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# simulate NAME FIRST_ID SEED PROFILE JOBS [DPI FORMAT]: $SHEETS sheets (40) of
# form $FORM (M) of $T into $work/NAME
simulate() {
  "$SIMB/simulate" --template "$T" --form "${FORM:-M}" --respondents "${SHEETS:-40}" --first-id "$2" --seed "$3" \
      --profile "$4" --dpi "${6:-mixed}" --format "${7:-mixed}" -j "$5" --out "$work/$1" >"$work/$1.sim.log" 2>&1 ||
    { cat "$work/$1.sim.log"; return 1; }
}

# no_fill_or_blank_wrong NAME: no bubble filled in (but light pencil) or blank accepted wrong
no_fill_or_blank_wrong() {
  # what,condition,file,file_page,var,kind,truth,style,read,...: a wrong cell
  n=$(awk -F, 'NR > 1 && $1 == "wrong" && $8 != "tick" && $8 != "cross" && $8 != "fill_light"' "$work/$1.list" | wc -l)
  [ "$n" = 0 ] && ok "$1: no filled-in or blank bubble accepted wrong" ||
    { grep '^wrong' "$work/$1.list"; bad "$1: $n filled-in or blank bubbles accepted wrong"; }
}

# scan_and_score NAME: omr scan into $work/NAME.db, evaluate into $work/NAME.txt, --list $work/NAME.list
scan_and_score() {
  "$B/omr" scan --db "$work/$1.db" --template "$T" -j 2 "$work/$1/scans" >"$work/$1.scan.log" 2>&1
  rc=$?
  if [ "$rc" = 0 ] || [ "$rc" = 3 ]; then ok "$1: scan exit status $rc"; else cat "$work/$1.scan.log"; bad "$1: scan exit status $rc"; fi
  "$B/evaluate" --db "$work/$1.db" --corpus "$work/$1" --template "$T" --quiet --list "$work/$1.list" \
      >"$work/$1.txt" 2>"$work/$1.err"
  sed "s/^/  $1: /" "$work/$1.txt"
}

# get NAME LINE KEY: the number after KEY= on the line starting with LINE
get() { sed -n "s/^$2.*[ :]$3=\([0-9]*\).*/\1/p" "$work/$1.txt" | head -n 1; }

# sheets_read NAME: every sheet ($SHEETS, 40) stored, registered, under the truth's respondent
sheets_read() {
  stored=$(get "$1" pages stored); lost=$(get "$1" pages not_registered); never=$(get "$1" pages never_stored)
  other=$(sed -n 's/^respondents:.*under another than the truth.s=\([0-9]*\).*/\1/p' "$work/$1.txt")
  [ "$stored" = "${SHEETS:-40}" ] && [ "$lost" = 0 ] && [ "$never" = 0 ] &&
    ok "$1: $stored sheets stored and registered" ||
    bad "$1: sheets stored=$stored not_registered=$lost never_stored=$never"
  [ "$other" = 0 ] && ok "$1: every sheet under the truth's respondent (the file's name)" ||
    bad "$1: sheets under another respondent: '$other'"
}

# flagged_at_most NAME PERCENT
flagged_at_most() {
  cells=$(get "$1" accuracy cells); flagged=$(get "$1" accuracy flagged)
  if [ -n "$cells" ] && [ "$cells" -gt 4000 ] && [ -n "$flagged" ] && [ $((flagged * 100)) -le $((cells * $2)) ]; then
    ok "$1: flagged $flagged of $cells bubbles (<= $2 %)"
  else
    bad "$1: flagged $flagged of $cells bubbles (> $2 %, or too few cells)"
  fi
}

if simulate clean 800001 88 clean 2; then
  ok "clean: 40 sheets simulated"
  scan_and_score clean
  sheets_read clean
  wrong=$(get clean accuracy wrong_accepted)
  [ "$wrong" = 0 ] && ok "clean: no bubble accepted wrong" || bad "clean: bubbles accepted wrong: '$wrong'"
  flagged_at_most clean 1
  vwrong=$(get clean values wrong); certain=$(get clean values certain)
  [ "$vwrong" = 0 ] && [ -n "$certain" ] && [ "$certain" -gt 1000 ] && ok "clean: $certain certain values, none wrong" ||
    bad "clean: certain values $certain, wrong $vwrong"
else
  bad "clean: simulate"
fi

if simulate mixed 810001 77 mixed 2; then
  ok "mixed: 40 sheets simulated"
  scan_and_score mixed
  sheets_read mixed
  no_fill_or_blank_wrong mixed
  flagged_at_most mixed 12
  # Two bubbles filled in a single question (a rule break in the truth): every
  # bubble of such a question is flagged (doubtful, or an item on it).
  "$B/evaluate" --db "$work/mixed.db" --corpus "$work/mixed" --template "$T" --quiet \
      --list-all "$work/mixed.all" >/dev/null 2>&1
  awk -F, 'FNR == 1 { next }
           NR == FNR { if ($7 == "marked" && $5 ~ /^q[0-9]+:/) { split($5, v, ":"); n[$1 "|" v[1]]++ } next }
           $1 == "cell" { r = $3; sub(/.*\//, "", r); sub(/\.[a-z]+$/, "", r)
                          if (n[r "|" $5] > 1) { cells++; if ($9 == 2 || $15 == 1) flagged++ } }
           END { printf "%d %d\n", cells, flagged }' "$work/mixed/truth/cells.csv" "$work/mixed.all" >"$work/two"
  read two_cells two_flagged <"$work/two"
  [ "$two_cells" -ge 4 ] && [ "$two_flagged" = "$two_cells" ] &&
    ok "mixed: questions with two bubbles filled flagged ($two_flagged of $two_cells bubbles)" ||
    bad "mixed: questions with two bubbles filled: $two_flagged of $two_cells bubbles flagged"
  if simulate mixed1 810001 77 mixed 1; then
    (cd "$work/mixed" && find . -type f | LC_ALL=C sort | xargs sha256sum) >"$work/a.sum"
    (cd "$work/mixed1" && find . -type f | LC_ALL=C sort | xargs sha256sum) >"$work/b.sum"
    cmp -s "$work/a.sum" "$work/b.sum" && ok "mixed: -j 1 and -j 2 give the same bytes" ||
      { diff "$work/a.sum" "$work/b.sum" | head; bad "mixed: -j 1 and -j 2 differ"; }
  else
    bad "mixed: simulate -j 1"
  fi
else
  bad "mixed: simulate"
fi
# What a document-scanner app makes of the sheets: 100 dpi grey JPEG, no
# resolution problem for the reader (measured on 150 sheets: every one
# registered, 3 of 16,800 bubbles accepted wrong, all light pencil or ticks;
# 9.6 % flagged).
if simulate lowres 820001 79 mixed 2 100 jpeg; then
  ok "lowres: 40 sheets simulated at 100 dpi, grey JPEG"
  scan_and_score lowres
  sheets_read lowres
  no_fill_or_blank_wrong lowres
  flagged_at_most lowres 14
else
  bad "lowres: simulate"
fi

# roll_read NAME: every bubble judged; no bubble of the roll number accepted
# wrong; every number exported certain right, and at least 25 of the 30
roll_read() {
  regions=$("$B/omr" check-template "$T" | sed -n 's/.* \([0-9]*\) regions.*/\1/p')
  cells=$(get "$1" accuracy cells)
  [ -n "$regions" ] && [ "$cells" = $((regions * SHEETS)) ] && ok "$1: every bubble judged ($cells)" ||
    bad "$1: $cells bubbles judged, not $SHEETS x '$regions'"
  n=$(awk -F, 'NR > 1 && $1 == "wrong" && $5 ~ /^roll_d/' "$work/$1.list" | wc -l)
  [ "$n" = 0 ] && ok "$1: no bubble of the roll number accepted wrong" ||
    { grep '^wrong.*,roll_d' "$work/$1.list"; bad "$1: $n bubbles of the roll number accepted wrong"; }
  certain=$(get "$1" "numbers in bubbles" certain); wrong=$(get "$1" "numbers in bubbles" wrong)
  [ "$wrong" = 0 ] && [ -n "$certain" ] && [ "$certain" -ge 25 ] &&
    ok "$1: $certain roll numbers exported certain, none wrong" ||
    { grep 'roll' "$work/$1.err"; bad "$1: roll numbers certain '$certain', wrong '$wrong'"; }
}

T=templates/omrchecker-sample6 FORM=S SHEETS=30 # the template (its roll: one full number), form and size of the runs below
for dpi in 300 200; do
  if simulate "roll$dpi" 830001 91 clean 2 "$dpi"; then
    ok "roll$dpi: 30 sample6 sheets with a number in bubble columns simulated at $dpi dpi"
    scan_and_score "roll$dpi"
    sheets_read "roll$dpi"
    roll_read "roll$dpi"
  else
    bad "roll$dpi: simulate"
  fi
done
SHEETS=40
if simulate rollmixed 830001 96 mixed 2 300; then
  ok "rollmixed: 40 sample6 sheets of the mixed population simulated at 300 dpi"
  scan_and_score rollmixed
  sheets_read rollmixed
  n=$(awk -F, 'NR > 1 && $1 == "wrong" && $5 ~ /^roll_d/ && $8 != "tick" && $8 != "cross" && $8 != "fill_light"' \
      "$work/rollmixed.list" | wc -l)
  [ "$n" = 0 ] && ok "rollmixed: no bubble of the number filled in or blank accepted wrong" ||
    { grep '^wrong.*,roll_d' "$work/rollmixed.list"
      bad "rollmixed: $n filled-in or blank bubbles of the number accepted wrong"; }
  # respondents with two bubbles in a position (truth: var roll_dN:D, value 1),
  # then every bubble of their number: flagged (read doubtful, or an item)
  "$B/evaluate" --db "$work/rollmixed.db" --corpus "$work/rollmixed" --template "$T" --quiet \
      --list-all "$work/rollmixed.all" >/dev/null 2>&1
  awk -F, 'FNR == 1 { next }
           NR == FNR { if ($5 ~ /^roll_d/ && $9 == 1) { split($5, v, ":"); if (++n[$1 "|" v[1]] == 2) two[$1] = 1 }
                       next }
           $1 == "cell" && $5 ~ /^roll_d/ { r = $3; sub(/.*\//, "", r); sub(/\.[a-z]+$/, "", r)
                                           if (r in two) { cells++; if ($9 == 2 || $15 == 1) flagged++ } }
           END { printf "%d %d\n", cells, flagged }' \
      "$work/rollmixed/truth/cells.csv" "$work/rollmixed.all" >"$work/rolltwo"
  read two_cells two_flagged <"$work/rolltwo"
  [ "$two_cells" -ge 70 ] && [ "$two_flagged" = "$two_cells" ] &&
    ok "rollmixed: numbers with two bubbles in a position flagged ($two_flagged of $two_cells bubbles)" ||
    bad "rollmixed: numbers with two bubbles in a position: $two_flagged of $two_cells bubbles flagged"
else
  bad "rollmixed: simulate"
fi
finish
