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
# field with writing is held for review. The amount B4 (a number written one
# digit per cell, 4 cells) goes to review as one item per form under the
# survey's icr_policy (review, the default), its proposal (the digits read,
# pre-filled for the operator) equals the truth on at least 2 of the 3 forms,
# and no B4 is exported as a certain value that is wrong, under that policy
# nor under icr_policy=auto. In the review server, form 1's B4 item is a
# number to type (its 4 boxes cropped), refuses what is not its digits, and
# takes the truth, which the export then gives. Prints a line
#   quexf: answers=N right=R wrong_accepted=W flagged=F
# and the B4 proposals.
B=${1:-build}
D=tests/data/quexf
. tests/lib/check.sh
work=$(mktemp -d)
srv=""
trap '[ -n "$srv" ] && kill "$srv" 2>/dev/null; rm -rf "$work"' EXIT
mkdir "$work/scans"
for n in 1 2 3; do
  # one file per returned questionnaire, as a sheet scanner writes it; the
  # PNGs (from the PDFs, by pdfimages) claim 72 dpi: the scans are 300
  "$B/tiffpack" --dpi 300 "$work/scans/form$n.tif" "$D/form$n-page1.png" "$D/form$n-page2.png" ||
    { bad "tiffpack form$n"; finish; exit 1; }
done
scan_checked "$B" "$work/q.db" templates/quexf-test "$work/scans" "$work/scan.log" 6 \
  "by their i25 page IDs, registered by their L-shaped corner marks"
export_checked "$B" "$work/q.db" templates/quexf-test "$work/out" Q.csv
# SPSS users: the export's syntax reads it (PSPP here), a form without case pages too
if (cd "$work/out" && pspp codebook.sps >pspp.log 2>&1) && [ -s "$work/out/Q.sav" ] &&
   ! grep -q "error" "$work/out/pspp.log"; then ok "codebook.sps read by PSPP into Q.sav"
else cat "$work/out/pspp.log"; bad "codebook.sps in PSPP"; fi
# Join the truth (form N <-> respondent formN) with the export, column by
# column. Tick-box answers (kind single): right, wrong (certain and not the
# truth) or flagged (NA_REVIEW). Text and number fields: written ones must be
# flagged, empty ones empty or flagged; a number given as certain must be the
# truth.
tr -d '\r' <"$work/out/Q.csv" >"$work/q.csv"
awk -F, -v out="$work/result" '
  NR == FNR { if (FNR == 1) { for (i = 1; i <= NF; i++) col[$i] = i; next }
              for (i = 1; i <= NF; i++) val[$1, i] = $i; next }
  FNR == 1 { next }
  {
    r = "form" $1; var = $5; kind = $6; truth = $7
    c = col[var]; if (kind == "text") c = col[var "_text"]
    if (!c) { printf "no column for %s\n", var; missing++; next }
    got = val[r, c]
    if (kind == "single") {
      answers++
      if (got == "NA_REVIEW") { flagged++; printf "flagged  %s %s (truth %s)\n", r, var, truth }
      else if (got == truth) right++
      else { wrong++; printf "WRONG    %s %s = \"%s\", truth %s\n", r, var, got, truth }
    } else {
      if (truth != "" && got != "NA_REVIEW") {
        unflagged_text++; printf "TEXT NOT FLAGGED %s %s = \"%s\"\n", r, var, got
      }
      if (kind == "number" && got != "NA_REVIEW" && got != truth) {
        number_wrong++; printf "NUMBER WRONG %s %s = \"%s\", truth %s\n", r, var, got, truth
      }
    }
  }
  END { printf "quexf: answers=%d right=%d wrong_accepted=%d flagged=%d\n", answers, right, wrong, flagged
        printf "%d %d %d %d %d %d %d\n", answers, right, wrong, flagged, unflagged_text, missing,
               number_wrong + 0 > out }
