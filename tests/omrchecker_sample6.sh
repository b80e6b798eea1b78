#!/bin/sh
# omrchecker_sample6.sh BUILD_DIR -- omr on real scans of a form printed
# without corner marks, registered by its print.
#
# tests/data/omrchecker-sample6/ holds three document-scanner JPEGs of an
# exam cover sheet (OMRChecker's sample6, an NUS CS1010S answer sheet): A4 at
# 200 dpi, colour, no resolution in the file, no corner marks, no barcode; a
# student number coded in light pencil bubbles (status U/A/HT/NT, 7 digit
# columns, two check-letter columns); and OMRChecker's expected readings
# (expected_results.csv; not derived from omr). templates/omrchecker-sample6/
# describes the sheet (written from OMRChecker's template by
# tools/omrchecker/omrchecker2omr.py --reference): page reference=reference.png,
# the blank form at 300 dpi, bubbles with their value printed inside, the 7
# digit columns one number question (roll: one column of digits),
# identify=order.
#
# Checks: the three sheets are stored, identified by order and registered by
# their print; the export (--mark-unresolved) against the expected student
# numbers: each number rebuilt from the value labels of stu, check_1, check_2
# and the digits of roll is right or held for review (a field NA_REVIEW; a
# held roll is held as a whole), never exported wrong (a held number whose
# exported fields contradict the expected one is wrong too); a sheet of
# another form (an ENIGMA answer sheet) scanned
# against this template is not registered and exports no value. Prints
#   sample6: sheets=N rolls_right=R wrong_accepted=W held=H
B=${1:-build}
D=tests/data/omrchecker-sample6
T=templates/omrchecker-sample6
FIELDS="stu roll check_1 check_2"
NUMBER=roll   # a number question: its value is its digits, no value labels
# its digit positions (box 1 .. box N of the template)
POSITIONS=$(sed -n 's/^ *box \([0-9]*\) digit=.*/\1/p' "$T/S-01.page" | sort -un | wc -l)
. tests/lib/check.sh
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# registered DB: the number of pages stored registered (status ok); when
# none is, the reasons the store gives, once each.
registered() { sqlite3 "$1" "SELECT count(*) FROM pages WHERE status = 'ok'"; }
reasons() { sqlite3 "$1" "SELECT DISTINCT status || ': ' || coalesce(reason, '') FROM pages WHERE status != 'ok'"; }

mkdir "$work/scans"
cp "$D/sample_roll_01.jpg" "$D/sample_roll_02.jpg" "$D/sample_roll_03.jpg" "$work/scans/"
scan_checked "$B" "$work/s.db" "$T" "$work/scans" "$work/scan.log" 3 "by their order"
sheets=$(registered "$work/s.db")
if [ "$sheets" = 3 ]; then
  ok "3 sheets registered by their print (page reference=)"
else
  bad "sheets registered by their print: $sheets of 3 ($(reasons "$work/s.db" | tr '\n' ';'))"
  grep -q "no corner marks" "$work/scan.log" &&
    echo "     (omr does not register a page by its print yet: page reference= is loaded, not used by scan)"
fi
export_checked "$B" "$work/s.db" "$T" "$work/out" S.csv

