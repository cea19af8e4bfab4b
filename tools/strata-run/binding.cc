#include "binding.h"

#include <cerrno>
#include <cstring>
#include <cstdio>
#include <map>

namespace strata::run {
namespace {

// The hardware threads of cpu's core, as sysfs lists them ("0,4" or "0-1"); empty if unknown.
std::string coreSiblings(int cpu) {
  const std::string base = "/sys/devices/system/cpu/cpu" + std::to_string(cpu) + "/topology/";
  for (const char* file : {"core_cpus_list", "thread_siblings_list"}) {
    // Close-on-exec: strata-run starts ranks, which must inherit none of its files.
    FILE* in = std::fopen((base + file).c_str(), "re");
    if (in == nullptr) continue;
    char line[4096] = {};
    const bool got = std::fgets(line, sizeof(line), in) != nullptr;
    std::fclose(in);
    std::string text = got ? std::string(line, std::strcspn(line, "\n")) : std::string();
    if (!text.empty()) return text;
  }
  return {};
}

}  // namespace

std::vector<cpu_set_t> usableCores(std::string* error) {
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  if (::sched_getaffinity(0, sizeof(allowed), &allowed) != 0) {
    *error = std::string("sched_getaffinity: ") + std::strerror(errno);
    return {};
  }
  std::map<std::string, size_t> coreIndex;  // sysfs sibling list -> index in cores
  std::vector<cpu_set_t> cores;
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (!CPU_ISSET(cpu, &allowed)) continue;
    std::string key = coreSiblings(cpu);
    if (key.empty()) key = "cpu" + std::to_string(cpu);  // unknown: every CPU its own core
    auto [it, added] = coreIndex.emplace(key, cores.size());
    if (added) {
      cores.emplace_back();
      CPU_ZERO(&cores.back());
    }
    CPU_SET(cpu, &cores[it->second]);
  }
  return cores;
}

std::string cpuListText(const cpu_set_t& set) {
  std::string out;
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (!CPU_ISSET(cpu, &set)) continue;
    int last = cpu;
    while (last + 1 < CPU_SETSIZE && CPU_ISSET(last + 1, &set)) ++last;
    if (!out.empty()) out += ',';
    out += std::to_string(cpu);
    if (last > cpu) out.append("-").append(std::to_string(last));
    cpu = last;
  }
  return out;
}

ScopedAffinity::ScopedAffinity(const cpu_set_t* set) {
  if (!set) return;
  CPU_ZERO(&saved_);
  if (::sched_getaffinity(0, sizeof(saved_), &saved_) != 0) return;
  restore_ = ::sched_setaffinity(0, sizeof(*set), set) == 0;
}

ScopedAffinity::~ScopedAffinity() {
  if (restore_) ::sched_setaffinity(0, sizeof(saved_), &saved_);
}

}  // namespace strata::run
