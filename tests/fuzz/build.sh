#!/usr/bin/env bash
# tests/fuzz/build.sh OUTDIR - build the libFuzzer harnesses into OUTDIR.
#
# The needed src/*.c are compiled straight into each harness with clang
# (-fsanitize=fuzzer,address,undefined; UBSan findings abort), so meson is
# not involved.  Prints one line per harness; exits non-zero if any fails.
#   CC=clang-14 tests/fuzz/build.sh build-fuzz
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${1:?usage: tests/fuzz/build.sh OUTDIR}
CC=${CC:-clang}
mkdir -p "$OUT"

read -r -a JSON_CFLAGS <<<"$(pkg-config --cflags json-c)"
read -r -a JSON_LIBS <<<"$(pkg-config --libs json-c)"
CFLAGS=(-g -O1 -std=gnu17 -fno-omit-frame-pointer
        -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
        -D_GNU_SOURCE "-DPDFS_VERSION=\"fuzz\"" -I"$REPO/include" "${JSON_CFLAGS[@]}")
# The pure modules; every harness gets the same set (unused code is harmless).
CORE=(vcard vcard_text vcard_date vcard_lists sha1 strbuf utf8 person person_scan jsonfmt names meta meta_fields fieldtext idtable ratelimit arena jsonscan jsonscan_read jsonscan_page walkguard store_codec
      vcard_parse vcard_prop card_model card_entry field_text
      person_edit_json person_edit_vcard person_edit_lists)
SRCS=()
for m in "${CORE[@]}"; do SRCS+=("$REPO/src/$m.c"); done

rc=0
for h in fuzz_vcard fuzz_person fuzz_text fuzz_jsonfmt fuzz_ratelimit fuzz_jsonscan fuzz_walkguard fuzz_vcard_parse fuzz_store_codec; do
    if "$CC" "${CFLAGS[@]}" "$REPO/tests/fuzz/$h.c" "${SRCS[@]}" \
            "${JSON_LIBS[@]}" -lpthread -lm -o "$OUT/$h"; then
        echo "built $OUT/$h"
    else
        echo "FAILED to build $h" >&2
        rc=1
    fi
done
exit $rc
