#!/usr/bin/env bash
# tests/stages/package.sh - the Debian package (debian/) and the version.
#
# Builds the package the way the README says (dpkg-buildpackage -us -uc -b)
# from a COPY of the tree (tracked and untracked-but-not-ignored files, as
# they are now) in a temp dir, because dpkg-buildpackage writes into the
# parent of the source directory: the repository and its parent are never
# touched.  Nothing is installed into the system.  One test per check:
#
#   version-debian     debian/changelog's version = meson's project version
#   version-man        the man page's .TH header names the same version
#   version-changelog  CHANGELOG.md's newest section is that version
#   build              dpkg-buildpackage -us -uc -b makes pipedrivefs_V_ARCH.deb
#   build-unit-tests   the build ran the C unit tests (dh_auto_test), all passed
#   contents           dpkg-deb -c: exactly the expected files, modes and owners
#   control            Version, Architecture, Depends (fuse3 and the libraries)
#   lintian-binary     lintian on the .changes (the .debs): no error, no warning
#   lintian-source     lintian on a source package (.dsc) of the same tree: idem
#   run-version        the extracted binary (dpkg-deb -x) prints "pipedrivefs V"
#   unit-file          the extracted user unit runs /usr/bin/pipedrivefs
#   man-page           the extracted man page renders without warnings
#   nocheck            with DEB_BUILD_OPTIONS=nocheck, debian/rules build-arch
#                      (run again in the built tree) runs no test
#   untouched          the repository and its parent are as before
#
# Skips (never passes) when the Debian tools or build dependencies are
# missing (script/bootstrap installs them).  Last line: "N passed, N failed[,
# N skipped]".
#
#   PDFS_PACKAGE_KEEP=1   keep the temp dir (logs, .debs) and say where
set -uo pipefail
cd "$(dirname "$0")/../.."
REPO=$(pwd)
PARENT=$(dirname "$REPO")
PY=/usr/bin/python3
[[ -x $PY ]] || PY=python3

CASES=(version-debian version-man version-changelog build build-unit-tests contents
       control lintian-binary lintian-source run-version unit-file man-page nocheck
       untouched)
PASSED=0
FAILED=0
SKIPPED=0

pass() { PASSED=$((PASSED + 1)); echo "PASS $1"; }
fail() { FAILED=$((FAILED + 1)); echo "FAIL $1: $2"; }
skip() { SKIPPED=$((SKIPPED + 1)); echo "SKIP $1: $2"; }
finish() {
    local line="$PASSED passed, $FAILED failed"
    ((SKIPPED > 0)) && line+=", $SKIPPED skipped"
    echo "$line"
    ((FAILED == 0))
    exit
}
skip_all() {
    echo "package: SKIPPED: $*"
    echo "0 passed, 0 failed, ${#CASES[@]} skipped"
    exit 0
}
# Indented excerpt of a log for a failure.
show() { sed 's/^/    /' "$1" | tail -n "${2:-20}"; }

for tool in dpkg-buildpackage dpkg-deb dpkg-parsechangelog dpkg-checkbuilddeps dpkg-source \
            dh lintian meson man; do
    command -v "$tool" >/dev/null 2>&1 ||
        skip_all "$tool is not installed (script/bootstrap installs it)"
done
if ! missing=$(dpkg-checkbuilddeps debian/control 2>&1); then
    skip_all "build dependencies missing: ${missing#*: } (run script/bootstrap)"
fi

WORK=$(mktemp -d -t pdfs-package.XXXXXX)
if [[ ${PDFS_PACKAGE_KEEP:-0} == 1 ]]; then
    trap 'echo "package: kept $WORK"' EXIT
else
    trap 'rm -rf "$WORK"' EXIT
fi

# What must stay as it is: our build products next to the repository, and
# the repository's own state (ignored files included: no obj-*/, no debian/files).
parent_state() { (cd "$PARENT" && ls -A | grep -E '^pipedrivefs[-_]' | sort); }
repo_state() { git -C "$REPO" status --porcelain --ignored 2>/dev/null | sort; }
PARENT_BEFORE=$(parent_state)
REPO_BEFORE=$(repo_state)

