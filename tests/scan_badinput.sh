#!/bin/sh
# scan_badinput.sh BUILD_DIR -- `omr scan` on a batch mixing good pages with
# every kind of bad input of issue 3: a truncated TIFF, a PNG with a broken
# CRC, a TIFF header claiming 100000x100000 pixels, a text file named .tif, an
# empty file, a page of another survey and a page of another form. Each must
# be reported with its file and reason, the good pages of the same batch must
# be stored and coded, and the exit status must say "done, with items to
# review" (3). Also: usage errors exit 1, an unusable store or no usable input
# exit 2, and running the same batch again changes nothing.
#
# The bad files are made here with printf/head/dd/sed; the good pages come
# from `omr print` (blank forms with barcodes) and `simulate` (a multi-page
# G4 TIFF to truncate). Needs sqlite3 (tools/install-deps.sh).
B=${1:-${OMR_BUILD:-build}}
OMR=$B/omr
T=$(mktemp -d /tmp/omr_badinput.XXXXXX)
pass=0 fail=0
ok() { pass=$((pass+1)); echo "ok   $1"; }
ko() { fail=$((fail+1)); echo "FAIL $1"; }
check() { if eval "$2"; then ok "$1"; else ko "$1"; fi; }
q() { sqlite3 "$T/db" "$1" 2>/dev/null; }

# bytes HH HH ...: write raw bytes (dash's printf has no \x, so octal)
bytes() { for h in "$@"; do printf "\\$(printf %03o "0x$h")"; done; }

