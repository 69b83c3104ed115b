#!/usr/bin/env bash
# scripts/fuzz.sh [SECONDS]   (default 60)
# Fuzz the backend-independent page decoder (src/jsonpage.c, over json-c)
# with libFuzzer.  Builds test/fuzz/fuzz_jsonpage.c with clang-14 +
# ASan/UBSan against the system's json-c (pkg-config), runs it on a
# temporary copy of test/fuzz/corpus/ (the repository is not modified unless
# something is found).  The chunked-vs-whole differential oracle is on
# (CL_FUZZ_DIFFERENTIAL=0 turns it off), and so is the check that the
# parser's memory estimate covers what json-c allocates.  On a crash, leak,
# timeout or OOM the input is copied
# to test/fuzz/regressions/ (which the unit tests replay) and the script
# exits 1.  Works from any directory.
set -euo pipefail

SECONDS_TO_RUN=${1:-60}
case $SECONDS_TO_RUN in (*[!0-9]*|'') echo "usage: $0 [SECONDS]" >&2; exit 2;; esac

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CC=${FUZZ_CC:-clang-14}

have_runtime() {
  command -v "$CC" >/dev/null 2>&1 || return 1
  local d; d=$("$CC" -print-resource-dir 2>/dev/null) || return 1
  compgen -G "$d/lib/linux/libclang_rt.fuzzer-$(uname -m).a" >/dev/null
}
if ! have_runtime; then
  echo "fuzz: installing clang-14 and libclang-rt-14-dev" >&2
  if [ "$(id -u)" -eq 0 ]; then SUDO=; else SUDO=sudo; fi
  $SUDO apt-get install -y clang-14 libclang-rt-14-dev >&2 ||
    { $SUDO apt-get update >&2 && $SUDO apt-get install -y clang-14 libclang-rt-14-dev >&2; }
  have_runtime || { echo "fuzz: clang-14 libFuzzer runtime not available" >&2; exit 1; }
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/callogs-fuzz.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/corpus" "$WORK/artifacts"
cp -p "$REPO"/test/fuzz/corpus/* "$WORK/corpus/" 2>/dev/null || true

# json-c itself is Debian's build (not instrumented): its bugs show as
# crashes or ASan reports in our frames, its leaks through LeakSanitizer.
"$CC" -g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined \
  -fno-sanitize-recover=undefined \
  -I"$REPO/src" $(pkg-config --cflags json-c) \
  "$REPO/test/fuzz/fuzz_jsonpage.c" "$REPO/src/jsonpage.c" \
  $(pkg-config --libs json-c) \
  -o "$WORK/fuzz_jsonpage"

echo "fuzz: running for ${SECONDS_TO_RUN}s on $(ls "$WORK/corpus" | wc -l) seed(s)"
rc=0
( cd "$WORK" &&
  ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1} \
  UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
  ./fuzz_jsonpage -max_total_time="$SECONDS_TO_RUN" -max_len=65536 -timeout=10 \
    -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$WORK/artifacts/" \
    corpus ) >"$WORK/fuzz.log" 2>&1 || rc=$?

# summary: the last coverage line, run count and final stats
grep -E '^#[0-9]+' "$WORK/fuzz.log" | tail -n 1 || true
grep -E '^Done [0-9]+ runs' "$WORK/fuzz.log" || true
grep -E '^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)' "$WORK/fuzz.log" || true
echo "fuzz: corpus grew from $(ls "$REPO"/test/fuzz/corpus | wc -l) to $(ls "$WORK/corpus" | wc -l) inputs"

found=0
for f in "$WORK"/artifacts/*; do
  [ -f "$f" ] || continue
  found=1
  mkdir -p "$REPO/test/fuzz/regressions"
  cp "$f" "$REPO/test/fuzz/regressions/"
  echo "fuzz: FOUND $(basename "$f") -> test/fuzz/regressions/$(basename "$f")"
done
if [ "$found" -ne 0 ] || [ "$rc" -ne 0 ]; then
  echo "fuzz: FAILED (libFuzzer exit $rc); log tail:"
  grep -nE 'ERROR|SUMMARY|runtime error|==[0-9]+==' "$WORK/fuzz.log" | head -n 20 || true
  tail -n 40 "$WORK/fuzz.log"
  exit 1
fi
echo "fuzz: OK, no crash in ${SECONDS_TO_RUN}s"
