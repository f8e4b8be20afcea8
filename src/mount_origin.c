/*
 * mount_origin.c - whether mount(8) started this process (mount_origin.h).
 */
#include "mount_origin.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* The name of process pid (/proc/PID/comm) and its parent; false if gone. */
static bool process_info(pid_t pid, char *comm, size_t len, pid_t *parent)
{
	char path[64], line[512];
	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	FILE *f = fopen(path, "re");
	bool ok = f && fgets(comm, (int)len, f);
	if (f)
		fclose(f);
	if (!ok)
		return false;
	comm[strcspn(comm, "\n")] = '\0';
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	*parent = 0;
	if (!(f = fopen(path, "re")))
		return false;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "PPid: %d", parent) == 1)
			break;
	fclose(f);
	return true;
}

bool mount_origin_is_mount8(void)
{
	pid_t pid = getppid();
	for (int depth = 0; depth < 4 && pid > 1; depth++) {
		char comm[64];
		pid_t parent;
		if (!process_info(pid, comm, sizeof(comm), &parent))
			return false;
		if (strcmp(comm, "mount") == 0 || strncmp(comm, "mount.fuse", 10) == 0)
			return true;
		pid = parent;
	}
	return false;
}
