#!/bin/sh
# sim_determinism.sh BUILD_DIR -- the simulator gives the same bytes for the same
# seed: run twice, and with one worker or two, the corpus (scans, truth, README,
# bad files) has the same sha256 for every file; another seed gives other files.
# Run by tests/run.sh from the repository root; prints `N passed, N failed` last.
B=${1:-${OMR_BUILD:-build}}
SIM="$B/simulate"
TPL=templates/ipa-itsc-2018
pass=0 fail=0
ok() { echo "ok   $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1"; fail=$((fail + 1)); }

if [ ! -x "$SIM" ] || [ ! -f "$TPL/survey.omr" ]; then
  echo "FAIL setup: $SIM or $TPL/survey.omr missing"
  echo "0 passed, 1 failed"
  exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# A tiny corpus: 3 respondents per form at 200 dpi (fast under the sanitizers),
# mixed conditions and formats, with the bad files. $1 = name, rest = options.
make_corpus() {
  name=$1; shift
  if "$SIM" --template "$TPL" --form all --respondents 3 --dpi 200 --out "$tmp/$name" "$@" \
       >"$tmp/$name.log" 2>&1; then
    (cd "$tmp/$name" && find . -type f | LC_ALL=C sort | xargs sha256sum) >"$tmp/$name.sum"
  else
    cat "$tmp/$name.log"
    : >"$tmp/$name.sum"
    return 1
  fi
}

make_corpus a --seed 11 -j 1 --bad && ok "corpus made (seed 11, -j 1)" || bad "corpus made (seed 11, -j 1)"
make_corpus b --seed 11 -j 1 --bad || true
make_corpus c --seed 11 -j 2 --bad || true
make_corpus d --seed 12 -j 2 --bad || true

n=$(wc -l <"$tmp/a.sum")
[ "$n" -gt 20 ] && ok "corpus has files ($n)" || bad "corpus has files ($n)"
for f in truth/A.csv truth/A_cases.csv truth/B.csv truth/cells.csv truth/pages.csv README.txt bad/huge.tif; do
  grep -q " ./$f\$" "$tmp/a.sum" || { bad "corpus lacks $f"; }
done
rows=$(($(wc -l <"$tmp/a/truth/pages.csv") - 1))
[ "$rows" -gt 10 ] && ok "pages.csv lists $rows sheets" || bad "pages.csv lists $rows sheets"
cmp -s "$tmp/a.sum" "$tmp/b.sum" && ok "same seed twice: same bytes" || { bad "same seed twice: same bytes"; diff "$tmp/a.sum" "$tmp/b.sum" | head; }
cmp -s "$tmp/a.sum" "$tmp/c.sum" && ok "-j 1 and -j 2: same bytes" || { bad "-j 1 and -j 2: same bytes"; diff "$tmp/a.sum" "$tmp/c.sum" | head; }
scans_a=$(grep ' ./scans/' "$tmp/a.sum" | cut -d' ' -f1 | LC_ALL=C sort)
scans_d=$(grep ' ./scans/' "$tmp/d.sum" | cut -d' ' -f1 | LC_ALL=C sort)
common=$(printf '%s\n%s\n' "$scans_a" "$scans_d" | LC_ALL=C sort | uniq -d | wc -l)
[ -n "$scans_d" ] && [ "$common" = 0 ] && ok "another seed: no scan file the same" || bad "another seed: $common scan files the same"
cmp -s "$tmp/a/truth/cells.csv" "$tmp/d/truth/cells.csv" && bad "another seed: other cell truth" || ok "another seed: other cell truth"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
