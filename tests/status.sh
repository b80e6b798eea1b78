#!/bin/sh
# status.sh BUILD_DIR -- `omr status`: what a store holds and what is left.
# Two nightly batches of simulated form-A scans go into one store; the pages
# and respondents status reports are compared with the simulator's truth
# (truth/pages.csv: one line per scanned page), the review queue with the
# items table read by plain SQL. A batch that did not finish is shown so;
# a missing store is refused and not created; a store with nothing left
# exits 0, one with items open 3.
B=${1:-${OMR_BUILD:-build}}
OMR=$B/omr
T=$(mktemp -d /tmp/omr_status.XXXXXX)
pass=0 fail=0
ok() { pass=$((pass+1)); echo "ok   $1"; }
ko() { fail=$((fail+1)); echo "FAIL $1"; }
check() { if eval "$2"; then ok "$1"; else ko "$1"; fi; }
# json EXPR: evaluate a Python expression over the status JSON (j)
json() { python3 -c "import json,sys; j=json.load(open('$T/s.json')); print($1)"; }

"$OMR" status --db "$T/none.db" >"$T/out" 2>&1; rc=$?
check "a missing store: exit 2, 'no such store', no file made" \
  '[ $rc = 2 ] && grep -q "no such store" "$T/out" && [ ! -e "$T/none.db" ]'
printf 'not a database\n' > "$T/text.db"
"$OMR" status --db "$T/text.db" >"$T/out" 2>&1; rc=$?
check "a text file as the store: exit 2 with the reason" '[ $rc = 2 ] && grep -q "text.db" "$T/out"'
"$OMR" status >/dev/null 2>&1; rc=$?
check "no --db: usage error, exit 1" '[ $rc = 1 ]'

sim() { # sim FIRST_ID COUNT DIR PROFILE DPI
  "$B/simulate" --template templates/ipa-itsc-2018 --form A --respondents "$2" --first-id "$1" --seed 11 \
    --profile "$4" --dpi "$5" --format g4 --out "$3" >/dev/null 2>&1
}
sim 1 2 "$T/n1" clean 300
sim 13 1 "$T/n2" mixed 200  # this seed's respondent 13: a harsh 200-dpi threshold ("rough"),
                            # pages too light for pencil
pages1=$(($(wc -l < "$T/n1/truth/pages.csv") - 1))
pages2=$(($(wc -l < "$T/n2/truth/pages.csv") - 1))
check "simulate made both nights' scans" '[ "$pages1" -gt 0 ] && [ "$pages2" -gt 0 ]'

"$OMR" scan --db "$T/db" --batch night1 -q "$T/n1/scans" >/dev/null 2>&1
"$OMR" status --db "$T/db" >"$T/s.txt" 2>&1; rc=$?
"$OMR" status --db "$T/db" --json >"$T/s.json" 2>"$T/err"; rcj=$?
check "after night1: exit 3 (items to review), the same with --json" '[ $rc = 3 ] && [ $rcj = 3 ]'
check "the text names the survey and the batch" \
  'grep -q "ipa-itsc-2018" "$T/s.txt" && grep -q "^  night1 " "$T/s.txt"'
check "night1's pages as the truth has them ($pages1), all identified" \
  '[ "$(json "j[\"batches\"][0][\"pages\"], j[\"batches\"][0][\"identified\"], j[\"batches\"][0][\"done\"]")" = "$pages1 $pages1 True" ]'
open_sql=$(sqlite3 "$T/db" "SELECT count(*) FROM review_items WHERE current = 1 AND state = 'open'")
check "the queue's open items ($open_sql by SQL)" \
  '[ "$(json "sum(r[\"open\"] for r in j[\"review_queue\"].values())")" = "$open_sql" ] && [ "$open_sql" -gt 0 ]'
check "2 respondents coded (the truth's), none changed since" \
  '[ "$(json "j[\"respondents\"][\"complete\"] + j[\"respondents\"][\"waiting\"], j[\"respondents\"][\"changed\"]")" = "2 0" ]'

"$OMR" scan --db "$T/db" --batch night2 -q "$T/n2/scans" >/dev/null 2>&1
"$OMR" status --db "$T/db" --json >"$T/s.json" 2>"$T/err"
check "after night2: two batches, night2's pages as the truth has them ($pages2)" \
  '[ "$(json "len(j[\"batches\"]), j[\"batches\"][1][\"name\"], j[\"batches\"][1][\"pages\"]")" = "2 night2 $pages2" ]'
