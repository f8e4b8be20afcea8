#!/usr/bin/env bash
# tests/stages/fuzz.sh - build the libFuzzer harnesses (tests/fuzz/) and run
# each one briefly.  One test per harness; it fails if
#   - a reproducer in tests/fuzz/regressions/<harness>/ still crashes,
#   - a huge generated seed (tests/fuzz/seeds.py huge) crashes, or
#   - libFuzzer finds a crash / leak / timeout / OOM within the time box.
# Fuzzing works on a COPY of tests/fuzz/corpus in build-fuzz/, so the repo is
# never modified; crash inputs land in build-fuzz/artifacts/.
# If clang or its fuzzer runtime is missing, every harness is reported as
# skipped (never as passed).  Last line: "N passed, N failed[, N skipped]".
#
#   PDFS_FUZZ_TIME=20      seconds of fuzzing per harness
#   PDFS_FUZZ_DIR=build-fuzz
set -uo pipefail
cd "$(dirname "$0")/../.."
REPO=$(pwd)

HARNESSES=(fuzz_vcard fuzz_person fuzz_text fuzz_jsonfmt fuzz_ratelimit fuzz_jsonscan fuzz_walkguard
           fuzz_vcard_parse fuzz_store_codec)
TIME=${PDFS_FUZZ_TIME:-20}
OUT=${PDFS_FUZZ_DIR:-build-fuzz}
CC=${CC:-clang}
PY=/usr/bin/python3
[[ -x $PY ]] || PY=python3

skip_all() {
    echo "fuzz: SKIPPED: $*"
    echo "0 passed, 0 failed, ${#HARNESSES[@]} skipped"
    exit 0
}

# ---- is there a clang with libFuzzer?
command -v "$CC" >/dev/null 2>&1 || skip_all "$CC not found (install clang)"
command -v pkg-config >/dev/null 2>&1 && pkg-config --exists json-c ||
    skip_all "json-c development files not found (pkg-config json-c)"
mkdir -p "$OUT"
probe_dir=$(mktemp -d)
trap 'rm -rf "$probe_dir"' EXIT
printf '%s\n' '#include <stddef.h>' '#include <stdint.h>' \
    'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }' \
    >"$probe_dir/probe.c"
if ! "$CC" -fsanitize=fuzzer,address,undefined "$probe_dir/probe.c" -o "$probe_dir/probe" \
        >"$probe_dir/probe.log" 2>&1; then
    sed 's/^/    /' "$probe_dir/probe.log" | head -5
    skip_all "$CC cannot link -fsanitize=fuzzer,address,undefined (libclang-rt / compiler-rt fuzzer runtime missing)"
fi
if ! "$probe_dir/probe" -runs=1 >"$probe_dir/run.log" 2>&1; then
    sed 's/^/    /' "$probe_dir/run.log" | head -5
    skip_all "a trivial fuzzer does not run here (ASan needs a working /proc and ptrace-free mappings)"
fi

# ---- build
echo "fuzz: building the harnesses into $OUT/"
if ! CC=$CC tests/fuzz/build.sh "$OUT"; then
    echo "fuzz: build failed"
    echo "0 passed, ${#HARNESSES[@]} failed"
    exit 1
fi

# ---- inputs: a fresh copy of the corpus, the huge seeds
rm -rf "$OUT/corpus" "$OUT/huge" "$OUT/logs"
mkdir -p "$OUT/corpus" "$OUT/logs" "$OUT/artifacts"
cp -r tests/fuzz/corpus/. "$OUT/corpus/"
if ! "$PY" tests/fuzz/seeds.py huge "$OUT/huge" >"$OUT/logs/seeds.log" 2>&1; then
    echo "fuzz: could not generate the huge seeds:"
    sed 's/^/    /' "$OUT/logs/seeds.log"
fi

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# Print the interesting part of a libFuzzer log.
report() {  # report LOG
    grep -E -A2 'FUZZ CHECK FAILED|ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:' "$1" |
        grep -vE '^ +#[0-9]+ |^--$' | head -n 8 | cut -c1-300 | sed 's/^/    /'
    grep -E '^    #[0-9]+ .* in ' "$1" | grep -v -E 'libFuzzer|fuzzer::|__sanitizer|libc\.so|_start' |
        head -n 8 | cut -c1-200 | sed 's/^/    /'
}

passed=0
failed=0
for h in "${HARNESSES[@]}"; do
    bin="$OUT/$h"
    ok=1
    why=""

    # 1. known reproducers and huge seeds: each must run clean
    fixed=()
    shopt -s nullglob
    fixed+=(tests/fuzz/regressions/"$h"/* "$OUT"/huge/"$h"/*)
    shopt -u nullglob
    if ((${#fixed[@]} > 0)); then
        log="$OUT/logs/$h.fixed.log"
        for f in "${fixed[@]}"; do
            if ! "$bin" -rss_limit_mb=2048 -timeout=120 "$f" >"$log" 2>&1; then
                ok=0
                why+="input $f crashes; "
                echo "  $h: FAILED on $f"
                report "$log"
            fi
        done
    fi

    # 2. fuzz for a fixed time on the corpus copy
    log="$OUT/logs/$h.log"
    rc=0
    "$bin" -max_total_time="$TIME" -rss_limit_mb=2048 -max_len=65536 -timeout=10 \
        -print_final_stats=1 -artifact_prefix="$OUT/artifacts/$h-" \
        "$OUT/corpus/$h" >"$log" 2>&1 || rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    if [[ -z $execs ]]; then
        execs=$(grep -oE '^#[0-9]+' "$log" | tail -n 1 | tr -d '#')
    fi
    corpus=$(find "$OUT/corpus/$h" -type f | wc -l)
    if ((rc != 0)); then
        ok=0
        artifact=$(grep -oE "Test unit written to [^ ]+" "$log" | tail -n 1 | sed 's/Test unit written to //')
        why+="fuzzing found a problem (exit $rc${artifact:+, input $artifact}); "
        echo "  $h: fuzzing FAILED after ${execs:-?} executions; log $log"
        report "$log"
    fi
    if ((ok)); then
        passed=$((passed + 1))
        echo "PASS $h: ${execs:-?} executions in ${TIME}s, corpus $corpus files, ${#fixed[@]} fixed inputs clean"
    else
        failed=$((failed + 1))
        echo "FAIL $h: ${execs:-?} executions; ${why%; }"
    fi
done

echo "$passed passed, $failed failed"
((failed == 0))
