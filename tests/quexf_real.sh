#!/bin/sh
# quexf_real.sh BUILD_DIR -- omr on real scans of a form printed by another tool.
#
# tests/data/quexf/ holds queXF's test questionnaire as three copies filled by
# hand and scanned at 300 dpi, 1 bit (sheet scanner), and the answers read off
# those scans by eye (ground_truth_transcribed.csv; never derived from omr).
# templates/quexf-test/ describes the form as data: L-shaped corner marks, an
# interleaved 2 of 5 barcode with a fixed page ID (each file is a respondent),
# tick boxes, and queXF's convention that a box filled in solid cancels it.
#
# Checks: each page is identified by its barcode and registered by its L
# marks; the export (--mark-unresolved) agrees with the truth on every
# tick-box answer it gives as certain (a cancelled box is not the answer);
# at most one of the 24 tick-box answers is held for review; every written
# field with writing is held for review. Prints a line
#   quexf: answers=N right=R wrong_accepted=W flagged=F
B=${1:-build}
D=tests/data/quexf
pass=0 fail=0
ok()  { pass=$((pass+1)); echo "ok   $1"; }
bad() { fail=$((fail+1)); echo "FAIL $1"; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/scans"
for n in 1 2 3; do
  # one file per returned questionnaire, as a sheet scanner writes it; the
  # PNGs (from the PDFs, by pdfimages) claim 72 dpi: the scans are 300
  "$B/tiffpack" --dpi 300 "$work/scans/form$n.tif" "$D/form$n-page1.png" "$D/form$n-page2.png" ||
    { bad "tiffpack form$n"; echo "$pass passed, $fail failed"; exit 1; }
done
"$B/omr" scan --db "$work/q.db" --template templates/quexf-test -q "$work/scans" >"$work/scan.log" 2>&1
rc=$?
[ "$rc" = 0 ] || [ "$rc" = 3 ] && ok "scan exit status $rc" || { cat "$work/scan.log"; bad "scan exit status $rc"; }
grep -q "pages: 6 stored.* 6 identified" "$work/scan.log" && ok "6 pages identified by their i25 page IDs" ||
  { cat "$work/scan.log"; bad "pages identified"; }
if grep -q "register_failed\|not registered" "$work/scan.log"; then
  cat "$work/scan.log"; bad "every page registered by its L-shaped corner marks"
else
  ok "every page registered by its L-shaped corner marks"
fi
"$B/omr" export --db "$work/q.db" --template templates/quexf-test --mark-unresolved --out "$work/out" \
  >"$work/export.log" 2>&1 || { cat "$work/export.log"; bad "export"; }
[ -s "$work/out/Q.csv" ] || { bad "export wrote Q.csv"; echo "$pass passed, $fail failed"; exit 1; }
# Join the truth (form N <-> respondent formN) with the export, column by
# column. Tick-box answers (kind single): right, wrong (certain and not the
# truth) or flagged (NA_REVIEW). Text and number fields: written ones must be
# flagged, empty ones empty or flagged.
tr -d '\r' <"$work/out/Q.csv" >"$work/q.csv"
awk -F, -v out="$work/result" '
  NR == FNR { if (FNR == 1) { for (i = 1; i <= NF; i++) col[$i] = i; next }
              for (i = 1; i <= NF; i++) val[$1, i] = $i; next }
  FNR == 1 { next }
  {
    r = "form" $1; var = $5; kind = $6; truth = $7
    c = col[var]; if (kind != "single") c = col[var "_text"]
    if (!c) { printf "no column for %s\n", var; missing++; next }
    got = val[r, c]
    if (kind == "single") {
      answers++
      if (got == "NA_REVIEW") { flagged++; printf "flagged  %s %s (truth %s)\n", r, var, truth }
      else if (got == truth) right++
      else { wrong++; printf "WRONG    %s %s = \"%s\", truth %s\n", r, var, got, truth }
    } else if (truth != "" && got != "NA_REVIEW") {
      unflagged_text++; printf "TEXT NOT FLAGGED %s %s = \"%s\"\n", r, var, got
    }
  }
  END { printf "quexf: answers=%d right=%d wrong_accepted=%d flagged=%d\n", answers, right, wrong, flagged
        printf "%d %d %d %d %d %d\n", answers, right, wrong, flagged, unflagged_text, missing > out }
' "$work/q.csv" "$D/ground_truth_transcribed.csv"
read answers right wrong flagged text missing <"$work/result"
[ "$missing" = 0 ] && ok "every truth variable has its column" || bad "$missing truth variables have no column"
[ "$answers" = 24 ] && ok "24 tick-box answers judged" || bad "tick-box answers judged: $answers"
[ "$wrong" = 0 ] && ok "no tick-box answer accepted wrong" || bad "tick-box answers accepted wrong: $wrong"
[ "$flagged" -le 1 ] && ok "tick-box answers held for review: $flagged (at most 1)" ||
  bad "tick-box answers held for review: $flagged (more than 1)"
[ "$text" = 0 ] && ok "every written field held for review" || bad "written fields not held for review: $text"
# The form prints its routing ("No -> skip to C1" beside B3; C1's "please specify"
# only after Yes): a "please specify" field written after "No" is a rule broken,
# which a person looks at. The truth has two (form 1 C1O, form 3 B3O).
want=$(awk -F, 'NR > 1 { v[$1, $5] = $7 }
  END { for (k in v) { split(k, a, SUBSEP); f = a[1]; q = a[2]
          if ((q == "B3O" || q == "C1O") && v[k] != "" && v[f, substr(q, 1, 2)] != 1) printf "form%s %s\n", f, q } }' \
  "$D/ground_truth_transcribed.csv" | sort)
got=$(sqlite3 "$work/q.db" "SELECT respondent || ' ' || question FROM review_items
  WHERE reason = 4 AND current = 1" 2>"$work/sql.err" | sort)
if [ -n "$want" ] && [ "$want" = "$got" ]; then ok "answers against the routing flagged: $(echo $got)"
else bad "answers against the routing: want '$(echo $want)', flagged '$(echo $got)' $(cat "$work/sql.err")"; fi
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
