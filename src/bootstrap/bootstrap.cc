#include "bootstrap/bootstrap.h"

#include "bootstrap/rescue.h"

namespace strata {

Status Bootstrap::barrier() {
  auto r = allgather(std::string());
  return r.status();
}

Result<std::string> Bootstrap::bcast(const std::string& data, int root) {
  auto all = allgather(rank() == root ? data : std::string());
  if (!all.isOk()) return all.status();
  return std::move(all.value()[static_cast<size_t>(root)]);
}

Result<std::unique_ptr<Rescue>> Bootstrap::openRescue() { return std::unique_ptr<Rescue>(); }

}  // namespace strata
