/*
 * mount_origin.h - whether mount(8) started this process.
 *
 * mount(8) passes "rw" to the helper of every file system it mounts without
 * "ro" (an fstab line with "defaults" arrives as "-o rw,dev,suid"), so when
 * it started pipedrivefs a bare "rw" is its word, not the user's.  mount(8)
 * runs /sbin/mount.fuse3, which runs the file system through /bin/sh: one of
 * the first four ancestors is then named "mount" or "mount.fuse*" (also
 * under systemd's .mount units, which run mount(8)).  Reads /proc only.
 */
#ifndef PDFS_MOUNT_ORIGIN_H
#define PDFS_MOUNT_ORIGIN_H

#include <stdbool.h>

bool mount_origin_is_mount8(void);

#endif
