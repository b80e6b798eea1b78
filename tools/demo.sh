#!/bin/sh
# demo.sh [BUILD_DIR] -- `make demo`: the main job end to end on the embedded store.
#
#   1. print personalised forms (PDF + PNG) from the templates
#   2. simulate respondents filling them and a sheet-fed scanner scanning them
#   3. omr scan: identify, register, read, code; the batch report
#   4. omr export: CSV + codebook; and the score against the simulator's truth
#   5. the review queue: an operator account, the server, a look at the queue
#
# Everything goes to BUILD_DIR/demo/ (removed and made again on each run).
# On a terminal the review server stays up until Enter; otherwise (CI, a pipe)
# it is started, checked and stopped.
set -eu
B=${1:-build}
D="$B/demo"
TPL=templates/ipa-itsc-2018
PORT=${OMR_DEMO_PORT:-8080}
rm -rf "$D"
mkdir -p "$D"

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "1. Print forms for respondents 000001-000003 (A and B)"
"$B/omr" print --template "$TPL" --ids 1,2,3 --pdf "$D/forms.pdf" --png "$D/printed" --dpi 150
echo "   $D/forms.pdf (vector A4, print-ready) and $D/printed/*.png"

say "2. Respondents fill them in; a scanner scans the packets"
"$B/simulate" --template "$TPL" --form all --respondents 6 --first-id 1 --seed 2026 \
    --profile mixed --dpi mixed --format mixed -j 2 --out "$D/mail" >/dev/null
echo "   $(ls "$D/mail/scans" | wc -l) scan files in $D/mail/scans (truth in $D/mail/truth)"

say "3. Scan: read every page, code the answers, queue what is uncertain"
set +e
"$B/omr" scan --db "$D/omr.db" --batch demo -j 2 "$D/mail/scans"
rc=$?
set -e
echo "   exit status $rc (0 ok, 3 done with items to review)"

say "4. Export (CSV with a codebook) and the score against the truth"
"$B/omr" export --db "$D/omr.db" --out "$D/export" --mark-unresolved
ls -l "$D/export" | sed 's/^/   /'
echo "   first lines of A.csv:"
head -n 3 "$D/export/A.csv" | cut -c1-160 | sed 's/^/   /'
"$B/evaluate" --db "$D/omr.db" --corpus "$D/mail" 2>/dev/null | sed 's/^/   /'

say "5. The review queue"
printf 'demo-password\n' | "$B/omr" operator --db "$D/omr.db" add demo >/dev/null
# what the scanning staff see the next morning: batches, the queue by reason, respondents ready
"$B/omr" status --db "$D/omr.db" | sed 's/^/   /' || true
"$B/omr" review --db "$D/omr.db" --listen "127.0.0.1:$PORT" >"$D/review.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
sleep 1
if ! kill -0 "$server" 2>/dev/null; then
  cat "$D/review.log"
  echo "   the review server did not start (port $PORT busy? set OMR_DEMO_PORT)"
  exit 2
fi
if [ ! -d node_modules/playwright-core ] && command -v npm >/dev/null 2>&1; then
  npm ci --no-audit --no-fund --silent >/dev/null 2>&1 || true   # playwright-core, for the screenshots
fi
if command -v node >/dev/null 2>&1 && [ -d node_modules/playwright-core ] && [ -x /usr/bin/chromium ]; then
  node tests/browser/screenshot.mjs "http://127.0.0.1:$PORT" demo demo-password "$D" >/dev/null 2>&1 &&
    echo "   screenshots of the review screens: $D/review-*.png"
fi
echo "   review queue: http://127.0.0.1:$PORT/  (operator 'demo', password 'demo-password')"
if [ -t 0 ]; then
  printf '   press Enter to stop the review server... '
  read -r _
fi
kill "$server" 2>/dev/null || true
wait "$server" 2>/dev/null || true
trap - EXIT
say "Done: everything is in $D"
