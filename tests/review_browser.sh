#!/bin/sh
# review_browser.sh [BUILD_DIR] -- the review page in headless Chromium (issue 4):
# simulate and scan a few questionnaires (real items of every kind, plus a page
# without a barcode), start `omr review`, log in and resolve items of every kind
# by keyboard only (tests/browser/review.mjs, npm playwright-core), undo one,
# review a group, then check the store and the export against what the keys meant.
# Screenshots go to build/screenshots/ (queue, group review, page view, ...).
#
# Then keys.mjs, on a copy of the store with a few items made for it, presses
# the keys that used to go wrong: a digit that may begin a two-digit code then
# Enter at once, group review of transcriptions and of a set with 12 options,
# "Enter will record" and x on a text field, undo of an item no longer raised.
#
# Skips (0 passed, 0 failed, with the reason) only when Chromium cannot run at all.
set -u
B=${1:-${OMR_BUILD:-build}}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
pass=0 fail=0
ok() { pass=$((pass+1)); echo "ok   $1"; }
bad() { fail=$((fail+1)); echo "FAIL $1"; }
finish() { echo "$pass passed, $fail failed"; [ "$fail" = 0 ]; exit $?; }

CHROMIUM=${CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}
if [ -z "$CHROMIUM" ] || ! "$CHROMIUM" --headless=new --no-sandbox --disable-gpu --dump-dom about:blank >/dev/null 2>&1; then
  echo "SKIP review_browser: Chromium cannot run here (install it: tools/install-deps.sh)"
  finish
fi
export CHROMIUM
if [ ! -d node_modules/playwright-core ]; then
  npm ci --no-audit --no-fund --silent >/dev/null 2>&1 || { bad "npm ci (playwright-core from package-lock.json)"; finish; }
fi

T=$(mktemp -d /tmp/omr-review-browser.XXXXXX)
SHOTS=build/screenshots
mkdir -p "$SHOTS"
rm -f "$SHOTS"/*.png  # a stale picture must not pass for a new one
SRV=""
cleanup() { [ -n "$SRV" ] && kill "$SRV" 2>/dev/null; wait 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT

# data: 2 respondents per form, 200 dpi G4, and one blank page without a barcode
"$B/simulate" --template templates/ipa-itsc-2018 --form all --respondents 2 --seed 11 --out "$T/sim" \
  --profile mixed --dpi 200 --format g4 -j 2 >/dev/null 2>&1 || { bad "simulate"; finish; }
"$B/omr" print --template templates/ipa-itsc-2018 --form A --blank --png "$T/blank" --dpi 150 >/dev/null 2>&1 ||
  { bad "print a blank page"; finish; }
"$B/omr" scan --db "$T/r.db" -q "$T/sim/scans" "$T/blank/blank-A-02.png" >/dev/null 2>&1
[ $? = 3 ] && ok "scan: items to review" || bad "scan: items to review"
printf 'alice-password\n' | "$B/omr" operator --db "$T/r.db" add alice >/dev/null || bad "operator add"

# keys.mjs's store: a copy, with items no scan of these sheets raises: a
# question with 12 options, several allowed (問12 / 問9, whole question, as an
# exclusive option marked with others raises it), twice on form A (a group)
# and once on form B; and 問8 of form A, a grid whose whole answer is typed as
# text, twice (a group of typed items under another reason than "text"). The
# one on form B is the coder's (it drops it when it re-codes the respondent,
# which the undo check relies on); the groups are made as the scan's ('page'),
# so that a decision on one respondent leaves the others. Plus a
# transcription and a written box of the scan, and a group of transcriptions.
KEYS_SETUP=$(python3 - "$T/r.db" "$T/k.db" <<'PY'
import json, sqlite3, sys
src = sqlite3.connect(sys.argv[1]); db = sqlite3.connect(sys.argv[2]); src.backup(db); src.close()
def page(form, resp, n):
    return db.execute("SELECT id FROM pages WHERE form = ? AND respondent = ? AND page_number = ?", (form, resp, n)).fetchone()[0]
def item(reason, form, resp, pg, q, proposal, source="page"):
    cur = db.execute("INSERT INTO review_items(key, source, reason, form, respondent, page, question, var, proposal, detail, created)"
                     " VALUES(?, ?, ?, ?, ?, ?, ?, '', ?, ?, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))",
                     ("browser-keys:%s:%s:%s" % (form, resp, q), source, reason, form, resp, page(form, resp, pg), q, proposal,
                      "made for tests/browser/keys.mjs"))
    return cur.lastrowid
resp = {f: [r for (r,) in db.execute("SELECT DISTINCT respondent FROM pages WHERE form = ? ORDER BY respondent", (f,))] for f in "AB"}
a1, a2 = resp["A"][:2]; b1, b2 = resp["B"][:2]
setup = {"set_group": [item(3, "A", a1, 5, "Q12", "2"), item(3, "A", a2, 5, "Q12", "2")],
         "text_group": [item(13, "A", a1, 4, "Q8", ""), item(13, "A", a2, 4, "Q8", "")],
         "set_item": item(3, "B", b1, 5, "Q9", "2", "code")}
open_items = "SELECT id FROM review_items WHERE current = 1 AND state = 'open' AND reason = ? AND form = 'B' AND respondent = ?" \
             " AND proposal != '' ORDER BY id"
setup["text_item"] = (db.execute(open_items, (7, b2)).fetchone() or db.execute(open_items.replace(" AND proposal != ''", ""), (7, b2)).fetchone())[0]
setup["digits_item"] = db.execute(open_items, (6, b2)).fetchone()[0]
form, q, var, n = db.execute("SELECT form, question, var, count(*) FROM review_items WHERE current = 1 AND state = 'open'"
                             " AND reason = 7 GROUP BY 1, 2, 3 HAVING count(*) >= 2 ORDER BY 4 DESC, 1, 2, 3").fetchone()
setup["text_group_real"] = {"reason": "text", "reason_text": "transcription", "form": form, "question": q, "label": q, "var": var, "count": n}
db.commit()
print(json.dumps(setup))
PY
) || bad "keys.mjs: the store"

PICKS=$(python3 - "$T/r.db" <<'PY'
import json, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
names = {1: "doubtful_mark", 2: "multiple_marks", 3: "exclusive", 4: "routing", 5: "other_text", 6: "handwritten",
         7: "text", 8: "no_barcode", 9: "unknown_page", 10: "register_failed", 11: "duplicate_page", 12: "unreadable",
         13: "invalid_value", 14: "missing_page"}
picks = {}
for reason, iid in db.execute("SELECT reason, max(id) FROM review_items WHERE current = 1 AND state = 'open' GROUP BY reason"):
    picks[names.get(reason, str(reason))] = iid
print(json.dumps(picks))
PY
)
echo "items picked, one per reason: $PICKS"

"$B/omr" review --db "$T/r.db" --listen 127.0.0.1:0 >"$T/server.log" 2>&1 &
SRV=$!
for i in $(seq 1 100); do grep -q "serving" "$T/server.log" && break; sleep 0.1; done
URL=$(sed -n 's/.* on \(http:[^ ]*\) .*/\1/p' "$T/server.log")
[ -n "$URL" ] && ok "server started ($URL)" || { cat "$T/server.log"; bad "server started"; finish; }

