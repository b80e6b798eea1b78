# check.sh -- sourced by the shell tests (tests/*.sh): the counters and the
# closing line `N passed, N failed` that tests/run.sh sums, and the steps
# the real-scan tests share. Not a test itself (tests/run.sh runs tests/*.sh).
pass=0 fail=0
ok()  { pass=$((pass+1)); echo "ok   $1"; }
bad() { fail=$((fail+1)); echo "FAIL $1"; }
# finish: the closing line; the exit status says whether anything failed
finish() { echo "$pass passed, $fail failed"; [ "$fail" = 0 ]; }

# scan_checked B DB TEMPLATE INPUT LOG PAGES WHAT: omr scan INPUT into DB
# (quiet, log in LOG); checks the exit status (0 or 3), that PAGES pages
# were stored and identified ("PAGES pages identified WHAT"), and that none
# failed to register.
scan_checked() {
  "$1/omr" scan --db "$2" --template "$3" -q "$4" >"$5" 2>&1
  rc=$?
  { [ "$rc" = 0 ] || [ "$rc" = 3 ]; } && ok "scan exit status $rc" || { cat "$5"; bad "scan exit status $rc"; }
  grep -q "pages: $6 stored.* $6 identified" "$5" && ok "$6 pages identified $7" || { cat "$5"; bad "pages identified"; }
  if grep -q "register_failed\|not registered" "$5"; then
    cat "$5"; bad "every page registered"
  else
    ok "every page registered"
  fi
}

# export_checked B DB TEMPLATE OUT CSV: omr export --mark-unresolved into OUT;
# stops the test (closing line, exit 1) when OUT/CSV was not written.
export_checked() {
  "$1/omr" export --db "$2" --template "$3" --mark-unresolved --out "$4" >"$4.log" 2>&1 ||
    { cat "$4.log"; bad "export"; }
  [ -s "$4/$5" ] || { bad "export wrote $5"; finish; exit 1; }
}
