/*
 * vcard_parse.c - one vCard 3.0/4.0 text -> properties (see vcard_parse.h).
 *
 * Job: unfold, check the card's frame (BEGIN, VERSION, END, UTF-8, bounds),
 * split every content line into group, name, parameters and value, and
 * decode the value both as one text and as components/items.  Also the
 * canonical printer the fuzz harness uses to prove the parse is stable.
 *
 * Pure: no I/O, no globals, no locale.  All memory comes from the card's
 * arena, so one vcard_card_free() releases everything.
 */
#include "vcard_parse.h"

#include <errno.h>
#include <stdalign.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "utf8.h"

/* ------------------------------------------------------------------------ */
/* Small text helpers                                                       */
/* ------------------------------------------------------------------------ */

static char ascii_upper(char c)
{
	return c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
}

static char ascii_lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}


static bool is_name_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_';
}

/* ------------------------------------------------------------------------ */
/* Parser state                                                             */
/* ------------------------------------------------------------------------ */

enum frame { BEFORE_BEGIN, IN_CARD, AFTER_END };

struct parser {
	struct vcard_card *card;
	struct vcard_parse_error *err;
	struct strbuf props;   /* struct vcard_prop[], moved to the arena at the end */
	size_t n_props;
	enum frame frame;
	bool have_version;
	bool oom;
};

static int fail(struct parser *ps, size_t line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct parser *ps, size_t line, const char *fmt, ...)
{
	if (ps->err) {
		va_list ap;
		va_start(ap, fmt);
		ps->err->line = line;
		int n = 0;
		if (line)
			n = snprintf(ps->err->message, sizeof ps->err->message, "line %zu: ", line);
		if (n < 0 || (size_t)n >= sizeof ps->err->message)
			n = 0;
		vsnprintf(ps->err->message + n, sizeof ps->err->message - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static int out_of_memory(struct parser *ps)
{
	ps->oom = true;
	if (ps->err) {
		ps->err->line = 0;
		snprintf(ps->err->message, sizeof ps->err->message, "out of memory");
	}
	return -ENOMEM;
}

/* ------------------------------------------------------------------------ */
/* Values                                                                   */
/* ------------------------------------------------------------------------ */

/* Decode the text escapes of s[0..n) into dst (room for n + 1 bytes);
 * returns the decoded length. */
static size_t decode_text(const char *s, size_t n, char *dst)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] != '\\' || i + 1 == n) {
			dst[o++] = s[i];
			continue;
		}
		char next = s[i + 1];
		switch (next) {
		case 'n':
		case 'N': dst[o++] = '\n'; i++; break;
		case ',':
		case ';':
		case ':':
		case '\\': dst[o++] = next; i++; break;
		default: dst[o++] = '\\'; break; /* an unknown escape stays as written */
		}
	}
	dst[o] = '\0';
	return o;
}

/* End of the item starting at s[i]: the next unescaped "," or ";" or n. */
static size_t item_end(const char *s, size_t n, size_t i)
{
	while (i < n && s[i] != ',' && s[i] != ';') {
		if (s[i] == '\\' && i + 1 < n)
			i++;
		i++;
	}
	return i;
}

static char *decode_item(struct parser *ps, const char *s, size_t n)
{
	char *dst = vcard_card_alloc(ps->card, n + 1);
	if (dst)
		decode_text(s, n, dst);
	return dst;
}