' "$work/q.csv" "$D/ground_truth_transcribed.csv"
read answers right wrong flagged text missing number_wrong <"$work/result"
[ "$missing" = 0 ] && ok "every truth variable has its column" || bad "$missing truth variables have no column"
[ "$answers" = 24 ] && ok "24 tick-box answers judged" || bad "tick-box answers judged: $answers"
[ "$wrong" = 0 ] && ok "no tick-box answer accepted wrong" || bad "tick-box answers accepted wrong: $wrong"
[ "$flagged" -le 1 ] && ok "tick-box answers held for review: $flagged (at most 1)" ||
  bad "tick-box answers held for review: $flagged (more than 1)"
[ "$text" = 0 ] && ok "every written field held for review" || bad "written fields not held for review: $text"
[ "$number_wrong" = 0 ] && ok "no number exported as a certain wrong value" ||
  bad "numbers exported as certain and wrong: $number_wrong"
# B4: one open review item per form (the whole number, var B4), its proposal
# against the truth. The proposals are printed whatever happens.
sqlite3 -separator ' ' "$work/q.db" "SELECT respondent, var, reason, proposal, detail FROM review_items
  WHERE question = 'B4' AND current = 1 AND state != 'resolved' ORDER BY respondent" >"$work/b4" 2>"$work/sql.err"
awk -F, 'NR > 1 && $5 == "B4" { print "form" $1, $7 }' "$D/ground_truth_transcribed.csv" | sort >"$work/b4.truth"
while read -r r truth; do
  line=$(grep "^$r " "$work/b4") prop=$(grep "^$r " "$work/b4" | cut -d' ' -f4)
  echo "B4 $r: truth $truth, proposal \"$prop\" -- ${line#* * * * }"
done <"$work/b4.truth"
items=$(awk '$2 == "B4" && $3 == 6' "$work/b4" | wc -l)
[ "$items" = 3 ] && [ "$(wc -l <"$work/b4")" = 3 ] && [ "$(cut -d' ' -f1 "$work/b4" | sort -u | wc -l)" = 3 ] &&
  ok "B4 held for review: one handwritten item per form" ||
  bad "B4 held for review: want one item (var B4) per form, got $(wc -l <"$work/b4") $(cat "$work/sql.err")"
right_b4=$(awk 'NR == FNR { t[$1] = $2; next } ($1 in t) && $4 == t[$1] { n++ } END { print n + 0 }' \
  "$work/b4.truth" "$work/b4")
[ "$right_b4" -ge 2 ] && ok "B4 proposals equal the truth on $right_b4 of 3 forms (at least 2)" ||
  bad "B4 proposals equal the truth on $right_b4 of 3 forms (at least 2 wanted)"
# icr_policy=auto: a digit at or above the validated confidence is taken
# without review; a B4 given as certain must then be the truth.
mkdir "$work/auto"
cp templates/quexf-test/*.page "$work/auto/"
sed 's/^survey id=quexf-test /&icr_policy=auto /' templates/quexf-test/survey.omr >"$work/auto/survey.omr"
"$B/omr" scan --db "$work/auto.db" --template "$work/auto" -q "$work/scans" >/dev/null 2>&1
"$B/omr" export --db "$work/auto.db" --template "$work/auto" --mark-unresolved --out "$work/auto-out" >/dev/null 2>&1
auto_wrong=$(awk -F, 'NR == FNR { if (FNR > 1 && $5 == "B4") t["form" $1] = $7; next }
  FNR == 1 { for (i = 1; i <= NF; i++) if ($i == "B4") c = i; next }
  { v = $c; gsub("\r", "", v); if (v != "NA_REVIEW" && v != t[$1]) { n++; printf "AUTO WRONG %s B4 = \"%s\"\n", $1, v >"/dev/stderr" } }
  END { print n + 0 }' "$D/ground_truth_transcribed.csv" "$work/auto-out/Q.csv")
[ -s "$work/auto-out/Q.csv" ] && [ "$auto_wrong" = 0 ] && ok "icr_policy=auto: no B4 exported certain and wrong" ||
  bad "icr_policy=auto: B4 exported certain and wrong: $auto_wrong"
# The review server: form 1's B4 as an operator sees it and decides it.
printf 'quexf-password\n' | "$B/omr" operator --db "$work/q.db" add quexf >/dev/null 2>&1
"$B/omr" review --db "$work/q.db" --template templates/quexf-test --listen 127.0.0.1:0 >"$work/server.log" 2>&1 &
srv=$!
for i in $(seq 1 100); do grep -q "serving" "$work/server.log" && break; sleep 0.1; done
url=$(sed -n 's/.* on \(http:[^ ]*\) .*/\1/p' "$work/server.log")
url=${url%/}
item=$(sqlite3 "$work/q.db" "SELECT id FROM review_items WHERE question = 'B4' AND respondent = 'form1' AND current = 1")
truth1=$(awk -F, '$1 == 1 && $5 == "B4" { print $7 }' "$D/ground_truth_transcribed.csv")
post() { curl -s -b "$work/cookies" -c "$work/cookies" -H 'Content-Type: application/json' -H "X-CSRF-Token: $csrf" \
  -o "$work/reply.json" -w '%{http_code}' -d "$2" "$url$1"; }
