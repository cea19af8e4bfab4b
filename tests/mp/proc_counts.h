// What a worker rank counts of its own process through /proc: its open descriptors and its
// mappings of strataMemAlloc memory, to show that a call sequence leaves neither behind.
#pragma once

#include <dirent.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <set>

#include "worker_report.h"

namespace strata::worker {

// The descriptors open in this process (/proc/self/fd, less the listing's own).
inline std::set<int> openFds() {
  std::set<int> fds;
  DIR* d = opendir("/proc/self/fd");
  if (d == nullptr) fail("cannot list /proc/self/fd: %s", std::strerror(errno));
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    const int fd = std::atoi(e->d_name);
    if (fd != dirfd(d)) fds.insert(fd);
  }
  closedir(d);
  return fds;
}

// Mappings of strataMemAlloc memory (this rank's and the peers') in /proc/self/maps; -1 when it
// cannot be read.
inline int countSharedMappings() {
  FILE* f = std::fopen("/proc/self/maps", "r");
  if (!f) return -1;
  char line[1024];
  int n = 0;
  while (std::fgets(line, sizeof line, f))
    if (std::strstr(line, "memfd:strata-mem")) ++n;
  std::fclose(f);
  return n;
}

}  // namespace strata::worker