# judge_rolls S.CSV VALUE_LABELS.CSV EXPECTED.CSV RESULT: one line per sheet
# (right / held / WRONG / MISSING), the summary line, and the counts in RESULT.
# A field's code is its value label ("" unanswered), the number's its digits;
# NA_REVIEW makes the field a wildcard (any of its labels, or nothing:
# "(A|B)?", as mawk takes no empty alternative; the number: up to POSITIONS
# digits, "[0-9]?" each): a held number is held only when the fields exported
# agree with the expected number.
judge_rolls() {
  awk -F, -v fields="$FIELDS" -v number="$NUMBER" -v positions="$POSITIONS" -v sheets="$sheets" -v out="$4" '
    function esc(s) { gsub(/[][\\^$.|?*+(){}]/, "\\\\&", s); return s }
    FILENAME == ARGV[1] { if (FNR == 1) next
                          lab[$1, $4] = $5
                          if ($1 in alts) alts[$1] = alts[$1] "|"  # (mawk makes alts[$1] before a right side)
                          alts[$1] = alts[$1] esc($5); next }
    FILENAME == ARGV[2] { if (FNR == 1) { for (i = 1; i <= NF; i++) col[$i] = i; next }
                          got[$1] = $0; next }
    FNR == 1 { next }
    {
      r = $1; sub(/^.*\//, "", r); sub(/\.[^.]*$/, "", r)
      if (r == "reference") next                # OMRChecker read its reference image too
      want = $3; rolls++
      if (!(r in got)) { missing++; printf "MISSING  %s: no row in the export (expected %s)\n", r, want; next }
      split(got[r], v, ","); n = split(fields, f, " ")
      roll = ""; pat = ""; held = ""
      for (k = 1; k <= n; k++) {
        c = col[f[k]]
        if (!c) { printf "no column %s\n", f[k]; missing++; next }
        x = v[c]
        if (x == "NA_REVIEW" && f[k] == number) {
          held = held " " f[k]; roll = roll "?"
          for (p = 0; p < positions; p++) pat = pat "[0-9]?"
          continue
        }
        if (x == "NA_REVIEW") { held = held " " f[k]; roll = roll "?"; pat = pat "(" alts[f[k]] ")?"; continue }
        if (f[k] == number && x !~ /^[0-9]*$/) { printf "%s=%s: not digits\n", f[k], x; missing++; next }
        if (f[k] != number && x != "" && !((f[k], x) in lab)) { printf "no value label %s=%s\n", f[k], x; missing++; next }
        t = x == "" || f[k] == number ? x : lab[f[k], x]
        roll = roll t; pat = pat esc(t)
      }
      if (held == "" && roll == want) { right++; printf "right    %s %s\n", r, roll }
      else if (held != "" && want ~ ("^" pat "$")) { flagged++; printf "held     %s %s (review:%s; expected %s)\n", r, roll, held, want }
      else { wrong++; printf "WRONG    %s exported %s (review:%s), expected %s\n", r, roll, held, want }
    }
    END {
      printf "sample6: sheets=%d rolls_right=%d wrong_accepted=%d held=%d\n", sheets, right, wrong, flagged
      printf "%d %d %d %d %d\n", rolls, right + 0, wrong + 0, flagged + 0, missing + 0 > out
    }
  ' "$2" "$1" "$3"
}
tr -d '\r' <"$work/out/S.csv" >"$work/s.csv"
tr -d '\r' <"$work/out/value_labels.csv" >"$work/labels.csv"
tr -d '\r' <"$D/expected_results.csv" >"$work/expected.csv"
judge_rolls "$work/s.csv" "$work/labels.csv" "$work/expected.csv" "$work/result"
read rolls right wrong held missing <"$work/result"
[ "$rolls" = 3 ] && [ "$missing" = 0 ] && ok "3 student numbers compared" ||
  bad "student numbers compared: $rolls, missing (rows, columns, labels) $missing"
[ "$wrong" = 0 ] && ok "no student number exported wrong ($right right, $held held for review)" ||
  bad "student numbers exported wrong: $wrong"

# A page of another form: one of the ENIGMA answer sheets against this
# template is not registered (its print does not match the reference), and
# nothing of it reaches the export as a value.
mkdir "$work/other"
cp tests/data/omrchecker/scan-type-1.jpg "$work/other/"
"$B/omr" scan --db "$work/o.db" --template "$T" -q "$work/other" >"$work/other.log" 2>&1
status=$(sqlite3 "$work/o.db" "SELECT group_concat(status, ' ') FROM pages")
"$B/omr" export --db "$work/o.db" --template "$T" --mark-unresolved --out "$work/oout" >/dev/null 2>&1
values=$(tr -d '\r' <"$work/oout/S.csv" 2>/dev/null |
  awk -F, 'NR > 1 { for (i = 2; i <= NF; i++) if ($i != "" && $i != "NA_REVIEW") n++ } END { print n + 0 }')
if [ "$sheets" = 0 ]; then
  # while no sheet of this form registers, "not registered" proves nothing
  bad "another form's sheet not registered: not tested, no sheet of this form registers (status $status)"
elif { [ "$status" = register_failed ] || [ "$status" = unknown_page ]; } && [ "$values" = 0 ]; then
  ok "another form's sheet (ENIGMA scan-type-1) not registered ($status), no value exported"
else
  cat "$work/other.log"; bad "another form's sheet: page status '$status', values exported $values"
fi

# A broken template: the reference image is not an image. The template still
# loads (the file opens); each sheet is kept as a page that could not be
# registered, its reason naming the reference, and the batch goes on.
cp -r "$T" "$work/broken"
echo "not an image" >"$work/broken/reference.png"
mkdir "$work/one"
cp "$D/sample_roll_01.jpg" "$D/sample_roll_02.jpg" "$work/one/"
"$B/omr" scan --db "$work/b.db" --template "$work/broken" -q "$work/one" >"$work/broken.log" 2>&1
rc=$?
kept=$(sqlite3 "$work/b.db" "SELECT count(*) FROM pages WHERE status = 'register_failed' AND reason LIKE '%reference.png: not an image%'" 2>/dev/null)
[ "$rc" = 3 ] && [ "$kept" = 2 ] && ok "a reference that is not an image: both sheets kept, not registered, the reason names it" ||
  { cat "$work/broken.log"; bad "broken reference: exit $rc, $kept sheets kept with the reason"; }
# omr check-template tells a survey author whether a reference can register:
# the sample's has enough distinct print; a white page has none.
out=$("$B/omr" check-template "$T" 2>&1); rc=$?
[ "$rc" = 0 ] && echo "$out" | grep -q "registered by its print" &&
  ok "check-template: the reference has print to register by" || bad "check-template on sample6: exit $rc: $out"
python3 -c '
import struct, sys, zlib
w, h = 420, 594
raw = b"".join(b"\0" + b"\xff" * w for _ in range(h))
chunk = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
sys.stdout.buffer.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
                        + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))' >"$work/broken/reference.png"
out=$("$B/omr" check-template "$work/broken" 2>&1); rc=$?
[ "$rc" = 2 ] && echo "$out" | grep -q "too few" && ok "check-template: a white reference is refused (too few patches)" ||
  bad "check-template on a white reference: exit $rc: $out"
finish
