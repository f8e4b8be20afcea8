/*
 * tree.h - what every node of the mounted tree is, and its inode number.
 *
 *   /by-owner/<id>/   /by-owner/<Name> -> <id>     persons of one owner
 *   /by-owner/<id>.vcf                             every card of /by-owner/<id>/ in one file
 *   /by-org/<id>/     /by-org/<Name> -> <id>       persons of one organization
 *   /by-org/<id>.vcf
 *   /by-filter/<id>/  /by-filter/<Name> -> <id>    persons matching a saved filter
 *   /by-filter/<id>.vcf
 *   /by-id/<id>.json, /by-id/<id>.vcf              any person by id
 *   /recent/                                       persons updated lately, newest first
 *   /search/<term>/                                persons Pipedrive's search finds for term
 *   /.pipedrivefs/status                           counters and configuration
 *   /.pipedrivefs/conflicts/                       texts of changes not sent (-o rw)
 *
 * Inode numbers are a pure function of the node: the kind in the top byte and
 * the Pipedrive id below, so they are stable across refreshes and restarts
 * and FORGET needs no bookkeeping.  Search folders are the exception: their
 * "id" is the number the mount's term table (search_terms.h) gave the term,
 * stable within the mount and never given to another term.  Directory inodes
 * double as the cache keys of their listings.  Pure.
 */
#ifndef PDFS_TREE_H
#define PDFS_TREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum node_kind {
	NODE_FIXED = 0,        /* the fixed nodes below */
	NODE_OWNER_DIR = 1,    /* /by-owner/<id> */
	NODE_ORG_DIR = 2,      /* /by-org/<id> */
	NODE_FILTER_DIR = 3,   /* /by-filter/<id> */
	NODE_PERSON_JSON = 4,  /* a person's .json file, in any directory */
	NODE_PERSON_VCF = 5,   /* a person's .vcf file, in any directory */
	NODE_OWNER_LINK = 6,   /* /by-owner/<Name> */
	NODE_ORG_LINK = 7,     /* /by-org/<Name> */
	NODE_FILTER_LINK = 8,  /* /by-filter/<Name> */
	NODE_BY_ID_PERSON = 9, /* cache key of one person looked up by id (no inode) */
	NODE_SEARCH_DIR = 10,  /* /search/<term>: id = the term's number (search_terms.h) */
	NODE_OWNER_VCF = 11,   /* /by-owner/<id>.vcf: the folder's cards in one file */
	NODE_ORG_VCF = 12,     /* /by-org/<id>.vcf */
	NODE_FILTER_VCF = 13,  /* /by-filter/<id>.vcf */
	NODE_WRITE_FILE = 14,  /* a file the write layer keeps (a temporary file, a new
				* person's file under the name it was written as) */
	NODE_CONFLICT = 15,    /* /.pipedrivefs/conflicts/<name> */
};

enum fixed_node {
	INO_ROOT = 1,
	INO_BY_OWNER = 2,
	INO_BY_ORG = 3,
	INO_BY_FILTER = 4,
	INO_BY_ID = 5,
	INO_RECENT = 6,
	INO_CONTROL = 7, /* /.pipedrivefs */
	INO_STATUS = 8,  /* /.pipedrivefs/status */
	INO_SEARCH = 9,  /* /search */
	INO_CONFLICTS = 10, /* /.pipedrivefs/conflicts (writable mounts) */
};

#define TREE_KIND_SHIFT 56
#define TREE_ID_MASK ((UINT64_C(1) << TREE_KIND_SHIFT) - 1)

static inline uint64_t tree_ino(enum node_kind kind, int64_t id)
{
	return ((uint64_t)kind << TREE_KIND_SHIFT) | ((uint64_t)id & TREE_ID_MASK);
}
static inline enum node_kind tree_kind(uint64_t ino) { return (enum node_kind)(ino >> TREE_KIND_SHIFT); }
static inline int64_t tree_id(uint64_t ino) { return (int64_t)(ino & TREE_ID_MASK); }

/* A directory whose entries are persons (owner, org, filter, by-id, recent,
 * a search). */
static inline bool tree_is_person_dir(uint64_t ino)
{
	enum node_kind k = tree_kind(ino);
	return k == NODE_OWNER_DIR || k == NODE_ORG_DIR || k == NODE_FILTER_DIR ||
	       k == NODE_SEARCH_DIR || ino == INO_BY_ID || ino == INO_RECENT;
}

/* /by-owner/<id>, /by-org/<id>, /by-filter/<id>: the folders that have a
 * folder file beside them. */
static inline bool tree_is_group_folder(uint64_t ino)
{
	enum node_kind k = tree_kind(ino);
	return k == NODE_OWNER_DIR || k == NODE_ORG_DIR || k == NODE_FILTER_DIR;
}

/* /by-owner/<id>.vcf and the like. */
static inline bool tree_is_folder_file(uint64_t ino)
{
	enum node_kind k = tree_kind(ino);
	return k == NODE_OWNER_VCF || k == NODE_ORG_VCF || k == NODE_FILTER_VCF;
}

/* The folder a folder file holds the cards of, and the folder file of a
 * group folder. */
static inline uint64_t tree_folder_of_file(uint64_t file)
{
	enum node_kind k = tree_kind(file);
	return tree_ino(k == NODE_OWNER_VCF ? NODE_OWNER_DIR : k == NODE_ORG_VCF ? NODE_ORG_DIR
									  : NODE_FILTER_DIR,
			tree_id(file));
}
static inline uint64_t tree_file_of_folder(uint64_t folder)
{
	enum node_kind k = tree_kind(folder);
	return tree_ino(k == NODE_OWNER_DIR ? NODE_OWNER_VCF : k == NODE_ORG_DIR ? NODE_ORG_VCF
									: NODE_FILTER_VCF,
			tree_id(folder));
}

/* /by-owner, /by-org, /by-filter: entries are ids (and name links). */
static inline bool tree_is_group_root(uint64_t ino)
{
	return ino == INO_BY_OWNER || ino == INO_BY_ORG || ino == INO_BY_FILTER;
}

/* The directory kind below a group root, and the link kind in it. */
static inline enum node_kind tree_group_member_kind(uint64_t root)
{
	return root == INO_BY_OWNER ? NODE_OWNER_DIR : root == INO_BY_ORG ? NODE_ORG_DIR
									     : NODE_FILTER_DIR;
}
static inline enum node_kind tree_group_link_kind(uint64_t root)
{
	return root == INO_BY_OWNER ? NODE_OWNER_LINK : root == INO_BY_ORG ? NODE_ORG_LINK
									      : NODE_FILTER_LINK;
}

/* "/by-owner/7" and the like, for log lines. */
void tree_describe(uint64_t ino, char *buf, size_t len);

#endif
