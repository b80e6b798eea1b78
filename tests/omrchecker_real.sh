#!/bin/sh
# omrchecker_real.sh BUILD_DIR -- omr on real scans of a bubble answer sheet
# printed by another tool.
#
# tests/data/omrchecker/ holds two document-scanner JPEGs of an ENIGMAZERO
# 200-question answer sheet (OMRChecker's community sample UmarFarootAPS):
# colour, no resolution in the file (about 100 and 115 dpi), bubbles filled
# with a blue ball-point pen, bullseye corner markers, no barcode; and
# OMRChecker's expected answers for them (expected_results.csv; not derived
# from omr). templates/omrchecker-enigma/ describes the sheet as data (written
# from OMRChecker's template by tools/omrchecker/omrchecker2omr.py): ring
# marks, bubbles with their letter printed inside, the 4 roll-number columns
# one number question (Roll_no: one column of digits), identify=order.
#
# Checks: both sheets are identified (by order: each file is a respondent
# named after it) and registered by their ring marks; the export
# (--mark-unresolved) against the expected answers, 200 questions and the
# roll number per sheet (one answer, held as a whole): no answer exported
# certain and wrong; a
# question with two bubbles filled ("AD") is held for review, never exported
# as one of them; at most 1 % of the other answers held for review; in the
# review server that question shows its crop, and a decision reaches the
# export; sheets in one file are copies of the form, a white separator
# skipped. Prints
#   omrchecker: answers=N right=R wrong_accepted=W flagged=F
B=${1:-build}
D=tests/data/omrchecker
T=templates/omrchecker-enigma
. tests/lib/check.sh
work=$(mktemp -d)
srv=""
trap '[ -n "$srv" ] && kill "$srv" 2>/dev/null; rm -rf "$work"' EXIT
mkdir "$work/scans"
cp "$D/scan-type-1.jpg" "$D/scan-type-2.jpg" "$work/scans/"
scan_checked "$B" "$work/e.db" "$T" "$work/scans" "$work/scan.log" 2 "by their order, registered by their ring marks"
export_checked "$B" "$work/e.db" "$T" "$work/out" S.csv
# Join expected (file scans/scan-type-N.jpg <-> respondent scan-type-N) with
# the export. Codes: q 1-4 = A-D; the roll number Roll_no: its digits (a number
# question, no codes).
tr -d '\r' <"$work/out/S.csv" >"$work/s.csv"
tr -d '\r' <"$D/expected_results.csv" >"$work/expected.csv"
awk -F, -v out="$work/result" '
  NR == FNR { if (FNR == 1) { for (i = 1; i <= NF; i++) col[$i] = i; next }
              for (i = 1; i <= NF; i++) val[$1, i] = $i; next }
  FNR == 1 { for (i = 1; i <= NF; i++) name[i] = $i; next }
  {
    r = $1; sub(/^scans\//, "", r); sub(/\.jpg$/, "", r)
    for (i = 4; i <= NF; i++) {                 # q1 .. q200
      c = col[name[i]]
      if (!c) { printf "no column %s\n", name[i]; missing++; continue }
      judge(r, name[i], $i, val[r, c], "ABCD")
    }
    if (!col["Roll_no"]) { printf "no column Roll_no\n"; missing++; next }
    judge(r, "Roll_no", $3, val[r, col["Roll_no"]], "")     # 4 digits, one number
  }
  function judge(r, var, want, got, letters,   code, two) {
    answers++
    two = letters != "" && length(want) > 1       # two bubbles filled (not a number)
    code = letters != "" && got ~ /^[0-9]+$/ ? substr(letters, got, 1) : got
    if (got == "NA_REVIEW") {
      flagged++
      if (two) multi_flagged++
      printf "flagged  %s %s (expected \"%s\")\n", r, var, want
    } else if (code "" == want "") right++     # as strings: the number 0234 is not 234
    else { wrong++; printf "WRONG    %s %s = \"%s\" (%s), expected \"%s\"\n", r, var, got, code, want }
    if (two) multi++
  }
  END {
    printf "omrchecker: answers=%d right=%d wrong_accepted=%d flagged=%d\n", answers, right, wrong, flagged
    printf "%d %d %d %d %d %d %d\n", answers, right, wrong + 0, flagged + 0, multi + 0, multi_flagged + 0,
      missing + 0 > out
  }
' "$work/s.csv" "$work/expected.csv"
read answers right wrong flagged multi multi_flagged missing <"$work/result"
[ "$answers" = 402 ] && [ "$missing" = 0 ] && ok "402 answers compared (2 x 200 questions + 2 roll numbers)" ||
  bad "answers compared: $answers, columns missing $missing"
[ "$wrong" = 0 ] && ok "no answer exported certain and wrong" || bad "answers exported certain and wrong: $wrong"
[ "$multi" -gt 0 ] && [ "$multi_flagged" = "$multi" ] && ok "questions with two bubbles filled held for review ($multi)" ||
  bad "two bubbles filled: $multi_flagged of $multi held for review"
needless=$((flagged - multi_flagged))
[ $((needless * 100)) -le "$answers" ] && ok "at most 1 % of the rest held for review ($needless of $answers)" ||
  bad "held for review besides two bubbles filled: $needless of $answers"
# The review server: the question with two bubbles filled as an operator
# sees it (the bubbles' crop), decided, and exported.
printf 'enigma-password\n' | "$B/omr" operator --db "$work/e.db" add enigma >/dev/null 2>&1
"$B/omr" review --db "$work/e.db" --template "$T" --listen 127.0.0.1:0 >"$work/server.log" 2>&1 &
srv=$!
for i in $(seq 1 100); do grep -qs "serving" "$work/server.log" && break; sleep 0.1; done
url=$(sed -n 's/.* on \(http:[^ ]*\) .*/\1/p' "$work/server.log")
url=${url%/}
item=$(sqlite3 "$work/e.db" "SELECT id FROM review_items WHERE question = 'q55' AND respondent = 'scan-type-2'
                              AND current = 1")
post() { curl -s -b "$work/cookies" -c "$work/cookies" -H 'Content-Type: application/json' -H "X-CSRF-Token: $csrf" \
  -o "$work/reply.json" -w '%{http_code}' -d "$2" "$url$1"; }
csrf=""
code=$(post /api/login '{"name": "enigma", "password": "enigma-password"}')
csrf=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1])).get("csrf", ""))' "$work/reply.json" 2>/dev/null)
code=$(post /api/lease "{\"item\": $item}")
shown=$(python3 -c 'import json, sys; it = json.load(open(sys.argv[1]))["item"]
print(it["var"], "image" if it.get("image") else "no-image")' "$work/reply.json" 2>/dev/null)
img=$(curl -s -b "$work/cookies" -o "$work/crop.png" -w '%{http_code} %{content_type}' "$url/img/item/$item.png")
[ -n "$item" ] && [ "$code" = 200 ] && [ "$shown" = "q55 image" ] && [ "$img" = "200 image/png" ] &&
  ok "review: q55 (two bubbles filled) shown with its crop" ||
  { cat "$work/server.log"; bad "review: item '$item' lease $code, shown '$shown', crop $img"; }
code=$(post /api/decide "{\"item\": $item, \"value\": \"1\"}")
kill -TERM "$srv" && wait "$srv"; srv=""
"$B/omr" export --db "$work/e.db" --template "$T" --mark-unresolved --out "$work/out2" >/dev/null 2>&1
got=$(tr -d '\r' <"$work/out2/S.csv" | awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "q55") c = i; next }
                                                $1 == "scan-type-2" { print $c }')
