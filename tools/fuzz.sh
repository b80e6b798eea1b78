#!/bin/sh
# fuzz.sh -- build the libFuzzer versions of tests/fuzz/fuzz_*.c and run them.
#
#   tools/fuzz.sh [-t SECONDS] [TARGET...]     (default: every target, 60 s each)
#   e.g. tools/fuzz.sh -t 300 load
#
# Builds libomr with clang, -fsanitize=fuzzer-no-link,address,undefined, into
# $FUZZ_BUILD (default build/fuzz-clang) through the Makefile, links each target
# with -fsanitize=fuzzer, and runs the targets one after the other (the machine
# is shared: one core at a time). Each run starts from the saved corpus
# tests/fuzz/corpus/<target>/ (read only) plus its working corpus
# $FUZZ_BUILD/corpus/<target>/ (new inputs go there), with the dictionary
# tests/fuzz/<target>.dict when there is one. libFuzzer runs in fork mode and
# goes on after a crash; crashes, timeouts and out-of-memory inputs land in
# $FUZZ_BUILD/artifacts/<target>/. To keep one: minimise it
#   $FUZZ_BUILD/fuzz_<target> -minimize_crash=1 -runs=2000 ARTIFACT
# and copy it to tests/fuzz/corpus/<target>/crash-<what>, where
# tests/fuzz_replay.sh (make check) replays it from then on.
#
# Environment: FUZZ_BUILD, EXTRA_CFLAGS (added to every compile, e.g.
# -fno-sanitize=nonnull-attribute to look past a known bug; use another
# FUZZ_BUILD for it), FUZZ_ARGS (more libFuzzer options).
# Needs clang and its runtime (Debian: clang libclang-rt-14-dev).
set -eu
secs=60
while getopts t:h o; do
  case $o in
    t) secs=$OPTARG ;;
    *) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  esac
done
shift $((OPTIND - 1))
cd "$(dirname "$0")/.."

if ! command -v clang >/dev/null 2>&1; then
  echo "fuzz.sh: clang is not installed; install it with" >&2
  echo "  sudo apt-get install clang libclang-rt-14-dev" >&2
  exit 1
fi
B=${FUZZ_BUILD:-build/fuzz-clang}
EXTRA_CFLAGS=${EXTRA_CFLAGS:-}
mkdir -p "$B"
# The library: the Makefile's own rules, with clang, coverage instrumentation
# and the sanitizers of SAN=1 spelled out here (not SAN=1 itself, so that
# EXTRA_CFLAGS come last and can switch a check off). WERROR off: clang warns
# about other things than gcc, and a warning must not stop a fuzz run.
san="-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined"
make --no-print-directory B="$B" CC=clang WERROR= CFLAGS="-O1 -g $san $EXTRA_CFLAGS" "$B/libomr.a"

pkgs=$(awk '/^PKGS *=/ {on=1; sub(/^PKGS *= */, "")} on {line=$0; c=sub(/\\$/, "", line); printf "%s ", line; if (!c) exit}' Makefile)
pkg_cflags=$(pkg-config --cflags $pkgs)
pkg_libs="$(pkg-config --libs $pkgs) $(pkg-config --libs zint 2>/dev/null || echo -lzint) -lm"

if [ $# = 0 ]; then
  set --
  for f in tests/fuzz/fuzz_*.c; do n=$(basename "$f" .c); set -- "$@" "${n#fuzz_}"; done
fi
# Scratch folders of the targets (fuzz.h); crashed children leave theirs.
tmp=$(mktemp -d /dev/shm/omr-fuzz-run.XXXXXX 2>/dev/null || mktemp -d)
export OMR_FUZZ_TMP="$tmp"
trap 'rm -rf "$tmp"' EXIT INT TERM
summary=""
for t in "$@"; do
  src=tests/fuzz/fuzz_$t.c
  [ -f "$src" ] || { echo "fuzz.sh: no target $src" >&2; exit 1; }
  bin=$B/fuzz_$t
  echo "== $t: build"
  # shellcheck disable=SC2086
  clang -std=c11 -D_GNU_SOURCE -O1 -g -pthread -fno-omit-frame-pointer \
    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined $EXTRA_CFLAGS \
    $pkg_cflags -Iomr -Itests/fuzz -o "$bin" "$src" "$B/libomr.a" $pkg_libs
  work=$B/corpus/$t art=$B/artifacts/$t
  mkdir -p "$work" "$art"
  case $t in
    payload) maxlen=256 ;;
    calib) maxlen=4096 ;;
    template) maxlen=16384 ;;
    *) maxlen=65536 ;;
  esac
  dict=""
  [ -f "tests/fuzz/$t.dict" ] && dict="-dict=tests/fuzz/$t.dict"
  echo "== $t: fuzzing for $secs s"
  log=$B/fuzz_$t.log
  # shellcheck disable=SC2086
  ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1} \
    "$bin" -fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 \
    -max_total_time="$secs" -max_len=$maxlen -timeout=20 -rss_limit_mb=2048 \
    -artifact_prefix="$art/" $dict ${FUZZ_ARGS:-} "$work" "tests/fuzz/corpus/$t" >"$log" 2>&1 || true
  last=$(grep -E '^#[0-9]+: cov' "$log" | tail -n 1)
  execs=$(echo "$last" | sed -n 's/^#\([0-9]*\):.*/\1/p')
  cov=$(echo "$last" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
  oct=$(echo "$last" | sed -n 's/.*oom\/timeout\/crash: \([0-9/]*\).*/\1/p')
  line="$t: ${execs:-?} execs, cov ${cov:-?}, oom/timeout/crash ${oct:-?}, artifacts $(ls "$art" | wc -l), log $log"
  echo "$line"
  summary="$summary$line
"
done
echo "== summary"
printf '%s' "$summary"