# Copy the tree as it is now into DIR/pipedrivefs.
copy_tree() {
    local dest=$1/pipedrivefs
    mkdir -p "$dest"
    if git -C "$REPO" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
        git -C "$REPO" ls-files -z --cached --others --exclude-standard |
            while IFS= read -r -d '' f; do
                [[ -e $f || -L $f ]] && printf '%s\0' "$f"
            done |
            tar --null -T - -cf - | tar -xf - -C "$dest"
    else
        tar --exclude='./build*' --exclude='./obj-*' --exclude=./.git \
            --exclude=./tests/vcard/node_modules -cf - . | tar -xf - -C "$dest"
    fi
}

# ---- versions (from the tree itself)
VERSION=$(meson introspect --projectinfo meson.build 2>/dev/null |
          "$PY" -c 'import json, sys; print(json.load(sys.stdin)["version"])' 2>/dev/null)
if [[ -z $VERSION ]]; then
    echo "package: cannot read the project version from meson.build"
    echo "0 passed, ${#CASES[@]} failed"
    exit 1
fi
ARCH=$(dpkg --print-architecture)
echo "package: meson project version $VERSION, architecture $ARCH"

deb_version=$(dpkg-parsechangelog -l debian/changelog -S Version 2>/dev/null)
if [[ $deb_version == "$VERSION" ]]; then
    pass "version-debian: debian/changelog says $deb_version"
else
    fail version-debian "debian/changelog says '$deb_version', meson.build says '$VERSION' (native package: they must be equal; dch -v $VERSION)"
fi