node tests/browser/review.mjs "$URL" alice-password "$PICKS" "$SHOTS" "$T/out.json"
[ -s "$T/out.json" ] && ok "browser driver ran" || { bad "browser driver ran"; finish; }

# stop the server (it re-codes what was decided last before it exits), then
# check the store and the export against what the keys meant
kill -TERM "$SRV" && wait "$SRV"; SRV=""
"$B/omr" export --db "$T/r.db" --out "$T/export" --mark-unresolved >/dev/null 2>&1 || bad "export"
python3 - "$T/r.db" "$T/out.json" "$T/export" "$PICKS" <<'PY'
import csv, json, sqlite3, sys
db = sqlite3.connect(sys.argv[1]); out = json.load(open(sys.argv[2])); exp = sys.argv[3]; picks = json.loads(sys.argv[4])
res = []
def check(name, cond, why=""):
    res.append(cond); print(("ok   " if cond else "FAIL ") + name + ("" if cond else ": " + why))
check("no page errors", not out["errors"], "; ".join(out["errors"])[:2000])
decided = out["decided"] + out["group"]
wrong = []
for d in decided:
    rows = db.execute("SELECT operator, after FROM decisions WHERE item = ? AND undone = 0", (d["id"],)).fetchall()
    if len(rows) != 1 or rows[0][0] != "alice" or rows[0][1] != d["value"]:
        wrong.append((d["id"], d["value"], rows))
check("every decision stored once, by alice, with the value the keys meant (%d)" % len(decided), not wrong, repr(wrong[:5]))
kinds = {d["reason"] for d in out["decided"]}
check("an item of every kind in the store was resolved", set(picks) <= kinds, "missing %s" % (set(picks) - kinds))
u = out["undone"]
check("undo recorded", u is not None and db.execute("SELECT count(*) FROM decisions WHERE item = ? AND undone = 1 AND after = ?",
      (u["id"], u["first"])).fetchone()[0] == 1 if u else False, repr(u))
