/* The growable buffer: appends, formatting, detaching. */
#include <stdlib.h>

#include "check.h"
#include "strbuf.h"

int main(void)
{
	struct strbuf sb = STRBUF_INIT;
	sb_puts(&sb, "abc");
	sb_putc(&sb, '-');
	sb_printf(&sb, "%d:%s", 42, "x");
	CHECK_BYTES(sb.data, sb.len, "abc-42:x");
	sb_append(&sb, "\0z", 2);
	CHECK(sb.len == 10 && sb.data[8] == '\0' && sb.data[9] == 'z');
	sb_truncate(&sb, 3);
	CHECK_BYTES(sb.data, sb.len, "abc");
	for (int i = 0; i < 10000; i++)
		sb_putc(&sb, 'y');
	CHECK(sb.len == 10003 && !sb_failed(&sb));
	size_t len;
	char *p = sb_detach(&sb, &len);
	CHECK(p && len == 10003 && p[len] == '\0' && sb.data == NULL);
	free(p);
	char *empty = sb_detach(&sb, &len);
	CHECK(empty && len == 0 && empty[0] == '\0');
	free(empty);
	return check_finish("strbuf");
}