csrf=""
code=$(post /api/login '{"name": "quexf", "password": "quexf-password"}')
csrf=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1])).get("csrf", ""))' "$work/reply.json" 2>/dev/null)
[ -n "$url" ] && [ "$code" = 200 ] && [ -n "$csrf" ] && [ -n "$item" ] && ok "review server: logged in" ||
  { cat "$work/server.log"; bad "review server: log in (status $code, item '$item')"; }
code=$(post /api/lease "{\"item\": $item}")
shown=$(python3 -c 'import json, sys; it = json.load(open(sys.argv[1]))["item"]
print(it["input"], it.get("boxes"), it["var"], "image" if it.get("image") else "no-image")' "$work/reply.json" 2>/dev/null)
[ "$code" = 200 ] && [ "$shown" = "number 4 B4 image" ] && ok "review item: a number of 4 boxes to type, with its crop" ||
  bad "review item: status $code, shown '$shown' (want 'number 4 B4 image')"
img=$(curl -s -b "$work/cookies" -o "$work/crop.png" -w '%{http_code} %{content_type}' "$url/img/item/$item.png")
[ "$img" = "200 image/png" ] && [ -s "$work/crop.png" ] && ok "review item: crop of the boxes" || bad "review crop: $img"
bad_codes=""
for v in 4x3 12345 -1 " 43"; do
  bad_codes="$bad_codes $(post /api/decide "{\"item\": $item, \"value\": \"$v\"}")"
done
[ "$bad_codes" = " 400 400 400 400" ] && ok "review: refuses a value that is not the digits, one per box" ||
  bad "review: bad values answered$bad_codes (want 400 each)"
code=$(post /api/decide "{\"item\": $item, \"value\": \"$truth1\"}")
[ "$code" = 200 ] && ok "review: form1 B4 decided $truth1" || bad "review: decide $truth1: status $code $(cat "$work/reply.json")"
kill -TERM "$srv" && wait "$srv"; srv=""
"$B/omr" export --db "$work/q.db" --template templates/quexf-test --mark-unresolved --out "$work/out2" >/dev/null 2>&1
got1=$(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "B4") c = i; next } $1 == "form1" { v = $c; gsub("\r", "", v); print v }' \
  "$work/out2/Q.csv")