/* Split raw into components and items (two passes: count, then fill). */
static int split_value(struct parser *ps, struct vcard_prop *p)
{
	const char *s = p->raw;
	size_t n = p->raw_len, n_comps = 1;
	for (size_t i = item_end(s, n, 0); i < n; i = item_end(s, n, i + 1))
		if (s[i] == ';')
			n_comps++;
	p->comps = vcard_card_alloc(ps->card, n_comps * sizeof *p->comps);
	if (!p->comps)
		return out_of_memory(ps);
	p->n_comps = n_comps;

	size_t start = 0;
	for (size_t c = 0; c < n_comps; c++) {
		size_t n_items = 1, end = item_end(s, n, start);
		while (end < n && s[end] == ',') {
			n_items++;
			end = item_end(s, n, end + 1);
		}
		struct vcard_component *comp = &p->comps[c];
		comp->items = vcard_card_alloc(ps->card, n_items * sizeof *comp->items);
		if (!comp->items)
			return out_of_memory(ps);
		comp->n_items = n_items;
		size_t at = start;
		for (size_t k = 0; k < n_items; k++) {
			size_t e = item_end(s, n, at);
			comp->items[k] = decode_item(ps, s + at, e - at);
			if (!comp->items[k])
				return out_of_memory(ps);
			at = e + 1;
		}
		start = end + 1;
	}
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Content lines                                                            */
/* ------------------------------------------------------------------------ */

struct cursor {
	const char *s;
	size_t n, i;
};

static size_t scan_name(struct cursor *c)
{
	size_t start = c->i;
	while (c->i < c->n && is_name_char(c->s[c->i]))
		c->i++;
	return c->i - start;
}

static char *copy_case(struct parser *ps, const char *s, size_t n, bool upper)
{
	char *d = vcard_card_strndup(ps->card, s, n);
	if (d)
		for (size_t i = 0; i < n; i++)
			d[i] = upper ? ascii_upper(d[i]) : ascii_lower(d[i]);
	return d;
}

/* One parameter value at the cursor: "quoted" or up to , ; : */
static int scan_param_value(struct parser *ps, struct cursor *c, size_t line,
			    const char **v, size_t *vn)
{
	if (c->i < c->n && c->s[c->i] == '"') {
		size_t start = ++c->i;
		while (c->i < c->n && c->s[c->i] != '"')
			c->i++;
		if (c->i == c->n)
			return fail(ps, line, "a quoted parameter value is not closed");
		*v = c->s + start;
		*vn = c->i - start;
		c->i++;
		return 0;
	}
	size_t start = c->i;
	while (c->i < c->n && c->s[c->i] != ',' && c->s[c->i] != ';' && c->s[c->i] != ':') {
		if (c->s[c->i] == '"')
			return fail(ps, line, "a double quote inside a parameter value");
		c->i++;
	}
	*v = c->s + start;
	*vn = c->i - start;
	return 0;
}

static int parse_param(struct parser *ps, struct cursor *c, size_t line, struct vcard_param *pm)
{
	size_t name_at = c->i, name_len = scan_name(c);
	if (name_len == 0)
		return fail(ps, line, "a parameter without a name");
	bool bare = c->i >= c->n || c->s[c->i] != '=';
	const char *values[VCARD_PARSE_MAX_PARAMS];
	size_t lens[VCARD_PARSE_MAX_PARAMS], count = 0;
	if (bare) { /* 3.0 / 2.1 style "TEL;WORK:" means TYPE=WORK */
		pm->name = copy_case(ps, "TYPE", 4, true);
		values[0] = c->s + name_at;
		lens[0] = name_len;
		count = 1;
	} else {
		pm->name = copy_case(ps, c->s + name_at, name_len, true);
		do {
			c->i++; /* the "=" or "," */
			if (count == VCARD_PARSE_MAX_PARAMS)
				return fail(ps, line, "more than %d values in one parameter",
					    VCARD_PARSE_MAX_PARAMS);
			int rc = scan_param_value(ps, c, line, &values[count], &lens[count]);
			if (rc)
				return rc;
			count++;
		} while (c->i < c->n && c->s[c->i] == ',');
	}
	pm->values = vcard_card_alloc(ps->card, count * sizeof *pm->values);
	if (!pm->name || !pm->values)
		return out_of_memory(ps);
	pm->n_values = count;
	for (size_t k = 0; k < count; k++)
		if (!(pm->values[k] = vcard_card_strndup(ps->card, values[k], lens[k])))
			return out_of_memory(ps);
	return 0;
}

static int parse_params(struct parser *ps, struct cursor *c, size_t line, struct vcard_prop *p)
{
	struct vcard_param params[VCARD_PARSE_MAX_PARAMS];
	size_t count = 0;
	while (c->i < c->n && c->s[c->i] == ';') {
		c->i++;
		if (count == VCARD_PARSE_MAX_PARAMS)
			return fail(ps, line, "more than %d parameters on one property",
				    VCARD_PARSE_MAX_PARAMS);
		int rc = parse_param(ps, c, line, &params[count]);
		if (rc)
			return rc;
		count++;
	}
	if (count) {
		p->params = vcard_card_alloc(ps->card, count * sizeof *p->params);
		if (!p->params)
			return out_of_memory(ps);
		memcpy(p->params, params, count * sizeof *p->params);
	}
	p->n_params = count;
	return 0;
}

/* Split one logical line into p (value not yet decoded). */
static int split_line(struct parser *ps, const char *s, size_t n, size_t line,
		      struct vcard_prop *p)
{
	struct cursor c = { s, n, 0 };
	size_t first_at = 0, first_len = scan_name(&c);
	if (c.i < n && s[c.i] == '.') {
		if (first_len == 0)
			return fail(ps, line, "an empty group name");
		p->group = copy_case(ps, s + first_at, first_len, false);
		if (!p->group)
			return out_of_memory(ps);
		c.i++;
		first_at = c.i;
		first_len = scan_name(&c);
	}
	if (first_len == 0)
		return fail(ps, line, "not a content line (NAME:value expected)");
	p->name = copy_case(ps, s + first_at, first_len, true);
	if (!p->name)
		return out_of_memory(ps);
	int rc = parse_params(ps, &c, line, p);
	if (rc)
		return rc;
	if (c.i >= n || s[c.i] != ':')
		return fail(ps, line, "no ':' after the name and parameters of %s", p->name);
	c.i++;
	p->raw = vcard_card_strndup(ps->card, s + c.i, n - c.i);
	p->raw_len = n - c.i;
	p->line = line;
	if (!p->raw)
		return out_of_memory(ps);
	return 0;
}

static int check_text(struct parser *ps, const char *s, size_t n, size_t line)
{
	for (size_t i = 0; i < n;) {
		unsigned char ch = (unsigned char)s[i];
		if (ch < 0x80) {
			if ((ch < 0x20 && ch != '\t') || ch == 0x7F)
				return fail(ps, line, "control character 0x%02X in the card", ch);
			i++;
			continue;
		}
		uint32_t cp;
		size_t k = utf8_decode(s + i, n - i, &cp);
		if (!k)
			return fail(ps, line, "the card is not valid UTF-8");
		i += k;
	}
	return 0;
}

static bool value_is(const struct vcard_prop *p, const char *word)
{
	size_t n = p->raw_len;
	const char *s = p->raw;
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	while (n && (*s == ' ' || *s == '\t')) {
		s++;
		n--;
	}
	return vcard_word_is(s, n, word);
}

static int frame_line(struct parser *ps, const struct vcard_prop *p)
{
	bool begin = vcard_prop_is(p, "BEGIN"), end = vcard_prop_is(p, "END");
	switch (ps->frame) {
	case BEFORE_BEGIN:
		if (!begin || !value_is(p, "VCARD"))
			return fail(ps, p->line, "the card does not start with BEGIN:VCARD");
		ps->frame = IN_CARD;
		return 1;
	case AFTER_END:
		return fail(ps, p->line, "text after END:VCARD (one card per file)");
	case IN_CARD:
		break;
	}
	if (begin)
		return fail(ps, p->line, "BEGIN inside the card (nested cards are not supported)");
	if (end) {
		if (!value_is(p, "VCARD"))
			return fail(ps, p->line, "END:VCARD expected");
		ps->frame = AFTER_END;
		return 1;
	}
	if (vcard_prop_is(p, "VERSION")) {
		if (ps->have_version)
			return fail(ps, p->line, "VERSION given twice");
		if (value_is(p, "3.0"))
			ps->card->version = VCARD_V30;
		else if (value_is(p, "4.0"))
			ps->card->version = VCARD_V40;
		else
			return fail(ps, p->line, "vCard VERSION %.20s is not supported (3.0 and 4.0 are)",
				    p->raw);
		ps->have_version = true;
		return 1;
	}
	return 0;
}

static int logical_line(struct parser *ps, const char *s, size_t n, size_t line)
{
	if (n > VCARD_PARSE_MAX_LINE)
		return fail(ps, line, "a line longer than %d bytes", VCARD_PARSE_MAX_LINE);
	int rc = check_text(ps, s, n, line);
	if (rc)
		return rc;
	struct vcard_prop p = { 0 };
	if ((rc = split_line(ps, s, n, line, &p)))
		return rc;
	if ((rc = frame_line(ps, &p)))
		return rc < 0 ? rc : 0;
	if (ps->n_props == VCARD_PARSE_MAX_PROPS)
		return fail(ps, line, "more than %d properties in the card", VCARD_PARSE_MAX_PROPS);
	p.text = vcard_card_alloc(ps->card, p.raw_len + 1);
	if (!p.text)
		return out_of_memory(ps);
	p.text_len = decode_text(p.raw, p.raw_len, p.text);
	if ((rc = split_value(ps, &p)))
		return rc;
	sb_append(&ps->props, &p, sizeof p);
	if (sb_failed(&ps->props))
		return out_of_memory(ps);
	ps->n_props++;
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Physical lines                                                           */
/* ------------------------------------------------------------------------ */

/* Length of the line starting at s[i] and of its line break. */
static size_t physical_line(const char *s, size_t n, size_t i, size_t *brk)
{
	size_t e = i;
	while (e < n && s[e] != '\r' && s[e] != '\n')
		e++;
	*brk = e == n ? 0 : (s[e] == '\r' && e + 1 < n && s[e + 1] == '\n') ? 2 : 1;
	return e - i;
}

static bool only_blanks(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t')
			return false;
	return true;
}

static int unfold_and_parse(struct parser *ps, const char *s, size_t n)
{
	struct strbuf logical = STRBUF_INIT;
	bool have = false;
	size_t line_no = 0, logical_start = 0;
	int rc = 0;
	for (size_t i = 0; i < n && rc == 0;) {
		size_t brk, len = physical_line(s, n, i, &brk);
		const char *ln = s + i;
		line_no++;
		i += len + brk;
		if (have && len > 0 && (ln[0] == ' ' || ln[0] == '\t')) {
			if (logical.len + len - 1 > VCARD_PARSE_MAX_LINE)
				rc = fail(ps, logical_start, "a line longer than %d bytes",
					  VCARD_PARSE_MAX_LINE);
			else
				sb_append(&logical, ln + 1, len - 1);
			continue;
		}
		if (have)
			rc = logical_line(ps, logical.data, logical.len, logical_start);
		sb_truncate(&logical, 0);
		have = false;
		if (rc || only_blanks(ln, len))
			continue;
		sb_append(&logical, ln, len);
		have = true;
		logical_start = line_no;
	}
	if (rc == 0 && have)
		rc = logical_line(ps, logical.data, logical.len, logical_start);
	if (rc == 0 && sb_failed(&logical))
		rc = out_of_memory(ps);
	sb_free(&logical);
	return rc;
}

/* 4.0 parameter values: ^n -> LF, ^^ -> ^, ^' -> " (RFC 6868). */
static void decode_carets(struct vcard_card *card)
{
	for (size_t i = 0; i < card->n_props; i++) {
		struct vcard_prop *p = &card->props[i];
		for (size_t k = 0; k < p->n_params; k++) {
			for (size_t v = 0; v < p->params[k].n_values; v++) {
				char *s = p->params[k].values[v], *d = s;
				for (; *s; s++) {
					if (*s == '^' && (s[1] == 'n' || s[1] == '^' || s[1] == '\'')) {
						s++;
						*d++ = *s == 'n' ? '\n' : *s == '\'' ? '"' : '^';
					} else {
						*d++ = *s;
					}
				}
				*d = '\0';
			}
		}
	}
}

int vcard_parse(const char *data, size_t len, struct vcard_card **out,
		struct vcard_parse_error *err)
{
	struct vcard_parse_error scratch;
	if (!err)
		err = &scratch;
	err->line = 0;
	err->message[0] = '\0';
	*out = NULL;
	if (len > VCARD_PARSE_MAX_BYTES) {
		snprintf(err->message, sizeof err->message,
			 "the card is larger than %d bytes", VCARD_PARSE_MAX_BYTES);
		return -EINVAL;
	}
	struct vcard_card *card = vcard_card_new();
	if (!card) {
		snprintf(err->message, sizeof err->message, "out of memory");
		return -ENOMEM;
	}
	struct parser ps = { .card = card, .err = err, .props = STRBUF_INIT };
	if (len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0) {
		data += 3;
		len -= 3;
	}
	int rc = unfold_and_parse(&ps, data, len);
	if (rc == 0 && ps.frame == BEFORE_BEGIN)
		rc = fail(&ps, 0, "no BEGIN:VCARD: the file holds no card");
	if (rc == 0 && ps.frame == IN_CARD)
		rc = fail(&ps, 0, "no END:VCARD at the end of the card");
	if (rc == 0 && !ps.have_version)
		rc = fail(&ps, 0, "the card has no VERSION (3.0 or 4.0)");
	if (rc == 0 && ps.n_props) {
		card->props = vcard_card_alloc(card, ps.props.len);
		if (!card->props)
			rc = out_of_memory(&ps);
		else
			memcpy(card->props, ps.props.data, ps.props.len);
	}
	sb_free(&ps.props);
	if (rc) {
		vcard_card_free(card);
		return rc;
	}
	card->n_props = ps.n_props;
	if (card->version == VCARD_V40)
		decode_carets(card);
	*out = card;
	return 0;
}
