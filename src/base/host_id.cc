#include "base/host_id.h"

#include <limits.h>
#include <unistd.h>

#include <cstdlib>

#include "base/whole_file.h"

namespace strata {
namespace {

std::string trim(std::string s) {
  const char* kSpace = " \t\r\n";
  size_t begin = s.find_first_not_of(kSpace);
  if (begin == std::string::npos) return {};
  size_t end = s.find_last_not_of(kSpace);
  return s.substr(begin, end - begin + 1);
}

std::string hostName() {
  char buf[HOST_NAME_MAX + 1] = {};
  if (gethostname(buf, sizeof(buf) - 1) != 0) return "unknown-host";
  return buf;
}

std::string bootId() {
  auto id = readWholeFile("/proc/sys/kernel/random/boot_id");
  if (!id.isOk()) return {};
  return trim(id->substr(0, id->find('\n')));
}

}  // namespace

std::string localHostId() {
  if (const char* env = std::getenv("STRATA_HOSTID"); env != nullptr && *env != '\0') return env;
  std::string id = hostName();
  std::string boot = bootId();
  if (!boot.empty()) id += ":" + boot;
  return id;
}

}  // namespace strata
