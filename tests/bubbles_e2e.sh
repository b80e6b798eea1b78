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
B=${1:-build}
# The corpus is made with the normal (fast) build's simulator when there is
# one; the code under test is the build given.
SIMB=build
[ -x "$SIMB/simulate" ] || SIMB=$B
T=tests/data/bubble-sheet
. tests/lib/check.sh
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# simulate NAME FIRST_ID SEED PROFILE JOBS [DPI FORMAT]: 40 sheets into $work/NAME
simulate() {
  "$SIMB/simulate" --template "$T" --form M --respondents 40 --first-id "$2" --seed "$3" \
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

# sheets_read NAME: every sheet stored, registered, under the truth's respondent
sheets_read() {
  stored=$(get "$1" pages stored); lost=$(get "$1" pages not_registered); never=$(get "$1" pages never_stored)
  other=$(sed -n 's/^respondents:.*under another than the truth.s=\([0-9]*\).*/\1/p' "$work/$1.txt")
  [ "$stored" = 40 ] && [ "$lost" = 0 ] && [ "$never" = 0 ] && ok "$1: 40 sheets stored and registered" ||
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
finish
