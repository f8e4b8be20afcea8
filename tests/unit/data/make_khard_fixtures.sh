#!/usr/bin/env bash
# tests/unit/data/make_khard_fixtures.sh - regenerate the khard fixtures of
# tests/unit/test_person_edit.c (run by hand; the unit tests only read them).
#
#   khard-before-{3.0,4.0}.vcf  khard-person.json rendered by src/person.c +
#                               src/vcard.c with khard-fields.json as the
#                               company's personFields and ORG "Acme, Inc.; EMEA"
#   khard-after-{3.0,4.0}.vcf   the same card after `khard edit` with an EDITOR
#                               script that changes one phone number
#                               (+49 170 7654321 -> +49 170 1111111)
#   khard-new.vcf               `khard new -i khard-new.yaml` (a new contact)
#
# Needs khard (Debian 12: 0.18.0), cc and json-c.  The fixtures are committed:
# rerun only when the renderer's output for this person changes on purpose.
set -euo pipefail
DATA=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$DATA/../../.." && pwd)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

cat >"$WORK/render.c" <<'C'
#include <stdio.h>
#include <string.h>
#include "meta.h"
#include "person.h"
int main(int argc, char **argv)
{
	(void)argc;
	struct json_object *p = json_object_from_file(argv[1]);
	struct json_object *f = json_object_from_file(argv[2]);
	struct meta *m = meta_new(60);
	meta_person_fields_store(m, f);
	struct person_render r = { .version = strcmp(argv[3], "4.0") == 0 ? VCARD_V40 : VCARD_V30,
				   .company = "acme", .meta = m };
	int err;
	struct person *pe = person_from_json(p, &r, argv[4], &err);
	if (!pe)
		return 1;
	fwrite(pe->vcf, 1, pe->vcf_len, stdout);
	return 0;
}
C
S="$REPO/src"
cc -D_GNU_SOURCE -I"$REPO/include" $(pkg-config --cflags json-c) "$WORK/render.c" \
    "$S/person.c" "$S/vcard.c" "$S/meta.c" "$S/idtable.c" "$S/strbuf.c" "$S/utf8.c" \
    "$S/sha1.c" "$S/jsonfmt.c" "$S/names.c" $(pkg-config --libs json-c) -lpthread -o "$WORK/render"

cat >"$WORK/editor.sh" <<'SH'
#!/bin/sh
sed -i 's/+49 170 7654321/+49 170 1111111/' "$1"
SH
chmod +x "$WORK/editor.sh"

mkdir -p "$WORK/book3.0" "$WORK/book4.0" "$WORK/booknew"
cat >"$WORK/khard.conf" <<CONF
[addressbooks]
[[book3.0]]
path = $WORK/book3.0
[[book4.0]]
path = $WORK/book4.0
[[booknew]]
path = $WORK/booknew
[general]
editor = $WORK/editor.sh
merge_editor = /bin/false
[vcard]
preferred_version = 3.0
CONF

for v in 3.0 4.0; do
    "$WORK/render" "$DATA/khard-person.json" "$DATA/khard-fields.json" "$v" \
        "Acme, Inc.; EMEA" >"$DATA/khard-before-$v.vcf"
    cp "$DATA/khard-before-$v.vcf" "$WORK/book$v/42.vcf"
    uid=$(sed -n 's/^UID:\(.*\)\r$/\1/p' "$WORK/book$v/42.vcf")
    EDITOR="$WORK/editor.sh" khard -c "$WORK/khard.conf" edit -a "book$v" "uid:$uid" >/dev/null
    cp "$WORK/book$v/42.vcf" "$DATA/khard-after-$v.vcf"
done
khard -c "$WORK/khard.conf" new -a booknew -i "$DATA/khard-new.yaml" >/dev/null 2>&1
cp "$WORK"/booknew/*.vcf "$DATA/khard-new.vcf"
echo "fixtures written to $DATA"
