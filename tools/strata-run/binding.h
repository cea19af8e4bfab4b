// --bind-to core: which cores strata-run may use, and pinning a rank to one of them. A rank is
// pinned by setting strata-run's own affinity around its spawn; the child inherits it.
#pragma once

#include <sched.h>

#include <string>
#include <vector>

namespace strata::run {

// The cores this process may run on, each as the set of its hardware threads (those of the
// affinity mask that share the core, from sysfs), ordered by their first thread. Empty, with
// *error set, when the affinity mask cannot be read.
std::vector<cpu_set_t> usableCores(std::string* error);

// "0-1,4": the CPUs of a set.
std::string cpuListText(const cpu_set_t& set);

// Sets this thread's affinity to `set` until destroyed, then restores the previous one.
class ScopedAffinity {
 public:
  explicit ScopedAffinity(const cpu_set_t* set);
  ~ScopedAffinity();
  ScopedAffinity(const ScopedAffinity&) = delete;
  ScopedAffinity& operator=(const ScopedAffinity&) = delete;

 private:
  cpu_set_t saved_;
  bool restore_ = false;
};

}  // namespace strata::run
