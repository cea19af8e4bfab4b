// Host identity: ranks with the same id share a host, so shared memory can join them.
#pragma once

#include <string>

namespace strata {

// STRATA_HOSTID when set and non-empty; otherwise "<hostname>:<boot id>". The hostname matters
// because network namespaces on one machine share /dev/shm and the boot id but are separate
// "nodes" to a launcher, and each has its own UTS hostname.
std::string localHostId();

}  // namespace strata