[ "$code" = 200 ] && [ "$got" = 1 ] && ok "review: q55 decided A, exported 1" || bad "review: decide $code, exported '$got'"
# Sheets without a barcode in one file: page after page of the one-page form
# is copy after copy (the file's name, then name-2 ...); a white sheet between
# them (a separator) is skipped, not a copy.
"$B/omr" print --template "$T" --blank --png "$work/print" --dpi 150 >/dev/null 2>&1
python3 -c '
import struct, sys, zlib
w, h = 1275, 1650  # a white 8.5x11 in sheet at 150 dpi
raw = b"".join(b"\0" + b"\xff" * w for _ in range(h))
chunk = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
open(sys.argv[1], "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
                              + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
' "$work/white.png"
sheet="$work/print/blank-S-01.png"
mkdir "$work/pack"
"$B/tiffpack" --dpi 150 "$work/pack/batch7.tif" "$sheet" "$work/white.png" "$sheet" "$sheet" >/dev/null 2>&1 ||
  bad "tiffpack"
"$B/omr" scan --db "$work/pack.db" --template "$T" -q "$work/pack" >"$work/pack.log" 2>&1
got=$(sqlite3 "$work/pack.db" "SELECT group_concat(respondent, ' ') FROM (SELECT respondent FROM pages
                                 WHERE status = 'ok' ORDER BY idx)")
blank=$(sqlite3 "$work/pack.db" "SELECT count(*) FROM pages WHERE status = 'blank'")
[ "$got" = "batch7 batch7-2 batch7-3" ] && [ "$blank" = 1 ] &&
  ok "sheets in one file: copies batch7, batch7-2, batch7-3; the white separator skipped" ||
  { cat "$work/pack.log"; bad "sheets in one file: '$got', blank $blank"; }
finish
