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
# Needs khard (Debian 12: 0.18.0) and cc.  The fixtures are committed:
# rerun only when the renderer's output for this person changes on purpose.
set -euo pipefail
DATA=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$DATA/../../.." && pwd)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

cat >"$WORK/render.c" <<'C'
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "meta.h"
#include "person.h"
static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	struct strbuf b = STRBUF_INIT;
	char chunk[4096];
	size_t got;
	while (f && (got = fread(chunk, 1, sizeof(chunk), f)) > 0)
		sb_append(&b, chunk, got);
	if (f)
		fclose(f);
	return sb_detach(&b, len);
}
int main(int argc, char **argv)
{
	(void)argc;
	size_t plen, flen;
	char *p = slurp(argv[1], &plen), *f = slurp(argv[2], &flen);
	struct meta *m = meta_new();
	if (!p || !f || !m || meta_person_fields_store_text(m, f, flen) != 0)
		return 1;
	struct person_render r = { .version = strcmp(argv[3], "4.0") == 0 ? VCARD_V40 : VCARD_V30,
				   .company = "acme", .meta = m, .keep_vcf = true };
	struct person_style *style = person_style_new(&r);
	int err;
	struct person *pe = person_from_text(p, plen, style, &err);
	if (!pe)
		return 1;
	/* the organization shows argv[4] */
	meta_name_store(m, META_ORG, pe->org_id, argv[4], 1.0);
	struct person *named = person_rebuild(pe, &err);
	struct strbuf card = STRBUF_INIT;
	if (!named || person_vcf(named, &card) != 0)
		return 1;
	fwrite(card.data, 1, card.len, stdout);
	return 0;
}
C
S="$REPO/src"
SRCS=""
for m in person person_scan vcard vcard_text vcard_date vcard_lists meta meta_fields fieldtext idtable strbuf \
         utf8 sha1 jsonfmt jsonscan jsonscan_read jsonscan_page arena names; do
    SRCS="$SRCS $S/$m.c"
done
cc -D_GNU_SOURCE -I"$REPO/include" "$WORK/render.c" $SRCS -lpthread -lm -o "$WORK/render"

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