mkdir -p "$T/in" "$T/tpl"
# good pages: form A of respondent 000005, blank (nothing answered)
"$OMR" print --template templates/ipa-itsc-2018 --form A --ids 5 --png "$T/good" >/dev/null 2>&1
n_good=$(ls "$T/good" 2>/dev/null | wc -l)
check "omr print made the good pages" '[ "$n_good" -gt 0 ]'
cp "$T"/good/*.png "$T/in/" 2>/dev/null

# a multi-page G4 TIFF, cut at two thirds: the first pages may be read, the
# rest is reported as damaged
"$B/simulate" --template templates/ipa-itsc-2018 --form B --respondents 1 --first-id 7 --seed 3 \
  --dpi 300 --format g4 --out "$T/sim" >/dev/null 2>&1
src=$(ls "$T"/sim/scans/*.tif 2>/dev/null | head -n 1)
check "simulate made a TIFF to truncate" '[ -n "$src" ]'
size=$(wc -c < "$src" 2>/dev/null || echo 0)
head -c $((size * 2 / 3)) "$src" > "$T/in/truncated.tif"

# a PNG whose IHDR CRC (bytes 29-32) is wrong
cp "$T/in/$(ls "$T/good" | head -n 1)" "$T/in/crc.png"
bytes de ad be ef | dd of="$T/in/crc.png" bs=1 seek=29 count=4 conv=notrunc 2>/dev/null

# a little-endian TIFF whose only IFD says 100000 x 100000 pixels, G4
{
  bytes 49 49 2a 00 08 00 00 00 08 00
  bytes 00 01 04 00 01 00 00 00 a0 86 01 00   # ImageWidth 100000
  bytes 01 01 04 00 01 00 00 00 a0 86 01 00   # ImageLength 100000
  bytes 02 01 03 00 01 00 00 00 01 00 00 00   # BitsPerSample 1
  bytes 03 01 03 00 01 00 00 00 04 00 00 00   # Compression G4
  bytes 06 01 03 00 01 00 00 00 00 00 00 00   # Photometric min-is-white
  bytes 11 01 04 00 01 00 00 00 08 00 00 00   # StripOffsets
  bytes 16 01 04 00 01 00 00 00 a0 86 01 00   # RowsPerStrip
  bytes 17 01 04 00 01 00 00 00 0a 00 00 00   # StripByteCounts
  bytes 00 00 00 00
} > "$T/in/huge.tif"

printf 'This is a text file, not a scan.\n' > "$T/in/text.tif"
: > "$T/in/empty.tif"

# a page of another survey (code OTHR19) and of another form (Z): the same
# templates with the code or the form id changed, printed
cp -r templates/ipa-itsc-2018 "$T/tpl/other"
sed -i 's/code=ITSC18/code=OTHR19/' "$T/tpl/other/survey.omr"
"$OMR" print --template "$T/tpl/other" --form A --ids 8 --png "$T/other" >/dev/null 2>&1
cp "$(ls "$T"/other/*.png 2>/dev/null | head -n 1)" "$T/in/other-survey.png" 2>/dev/null
cp -r templates/ipa-itsc-2018 "$T/tpl/formz"
sed -i 's/^form A /form Z /; s/page form=A /page form=Z /' "$T/tpl/formz/survey.omr"
sed -i 's/^page survey=\([^ ]*\) form=A /page survey=\1 form=Z /' "$T"/tpl/formz/A-*.page
"$OMR" print --template "$T/tpl/formz" --form Z --ids 9 --png "$T/formz" >/dev/null 2>&1
cp "$(ls "$T"/formz/*.png 2>/dev/null | head -n 1)" "$T/in/other-form.png" 2>/dev/null
check "the other-survey and other-form pages were printed" '[ -s "$T/in/other-survey.png" ] && [ -s "$T/in/other-form.png" ]'

# ---- the batch ----
"$OMR" scan -q --db "$T/db" "$T/in" > "$T/out" 2>&1
rc=$?
cat "$T/out"
check "exit status 3 (done, items to review)" '[ "$rc" = 3 ]'
# every bad file is named with its reason (a line holding both)
has() { grep -F "$1" "$T/out" | grep -Eqi "$2"; }
check "truncated TIFF reported"       'has truncated.tif "truncat|damaged"'
check "broken PNG CRC reported"       'has crc.png "crc|damaged|corrupt"'
check "huge header reported"          'has huge.tif "100000"'
check "text file named .tif reported" 'has text.tif "not a TIFF|not an image|unknown format"'
check "empty file reported"           'has empty.tif "empty"'
check "other survey reported"         'has other-survey.png "OTHR19|another survey"'
check "other form reported"           'has other-form.png "form Z|unknown form"'
# the good pages are stored, identified and their respondent coded
check "good pages stored as identified" '[ "$(q "SELECT count(*) FROM pages p JOIN files f ON f.id = p.file WHERE f.path LIKE '"'%000005-A-%'"' AND p.status = '"'ok'"'")" = "$n_good" ]'
check "respondent of the good pages coded" '[ "$(q "SELECT count(*) FROM respondents WHERE form = '"'A'"' AND respondent = '"'000005'"' AND coded IS NOT NULL AND NOT dirty")" = 1 ]'
check "responses stored for it" '[ "$(q "SELECT count(*) FROM responses WHERE form = '"'A'"' AND respondent = '"'000005'"'")" -gt 0 ]'
# bad pages are kept as page-level review items
check "page-level review items for bad pages" '[ "$(q "SELECT count(*) FROM review_items WHERE source = '"'page'"'")" -ge 5 ]'
check "truncated file: its pages are in the store" '[ "$(q "SELECT count(*) FROM pages p JOIN files f ON f.id = p.file WHERE f.path LIKE '"'%truncated.tif'"'")" -ge 1 ]'

# the next morning: `omr status` still names the file that was not stored
"$OMR" status --db "$T/db" > "$T/status1" 2>&1
rcs=$?
check "status: the refused empty file is listed (exit 3)" '[ "$rcs" = 3 ] && grep -q "empty.tif: refused: empty file" "$T/status1"'
check "status: the batch counts it" 'grep -q "1 file(s) not stored" "$T/status1"'

# ---- again: nothing changes ----
dump() { sqlite3 "$T/db" "SELECT sha256, path, pages, status, error FROM files ORDER BY sha256;
  SELECT count(*) FROM pages; SELECT count(*) FROM regions; SELECT * FROM responses ORDER BY 1,2,3,5;
  SELECT key, state, proposal FROM review_items ORDER BY key;"; }
dump > "$T/d1"
"$OMR" scan -q --db "$T/db" "$T/in" > "$T/out2" 2>&1
rc2=$?
dump > "$T/d2"
check "rerun: same database" 'cmp -s "$T/d1" "$T/d2"'
check "rerun: exit status still 3" '[ "$rc2" = 3 ]'
check "rerun: every stored file skipped" 'grep -q "0 stored" "$T/out2"'
# the empty file refilled with the bytes of a page stored already (under its
# own name): found stored, so no longer outstanding in `omr status`
cp "$T/in/$(ls "$T/good" | head -n 1)" "$T/in/empty.tif"
"$OMR" scan -q --db "$T/db" "$T/in" > /dev/null 2>&1
"$OMR" status --db "$T/db" > "$T/status2" 2>&1
check "status: a refused file later found stored is settled" '! grep -q "empty.tif: refused" "$T/status2" && grep -q "empty.tif: refused" "$T/status1"'

# ---- failures and usage ----
"$OMR" scan -q --db "$T/nodir/x.db" "$T/in" > /dev/null 2>&1
check "unusable store: exit 2" '[ $? = 2 ]'
"$OMR" scan -q --db "$T/db2" "$T/missing.tif" > "$T/out3" 2>&1
rc3=$?
check "no usable input: exit 2" '[ "$rc3" = 2 ]'
check "no usable input: the file is named" 'grep -q "missing.tif" "$T/out3"'
"$OMR" scan "$T/in" > /dev/null 2>&1
check "no --db: exit 1" '[ $? = 1 ]'
"$OMR" scan --db "$T/db" -j 0 "$T/in" > /dev/null 2>&1
check "-j 0: exit 1" '[ $? = 1 ]'
# a pipe named on the command line: refused at once, not waited on
mkfifo "$T/pipe.tif"
timeout 60 "$OMR" scan -q --db "$T/db5" "$T/pipe.tif" "$T/fresh-not-there.png" > "$T/out5" 2>&1
rc5=$?
check "a pipe named as input: refused, no hang (exit 2)" '[ "$rc5" = 2 ] && grep -q "pipe.tif: not a regular file" "$T/out5"'

"$OMR" scan --db "$T/db" --settle soon "$T/in" > /dev/null 2>&1
check "--settle soon: exit 1" '[ $? = 1 ]'

# ---- a file written just now, with --settle: left for the next run ----
cp "$T/in/$(ls "$T/good" | head -n 1)" "$T/fresh.png"
"$OMR" scan -q --db "$T/db4" --settle 3600 "$T/fresh.png" > "$T/out4" 2>&1
rc4=$?
check "--settle: a fresh file is left for the next run (exit 3)" '[ "$rc4" = 3 ]'
check "--settle: the report names it" 'grep -q "left for the next run" "$T/out4" && grep -q "fresh.png: last written" "$T/out4"'
check "--settle: nothing of it stored" '[ "$(sqlite3 "$T/db4" "SELECT count(*) FROM files")" = 0 ]'
"$OMR" status --db "$T/db4" --json > "$T/status4" 2>&1
check "--settle: status lists it as left for the next run" 'grep -q "\"left_for_next_run\": 1" "$T/status4" && grep -q "fresh.png" "$T/status4"'
"$OMR" status --db "$T/db4" > "$T/status4t" 2>&1
check "--settle: status text gives the reason, and says 'left for the next run' once" \
  'grep "fresh.png: left for the next run: last written" "$T/status4t" | grep -vq "left for the next run.*left for the next run"'
touch -d "2 hours ago" "$T/fresh.png"
"$OMR" scan -q --db "$T/db4" --settle 3600 "$T/fresh.png" > /dev/null 2>&1
check "--settle: read once it is older" '[ "$(sqlite3 "$T/db4" "SELECT count(*) FROM files")" = 1 ]'
"$OMR" status --db "$T/db4" > "$T/status5" 2>&1
check "--settle: once stored, status no longer lists it" '! grep -q "files not stored" "$T/status5" && grep -q "fresh.png" "$T/status4"'

"$OMR" scan --help | grep -q "3  done, with items to review"
check "--help documents the exit status" '[ $? = 0 ]'

rm -rf "$T"
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