light_sql=$(sqlite3 "$T/db" "SELECT count(DISTINCT p.id) FROM pages p JOIN files f ON f.id = p.file
  JOIN batches b ON b.id = f.batch JOIN regions r ON r.page = p.id WHERE b.name = 'night2' AND (r.doubt & 64) != 0")
check "night2's pages too light for pencil ($light_sql by SQL)" \
  '[ "$(json "j[\"batches\"][1][\"too_light\"]")" = "$light_sql" ] && [ "$light_sql" -gt 0 ]'
check "3 respondents in all" \
  '[ "$(json "j[\"respondents\"][\"complete\"] + j[\"respondents\"][\"waiting\"]")" = 3 ]'

# --files: the scans the review still needs (files with open items), checked
# by hash where they were scanned, moved to an archive, or written over
needed_sql=$(sqlite3 "$T/db" "SELECT count(DISTINCT p.file) FROM review_items i JOIN pages p ON p.id = i.page
  WHERE i.current = 1 AND i.state IN ('open', 'leased')")
n1_sql=$(sqlite3 "$T/db" "SELECT count(DISTINCT p.file) FROM review_items i JOIN pages p ON p.id = i.page
  JOIN files f ON f.id = p.file JOIN batches b ON b.id = f.batch
  WHERE i.current = 1 AND i.state IN ('open', 'leased') AND b.name = 'night1'")
"$OMR" status --db "$T/db" --files --json >"$T/s.json" 2>"$T/err"
check "--files: the $needed_sql scans with open items (by SQL), all where they were scanned" \
  '[ "$(json "j[\"scans\"][\"needed\"], j[\"scans\"][\"at_path\"], j[\"scans\"][\"gone\"]")" = "$needed_sql $needed_sql 0" ] && [ "$n1_sql" -gt 0 ]'
mkdir -p "$T/archive"
mv "$T/n1/scans" "$T/archive/night1"
"$OMR" status --db "$T/db" --files >"$T/s.txt" 2>&1
"$OMR" status --db "$T/db" --files --json >"$T/s.json" 2>"$T/err"
check "--files: night1's $n1_sql scans moved away are gone, named, and what to do is said" \
  '[ "$(json "j[\"scans\"][\"gone\"]")" = "$n1_sql" ] && grep -q "n1/scans/.*: gone" "$T/s.txt" && grep -q -- "--images DIR" "$T/s.txt"'
"$OMR" status --db "$T/db" --files --images "$T/archive" --json >"$T/s.json" 2>"$T/err"
check "--files --images: found in the archive by hash" \
  '[ "$(json "j[\"scans\"][\"moved\"], j[\"scans\"][\"gone\"], j[\"scans\"][\"changed\"]")" = "$n1_sql 0 0" ]'
# another night's scan written over a stored path: not the scanned file
victim=$(sqlite3 "$T/db" "SELECT f.path FROM files f JOIN batches b ON b.id = f.batch WHERE b.name = 'night1'
  AND f.id IN (SELECT p.file FROM review_items i JOIN pages p ON p.id = i.page WHERE i.current = 1 AND i.state = 'open')
  ORDER BY f.path LIMIT 1")
mkdir -p "$T/n1/scans"
cp "$(ls "$T"/n2/scans/* | head -n 1)" "$victim"
"$OMR" status --db "$T/db" --files --json >"$T/s.json" 2>"$T/err"
check "--files: a file written over is told apart from a gone one" \
  '[ "$(json "j[\"scans\"][\"changed\"], \",\".join(p[\"where\"] for p in j[\"scans\"][\"problems\"] if p[\"path\"] == \"$victim\")")" = "1 changed" ]'
"$OMR" status --db "$T/db" --files --images "$T/nowhere" >/dev/null 2>&1; rc=$?
check "--images of a missing folder: usage error" '[ $rc = 1 ]'

# a batch killed before its end: no finish time
sqlite3 "$T/db" "UPDATE batches SET finished = NULL WHERE name = 'night2'"
"$OMR" status --db "$T/db" >"$T/s.txt" 2>&1
check "an unfinished batch is shown so, with what to do" \
  'grep -A0 "^  night2 " "$T/s.txt" | grep -q "NOT FINISHED.*run the same scan again"'

# everything decided and coded: nothing left, exit 0
sqlite3 "$T/db" "UPDATE review_items SET state = 'resolved'; UPDATE respondents SET complete = 1, dirty = 0"
"$OMR" status --db "$T/db" >"$T/s.txt" 2>&1; rc=$?
check "nothing left: exit 0, '0 open'" '[ $rc = 0 ] && grep -q "review queue: 0 open" "$T/s.txt"'
# one respondent changed by a decision, not yet re-coded: something left
sqlite3 "$T/db" "UPDATE respondents SET dirty = 1 WHERE respondent = (SELECT min(respondent) FROM respondents)"
"$OMR" status --db "$T/db" >"$T/s.txt" 2>&1; rc=$?
check "a respondent to code again: exit 3, said so" '[ $rc = 3 ] && grep -q "1 changed since coded" "$T/s.txt"'

rm -rf "$T"
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
