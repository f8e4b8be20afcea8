#!/usr/bin/env bash
# tests/stages/valgrind.sh - the foundation, write, disk cache and streaming mount tests with the
# daemon under valgrind (memcheck).  Every daemon the tests start runs through a wrapper
# that execs valgrind with one log per process; the stage fails if a test
# fails or any log shows a memory error or a definite/indirect leak.
#
# Counts: one test per pytest case (from its junit XML) plus one test
# "valgrind logs clean".  Skips (never passes) when valgrind, the daemon
# binary or FUSE is missing.  Last line: "N passed, N failed[, N skipped]".
#
#   PDFS_BUILD=build     build directory holding pipedrivefs (script/test sets it)
#   PDFS_VALGRIND_KEEP=1 keep the temp dir with the logs
set -uo pipefail
cd "$(dirname "$0")/../.."
REPO=$(pwd)
PY=/usr/bin/python3
[[ -x $PY ]] || PY=python3
BUILD=${PDFS_BUILD:-build}
BIN="$REPO/$BUILD/pipedrivefs"
[[ $BUILD = /* ]] && BIN="$BUILD/pipedrivefs"
# the read path, and the write path (-o rw: files, renames, the writeback
# thread, the journal)
TEST_FILES=(tests/mount/test_foundation.py tests/mount/test_write.py
            tests/mount/test_write_journal.py
            tests/mount/test_persist.py tests/mount/test_stream.py)
# the disk cache (store, bytecache, restarts, offline) and streamed listings

# Tests left out under valgrind, each with the reason (pytest -k).  Valgrind
# makes the daemon 20-50x slower; the wall-clock assertions of
#   test_cached_read_not_blocked_by_slow_walk   (cached reads < 1.0 s)
#   test_change_shows_after_ttl_and_not_before  (checks inside a 2 s TTL)
# were the candidates, but both pass under memcheck even with both cores
# busy (2025-11-26), so nothing is excluded.  Add a name here, with its
# reason, if one turns flaky:
EXCLUDED=(
)

skip() {
    echo "valgrind: SKIPPED: $*"
    echo "0 passed, 0 failed, 1 skipped"
    exit 0
}

command -v valgrind >/dev/null 2>&1 || skip "valgrind is not installed"
[[ -x $BIN ]] || skip "$BIN does not exist (run script/build $BUILD)"
[[ -e /dev/fuse ]] || skip "/dev/fuse does not exist"
command -v fusermount3 >/dev/null 2>&1 || skip "fusermount3 is not on PATH"
for f in "${TEST_FILES[@]}"; do
    [[ -f $f ]] || skip "$f does not exist"
done

WORK=$(mktemp -d -t pdfs-valgrind.XXXXXX)
if [[ ${PDFS_VALGRIND_KEEP:-0} == 1 ]]; then
    trap 'echo "valgrind: logs kept in $WORK"' EXIT
else
    trap 'rm -rf "$WORK"' EXIT
fi
mkdir -p "$WORK/logs"
WRAPPER="$WORK/pipedrivefs-valgrind"
cat >"$WRAPPER" <<EOF
#!/bin/sh
exec valgrind --quiet --leak-check=full --show-leak-kinds=definite,indirect \\
    --errors-for-leak-kinds=definite,indirect --error-exitcode=99 \\
    --log-file="$WORK/logs/vg.%p.log" "$BIN" "\$@"
EOF
chmod +x "$WRAPPER"

deselect=""
for t in ${EXCLUDED[@]+"${EXCLUDED[@]}"}; do
    deselect+="${deselect:+ or }$t"
    echo "valgrind: excluded $t (timing-sensitive, see $0)"
done

# Two pytest workers (valgrind keeps a core busy per daemon); PDFS_TEST_JOBS=1
# runs them one at a time.
xdist=()
if (( ${PDFS_TEST_JOBS:-2} > 1 )) && "$PY" -c 'import xdist' 2>/dev/null; then
    xdist=(-n 2)
fi
echo "valgrind: pytest ${TEST_FILES[*]} with PIPEDRIVEFS_BIN=$WRAPPER"
XML="$WORK/junit.xml"
rc=0
PDFS_UNMOUNT_TIMEOUT=60 PIPEDRIVEFS_BIN="$WRAPPER" "$PY" -m pytest "${TEST_FILES[@]}" -q -m "not slow" ${xdist[@]+"${xdist[@]}"} \
    -p no:cacheprovider ${deselect:+-k "not ($deselect)"} --junitxml="$XML" || rc=$?

read -r p f s < <("$PY" - "$XML" <<'EOF'
import sys, xml.etree.ElementTree as ET
try:
    root = ET.parse(sys.argv[1]).getroot()
except Exception:
    print(0, 0, 0)
    sys.exit()
suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
t = f = e = s = 0
for su in suites:
    t += int(su.get("tests", 0)); f += int(su.get("failures", 0))
    e += int(su.get("errors", 0)); s += int(su.get("skipped", 0))
print(max(t - f - e - s, 0), f + e, s)
EOF
)
# 0 ok, 1 tests failed, 5 nothing collected; anything else is a failure
if { ((rc != 0 && rc != 1 && rc != 5)) || ((rc == 1 && f == 0)); }; then
    echo "valgrind: pytest exited $rc"
    f=$((f + 1))
fi

# ---- the valgrind logs
shopt -s nullglob
logs=("$WORK"/logs/vg.*.log)
shopt -u nullglob
bad=0
errors_total=0
leaks_total=0
for log in "${logs[@]}"; do
    # Error records (with --quiet only problems are printed) and the leak
    # records of the kinds we count; "Warning:" lines (e.g. unhandled FUSE
    # ioctls) are not errors.
    errs=$(grep -cE '^==[0-9]+== (Invalid (read|write|free)|Mismatched free|Conditional jump|Use of uninitialised|Syscall param|Source and destination overlap|Argument .* of function|.*uninitialised value)' "$log")
    summary=$(sed -nE 's/^==[0-9]+== ERROR SUMMARY: ([0-9]+) errors.*/\1/p' "$log" | tail -n 1)
    leaks=$(grep -cE 'are (definitely|indirectly) lost in loss record' "$log")
    lost=$(grep -E '(definitely|indirectly) lost: [1-9]' "$log" | head -n 2)
    ((${summary:-0} > errs)) && errs=$summary
    if ((errs > 0 || leaks > 0)) || [[ -n $lost ]]; then
        bad=$((bad + 1))
        errors_total=$((errors_total + errs))
        leaks_total=$((leaks_total + leaks))
        echo "valgrind: $(basename "$log"): $errs error(s), $leaks leak record(s)"
        grep -vE '^==[0-9]+== *$' "$log" | head -n 40 | cut -c1-200 | sed 's/^/    /'
    fi
done
echo "valgrind: ${#logs[@]} daemon process(es) checked, $bad with problems" \
     "($errors_total errors, $leaks_total definite/indirect leak records)"
if ((${#logs[@]} == 0 && p > 0)); then
    echo "valgrind: no logs at all - the wrapper was not used?"
    bad=1
fi
if ((bad == 0)); then
    p=$((p + 1))
else
    f=$((f + 1))
fi

line="$p passed, $f failed"
((s > 0)) && line+=", $s skipped"
echo "$line"
((f == 0))
