/*===- FailWrites.c - a full disk, for the fault tests --------------------===*
 *
 * LD_PRELOAD'ed into a tool by the lit fault tests: writes to regular files
 * whose path contains ACTSPARSE_FAIL_WRITES_PATH (default: any) succeed
 * until ACTSPARSE_FAIL_WRITES_AFTER bytes in total, then fail with ENOSPC,
 * as on a file system that has just filled up.
 *
 *===----------------------------------------------------------------------===*/

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

static long long budget = -2; /* -2: not read yet; -1: no limit */

/* Clamps *n to what is left; -1 when nothing is. */
static int take(int fd, size_t *n) {
  if (budget == -2) {
    const char *after = getenv("ACTSPARSE_FAIL_WRITES_AFTER");
    budget = after ? atoll(after) : -1;
  }
  if (budget < 0)
    return 0;
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
    return 0;
  const char *match = getenv("ACTSPARSE_FAIL_WRITES_PATH");
  if (match && *match) {
    char link[64], path[PATH_MAX];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t len = readlink(link, path, sizeof path - 1);
    if (len < 0)
      return 0;
    path[len] = '\0';
    if (!strstr(path, match))
      return 0;
  }
  if (budget == 0) {
    errno = ENOSPC;
    return -1;
  }
  if ((long long)*n > budget)
    *n = (size_t)budget;
  budget -= (long long)*n;
  return 0;
}

ssize_t write(int fd, const void *buf, size_t n) {
  static ssize_t (*real)(int, const void *, size_t);
  if (!real)
    real = (ssize_t(*)(int, const void *, size_t))dlsym(RTLD_NEXT, "write");
  if (take(fd, &n) != 0)
    return -1;
  return real(fd, buf, n);
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t offset) {
  static ssize_t (*real)(int, const void *, size_t, off_t);
  if (!real)
    real = (ssize_t(*)(int, const void *, size_t, off_t))dlsym(RTLD_NEXT,
                                                               "pwrite");
  if (take(fd, &n) != 0)
    return -1;
  return real(fd, buf, n, offset);
}

ssize_t pwrite64(int fd, const void *buf, size_t n, off_t offset) {
  return pwrite(fd, buf, n, offset);
}
