#!/bin/sh
# fuzz_replay.sh BUILD_DIR -- replay the saved fuzz corpus under ASan/UBSan.
#
# For every target tests/fuzz/fuzz_<name>.c, compiles it with
# tests/fuzz/standalone_main.c (a main() instead of libFuzzer) against
# BUILD_DIR/libomr.a into BUILD_DIR/fuzz/replay_<name>, with the compiler and
# pkg-config packages the Makefile uses and the sanitizer flags of `make check`,
# then runs every file of tests/fuzz/corpus/<name>/ through it. The corpus
# holds seeds and every crash ever found (tools/fuzz.sh finds new ones), so
# this is the regression test for them. One result per corpus file; a
# target that does not compile counts as one failure. Builds nothing else:
# BUILD_DIR/libomr.a must exist (make check builds it).
# Last line: `N passed, N failed`.
B=${1:-${OMR_BUILD:-build}}
CC=${CC:-cc}
PKG_CONFIG=${PKG_CONFIG:-pkg-config}
pass=0 fail=0
out="$B/fuzz"
mkdir -p "$out" || { echo "cannot make $out"; echo "0 passed, 1 failed"; exit 1; }
if [ ! -f "$B/libomr.a" ]; then
  echo "$B/libomr.a is missing: build first (make check builds $B)"
  echo "0 passed, 1 failed"; exit 1
fi
# The Makefile's PKGS list (it continues over backslash-ended lines).
pkgs=$(awk '/^PKGS *=/ {on=1; sub(/^PKGS *= */, "")} on {line=$0; c=sub(/\\$/, "", line); printf "%s ", line; if (!c) exit}' Makefile)
pkg_cflags=$($PKG_CONFIG --cflags $pkgs) || { echo "pkg-config failed for: $pkgs"; echo "0 passed, 1 failed"; exit 1; }
pkg_libs=$($PKG_CONFIG --libs $pkgs)
zint_libs=$($PKG_CONFIG --libs zint 2>/dev/null || echo -lzint)
flags="-std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -O1 -g -pthread -fno-strict-aliasing
       -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
log=$(mktemp) || exit 1
# The targets' scratch folders (tests/fuzz/fuzz.h) go here, so that an input
# that crashes leaves nothing behind.
OMR_FUZZ_TMP=$(mktemp -d) || exit 1
export OMR_FUZZ_TMP
for src in tests/fuzz/fuzz_*.c; do
  [ -e "$src" ] || continue
  name=$(basename "$src" .c); name=${name#fuzz_}
  bin="$out/replay_$name"
  # shellcheck disable=SC2086
  if ! $CC $flags $pkg_cflags -Iomr -Itests/fuzz -o "$bin" "$src" tests/fuzz/standalone_main.c \
       "$B/libomr.a" $pkg_libs $zint_libs -lm >"$log" 2>&1; then
    cat "$log"; echo "FAIL $name: does not compile"; fail=$((fail+1)); continue
  fi
  dir="tests/fuzz/corpus/$name"
  n=$(find "$dir" -type f ! -name '.*' 2>/dev/null | wc -l)
  if [ "$n" = 0 ]; then echo "FAIL $name: no corpus in $dir"; fail=$((fail+1)); continue; fi
  # All files in one process first (fast); on failure, one process per file
  # to count and show exactly which inputs fail.
  if timeout 600 "$bin" -q "$dir" >"$log" 2>&1; then
    echo "ok   $name: $n inputs"; pass=$((pass+n)); continue
  fi
  bad=0
  for f in $(find "$dir" -type f ! -name '.*' | sort); do
    if timeout 120 "$bin" -q "$f" >"$log" 2>&1; then
      pass=$((pass+1))
    else
      echo "FAIL $name: $f"; grep -E 'ERROR|runtime error|invariant|#[0-9]+ .* in ' "$log" | head -n 12 | sed 's/^/    /'
      bad=$((bad+1))
    fi
  done
  [ "$bad" = 0 ] && { echo "FAIL $name: the whole corpus fails in one process but no single file does"; bad=1; }
  fail=$((fail+bad))
done
rm -f "$log"; rm -rf "$OMR_FUZZ_TMP"
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
