#!/bin/sh
# run.sh BUILD_DIR -- run every test binary in BUILD_DIR/tests and every
# tests/*.sh script, then print the total as `N passed, N failed`.
# Each test prints its own `N passed, N failed` as its last line; we add them up.
B=${1:-build}
export OMR_BUILD="$B"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
total_pass=0 total_fail=0 broken=""
log=$(mktemp -d)
for t in "$B"/tests/test_* tests/*.sh; do
  [ -e "$t" ] || continue
  case "$t" in *.d|*.o) continue;; esac
  name=$(basename "$t")
  [ "$name" = run.sh ] && continue
  printf '== %s\n' "$name"
  if [ "${t%.sh}" != "$t" ]; then sh "$t" "$B" >"$log/$name" 2>&1; rc=$?; else "$t" >"$log/$name" 2>&1; rc=$?; fi
  last=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log/$name" | tail -n 1)
  if [ -z "$last" ]; then
    cat "$log/$name"; echo "$name: no result line (exit $rc)"; total_fail=$((total_fail+1)); broken="$broken $name"; continue
  fi
  p=${last%% passed*}; f=${last#*, }; f=${f%% failed}
  if [ "$rc" != 0 ] && [ "$f" = 0 ]; then f=1; fi
  [ "$f" != 0 ] && { cat "$log/$name"; broken="$broken $name"; }
  grep -E '^(FAIL|ok  )' "$log/$name" | sed 's/^/   /'
  total_pass=$((total_pass+p)); total_fail=$((total_fail+f))
done
rm -rf "$log"
[ -n "$broken" ] && echo "failing:$broken"
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" = 0 ]