th=$(grep -m1 '^\.TH ' docs/pipedrivefs.1)
if [[ $th =~ \"pipedrivefs\ ([^\"]+)\" ]] && [[ ${BASH_REMATCH[1]} == "$VERSION" ]]; then
    pass "version-man: $th"
else
    fail version-man "docs/pipedrivefs.1 header is '$th'; its fourth field must be \"pipedrivefs $VERSION\""
fi

newest=$(grep -m1 -E '^## \[[0-9]' CHANGELOG.md 2>/dev/null)
if [[ $newest =~ ^'## ['([^]]+)']' ]] && [[ ${BASH_REMATCH[1]} == "$VERSION" ]]; then
    pass "version-changelog: $newest"
else
    fail version-changelog "CHANGELOG.md's newest version section is '${newest:-missing}', expected '## [$VERSION] - DATE or Unreleased'"
fi

# ---- the source package, from a clean copy (for lintian-source)
mkdir -p "$WORK/src"
copy_tree "$WORK/src"
(cd "$WORK/src" && dpkg-source -Zgzip -z1 --build pipedrivefs) >"$WORK/source.log" 2>&1
DSC="$WORK/src/pipedrivefs_$VERSION.dsc"

# ---- the binary package
mkdir -p "$WORK/a"
copy_tree "$WORK/a"
started=$SECONDS
rc=0
(cd "$WORK/a/pipedrivefs" &&
    env -u DEB_BUILD_OPTIONS -u DEB_BUILD_PROFILES dpkg-buildpackage -us -uc -b) \
    >"$WORK/build.log" 2>&1 || rc=$?
DEB="$WORK/a/pipedrivefs_${VERSION}_$ARCH.deb"
CHANGES="$WORK/a/pipedrivefs_${VERSION}_$ARCH.changes"
if ((rc == 0)) && [[ -f $DEB ]]; then
    pass "build: $(basename "$DEB") in $((SECONDS - started)) s"
else
    fail build "dpkg-buildpackage exited $rc; $(basename "$DEB") $( [[ -f $DEB ]] && echo exists || echo 'is missing'); outputs: $(cd "$WORK/a" && ls | grep -v '^pipedrivefs$' | tr '\n' ' ')"
    show "$WORK/build.log" 30
    for c in "${CASES[@]:4:10}"; do
        [[ $c == untouched ]] || skip "$c" "no package was built"
    done
    if [[ $(parent_state) == "$PARENT_BEFORE" && $(repo_state) == "$REPO_BEFORE" ]]; then
        pass untouched
    else
        fail untouched "the repository or its parent changed"
    fi
    finish
fi

# The unit tests ran, inside the package build, and none failed.
tests_ok=$(awk '/^Ok:/ { print $2 }' "$WORK/build.log" | tail -n 1)
tests_failed=$(awk '/^(Fail|Timeout|Unexpected Pass):/ { n += $NF } END { print n + 0 }' "$WORK/build.log")
if grep -q 'meson test' "$WORK/build.log" && ((${tests_ok:-0} > 0 && tests_failed == 0)); then
    pass "build-unit-tests: $tests_ok unit tests passed in dh_auto_test"
else
    fail build-unit-tests "expected 'meson test' with passing tests in the build log (Ok: ${tests_ok:-none}, failed: $tests_failed)"
    grep -A12 'meson test' "$WORK/build.log" | sed 's/^/    /' | head -n 20
fi

# ---- what the package holds
# Documentation may or may not be compressed (dh_compress leaves files
# under 4 KiB alone), so ".gz" is dropped there before comparing.
EXPECTED="-rwxr-xr-x root/root ./usr/bin/pipedrivefs
-rw-r--r-- root/root ./usr/lib/systemd/user/pipedrivefs@.service
-rw-r--r-- root/root ./usr/share/doc/pipedrivefs/CHANGELOG.md
-rw-r--r-- root/root ./usr/share/doc/pipedrivefs/README.md
-rw-r--r-- root/root ./usr/share/doc/pipedrivefs/changelog
-rw-r--r-- root/root ./usr/share/doc/pipedrivefs/copyright
-rw-r--r-- root/root ./usr/share/doc/pipedrivefs/status.md
-rw-r--r-- root/root ./usr/share/doc/pipedrivefs/vcard.md
-rw-r--r-- root/root ./usr/share/man/man1/pipedrivefs.1.gz"
dpkg-deb -c "$DEB" >"$WORK/contents.txt"
actual=$(awk '$1 !~ /^d/ { p = $6; if (p ~ /^\.\/usr\/share\/doc\//) sub(/\.gz$/, "", p);
                           print $1, $2, p }' "$WORK/contents.txt" | sort)
expected=$(sort <<<"$EXPECTED")
if [[ $actual == "$expected" ]]; then
    pass "contents: $(wc -l <<<"$actual") files as expected"
else
    fail contents "dpkg-deb -c differs from the expected list (< expected, > actual):"
    diff <(echo "$expected") <(echo "$actual") | grep '^[<>]' | sed 's/^/    /'
fi

field() { dpkg-deb -f "$DEB" "$1"; }
depends=$(field Depends)
problems=()
[[ $(field Version) == "$VERSION" ]] || problems+=("Version is '$(field Version)'")
[[ $(field Architecture) == "$ARCH" ]] || problems+=("Architecture is '$(field Architecture)'")
for dep in fuse3 libc6 libfuse3-3 libcurl4 libjson-c5; do
    grep -Eq "(^|, )$dep( |,|$)" <<<"$depends" || problems+=("Depends lacks $dep")
done
if ((${#problems[@]} == 0)); then
    pass "control: Depends: $depends"
else
    fail control "$(IFS=';'; echo "${problems[*]}") (Depends: $depends)"
fi

# ---- lintian (it warns about running as root: not a finding)
run_lintian() {  # run_lintian NAME FILE
    local name=$1 file=$2 log="$WORK/$1.log" rc=0
    if [[ ! -f $file ]]; then
        fail "$name" "$(basename "$file") was not built"
        [[ $name == lintian-source ]] && show "$WORK/source.log" 10
        return
    fi
    local started=$SECONDS
    lintian --fail-on error,warning --display-info --pedantic "$file" >"$log" 2>"$log.err" || rc=$?
    local errors warnings others
    errors=$(grep -c '^E: ' "$log")
    warnings=$(grep -c '^W: ' "$log")
    others=$(grep -vc '^[EW]: ' "$log")
    if ((rc == 0 && errors == 0 && warnings == 0)); then
        pass "$name: $(basename "$file"): 0 errors, 0 warnings, $others info/pedantic tags ($((SECONDS - started)) s)"
    else
        fail "$name" "$(basename "$file"): exit $rc, $errors errors, $warnings warnings"
        grep -v 'running with root privileges' "$log.err" | sed 's/^/    /' | head -n 5
    fi
    sed 's/^/    /' "$log" | head -n 30
}
run_lintian lintian-binary "$CHANGES"
run_lintian lintian-source "$DSC"

# ---- the extracted package (never installed)
X="$WORK/extracted"
dpkg-deb -x "$DEB" "$X"
out=$("$X/usr/bin/pipedrivefs" --version 2>&1)
rc=$?
if ((rc == 0)) && [[ $(head -n 1 <<<"$out") == "pipedrivefs $VERSION" ]]; then
    pass "run-version: $(head -n 1 <<<"$out") (exit 0)"
else
    fail run-version "$X/usr/bin/pipedrivefs --version exited $rc, printed: $(head -n 3 <<<"$out")"
fi

unit="$X/usr/lib/systemd/user/pipedrivefs@.service"
exec_start=$(grep -m1 '^ExecStart=' "$unit" 2>/dev/null)
if [[ $exec_start == 'ExecStart=/usr/bin/pipedrivefs '* ]] && ! grep -q '@BINDIR@' "$unit"; then
    pass "unit-file: $exec_start"
else
    fail unit-file "expected ExecStart=/usr/bin/pipedrivefs ..., got '${exec_start:-no ExecStart}'"
fi

man_err=$(MANWIDTH=80 MANPAGER=cat PAGER=cat man --warnings -l \
          "$X/usr/share/man/man1/pipedrivefs.1.gz" 2>&1 >"$WORK/man.txt")
if [[ -z $man_err ]] && grep -q 'token_command' "$WORK/man.txt" &&
   grep -q "pipedrivefs $VERSION" "$WORK/man.txt"; then
    pass "man-page: renders without warnings, footer names pipedrivefs $VERSION"
else
    fail man-page "man --warnings: ${man_err:-no warnings, but the text lacks token_command or the version}"
fi

# ---- nocheck: the build sequence again, in the built tree (cheap: nothing
# to compile), must leave the tests out
rc=0
(cd "$WORK/a/pipedrivefs" && rm -f debian/debhelper-build-stamp &&
    env -u DEB_BUILD_PROFILES DEB_BUILD_OPTIONS=nocheck debian/rules build-arch) \
    >"$WORK/build-nocheck.log" 2>&1 || rc=$?
if ((rc != 0)); then
    fail nocheck "DEB_BUILD_OPTIONS=nocheck debian/rules build-arch exited $rc"
    show "$WORK/build-nocheck.log" 20
elif grep -Eq 'meson test|pytest' "$WORK/build-nocheck.log"; then
    fail nocheck "DEB_BUILD_OPTIONS=nocheck, but the build ran tests:"
    grep -E 'meson test|pytest' "$WORK/build-nocheck.log" | sed 's/^/    /' | head -n 5
elif ! grep -q 'dh_auto_build' "$WORK/build-nocheck.log"; then
    fail nocheck "the build sequence did not run again (no dh_auto_build in the log)"
    show "$WORK/build-nocheck.log" 20
else
    pass "nocheck: the build sequence ran without dh_auto_test"
fi

# ---- nothing outside the temp dir changed
if [[ $(parent_state) == "$PARENT_BEFORE" && $(repo_state) == "$REPO_BEFORE" ]]; then
    pass "untouched: $REPO and $PARENT/pipedrivefs* as before (stage: $SECONDS s)"
else
    fail untouched "changed: parent [$(diff <(echo "$PARENT_BEFORE") <(parent_state) | grep '^[<>]' | tr '\n' ' ')] repository [$(diff <(echo "$REPO_BEFORE") <(repo_state) | grep '^[<>]' | tr '\n' ' ')]"
fi

finish
