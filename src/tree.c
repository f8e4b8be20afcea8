#include "tree.h"

#include <inttypes.h>
#include <stdio.h>

void tree_describe(uint64_t ino, char *buf, size_t len)
{
	static const char *const fixed[] = {
		[INO_ROOT] = "/", [INO_BY_OWNER] = "/by-owner", [INO_BY_ORG] = "/by-org",
		[INO_BY_FILTER] = "/by-filter", [INO_BY_ID] = "/by-id", [INO_RECENT] = "/recent",
		[INO_CONTROL] = "/.pipedrivefs", [INO_STATUS] = "/.pipedrivefs/status",
		[INO_SEARCH] = "/search",
		[INO_CONFLICTS] = "/.pipedrivefs/conflicts",
	};
	int64_t id = tree_id(ino);
	switch (tree_kind(ino)) {
	case NODE_FIXED:
		snprintf(buf, len, "%s", ino <= INO_CONFLICTS && fixed[ino] ? fixed[ino] : "?");
		break;
	case NODE_OWNER_DIR:
		snprintf(buf, len, "/by-owner/%" PRId64, id);
		break;
	case NODE_ORG_DIR:
		snprintf(buf, len, "/by-org/%" PRId64, id);
		break;
	case NODE_FILTER_DIR:
		snprintf(buf, len, "/by-filter/%" PRId64, id);
		break;
	case NODE_BY_ID_PERSON:
		snprintf(buf, len, "/by-id/%" PRId64, id);
		break;
	case NODE_SEARCH_DIR: /* the term itself may be personal data: not in log lines */
		snprintf(buf, len, "/search (term #%" PRId64 ")", id);
		break;
	case NODE_OWNER_VCF:
		snprintf(buf, len, "/by-owner/%" PRId64 ".vcf", id);
		break;
	case NODE_ORG_VCF:
		snprintf(buf, len, "/by-org/%" PRId64 ".vcf", id);
		break;
	case NODE_FILTER_VCF:
		snprintf(buf, len, "/by-filter/%" PRId64 ".vcf", id);
		break;
	default:
		snprintf(buf, len, "person %" PRId64, id);
		break;
	}
}
