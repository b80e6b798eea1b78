#!/bin/sh
# scan_killresume.sh BUILD_DIR -- a batch killed with kill -9 at several
# moments (with -j 1 and -j 2), then run again to the end, must leave the
# same database content as one uninterrupted run: the same files, pages,
# regions, responses and review items (ids, timestamps, owners and batch
# rows aside, which differ between any two runs). Also: two scans of the same
# inputs at the same time into one database end the same way.
#
# Inputs: a few simulated packets (build/simulate, forms A and B, G4 and PNG)
# and one unreadable file. No timing is asserted: wherever a kill lands, the
# end state must be the same.
B=${1:-${OMR_BUILD:-build}}
OMR=$B/omr
T=$(mktemp -d /tmp/omr_killresume.XXXXXX)
pass=0 fail=0
ok() { pass=$((pass+1)); echo "ok   $1"; }
ko() { fail=$((fail+1)); echo "FAIL $1"; }
check() { if eval "$2"; then ok "$1"; else ko "$1"; fi; }

"$B/simulate" --template templates/ipa-itsc-2018 --form all --respondents 3 --seed 11 --dpi 300 \
  --format mixed --out "$T/sim" >/dev/null 2>&1
mkdir -p "$T/in"
cp -r "$T/sim/scans/." "$T/in/" 2>/dev/null
printf 'not an image\n' > "$T/in/zz-text.tif"
check "simulate made the inputs" '[ "$(ls "$T/in" | wc -l)" -gt 2 ]'

# The content of a store, without ids, times, owners and batches: rows are
# named by the file hash and page index, sorted.
dump() {
  sqlite3 "$1" "
SELECT 'file', sha256, path, size, pages, status, coalesce(error, '') FROM files ORDER BY sha256;
SELECT 'page', f.sha256, p.idx, p.status, p.reason, p.payload, p.form, p.page_number, p.respondent,
       p.orientation, p.dpi, p.width, p.height, p.xform, p.residual, p.case_number
  FROM pages p JOIN files f ON f.id = p.file ORDER BY f.sha256, p.idx;
SELECT 'region', f.sha256, p.idx, r.idx, r.var, r.kind, r.ink, r.ink_label, r.darkness, r.score, r.state,
       r.doubt, r.has_ink, r.digit, r.digit_conf
  FROM regions r JOIN pages p ON p.id = r.page JOIN files f ON f.id = p.file ORDER BY f.sha256, p.idx, r.idx;
SELECT 'respondent', form, respondent, dirty, complete, n_cases FROM respondents ORDER BY form, respondent;
SELECT 'response', form, respondent, case_number, col, name, value, status FROM responses
  ORDER BY form, respondent, case_number, name;
SELECT 'item', i.key, i.source, i.current, i.reason, i.form, i.respondent, i.case_number,
       coalesce(f.sha256 || ':' || p.idx, ''), i.question, i.var, i.proposal, i.detail, i.state
  FROM review_items i LEFT JOIN pages p ON p.id = i.page LEFT JOIN files f ON f.id = p.file ORDER BY i.key;
SELECT 'processing', count(*) FROM files WHERE status != 'done';
SELECT 'dirty', count(*) FROM respondents WHERE dirty;"
}

# reference: one uninterrupted run
"$OMR" scan -q --db "$T/ref.db" "$T/in" > "$T/ref.out" 2>&1
dump "$T/ref.db" > "$T/ref.dump"
check "reference run stored pages" '[ "$(grep -c "^page|" "$T/ref.dump")" -gt 10 ]'
check "reference run coded respondents" '[ "$(grep -c "^response|" "$T/ref.dump")" -gt 10 ]'

# killed runs: start, wait a little, kill -9 (the -j 2 workers die with
# their parent), a few times at different moments; then run to the end
kill_after() { # JOBS DELAY
  "$OMR" scan -q -j "$1" --db "$T/kill.db" "$T/in" > /dev/null 2>&1 &
  pid=$!
  sleep "$2"
  kill -9 "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  sleep 0.1 # let orphaned workers receive their death signal
}
kill_after 1 0.3
kill_after 2 0.5
kill_after 1 0.8
kill_after 2 1.1
kill_after 1 1.5
kill_after 1 3.4 # about when coding starts here: may land in stage 7
"$OMR" scan -q --db "$T/kill.db" "$T/in" > "$T/kill.out" 2>&1
dump "$T/kill.db" > "$T/kill.dump"
check "killed 6 times then finished: same content as one run" 'cmp -s "$T/ref.dump" "$T/kill.dump"'
cmp -s "$T/ref.dump" "$T/kill.dump" || diff "$T/ref.dump" "$T/kill.dump" | head -n 20

# a second run of the finished batch changes nothing
"$OMR" scan -q -j 2 --db "$T/kill.db" "$T/in" > /dev/null 2>&1
dump "$T/kill.db" > "$T/again.dump"
check "run again: nothing changes" 'cmp -s "$T/ref.dump" "$T/again.dump"'

# two scans of the same inputs at once into one database
"$OMR" scan -q -j 2 --db "$T/two.db" "$T/in" > /dev/null 2>&1 &
p1=$!
"$OMR" scan -q --db "$T/two.db" "$T/in" > /dev/null 2>&1
wait "$p1"
# a file one scan saw "in progress elsewhere" is done by the other; a
# respondent coded by one while the other stored a page is re-coded by the
# later; a last --recode settles anything left dirty
"$OMR" scan -q --db "$T/two.db" --recode > /dev/null 2>&1
dump "$T/two.db" > "$T/two.dump"
check "two scans at once: same content as one run" 'cmp -s "$T/ref.dump" "$T/two.dump"'
cmp -s "$T/ref.dump" "$T/two.dump" || diff "$T/ref.dump" "$T/two.dump" | head -n 20

rm -rf "$T"
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