[ "$got1" = "$truth1" ] && ok "export after review: form1 B4 = $got1" || bad "export after review: form1 B4 = '$got1', want $truth1"
tr -d '\r' <"$work/out2/codebook.csv" | grep -q '^B4,Q,respondent,B4,.*,number,,$' &&
  ok "codebook: B4 of kind number, no value labels" || bad "codebook: B4 $(grep '^B4,' "$work/out2/codebook.csv")"
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
# The same form scanned unfilled (queXF's scan of its blank form): every
# answer empty, nothing to review -- no false mark on real paper, print and
# scanner noise.
"$B/tiffpack" --dpi 300 "$work/blank.tif" "$D/blank-page1.png" "$D/blank-page2.png" || bad "tiffpack blank"
"$B/omr" scan --db "$work/b.db" --template templates/quexf-test -q "$work/blank.tif" >"$work/b.log" 2>&1
brc=$?
"$B/omr" export --db "$work/b.db" --template templates/quexf-test --mark-unresolved --out "$work/bout" >/dev/null 2>&1
row=$(tr -d '\r' <"$work/bout/Q.csv" 2>/dev/null | awk -F, 'NR > 1 && $1 == "blank"')
if [ "$brc" = 0 ] && [ -n "$row" ] && ! echo "$row" | grep -q "NA_REVIEW" &&
   [ -z "$(echo "$row" | cut -d, -f2- | tr -d ',' | sed 's/-1//g')" ]; then
  ok "the blank form reads blank, nothing to review (exit 0)"
else
  cat "$work/b.log"; bad "blank form: exit $brc, row '$row'"
fi
# Respondents come from files: two questionnaires in one file are two
# respondents (pages numbered again from 1), and a sheet fed twice stays with
# its respondent as a duplicate for review, never a phantom respondent.
mkdir "$work/files"
"$B/tiffpack" --dpi 300 "$work/files/two.tif" "$D/form1-page1.png" "$D/form1-page2.png" \
  "$D/form2-page1.png" "$D/form2-page2.png" &&
  "$B/tiffpack" --dpi 300 "$work/files/dup.tif" "$D/form3-page1.png" "$D/form3-page1.png" "$D/form3-page2.png" ||
  bad "tiffpack"
"$B/omr" scan --db "$work/f.db" --template templates/quexf-test -q "$work/files" >"$work/f.log" 2>&1
resp=$(sqlite3 "$work/f.db" "SELECT group_concat(respondent, ' ') FROM (SELECT respondent FROM respondents ORDER BY 1)")
[ "$resp" = "dup two two-2" ] && ok "respondents from files: $resp" || { cat "$work/f.log"; bad "respondents from files: '$resp'"; }
dups=$(sqlite3 "$work/f.db" "SELECT count(*) FROM review_items WHERE reason = 11 AND current = 1 AND respondent = 'dup'")
[ "$dups" -ge 1 ] && ok "a sheet fed twice is a duplicate for review ($dups item)" || bad "sheet fed twice: $dups duplicate items"
"$B/omr" export --db "$work/f.db" --template templates/quexf-test --mark-unresolved --out "$work/fout" >/dev/null 2>&1
a1=$(tr -d '\r' <"$work/fout/Q.csv" | awk -F, 'NR > 1 && ($1 == "two" || $1 == "two-2") { printf "%s=%s ", $1, $2 }')
[ "$a1" = "two=1 two-2=3 " ] && ok "each copy in one file keeps its own answers (A1_A: $a1)" || bad "copies in one file: A1_A $a1"
# Pages scanned one per file: each file becomes a respondent with a page
# missing, and the report says why and what to do.
"$B/omr" scan --db "$work/p.db" --template templates/quexf-test -q "$D/form1-page1.png" "$D/form1-page2.png" \
  >"$work/p.log" 2>&1
grep -q "each file must hold one whole" "$work/p.log" && ok "one page per file: the report says to pack them" ||
  { cat "$work/p.log"; bad "one page per file: no hint in the report"; }
# A store holds one survey: scanning the IPA survey's pages into this one is
# refused with the reason, and nothing stored changes.
before=$(sqlite3 "$work/q.db" "SELECT count(*) FROM pages")
"$B/omr" scan --db "$work/q.db" -q "$D/form1-page1.png" >"$work/other.log" 2>&1
orc=$?
after=$(sqlite3 "$work/q.db" "SELECT count(*) FROM pages")
[ "$orc" = 2 ] && grep -q "holds survey quexf-test, not ipa-itsc-2018" "$work/other.log" && [ "$before" = "$after" ] &&
  ok "another survey's templates on this store: refused, store unchanged" ||
  { cat "$work/other.log"; bad "another survey on the store: exit $orc, pages $before -> $after"; }
finish