check("group review decided several items at once", len(out["group"]) >= 2, "%d" % len(out["group"]))
ok_resolved = all(db.execute("SELECT state FROM review_items WHERE id = ?", (d["id"],)).fetchone()[0] == "resolved" for d in decided)
check("decided items are resolved", ok_resolved)
check("responses re-coded (no respondent dirty)", db.execute("SELECT count(*) FROM respondents WHERE dirty = 1").fetchone()[0] == 0)
# a transcription typed in the browser is in the export
texts = [d for d in out["decided"] if d["input"] == "text" and d["value"]]
found = False
for d in texts:
    form, resp, var, case = db.execute("SELECT form, respondent, var, case_number FROM review_items WHERE id = ?", (d["id"],)).fetchone()
    path = "%s/%s%s.csv" % (exp, form, "_cases" if case else "")
    for row in csv.DictReader(open(path, encoding="utf-8-sig")):
        if row["respondent"] == resp and row.get(var) == d["value"]:
            found = True
check("a transcription typed in the browser is in the export", found, "%d text decisions" % len(texts))
kpi = out["keys"] / max(1, out["resolved"])
print("keystrokes: %d for %d resolved items (%.2f per item, group review included)" % (out["keys"], out["resolved"], kpi))
print("store checks: %d ok, %d failed" % (sum(res), len(res) - sum(res)))
sys.exit(0 if all(res) else 1)
PY
rc=$?
for s in queue group-review page-view; do
  [ -s "$SHOTS/$s.png" ] && ok "screenshot $s" || bad "screenshot $s"
done
[ $rc = 0 ] && ok "store and export checks" || bad "store and export checks"

serve() { # serve DB LOG [ARGS]: start omr review; sets SRV and URL
  db=$1 log=$2; shift 2
  "$B/omr" review --db "$db" --listen 127.0.0.1:0 "$@" >"$log" 2>&1 &
  SRV=$!
  for i in $(seq 1 300); do grep -q "serving" "$log" && break; sleep 0.1; done
  URL=$(sed -n 's/.* on \(http:[^ ]*\) .*/\1/p' "$log")
}

# the keys that used to go wrong (keys.mjs), on the copy of the store made above
serve "$T/k.db" "$T/server-keys.log"
if [ -n "$URL" ] && [ -n "${KEYS_SETUP:-}" ]; then
  node tests/browser/keys.mjs "$URL" alice-password "$KEYS_SETUP" "$T/keys.json"
  kill -TERM "$SRV" && wait "$SRV"; SRV=""
  python3 - "$T/keys.json" >"$T/keys.txt" <<'PY'
import json, sys
try:
    o = json.load(open(sys.argv[1]))
except Exception as e:
    print("FAIL keys.mjs ran: %s" % e); sys.exit(0)
for c in o["checks"]:
    print(("ok   " if c["ok"] else "FAIL ") + c["name"] + ("" if c["ok"] else ": " + c["why"]))
print(("ok   " if not o["errors"] else "FAIL ") + "keys.mjs: no page errors" + ("" if not o["errors"] else ": " + "; ".join(o["errors"])[:2000]))
PY
  while IFS= read -r line; do
    case "$line" in ok*) ok "${line#ok   }" ;; *) bad "${line#FAIL }" ;; esac
  done <"$T/keys.txt"
else
  cat "$T/server-keys.log"; bad "keys.mjs: server started"
  [ -n "$SRV" ] && kill "$SRV" 2>/dev/null; SRV=""
fi

# The scans moved to an archive after the scan: the crop says why it is
# missing and where to look; with --images the review finds them by hash.
ITEM=$(sqlite3 "$T/r.db" "SELECT min(i.id) FROM review_items i JOIN pages p ON p.id = i.page
                         WHERE i.current = 1 AND i.state = 'open' AND i.reason IN (1, 2, 3, 4, 6, 13) AND p.status = 'ok'")
mkdir -p "$T/archive"
mv "$T/sim/scans" "$T/archive/2026-11-25"
shown() { python3 -c 'import json,sys; o=json.load(open(sys.argv[1])); print(o["shown"] + "|" + o["text"] + "|" + ";".join(o["errors"]))' "$1"; }
serve "$T/r.db" "$T/server2.log"
node tests/browser/moved.mjs "$URL" alice-password "$ITEM" "$T/moved.json"
kill -TERM "$SRV" && wait "$SRV"; SRV=""
m=$(shown "$T/moved.json")
case "$m" in
  "error|No image: the scanned file "*"not there any more"*"--images"*"|") ok "scans moved: the crop says the file is gone and to give --images" ;;
  *) bad "scans moved: the crop says the file is gone and to give --images (got: $m)" ;;
esac
serve "$T/r.db" "$T/server3.log" --images "$T/archive"
node tests/browser/moved.mjs "$URL" alice-password "$ITEM" "$T/found.json"
kill -TERM "$SRV" && wait "$SRV"; SRV=""
m=$(shown "$T/found.json")
[ "$m" = "image||" ] && ok "--images: the moved scans are found and shown" || bad "--images: the moved scans are found and shown (got: $m)"
finish
